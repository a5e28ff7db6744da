"""Oxide recalculation: forward-computed textbook compositions, published analyses, errors.

Forward cases compute oxide wt% from a known formula with the atomic weights of
``periodictable`` (here, in the test) and check that the recalculation recovers the formula
(atol 1e-6: only floating-point error is expected).
"""

from __future__ import annotations

import json
import warnings

import periodictable
import pytest

from lithoscope.errors import FormulaError
from lithoscope.mindb.chemistry import (
    IDEAL_CATIONS,
    OXYGEN_BASES,
    AnalysisTotalWarning,
    Recalculation,
    oxides_to_formula,
    parse_oxide_list,
)

EXACT = 1e-6

# oxide -> (cation, cations per oxide, oxygens per oxide)
OXIDES = {
    "SiO2": ("Si", 1, 2),
    "TiO2": ("Ti", 1, 2),
    "Al2O3": ("Al", 2, 3),
    "Cr2O3": ("Cr", 2, 3),
    "Fe2O3": ("Fe", 2, 3),
    "FeO": ("Fe", 1, 1),
    "MnO": ("Mn", 1, 1),
    "MgO": ("Mg", 1, 1),
    "CaO": ("Ca", 1, 1),
    "Na2O": ("Na", 2, 1),
    "K2O": ("K", 2, 1),
    "P2O5": ("P", 2, 5),
}


def w(symbol: str) -> float:
    return float(periodictable.elements.symbol(symbol).mass)


def forward(cations: dict[str, float]) -> dict[str, float]:
    """Oxide wt% (normalized to 100) of a formula given as {oxide: cations of it per f.u.}."""
    masses = {}
    for oxide, n_cation in cations.items():
        el, a, b = OXIDES[oxide]
        masses[oxide] = n_cation / a * (a * w(el) + b * w("O"))
    total = sum(masses.values())
    return {k: 100 * v / total for k, v in masses.items()}


def check_cations(r: Recalculation, expected: dict[str, float], atol: float) -> None:
    assert set(r.cations) == set(expected), r.cations
    for el, n in expected.items():
        assert r.cations[el] == pytest.approx(n, abs=atol), (el, r.cations)


# --------------------------------------------------------------------------- forward cases
def test_olivine_fo90_round_trip():
    wt = forward({"SiO2": 1.0, "MgO": 1.8, "FeO": 0.2})
    r = oxides_to_formula(wt, basis="olivine")
    check_cations(r, {"Si": 1.0, "Mg": 1.8, "Fe": 0.2}, EXACT)
    assert r.oxygens == 4
    assert r.endmembers == pytest.approx({"Fo": 90.0, "Fa": 10.0}, abs=EXACT)
    assert r.formula_text == "(Mg1.80Fe0.20)Si1.00O4"
    assert r.total_wt == pytest.approx(100.0)


def test_olivine_with_mn_reports_tephroite():
    wt = forward({"SiO2": 1.0, "MgO": 1.7, "FeO": 0.2, "MnO": 0.1})
    r = oxides_to_formula(wt, basis="olivine")
    assert r.endmembers == pytest.approx({"Fo": 85.0, "Fa": 10.0, "Tp": 5.0}, abs=EXACT)


def test_pyroxene_en70_fs20_wo10_round_trip():
    # En70 Fs20 Wo10 on 4 cations: Ca0.2 Mg1.4 Fe0.4 Si2 O6
    wt = forward({"SiO2": 2.0, "CaO": 0.2, "MgO": 1.4, "FeO": 0.4})
    r = oxides_to_formula(wt, basis="pyroxene")
    check_cations(r, {"Si": 2.0, "Ca": 0.2, "Mg": 1.4, "Fe": 0.4}, EXACT)
    assert r.endmembers == pytest.approx({"Wo": 10.0, "En": 70.0, "Fs": 20.0}, abs=EXACT)
    assert r.cation_total == pytest.approx(4.0, abs=EXACT)


def test_feldspar_an60_ab38_or2_round_trip():
    # An60 Ab38 Or2: Ca0.60 Na0.38 K0.02 Al1.60 Si2.40 O8
    wt = forward({"SiO2": 2.40, "Al2O3": 1.60, "CaO": 0.60, "Na2O": 0.38, "K2O": 0.02})
    r = oxides_to_formula(wt, basis="feldspar")
    check_cations(r, {"Si": 2.40, "Al": 1.60, "Ca": 0.60, "Na": 0.38, "K": 0.02}, EXACT)
    assert r.endmembers == pytest.approx({"An": 60.0, "Ab": 38.0, "Or": 2.0}, abs=EXACT)
    assert r.formula_text == "(Ca0.60Na0.38K0.02)(Si2.40Al1.60)O8"


