"""Valence inference, charge balance, oxide weight percents and mineral classes.

Oxide weight percents are checked against values computed here from the standard atomic
weights (``periodictable``), by hand-written stoichiometry, not against the code under test.
"""

from __future__ import annotations

import math

import periodictable
import pytest

from lithoscope.errors import FormulaError
from lithoscope.mindb.chemistry import MINERAL_CLASSES, mineral_class, oxide_name, parse_formula


def w(symbol: str) -> float:
    return float(periodictable.elements.symbol(symbol).mass)


def mass(**counts: float) -> float:
    return sum(w(el) * n for el, n in counts.items())


def species(text: str) -> dict[tuple[str, float], float]:
    out: dict[tuple[str, float], float] = {}
    for el, v, a in parse_formula(text).species:
        out[(el, v)] = out.get((el, v), 0.0) + a
    return out


# --------------------------------------------------------------------------- valences
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # magnetite: one Fe2+ and two Fe3+ from charge balance
        ("Fe3O4", {("Fe", 2.0): 1.0, ("Fe", 3.0): 2.0, ("O", -2.0): 4.0}),
        ("Fe2O3", {("Fe", 3.0): 2.0}),
        ("FeO(OH)", {("Fe", 3.0): 1.0, ("H", 1.0): 1.0}),
        ("FeO", {("Fe", 2.0): 1.0}),
        ("Mn3O4", {("Mn", 2.0): 1.0, ("Mn", 3.0): 2.0}),
        ("MnO2", {("Mn", 4.0): 1.0}),
        ("FeCr2O4", {("Fe", 2.0): 1.0, ("Cr", 3.0): 2.0}),
        ("FeTiO3", {("Fe", 2.0): 1.0, ("Ti", 4.0): 1.0}),
        ("Ti2O3", {("Ti", 3.0): 2.0}),
        ("Cu2O", {("Cu", 1.0): 2.0}),
        ("CuO", {("Cu", 2.0): 1.0}),
        ("UO2", {("U", 4.0): 1.0}),
        ("K2(UO2)2(VO4)2·3H2O", {("U", 6.0): 2.0, ("V", 5.0): 2.0}),
        ("V2O3", {("V", 3.0): 2.0}),
        ("SnO2", {("Sn", 4.0): 1.0}),
        ("PbCrO4", {("Pb", 2.0): 1.0, ("Cr", 6.0): 1.0}),
        ("CaSO3·0.5H2O", {("S", 4.0): 1.0}),
        ("CaSO4·2H2O", {("S", 6.0): 1.0}),
        ("Fe3+(AsO3)", {("As", 3.0): 1.0}),
        ("KFe3(SO4)2(OH)6", {("Fe", 3.0): 3.0, ("S", 6.0): 2.0}),
        # sulfides: Cu+ in chalcocite, Cu+ Fe3+ in chalcopyrite, S2 dimers in pyrite
        ("Cu2S", {("Cu", 1.0): 2.0, ("S", -2.0): 1.0}),
        ("CuFeS2", {("Cu", 1.0): 1.0, ("Fe", 3.0): 1.0}),
        ("FeS2", {("Fe", 2.0): 1.0, ("S", -1.0): 2.0}),
        ("MnS2", {("Mn", 2.0): 1.0, ("S", -1.0): 2.0}),
        ("FeAs2", {("Fe", 2.0): 1.0, ("As", -1.0): 2.0}),
        ("FeAsS", {("Fe", 2.0): 1.0, ("As", -1.0): 1.0, ("S", -1.0): 1.0}),
        ("MoS2", {("Mo", 4.0): 1.0, ("S", -2.0): 2.0}),
        ("Fe3S4", {("Fe", 2.0): 1.0, ("Fe", 3.0): 2.0}),
        ("Sb2S3", {("Sb", 3.0): 2.0}),
        ("Bi2Te3", {("Bi", 3.0): 2.0, ("Te", -2.0): 3.0}),
        ("NiAs", {("Ni", 3.0): 1.0, ("As", -3.0): 1.0}),
        # native elements and alloys: 0
        ("Fe", {("Fe", 0.0): 1.0}),
        ("S", {("S", 0.0): 1.0}),
        ("Pd3Tl", {("Pd", 0.0): 3.0, ("Tl", 0.0): 1.0}),
        ("(Fe,Ni)", {("Fe", 0.0): 0.5, ("Ni", 0.0): 0.5}),
        # carbides, nitrides, phosphides: ionic when it balances, else metallic
        ("SiC", {("Si", 4.0): 1.0, ("C", -4.0): 1.0}),
        ("TiN", {("Ti", 3.0): 1.0, ("N", -3.0): 1.0}),
        ("Si3N4", {("Si", 4.0): 3.0, ("N", -3.0): 4.0}),
        ("Fe3C", {("Fe", 0.0): 3.0, ("C", 0.0): 1.0}),
        ("Fe3P", {("Fe", 0.0): 3.0, ("P", 0.0): 1.0}),
        # N: nitrate +5, ammonium -3
        ("NaNO3", {("N", 5.0): 1.0}),
        ("(NH4)2SO4", {("N", -3.0): 2.0, ("H", 1.0): 8.0}),
        # C: carbonate +4, oxalate +3
        ("CaCO3", {("C", 4.0): 1.0}),
        ("CaC2O4·H2O", {("C", 3.0): 2.0}),
        # P in an O-bearing formula is P5+ even when not written before O
        ("H3PMo12O40", {("P", 5.0): 1.0, ("Mo", 6.0): 12.0}),
    ],
)
def test_inferred_valences(text, expected):
    got = species(text)
    for key, amount in expected.items():
        assert got.get(key, 0.0) == pytest.approx(amount, abs=1e-9), (key, got)


