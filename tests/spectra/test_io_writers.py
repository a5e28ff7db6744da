"""Writers: CSV and JCAMP-DX round trips, metadata, no overwriting, atomic replacement."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lithoscope.methods import DEFAULT_UNIT, AxisUnit, Method
from lithoscope.spectra.io import (
    SpectrumFileError,
    detect_format,
    read_spectrum,
    write_spectrum,
)
from lithoscope.spectra.io.writers import decode_value, encode_value, format_csv, format_jcamp
from lithoscope.spectra.spectrum import Spectrum

AXIS_RTOL = 1e-12  # CSV axes are exact; JCAMP (X++(Y..Y)) rebuilds an even axis from FIRSTX/LASTX
FORMATS = ["csv", "jcamp"]
METADATA = {
    "mineral": "Forsterite",
    "sample_id": "R040018",
    "laser_nm": 532.0,
    "source": "RRUFF",
    "locality": "Sri Lanka: Ratnapura, gem gravels",
    "description": "  two lines\nof text ",
    "modal_composition": {"olivine": 0.9, "plagioclase": 0.1},
    "grain sizes": [0, 125],
    "étiquette": "minéral",
    "quoted": '"as is"',
    "empty": None,
    "file": "ignored.txt",
}


def _spectrum(method: Method, unit: AxisUnit | None = None, *, even: bool = True) -> Spectrum:
    rng = np.random.default_rng(7)
    n = 257
    axis = np.linspace(120.0, 1400.0, n) if even else np.cumsum(rng.uniform(0.1, 3.0, n)) + 100
    y = rng.normal(size=n) * 1e3
    return Spectrum(axis, y, method, unit, METADATA)


def _check_round_trip(original: Spectrum, back: Spectrum) -> None:
    np.testing.assert_allclose(back.axis, original.axis, rtol=AXIS_RTOL, atol=0)
    np.testing.assert_array_equal(back.intensities, original.intensities)
    assert back.method is original.method and back.unit is original.unit
    for key in ("mineral", "sample_id", "laser_nm", "source", "locality", "modal_composition"):
        assert back.metadata[key] == original.metadata[key], key
    assert back.metadata["description"] == METADATA["description"]
    assert back.metadata["grain_sizes"] == [0, 125]
    assert "empty" not in back.metadata


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("method", list(Method))
@pytest.mark.parametrize("even", [True, False], ids=["even", "uneven"])
def test_round_trip(tmp_path, fmt, method, even):
    original = _spectrum(method, even=even)
    path = write_spectrum(original, tmp_path / f"s.{fmt}", format=fmt)
    assert detect_format(path.read_text(), path.name) == fmt
    back = read_spectrum(path)
    _check_round_trip(original, back)
    assert back.metadata["file"] == str(path) and back.metadata["format"] == fmt


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_keeps_a_non_default_unit(tmp_path, fmt):
    original = _spectrum(Method.RAMAN, AxisUnit.WAVENUMBER)
    back = read_spectrum(write_spectrum(original, tmp_path / "s", format=fmt))
    assert back.unit is AxisUnit.WAVENUMBER


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(st.floats(1e-3, 1e3), min_size=2, max_size=40),
    start=st.floats(-1e4, 1e4),
    ys=st.data(),
    fmt=st.sampled_from(FORMATS),
)
def test_round_trip_of_arbitrary_values(tmp_path_factory, steps, start, ys, fmt):
    axis = start + np.cumsum(steps)
    if np.any(np.diff(axis) <= 0):
        return  # rounding merged two positions; not a valid Spectrum
    finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
    y = ys.draw(st.lists(finite, min_size=axis.size, max_size=axis.size))
    original = Spectrum(axis, y, "ir")
    path = tmp_path_factory.mktemp("rt") / f"s.{fmt}"
    back = read_spectrum(write_spectrum(original, path))
    np.testing.assert_allclose(back.axis, original.axis, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(back.intensities, original.intensities)


def test_csv_is_tolerated_by_the_plain_text_reader(tmp_path):
    original = _spectrum(Method.VNIR)
    path = write_spectrum(original, tmp_path / "s.csv")
    back = read_spectrum(path, format="text", method="vnir")
    np.testing.assert_array_equal(back.axis, original.axis)
    np.testing.assert_array_equal(back.intensities, original.intensities)


def test_jcamp_layout():
    text = format_jcamp(_spectrum(Method.RAMAN))
    lines = text.splitlines()
    assert lines[0] == "##TITLE=Forsterite" and lines[1] == "##JCAMP-DX=5.01"
    assert "##DATA TYPE=RAMAN SPECTRUM" in lines and "##XUNITS=1/CM" in lines
    assert "##XYDATA=(X++(Y..Y))" in lines and lines[-1] == "##END="
    assert max(len(line) for line in lines[lines.index("##XYDATA=(X++(Y..Y))") :]) <= 80
    uneven = format_jcamp(_spectrum(Method.IR, even=False))
    assert "##XYPOINTS=(XY..XY)" in uneven


def test_csv_layout():
    text = format_csv(_spectrum(Method.LIBS))
    lines = text.splitlines()
    assert lines[:3] == ["# lithoscope spectrum 1", "# method: libs", "# unit: wavelength nm"]
    assert "# mineral: Forsterite" in lines and "# file: ignored.txt" not in lines
    assert lines[lines.index("wavelength nm,intensity") + 1].count(",") == 1


@pytest.mark.parametrize(
    "value",
    ["plain", " padded ", "line\nbreak", "[not a list", '"quoted"', {"a": [1, 2]}, [1, "x"], 5],
)
def test_value_encoding_round_trips(value):
    text = encode_value(value)
    assert "\n" not in text
    back = decode_value("key", text)
    assert back == (str(value) if isinstance(value, int) else value)


def test_existing_file_is_not_overwritten(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("precious")
    with pytest.raises(SpectrumFileError, match=r"s\.csv: already exists; pass overwrite=True"):
        write_spectrum(_spectrum(Method.RAMAN), path)
    assert path.read_text() == "precious"
    write_spectrum(_spectrum(Method.RAMAN), path, overwrite=True)
    assert path.read_text().startswith("# lithoscope spectrum 1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv"]


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "s.jdx"
    path.write_text("old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_spectrum(_spectrum(Method.IR), path, overwrite=True)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["s.jdx"]


def test_new_file_appears_whole(tmp_path):
    path = write_spectrum(_spectrum(Method.XRD), tmp_path / "x.jdx")
    assert path.read_text().endswith("##END=\n")
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)


def test_bad_arguments(tmp_path):
    s = _spectrum(Method.RAMAN)
    with pytest.raises(ValueError, match="cannot tell the format .* csv, jcamp"):
        write_spectrum(s, tmp_path / "s.dat")
    with pytest.raises(ValueError, match="'xml' is not one of csv, jcamp"):
        write_spectrum(s, tmp_path / "s.csv", format="xml")
    with pytest.raises(SpectrumFileError, match="does not exist; create it first"):
        write_spectrum(s, tmp_path / "missing" / "s.csv")
    with pytest.raises(TypeError, match="must be a Spectrum"):
        write_spectrum([1, 2], tmp_path / "s.csv")  # type: ignore[arg-type]


def test_suffixes_choose_the_format(tmp_path):
    s = Spectrum([1.0, 2.0], [3.0, 4.0], "xrd")
    for name, fmt in [("a.csv", "csv"), ("a.txt", "csv"), ("a.jdx", "jcamp"), ("a.DX", "jcamp")]:
        path = write_spectrum(s, tmp_path / name)
        assert detect_format(Path(path).read_text(), name) == fmt
        assert read_spectrum(path).unit is DEFAULT_UNIT[Method.XRD]
