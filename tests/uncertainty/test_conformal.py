"""Conformal prediction sets: the coverage guarantee, Mondrian sets, persistence, MAPIE, real data.

Simulated models are *calibrated by construction*: a probability vector is drawn, then the label
is drawn from it, so the exchangeability that conformal prediction assumes holds exactly.
"""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

import lithoscope.uncertainty.conformal as conformal_module
import lithoscope.uncertainty.metrics as metrics_module
import lithoscope.uncertainty.unknown as unknown_module
from lithoscope.errors import InputError
from lithoscope.uncertainty import (
    ConformalPredictor,
    conformal_quantile,
    coverage,
    labels_to_index,
    mean_set_size,
    nonconformity,
    per_class_coverage,
)

METHODS = ["lac", "aps", "raps"]


def labels_from(rng: np.random.Generator, proba: np.ndarray) -> np.ndarray:
    """One label per row drawn from the row's probabilities."""
    u = rng.random(proba.shape[0])[:, None]
    return np.minimum((np.cumsum(proba, axis=1) < u).sum(axis=1), proba.shape[1] - 1)


def dirichlet_problem(rng, n, n_classes=10, concentration=0.5):
    proba = rng.dirichlet(np.full(n_classes, concentration), size=n)
    return proba, labels_from(rng, proba)


