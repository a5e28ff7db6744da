"""Split conformal prediction sets from any classifier's probabilities.

`ConformalPredictor` turns the probabilities of a fitted model into *prediction sets*: lists of
minerals that contain the true one with a chosen probability (the *confidence*, e.g. 0.9), with a
finite-sample guarantee that holds whatever the model, as long as the calibration spectra and the
new spectra are exchangeable (drawn the same way). It works from probabilities only, so library
search, classical baselines, networks, fusion and mixture models all plug in the same way.

How to calibrate
----------------
1. Split the data by RRUFF sample (`lithoscope.data.datasets.grouped_split`): the model is
   trained on one part; the calibration spectra come from *other* samples than the training
   spectra (otherwise the model has seen them and the sets come out too small).
2. Keep only calibration spectra whose mineral is one of the model's ``classes_``: the guarantee
   is about minerals the model can name; spectra of other minerals are the business of
   `lithoscope.uncertainty.UnknownDetector`. `labels_to_index` does both the encoding and the
   filtering.
3. ``ConformalPredictor().calibrate(model.predict_proba(X_cal), y_index)``; then
   ``predict_sets(model.predict_proba(X_new), confidence=0.9)``. Calibration stores the
   nonconformity scores, so any confidence can be asked later without recalibrating.

Scores (higher = the label conforms less)
-----------------------------------------
``lac``
    ``1 - p(y)`` (Sadinle, Lei & Wasserman 2019): the smallest sets on average, but the
    coverage is lower on hard spectra and higher on easy ones.
``aps``
    Adaptive prediction sets (Romano, Sesia & Candès 2020): the probability mass of the classes
    ranked above ``y`` plus ``u * p(y)``; sets grow with the model's uncertainty.
``raps``
    Regularised APS (Angelopoulos, Bates, Malik & Jordan 2021): APS plus
    ``raps_lambda * max(0, rank(y) - raps_k_reg)`` (rank from 1), which discourages long tails of
    improbable classes.

With ``randomized=False`` (default) ``u = 1``: the score of ``y`` is the mass down to and
including ``y``. With ``randomized=True`` ``u`` is a pseudo-random number in [0, 1) computed from
the spectrum's probability vector and ``random_state``: the coverage comes closer to the nominal
level (ties are broken at random), the same spectrum always gets the same set (also after
`save`/`load`), and since ``u`` is a fixed function of the probabilities the score stays a
deterministic function of (spectrum, label), so the finite-sample guarantee holds exactly.

Sets are never empty
--------------------
A plain conformal set may come out empty (no class conforms). Here the model's most probable
class is always in the set, and the calibration accounts for it: a calibration spectrum whose
true mineral was the model's most probable class counts as conforming perfectly (score 0) when
the threshold is computed. That is the split-conformal procedure for the score "0 for the best
class, the method's score otherwise", so the coverage stays at the nominal level instead of
creeping above it. Adding the best class after the fact (as MAPIE's APS with
``include_last_label=False`` does) is valid too but, for the peaked probabilities of a library
search, far too cautious: on held-out RRUFF Raman samples (~150 minerals, APS, confidence 0.9) it
covers 99 % with 14 minerals per set on average, this rule 90 % with 2.3. When the model alone is
right more often than the confidence asks, the threshold is 0 and the sets are the single best
class. ``scores_`` keeps the method's own scores (as MAPIE reports them), and `p_values` uses
those. Reporting "none of the library minerals" is `UnknownDetector`'s job.

Mondrian (class-conditional) sets
---------------------------------
``mondrian=True`` computes one quantile per class from that class's calibration scores, so that
coverage holds for every mineral separately, not only on average. Most minerals have 1-3 RRUFF
spectra: a class with fewer than ``min_class_size`` calibration spectra, or with too few for the
requested confidence (fewer than ``c / (1 - c)``: 9 at 0.9, 19 at 0.95, for which the
class-conditional quantile would be infinite and the class would enter every set), uses the
marginal quantile instead. Such classes have no guarantee of their own: the marginal quantile is
set mostly by the well-represented minerals, so a model that does worse on rare minerals
under-covers them. `class_quantiles` tells which classes were conditional.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator

from lithoscope._files import read_json, write_json
from lithoscope.errors import InputError
from lithoscope.models.scoring import top_k

__all__ = [
    "ConformalPredictor",
    "conformal_quantile",
    "labels_to_index",
    "nonconformity",
]

FORMAT = "lithoscope-conformal"
FORMAT_VERSION = 1

#: tolerance of the row sums of a probability matrix (float32 models are welcome)
_SUM_ATOL = 1e-3
#: scores closer than this to a threshold are at the threshold (rounding of cumulative sums)
_TIE_TOL = 1e-10


# ---------------------------------------------------------------------- input checks
def check_proba(
    proba: npt.ArrayLike, *, name: str = "proba", n_classes: int | None = None
) -> np.ndarray:
    """``proba`` as a float64 (n, n_classes) matrix of probabilities, or `InputError`."""
    arr = np.asarray(proba, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise InputError(
            f"{name} must be a 2-D array (n_spectra, n_classes) with at least one row, "
            f"got shape {arr.shape}"
        )
    if n_classes is not None and arr.shape[1] != n_classes:
        raise InputError(
            f"{name} has {arr.shape[1]} columns but the calibration had {n_classes} classes; "
            "use the probabilities of the model that was calibrated"
        )
    if arr.shape[1] < 2:
        raise InputError(f"{name} must have at least 2 classes (columns), got {arr.shape[1]}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} holds NaN or infinite values")
    if np.any(arr < -1e-12):
        raise InputError(f"{name} holds negative values; pass predict_proba(), not scores")
    sums = arr.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > _SUM_ATOL)
    if bad.size:
        raise InputError(
            f"{name} rows must sum to 1, row {bad[0]} sums to {sums[bad[0]]:.4g}; "
            "pass predict_proba(), not class_scores()"
        )
    return arr


def check_confidence(confidence: float, *, name: str = "confidence") -> float:
    """``confidence`` as a float strictly between 0 and 1, or `InputError`."""
    try:
        c = float(confidence)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number in (0, 1), got {confidence!r}") from None
    if not 0.0 < c < 1.0:
        raise InputError(f"{name} must be strictly between 0 and 1 (e.g. 0.9), got {confidence}")
    return c


def _check_index(y_index: npt.ArrayLike, n: int, n_classes: int) -> np.ndarray:
    y = np.asarray(y_index)
    if y.ndim != 1 or y.size != n:
        raise InputError(
            f"y_index must be 1-D with one class index per row of proba ({n}), got shape {y.shape}"
        )
    if y.dtype.kind not in "iu":
        if y.dtype.kind != "f" or not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise InputError(
                f"y_index must hold integer class indices (positions in the model's classes_), "
                f"got dtype {y.dtype}; encode labels with labels_to_index(model.classes_, y)"
            )
    y = y.astype(np.int64)
    bad = np.flatnonzero((y < 0) | (y >= n_classes))
    if bad.size:
        raise InputError(
            f"y_index[{bad[0]}] = {y[bad[0]]} is outside 0..{n_classes - 1}: exclude calibration "
            "spectra of minerals the model does not know (labels_to_index does)"
        )
    return y


def labels_to_index(classes: npt.ArrayLike, labels: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``labels`` in a model's ``classes_``, and which labels the model knows.

    Parameters
    ----------
    classes : array_like of str
        The model's ``classes_``.
    labels : array_like of str
        True minerals of the calibration spectra.

    Returns
    -------
    y_index : ndarray of int
        Class index of every *known* label (``labels[known]``).
    known : ndarray of bool
        Mask of the labels that are among ``classes``; select the calibration rows with it.

    Examples
    --------
    >>> y_index, known = labels_to_index(["augite", "olivine"], ["olivine", "quartz", "augite"])
    >>> y_index.tolist(), known.tolist()
    ([1, 0], [True, False, True])
    """
    cls = np.asarray(classes).astype(str)
    lab = np.asarray(labels).astype(str)
    lookup = {c: i for i, c in enumerate(cls.tolist())}
    known = np.array([v in lookup for v in lab.tolist()], dtype=bool)
    y_index = np.array([lookup[v] for v in lab[known].tolist()], dtype=np.int64)
    return y_index, known