def test_mixed_valence_mean_and_species():
    f = parse_formula("Fe3O4")
    assert f.valences["Fe"] == pytest.approx(8 / 3)
    assert f.valences["O"] == -2
    assert sorted(f.species) == [("Fe", 2.0, 1.0), ("Fe", 3.0, 2.0), ("O", -2.0, 4.0)]
    assert any("Fe2+ 1, Fe3+ 2" in n for n in f.notes)


def test_explicit_valences_are_kept():
    # written valences win even when they leave the formula unbalanced
    f = parse_formula("Fe3+O")
    assert f.valences["Fe"] == 3.0
    assert f.charge_residual == pytest.approx(1.0)
    g = parse_formula("Fe^2+^Fe^3+^_2_O_4_")
    assert g.valences["Fe"] == pytest.approx(8 / 3)


def test_organic_carbon_gets_the_average_oxidation_state():
    f = parse_formula("Ni2+C31H32N4")  # abelsonite
    # Ni2+ + 32 H+ + 4 N3- = +22 -> 31 C share -22
    assert f.valences["C"] == pytest.approx(-22 / 31)
    assert f.charge_residual == pytest.approx(0.0, abs=1e-12)
    assert parse_formula("CH4").valences["C"] == pytest.approx(-4.0)


# 30 well-known minerals that are charge balanced as written
BALANCED = [
    "Mg2SiO4",  # forsterite
    "Fe2SiO4",  # fayalite
    "(Mg,Fe)2SiO4",  # olivine
    "CaMgSi2O6",  # diopside
    "Mg2Si2O6",  # enstatite
    "NaAlSi3O8",  # albite
    "CaAl2Si2O8",  # anorthite
    "KAlSi3O8",  # orthoclase
    "Mg3Al2(SiO4)3",  # pyrope
    "Ca3Fe3+2(SiO4)3",  # andradite
    "KMg3(AlSi3O10)(OH)2",  # phlogopite
    "Ca2Mg5Si8O22(OH)2",  # tremolite
    "SiO2",  # quartz
    "Al2SiO5",  # kyanite
    "MgAl2O4",  # spinel
    "FeCr2O4",  # chromite
    "Fe3O4",  # magnetite
    "FeTiO3",  # ilmenite
    "TiO2",  # rutile
    "Ca5(PO4)3F",  # fluorapatite
    "Ca9NaMg(PO4)7",  # merrillite
    "CaCO3",  # calcite
    "CaMg(CO3)2",  # dolomite
    "CaSO4·2H2O",  # gypsum
    "KFe3+3(SO4)2(OH)6",  # jarosite
    "NaCl",  # halite
    "CaF2",  # fluorite
    "FeS",  # troilite
    "FeS2",  # pyrite
    "CuFeS2",  # chalcopyrite
    "Mg(OH)2",  # brucite
    "Al2Si2O5(OH)4",  # kaolinite
    "(NH4)MgCl3·6H2O",  # novograblenovite
    "CaC2O4·H2O",  # whewellite
    "Fe2+8Ti3Zr2Si3O24",  # tranquillityite
]


