"""Reading and writing spectrum files; the format is detected from the content.

Examples
--------
>>> from lithoscope.spectra.io import read_spectrum  # doctest: +SKIP
>>> read_spectrum("Forsterite__R040018__Raman__532__0__unoriented__Raman_Data_Processed__1.txt")
<Spectrum 'Forsterite' raman 1401 points 120-1400 raman shift cm-1>
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lithoscope.methods import Method
from lithoscope.spectra.io._common import (
    MAX_FILE_BYTES,
    SpectrumFileError,
    SpectrumWarning,
    check_file,
    decode,
)
from lithoscope.spectra.io.rruff import looks_like_rruff, parse_rruff
from lithoscope.spectra.io.text import looks_like_text, parse_text
from lithoscope.spectra.spectrum import Spectrum

__all__ = [
    "FORMATS",
    "MAX_FILE_BYTES",
    "SpectrumFileError",
    "SpectrumWarning",
    "detect_format",
    "parse_spectrum",
    "read_spectrum",
]


@dataclass(frozen=True)
class _Format:
    sniff: Callable[[str], bool]
    parse: Callable[..., Spectrum]


def _parse_rruff(text: str, name: str, *, method=None, unit=None) -> Spectrum:
    return parse_rruff(text, name, method=method)


def _parse_text(text: str, name: str, *, method=None, unit=None) -> Spectrum:
    return parse_text(text, name, method=method, unit=unit)


# Order matters: the first format whose sniffer accepts the content is used.
FORMATS: dict[str, _Format] = {
    "rruff": _Format(looks_like_rruff, _parse_rruff),
    "text": _Format(looks_like_text, _parse_text),
}


def detect_format(text: str, name: str = "input") -> str:
    """Name of the format of ``text`` (by content, not by file extension)."""
    for fmt, spec in FORMATS.items():
        if spec.sniff(text):
            return fmt
    raise SpectrumFileError(
        f"{name}: not a known spectrum format ({', '.join(FORMATS)}); the first lines do not "
        "look like a RRUFF header, JCAMP-DX or two columns of numbers"
    )


def parse_spectrum(
    text: str,
    name: str = "input",
    *,
    format: str | None = None,
    method: Method | str | None = None,
    unit: str | None = None,
) -> Spectrum:
    """Parse spectrum text already in memory (see `read_spectrum`)."""
    if format is None:
        format = detect_format(text, name)
    if format not in FORMATS:
        raise SpectrumFileError(f"format {format!r} is not one of {', '.join(FORMATS)}")
    return FORMATS[format].parse(text, name, method=method, unit=unit)


def read_spectrum(
    path: str | Path,
    *,
    format: str | None = None,
    method: Method | str | None = None,
    unit: str | None = None,
) -> Spectrum:
    """Read one spectrum file.

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
        One line naming the file (and line), what is wrong and the fix.
    """
    path = Path(path)
    check_file(path)
    text = decode(path.read_bytes(), str(path))
    return parse_spectrum(text, str(path), format=format, method=method, unit=unit)
