"""Stoichiometric consistency of candidate formulas with LIBS and measured chemistry."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from lithoscope.errors import FormulaError, InputError
from lithoscope.physics import consistency as C
from lithoscope.physics._libs_detect import DetectedElement, ElementDetection
from lithoscope.physics.consistency import (
    ChemistryEvidence,
    Consistency,
    check_consistency,
    consistency_batch,
    rerank,
)
from lithoscope.spectra.measurement import Context

FORSTERITE = "Mg2SiO4"
ALMANDINE = "Fe3Al2(SiO4)3"
PYROPE = "Mg3Al2(SiO4)3"
# atomic weights (IUPAC 2013 conventional values), for hand-computed references
MG, FE, SI, OX = 24.305, 55.845, 28.085, 15.999


def detection(*items: tuple[str, float, float | None]) -> ElementDetection:
    """An ElementDetection as detect_elements returns it: (element, confidence, ratio)."""
    found = [
        DetectedElement(el, conf, ratio, ambient=el in {"H", "N", "O", "Ar"})
        for el, conf, ratio in items
    ]
    return ElementDetection(found, found, 10000.0, 1e17, 0.2, 0.1, 100)


def test_module_doctests():
    failures, _ = doctest.testmod(C, optionflags=doctest.ELLIPSIS)
    assert failures == 0


# ------------------------------------------------------------------------------ LIBS rules
def test_missing_major_element_is_named():
    ev = ChemistryEvidence.from_elements(["Si", "Fe"])
    result = check_consistency(FORSTERITE, ev, name="forsterite")
    assert result.score < C.FLAG_BELOW
    assert any("no Mg" in c and "forsterite" in c for c in result.contradictions)


def test_solid_solution_substituent_is_consistent():
    ev = ChemistryEvidence.from_elements(["Mg", "Si", "Fe"])
    result = check_consistency(FORSTERITE, ev, name="forsterite")
    assert result == Consistency(1.0, ())
    # with LIBS ratios: Fe a minority of the Mg site is still forsterite
    det = detection(("Mg", 1.0, 0.55), ("Si", 1.0, 0.35), ("Fe", 0.99, 0.10))
    assert check_consistency(FORSTERITE, ChemistryEvidence.from_detection(det)).score == 1.0


def test_site_group_alternatives():
    ev = ChemistryEvidence.from_elements(["Fe", "Si"])
    assert check_consistency("(Mg,Fe)2SiO4", ev).score == 1.0


def test_libs_ratio_dominance_separates_almandine_from_pyrope():
    det = detection(("Mg", 1.0, 0.30), ("Al", 1.0, 0.25), ("Si", 1.0, 0.40), ("Fe", 0.9, 0.05))
    ev = ChemistryEvidence.from_detection(det)
    alm = check_consistency(ALMANDINE, ev, name="almandine")
    prp = check_consistency(PYROPE, ev, name="pyrope")
    assert prp.score == 1.0
    # Fe the formula's own, Mg the substituent: exp(ln(own / substituent) / scale)
    assert_allclose(alm.score, math.exp(math.log(0.05 / 0.30) / C.RATIO_LOG_SCALE), rtol=1e-9)
    assert alm.contradictions == (
        "LIBS sees Mg 6 times Fe; almandine needs Fe to dominate that site",
    )


def test_foreign_element_detected_contradicts():
    ev = ChemistryEvidence.from_elements({"Mg": 1.0, "Si": 1.0, "Cu": 0.98})
    result = check_consistency(FORSTERITE, ev, name="forsterite")
    assert result.contradictions == ("LIBS sees Cu at confidence 0.98; forsterite has none",)
    assert_allclose(result.score, 1 - 0.98, rtol=1e-12)


def test_weak_detection_and_trace_contaminants_do_not_contradict():
    below = ChemistryEvidence.from_elements({"Mg": 1.0, "Si": 1.0, "Cu": 0.3})
    assert check_consistency(FORSTERITE, below).score == 1.0
    trace = detection(("Mg", 1.0, 0.6), ("Si", 1.0, 0.37), ("Na", 1.0, 0.03))
    assert check_consistency(FORSTERITE, ChemistryEvidence.from_detection(trace)).score == 1.0
    major = detection(("Mg", 1.0, 0.4), ("Si", 1.0, 0.3), ("Na", 1.0, 0.3))
    result = check_consistency(FORSTERITE, ChemistryEvidence.from_detection(major))
    assert any("Na" in c for c in result.contradictions)


@pytest.mark.parametrize("element", sorted(C.LIBS_BLIND))
def test_blind_elements_never_contradict(element):
    seen = ChemistryEvidence.from_elements({"Mg": 1.0, "Si": 1.0, element: 1.0})
    assert check_consistency(FORSTERITE, seen) == Consistency(1.0, ())


def test_light_and_vacuum_uv_elements_missing_do_not_contradict():
    # anhydrite is 24 wt% S, calcite 12 wt% C, apatite 18 wt% P and 3.8 wt% F
    ev = ChemistryEvidence.from_elements(["Ca"])
    for formula in ("CaSO4", "CaCO3", "Ca5(PO4)3F", "CaSO4·2H2O"):
        assert check_consistency(formula, ev) == Consistency(1.0, ()), formula


def test_ambient_flag_of_a_detection_is_respected():
    det = detection(("Mg", 1.0, 0.6), ("Si", 1.0, 0.4), ("O", 1.0, None), ("H", 0.99, None))
    ev = ChemistryEvidence.from_detection(det)
    assert ev.ambient == frozenset({"O", "H"})
    assert check_consistency(FORSTERITE, ev).score == 1.0


def test_valence_decides_the_substitution_class():
    # Cr3+ replaces Fe3+ (jarosite) but not Fe2+ (siderite)
    ev = ChemistryEvidence.from_elements({"K": 1.0, "Fe": 1.0, "Cr": 0.99})
    assert check_consistency("KFe3(SO4)2(OH)6", ev).score == 1.0
    siderite = check_consistency("FeCO3", ChemistryEvidence.from_elements({"Fe": 1, "Cr": 0.99}))
    assert any("Cr" in c for c in siderite.contradictions)


# --------------------------------------------------------------------- measured chemistry
GARNET_MG = {"MgO": 25.0, "FeO": 8.0, "Al2O3": 24.5, "SiO2": 43.0}


def test_almandine_scores_below_pyrope_on_mg_rich_garnet():
    ev = ChemistryEvidence.from_chemistry(GARNET_MG)
    alm = check_consistency(ALMANDINE, ev, name="almandine")
    prp = check_consistency(PYROPE, ev, name="pyrope")
    assert alm.score < prp.score
    assert prp.score > 0.9 and alm.score < C.FLAG_BELOW
    assert any("almandine needs Fe to dominate" in c for c in alm.contradictions)


def test_partial_analysis_judges_only_what_it_lists():
    ev = ChemistryEvidence.from_chemistry({"Fe": 12.0})
    assert not ev.complete
    result = check_consistency(ALMANDINE, ev, name="almandine")
    assert result.contradictions == ("measured Fe 12 wt%, almandine needs Fe 34 wt%",)
    assert check_consistency("Fe2SiO4", ChemistryEvidence.from_chemistry({"Si": 13.8})).score == 1


def test_oxide_chemistry_matches_element_chemistry():
    oxides = {"MgO": 49.4, "FeO": 9.8, "SiO2": 40.9}
    ev = ChemistryEvidence.from_chemistry(oxides)
    expected = {
        "Mg": 49.4 * MG / (MG + OX),
        "Fe": 9.8 * FE / (FE + OX),
        "Si": 40.9 * SI / (SI + 2 * OX),
    }
    assert ev.complete
    for el, value in expected.items():
        assert_allclose(ev.chemistry[el], value, rtol=1e-3)
    by_element = ChemistryEvidence.from_chemistry({**expected, "O": 100 - sum(expected.values())})
    for formula in (FORSTERITE, "Fe2SiO4", "MgSiO3", "SiO2"):
        a = check_consistency(formula, ev).score
        b = check_consistency(formula, by_element).score
        assert_allclose(a, b, rtol=1e-6, atol=1e-12)
    assert check_consistency(FORSTERITE, ev).score == 1.0
    fayalite = check_consistency("Fe2SiO4", ev, name="fayalite")
    assert fayalite.score < C.FLAG_BELOW
    assert check_consistency("SiO2", ev).score < C.FLAG_BELOW


def test_total_iron_and_water_entries():
    ev = ChemistryEvidence.from_chemistry({"FeOT": 20.0, "H2O+": 5.0, "SiO2": 30.0})
    assert set(ev.chemistry) == {"Fe", "Si"}
    assert_allclose(ev.chemistry["Fe"], 20.0 * FE / (FE + OX), rtol=1e-3)
    assert not ev.complete  # 55 wt%


def test_measured_foreign_element_contradicts():
    ev = ChemistryEvidence.from_chemistry({"MgO": 40.0, "SiO2": 40.0, "CuO": 20.0})
    result = check_consistency(FORSTERITE, ev, name="forsterite")
    assert any(
        c.startswith("measured Cu") and "forsterite has none" in c for c in result.contradictions
    )


def test_unmeasured_light_elements_are_not_judged():
    # gypsum analysed without H2O: 79 wt%, incomplete, and still consistent
    ev = ChemistryEvidence.from_chemistry({"CaO": 32.6, "SO3": 46.5})
    assert check_consistency("CaSO4·2H2O", ev).score == 1.0


def test_from_context():
    assert ChemistryEvidence.from_context(Context()) is None
    chem = ChemistryEvidence.from_context(Context(chemistry=GARNET_MG))
    assert chem is not None and chem.chemistry is not None and not chem.has_elements
    both = ChemistryEvidence.from_context(Context(chemistry=GARNET_MG, elements=("Mg", "Cu")))
    assert both is not None and both.has_elements and both.chemistry is not None
    result = check_consistency(PYROPE, both)
    assert any("Cu" in c for c in result.contradictions)


# ------------------------------------------------------------------- batch, dict, rerank
def test_batch_caches_and_passes_none():
    ev = ChemistryEvidence.from_elements(["Mg", "Si"])
    C._candidate.cache_clear()
    out = consistency_batch([FORSTERITE, None, FORSTERITE, "SiO2"], ev)
    assert out[1] is None
    assert out[0] == out[2] == check_consistency(FORSTERITE, ev)
    assert C._candidate.cache_info().misses == 2
    assert out[0].to_dict() == {"score": 1.0, "contradictions": []}
    assert Consistency(0.123456, ("x",)).to_dict() == {"score": 0.123, "contradictions": ["x"]}


def test_rerank_against_numpy():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(6), size=4)
    s = rng.uniform(0, 1, size=(4, 6))
    for k in (0.0, 0.5, 1.0, 2.0):
        expected = p * s**k / (p * s**k).sum(axis=1, keepdims=True)
        assert_allclose(rerank(p, s, strength=k), expected, rtol=1e-12)
    assert_allclose(rerank(p, s, strength=0.0), p, rtol=1e-12)
    one = rerank(p[0], s[0])
    assert one.shape == (6,)
    assert_allclose(one.sum(), 1.0)


def test_rerank_none_is_neutral_and_zero_scores_keep_order():
    assert_allclose(rerank([0.5, 0.3, 0.2], [None, 1.0, 1.0]), [0.5, 0.3, 0.2])
    assert_allclose(rerank([0.5, 0.3, 0.2], [0.0, 0.0, 0.0]), [0.5, 0.3, 0.2])
    assert_allclose(rerank([[0.6, 0.4]], [1.0, 0.5]), [[0.75, 0.25]])


# --------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ChemistryEvidence.from_elements("FeSi"), "single string"),
        (lambda: ChemistryEvidence.from_elements(["Fe", "Xx"]), "'Xx' is not an element"),
        (lambda: ChemistryEvidence.from_elements({"Fe": 1.5}), "not a number in 0-1"),
        (lambda: ChemistryEvidence.from_elements(3), "expected a list of symbols"),
        (lambda: ChemistryEvidence.from_chemistry({}), "chemistry is empty"),
        (lambda: ChemistryEvidence.from_chemistry([("FeO", 3)]), "expected a mapping"),
        (lambda: ChemistryEvidence.from_chemistry({"Foo2": 3.0}), "'Foo2'"),
        (lambda: ChemistryEvidence.from_chemistry({"FeO": -1.0}), "outside 0-100"),
        (lambda: ChemistryEvidence.from_chemistry({"FeO": "a"}), "expected a number"),
        (lambda: ChemistryEvidence.from_chemistry({"FeO": 0.0}), "no element"),
        (lambda: ChemistryEvidence.from_detection(["Fe"]), "ElementDetection"),
        (lambda: ChemistryEvidence.from_context({"chemistry": {}}), "Context"),
        (lambda: check_consistency(FORSTERITE, {"Mg": 1}), "evidence"),
        (lambda: check_consistency(42, ChemistryEvidence.from_elements(["Mg"])), "formula 42"),
        (lambda: consistency_batch("Mg2SiO4", ChemistryEvidence.from_elements(["Mg"])), "list"),
        (
            lambda: consistency_batch(
                [FORSTERITE], ChemistryEvidence.from_elements(["Mg"]), names=["a", "b"]
            ),
            "names",
        ),
        (lambda: rerank([0.5, 0.5], [1.0, 1.0, 1.0]), "shape"),
        (lambda: rerank([0.5, 0.5], [1.0, 1.5]), r"\[0, 1\]"),
        (lambda: rerank([0.5, 0.5], [1.0, 1.0], strength=-1), "strength"),
        (lambda: rerank([-0.5, 0.5], [1.0, 1.0]), "proba"),
        (lambda: rerank([0.0, 0.0], [1.0, 1.0]), "sums to 0"),
    ],
)
def test_bad_input_one_line_error(call, match):
    with pytest.raises(InputError, match=match) as info:
        call()
    assert "\n" not in str(info.value)


def test_unreadable_formula_is_a_formula_error():
    with pytest.raises(FormulaError, match="Qq"):
        check_consistency("Qq2SiO4", ChemistryEvidence.from_elements(["Mg"]))


# ------------------------------------------------------------------- real LIBS spectra
@pytest.fixture(scope="module")
def atomic(shared_data, tmp_path_factory):
    from lithoscope.config import get_settings
    from lithoscope.physics.libs import load_atomic_data

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LITHOSCOPE_DATA_DIR", str(tmp_path_factory.mktemp("consistency-data")))
        mp.delenv("LITHOSCOPE_MIRROR", raising=False)
        get_settings.cache_clear()
        yield load_atomic_data(mirror=shared_data)
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("formula", "without_cation"),
    [("Mg2SiO4", "SiO2"), ("CaCO3", "MgCO3"), ("CuFeS2", "FeS2")],
)
def test_simulated_libs_spectrum(atomic, formula, without_cation):
    from lithoscope.physics.libs import detect_elements, simulate

    sim = simulate(formula, temperature=10000, ne=1e17, noise=0.002, random_state=0, atomic=atomic)
    ev = ChemistryEvidence.from_detection(detect_elements(sim.spectrum, atomic=atomic))
    own = check_consistency(formula, ev)
    assert own.score >= C.FLAG_BELOW and own.contradictions == ()
    other = check_consistency(without_cation, ev)
    assert other.score < C.FLAG_BELOW
    assert other.contradictions


def test_miss_rates_by_preset():
    assert C.miss_rates("supercam")["K"] > C.miss_rates("handheld")["K"]
    default = C.miss_rates()
    for table in C.LIBS_MISS_RATE.values():
        for element, rate in table.items():
            assert default[element] >= rate
    with pytest.raises(InputError, match="preset 'chemcam' is not one of handheld, supercam"):
        C.miss_rates("chemcam")
    # the instrument decides how telling a missing K is
    ev = {p: ChemistryEvidence.from_elements(["Fe"], preset=p) for p in ("handheld", "supercam")}
    jarosite = "KFe3(SO4)2(OH)6"
    assert check_consistency(jarosite, ev["handheld"]).score < 0.5
    assert check_consistency(jarosite, ev["supercam"]).score > 0.5


def test_nothing_detected_is_uninformative():
    ev = ChemistryEvidence.from_detection(detection(("O", 1.0, None), ("H", 1.0, None)))
    assert check_consistency(FORSTERITE, ev) == Consistency(1.0, ())


def test_minor_extra_element_is_tolerated():
    minor = detection(("Mg", 1.0, 0.6), ("Si", 1.0, 0.39), ("Cu", 1.0, 0.01))
    assert check_consistency(FORSTERITE, ChemistryEvidence.from_detection(minor)).score == 1.0
    major = detection(("Mg", 1.0, 0.4), ("Si", 1.0, 0.3), ("Cu", 1.0, 0.3))
    result = check_consistency(FORSTERITE, ChemistryEvidence.from_detection(major))
    assert result.score < C.FLAG_BELOW