def peaked_problem(rng, n, n_classes=50, spread=3.0):
    """Softmax of wide Gaussian logits: a confident model with a long tail of small classes."""
    z = spread * rng.standard_normal((n, n_classes))
    proba = np.exp(z - z.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    return proba, labels_from(rng, proba)


def calibrated(rng, method="aps", n=300, n_classes=6, **params):
    proba, y = dirichlet_problem(rng, n, n_classes)
    return ConformalPredictor(method=method, **params).calibrate(proba, y)


# ---------------------------------------------------------------------- scores and quantile
def _reference_scores(proba, y, method, u, lam, k_reg):
    """Row-by-row loops straight from the papers' definitions."""
    out = np.empty(len(y))
    for i, (p, label) in enumerate(zip(proba, y, strict=True)):
        if method == "lac":
            out[i] = 1 - p[label]
            continue
        order = sorted(range(p.size), key=lambda j: (-p[j], j))
        rank = order.index(label)  # 0-based
        above = sum(p[j] for j in order[:rank])
        out[i] = above + u[i] * p[label]
        if method == "raps":
            out[i] += lam * max(0, rank + 1 - k_reg)
    return out


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("randomized", [False, True])
def test_scores_match_the_definitions(method, randomized):
    rng = np.random.default_rng(1)
    proba, y = dirichlet_problem(rng, 40, 7)
    u = rng.random(40) if randomized else np.ones(40)
    got = nonconformity(proba, method=method, u=u, raps_lambda=0.07, raps_k_reg=2)
    expected = _reference_scores(proba, y, method, u, 0.07, 2)
    np.testing.assert_allclose(got[np.arange(40), y], expected, rtol=0, atol=1e-12)


def test_quantile_is_the_finite_sample_order_statistic():
    scores = np.random.default_rng(0).permutation(np.arange(1.0, 20.0))  # 19 scores
    assert conformal_quantile(scores, 0.9) == 18.0  # ceil(20 * 0.9) = 18
    assert conformal_quantile(scores, 0.95) == 19.0  # ceil(20 * 0.95) = 19
    assert conformal_quantile(scores[:18], 0.95) == math.inf  # ceil(19 * 0.95) = 19 > 18
    # (n + 1) c an integer up to rounding: 100 * 0.95 must give the 95th, not the 96th
    assert conformal_quantile(np.arange(1.0, 100.0), 0.95) == 95.0
    # the textbook form: the empirical quantile at level ceil((n + 1)(1 - alpha)) / n
    s = np.random.default_rng(1).random(457)
    for c in (0.8, 0.9, 0.95):
        level = math.ceil((s.size + 1) * c) / s.size
        assert conformal_quantile(s, c) == np.quantile(s, level, method="inverted_cdf")


def test_quantile_counts_the_best_class_as_conforming():
    rng = np.random.default_rng(2)
    cp = calibrated(rng, "aps", n=500)
    folded = np.where(cp.top_, 0.0, cp.scores_)
    for c in (0.5, 0.9, 0.95):
        assert cp.quantile(c) == conformal_quantile(folded, c)
    assert cp.quantile(0.5) <= cp.quantile(0.9) <= cp.quantile(0.95)


def test_too_few_calibration_spectra_give_every_class():
    rng = np.random.default_rng(3)
    cp = calibrated(rng, "lac", n=8, n_classes=5)  # 8 < 0.9 / 0.1
    assert cp.quantile(0.9) == math.inf
    proba, _ = dirichlet_problem(rng, 20, 5)
    assert all(len(s) == 5 for s in cp.predict_sets(proba, 0.9))


# ---------------------------------------------------------------------- the guarantee
@pytest.mark.parametrize(
    ("method", "randomized"),
    [("lac", False), ("aps", False), ("raps", False), ("aps", True)],
)
def test_coverage_guarantee_on_simulated_data(method, randomized):
    rng = np.random.default_rng(10)
    results = {0.9: [], 0.95: []}
    for _ in range(80):
        proba_cal, y_cal = dirichlet_problem(rng, 1000)
        proba_new, y_new = dirichlet_problem(rng, 1000)
        cp = ConformalPredictor(method=method, randomized=randomized).calibrate(proba_cal, y_cal)
        for confidence, runs in results.items():
            runs.append(coverage(cp.predict_sets(proba_new, confidence), y_new))
    for confidence, runs in results.items():
        runs = np.asarray(runs)
        assert runs.mean() == pytest.approx(confidence, abs=0.015), (confidence, runs.mean())
        # one calibration set at a time: rarely more than 3 points short
        assert np.quantile(runs, 0.05) >= confidence - 0.03, (confidence, np.sort(runs)[:5])


def test_raps_sets_are_smaller_than_aps_sets_for_a_peaked_model():
    rng = np.random.default_rng(11)
    size = {"aps": [], "raps": []}
    cover = {"aps": [], "raps": []}
    for _ in range(15):
        proba_cal, y_cal = peaked_problem(rng, 1000)
        proba_new, y_new = peaked_problem(rng, 1000)
        for method in size:
            cp = ConformalPredictor(method=method).calibrate(proba_cal, y_cal)
            sets = cp.predict_sets(proba_new, 0.9)
            size[method].append(mean_set_size(sets))
            cover[method].append(coverage(sets, y_new))
    assert np.mean(size["raps"]) < 0.97 * np.mean(size["aps"]), size
    for method in cover:
        assert np.mean(cover[method]) == pytest.approx(0.9, abs=0.015)


def test_never_empty_rule_keeps_coverage_at_nominal():
    """Counting the best class as conforming in calibration, not adding it afterwards."""
    rng = np.random.default_rng(12)
    ours, added_afterwards = [], []
    for _ in range(15):
        proba_cal, y_cal = peaked_problem(rng, 1000)
        proba_new, y_new = peaked_problem(rng, 1000)
        cp = ConformalPredictor(method="aps").calibrate(proba_cal, y_cal)
        ours.append(coverage(cp.predict_sets(proba_new, 0.9), y_new))
        # the textbook set {j: score_j <= q} on the method's own scores, best class added
        q = conformal_quantile(cp.scores_, 0.9)
        mask = nonconformity(proba_new, method="aps") <= q
        mask[np.arange(y_new.size), proba_new.argmax(axis=1)] = True
        added_afterwards.append(mask[np.arange(y_new.size), y_new].mean())
    assert np.mean(ours) == pytest.approx(0.9, abs=0.01)
    assert np.mean(added_afterwards) > 0.915  # the over-coverage this rule avoids


def test_a_model_better_than_the_confidence_gives_single_best_classes():
    rng = np.random.default_rng(13)
    proba = rng.dirichlet(np.full(5, 0.05), size=400)  # very confident
    y = proba.argmax(axis=1)  # and always right
    cp = ConformalPredictor(method="aps").calibrate(proba[:200], y[:200])
    assert cp.quantile(0.9) == 0.0
    sets = cp.predict_sets(proba[200:], 0.9)
    assert [s.tolist() for s in sets] == [[j] for j in proba[200:].argmax(axis=1)]


# ---------------------------------------------------------------------- set shape
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mondrian", [False, True])
def test_sets_are_never_empty_and_ordered_by_probability(method, mondrian):
    rng = np.random.default_rng(20)
    proba_cal, y_cal = peaked_problem(rng, 600, n_classes=8)
    proba, _ = peaked_problem(rng, 300, n_classes=8)
    cp = ConformalPredictor(method=method, mondrian=mondrian).calibrate(proba_cal, y_cal)
    for confidence in (0.3, 0.8, 0.95):
        sets = cp.predict_sets(proba, confidence)
        mask = cp.predict_mask(proba, confidence)
        assert len(sets) == proba.shape[0]
        for row, s in zip(proba, sets, strict=True):
            assert s.dtype.kind == "i" and s.size >= 1
            assert s[0] == row.argmax()
            assert np.all(np.diff(row[s]) <= 0)
            assert len(set(s.tolist())) == s.size
        rebuilt = np.zeros_like(mask)
        for i, s in enumerate(sets):
            rebuilt[i, s] = True
        np.testing.assert_array_equal(rebuilt, mask)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mondrian", [False, True])
@pytest.mark.parametrize("spread", [8.0, 0.3])  # peaked: 32 columns decide; flat: all needed
def test_sets_from_the_leading_columns_equal_the_full_definition(method, mondrian, spread):
    rng = np.random.default_rng(22)
    proba_cal, y_cal = peaked_problem(rng, 3000, n_classes=400, spread=spread)
    proba, _ = peaked_problem(rng, 200, n_classes=400, spread=spread)
    cp = ConformalPredictor(method=method, mondrian=mondrian, min_class_size=5)
    cp.calibrate(proba_cal, y_cal)
    for confidence in (0.5, 0.9):
        thresholds, _ = cp.class_quantiles(confidence)
        expected = nonconformity(proba, method=method) <= thresholds + 1e-10
        expected[np.arange(proba.shape[0]), proba.argmax(axis=1)] = True
        np.testing.assert_array_equal(cp.predict_mask(proba, confidence), expected)
        sets = cp.predict_sets(proba, confidence)
        assert [s.tolist() for s in sets] == [
            sorted(np.flatnonzero(e).tolist(), key=lambda j, r=r: (-r[j], j))
            for e, r in zip(expected, proba, strict=True)
        ]


def test_sets_grow_with_confidence():
    rng = np.random.default_rng(21)
    cp = calibrated(rng, "aps", n=500)
    proba, _ = dirichlet_problem(rng, 200, 6)
    small, large = cp.predict_mask(proba, 0.8), cp.predict_mask(proba, 0.95)
    assert np.all(large[small])
    assert large.sum() > small.sum()


def test_randomized_sets_are_reproducible_and_do_not_depend_on_batching():
    rng = np.random.default_rng(22)
    proba_cal, y_cal = dirichlet_problem(rng, 500, 6)
    proba, _ = dirichlet_problem(rng, 100, 6)
    cp = ConformalPredictor(method="aps", randomized=True).calibrate(proba_cal, y_cal)
    batch = cp.predict_sets(proba, 0.9)
    one_by_one = [cp.predict_sets(proba[i : i + 1], 0.9)[0] for i in range(100)]
    assert all(np.array_equal(a, b) for a, b in zip(batch, one_by_one, strict=True))
    other = ConformalPredictor(method="aps", randomized=True, random_state=1)
    other_sets = other.calibrate(proba_cal, y_cal).predict_sets(proba, 0.9)
    assert any(not np.array_equal(a, b) for a, b in zip(batch, other_sets, strict=True))
    # random_state=None draws a seed once and keeps it
    drawn = ConformalPredictor(method="aps", randomized=True, random_state=None)
    drawn.calibrate(proba_cal, y_cal)
    first = drawn.predict_sets(proba, 0.9)
    again = drawn.predict_sets(proba, 0.9)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))


