"""RRUFF spectrum files, in the 2019 format and the current rruff.net format.

Both formats are ``##KEY=value`` header lines, then ``x, y`` lines, then ``##END=``. The 2019
files carry the laser wavelength and the method only in the file name
(``Mineral__R040018__Raman__532__0__unoriented__Raman_Data_Processed__26073.txt``); current files
(``Annite__R060211-3__Raman__514__0-000__depolarized__Raman_Data_Processed__<hash>.txt``, with
empty fields for unoriented samples) add ``##FILETYPE``, ``##RAMAN WAVELENGTH``,
``##ORIENTATION``, ``##CELL PARAMETERS``, ``##PIN_ID`` and an https ``##URL``, and a blank line
before the data. Header values win over the file name.

A header value is free text: an orientation such as ``Laser parallel to (1 0 1). Fiducial mark
perpendicular to laser is parallel to b [0 1 0]`` holds digits, brackets, commas and ``=`` signs,
and may run over several lines. Every ``##KEY=value`` line is a header line whatever its value,
and the text lines right below it (up to the next ``##`` line, a blank line or the first data
line) continue it.
"""

from __future__ import annotations

import html
import re
import warnings

import numpy as np

from lithoscope.methods import Method
from lithoscope.spectra.io._common import (
    SpectrumFileError,
    SpectrumWarning,
    repair_axis,
    split_lines,
)
from lithoscope.spectra.spectrum import Spectrum

__all__ = ["looks_like_rruff", "parse_rruff"]

_RRUFF_ID = re.compile(r"\b([RX]\d{6}(?:[-_][0-9A-Za-z]+)?)\b")
_NAME_METHOD = {"raman": Method.RAMAN, "infrared": Method.IR, "ir": Method.IR}
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_DATA_LINE = re.compile(rf"^\s*({_NUMBER})\s*[,;\t ]\s*({_NUMBER})\s*,?\s*$")


def looks_like_rruff(text: str) -> bool:
    """True when the header block at the top of the text holds ``##NAMES=`` or ``##RRUFFID=``.

    The whole header block is searched (long ``##MEASURED CHEMISTRY`` or ``##ORIENTATION`` values
    may push the names far down), up to the first data line or 64 kB.
    """
    head = text.lstrip()[:65536]
    if not head.startswith("##"):
        return False
    for line in split_lines(head):
        stripped = line.lstrip().upper()
        if stripped.startswith(("##NAMES=", "##RRUFFID=")):
            return True
        if _DATA_LINE.match(line):
            return False
    return False


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


#: what a data block may hold (any other character sends it to the line-by-line path)
_NOT_DATA = str.maketrans("", "", "0123456789.eE+-,; \t\n")


def _data_block(block: str) -> np.ndarray | None:
    """Numbers of a block of ``x, y`` lines (blank lines between them allowed), or None.

    Each non-blank line must be two numbers separated by blanks and at most one comma or
    semicolon, optionally followed by one comma (the `_DATA_LINE` form); the check runs on the
    block's bytes at once (a regular expression over a 40 kB file takes milliseconds), and any
    other block is None, for the line-by-line path to name the bad line.

    Returns
    -------
    ndarray of float64, shape (2 * n_data_lines,), or None
    """
    if block.translate(_NOT_DATA):
        return None
    b = np.frombuffer(block.encode("ascii"), dtype=np.uint8)
    newline = b == ord("\n")
    comma, semicolon = b == ord(","), b == ord(";")
    token = ~(newline | comma | semicolon | (b == ord(" ")) | (b == ord("\t")))
    # positions of the newlines, of the first character of every token, of every , and ;
    ends = np.flatnonzero(newline)
    starts = np.flatnonzero(token & ~np.r_[False, token[:-1]])
    punct = np.flatnonzero(comma | semicolon)
    tokens = np.diff(np.searchsorted(starts, ends), prepend=0)  # per line
    if np.any((tokens != 0) & (tokens != 2)):
        return None
    # the line of each , or ; and how many tokens of that line come before it (0, 1 or 2)
    line = np.searchsorted(ends, punct)
    line_start = np.r_[0, ends + 1][line]
    rank = np.searchsorted(starts, punct) - np.searchsorted(starts, line_start)
    if np.any(rank == 0) or np.any(semicolon[punct] & (rank == 2)):
        return None
    key = 3 * line + rank  # increasing with position: a repeat is a second , or ; in one place
    if np.any(np.diff(key) == 0):
        return None
    try:
        return np.array(block.replace(",", " ").replace(";", " ").split(), dtype=np.float64)
    except ValueError:  # a token of the allowed characters that is not a number: "1e", "1.2.3"
        return None


# Header keys stored under their own metadata names by parse_rruff.
_NAMED_KEYS = frozenset(
    {"names", "rruffid", "ideal_chemistry", "measured_chemistry", "orientation"}
)


