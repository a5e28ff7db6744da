"""`MixtureModel`: which minerals a mixture spectrum holds, how much of each, and how sure.

A mixture model answers for a batch of preprocessed spectra, per mineral of its reference
library: the probability that the mineral is present, its volume fraction and the standard
deviation of that fraction. It combines

* `NNLSUnmixer` (`lithoscope.models.unmixing`): efficiency-weighted non-negative least squares
  against the references with a free background; abundances and their bootstrap sd over
  references; presence thresholds chosen on validation mixtures;
* optionally a multi-label network (`lithoscope.models.keras.multilabel`) whose sigmoid outputs
  give the presence probabilities; the unmixer's abundances are then renormalised over the
  minerals the network finds present.

Without a network the presence probability of a mineral is the normal probability that its
fraction exceeds its threshold, ``Phi((phi - t) / sd)``, with the bootstrap sd (floored at
``SD_FLOOR``): a mineral well above its threshold with a tight bootstrap is near 1, one near
its threshold near 0.5.

On disk (inside a bundle's method folder) a mixture model is a folder::

    mixture.json      format, version, summary, which parts exist
    unmixer/          `NNLSUnmixer.save`
    network/          the multi-label network's own save (absent without one)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import ndtr

from lithoscope import __version__
from lithoscope.errors import ModelFileError

__all__ = ["MIXTURE_FORMAT", "SD_FLOOR", "MixtureModel", "MixturePrediction"]

MIXTURE_FORMAT = "lithoscope-mixture"
MIXTURE_FORMAT_VERSION = 1
#: smallest sd of a volume fraction used for presence probabilities (1 vol %)
SD_FLOOR = 0.01


@dataclass(frozen=True)
class MixturePrediction:
    """Per spectrum and mineral: presence probability, volume fraction and its sd.

    Attributes
    ----------
    classes : ndarray of str, shape (k,)
    presence : ndarray, shape (n, k)
        Probability that each mineral is present.
    present : ndarray of bool, shape (n, k)
        The decision (the network's or the unmixer's per-mineral thresholds).
    abundance : ndarray, shape (n, k)
        Volume fractions; each row sums to 1 over the present minerals (all zeros when none is).
    abundance_sd : ndarray, shape (n, k)
    """

    classes: np.ndarray
    presence: np.ndarray
    present: np.ndarray
    abundance: np.ndarray
    abundance_sd: np.ndarray


@dataclass
class MixtureModel:
    """An unmixer, optionally with a multi-label network, serving one method's mixtures.

    Parameters
    ----------
    unmixer : NNLSUnmixer
        Fitted on the method's preprocessed reference spectra.
    network : MultiLabelClassifier, optional
        Fitted on mixtures of the same references; its classes must be the unmixer's.
    summary : dict, optional
        How it was trained and validated (shown by ``models show``, kept in the bundle).
    """

    unmixer: Any
    network: Any = None
    summary: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.network is not None:
            mine = np.asarray(self.unmixer.classes_).astype(str)
            theirs = np.asarray(self.network.classes_).astype(str)
            if not np.array_equal(mine, theirs):
                raise ModelFileError(
                    "the mixture network and the unmixer know different minerals; retrain the "
                    "mixture model"
                )

    @property
    def classes(self) -> np.ndarray:
        return np.asarray(self.unmixer.classes_).astype(str)

    @property
    def axis(self) -> np.ndarray:
        return np.asarray(self.unmixer.axis_)

    def predict(self, X: np.ndarray) -> MixturePrediction:
        """Presence, abundance and sd of every mineral for preprocessed spectra ``X`` (n, p)."""
        X = np.asarray(X, dtype=np.float64)
        phi, sd = self.unmixer.predict_abundances(X)
        thresholds = np.asarray(self.unmixer.thresholds_)[None, :]
        if self.network is not None:
            presence = np.asarray(self.network.predict_proba(X), dtype=np.float64)
            present = presence >= np.asarray(self.network.thresholds_)[None, :]
        else:
            presence = ndtr((phi - thresholds) / np.maximum(sd, SD_FLOOR))
            present = phi > thresholds
        kept = np.where(present, phi, 0.0)
        total = kept.sum(axis=1, keepdims=True)
        scale = np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)
        return MixturePrediction(
            self.classes, presence, present, kept * scale, np.where(present, sd * scale, 0.0)
        )

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | Path) -> Path:
        """Write into the new folder ``folder``: mixture.json, unmixer/ and network/."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=False)
        self.unmixer.save(folder / "unmixer")
        if self.network is not None:
            self.network.save(folder / "network")
        doc = {
            "format": MIXTURE_FORMAT,
            "format_version": MIXTURE_FORMAT_VERSION,
            "lithoscope_version": __version__,
            "network": self.network is not None,
            "summary": self.summary,
        }
        (folder / "mixture.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> MixtureModel:
        """Read a folder written by `save`.

        Raises
        ------
        ModelFileError
            A missing or foreign file, a newer format, or parts that disagree.
        """
        from lithoscope.models.unmixing import load_unmixer

        folder = Path(folder)
        path = folder / "mixture.json"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"{path}: unreadable ({exc}); retrain the mixture model") from None
        if not isinstance(doc, dict) or doc.get("format") != MIXTURE_FORMAT:
            raise ModelFileError(f"{path}: not a lithoscope mixture model")
        if int(doc.get("format_version", 0)) > MIXTURE_FORMAT_VERSION:
            raise ModelFileError(f"{path}: written by a newer lithoscope; upgrade lithoscope")
        unmixer = load_unmixer(folder / "unmixer")
        network = None
        if doc.get("network"):
            from lithoscope.models.keras.multilabel import load_multilabel

            network = load_multilabel(folder / "network")
        return cls(unmixer, network, dict(doc.get("summary") or {}))