# ---------------------------------------------------------------------- Mondrian
PRIOR = np.array([0.5, 0.3, 0.15, 0.05])


def imbalanced_problem(rng, n):
    """A model that leans on the class prior: rare minerals get low probabilities."""
    y = rng.choice(PRIOR.size, size=n, p=PRIOR)
    z = np.log(PRIOR)[None, :] + rng.normal(0.0, 1.0, (n, PRIOR.size))
    z[np.arange(n), y] += 1.0
    proba = np.exp(z)
    return proba / proba.sum(axis=1, keepdims=True), y


@pytest.mark.parametrize("method", ["lac", "aps"])
def test_mondrian_covers_every_class_of_an_imbalanced_problem(method):
    rng = np.random.default_rng(30)
    per_class = {True: [], False: []}
    for _ in range(20):
        proba_cal, y_cal = imbalanced_problem(rng, 2000)
        proba_new, y_new = imbalanced_problem(rng, 4000)
        for mondrian in per_class:
            cp = ConformalPredictor(method=method, mondrian=mondrian, randomized=True)
            sets = cp.calibrate(proba_cal, y_cal).predict_sets(proba_new, 0.9)
            per_class[mondrian].append(per_class_coverage(sets, y_new, n_classes=4))
    mondrian, marginal = np.mean(per_class[True], axis=0), np.mean(per_class[False], axis=0)
    np.testing.assert_allclose(mondrian, 0.9, atol=0.02)
    assert marginal[-1] < 0.8  # what Mondrian is for: the rare class is under-covered


