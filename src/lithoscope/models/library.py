"""`LibrarySearch`: correlation search against reference spectra, the standard to beat.

What RRUFF's CrystalSleuth, KnowItAll and Open Specy do, done carefully: every reference and
query goes through the same preprocessing (the caller's pipeline), then an intensity transform
(a power, default the square root, which keeps weak but diagnostic bands in play), then Pearson
(or cosine) similarity, optionally blended with the similarity of first derivatives. A mineral's
score is its best-matching reference. Probabilities are a softmax over mineral scores with a
temperature fitted on the library itself, leaving each sample's own spectra out, so that they
mean something.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

from lithoscope.errors import InputError
from lithoscope.models.base import SpectralClassifier, split_xy

__all__ = ["LibrarySearch", "class_max", "softmax"]

_METRICS = ("pearson", "cosine")


def softmax(z: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise softmax of ``z / temperature``."""
    a = z / temperature
    a = a - a.max(axis=1, keepdims=True)
    e = np.exp(a)
    return e / e.sum(axis=1, keepdims=True)


def class_max(similarity: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Best similarity per class; columns sorted by class, ``starts`` = first column of each."""
    return np.maximum.reduceat(similarity, starts, axis=1)


def _fit_temperature(scores: np.ndarray, true: np.ndarray) -> float:
    """Temperature minimising the negative log-likelihood of the true classes."""

    def nll(log_t: float) -> float:
        p = softmax(scores, float(np.exp(log_t)))
        return float(-np.mean(np.log(p[np.arange(true.size), true] + 1e-12)))

    result = minimize_scalar(nll, bounds=(np.log(1e-4), np.log(10.0)), method="bounded")
    return float(np.exp(result.x))


class LibrarySearch(SpectralClassifier):
    """Correlation library search with top-k scores and calibrated probabilities.

    Parameters
    ----------
    axis : array_like, optional
        Axis of array inputs (taken from a SpectralCollection or Dataset otherwise).
    metric : {'pearson', 'cosine'}, default='pearson'
    power : float, default=0.5
        Intensities are raised to this (sign-preserving) power before matching; 1 = unchanged.
    derivative_weight : float, default=0.0
        Weight of first-derivative similarity in the blended score (0 = intensities only).
    temperature : float or 'auto', default='auto'
        Softmax temperature; 'auto' fits it on the library, each sample left out of its own
        search.

    Attributes
    ----------
    classes_, axis_, references_, reference_labels_, temperature_
    """

    #: class scores are similarities in [-1, 1] (the unknown detector uses 1 - best score)
    similarity_scores = True

    def __init__(
        self,
        *,
        axis: Any = None,
        metric: str = "pearson",
        power: float = 0.5,
        derivative_weight: float = 0.0,
        temperature: float | str = "auto",
    ) -> None:
        self.axis = axis
        self.metric = metric
        self.power = power
        self.derivative_weight = derivative_weight
        self.temperature = temperature

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # it matches spectral shapes; on scikit-learn's 2-4 feature blobs Pearson is degenerate
        tags.classifier_tags.poor_score = True
        return tags

    # ------------------------------------------------------------------ features
    def _features(self, X: np.ndarray) -> np.ndarray:
        # a signed power: spectra are >= 0 after preprocessing, derivatives and other data not
        A = np.sign(X) * np.abs(X) ** self.power if self.power != 1 else np.asarray(X)
        parts = [(1.0 - self.derivative_weight, A)]
        if self.derivative_weight > 0:
            parts.append((self.derivative_weight, np.gradient(A, axis=1)))
        out = []
        for weight, P in parts:
            if weight <= 0:
                continue
            if self.metric == "pearson":
                P = P - P.mean(axis=1, keepdims=True)
            norm = np.linalg.norm(P, axis=1, keepdims=True)
            norm[norm == 0] = 1.0
            out.append(np.sqrt(weight) * P / norm)
        # the dot product of concatenated, weight-scaled unit vectors is the blended similarity
        return np.hstack(out).astype(np.float32)

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.metric not in _METRICS:
            raise InputError(f"metric {self.metric!r} is not one of {', '.join(_METRICS)}")
        if not 0 <= self.derivative_weight <= 1:
            raise InputError(f"derivative_weight must be in [0, 1], got {self.derivative_weight}")
        if self.power <= 0:
            raise InputError(f"power must be positive, got {self.power}")
        order = np.argsort(y, kind="stable")
        self.references_ = self._features(X[order])
        self.reference_labels_ = y[order]
        self._starts = np.flatnonzero(np.r_[True, np.diff(self.reference_labels_) != 0])
        # groups (sample ids, from fit) leave each sample out of its own temperature fit
        groups = self._groups[order] if self._groups is not None else None
        if self.temperature == "auto":
            self.temperature_ = self._auto_temperature(groups)
        else:
            self.temperature_ = float(self.temperature)

    def _auto_temperature(self, groups: np.ndarray | None) -> float:
        rng = np.random.default_rng(0)
        n = self.references_.shape[0]
        idx = rng.choice(n, size=min(n, 1500), replace=False)
        S = self.references_[idx] @ self.references_.T
        if groups is None:
            S[np.arange(idx.size), idx] = -np.inf  # leave the spectrum itself out
        else:
            S[groups[idx][:, None] == groups[None, :]] = -np.inf  # leave its sample out
        scores = class_max(S, self._starts)
        true = self.reference_labels_[idx]
        ok = np.isfinite(scores[np.arange(idx.size), true])  # a class with another sample
        if ok.sum() < 10:
            return 0.02
        scores = np.where(np.isfinite(scores), scores, -1.0)
        return _fit_temperature(scores[ok], true[ok])

    def similarity(self, X: Any) -> np.ndarray:
        """Similarity of each query to each reference (n_queries, n_references)."""
        return self._features(self._check_X(X)) @ self.references_.T

    def _scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        S = self._features(X) @ self.references_.T
        scores = class_max(S, self._starts).astype(np.float64)
        return softmax(scores, self.temperature_), scores

    def best_references(self, X: Any, k: int = 3) -> list[list[tuple[int, str, float]]]:
        """Indices (into ``references_``), labels and similarities of the best references."""
        S = self.similarity(X)
        order = np.argsort(-S, axis=1)[:, :k]
        return [
            [(int(j), str(self.classes_[self.reference_labels_[j]]), float(S[i, j])) for j in row]
            for i, row in enumerate(order)
        ]

    def add_class(self, label: str, X: Any) -> LibrarySearch:
        """Add (or extend) a mineral from a few spectra, without refitting anything else."""
        arr, axis, _ = split_xy(X)
        arr = self._check_X(arr if axis is None else X)
        feats = self._features(arr)
        classes = list(self.classes_)
        if label not in classes:
            classes.append(label)
        new_classes = np.array(sorted(classes), dtype=self.classes_.dtype)
        remap = np.searchsorted(new_classes, self.classes_[self.reference_labels_])
        labels = np.r_[remap, np.full(arr.shape[0], np.searchsorted(new_classes, label))]
        refs = np.vstack([self.references_, feats])
        order = np.argsort(labels, kind="stable")
        self.classes_ = new_classes
        self.references_ = refs[order]
        self.reference_labels_ = labels[order]
        self._starts = np.flatnonzero(np.r_[True, np.diff(self.reference_labels_) != 0])
        return self

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return (
            {"temperature_": self.temperature_},
            {"references_": self.references_, "reference_labels_": self.reference_labels_},
        )

    def _set_state(
        self, state: dict[str, Any], arrays: dict[str, np.ndarray], folder: Path
    ) -> None:
        self.temperature_ = float(state["temperature_"])
        self.references_ = arrays["references_"].astype(np.float32)
        self.reference_labels_ = arrays["reference_labels_"].astype(np.int64)
        self._starts = np.flatnonzero(np.r_[True, np.diff(self.reference_labels_) != 0])
