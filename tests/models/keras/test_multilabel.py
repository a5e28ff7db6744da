"""MultiLabelClassifier: a tiny network on mixtures of real RRUFF spectra, persistence, errors."""

from __future__ import annotations

import numpy as np
import pytest

from lithoscope.data.mixtures import load_assemblages, make_mixtures
from lithoscope.errors import InputError, ModelFileError
from lithoscope.models.keras.multilabel import (
    MultiLabelClassifier,
    load_multilabel,
    micro_f1,
)

TINY = {
    "channels": (4, 8),
    "embedding_dim": 8,
    "epochs": 2,
    "steps_per_epoch": 3,
    "batch_size": 16,
    "n_validation": 40,
    "validation_size": 0.3,
}


@pytest.fixture(scope="module")
def rocks_csv(raman_small, tmp_path_factory):
    """Two made-up rock types of the fixture's minerals (the packaged table needs many species)."""
    _, y, _, _ = raman_small
    minerals = sorted(set(y.tolist()))[:8]
    path = tmp_path_factory.mktemp("rocks") / "rocks.csv"
    rows = ["rock,body,slot,species,min_vol,max_vol,source"]
    for r, chunk in enumerate((minerals[:4], minerals[4:])):
        for i, m in enumerate(chunk):
            rows.append(f"rock{r},Moon,s{i},{m},10,40,test")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(path), minerals


@pytest.fixture(scope="module")
def fitted(raman_small, split_small, rocks_csv):
    X, y, groups, axis = raman_small
    train, _ = split_small
    path, _ = rocks_csv
    model = MultiLabelClassifier(axis=axis, assemblages=path, **TINY)
    return model.fit(X[train], y[train], groups=groups[train])


def _test_mixtures(raman_small, split_small, rocks_csv, model, n=30):
    X, y, _, axis = raman_small
    _, test = split_small
    path, minerals = rocks_csv
    pure = {m: X[test][y[test] == m] for m in minerals if (y[test] == m).any()}
    return make_mixtures(
        pure,
        load_assemblages(path),
        n,
        rng=np.random.default_rng(0),
        classes=model.classes_,
        x=axis,
    )


def test_shapes_and_thresholds(fitted, raman_small, split_small, rocks_csv):
    minerals = rocks_csv[1]
    assert set(fitted.classes_) == set(minerals)
    mix = _test_mixtures(raman_small, split_small, rocks_csv, fitted)
    proba = fitted.predict_proba(mix.X)
    assert proba.shape == (30, fitted.classes_.size)
    assert np.all((proba >= 0) & (proba <= 1))
    pred = fitted.predict(mix.X)
    np.testing.assert_array_equal(pred, (proba > fitted.thresholds_).astype(np.int8))
    assert np.all((fitted.thresholds_ >= 0) & (fitted.thresholds_ <= 1))
    A = fitted.predict_abundances(mix.X, include_other=True)
    np.testing.assert_allclose(A.sum(axis=1), 1.0, rtol=1e-5)
    assert fitted.predict_abundances(mix.X).shape == (30, fitted.classes_.size)
    assert fitted.history_["epochs"] == 2


def test_save_load_identical_outputs(fitted, raman_small, split_small, rocks_csv, tmp_path):
    mix = _test_mixtures(raman_small, split_small, rocks_csv, fitted, n=10)
    fitted.save(tmp_path / "m")
    loaded = load_multilabel(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_proba(mix.X), fitted.predict_proba(mix.X))
    np.testing.assert_array_equal(
        loaded.predict_abundances(mix.X), fitted.predict_abundances(mix.X)
    )
    np.testing.assert_array_equal(loaded.thresholds_, fitted.thresholds_)
    assert loaded.get_params() == {**fitted.get_params(), "axis": loaded.axis}
    with pytest.raises(InputError, match="already holds a model"):
        fitted.save(tmp_path / "m")


def test_presence_head_matches_numpy(fitted, raman_small):
    """The presence head is a sigmoid of a dense layer on the shared features (NumPy check)."""
    import keras

    X = raman_small[0][:5].astype(np.float32)
    shared = fitted.model_.get_layer("shared")
    head = fitted.model_.get_layer("presence")
    features = keras.Model(fitted.model_.input, shared.output)
    h = keras.ops.convert_to_numpy(features(X, training=False))
    W, b = (keras.ops.convert_to_numpy(w) for w in head.weights)
    expected = 1.0 / (1.0 + np.exp(-(h @ W + b)))
    np.testing.assert_allclose(fitted.predict_proba(X), expected, rtol=1e-4, atol=1e-5)


def test_load_refuses_bad_folders(tmp_path):
    with pytest.raises(ModelFileError, match="no multilabel.json"):
        load_multilabel(tmp_path)
    (tmp_path / "multilabel.json").write_text('{"format": "x"}', encoding="utf-8")
    with pytest.raises(ModelFileError, match="not a lithoscope multi-label model"):
        load_multilabel(tmp_path)


def test_errors(fitted, raman_small):
    X, y, _, _ = raman_small
    with pytest.raises(InputError, match="points per spectrum"):
        fitted.predict(X[:2, :-3])
    with pytest.raises(InputError, match="epochs must be a positive integer"):
        MultiLabelClassifier(epochs=0).fit(X, y)
    with pytest.raises(InputError, match="validation_size"):
        MultiLabelClassifier(validation_size=0.0).fit(X, y)


def test_micro_f1_by_hand():
    assert micro_f1([[1, 0, 1]], [[1, 1, 0]]) == pytest.approx(0.5)
    assert micro_f1([[0, 0]], [[0, 0]]) == 1.0
