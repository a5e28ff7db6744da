"""RRUFF spectrum files, in the 2019 format and the current rruff.net format.

Both formats are ``##KEY=value`` header lines, then ``x, y`` lines, then ``##END=``. The 2019
files carry the laser wavelength and the method only in the file name
(``Mineral__R040018__Raman__532__0__unoriented__Raman_Data_Processed__26073.txt``); current files
add ``##FILETYPE``, ``##RAMAN WAVELENGTH``, ``##ORIENTATION``, ``##CELL PARAMETERS``, ``##PIN_ID``
and an https ``##URL``. Header values win over the file name.
"""

from __future__ import annotations

import html
import re
import warnings

import numpy as np

from lithoscope.methods import Method
from lithoscope.spectra.io._common import SpectrumFileError, SpectrumWarning, repair_axis
from lithoscope.spectra.spectrum import Spectrum

__all__ = ["looks_like_rruff", "parse_rruff"]

_RRUFF_ID = re.compile(r"\b([RX]\d{6}(?:[-_][0-9A-Za-z]+)?)\b")
_NAME_METHOD = {"raman": Method.RAMAN, "infrared": Method.IR, "ir": Method.IR}
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_DATA_LINE = re.compile(rf"^\s*({_NUMBER})\s*[,;\t ]\s*({_NUMBER})\s*,?\s*$")


def looks_like_rruff(text: str) -> bool:
    """True when the text starts like a RRUFF spectrum file."""
    head = text.lstrip()[:2000].upper()
    return head.startswith("##") and ("##NAMES=" in head or "##RRUFFID=" in head)


def _method_from(header: dict[str, str], filename: str) -> Method | None:
    filetype = header.get("FILETYPE", "").lower()
    for word, method in _NAME_METHOD.items():
        if re.search(rf"\b{word}\b", filetype):
            return method
    if "RAMAN WAVELENGTH" in header:
        return Method.RAMAN
    for token in filename.split("__"):
        method = _NAME_METHOD.get(token.lower())
        if method is not None:
            return method
    return None


def _laser_from(header: dict[str, str], filename: str, name: str) -> float | None:
    value = header.get("RAMAN WAVELENGTH") or header.get("LASER WAVELENGTH")
    if value:
        match = re.search(_NUMBER, value)
        if match is None:
            raise SpectrumFileError(
                f"{name}: ##RAMAN WAVELENGTH={value!r} is not a number of nm; fix the header"
            )
        return float(match.group(0))
    parts = filename.split("__")
    for i, token in enumerate(parts[:-1]):
        if token.lower() == "raman" and re.fullmatch(r"\d{3,4}", parts[i + 1]):
            return float(parts[i + 1])
    return None


_DATA_BLOCK = re.compile(rf"(?:[ \t]*(?:{_NUMBER}[ \t]*[,;\t ][ \t]*{_NUMBER}[ \t]*,?)?[ \t]*\n)*")


def _header_line(line: str, number: int, name: str, header: dict[str, str]) -> bool:
    """Store a ``##KEY=value`` line; True if it is ``##END=``."""
    key, sep, value = line[2:].partition("=")
    if not sep:
        raise SpectrumFileError(
            f"{name} line {number}: header line {line[:40]!r} has no '='; "
            "RRUFF headers are ##KEY=value"
        )
    key = key.strip().upper()
    if key == "END":
        return True
    header[key] = html.unescape(value.strip())
    return False


