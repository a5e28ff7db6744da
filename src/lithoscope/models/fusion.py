"""Fusing the answers of several methods about one sample (late fusion).

Each method's model gives probabilities over its own minerals (the Raman library knows ~1,500,
the infrared one ~450, a LIBS model those whose formula it simulated). `late_fusion` combines
them over the union of their classes as a product of experts,

    log p(c | all) = sum_m w_m * log p_m(c | x_m) + const,

where a mineral a method does not know gets that method's ``floor`` (a small probability: "this
method cannot speak for it", not "this method rules it out"). The product rewards minerals that
every method finds plausible, which is what separates near-identical spectra of one method
(almandine and pyrope in Raman) when another method (LIBS: Fe or Mg) sees the difference. Any
subset of methods works: a missing method simply contributes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lithoscope.errors import InputError

__all__ = [
    "DEFAULT_FLOOR",
    "BlockFeatures",
    "EarlyFusionSearch",
    "StackedFusion",
    "align_proba",
    "block_similarities",
    "early_fusion_features",
    "early_fusion_similarity",
    "fit_fusion_weights",
    "late_fusion",
]

#: probability given to a mineral that a method's model does not know
DEFAULT_FLOOR = 1e-4


def late_fusion(
    parts: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]],
    *,
    weights: Mapping[str, float] | None = None,
    floor: float = DEFAULT_FLOOR,
    classes: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Product-of-experts fusion of per-method probabilities over the union of their classes.

    Parameters
    ----------
    parts : mapping of str to (classes, proba)
        Per method: its model's class names (n_m,) and probabilities (n_samples, n_m); every
        method has the same rows (one per sample). A row of NaN means "this method was not
        measured for this sample" and contributes nothing.
    weights : mapping of str to float, optional
        Exponent of each method's probabilities (default 1 for every method).
    floor : float, default=1e-4
        Probability of a mineral a method does not know (and the smallest one used).
    classes : sequence of str, optional
        The fused class order; default the sorted union.

    Returns
    -------
    classes : ndarray of str, shape (n_classes,)
    proba : ndarray, shape (n_samples, n_classes)
        Rows sum to 1.

    Examples
    --------
    >>> raman = (["Almandine", "Pyrope"], np.array([[0.55, 0.45]]))
    >>> libs = (["Almandine", "Pyrope", "Spessartine"], np.array([[0.1, 0.8, 0.1]]))
    >>> names, p = late_fusion({"raman": raman, "libs": libs})
    >>> str(names[p.argmax(1)][0])
    'Pyrope'
    """
    if not parts:
        raise InputError("late fusion needs the probabilities of at least one method")
    if not 0 < floor < 1:
        raise InputError(f"floor must be between 0 and 1, got {floor}")
    checked: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    n_rows = None
    for method, (names, proba) in parts.items():
        names = np.asarray(names).astype(str)
        P = np.asarray(proba, dtype=np.float64)
        if P.ndim != 2 or P.shape[1] != names.size:
            raise InputError(
                f"{method}: probabilities of shape {P.shape} do not match its {names.size} classes"
            )
        if n_rows is not None and P.shape[0] != n_rows:
            raise InputError(f"{method}: {P.shape[0]} rows, the other methods have {n_rows}")
        n_rows = P.shape[0]
        checked[method] = (names, P)
    union = (
        np.asarray(classes).astype(str)
        if classes is not None
        else np.unique(np.concatenate([names for names, _ in checked.values()]))
    )
    logp = np.zeros((n_rows or 0, union.size))
    for method, (names, P) in checked.items():
        w = 1.0 if weights is None else float(weights.get(method, 1.0))
        if w < 0 or not np.isfinite(w):
            raise InputError(f"weight of {method} must be a non-negative number, got {w}")
        index = np.searchsorted(union, names) if classes is None else _index(union, names)
        known = (index < union.size) & (union[np.minimum(index, union.size - 1)] == names)
        term = np.full((P.shape[0], union.size), np.log(floor))
        term[:, index[known]] = np.log(np.clip(P[:, known], floor, None))
        measured = ~np.isnan(P).any(axis=1)
        logp[measured] += w * term[measured]
    logp -= logp.max(axis=1, keepdims=True)
    fused = np.exp(logp)
    return union, fused / fused.sum(axis=1, keepdims=True)


