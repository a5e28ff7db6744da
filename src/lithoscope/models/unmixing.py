"""Spectral unmixing of Raman mixtures against reference spectra: abundances with uncertainty.

`NNLSUnmixer` fits a measured spectrum as a non-negative combination of reference spectra of
known minerals plus a smooth background,

.. math::

    s \\approx \\sum_c w_c \\, r_c + \\sum_{d=0}^{D} b_d P_d(x), \\qquad w_c \\ge 0,

where ``r_c`` are the references of mineral ``c`` (preprocessed: tallest band 1), ``P_d`` are
Legendre polynomials of the axis (their coefficients are free, so that a residual fluorescence
background is not absorbed by broad-banded references) and ``w_c`` is the mineral's share of the
signal. Volume fractions follow from the linear mixing model of `lithoscope.physics.mixing`:
``phi_c = (w_c / eta_c) / sum(w / eta)`` with ``eta`` the relative Raman scattering efficiency.
The weights are solved by non-negative least squares (`scipy.optimize.nnls`, ``method='nnls'``)
or by a sparse, positive Lasso (`sklearn.linear_model.Lasso`, ``method='lasso'``).

The uncertainty of the abundances is a bootstrap over references: each replicate stands one
randomly drawn reference spectrum in for each mineral (the spread between samples of one
mineral is what makes a measured mixture differ from the library); ``sd`` is the standard
deviation of the replicates' volume fractions.

`decompose_map` is the unsupervised counterpart for spectral maps (no library): NMF or, when the
pyMCR package is installed, MCR-ALS.

An unmixer saves to a folder (``unmixer.json`` + ``arrays.npz``; no pickle) with
`NNLSUnmixer.save` and loads with `load_unmixer`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import nnls
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from lithoscope import __version__
from lithoscope.errors import InputError, ModelFileError
from lithoscope.models.base import split_xy
from lithoscope.physics.mixing import volume_fractions
from lithoscope.spectra.spectrum import check_same_axis

__all__ = [
    "DECOMPOSITIONS",
    "METHODS",
    "NNLSUnmixer",
    "best_f1_thresholds",
    "decompose_map",
    "legendre_columns",
    "load_unmixer",
]

METHODS = ("nnls", "lasso")
REFERENCE_MODES = ("mean", "all")
UNMIXER_FORMAT = "lithoscope-unmixer"
UNMIXER_FORMAT_VERSION = 1


def legendre_columns(axis: npt.ArrayLike, order: int) -> np.ndarray:
    """Legendre polynomials P_0..P_order of the axis mapped to [-1, 1], shape (n_points, order+1).

    Examples
    --------
    >>> legendre_columns([0.0, 1.0, 2.0], 1).tolist()
    [[1.0, -1.0], [1.0, 0.0], [1.0, 1.0]]
    """
    x = np.asarray(axis, dtype=np.float64)
    t = 2.0 * (x - x[0]) / (x[-1] - x[0]) - 1.0 if x.size > 1 else np.zeros_like(x)
    return np.polynomial.legendre.legvander(t, int(order))


class NNLSUnmixer(BaseEstimator):
    """Abundances of minerals in a mixture spectrum by non-negative least squares.

    Parameters
    ----------
    axis : array_like, optional
        Axis of array inputs (a `SpectralCollection` or `Dataset` brings its own).
    method : {'nnls', 'lasso'}, default='nnls'
    alpha : float, default=1e-4
        L1 weight of ``method='lasso'`` (scikit-learn's scale: mean squared error / 2 + alpha
        * sum |w|).
    references : {'mean', 'all'}, default='all'
        Fit against the normalised mean spectrum of each mineral ('mean'), or against all its
        reference spectra, whose weights are summed per mineral ('all').
    baseline_order : int or None, default=3
        Highest Legendre order of the free background; None: no background term.
    efficiencies : mapping of str to float, optional
        Relative Raman scattering efficiency per mineral
        (`lithoscope.physics.mixing.efficiencies_for`); missing minerals get 1.
    threshold : float or mapping of str to float, default=0.1
        Volume fraction above which a mineral is reported present (one per mineral allowed;
        `calibrate` chooses them on validation mixtures).
    n_bootstrap : int, default=30
        Replicates of the bootstrap over references (0: no uncertainty, sd is 0).
    random_state : int, default=0

    Attributes
    ----------
    classes_ : ndarray of str
    axis_ : ndarray
    references_ : ndarray (n_references, n_points)
    reference_labels_ : ndarray of int
    efficiencies_ : ndarray (n_classes,)
    thresholds_ : ndarray (n_classes,)
    sd_scale_ : float
        Factor on the bootstrap sd (set by `calibrate`).
    """

    def __init__(
        self,
        *,
        axis: npt.ArrayLike | None = None,
        method: str = "nnls",
        alpha: float = 1e-4,
        references: str = "all",
        baseline_order: int | None = 3,
        efficiencies: Mapping[str, float] | None = None,
        threshold: float | Mapping[str, float] = 0.1,
        n_bootstrap: int = 30,
        random_state: int = 0,
    ) -> None:
        self.axis = axis
        self.method = method
        self.alpha = alpha
        self.references = references
        self.baseline_order = baseline_order
        self.efficiencies = efficiencies
        self.threshold = threshold
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> None:
        if self.method not in METHODS:
            raise InputError(f"method={self.method!r} is not one of {', '.join(METHODS)}")
        if self.references not in REFERENCE_MODES:
            raise InputError(
                f"references={self.references!r} is not one of {', '.join(REFERENCE_MODES)}"
            )
        if not (isinstance(self.alpha, int | float) and self.alpha > 0):
            raise InputError(f"alpha must be a number > 0, got {self.alpha!r}")
        order = self.baseline_order
        if order is not None and not (isinstance(order, int | np.integer) and 0 <= order <= 10):
            raise InputError(f"baseline_order must be None or an integer 0..10, got {order!r}")
        if not (isinstance(self.n_bootstrap, int | np.integer) and self.n_bootstrap >= 0):
            raise InputError(f"n_bootstrap must be an integer >= 0, got {self.n_bootstrap!r}")

    def fit(self, X: Any, y: Any = None) -> NNLSUnmixer:
        """Store the reference spectra ``X`` of minerals ``y``.

        Parameters
        ----------
        X : array_like (n_references, n_points), SpectralCollection or Dataset
            Preprocessed pure spectra.
        y : array_like of str, shape (n_references,)
            Mineral of each reference.

        Returns
        -------
        self
        """
        self._check_params()
        arr, axis, labels = split_xy(X, y)
        if labels is None or labels.shape != (arr.shape[0],):
            raise InputError(
                f"y must give one mineral per reference spectrum ({arr.shape[0]}), got "
                f"{None if labels is None else labels.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise InputError("reference spectra hold NaN or infinite values")
        self.axis_ = self._resolve_axis(axis, arr.shape[1])
        self.classes_, index = np.unique(labels.astype(str), return_inverse=True)
        if self.classes_.size < 1:
            raise InputError("fit needs reference spectra of at least one mineral")
        order = np.argsort(index, kind="stable")
        self.references_ = arr[order].copy()
        self.reference_labels_ = index[order].astype(np.int64)
        self.n_features_in_ = arr.shape[1]
        eff = dict(self.efficiencies or {})
        bad = {k: v for k, v in eff.items() if not (isinstance(v, int | float) and v > 0)}
        if bad:
            raise InputError(f"efficiencies must be numbers > 0, got {bad}")
        self.efficiencies_ = np.array([float(eff.get(c, 1.0)) for c in self.classes_])
        self.thresholds_ = self._threshold_array(self.threshold)
        self.sd_scale_ = 1.0
        return self

    def _resolve_axis(self, axis: np.ndarray | None, n: int) -> np.ndarray:
        if axis is not None and self.axis is not None:
            check_same_axis(self.axis, axis, what="the reference spectra")
        chosen = axis if axis is not None else self.axis
        if chosen is None:
            return np.arange(n, dtype=np.float64)
        chosen = np.asarray(chosen, dtype=np.float64)
        if chosen.shape != (n,):
            raise InputError(f"axis has {chosen.size} points but X has {n} columns")
        return chosen

    def _threshold_array(self, threshold: float | Mapping[str, float]) -> np.ndarray:
        if isinstance(threshold, Mapping):
            values = np.array([float(threshold.get(c, 0.1)) for c in self.classes_])
        else:
            values = np.full(self.classes_.size, float(threshold))
        if np.any(values < 0) or np.any(values >= 1):
            raise InputError(f"threshold must lie in [0, 1), got {threshold!r}")
        return values

    # ------------------------------------------------------------------ prediction
    def _check_X(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "classes_")
        arr, axis, _ = split_xy(X)
        if axis is not None:
            check_same_axis(self.axis_, axis, what="these spectra")
        if arr.ndim != 2 or arr.shape[1] != self.n_features_in_:
            raise InputError(
                f"X has {arr.shape[-1]} points per spectrum, the unmixer expects "
                f"{self.n_features_in_} (the axis it was fitted on)"
            )
        if not np.all(np.isfinite(arr)):
            raise InputError("X holds NaN or infinite values")
        return arr

    def _design(self, refs: np.ndarray) -> np.ndarray:
        """Columns: references, then +- Legendre background (free signs under NNLS)."""
        if self.baseline_order is None:
            return refs.T
        B = legendre_columns(self.axis_, int(self.baseline_order))
        return np.hstack([refs.T, B, -B])

    def _solve(self, design: np.ndarray, X: np.ndarray, n_refs: int) -> np.ndarray:
        """Non-negative weights of the first ``n_refs`` columns for each row of X."""
        return self._solve_full(design, X)[:, :n_refs]

    def _solve_full(self, design: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Coefficients of every design column (references, then background) for each row."""
        if self.method == "lasso":
            from sklearn.linear_model import Lasso

            model = Lasso(
                alpha=float(self.alpha),
                positive=True,
                fit_intercept=False,
                max_iter=20000,
                tol=1e-6,
            )
            model.fit(design, X.T)
            return np.atleast_2d(model.coef_)
        out = np.empty((X.shape[0], design.shape[1]))
        for i, row in enumerate(X):
            out[i] = nnls(design, row, maxiter=50 * design.shape[1])[0]
        return out

    def _class_means(self) -> np.ndarray:
        starts = np.searchsorted(self.reference_labels_, np.arange(self.classes_.size))
        M = np.add.reduceat(self.references_, starts, axis=0)
        peak = np.max(np.abs(M), axis=1, keepdims=True)
        return M / np.where(peak > 0, peak, 1.0)

    def signal_weights(self, X: Any, *, candidates: npt.ArrayLike | None = None) -> np.ndarray:
        """Fitted signal weight of every mineral, shape (n_spectra, n_classes)."""
        arr = self._check_X(X)
        return self._weights(arr, None, self._check_candidates(candidates, arr.shape[0]))

    def _check_candidates(self, candidates: npt.ArrayLike | None, m: int) -> np.ndarray | None:
        if candidates is None:
            return None
        mask = np.asarray(candidates).astype(bool)
        if mask.shape != (m, self.classes_.size):
            raise InputError(
                f"candidates must be a 0/1 matrix of shape ({m}, {self.classes_.size}) "
                f"(spectra x classes_), got {mask.shape}"
            )
        return mask

    def _weights(
        self, arr: np.ndarray, pick: np.ndarray | None, mask: np.ndarray | None = None
    ) -> np.ndarray:
        """Signal weights per class; ``pick``: one reference index per class (a bootstrap
        replicate); ``mask``: the classes each spectrum may hold."""
        if mask is not None:
            out = np.zeros((arr.shape[0], self.classes_.size))
            for key in np.unique(mask, axis=0):
                rows = np.flatnonzero(np.all(mask == key, axis=1))
                cols = np.flatnonzero(key)
                if cols.size:
                    out[np.ix_(rows, cols)] = self._weights_of(arr[rows], pick, cols)
            return out
        return self._weights_of(arr, pick, np.arange(self.classes_.size))

    def _weights_of(self, arr: np.ndarray, pick: np.ndarray | None, cols: np.ndarray) -> np.ndarray:
        if pick is not None:
            refs = self.references_[pick[cols]]
            return self._solve(self._design(refs), arr, refs.shape[0])
        if self.references == "mean":
            refs = self._class_means()[cols]
            return self._solve(self._design(refs), arr, refs.shape[0])
        keep = np.isin(self.reference_labels_, cols)
        refs = self.references_[keep]
        w = self._solve(self._design(refs), arr, refs.shape[0])
        out = np.zeros((arr.shape[0], self.classes_.size))
        np.add.at(out.T, self.reference_labels_[keep], w.T)
        return out[:, cols]

    def predict_abundances(
        self, X: Any, *, return_sd: bool = True, candidates: npt.ArrayLike | None = None
    ) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
        """Volume fractions of every mineral (rows sum to 1) and their bootstrap sd.

        Parameters
        ----------
        X : array_like (n_spectra, n_points) or SpectralCollection
        return_sd : bool, default=True
        candidates : array_like of 0/1, shape (n_spectra, n_classes), optional
            The minerals each spectrum may hold (e.g. those a classifier found present); the
            others get 0.

        Returns
        -------
        abundances : ndarray (n_spectra, n_classes)
        sd : ndarray (n_spectra, n_classes)
            Standard deviation over ``n_bootstrap`` replicates times ``sd_scale_`` (1 unless
            `calibrate` set it; zeros with fewer than 2 replicates); only with ``return_sd``.
        """
        arr = self._check_X(X)
        mask = self._check_candidates(candidates, arr.shape[0])
        phi = volume_fractions(self._weights(arr, None, mask), self.efficiencies_)
        if not return_sd:
            return phi
        if self.n_bootstrap == 0:
            return phi, np.zeros_like(phi)
        rng = np.random.default_rng(self.random_state)
        starts = np.searchsorted(self.reference_labels_, np.arange(self.classes_.size))
        counts = np.bincount(self.reference_labels_, minlength=self.classes_.size)
        reps = np.empty((int(self.n_bootstrap), *phi.shape))
        for b in range(int(self.n_bootstrap)):
            pick = starts + (rng.random(self.classes_.size) * counts).astype(np.intp)
            reps[b] = volume_fractions(self._weights(arr, pick, mask), self.efficiencies_)
        if self.n_bootstrap < 2:
            return phi, np.zeros_like(phi)
        return phi, self.sd_scale_ * reps.std(axis=0, ddof=1)

    def predict(self, X: Any) -> np.ndarray:
        """Presence (0/1) of every mineral: volume fraction above its threshold."""
        phi = self.predict_abundances(X, return_sd=False)
        return (phi > self.thresholds_[None, :]).astype(np.int8)

    def calibrate(
        self,
        X: Any,
        Y: npt.ArrayLike,
        A: npt.ArrayLike | None = None,
        *,
        coverage: float = 0.95,
    ) -> NNLSUnmixer:
        """Choose presence thresholds (best F1 per mineral) and scale the sd on validation mixtures.

        The bootstrap over references sees only the library's spread between samples; a new
        sample differs from every reference, so the raw sd is too small (on RRUFF mixtures of
        held-out samples, 42 % of true fractions lay within 3 sd + 0.05). With true abundances
        ``A``, ``sd_scale_`` is set so that ``coverage`` of the present minerals' true fractions
        fall within ``1.96 * sd_scale_ * sd`` (at least 1).

        Parameters
        ----------
        X : array_like (n_mixtures, n_points)
            Validation mixtures (never the test set).
        Y : array_like (n_mixtures, n_classes)
            True presence in the column order of ``classes_``.
        A : array_like (n_mixtures, n_classes), optional
            True volume fractions.
        coverage : float, default=0.95

        Returns
        -------
        self
            ``thresholds_`` updated (minerals absent from the validation mixtures keep theirs);
            ``sd_scale_`` when ``A`` is given.
        """
        Y = np.asarray(Y)
        if A is None or self.n_bootstrap < 2:
            phi = self.predict_abundances(X, return_sd=False)
        else:
            phi, sd = self.predict_abundances(X)
            A = np.asarray(A, dtype=np.float64)
            if A.shape != phi.shape:
                raise InputError(f"A must have shape {phi.shape}, got {A.shape}")
            present = Y.astype(bool) & (sd > 0)
            if present.any():
                ratio = np.abs(phi - A)[present] / (1.96 * sd[present] * self.sd_scale_)
                self.sd_scale_ = float(self.sd_scale_ * max(1.0, np.quantile(ratio, coverage)))
        self.thresholds_ = best_f1_thresholds(
            phi, Y, self.thresholds_, grid=np.linspace(0.005, 0.3, 60)
        )
        return self

    def reconstruct(
        self, X: Any, *, candidates: npt.ArrayLike | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The point fit of each spectrum: model spectrum, each mineral's part, background.

        Parameters
        ----------
        X : array_like (n_spectra, n_points) or SpectralCollection
        candidates : array_like of 0/1, shape (n_spectra, n_classes), optional
            The minerals each spectrum's fit may use (as `predict_abundances`).

        Returns
        -------
        fitted : ndarray (n_spectra, n_points)
            References times weights plus background (what the residual is measured against).
        components : ndarray (n_spectra, n_classes, n_points)
            Each mineral's weighted reference spectra (zero for minerals not in the fit).
        background : ndarray (n_spectra, n_points)
        """
        arr = self._check_X(X)
        mask = self._check_candidates(candidates, arr.shape[0])
        if mask is None:
            mask = np.ones((arr.shape[0], self.classes_.size), dtype=bool)
        if self.references == "mean":
            refs, labels = self._class_means(), np.arange(self.classes_.size)
        else:
            refs, labels = self.references_, self.reference_labels_
        components = np.zeros((arr.shape[0], self.classes_.size, arr.shape[1]))
        background = np.zeros_like(arr)
        for key in np.unique(mask, axis=0):
            rows = np.flatnonzero(np.all(mask == key, axis=1))
            keep = np.isin(labels, np.flatnonzero(key))
            design = self._design(refs[keep])
            coef = self._solve_full(design, arr[rows])
            n_refs = int(keep.sum())
            background[rows] = coef[:, n_refs:] @ design[:, n_refs:].T
            for c in np.flatnonzero(key):
                sel = labels[keep] == c
                components[rows, c, :] = coef[:, :n_refs][:, sel] @ refs[keep][sel]
        return components.sum(axis=1) + background, components, background

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | Path) -> Path:
        """Save into ``folder`` (created; must not hold an unmixer): unmixer.json + arrays.npz."""
        check_is_fitted(self, "classes_")
        folder = Path(folder)
        if (folder / "unmixer.json").exists():
            raise InputError(f"{folder} already holds an unmixer; choose a new folder")
        folder.mkdir(parents=True, exist_ok=True)
        params = self.get_params(deep=False)
        params["axis"] = None if params["axis"] is None else np.asarray(params["axis"]).tolist()
        if isinstance(params["threshold"], Mapping):
            params["threshold"] = {str(k): float(v) for k, v in params["threshold"].items()}
        if params["efficiencies"] is not None:
            params["efficiencies"] = {str(k): float(v) for k, v in params["efficiencies"].items()}
        doc = {
            "format": UNMIXER_FORMAT,
            "format_version": UNMIXER_FORMAT_VERSION,
            "lithoscope_version": __version__,
            "params": params,
            "classes": [str(c) for c in self.classes_],
            "sd_scale": float(self.sd_scale_),
        }
        np.savez(
            folder / "arrays.npz",
            axis_=self.axis_,
            references_=self.references_,
            reference_labels_=self.reference_labels_,
            efficiencies_=self.efficiencies_,
            thresholds_=self.thresholds_,
        )
        tmp = folder / "unmixer.json.tmp"
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(folder / "unmixer.json")
        return folder


def best_f1_thresholds(
    scores: np.ndarray,
    Y: np.ndarray,
    default: np.ndarray,
    *,
    grid: npt.ArrayLike,
) -> np.ndarray:
    """Per-column threshold of ``scores`` maximising F1 of ``scores > t`` against ``Y``.

    Columns without a positive in ``Y`` keep ``default``; ties go to the lowest threshold.
    """
    scores = np.asarray(scores, dtype=np.float64)
    Y = np.asarray(Y).astype(bool)
    if scores.shape != Y.shape:
        raise InputError(f"Y must have shape {scores.shape}, got {Y.shape}")
    out = np.asarray(default, dtype=np.float64).copy()
    t = np.asarray(grid, dtype=np.float64)
    pred = scores[:, :, None] > t[None, None, :]  # (m, k, g)
    tp = np.sum(pred & Y[:, :, None], axis=0)
    fp = np.sum(pred & ~Y[:, :, None], axis=0)
    fn = np.sum(~pred & Y[:, :, None], axis=0)
    f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    has = Y.any(axis=0)
    out[has] = t[np.argmax(f1[has], axis=1)]
    return out


def load_unmixer(folder: str | Path) -> NNLSUnmixer:
    """Load an unmixer saved with `NNLSUnmixer.save`, checking its files first.

    Raises
    ------
    ModelFileError
        Missing, corrupt or foreign files, or a newer format.
    """
    folder = Path(folder)
    path = folder / "unmixer.json"
    if not path.is_file():
        raise ModelFileError(f"{folder}: no unmixer.json; not a saved lithoscope unmixer")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: not valid JSON ({exc}); save the unmixer again") from None
    if not isinstance(doc, dict) or doc.get("format") != UNMIXER_FORMAT:
        raise ModelFileError(f"{path}: not a lithoscope unmixer (no format {UNMIXER_FORMAT!r})")
    if int(doc.get("format_version", 0)) > UNMIXER_FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: written by a newer lithoscope (format {doc['format_version']}); upgrade"
        )
    params = doc.get("params", {})
    known = set(NNLSUnmixer._get_param_names())
    if not isinstance(params, dict) or set(params) - known:
        raise ModelFileError(
            f"{path}: unknown parameters {sorted(set(params) - known)}; save the unmixer again"
        )
    try:
        with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as exc:  # any failure to decode an untrusted file means a bad file
        raise ModelFileError(f"{folder}: arrays.npz is missing or corrupt ({exc})") from None
    needed = {"axis_", "references_", "reference_labels_", "efficiencies_", "thresholds_"}
    classes = np.asarray(doc.get("classes", []), dtype=str)
    if not needed <= set(arrays) or arrays["efficiencies_"].shape != classes.shape:
        raise ModelFileError(f"{folder}: arrays.npz does not match unmixer.json; save again")
    model = NNLSUnmixer(**params)
    model.classes_ = classes
    model.axis_ = arrays["axis_"].astype(np.float64)
    model.references_ = arrays["references_"].astype(np.float64)
    model.reference_labels_ = arrays["reference_labels_"].astype(np.int64)
    model.efficiencies_ = arrays["efficiencies_"].astype(np.float64)
    model.thresholds_ = arrays["thresholds_"].astype(np.float64)
    model.n_features_in_ = int(model.axis_.size)
    model.sd_scale_ = float(doc.get("sd_scale", 1.0))
    if model.references_.shape[1] != model.n_features_in_:
        raise ModelFileError(f"{folder}: references and axis differ in length; save again")
    return model


# ---------------------------------------------------------------------- spectral maps
def _nmf(X: np.ndarray, k: int, random_state: int, max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.decomposition import NMF

    model = NMF(n_components=k, init="nndsvda", random_state=random_state, max_iter=max_iter)
    C = model.fit_transform(X)
    return C, model.components_


def _mcr(X: np.ndarray, k: int, random_state: int, max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        from pymcr.mcr import McrAR
    except ImportError:
        raise InputError(
            "method='mcr' needs the pyMCR package (pip install pyMCR); use method='nmf'"
        ) from None
    S0 = _nmf(X, k, random_state, 200)[1]
    mcr = McrAR(max_iter=max_iter)
    mcr.fit(X, ST=S0)
    return np.asarray(mcr.C_opt_), np.asarray(mcr.ST_opt_)


#: name -> decomposition of a spectral map (X (pixels, points) -> C (pixels, k), S (k, points))
DECOMPOSITIONS: dict[str, Callable[[np.ndarray, int, int, int], tuple[np.ndarray, np.ndarray]]] = {
    "nmf": _nmf,
    "mcr": _mcr,
}


def decompose_map(
    X: npt.ArrayLike,
    n_components: int,
    *,
    method: str = "nmf",
    random_state: int = 0,
    max_iter: int = 500,
) -> tuple[np.ndarray, np.ndarray]:
    """Unsupervised decomposition of a spectral map into component spectra and their amounts.

    Negative intensities (noise around a removed baseline) are clipped to 0 first; each
    component spectrum is scaled to a tallest band of 1 (its amounts scaled inversely), so the
    components compare with library spectra.

    Parameters
    ----------
    X : array_like, shape (n_pixels, n_points)
        Preprocessed spectra of the map's pixels (a map of shape (h, w, n_points) reshaped).
    n_components : int
    method : {'nmf', 'mcr'}, default='nmf'
        'mcr' (MCR-ALS, non-negative) needs the optional pyMCR package.
    random_state : int, default=0
    max_iter : int, default=500

    Returns
    -------
    (concentrations, spectra) : (ndarray (n_pixels, k), ndarray (k, n_points))

    Raises
    ------
    InputError
        Unknown method (the valid names are listed), bad shapes or ``n_components``.
    """
    if method not in DECOMPOSITIONS:
        raise InputError(f"method={method!r} is not one of {', '.join(DECOMPOSITIONS)}")
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 2 or not np.all(np.isfinite(arr)):
        raise InputError(
            f"X must be a finite 2-D array (n_pixels, n_points), got shape {arr.shape}"
        )
    k = int(n_components)
    if not 1 <= k <= min(arr.shape):
        raise InputError(
            f"n_components must be between 1 and {min(arr.shape)} for X of shape {arr.shape}, "
            f"got {n_components}"
        )
    C, S = DECOMPOSITIONS[method](np.clip(arr, 0.0, None), k, int(random_state), int(max_iter))
    peak = S.max(axis=1, keepdims=True)
    peak = np.where(peak > 0, peak, 1.0)
    return C * peak.T, S / peak
