"""Composition from Raman band positions: band finder, chemistry, calibrations, persistence.

Real spectra come from the shared mirror's RRUFF Raman zip (the ``shared_data`` fixture); the
MinDB path uses a copy of the session's built SQLite MinDB (``built_db_url``) with a few real
files ingested.
"""

from __future__ import annotations

import doctest
import json
import re
import shutil
import warnings
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from lithoscope.errors import FormulaError, InputError, ModelFileError
from lithoscope.physics import composition as C

GRID = np.arange(100.0, 1400.0 + 1e-9, 1.0)  # the Raman preset's grid
FAMILY_OF = {
    "Forsterite": "olivine",
    "Fayalite": "olivine",
    "Enstatite": "pyroxene",
    "Ferrosilite": "pyroxene",
    "Augite": "pyroxene",
    "Diopside": "pyroxene",
    "Hedenbergite": "pyroxene",
    "Albite": "plagioclase",
    "Anorthite": "plagioclase",
    "Labradorite": "plagioclase",
    "Bytownite": "plagioclase",
    "Oligoclase": "plagioclase",
}


def lorentz(x, centre, hwhm=4.0, height=1.0):
    return height / (1.0 + ((x - centre) / hwhm) ** 2)


def test_doctests():
    result = doctest.testmod(C, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10 and result.failed == 0


# ---------------------------------------------------------------------------------- bands
@pytest.mark.parametrize("hwhm", [1.5, 4.0, 8.0])
@pytest.mark.parametrize("centre", [823.0, 823.37, 855.81, 1008.5])
def test_band_finder_recovers_a_lorentzian_between_grid_points(centre, hwhm):
    X = lorentz(GRID, centre, hwhm)[None, :] + 0.01
    pos, heights = C.band_positions(X, GRID, [(centre - 10, centre + 10)])
    assert abs(pos[0, 0] - centre) < 0.2
    assert heights[0, 0] == pytest.approx(X[0, round(centre - GRID[0])])


def test_band_finder_through_the_raman_preset():
    """A doublet on another instrument's uneven axis, with a background, after preprocessing."""
    from lithoscope.spectra.preprocessing import make_preset
    from lithoscope.spectra.spectrum import Spectrum

    rng = np.random.default_rng(0)
    axis = np.sort(rng.uniform(150.0, 1300.0, 2400))
    y = lorentz(axis, 822.64, 4.5) + 0.7 * lorentz(axis, 854.21, 5.0) + 0.3 + 2e-4 * axis
    pipe = make_preset("raman")
    X = pipe.fit_transform([Spectrum(axis, y, method="raman")])
    grid = np.asarray(pipe.steps[0][1].grid)
    pos, _ = C.band_positions(X, grid, C.FAMILIES["olivine"].windows)
    np.testing.assert_allclose(pos[0], [822.64, 854.21], atol=0.2)


def test_band_finder_gives_nan_where_a_window_has_no_band():
    X = np.vstack([lorentz(GRID, 850.0), lorentz(GRID, 850.0, height=0.01) + lorentz(GRID, 500.0)])
    # (840, 845) holds only the rising flank of the 850 band: not a band of that window
    pos, heights = C.band_positions(X, GRID, [(840.0, 845.0), (845.0, 855.0)])
    assert np.isnan(pos[:, 0]).all() and np.isnan(heights[:, 0]).all()
    assert pos[0, 1] == pytest.approx(850.0, abs=0.05)
    assert np.isnan(pos[1, 1])  # 1 % of the spectrum's tallest band: below min_height


def test_band_finder_batch_is_rows_and_leaves_input_alone():
    rng = np.random.default_rng(1)
    X = np.vstack([lorentz(GRID, c) for c in rng.uniform(810, 860, 6)])
    X += rng.normal(0, 0.002, X.shape)
    before = X.copy()
    windows = [(800.0, 835.0), (835.0, 870.0)]
    pos, heights = C.band_positions(X, GRID, windows)
    for i in range(X.shape[0]):
        p1, h1 = C.band_positions(X[i], GRID, windows)
        np.testing.assert_array_equal(p1[0], pos[i])
        np.testing.assert_array_equal(h1[0], heights[i])
    np.testing.assert_array_equal(X, before)
    as_list, _ = C.band_positions(X.tolist(), GRID.tolist(), windows)
    np.testing.assert_array_equal(as_list, pos)


def test_band_finder_on_an_uneven_grid_is_exact_for_a_parabola():
    grid = np.array([0.0, 0.7, 2.0, 2.4, 3.9, 5.0])
    X = (10.0 - (grid - 2.31) ** 2)[None, :]
    pos, _ = C.band_positions(X, grid, [(1.0, 4.0)], min_height=0.0)
    assert pos[0, 0] == pytest.approx(2.31, abs=1e-9)


# ---------------------------------------------------------------------------------- chemistry
def test_composition_from_rruff_measured_chemistry():
    fo = C.composition_from_chemistry(
        "(Mg_1.81_Fe_0.18_Ni_0.01_)_Σ=2_Si_1.00_O_4_; trace amounts of Mn and Ca", "olivine"
    )
    assert fo["Fo"] == pytest.approx(100 * 1.81 / 1.99)
    px = C.composition_from_chemistry(
        "(Ca_0.88_Mg_0.83_Fe_0.13_Al_0.08_Na_0.04_Ti_0.03_Cr_0.01_)_Σ=2_(Si_1.89_Al_0.11_)_Σ=2_O_6_",
        "pyroxene",
    )
    quad = 0.88 + 0.83 + 0.13
    assert px == pytest.approx({"En": 83 / quad, "Fs": 13 / quad, "Wo": 88 / quad})
    # a phase description before the formula is skipped
    an = C.composition_from_chemistry(
        "light gray: Na_0.25_K_0.03_Ca_0.72_(Al_1.70_Fe^3+^_0.02_Si_2.28_)O_8_", "plagioclase"
    )
    assert an["An"] == pytest.approx(72.0)


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("Ca_0.99_(Mg_0.85_ Fe_0.12_Mn_0.03_)Si_1.00_O_4_", "olivine"),  # monticellite
        ("(Mn^2+^_1.47_Mg_0.49_Ca_0.04_)_Σ=2_Si_1.00_O_4_", "olivine"),  # tephroite
        ("Na_1.00_Al_1.00_(Si_0.99_Al_0.01_)_2_O_6_", "pyroxene"),  # jadeite
        ("Ca_1.00_Mn^2+^_1.02_Si_1.99_O_6_", "pyroxene"),  # johannsenite
        ("(Na_0.67_K_0.18_Ca_0.15_)Al_1.00_(Si_2.85_Al_0.15_)O_8_", "plagioclase"),  # anorthocl.
    ],
)
def test_chemistry_outside_the_solid_solution_gives_none(text, family):
    assert C.composition_from_chemistry(text, family) is None


