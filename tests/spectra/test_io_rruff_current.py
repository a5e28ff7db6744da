"""RRUFF files in the current rruff.net layout, with free-text ``##ORIENTATION=`` headers.

Real 2019 files of many minerals (from the data mirror, member by member) are rewritten into the
current layout (https ``##URL``, ``##ORIENTATION``, ``##CELL PARAMETERS``, ``##FILETYPE``,
``##RAMAN WAVELENGTH``, ``##PIN_ID``, a blank line before the data, current file names) with
varied orientation texts, and must read to the same axis, intensities, mineral and sample id as
the original. A few hand-written current-format files live in ``data/rruff_current``.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lithoscope.methods import AxisUnit, Method
from lithoscope.spectra.io import (
    SpectrumFileError,
    SpectrumWarning,
    detect_format,
    parse_spectrum,
    read_spectrum,
)

RAMAN_ZIP = "rruff/raman/excellent_unoriented.zip"
CURRENT = Path(__file__).parent / "data" / "rruff_current"
EXACT = {"rtol": 0, "atol": 0}

# Orientation texts as rruff.net writes them for oriented samples: digits, Miller indices in
# parentheses, zone axes in brackets, commas, '=' signs, non-ASCII symbols. Each entry is
# (text as written in the file, the value the reader must keep).
ORIENTATIONS: list[tuple[str, str]] = [
    (
        "Laser parallel to (1 0 1). Fiducial mark perpendicular to laser is parallel to b [0 1 0]",
        "Laser parallel to (1 0 1). Fiducial mark perpendicular to laser is parallel to b [0 1 0]",
    ),
    ("Laser parallel to c* (0 0 1)", "Laser parallel to c* (0 0 1)"),
    ("Laser perpendicular to (1 1 0), 90 = b", "Laser perpendicular to (1 1 0), 90 = b"),
    ("0, 90", "0, 90"),  # only numbers: still a header value, not a data line
    ("a = 4.76, b = 4.76; laser || [1 -1 0]", "a = 4.76, b = 4.76; laser || [1 -1 0]"),
    ("Laser ∥ c; polarisation ⊥ c (rotated 45°)", "Laser ∥ c; polarisation ⊥ c (rotated 45°)"),
    ("##=## (2 -1 -1 0) &amp; [0 0 0 1]", "##=## (2 -1 -1 0) & [0 0 0 1]"),
    # typed over several lines: the lines after it continue it
    (
        "Laser parallel to (1 0 1).\r\nFiducial mark perpendicular to laser is parallel to b",
        "Laser parallel to (1 0 1). Fiducial mark perpendicular to laser is parallel to b",
    ),
    (
        "Laser parallel to\n(0 1 0)\n[1 0 0], 0 degrees",
        "Laser parallel to (0 1 0) [1 0 0], 0 degrees",
    ),
    (
        "Laser parallel to\n1 0\nFiducial mark parallel to c",
        "Laser parallel to 1 0 Fiducial mark parallel to c",
    ),
    # a line separator pasted into the value is not a line break (str.splitlines would split)
    (
        "Laser parallel to (1 0 0)\u2028Fiducial mark parallel to c",
        "Laser parallel to (1 0 0)\u2028Fiducial mark parallel to c",
    ),
    ("", None),  # unoriented samples: empty value
]


def _members(zip_path: Path, n_minerals: int) -> list[str]:
    """One processed spectrum per mineral, for ``n_minerals`` minerals spread over the zip."""
    with zipfile.ZipFile(zip_path) as z:
        names = sorted(n for n in z.namelist() if n.endswith(".txt") and "Processed" in n)
    first_per_mineral: dict[str, str] = {}
    for n in names:
        first_per_mineral.setdefault(n.split("__")[0], n)
    minerals = sorted(first_per_mineral)
    step = max(1, len(minerals) // n_minerals)
    return [first_per_mineral[m] for m in minerals[::step]][:n_minerals]


def _split(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Header (key, value) pairs and data lines of a 2019 file, parsed here independently."""
    header, data = [], []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("##"):
            key, _, value = line[2:].partition("=")
            if key.strip().upper() != "END":
                header.append((key.strip(), value.strip()))
        elif line:
            data.append(line)
    return header, data


