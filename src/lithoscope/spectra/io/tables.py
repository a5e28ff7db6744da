"""Spectral tables: many spectra in one text file (VNIR reflectance, LIBS), and RELAB ``.tab``.

Three layouts:

``table-columns``
    One spectrum per column; the first column is the axis and its name says the unit
    (``wavelength_nm``, ``wavelength_um``, ``Wavelength (nm)``, ``wavenumber``, ``raman shift``,
    ``2theta``). Columns named like a standard deviation (``std``, ``sigma``, ``error``) are not
    spectra and are skipped. Examples: USGS splib07 (``wavelength_um`` and ``<rule>|<record>``
    columns), the libs-pewpew average spectra (``Chalcopyrite (id 26)``), RELAB averages.
``table-rows``
    One spectrum per row; the axis positions are the numeric column names and the other columns
    identify the spectrum (e.g. Korda & Kohout 2024: ``row,SpectrumID,450,455,...``). RELAB
    metadata and label tables next to the file (``*metadata*.csv``, ``*labels*.csv`` with a
    ``SpectrumID`` column) are joined by spectrum id when read with ``read_spectra``.
``relab-tab``
    A RELAB ``.tab`` spectrum: optional first line with the number of rows, then wavelength (nm),
    reflectance and optionally its standard deviation, then optionally a text trailer with the
    spectrum id, sample id and sample name.

Empty cells and ``NaN`` in a table are missing values: that spectrum simply has no point there
(spectrometers cover different ranges); infinite values are errors. The method comes from the
``method`` argument, else from words in the header (``reflectance``, ``SpectrumID`` (RELAB),
``_AREF``/``_RREF`` (USGS), ``LIBS``, ``Raman``...), else from the file name (``relab``,
``usgs``, ``libs``...); failing that the reader asks for it. An axis without a unit (numeric
column names) is in the usual unit of the method (nm for VNIR and LIBS).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from lithoscope.methods import DEFAULT_UNIT, AxisUnit, Method
from lithoscope.spectra.io._common import SpectrumFileError, check_file, decode, repair_axis
from lithoscope.spectra.spectrum import Spectrum

__all__ = [
    "find_row_companions",
    "looks_like_column_table",
    "looks_like_relab_tab",
    "looks_like_row_table",
    "parse_column_table",
    "parse_relab_tab",
    "parse_row_table",
]

_NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_PLAIN = re.compile(r"[-+]?[0-9][0-9.]*(?:[eE][-+]?[0-9]{1,3})?")
_MISSING = frozenset({"", "nan", "na", "n/a", "null", "none"})
_COMMENT = ("#", "%", "//")
_STD_COLUMN = re.compile(r"\b(std|stdev|stddev|sd|sigma|err|error|uncertainty)\b", re.I)
_MAX_COMPANION_BYTES = 50 * 1024 * 1024

# Name of the axis column -> (unit or None for "cm-1, by method", factor to the unit)
_AXIS_NAMES: list[tuple[re.Pattern[str], AxisUnit | None, float]] = [
    (re.compile(r"raman[\s_-]*shift", re.I), AxisUnit.RAMAN_SHIFT, 1.0),
    (re.compile(r"2[\s_-]*theta|two[\s_-]*theta|2θ", re.I), AxisUnit.TWO_THETA, 1.0),
    (
        re.compile(r"(wavelength|lambda|wl)[\s_(\[]*(um|µm|μm|micron|micrometer)", re.I),
        AxisUnit.WAVELENGTH_NM,
        1000.0,
    ),
    (re.compile(r"^(wavelength|lambda|wl)\b|^(wavelength|wl)_?nm|^nm$", re.I), None, 1.0),
    (re.compile(r"wavenumber|cm-1|cm\^-1|1/cm", re.I), AxisUnit.WAVENUMBER, 1.0),
]
# Words in a header that tell the method; checked in order.
_HEADER_HINTS: list[tuple[re.Pattern[str], Method]] = [
    (re.compile(r"raman", re.I), Method.RAMAN),
    (re.compile(r"reflectance|albedo|spectrumid|splib|_[AR]REF\b", re.I), Method.VNIR),
    (re.compile(r"\blibs\b|emission|plasma", re.I), Method.LIBS),
    (re.compile(r"absorbance|transmittance|infrared|\bftir\b", re.I), Method.IR),
    (re.compile(r"2[\s_-]*theta|two[\s_-]*theta|diffract", re.I), Method.XRD),
]
_NAME_HINTS: list[tuple[re.Pattern[str], Method]] = [
    (re.compile(r"relab|usgs|splib|vnir|reflect|crism|korda", re.I), Method.VNIR),
    (re.compile(r"libs|pewpew|chemcam|supercam", re.I), Method.LIBS),
    (re.compile(r"raman", re.I), Method.RAMAN),
    (re.compile(r"xrd|diffract", re.I), Method.XRD),
    (re.compile(r"infrared|ftir", re.I), Method.IR),
]
_NAME_SOURCES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"pewpew", re.I), "libs-pewpew (University of Potsdam)"),
    (re.compile(r"korda", re.I), "RELAB via Korda & Kohout 2024"),
    (re.compile(r"relab", re.I), "RELAB"),
    (re.compile(r"usgs|splib", re.I), "USGS splib07"),
]
# splib07 record: <name>_<sample>_..._<spectrometer + version>_<AREF|RREF>
_USGS_RECORD = re.compile(r"^(.+?)_[A-Z0-9]+[a-z]*_[AR]REF$")
_PEWPEW_COLUMN = re.compile(r"^(?P<mineral>.+?)\s*\(id\s*(?P<id>\d+)\)$")
_MODAL = {"OL": "olivine", "OPX": "orthopyroxene", "CPX": "clinopyroxene", "PLG": "plagioclase"}


def _basename(name: str) -> str:
    return re.split(r"[/\\:]", name)[-1]


def _content_lines(text: str, limit: int | None = None) -> Iterator[tuple[int, str]]:
    count = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(_COMMENT):
            continue
        yield number, line
        count += 1
        if limit is not None and count >= limit:
            return


def _delimiter(line: str) -> str | None:
    for d in ("\t", ";", ","):
        if d in line:
            return d
    return None


def _split(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        return line.split()
    return [f.strip() for f in next(csv.reader([line], delimiter=delimiter))]


def _is_number(field: str) -> bool:
    return _NUM.fullmatch(field.strip()) is not None


def _axis_unit(column: str) -> tuple[AxisUnit | None, float] | None:
    for pattern, unit, factor in _AXIS_NAMES:
        if pattern.search(column.strip()):
            return unit, factor
    return None


def _cells(fields: list[str], number: int, name: str, columns: list[str]) -> np.ndarray:
    """Numbers of one row (NaN where a cell is missing)."""
    if all(_PLAIN.fullmatch(f) for f in fields):
        try:
            fast = np.array(fields, dtype=np.float64)
        except ValueError:
            fast = None  # e.g. '1.2.3'; the loop below names the cell
        if fast is not None and not np.isinf(fast).any():
            return fast
    out = np.empty(len(fields))
    for i, f in enumerate(fields):
        f = f.strip()
        if _NUM.fullmatch(f):
            value = float(f)
            if not np.isfinite(value):
                raise SpectrumFileError(
                    f"{name} line {number}, column {columns[i][:30]!r}: {f[:20]!r} overflows to "
                    "infinity; fix that cell"
                )
        elif f.lower() in _MISSING:
            value = np.nan
        else:
            raise SpectrumFileError(
                f"{name} line {number}, column {columns[i][:30]!r}: expected a number, got "
                f"{f[:20]!r}; fix that cell (leave it empty if the value is missing)"
            )
        out[i] = value
    return out


def _method(
    given: Method | str | None, header: str, name: str, axis_unit: AxisUnit | None
) -> Method:
    if given is not None:
        return Method(str(given).lower())
    for pattern, method in _HEADER_HINTS:
        if pattern.search(header):
            return method
    if axis_unit is AxisUnit.TWO_THETA:
        return Method.XRD
    base = _basename(name)
    for pattern, method in _NAME_HINTS:
        if pattern.search(base):
            return method
    raise SpectrumFileError(
        f"{name}: the table does not say which method measured it; pass the method "
        "(e.g. method='vnir' or --method vnir)"
    )


def _source(name: str, found: str | None = None) -> str | None:
    if found:
        return found
    base = _basename(name)
    for pattern, source in _NAME_SOURCES:
        if pattern.search(base):
            return source
    return None


def _table(text: str, name: str) -> tuple[int, list[str], str | None, list[tuple[int, str]]]:
    """Header line number, column names, delimiter and data lines of a table."""
    lines = list(_content_lines(text))
    if len(lines) < 2:
        raise SpectrumFileError(
            f"{name}: {len(lines)} non-empty line(s); a table needs a header line and at least "
            "one row"
        )
    number, header = lines[0]
    delimiter = _delimiter(header)
    try:
        names = _split(header, delimiter)
    except csv.Error as exc:
        raise SpectrumFileError(f"{name} line {number}: unreadable header ({exc})") from None
    return number, names, delimiter, lines[1:]


def _rows(
    lines: list[tuple[int, str]], delimiter: str | None, names: list[str], name: str
) -> tuple[np.ndarray, list[list[str]]]:
    """Line numbers and fields of the rows (each as wide as the header)."""
    numbers = np.empty(len(lines), dtype=np.int64)
    rows: list[list[str]] = []
    for i, (number, line) in enumerate(lines):
        try:
            fields = _split(line, delimiter)
        except csv.Error as exc:
            raise SpectrumFileError(f"{name} line {number}: unreadable row ({exc})") from None
        if len(fields) != len(names):
            raise SpectrumFileError(
                f"{name} line {number}: {len(fields)} fields, but the header has {len(names)} "
                "columns; fix that row"
            )
        numbers[i] = number
        rows.append(fields)
    return numbers, rows


# --------------------------------------------------------------------------- one per column


def looks_like_column_table(text: str, name: str = "") -> bool:
    """True when the first line names an axis (and more columns), then numbers follow."""
    lines = list(_content_lines(text[:65536], limit=3))
    if len(lines) < 2:
        return False
    header, first = lines[0][1], lines[1][1]
    delimiter = _delimiter(header)
    try:
        names, values = _split(header, delimiter), _split(first, delimiter)
    except csv.Error:
        return False
    return (
        len(names) >= 2
        and len(values) == len(names)
        and _axis_unit(names[0]) is not None
        and not all(_is_number(n) for n in names)
        and _is_number(values[0])
    )


def _column_metadata(column: str, source: str | None, synthetic: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {"column": column}
    pewpew = _PEWPEW_COLUMN.match(column)
    if "|" in column:  # USGS MICA reference table: "<rule>|<splib07 record> [note]"
        rule, record = (part.strip() for part in column.split("|", 1))
        label = re.sub(r"\s*\[[^\]]*\]$", "", record)
        sample = _USGS_RECORD.match(label)
        meta |= {"mica_rule": rule, "record": record, "sample_id": sample[1] if sample else label}
        synthetic = synthetic or label.startswith("synth ")
    elif pewpew:
        meta |= {"mineral": pewpew["mineral"], "table_mineral_id": int(pewpew["id"])}
    meta["source"] = source
    if synthetic:
        meta["synthetic"] = True
    return meta


def parse_column_table(
    text: str,
    name: str,
    *,
    method: Method | str | None = None,
    unit: AxisUnit | str | None = None,
) -> list[Spectrum]:
    """Spectra of a table with one spectrum per column (the first column is the axis).

    Parameters
    ----------
    text : str
        File content: comma, semicolon or tab separated, a header line, then rows.
    name : str
        How to name the file in messages.
    method : Method or str, optional
        Default: from the header words or the file name (see the module notes).
    unit : AxisUnit or str, optional
        Only for a wavenumber axis, whose header does not tell Raman shift from wavenumber.

    Returns
    -------
    list of Spectrum
        One per column, with metadata ``column``, ``source`` and what the column name tells
        (USGS: ``mica_rule``, ``record``, ``sample_id``; libs-pewpew: ``mineral``).
    """
    header_line, names, delimiter, lines = _table(text, name)
    found = _axis_unit(names[0])
    if found is None:
        raise SpectrumFileError(
            f"{name} line {header_line}: first column {names[0][:30]!r} does not name an axis "
            "(wavelength_nm, wavelength_um, wavenumber, raman shift, 2theta); rename it"
        )
    axis_unit, factor = found
    header_text = " ".join(names)
    found_method = _method(method, header_text, name, axis_unit)
    if axis_unit is None:
        axis_unit = AxisUnit.WAVELENGTH_NM
    if axis_unit is AxisUnit.WAVENUMBER:
        if unit is not None:
            axis_unit = AxisUnit(unit)
        elif found_method is Method.RAMAN:
            axis_unit = AxisUnit.RAMAN_SHIFT
    numbers, rows = _rows(lines, delimiter, names, name)
    matrix = np.vstack([_cells(r, n, name, names) for r, n in zip(rows, numbers, strict=True)])
    axis = matrix[:, 0] * factor
    missing = np.flatnonzero(np.isnan(axis))
    if missing.size:
        raise SpectrumFileError(
            f"{name} line {numbers[missing[0]]}: the axis value is missing; fill it in or "
            "remove that row"
        )
    axis, order = repair_axis(axis, np.arange(axis.size), name, numbers)
    order = order.astype(np.int64)
    matrix, numbers = matrix[order], numbers[order]
    synthetic = "synthetic" in _basename(name).lower() or "synthetic" in header_text.lower()
    usgs = any(_USGS_RECORD.match(re.sub(r"\s*\[[^\]]*\]$", "", n)) for n in names)
    source = _source(name, "USGS splib07" if usgs else None)
    spectra = []
    for j, column in enumerate(names[1:], start=1):
        if _STD_COLUMN.search(column):
            continue
        keep = ~np.isnan(matrix[:, j])
        if keep.sum() < 2:
            raise SpectrumFileError(
                f"{name}: column {column[:40]!r} has {int(keep.sum())} value(s); a spectrum "
                "needs at least 2 (fill the column or remove it)"
            )
        meta = _column_metadata(column, source, synthetic)
        meta |= {"file": name, "format": "table-columns"}
        if not keep.all():
            meta["missing_points"] = int((~keep).sum())
        spectra.append(Spectrum(axis[keep], matrix[keep, j], found_method, axis_unit, meta))
    if not spectra:
        raise SpectrumFileError(
            f"{name} line {header_line}: no spectrum columns (only the axis and error columns)"
        )
    return spectra


# --------------------------------------------------------------------------- one per row


def _numeric_block(names: list[str]) -> tuple[int, int] | None:
    idx = [i for i, n in enumerate(names) if _is_number(n)]
    if len(idx) < 5 or idx != list(range(idx[0], idx[-1] + 1)):
        return None
    return idx[0], idx[-1] + 1


def looks_like_row_table(text: str, name: str = "") -> bool:
    """True when the header has identifying columns and at least 5 numeric column names."""
    lines = list(_content_lines(text[:262144], limit=2))
    if len(lines) < 2:
        return False
    header = lines[0][1]
    delimiter = _delimiter(header)
    if delimiter is None:
        return False
    try:
        names, values = _split(header, delimiter), _split(lines[1][1], delimiter)
    except csv.Error:
        return False
    block = _numeric_block(names)
    return block is not None and len(values) == len(names) and len(names) > block[1] - block[0]


def _snake(column: str) -> str:
    """``SpectrumID`` -> ``spectrum_id``, ``GeneralType1`` -> ``general_type1``."""
    key = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", column.strip())
    return re.sub(r"\W+", "_", key).strip("_").lower()


def parse_row_table(
    text: str,
    name: str,
    *,
    method: Method | str | None = None,
    unit: AxisUnit | str | None = None,
    companions: dict[str, dict[str, Any]] | None = None,
) -> list[Spectrum]:
    """Spectra of a table with one spectrum per row (numeric column names are the axis).

    Parameters
    ----------
    text, name : str
        File content and how to name it in messages.
    method : Method or str, optional
        Default: from the header (``SpectrumID``: RELAB, VNIR) or the file name.
    unit : AxisUnit or str, optional
        Unit of the numeric column names; default: the usual unit of the method.
    companions : dict, optional
        Extra metadata by spectrum id (see `find_row_companions`).

    Returns
    -------
    list of Spectrum
        One per row; metadata from the identifying columns (``spectrum_id``, ``sample_id``...)
        and the companions.
    """
    header_line, names, delimiter, lines = _table(text, name)
    block = _numeric_block(names)
    if block is None:
        raise SpectrumFileError(
            f"{name} line {header_line}: expected at least 5 adjacent numeric column names "
            "(the axis positions); this is not a one-spectrum-per-row table"
        )
    lo, hi = block
    found_method = _method(method, " ".join(names[:lo] + names[hi:]), name, None)
    axis_unit = AxisUnit(unit) if unit is not None else DEFAULT_UNIT[found_method]
    axis = np.array([float(n) for n in names[lo:hi]])
    if not np.all(np.isfinite(axis)):
        raise SpectrumFileError(f"{name} line {header_line}: a column name overflows")
    axis, order = repair_axis(axis, np.arange(axis.size), name)
    order = order.astype(np.int64) + lo
    id_columns = [(i, _snake(n)) for i, n in enumerate(names) if not lo <= i < hi]
    numbers, rows = _rows(lines, delimiter, names, name)
    source = _source(name, "RELAB" if any(k == "spectrum_id" for _, k in id_columns) else None)
    spectra = []
    for number, fields in zip(numbers.tolist(), rows, strict=True):
        values = _cells([fields[i] for i in order], number, name, [names[i] for i in order])
        keep = ~np.isnan(values)
        if keep.sum() < 2:
            raise SpectrumFileError(
                f"{name} line {number}: {int(keep.sum())} value(s); a spectrum needs at least 2"
            )
        meta: dict[str, Any] = {key: fields[i] or None for i, key in id_columns}
        meta |= (companions or {}).get(str(meta.get("spectrum_id")), {})
        meta |= {"source": meta.get("source") or source, "file": name, "format": "table-rows"}
        if not keep.all():
            meta["missing_points"] = int((~keep).sum())
        spectra.append(Spectrum(axis[keep], values[keep], found_method, axis_unit, meta))
    return spectra


def _read_companion(path: Path) -> list[dict[str, str]]:
    check_file(path)
    if path.stat().st_size > _MAX_COMPANION_BYTES:
        raise SpectrumFileError(f"{path}: too large for a metadata table; move it elsewhere")
    text = decode(path.read_bytes(), str(path))
    try:
        return list(csv.DictReader(text.splitlines()))
    except csv.Error as exc:
        raise SpectrumFileError(f"{path}: unreadable CSV ({exc}); fix or remove it") from None


def _fraction(value: str | None) -> float | None:
    if value is None or not _is_number(value):
        return None
    number = float(value)
    return number if np.isfinite(number) else None


def find_row_companions(path: Path) -> dict[str, dict[str, Any]]:
    """RELAB metadata and label tables beside ``path``, as extra metadata by spectrum id.

    A companion is a ``*metadata*.csv`` or ``*labels*.csv`` in the same folder with a
    ``SpectrumID`` column (as in Korda & Kohout 2024). From the metadata table every column is
    kept (``SampleID`` as ``sample_id``, ``Source`` as ``sample_origin``); from the labels table
    the modal abundances become ``modal_composition`` (olivine, orthopyroxene, clinopyroxene,
    plagioclase; fractions of the silicates) and the other labels ``chemistry`` (Fa, Fo, Fs_OPX,
    ...). A mineral sample that is one phase only gets that phase as its ``mineral``.
    """
    found: dict[str, dict[str, Any]] = {}
    folder = path.parent
    candidates = sorted(
        p
        for pattern in ("*metadata*.csv", "*labels*.csv")
        for p in folder.glob(pattern)
        if p != path and p.is_file()
    )
    for companion in candidates:
        rows = _read_companion(companion)
        if not rows or "SpectrumID" not in rows[0]:
            continue
        for row in rows:
            sid = row.get("SpectrumID")
            if not sid:
                continue
            entry = found.setdefault(sid, {})
            modal: dict[str, float] = {}
            chemistry: dict[str, float] = {}
            for column, value in row.items():
                if column in {None, "row", "SpectrumID"} or value in (None, ""):
                    continue
                head = column.split()[0] if column.split() else column
                if "modal" in column.lower() and head in _MODAL:
                    number = _fraction(value)
                    if number is not None:
                        modal[_MODAL[head]] = number
                elif "labels" in companion.name:
                    number = _fraction(value)
                    if number is not None:
                        key = re.sub(r"\W+", "_", column).strip("_")
                        chemistry[key] = number
                else:
                    key = "sample_origin" if column == "Source" else _snake(column)
                    entry[key] = value
            if modal:
                entry["modal_composition"] = modal
                phases = [k for k, v in modal.items() if v >= 0.999]
                if len(phases) == 1:
                    entry["_single_phase"] = phases[0]
            if chemistry:
                entry["chemistry"] = chemistry
    for entry in found.values():
        phase = entry.pop("_single_phase", None)
        if phase and entry.get("general_type1") == "Mineral":
            entry["mineral"] = phase
    return found


# --------------------------------------------------------------------------- RELAB .tab

_ASC_LINE = re.compile(r"^\s*(\S+)\s*\.ASC\s*$", re.I)


def _numeric_fields(line: str) -> list[str] | None:
    fields = line.split()
    if 2 <= len(fields) <= 3 and all(_NUM.fullmatch(f) for f in fields):
        return fields
    return None


def looks_like_relab_tab(text: str, name: str = "") -> bool:
    """True for a ``.tab`` file (or one with a row count and ``.ASC`` trailer) of 2-3 numbers."""
    lines = [ln for ln in text[:8192].splitlines() if ln.strip()][:12]
    if len(lines) < 3:
        return False
    first = lines[0].split()
    counted = len(first) == 1 and first[0].isdigit()
    body = lines[1:] if counted else lines
    rows = 0
    while rows < len(body) and _numeric_fields(body[rows]):
        rows += 1
    if rows < 2:  # a short file may have its text trailer among the first lines
        return False
    if _basename(name).lower().endswith(".tab"):
        return True
    return counted and any(_ASC_LINE.match(ln) for ln in text[-4096:].splitlines())


def parse_relab_tab(
    text: str,
    name: str,
    *,
    method: Method | str | None = None,
    unit: AxisUnit | str | None = None,
) -> list[Spectrum]:
    """A RELAB ``.tab`` spectrum (wavelength in nm, reflectance, optional standard deviation).

    The method is VNIR unless ``method`` says otherwise (RELAB also measures mid-infrared
    reflectance, still on a wavelength axis in nm).
    """
    found_method = Method(str(method).lower()) if method is not None else Method.VNIR
    axis_unit = AxisUnit(unit) if unit is not None else AxisUnit.WAVELENGTH_NM
    count: int | None = None
    rows: list[list[str]] = []
    numbers: list[int] = []
    trailer: list[tuple[int, str]] = []
    width = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if count is None and not rows and not trailer and re.fullmatch(r"\d+", line):
            count = int(line) if len(line) <= 9 else -1
            continue
        fields = _numeric_fields(line)
        if fields is not None and not trailer:
            if width and len(fields) != width:
                raise SpectrumFileError(
                    f"{name} line {number}: {len(fields)} numbers, but the rows above have "
                    f"{width}; fix that row"
                )
            width = len(fields)
            rows.append(fields)
            numbers.append(number)
        elif fields is not None or not rows:
            bad_number, bad = trailer[0] if trailer else (number, line)
            raise SpectrumFileError(
                f"{name} line {bad_number}: expected 2 or 3 numbers (wavelength, reflectance[, "
                f"std]), got {bad[:40]!r}; fix or remove that line"
            )
        else:
            trailer.append((number, line))
    if count is not None and count != len(rows):
        raise SpectrumFileError(
            f"{name} line 1: the file says {count} rows but has {len(rows)}; it is truncated or "
            "the count is wrong"
        )
    if len(rows) < 2:
        raise SpectrumFileError(f"{name}: {len(rows)} data row(s); a spectrum needs at least 2")
    values = np.array([[float(f) for f in r[:2]] for r in rows])
    if not np.all(np.isfinite(values)):
        bad = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
        raise SpectrumFileError(
            f"{name} line {numbers[bad]}: a value overflows to infinity; fix that row"
        )
    x, y = repair_axis(values[:, 0], values[:, 1], name, np.array(numbers))
    meta: dict[str, Any] = {"source": "RELAB", "file": name, "format": "relab-tab"}
    texts = [t for _, t in trailer]
    for i, t in enumerate(texts):
        match = _ASC_LINE.match(t)
        if match:
            meta["spectrum_id"] = match.group(1)
            rest = [r for r in texts[i + 1 :] if not re.match(r"(Source Ang|Date)\b", r)]
            if rest:
                meta["sample_id"] = rest[0]
            if len(rest) > 1:
                meta["sample_name"] = rest[1]
            break
    if "spectrum_id" not in meta:
        stem = _basename(name).rsplit(".", 1)[0].split("_")[-1]
        if re.fullmatch(r"[A-Za-z0-9]{6,10}", stem):
            meta["spectrum_id"] = stem.upper()
    for t in texts:
        match = re.search(r"Date:\s*(\S+)", t)
        if match:
            meta["date"] = match.group(1)
    if width == 3:
        meta["has_std"] = True
    return [Spectrum(x, y, found_method, axis_unit, meta)]
