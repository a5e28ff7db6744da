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
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from lithoscope import __version__
from lithoscope.errors import InputError, LithoscopeError, ModelFileError
from lithoscope.models.scoring import top_k
from lithoscope.spectra.spectrum import SpectralCollection, check_same_axis

__all__ = [
    "MODEL_FORMAT_VERSION",
    "RESTORE_HINT",
    "Candidate",
    "SpectralClassifier",
    "load_model",
    "model_file_error",
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
    X, axis, y = _unwrap(X, y)
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

    def _checked_groups(self, n_spectra: int) -> np.ndarray | None:
        """The ``groups`` given to `fit` (None without), refused unless one per spectrum."""
        groups = getattr(self, "_groups", None)
        if groups is not None and groups.shape != (n_spectra,):
            raise InputError(f"groups has {groups.size} entries but X has {n_spectra} spectra")
        return groups

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
        order = top_k(proba, k)
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
        """Save the fitted model into ``folder`` (created; must not hold a model already).

        ``model.json`` is written last (atomically), so a folder holding it is complete.
        """
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
        # NaN stays allowed here: training histories and metrics may hold it
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(folder / "model.json")
        return folder


def _jsonable(value: Any) -> Any:
    """A parameter value as JSON; arrays are tagged so that `load_model` gives arrays back."""
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _from_jsonable(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"__ndarray__"}:
        return np.asarray(value["__ndarray__"], dtype=np.float64)
    return value


#: package whose classes `load_model` may instantiate (no arbitrary imports from a file)
_ALLOWED_PACKAGE = "lithoscope.models."
RESTORE_HINT = "retrain the model or restore the folder from a backup"


def model_file_error(folder: Path, what: str, detail: Any) -> ModelFileError:
    """The one message for a file of a model folder that cannot be deserialised.

    ``detail`` (text or the exception raised while decoding) is shortened to one line.
    """
    if isinstance(detail, BaseException):
        text = str(detail).strip().splitlines()[0] if str(detail).strip() else ""
        detail = f"{type(detail).__name__}: {text}" if text else type(detail).__name__
    detail = str(detail)
    if len(detail) > 200:
        detail = detail[:200] + "…"
    return ModelFileError(
        f"{folder}: {what} is corrupt or not a lithoscope model file ({detail}); {RESTORE_HINT}"
    )


def _legacy_class_paths() -> dict[str, str]:
    """Old class paths of saved models -> current ones (`lithoscope.models.kinds`)."""
    try:
        kinds = importlib.import_module("lithoscope.models.kinds")
    except ImportError:  # pragma: no cover - the table is optional
        return {}
    table = getattr(kinds, "LEGACY_CLASS_PATHS", {})
    return dict(table) if isinstance(table, dict) else {}


def _read_model_json(folder: Path) -> dict[str, Any]:
    path = folder / "model.json"
    if not folder.is_dir():
        raise ModelFileError(
            f"{folder}: no such model folder; give the folder that holds model.json"
        )
    if not path.is_file():
        raise ModelFileError(f"{folder}: no model.json; not a saved lithoscope model")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise model_file_error(
            folder, "model.json", f"not valid JSON: {exc.msg} at line {exc.lineno}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise model_file_error(folder, "model.json", exc) from None
    if not isinstance(doc, dict) or doc.get("format") != "lithoscope-model":
        raise model_file_error(folder, "model.json", "no 'format': 'lithoscope-model' entry")
    version = doc.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        detail = f"format_version {version!r} is not a whole number"
        raise model_file_error(folder, "model.json", detail)
    if version > MODEL_FORMAT_VERSION:
        raise ModelFileError(
            f"{folder}: model.json was saved by a newer lithoscope (model format {version}; "
            f"lithoscope {__version__} reads up to {MODEL_FORMAT_VERSION}); upgrade lithoscope"
        )
    doc.setdefault("state", {})
    expected = {"class": str, "params": dict, "classes": list, "n_features_in": int, "state": dict}
    for key, kind in expected.items():
        if not isinstance(doc.get(key), kind) or isinstance(doc.get(key), bool):
            found = type(doc[key]).__name__ if key in doc else "nothing"
            detail = f"{key!r} should be a {kind.__name__}, got {found}"
            raise model_file_error(folder, "model.json", detail)
    if not doc["classes"] or not all(isinstance(c, str) for c in doc["classes"]):
        detail = "'classes' should be a non-empty list of names"
        raise model_file_error(folder, "model.json", detail)
    if doc["n_features_in"] < 1:
        raise model_file_error(folder, "model.json", "'n_features_in' should be at least 1")
    if doc.get("provenance") is not None and not isinstance(doc["provenance"], dict):
        raise model_file_error(folder, "model.json", "'provenance' should be an object")
    return doc


def _model_class(qualname: str, folder: Path) -> type[SpectralClassifier]:
    """The estimator class named in model.json: a SpectralClassifier of lithoscope.models only."""
    qualname = _legacy_class_paths().get(qualname, qualname)
    module_name, _, cls_name = qualname.rpartition(".")
    refused = ModelFileError(
        f"{folder}: model.json names class {qualname!r}, not a lithoscope model (only "
        f"estimators under {_ALLOWED_PACKAGE.rstrip('.')} load); {RESTORE_HINT}"
    )
    if not module_name.startswith(_ALLOWED_PACKAGE) or not cls_name.isidentifier():
        raise refused
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelFileError(
            f"{folder}: model.json names class {qualname!r}, which does not exist in "
            f"lithoscope {__version__} ({exc}); {RESTORE_HINT}"
        ) from None
    cls = getattr(module, cls_name, None)
    if not (
        isinstance(cls, type)
        and issubclass(cls, SpectralClassifier)
        and cls is not SpectralClassifier
        and cls.__module__.startswith(_ALLOWED_PACKAGE)
    ):
        raise refused
    return cls


def _read_arrays(folder: Path) -> dict[str, np.ndarray]:
    path = folder / "arrays.npz"
    if not path.is_file():
        raise ModelFileError(f"{folder}: arrays.npz is missing; {RESTORE_HINT}")
    if not zipfile.is_zipfile(path):
        raise model_file_error(folder, "arrays.npz", "not a zip archive")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as exc:  # any failure to decode an untrusted file means a bad file
        raise model_file_error(folder, "arrays.npz", exc) from None
    if "axis_" not in arrays:
        raise model_file_error(folder, "arrays.npz", "no 'axis_' array")
    return arrays


def load_model(folder: str | Path) -> SpectralClassifier:
    """Load a model saved with `SpectralClassifier.save`, checking every file first.

    Only estimators of ``lithoscope.models`` are instantiated, arrays are read without pickle,
    and the loaded model must answer one spectrum with the recorded classes; anything else is
    refused with one line naming the file.

    Parameters
    ----------
    folder : str or Path
        Folder holding ``model.json``, ``arrays.npz`` and the estimator's own files.

    Returns
    -------
    SpectralClassifier

    Raises
    ------
    ModelFileError
        Missing, truncated, foreign or tampered files (``model.json``, ``arrays.npz``,
        ``.keras``, ``.skops``), a class outside ``lithoscope.models``, parameters the class
        does not take, or a model format newer than this lithoscope reads.
    """
    folder = Path(folder)
    doc = _read_model_json(folder)
    cls = _model_class(doc["class"], folder)
    known = set(cls._get_param_names())
    unknown = sorted(set(doc["params"]) - known)
    if unknown:
        raise model_file_error(
            folder,
            "model.json",
            f"{cls.__name__} takes no parameter {', '.join(map(repr, unknown))}",
        )
    try:
        model = cls(**{k: _from_jsonable(v) for k, v in doc["params"].items()})
    except Exception as exc:  # a constructor refusing the stored values
        raise model_file_error(folder, "model.json", exc) from None
    arrays = _read_arrays(folder)
    axis = arrays.pop("axis_")
    n_features = doc["n_features_in"]
    if axis.dtype.kind not in "fiu" or axis.shape != (n_features,):
        raise model_file_error(
            folder,
            "arrays.npz",
            f"axis_ has shape {axis.shape} and dtype {axis.dtype}, model.json says "
            f"{n_features} numbers",
        )
    model.axis_ = axis.astype(np.float64)
    model.classes_ = np.asarray(doc["classes"], dtype=object).astype(str)
    model.n_features_in_ = n_features
    if doc.get("provenance") is not None:
        model.provenance_ = doc["provenance"]
    others = sorted(p.name for p in folder.iterdir() if p.name not in {"model.json", "arrays.npz"})
    what = f"the saved state ({', '.join(['model.json', 'arrays.npz', *others])})"
    try:
        model._set_state(doc["state"], arrays, folder)
    except LithoscopeError:
        raise
    except Exception as exc:  # .keras/.skops/state decoding of an untrusted file
        raise model_file_error(folder, what, exc) from None
    _check_answers(model, folder, what)
    return model


def _check_answers(model: SpectralClassifier, folder: Path, what: str) -> None:
    """The loaded model answers one spectrum with one probability per recorded class.

    Catches files that deserialise but belong to another model (a swapped ``.keras``).
    """
    probe = np.linspace(0.0, 1.0, model.n_features_in_)[None, :] ** 2
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            proba, scores = model._scores(probe)
        proba = np.asarray(proba)
        scores = np.asarray(scores)
    except Exception as exc:  # shapes of another model surface here, as any error
        raise model_file_error(folder, what, exc) from None
    n = model.classes_.size
    if proba.shape != (1, n) or scores.shape != (1, n):
        raise model_file_error(
            folder,
            what,
            f"it answers with {proba.shape[-1] if proba.ndim else 0} classes, model.json lists {n}",
        )


def as_float_array(a: npt.ArrayLike) -> np.ndarray:
    """float64 2-D array (one row per spectrum)."""
    arr = np.asarray(a, dtype=np.float64)
    return arr[None, :] if arr.ndim == 1 else arr
