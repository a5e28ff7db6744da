"""Training a model on the spectra in MinDB and registering it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lithoscope.data.datasets import Dataset, DatasetSpec, build_dataset
from lithoscope.errors import InputError
from lithoscope.methods import Method
from lithoscope.mindb.queries import MinDB
from lithoscope.models.base import SpectralClassifier
from lithoscope.models.registry import ModelRef, Registry
from lithoscope.spectra.preprocessing import make_preset

__all__ = ["MODEL_KINDS", "TrainResult", "make_model", "train"]


def _library(**kw: Any) -> SpectralClassifier:
    from lithoscope.models.library import LibrarySearch

    return LibrarySearch(**kw)


def _classical(kind: str) -> Callable[..., SpectralClassifier]:
    def make(**kw: Any) -> SpectralClassifier:
        from lithoscope.models.classical import ClassicalClassifier

        return ClassicalClassifier(kind=kind, **kw)

    return make


def _cnn(**kw: Any) -> SpectralClassifier:
    from lithoscope.models.cnn import CNNClassifier

    return CNNClassifier(**kw)


def _kan(**kw: Any) -> SpectralClassifier:
    from lithoscope.models.kan import KANClassifier

    return KANClassifier(**kw)


#: model kind -> factory taking the estimator's keyword parameters
MODEL_KINDS: dict[str, Callable[..., SpectralClassifier]] = {
    "library": _library,
    "cnn": _cnn,
    "kan": _kan,
    "svm": _classical("pca-svm"),
    "logreg": _classical("pca-logreg"),
    "rf": _classical("rf"),
}


def make_model(kind: str, **params: Any) -> SpectralClassifier:
    """A new, unfitted estimator of a named kind."""
    if kind not in MODEL_KINDS:
        raise InputError(f"--model {kind!r} is not one of {', '.join(MODEL_KINDS)}")
    return MODEL_KINDS[kind](**params)


@dataclass
class TrainResult:
    ref: ModelRef
    dataset: Dataset
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": str(self.ref),
            "path": str(self.ref.path),
            "dataset_version": self.dataset.version,
            "n_spectra": len(self.dataset),
            "n_minerals": int(np.unique(self.dataset.y).size),
            "seconds": round(self.seconds, 2),
        }


def train(
    db: MinDB,
    method: str,
    kind: str,
    *,
    name: str | None = None,
    min_spectra_per_mineral: int = 1,
    registry: Registry | None = None,
    params: dict[str, Any] | None = None,
    make_default: bool = False,
) -> TrainResult:
    """Train a ``kind`` model on MinDB's ``method`` spectra with the method's preset.

    The model records the dataset version, the preprocessing pipeline (JSON) and the method,
    and is registered as a new version of ``name`` (default ``<method>-<kind>``).
    """
    try:
        method = Method(method.lower()).value
    except ValueError:
        raise InputError(
            f"--method {method!r} is not one of {', '.join(m.value for m in Method)}"
        ) from None
    registry = registry or Registry()
    name = Registry.check_name(name or f"{method}-{kind}")
    model = make_model(kind, **(params or {}))
    pipe = make_preset(method)
    spec = DatasetSpec.from_pipeline(pipe, min_spectra_per_mineral=min_spectra_per_mineral)
    dataset = build_dataset(db, spec, pipeline=pipe)
    if np.unique(dataset.y).size < 2:
        raise InputError(f"MinDB holds {method} spectra of fewer than 2 minerals; ingest more")
    start = time.perf_counter()
    if "groups" in model.fit.__code__.co_varnames:
        model.fit(dataset, groups=dataset.groups)
    else:
        model.fit(dataset)
    seconds = time.perf_counter() - start
    model.set_provenance(
        dataset_version=dataset.version,
        preprocessing=spec.preprocessing,
        method=method,
        metrics={"fit_seconds": round(seconds, 2), "n_spectra": len(dataset)},
    )
    ref = registry.register(model, name, method=method)
    if make_default:
        registry.set_default(method, name)
    return TrainResult(ref, dataset, seconds)
