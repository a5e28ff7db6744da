"""Taking one spectrum out of a fetched data set (used by the demo)."""

from __future__ import annotations

import pytest

from lithoscope.data.sample import sample_spectrum
from lithoscope.errors import LithoscopeError
from lithoscope.spectra.io import read_spectrum


def test_sample_spectrum_from_the_mirror(shared_data, tmp_path):
    out = sample_spectrum("rruff-ir", "Actinolite", tmp_path, mirror=str(shared_data))
    spectrum = read_spectrum(out)
    assert spectrum.metadata["mineral"] == "Actinolite" and spectrum.method.value == "ir"


def test_unknown_mineral_is_a_clear_error(shared_data, tmp_path):
    with pytest.raises(LithoscopeError, match="no spectrum of 'Unobtainium'"):
        sample_spectrum("rruff-ir", "Unobtainium", tmp_path, mirror=str(shared_data))
