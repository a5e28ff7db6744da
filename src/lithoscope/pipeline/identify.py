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
    conformal: Any = None
    unknown: Any = None


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
        self._bands: Any = None

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
            loaded = _Loaded(model, ref, pipeline_from_dict(prov["preprocessing"]))
            from lithoscope.uncertainty import ConformalPredictor, UnknownDetector

            if (ref.path / "conformal.json").is_file():
                loaded.conformal = ConformalPredictor.load(ref.path / "conformal.json")
            if (ref.path / "unknown.json").is_file():
                loaded.unknown = UnknownDetector.load(ref.path / "unknown.json")
            self._loaded[method] = loaded
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
        self,
        spectrum: Spectrum,
        *,
        top: int = 5,
        name: str | None = None,
        confidence: float = 0.9,
        explain: bool = False,
    ) -> Identification:
        """Top-``top`` minerals of one spectrum, best first, with the prediction set at
        ``confidence``, the unknown verdict and (with ``explain``) the explanation."""
        loaded = self.loaded(spectrum.method.value)
        X = loaded.pipeline.transform([spectrum])
        model = loaded.model
        proba, scores = model._scores(model._check_X(X))
        order = np.argsort(-proba[0], kind="stable")[: min(top, proba.shape[1])]
        rows = []
        for j in order:
            row = {
                "mineral": str(model.classes_[j]),
                "probability": float(proba[0, j]),
                "score": float(scores[0, j]),
            }
            row.update(self.facts(row["mineral"]))
            rows.append(row)
        extra: dict[str, Any] = {}
        if loaded.conformal is not None:
            members = loaded.conformal.predict_sets(proba, confidence=confidence)[0]
            extra["prediction_set"] = [str(model.classes_[j]) for j in members]
            extra["confidence_level"] = confidence
        if loaded.unknown is not None:
            extra["unknown"] = bool(loaded.unknown.is_unknown(proba, scores)[0])
            extra["unknown_score"] = float(loaded.unknown.unknown_score(proba, scores)[0])
        self.last_attribution = None
        if explain:
            explanation = self.explain(
                spectrum, X[0], [r["mineral"] for r in rows[:3]], include_attribution=True
            )
            self.last_attribution = np.asarray(explanation.pop("attribution"))
            extra["explanation"] = explanation
        return Identification(
            input=name or str(spectrum.metadata.get("file", "spectrum")),
            method=spectrum.method.value,
            model=str(loaded.ref),
            candidates=rows,
            extra=extra,
        )

    def explain(
        self,
        spectrum: Spectrum,
        x: np.ndarray,
        candidates: list[str],
        *,
        include_attribution: bool = False,
    ) -> dict[str, Any]:
        """Attribution regions and the peak table against the candidates' reference bands."""
        from lithoscope.explain import BandCache, explain_identification

        method = spectrum.method.value
        loaded = self.loaded(method)
        if self.db is not None and self._bands is None:
            self._bands = BandCache(
                self.db, pipeline_for=lambda m: self.loaded(m).pipeline, max_spectra=8
            )
        if self._bands is not None:
            bands_for = self._bands.for_method(method)
        else:

            def bands_for(mineral: str) -> list[dict[str, Any]]:
                return []  # without MinDB there are no reference bands to match

        return explain_identification(
            loaded.model,
            x,
            loaded.model.axis_,
            candidates,
            bands_for,
            include_attribution=include_attribution,
        )
