"""The scoring maths every model shares: similarity features, class scores, softmax, temperature.

One home for what library search, the CNN's hybrid score, the classical baselines and the
occlusion shortcut of `lithoscope.explain.attribution` compute alike:

* `correlation_features`: rows whose dot product is the (blended) Pearson or cosine
  similarity of two spectra after an intensity power (and optional pooling), optionally
  blended with the similarity of their first derivatives;
* `class_starts` and `class_max`: the best similarity per class when references are sorted
  by class;
* `softmax` with a temperature and `fit_temperature` (minimum log loss);
* `top1_and_mrr` of class scores.

Pure NumPy (no Keras): importing this module stays cheap.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lithoscope.errors import InputError

__all__ = [
    "DERIVATIVES",
    "METRICS",
    "class_max",
    "class_starts",
    "correlation_features",
    "fit_temperature",
    "log_loss",
    "power_transform",
    "softmax",
    "top1_and_mrr",
    "top_k",
]

#: similarity measures of `correlation_features`
METRICS = ("pearson", "cosine")
#: first-derivative estimates of `correlation_features`: ``np.gradient`` (same length, central
#: differences) or ``np.diff`` (one point shorter)
DERIVATIVES = ("gradient", "difference")


def softmax(scores: npt.ArrayLike, temperature: float) -> np.ndarray:
    """Row-wise ``softmax(scores / temperature)``.

    Parameters
    ----------
    scores : array_like, shape (n_samples, n_classes)
    temperature : float
        Positive; small values sharpen the distribution.

    Returns
    -------
    numpy.ndarray, shape (n_samples, n_classes)
        Rows sum to one.

    Examples
    --------
    >>> softmax(np.array([[0.0, np.log(3.0)]]), 1.0).round(3).tolist()
    [[0.25, 0.75]]
    """
    z = np.asarray(scores) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def top_k(scores: npt.ArrayLike, k: int) -> np.ndarray:
    """Column indices of each row's ``k`` highest scores, highest first (ties: lower index).

    The same as ``np.argsort(-scores, axis=1, kind="stable")[:, :k]`` without sorting all
    classes (a partition, then a sort of ``k`` columns).

    Examples
    --------
    >>> top_k(np.array([[0.1, 0.5, 0.2, 0.5]]), 3).tolist()
    [[1, 3, 2]]
    """
    arr = np.asarray(scores, dtype=np.float64)
    n = arr.shape[1]
    if k >= n:
        return np.argsort(-arr, axis=1, kind="stable")[:, :k]
    cand = np.argpartition(-arr, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(arr, cand, axis=1)
    # a partition picks among columns tied with the k-th value arbitrarily; rows with such
    # ties (rare with real probabilities) take the tied columns by lowest index instead
    kth = vals.min(axis=1, keepdims=True)
    tied = np.count_nonzero(arr == kth, axis=1) > np.count_nonzero(vals == kth, axis=1)
    if tied.any():
        sub, sub_kth = arr[tied], kth[tied]
        # int8 keys: numpy's stable sort is a radix sort there
        key = np.where(sub > sub_kth, 0, np.where(sub == sub_kth, 1, 2)).astype(np.int8)
        cand[tied] = np.argsort(key, axis=1, kind="stable")[:, :k]
        vals = np.take_along_axis(arr, cand, axis=1)
    # best first; among equal values the lower index first
    idx = np.lexsort((cand, -vals), axis=1)
    return np.take_along_axis(cand, idx, axis=1)


def class_starts(labels: npt.ArrayLike) -> np.ndarray:
    """First position of each class in sorted ``labels`` (classes without an entry are absent).

    Examples
    --------
    >>> class_starts([0, 0, 1, 3, 3, 3]).tolist()
    [0, 2, 3]
    """
    labels = np.asarray(labels)
    return np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])


def class_max(similarity: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Best similarity per class; columns sorted by class, ``starts`` the first column of each.

    Examples
    --------
    >>> class_max(np.array([[0.1, 0.5, 0.2, 0.3]]), np.array([0, 2])).tolist()
    [[0.5, 0.3]]
    """
    return np.maximum.reduceat(similarity, starts, axis=1)


