"""Reading and writing spectrum files; the format is detected from the content.

Formats, in the order they are tried (the first whose sniffer accepts the content wins):

========================  ============================================================
``jcamp``                 JCAMP-DX (``##JCAMP-DX=`` in the first 4 kB)
``rruff``                 RRUFF spectrum (``##NAMES=`` or ``##RRUFFID=`` header)
``csv``                   lithoscope CSV (first line ``# lithoscope spectrum 1``)
``relab-tab``             RELAB ``.tab`` (2-3 numbers a line; ``.tab`` name or count + trailer)
``table-rows``            one spectrum per row, axis in >= 5 numeric column names
``table-columns``         one spectrum per column, the first column's name names the axis
``text``                  two columns of numbers (CSV, TSV, whitespace)
========================  ============================================================

Binary instrument files are recognised first, by their magic bytes (or, for binary content
without them, by the suffix) and read by `lithoscope.spectra.io.instruments` through the
optional ``formats`` libraries: ``spc`` (Thermo/Galactic SPC), ``wdf`` (Renishaw WDF; a map
also as a `SpectralCube` with `read_cube`) and ``opus`` (Bruker OPUS).

Examples
--------
>>> from lithoscope.spectra.io import read_spectrum  # doctest: +SKIP
>>> read_spectrum("Forsterite__R040018__Raman__532__0__unoriented__Raman_Data_Processed__1.txt")
... # doctest: +SKIP
<Spectrum 'Forsterite' raman 1401 points 120-1400 raman shift cm-1>
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lithoscope.errors import InputError
from lithoscope.methods import AxisUnit, Method, parse_enum
from lithoscope.spectra.io._common import (
    MAX_FILE_BYTES,
    SpectrumFileError,
    SpectrumWarning,
    check_file,
    decode,
)
from lithoscope.spectra.io.instruments import (
    INSTRUMENT_FORMATS,
    detect_instrument_format,
    parse_instrument,
    read_cube,
    read_instrument,
)
from lithoscope.spectra.io.jcamp import looks_like_jcamp, parse_jcamp
from lithoscope.spectra.io.rruff import looks_like_rruff, parse_rruff
from lithoscope.spectra.io.tables import (
    find_row_companions,
    looks_like_column_table,
    looks_like_relab_tab,
    looks_like_row_table,
    parse_column_table,
    parse_relab_tab,
    parse_row_table,
)
from lithoscope.spectra.io.text import looks_like_text, parse_text
from lithoscope.spectra.io.writers import CSV_MAGIC, WRITERS, parse_csv_header, write_spectrum
from lithoscope.spectra.spectrum import Spectrum

__all__ = [
    "FORMATS",
    "INSTRUMENT_FORMATS",
    "MAX_FILE_BYTES",
    "WRITERS",
    "SpectrumFileError",
    "SpectrumWarning",
    "detect_format",
    "parse_bytes",
    "parse_spectra",
    "parse_spectrum",
    "read_cube",
    "read_spectra",
    "read_spectrum",
    "write_spectrum",
]


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PAIR = re.compile(rf"\s*{_NUMBER}\s*[,;\t ]\s*{_NUMBER}\s*")


@dataclass(frozen=True)
class _Format:
    """A readable format: ``sniff(text, name)``, ``parse(text, name, *, method, unit, ...)``."""

    sniff: Callable[[str, str], bool]
    parse: Callable[..., list[Spectrum]]
    companions: Callable[[Path], dict[str, Any]] | None = None


def _parse_rruff(text: str, name: str, *, method=None, unit=None) -> list[Spectrum]:
    return [parse_rruff(text, name, method=method)]


def _parse_text(text: str, name: str, *, method=None, unit=None) -> list[Spectrum]:
    return [parse_text(text, name, method=method, unit=unit)]


def _looks_like_csv(text: str, name: str) -> bool:
    return text.lstrip()[: len(CSV_MAGIC) + 1].rstrip() == CSV_MAGIC


def _parse_csv(text: str, name: str, *, method=None, unit=None) -> list[Spectrum]:
    meta, own_method, own_unit = parse_csv_header(text, name)
    for given, own, what in ((method, own_method, "method"), (unit, own_unit, "unit")):
        if given is not None and str(given).lower() != own.value:
            raise SpectrumFileError(
                f"{name}: the header says {what} {own.value!r} but {what}={str(given)!r} was "
                f"given; drop the {what} argument or fix the header"
            )
    s = parse_text(text, name, method=own_method, unit=own_unit)
    # the text reader's "header" is this file's own header, already decoded into meta
    meta |= {"file": name, "format": "csv"}
    return [Spectrum(s.axis, s.intensities, s.method, s.unit, meta)]


def _format_of(sniff: Callable[[str], bool]) -> Callable[[str, str], bool]:
    return lambda text, name: sniff(text)


def _companions_by_spectrum(path: Path) -> dict[str, Any]:
    return {"companions": find_row_companions(path)}


# Order matters: the first format whose sniffer accepts the content is used.
FORMATS: dict[str, _Format] = {
    "jcamp": _Format(_format_of(looks_like_jcamp), parse_jcamp),
    "rruff": _Format(_format_of(looks_like_rruff), _parse_rruff),
    "csv": _Format(_looks_like_csv, _parse_csv),
    "relab-tab": _Format(looks_like_relab_tab, parse_relab_tab),
    "table-rows": _Format(looks_like_row_table, parse_row_table, _companions_by_spectrum),
    "table-columns": _Format(looks_like_column_table, parse_column_table),
    "text": _Format(_format_of(looks_like_text), _parse_text),
}


def detect_format(text: str, name: str = "input") -> str:
    """Name of the format of ``text`` (by content; the name only helps for RELAB ``.tab``).

    Raises
    ------
    SpectrumFileError
        No format accepts the content.
    """
    for fmt, spec in FORMATS.items():
        if spec.sniff(text, name):
            return fmt
    if not text.strip():
        raise SpectrumFileError(f"{name}: the file holds only blank lines; export it again")
    pairs = [n for n, line in enumerate(text.splitlines()[:200], 1) if _PAIR.fullmatch(line)]
    if len(pairs) == 1:
        raise SpectrumFileError(
            f"{name} line {pairs[0]}: the only data point; a spectrum needs at least 2 lines of "
            "'axis, intensity'"
        )
    raise SpectrumFileError(
        f"{name}: not a known spectrum format ({', '.join(FORMATS)}); the first lines do not "
        "look like JCAMP-DX, a RRUFF header, a spectral table or two columns of numbers"
    )


def _check_args(format: str | None, method: Any, unit: Any, *, binary: bool = False) -> None:
    known = [*FORMATS, *INSTRUMENT_FORMATS] if binary else list(FORMATS)
    if format is not None and format not in known:
        hint = (
            " (binary formats: read the file with read_spectra)"
            if format in INSTRUMENT_FORMATS
            else ""
        )
        raise InputError(f"format {format!r} is not one of {', '.join(known)}{hint}")
    if method is not None:
        parse_enum(Method, method, "method")
    if unit is not None:
        parse_enum(AxisUnit, unit, "unit", lower=False)


def parse_spectra(
    text: str,
    name: str = "input",
    *,
    format: str | None = None,
    method: Method | str | None = None,
    unit: AxisUnit | str | None = None,
    **extra: Any,
) -> list[Spectrum]:
    """Parse text already in memory into all the spectra it holds.

    Parameters
    ----------
    text : str
        The decoded file content.
    name : str
        How to name the input in messages (its path or zip member).
    format, method, unit : optional
        As for `read_spectra`.
    **extra
        Passed to the format's parser (``table-rows``: ``companions``).

    Returns
    -------
    list of Spectrum

    Raises
    ------
    SpectrumFileError
        The content cannot be read; the message names ``name`` (and the line).
    InputError
        ``format``, ``method`` or ``unit`` is not a valid name.

    Examples
    --------
    >>> table = "wavelength_nm,a,b\\n500,1,2\\n510,3,4\\n"
    >>> [s.n_points for s in parse_spectra(table, method="vnir")]
    [2, 2]
    """
    _check_args(format, method, unit)
    if format is None:
        format = detect_format(text, name)
    try:
        spectra = FORMATS[format].parse(text, name, method=method, unit=unit, **extra)
    except SpectrumFileError:
        raise
    except InputError as exc:  # a Spectrum refused what a reader built: still the file's fault
        message = str(exc)
        raise SpectrumFileError(message if name in message else f"{name}: {message}") from None
    return spectra


def parse_spectrum(
    text: str,
    name: str = "input",
    *,
    format: str | None = None,
    method: Method | str | None = None,
    unit: AxisUnit | str | None = None,
) -> Spectrum:
    """Parse spectrum text already in memory (see `read_spectrum`)."""
    return _only(parse_spectra(text, name, format=format, method=method, unit=unit), name)


def _only(spectra: list[Spectrum], name: str) -> Spectrum:
    if len(spectra) != 1:
        raise SpectrumFileError(
            f"{name}: holds {len(spectra)} spectra; use read_spectra() (or parse_spectra()) to "
            "read them all"
        )
    return spectra[0]


def read_spectra(
    path: str | Path,
    *,
    format: str | None = None,
    method: Method | str | None = None,
    unit: AxisUnit | str | None = None,
) -> list[Spectrum]:
    """Read every spectrum in a file (a table holds many; other formats one).

    Parameters
    ----------
    path : str or Path
        The file (at most `MAX_FILE_BYTES`; bigger files are refused before reading).
    format : str, optional
        One of `FORMATS` or `INSTRUMENT_FORMATS`; default: detected from the content.
    method, unit : optional
        For files that do not record them (plain text, some tables, some SPC files); an error
        if they contradict what the file says.

    Returns
    -------
    list of Spectrum
        In file order, each with ``file`` and ``format`` in its metadata (the spectra of a
        Renishaw WDF map with their stage positions: ``map_x``, ``map_y``, ``map_row``,
        ``map_col``).

    Raises
    ------
    SpectrumFileError
        One line naming the file (and line), what is wrong and the fix.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "two.csv"
    >>> _ = f.write_text("wavelength_nm,olivine,augite\\n500,0.2,0.1\\n510,0.3,0.15\\n")
    >>> [s.label for s in read_spectra(f, method="vnir")]
    [None, None]
    >>> [s.metadata["column"] for s in read_spectra(f, method="vnir")]
    ['olivine', 'augite']
    """
    _check_args(format, method, unit, binary=True)
    path = Path(path)
    check_file(path)
    data = path.read_bytes()
    if format is None:
        format = detect_instrument_format(data[:4096], path.name)
    if format in INSTRUMENT_FORMATS:
        return read_instrument(path, format, method=method, unit=unit)
    text = decode(data, str(path))
    if format is None:
        format = detect_format(text, str(path))
    spec = FORMATS[format]
    extra = spec.companions(path) if spec.companions is not None else {}
    return parse_spectra(text, str(path), format=format, method=method, unit=unit, **extra)


def parse_bytes(
    data: bytes,
    name: str = "input",
    *,
    format: str | None = None,
    method: Method | str | None = None,
    unit: AxisUnit | str | None = None,
) -> list[Spectrum]:
    """Every spectrum of file content already in memory (an upload): `read_spectra` without a
    file.

    Parameters
    ----------
    data : bytes
        The file's content (text in any encoding `read_spectra` reads, or an instrument file).
    name : str
        How messages and the ``file`` metadata name it; only a label, never opened.
    format, method, unit : optional
        As for `read_spectra`.

    Returns
    -------
    list of Spectrum

    Raises
    ------
    SpectrumFileError
        The content is empty, larger than `MAX_FILE_BYTES`, or cannot be read (one line naming
        ``name``).

    Examples
    --------
    >>> [s.n_points for s in parse_bytes(b"100, 1\\n200, 3\\n300, 2\\n", "a.txt", method="raman")]
    [3]
    """
    _check_args(format, method, unit, binary=True)
    if not data:
        raise SpectrumFileError(f"{name}: file is empty; export the spectrum again")
    if len(data) > MAX_FILE_BYTES:
        raise SpectrumFileError(
            f"{name}: file is {len(data) / 1e6:.0f} MB, more than the "
            f"{MAX_FILE_BYTES // (1024 * 1024)} MB a spectrum file may have"
        )
    if format is None:
        format = detect_instrument_format(data[:4096], name)
    if format in INSTRUMENT_FORMATS:
        return parse_instrument(data, format, name, method=method, unit=unit)
    return parse_spectra(decode(data, name), name, format=format, method=method, unit=unit)


def read_spectrum(
    path: str | Path,
    *,
    format: str | None = None,
    method: Method | str | None = None,
    unit: AxisUnit | str | None = None,
) -> Spectrum:
    """Read a file that holds one spectrum.

    Parameters
    ----------
    path : str or Path
        The file.
    format : str, optional
        One of `FORMATS`; default: detected from the content.
    method, unit : optional
        For formats that do not record them (plain two-column text).

    Raises
    ------
    SpectrumFileError
        One line naming the file (and line), what is wrong and the fix; also when the file
        holds several spectra (use `read_spectra`).
    """
    path = Path(path)
    return _only(read_spectra(path, format=format, method=method, unit=unit), str(path))