def test_garnet_prp50_alm40_grs10_round_trip():
    # Prp50 Alm40 Grs10: Mg1.5 Fe1.2 Ca0.3 Al2 Si3 O12
    wt = forward({"SiO2": 3.0, "Al2O3": 2.0, "MgO": 1.5, "FeO": 1.2, "CaO": 0.3})
    r = oxides_to_formula(wt, basis="garnet")
    check_cations(r, {"Si": 3.0, "Al": 2.0, "Mg": 1.5, "Fe": 1.2, "Ca": 0.3}, EXACT)
    assert r.endmembers == pytest.approx({"Prp": 50.0, "Alm": 40.0, "Grs": 10.0, "Adr": 0.0})
    assert r.formula_text == "(Ca0.30Mg1.50Fe1.20)Al2.00Si3.00O12"  # documented cation order


def test_garnet_with_andradite_and_uvarovite():
    # Prp40 Alm30 (Ca 0.9 split by Y site Al1.4 Fe3+0.4 Cr0.2): Grs21 Adr6 Uv3
    wt = forward(
        {"SiO2": 3.0, "Al2O3": 1.4, "Fe2O3": 0.4, "Cr2O3": 0.2, "MgO": 1.2, "FeO": 0.9, "CaO": 0.9}
    )
    r = oxides_to_formula(wt, basis="garnet")
    assert r.endmembers == pytest.approx(
        {"Prp": 40.0, "Alm": 30.0, "Grs": 21.0, "Adr": 6.0, "Uv": 3.0}, abs=EXACT
    )
    assert r.cation_species["Fe3+"] == pytest.approx(0.4, abs=EXACT)


def test_spinel_cr_and_mg_numbers():
    # (Mg0.8Fe0.2)(Al1.5Cr0.5)O4
    wt = forward({"MgO": 0.8, "FeO": 0.2, "Al2O3": 1.5, "Cr2O3": 0.5})
    r = oxides_to_formula(wt, basis="spinel")
    assert r.endmembers == pytest.approx({"Cr#": 25.0, "Mg#": 80.0}, abs=EXACT)
    assert r.formula_text == "(Mg0.80Fe0.20)(Al1.50Cr0.50)O4"


def test_numeric_basis_equals_named_basis():
    wt = forward({"SiO2": 1.0, "MgO": 1.8, "FeO": 0.2})
    named = oxides_to_formula(wt, basis="olivine")
    numeric = oxides_to_formula(wt, basis=4)
    assert numeric.cations == pytest.approx(named.cations)
    assert numeric.basis == 4 and numeric.endmembers == {}
    assert oxides_to_formula(wt, basis="4").cations == pytest.approx(named.cations)


# --------------------------------------------------------------------------- iron
def test_droop_recovers_magnetite_from_total_iron():
    # Fe3O4 written as total FeO: 3 FeO per 4 O
    feot = 100.0
    r = oxides_to_formula({"FeOT": feot}, basis="spinel", fe3_method="droop")
    assert r.cation_species == pytest.approx({"Fe3+": 2.0, "Fe2+": 1.0}, abs=1e-9)
    assert r.indices["Fe3+/ΣFe"] == pytest.approx(2 / 3)
    assert r.fe3_method == "droop"


def test_droop_recovers_fe3_of_a_pyroxene():
    # Na0.2 Ca0.8 Mg0.6 Fe2+0.2 Fe3+0.2 Si2 O6, given with all iron as FeO
    cations = {"SiO2": 2.0, "Na2O": 0.2, "CaO": 0.8, "MgO": 0.6, "FeO": 0.2, "Fe2O3": 0.2}
    wt = forward(cations)
    fe_as_feo = wt.pop("FeO") + wt.pop("Fe2O3") * 2 * (w("Fe") + w("O")) / (
        2 * w("Fe") + 3 * w("O")
    )
    r = oxides_to_formula({**wt, "FeO*": fe_as_feo}, basis="pyroxene", fe3_method="droop")
    assert r.cation_species["Fe3+"] == pytest.approx(0.2, abs=EXACT)
    assert r.cation_species["Fe2+"] == pytest.approx(0.2, abs=EXACT)
    assert r.cations["Si"] == pytest.approx(2.0, abs=EXACT)
    assert r.cation_total == pytest.approx(4.0, abs=EXACT)


def test_droop_needs_no_fe3_for_a_stoichiometric_fe2_olivine():
    wt = forward({"SiO2": 1.0, "MgO": 1.8, "FeO": 0.2})
    r = oxides_to_formula(wt, basis="olivine", fe3_method="droop")
    assert "Fe3+" not in r.cation_species
    assert any("no Fe3+ is needed" in n for n in r.notes)


