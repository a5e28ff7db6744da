"""NNLSUnmixer on mixtures of real RRUFF spectra, its bootstrap, persistence, and decompose_map."""

from __future__ import annotations

import numpy as np
import pytest

from lithoscope.errors import InputError, ModelFileError
from lithoscope.models.unmixing import (
    NNLSUnmixer,
    best_f1_thresholds,
    decompose_map,
    legendre_columns,
    load_unmixer,
)
from lithoscope.physics.mixing import linear_mixture


@pytest.fixture(scope="module")
def refs(raman_small, split_small):
    X, y, _, axis = raman_small
    train, test = split_small
    return X, y, axis, train, test


def _three(y, train):
    minerals = sorted(set(y[train].tolist()))[:3]
    return minerals


@pytest.mark.parametrize("method", ["nnls", "lasso"])
def test_recovers_abundances_of_exact_references(refs, method):
    X, y, axis, train, _ = refs
    minerals = _three(y, train)
    pure = np.stack([X[train][y[train] == m][0] for m in minerals])
    phi = np.array([[0.5, 0.3, 0.2], [0.15, 0.15, 0.7]])
    eff = {minerals[0]: 1.0, minerals[1]: 0.5, minerals[2]: 0.3}
    mixed = linear_mixture(pure, phi, [eff[m] for m in minerals])
    background = 0.05 * legendre_columns(axis, 1)[:, 1][None, :] + 0.05
    unmixer = NNLSUnmixer(
        axis=axis, efficiencies=eff, method=method, alpha=1e-7, n_bootstrap=0
    ).fit(X[train], y[train])
    A, sd = unmixer.predict_abundances(mixed + background)
    cols = np.searchsorted(unmixer.classes_, minerals)
    np.testing.assert_allclose(A[:, cols], phi, atol=0.02)
    assert A.sum(axis=1) == pytest.approx(1.0)
    assert np.all(sd == 0)
    assert unmixer.predict(mixed)[:, cols].all()


def _held_out_mixtures(X, y, train, test, n, seed):
    rng = np.random.default_rng(seed)
    minerals = sorted(set(y[test].tolist()) & set(y[train].tolist()))
    classes = np.unique(y[train])
    mixes, truth = [], np.zeros((n, classes.size))
    for i in range(n):
        pick = rng.choice(minerals, 2, replace=False)
        pure = np.stack([X[test][y[test] == m][rng.integers((y[test] == m).sum())] for m in pick])
        phi = rng.dirichlet([3.0, 3.0])
        mixes.append(linear_mixture(pure, phi[None, :])[0])
        truth[i, np.searchsorted(classes, pick)] = phi
    return np.array(mixes), truth


def test_bootstrap_sd_positive_and_calibrated_sd_covers(refs):
    X, y, axis, train, test = refs
    unmixer = NNLSUnmixer(axis=axis, n_bootstrap=30, random_state=1).fit(X[train], y[train])
    Xv, Av = _held_out_mixtures(X, y, train, test, 30, seed=0)
    Xt, At = _held_out_mixtures(X, y, train, test, 30, seed=1)
    _, sd = unmixer.predict_abundances(Xt)
    assert sd[At > 0].mean() > 0
    unmixer.calibrate(Xv, (Av > 0).astype(int), Av)
    assert unmixer.sd_scale_ >= 1.0
    phi, sd = unmixer.predict_abundances(Xt)
    present = At > 0
    inside = np.abs(phi - At)[present] <= 1.96 * sd[present]
    assert inside.mean() >= 0.8
    assert np.all((unmixer.thresholds_ > 0) & (unmixer.thresholds_ < 1))


def test_bootstrap_is_seeded(refs):
    X, y, axis, train, test = refs
    a = NNLSUnmixer(axis=axis, n_bootstrap=5, random_state=3).fit(X[train], y[train])
    b = NNLSUnmixer(axis=axis, n_bootstrap=5, random_state=3).fit(X[train], y[train])
    np.testing.assert_array_equal(
        a.predict_abundances(X[test[:3]])[1], b.predict_abundances(X[test[:3]])[1]
    )


def test_save_load_round_trip(refs, tmp_path):
    X, y, axis, train, test = refs
    unmixer = NNLSUnmixer(
        axis=axis, references="mean", n_bootstrap=4, threshold={"x": 0.2}, efficiencies={y[0]: 0.5}
    ).fit(X[train], y[train])
    unmixer.thresholds_[0] = 0.07
    unmixer.sd_scale_ = 2.5
    unmixer.save(tmp_path / "u")
    loaded = load_unmixer(tmp_path / "u")
    for a, b in zip(
        unmixer.predict_abundances(X[test]), loaded.predict_abundances(X[test]), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.thresholds_, unmixer.thresholds_)
    assert loaded.sd_scale_ == 2.5
    np.testing.assert_array_equal(loaded.classes_, unmixer.classes_)
    with pytest.raises(InputError, match="already holds an unmixer"):
        unmixer.save(tmp_path / "u")


def test_load_refuses_bad_folders(tmp_path):
    with pytest.raises(ModelFileError, match="no unmixer.json"):
        load_unmixer(tmp_path)
    (tmp_path / "unmixer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load_unmixer(tmp_path)
    (tmp_path / "unmixer.json").write_text('{"format": "other"}', encoding="utf-8")
    with pytest.raises(ModelFileError, match="not a lithoscope unmixer"):
        load_unmixer(tmp_path)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"method": "ols"}, "method='ols' is not one of nnls, lasso"),
        ({"references": "best"}, "references='best'"),
        ({"alpha": 0.0}, "alpha must be"),
        ({"baseline_order": -1}, "baseline_order"),
        ({"n_bootstrap": -2}, "n_bootstrap"),
        ({"threshold": 1.5}, "threshold must lie"),
        ({"efficiencies": {"a": 0.0}}, "efficiencies must be numbers > 0"),
    ],
)
def test_parameter_errors(params, match):
    X = np.random.default_rng(0).random((4, 20))
    with pytest.raises(InputError, match=match):
        NNLSUnmixer(**params).fit(X, ["a", "a", "b", "b"])