def _header_line(line: str, number: int, name: str, header: dict[str, str]) -> str:
    """Store a ``##KEY=value`` line whatever its value holds; return the key."""
    key, sep, value = line[2:].partition("=")
    if not sep:
        raise SpectrumFileError(
            f"{name} line {number}: header line {line[:40]!r} has no '='; "
            "RRUFF headers are ##KEY=value"
        )
    key = key.strip().upper()
    if key != "END":
        header[key] = html.unescape(value.strip())
    return key


def _is_header_text(lines: list[str], i: int, stop: int) -> bool:
    """True if line ``i`` (not blank, not ``##``) continues the header value above it.

    A value typed over several lines (an orientation, a description) continues on the lines
    that are not data. A line that looks like data (``1 0``) continues it only if a header line
    other than ``##END=`` comes before the next data line: data are never taken for a header.
    """
    if not _DATA_LINE.match(lines[i]):
        return True
    for j in range(i + 1, stop):
        line = lines[j].strip()
        if line.startswith("##"):
            return not line[2:].lstrip().upper().startswith("END")
        if line and _DATA_LINE.match(line):
            return False
    return False


def _read_header_block(
    lines: list[str], first: int, last: int, name: str, header: dict[str, str]
) -> bool:
    """Read lines ``first..last-1``: ``##KEY=value`` lines and the text lines continuing them.

    A value continues on the text lines right below it; a blank line ends it. Returns whether
    ``##END=`` was among the lines; text after ``##END=`` is refused.
    """
    key: str | None = None
    end_line = None
    for i in range(first, last):
        line = lines[i].strip()
        if not line:
            key = None if key != "END" else key
            continue
        if line.startswith("##"):
            key = _header_line(line, i + 1, name, header)
            if key == "END":
                end_line = end_line or i + 1
        elif key == "END":
            raise SpectrumFileError(
                f"{name} line {end_line}: data after ##END=; remove the lines after ##END="
            )
        elif key is not None:
            header[key] = f"{header[key]} {html.unescape(line)}".strip()
        else:
            raise SpectrumFileError(
                f"{name} line {i + 1}: expected two numbers separated by a comma, got "
                f"{line[:40]!r}; fix or remove that line"
            )
    return end_line is not None


def _parse_lines(text: str, name: str) -> tuple[dict[str, str], np.ndarray, np.ndarray, np.ndarray]:
    lines = split_lines(text)
    header: dict[str, str] = {}
    start, stop = 0, len(lines)
    # header block at the top: ##KEY=value lines, the lines that continue a value, blank lines
    in_value = False  # a ##KEY=value line (not ##END=) came last: text may continue it
    while start < stop:
        line = lines[start].strip()
        if line.startswith("##"):
            in_value = not line[2:].lstrip().upper().startswith("END")
        elif not line:
            in_value = False  # a blank line ends a value: what follows is data or an error
        elif not (in_value and _is_header_text(lines, start, stop)):
            break
        start += 1
    ended = _read_header_block(lines, 0, start, name, header)
    # block at the bottom: ##END= and other header lines (with continuations), blank lines
    tail = stop
    while tail > start and (
        not lines[tail - 1].strip()
        or lines[tail - 1].lstrip().startswith("##")
        or not _DATA_LINE.match(lines[tail - 1])
    ):
        tail -= 1
    while tail < stop and not lines[tail].lstrip().startswith("##"):
        tail += 1  # text above the first header line of the bottom block is (bad) data
    tail_end = _read_header_block(lines, tail, stop, name, header)
    stop = tail
    while stop > start and not lines[stop - 1].strip():
        stop -= 1
    if ended and stop > start:
        raise SpectrumFileError(
            f"{name} line {start + 1}: data after ##END=; remove the lines after ##END="
        )
    body_lines = lines[start:stop]
    block = "\n".join(body_lines) + "\n" if body_lines else ""
    values = _data_block(block)
    if values is not None:
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
        or file name), ``laser_nm``, ``format`` ('rruff-2019' or 'rruff-current'), the chemistry,
        ``orientation`` (``##ORIENTATION`` of oriented samples, else None) and the other header
        fields (lower-case keys).

    Notes
    -----
    Any ``##KEY=value`` line is a header line, whatever its value holds (parentheses, brackets,
    digits, commas, ``=`` signs). A value typed over several lines continues on the lines after
    it that are not data (they are joined with a space); only CR, LF and CRLF end a line.
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
        # the crystal orientation of oriented samples, as written (None for unoriented ones)
        "orientation": header.get("ORIENTATION") or None,
    }
    for key, value in header.items():
        lower = key.lower().replace(" ", "_")
        if lower not in _NAMED_KEYS:
            metadata.setdefault(lower, value)
    return Spectrum(x_arr, y_arr, found_method, None, metadata)
