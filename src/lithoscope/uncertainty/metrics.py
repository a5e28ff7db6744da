"""How good are prediction sets and unknown-mineral calls: coverage, size, AUROC, error rates."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

from lithoscope.errors import InputError

__all__ = [
    "auroc",
    "coverage",
    "expected_calibration_error",
    "false_unknown_rate",
    "mean_set_size",
    "per_class_coverage",
    "reliability_bins",
]


def _check_sets(sets: Sequence[npt.ArrayLike], y_index: npt.ArrayLike) -> np.ndarray:
    y = np.asarray(y_index)
    if y.ndim != 1 or y.size != len(sets):
        raise InputError(
            f"y_index must be 1-D with one class index per set ({len(sets)}), got shape {y.shape}"
        )
    if y.size == 0:
        raise InputError("no prediction sets given")
    return y.astype(np.int64)


def _hits(sets: Sequence[npt.ArrayLike], y: np.ndarray) -> np.ndarray:
    return np.array([int(t) in set(np.asarray(s).tolist()) for s, t in zip(sets, y, strict=True)])


def coverage(sets: Sequence[npt.ArrayLike], y_index: npt.ArrayLike) -> float:
    """Fraction of the sets that contain the true class.

    Examples
    --------
    >>> coverage([[0, 2], [1], [2, 0]], [2, 0, 2])
    0.6666666666666666
    """
    y = _check_sets(sets, y_index)
    return float(_hits(sets, y).mean())


def mean_set_size(sets: Sequence[npt.ArrayLike]) -> float:
    """Average number of classes per set.

    Examples
    --------
    >>> mean_set_size([[0, 2], [1], [2, 0, 1]])
    2.0
    """
    if len(sets) == 0:
        raise InputError("no prediction sets given")
    return float(np.mean([np.asarray(s).size for s in sets]))


def per_class_coverage(
    sets: Sequence[npt.ArrayLike], y_index: npt.ArrayLike, n_classes: int | None = None
) -> np.ndarray:
    """Coverage among the spectra of each true class, shape (n_classes,).

    NaN for classes without spectra. ``n_classes`` defaults to ``max(y_index) + 1``.

    Examples
    --------
    >>> per_class_coverage([[0], [0, 1], [0]], [0, 1, 1], n_classes=3).tolist()
    [1.0, 0.5, nan]
    """
    y = _check_sets(sets, y_index)
    k = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if y.min() < 0 or y.max() >= k:
        raise InputError(f"y_index must be in 0..{k - 1}, got values {y.min()}..{y.max()}")
    hits = _hits(sets, y).astype(np.float64)
    n = np.bincount(y, minlength=k).astype(np.float64)
    covered = np.bincount(y, weights=hits, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, covered / n, np.nan)


def auroc(scores_known: npt.ArrayLike, scores_unknown: npt.ArrayLike) -> float:
    """Area under the ROC curve of an out-of-library score (unknown = positive class).

    The probability that an unknown spectrum scores higher than a known one, ties counting one
    half (Mann-Whitney U / (n_known n_unknown)). 0.5 = chance, 1 = perfect separation.

    Examples
    --------
    >>> auroc([0.1, 0.2, 0.3], [0.25, 0.9])
    0.8333333333333334
    """
    k = np.asarray(scores_known, dtype=np.float64).ravel()
    u = np.asarray(scores_unknown, dtype=np.float64).ravel()
    if k.size == 0 or u.size == 0:
        raise InputError(
            f"auroc needs scores of known and of unknown spectra, got {k.size} and {u.size}"
        )
    if not (np.all(np.isfinite(k)) and np.all(np.isfinite(u))):
        raise InputError("auroc scores hold NaN or infinite values")
    ranks = rankdata(np.concatenate([k, u]))  # average ranks handle ties
    u_stat = ranks[k.size :].sum() - u.size * (u.size + 1) / 2
    return float(u_stat / (k.size * u.size))


def false_unknown_rate(unknown_on_known: npt.ArrayLike) -> float:
    """Fraction of spectra of KNOWN minerals that were called unknown.

    Parameters
    ----------
    unknown_on_known : array_like of bool
        ``UnknownDetector.is_unknown`` on spectra whose mineral is in the library.

    Examples
    --------
    >>> false_unknown_rate([False, True, False, False])
    0.25
    """
    flags = np.asarray(unknown_on_known)
    if flags.ndim != 1 or flags.size == 0:
        raise InputError(f"expected a non-empty 1-D array of flags, got shape {flags.shape}")
    if flags.dtype != bool:
        raise InputError(f"expected boolean flags (is_unknown output), got dtype {flags.dtype}")
    return float(flags.mean())


def reliability_bins(
    confidence: npt.ArrayLike, correct: npt.ArrayLike, *, n_bins: int = 10
) -> list[dict[str, float | int | None]]:
    """Mean confidence and accuracy of the answers in equal-width confidence bins.

    The bins are ``[0, 1/n), [1/n, 2/n), ..., [(n-1)/n, 1]``; an empty bin has ``None``
    confidence and accuracy. What a reliability diagram plots: a calibrated model's bins lie
    on the diagonal.

    Parameters
    ----------
    confidence : array_like of float in [0, 1], shape (n,)
        The probability of each answer (its top candidate).
    correct : array_like of bool, shape (n,)
        Whether that answer was right.
    n_bins : int, default=10

    Returns
    -------
    list of dict
        ``lower``, ``upper``, ``n``, ``confidence``, ``accuracy`` per bin.

    Examples
    --------
    >>> bins = reliability_bins([0.95, 0.9, 0.15], [True, False, False], n_bins=2)
    >>> [(b["n"], b["confidence"], b["accuracy"]) for b in bins]
    [(1, 0.15, 0.0), (2, 0.925, 0.5)]
    """
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(correct, dtype=bool)
    if conf.ndim != 1 or hit.shape != conf.shape:
        raise InputError(
            f"confidence and correct must be 1-D of one length, got {conf.shape} and {hit.shape}"
        )
    if conf.size and (not np.all(np.isfinite(conf)) or conf.min() < 0 or conf.max() > 1):
        raise InputError("confidence must be probabilities in [0, 1]")
    if int(n_bins) < 1:
        raise InputError(f"n_bins must be >= 1, got {n_bins}")
    n_bins = int(n_bins)
    which = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    out: list[dict[str, float | int | None]] = []
    for b in range(n_bins):
        inside = which == b
        n = int(inside.sum())
        out.append(
            {
                "lower": b / n_bins,
                "upper": (b + 1) / n_bins,
                "n": n,
                "confidence": float(conf[inside].mean()) if n else None,
                "accuracy": float(hit[inside].mean()) if n else None,
            }
        )
    return out


def expected_calibration_error(
    confidence: npt.ArrayLike, correct: npt.ArrayLike, *, n_bins: int = 10
) -> float:
    """The answers' mean gap between confidence and accuracy, bin by bin (ECE).

    ``sum_b n_b / n * |accuracy_b - confidence_b|`` over the `reliability_bins`.

    Examples
    --------
    >>> round(expected_calibration_error([0.95, 0.9, 0.15], [True, False, False], n_bins=2), 4)
    0.3333
    """
    bins = reliability_bins(confidence, correct, n_bins=n_bins)
    total = sum(int(b["n"]) for b in bins)  # type: ignore[arg-type]
    if total == 0:
        raise InputError("no answers given")
    return float(
        sum(
            int(b["n"]) / total * abs(float(b["accuracy"]) - float(b["confidence"]))  # type: ignore[arg-type]
            for b in bins
            if b["n"]
        )
    )
