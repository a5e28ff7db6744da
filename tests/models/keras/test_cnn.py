"""CNNClassifier: learning on real RRUFF spectra, the estimator contract, matching, hybrid score,
few-shot `add_class`, persistence, and its Keras layers.

Models are tiny (two conv blocks, 16-d embedding) and train for a few epochs: the point is the
behaviour, not the accuracy (benchmarks/identification.py measures that).
"""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from lithoscope.errors import InputError  # noqa: E402
from lithoscope.models.base import load_model  # noqa: E402
from lithoscope.models.keras.cnn import CNNClassifier, library_features  # noqa: E402
from lithoscope.models.keras.layers import CosineProxies, PowerScale  # noqa: E402
from lithoscope.models.keras.training import compile_forward  # noqa: E402
from lithoscope.spectra.spectrum import SpectralCollection  # noqa: E402

TINY = {
    "channels": (4, 8),
    "embedding_dim": 16,
    "epochs": 12,
    "batch_size": 16,
    "learning_rate": 3e-3,
    "validation_size": 0.2,
    "patience": None,
    "eval_every": 4,
}


@pytest.fixture(scope="module")
def fitted(raman_small, split_small):
    X, y, groups, axis = raman_small
    train, _ = split_small
    model = CNNClassifier(axis=axis, **TINY)
    returned = model.fit(X[train], y[train], groups=groups[train])
    assert returned is model
    return model


def test_learns_to_identify_held_out_samples(fitted, raman_small, split_small):
    X, y, _, _ = raman_small
    _, test = split_small
    embedding_only = fitted.hybrid_weight_  # chosen on validation; check the embedding alone too
    top1 = np.mean(fitted.predict(X[test]) == y[test])
    assert top1 > 0.5  # chance: 1/30
    fitted.hybrid_weight_ = 1.0
    try:
        assert np.mean(fitted.predict(X[test]) == y[test]) > 0.3
    finally:
        fitted.hybrid_weight_ = embedding_only


def test_estimator_contract(fitted, raman_small, split_small):
    X, y, _, axis = raman_small
    train, test = split_small
    np.testing.assert_array_equal(fitted.classes_, np.unique(y[train]))
    np.testing.assert_array_equal(fitted.axis_, axis)
    proba = fitted.predict_proba(X[test])
    assert proba.shape == (test.size, fitted.classes_.size)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert np.all(proba >= 0)
    np.testing.assert_array_equal(fitted.predict(X[test]), fitted.classes_[proba.argmax(axis=1)])
    for cands, row in zip(fitted.predict_topk(X[test][:5], k=4), proba[:5], strict=True):
        probs = [c.probability for c in cands]
        assert probs == sorted(probs, reverse=True) and len(cands) == 4
        assert probs[0] == pytest.approx(row.max())
    # parameters are stored unchanged and are keyword-only
    assert fitted.get_params()["channels"] == (4, 8)
    with pytest.raises(TypeError):
        CNNClassifier(None)  # type: ignore[misc]


def test_scores_are_best_reference_similarities(fitted, raman_small, split_small):
    X, y, _, _ = raman_small
    train, test = split_small
    q = X[test][:4]
    E_ref = fitted.embed(X[train])
    E_q = fitted.embed(q)
    np.testing.assert_allclose(np.linalg.norm(E_q, axis=1), 1.0, atol=1e-5)
    cos = E_q @ E_ref.T
    d = fitted.derivative_weight_
    P = library_features(q, d) @ library_features(X[train], d).T
    w, p = fitted.hybrid_weight_, fitted.prototype_weight
    scores = fitted.class_scores(q)
    for j, mineral in enumerate(fitted.classes_):
        mine = y[train] == mineral
        prototype = E_ref[mine].mean(axis=0)
        prototype /= np.linalg.norm(prototype)
        embedding = (1 - p) * cos[:, mine].max(axis=1) + p * E_q @ prototype
        expected = w * embedding + (1 - w) * P[:, mine].max(axis=1)
        np.testing.assert_allclose(scores[:, j], expected, atol=1e-5)


@pytest.mark.parametrize("d", [0.0, 0.3, 1.0])
def test_library_features_against_numpy_corrcoef(raman_small, d):
    X = raman_small[0][:6]
    Z = np.sqrt(X)[:, : X.shape[1] // 4 * 4].reshape(6, -1, 4).mean(axis=2)
    expected = (1 - d) * np.corrcoef(Z) + d * np.corrcoef(np.diff(Z, axis=1))
    F = library_features(X, d)
    np.testing.assert_allclose(F @ F.T, expected, atol=1e-5)


def test_validation_chooses_hybrid_weight_and_temperature(fitted):
    assert 0.0 <= fitted.hybrid_weight_ <= 1.0
    assert 1e-4 < fitted.temperature_ < 100
    assert fitted.history_["n_validation"] > 0
    assert 1 <= fitted.history_["best_epoch"] <= TINY["epochs"]
    assert any(k.startswith("top1_w") for k in fitted.validation_scores_)


def test_axis_mismatch_is_refused(fitted, raman_small):
    X, _, _, axis = raman_small
    with pytest.raises(InputError, match="another axis"):
        fitted.predict(SpectralCollection(axis + 1.0, X[:2], "raman"))
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X[:2, :-1])
    with pytest.raises(ValueError, match="NaN"):
        fitted.predict(np.full((1, axis.size), np.nan))


