"""LibrarySearch and the classical baselines on real RRUFF spectra; the shared model contract."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from lithoscope.errors import InputError
from lithoscope.models.base import load_model
from lithoscope.models.classical import ClassicalClassifier
from lithoscope.models.library import LibrarySearch
from lithoscope.spectra.spectrum import SpectralCollection


@parametrize_with_checks([LibrarySearch(), ClassicalClassifier(kind="pca-logreg", n_components=2)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_library_search_against_numpy_pearson(raman_small):
    X, y, _, axis = raman_small
    model = LibrarySearch(axis=axis, power=1.0, derivative_weight=0.0).fit(X[:40], y[:40])
    query = X[40:45]
    expected = np.corrcoef(np.vstack([query, X[:40]]))[:5, 5:]
    S = model.similarity(query)  # references are stored sorted by class
    order = np.argsort(y[:40], kind="stable")
    np.testing.assert_allclose(S, expected[:, order], atol=1e-5)
    scores = model.class_scores(query)
    for i in range(5):
        for j, mineral in enumerate(model.classes_):
            assert scores[i, j] == pytest.approx(expected[i, y[:40] == mineral].max(), abs=1e-5)


def test_library_search_identifies_held_out_samples(raman_small, split_small):
    X, y, groups, axis = raman_small
    train, test = split_small
    model = LibrarySearch(axis=axis).fit(X[train], y[train], groups=groups[train])
    top1 = np.mean(model.predict(X[test]) == y[test])
    assert top1 > 0.6  # chance is 1/30
    proba = model.predict_proba(X[test])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert 1e-4 < model.temperature_ < 10
    topk = model.predict_topk(X[test][:3], k=4)
    for cands in topk:
        probs = [c.probability for c in cands]
        assert probs == sorted(probs, reverse=True) and len(cands) == 4


def test_axis_travels_and_other_axes_are_refused(raman_small):
    X, y, _, axis = raman_small
    coll = SpectralCollection(axis, X, "raman")
    model = LibrarySearch().fit(coll, y)
    np.testing.assert_array_equal(model.axis_, axis)
    other = SpectralCollection(axis + 0.5, X, "raman")
    with pytest.raises(InputError, match="another axis"):
        model.predict(other)
    with pytest.raises(ValueError, match="X has 1300 features"):
        model.predict(X[:, :-1])


@pytest.mark.parametrize(
    "model",
    [LibrarySearch(derivative_weight=0.3), ClassicalClassifier(kind="pca-logreg", n_components=10)],
    ids=["library", "pca-logreg"],
)
def test_save_load_round_trip(model, raman_small, tmp_path):
    X, y, _, axis = raman_small
    model.set_params(axis=axis)
    model.fit(X, y).set_provenance(dataset_version="abc", method="raman")
    model.save(tmp_path / "m")
    again = load_model(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(X), model.predict_proba(X), atol=1e-6)
    assert again.provenance_["dataset_version"] == "abc"
    assert list(again.classes_) == list(model.classes_)
    with pytest.raises(InputError, match="already holds a model"):
        model.save(tmp_path / "m")


def test_load_refuses_foreign_classes(tmp_path, raman_small):
    import json

    X, y, _, axis = raman_small
    LibrarySearch(axis=axis).fit(X, y).save(tmp_path / "m")
    doc = json.loads((tmp_path / "m" / "model.json").read_text())
    doc["class"] = "os.system"
    (tmp_path / "m" / "model.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="not a lithoscope model"):
        load_model(tmp_path / "m")


def test_add_class_learns_a_new_mineral_without_refitting(raman_small, split_small):
    X, y, _, axis = raman_small
    train, test = split_small
    new = y[0]
    keep = train[y[train] != new]
    model = LibrarySearch(axis=axis).fit(X[keep], y[keep])
    assert new not in model.classes_
    model.add_class(new, X[train[y[train] == new]])
    assert new in model.classes_
    assert model.predict(X[test[y[test] == new]])[0] == new


def test_add_class_keeps_a_name_longer_than_every_known_one(raman_small, tmp_path):
    X, y, _, axis = raman_small
    short = np.array([label[:4] for label in y])  # fitted classes are '<U4' after this
    model = LibrarySearch(axis=axis).fit(X[:40], short[:40])
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    long_name = "Argentopyrite-(long name)"
    loaded.add_class(long_name, X[40:42])
    assert long_name in loaded.classes_.tolist()
    assert loaded.reference_labels_.max() < loaded.classes_.size
    assert loaded.predict(X[40:41])[0] == long_name


def test_classical_baselines_learn(raman_small, split_small):
    X, y, _, axis = raman_small
    train, test = split_small
    for kind in ("pca-logreg", "pca-svm"):
        model = ClassicalClassifier(kind=kind, axis=axis, n_components=30).fit(X[train], y[train])
        assert np.mean(model.predict(X[test]) == y[test]) > 0.3, kind


def test_bad_parameters_are_clear(raman_small):
    X, y, _, _ = raman_small
    with pytest.raises(InputError, match="metric"):
        LibrarySearch(metric="euclid").fit(X, y)
    with pytest.raises(InputError, match="kind"):
        ClassicalClassifier(kind="xgb").fit(X, y)