def test_chemistry_that_is_not_a_formula_raises():
    with pytest.raises(FormulaError):
        C.composition_from_chemistry("not analysed", "olivine")


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("Forsterite", "olivine"),
        ("fayalite", "olivine"),
        ("Monticellite", None),
        ("Augite", "pyroxene"),
        ("Clinoenstatite", "pyroxene"),
        ("Jadeite", None),
        ("pyroxene", None),  # the group holds jadeite, aegirine, spodumene ...
        ("Labradorite", "plagioclase"),
        ("plagioclase", "plagioclase"),
        ("Orthoclase", None),
        ("Quartz", None),
    ],
)
def test_family_of_identified_minerals(name, family):
    assert C.family_of(name) == family


def test_published_olivine_equation_matches_its_printed_form():
    x = np.array([838.0, 846.5, 857.0])
    np.testing.assert_allclose(
        C.breitenfeld_2018_fo(x), [-0.179625 * v * v + 310.077 * v - 133717 for v in x]
    )


# ---------------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def rruff_members(shared_data):
    """Preprocessed RRUFF spectra of olivine, pyroxene and plagioclase with measured chemistry."""
    from lithoscope.mindb.labels import base_sample_id
    from lithoscope.spectra.io import parse_spectrum
    from lithoscope.spectra.preprocessing import make_preset

    source = shared_data / "rruff" / "raman" / "excellent_unoriented.zip"
    spectra, families, comps, groups, minerals = [], [], [], [], []
    with zipfile.ZipFile(source) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in sorted(zf.namelist()):
            mineral = name.split("__")[0]
            if mineral not in FAMILY_OF:
                continue
            spectrum = parse_spectrum(zf.read(name).decode("utf-8", "replace"), name)
            text = spectrum.metadata.get("measured_chemistry")
            comp = C.composition_from_chemistry(text, FAMILY_OF[mineral]) if text else None
            if comp is None:
                continue
            spectra.append(spectrum)
            families.append(FAMILY_OF[mineral])
            comps.append(comp)
            groups.append(base_sample_id(spectrum.metadata["sample_id"]))
            minerals.append(mineral)
    pipe = make_preset("raman")
    return SimpleNamespace(
        X=pipe.fit_transform(spectra),
        families=families,
        comps=comps,
        groups=np.array(groups),
        minerals=minerals,
        grid=np.asarray(pipe.steps[0][1].grid),
    )