def test_mondrian_falls_back_to_the_marginal_quantile_for_small_classes():
    rng = np.random.default_rng(31)
    counts = [60, 60, 3, 0, 12]  # most minerals have 1-3 spectra
    y = np.repeat(np.arange(5), counts)
    proba = rng.dirichlet(np.ones(5), size=y.size)
    cp = ConformalPredictor(method="lac", mondrian=True, min_class_size=5).calibrate(proba, y)
    np.testing.assert_array_equal(cp.class_counts_, counts)

    q, conditional = cp.class_quantiles(0.9)
    np.testing.assert_array_equal(conditional, [True, True, False, False, True])
    marginal = cp.quantile(0.9)
    assert q[2] == q[3] == marginal
    folded = np.where(cp.top_, 0.0, cp.scores_)
    for j in (0, 1, 4):
        assert q[j] == conformal_quantile(folded[y == j], 0.9)

    # 12 spectra are enough at 0.9 (needs 9) but not at 0.95 (needs 19): marginal there
    q95, conditional95 = cp.class_quantiles(0.95)
    np.testing.assert_array_equal(conditional95, [True, True, False, False, False])
    assert q95[4] == cp.quantile(0.95)

    # a larger min_class_size sends class 4 to the marginal quantile at any confidence
    strict = ConformalPredictor(method="lac", mondrian=True, min_class_size=20)
    _, conditional_strict = strict.calibrate(proba, y).class_quantiles(0.9)
    np.testing.assert_array_equal(conditional_strict, [True, True, False, False, False])

    # fallback classes are predicted exactly as without Mondrian
    new = rng.dirichlet(np.ones(5), size=300)
    plain = ConformalPredictor(method="lac").calibrate(proba, y)
    np.testing.assert_array_equal(
        cp.predict_mask(new, 0.9)[:, [2, 3]], plain.predict_mask(new, 0.9)[:, [2, 3]]
    )
    # without Mondrian no class is conditional
    assert not plain.class_quantiles(0.9)[1].any()


