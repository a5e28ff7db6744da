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

from lithoscope.errors import InputError, ModelFileError
from lithoscope.models.base import RESTORE_HINT, SpectralClassifier, model_file_error

__all__ = ["KINDS", "TRUSTED_SKOPS_TYPES", "ClassicalClassifier", "load_pipeline"]


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
            from lithoscope.models.scoring import softmax

            proba = np.zeros_like(scores)
            proba[:, self.pipeline_.classes_] = softmax(decision, 1.0)
            return proba, scores
        scores[:, self.pipeline_.classes_] = self.pipeline_.predict_proba(X)
        return scores, scores

    def _save_extra(self, folder: Path) -> None:
        import skops.io as sio

        sio.dump(self.pipeline_, folder / _ESTIMATOR_FILE)

    def _set_state(
        self, state: dict[str, Any], arrays: dict[str, np.ndarray], folder: Path
    ) -> None:
        self.pipeline_ = load_pipeline(folder / _ESTIMATOR_FILE, self.kind, self.classes_.size)


_ESTIMATOR_FILE = "estimator.skops"

#: types outside skops' default trust that the three pipelines hold, exactly (found with
#: ``skops.io.get_untrusted_types`` on files this module saved); anything else is refused
TRUSTED_SKOPS_TYPES = frozenset({"sklearn.tree._tree.Tree"})


def load_pipeline(path: Path, kind: str, n_classes: int) -> Pipeline:
    """The scikit-learn pipeline in a ``.skops`` file written by `ClassicalClassifier.save`.

    Parameters
    ----------
    path : Path
        The ``estimator.skops`` file.
    kind : str
        The model's kind; the pipeline must have that kind's steps.
    n_classes : int
        Number of classes the model records; the pipeline must predict class indices below it.

    Returns
    -------
    sklearn.pipeline.Pipeline

    Raises
    ------
    ModelFileError
        Missing or corrupt file, a type outside `TRUSTED_SKOPS_TYPES` and skops' own safe list,
        or a pipeline of another kind or size (a swapped file).
    """
    import skops.io as sio

    folder = path.parent

    def corrupt(detail: Any) -> ModelFileError:
        return model_file_error(folder, path.name, detail)

    if kind not in KINDS:
        raise corrupt(f"model.json gives kind {kind!r}, not one of {', '.join(KINDS)}")
    if not path.is_file():
        raise ModelFileError(f"{folder}: {path.name} is missing; {RESTORE_HINT}")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # any failure to read an untrusted zip/schema means a bad file
        raise corrupt(exc) from None
    refused = sorted(set(untrusted) - TRUSTED_SKOPS_TYPES)
    if refused:
        raise ModelFileError(
            f"{folder}: {path.name} names types a lithoscope model never holds "
            f"({', '.join(refused[:5])}); refusing to load it (tampered or foreign file): "
            f"{RESTORE_HINT}"
        )
    try:
        pipeline = sio.load(path, trusted=sorted(untrusted))
    except Exception as exc:  # schema or array decoding of an untrusted file
        raise corrupt(exc) from None
    expected = [type(step) for _, step in KINDS[kind](1, 0).steps]
    found = [type(step) for _, step in pipeline.steps] if type(pipeline) is Pipeline else []
    if found != expected:
        what = type(pipeline).__name__ if not found else " + ".join(t.__name__ for t in found)
        raise corrupt(f"holds {what}, not the {kind} pipeline")
    classes = getattr(pipeline, "classes_", None)
    classes = np.asarray(classes if classes is not None else [])
    if classes.dtype.kind not in "iu" or not np.all((classes >= 0) & (classes < n_classes)):
        raise corrupt(f"its classes do not match the {n_classes} classes in model.json")
    return pipeline