def _index(union: np.ndarray, names: np.ndarray) -> np.ndarray:
    lookup = {n: i for i, n in enumerate(union.tolist())}
    return np.array([lookup.get(n, union.size) for n in names.tolist()], dtype=np.intp)


# ---------------------------------------------------------------------- shared helpers
def align_proba(
    classes: Sequence[str] | npt.ArrayLike, proba: npt.ArrayLike, to: Sequence[str] | npt.ArrayLike
) -> np.ndarray:
    """A model's probabilities over another class order: 0 for a class the model lacks.

    Parameters
    ----------
    classes : sequence of str, shape (n_model_classes,)
        The model's classes (``model.classes_``).
    proba : array_like, shape (n_samples, n_model_classes)
        Its probabilities; NaN rows (method not measured) stay NaN.
    to : sequence of str, shape (n_classes,)
        The target order; it must hold every class of the model.

    Returns
    -------
    numpy.ndarray, shape (n_samples, n_classes)

    Raises
    ------
    InputError
        Shapes that do not match, or model classes missing from ``to``.

    Examples
    --------
    >>> align_proba(["b", "a"], [[0.7, 0.3]], ["a", "b", "c"]).tolist()
    [[0.3, 0.7, 0.0]]
    """
    names = np.asarray(classes).astype(str)
    target = np.asarray(to).astype(str)
    P = np.asarray(proba, dtype=np.float64)
    if P.ndim != 2 or P.shape[1] != names.size:
        raise InputError(f"probabilities of shape {P.shape} do not match {names.size} classes")
    index = _index(target, names)
    missing = names[index == target.size]
    if missing.size:
        raise InputError(
            f"{missing.size} model classes are not in the target classes "
            f"(first: {', '.join(missing[:3].tolist())}); give a target holding every class"
        )
    out = np.zeros((P.shape[0], target.size))
    out[:, index] = P
    out[np.isnan(P).any(axis=1)] = np.nan
    return out