def test_fixed_fe3_ratio():
    cations = {"SiO2": 2.0, "Na2O": 0.2, "CaO": 0.8, "MgO": 0.6, "FeO": 0.2, "Fe2O3": 0.2}
    wt = forward(cations)
    fe_as_feo = wt.pop("FeO") + wt.pop("Fe2O3") * 2 * (w("Fe") + w("O")) / (
        2 * w("Fe") + 3 * w("O")
    )
    r = oxides_to_formula({**wt, "FeOT": fe_as_feo}, basis="pyroxene", fe3_ratio=0.5)
    assert r.cation_species["Fe3+"] == pytest.approx(0.2, abs=EXACT)
    assert r.cation_total == pytest.approx(4.0, abs=EXACT)


def test_total_iron_without_method_is_fe2():
    r = oxides_to_formula({"SiO2": 30.0, "FeOT": 70.0}, basis="olivine")
    assert set(r.cation_species) == {"Si4+", "Fe2+"}
    assert any("total iron" in n for n in r.notes)


# --------------------------------------------------------------------------- published
def test_san_carlos_olivine():
    # San Carlos olivine USNM 111312/444, wet-chemical analysis of Jarosewich, Nelen &
    # Norberg (1980), Geostandards Newsletter 4:43-47. Its published formula is the
    # stoichiometric olivine (Mg1.80Fe0.19)Si1.00O4, Fo90.
    r = oxides_to_formula(
        {"SiO2": 40.81, "FeO": 9.55, "MnO": 0.14, "MgO": 49.42, "NiO": 0.37}, basis="olivine"
    )
    assert r.cations["Si"] == pytest.approx(1.00, abs=0.01)
    assert r.cations["Mg"] == pytest.approx(1.80, abs=0.01)
    assert r.cations["Fe"] == pytest.approx(0.19, abs=0.01)
    assert r.cation_total == pytest.approx(3.00, abs=0.01)
    assert r.endmembers["Fo"] == pytest.approx(90.0, abs=0.5)


def test_smithsonian_anorthite():
    # Anorthite NMNH 137041, Great Sitkin Island (Smithsonian Microbeam Standards datasheet;
    # Jarosewich et al. 1980): An95, 5 cations per 8 O.
    r = oxides_to_formula(
        {
            "SiO2": 44.00,
            "Al2O3": 36.03,
            "FeO": 0.62,
            "CaO": 19.09,
            "Na2O": 0.53,
            "K2O": 0.03,
            "TiO2": 0.03,
        },
        basis="plagioclase",
    )
    assert r.endmembers["An"] == pytest.approx(95.0, abs=0.5)
    assert r.cation_total == pytest.approx(5.00, abs=0.02)
    assert r.cations["Si"] + r.cations["Al"] == pytest.approx(4.00, abs=0.02)


# --------------------------------------------------------------------------- halogens, water
def test_fluorapatite_on_the_apatite_basis():
    # Ca5(PO4)3F: 12 O + 1 F = 12.5 O-equivalents
    masses = {
        "CaO": 5 * (w("Ca") + w("O")),
        "P2O5": 1.5 * (2 * w("P") + 5 * w("O")),
        "F": w("F"),
    }
    real = 5 * w("Ca") + 3 * w("P") + 12 * w("O") + w("F")
    wt = {k: 100 * v / real for k, v in masses.items()}
    r = oxides_to_formula(wt, basis="apatite")
    check_cations(r, {"Ca": 5.0, "P": 3.0}, EXACT)
    assert r.anions == pytest.approx({"O": 12.0, "F": 1.0}, abs=EXACT)
    assert r.total_wt == pytest.approx(100.0, abs=1e-9)  # after O = F
    assert r.formula_text == "Ca5.00P3.00O12F1.00"


def test_water_is_left_out_of_anhydrous_bases():
    wt = forward({"SiO2": 1.0, "MgO": 1.8, "FeO": 0.2})
    dry = oxides_to_formula(wt, basis="olivine")
    wet = oxides_to_formula({**{k: v * 0.99 for k, v in wt.items()}, "H2O": 1.0}, basis="olivine")
    assert wet.cations == pytest.approx(dry.cations)
    assert any("H2O left out" in n for n in wet.notes)


# --------------------------------------------------------------------------- output
def test_to_dict_is_json_ready():
    r = oxides_to_formula({"SiO2": 40.87, "MgO": 49.35, "FeO": 9.78}, basis="olivine")
    d = json.loads(json.dumps(r.to_dict()))
    assert d["formula_text"] == r.formula_text
    assert d["oxygens"] == 4 and d["basis"] == "olivine"
    assert d["cations"] == pytest.approx(r.cations)


def test_bases_table():
    for name, n in {"olivine": 4, "pyroxene": 6, "feldspar": 8, "garnet": 12, "spinel": 4}.items():
        assert OXYGEN_BASES[name] == n
    assert OXYGEN_BASES["amphibole"] == 23 and OXYGEN_BASES["mica"] == 22
    assert OXYGEN_BASES["ilmenite"] == 3 and OXYGEN_BASES["apatite"] == 12.5
    assert IDEAL_CATIONS["olivine"] == 3 and IDEAL_CATIONS["garnet"] == 8


