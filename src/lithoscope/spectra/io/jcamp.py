"""JCAMP-DX 4.24/5.01 spectra: ``(X++(Y..Y))`` in AFFN or ASDF form, ``(XY..XY)`` and peak tables.

A file is one or more blocks, each from ``##TITLE=`` to ``##END=``; a ``##DATA TYPE=LINK`` block
holds child blocks (compound files). Labels are case-insensitive and blanks, dashes, slashes and
underscores in them are ignored, as the standard says; ``$$`` starts a comment.

ASDF (the compressed forms): SQZ letters ``@A-I a-i`` start a value and carry its first digit and
sign, DIF letters ``%J-R j-r`` a difference to the previous value, DUP letters ``S-Z s`` repeat the
previous value (or difference) so that it occurs ``n`` times. When a line ends in DIF form the next
line starts with the same ordinate again (the y check); that value is compared and dropped.

Checks that catch damaged files: ``##NPOINTS`` against the number of ordinates, the abscissa
that starts each ``(X++(Y..Y))`` line against ``##FIRSTX``/``##LASTX``/``##NPOINTS`` (a lost
line shifts it), the y check value, and a missing ``##END=`` (a truncated file).

What mature readers (readJDX, the ``jcamp`` package, jcampconverter) accept is read:
the abscissa on a line is rounded (to whole ``##XFACTOR`` units, or to fewer digits than
``##FIRSTX``), so it may miss its place by one ``##XFACTOR`` unit plus half a point spacing;
lines that follow a ``##DELTAX`` which disagrees with ``##LASTX`` are read on the
FIRSTX/LASTX grid, as those readers place the points, with a `SpectrumWarning`; a bare
``##END`` without ``=``, a DOS end-of-file byte (Ctrl-Z) after the last block and old Macintosh
line ends (CR alone) are accepted, and so are AFFN lines written with decimal commas by
European-locale exports. ``##NTUPLES`` and ``##DATA TABLE`` files (2-D NMR, FIDs) are refused in
one line.

An axis stored in decreasing order (usual for infrared, ``##FIRSTX`` > ``##LASTX``) is the
declared order of the format, so it is reversed without a warning; an unordered peak table is
sorted with a `SpectrumWarning`.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lithoscope.methods import AxisUnit, Method
from lithoscope.spectra.io._common import (
    SpectrumFileError,
    SpectrumWarning,
    repair_axis,
    split_lines,
)
from lithoscope.spectra.io.writers import decode_value
from lithoscope.spectra.spectrum import Spectrum

__all__ = ["looks_like_jcamp", "parse_jcamp"]

_SQZ = {c: (d, 1) for d, c in enumerate("@ABCDEFGHI")} | {
    c: (d, -1) for d, c in enumerate("abcdefghi", start=1)
}
_DIF = {c: (d, 1) for d, c in enumerate("%JKLMNOPQR")} | {
    c: (d, -1) for d, c in enumerate("jklmnopqr", start=1)
}
_DUP = {c: d for d, c in enumerate("STUVWXYZs", start=1)}
# Letters that only ASDF uses; E and e are left out since AFFN uses them for exponents.
_ASDF_ONLY = frozenset(set(_SQZ) | set(_DIF) | set(_DUP)) - {"E", "e"}
_AFFN = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[Ee][+-]?\d+)?")
_ASDF_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")
_DIGITS = re.compile(r"\d*\.?\d*")
_SEPARATORS = " \t,"
_MAX_POINTS = 5_000_000
_DATA_LABELS = ("XYDATA", "XYPOINTS", "PEAKTABLE")
# Labels that describe the encoding of the data, not the spectrum; not kept as metadata.
_ENCODING_LABELS = frozenset(
    {"END", "TITLE", "$METHOD", "$UNIT", "FIRSTX", "LASTX", "DELTAX", "NPOINTS", "XFACTOR"}
    | {"YFACTOR", "FIRSTY", "LASTY", "MINX", "MAXX", "MINY", "MAXY"}
)

_SNIFF = re.compile(r"^\s*##\s*JCAMP[\s_-]*DX\b", re.I | re.M)
_SNIFF_DATA = re.compile(
    r"^\s*##\s*(?:XY\s*DATA|XY\s*POINTS|PEAK\s*TABLE|NTUPLES|DATA\s*TABLE)\s*=", re.I | re.M
)

# ##DATA TYPE -> method; the first pattern that matches wins (near infrared before infrared).
_DATA_TYPES: list[tuple[re.Pattern[str], Method]] = [
    (re.compile(r"RAMAN"), Method.RAMAN),
    (re.compile(r"NEAR[\s-]*INFRARED|\bNIR\b|UV|VIS|REFLECTANCE"), Method.VNIR),
    (re.compile(r"INFRARED|\bF?T?-?IR\b|\bMIR\b"), Method.IR),
    (re.compile(r"X[\s-]*RAY|\bXRD\b|DIFFRACT"), Method.XRD),
    (re.compile(r"LIBS|EMISSION|PLASMA|BREAKDOWN"), Method.LIBS),
]
_UNSUPPORTED_TYPES = re.compile(r"NMR|MASS|CHROMATOGRAM|LINK")
# ##XUNITS -> (unit or None for "by method", factor to the unit)
_XUNITS: list[tuple[re.Pattern[str], AxisUnit | None, float]] = [
    (re.compile(r"^(1/CM|CM-?1|CM\^-?1|CM\*\*-?1|WAVENUMBERS?(\(1/CM\)|\(CM-1\))?)$"), None, 1.0),
    (re.compile(r"^(NANOMETERS?|NM|WAVELENGTH\(NM\))$"), AxisUnit.WAVELENGTH_NM, 1.0),
    (
        re.compile(r"^(MICROMETERS?|MICRONS?|UM|WAVELENGTH\((UM|MICRONS?)\))$"),
        AxisUnit.WAVELENGTH_NM,
        1000.0,
    ),
    (
        re.compile(r"^(2-?THETA|TWOTHETA|2THETA\(DEG(REES)?\)|DEGREES?|DEG)$"),
        AxisUnit.TWO_THETA,
        1.0,
    ),
]


def looks_like_jcamp(text: str) -> bool:
    """True when the first 4 kB carry ``##JCAMP-DX=`` (or ``##TITLE=`` and a data label)."""
    head = text[:4096].replace("\r", "\n")  # old Macintosh files end lines with CR alone
    if _SNIFF.search(head):
        return True
    return head.lstrip().upper().startswith("##TITLE") and bool(_SNIFF_DATA.search(head))


