"""Unknown-mineral detection: scores, the false-unknown rate, AUROC, persistence, real data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from lithoscope.errors import InputError
from lithoscope.uncertainty import (
    ConformalPredictor,
    UnknownDetector,
    auroc,
    false_unknown_rate,
    labels_to_index,
)

SCORES = ["max_similarity", "similarity_margin", "max_proba", "energy", "conformal"]
N_CLASSES = 8
TEMPERATURE = 0.05


def similarity_model(rng, n, *, unknown=False):
    """(proba, class_scores, y) of a library-search-like model.

    A known spectrum matches its own mineral's references well (similarity ~0.9) and the others
    poorly; an unknown one matches everything moderately. Probabilities are a softmax of the
    similarities, as in `LibrarySearch`.
    """
    scores = rng.normal(0.3, 0.1, (n, N_CLASSES))
    y = rng.integers(0, N_CLASSES, n)
    if unknown:
        scores[np.arange(n), y] = rng.normal(0.6, 0.1, n)
    else:
        scores[np.arange(n), y] = rng.normal(0.85, 0.08, n)
    scores = np.clip(scores, -1, 1)
    z = scores / TEMPERATURE
    proba = np.exp(z - z.max(axis=1, keepdims=True))
    return proba / proba.sum(axis=1, keepdims=True), scores, y


def fitted(score, rng, n=500, rate=0.05):
    proba, scores, y = similarity_model(rng, n)
    det = UnknownDetector(score=score, false_unknown_rate=rate, temperature=TEMPERATURE)
    return det.fit(proba, scores, y_index=y)


# ---------------------------------------------------------------------- the scores
def test_scores_against_numpy_references():
    rng = np.random.default_rng(0)
    proba, scores, y = similarity_model(rng, 300)
    new_proba, new_scores, _ = similarity_model(rng, 50, unknown=True)

    def score(name):
        det = UnknownDetector(score=name, temperature=TEMPERATURE)
        return det.fit(proba, scores, y_index=y).unknown_score(new_proba, new_scores)

    np.testing.assert_allclose(score("max_similarity"), 1 - new_scores.max(axis=1), atol=1e-15)
    ordered = np.sort(new_scores, axis=1)
    np.testing.assert_allclose(
        score("similarity_margin"), 1 - 2 * ordered[:, -1] + ordered[:, -2], atol=1e-12
    )
    np.testing.assert_allclose(score("max_proba"), 1 - new_proba.max(axis=1), atol=1e-15)
    naive_energy = -TEMPERATURE * np.log(np.sum(np.exp(new_scores / TEMPERATURE), axis=1))
    np.testing.assert_allclose(score("energy"), naive_energy, rtol=1e-12)

    # conformal: 1 - Mondrian LAC p-value of the best class, counted by hand
    lac = 1 - proba[np.arange(300), y]
    counts = np.bincount(y, minlength=N_CLASSES)
    expected = []
    for row in new_proba:
        best = row.argmax()
        pool = lac[y == best] if counts[best] >= 5 else lac
        expected.append(1 - (1 + np.sum(pool >= 1 - row[best])) / (pool.size + 1))
    np.testing.assert_allclose(score("conformal"), expected, atol=1e-12)


def test_conformal_calibration_scores_leave_each_spectrum_out():
    rng = np.random.default_rng(1)
    proba, scores, y = similarity_model(rng, 60)
    y[:5] = 7  # class 7 has exactly min_class_size = 5 spectra: 4 once one is left out
    y[5:] = rng.integers(0, 7, 55)
    det = UnknownDetector(score="conformal").fit(proba, scores, y_index=y)
    expected = []
    for i in range(60):
        rest = np.arange(60) != i
        cp = ConformalPredictor(method="lac", mondrian=True).calibrate(proba[rest], y[rest])
        p = cp.p_values(proba[i : i + 1])[0]
        expected.append(1 - p[proba[i].argmax()])
    np.testing.assert_allclose(det.scores_, expected, atol=1e-12)


@pytest.mark.parametrize("score", SCORES)
def test_threshold_gives_the_target_false_unknown_rate_on_new_known_spectra(score):
    rng = np.random.default_rng(2)
    rates = []
    for _ in range(40):
        det = fitted(score, rng, n=500, rate=0.05)
        proba, scores, _ = similarity_model(rng, 4000)
        rates.append(false_unknown_rate(det.is_unknown(proba, scores)))
    # with n = 500 the k = ceil(501 * 0.95) = 476th score: expected rate 1 - 476/501 = 0.0499;
    # the standard error of the mean of 40 runs is ~0.0017
    assert np.mean(rates) == pytest.approx(1 - 476 / 501, abs=0.006), np.mean(rates)


@pytest.mark.parametrize("score", SCORES)
def test_unknown_minerals_are_detected(score):
    rng = np.random.default_rng(3)
    det = fitted(score, rng)
    known = similarity_model(rng, 1000)
    unknown = similarity_model(rng, 1000, unknown=True)
    s_known, s_unknown = det.unknown_score(*known[:2]), det.unknown_score(*unknown[:2])
    assert auroc(s_known, s_unknown) > 0.9
    assert det.is_unknown(*unknown[:2]).mean() > 0.5


def test_more_tolerance_flags_more_spectra():
    rng = np.random.default_rng(4)
    proba, scores, _ = similarity_model(rng, 500)
    strict = UnknownDetector(false_unknown_rate=0.01).fit(proba, scores)
    loose = UnknownDetector(false_unknown_rate=0.2).fit(proba, scores)
    assert loose.threshold_ < strict.threshold_
    new = similarity_model(rng, 500, unknown=True)
    assert np.all(loose.is_unknown(*new[:2])[strict.is_unknown(*new[:2])])


# ---------------------------------------------------------------------- persistence
@pytest.mark.parametrize("score", SCORES)
def test_json_round_trip(score, tmp_path):
    rng = np.random.default_rng(5)
    det = fitted(score, rng, n=200)
    path = det.save(tmp_path / "unknown.json")
    assert json.loads(path.read_text())["format"] == "lithoscope-unknown-detector"
    loaded = UnknownDetector.load(path)
    assert loaded.get_params() == det.get_params()
    assert loaded.threshold_ == det.threshold_
    proba, scores, _ = similarity_model(rng, 100, unknown=True)
    np.testing.assert_array_equal(
        loaded.unknown_score(proba, scores), det.unknown_score(proba, scores)
    )
    np.testing.assert_array_equal(loaded.is_unknown(proba, scores), det.is_unknown(proba, scores))
    assert UnknownDetector.from_dict(det.to_dict()).to_dict() == det.to_dict()


# ---------------------------------------------------------------------- errors
def test_bad_use_is_refused_with_clear_messages():
    rng = np.random.default_rng(6)
    proba, scores, _ = similarity_model(rng, 100)
    with pytest.raises(InputError, match="not fitted yet; call fit"):
        UnknownDetector().is_unknown(proba, scores)
    with pytest.raises(InputError, match="score 'entropy' is not one of conformal, energy"):
        UnknownDetector(score="entropy").fit(proba, scores)
    for rate in (0, 1, -0.5, 2):
        with pytest.raises(InputError, match="false_unknown_rate must be strictly between"):
            UnknownDetector(false_unknown_rate=rate).fit(proba, scores)
    with pytest.raises(InputError, match="temperature must be a positive number"):
        UnknownDetector(score="energy", temperature=0).fit(proba, scores)
    with pytest.raises(InputError, match=r"needs class_scores \(model.class_scores\(X\)\)"):
        UnknownDetector(score="max_similarity").fit(proba, None)
    with pytest.raises(InputError, match=r"needs proba \(model.predict_proba\(X\)\)"):
        UnknownDetector(score="max_proba").fit(None, scores)
    with pytest.raises(InputError, match="conformal' needs y_index"):
        UnknownDetector(score="conformal").fit(proba, scores)
    with pytest.raises(InputError, match="proba and class_scores differ in shape"):
        UnknownDetector().fit(proba, scores[:, :-1])
    with pytest.raises(InputError, match="needs at least 19 calibration spectra, got 10"):
        UnknownDetector(false_unknown_rate=0.05).fit(proba[:10], scores[:10])
    det = UnknownDetector().fit(proba, scores)
    with pytest.raises(InputError, match="has 5 columns but the detector was fitted with 8"):
        det.is_unknown(None, scores[:, :5])
    with pytest.raises(InputError, match="from_dict|not a lithoscope unknown detector"):
        UnknownDetector.from_dict({"format": "lithoscope-conformal"})


# ---------------------------------------------------------------------- metrics
def test_auroc_agrees_with_scikit_learn():
    rng = np.random.default_rng(7)
    for _ in range(20):
        known = np.round(rng.normal(0, 1, rng.integers(5, 200)), 1)  # rounded: many ties
        unknown = np.round(rng.normal(0.7, 1, rng.integers(5, 200)), 1)
        labels = np.r_[np.zeros(known.size), np.ones(unknown.size)]
        expected = roc_auc_score(labels, np.r_[known, unknown])
        assert auroc(known, unknown) == pytest.approx(expected, abs=1e-12)
    assert auroc([0, 1], [2, 3]) == 1.0
    assert auroc([2, 3], [0, 1]) == 0.0
    assert auroc([1, 1], [1]) == 0.5
    with pytest.raises(InputError, match="known and of unknown spectra, got 3 and 0"):
        auroc([1, 2, 3], [])


def test_false_unknown_rate():
    assert false_unknown_rate(np.array([True, False, False, False])) == 0.25
    with pytest.raises(InputError, match="boolean flags"):
        false_unknown_rate(np.array([0.2, 0.9]))
    with pytest.raises(InputError, match="non-empty 1-D"):
        false_unknown_rate(np.array([], dtype=bool))


# ---------------------------------------------------------------------- real data
@pytest.mark.filterwarnings("ignore:The number of unique classes:UserWarning")
def test_minerals_left_out_of_the_library_are_recognised_as_unknown(raman_sets):
    """LibrarySearch on RRUFF Raman spectra with a quarter of the minerals hidden from it."""
    from lithoscope.data.datasets import grouped_split
    from lithoscope.models.library import LibrarySearch

    X, y, groups = raman_sets
    aurocs, rates = [], []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        minerals = np.unique(y)
        hidden = np.isin(y, rng.choice(minerals, size=minerals.size // 4, replace=False))
        known = np.flatnonzero(~hidden)
        train, rest = grouped_split(y[known], groups[known], test_size=0.5, random_state=seed)
        cal_i, test_i = grouped_split(
            y[known][rest],
            groups[known][rest],
            test_size=0.5,
            random_state=seed,
            seen_classes_only=False,
        )
        train, cal, test = known[train], known[rest][cal_i], known[rest][test_i]
        model = LibrarySearch().fit(X[train], y[train], groups=groups[train])
        _, in_library = labels_to_index(model.classes_, y[cal])
        assert in_library.all()
        det = UnknownDetector(score="max_similarity", false_unknown_rate=0.1)
        det.fit(model.predict_proba(X[cal]), model.class_scores(X[cal]))
        s_known = det.unknown_score(None, model.class_scores(X[test]))
        s_hidden = det.unknown_score(None, model.class_scores(X[hidden]))
        aurocs.append(auroc(s_known, s_hidden))
        rates.append(false_unknown_rate(s_known > det.threshold_))
    assert np.mean(aurocs) > 0.75, aurocs
    assert np.mean(rates) == pytest.approx(0.1, abs=0.05), rates