@pytest.mark.parametrize("text", BALANCED)
def test_balanced_minerals_have_zero_residual(text):
    f = parse_formula(text)
    assert f.charge_residual == pytest.approx(0.0, abs=1e-9)
    assert f.charge_residual_relative == pytest.approx(0.0, abs=1e-9)
    assert not any(n.startswith("charge residual") for n in f.notes)


def test_unbalanced_formula_is_reported():
    f = parse_formula("Mg2SiO5")  # one O too many for Mg2+ and Si4+
    assert f.charge_residual == pytest.approx(-2.0)
    assert f.charge_residual_relative == pytest.approx(-2.0 / 8.0)
    assert any(n.startswith("charge residual -2") for n in f.notes)


def test_native_element_relative_residual_is_zero():
    assert parse_formula("Au").charge_residual_relative == 0.0


# --------------------------------------------------------------------------- molar mass, wt%
def test_molar_mass_and_element_wt_percent_analytic():
    f = parse_formula("Mg2SiO4")
    m = mass(Mg=2, Si=1, O=4)
    assert f.molar_mass == pytest.approx(m, rel=1e-12)
    wt = f.element_wt_percent()
    assert wt["Mg"] == pytest.approx(100 * 2 * w("Mg") / m, rel=1e-12)
    assert wt["O"] == pytest.approx(100 * 4 * w("O") / m, rel=1e-12)


def test_oxide_wt_percent_forsterite():
    ox = parse_formula("Mg2SiO4").oxide_wt_percent()
    m = mass(Mg=2, Si=1, O=4)
    assert list(ox) == ["SiO2", "MgO"]
    assert ox["SiO2"] == pytest.approx(100 * mass(Si=1, O=2) / m, rel=1e-12)
    assert ox["MgO"] == pytest.approx(100 * 2 * mass(Mg=1, O=1) / m, rel=1e-12)


def test_oxide_wt_percent_magnetite_is_valence_aware():
    ox = parse_formula("Fe3O4").oxide_wt_percent()
    m = mass(Fe=3, O=4)
    # Fe3O4 = FeO + Fe2O3
    assert ox == pytest.approx(
        {"Fe2O3": 100 * mass(Fe=2, O=3) / m, "FeO": 100 * mass(Fe=1, O=1) / m}, rel=1e-12
    )
    assert sum(ox.values()) == pytest.approx(100.0, rel=1e-12)


def test_oxide_wt_percent_fluorapatite_with_o_equals_f():
    ox = parse_formula("Ca5(PO4)3F").oxide_wt_percent()
    m = mass(Ca=5, P=3, O=12, F=1)
    assert ox["CaO"] == pytest.approx(100 * 5 * mass(Ca=1, O=1) / m, rel=1e-12)
    assert ox["P2O5"] == pytest.approx(100 * 1.5 * mass(P=2, O=5) / m, rel=1e-12)
    assert ox["F"] == pytest.approx(100 * w("F") / m, rel=1e-12)
    assert ox["O=F"] == pytest.approx(-100 * 0.5 * w("O") / m, rel=1e-12)
    assert sum(ox.values()) == pytest.approx(100.0, rel=1e-12)


def test_oxide_wt_percent_mixed_halogens_and_water():
    ox = parse_formula("Ca5(PO4)3(F,Cl,OH)").oxide_wt_percent()
    assert set(ox) == {"CaO", "P2O5", "H2O", "F", "Cl", "O=F,Cl"}
    assert sum(ox.values()) == pytest.approx(100.0, rel=1e-12)
    gyp = parse_formula("CaSO4·2H2O").oxide_wt_percent()
    m = mass(Ca=1, S=1, O=6, H=4)
    assert gyp["SO3"] == pytest.approx(100 * mass(S=1, O=3) / m, rel=1e-12)
    assert gyp["H2O"] == pytest.approx(100 * 2 * mass(H=2, O=1) / m, rel=1e-12)


def test_oxide_wt_percent_ammonium_and_nitrate():
    ox = parse_formula("(NH4)2SO4").oxide_wt_percent()
    m = mass(N=2, H=8, S=1, O=4)
    assert ox["(NH4)2O"] == pytest.approx(100 * mass(N=2, H=8, O=1) / m, rel=1e-12)
    assert "H2O" not in ox
    assert sum(ox.values()) == pytest.approx(100.0, rel=1e-12)
    nitre = parse_formula("KNO3").oxide_wt_percent()
    assert nitre["N2O5"] == pytest.approx(100 * 0.5 * mass(N=2, O=5) / mass(K=1, N=1, O=3))