def _norm(label: str) -> str:
    return re.sub(r"[\s\-/_]", "", label).upper()


@dataclass
class _Record:
    """One labelled data record: ``##LABEL=value`` and the lines that continue it."""

    label: str
    norm: str
    value: str
    line: int
    lines: list[tuple[int, str]] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join([self.value, *(s for _, s in self.lines)]).strip()


@dataclass
class _Block:
    line: int
    records: dict[str, _Record] = field(default_factory=dict)
    is_link: bool = False


def _records(text: str, name: str) -> list[_Record]:
    records: list[_Record] = []
    # Ctrl-Z ends a file written under DOS (several files of the JCAMP-DX test suites have it)
    text = text.split("\x1a", 1)[0]
    for number, raw in enumerate(split_lines(text), start=1):
        comment = raw.find("$$")
        line = (raw if comment < 0 else raw[:comment]).strip()
        if not line:
            continue
        if line.startswith("##"):
            label, sep, value = line[2:].partition("=")
            if not sep and _norm(label) != "END":  # a bare ##END is common and harmless
                raise SpectrumFileError(
                    f"{name} line {number}: {line[:40]!r} has no '='; JCAMP-DX labels are "
                    "##LABEL=value"
                )
            records.append(_Record(label.strip(), _norm(label), value.strip(), number))
        elif not records:
            raise SpectrumFileError(
                f"{name} line {number}: {line[:40]!r} before the first ##TITLE=; a JCAMP-DX file "
                "starts with ##TITLE="
            )
        else:
            records[-1].lines.append((number, line))
    return records