def test_does_not_mutate_input():
    oxides = {"SiO2": 40.87, "MgO": 49.35, "FeOT": 9.78}
    before = dict(oxides)
    oxides_to_formula(oxides, basis="olivine", fe3_method="droop")
    assert oxides == before


# --------------------------------------------------------------------------- totals, errors
def test_low_total_warns():
    with pytest.warns(AnalysisTotalWarning, match=r"analysis total 95.00 wt% is outside 98-102"):
        r = oxides_to_formula({"SiO2": 38.0, "MgO": 47.0, "FeO": 10.0}, basis="olivine")
    assert any("outside 98-102" in n for n in r.notes)


def test_normal_total_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        oxides_to_formula({"SiO2": 40.87, "MgO": 49.35, "FeO": 9.78}, basis="olivine")


@pytest.mark.parametrize(
    ("oxides", "kwargs", "match"),
    [
        ({"SiO2": 40.0, "XyO": 60.0}, {}, r"oxide 'XyO': unknown element 'Xy'"),
        (
            {"Sio2": 40.0, "MgO": 60.0},
            {},
            r"oxide 'Sio2' is not an oxide formula; did you mean 'SiO2'",
        ),
        ({"NaO": 10.0, "SiO2": 90.0}, {}, r"oxide 'NaO' implies Na2\+, which is not a valence"),
        ({"SiO2": -1.0, "MgO": 60.0}, {}, r"oxide 'SiO2': weight percent must not be negative"),
        (
            {"SiO2": "40", "MgO": 60.0},
            {},
            r"oxide 'SiO2': weight percent must be a number, got '40'",
        ),
        ({"SiO2": float("nan"), "MgO": 60.0}, {}, r"oxide 'SiO2': weight percent must be finite"),
        ({"SiO2": True, "MgO": 60.0}, {}, r"weight percent must be a number"),
        ({"SiO2": 20.0, "MgO": 20.0}, {}, r"analysis total 40.00 wt% is outside 50-110"),
        ({"SiO2": 60.0, "MgO": 60.0}, {}, r"analysis total 120.00 wt% is outside 50-110"),
        (
            {"SiO2": 40.0, "FeOT": 9.0, "FeO": 1.0, "MgO": 50.0},
            {},
            r"total iron \(FeOT\) given together with FeO",
        ),
        ({"SiO2": 40.0, "MgO": 60.0}, {"basis": "olivenite"}, r"basis 'olivenite' is not known"),
        ({"SiO2": 40.0, "MgO": 60.0}, {"basis": -4}, r"number of oxygens must be positive"),
        ({"SiO2": 40.0, "MgO": 60.0}, {"fe3_method": "magic"}, r"fe3_method 'magic' is not known"),
        (
            {"SiO2": 40.0, "MgO": 60.0},
            {"basis": 5, "fe3_method": "droop"},
            r"needs the ideal cation total",
        ),
        ({"SiO2": 40.0, "MgO": 60.0}, {"fe3_ratio": 2.0}, r"fe3_ratio must be between 0 and 1"),
        ({}, {}, r"oxides must be a non-empty mapping"),
        ({"H2O": 100.0}, {}, r"no cations to normalize"),
    ],
)
def test_recalc_errors(oxides, kwargs, match):
    kwargs = {"basis": "olivine", **kwargs}
    with pytest.raises(FormulaError, match=match):
        oxides_to_formula(oxides, **kwargs)


# --------------------------------------------------------------------------- oxide lists
def test_parse_oxide_list():
    assert parse_oxide_list("SiO2=40.87,MgO=49.35,FeO=9.78") == {
        "SiO2": 40.87,
        "MgO": 49.35,
        "FeO": 9.78,
    }
    assert parse_oxide_list(" SiO2 : 40.87 ; MgO = 49.35\nFeOT=9.78 ,") == {
        "SiO2": 40.87,
        "MgO": 49.35,
        "FeOT": 9.78,
    }


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", r"oxide list '' is empty"),
        (" , ;", r"has no items"),
        ("SiO2 40.87", r"item 1 'SiO2 40.87': expected NAME=VALUE"),
        ("SiO2=abc", r"item 1: value of 'SiO2' is 'abc', not a number"),
        ("SiO2=40,SiO2=41", r"'SiO2' is given twice"),
        ("SiO2=40,Qz=41", r"oxide 'Qz' is not an oxide formula"),
        ("SiO2=-4", r"must not be negative"),
    ],
)
def test_parse_oxide_list_errors(text, match):
    with pytest.raises(FormulaError, match=match):
        parse_oxide_list(text)
