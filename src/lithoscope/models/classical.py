"""Classical baselines: PCA + logistic regression, PCA + SVM, random forest.

They wrap scikit-learn pipelines in the `SpectralClassifier` contract (axis check, top-k,
provenance) and are saved with skops, scikit-learn's safe, pickle-free format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from lithoscope.errors import InputError
from lithoscope.models.base import SpectralClassifier

__all__ = ["KINDS", "ClassicalClassifier"]


def _pca_logreg(n_components: int, random_state: int) -> Pipeline:
    return make_pipeline(
        PCA(n_components=n_components, random_state=random_state),
        StandardScaler(),
        LogisticRegression(C=1.0, max_iter=300),
    )


def _pca_svm(n_components: int, random_state: int) -> Pipeline:
    return make_pipeline(
        PCA(n_components=n_components, random_state=random_state),
        StandardScaler(),
        # Platt scaling needs several spectra per class; most minerals have two or three, so
        # probabilities are a softmax of the one-vs-rest decision values instead (see _scores).
        SVC(kernel="rbf", C=10.0, gamma="scale", decision_function_shape="ovr"),
    )


def _rf(n_components: int, random_state: int) -> Pipeline:
    # Trees over ~1,600 classes are slow to grow: 40 components and 100 trees keep the fit near
    # a minute on 2 cores (300 trees on 100 components took 11 minutes for 0.61 validation top-1).
    return make_pipeline(
        PCA(n_components=min(n_components, 40), random_state=random_state),
        RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=random_state),
    )


KINDS = {"pca-logreg": _pca_logreg, "pca-svm": _pca_svm, "rf": _rf}


class ClassicalClassifier(SpectralClassifier):
    """A scikit-learn baseline on spectra.

    Parameters
    ----------
    kind : {'pca-logreg', 'pca-svm', 'rf'}, default='pca-logreg'
    axis : array_like, optional
        Axis of array inputs.
    n_components : int, default=100
        PCA components (fewer if there are fewer spectra).
    random_state : int, default=0
    """

    def __init__(
        self,
        *,
        kind: str = "pca-logreg",
        axis: Any = None,
        n_components: int = 100,
        random_state: int = 0,
    ) -> None:
        self.kind = kind
        self.axis = axis
        self.n_components = n_components
        self.random_state = random_state

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.kind not in KINDS:
            raise InputError(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        n = max(1, min(self.n_components, X.shape[0] - 1, X.shape[1]))
        self.pipeline_ = KINDS[self.kind](n, self.random_state).fit(X, y)

    def _scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores = np.zeros((X.shape[0], self.classes_.size))
        if self.kind == "pca-svm":
            decision = self.pipeline_.decision_function(X)
            scores[:, self.pipeline_.classes_] = decision
            from lithoscope.models.library import softmax

            proba = np.zeros_like(scores)
            proba[:, self.pipeline_.classes_] = softmax(decision, 1.0)
            return proba, scores
        scores[:, self.pipeline_.classes_] = self.pipeline_.predict_proba(X)
        return scores, scores

    def _save_extra(self, folder: Path) -> None:
        import skops.io as sio

        sio.dump(self.pipeline_, folder / "estimator.skops")

    def _set_state(
        self, state: dict[str, Any], arrays: dict[str, np.ndarray], folder: Path
    ) -> None:
        import skops.io as sio

        path = folder / "estimator.skops"
        trusted = sio.get_untrusted_types(file=path)
        allowed = [t for t in trusted if t.startswith(("sklearn.", "numpy.", "scipy."))]
        if len(allowed) != len(trusted):
            raise InputError(f"{path}: holds types outside scikit-learn/numpy; refusing to load")
        self.pipeline_ = sio.load(path, trusted=allowed)