def _parse_lines(text: str, name: str) -> tuple[dict[str, str], np.ndarray, np.ndarray, np.ndarray]:
    lines = text.splitlines()
    header: dict[str, str] = {}
    start, stop = 0, len(lines)
    ended = False
    # header block at the top, ##END= and blank lines at the bottom
    while start < stop and (not lines[start].strip() or lines[start].lstrip().startswith("##")):
        line = lines[start].strip()
        if line:
            ended = _header_line(line, start + 1, name, header) or ended
        start += 1
    tail_end = False
    while stop > start and (
        not lines[stop - 1].strip() or lines[stop - 1].lstrip().startswith("##")
    ):
        line = lines[stop - 1].strip()
        if line:
            tail_end = _header_line(line, stop, name, header) or tail_end
        stop -= 1
    if ended and stop > start:
        raise SpectrumFileError(
            f"{name} line {start + 1}: data after ##END=; remove the lines after ##END="
        )
    body_lines = lines[start:stop]
    block = "\n".join(body_lines) + "\n" if body_lines else ""
    if _DATA_BLOCK.fullmatch(block):
        values = np.array(block.replace(",", " ").replace(";", " ").split(), dtype=np.float64)
        if np.all(np.isfinite(values)):
            pairs = values.reshape(-1, 2)
            if pairs.shape[0] == len(body_lines):
                numbers = np.arange(start + 1, stop + 1)
            else:  # blank lines among the data
                numbers = np.array([start + 1 + i for i, ln in enumerate(body_lines) if ln.strip()])
            if not ended and not tail_end:
                warnings.warn(
                    f"{name}: no ##END= line; the file may be truncated",
                    SpectrumWarning,
                    stacklevel=4,
                )
            return header, pairs[:, 0].copy(), pairs[:, 1].copy(), numbers
    body = [(i + 1, lines[i]) for i in range(start, stop) if lines[i].strip()]
    # slow path: find the first bad line for the message
    for number, raw in body:
        line = raw.strip()
        if line.upper().startswith("##END"):
            raise SpectrumFileError(
                f"{name} line {number}: data after ##END=; remove the lines after ##END="
            )
        if line.startswith("##"):
            raise SpectrumFileError(
                f"{name} line {number}: header line among the data; move it above the data"
            )
        match = _DATA_LINE.match(line)
        if match is None:
            raise SpectrumFileError(
                f"{name} line {number}: expected two numbers separated by a comma, got "
                f"{line[:40]!r}; fix or remove that line"
            )
        if not all(np.isfinite(float(g)) for g in match.groups()):
            raise SpectrumFileError(
                f"{name} line {number}: {line[:40]!r} is not finite; fix or remove that line"
            )
    raise SpectrumFileError(
        f"{name}: data lines could not be read; check the file"
    )  # pragma: no cover


def parse_rruff(
    text: str, name: str, *, filename: str | None = None, method: Method | str | None = None
) -> Spectrum:
    """Parse the text of a RRUFF spectrum file.

    Parameters
    ----------
    text : str
        File content (any mix of CRLF and LF).
    name : str
        How to name the file in messages (its path).
    filename : str, optional
        The bare file name, searched for the method and laser of the 2019 format.
    method : Method or str, optional
        Method to use when neither header nor file name tells it.

    Returns
    -------
    Spectrum
        With metadata ``mineral`` (``##NAMES``), ``sample_id`` (``##RRUFFID``, else from the URL
        or file name), ``laser_nm``, ``format`` ('rruff-2019' or 'rruff-current'), the chemistry
        and the other header fields (lower-case keys).
    """
    filename = filename or name.rsplit("/", 1)[-1]
    header, x_arr, y_arr, line_numbers = _parse_lines(text, name)
    if not header.get("NAMES") and not header.get("RRUFFID"):
        raise SpectrumFileError(f"{name}: no ##NAMES or ##RRUFFID header; not a RRUFF file")
    if x_arr.size < 2:
        raise SpectrumFileError(
            f"{name}: {x_arr.size} data point(s); a spectrum needs at least 2 'x, y' lines"
        )
    found_method = _method_from(header, filename)
    if found_method is None:
        if method is None:
            raise SpectrumFileError(
                f"{name}: neither the header nor the file name tells the method; pass it "
                "explicitly (e.g. --method raman)"
            )
        found_method = Method(str(method).lower())
    x_arr, y_arr = repair_axis(x_arr, y_arr, name, line_numbers)
    sample_id = header.get("RRUFFID")
    if not sample_id:
        match = _RRUFF_ID.search(header.get("URL", "")) or _RRUFF_ID.search(filename)
        sample_id = match.group(1) if match else None
    current = any(k in header for k in ("FILETYPE", "RAMAN WAVELENGTH", "PIN_ID")) or header.get(
        "URL", ""
    ).startswith("https://www.rruff.net")
    metadata = {
        "mineral": header.get("NAMES") or None,
        "sample_id": sample_id,
        "laser_nm": _laser_from(header, filename, name) if found_method is Method.RAMAN else None,
        "source": "RRUFF",
        "file": name,
        "format": "rruff-current" if current else "rruff-2019",
        "ideal_chemistry": header.get("IDEAL CHEMISTRY"),
        "measured_chemistry": header.get("MEASURED CHEMISTRY"),
    }
    for key, value in header.items():
        lower = key.lower().replace(" ", "_")
        if lower not in {"names", "rruffid", "ideal_chemistry", "measured_chemistry"}:
            metadata.setdefault(lower, value)
    return Spectrum(x_arr, y_arr, found_method, None, metadata)
