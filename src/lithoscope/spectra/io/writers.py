"""Writing spectra: lithoscope CSV (with a ``# key: value`` header) and JCAMP-DX 5.01.

Both writers keep every metadata value that is a string, number, boolean, list or mapping
(lists and mappings as JSON), except ``file`` and ``format``, which describe where a spectrum
was read from. Files are written to a temporary file in the target folder and moved into place
with `os.replace`, so a reader never sees half a file, and an existing file is kept unless
``overwrite=True``.

The CSV header is read back by the ``csv`` format of `lithoscope.spectra.io`; the plain text
reader tolerates it too (its lines are comments).
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lithoscope._files import jsonable
from lithoscope.methods import AxisUnit, Method
from lithoscope.spectra.io._common import SpectrumFileError
from lithoscope.spectra.spectrum import Spectrum

__all__ = [
    "CSV_MAGIC",
    "WRITERS",
    "decode_value",
    "encode_value",
    "format_csv",
    "format_jcamp",
    "parse_csv_header",
    "write_spectrum",
]

CSV_MAGIC = "# lithoscope spectrum 1"
# Metadata keys whose values are numbers; everything else is read back as text (or JSON).
NUMERIC_KEYS = frozenset({"laser_nm"})
_SKIP_KEYS = frozenset({"file", "format"})
_HEADER_LINE = re.compile(r"^#\s*([^\W\d][\w.-]*)\s*:\s?(.*)$")
# Characters that end a line for str.splitlines (or are control characters).
_BREAKS = frozenset([*map(chr, range(32)), "\x7f", "\x85", "\u2028", "\u2029"])

_JCAMP_DATA_TYPE = {
    Method.RAMAN: "RAMAN SPECTRUM",
    Method.IR: "INFRARED SPECTRUM",
    Method.VNIR: "UV/VIS SPECTRUM",
    Method.XRD: "X-RAY DIFFRACTION",
    Method.LIBS: "LIBS EMISSION SPECTRUM",
}
_JCAMP_XUNITS = {
    AxisUnit.RAMAN_SHIFT: "1/CM",
    AxisUnit.WAVENUMBER: "1/CM",
    AxisUnit.WAVELENGTH_NM: "NANOMETERS",
    AxisUnit.TWO_THETA: "2THETA",
}
# Labels the JCAMP writer sets itself; metadata keys with these names are not repeated.
_JCAMP_OWN = frozenset(
    {
        "title", "jcamp_dx", "data_type", "origin", "owner", "xunits", "yunits", "xfactor",
        "yfactor", "firstx", "lastx", "deltax", "npoints", "firsty", "minx", "maxx", "miny",
        "maxy", "xydata", "xypoints", "peak_table", "end", "method", "block_id", "blocks",
    }
)  # fmt: skip


def encode_value(value: Any) -> str | None:
    """One-line text of a metadata value (None for values that are not written).

    Strings that would not survive a header line (line breaks, surrounding blanks, a leading
    quote or bracket) and lists or mappings are JSON; `decode_value` reverses it.

    Examples
    --------
    >>> encode_value("Forsterite"), encode_value({"olivine": 0.9}), encode_value(None)
    ('Forsterite', '{"olivine": 0.9}', None)
    """
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, str):
        if value != value.strip() or value[:1] in '[{"' or any(c in _BREAKS for c in value):
            return json.dumps(value)  # ASCII escapes keep it on one line
        return value
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(jsonable(value), allow_nan=False, default=str)
    return encode_value(str(value))


def decode_value(key: str, text: str) -> Any:
    """The metadata value that `encode_value` wrote as ``text``.

    Examples
    --------
    >>> decode_value("laser_nm", "532.0"), decode_value("modal", '{"olivine": 0.9}')
    (532.0, {'olivine': 0.9})
    """
    text = text.strip()
    if text[:1] in '[{"':
        try:
            return json.loads(text)
        except ValueError:
            return text
    if key in NUMERIC_KEYS:
        try:
            value = float(text)
        except ValueError:
            return text
        return value if math.isfinite(value) else text
    return text


def _header_items(spectrum: Spectrum, exclude: frozenset[str]) -> list[tuple[str, str]]:
    items = []
    for key, value in spectrum.metadata.items():
        clean = re.sub(r"[^\w.-]+", "_", str(key)).strip("_")
        if not clean or clean.lower() in exclude or clean.lower() in _SKIP_KEYS:
            continue
        if not re.match(r"[^\W\d]", clean):
            clean = f"_{clean}"
        text = encode_value(value)
        if text is not None:
            items.append((clean, text))
    return items


def _number(value: float) -> str:
    return repr(float(value))


def format_csv(spectrum: Spectrum) -> str:
    """Text of a lithoscope CSV file: ``# key: value`` header, column names, ``x,y`` lines.

    Examples
    --------
    >>> s = Spectrum([100.0, 200.0], [1.0, 2.5], "raman", metadata={"mineral": "Quartz"})
    >>> print(format_csv(s), end="")
    # lithoscope spectrum 1
    # method: raman
    # unit: raman shift cm-1
    # mineral: Quartz
    raman shift cm-1,intensity
    100.0,1.0
    200.0,2.5
    """
    lines = [CSV_MAGIC, f"# method: {spectrum.method.value}", f"# unit: {spectrum.unit.value}"]
    lines += [f"# {k}: {v}" for k, v in _header_items(spectrum, frozenset({"method", "unit"}))]
    lines.append(f"{spectrum.unit.value},intensity")
    lines += [
        f"{_number(x)},{_number(y)}"
        for x, y in zip(spectrum.axis.tolist(), spectrum.intensities.tolist(), strict=True)
    ]
    return "\n".join(lines) + "\n"


def parse_csv_header(text: str, name: str) -> tuple[dict[str, Any], Method, AxisUnit]:
    """Metadata, method and unit from the ``# key: value`` header of a lithoscope CSV file."""
    meta: dict[str, Any] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("#"):
            break
        match = _HEADER_LINE.match(line)
        if match:
            key = match.group(1).strip()
            meta[key] = decode_value(key, match.group(2))
        elif number > 1:
            raise SpectrumFileError(
                f"{name} line {number}: header line {line[:40]!r} is not '# key: value'; fix "
                "or remove it"
            )
    try:
        method = Method(str(meta.pop("method", "")).lower())
        unit = AxisUnit(str(meta.pop("unit", "")))
    except ValueError:
        raise SpectrumFileError(
            f"{name}: the header needs '# method:' ({', '.join(m.value for m in Method)}) and "
            f"'# unit:' ({', '.join(u.value for u in AxisUnit)}); fix those header lines"
        ) from None
    return meta, method, unit