def _current_layout(
    text: str, member: str, orientation: str, k: int
) -> tuple[str, str, dict[str, str]]:
    """Rewrite a 2019 file into the rruff.net layout: (file name, content, its header)."""
    header, data = _split(text)
    fields = dict(header)
    mineral, rruff_id, _, laser = member.split("__")[:4]
    keys = [k_ for k_, _ in header if k_ != "URL"]
    lines = [f"##{key}={fields[key]}" for key in keys]
    lines.append(f"##URL=https://www.rruff.net/{fields['RRUFFID']}")
    lines.append(f"##ORIENTATION={orientation}")
    if k % 3:
        lines.append(
            f"##CELL PARAMETERS=a: {4 + k / 7:.4f} b: {5 + k / 11:.4f} c: {6 + k / 13:.4f} "
            "alpha: 90 beta: 90 gamma: 120 volume: 255.412 crystal system: hexagonal"
        )
    lines.append("##FILETYPE=Raman Processed")
    lines.append(f"##RAMAN WAVELENGTH={laser}")
    if k % 2:
        lines.append(f"##PIN_ID={1000 + k}")
    lines.append("")
    lines.extend(data)
    lines.append("##END=")
    oriented = "0-000__depolarized" if orientation else "_"
    name = f"{mineral}__{rruff_id}__Raman__{laser}__{oriented}__Raman_Data_Processed__{k:08x}.txt"
    return name, "\r\n".join(lines) + "\r\n", fields


@pytest.fixture(scope="module")
def originals(shared_data, tmp_path_factory):
    zip_path = shared_data / RAMAN_ZIP
    members = _members(zip_path, 130)
    folder = tmp_path_factory.mktemp("rruff2019")
    paths = []
    with zipfile.ZipFile(zip_path) as z:
        for member in members:
            path = folder / member
            path.write_bytes(z.read(member))
            paths.append(path)
    return paths


def test_current_layout_of_many_minerals_reads_like_the_original(originals, tmp_path):
    minerals = {p.name.split("__")[0] for p in originals}
    assert len(originals) >= 120 and len(minerals) >= 120
    oriented = 0
    for k, original_path in enumerate(originals):
        orientation, expected = ORIENTATIONS[k % len(ORIENTATIONS)]
        text = original_path.read_text(encoding="utf-8-sig")
        name, content, fields = _current_layout(text, original_path.name, orientation, k)
        path = tmp_path / name
        path.write_bytes(content.encode("utf-8"))
        assert detect_format(content, name) == "rruff"
        with warnings.catch_warnings():
            warnings.simplefilter("error", SpectrumWarning)  # the 2019 files are in order
            current = read_spectrum(path)
            before = read_spectrum(original_path)
        _, data = _split(text)
        xy = np.array([[float(v) for v in line.split(",")[:2]] for line in data])
        np.testing.assert_allclose(current.axis, xy[:, 0], **EXACT)
        np.testing.assert_allclose(current.intensities, xy[:, 1], **EXACT)
        np.testing.assert_array_equal(current.axis, before.axis)
        np.testing.assert_array_equal(current.intensities, before.intensities)
        assert (current.method, current.unit) == (Method.RAMAN, AxisUnit.RAMAN_SHIFT)
        assert current.label == before.label == fields["NAMES"]
        assert current.metadata["sample_id"] == before.metadata["sample_id"] == fields["RRUFFID"]
        assert current.metadata["laser_nm"] == before.metadata["laser_nm"]
        assert current.metadata["format"] == "rruff-current"
        assert before.metadata["format"] == "rruff-2019"
        assert current.metadata["orientation"] == expected
        assert before.metadata["orientation"] is None
        assert current.metadata["url"] == f"https://www.rruff.net/{fields['RRUFFID']}"
        oriented += expected is not None
    assert oriented >= 100


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_windows_text_in_a_header_value(originals, tmp_path, encoding):
    """A cp1252 ellipsis (0x85) is U+0085, a line break to str.splitlines, when read as Latin-1."""
    original = originals[0]
    orientation = "Laser ~45° to c … (1 0 1)" if encoding == "cp1252" else "Laser 45° to (1 0 1)"
    name, content, fields = _current_layout(
        original.read_text(encoding="utf-8-sig"), original.name, orientation, 1
    )
    path = tmp_path / name
    path.write_bytes(content.encode(encoding, errors="replace"))
    s = read_spectrum(path)
    assert s.metadata["orientation"] == orientation
    assert s.label == fields["NAMES"]
    before = read_spectrum(original)
    np.testing.assert_array_equal(s.intensities, before.intensities)