def test_input_errors(refs):
    X, y, axis, train, _ = refs
    unmixer = NNLSUnmixer(axis=axis, n_bootstrap=0).fit(X[train], y[train])
    with pytest.raises(InputError, match="points per spectrum"):
        unmixer.predict_abundances(X[:2, :-1])
    with pytest.raises(InputError, match="one mineral per reference"):
        NNLSUnmixer().fit(X[:4], y[:3])
    with pytest.raises(InputError, match="NaN"):
        unmixer.predict(np.full((1, X.shape[1]), np.nan))


def test_inputs_not_mutated(refs):
    X, y, axis, train, test = refs
    Xt, Q = X[train].copy(), X[test[:2]].copy()
    unmixer = NNLSUnmixer(axis=axis, n_bootstrap=2).fit(Xt, y[train])
    unmixer.predict_abundances(Q)
    np.testing.assert_array_equal(Xt, X[train])
    np.testing.assert_array_equal(Q, X[test[:2]])


def test_best_f1_thresholds_by_hand():
    scores = np.array([[0.9, 0.1], [0.2, 0.4], [0.6, 0.05]])
    Y = np.array([[1, 0], [0, 0], [1, 0]])
    t = best_f1_thresholds(scores, Y, np.array([0.5, 0.5]), grid=[0.1, 0.3, 0.7])
    assert t.tolist() == [0.3, 0.5]  # column 2 has no positive: default kept


def test_decompose_map_recovers_two_components(refs):
    X, y, _, train, _ = refs
    minerals = _three(y, train)[:2]
    pure = np.stack([X[train][y[train] == m][0] for m in minerals])
    pure = np.clip(pure, 0, None)
    C_true = np.random.default_rng(0).dirichlet([1.0, 1.0], size=40)
    C, S = decompose_map(C_true @ pure, 2, random_state=0)
    assert C.shape == (40, 2) and S.shape == (2, X.shape[1])
    assert np.allclose(S.max(axis=1), 1.0)
    corr = np.corrcoef(np.vstack([S, pure]))[:2, 2:]
    assert np.all(corr.max(axis=1) > 0.98)


def test_decompose_map_errors():
    with pytest.raises(InputError, match="method='pca' is not one of nmf, mcr"):
        decompose_map(np.ones((3, 4)), 1, method="pca")
    with pytest.raises(InputError, match="n_components must be between 1 and 3"):
        decompose_map(np.ones((3, 4)), 5)


def test_candidates_restrict_the_fit(refs):
    X, y, axis, train, _ = refs
    minerals = _three(y, train)
    pure = np.stack([X[train][y[train] == m][0] for m in minerals])
    mixed = linear_mixture(pure, [[0.5, 0.3, 0.2]])
    for references in ("all", "mean"):
        unmixer = NNLSUnmixer(axis=axis, references=references, n_bootstrap=3).fit(
            X[train], y[train]
        )
        cols = np.searchsorted(unmixer.classes_, minerals)
        mask = np.zeros((1, unmixer.classes_.size), dtype=int)
        mask[0, cols[:2]] = 1
        A, sd = unmixer.predict_abundances(mixed, candidates=mask)
        assert np.all(A[0, mask[0] == 0] == 0) and np.all(sd[0, mask[0] == 0] == 0)
        assert A[0, cols[:2]].sum() == pytest.approx(1.0)
        full = unmixer.predict_abundances(mixed, return_sd=False)
        np.testing.assert_allclose(
            unmixer.predict_abundances(mixed, return_sd=False, candidates=np.ones_like(mask)),
            full,
            atol=1e-9,
        )
    with pytest.raises(InputError, match="candidates must be a 0/1 matrix"):
        unmixer.predict_abundances(mixed, candidates=np.ones((1, 2)))


@pytest.mark.parametrize("references", ["all", "mean"])
def test_reconstruct_sums_components_and_background(refs, references):
    X, y, axis, train, _ = refs
    minerals = _three(y, train)
    pure = np.stack([X[train][y[train] == m][0] for m in minerals])
    mixed = linear_mixture(pure, [[0.5, 0.3, 0.2]]) + 0.05
    unmixer = NNLSUnmixer(axis=axis, references=references, n_bootstrap=0).fit(X[train], y[train])
    fitted, components, background = unmixer.reconstruct(mixed)
    assert components.shape == (1, unmixer.classes_.size, X.shape[1])
    np.testing.assert_allclose(fitted, components.sum(axis=1) + background, atol=1e-12)
    # the weights of the reconstruction are those of signal_weights
    w = unmixer.signal_weights(mixed)
    peak = components.max(axis=2)
    if references == "mean":
        np.testing.assert_allclose(peak, w, atol=1e-9)
    # restricted to candidates: the others are zero and the fit uses only the allowed ones
    allowed = np.isin(unmixer.classes_, minerals[:2])[None, :]
    f2, c2, b2 = unmixer.reconstruct(mixed, candidates=allowed)
    assert not c2[0, ~allowed[0]].any()
    np.testing.assert_allclose(f2, c2.sum(axis=1) + b2, atol=1e-12)
    w2 = unmixer.signal_weights(mixed, candidates=allowed)
    if references == "mean":
        np.testing.assert_allclose(c2.max(axis=2), w2, atol=1e-9)
    if references == "all":
        np.testing.assert_allclose(fitted, mixed, atol=0.02)
