"""Preprocessing pipelines as JSON: no pickle, only registered step classes, a content hash.

Layout of the document (``format_version`` 1)::

    {
      "format": "lithoscope.preprocessing",
      "format_version": 1,
      "steps": [{"name": "to_grid", "class": "ToGrid", "params": {...}}, ...],
      "arrays": {"<id>": {"dtype": "float64", "shape": [n], "data": [...]}},
      "content_sha256": "<hex>"
    }

NumPy arrays in parameters are written once to ``arrays`` and referenced as
``{"__ndarray__": "<id>"}`` (pipelines repeat the grid in several steps). Floats are written with
Python's shortest round-trip repr, so a loaded pipeline reproduces the saved one's outputs exactly.
``content_sha256`` is the SHA-256 of the canonical JSON (sorted keys, no spaces) of the rest of the
document; a model records it to name the preprocessing it was trained with, and loading checks it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from lithoscope.errors import InputError
from lithoscope.spectra.preprocessing._transformers import (
    BaselineRemoval,
    Clip,
    ContinuumRemoval,
    Crop,
    Despike,
    Normalize,
    SavitzkyGolay,
    ToGrid,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "STEP_CLASSES",
    "load_pipeline",
    "pipeline_from_dict",
    "pipeline_hash",
    "pipeline_to_dict",
    "save_pipeline",
]

FORMAT = "lithoscope.preprocessing"
FORMAT_VERSION = 1

#: The only classes a saved pipeline may name.
STEP_CLASSES: dict[str, type[BaseEstimator]] = {
    cls.__name__: cls
    for cls in (
        ToGrid,
        Crop,
        Despike,
        BaselineRemoval,
        SavitzkyGolay,
        Normalize,
        ContinuumRemoval,
        Clip,
    )
}

_ARRAY_KEY = "__ndarray__"


def _canonical(document: Mapping[str, Any]) -> str:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def _encode(value: Any, arrays: dict[str, Any], where: str) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            raise InputError(f"{where}: {value!r} cannot be written to JSON; use a finite number")
        return float(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiub":
            raise InputError(f"{where}: arrays of dtype {value.dtype} cannot be saved")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise InputError(f"{where}: the array contains NaN or infinity")
        entry = {"dtype": value.dtype.str.lstrip("<>|="), "shape": list(value.shape)}
        entry["data"] = value.ravel().tolist()
        key = hashlib.sha256(_canonical(entry).encode()).hexdigest()[:16]
        arrays[key] = entry
        return {_ARRAY_KEY: key}
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise InputError(f"{where}: dict keys must be strings, got {k!r}")
            out[k] = _encode(v, arrays, f"{where}.{k}")
        return out
    if isinstance(value, (list, tuple)):
        return [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]
    raise InputError(
        f"{where}: a {type(value).__name__} cannot be written to JSON; use numbers, strings, "
        "lists, dicts or numpy arrays"
    )


def _decode(value: Any, arrays: Mapping[str, Any], where: str) -> Any:
    if isinstance(value, dict):
        if set(value) == {_ARRAY_KEY}:
            key = value[_ARRAY_KEY]
            if key not in arrays:
                raise InputError(f"{where}: array {key!r} is missing from 'arrays'")
            entry = arrays[key]
            try:
                return np.array(entry["data"], dtype=entry["dtype"]).reshape(entry["shape"])
            except (KeyError, TypeError, ValueError) as exc:
                raise InputError(f"{where}: array {key!r} is malformed ({exc})") from None
        return {k: _decode(v, arrays, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _content(pipeline: Pipeline) -> dict[str, Any]:
    if not isinstance(pipeline, Pipeline):
        raise InputError(
            f"expected a sklearn Pipeline of preprocessing steps, got {type(pipeline).__name__}"
        )
    arrays: dict[str, Any] = {}
    steps = []
    for name, step in pipeline.steps:
        cls_name = type(step).__name__
        if STEP_CLASSES.get(cls_name) is not type(step):
            raise InputError(
                f"step {name!r} is a {cls_name}, which cannot be saved; saved pipelines hold "
                f"only {', '.join(STEP_CLASSES)} (save models separately)"
            )
        params = _encode(step.get_params(deep=False), arrays, f"step {name!r}")
        steps.append({"name": name, "class": cls_name, "params": params})
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "steps": steps,
        "arrays": arrays,
    }


def pipeline_to_dict(pipeline: Pipeline) -> dict[str, Any]:
    """The JSON-ready description of a preprocessing pipeline, with its content hash.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Steps from `STEP_CLASSES` only.

    Returns
    -------
    dict
        Plain lists, dicts, strings and numbers (see the module docstring for the layout).

    Raises
    ------
    InputError
        A step of an unregistered class, or a parameter JSON cannot hold.
    """
    content = _content(pipeline)
    return {**content, "content_sha256": hashlib.sha256(_canonical(content).encode()).hexdigest()}


def pipeline_hash(pipeline: Pipeline) -> str:
    """SHA-256 (hex) of the canonical JSON of ``pipeline``; equal for equal preprocessing."""
    return pipeline_to_dict(pipeline)["content_sha256"]


def pipeline_from_dict(document: Mapping[str, Any]) -> Pipeline:
    """Rebuild the pipeline described by `pipeline_to_dict` (unfitted; it transforms at once).

    Raises
    ------
    InputError
        Wrong format or newer version, a content hash that does not match (the document was
        edited or damaged), an unknown class (the message lists the valid names) or parameter.
    """
    if not isinstance(document, Mapping) or document.get("format") != FORMAT:
        raise InputError(f"not a lithoscope preprocessing pipeline (expected format {FORMAT!r})")
    version = document.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise InputError(
            f"pipeline format_version {version!r} is not supported; this lithoscope reads "
            f"versions 1-{FORMAT_VERSION} (upgrade lithoscope for newer files)"
        )
    content = {k: v for k, v in document.items() if k != "content_sha256"}
    recorded = document.get("content_sha256")
    if recorded is not None:
        actual = hashlib.sha256(_canonical(content).encode()).hexdigest()
        if actual != recorded:
            raise InputError(
                f"pipeline content hash {actual[:12]}... does not match the recorded "
                f"{str(recorded)[:12]}...; the file was edited or damaged"
            )
    arrays = content.get("arrays", {})
    if not isinstance(arrays, Mapping):
        raise InputError("pipeline 'arrays' must be an object mapping ids to arrays")
    steps = content.get("steps")
    if not isinstance(steps, list) or not steps:
        raise InputError("pipeline has no 'steps' list")
    built = []
    for i, entry in enumerate(steps):
        if not isinstance(entry, Mapping) or not {"name", "class", "params"} <= set(entry):
            raise InputError(f"pipeline step {i} needs 'name', 'class' and 'params'")
        name, cls_name = entry["name"], entry["class"]
        cls = STEP_CLASSES.get(cls_name)
        if cls is None:
            raise InputError(
                f"pipeline step {name!r}: unknown class {cls_name!r}; valid: "
                f"{', '.join(STEP_CLASSES)}"
            )
        params = _decode(entry["params"], arrays, f"step {name!r}")
        valid = cls._get_param_names()
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise InputError(
                f"pipeline step {name!r}: {', '.join(map(repr, unknown))} not a parameter of "
                f"{cls_name}; valid: {', '.join(valid)}"
            )
        built.append((name, cls(**params)))
    return Pipeline(built)


def save_pipeline(pipeline: Pipeline, path: str | PathLike[str]) -> str:
    """Write ``pipeline`` as JSON to ``path``; returns its content hash.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from lithoscope.spectra.preprocessing import make_preset
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "raman.json"
    >>> digest = save_pipeline(make_preset("raman"), path)
    >>> pipeline_hash(load_pipeline(path)) == digest
    True
    """
    document = pipeline_to_dict(pipeline)
    Path(path).write_text(
        json.dumps(document, indent=1, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8"
    )
    return document["content_sha256"]


def load_pipeline(path: str | PathLike[str]) -> Pipeline:
    """Read a pipeline written by `save_pipeline` (checks its content hash)."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    try:
        return pipeline_from_dict(document)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