def _held_out_fit(d, held_out):
    train = ~np.isin(d.groups, held_out)
    est = C.CompositionEstimator(axis=d.grid).fit(
        d.X[train],
        [f for f, t in zip(d.families, train, strict=True) if t],
        [c for c, t in zip(d.comps, train, strict=True) if t],
        groups=d.groups[train],
    )
    return est, np.flatnonzero(~train)


def test_real_forsterite_and_fayalite_of_unseen_samples(rruff_members):
    d = rruff_members
    est, test = _held_out_fit(d, ["R040052", "R050117", "R070157"])
    fams = [d.families[i] for i in test]
    answers = est.predict(d.X[test], fams, calibration="regression")
    for i, answer in zip(test, answers, strict=True):
        assert set(answer) == {"Fo", "Fo_sd", "method"}
        assert answer["method"].startswith("regression on RRUFF measured chemistry (n=")
        assert 0 < answer["Fo_sd"] < 15
        if d.comps[i]["Fo"] > 90:  # forsterite R040052 (Fo 100) and R050117 (Fo 91)
            assert answer["Fo"] > 80
        else:  # fayalite R070157 (Fo 0)
            assert answer["Fo"] < 25
    published = est.predict(d.X[test], fams, calibration="published")
    fo = [a["Fo"] for a in published if a is not None]
    truth = [d.comps[i]["Fo"] for i, a in zip(test, published, strict=True) if a is not None]
    assert published[0]["method"] == C.PUBLISHED_CALIBRATIONS["olivine"].label
    assert np.mean(np.abs(np.subtract(fo, truth))) < 10
    # the default takes, per spectrum, the calibration with the smaller sd
    for best, reg, pub in zip(est.predict(d.X[test], fams), answers, published, strict=True):
        candidates = [a for a in (reg, pub) if a is not None]
        assert best == min(candidates, key=lambda a: a["Fo_sd"])


def test_published_equation_on_a_real_forsterite(rruff_members):
    d = rruff_members
    rows = [i for i, g in enumerate(d.groups) if g == "R040018"]  # Fo 91 by microprobe
    pos, _ = C.band_positions(d.X[rows], d.grid, C.FAMILIES["olivine"].windows)
    fo = C.breitenfeld_2018_fo(pos[:, 1])
    assert np.all(fo > 80) and np.all(fo < 100)


def test_real_pyroxenes_and_plagioclase_of_unseen_samples(rruff_members):
    d = rruff_members
    est, test = _held_out_fit(d, ["R040009", "R070418", "R040129"])
    answers = est.predict(d.X[test], [d.families[i] for i in test])
    for i, answer in zip(test, answers, strict=True):
        if d.families[i] == "pyroxene":
            assert answer["En"] + answer["Fs"] + answer["Wo"] == pytest.approx(100, abs=0.2)
            # diopside R040009 (Wo 49), enstatite R070418 (Wo 0)
            assert (answer["Wo"] > 35) == (d.comps[i]["Wo"] > 35)
            assert abs(answer["En"] - d.comps[i]["En"]) < 20
        else:  # albite R040129 (An 0)
            assert answer["An"] < 30 and answer["An_sd"] > 0