def _check_parts(
    parts: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]],
    classes: Sequence[str] | npt.ArrayLike | None,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(class order, aligned probabilities, which classes each method knows) of ``parts``."""
    if not parts:
        raise InputError("fusion needs the probabilities of at least one method")
    named = {
        m: (np.asarray(c).astype(str), np.asarray(p, dtype=np.float64))
        for m, (c, p) in parts.items()
    }
    union = (
        np.asarray(classes).astype(str)
        if classes is not None
        else np.unique(np.concatenate([c for c, _ in named.values()]))
    )
    aligned, known = {}, {}
    n_rows = None
    for method, (names, P) in named.items():
        if n_rows is not None and P.shape[0] != n_rows:
            raise InputError(f"{method}: {P.shape[0]} rows, the other methods have {n_rows}")
        try:
            aligned[method] = align_proba(names, P, union)
        except InputError as exc:
            raise InputError(f"{method}: {exc}") from None
        n_rows = P.shape[0]
        known[method] = np.isin(union, names)
    return union, aligned, known


def fit_fusion_weights(
    parts: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]],
    y: npt.ArrayLike,
    *,
    grid: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0),
    rounds: int = 3,
    floor: float = DEFAULT_FLOOR,
) -> dict[str, float]:
    """Per-method weights of `late_fusion` that maximise the likelihood of the true minerals.

    Coordinate ascent over ``grid``: each method's weight in turn takes the grid value with the
    highest mean log-probability of the true class on labelled validation rows (NaN rows: the
    method was not measured), starting from 1 for every method, for ``rounds`` passes or until
    nothing changes. The log-likelihood, not top-1, is maximised: it is smooth in the weights
    and also sets the sharpness (an overall scale) that conformal sets and thresholds read.

    Parameters
    ----------
    parts : mapping of str to (classes, proba)
        As for `late_fusion`: validation probabilities of each method (rows: samples).
    y : array_like of str, shape (n_samples,)
        True minerals; rows whose mineral no method knows are ignored.
    grid : sequence of float
        Candidate weights (non-negative).
    rounds : int, default=3
    floor : float, default=1e-4

    Returns
    -------
    dict of str to float

    Raises
    ------
    InputError
        No usable row, a negative grid value, or the errors of `late_fusion`.

    Examples
    --------
    >>> good = (["a", "b"], np.array([[0.9, 0.1], [0.2, 0.8], [0.8, 0.2]]))
    >>> noise = (["a", "b"], np.array([[0.2, 0.8], [0.7, 0.3], [0.4, 0.6]]))
    >>> w = fit_fusion_weights({"good": good, "noise": noise}, ["a", "b", "a"])
    >>> w["good"] > w["noise"]
    True
    """
    union, aligned, _ = _check_parts(parts, None)
    labels = np.asarray(y).astype(str)
    if labels.shape != (next(iter(aligned.values())).shape[0],):
        raise InputError(f"y has {labels.size} entries, the probabilities have other rows")
    values = np.asarray(grid, dtype=np.float64)
    if values.size == 0 or np.any(values < 0) or not np.all(np.isfinite(values)):
        raise InputError(f"grid must hold non-negative finite weights, got {list(grid)}")
    if not np.any(values > 0):
        raise InputError("grid needs at least one positive weight")
    index = _index(union, labels)
    rows = np.flatnonzero(index < union.size)
    if rows.size == 0:
        raise InputError("no row's true mineral is among the methods' classes")
    # per-method log-probability terms of the rows' true classes and of all classes
    terms = {}
    for method, P in aligned.items():
        term = np.log(np.clip(np.nan_to_num(P[rows], nan=1.0), floor, None))
        term[np.isnan(P[rows]).any(axis=1)] = 0.0
        terms[method] = term
    true = index[rows]

    def loglik(w: Mapping[str, float]) -> float:
        logp = sum(w[m] * terms[m] for m in terms)
        logp = logp - logp.max(axis=1, keepdims=True)
        norm = np.log(np.exp(logp).sum(axis=1))
        return float(np.mean(logp[np.arange(true.size), true] - norm))

    weights = {m: 1.0 for m in terms}
    best = loglik(weights)
    for _ in range(int(rounds)):
        changed = False
        for method in terms:
            for value in values:
                trial = {**weights, method: float(value)}
                if not any(trial.values()):
                    continue
                score = loglik(trial)
                if score > best + 1e-12:
                    best, weights, changed = score, trial, True
        if not changed:
            break
    return weights


# ---------------------------------------------------------------------- stacking
class StackedFusion:
    """Stacking of per-method probabilities: a conditional logit over each sample's candidates.

    For every sample, the candidates are the union of the ``top_k`` minerals of each measured
    method and of their equal-weight product (`late_fusion`). Each candidate ``c`` is described,
    per method ``m``, by three features: ``log max(p_m(c), floor)`` if ``m`` knows ``c``
    (else 0), whether ``m`` was measured but does not know ``c``, and whether ``c`` is ``m``'s
    best answer; all three are 0 when ``m`` was not measured. The fused probability of a
    candidate is ``softmax(theta . x_c)`` over the sample's candidates, with ``theta`` fitted by
    maximum likelihood (L2 penalty ``alpha``) on validation samples whose true mineral is among
    their candidates. It is learned per-method weighting plus a bonus for each method's top
    answer and a learned value for "this method cannot speak for that mineral", instead of the
    product's fixed ``floor``.

    Outside the candidates the fused probabilities are the product's, scaled to ``residual``
    (so that rankings and conformal sets over all minerals remain defined).

    Not a scikit-learn estimator (its input is a mapping of methods), but built alike:
    parameters in ``__init__``, learned state ending in ``_``, `fit` returns ``self``.

    Parameters
    ----------
    top_k : int, default=10
        Candidates taken from each method and from the product.
    alpha : float, default=1.0
        L2 penalty on ``theta`` (the data term is a sum over samples).
    floor : float, default=1e-4
        Smallest probability used in the logarithms (and the product's floor).
    residual : float, default=1e-3
        Probability mass left to the product outside the candidates.

    Attributes
    ----------
    methods_ : tuple of str
        The methods seen in `fit` (their order fixes the features).
    coef_ : numpy.ndarray, shape (3 * n_methods,)
    feature_names_ : list of str
    n_fit_ : int
        Samples used (true mineral among the candidates).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> names = np.array(["a", "b", "c"])
    >>> y = rng.choice(names, size=60)
    >>> onehot = (names[None, :] == y[:, None]).astype(float)
    >>> sharp = 0.7 * onehot + 0.1
    >>> flat = np.full((60, 3), 1 / 3)
    >>> st = StackedFusion(top_k=3).fit({"sharp": (names, sharp), "flat": (names, flat)}, y)
    >>> classes, p = st.predict_proba({"sharp": (names, sharp), "flat": (names, flat)})
    >>> bool(np.mean(classes[p.argmax(1)] == y) == 1.0)
    True
    """

    def __init__(
        self,
        *,
        top_k: int = 10,
        alpha: float = 1.0,
        floor: float = DEFAULT_FLOOR,
        residual: float = 1e-3,
    ) -> None:
        self.top_k = top_k
        self.alpha = alpha
        self.floor = floor
        self.residual = residual

    def _validate(self) -> None:
        if not (isinstance(self.top_k, int | np.integer) and self.top_k >= 1):
            raise InputError(f"top_k must be an integer >= 1, got {self.top_k!r}")
        if not (isinstance(self.alpha, int | float) and self.alpha >= 0):
            raise InputError(f"alpha must be a number >= 0, got {self.alpha!r}")
        if not 0 < self.floor < 1:
            raise InputError(f"floor must be between 0 and 1, got {self.floor}")
        if not 0 <= self.residual < 1:
            raise InputError(f"residual must be in [0, 1), got {self.residual}")

    def _candidates(
        self,
        parts: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]],
        methods: Sequence[str],
        classes: Sequence[str] | npt.ArrayLike | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(classes, product proba, candidate indices (n, K) padded with -1, features (n, K, F))."""
        unknown = sorted(set(parts) - set(methods))
        if unknown:
            raise InputError(
                f"methods {', '.join(unknown)} were not seen in fit (seen: {', '.join(methods)})"
            )
        union, aligned, known = _check_parts(parts, classes)
        _, product = late_fusion(
            {m: (union, P) for m, P in aligned.items()}, floor=self.floor, classes=union
        )
        n = product.shape[0]
        k = min(int(self.top_k), union.size)
        pools = [np.argsort(-product, axis=1)[:, :k]]
        for P in aligned.values():
            pools.append(np.argsort(-np.nan_to_num(P, nan=-1.0), axis=1)[:, :k])
        width = 0
        rows = []
        for i in range(n):
            measured = [True] + [not np.isnan(P[i]).any() for P in aligned.values()]
            cands = np.unique(
                np.concatenate([pool[i] for pool, ok in zip(pools, measured, strict=True) if ok])
            )
            rows.append(cands)
            width = max(width, cands.size)
        cand = np.full((n, width), -1, dtype=np.intp)
        for i, c in enumerate(rows):
            cand[i, : c.size] = c
        feats = np.zeros((n, width, 3 * len(methods)))
        safe = np.where(cand >= 0, cand, 0)
        for j, method in enumerate(methods):
            if method not in aligned:
                continue
            P = aligned[method]
            measured = ~np.isnan(P).any(axis=1)
            p_c = np.take_along_axis(np.nan_to_num(P, nan=0.0), safe, axis=1)
            knows = known[method][safe] & measured[:, None]
            best = np.nan_to_num(P, nan=-1.0).argmax(axis=1)
            feats[:, :, 3 * j] = np.where(knows, np.log(np.clip(p_c, self.floor, None)), 0.0)
            feats[:, :, 3 * j + 1] = measured[:, None] & ~known[method][safe]
            feats[:, :, 3 * j + 2] = knows & (safe == best[:, None])
        feats[cand < 0] = 0.0
        return union, product, cand, feats

    def fit(
        self,
        parts: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]]
        | Sequence[Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]]],
        y: npt.ArrayLike | Sequence[npt.ArrayLike],
    ) -> StackedFusion:
        """Fit ``theta`` on validation probabilities of each method and the true minerals.

        Parameters
        ----------
        parts : mapping of str to (classes, proba), or a sequence of them
            As for `late_fusion` (NaN rows: the method was not measured). A sequence gives
            chunks of rows whose models knew different classes (out-of-fold predictions: one
            chunk per fold), so that "this method does not know that mineral" stays true to
            each model. Train on the method subsets you will meet: repeat rows with methods
            blanked out (NaN) to teach it.
        y : array_like of str, shape (n_samples,), or a sequence of them (one per chunk)

        Returns
        -------
        self

        Raises
        ------
        InputError
            Bad parameters, inconsistent parts, or no sample whose mineral is a candidate.
        """
        from scipy.optimize import minimize

        self._validate()
        chunks = [parts] if isinstance(parts, Mapping) else list(parts)
        labels_of = [y] if isinstance(parts, Mapping) else list(y)
        if len(chunks) != len(labels_of) or not chunks:
            raise InputError(
                f"give one label array per chunk of parts: {len(chunks)} chunks, "
                f"{len(labels_of)} label arrays"
            )
        methods = tuple(dict.fromkeys(m for chunk in chunks for m in chunk))
        feats, masks, targets = [], [], []
        for chunk, labels in zip(chunks, labels_of, strict=True):
            union, _, cand, X = self._candidates(chunk, methods, None)
            labels = np.asarray(labels).astype(str)
            if labels.shape != (cand.shape[0],):
                raise InputError(
                    f"y has {labels.size} entries but the parts have {cand.shape[0]} rows"
                )
            hit = (cand == _index(union, labels)[:, None]) & (cand >= 0)
            use = hit.any(axis=1)
            feats.append(X[use])
            masks.append(cand[use] >= 0)
            targets.append(hit[use].argmax(axis=1))
        if not sum(t.size for t in targets):
            raise InputError("no sample's true mineral is among its candidates; nothing to fit")
        width = max(m.shape[1] for m in masks)
        X = np.concatenate([np.pad(f, ((0, 0), (0, width - f.shape[1]), (0, 0))) for f in feats])
        mask = np.concatenate([np.pad(m, ((0, 0), (0, width - m.shape[1]))) for m in masks])
        target = np.concatenate(targets)
        alpha = float(self.alpha)

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            z = np.where(mask, X @ theta, -np.inf)
            z_max = z.max(axis=1, keepdims=True)
            e = np.exp(z - z_max)
            s = e.sum(axis=1, keepdims=True)
            p = e / s
            idx = np.arange(target.size)
            nll = float(np.sum(np.log(s[:, 0]) + z_max[:, 0] - z[idx, target]))
            grad = np.einsum("nk,nkf->f", p, X) - X[idx, target].sum(axis=0)
            return nll + 0.5 * alpha * theta @ theta, grad + alpha * theta

        start = np.zeros(X.shape[2])
        start[0::3] = 1.0  # the product of experts
        res = minimize(loss, start, jac=True, method="L-BFGS-B")
        self.methods_ = methods
        self.coef_ = res.x
        self.feature_names_ = [
            f"{m}:{f}" for m in methods for f in ("log_proba", "unknown_class", "top1")
        ]
        self.n_fit_ = int(target.size)
        return self

    def predict_proba(
        self,
        parts: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]],
        *,
        classes: Sequence[str] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fused probabilities over the union of the methods' classes (or ``classes``).

        Parameters
        ----------
        parts : mapping of str to (classes, proba)
            Any subset of the methods seen in `fit`.
        classes : sequence of str, optional
            The output class order; default the sorted union.

        Returns
        -------
        classes : ndarray of str
        proba : ndarray, shape (n_samples, n_classes)
            Rows sum to 1.
        """
        if not hasattr(self, "coef_"):
            raise InputError("this StackedFusion is not fitted yet; call fit(parts, y) first")
        union, product, cand, X = self._candidates(parts, self.methods_, classes)
        mask = cand >= 0
        z = np.where(mask, X @ self.coef_, -np.inf)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        stack = z / z.sum(axis=1, keepdims=True)
        rest = product.copy()
        rows = np.repeat(np.arange(cand.shape[0]), cand.shape[1])[mask.ravel()]
        rest[rows, cand[mask]] = 0.0
        total = rest.sum(axis=1, keepdims=True)
        share = np.where(total > 0, self.residual, 0.0)
        out = rest / np.where(total > 0, total, 1.0) * share
        out[rows, cand[mask]] += ((1.0 - share) * stack)[mask]
        return union, out


# ---------------------------------------------------------------------- early fusion
@dataclass(frozen=True, eq=False)
class BlockFeatures:
    """Per-method similarity features of measurements, one block per method.

    Attributes
    ----------
    methods : tuple of str
    blocks : dict of str to ndarray
        Per method, (n_samples, n_features_m) float32 rows of unit length
        (`lithoscope.models.scoring.correlation_features`), zero rows where not measured.
    present : ndarray of bool, shape (n_samples, n_methods)
        Whether each method was measured (and not flat).
    """

    methods: tuple[str, ...]
    blocks: dict[str, np.ndarray]
    present: np.ndarray

    def __len__(self) -> int:
        return int(self.present.shape[0])

    def take(self, index: npt.ArrayLike) -> BlockFeatures:
        """The rows ``index``."""
        idx = np.asarray(index)
        return BlockFeatures(
            self.methods, {m: b[idx] for m, b in self.blocks.items()}, self.present[idx]
        )

    def only(self, methods: Sequence[str]) -> BlockFeatures:
        """The same rows as if only ``methods`` had been measured."""
        keep = np.isin(np.asarray(self.methods), list(methods))
        blocks = {
            m: (b if keep[j] else np.zeros_like(b)) for j, (m, b) in enumerate(self.blocks.items())
        }
        return BlockFeatures(self.methods, blocks, self.present & keep[None, :])

    def concatenated(
        self, *, weights: Mapping[str, float] | None = None, flags: bool = True
    ) -> np.ndarray:
        """The early-fusion vector: ``sqrt(w_m)``-scaled blocks (zeros where missing) and flags.

        Plain dot products of two such vectors (without flags) are the weighted sum of the
        per-method similarities over the methods both rows have; ``flags`` appends one 0/1
        column per method (measured or not), for models that must tell "missing" from
        "dissimilar".
        """
        w = _block_weights(self.methods, weights)
        parts = [np.sqrt(w[m]) * self.blocks[m] for m in self.methods]
        if flags:
            parts.append(self.present.astype(np.float32))
        return np.hstack(parts).astype(np.float32)


def _block_weights(methods: Sequence[str], weights: Mapping[str, float] | None) -> dict[str, float]:
    out = {m: 1.0 if weights is None else float(weights.get(m, 1.0)) for m in methods}
    for m, w in out.items():
        if w < 0 or not np.isfinite(w):
            raise InputError(f"weight of {m} must be a non-negative number, got {w}")
    return out


def early_fusion_features(
    blocks: Mapping[str, npt.ArrayLike],
    *,
    feature_params: Mapping[str, Mapping[str, Any]] | None = None,
) -> BlockFeatures:
    """Early-fusion features of preprocessed spectra of several methods (any subset per row).

    Each method's spectra (on that method's grid) become unit-length similarity rows with
    `lithoscope.models.scoring.correlation_features` and the method's own settings (the
    library search's: intensity power, derivative weight); a row of NaN (method not
    measured) or a flat row becomes zeros and is marked absent.

    Parameters
    ----------
    blocks : mapping of str to array_like
        Per method, (n_samples, n_points_m); the same rows (samples) in every method.
    feature_params : mapping of str to dict, optional
        Per method, keyword arguments of `correlation_features` (default its defaults).

    Returns
    -------
    BlockFeatures

    Raises
    ------
    InputError
        No method, methods with different numbers of rows, bad feature parameters.

    Examples
    --------
    >>> raman = np.array([[0.0, 1.0, 4.0, 1.0], [np.nan] * 4])
    >>> libs = np.array([[1.0, 0.0, 0.0, 2.0, 0.0], [0.0, 3.0, 0.0, 0.0, 1.0]])
    >>> f = early_fusion_features({"raman": raman, "libs": libs})
    >>> f.present.tolist()
    [[True, True], [False, True]]
    >>> f.concatenated().shape
    (2, 11)
    """
    from lithoscope.models.scoring import correlation_features

    if not blocks:
        raise InputError("early fusion needs the spectra of at least one method")
    params = dict(feature_params or {})
    unknown = sorted(set(params) - set(blocks))
    if unknown:
        raise InputError(
            f"feature_params names methods without spectra: {', '.join(unknown)} "
            f"(methods: {', '.join(blocks)})"
        )
    methods = tuple(blocks)
    n_rows = None
    out: dict[str, np.ndarray] = {}
    present = []
    for method in methods:
        X = np.asarray(blocks[method], dtype=np.float64)
        if X.ndim != 2:
            raise InputError(f"{method}: expected a 2-D array of spectra, got shape {X.shape}")
        if n_rows is not None and X.shape[0] != n_rows:
            raise InputError(f"{method}: {X.shape[0]} rows, the other methods have {n_rows}")
        n_rows = X.shape[0]
        measured = ~np.isnan(X).any(axis=1)
        F = correlation_features(np.where(measured[:, None], X, 0.0), **params.get(method, {}))
        ok = measured & (np.abs(F).sum(axis=1) > 0)
        F[~ok] = 0.0
        out[method] = F
        present.append(ok)
    return BlockFeatures(methods, out, np.column_stack(present))


def block_similarities(query: BlockFeatures, references: BlockFeatures) -> dict[str, np.ndarray]:
    """Per-method similarity of every query row to every reference row (zeros where missing)."""
    if query.methods != references.methods:
        raise InputError(
            f"query methods {query.methods} differ from the references' {references.methods}"
        )
    return {m: query.blocks[m] @ references.blocks[m].T for m in query.methods}


def early_fusion_similarity(
    query: BlockFeatures,
    references: BlockFeatures,
    *,
    weights: Mapping[str, float] | None = None,
    similarities: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Cosine similarity of the concatenated block vectors over the methods of each query.

    With every block of unit length and weighted by ``sqrt(w_m)``, the cosine of a query
    ``q`` (methods ``Q``) and a reference ``r`` (methods ``R``), both restricted to ``Q``, is

        sum_{m in Q & R} w_m s_m(q, r) / sqrt(W(Q) * W(Q & R)),   W(A) = sum_{m in A} w_m,

    so a reference is compared on the methods the query has; one lacking some of them is
    discounted by ``sqrt(W(Q & R) / W(Q))``, and one sharing none scores -1 (the lowest
    similarity).

    Parameters
    ----------
    query, references : BlockFeatures
    weights : mapping of str to float, optional
        Per-method weight (default 1).
    similarities : mapping of str to ndarray, optional
        `block_similarities` of the same rows, when already computed (weight searches).

    Returns
    -------
    numpy.ndarray, shape (n_queries, n_references)
    """
    sims = similarities if similarities is not None else block_similarities(query, references)
    w = _block_weights(query.methods, weights)
    pq = query.present.astype(np.float64)
    pr = references.present.astype(np.float64)
    wv = np.array([w[m] for m in query.methods])
    total = np.zeros((len(query), len(references)))
    for j, m in enumerate(query.methods):
        if wv[j] > 0:
            total += wv[j] * pq[:, j : j + 1] * sims[m]
    w_query = pq @ wv
    w_shared = (pq * wv) @ pr.T
    ok = (w_shared > 0) & (w_query[:, None] > 0)
    denom = np.sqrt(np.where(ok, w_query[:, None] * w_shared, 1.0))
    return np.where(ok, total / denom, -1.0)