HAND_WRITTEN = {
    "Corundum__R060020__Raman__514__0-000__depolarized__Raman_Data_Processed__a1b2c3.txt": {
        "mineral": "Corundum",
        "sample_id": "R060020",
        "laser_nm": 514.0,
        "orientation": "Laser parallel to (1 0 1). Fiducial mark perpendicular to laser is "
        "parallel to b [0 1 0]",
        "axis": [378.2, 379.1, 380.0, 380.9, 381.8],
        "intensities": [12.5, 14.25, 30.0, 18.75, 11.0],
        "warns": False,
    },
    "Quartz__R040031__Raman__532__90-000__ccw__Raman_Data_Processed__d4e5f6.txt": {
        "mineral": "Quartz",
        "sample_id": "R040031",
        "laser_nm": 532.0,
        "orientation": "Laser perpendicular to (1 0 0) = 90 degrees from c; fiducial mark "
        "parallel to c [0 0 1], rotated 45 degrees (ccw) 1 0",
        "axis": [460.5, 462.5, 464.5, 466.5],
        "intensities": [100.0, 250.5, 1000.0, 240.0],
        "warns": True,  # no ##END=
    },
    "Gypsum__R040029__Raman__785____Raman_Data_RAW__0a0b0c.txt": {
        "mineral": "Gypsum",
        "sample_id": "R040029",
        "laser_nm": 785.0,
        "orientation": "Laser || c* (0 1 0), 45° to a … then “b” – see note",
        "axis": [1006.0, 1008.0, 1010.0],
        "intensities": [3000.0, 5000.0, 2000.0],
        "warns": False,
    },
    "Abramovite__R070037__Raman__785______Raman_Data_Processed__b8534873.txt": {
        "mineral": "Abramovite",
        "sample_id": "R070037",
        "laser_nm": 785.0,
        "orientation": None,
        "axis": [137.2, 137.7, 138.2],
        "intensities": [15.5, 16.0, 15.0],
        "warns": True,
    },
}


def test_hand_written_corpus_is_complete():
    assert {p.name for p in CURRENT.iterdir() if p.name != ".gitattributes"} == set(HAND_WRITTEN)


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_hand_written_current_files(name):
    expected = HAND_WRITTEN[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = read_spectrum(CURRENT / name)
    assert bool([w for w in caught if issubclass(w.category, SpectrumWarning)]) == expected["warns"]
    assert (s.method, s.unit) == (Method.RAMAN, AxisUnit.RAMAN_SHIFT)
    for key in ("mineral", "sample_id", "laser_nm", "orientation"):
        assert s.metadata[key] == expected[key], key
    assert s.metadata["format"] == "rruff-current"
    np.testing.assert_allclose(s.axis, expected["axis"], rtol=0, atol=0)
    np.testing.assert_allclose(s.intensities, expected["intensities"], rtol=0, atol=0)


def test_gypsum_fixture_is_windows_1252():
    data = (CURRENT / "Gypsum__R040029__Raman__785____Raman_Data_RAW__0a0b0c.txt").read_bytes()
    assert b"\x85" in data  # the ellipsis, a line break to str.splitlines() if read as Latin-1
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")


HEAD = "##NAMES=Quartz\n##RRUFFID=R040031\n##RAMAN WAVELENGTH=532\n"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        # still refused: a header line without '=', data after ##END=, text among the data
        (HEAD + "##ORIENTATION\n100, 1\n101, 2\n##END=\n", r"line 4: header line .* has no '='"),
        (HEAD + "100, 1\n101, 2\n##END=\nLaser parallel to c\n", r"line 6: data after ##END="),
        (HEAD + "100, 1\nLaser parallel to c\n101, 2\n##END=\n", r"line 5: expected two numbers"),
        (HEAD + "##END=\n100, 1\n101, 2\n", r"line 5: data after ##END="),
        (HEAD + "100, 1\n101, 2\n##ORIENTATION=c\n102, 3\n", r"line 6: header line among"),
        # a continuation needs a header line above it
        ("Laser parallel to c\n" + HEAD + "100, 1\n101, 2\n", r"line 1: expected two numbers"),
    ],
)
def test_what_is_still_refused(text, match):
    with pytest.raises(SpectrumFileError, match=match):
        parse_spectrum(text, "Quartz__R040031__Raman__532__x.txt", format="rruff")


def test_long_header_before_the_names_is_still_detected():
    long_value = "(1 0 1), [0 1 0]; " * 400  # 7 kB, more than the old 2 kB sniffing window
    text = (
        f"##ORIENTATION={long_value}\n##NAMES=Quartz\n##RRUFFID=R040031\n100, 1\n101, 2\n##END=\n"
    )
    assert detect_format(text) == "rruff"
    s = parse_spectrum(text, "Quartz__R040031__Raman__532__x.txt")
    assert s.metadata["orientation"] == long_value.strip()
    assert re.fullmatch(r"R040031", s.metadata["sample_id"])


def test_a_blank_line_ends_a_header_value():
    """Text after the blank line that ends the header is not taken into the last value."""
    text = HEAD + "##PIN_ID=1234\n\nRaman shift, Intensity\n100, 1\n101, 2\n##END=\n"
    with pytest.raises(SpectrumFileError, match=r"line 6: expected two numbers .*'Raman shift"):
        parse_spectrum(text, "Quartz__R040031__Raman__532__x.txt")
    s = parse_spectrum(text.replace("\nRaman shift, Intensity", ""), "Quartz__R040031__Raman__x")
    assert s.metadata["pin_id"] == "1234" and s.n_points == 2
