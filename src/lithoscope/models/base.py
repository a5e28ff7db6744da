"""What every lithoscope classifier shares: the scikit-learn API, the axis, top-k, persistence.

Every estimator is a scikit-learn classifier (parameters in ``__init__`` only, learned state with
a trailing underscore, ``fit`` returns ``self``) that also

* records the spectral axis it was trained on (``axis_``) and refuses data on another axis,
* predicts top-k candidates with probabilities and scores (`SpectralClassifier.predict_topk`),
* remembers the dataset version and preprocessing it was trained with (set by the caller through
  `SpectralClassifier.set_provenance`), and
* saves to and loads from a folder in safe formats only (JSON, npz, ``.keras``; never pickle).

``X`` may be a 2-D array (then the axis is the estimator's ``axis`` parameter, or positions
0..n-1 if that is None), a `SpectralCollection`, or a `Dataset`.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from lithoscope import __version__
from lithoscope.errors import InputError
from lithoscope.spectra.spectrum import SpectralCollection, check_same_axis

__all__ = [
    "MODEL_FORMAT_VERSION",
    "Candidate",
    "SpectralClassifier",
    "load_model",
    "split_xy",
]

MODEL_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Candidate:
    """One answer of a classifier for one spectrum."""

    mineral: str
    probability: float
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"mineral": self.mineral, "probability": self.probability, "score": self.score}


def _unwrap(X: Any, y: Any = None) -> tuple[Any, np.ndarray | None, Any]:
    """(raw X, axis or None, y) from an array-like, a collection or a `Dataset`."""
    axis = None
    if hasattr(X, "collection") and hasattr(X, "y"):  # a Dataset
        if y is None:
            y = X.y
        X = X.collection
    if isinstance(X, SpectralCollection):
        axis = np.asarray(X.axis)
        X = X.X
    return X, axis, y


def split_xy(X: Any, y: Any = None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(array, axis or None, labels or None) from an array, a collection or a `Dataset`."""
    axis = None
    if hasattr(X, "collection") and hasattr(X, "y"):  # a Dataset
        if y is None:
            y = X.y
        X = X.collection
    if isinstance(X, SpectralCollection):
        axis = np.asarray(X.axis)
        X = X.X
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    return arr, axis, (None if y is None else np.asarray(y))