def _one_line(value: Any) -> str:
    text = " ".join("".join(" " if c in _BREAKS else c for c in str(value)).split())
    return text.replace("$$", "$ $") or "unknown"


def _jcamp_label(key: str) -> str:
    return "$" + key.upper()


def format_jcamp(spectrum: Spectrum, *, line_width: int = 80) -> str:
    """Text of a JCAMP-DX 5.01 file in AFFN (uncompressed) form.

    An evenly spaced axis is written as ``##XYDATA=(X++(Y..Y))``, any other as
    ``##XYPOINTS=(XY..XY)``. Numbers are written with all their digits (``repr``), so they
    read back exactly; metadata become ``##$KEY=value`` labels.

    Examples
    --------
    >>> s = Spectrum([100.0, 200.0, 300.0], [1.0, 2.5, 0.5], "raman")
    >>> print(format_jcamp(s).split("##XYDATA=(X++(Y..Y))")[1].strip())
    100.0 1.0 2.5 0.5
    ##END=
    """
    x, y = spectrum.axis, spectrum.intensities
    meta = spectrum.metadata
    title = meta.get("title") or meta.get("mineral") or meta.get("sample_id") or "spectrum"
    header = {
        "TITLE": _one_line(title),
        "JCAMP-DX": "5.01",
        "DATA TYPE": _JCAMP_DATA_TYPE[spectrum.method],
        "ORIGIN": _one_line(meta.get("origin") or meta.get("source") or "unknown"),
        "OWNER": _one_line(meta.get("owner") or "unknown"),
        "XUNITS": _JCAMP_XUNITS[spectrum.unit],
        "YUNITS": _one_line(meta.get("yunits") or "ARBITRARY UNITS"),
        "$METHOD": spectrum.method.value,
        "$UNIT": spectrum.unit.value,
    }
    for key, text in _header_items(spectrum, _JCAMP_OWN | {"unit"}):
        header[_jcamp_label(key)] = text.replace("$$", "$ $")
    n = x.size
    grid = np.linspace(x[0], x[-1], n)
    even = bool(np.max(np.abs(grid - x)) <= 1e-9 * max(float(np.max(np.abs(x))), 1e-300))
    header |= {
        "XFACTOR": "1",
        "YFACTOR": "1",
        "FIRSTX": _number(x[0]),
        "LASTX": _number(x[-1]),
        "NPOINTS": str(n),
        "FIRSTY": _number(y[0]),
        "MINX": _number(x.min()),
        "MAXX": _number(x.max()),
        "MINY": _number(y.min()),
        "MAXY": _number(y.max()),
    }
    lines = [f"##{k}={v}" for k, v in header.items()]
    if even:
        lines.append("##XYDATA=(X++(Y..Y))")
        i = 0
        ys = [_number(v) for v in y.tolist()]
        while i < n:
            line = _number(grid[i])
            j = i
            while j < n and (j == i or len(line) + 1 + len(ys[j]) <= line_width):
                line += " " + ys[j]
                j += 1
            lines.append(line)
            i = j
    else:
        lines.append("##XYPOINTS=(XY..XY)")
        pairs = zip(x.tolist(), y.tolist(), strict=True)
        lines += [f"{_number(a)}, {_number(b)}" for a, b in pairs]
    lines.append("##END=")
    return "\n".join(lines) + "\n"