def test_rows_without_a_family_or_bands_get_none(rruff_members):
    d = rruff_members
    est, _ = _held_out_fit(d, [])
    flat = np.zeros((1, d.grid.size))
    answers = C.estimate_composition(
        np.vstack([d.X[:1], d.X[:1], flat]),
        d.grid,
        [None, d.families[0], d.families[0]],
        estimator=est,
    )
    assert answers[0] is None and answers[1] is not None and answers[2] is None


def test_json_round_trip_gives_the_same_answers(rruff_members):
    d = rruff_members
    est, _ = _held_out_fit(d, [])
    doc = est.to_dict()
    again = C.CompositionEstimator.from_dict(json.loads(json.dumps(doc)))
    assert again.to_dict() == doc
    for calibration in ("regression", "published", "best"):
        assert again.predict(d.X, d.families, calibration=calibration) == est.predict(
            d.X, d.families, calibration=calibration
        )


# ---------------------------------------------------------------------------------- errors
def _one_line_input_error(call, match):
    with pytest.raises(InputError, match=match) as info:
        call()
    assert "\n" not in str(info.value)


def test_bad_input_gives_one_line_errors(rruff_members):
    d = rruff_members
    est, _ = _held_out_fit(d, [])
    _one_line_input_error(
        lambda: est.predict(d.X[:1], ["feldspar"]), "families entry 'feldspar' is not one of"
    )
    _one_line_input_error(lambda: est.predict(d.X[:2], ["olivine"]), "one entry per spectrum")
    _one_line_input_error(lambda: est.predict(d.X[:1], "olivine"), "one family per spectrum")
    _one_line_input_error(
        lambda: est.predict(d.X[:1, :-1], ["olivine"]), "fitted on an axis of 1301 points"
    )
    _one_line_input_error(
        lambda: est.predict(d.X[:1], ["olivine"], calibration="kuebler"), "calibration 'kuebler'"
    )
    _one_line_input_error(
        lambda: C.estimate_composition(d.X[:1], d.grid + 0.5, ["olivine"], estimator=est),
        "is not the estimator's axis",
    )
    _one_line_input_error(
        lambda: C.band_positions(d.X, d.grid[:-1], [(800, 830)]), "one position per column"
    )
    _one_line_input_error(lambda: C.band_positions(d.X, d.grid, [(830, 800)]), "low < high")
    _one_line_input_error(lambda: C.band_positions(np.zeros((2, 2, 2)), d.grid, []), "shape")
    _one_line_input_error(
        lambda: C.CompositionEstimator(axis=d.grid).fit(d.X[:2], ["olivine"] * 2, [{"An": 50}] * 2),
        r"compositions\[0\] \(olivine\) lacks Fo",
    )
    _one_line_input_error(
        lambda: C.CompositionEstimator().fit(d.X[:2], ["olivine"] * 2, [{"Fo": 50}] * 2),
        "axis is None",
    )
    with pytest.raises(NotFittedError):
        C.CompositionEstimator(axis=d.grid).predict(d.X[:1], ["olivine"])
    with pytest.raises(ModelFileError, match="not a lithoscope composition estimator"):
        C.CompositionEstimator.from_dict({"format": "pickle"})
    broken = est.to_dict()
    broken["families"]["olivine"]["regressor"]["models"][0]["coef"] = [[1.0]]
    with pytest.raises(ModelFileError, match="document is invalid"):
        C.CompositionEstimator.from_dict(broken)


# ---------------------------------------------------------------------------------- sklearn
@parametrize_with_checks([C.CompositionRegressor()])
def test_regressor_is_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("degree", [1, 2])
def test_regressor_equals_sklearn_ridge_on_standardised_terms(degree):
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    rng = np.random.default_rng(3)
    P = rng.normal(830, 10, (30, 3))
    D = P - 830
    Y = np.column_stack([D @ [0.5, -0.4, 0.3], D[:, 0] ** 2 / 10 + D[:, 1] * D[:, 2] / 10])
    Y += rng.normal(0, 0.1, Y.shape)
    ours = C.CompositionRegressor(alpha=0.7, degree=degree).fit(P, Y)
    assert ours._choose({0, 1, 2})[0] == (0, 1, 2)  # every band matters: the full model
    steps = [StandardScaler()]
    if degree == 2:
        steps.append(PolynomialFeatures(degree=2, include_bias=False))
    reference = make_pipeline(*steps, Ridge(alpha=0.7)).fit(P, Y)
    Q = rng.normal(830, 10, (5, 3))
    np.testing.assert_allclose(ours.predict(Q), reference.predict(Q), rtol=1e-9, atol=1e-8)


