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

from lithoscope.models.base import SpectralClassifier, split_xy
from lithoscope.models.scoring import (
    class_max,
    class_starts,
    correlation_features,
    fit_temperature,
    softmax,
)

__all__ = ["LibrarySearch"]


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
    def feature_params(self) -> dict[str, Any]:
        """Keyword arguments of `correlation_features` that make this model's reference rows.

        A capability, not a detail: a class score is ``class_max(features @ references_.T)``
        and the probabilities are ``softmax(scores, temperature_)``, which lets
        `lithoscope.explain.occlusion` score occluded copies exactly without the dense batch.
        A subclass that scores otherwise sets ``feature_params = None``.
        """
        return {
            "metric": self.metric,
            "power": self.power,
            "derivative_weight": self.derivative_weight,
            "derivative": "gradient",
        }

    def _features(self, X: np.ndarray) -> np.ndarray:
        # this class's own maths, also in a subclass that switched the capability off
        return correlation_features(X, **LibrarySearch.feature_params(self))

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        order = np.argsort(y, kind="stable")
        self.references_ = self._features(X[order])
        self.reference_labels_ = y[order]
        self._starts = class_starts(self.reference_labels_)
        self._cache_references64()
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
        return fit_temperature(scores[ok], true[ok])

    def similarity(self, X: Any) -> np.ndarray:
        """Similarity of each query to each reference (n_queries, n_references)."""
        return self._features(self._check_X(X)) @ self._references64().T

    def _references64(self) -> np.ndarray:
        """``references_`` (stored as float32) as float64, kept while they do not change.

        The similarity is the float64 product of the float32-rounded features: a float32
        product's rounding (~5e-7) divided by a small fitted temperature moved probabilities by
        up to 5e-4, and an exported ONNX graph (another summation order) could not agree.
        """
        cached = getattr(self, "_refs64", None)
        if cached is None or cached[0] is not self.references_:
            # set where references_ is; predicting never changes the estimator's state
            return self.references_.astype(np.float64)
        return cached[1]

    def _cache_references64(self) -> None:
        self._refs64 = (self.references_, self.references_.astype(np.float64))

    def _scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        S = self._features(X).astype(np.float64) @ self._references64().T
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
        # not the old dtype: a fixed-width '<U12' would cut a longer new name
        new_classes = np.union1d(self.classes_, np.array([label], dtype=object)).astype(str)
        remap = np.searchsorted(new_classes, self.classes_[self.reference_labels_])
        labels = np.r_[remap, np.full(arr.shape[0], np.searchsorted(new_classes, label))]
        refs = np.vstack([self.references_, feats])
        order = np.argsort(labels, kind="stable")
        self.classes_ = new_classes
        self.references_ = refs[order]
        self.reference_labels_ = labels[order]
        self._starts = class_starts(self.reference_labels_)
        self._cache_references64()
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
        self._starts = class_starts(self.reference_labels_)
        self._cache_references64()