def test_single_spectrum_matches_batch(fitted, raman_small):
    X = raman_small[0]
    batch = fitted.predict_proba(X[:7])
    one = np.vstack([fitted.predict_proba(X[i : i + 1]) for i in range(7)])
    np.testing.assert_allclose(one, batch, atol=1e-6)


def test_save_load_round_trip(fitted, raman_small, tmp_path):
    X = raman_small[0]
    fitted.save(tmp_path / "cnn")
    assert (tmp_path / "cnn" / "model.keras").is_file()
    again = load_model(tmp_path / "cnn")
    assert isinstance(again, CNNClassifier)
    np.testing.assert_allclose(again.predict_proba(X), fitted.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(again.embed(X[:3]), fitted.embed(X[:3]), atol=1e-6)
    params, before = again.get_params(), fitted.get_params()
    np.testing.assert_array_equal(params.pop("axis"), before.pop("axis"))
    assert params == {**before, "channels": [4, 8]}


def test_add_class_learns_a_new_mineral_without_retraining(raman_small, split_small, fitted):
    X, y, _, _ = raman_small
    train, test = split_small
    new = fitted.classes_[3]
    keep = y[train] != new
    model = CNNClassifier(**{**fitted.get_params(), "epochs": 2, "eval_every": 1})
    model.fit(X[train][keep], y[train][keep])
    assert new not in model.classes_
    weights = [w.copy() for w in model.model_.get_weights()]
    model.add_class(new, X[train][~keep])
    assert new in model.classes_
    assert list(model.classes_) == sorted(model.classes_)
    for before, after in zip(weights, model.model_.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    # its own reference spectra now match it best
    np.testing.assert_array_equal(model.predict(X[train][~keep]), new)
    proba = model.predict_proba(X[test])
    assert proba.shape[1] == model.classes_.size
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)


def test_kan_head(raman_small, split_small, tmp_path):
    X, y, groups, axis = raman_small
    train, test = split_small
    model = CNNClassifier(axis=axis, head="kan", **{**TINY, "epochs": 3})
    model.fit(X[train], y[train], groups=groups[train])
    proba = model.predict_proba(X[test])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert np.mean(model.predict(X[test]) == y[test]) > 0.1  # chance: 1/30
    model.save(tmp_path / "kan-head")
    again = load_model(tmp_path / "kan-head")
    np.testing.assert_allclose(again.predict_proba(X[test]), proba, atol=1e-6)
    with pytest.raises(InputError, match="add_class needs head='match'"):
        model.add_class("Newite", X[:2])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"head": "mlp"}, "head='mlp' is not one of match, kan"),
        ({"hybrid_weight": 1.5}, "hybrid_weight must be"),
        ({"prototype_weight": -0.1}, "prototype_weight must be"),
        ({"derivative_weight": "yes"}, "derivative_weight must be"),
        ({"head": "kan", "hybrid_weight": 0.5}, "applies to head='match' only"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"augment": {"shfit": 1.0}}, "unknown augment option"),
        ({"validation_size": 1.5}, "validation_size"),
    ],
)
def test_bad_parameters_are_refused_in_fit(params, message, raman_small):
    X, y, _, _ = raman_small
    with pytest.raises(InputError, match=message):
        CNNClassifier(**params).fit(X[:20], y[:20])


def test_groups_must_match_spectra(raman_small):
    X, y, groups, _ = raman_small
    with pytest.raises(InputError, match="groups has 3 entries"):
        CNNClassifier(**TINY).fit(X[:20], y[:20], groups=groups[:3])


def test_no_validation_split_still_fits(raman_small):
    X, y, _, _ = raman_small
    model = CNNClassifier(**{**TINY, "epochs": 1, "validation_size": 0.0, "hybrid_weight": 0.5})
    model.fit(X[:30], y[:30])
    assert model.hybrid_weight_ == 0.5 and model.history_["n_validation"] == 0


# ------------------------------------------------------------------ Keras layers


@pytest.mark.parametrize(
    "layer",
    [PowerScale(0.5), PowerScale(0.3), CosineProxies(5, seed=3)],
    ids=["sqrt", "power", "proxies"],
)
def test_layer_config_round_trip(layer):
    x = np.abs(np.random.default_rng(0).normal(size=(3, 8))).astype("float32")
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    out = np.asarray(layer(x))
    clone = type(layer).from_config(layer.get_config())
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x)), out, atol=1e-6)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert restored.get_config() == layer.get_config()


def test_layers_against_numpy():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 4, size=(4, 6)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(PowerScale(0.5)(x)), np.sqrt(np.clip(x, 0, None)), rtol=1e-6
    )
    np.testing.assert_allclose(
        np.asarray(PowerScale(0.3)(x)), np.clip(x, 0, None) ** 0.3, rtol=1e-5
    )
    e = x / np.linalg.norm(x, axis=1, keepdims=True)
    proxies = CosineProxies(3, seed=0)
    out = np.asarray(proxies(e))
    w = proxies.get_weights()[0]
    np.testing.assert_allclose(out, e @ (w / np.linalg.norm(w, axis=0)), atol=1e-6)
    with pytest.raises(InputError, match="power must be in"):
        PowerScale(0.0)


def test_jitted_forward_equals_predict(fitted, raman_small):
    X = raman_small[0][:5].astype("float32")
    forward = compile_forward(fitted.model_)
    np.testing.assert_allclose(forward(X), fitted.model_.predict(X, verbose=0), atol=1e-5)
    np.testing.assert_allclose(forward(X[:1]), forward(X)[:1], atol=1e-6)
