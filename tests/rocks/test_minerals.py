"""Mineral-name table and mode parsing."""

from __future__ import annotations

import csv
import math

import pytest

from lithoscope.errors import InputError
from lithoscope.rocks.minerals import ROLES, TABLE, mineral_info, parse_modes, weight_percent


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("Forsterite", "olivine"),
        ("FAYALITE", "olivine"),
        ("ulvöspinel", "fe-ti oxide"),
        ("Ulvospinel", "fe-ti oxide"),
        ("ulvo-spinel", "fe-ti oxide"),
        ("Fe-Ni metal", "metal"),
        ("fe ni metal", "metal"),
        ("kamacite", "metal"),
        ("alkali_feldspar", "alkali feldspar"),
        ("K-feldspar", "alkali feldspar"),
        ("labradorite", "plagioclase"),
        ("albite", "alkali feldspar"),
        ("pigeonite", "pigeonite"),
        ("maskelynite", "maskelynite"),
        ("nontronite", "phyllosilicate"),
        ("kieserite", "sulfate"),
        ("siderite", "carbonate"),
        ("merrillite", "phosphate"),
        ("  Troilite ", "sulfide"),
    ],
)
def test_names_are_case_accent_hyphen_tolerant(name, role):
    assert mineral_info(name).role == role


def test_unknown_name_is_the_documented_one_line_error():
    with pytest.raises(
        InputError,
        match=r"^--mode 'xyz': not a mineral lithoscope knows; give an "
        r"IMA species name or a group such as olivine, plagioclase, clinopyroxene$",
    ):
        mineral_info("xyz")


def test_table_rows_are_valid_and_sourced():
    with TABLE.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) > 100
    for row in rows:
        assert row["role"] in ROLES, row
        assert row["source"].strip(), row
        assert 1.0 < float(row["density_g_cm3"]) < 9.0, row


def test_plagioclase_names_carry_an_ranges():
    assert mineral_info("bytownite").an_range == (70.0, 90.0)
    assert mineral_info("plagioclase").an_range is None


def test_normalisation_is_said_and_keeps_proportions():
    asm = parse_modes({"olivine": 30, "augite": 10})
    assert asm.vol("olivine") == pytest.approx(75.0, abs=1e-12)
    assert asm.vol("clinopyroxene") == pytest.approx(25.0, abs=1e-12)
    assert "normalised to 100" in asm.notes[0]


def test_modes_summing_to_100_are_not_noted():
    assert parse_modes({"olivine": 60, "augite": 40}).notes == ()


def test_caller_modes_are_not_mutated():
    modes = {"olivine": 30, "augite": 10}
    parse_modes(modes)
    assert modes == {"olivine": 30, "augite": 10}


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_negative_or_non_finite_mode_names_the_mineral(bad):
    with pytest.raises(InputError, match=r"^--mode 'augite': expected a finite vol % >= 0"):
        parse_modes({"olivine": 50, "augite": bad})


def test_non_number_mode_names_the_mineral():
    with pytest.raises(InputError, match=r"^--mode 'augite': expected a number"):
        parse_modes({"augite": "lots"})


@pytest.mark.parametrize(("modes", "match"), [({}, "none given"), ({"olivine": 0}, "sum to 0")])
def test_empty_or_zero_modes(modes, match):
    with pytest.raises(InputError, match=match):
        parse_modes(modes)


def test_weight_percent_against_hand_calculation():
    # 50 vol % ilmenite (4.72) + 50 vol % plagioclase (2.69): 4.72 / (4.72 + 2.69)
    w = weight_percent(parse_modes({"plagioclase": 50, "ilmenite": 50}))
    assert w["ilmenite"] == pytest.approx(100 * 4.72 / 7.41, rel=1e-12)
    assert sum(w.values()) == pytest.approx(100.0, rel=1e-12)
