"""EnsembleClassifier: the mean of library search and the CNN, saved and loaded with its members."""

from __future__ import annotations

import numpy as np
import pytest

from lithoscope.errors import InputError
from lithoscope.models.base import load_model
from lithoscope.models.ensemble import EnsembleClassifier
from lithoscope.models.kinds import make_model

TINY_CNN = {
    "epochs": 2,
    "batch_size": 32,
    "validation_size": 0.0,
    "patience": None,
    "channels": (4, 8),
    "embedding_dim": 16,
    "hybrid_weight": 0.5,
}


@pytest.fixture(scope="module")
def fitted(raman_small, split_small):
    pytest.importorskip("keras")
    X, y, groups, axis = raman_small
    train, _ = split_small
    model = make_model("ensemble", method="raman", axis=axis, member_params={"cnn": TINY_CNN}).fit(
        X[train], y[train], groups=groups[train]
    )
    return model


def test_probabilities_are_the_weighted_mean_of_the_members(fitted, raman_small, split_small):
    X, y, _, _ = raman_small
    _, test = split_small
    assert fitted.method == "raman"
    library, cnn = fitted.members_
    assert library.derivative_weight == 0.5  # the Raman default reached the member
    p, s = fitted.predict_scores(X[test])
    p1, s1 = library.predict_scores(X[test])
    p2, s2 = cnn.predict_scores(X[test])
    np.testing.assert_allclose(p, (p1 + p2) / 2)
    np.testing.assert_allclose(s, (s1 + s2) / 2)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    # on held-out samples of these 30 minerals the mean is at least as right as its worse member
    acc = [np.mean(fitted.classes_[q.argmax(1)] == y[test]) for q in (p, p1, p2)]
    assert acc[0] >= min(acc[1:])


def test_save_load_and_add_class(fitted, raman_small, split_small, tmp_path):
    X = raman_small[0]
    _, test = split_small
    folder = fitted.save(tmp_path / "ens")
    assert (folder / "member0" / "model.json").is_file()
    assert (folder / "member1" / "model.json").is_file()
    again = load_model(folder)
    np.testing.assert_allclose(
        again.predict_proba(X[test]), fitted.predict_proba(X[test]), atol=1e-6
    )
    again.add_class("Newite", X[test[:2]])
    assert "Newite" in again.classes_
    assert all("Newite" in m.classes_ for m in again.members_)
    assert again.predict(X[test[:1]])[0] == "Newite"


def test_bad_parameters_are_one_line(raman_small):
    X, y, _, axis = raman_small
    for kwargs, match in (
        ({"members": ("library",)}, "at least 2 model kinds"),
        ({"members": ("library", "nosuch")}, "nosuch not one of"),
        ({"weights": (1.0, -1.0)}, "weights must be 2 non-negative"),
        ({"member_params": {"kan": {}}}, "not members: kan"),
    ):
        with pytest.raises(InputError, match=match):
            EnsembleClassifier(axis=axis, **kwargs).fit(X, y)


def test_explanations_work_on_the_ensemble(fitted, raman_small, split_small):
    from lithoscope.explain import explain_batch

    X, _, _, axis = raman_small
    _, test = split_small
    top = fitted.predict(X[test[:2]])
    out = explain_batch(
        fitted, X[test[:2]], axis, [[t] for t in top], lambda m: [], include_attribution=True
    )
    assert len(out) == 2
    for expl in out:
        assert expl["attribution"].shape == axis.shape
        assert expl["top_regions"]