class SpectralClassifier(ClassifierMixin, BaseEstimator):
    """Base class; subclasses implement ``_fit(X, y)`` and ``_scores(X)``.

    ``_scores`` returns ``(probabilities, scores)`` of shape (n_samples, n_classes): the
    probabilities sum to one over ``classes_``; ``scores`` are the model's own similarity or
    logit values shown to users beside the probability.
    """

    #: extra files a subclass writes in ``save`` besides model.json and arrays.npz
    _persisted_arrays: ClassVar[tuple[str, ...]] = ()

    # ------------------------------------------------------------------ sklearn API
    def fit(self, X: Any, y: Any = None, *, groups: Any = None) -> SpectralClassifier:
        """Fit on spectra ``X`` with mineral names ``y``.

        ``groups`` (sample id per spectrum; a `Dataset` brings its own) lets models that pick
        settings on a validation split keep each sample on one side; subclasses read it as
        ``self._groups`` during ``_fit``.
        """
        if groups is None and hasattr(X, "groups") and hasattr(X, "collection"):
            groups = X.groups
        self._groups = None if groups is None else np.asarray(groups)
        try:
            return self._fit_all(X, y)
        finally:
            del self._groups

    def _fit_all(self, X: Any, y: Any) -> SpectralClassifier:
        raw, axis, labels = _unwrap(X, y)
        arr, labels = validate_data(self, raw, labels, reset=True, dtype=np.float64)
        with warnings.catch_warnings():
            # a few spectra per mineral is the normal case here, not a regression target
            warnings.filterwarnings("ignore", message="The number of unique classes is greater")
            check_classification_targets(labels)
        self.axis_ = self._resolve_axis(axis, arr.shape[1])
        self.classes_, y_index = np.unique(labels, return_inverse=True)
        if self.classes_.size < 2:
            raise InputError("only one class is present: fit needs spectra of at least 2 minerals")
        self._fit(arr, y_index)
        return self

    def _resolve_axis(self, axis: np.ndarray | None, n: int) -> np.ndarray:
        own = getattr(self, "axis", None)
        if axis is not None and own is not None:
            check_same_axis(own, axis, what="the training data")
        chosen = axis if axis is not None else own
        if chosen is None:
            return np.arange(n, dtype=np.float64)
        chosen = np.asarray(chosen, dtype=np.float64)
        if chosen.shape != (n,):
            raise InputError(f"axis has {chosen.size} points but X has {n} columns")
        return chosen

    def _check_X(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "classes_")
        raw, axis, _ = _unwrap(X)
        if axis is not None:
            check_same_axis(self.axis_, axis, what="these spectra")
        # arrays of another length get scikit-learn's "X has n features, but ... expecting m"
        return validate_data(self, raw, reset=False, dtype=np.float64)

    def predict_proba(self, X: Any) -> np.ndarray:
        return self._scores(self._check_X(X))[0]

    def class_scores(self, X: Any) -> np.ndarray:
        """The model's own score of every class (similarity, logit...), (n_samples, n_classes)."""
        return self._scores(self._check_X(X))[1]

    def predict_scores(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(probabilities, class scores)`` of every class in one model call, each
        (n_samples, n_classes): what identification, calibration and trust need together."""
        return self._scores(self._check_X(X))

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "classes_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def predict_topk(self, X: Any, k: int = 5) -> list[list[Candidate]]:
        """The ``k`` most probable minerals of each spectrum, best first."""
        if k < 1:
            raise InputError(f"--top must be at least 1, got {k}")
        proba, scores = self._scores(self._check_X(X))
        k = min(k, self.classes_.size)
        order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        return [
            [Candidate(str(self.classes_[j]), float(proba[i, j]), float(scores[i, j])) for j in row]
            for i, row in enumerate(order)
        ]

    def add_class(self, label: str, X: Any) -> SpectralClassifier:
        """Learn a new mineral from a few spectra without retraining (models that can)."""
        raise InputError(
            f"{type(self).__name__} cannot add a mineral without retraining; use a library or "
            "cnn model (lithoscope train --model library|cnn)"
        )

    # ------------------------------------------------------------------ provenance
    def set_provenance(
        self,
        *,
        dataset_version: str | None = None,
        preprocessing: dict[str, Any] | None = None,
        method: str | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> SpectralClassifier:
        """Record what the model was trained on (kept in ``provenance_`` and saved with it)."""
        self.provenance_ = {
            "dataset_version": dataset_version,
            "preprocessing": preprocessing,
            "method": method,
            "metrics": metrics or {},
            "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "lithoscope_version": __version__,
        }
        return self

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-able state and arrays of the fitted model (subclasses extend)."""
        return {}, {}

    def _set_state(
        self, state: dict[str, Any], arrays: dict[str, np.ndarray], folder: Path
    ) -> None:
        """Restore what `_get_state` (and `_save_extra`) wrote (subclasses extend)."""

    def _save_extra(self, folder: Path) -> None:
        """Write files other than JSON and npz (e.g. a ``.keras`` model)."""

    def save(self, folder: str | Path) -> Path:
        """Save the fitted model into ``folder`` (created; must not hold a model already)."""
        check_is_fitted(self, "classes_")
        folder = Path(folder)
        if (folder / "model.json").exists():
            raise InputError(f"{folder} already holds a model; choose a new folder")
        folder.mkdir(parents=True, exist_ok=True)
        state, arrays = self._get_state()
        params = {k: _jsonable(v) for k, v in self.get_params(deep=False).items()}
        doc = {
            "format": "lithoscope-model",
            "format_version": MODEL_FORMAT_VERSION,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "params": params,
            "classes": [str(c) for c in self.classes_],
            "n_features_in": int(self.n_features_in_),
            "provenance": getattr(self, "provenance_", None),
            "state": state,
        }
        np.savez(folder / "arrays.npz", axis_=self.axis_, **arrays)
        self._save_extra(folder)
        tmp = folder / "model.json.tmp"
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(folder / "model.json")  # written last: a folder with model.json is complete
        return folder


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def _from_jsonable(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"__ndarray__"}:
        return np.asarray(value["__ndarray__"], dtype=np.float64)
    return value


#: modules whose classes `load_model` may instantiate (no arbitrary imports from a file)
_ALLOWED_MODULES = ("lithoscope.models.",)


def load_model(folder: str | Path) -> SpectralClassifier:
    """Load a model saved with `SpectralClassifier.save`.

    Raises
    ------
    InputError
        Missing or incomplete folder, unknown class, newer format.
    """
    folder = Path(folder)
    path = folder / "model.json"
    if not path.is_file():
        raise InputError(f"{folder}: no model.json; not a saved lithoscope model")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if doc.get("format") != "lithoscope-model":
        raise InputError(f"{path}: not a lithoscope model file")
    if doc.get("format_version", 0) > MODEL_FORMAT_VERSION:
        raise InputError(f"{path}: saved by a newer lithoscope; upgrade lithoscope")
    qualname = str(doc["class"])
    module_name, _, cls_name = qualname.rpartition(".")
    if not module_name.startswith(_ALLOWED_MODULES):
        raise InputError(f"{path}: class {qualname!r} is not a lithoscope model")
    cls = getattr(importlib.import_module(module_name), cls_name, None)
    if cls is None or not (isinstance(cls, type) and issubclass(cls, SpectralClassifier)):
        raise InputError(f"{path}: class {qualname!r} is not a lithoscope model")
    params = {k: _from_jsonable(v) for k, v in doc["params"].items()}
    model = cls(**params)
    with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    model.axis_ = arrays.pop("axis_")
    model.classes_ = np.asarray(doc["classes"], dtype=object).astype(str)
    model.n_features_in_ = int(doc["n_features_in"])
    if doc.get("provenance") is not None:
        model.provenance_ = doc["provenance"]
    model._set_state(doc.get("state", {}), arrays, folder)
    return model


def as_float_array(a: npt.ArrayLike) -> np.ndarray:
    """float64 2-D array (one row per spectrum)."""
    arr = np.asarray(a, dtype=np.float64)
    return arr[None, :] if arr.ndim == 1 else arr