def _blocks(records: list[_Record], name: str) -> list[_Block]:
    """The blocks that hold data, in file order (LINK parents are containers)."""
    stack: list[_Block] = []
    done: list[_Block] = []
    for rec in records:
        if rec.norm == "TITLE":
            if stack and not stack[-1].is_link:
                raise SpectrumFileError(
                    f"{name} line {rec.line}: ##TITLE= inside the block opened at line "
                    f"{stack[-1].line} (no ##END= between them); the file is truncated or two "
                    "files were joined"
                )
            stack.append(_Block(rec.line, {"TITLE": rec}))
        elif not stack:
            raise SpectrumFileError(
                f"{name} line {rec.line}: ##{rec.label}= outside a block; each block starts "
                "with ##TITLE= and ends with ##END="
            )
        elif rec.norm == "END":
            if rec.lines:
                number, line = rec.lines[0]
                raise SpectrumFileError(
                    f"{name} line {number}: {line[:40]!r} after ##END=; remove it or start a "
                    "new block with ##TITLE="
                )
            block = stack.pop()
            if not block.is_link:
                done.append(block)
        else:
            block = stack[-1]
            block.records.setdefault(rec.norm, rec)
            if rec.norm == "DATATYPE" and re.match(r"LINK\b", rec.value.strip().upper()):
                block.is_link = True
    if stack:
        raise SpectrumFileError(
            f"{name}: the block opened at line {stack[-1].line} has no ##END=; the file is "
            "truncated (download or export it again)"
        )
    return done


def _number(block: _Block, label: str, name: str) -> float | None:
    rec = block.records.get(label)
    if rec is None or not rec.value:
        return None
    match = _AFFN.fullmatch(rec.value.strip())
    value = float(match.group(0)) if match else float("nan")
    if not np.isfinite(value):
        raise SpectrumFileError(
            f"{name} line {rec.line}: ##{rec.label}={rec.value[:30]!r} is not a finite number; "
            "fix the header"
        )
    return value


class _LineError(Exception):
    """A problem in one data line; turned into a SpectrumFileError with the line number."""


def _asdf_tokens(s: str, asdf: bool) -> list[tuple[str, float]]:
    """Tokens of a data line: ('abs', v), ('dif', d), ('dup', n)."""
    tokens: list[tuple[str, float]] = []
    pos, n = 0, len(s)
    while pos < n:
        c = s[pos]
        if c in _SEPARATORS:
            pos += 1
            continue
        if c == "?":
            raise _LineError("a missing value '?'; a spectrum needs every ordinate")
        if c in "+-.0123456789":
            match = (_ASDF_NUMBER if asdf else _AFFN).match(s, pos)
            if match is None:
                raise _LineError(f"{s[pos : pos + 10]!r} is not a number")
            tokens.append(("abs", float(match.group(0))))
            pos = match.end()
            continue
        if not asdf:
            raise _LineError(f"unexpected character {c!r} at column {pos + 1}")
        digits = _DIGITS.match(s, pos + 1)
        rest = digits.group(0) if digits else ""
        pos += 1 + len(rest)
        if c in _SQZ or c in _DIF:
            first, sign = (_SQZ if c in _SQZ else _DIF)[c]
            try:
                value = sign * float(f"{first}{rest}")
            except ValueError:
                raise _LineError(f"{c}{rest!r} is not a number") from None
            tokens.append(("abs" if c in _SQZ else "dif", value))
        elif c in _DUP:
            count_text = f"{_DUP[c]}{rest}"
            if "." in count_text or len(count_text) > 9:
                raise _LineError(f"DUP count {c}{rest} is not a small whole number")
            tokens.append(("dup", float(count_text)))
        else:
            raise _LineError(f"unexpected character {c!r} at column {pos - len(rest)}")
    return tokens


def _expand(
    tokens: list[tuple[str, float]], last_y: float | None, budget: int
) -> tuple[list[float], bool]:
    """Ordinates of one line's y tokens; True if the line ends in DIF form."""
    ys: list[float] = []
    prev: tuple[str, float] | None = None
    current = last_y
    for kind, value in tokens:
        if kind == "dup":
            if prev is None:
                raise _LineError("a DUP count with no value before it")
            repeat = int(value) - 1
            if repeat < 0 or len(ys) + repeat > budget:
                raise _LineError(f"DUP count {int(value)} is impossible here")
            for _ in range(repeat):
                current = prev[1] if prev[0] == "abs" else current + prev[1]  # type: ignore[operator]
                ys.append(current)
            continue
        if kind == "dif":
            if current is None:
                raise _LineError("a DIF difference with no value before it")
            current = current + value
        else:
            current = value
        ys.append(current)
        prev = (kind, value)
        if len(ys) > budget:
            raise _LineError("more ordinates than ##NPOINTS allows")
    return ys, prev is not None and prev[0] == "dif"


