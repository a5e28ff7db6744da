"""Occlusion, integrated gradients, top regions, the explanation JSON and the plot helper.

Occlusion is checked on a model whose decision depends on one band only (the attribution must
sit on that band and be exactly zero where no window touches it), against a plain loop over
occluded copies, and, for LibrarySearch's shortcut, against the batched ``predict_proba``.
Integrated gradients are checked on a tiny Keras model against a Riemann sum of central
differences of a NumPy implementation of the same network, and by the completeness axiom.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from lithoscope.errors import InputError
from lithoscope.explain import (
    BASELINES,
    explain_batch,
    explain_identification,
    integrated_gradients,
    keras_class_probability,
    occlusion,
    occlusion_batch,
    occlusion_windows,
    shade_attribution,
    top_regions,
)
from lithoscope.explain.attribution import _library_search_proba
from lithoscope.models.base import SpectralClassifier
from lithoscope.models.library import LibrarySearch

AXIS = np.arange(100.0, 1401.0)  # the Raman preset's grid: 1301 points, 1 cm-1
BAND = (500, 520)  # indices of the decisive band: 600-619 cm-1


def lorentzian(axis: np.ndarray, centre: float, height: float, fwhm: float) -> np.ndarray:
    return height / (1.0 + ((axis - centre) / (fwhm / 2.0)) ** 2)


class BandModel(SpectralClassifier):
    """P(first class) = sigmoid(gain * (mean intensity over ``band`` - a fitted threshold))."""

    def __init__(self, *, axis=None, band=BAND, gain=20.0):
        self.axis = axis
        self.band = band
        self.gain = gain

    def _fit(self, X, y):
        level = X[:, self.band[0] : self.band[1]].mean(axis=1)
        self.threshold_ = 0.5 * (level[y == 0].mean() + level[y == 1].mean())

    def _scores(self, X):
        z = self.gain * (X[:, self.band[0] : self.band[1]].mean(axis=1) - self.threshold_)
        p = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([p, 1.0 - p]), np.column_stack([z, -z])


def _spectrum(rng, centres, heights, fwhm=8.0):
    y = sum(lorentzian(AXIS, c, h, fwhm) for c, h in zip(centres, heights, strict=True))
    return y + rng.normal(0.0, 0.005, AXIS.size).clip(0)


@pytest.fixture(scope="module")
def band_model():
    """Fitted `BandModel` and a query with the band at 610 and taller bands elsewhere."""
    rng = np.random.default_rng(0)
    X, y = [], []
    for k in range(20):
        others = rng.uniform(150, 1350, 3)
        others = others[np.abs(others - 610) > 60]
        has_band = k % 2 == 0
        centres = [*others, 610.0] if has_band else list(others)
        X.append(_spectrum(rng, centres, rng.uniform(0.3, 1.0, len(centres))))
        y.append("banded" if has_band else "plain")
    model = BandModel(axis=AXIS).fit(np.array(X), np.array(y))
    query = _spectrum(rng, [300.0, 610.0, 900.0, 1100.0], [1.0, 0.4, 0.9, 0.8])
    return model, query


def _fills(x, start, stop, kind):
    """Baselines written independently of the module (np.interp for the local line)."""
    if kind == "zero":
        return np.zeros(stop - start)
    if kind == "mean":
        return np.full(stop - start, np.mean(x))
    left, right = max(start - 1, 0), min(stop, x.size - 1)
    return np.interp(np.arange(start, stop), [left, right], [x[left], x[right]])


def occlusion_by_loop(model, x, target, window, stride, kind):
    """One predict_proba call per occluded copy: the slow, obvious implementation."""
    n = x.size
    starts = list(range(0, n - window + 1, stride))
    if starts[-1] + window < n:
        starts.append(n - window)
    p0 = model.predict_proba(x[None, :])[0, target]
    total, count = np.zeros(n), np.zeros(n)
    for s in starts:
        occluded = x.copy()
        occluded[s : s + window] = _fills(x, s, s + window, kind)
        drop = p0 - model.predict_proba(occluded[None, :])[0, target]
        total[s : s + window] += drop / window
        count[s : s + window] += 1
    return total / count


# ----------------------------------------------------------------------------- occlusion
@pytest.mark.parametrize("baseline", sorted(BASELINES))
def test_occlusion_puts_the_attribution_on_the_decisive_band(band_model, baseline):
    model, query = band_model
    assert model.predict(query[None])[0] == "banded"
    window, stride = 20, 10
    a = occlusion(model, query, window=window, stride=stride, baseline=baseline)
    assert a.shape == AXIS.shape
    assert BAND[0] <= int(np.argmax(a)) < BAND[1]
    # points whose every covering window misses the band cannot matter at all, even under the
    # query's taller bands at 300, 900 and 1100 cm-1
    touched = np.zeros(AXIS.size, dtype=bool)
    for s, e in occlusion_windows(AXIS.size, window, stride):
        if s < BAND[1] and e > BAND[0]:
            touched[s:e] = True
    assert np.all(a[~touched] == 0.0) and touched.sum() < 60
    assert a[BAND[0] : BAND[1]].min() > 0
    regions = top_regions(a, AXIS, n=1)
    assert regions[0][0] <= 610 <= regions[0][1]


@pytest.mark.parametrize("baseline", sorted(BASELINES))
@pytest.mark.parametrize(("window", "stride"), [(20, 10), (15, 15), (16, 7), (1, 1)])
def test_occlusion_batch_equals_loop(band_model, baseline, window, stride):
    model, query = band_model
    batched = occlusion(model, query, window=window, stride=stride, baseline=baseline)
    looped = occlusion_by_loop(model, query, 0, window, stride, baseline)
    np.testing.assert_allclose(batched, looped, rtol=1e-10, atol=1e-15)
    # the other class's attribution is the mirror image (two classes, probabilities sum to 1)
    other = occlusion(model, query, target="plain", window=window, stride=stride, baseline=baseline)
    np.testing.assert_allclose(other, -batched, atol=1e-12)


def _counting(model, calls):
    """A copy of the fitted ``BandModel`` that records the shape of each predict_proba batch."""

    class Counting(BandModel):
        def predict_proba(self, X):
            calls.append(np.shape(X))
            return super().predict_proba(X)

    counting = Counting(axis=AXIS)
    counting.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    return counting


def test_occlusion_is_one_batched_predict_proba_call(band_model):
    model, query = band_model
    calls = []
    counting = _counting(model, calls)
    occlusion(counting, query, window=20, stride=10)
    assert calls == [(len(occlusion_windows(AXIS.size, 20, 10)) + 1, AXIS.size)]


def test_occlusion_batch_shares_model_calls_and_equals_one_by_one(band_model):
    model, query = band_model
    rng = np.random.default_rng(3)
    X = np.stack([query, query[::-1], query + rng.normal(0, 0.01, query.size)])
    calls = []
    counting = _counting(model, calls)
    per = len(occlusion_windows(AXIS.size, 20, 10)) + 1
    # rows for two spectra per call: calls of 2 and 1 spectra
    attributions, targets = occlusion_batch(
        counting, X, [None, "plain", 0], window=20, stride=10, max_rows=2 * per
    )
    assert calls == [(2 * per, AXIS.size), (per, AXIS.size)]
    for x, target, got, t in zip(X, [None, "plain", 0], attributions, targets, strict=True):
        np.testing.assert_allclose(got, occlusion(model, x, target=target), rtol=1e-12)
        expected_t = int(np.argmax(model.predict_proba(x[None])[0])) if target is None else None
        assert t == {None: expected_t, "plain": 1, 0: 0}[target]
    with pytest.raises(InputError, match="one per spectrum"):
        occlusion_batch(model, X, [None])
    with pytest.raises(InputError, match="2-D batch"):
        occlusion_batch(model, query)


def test_occlusion_windows_cover_every_point_once_or_more():
    for n, window, stride in [(1301, 20, 10), (100, 7, 3), (10, 10, 1), (11, 4, 3)]:
        windows = occlusion_windows(n, window, stride)
        covered = np.zeros(n, dtype=int)
        for s, e in windows:
            assert e - s == window and 0 <= s < e <= n
            covered[s:e] += 1
        assert covered.min() >= 1
    with pytest.raises(InputError, match="window must be between 1"):
        occlusion_windows(10, 11, 1)
    with pytest.raises(InputError, match="stride must be at least 1"):
        occlusion_windows(10, 5, 0)


def test_occlusion_errors_and_no_mutation(band_model):
    model, query = band_model
    before = query.copy()
    occlusion(model, query, baseline="local")
    np.testing.assert_array_equal(query, before)
    with pytest.raises(InputError, match="1301 points"):
        occlusion(model, query[:-1])
    with pytest.raises(InputError, match="NaN"):
        occlusion(model, np.r_[query[:-1], np.nan])
    with pytest.raises(InputError, match="baseline 'blur' is not one of"):
        occlusion(model, query, baseline="blur")
    with pytest.raises(InputError, match="target 'Quartz' is not a class"):
        occlusion(model, query, target="Quartz")
    with pytest.raises(InputError, match="class index below 2"):
        occlusion(model, query, target=2)
    with pytest.raises(InputError, match="window must be"):
        occlusion(model, query, window=0)


# ----------------------------------------------------------------------------- LibrarySearch
def _library(rng, class_bands, per_class=5):
    X, y = [], []
    for name, bands in class_bands.items():
        for _ in range(per_class):
            s = _spectrum(
                rng,
                [c + rng.normal(0, 1.5) for c in bands],
                rng.uniform(0.5, 1.0, len(bands)),
            )
            X.append(s / s.max())
            y.append(name)
    return np.array(X), np.array(y)


@pytest.fixture(scope="module")
def library():
    """(class bands, X, y, query of class 'a'): eight minerals, five references each."""
    rng = np.random.default_rng(1)
    class_bands = {"a": [300.0, 700.0], "b": [300.0, 900.0]}
    for k, name in enumerate("cdefgh"):
        class_bands[name] = sorted(rng.uniform(150, 1350, 3 + k % 3).tolist())
    X, y = _library(rng, class_bands)
    query = _spectrum(rng, [301.0, 699.0], [1.0, 0.7])
    return class_bands, X, y, query / query.max()


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"metric": "cosine"},
        {"power": 1.0},
        {"derivative_weight": 0.3},
        {"derivative_weight": 1.0, "metric": "cosine"},
    ],
    ids=["default", "cosine", "power1", "derivative", "derivative-only"],
)
@pytest.mark.parametrize("baseline", sorted(BASELINES))
def test_library_search_shortcut_equals_predict_proba(library, params, baseline):
    _, X, y, query = library
    model = LibrarySearch(axis=AXIS, temperature=0.05, **params).fit(X, y)
    windows = occlusion_windows(AXIS.size, 20, 10)
    fills = [BASELINES[baseline](query, s, e) for s, e in windows]
    batch = np.repeat(query[None, :], len(windows) + 1, axis=0)
    for row, ((s, e), fill) in enumerate(zip(windows, fills, strict=True), start=1):
        batch[row, s:e] = fill
    expected = model.predict_proba(batch)
    got = _library_search_proba(model, query, windows, fills)
    # float32 similarities divided by the temperature: 1e-6 * 1 / 0.05 relative, with margin
    np.testing.assert_allclose(got, expected, atol=2e-5)
    fast = occlusion(model, query, baseline=baseline)
    generic = occlusion(model, query, baseline=baseline, fast=False)
    np.testing.assert_allclose(fast, generic, atol=2e-6)


def test_library_search_attribution_finds_the_band_that_tells_a_from_b(library):
    _, X, y, query = library
    model = LibrarySearch(axis=AXIS, temperature=0.05).fit(X, y)
    assert model.predict(query[None])[0] == "a"
    a = occlusion(model, query, target="a")
    at = {c: a[np.abs(AXIS - c) <= 10].sum() for c in (300, 700, 900)}
    # 300 is shared with 'b'; 700 is what only 'a' has
    assert at[700] > 0 and at[700] > 3 * abs(at[300]), at
    assert top_regions(a, AXIS)[0][0] <= 700 <= top_regions(a, AXIS)[0][1]
    looped = occlusion_by_loop(model, query, 0, 20, 10, "zero")
    np.testing.assert_allclose(a, looped, atol=2e-6)


class _Counting(LibrarySearch):
    """LibrarySearch that counts its ``predict_proba`` calls (the generic path makes one)."""

    def predict_proba(self, X):
        self.calls.append(np.shape(X))
        return super().predict_proba(X)


def test_the_shortcut_is_chosen_by_capability_not_by_type_name(library):
    _, X, y, query = library
    model = _Counting(axis=AXIS, temperature=0.05).fit(X, y)
    model.calls = []
    # a subclass keeps the declared features, so it keeps the shortcut: no batch call
    fast = occlusion(model, query)
    assert model.calls == []
    generic = occlusion(model, query, fast=False)
    assert len(model.calls) == 1
    np.testing.assert_allclose(fast, generic, atol=2e-6)


def test_a_model_that_switches_the_capability_off_takes_the_generic_path(library):
    _, X, y, query = library

    class Reweighted(_Counting):
        feature_params = None  # scores otherwise: the shortcut must not guess

        def _scores(self, X):
            proba, scores = super()._scores(X)
            return proba[:, ::-1], scores[:, ::-1]

    model = Reweighted(axis=AXIS, temperature=0.05).fit(X, y)
    model.calls = []
    occlusion(model, query)
    assert len(model.calls) == 1


# ----------------------------------------------------------------------------- integrated grads
@pytest.fixture(scope="module")
def tiny_keras():
    """A 16-12-3 tanh/softmax network and the same maths in NumPy (float64)."""
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("integrated gradients run on the JAX backend")
    keras.utils.set_random_seed(0)
    n = 16
    model = keras.Sequential(
        [
            keras.Input((n,)),
            keras.layers.Dense(12, activation="tanh"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    W1, b1, W2, b2 = (np.asarray(w.value, dtype=np.float64) for w in model.weights)

    def forward(X):
        z = np.tanh(X @ W1 + b1) @ W2 + b2
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    rng = np.random.default_rng(2)
    x = rng.uniform(0.0, 8.0, n)
    baseline = rng.uniform(0.0, 0.2, n)
    # the class whose probability changes most along the path: a demanding completeness test
    target = int(np.argmax(np.abs(forward(x[None])[0] - forward(baseline[None])[0])))
    return model, forward, x, baseline, target


def _numerical_ig(forward, x, baseline, target, steps, h=1e-5):
    """Midpoint Riemann sum of central-difference gradients of the NumPy network."""
    alphas = (np.arange(steps) + 0.5) / steps
    grads = np.zeros((steps, x.size))
    for k, a in enumerate(alphas):
        point = baseline + a * (x - baseline)
        for i in range(x.size):
            e = np.zeros(x.size)
            e[i] = h
            plus = forward((point + e)[None])[0, target]
            minus = forward((point - e)[None])[0, target]
            grads[k, i] = (plus - minus) / (2 * h)
    return (x - baseline) * grads.mean(axis=0)


def test_integrated_gradients_match_numerical_gradients_of_the_same_network(tiny_keras):
    model, forward, x, baseline, target = tiny_keras
    fn = keras_class_probability(model, target)
    ig = integrated_gradients(fn, x, baseline=baseline, steps=32)
    reference = _numerical_ig(forward, x, baseline, target, steps=32)
    # float32 network vs float64 finite differences (truncation ~h**2, rounding ~1e-11 / h)
    np.testing.assert_allclose(ig, reference, atol=2e-5)
    assert np.abs(reference).max() > 1e-2  # a test that could fail


def test_integrated_gradients_completeness(tiny_keras):
    model, forward, x, baseline, target = tiny_keras
    fn = keras_class_probability(model, target)
    delta = forward(x[None])[0, target] - forward(baseline[None])[0, target]
    assert abs(delta) > 0.1
    gaps = []
    for steps in (8, 32, 128):
        ig = integrated_gradients(fn, x, baseline=baseline, steps=steps)
        gaps.append(abs(ig.sum() - delta))
    # the midpoint rule's error falls as 1 / steps**2: 16 x per 4 x steps (float32 floor 1e-6)
    assert gaps[1] <= 1e-2 * abs(delta)
    assert gaps[2] <= 1e-3 * abs(delta)
    assert gaps[1] < gaps[0] / 8 and gaps[2] < max(gaps[1] / 8, 2e-6)
    # zero baseline by default
    default = integrated_gradients(fn, x, steps=32)
    expected = forward(x[None])[0, target] - forward(np.zeros((1, x.size)))[0, target]
    assert default.sum() == pytest.approx(expected, abs=1e-2 * abs(expected) + 1e-5)


def test_integrated_gradients_errors(tiny_keras):
    model, _, x, _, _ = tiny_keras
    with pytest.raises(InputError, match="one value per row"):
        integrated_gradients(lambda X: model(X), x)
    with pytest.raises(InputError, match="baseline has shape"):
        integrated_gradients(keras_class_probability(model, 0), x, baseline=np.zeros(3))
    with pytest.raises(InputError, match="steps must be at least 1"):
        integrated_gradients(keras_class_probability(model, 0), x, steps=0)
    with pytest.raises(InputError, match="one spectrum"):
        integrated_gradients(keras_class_probability(model, 0), x[None, :])


# ----------------------------------------------------------------------------- top_regions
def test_top_regions_merge_widen_rank_and_normalise():
    axis = np.arange(0.0, 200.0)
    a = np.zeros(200)
    a[20:30] = 1.0  # 10 points, weight 10
    a[33:36] = 1.0  # 3 points, 3 points after the previous run: merged with it (min_width 5)
    a[100] = 4.0  # one point: widened to min_width about it
    a[150:170] = 0.5  # weight 10
    a[180:185] = -5.0  # against the target: never a region
    regions = top_regions(a, axis, threshold=0.1)
    assert [r[:2] for r in regions] == [[20.0, 35.0], [150.0, 169.0], [97.5, 102.5]]
    weights = [r[2] for r in regions]
    np.testing.assert_allclose(weights, np.array([13.0, 10.0, 4.0]) / 27.0)
    assert sum(weights) == pytest.approx(1.0)
    # at most n, renormalised over those returned
    two = top_regions(a, axis, n=2, threshold=0.1)
    np.testing.assert_allclose([r[2] for r in two], [13 / 23, 10 / 23])
    # a threshold above a run's level drops it (0.2 * 4 > 0.5); wider gaps are not bridged
    assert [r[:2] for r in top_regions(a, axis, threshold=0.2)] == [[20.0, 35.0], [97.5, 102.5]]
    narrow = top_regions(a, axis, threshold=0.1, min_width=3.0)
    assert sorted(r[:2] for r in narrow) == [[20, 29], [32.5, 35.5], [98.5, 101.5], [150, 169]]
    json.dumps(regions)


def test_top_regions_on_nothing_and_errors():
    axis = np.arange(10.0)
    assert top_regions(np.zeros(10), axis) == []
    assert top_regions(-np.ones(10), axis) == []
    with pytest.raises(InputError, match="1-D of one length"):
        top_regions(np.zeros(9), axis)
    with pytest.raises(InputError, match="NaN"):
        top_regions(np.full(10, np.nan), axis)
    with pytest.raises(InputError, match="n must be at least 1"):
        top_regions(np.ones(10), axis, n=0)
    with pytest.raises(InputError, match="threshold"):
        top_regions(np.ones(10), axis, threshold=0)


# ----------------------------------------------------------------------------- explanation JSON
def test_explain_identification_json_shape(library):
    class_bands, X, y, query = library
    model = LibrarySearch(axis=AXIS, temperature=0.05).fit(X, y)
    bands = {m: [{"position": c, "intensity": 1.0} for c in cs] for m, cs in class_bands.items()}
    asked = []

    def bands_for(mineral):
        asked.append(mineral)
        return bands[mineral]

    candidates = [c.mineral for c in model.predict_topk(query[None], k=3)[0]]
    out = explain_identification(model, query, AXIS, candidates, bands_for)
    assert asked == candidates
    assert set(out) == {"target", "top_regions", "peaks", "candidates", "unmatched_strong_peaks"}
    assert out["target"] == candidates[0] == "a"
    assert all(len(r) == 3 and r[0] <= r[1] for r in out["top_regions"])
    assert sum(r[2] for r in out["top_regions"]) == pytest.approx(1.0)
    by_position = {round(p["position"]): p for p in out["peaks"]}
    assert by_position[699]["matches"]["a"] == 700.0 and by_position[699]["matches"]["b"] is None
    a_row = out["candidates"][0]
    assert a_row["mineral"] == "a" and a_row["match_fraction"] == 1.0
    assert out["unmatched_strong_peaks"] == []
    assert json.loads(json.dumps(out)) == out

    full = explain_identification(
        model, query, AXIS, candidates, bands_for, include_attribution=True, target="b"
    )
    assert full["target"] == "b" and len(full["attribution"]) == AXIS.size
    expected = occlusion(model, query, target="b")
    np.testing.assert_allclose(full["attribution"], expected)
    # without candidates the top class is explained and no peaks are matched
    bare = explain_identification(model, query, AXIS, [], bands_for)
    assert bare["target"] == "a" and bare["candidates"] == []
    with pytest.raises(InputError, match="another axis"):
        explain_identification(model, query, AXIS + 0.5, candidates, bands_for)


def test_explain_batch_equals_one_by_one(library):
    class_bands, X, y, query = library
    model = LibrarySearch(axis=AXIS, temperature=0.05).fit(X, y)
    bands = {m: [{"position": c, "intensity": 1.0} for c in cs] for m, cs in class_bands.items()}
    queries = np.stack([query, X[0], X[-1]])
    cands = [[c.mineral for c in row] for row in model.predict_topk(queries, k=2)]
    batch = explain_batch(model, queries, AXIS, cands, bands.__getitem__, include_attribution=True)
    for q, c, got in zip(queries, cands, batch, strict=True):
        one = explain_identification(model, q, AXIS, c, bands.__getitem__, include_attribution=True)
        np.testing.assert_allclose(got.pop("attribution"), one.pop("attribution"), rtol=1e-12)
        assert got == one
    with pytest.raises(InputError, match="one list per spectrum"):
        explain_batch(model, queries, AXIS, cands[:1], bands.__getitem__)


def test_shade_attribution_draws_the_top_regions():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axis = np.arange(0.0, 200.0)
    a = np.zeros(200)
    a[20:30], a[100:120] = 1.0, 2.0
    fig, ax = plt.subplots()
    try:
        spans = shade_attribution(ax, axis, a, alpha=0.4)
        assert len(spans) == 2
        assert spans[0].get_alpha() == pytest.approx(0.4)
        assert spans[1].get_alpha() == pytest.approx(0.4 * 0.25)  # weight 10 vs 40
        assert spans[0].get_label() == "drove the answer"
        assert ax.get_legend_handles_labels()[1] == ["drove the answer"]
        assert shade_attribution(ax, axis, -a) == []
        with pytest.raises(InputError, match="alpha"):
            shade_attribution(ax, axis, a, alpha=0)
    finally:
        plt.close(fig)
