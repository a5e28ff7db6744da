"""Molar mass and element wt% against pymatgen's `Composition` (an independent parser and
atomic-weight table).

Tolerance: pymatgen's atomic weights are older IUPAC values than those of periodictable
(e.g. Zn 65.409 vs 65.38, a relative difference of 4.4e-4; S, Li, Se, Ge about 1.5e-4), so
molar masses and mass fractions agree to rtol = 1e-3, not to machine precision. The
equivalent plain formulas on the right were written by hand from the representative-
composition rules (equal site split, x = 0, n = 1), independently of the parser.
"""

from __future__ import annotations

import pytest

pymatgen_core = pytest.importorskip("pymatgen.core")
Composition = pymatgen_core.Composition

from lithoscope.mindb.chemistry import parse_formula  # noqa: E402

RTOL = 1e-3

CASES = [
    ("Mg2SiO4", "Mg2SiO4"),  # forsterite
    ("(Mg,Fe)2SiO4", "MgFeSiO4"),  # olivine, equal site split
    ("(Mg_1.8_Fe^2+^_0.2_)SiO_4_", "Mg1.8Fe0.2SiO4"),  # RRUFF measured style
    ("Ca(Mg,Fe)Si2O6", "CaMg0.5Fe0.5Si2O6"),  # augite-like
    ("CaMgSi2O6", "CaMgSi2O6"),  # diopside
    ("(Mg,Fe)SiO3", "Mg0.5Fe0.5SiO3"),  # enstatite-ferrosilite
    ("NaAlSi3O8", "NaAlSi3O8"),  # albite
    ("CaAl2Si2O8", "CaAl2Si2O8"),  # anorthite
    ("KAlSi3O8", "KAlSi3O8"),  # sanidine
    ("Mg3Al2(SiO4)3", "Mg3Al2Si3O12"),  # pyrope
    ("Ca3Fe3+2(SiO4)3", "Ca3Fe2Si3O12"),  # andradite, Hazen valence notation
    ("K(Mg,Fe2+)3(AlSi3O10)(OH,F)2", "KMg1.5Fe1.5AlSi3O11HF"),  # biotite
    ("KAl2(AlSi3O10)(OH)2", "KAl3Si3O12H2"),  # muscovite
    ("□Ca2Mg5Si8O22(OH)2", "Ca2Mg5Si8O24H2"),  # tremolite, vacancy
    ("Mg3Si4O10(OH)2", "Mg3Si4O12H2"),  # talc
    ("Al2Si2O5(OH)4", "Al2Si2O9H4"),  # kaolinite
    ("(Mg,Fe)3Si2O5(OH)4", "Mg1.5Fe1.5Si2O9H4"),  # serpentine
    ("Ca2Al3(SiO4)(Si2O7)O(OH)", "Ca2Al3Si3O13H"),  # zoisite
    ("ZrSiO4", "ZrSiO4"),  # zircon
    ("CaTiSiO5", "CaTiSiO5"),  # titanite
    ("Al2SiO5", "Al2SiO5"),  # kyanite
    ("SiO2", "SiO2"),  # quartz
    ("SiO2·nH2O", "SiO3H2"),  # opal, n = 1
    ("Fe3O4", "Fe3O4"),  # magnetite
    ("Fe2+Fe3+2O4", "Fe3O4"),  # magnetite, Hazen notation
    ("FeCr2O4", "FeCr2O4"),  # chromite
    ("MgAl2O4", "MgAl2O4"),  # spinel
    ("FeTiO3", "FeTiO3"),  # ilmenite
    ("(Mg,Fe)Ti2O5", "Mg0.5Fe0.5Ti2O5"),  # armalcolite
    ("Fe2+8Ti3Zr2Si3O24", "Fe8Ti3Zr2Si3O24"),  # tranquillityite
    ("Fe3+O(OH)", "FeO2H"),  # goethite
    ("Fe2O3", "Fe2O3"),  # hematite
    ("TiO2", "TiO2"),  # rutile
    ("Ca5(PO4)3F", "Ca5P3O12F"),  # fluorapatite
    ("Ca5(PO4)3(F,Cl,OH)", "Ca15P9O37F1Cl1H1"),  # apatite (x3 to keep integers)
    ("Ca9NaMg(PO4)7", "Ca9NaMgP7O28"),  # merrillite
    ("CaCO3", "CaCO3"),  # calcite
    ("CaMg(CO3)2", "CaMgC2O6"),  # dolomite
    ("FeCO3", "FeCO3"),  # siderite
    ("NaPb^2+^_2_(CO_3_)_2_(OH)", "NaPb2C2O7H"),  # abellaite, RRUFF markup
    ("CaSO4·2H2O", "CaSO6H4"),  # gypsum
    ("Ca(SO4)·0.5H2O", "CaSO4.5H1"),  # bassanite
    ("MgSO4·7H2O", "MgSO11H14"),  # epsomite
    ("KFe3+3(SO4)2(OH)6", "KFe3S2O14H6"),  # jarosite
    ("NaCl", "NaCl"),  # halite
    ("CaF2", "CaF2"),  # fluorite
    ("FeS", "FeS"),  # troilite
    ("Fe1-xS", "FeS"),  # pyrrhotite, x = 0
    ("FeS2", "FeS2"),  # pyrite
    ("CuFeS2", "CuFeS2"),  # chalcopyrite
    ("(Fe,Ni)9S8", "Fe4.5Ni4.5S8"),  # pentlandite
    ("(Fe,Ni)3P", "Fe1.5Ni1.5P"),  # schreibersite
    ("CaS", "CaS"),  # oldhamite
    ("FeCr2S4", "FeCr2S4"),  # daubreelite
    ("TiN", "TiN"),  # osbornite
    ("SiC", "SiC"),  # moissanite
    ("C", "C"),  # diamond
    ("(NH4)2SO4", "N2H8SO4"),  # mascagnite
    ("Ni2+C31H32N4", "NiC31H32N4"),  # abelsonite
    ("CaC2O4·H2O", "CaC2O5H2"),  # whewellite
]


@pytest.mark.parametrize(("text", "plain"), CASES)
def test_against_pymatgen(text, plain):
    f = parse_formula(text)
    ref = Composition(plain)
    scale = ref.num_atoms / sum(f.amounts.values())  # "x3" cases compare per atom
    assert f.molar_mass * scale == pytest.approx(float(ref.weight), rel=RTOL)
    ref_amounts = {str(el): float(n) / scale for el, n in ref.get_el_amt_dict().items()}
    assert set(f.amounts) == set(ref_amounts)
    for el, n in ref_amounts.items():
        assert f.amounts[el] == pytest.approx(n, rel=1e-9)
    ref_wt = {str(el): 100 * float(ref.get_wt_fraction(el)) for el in ref.elements}
    for el, pct in f.element_wt_percent().items():
        assert pct == pytest.approx(ref_wt[el], rel=RTOL), el


def test_case_list_is_long_enough():
    assert len(CASES) >= 50