_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+(?:[Ee][+-]?\d+)?")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+")


def _decimal_commas(lines: list[tuple[int, str]]) -> bool:
    """True if AFFN ``(X++(Y..Y))`` lines write decimal commas (``1898,58 -0,0170 -0,0171``).

    Files exported under a European locale do. A comma separates values in the standard, but
    then a line is written ``1898,1,2,3`` or ``1898, 1, 2``: never as blank-separated numbers
    that each hold one comma with digits on both sides, which is what this looks for (on every
    line, with at least two numbers on each and a comma in at least one).
    """
    seen_comma = False
    for _, s in lines:
        fields = s.split()
        if len(fields) < 2:
            return False
        for f in fields:
            if _DECIMAL_COMMA.fullmatch(f):
                seen_comma = True
            elif not _PLAIN_NUMBER.fullmatch(f):
                return False
    return seen_comma


def _first_misplaced_line(
    starts: list[tuple[int, float, int]], firstx: float, step: float, xfactor: float
) -> tuple[int, float, int, float] | None:
    """The first data line whose abscissa is not where ``firstx + index * step`` puts it.

    The abscissa that starts a line is written with less care than the header: rounded to a
    whole number of ``xfactor`` units, or to fewer digits than ``##FIRSTX``. So a line may miss
    its place by one ``xfactor`` unit plus half a point spacing; a lost or repeated line moves
    every later line by a whole line of points.
    """
    tolerance = abs(xfactor) + 0.5 * abs(step)
    for number, line_x, index in starts:
        expected = firstx + index * step
        x = line_x * xfactor
        if abs(x - expected) > tolerance + 1e-9 * abs(expected):
            return number, x, index, expected
    return None


def _check_line_abscissas(
    starts: list[tuple[int, float, int]],
    firstx: float,
    step: float,
    deltax: float | None,
    xfactor: float,
    name: str,
) -> None:
    """Check the abscissa of each ``(X++(Y..Y))`` line against the header's grid.

    The grid is ``##FIRSTX``, ``##LASTX`` and ``##NPOINTS``, as every JCAMP-DX reader places
    the points (readJDX, the ``jcamp`` package, jcampconverter). Some files state a ``##DELTAX``
    that does not match them (readJDX's ``MiniDIFDUP.JDX``, cut from a longer spectrum, keeps
    the old ``##LASTX``); when the lines agree with ``##DELTAX`` the file is read on the
    FIRSTX/LASTX grid, as those readers do, with a `SpectrumWarning`. Lines that agree with
    neither grid are refused: a line is lost, repeated or out of place.
    """
    bad = _first_misplaced_line(starts, firstx, step, xfactor)
    if bad is None:
        return
    if deltax is not None and deltax * step > 0:
        if _first_misplaced_line(starts, firstx, deltax, xfactor) is None:
            warnings.warn(
                f"{name}: the data lines follow ##DELTAX={deltax:g}, but ##FIRSTX/##LASTX/"
                f"##NPOINTS give a spacing of {step:g}; the axis follows ##FIRSTX and ##LASTX, "
                "as JCAMP-DX readers do (check ##LASTX)",
                SpectrumWarning,
                stacklevel=6,
            )
            return
    number, x, index, expected = bad
    raise SpectrumFileError(
        f"{name} line {number}: the line starts at x={x:g}, but ##FIRSTX/##LASTX/##NPOINTS put "
        f"point {index + 1} at {expected:g}; a data line is missing or the header is wrong"
    )


