"""Two-column text spectra: CSV, TSV, semicolon or whitespace separated, header optional."""

from __future__ import annotations

import re

import numpy as np

from lithoscope.methods import AxisUnit, Method
from lithoscope.spectra.io._common import SpectrumFileError, repair_axis
from lithoscope.spectra.spectrum import Spectrum

__all__ = ["looks_like_text", "parse_text"]

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NUM = re.compile(rf"^{_NUMBER}$")
_SPLIT = {
    "comma": re.compile(r"\s*,\s*"),
    "semicolon": re.compile(r"\s*;\s*"),
    "tab": re.compile(r"\s*\t\s*"),
    "whitespace": re.compile(r"\s+"),
}
_COMMENT = ("#", "%", "//")

# Words in a header that tell the method and unit of the axis (never guessed from numbers).
_HEADER_HINTS: list[tuple[re.Pattern[str], Method, AxisUnit]] = [
    (re.compile(r"raman", re.I), Method.RAMAN, AxisUnit.RAMAN_SHIFT),
    (re.compile(r"2[\s_-]*theta|two[\s_-]*theta|2θ", re.I), Method.XRD, AxisUnit.TWO_THETA),
]


def _delimiter(line: str) -> str:
    if "\t" in line:
        return "tab"
    if ";" in line:
        return "semicolon"
    if "," in line:
        return "comma"
    return "whitespace"


def _fields(line: str, delimiter: str) -> list[str]:
    parts = [p for p in _SPLIT[delimiter].split(line.strip()) if p != ""]
    return parts


def looks_like_text(text: str) -> bool:
    """True when some of the first lines are two numbers."""
    count = 0
    for line in text.splitlines()[:50]:
        s = line.strip()
        if not s or s.startswith(_COMMENT):
            continue
        parts = _fields(s, _delimiter(s))
        if len(parts) == 2 and all(_NUM.match(p) for p in parts):
            count += 1
    return count >= 2


def parse_text(
    text: str,
    name: str,
    *,
    method: Method | str | None = None,
    unit: AxisUnit | str | None = None,
) -> Spectrum:
    """Parse two-column text (axis, intensity).

    Leading non-numeric lines are a header; lines starting with ``#``, ``%`` or ``//`` are
    comments. The delimiter is the one of the first data line (tab, semicolon, comma or
    white space). A header that names a Raman shift or 2-theta axis tells the method; otherwise
    ``method`` must be given.
    """
    header_lines: list[str] = []
    xs: list[float] = []
    ys: list[float] = []
    numbers: list[int] = []
    delimiter: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(_COMMENT):
            header_lines.append(line)
            continue
        if delimiter is None:
            d = _delimiter(line)
            parts = _fields(line, d)
            if not all(_NUM.match(p) for p in parts):
                if xs:
                    pass  # falls through to the error below
                else:
                    header_lines.append(line)
                    continue
            delimiter = d
        parts = _fields(line, delimiter)
        if len(parts) != 2 or not all(_NUM.match(p) for p in parts):
            what = f"{len(parts)} columns" if all(_NUM.match(p) for p in parts) else repr(line[:40])
            raise SpectrumFileError(
                f"{name} line {number}: expected two numbers (axis, intensity) separated by "
                f"{delimiter}, got {what}; fix or remove that line"
            )
        x, y = float(parts[0]), float(parts[1])
        if not (np.isfinite(x) and np.isfinite(y)):
            raise SpectrumFileError(
                f"{name} line {number}: {line[:40]!r} is not finite; fix or remove that line"
            )
        xs.append(x)
        ys.append(y)
        numbers.append(number)
    if len(xs) < 2:
        raise SpectrumFileError(
            f"{name}: {len(xs)} data point(s) found; a spectrum needs at least 2 lines of "
            "'axis, intensity'"
        )
    header_text = " ".join(header_lines)
    found_method = Method(str(method).lower()) if method is not None else None
    found_unit = AxisUnit(unit) if unit is not None else None
    if found_method is None:
        for pattern, hint_method, hint_unit in _HEADER_HINTS:
            if pattern.search(header_text):
                found_method, found_unit = hint_method, found_unit or hint_unit
                break
    if found_method is None:
        raise SpectrumFileError(
            f"{name}: plain two-column text does not say which method measured it; pass the "
            "method (e.g. --method raman)"
        )
    x_arr, y_arr = repair_axis(np.array(xs), np.array(ys), name, np.array(numbers))
    metadata = {"file": name, "format": "text", "header": header_text or None}
    return Spectrum(x_arr, y_arr, found_method, found_unit, metadata)