def test_regressor_uses_the_model_of_the_bands_a_row_has():
    rng = np.random.default_rng(2)
    y = rng.uniform(0, 100, 40)
    P = np.column_stack([815 + 0.1 * y, 838 + 0.19 * y]) + rng.normal(0, 0.3, (40, 2))
    model = C.CompositionRegressor(alpha=0.01, cv=5).fit(P, y)
    _, sd_full = model.predict(P[:5], return_std=True)
    only_db2 = P[:5].copy()
    only_db2[:, 0] = np.nan
    part, sd_part = model.predict(only_db2, return_std=True)
    np.testing.assert_allclose(part, y[:5], atol=10)
    assert np.all(np.isfinite(sd_part)) and np.all(sd_full > 0)
    assert np.isnan(model.predict(np.full((1, 2), np.nan))).all()


# ---------------------------------------------------------------------------------- MinDB
_MINDB_FILES = re.compile(
    r"^(Forsterite__R0400(18|52)|Fayalite__R070157|Fayalite__R100103|Forsterite__R050117|"
    r"Monticellite__R040115|Diopside__R040009|Enstatite__R070418|Hedenbergite__R050030|"
    r"Jadeite__R050220|Labradorite__R050104|Albite__R040129|Bytownite__R070510)__"
)


@pytest.mark.parametrize("built_db_url", ["sqlite"], indirect=True)
def test_training_data_and_fit_from_mindb(built_db_url, shared_data, tmp_path):
    from lithoscope.data.ingest import ingest_spectra
    from lithoscope.mindb import connect

    copy = tmp_path / "mindb.sqlite"
    shutil.copy(Path(built_db_url.removeprefix("sqlite:///")), copy)
    subset = tmp_path / "subset.zip"
    source = shared_data / "rruff" / "raman" / "excellent_unoriented.zip"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(subset, "w") as dst:
        for name in src.namelist():
            if _MINDB_FILES.match(name):
                dst.writestr(name, src.read(name))
    with connect(f"sqlite:///{copy}") as db:
        ingest_spectra(db, subset, progress=False)
        data = C.training_data(db)
        est = C.fit_from_mindb(db, min_samples=4)
    assert set(data.families) == {"olivine", "pyroxene", "plagioclase"}
    assert "Monticellite" not in data.minerals and "Jadeite" not in data.minerals
    assert data.skipped["not a member of the olivine solid solution"] >= 1
    # Labradorite links to the plagioclase group, not to a species
    assert "plagioclase" in data.minerals
    assert data.X.shape == (len(data.families), data.axis.size)
    assert {"R040018", "R040052", "R050104"} <= set(data.groups)
    for fam, comp, group in zip(data.families, data.compositions, data.groups, strict=True):
        if group == "R040018":
            assert fam == "olivine" and comp["Fo"] == pytest.approx(100 * 1.81 / 1.99)
    # 5 olivine samples; 3 pyroxene and 3 plagioclase samples are below min_samples=4
    assert set(est.regressors_) == {"olivine"}
    assert est.unfitted_["pyroxene"] == "3 samples with the family's bands (min_samples=4)"
    forsterite = [i for i, g in enumerate(data.groups) if g == "R040052"]
    answers = C.estimate_composition(
        data.X[forsterite], data.axis, ["olivine"] * len(forsterite), estimator=est
    )
    assert all(a["Fo"] > 80 for a in answers)
    diopside = data.families.index("pyroxene")
    assert C.estimate_composition(
        data.X[diopside : diopside + 1], data.axis, ["pyroxene"], estimator=est
    ) == [None]