# ---------------------------------------------------------------------- scores
def _uniform_from_rows(proba: np.ndarray, seed: int) -> np.ndarray:
    """A pseudo-uniform number in [0, 1) per row, a fixed function of the row's bits and seed.

    SplitMix64 folded over the float64 bit patterns of the row: vectorised, reproducible,
    independent of how rows are batched.
    """
    bits = np.ascontiguousarray(proba, dtype=np.float64).view(np.uint64)
    h = _splitmix64(np.full(bits.shape[0], np.uint64(seed % 2**64), dtype=np.uint64))
    for j in range(bits.shape[1]):
        h = _splitmix64(h ^ bits[:, j])
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _splitmix64(x: np.ndarray) -> np.ndarray:
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _sort(proba: np.ndarray, width: int | None = None) -> np.ndarray:
    """Column order by decreasing probability (ties: lower index first, as `numpy.argmax`).

    ``width``: only the leading columns of that order (a partition first, `top_k`).
    """
    if width is not None and width < proba.shape[1]:
        return top_k(proba, width)
    return np.argsort(-proba, axis=1, kind="stable")


# Nonconformity scores in each row's decreasing-probability order: APS is the running sum there,
# RAPS adds a penalty on the rank. Arguments: sorted probabilities, tie-breakers u, RAPS lambda
# and k_reg.


