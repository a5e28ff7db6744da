"""parse_bytes: uploads read by the same readers as files, without a path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lithoscope.spectra.io import SpectrumFileError, parse_bytes, read_spectra

INSTRUMENTS = Path(__file__).parent / "data" / "instruments"
FILES = [
    INSTRUMENTS / "orange-spectroscopy" / "peach_juice.0",
    INSTRUMENTS / "orange-spectroscopy" / "sp.wdf",
    INSTRUMENTS / "specio" / "spectra.spc",
]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_instrument_bytes_read_as_the_file(path):
    expected = read_spectra(path)
    got = parse_bytes(path.read_bytes(), path.name)
    assert len(got) == len(expected)
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(a.axis, b.axis)
        np.testing.assert_array_equal(a.intensities, b.intensities)
        assert b.metadata["file"] == path.name  # the label, not the temporary file


def test_text_bytes_and_the_label_in_messages():
    (s,) = parse_bytes(
        "# Ångström\n100,1\n200,3\n300,2\n".encode("cp1252"), "a.txt", method="raman"
    )
    assert s.n_points == 3 and s.metadata["file"] == "a.txt"
    with pytest.raises(SpectrumFileError, match=r"^a\.txt: file is empty"):
        parse_bytes(b"", "a.txt")
    with pytest.raises(SpectrumFileError, match=r"^b\.txt: binary content"):
        parse_bytes(b"1,2\n\x00\x00", "b.txt")
    with pytest.raises(SpectrumFileError, match=r"'c\.wdf': not a readable Renishaw WDF"):
        parse_bytes(b"\x00\x01" * 300, "c.wdf")


def test_a_name_is_never_opened(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("100,1\n200,2\n")
    with pytest.raises(SpectrumFileError, match="not a known spectrum format"):
        parse_bytes(b"hello", str(secret))