def _xydata(
    block: _Block, rec: _Record, name: str, xfactor: float, yfactor: float
) -> tuple[np.ndarray, np.ndarray]:
    npoints = _number(block, "NPOINTS", name)
    firstx = _number(block, "FIRSTX", name)
    lastx = _number(block, "LASTX", name)
    deltax = _number(block, "DELTAX", name)
    if npoints is not None and not (npoints == int(npoints) and 0 <= npoints <= _MAX_POINTS):
        raise SpectrumFileError(
            f"{name} line {block.records['NPOINTS'].line}: ##NPOINTS={npoints:g} is not a "
            f"whole number of points up to {_MAX_POINTS}; fix the header"
        )
    budget = int(npoints) + 1 if npoints is not None else _MAX_POINTS
    asdf = any(c in _ASDF_ONLY for _, s in rec.lines for c in s)
    lines = rec.lines
    if not asdf and _decimal_commas(lines):
        lines = [(number, s.replace(",", ".")) for number, s in lines]
    ys: list[float] = []
    starts: list[tuple[int, float, int]] = []  # (line, x on the line, index of that x)
    ends_dif = False
    for number, s in lines:
        try:
            tokens = _asdf_tokens(s, asdf)
            if not tokens or tokens[0][0] != "abs":
                raise _LineError("a data line starts with its abscissa X")
            line_x = tokens[0][1]
            values, line_dif = _expand(tokens[1:], ys[-1] if ys else None, budget - len(ys))
            index = len(ys)
            if ends_dif and values and tokens[1][0] == "abs":
                check = values.pop(0)
                if abs(check - ys[-1]) > 1e-9 * max(1.0, abs(ys[-1])):
                    raise _LineError(
                        f"y check failed: the line starts with {check:g}, but the previous "
                        f"line ended with {ys[-1]:g}; the compressed (DIF) data are corrupt"
                    )
                index -= 1
            ys.extend(values)
            ends_dif = line_dif or (ends_dif and not values)
        except _LineError as exc:
            raise SpectrumFileError(
                f"{name} line {number}: {exc}; fix or export the file again"
            ) from None
        starts.append((number, line_x, index))
    n = len(ys)
    if npoints is not None and n != int(npoints):
        raise SpectrumFileError(
            f"{name} line {rec.line}: ##NPOINTS={int(npoints)} but the ##{rec.label} table has "
            f"{n} ordinates; the file is truncated or its compression is corrupt"
        )
    if n < 2:
        raise SpectrumFileError(
            f"{name} line {rec.line}: {n} data point(s); a spectrum needs at least 2"
        )
    if firstx is None:
        firstx = starts[0][1] * xfactor
    if lastx is None:
        if deltax is None:
            raise SpectrumFileError(
                f"{name}: ##XYDATA=(X++(Y..Y)) needs ##LASTX (or ##DELTAX) to place the "
                "abscissas; add it to the header"
            )
        lastx = firstx + (n - 1) * deltax
    step = (lastx - firstx) / (n - 1)
    if step == 0 or not np.isfinite(step):
        raise SpectrumFileError(
            f"{name}: ##FIRSTX equals ##LASTX ({firstx:g}) for {n} points; fix the header"
        )
    _check_line_abscissas(starts, firstx, step, deltax, xfactor, name)
    x = firstx + np.arange(n) * step
    return x, np.asarray(ys, dtype=np.float64) * yfactor