WRITERS: dict[str, Callable[[Spectrum], str]] = {"csv": format_csv, "jcamp": format_jcamp}
_SUFFIXES = {".csv": "csv", ".txt": "csv", ".jdx": "jcamp", ".dx": "jcamp", ".jcamp": "jcamp"}


def _file_mode(path: Path) -> int:
    if path.exists():
        return path.stat().st_mode & 0o777
    return 0o644


def write_text_atomic(text: str, path: Path, *, overwrite: bool = False) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and `os.replace`."""
    if path.exists() and not overwrite:
        raise SpectrumFileError(
            f"{path}: already exists; pass overwrite=True to replace it or choose another path"
        )
    if not path.parent.is_dir():
        raise SpectrumFileError(f"{path}: folder {path.parent} does not exist; create it first")
    if path.exists() and not path.is_file():
        raise SpectrumFileError(f"{path}: not a regular file; choose a file path")
    mode = _file_mode(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if overwrite:
            os.replace(tmp, path)
        else:
            try:  # link() refuses an existing target, so a file created meanwhile survives
                os.link(tmp, path)
            except FileExistsError:
                raise SpectrumFileError(
                    f"{path}: already exists; pass overwrite=True to replace it"
                ) from None
            except OSError:  # file systems without hard links
                if path.exists():
                    raise SpectrumFileError(
                        f"{path}: already exists; pass overwrite=True to replace it"
                    ) from None
                os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_spectrum(
    spectrum: Spectrum,
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write one spectrum to a file, atomically.

    Parameters
    ----------
    spectrum : Spectrum
        What to write.
    path : str or path-like
        The file to create.
    format : {'csv', 'jcamp'}, optional
        Default: from the suffix (``.csv``/``.txt`` -> csv, ``.jdx``/``.dx``/``.jcamp`` ->
        jcamp).
    overwrite : bool, default=False
        Replace an existing file; otherwise an existing file is an error.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ValueError
        Unknown ``format`` (the message lists the valid ones).
    SpectrumFileError
        The file exists (and ``overwrite`` is False) or its folder does not.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> s = Spectrum([100.0, 200.0], [1.0, 2.0], "raman")
    >>> write_spectrum(s, folder / "s.jdx").name
    's.jdx'
    """
    path = Path(path)
    if format is None:
        format = _SUFFIXES.get(path.suffix.lower())
        if format is None:
            raise ValueError(
                f"cannot tell the format from the suffix of {path.name!r}; pass format= one of "
                f"{', '.join(WRITERS)}"
            )
    if format not in WRITERS:
        raise ValueError(f"format {format!r} is not one of {', '.join(WRITERS)}")
    if not isinstance(spectrum, Spectrum):
        raise TypeError(f"spectrum must be a Spectrum, got {type(spectrum).__name__}")
    write_text_atomic(WRITERS[format](spectrum), path, overwrite=overwrite)
    return path