def log_loss(scores: np.ndarray, y_index: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of the true classes under ``softmax(scores / temperature)``."""
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(y_index.size), y_index]))


def fit_temperature(scores: npt.ArrayLike, y_index: npt.ArrayLike) -> float:
    """Temperature minimising the log loss of ``softmax(scores / T)`` on labelled scores.

    A log grid over ``[1e-4, 100]`` finds the basin, a bounded scalar search refines it (a
    bounded search alone can stop in a flat region of the loss at extreme temperatures).

    Parameters
    ----------
    scores : array_like, shape (n_samples, n_classes)
        Similarities or logits, all finite.
    y_index : array_like of int, shape (n_samples,)
        Column of the true class of each row.

    Returns
    -------
    float
    """
    from scipy.optimize import minimize_scalar

    scores = np.asarray(scores, dtype=np.float64)
    y_index = np.asarray(y_index, dtype=np.intp)

    def nll(log_t: float) -> float:
        return log_loss(scores, y_index, float(np.exp(log_t)))

    grid = np.linspace(np.log(1e-4), np.log(1e2), 61)
    best = grid[int(np.argmin([nll(t) for t in grid]))]
    step = grid[1] - grid[0]
    res = minimize_scalar(nll, bounds=(best - step, best + step), method="bounded")
    return float(np.exp(res.x))


def top1_and_mrr(scores: np.ndarray, y_index: np.ndarray) -> tuple[float, float]:
    """Top-1 accuracy and mean reciprocal rank of the true class (ties count against it).

    Examples
    --------
    >>> top1_and_mrr(np.array([[0.9, 0.1], [0.6, 0.4]]), np.array([0, 1]))
    (0.5, 0.75)
    """
    true = scores[np.arange(y_index.size), y_index][:, None]
    rank = 1 + np.sum(scores > true, axis=1)
    return float(np.mean(rank == 1)), float(np.mean(1.0 / rank))


def power_transform(X: npt.ArrayLike, power: float, *, signed: bool = True) -> np.ndarray:
    """Intensities raised to ``power``: compresses strong bands so that weak ones count.

    Parameters
    ----------
    X : array_like
    power : float
        Positive; 1 leaves ``X`` unchanged (clipped at zero when ``signed`` is False).
    signed : bool, default=True
        True: ``sign(X) * |X| ** power`` (derivatives and other signed data keep their sign);
        False: ``max(X, 0) ** power`` (as the networks' input layer `PowerScale`).

    Returns
    -------
    numpy.ndarray (float64)

    Examples
    --------
    >>> power_transform([4.0, -9.0], 0.5).tolist()
    [2.0, -3.0]
    >>> power_transform([4.0, -9.0], 0.5, signed=False).tolist()
    [2.0, 0.0]
    """
    arr = np.asarray(X, dtype=np.float64)
    if not signed:
        arr = np.clip(arr, 0.0, None)
        return arr if power == 1 else (np.sqrt(arr) if power == 0.5 else arr**power)
    return arr if power == 1 else np.sign(arr) * np.abs(arr) ** power


def correlation_features(
    X: npt.ArrayLike,
    *,
    metric: str = "pearson",
    power: float = 0.5,
    signed: bool = True,
    derivative_weight: float = 0.0,
    derivative: str = "gradient",
    pool: int = 1,
) -> np.ndarray:
    """Rows whose dot product is the blended similarity of two spectra.

    Intensities go through `power_transform`, then (``pool > 1``) are averaged over ``pool``
    neighbouring points (trailing points that do not fill a pool are dropped); the result
    ``A`` and its first derivative ``D`` are each centred (Pearson) and scaled to unit length,
    and weighted by the square root of their weight, so that for two spectra::

        features(a) @ features(b) = (1 - w) * r(A_a, A_b) + w * r(D_a, D_b)

    with ``r`` the Pearson (or cosine) similarity and ``w = derivative_weight``. A flat row
    (zero norm) gives zeros, not NaN.

    Parameters
    ----------
    X : array_like, shape (n_spectra, n_points)
    metric : {'pearson', 'cosine'}, default='pearson'
    power : float, default=0.5
        Positive exponent of `power_transform`.
    signed : bool, default=True
        See `power_transform`.
    derivative_weight : float in [0, 1], default=0.0
    derivative : {'gradient', 'difference'}, default='gradient'
        ``np.gradient`` (library search) or ``np.diff`` (the CNN's hybrid score).
    pool : int, default=1
        Points averaged into one before the similarity.

    Returns
    -------
    numpy.ndarray of float32, shape (n_spectra, n_features)

    Raises
    ------
    InputError
        Unknown ``metric`` or ``derivative``, ``derivative_weight`` outside [0, 1], a
        non-positive ``power`` or ``pool``.

    Examples
    --------
    >>> F = correlation_features([[1.0, 4.0, 9.0], [9.0, 4.0, 1.0]], power=0.5)
    >>> round(float(F[0] @ F[1]), 6)  # sqrt: [1, 2, 3] against [3, 2, 1]
    -1.0
    """
    if metric not in METRICS:
        raise InputError(f"metric {metric!r} is not one of {', '.join(METRICS)}")
    if derivative not in DERIVATIVES:
        raise InputError(f"derivative {derivative!r} is not one of {', '.join(DERIVATIVES)}")
    if not 0 <= derivative_weight <= 1:
        raise InputError(f"derivative_weight must be in [0, 1], got {derivative_weight}")
    if power <= 0:
        raise InputError(f"power must be positive, got {power}")
    if pool < 1:
        raise InputError(f"pool must be a positive number of points, got {pool}")
    A = power_transform(X, power, signed=signed)
    if A.ndim == 1:
        A = A[None, :]
    if pool > 1:
        n = A.shape[1] - A.shape[1] % pool
        A = A[:, :n].reshape(A.shape[0], -1, pool).mean(axis=2)
    parts = [(1.0 - derivative_weight, A)]
    if derivative_weight > 0:
        D = np.gradient(A, axis=1) if derivative == "gradient" else np.diff(A, axis=1)
        parts.append((derivative_weight, D))
    out = []
    for weight, P in parts:
        if weight <= 0:
            continue
        if metric == "pearson":
            P = P - P.mean(axis=1, keepdims=True)
        norm = np.linalg.norm(P, axis=1, keepdims=True)
        out.append(np.sqrt(weight) * P / np.where(norm > 0, norm, 1.0))
    # the dot product of concatenated, weight-scaled unit vectors is the blended similarity
    return np.hstack(out).astype(np.float32)