def _pairs(
    block: _Block, rec: _Record, name: str, xfactor: float, yfactor: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    form = rec.value.replace(" ", "").upper()
    width = 3 if form.startswith(("(XYW", "(XYM")) else 2
    xs: list[float] = []
    ys: list[float] = []
    numbers: list[int] = []
    for number, s in rec.lines:
        fields = [f for f in re.split(r"[\s,;]+", s) if f]
        values: list[float] = []
        for f in fields:
            if _AFFN.fullmatch(f) is None:
                raise SpectrumFileError(
                    f"{name} line {number}: {f[:20]!r} is not a number; the {rec.value} table "
                    "holds only numbers"
                )
            values.append(float(f))
        if len(values) % width:
            raise SpectrumFileError(
                f"{name} line {number}: {len(values)} numbers do not make "
                f"{'(x, y, w)' if width == 3 else '(x, y)'} groups; fix or remove that line"
            )
        xs.extend(values[0::width])
        ys.extend(values[1::width])
        numbers.extend([number] * (len(values) // width))
        if len(xs) > _MAX_POINTS:
            raise SpectrumFileError(f"{name}: more than {_MAX_POINTS} points; split the file")
    npoints = _number(block, "NPOINTS", name)
    if npoints is not None and len(xs) != npoints:
        raise SpectrumFileError(
            f"{name} line {rec.line}: ##NPOINTS={npoints:g} but the ##{rec.label} table has "
            f"{len(xs)} points; the file is truncated"
        )
    if len(xs) < 2:
        raise SpectrumFileError(
            f"{name} line {rec.line}: {len(xs)} data point(s); a spectrum needs at least 2"
        )
    x = np.asarray(xs) * xfactor
    y = np.asarray(ys) * yfactor
    return x, y, np.asarray(numbers)


def _method(block: _Block, name: str, given: Method | None, unit: AxisUnit | None) -> Method:
    own = block.records.get("$METHOD")
    if own is not None and own.value.strip().lower() in {m.value for m in Method}:
        found: Method | None = Method(own.value.strip().lower())
    else:
        found = None
        rec = block.records.get("DATATYPE")
        data_type = rec.value.upper() if rec else ""
        for pattern, method in _DATA_TYPES:
            if pattern.search(data_type):
                found = method
                break
        if found is None and data_type and _UNSUPPORTED_TYPES.search(data_type):
            raise SpectrumFileError(
                f"{name} line {rec.line}: ##DATA TYPE={rec.value!r} is not a mineral spectrum "
                "lithoscope reads (Raman, infrared, UV/VIS/NIR, X-ray diffraction, LIBS)"
            )
        if found is None and unit is AxisUnit.TWO_THETA:
            found = Method.XRD
    if found is not None and given is not None and found is not given:
        raise SpectrumFileError(
            f"{name}: the file says it is a {found.value} spectrum but method={given.value!r} "
            "was given; drop the method argument or fix ##DATA TYPE"
        )
    found = found or given
    if found is None:
        raise SpectrumFileError(
            f"{name}: ##DATA TYPE does not tell the method (Raman, infrared, UV/VIS, X-ray...); "
            "pass it (e.g. method='raman') or add ##DATA TYPE=RAMAN SPECTRUM"
        )
    return found


def _unit(block: _Block, name: str, given: AxisUnit | None) -> tuple[AxisUnit | None, float]:
    """Unit (None: by method, for 1/CM) and factor of the axis from ##XUNITS."""
    rec = block.records.get("XUNITS")
    if rec is None or not rec.value.strip():
        if given is None:
            raise SpectrumFileError(
                f"{name}: no ##XUNITS; add it (1/CM, NANOMETERS, MICROMETERS or 2THETA) or pass "
                "unit=..."
            )
        return given, 1.0
    text = re.sub(r"\s+", "", rec.value.replace("µ", "u").replace("μ", "u").upper())
    for pattern, unit, factor in _XUNITS:
        if pattern.match(text):
            return unit, factor
    raise SpectrumFileError(
        f"{name} line {rec.line}: ##XUNITS={rec.value!r} is not an axis lithoscope reads; "
        "use 1/CM, NANOMETERS, MICROMETERS or 2THETA"
    )


def _metadata(block: _Block, name: str) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for rec in block.records.values():
        if rec.norm in _DATA_LABELS or rec.norm in _ENCODING_LABELS:
            continue
        key = re.sub(r"[\s\-/]+", "_", rec.label.lstrip("$").strip()).lower()
        value = rec.text()
        meta.setdefault(key, decode_value(key, value) if rec.label.startswith("$") else value)
    title = block.records.get("TITLE")
    meta["title"] = title.text() if title else None
    if not meta.get("mineral") and meta.get("names"):
        meta["mineral"] = str(meta["names"]).splitlines()[0].strip() or None
    for key in ("sample_id", "rruff_id", "sampleid"):
        if meta.get(key):
            meta["sample_id"] = meta[key]
            break
    for key in ("laser_nm", "laser_wavelength", "raman_wavelength", "excitation_wavelength"):
        value = meta.get(key)
        if isinstance(value, int | float):
            meta["laser_nm"] = float(value)
            break
        match = _AFFN.search(str(value or ""))
        if match:
            meta["laser_nm"] = float(match.group(0))
            break
    if not meta.get("source") and meta.get("origin"):
        meta["source"] = meta["origin"]
    meta["file"] = name
    meta["format"] = "jcamp"
    return meta


def _spectrum(
    block: _Block, name: str, method: Method | None, unit: AxisUnit | None
) -> Spectrum | None:
    rec = next((block.records[k] for k in _DATA_LABELS if k in block.records), None)
    if rec is None:
        for label in ("NTUPLES", "DATATABLE"):
            if label in block.records:
                bad = block.records[label]
                raise SpectrumFileError(
                    f"{name} line {bad.line}: ##{bad.label}= (NTUPLES) is not supported; export "
                    "the spectrum as ##XYDATA=(X++(Y..Y)) or ##XYPOINTS=(XY..XY)"
                )
        return None
    axis_unit, factor = _unit(block, name, unit)
    found_method = _method(block, name, method, axis_unit)
    own = block.records.get("$UNIT")
    own_unit = own.value.strip() if own is not None else ""
    if axis_unit is None:
        # 1/CM is a Raman shift for Raman spectra; lithoscope's own ##$UNIT may say otherwise
        axis_unit = AxisUnit.RAMAN_SHIFT if found_method is Method.RAMAN else AxisUnit.WAVENUMBER
        if own_unit in {AxisUnit.RAMAN_SHIFT.value, AxisUnit.WAVENUMBER.value}:
            axis_unit = AxisUnit(own_unit)
    xfactor = _number(block, "XFACTOR", name) or 1.0
    yfactor = _number(block, "YFACTOR", name) or 1.0
    form = rec.value.replace(" ", "").upper()
    if rec.norm == "XYDATA" and form.startswith("(X++(Y..Y))"):
        x, y = _xydata(block, rec, name, xfactor, yfactor)
        numbers = None
    elif form.startswith(("(XY..XY)", "(XYW..XYW)", "(XYM..XYM)")):
        x, y, numbers = _pairs(block, rec, name, xfactor, yfactor)
    else:
        raise SpectrumFileError(
            f"{name} line {rec.line}: ##{rec.label}={rec.value!r} is not a data form "
            "lithoscope reads; use (X++(Y..Y)) or (XY..XY)"
        )
    x = x * factor
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise SpectrumFileError(
            f"{name} line {rec.line}: values overflow to infinity (check ##XFACTOR/##YFACTOR)"
        )
    if x.size >= 2 and np.all(np.diff(x) < 0):
        x, y = x[::-1], y[::-1]
        numbers = None if numbers is None else numbers[::-1]
    x, y = repair_axis(x, y, name, numbers)
    meta = _metadata(block, name)
    meta["peak_table"] = rec.norm == "PEAKTABLE"
    return Spectrum(x, y, found_method, axis_unit, meta)


def parse_jcamp(
    text: str,
    name: str,
    *,
    method: Method | str | None = None,
    unit: AxisUnit | str | None = None,
) -> list[Spectrum]:
    """Parse JCAMP-DX text into one spectrum per data block.

    Parameters
    ----------
    text : str
        File content.
    name : str
        How to name the file in messages (its path).
    method : Method or str, optional
        Used when ``##DATA TYPE`` does not tell the method; an error if it contradicts it.
    unit : AxisUnit or str, optional
        Used when there is no ``##XUNITS``.

    Returns
    -------
    list of Spectrum
        Metadata: ``title``, ``mineral`` (``##$MINERAL``, else the first of ``##NAMES``),
        ``sample_id``, ``laser_nm``, ``source`` (``##$SOURCE``, else ``##ORIGIN``),
        ``peak_table``, ``format`` ('jcamp') and every other label in lower case (``##$KEY`` as
        ``key``) except those that only describe the encoding (``##FIRSTX``, ``##XFACTOR``...).

    Raises
    ------
    SpectrumFileError
        Naming the file and line: no data block, bad compression, failed checks, unknown units.

    Examples
    --------
    >>> text = '''##TITLE=quartz
    ... ##JCAMP-DX=5.01
    ... ##DATA TYPE=RAMAN SPECTRUM
    ... ##XUNITS=1/CM
    ... ##YUNITS=ARBITRARY UNITS
    ... ##FIRSTX=460
    ... ##LASTX=466
    ... ##NPOINTS=4
    ... ##XYDATA=(X++(Y..Y))
    ... 460A0J%j
    ... ##END='''
    >>> s = parse_jcamp(text, "quartz.jdx")[0]
    >>> s.axis.tolist(), s.intensities.tolist(), s.unit.value
    ([460.0, 462.0, 464.0, 466.0], [10.0, 11.0, 11.0, 10.0], 'raman shift cm-1')
    """
    given_method = Method(str(method).lower()) if method is not None else None
    given_unit = AxisUnit(unit) if unit is not None else None
    blocks = _blocks(_records(text, name), name)
    spectra = []
    for block in blocks:
        s = _spectrum(block, name, given_method, given_unit)
        if s is not None:
            spectra.append(s)
    if not spectra:
        raise SpectrumFileError(
            f"{name}: no ##XYDATA=, ##XYPOINTS= or ##PEAK TABLE= block with ##END=; the file "
            "holds no spectrum"
        )
    return spectra
