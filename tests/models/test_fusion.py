"""Fusion maths on real RRUFF Raman spectra: early-fusion features, weights, stacking.

Two "methods" are made from one real spectrum: its low- and high-wavenumber halves (each
preprocessed half is a spectrum of its own method, as Raman and infrared are of one sample).
"""

from __future__ import annotations

import numpy as np
import pytest

from lithoscope.errors import InputError
from lithoscope.models.fusion import (
    BlockFeatures,
    EarlyFusionSearch,
    StackedFusion,
    align_proba,
    early_fusion_features,
    early_fusion_similarity,
    fit_fusion_weights,
    late_fusion,
)
from lithoscope.models.library import LibrarySearch


@pytest.fixture(scope="module")
def halves(raman_small):
    """(blocks, y, groups): the spectra cut into two methods, 'low' and 'high'."""
    X, y, groups, _ = raman_small
    cut = X.shape[1] // 2
    return {"low": X[:, :cut], "high": X[:, cut:]}, y, groups


def _missing(blocks, rows, method):
    out = {m: b.copy() for m, b in blocks.items()}
    out[method][rows] = np.nan
    return out


# ---------------------------------------------------------------------- align_proba
def test_align_proba_moves_columns_and_keeps_missing_rows():
    P = np.array([[0.2, 0.8], [np.nan, np.nan]])
    out = align_proba(["b", "a"], P, ["a", "b", "c"])
    np.testing.assert_allclose(out[0], [0.8, 0.2, 0.0])
    assert np.isnan(out[1]).all()


def test_align_proba_refuses_classes_outside_the_target():
    with pytest.raises(InputError, match="not in the target classes"):
        align_proba(["a", "z"], [[0.5, 0.5]], ["a", "b"])


# ---------------------------------------------------------------------- early fusion
def test_block_features_mark_missing_and_flat_rows(halves):
    blocks, _, _ = halves
    blocks = _missing(blocks, [0, 3], "high")
    blocks["low"][5] = 0.0  # flat: nothing to compare
    f = early_fusion_features(blocks)
    assert f.present[[0, 3], 1].tolist() == [False, False]
    assert not f.present[5, 0]
    assert f.present[1].all()
    np.testing.assert_allclose(np.linalg.norm(f.blocks["low"][1]), 1.0, rtol=1e-5)
    assert not f.blocks["high"][0].any()
    Z = f.concatenated(weights={"low": 4.0})
    width = f.blocks["low"].shape[1] + f.blocks["high"].shape[1]
    np.testing.assert_allclose(Z[1, -2:], [1.0, 1.0])
    np.testing.assert_allclose(np.linalg.norm(Z[1, : f.blocks["low"].shape[1]]), 2.0, rtol=1e-5)
    assert Z.shape == (len(f), width + 2)


def test_early_similarity_is_the_cosine_of_the_concatenation_over_the_query_methods(halves):
    """The closed form against cosines of explicitly masked concatenated vectors."""
    blocks, _, _ = halves
    blocks = _missing(_missing(blocks, np.arange(0, 40, 3), "high"), np.arange(1, 40, 5), "low")
    f = early_fusion_features(blocks)
    weights = {"low": 1.0, "high": 0.3}
    query, refs = f.take(np.arange(0, 20)), f.take(np.arange(20, 60))
    S = early_fusion_similarity(query, refs, weights=weights)
    widths = [f.blocks[m].shape[1] for m in f.methods]
    Q = query.concatenated(weights=weights, flags=False)
    R = refs.concatenated(weights=weights, flags=False)
    for i in range(len(query)):
        cols = np.concatenate(
            [np.full(w, query.present[i, j]) for j, w in enumerate(widths)]
        ).astype(bool)
        for j in range(len(refs)):
            r = np.where(cols, R[j], 0.0)
            if not (refs.present[j] & query.present[i]).any():
                assert S[i, j] == -1.0
                continue
            expected = Q[i] @ r / (np.linalg.norm(Q[i]) * np.linalg.norm(r))
            assert S[i, j] == pytest.approx(expected, abs=1e-5)


def test_early_search_with_one_method_is_library_search(halves, split_small):
    blocks, y, groups = halves
    train, test = split_small
    params = {"metric": "pearson", "power": 0.5, "derivative_weight": 0.5}
    early = EarlyFusionSearch(feature_params={"low": params}, temperature=0.05).fit(
        {"low": blocks["low"][train]}, y[train], groups=groups[train]
    )
    library = LibrarySearch(power=0.5, derivative_weight=0.5, temperature=0.05).fit(
        blocks["low"][train], y[train]
    )
    np.testing.assert_array_equal(early.classes_, library.classes_)
    np.testing.assert_allclose(
        early.class_scores({"low": blocks["low"][test]}),
        library.class_scores(blocks["low"][test]),
        atol=1e-5,
    )


def test_early_search_identifies_samples_with_any_subset_of_methods(halves, split_small):
    blocks, y, groups = halves
    train, test = split_small
    # half the references lack one method: any subset must still be searchable
    ref = _missing(_missing(blocks, train[::4], "low"), train[1::4], "high")
    model = EarlyFusionSearch().fit(
        {m: b[train] for m, b in ref.items()}, y[train], groups=groups[train]
    )
    assert 0 < model.temperature_ < 1
    both = np.mean(
        model.classes_[model.predict_proba({m: b[test] for m, b in blocks.items()}).argmax(1)]
        == y[test]
    )
    low = np.mean(
        model.classes_[model.predict_proba({"low": blocks["low"][test]}).argmax(1)] == y[test]
    )
    assert both > 0.6  # chance is 1/30
    assert low > 0.4
    P = model.predict_proba({"high": blocks["high"][test]})
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


