"""Is this spectrum of a mineral that is not in the library?

`UnknownDetector` turns a model's output into an *out-of-library score* (higher = more likely
unknown) and a threshold chosen on calibration spectra of KNOWN minerals so that at most
``false_unknown_rate`` of known spectra are called unknown. Like `ConformalPredictor` it works
from ``predict_proba`` and ``class_scores`` only, so every model plugs in.

Scores
------
``max_similarity``
    ``1 - max_j class_score_j``: for similarity models (`LibrarySearch`: best Pearson match in
    [-1, 1]), how far the best reference is from a perfect match.
``similarity_margin``
    ``1 - s1 - (s1 - s2)`` with ``s1``, ``s2`` the best and second-best class similarities:
    how far the best match is from perfect, less how clearly it beats the runner-up. A spectrum
    of a mineral missing from the library tends to match several relatives equally badly. On
    RRUFF Raman (library search; 15 % of minerals held out as unknown, two draws) AUROC 0.831 ->
    0.851 and 0.772 -> 0.787 over ``max_similarity``; the default for similarity models.
``max_proba``
    ``1 - max_j p_j`` (the maximum-softmax-probability baseline).
``energy``
    ``-T * logsumexp(class_scores / T)`` (Liu et al. 2020) from logits or similarities; for a
    similarity model choose ``temperature`` near the model's (``LibrarySearch.temperature_``).
``conformal``
    ``1 - p``, where ``p`` is the class-conditional conformal p-value of the best class (a
    Mondrian LAC `ConformalPredictor` calibrated on the same spectra, which needs their labels):
    "is this match as good as known spectra of that mineral usually get?". Calibration
    p-values are computed leaving each spectrum out of its own reference set.

The threshold is the ``ceil((n + 1)(1 - rate))``-th smallest of the ``n`` calibration scores: on
new spectra of known minerals, exchangeable with the calibration ones, the probability of being
called unknown is at most ``rate``. Unknown-mineral spectra must not be in the calibration set;
the detection power on them is measured, not guaranteed (`lithoscope.uncertainty.metrics.auroc`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import logsumexp
from sklearn.base import BaseEstimator

from lithoscope.errors import InputError
from lithoscope.uncertainty.conformal import (
    ConformalPredictor,
    JsonDocument,
    _check_format,
    _check_index,
    _rank_needed,
    check_confidence,
    check_proba,
)

__all__ = ["UnknownDetector"]

FORMAT = "lithoscope-unknown-detector"
FORMAT_VERSION = 1

Inputs = tuple[np.ndarray | None, np.ndarray | None]


def _max_similarity(det: UnknownDetector, proba: Any, scores: np.ndarray) -> np.ndarray:
    return 1.0 - scores.max(axis=1)


def _similarity_margin(det: UnknownDetector, proba: Any, scores: np.ndarray) -> np.ndarray:
    if scores.shape[1] < 2:
        return 1.0 - scores.max(axis=1)
    top2 = -np.partition(-scores, 1, axis=1)[:, :2]
    return 1.0 - 2.0 * top2[:, 0] + top2[:, 1]


def _max_proba(det: UnknownDetector, proba: np.ndarray, scores: Any) -> np.ndarray:
    return 1.0 - proba.max(axis=1)


def _energy(det: UnknownDetector, proba: Any, scores: np.ndarray) -> np.ndarray:
    t = float(det.temperature)
    return -t * logsumexp(scores / t, axis=1)


def _conformal(det: UnknownDetector, proba: np.ndarray, scores: Any) -> np.ndarray:
    p = det.conformal_.p_values(proba)
    return 1.0 - p[np.arange(proba.shape[0]), np.argmax(proba, axis=1)]


#: name -> (score function, needs proba, needs class_scores)
_SCORES: dict[str, tuple[Callable[..., np.ndarray], bool, bool]] = {
    "max_similarity": (_max_similarity, False, True),
    "similarity_margin": (_similarity_margin, False, True),
    "max_proba": (_max_proba, True, False),
    "energy": (_energy, False, True),
    "conformal": (_conformal, True, False),
}


class UnknownDetector(JsonDocument, BaseEstimator):
    """Out-of-library score and a threshold with a controlled false-unknown rate.

    Parameters
    ----------
    score : {'max_similarity', 'max_proba', 'energy', 'conformal'}, default='max_similarity'
        Out-of-library score, higher = more likely unknown (see the module documentation).
    false_unknown_rate : float in (0, 1), default=0.05
        Largest fraction of spectra of known minerals that may be called unknown.
    temperature : float, default=1.0
        Temperature of the 'energy' score.

    Attributes
    ----------
    threshold_ : float
        Spectra scoring above it are unknown.
    scores_ : ndarray, shape (n_calibration,)
        Out-of-library scores of the calibration spectra.
    n_classes_ : int
    conformal_ : ConformalPredictor
        Only for ``score='conformal'``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> known = rng.uniform(0.8, 1.0, size=(200, 5))  # best similarities of known minerals
    >>> det = UnknownDetector(score="max_similarity", false_unknown_rate=0.05)
    >>> det = det.fit(None, known)
    >>> det.is_unknown(None, np.array([[0.3, 0.2, 0.25, 0.1, 0.4]])).tolist()
    [True]
    """

    _what = "unknown-mineral calibration"
    _format = FORMAT
    _format_version = FORMAT_VERSION

    def __init__(
        self,
        *,
        score: str = "max_similarity",
        false_unknown_rate: float = 0.05,
        temperature: float = 1.0,
    ) -> None:
        self.score = score
        self.false_unknown_rate = false_unknown_rate
        self.temperature = temperature

    def _spec(self) -> tuple[Callable[..., np.ndarray], bool, bool]:
        try:
            return _SCORES[self.score]
        except (KeyError, TypeError):
            raise InputError(
                f"score {self.score!r} is not one of {', '.join(sorted(_SCORES))}"
            ) from None

    def _validate_params(self) -> None:
        self._spec()
        check_confidence(self.false_unknown_rate, name="false_unknown_rate")
        if not (isinstance(self.temperature, int | float) and self.temperature > 0):
            raise InputError(f"temperature must be a positive number, got {self.temperature!r}")

    def _inputs(self, proba: Any, class_scores: Any, n_classes: int | None) -> Inputs:
        _, needs_proba, needs_scores = self._spec()
        p = s = None
        if proba is not None:
            p = check_proba(proba, n_classes=n_classes)
        elif needs_proba:
            raise InputError(f"score={self.score!r} needs proba (model.predict_proba(X)), got None")
        if class_scores is not None:
            s = np.asarray(class_scores, dtype=np.float64)
            if s.ndim != 2 or s.shape[0] == 0:
                raise InputError(
                    f"class_scores must be a 2-D array (n_spectra, n_classes), got shape {s.shape}"
                )
            if not np.all(np.isfinite(s)):
                raise InputError("class_scores holds NaN or infinite values")
            if p is not None and s.shape != p.shape:
                raise InputError(
                    f"proba and class_scores differ in shape: {p.shape} vs {s.shape}; pass "
                    "both from the same model and spectra"
                )
            if n_classes is not None and s.shape[1] != n_classes:
                raise InputError(
                    f"class_scores has {s.shape[1]} columns but the detector was fitted with "
                    f"{n_classes} classes; use the model it was fitted with"
                )
        elif needs_scores:
            raise InputError(
                f"score={self.score!r} needs class_scores (model.class_scores(X)), got None"
            )
        return p, s

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        proba: npt.ArrayLike | None,
        class_scores: npt.ArrayLike | None,
        y_index: npt.ArrayLike | None = None,
    ) -> UnknownDetector:
        """Choose the threshold on calibration spectra of KNOWN minerals.

        Parameters
        ----------
        proba : array_like, shape (n, n_classes), or None
            ``model.predict_proba`` of the calibration spectra (None if the score does not use
            it: 'max_similarity', 'energy').
        class_scores : array_like, shape (n, n_classes), or None
            ``model.class_scores`` of the same spectra (None for 'max_proba', 'conformal').
        y_index : array_like of int, shape (n,), optional
            True class indices; needed by 'conformal' only (ignored by the other scores).

        Returns
        -------
        self

        Raises
        ------
        InputError
            Unknown score name, a missing input, too few spectra for the rate
            (at least ``(1 - rate) / rate``: 19 for 0.05).
        """
        self._validate_params()
        p, s = self._inputs(proba, class_scores, None)
        n = (p if p is not None else s).shape[0]  # type: ignore[union-attr]
        k = _rank_needed(n, 1.0 - float(self.false_unknown_rate))
        if k > n:
            raise InputError(
                f"false_unknown_rate={self.false_unknown_rate} needs at least "
                f"{math.ceil((1 - self.false_unknown_rate) / self.false_unknown_rate)} "
                f"calibration spectra, got {n}; add spectra or raise the rate"
            )
        if self.score == "conformal":
            if y_index is None:
                raise InputError(
                    "score='conformal' needs y_index (true class indices of the calibration "
                    "spectra); see labels_to_index"
                )
            y = _check_index(y_index, n, p.shape[1])  # type: ignore[union-attr]
            self.conformal_ = ConformalPredictor(method="lac", mondrian=True).calibrate(p, y)
            pv = self.conformal_._p_values(p, leave_out=np.arange(n))  # type: ignore[arg-type]
            scores = 1.0 - pv[np.arange(n), np.argmax(p, axis=1)]  # type: ignore[arg-type]
        else:
            scores = self._spec()[0](self, p, s)
        self.n_classes_ = int((p if p is not None else s).shape[1])  # type: ignore[union-attr]
        self.scores_ = scores
        self.threshold_ = float(np.partition(scores, k - 1)[k - 1])
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise InputError(
                "this UnknownDetector is not fitted yet; call fit() with calibration spectra "
                "of known minerals first"
            )

    # ------------------------------------------------------------------ prediction
    def unknown_score(
        self, proba: npt.ArrayLike | None, class_scores: npt.ArrayLike | None
    ) -> np.ndarray:
        """Out-of-library score of each spectrum (higher = more likely unknown), shape (n,).

        (Not named ``score``: that is the parameter naming the score.)
        """
        self._check_fitted()
        p, s = self._inputs(proba, class_scores, self.n_classes_)
        return self._spec()[0](self, p, s)

    def is_unknown(
        self, proba: npt.ArrayLike | None, class_scores: npt.ArrayLike | None
    ) -> np.ndarray:
        """True where the spectrum is called unknown (score above ``threshold_``), shape (n,)."""
        return self.unknown_score(proba, class_scores) > self.threshold_

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-able description: parameters, threshold, calibration scores."""
        self._check_fitted()
        return self._document(
            n_classes=self.n_classes_,
            threshold=self.threshold_,
            scores=[float(v) for v in self.scores_],
            conformal=self.conformal_.to_dict() if self.score == "conformal" else None,
        )

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> UnknownDetector:
        """Rebuild a fitted detector from `to_dict` output."""
        _check_format(doc, FORMAT, FORMAT_VERSION, "unknown detector")
        try:
            self = cls(**doc["params"])
            self._validate_params()
            self.n_classes_ = int(doc["n_classes"])
            self.threshold_ = float(doc["threshold"])
            self.scores_ = np.asarray(doc["scores"], dtype=np.float64)
            if self.score == "conformal":
                self.conformal_ = ConformalPredictor.from_dict(doc["conformal"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"unknown detector document is incomplete or invalid: {exc}") from None
        return self