def _lac(sorted_p: np.ndarray, u: np.ndarray, lam: float, k_reg: int) -> np.ndarray:
    return 1.0 - sorted_p


def _aps(sorted_p: np.ndarray, u: np.ndarray, lam: float, k_reg: int) -> np.ndarray:
    return np.cumsum(sorted_p, axis=1) - (1.0 - u[:, None]) * sorted_p


def _raps(sorted_p: np.ndarray, u: np.ndarray, lam: float, k_reg: int) -> np.ndarray:
    rank = np.arange(1, sorted_p.shape[1] + 1)
    return _aps(sorted_p, u, lam, k_reg) + lam * np.maximum(0, rank - k_reg)


#: nonconformity score of every class in sorted order, (n, n_classes)
_SCORES: dict[str, Callable[[np.ndarray, np.ndarray, float, int], np.ndarray]] = {
    "lac": _lac,
    "aps": _aps,
    "raps": _raps,
}


def _sorted_scores(
    proba: np.ndarray, method: str, u: np.ndarray, lam: float, k_reg: int, width: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's class order and the scores in that order (one sort serves scores and sets).

    With ``width`` only the ``width`` most probable classes: a running sum over a prefix of the
    order is the same as over the whole order, so the prefix's scores are exact.
    """
    order = _sort(proba, width)
    sorted_p = np.take_along_axis(proba, order, axis=1)
    return order, _SCORES[method](sorted_p, u, lam, k_reg)


def _unsort(order: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.empty_like(values)
    np.put_along_axis(out, order, values, axis=1)
    return out


def nonconformity(
    proba: npt.ArrayLike,
    *,
    method: str = "aps",
    u: npt.ArrayLike | None = None,
    raps_lambda: float = 0.01,
    raps_k_reg: int = 1,
) -> np.ndarray:
    """Nonconformity score of every class for every spectrum.

    Parameters
    ----------
    proba : array_like, shape (n, n_classes)
        Probabilities of a model.
    method : {'lac', 'aps', 'raps'}, default='aps'
    u : array_like, shape (n,), optional
        Tie-breaking numbers in [0, 1] of the APS/RAPS scores; ``None`` = 1 (not randomised).
    raps_lambda, raps_k_reg
        RAPS penalty: ``raps_lambda * max(0, rank - raps_k_reg)``, rank counted from 1.

    Returns
    -------
    ndarray, shape (n, n_classes)
        Higher = the class conforms less; the calibration score of a spectrum is the entry of its
        true class.

    Examples
    --------
    >>> p = np.array([[0.6, 0.3, 0.1]])
    >>> nonconformity(p, method="lac").round(2).tolist()
    [[0.4, 0.7, 0.9]]
    >>> nonconformity(p, method="aps").round(2).tolist()
    [[0.6, 0.9, 1.0]]
    >>> nonconformity(p, method="raps", raps_lambda=0.1, raps_k_reg=1).round(2).tolist()
    [[0.6, 1.0, 1.2]]
    """
    arr = check_proba(proba)
    _score_function(method)
    uu = np.ones(arr.shape[0]) if u is None else np.asarray(u, dtype=np.float64)
    if uu.shape != (arr.shape[0],):
        raise InputError(f"u must have one value per row of proba ({arr.shape[0]}), got {uu.shape}")
    order, scores = _sorted_scores(arr, method, uu, float(raps_lambda), int(raps_k_reg))
    return _unsort(order, scores)


def _score_function(method: str) -> Callable[[np.ndarray, np.ndarray, float, int], np.ndarray]:
    try:
        return _SCORES[method]
    except (KeyError, TypeError):
        raise InputError(f"method {method!r} is not one of {', '.join(sorted(_SCORES))}") from None


def _rank_needed(n: int, confidence: float) -> int:
    # ceil((n + 1) c); the tolerance keeps 0.95 * 100 = 95.00000000000001 at 95
    return math.ceil((n + 1) * confidence - 1e-9)


def conformal_quantile(scores: npt.ArrayLike, confidence: float) -> float:
    """Split-conformal threshold: the ``ceil((n + 1) c)``-th smallest of ``n`` scores.

    That is the empirical quantile at level ``ceil((n + 1)(1 - alpha)) / n`` with
    ``alpha = 1 - c``: a new exchangeable score falls at or below it with probability at least
    ``c``. With too few scores (``ceil((n + 1) c) > n``, i.e. ``n < c / (1 - c)``) no finite
    threshold gives that guarantee and the result is ``inf`` (every class enters the sets).

    Parameters
    ----------
    scores : array_like, shape (n,)
    confidence : float in (0, 1)

    Returns
    -------
    float

    Raises
    ------
    InputError
        ``confidence`` outside (0, 1); no scores.

    Examples
    --------
    >>> conformal_quantile(np.arange(1, 20), 0.9)  # ceil(20 * 0.9) = 18th smallest
    18.0
    >>> conformal_quantile([0.1, 0.2, 0.3], 0.9)
    inf
    """
    c = check_confidence(confidence)
    s = np.asarray(scores, dtype=np.float64).ravel()
    if s.size == 0:
        raise InputError("no calibration scores: calibrate with at least one spectrum")
    k = _rank_needed(s.size, c)
    if k > s.size:
        return math.inf
    return float(np.partition(s, k - 1)[k - 1])


# ---------------------------------------------------------------------- the predictor
class JsonDocument:
    """`save` / `load` of an object that has ``to_dict`` and ``from_dict`` (atomic JSON)."""

    #: what the document is, in error messages
    _what: str = "document"
    #: its ``format`` and ``format_version`` fields
    _format: str = ""
    _format_version: int = 1

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _document(self, **fields: Any) -> dict[str, Any]:
        """What `to_dict` returns: format, version, parameters (``get_params``), then ``fields``."""
        return {
            "format": self._format,
            "format_version": self._format_version,
            "params": _plain(self.get_params()),  # type: ignore[attr-defined]
            **fields,
        }

    def save(self, path: str | Path) -> Path:
        """Write `to_dict` as JSON to ``path``."""
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> Any:
        """Read an object written by `save`."""
        return cls.from_dict(read_json(path, what=cls._what))


class ConformalPredictor(JsonDocument, BaseEstimator):
    """Split conformal prediction sets over a model's classes.

    Parameters
    ----------
    method : {'aps', 'lac', 'raps'}, default='aps'
        Nonconformity score (see the module documentation).
    mondrian : bool, default=False
        One quantile per class (class-conditional coverage); classes with too few calibration
        spectra use the marginal quantile.
    raps_lambda : float, default=0.01
        RAPS penalty per rank beyond ``raps_k_reg``.
    raps_k_reg : int, default=1
        Ranks (from 1) free of the RAPS penalty.
    randomized : bool, default=False
        Randomised tie-breaking of APS/RAPS (closer to nominal coverage; see the module
        documentation). No effect on LAC.
    min_class_size : int, default=5
        Mondrian only: fewer calibration spectra than this -> marginal quantile for that class.
    random_state : int or None, default=0
        Seed of the tie-breaking numbers; None draws a seed at calibration (stored in ``seed_``).

    Attributes
    ----------
    scores_ : ndarray, shape (n_calibration,)
        Calibration nonconformity scores (of the true classes).
    labels_ : ndarray of int, shape (n_calibration,)
        True class index of each calibration score.
    top_ : ndarray of bool, shape (n_calibration,)
        Whether the true class was the model's most probable one (its score counts as 0 in the
        thresholds, see "Sets are never empty").
    n_classes_ : int
    class_counts_ : ndarray of int, shape (n_classes,)
        Calibration spectra per class.
    seed_ : int
        Seed actually used for the tie-breaking numbers.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> proba = rng.dirichlet(np.ones(4), size=200)
    >>> y = np.array([rng.choice(4, p=p) for p in proba])
    >>> cp = ConformalPredictor(method="aps").calibrate(proba[:100], y[:100])
    >>> sets = cp.predict_sets(proba[100:], confidence=0.9)
    >>> all(len(s) >= 1 for s in sets)
    True
    """

    _what = "conformal calibration"
    _format = FORMAT
    _format_version = FORMAT_VERSION

    def __init__(
        self,
        *,
        method: str = "aps",
        mondrian: bool = False,
        raps_lambda: float = 0.01,
        raps_k_reg: int = 1,
        randomized: bool = False,
        min_class_size: int = 5,
        random_state: int | None = 0,
    ) -> None:
        self.method = method
        self.mondrian = mondrian
        self.raps_lambda = raps_lambda
        self.raps_k_reg = raps_k_reg
        self.randomized = randomized
        self.min_class_size = min_class_size
        self.random_state = random_state

    # ------------------------------------------------------------------ calibration
    def _validate_params(self) -> None:
        _score_function(self.method)
        if not (isinstance(self.raps_lambda, int | float) and self.raps_lambda >= 0):
            raise InputError(f"raps_lambda must be a number >= 0, got {self.raps_lambda!r}")
        if not (isinstance(self.raps_k_reg, int | np.integer) and self.raps_k_reg >= 0):
            raise InputError(f"raps_k_reg must be an integer >= 0, got {self.raps_k_reg!r}")
        if not (isinstance(self.min_class_size, int | np.integer) and self.min_class_size >= 1):
            raise InputError(f"min_class_size must be an integer >= 1, got {self.min_class_size!r}")
        if self.random_state is not None and not isinstance(self.random_state, int | np.integer):
            raise InputError(
                f"random_state must be an int or None (saved as JSON), got {self.random_state!r}"
            )

    def calibrate(self, proba: npt.ArrayLike, y_index: npt.ArrayLike) -> ConformalPredictor:
        """Store the nonconformity scores of calibration spectra.

        Parameters
        ----------
        proba : array_like, shape (n, n_classes)
            ``model.predict_proba`` of calibration spectra: samples (RRUFF ids) that the model
            was not trained on, of minerals among its classes.
        y_index : array_like of int, shape (n,)
            Position of each spectrum's true mineral in ``model.classes_``
            (`labels_to_index`).

        Returns
        -------
        self

        Raises
        ------
        InputError
            Bad parameters, a matrix that is not probabilities, indices outside the classes.
        """
        self._validate_params()
        arr = check_proba(proba)
        y = _check_index(y_index, arr.shape[0], arr.shape[1])
        if self.random_state is None:
            seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0])
        else:
            seed = int(self.random_state)
        self.seed_ = seed
        self.n_classes_ = int(arr.shape[1])
        self.scores_ = self._score_matrix(arr)[np.arange(y.size), y]
        self.labels_ = y
        self.top_ = np.argmax(arr, axis=1) == y
        self.class_counts_ = np.bincount(y, minlength=self.n_classes_)
        return self

    def _score_matrix(self, proba: np.ndarray) -> np.ndarray:
        return _unsort(*self._sorted_score_matrix(proba))

    def _sorted_score_matrix(
        self, proba: np.ndarray, width: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Order and scores of each row's ``width`` most probable classes (default all)."""
        if self.randomized and self.method != "lac":
            u = _uniform_from_rows(proba, self.seed_)
        else:
            u = np.ones(proba.shape[0])
        return _sorted_scores(
            proba, self.method, u, float(self.raps_lambda), int(self.raps_k_reg), width
        )

    def _check_calibrated(self) -> None:
        if not hasattr(self, "scores_"):
            raise InputError(
                "this ConformalPredictor is not calibrated yet; call "
                "calibrate(proba, y_index) with held-out calibration spectra first"
            )

    # ------------------------------------------------------------------ thresholds
    def _set_scores(self) -> np.ndarray:
        """Calibration scores of the never-empty sets: 0 where the true class was the best."""
        return np.where(self.top_, 0.0, self.scores_)

    def quantile(self, confidence: float = 0.9) -> float:
        """Marginal threshold on the nonconformity score at ``confidence`` (`conformal_quantile`).

        The ``ceil((n + 1) c)``-th smallest calibration score, scores of spectra whose true class
        was the most probable counting as 0; ``inf`` with fewer than ``c / (1 - c)`` spectra.
        """
        self._check_calibrated()
        return conformal_quantile(self._set_scores(), confidence)

    def class_quantiles(self, confidence: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """Threshold of each class, and which classes have their own (class-conditional) one.

        Without ``mondrian`` every class has the marginal threshold.

        Returns
        -------
        thresholds : ndarray, shape (n_classes,)
        conditional : ndarray of bool, shape (n_classes,)
            True where the class's own calibration scores set the threshold; False where the
            marginal one is used (not Mondrian, fewer than ``min_class_size`` spectra, or fewer
            than ``c / (1 - c)``).
        """
        self._check_calibrated()
        c = check_confidence(confidence)
        scores = self._set_scores()
        marginal = conformal_quantile(scores, c)
        thresholds = np.full(self.n_classes_, marginal)
        conditional = np.zeros(self.n_classes_, dtype=bool)
        if not self.mondrian:
            return thresholds, conditional
        for j in range(self.n_classes_):
            n_j = int(self.class_counts_[j])
            if n_j >= self.min_class_size and _rank_needed(n_j, c) <= n_j:
                thresholds[j] = conformal_quantile(scores[self.labels_ == j], c)
                conditional[j] = True
        return thresholds, conditional

    # ------------------------------------------------------------------ prediction
    def predict_mask(self, proba: npt.ArrayLike, confidence: float = 0.9) -> np.ndarray:
        """Membership matrix of the prediction sets, (n, n_classes) bool.

        Class ``j`` is in the set of a spectrum when its nonconformity score is at most the
        threshold of ``j``; the most probable class is always in (sets are never empty, and the
        thresholds account for that).
        """
        order, keep = self._sorted_membership(proba, confidence)
        mask = np.zeros((order.shape[0], self.n_classes_), dtype=bool)
        np.put_along_axis(mask, order, keep, axis=1)
        return mask

    def predict_sets(self, proba: npt.ArrayLike, confidence: float = 0.9) -> list[np.ndarray]:
        """Prediction set of each spectrum: class indices, most probable first, never empty.

        Parameters
        ----------
        proba : array_like, shape (n, n_classes)
            ``model.predict_proba`` of new spectra (same model, same classes as calibration).
        confidence : float in (0, 1), default=0.9
            Probability that the set contains the true mineral (over calibration and new data).

        Returns
        -------
        list of ndarray of int
            ``model.classes_[s]`` gives the minerals of set ``s``.

        Raises
        ------
        InputError
            Not calibrated, ``confidence`` outside (0, 1), wrong number of classes.
        """
        order, keep = self._sorted_membership(proba, confidence)
        flat = order[keep]
        return np.split(flat, np.cumsum(keep.sum(axis=1))[:-1])

    def _sorted_membership(
        self, proba: npt.ArrayLike, confidence: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Class order by decreasing probability and set membership in that order.

        Scores never decrease along a row's order (LAC, APS and RAPS alike), so a class ranked
        after one scoring above the largest threshold is out of the set: only the leading
        columns are sorted (32, then 256, then all, until every row's last column is out), and
        ``order`` / ``keep`` may have fewer columns than there are classes.
        """
        self._check_calibrated()
        thresholds = self._thresholds(confidence)
        arr = check_proba(proba, n_classes=self.n_classes_)
        limit = float(thresholds.max()) + 2 * _TIE_TOL  # 2x: rounding of the running sums
        for width in (32, 256, self.n_classes_):
            order, scores = self._sorted_score_matrix(arr, min(width, self.n_classes_))
            if width >= self.n_classes_ or np.all(scores[:, -1] > limit):
                break
        # ties (the last class of APS scores 1 +- rounding) count as equal: conservative, stable
        keep = scores <= thresholds[order] + _TIE_TOL
        keep[:, 0] = True  # the most probable class (first index among ties, as argmax)
        return order, keep

    def _thresholds(self, confidence: float) -> np.ndarray:
        """`class_quantiles` thresholds, remembered for the current calibration and settings."""
        # the cache holds the calibration arrays themselves: a new calibration never matches
        key = (check_confidence(confidence), bool(self.mondrian), int(self.min_class_size))
        cached = self.__dict__.get("_threshold_cache")
        if cached is None or cached[0] is not self.scores_ or cached[1] != key:
            cached = (self.scores_, key, self.class_quantiles(confidence)[0])
            self.__dict__["_threshold_cache"] = cached
        return cached[2]

    def p_values(self, proba: npt.ArrayLike) -> np.ndarray:
        """Conformal p-value of every class for every spectrum, (n, n_classes).

        ``p_j = (1 + #{calibration scores >= score_j}) / (n_cal + 1)`` with the method's own
        scores (``scores_``, without the never-empty rule of the sets); with ``mondrian`` the
        calibration scores of class ``j`` are used when it has at least ``min_class_size`` of
        them. A small p-value means the class conforms less than the calibration spectra did;
        ``j`` is in the marginal set at confidence ``c`` about when ``p_j > 1 - c``.
        """
        self._check_calibrated()
        arr = check_proba(proba, n_classes=self.n_classes_)
        return self._p_values(arr, leave_out=None)

    def _p_values(self, proba: np.ndarray, leave_out: np.ndarray | None) -> np.ndarray:
        """p-values; ``leave_out[i]``: the calibration spectrum that row ``i`` is, left out.

        Leaving a calibration spectrum out of its own reference scores makes its p-value
        distributed as a new spectrum's would be (against the other ``n - 1``).
        """
        E = self._score_matrix(proba)
        n_rows, k = E.shape
        pool = np.sort(self.scores_)
        count_all = pool.size - np.searchsorted(pool, E, side="left").astype(np.float64)
        size_all = np.full(n_rows, float(pool.size))[:, None]
        count_cls = np.empty_like(E)
        for j in range(k):
            own = np.sort(self.scores_[self.labels_ == j])
            count_cls[:, j] = own.size - np.searchsorted(own, E[:, j], side="left")
        size_cls = np.broadcast_to(self.class_counts_.astype(np.float64), E.shape).copy()
        if leave_out is not None:
            ge = self.scores_[leave_out][:, None] >= E
            same = self.labels_[leave_out][:, None] == np.arange(k)[None, :]
            count_all -= ge
            size_all -= 1.0
            count_cls -= same & ge
            size_cls -= same
        conditional = self.mondrian & (size_cls >= self.min_class_size)
        count = np.where(conditional, count_cls, count_all)
        size = np.where(conditional, size_cls, size_all)
        return (1.0 + count) / (1.0 + size)

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-able description: parameters and calibration scores (lists of numbers)."""
        self._check_calibrated()
        return self._document(
            n_classes=self.n_classes_,
            seed=self.seed_,
            scores=[float(v) for v in self.scores_],
            labels=[int(v) for v in self.labels_],
            top=[bool(v) for v in self.top_],
        )

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ConformalPredictor:
        """Rebuild a calibrated predictor from `to_dict` output."""
        _check_format(doc, FORMAT, FORMAT_VERSION, "conformal predictor")
        try:
            self = cls(**doc["params"])
            self._validate_params()
            scores = np.asarray(doc["scores"], dtype=np.float64)
            labels = np.asarray(doc["labels"], dtype=np.int64)
            top = np.asarray(doc["top"], dtype=bool)
            n_classes = int(doc["n_classes"])
            seed = int(doc["seed"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"conformal predictor document is incomplete or invalid: {exc}"
            ) from None
        if scores.ndim != 1 or scores.size == 0 or not scores.shape == labels.shape == top.shape:
            raise InputError(
                "conformal predictor document: 'scores', 'labels' and 'top' must be "
                "non-empty lists of equal length"
            )
        if np.any((labels < 0) | (labels >= n_classes)):
            raise InputError("conformal predictor document: a label is outside 0..n_classes-1")
        self.seed_ = seed
        self.n_classes_ = n_classes
        self.scores_ = scores
        self.labels_ = labels
        self.top_ = top
        self.class_counts_ = np.bincount(labels, minlength=n_classes)
        return self


# ---------------------------------------------------------------------- JSON helpers
def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in params.items()}


def _check_format(doc: Any, fmt: str, version: int, what: str) -> None:
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise InputError(f"not a lithoscope {what} document (expected format {fmt!r})")
    if int(doc.get("format_version", 0)) > version:
        raise InputError(f"this {what} was saved by a newer lithoscope; upgrade lithoscope")