def test_early_search_refuses_unknown_methods_and_other_grids(halves):
    blocks, y, _ = halves
    model = EarlyFusionSearch(temperature=0.1).fit(blocks, y)
    with pytest.raises(InputError, match="not seen in fit"):
        model.predict_proba({"ir": blocks["low"]})
    with pytest.raises(InputError, match="features per spectrum"):
        model.predict_proba({"low": blocks["low"][:, :-5]})
    with pytest.raises(InputError, match="not fitted"):
        EarlyFusionSearch().predict_proba(blocks)


def test_block_features_only_blanks_methods(halves):
    blocks, _, _ = halves
    f = early_fusion_features(blocks)
    g = f.only(["high"])
    assert isinstance(g, BlockFeatures)
    assert not g.present[:, 0].any() and g.present[:, 1].all()
    assert not g.blocks["low"].any()
    np.testing.assert_array_equal(g.blocks["high"], f.blocks["high"])


# ---------------------------------------------------------------------- late fusion
@pytest.fixture(scope="module")
def method_probas(halves, split_small):
    """Held-out probabilities of a library search on each half, and a useless method."""
    blocks, y, groups = halves
    train, test = split_small
    parts = {}
    for m in ("low", "high"):
        model = LibrarySearch().fit(blocks[m][train], y[train], groups=groups[train])
        parts[m] = (model.classes_, model.predict_proba(blocks[m][test]))
    rng = np.random.default_rng(0)
    classes = parts["low"][0]
    parts["noise"] = (classes, rng.dirichlet(np.full(classes.size, 0.3), size=test.size))
    return parts, y[test]


def _loglik(parts, y, weights):
    names, P = late_fusion(parts, weights=weights)
    return np.mean(np.log(P[np.arange(y.size), np.searchsorted(names, y)]))


def test_fusion_weights_silence_a_useless_method_and_raise_the_likelihood(method_probas):
    parts, y = method_probas
    weights = fit_fusion_weights(parts, y)
    assert weights["noise"] < min(weights["low"], weights["high"])
    assert _loglik(parts, y, weights) > _loglik(parts, y, None)


def test_fusion_weights_need_usable_rows():
    with pytest.raises(InputError, match="no row"):
        fit_fusion_weights({"a": (["x", "y"], [[0.5, 0.5]])}, ["z"])
    with pytest.raises(InputError, match="non-negative"):
        fit_fusion_weights({"a": (["x", "y"], [[0.5, 0.5]])}, ["x"], grid=(-1.0, 1.0))


# ---------------------------------------------------------------------- stacking
def test_stacking_with_product_coefficients_is_the_product_on_its_candidates(method_probas):
    """theta = (1, 0, 0) per method reproduces `late_fusion` renormalised over the candidates."""
    parts, y = method_probas
    parts = {m: parts[m] for m in ("low", "high")}
    st = StackedFusion(top_k=3, residual=0.0).fit(parts, y)
    st.coef_ = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    _, P = st.predict_proba(parts)
    _, Q = late_fusion(parts)
    for i in range(y.size):
        cands = np.flatnonzero(P[i] > 0)
        assert 3 <= cands.size <= 9
        np.testing.assert_allclose(P[i, cands], Q[i, cands] / Q[i, cands].sum(), rtol=1e-6)


def test_stacking_learns_to_ignore_noise_and_beats_the_product(method_probas):
    parts, y = method_probas
    half = y.size // 2
    fit = {m: (c, P[:half]) for m, (c, P) in parts.items()}
    held = {m: (c, P[half:]) for m, (c, P) in parts.items()}
    st = StackedFusion().fit(fit, y[:half])
    coef = dict(zip(st.feature_names_, st.coef_, strict=True))
    assert abs(coef["noise:log_proba"]) < 0.5 * min(coef["low:log_proba"], coef["high:log_proba"])
    names, P = st.predict_proba(held)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    stacked = np.mean(names[P.argmax(1)] == y[half:])
    names_q, Q = late_fusion(held)
    assert stacked >= np.mean(names_q[Q.argmax(1)] == y[half:])


def test_stacking_accepts_missing_methods_and_chunks(method_probas):
    parts, y = method_probas
    blank = {m: (c, P.copy()) for m, (c, P) in parts.items()}
    blank["high"][1][::2] = np.nan  # not measured for every other sample
    st = StackedFusion().fit([parts, blank], [y, y])
    _, P = st.predict_proba({"low": parts["low"]})
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    # a method left out equals that method's rows all NaN
    _, Q = st.predict_proba(
        {
            **{m: parts[m] for m in ("low", "noise")},
            "high": (parts["high"][0], np.full_like(parts["high"][1], np.nan)),
        }
    )
    _, R = st.predict_proba({m: parts[m] for m in ("low", "noise")}, classes=parts["low"][0])
    np.testing.assert_allclose(Q, R, atol=1e-12)


def test_stacking_errors(method_probas):
    parts, y = method_probas
    with pytest.raises(InputError, match="not fitted"):
        StackedFusion().predict_proba(parts)
    with pytest.raises(InputError, match="entries"):
        StackedFusion().fit(parts, y[:-1])
    st = StackedFusion().fit({"low": parts["low"]}, y)
    with pytest.raises(InputError, match="not seen in fit"):
        st.predict_proba({"high": parts["high"]})
    with pytest.raises(InputError, match="top_k"):
        StackedFusion(top_k=0).fit(parts, y)
