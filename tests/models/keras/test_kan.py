"""KAN layers against NumPy/SciPy implementations of the same bases, grid update, Keras
serialisation, and KANClassifier on real RRUFF spectra."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from scipy.interpolate import BSpline  # noqa: E402

from lithoscope.errors import InputError  # noqa: E402
from lithoscope.models.base import load_model  # noqa: E402
from lithoscope.models.keras.kan import KANClassifier  # noqa: E402
from lithoscope.models.keras.layers import (  # noqa: E402
    KANLinear,
    bspline_basis,
    chebyshev_basis,
    rbf_basis,
    uniform_knots,
)
from lithoscope.spectra.spectrum import SpectralCollection  # noqa: E402

RNG = np.random.default_rng(20240611)


def numpy_silu(x):
    return x / (1.0 + np.exp(-x))


def numpy_basis(layer: KANLinear, x: np.ndarray) -> np.ndarray:
    """(batch, in, n_basis) basis values computed independently of keras.ops."""
    if layer.basis == "bspline":
        grid = np.asarray(layer.grid)
        out = np.zeros((x.shape[0], x.shape[1], layer.n_basis))
        for i in range(x.shape[1]):
            knots = grid[i]
            for k in range(layer.n_basis):
                element = BSpline.basis_element(
                    knots[k : k + layer.spline_order + 2], extrapolate=False
                )
                out[:, i, k] = np.nan_to_num(element(x[:, i]))
        return out
    if layer.basis == "rbf":
        lo, hi = layer.grid_range
        centers = np.linspace(lo, hi, layer.grid_size)
        h = (hi - lo) / (layer.grid_size - 1)
        return np.exp(-(((x[..., None] - centers) / h) ** 2))
    return np.polynomial.chebyshev.chebvander(np.tanh(x), layer.grid_size)


def numpy_layer(layer: KANLinear, x: np.ndarray) -> np.ndarray:
    base = numpy_silu(x) @ np.asarray(layer.base_kernel)
    values = numpy_basis(layer, x).reshape(x.shape[0], -1)
    return base + values @ np.asarray(layer.spline_kernel) + np.asarray(layer.bias)


def test_bspline_basis_against_scipy_design_matrix():
    order, size = 3, 6
    knots = uniform_knots(-1.0, 1.0, size, order)
    x = np.sort(RNG.uniform(-0.999, 0.999, 50))
    ours = np.asarray(bspline_basis(x[:, None].astype("float32"), knots[None, :], order))[:, 0, :]
    reference = BSpline.design_matrix(x, knots, order).toarray()
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    np.testing.assert_allclose(ours.sum(axis=1), 1.0, atol=1e-5)  # partition of unity


def test_rbf_and_chebyshev_bases_against_numpy():
    x = RNG.normal(size=(7, 3)).astype("float32")
    centers = np.linspace(-2, 2, 5).astype("float32")
    np.testing.assert_allclose(
        np.asarray(rbf_basis(x, centers, 1.0)),
        np.exp(-((x[..., None] - centers) ** 2)),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        np.asarray(chebyshev_basis(x, 4)),
        np.polynomial.chebyshev.chebvander(np.tanh(x), 4),
        atol=1e-5,
    )


@pytest.mark.parametrize("basis", ["bspline", "rbf", "chebyshev"])
def test_layer_forward_against_numpy(basis):
    layer = KANLinear(4, basis=basis, grid_size=5, seed=1)
    x = RNG.uniform(-1.9, 1.9, size=(16, 3)).astype("float32")
    out = np.asarray(layer(x))
    # non-zero spline weights so the basis part counts
    layer.spline_kernel.assign(RNG.normal(size=layer.spline_kernel.shape).astype("float32"))
    out = np.asarray(layer(x))
    np.testing.assert_allclose(out, numpy_layer(layer, x.astype(np.float64)), rtol=1e-4, atol=1e-4)
    assert out.shape == (16, 4)


def test_grid_update_moves_knots_to_the_data_and_keeps_the_function():
    layer = KANLinear(3, grid_size=5, spline_order=3, grid_range=(-3.0, 3.0), seed=2)
    x = RNG.uniform(-1.0, 1.0, size=(512, 2)).astype("float32")
    layer(x)
    layer.spline_kernel.assign(RNG.normal(size=layer.spline_kernel.shape).astype("float32"))
    before = np.asarray(layer(x))
    layer.update_grid(x, margin=0.0, grid_eps=0.0)
    grid = np.asarray(layer.grid)
    # the grid's interior knots are the data quantiles (grid_eps=0): first and last = min, max
    np.testing.assert_allclose(grid[:, 3], x.min(axis=0), atol=1e-6)
    np.testing.assert_allclose(grid[:, -4], x.max(axis=0), atol=1e-6)
    np.testing.assert_allclose(grid[:, 5], np.sort(x, axis=0)[204], atol=1e-6)
    after = np.asarray(layer(x))
    rms = np.sqrt(np.mean((after - before) ** 2)) / np.std(before)
    assert rms < 0.05  # the smooth old functions are re-expressed on the finer grid
    layer.update_grid(x, margin=0.0, grid_eps=0.0)  # same data, same grid: nothing changes
    np.testing.assert_allclose(np.asarray(layer(x)), after, atol=1e-3)
    with pytest.raises(InputError, match="update_grid applies to basis='bspline'"):
        KANLinear(2, basis="rbf").update_grid(x)


@pytest.mark.parametrize("basis", ["bspline", "rbf", "chebyshev"])
def test_layer_config_round_trip(basis):
    layer = KANLinear(3, basis=basis, grid_size=4, spline_order=2, grid_range=(-1.5, 2.0), seed=5)
    x = RNG.normal(size=(5, 6)).astype("float32")
    out = np.asarray(layer(x))
    clone = KANLinear.from_config(layer.get_config())
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x)), out, atol=1e-6)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert restored.get_config() == layer.get_config()


def test_bad_layer_options():
    with pytest.raises(InputError, match="basis='fourier' is not one of bspline, rbf, chebyshev"):
        KANLinear(2, basis="fourier")
    with pytest.raises(InputError, match="grid_range"):
        KANLinear(2, grid_range=(1.0, 1.0))


# ------------------------------------------------------------------ KANClassifier

SMALL = {
    "n_components": 24,
    "hidden": (16,),
    "epochs": 40,
    "batch_size": 32,
    "learning_rate": 1e-2,
    "validation_size": 0.2,
    "patience": None,
}


@pytest.fixture(scope="module")
def fitted(raman_small, split_small):
    X, y, groups, axis = raman_small
    train, _ = split_small
    model = KANClassifier(axis=axis, **SMALL)
    assert model.fit(X[train], y[train], groups=groups[train]) is model
    return model


def test_kan_classifier_learns_held_out_samples(fitted, raman_small, split_small):
    X, y, _, _ = raman_small
    _, test = split_small
    assert np.mean(fitted.predict(X[test]) == y[test]) > 0.25  # chance: 1/30


def test_kan_classifier_contract_and_round_trip(fitted, raman_small, split_small, tmp_path):
    X, y, _, axis = raman_small
    train, test = split_small
    np.testing.assert_array_equal(fitted.classes_, np.unique(y[train]))
    proba = fitted.predict_proba(X[test])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    for cands in fitted.predict_topk(X[test][:4], k=3):
        probs = [c.probability for c in cands]
        assert probs == sorted(probs, reverse=True)
    with pytest.raises(InputError, match="another axis"):
        fitted.predict(SpectralCollection(axis - 2.0, X[:2], "raman"))
    fitted.save(tmp_path / "kan")
    again = load_model(tmp_path / "kan")
    np.testing.assert_allclose(again.predict_proba(X), fitted.predict_proba(X), atol=1e-6)
    # the PCA projection is part of the saved Keras model
    assert again.model_.get_layer("pca").trainable is False


@pytest.mark.parametrize("basis", ["rbf", "chebyshev"])
def test_other_bases_train(basis, raman_small):
    X, y, _, axis = raman_small
    model = KANClassifier(axis=axis, basis=basis, **{**SMALL, "epochs": 2})
    model.fit(X, y)
    np.testing.assert_allclose(model.predict_proba(X[:3]).sum(axis=1), 1.0, atol=1e-9)


def test_bad_classifier_parameters(raman_small):
    X, y, _, _ = raman_small
    with pytest.raises(InputError, match="basis='spline' is not one of"):
        KANClassifier(basis="spline").fit(X, y)
    with pytest.raises(InputError, match="n_components must be a positive integer"):
        KANClassifier(n_components=0).fit(X, y)