@pytest.mark.parametrize("text", ["FeS2", "Fe", "Fe3C", "NaCl", "(Fe,Ni)9S8"])
def test_oxide_wt_percent_empty_without_oxygen(text):
    assert parse_formula(text).oxide_wt_percent() == {}


@pytest.mark.parametrize("text", BALANCED)
def test_oxide_wt_percent_sums_to_100_when_balanced(text):
    f = parse_formula(text)
    if "O" in f.amounts:
        assert sum(f.oxide_wt_percent().values()) == pytest.approx(100.0, rel=1e-9)


@pytest.mark.parametrize(
    ("symbol", "valence", "name"),
    [
        ("Fe", 2, "FeO"),
        ("Fe", 3, "Fe2O3"),
        ("Mn", 2, "MnO"),
        ("Mn", 3, "Mn2O3"),
        ("Mn", 4, "MnO2"),
        ("Cr", 3, "Cr2O3"),
        ("Ti", 4, "TiO2"),
        ("S", 6, "SO3"),
        ("C", 4, "CO2"),
        ("P", 5, "P2O5"),
        ("H", 1, "H2O"),
        ("N", 5, "N2O5"),
        ("B", 3, "B2O3"),
        ("Na", 1, "Na2O"),
        ("U", 6, "UO3"),
    ],
)
def test_oxide_names(symbol, valence, name):
    assert oxide_name(symbol, valence) == name


# --------------------------------------------------------------------------- classes
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(Mg,Fe)2SiO4", "silicate"),
        ("SiO2", "silicate"),
        ("Ca5(SiO4)2(CO3)", "silicate"),  # spurrite: silicate before carbonate
        ("NaFe3Al6(BO3)3Si6O18(OH)4", "silicate"),  # schorl: borosilicate
        ("Na2B4O5(OH)4·8H2O", "borate"),
        ("Ca5(PO4)3F", "phosphate"),
        ("Ca9NaMg(PO4)7", "phosphate"),
        ("FeAsO4·2H2O", "arsenate"),
        ("Pb5(VO4)3Cl", "vanadate"),
        ("CaSO4·2H2O", "sulfate"),
        ("CaAl3(PO4)(SO4)(OH)6", "phosphate"),  # woodhouseite: phosphate before sulfate
        ("PbCrO4", "chromate"),
        ("CaWO4", "tungstate/molybdate"),
        ("PbMoO4", "tungstate/molybdate"),
        ("CaCO3", "carbonate"),
        ("NaNO3", "nitrate"),
        ("Fe3O4", "oxide"),
        ("MoO3", "oxide"),  # an oxyanion former alone is an oxide
        ("Mg(OH)2", "hydroxide"),
        ("FeO(OH)", "hydroxide"),
        ("Cu2Cl(OH)3", "halide"),  # atacamite: hydroxyhalide
        ("NaCl", "halide"),
        ("FeS2", "sulfide"),
        ("Cu12As4S13", "sulfide"),
        ("NiAs", "sulfide"),
        ("Sb2S2O", "sulfide"),  # kermesite: oxysulfide
        ("Fe", "native element"),
        ("C", "native element"),
        ("Ni3Fe", "native element"),  # awaruite
        ("(Fe,Ni)3P", "carbide/nitride/phosphide/silicide"),
        ("SiC", "carbide/nitride/phosphide/silicide"),
        ("TiN", "carbide/nitride/phosphide/silicide"),
        ("Ni2+C31H32N4", "organic"),
        ("CaC2O4·H2O", "organic"),  # whewellite: oxalate
        ("Ca(SeO3)·H2O", "selenite"),
        ("CaSO3·0.5H2O", "sulfite"),
    ],
)
def test_mineral_class(text, expected):
    assert mineral_class(parse_formula(text)) == expected
    assert mineral_class(text) == expected  # a string is parsed first
    assert expected in MINERAL_CLASSES


def test_mineral_class_bad_input():
    with pytest.raises(FormulaError, match="expected a Formula or a formula string, got int"):
        mineral_class(12)  # type: ignore[arg-type]
    with pytest.raises(FormulaError, match="unknown element"):
        mineral_class("Xx2O3")


def test_charge_residual_is_finite_for_awkward_formulas():
    for text in ["S2-", "(S2)2-", "O"]:
        f = parse_formula(text)
        assert not math.isnan(f.charge_residual_relative)