# ---------------------------------------------------------------------- persistence
@pytest.mark.parametrize(
    "params",
    [
        {"method": "lac"},
        {"method": "aps"},
        {"method": "aps", "randomized": True, "random_state": 7},
        {"method": "raps", "raps_lambda": 0.05, "raps_k_reg": 2, "randomized": True},
        {"method": "aps", "mondrian": True, "min_class_size": 10},
    ],
)
def test_json_round_trip_gives_identical_sets(params, tmp_path):
    rng = np.random.default_rng(40)
    proba_cal, y_cal = dirichlet_problem(rng, 400, 6)
    proba, _ = dirichlet_problem(rng, 200, 6)
    cp = ConformalPredictor(**params).calibrate(proba_cal, y_cal)
    path = cp.save(tmp_path / "sub" / "conformal.json")
    doc = json.loads(path.read_text())  # plain JSON, no pickle
    assert doc["format"] == "lithoscope-conformal" and len(doc["scores"]) == 400
    loaded = ConformalPredictor.load(path)
    assert loaded.get_params() == cp.get_params()
    np.testing.assert_array_equal(loaded.scores_, cp.scores_)
    for confidence in (0.8, 0.9, 0.95):
        a, b = cp.predict_sets(proba, confidence), loaded.predict_sets(proba, confidence)
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
        assert loaded.quantile(confidence) == cp.quantile(confidence)
    assert ConformalPredictor.from_dict(cp.to_dict()).to_dict() == cp.to_dict()


def test_load_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        ConformalPredictor.load(bad)
    with pytest.raises(InputError, match="no such file"):
        ConformalPredictor.load(tmp_path / "missing.json")
    with pytest.raises(InputError, match="not a lithoscope conformal predictor"):
        ConformalPredictor.from_dict({"format": "something-else"})
    doc = calibrated(np.random.default_rng(0)).to_dict()
    del doc["scores"]
    with pytest.raises(InputError, match="incomplete or invalid"):
        ConformalPredictor.from_dict(doc)


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize("confidence", [0, 1, 1.5, -0.1, "high"])
def test_confidence_outside_the_open_interval_is_refused(confidence):
    cp = calibrated(np.random.default_rng(50))
    proba, _ = dirichlet_problem(np.random.default_rng(51), 5, 6)
    with pytest.raises(InputError, match="confidence must be"):
        cp.predict_sets(proba, confidence)
    with pytest.raises(InputError, match="confidence must be"):
        cp.quantile(confidence)


def test_uncalibrated_use_is_refused():
    cp = ConformalPredictor()
    proba, _ = dirichlet_problem(np.random.default_rng(52), 5, 6)
    for call in (
        lambda: cp.predict_sets(proba),
        lambda: cp.quantile(0.9),
        lambda: cp.p_values(proba),
        cp.to_dict,
    ):
        with pytest.raises(InputError, match="not calibrated yet; call calibrate"):
            call()


