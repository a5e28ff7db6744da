"""ContextPrior: the planetary-context prior and its conformal sets."""

from __future__ import annotations

import numpy as np
import pytest

from lithoscope.data.datasets import grouped_split
from lithoscope.errors import InputError
from lithoscope.models.library import LibrarySearch
from lithoscope.uncertainty import ConformalPredictor, ContextPrior, coverage, labels_to_index

CLASSES = np.array(["A", "B", "C", "D"])


def _proba(rng, n, true, sharp=2.0):
    logits = rng.normal(size=(n, CLASSES.size))
    logits[np.arange(n), true] += sharp
    p = np.exp(logits)
    return p / p.sum(1, keepdims=True)


def test_posterior_is_the_reweighted_probability():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 400)
    P = _proba(rng, 400, y)
    prior = ContextPrior(min_calibration=10).fit(P, y, CLASSES, {"moon": ["A", "B"]})
    w = np.where(np.isin(CLASSES, ["A", "B"]), 1.0, np.exp(-prior.strength_["moon"]))
    expected = P * w / (P * w).sum(1, keepdims=True)
    np.testing.assert_allclose(prior.posterior(P, "moon"), expected)
    np.testing.assert_array_equal(prior.reported("moon"), [True, True, False, False])
    assert np.all(prior.weights("moon") > 0)  # never a hard filter


def test_strength_follows_how_much_the_context_explains():
    rng = np.random.default_rng(1)
    # most calibration spectra are of reported minerals and the model hesitates: a prior helps
    y = rng.choice(4, size=600, p=[0.45, 0.45, 0.05, 0.05])
    P = _proba(rng, 600, y, sharp=0.5)
    strong = ContextPrior(min_calibration=10).fit(P, y, CLASSES, {"moon": ["A", "B"]})
    assert 0 < strong.strength_["moon"] < 8
    # a model that is always right and sure gains nothing from the prior
    sure = np.full((600, 4), 1e-6)
    sure[np.arange(600), y] = 1.0
    sure /= sure.sum(1, keepdims=True)
    flat = ContextPrior(min_calibration=10).fit(sure, y, CLASSES, {"moon": ["A", "B"]})
    assert flat.strength_["moon"] <= strong.strength_["moon"]
    # nothing reported on a body: no prior, and the sets fall back (too few spectra)
    none = ContextPrior(min_calibration=10).fit(P, y, CLASSES, {"mars": []})
    assert none.strength_["mars"] == 0.0 and none.conformal("mars") is None
    assert "sets calibrated without context" in none.calibration_["mars"]["conformal"]


def test_json_round_trip_and_new_classes():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 4, 300)
    P = _proba(rng, 300, y)
    prior = ContextPrior(min_calibration=10).fit(P, y, CLASSES, {"moon": ["A", "C"], "mars": ["D"]})
    again = ContextPrior.from_dict(prior.to_dict())
    np.testing.assert_allclose(again.posterior(P, "moon"), prior.posterior(P, "moon"))
    for body in ("moon", "mars"):
        a, b = again.conformal(body), prior.conformal(body)
        assert (a is None) == (b is None)
        if a is not None:
            q = prior.posterior(P[:20], body)
            got, want = a.predict_sets(q), b.predict_sets(q)
            assert [s.tolist() for s in got] == [s.tolist() for s in want]
    grown = again.with_classes(np.array(["A", "AA", "B", "C", "D"]))
    np.testing.assert_array_equal(grown.reported("moon"), [True, False, False, True, False])
    assert grown.weights("mars").shape == (5,)


def test_bad_input_is_one_line():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 50)
    P = _proba(rng, 50, y)
    with pytest.raises(InputError, match="new_mineral_share"):
        ContextPrior(new_mineral_share=1.5).fit(P, y, CLASSES, {"moon": ["A"]})
    with pytest.raises(InputError, match="y_index"):
        ContextPrior().fit(P, y[:10], CLASSES, {"moon": ["A"]})
    prior = ContextPrior(min_calibration=5).fit(P, y, CLASSES, {"moon": ["A"]})
    with pytest.raises(InputError, match="no context prior for body 'venus'"):
        prior.posterior(P, "venus")
    with pytest.raises(InputError, match="not fitted"):
        ContextPrior().posterior(P, "moon")
    with pytest.raises(InputError, match="context prior document"):
        ContextPrior.from_dict({**prior.to_dict(), "bodies": {"moon": {"strength": 1.0}}})


def test_context_sharpens_real_answers_and_keeps_coverage(raman_sets):
    """Library search on real RRUFF spectra; half the minerals play 'reported on the body'."""
    X, y, groups = raman_sets[:3]
    axis = np.arange(100.0, 1401.0)
    rest, test = grouped_split(y, groups, test_size=0.25, random_state=0)
    fit, cal = grouped_split(y[rest], groups[rest], test_size=0.35, random_state=1)
    fit, cal = rest[fit], rest[cal]
    model = LibrarySearch(axis=axis).fit(X[fit], y[fit], groups=groups[fit])
    minerals = np.unique(y)
    reported = minerals[::2]
    yc, kc = labels_to_index(model.classes_, y[cal])
    prior = ContextPrior(min_calibration=20).fit(
        model.predict_proba(X[cal])[kc], yc, model.classes_, {"moon": reported}
    )
    assert prior.strength_["moon"] > 0
    on_body = test[np.isin(y[test], reported)]
    yt, kt = labels_to_index(model.classes_, y[on_body])
    P = model.predict_proba(X[on_body])[kt]
    Q = prior.posterior(P, "moon")
    top1_without = np.mean(P.argmax(1) == yt)
    top1_with = np.mean(Q.argmax(1) == yt)
    assert top1_with >= top1_without
    sets_with = prior.conformal("moon").predict_sets(Q, confidence=0.9)
    plain = ConformalPredictor(method="lac").calibrate(model.predict_proba(X[cal])[kc], yc)
    sets_without = plain.predict_sets(P, confidence=0.9)
    assert coverage(sets_with, yt) >= 0.8  # 90 % nominal; ~100 test spectra
    assert np.mean([len(s) for s in sets_with]) <= np.mean([len(s) for s in sets_without])
