"""Mineral chemistry given with a mode: validation, Mg#."""

from __future__ import annotations

import pytest

from lithoscope.errors import InputError
from lithoscope.rocks.chemistry import Chemistry, check_chemistry


@pytest.mark.parametrize(
    ("arg", "flag", "what"),
    [
        ("plagioclase_an", "--an", "plagioclase An"),
        ("olivine_fa", "--fa", "olivine Fa"),
        ("pyroxene_fs", "--fs", "low-Ca pyroxene Fs"),
    ],
)
@pytest.mark.parametrize("bad", [-0.1, 100.5, float("nan"), float("inf"), True, "20"])
def test_out_of_range_or_not_a_number_is_one_line_naming_the_argument(arg, flag, what, bad):
    with pytest.raises(
        InputError, match=rf"^{flag} .*: expected {what} in mol % between 0 and 100$"
    ):
        check_chemistry(**{arg: bad})


@pytest.mark.parametrize("value", [0, 0.0, 100, 37.5])
def test_bounds_are_inclusive_and_values_become_floats(value):
    chem = check_chemistry(olivine_fa=value, pyroxene_fs=value, plagioclase_an=value)
    assert chem == Chemistry(float(value), float(value), float(value))
    assert isinstance(chem.olivine_fa, float)


def test_nothing_given_is_nothing_given():
    chem = check_chemistry()
    assert chem == Chemistry()
    assert not chem.mafic_given and chem.mg_numbers() == {} and chem.describe() == ""


def test_mg_numbers_against_the_definitions():
    # olivine Mg# = Fo = 100 - Fa; low-Ca pyroxene Mg# = 100 En/(En+Fs) ~ 100 - Fs (Wo ignored)
    chem = Chemistry(olivine_fa=31.0, pyroxene_fs=24.5)
    assert chem.mg_numbers() == pytest.approx({"olivine": 69.0, "pyroxene": 75.5}, abs=1e-12)
    assert chem.describe() == "Fa 31, Fs 24.5"


def test_pyroxene_mg_number_approximation_is_within_two_units_for_low_wo():
    # the documented error of ignoring Wo: exact 100 En/(En+Fs) with En = 100 - Fs - Wo
    for fs in (10.0, 25.0, 40.0):
        for wo in (1.0, 3.0, 5.0):
            exact = 100.0 * (100.0 - fs - wo) / (100.0 - wo)
            approx = Chemistry(pyroxene_fs=fs).mg_numbers()["pyroxene"]
            assert 0.0 <= approx - exact <= 2.2
