"""Identify minerals in spectra: preprocessing + model + MinDB facts, in milliseconds.

`Identifier` holds one loaded model per method, its preprocessing pipeline (rebuilt from the JSON
saved with the model), and a cache of MinDB facts, so that a field computer answers each new
spectrum without reloading anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lithoscope.errors import InputError, LithoscopeError
from lithoscope.mindb.queries import MinDB
from lithoscope.models.base import SpectralClassifier
from lithoscope.models.registry import ModelRef, Registry
from lithoscope.spectra.preprocessing import pipeline_from_dict
from lithoscope.spectra.spectrum import Spectrum

__all__ = ["Identification", "Identifier"]


@dataclass
class Identification:
    """The answer for one spectrum (``to_dict`` is the JSON Lines contract of ``identify``)."""

    input: str
    method: str
    model: str
    candidates: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "method": self.method,
            "model": self.model,
            "candidates": self.candidates,
            **self.extra,
        }


@dataclass
class _Loaded:
    model: SpectralClassifier
    ref: ModelRef
    pipeline: Any


class Identifier:
    """Identify spectra with registered models.

    Parameters
    ----------
    db : MinDB, optional
        For the facts shown with each candidate (formula, where it occurs); without it the
        candidates carry names and probabilities only.
    model : str, optional
        ``NAME`` or ``NAME@VERSION``; default: the default model of each spectrum's method.
    registry : Registry, optional
    """

    def __init__(
        self,
        db: MinDB | None = None,
        *,
        model: str | None = None,
        registry: Registry | None = None,
    ) -> None:
        self.db = db
        self.model_spec = model
        self.registry = registry or Registry()
        self._loaded: dict[str, _Loaded] = {}
        self._facts: dict[str, dict[str, Any]] = {}

    def loaded(self, method: str) -> _Loaded:
        """The model (and its preprocessing) used for ``method``."""
        if method not in self._loaded:
            model, ref = self.registry.load(self.model_spec, method=method)
            prov = getattr(model, "provenance_", None) or {}
            if prov.get("method") and prov["method"] != method:
                raise InputError(
                    f"model {ref} identifies {prov['method']} spectra, not {method}; pick a "
                    f"{method} model with --model"
                )
            if not prov.get("preprocessing"):
                raise InputError(f"model {ref} has no preprocessing recorded; retrain it")
            self._loaded[method] = _Loaded(model, ref, pipeline_from_dict(prov["preprocessing"]))
        return self._loaded[method]

    def preprocess(self, spectrum: Spectrum) -> np.ndarray:
        """The model's input for one spectrum (1, n_points)."""
        return self.loaded(spectrum.method.value).pipeline.transform([spectrum])

    def facts(self, mineral: str) -> dict[str, Any]:
        """Formula and occurrence summary of a mineral from MinDB (cached)."""
        if self.db is None:
            return {}
        if mineral not in self._facts:
            try:
                card = self.db.mineral(mineral)
            except LithoscopeError:
                self._facts[mineral] = {}
            else:
                settings = []
                for occ in card.get("occurrences", []):
                    text = f"{occ['body']}: {occ['setting']}"
                    if text not in settings:
                        settings.append(text)
                self._facts[mineral] = {
                    "formula": card.get("formula"),
                    "bodies": card.get("bodies", []),
                    "occurs": settings[:5],
                }
        return self._facts[mineral]

    def identify(
        self, spectrum: Spectrum, *, top: int = 5, name: str | None = None
    ) -> Identification:
        """Top-``top`` minerals of one spectrum, best first."""
        loaded = self.loaded(spectrum.method.value)
        X = loaded.pipeline.transform([spectrum])
        candidates = loaded.model.predict_topk(X, k=top)[0]
        rows = []
        for c in candidates:
            row = c.to_dict()
            row.update(self.facts(c.mineral))
            rows.append(row)
        return Identification(
            input=name or str(spectrum.metadata.get("file", "spectrum")),
            method=spectrum.method.value,
            model=str(loaded.ref),
            candidates=rows,
        )