def test_bad_inputs_are_refused_with_clear_messages():
    rng = np.random.default_rng(53)
    proba, y = dirichlet_problem(rng, 30, 4)
    cp = ConformalPredictor()
    with pytest.raises(InputError, match=r"one class index per row of proba \(30\)"):
        cp.calibrate(proba, y[:-1])
    with pytest.raises(InputError, match=r"y_index\[0\] = 4 is outside 0..3.*labels_to_index"):
        cp.calibrate(proba, np.r_[4, y[1:]])
    with pytest.raises(InputError, match="integer class indices"):
        cp.calibrate(proba, y + 0.5)
    with pytest.raises(InputError, match="2-D array"):
        cp.calibrate(proba[0], y[:1])
    with pytest.raises(InputError, match=r"rows must sum to 1.*not class_scores"):
        cp.calibrate(proba * 3, y)
    with_nan = proba.copy()
    with_nan[3, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        cp.calibrate(with_nan, y)
    with pytest.raises(InputError, match="method 'bayes' is not one of aps, lac, raps"):
        ConformalPredictor(method="bayes").calibrate(proba, y)
    with pytest.raises(InputError, match="raps_lambda must be"):
        ConformalPredictor(raps_lambda=-1).calibrate(proba, y)
    with pytest.raises(InputError, match="min_class_size must be"):
        ConformalPredictor(min_class_size=0).calibrate(proba, y)
    cp.calibrate(proba, y)
    other, _ = dirichlet_problem(rng, 5, 7)
    with pytest.raises(InputError, match="has 7 columns but the calibration had 4 classes"):
        cp.predict_sets(other)
    # float integer labels are accepted; the caller's arrays are not modified
    before = proba.copy()
    cp.calibrate(proba, y.astype(float))
    np.testing.assert_array_equal(proba, before)


def test_labels_to_index_drops_minerals_the_model_does_not_know():
    classes = np.array(["albite", "calcite", "quartz"])
    y_index, known = labels_to_index(classes, ["quartz", "jadeite", "albite", "quartz"])
    assert known.tolist() == [True, False, True, True]
    assert classes[y_index].tolist() == ["quartz", "albite", "quartz"]


# ---------------------------------------------------------------------- metrics
def test_set_metrics_against_brute_force():
    rng = np.random.default_rng(60)
    sets = [rng.choice(6, size=rng.integers(1, 7), replace=False) for _ in range(200)]
    y = rng.integers(0, 6, 200)
    hits = [int(t) in s.tolist() for s, t in zip(sets, y, strict=True)]
    assert coverage(sets, y) == pytest.approx(np.mean(hits), abs=1e-15)
    assert mean_set_size(sets) == pytest.approx(np.mean([len(s) for s in sets]), abs=1e-15)
    per_class = per_class_coverage(sets, y, n_classes=7)
    for j in range(6):
        assert per_class[j] == pytest.approx(
            np.mean([h for h, t in zip(hits, y, strict=True) if t == j])
        )
    assert np.isnan(per_class[6])
    assert coverage([[0, 1], [2]], np.array([1, 0])) == 0.5  # lists work as well as arrays
    with pytest.raises(InputError, match="one class index per set"):
        coverage(sets, y[:-1])
    with pytest.raises(InputError, match="no prediction sets"):
        mean_set_size([])


# ---------------------------------------------------------------------- MAPIE cross-check
class Identity(ClassifierMixin, BaseEstimator):
    """A 'classifier' whose features are already probabilities: MAPIE's view of our input."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.asarray(X)

    def predict(self, X):
        return np.argmax(X, axis=1)


def test_lac_and_aps_agree_with_mapie():
    mapie_classification = pytest.importorskip("mapie.classification")
    rng = np.random.default_rng(70)
    n, k = 501, 6
    proba_cal, y_cal = dirichlet_problem(rng, n, k, 0.7)
    proba_new, _ = dirichlet_problem(rng, 400, k, 0.7)
    estimator = Identity().fit(proba_cal, np.arange(k))
    confidences = [0.8, 0.9, 0.95]
    for method, options in [("lac", None), ("aps", {"include_last_label": False})]:
        mapie = mapie_classification.SplitConformalClassifier(
            estimator, confidence_level=confidences, conformity_score=method, random_state=7
        ).conformalize(proba_cal, y_cal)
        _, mapie_sets = mapie.predict_set(proba_new, conformity_score_params=options)
        mapie_scores = mapie.conformity_scores.ravel()
        mapie_q = mapie._mapie_classifier.conformity_score_function_.quantiles_

        # the same scores: LAC exactly; MAPIE's APS is always randomised, u ~ RandomState(7)
        u = 1 - np.random.RandomState(7).uniform(size=n) if method == "aps" else None
        ours = nonconformity(proba_cal, method=method, u=u)[np.arange(n), y_cal]
        np.testing.assert_allclose(ours, mapie_scores, rtol=0, atol=1e-12)
        if method == "lac":
            ours_cp = ConformalPredictor(method="lac").calibrate(proba_cal, y_cal)
            np.testing.assert_allclose(ours_cp.scores_, mapie_scores, rtol=0, atol=1e-12)

        # the same quantiles and sets from MAPIE's scores (without our never-empty rule)
        doc = {
            "format": "lithoscope-conformal",
            "format_version": 1,
            "params": {"method": method},
            "n_classes": k,
            "seed": 0,
            "scores": mapie_scores.tolist(),
            "labels": y_cal.tolist(),
            "top": [False] * n,
        }
        cp = ConformalPredictor.from_dict(doc)
        for i, confidence in enumerate(confidences):
            assert cp.quantile(confidence) == pytest.approx(mapie_q[i], abs=1e-12)
            expected = mapie_sets[:, :, i].copy()
            # MAPIE's APS keeps the best class too; its LAC sets may be empty, ours never
            expected[np.arange(len(proba_new)), proba_new.argmax(axis=1)] = True
            np.testing.assert_array_equal(cp.predict_mask(proba_new, confidence), expected)


# ---------------------------------------------------------------------- real data
@pytest.mark.filterwarnings("ignore:The number of unique classes:UserWarning")
def test_aps_coverage_on_held_out_rruff_samples_is_near_nominal(raman_sets):
    """LibrarySearch on RRUFF Raman spectra; train, calibration and test samples all differ."""
    from lithoscope.data.datasets import grouped_split
    from lithoscope.models.library import LibrarySearch

    X, y, groups = raman_sets
    results = {0.9: [], 0.95: []}
    sizes, sizes_added_afterwards = [], []
    for seed in range(12):
        train, rest = grouped_split(y, groups, test_size=0.5, random_state=seed)
        cal_i, test_i = grouped_split(
            y[rest], groups[rest], test_size=0.5, random_state=seed, seen_classes_only=False
        )
        cal, test = rest[cal_i], rest[test_i]
        assert not set(groups[train]) & set(groups[cal]) and not set(groups[cal]) & set(
            groups[test]
        )
        model = LibrarySearch().fit(X[train], y[train], groups=groups[train])
        y_cal, known_cal = labels_to_index(model.classes_, y[cal])
        y_test, known_test = labels_to_index(model.classes_, y[test])
        cp = ConformalPredictor(method="aps").calibrate(
            model.predict_proba(X[cal][known_cal]), y_cal
        )
        proba_test = model.predict_proba(X[test][known_test])
        for confidence, runs in results.items():
            sets = cp.predict_sets(proba_test, confidence)
            runs.append(coverage(sets, y_test))
            if confidence == 0.9:
                sizes.append(mean_set_size(sets))
                # the best class added after the fact instead (see "Sets are never empty")
                mask = nonconformity(proba_test, method="aps") <= conformal_quantile(
                    cp.scores_, 0.9
                )
                mask[np.arange(y_test.size), proba_test.argmax(axis=1)] = True
                sizes_added_afterwards.append(mask.sum(axis=1).mean())
    for confidence, runs in results.items():
        assert np.mean(runs) == pytest.approx(confidence, abs=0.035), (confidence, runs)
    assert np.mean(sizes) < 5  # informative: a few candidates out of ~150 minerals
    assert np.mean(sizes_added_afterwards) > 2 * np.mean(sizes)


# ---------------------------------------------------------------------- docs
@pytest.mark.parametrize("module", [conformal_module, unknown_module, metrics_module])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, extraglobs={"np": np})
    assert result.failed == 0 and result.attempted > 0
