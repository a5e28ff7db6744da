"""Formula parsing: notations, representative-composition rules, errors, property tests.

Expected amounts are written out by hand from the formula and the documented rules
(equal site split, x = 0, n = 1, range midpoint, REE -> Ce), never copied from a run.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lithoscope.errors import FormulaError
from lithoscope.mindb.chemistry import Formula, normalize_formula, parse_formula
from lithoscope.mindb.chemistry._elements import ATOMIC_NUMBERS

ATOL = 1e-12


def assert_amounts(formula: Formula, expected: dict[str, float]) -> None:
    assert set(formula.amounts) == set(expected), (formula.amounts, expected)
    for el, n in expected.items():
        assert formula.amounts[el] == pytest.approx(n, abs=ATOL), (el, formula.amounts)


# --------------------------------------------------------------------------- notations
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mg2SiO4", {"Mg": 2, "Si": 1, "O": 4}),
        ("(Mg,Fe)2SiO4", {"Mg": 1, "Fe": 1, "Si": 1, "O": 4}),
        ("Ca(Mg,Fe)Si2O6", {"Ca": 1, "Mg": 0.5, "Fe": 0.5, "Si": 2, "O": 6}),
        (
            "K(Mg,Fe2+)3(AlSi3O10)(OH,F)2",
            {"K": 1, "Mg": 1.5, "Fe": 1.5, "Al": 1, "Si": 3, "O": 11, "H": 1, "F": 1},
        ),
        (
            "Ca5(PO4)3(F,Cl,OH)",
            {"Ca": 5, "P": 3, "O": 12 + 1 / 3, "F": 1 / 3, "Cl": 1 / 3, "H": 1 / 3},
        ),
        ("NaAlSi3O8", {"Na": 1, "Al": 1, "Si": 3, "O": 8}),
        ("Fe1-xS", {"Fe": 1, "S": 1}),
        ("CaSO4·2H2O", {"Ca": 1, "S": 1, "O": 6, "H": 4}),
        ("Mg(SO4)·nH2O", {"Mg": 1, "S": 1, "O": 5, "H": 2}),
        ("Fe3+O(OH)", {"Fe": 1, "O": 2, "H": 1}),
        ("Ca[B(OH)4]2", {"Ca": 1, "B": 2, "O": 8, "H": 8}),
        ("K{Al2[(OH)2]}", {"K": 1, "Al": 2, "O": 2, "H": 2}),
        ("Na0.3Al2Si4O10(OH)2", {"Na": 0.3, "Al": 2, "Si": 4, "O": 12, "H": 2}),
        ("CaSO4•2H2O", {"Ca": 1, "S": 1, "O": 6, "H": 4}),
        ("CaSO4.2H2O", {"Ca": 1, "S": 1, "O": 6, "H": 4}),
        ("CaSO4*2H2O", {"Ca": 1, "S": 1, "O": 6, "H": 4}),
        ("CaSO4 x 2H2O", {"Ca": 1, "S": 1, "O": 6, "H": 4}),
        ("CaSO4·1.5H2O", {"Ca": 1, "S": 1, "O": 5.5, "H": 3}),
        ("CaSO4.1.5H2O", {"Ca": 1, "S": 1, "O": 5.5, "H": 3}),
        ("CaSO4·(2-3)H2O", {"Ca": 1, "S": 1, "O": 6.5, "H": 5}),
        ("CaSO4·2-3H2O", {"Ca": 1, "S": 1, "O": 6.5, "H": 5}),
        ("Ca1-2Fe2O4", {"Ca": 1.5, "Fe": 2, "O": 4}),
        ("□Ca2Mg5Si8O22(OH)2", {"Ca": 2, "Mg": 5, "Si": 8, "O": 24, "H": 2}),
        ("[box]Ca2Mg5Si8O22(OH)2", {"Ca": 2, "Mg": 5, "Si": 8, "O": 24, "H": 2}),
        ("(Na,[])Ca2Mg5Si8O22(OH)2", {"Na": 0.5, "Ca": 2, "Mg": 5, "Si": 8, "O": 24, "H": 2}),
        ("(Na,[ ])AlSiO4", {"Na": 0.5, "Al": 1, "Si": 1, "O": 4}),
        ("(Ca,REE)CO3F", {"Ca": 0.5, "Ce": 0.5, "C": 1, "O": 3, "F": 1}),
        ("LnPO4", {"Ce": 1, "P": 1, "O": 4}),
        ("Ca(SO4,CO3)", {"Ca": 1, "S": 0.5, "C": 0.5, "O": 3.5}),
        ("(Si,Al)O2", {"Si": 0.5, "Al": 0.5, "O": 2}),
        ("Fe3-xO4", {"Fe": 3, "O": 4}),
        ("Ca2+xAl2-xO5", {"Ca": 2, "Al": 2, "O": 5}),
        ("Pb1-xO3-2x", {"Pb": 1, "O": 3}),
        ("(SO4)x/2Mg", {"Mg": 1}),
        ("Na2Ca(UO2)(CO3)3·5-6H2O", {"Na": 2, "Ca": 1, "U": 1, "C": 3, "O": 16.5, "H": 11}),
        ("2[(Fe,Cu)S]·1.53[(Mg,Al)(OH)2]", {
            "Fe": 1, "Cu": 1, "S": 2, "Mg": 0.765, "Al": 0.765, "O": 3.06, "H": 3.06
        }),
        ("β-Ca2SiO4", {"Ca": 2, "Si": 1, "O": 4}),
    ],
)  # fmt: skip
def test_plain_formulas(text, expected):
    assert_amounts(parse_formula(text), expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # RRUFF markup: _subscripts_, ^valences^, HTML entities
        ("NaPb^2+^_2_(CO_3_)_2_(OH)", {"Na": 1, "Pb": 2, "C": 2, "O": 7, "H": 1}),
        ("Mg_2_SiO_4_", {"Mg": 2, "Si": 1, "O": 4}),
        ("(Mg_1.8_Fe^2+^_0.2_)SiO_4_", {"Mg": 1.8, "Fe": 0.2, "Si": 1, "O": 4}),
        ("CaSO_4_&#183;2H_2_O", {"Ca": 1, "S": 1, "O": 6, "H": 4}),
        ("CaSO4&middot;2H2O", {"Ca": 1, "S": 1, "O": 6, "H": 4}),
        ("Ca(CO_3_)_Σ=1_", {"Ca": 1, "C": 1, "O": 3}),
        ("(Ca_.930_Na_.070_)_2_Si_2_O_6_", {"Ca": 1.86, "Na": 0.14, "Si": 2, "O": 6}),
        # HTML tags
        (
            "CaSO<sub>4</sub>·2H<sub>2</sub>O",
            {"Ca": 1, "S": 1, "O": 6, "H": 4},
        ),
        ("Fe<sup>3+</sup><sub>2</sub>O<sub>3</sub>", {"Fe": 2, "O": 3}),
        ("SiO<sub>2</sub>·<i>n</i>H<sub>2</sub>O", {"Si": 1, "O": 3, "H": 2}),
        # mojibake seen in Hazen & Morrison's table and RRUFF exports
        ("CaSO4¬∑2H2O", {"Ca": 1, "S": 1, "O": 6, "H": 4}),
        ("Na4Ca[V10O28]Â·20H2O", {"Na": 4, "Ca": 1, "V": 10, "O": 48, "H": 40}),
        # Unicode sub/superscripts
        ("Fe³⁺₂O₃", {"Fe": 2, "O": 3}),
    ],
)
def test_markup_formulas(text, expected):
    assert_amounts(parse_formula(text), expected)


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("NaPb^2+^_2_(CO_3_)_2_(OH)", "NaPb^2+2(CO3)2(OH)"),
        ("CaSO<sub>4</sub>&#183;2H<sub>2</sub>O", "CaSO4·2H2O"),
        ("Mg2SiO4 (?)", "Mg2SiO4"),
        ("  Mg 2 Si O 4 ", "Mg2SiO4"),
        ("Cu^+1^_3_", "Cu^1+3"),
        ("(Mg,[box])2", "(Mg,□)2"),
        ("CaSO4.2H2O", "CaSO4·2H2O"),
        ("Mg1.8Fe0.2SiO4", "Mg1.8Fe0.2SiO4"),
    ],
)
def test_normalize_formula(text, normalized):
    assert normalize_formula(text) == normalized
    # normalizing is idempotent and parses to the same composition
    assert normalize_formula(normalized) == normalized
    assert parse_formula(normalized).amounts == parse_formula(text).amounts


# --------------------------------------------------------------------------- plain valences
@pytest.mark.parametrize(
    ("text", "expected_amounts", "expected_species"),
    [
        (
            "NaPb2+2(CO3)2(OH)",
            {"Na": 1, "Pb": 2, "C": 2, "O": 7, "H": 1},
            {("Pb", 2.0): 2.0},
        ),
        ("Ni2+C31H32N4", {"Ni": 1, "C": 31, "H": 32, "N": 4}, {("Ni", 2.0): 1.0}),
        ("Fe2+Fe3+2O4", {"Fe": 3, "O": 4}, {("Fe", 2.0): 1.0, ("Fe", 3.0): 2.0}),
        # Fe3+ times x (not Fe times 3+x): decided by charge balance
        (
            "(Ni1-xFe3+x)(SO4)x/2(OH)2 (x = 0.2)",
            {"Ni": 0.8, "Fe": 0.2, "S": 0.1, "O": 2.4, "H": 2},
            {("Fe", 3.0): 0.2, ("Ni", 2.0): 0.8},
        ),
        # Be times 2+x, not Be2+ times x
        (
            "Ca4Be2+xAl2-xSi9O26-x(OH)2+x",
            {"Ca": 4, "Be": 2, "Al": 2, "Si": 9, "O": 28, "H": 2},
            {("Be", 2.0): 2.0},
        ),
        # S2- times 4, not the range 2-4
        (
            "Cu1+2Ag1+Pb2+Bi3+S2-4",
            {"Cu": 2, "Ag": 1, "Pb": 1, "Bi": 1, "S": 4},
            {("S", -2.0): 4.0, ("Bi", 3.0): 1.0},
        ),
        # Sb3+ times 6+x; O times 8+x
        (
            "Sb3+6+xO8+x(SO4)(OH)x(H2O)1-x",
            {"Sb": 6, "O": 8 + 4 + 1, "S": 1, "H": 2},
            {("Sb", 3.0): 6.0},
        ),
        # a sign with no digit is 1; '-' after a multi-atom unit is the unit's charge
        ("Cu+3+xS2", {"Cu": 3, "S": 2}, {("Cu", 1.0): 3.0}),
        ("Al2(H2O)(OH)4·n(Cl,OH-,H2O)", None, {("Cl", -1.0): 1 / 3}),
        # valence of a unit: (S2)2- is two S-1
        ("Fe(S2)2-", {"Fe": 1, "S": 2}, {("S", -1.0): 2.0, ("Fe", 2.0): 1.0}),
        # valence after a site applies to each occupant
        ("Na(As,Sb)3+4O6Cl", {"Na": 1, "As": 2, "Sb": 2, "O": 6, "Cl": 1}, {("As", 3.0): 2.0}),
        # explicit (RRUFF) group charge of hydronium
        ("(H_3_O^+^)Fe^3+^(SO_4_)_2_", {"H": 3, "O": 9, "Fe": 1, "S": 2}, {("Fe", 3.0): 1.0}),
    ],
)
def test_plain_valence_notation(text, expected_amounts, expected_species):
    f = parse_formula(text)
    if expected_amounts is not None:
        assert_amounts(f, expected_amounts)
    species = {(el, v): a for el, v, a in f.species}
    for key, amount in expected_species.items():
        assert species[key] == pytest.approx(amount, abs=1e-9), (key, f.species)


def test_hazen_example_with_many_valences():
    f = parse_formula("Na26Ce3+6(SiO3)6(P5+O4)6(C4+O3)6(S4+O2)O")
    assert_amounts(
        f, {"Na": 26, "Ce": 6, "Si": 6, "O": 18 + 24 + 18 + 2 + 1, "P": 6, "C": 6, "S": 1}
    )
    assert f.charge_residual == pytest.approx(0.0, abs=1e-9)
    assert ("S", 4.0, 1.0) in f.species


def test_akaganeite_with_valences_sites_and_water():
    f = parse_formula("(Fe3+,Ni2+)8(OH,O)16Cl1.25·nH2O")
    # (OH,O)16: 8 OH + 8 O; n = 1: one H2O
    assert_amounts(f, {"Fe": 4, "Ni": 4, "O": 17, "H": 10, "Cl": 1.25})
    assert f.is_representative
    assert any("split equally" in n for n in f.notes)
    assert any(n.startswith("n set to 1") for n in f.notes)


# --------------------------------------------------------------------------- variables
def test_variables_default_and_override():
    f = parse_formula("Fe1-xS")
    assert f.variables == {"x": 0.0}
    assert f.is_representative
    assert "x set to 0 (default)" in f.notes
    g = parse_formula("Fe1-xS", variables={"x": 0.125})
    assert_amounts(g, {"Fe": 0.875, "S": 1})
    assert "x = 0.125 (given)" in g.notes
    h = parse_formula("Mg(SO4)·nH2O", variables={"n": 7})
    assert_amounts(h, {"Mg": 1, "S": 1, "O": 11, "H": 14})


def test_variable_expressions():
    f = parse_formula("Mn2+xMn4+1-xO2-2x(OH)2x", variables={"x": 0.25})
    assert_amounts(f, {"Mn": 1.0, "O": 2.0, "H": 0.5})
    species = {(el, v): a for el, v, a in f.species}
    assert species[("Mn", 2.0)] == pytest.approx(0.25)
    assert species[("Mn", 4.0)] == pytest.approx(0.75)
    g = parse_formula("BiMo6+(2-5x)Mo5+6xO7(OH)·H2O", variables={"x": 0.2})
    assert_amounts(g, {"Bi": 1, "Mo": 1.0 + 1.2, "O": 9, "H": 3})
    h = parse_formula("Ca3-2xNa2x(PO4)2", variables={"x": 0.5})
    assert_amounts(h, {"Ca": 2, "Na": 1, "P": 2, "O": 8})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Cu1-xAsx (x ≈ 0.15)", {"Cu": 0.85, "As": 0.15}),
        ("Fe3+4(PO4)3(SO4)(OH)·nH2O (15≤n≤24)", {
            "Fe": 4, "P": 3, "S": 1, "O": 12 + 4 + 1 + 19.5, "H": 1 + 39
        }),
        ("Ag5-xTe3 (x = 0.24-0.36)", {"Ag": 4.7, "Te": 3}),
        ("Pd15(Sb7-xSnx); 3 ≤ x ≤ 4", {"Pd": 15, "Sb": 3.5, "Sn": 3.5}),
        ("(Cu1-xAgx)2Te, (x≈0.4)", {"Cu": 1.2, "Ag": 0.8, "Te": 1}),
        ("Ca4Be2+xAl2-xSi9O26-x(OH)2+x (x = 0 to 1)", {
            "Ca": 4, "Be": 2.5, "Al": 1.5, "Si": 9, "O": 28, "H": 2.5
        }),
    ],
)  # fmt: skip
def test_values_stated_in_the_annotation(text, expected):
    f = parse_formula(text)
    assert_amounts(f, expected)
    assert f.annotation is not None
    assert any("annotation" in n for n in f.notes)


def test_variables_argument_beats_the_annotation():
    f = parse_formula("Cu1-xAsx (x ≈ 0.15)", variables={"x": 0.3})
    assert_amounts(f, {"Cu": 0.7, "As": 0.3})


def test_zero_amount_elements_stay_in_written_elements():
    f = parse_formula("Cu1-xAsx")
    assert_amounts(f, {"Cu": 1})
    assert f.written_elements == ("Cu", "As")
    assert any(n.startswith("As: 0 atoms") for n in f.notes)


# --------------------------------------------------------------------------- measured chemistry
def test_measured_chemistry_with_site_totals_and_comment():
    text = (
        "(Ca_1.90_Sr_0.06_Mg_0.04_)_2.00_(Mn^3+^_1.88_Fe^3+^_0.07_Al_0.05_)_2.00_"
        "Si_4.01_O_11_(OH)_4_·2H_2_O ; trace amounts of Mn; H_2_O estimated by difference"
    )
    f = parse_formula(text)
    # the subscripts 2.00 restate the site sums: no doubling
    assert f.amounts["Ca"] == pytest.approx(1.90)
    assert f.amounts["Mn"] == pytest.approx(1.88)
    assert f.amounts["Si"] == pytest.approx(4.01)
    assert f.annotation.startswith("trace amounts")
    assert any("site total" in n for n in f.notes)


def test_measured_multiplier_is_kept_when_occupants_are_fractions():
    f = parse_formula("(Ca_0.97_Na_0.03_)_2_(Mg_0.65_Fe^2+^_0.35_)_5_Si_8_O_22_(OH)_2_")
    assert f.amounts["Ca"] == pytest.approx(1.94)
    assert f.amounts["Mg"] == pytest.approx(3.25)


def test_measured_chemistry_sigma_markers():
    f = parse_formula("Ca_1.99_(Mn_0.83_Mg_0.16_Fe_0.01_)_Ʃ=1_(P_1.00_O_4_)_2_·2H_2_O")
    assert_amounts(f, {"Ca": 1.99, "Mn": 0.83, "Mg": 0.16, "Fe": 0.01, "P": 2, "O": 10, "H": 4})
    g = parse_formula("(Ca_0.98_Na_0.92_)_∑=1.90_(Ta_1.88_Nb_0.11_Sn_0.01_)_&#931;=2_O_6_")
    assert g.amounts["Ca"] == pytest.approx(0.98)
    assert g.amounts["Ta"] == pytest.approx(1.88)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", r"formula '' is empty"),
        ("   ", r"is empty"),
        ("Xx2O3", r"formula 'Xx2O3': unknown element 'Xx' at position 0; use a standard"),
        ("Mg2Qq", r"unknown element 'Qq' at position 3"),
        ("Mg2(SiO4", r"unbalanced brackets: '\(' at position 3 is never closed; add '\)'"),
        ("Mg2SiO4)", r"unbalanced brackets: '\)' at position 7 has no matching opening"),
        ("Ca[Al0.5(Ta,Nb)0.5)](SiO4)O", r"'\[' at position 2 is closed by '\)' at position 18"),
        ("Mg2$SiO4", r"unexpected character '\$' at position 3; remove it"),
        ("Mg-rich olivine", r"formula 'Mg-rich olivine'"),
        ("light phase: Na1.00AlSi3O8", r"unexpected 'l' at position 0; element symbols start"),
        ("Wavelength dispersive spectroscopy (WDS) scanning shows Mo and Fe only.", r"free text"),
        ("CaO 16.44%, Ce2O3 19.71%", r"unexpected character '%'"),
        ("Mg2,SiO4", r"',' at position 3 outside brackets"),
        ("Mg2SiO4·", r"empty formula unit"),
        ("Mg2SiO4·2", r"coefficient '2' at position 8 is not followed by a formula unit"),
        ("Mg()SiO4", r"empty brackets \(\) at position 2"),
        ("(Mg,)SiO4", r"empty formula unit"),
        ("Fe2-3x-S", r"cannot read count"),
        ("Fe1-xS", None),  # valid: control case
        ("Mg2SiO4; Fe2SiO4", r"unexpected character ';' at position 7"),
        ("□2", r"no atoms"),
        ("(?)", r"no formula before the annotation"),
    ],
)
def test_errors(text, match):
    if match is None:
        parse_formula(text)
        return
    with pytest.raises(FormulaError, match=match) as info:
        parse_formula(text)
    message = str(info.value)
    assert "\n" not in message
    assert isinstance(info.value, ValueError)


def test_coordination_superscripts_are_ignored():
    f = parse_formula("Ca^VIII^Al^IV^_2_Si_2_O_8_")
    assert_amounts(f, {"Ca": 1, "Al": 2, "Si": 2, "O": 8})
    assert any("coordination" in n for n in f.notes)


def test_negative_count_from_variables_is_an_error():
    expected = r"count '1-x' at position 2 evaluates to -0.5 with x=1.5"
    with pytest.raises(FormulaError, match=expected):
        parse_formula("Fe1-xS", variables={"x": 1.5})


@pytest.mark.parametrize(
    ("variables", "match"),
    [
        ({"q": 1}, r"unknown variable 'q' in variables; valid names are m, n, x, y, z"),
        ({"x": "a"}, r"variable 'x' must be a number, got 'a'"),
        ({"x": math.nan}, r"variable 'x' must be finite"),
        ([("x", 1)], r"variables must be a mapping"),
    ],
)
def test_bad_variables(variables, match):
    with pytest.raises(FormulaError, match=match):
        parse_formula("Fe1-xS", variables=variables)


@pytest.mark.parametrize("value", [None, 12, b"Mg2SiO4", ["Mg2SiO4"]])
def test_non_string_input(value):
    with pytest.raises(FormulaError, match="expected a string"):
        parse_formula(value)


def test_error_message_shows_the_normalized_text_for_markup():
    with pytest.raises(FormulaError, match=r"\(normalized 'Mg2Xx2'\): unknown element 'Xx'"):
        parse_formula("Mg_2_Xx_2_")


# --------------------------------------------------------------------------- Formula object
def test_formula_properties():
    f = parse_formula("CaMg(CO3)2")
    assert f.text == "CaMg(CO3)2"
    assert f.normalized == "CaMg(CO3)2"
    assert list(f.amounts) == ["Ca", "Mg", "C", "O"]  # order of first appearance
    assert f.elements == ("C", "Ca", "Mg", "O")  # Hill order: C first, then alphabetical
    assert parse_formula("Mg2SiO4").elements == ("Mg", "O", "Si")
    assert parse_formula("CH4").elements == ("C", "H")
    assert not f.is_representative
    assert f.notes == []
    assert f.to_plain() == "Ca1Mg1C2O6"
    d = f.to_dict()
    assert d["amounts"] == f.amounts and d["molar_mass"] == f.molar_mass
    assert f == parse_formula("CaMg(CO3)2")
    assert hash(f) == hash(parse_formula("CaMg(CO3)2"))


def test_amounts_are_a_fresh_copy():
    f = parse_formula("Mg2SiO4")
    f.amounts["Mg"] = 99
    assert parse_formula("Mg2SiO4").amounts["Mg"] == 2


# --------------------------------------------------------------------------- properties
SYMBOLS = sorted(s for s, z in ATOMIC_NUMBERS.items() if z <= 94)


@st.composite
def simple_formulas(draw):
    """Random element sequences with counts, some in brackets with a multiplier.

    Counts inside brackets are integers so the measured-chemistry site-total rule
    (decimal occupants summing to the subscript) cannot apply.
    """
    expected: dict[str, float] = {}
    parts: list[str] = []
    for _ in range(draw(st.integers(1, 5))):
        if draw(st.booleans()):
            mult = draw(st.integers(1, 6))
            inner = []
            for _ in range(draw(st.integers(1, 3))):
                el = draw(st.sampled_from(SYMBOLS))
                n = draw(st.integers(1, 12))
                inner.append(f"{el}{n if n > 1 else ''}")
                expected[el] = expected.get(el, 0) + n * mult
            opener, closer = draw(st.sampled_from(["()", "[]", "{}"]))
            parts.append(f"{opener}{''.join(inner)}{closer}{mult if mult > 1 else ''}")
        else:
            el = draw(st.sampled_from(SYMBOLS))
            n = draw(
                st.one_of(
                    st.none(),
                    st.integers(1, 30).map(float),
                    st.decimals("0.01", "20", places=2, allow_nan=False, allow_infinity=False).map(
                        float
                    ),
                )
            )
            parts.append(f"{el}{'' if n is None else f'{n:g}'}")
            expected[el] = expected.get(el, 0) + (1.0 if n is None else n)
    return "".join(parts), expected


@settings(max_examples=300, deadline=None)
@given(simple_formulas())
def test_random_formulas_parse_and_round_trip(case):
    text, expected = case
    f = parse_formula(text)
    assert set(f.amounts) == {el for el, n in expected.items() if n > 0}
    for el, n in expected.items():
        assert f.amounts[el] == pytest.approx(n, rel=1e-12)
    again = parse_formula(f.to_plain())
    assert again.amounts.keys() == f.amounts.keys()
    for el, n in f.amounts.items():
        assert again.amounts[el] == pytest.approx(n, rel=1e-5)  # to_plain keeps 6 digits
    assert math.isfinite(f.molar_mass) and f.molar_mass > 0
    assert sum(f.element_wt_percent().values()) == pytest.approx(100.0, rel=1e-12)
    assert math.isfinite(f.charge_residual)


JUNK = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("()[]{}·.,;:+-^_*/=~≈?□ xnyzm0123456789ABCFHKMNOSZaeglr&#<>Σ")),
        st.characters(),
    ),
    max_size=40,
)


@settings(max_examples=500, deadline=None)
@given(JUNK)
def test_junk_only_raises_formula_error(text):
    try:
        f = parse_formula(text)
    except FormulaError as exc:
        assert "\n" not in str(exc)
        return
    assert f.amounts and all(n > 0 for n in f.amounts.values())
    f.oxide_wt_percent()
    f.element_wt_percent()