class EarlyFusionSearch:
    """Library search on concatenated spectra of several methods (early fusion).

    Every reference is one measurement of a training sample (its spectra of any methods); a
    query is compared to each reference by `early_fusion_similarity` (the cosine of the
    concatenated, per-method unit-length feature blocks over the query's methods), a mineral
    scores its best reference, and probabilities are a softmax with a temperature fitted on the
    references, each sample left out of its own search (as `LibrarySearch`).

    Not a scikit-learn estimator (its input is a mapping of methods), but built alike.

    Parameters
    ----------
    feature_params : mapping of str to dict, optional
        Per method, keyword arguments of `correlation_features`.
    weights : mapping of str to float, optional
        Per-method weight in the similarity (default 1).
    temperature : float or 'auto', default='auto'

    Attributes
    ----------
    classes_ : ndarray of str
    references_ : BlockFeatures
        Sorted by class.
    reference_labels_ : ndarray of int
        Class index of each reference.
    temperature_ : float
    """

    def __init__(
        self,
        *,
        feature_params: Mapping[str, Mapping[str, Any]] | None = None,
        weights: Mapping[str, float] | None = None,
        temperature: float | str = "auto",
    ) -> None:
        self.feature_params = feature_params
        self.weights = weights
        self.temperature = temperature

    def fit(
        self,
        blocks: Mapping[str, npt.ArrayLike],
        y: npt.ArrayLike,
        *,
        groups: npt.ArrayLike | None = None,
    ) -> EarlyFusionSearch:
        """Store the references: measurements ``blocks`` of minerals ``y`` (samples ``groups``)."""
        from lithoscope.models.scoring import class_starts

        t = self.temperature
        if not (t == "auto" or (isinstance(t, int | float) and t > 0)):
            raise InputError(f"temperature must be 'auto' or a positive number, got {t!r}")
        feats = early_fusion_features(blocks, feature_params=self.feature_params)
        labels = np.asarray(y).astype(str)
        if labels.shape != (len(feats),):
            raise InputError(f"y has {labels.size} entries but there are {len(feats)} measurements")
        keep = feats.present.any(axis=1)
        if not keep.any():
            raise InputError("no reference has a measured spectrum")
        self.classes_, codes = np.unique(labels[keep], return_inverse=True)
        order = np.argsort(codes, kind="stable")
        self.references_ = feats.take(np.flatnonzero(keep)[order])
        self.reference_labels_ = codes[order]
        self._starts = class_starts(self.reference_labels_)
        if self.temperature == "auto":
            g = None if groups is None else np.asarray(groups)[keep][order]
            self.temperature_ = self._auto_temperature(g)
        else:
            self.temperature_ = float(self.temperature)
        return self

    def _auto_temperature(self, groups: np.ndarray | None) -> float:
        from lithoscope.models.scoring import class_max, fit_temperature

        rng = np.random.default_rng(0)
        n = len(self.references_)
        idx = rng.choice(n, size=min(n, 1500), replace=False)
        S = early_fusion_similarity(
            self.references_.take(idx), self.references_, weights=self.weights
        )
        if groups is None:
            S[np.arange(idx.size), idx] = -np.inf
        else:
            S[groups[idx][:, None] == groups[None, :]] = -np.inf
        scores = class_max(S, self._starts)
        true = self.reference_labels_[idx]
        ok = np.isfinite(scores[np.arange(idx.size), true])
        if ok.sum() < 10:
            return 0.02
        return fit_temperature(np.where(np.isfinite(scores), scores, -1.0)[ok], true[ok])

    def _check_fitted(self) -> None:
        if not hasattr(self, "references_"):
            raise InputError("this EarlyFusionSearch is not fitted yet; call fit(blocks, y) first")

    def features(self, blocks: Mapping[str, npt.ArrayLike]) -> BlockFeatures:
        """Query features in the references' method order (methods not given: not measured)."""
        self._check_fitted()
        extra = sorted(set(blocks) - set(self.references_.methods))
        if extra:
            raise InputError(
                f"methods {', '.join(extra)} were not seen in fit "
                f"(seen: {', '.join(self.references_.methods)})"
            )
        if not blocks:
            raise InputError("give the spectra of at least one method")
        params = self.feature_params or {}
        given = early_fusion_features(
            blocks, feature_params={m: p for m, p in params.items() if m in blocks}
        )
        rows = len(given)
        out, present = {}, []
        for m in self.references_.methods:
            width = self.references_.blocks[m].shape[1]
            if m not in blocks:
                out[m] = np.zeros((rows, width), dtype=np.float32)
                present.append(np.zeros(rows, dtype=bool))
                continue
            if given.blocks[m].shape[1] != width:
                raise InputError(
                    f"{m}: {given.blocks[m].shape[1]} features per spectrum, the references "
                    f"have {width}; use the grid and preprocessing of the references"
                )
            out[m] = given.blocks[m]
            present.append(given.present[:, given.methods.index(m)])
        return BlockFeatures(self.references_.methods, out, np.column_stack(present))

    def class_scores(
        self,
        blocks: Mapping[str, npt.ArrayLike] | BlockFeatures,
        *,
        weights: Mapping[str, float] | None = None,
        similarities: Mapping[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Best similarity per mineral, (n_queries, n_classes); ``weights`` default the model's."""
        from lithoscope.models.scoring import class_max

        feats = blocks if isinstance(blocks, BlockFeatures) else self.features(blocks)
        S = early_fusion_similarity(
            feats,
            self.references_,
            weights=self.weights if weights is None else weights,
            similarities=similarities,
        )
        return class_max(S, self._starts)

    def predict_proba(self, blocks: Mapping[str, npt.ArrayLike] | BlockFeatures) -> np.ndarray:
        """Softmax of `class_scores` at ``temperature_``, (n_queries, n_classes)."""
        from lithoscope.models.scoring import softmax

        return softmax(self.class_scores(blocks), self.temperature_)
