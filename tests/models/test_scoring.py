"""The shared scoring maths against independent NumPy/SciPy references and analytic cases."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from scipy.special import log_softmax
from scipy.special import softmax as scipy_softmax

from lithoscope.errors import InputError
from lithoscope.models import scoring
from lithoscope.models.scoring import (
    class_max,
    class_starts,
    correlation_features,
    fit_temperature,
    power_transform,
    softmax,
    top1_and_mrr,
)


def test_softmax_against_scipy():
    z = np.random.default_rng(0).normal(size=(5, 7)) * 30
    for t in (0.01, 0.5, 3.0):
        np.testing.assert_allclose(softmax(z, t), scipy_softmax(z / t, axis=1), rtol=1e-12)


def test_class_starts_and_class_max_against_a_loop():
    rng = np.random.default_rng(1)
    labels = np.sort(rng.choice([0, 1, 2, 5, 6], size=40))
    S = rng.normal(size=(3, 40))
    starts = class_starts(labels)
    expected = np.column_stack([S[:, labels == c].max(axis=1) for c in np.unique(labels)])
    np.testing.assert_array_equal(class_max(S, starts), expected)
    np.testing.assert_array_equal(class_starts(np.array(["a", "a", "b"])), [0, 2])


def test_fit_temperature_recovers_the_generating_temperature():
    # labels drawn from softmax(scores / 0.05): maximum likelihood lands near 0.05
    rng = np.random.default_rng(2)
    scores = rng.uniform(-1.0, 1.0, size=(4000, 12))
    p = softmax(scores, 0.05)
    y = np.array([rng.choice(12, p=row) for row in p])
    t = fit_temperature(scores, y)
    assert t == pytest.approx(0.05, rel=0.1)
    # and it is the minimum of the log loss on a fine grid (checked with SciPy's log_softmax)
    grid = np.exp(np.linspace(np.log(0.02), np.log(0.12), 400))
    nll = [-np.mean(log_softmax(scores / g, axis=1)[np.arange(y.size), y]) for g in grid]
    assert t == pytest.approx(grid[int(np.argmin(nll))], rel=0.01)


@pytest.mark.parametrize("k", [1, 3, 7, 40])
def test_top_k_equals_a_stable_full_sort_with_ties(k):
    rng = np.random.default_rng(7)
    # few distinct values: many ties at the k-th place, which a partition alone picks arbitrarily
    scores = rng.integers(0, 4, size=(200, 30)).astype(float)
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(scoring.top_k(scores, k), expected)
    real = rng.random((50, 1000))
    np.testing.assert_array_equal(
        scoring.top_k(real, k), np.argsort(-real, axis=1, kind="stable")[:, :k]
    )


def test_top1_and_mrr_by_hand():
    scores = np.array([[0.9, 0.5, 0.1], [0.2, 0.3, 0.8], [0.5, 0.5, 0.1]])
    top1, mrr = top1_and_mrr(scores, np.array([0, 1, 0]))
    assert top1 == pytest.approx(2 / 3)  # a tie is a first place
    assert mrr == pytest.approx((1 + 1 / 2 + 1) / 3)


@pytest.mark.parametrize("metric", ["pearson", "cosine"])
@pytest.mark.parametrize("d", [0.0, 0.4, 1.0])
@pytest.mark.parametrize("derivative", ["gradient", "difference"])
def test_features_give_the_blended_similarity(raman_small, metric, d, derivative):
    X = raman_small[0][:6]
    A = np.sign(X) * np.abs(X) ** 0.5
    D = np.gradient(A, axis=1) if derivative == "gradient" else np.diff(A, axis=1)

    def similarity(P):
        if metric == "pearson":
            return np.corrcoef(P)
        U = P / np.linalg.norm(P, axis=1, keepdims=True)
        return U @ U.T

    expected = (1 - d) * similarity(A) + d * similarity(D)
    F = correlation_features(X, metric=metric, derivative_weight=d, derivative=derivative)
    np.testing.assert_allclose(F @ F.T, expected, atol=1e-5)
    assert F.dtype == np.float32


def test_pooling_and_clipped_power(raman_small):
    X = raman_small[0][:4].copy()
    X[:, :10] = -0.2  # negative values: clipped (not sign-kept) when signed=False
    Z = np.sqrt(np.clip(X, 0, None))
    Z = Z[:, : X.shape[1] // 3 * 3].reshape(4, -1, 3).mean(axis=2)
    F = correlation_features(X, power=0.5, signed=False, pool=3)
    np.testing.assert_allclose(F @ F.T, np.corrcoef(Z), atol=1e-5)


def test_flat_rows_give_zero_similarity_and_input_is_not_mutated():
    X = np.vstack([np.ones(20), np.arange(20.0)])
    before = X.copy()
    F = correlation_features(X, derivative_weight=0.5)
    assert np.all(np.isfinite(F)) and np.all(F[0] == 0)
    np.testing.assert_array_equal(X, before)


def test_power_transform_signed_and_clipped():
    x = np.array([-4.0, 0.0, 9.0])
    np.testing.assert_allclose(power_transform(x, 0.5), [-2.0, 0.0, 3.0])
    np.testing.assert_allclose(power_transform(x, 0.5, signed=False), [0.0, 0.0, 3.0])
    np.testing.assert_allclose(power_transform(x, 1.0, signed=False), [0.0, 0.0, 9.0])
    np.testing.assert_allclose(power_transform(x, 0.3, signed=False), [0.0, 0.0, 9.0**0.3])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"metric": "euclid"}, "metric 'euclid' is not one of pearson, cosine"),
        ({"derivative": "spline"}, "derivative 'spline' is not one of"),
        ({"derivative_weight": 1.5}, r"derivative_weight must be in \[0, 1\]"),
        ({"power": 0.0}, "power must be positive"),
        ({"pool": 0}, "pool must be a positive"),
    ],
)
def test_bad_settings_are_named(params, message):
    with pytest.raises(InputError, match=message):
        correlation_features(np.ones((2, 5)), **params)


def test_doctests():
    assert doctest.testmod(scoring, optionflags=doctest.ELLIPSIS).failed == 0
