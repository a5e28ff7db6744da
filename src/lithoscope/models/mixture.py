"""`MixtureModel`: which minerals a mixture spectrum holds, how much of each, and how sure.

A mixture model answers for a batch of preprocessed spectra, per mineral of its reference
library: the probability that the mineral is present, its volume fraction and the standard
deviation of that fraction. It combines

* `NNLSUnmixer` (`lithoscope.models.unmixing`): efficiency-weighted non-negative least squares
  against the references with a free background; abundances and their bootstrap sd over
  references (scaled on validation mixtures); per-mineral presence thresholds;
* optionally `MultiLabelClassifier` (`lithoscope.models.keras.multilabel`): sigmoid presence
  outputs with per-mineral thresholds.

The combined rule (`combined_scores`, fixed before any test): each model's score is mapped so
that its own threshold sits at 0.5 (`scores_at_half`), the two are averaged, and a mineral is
present above 0.5; the abundances are then NNLS restricted to the present minerals. On RRUFF
mixtures of held-out samples it beats either model alone (benchmarks/mixtures.py). The
presence *probability* is that score calibrated on validation mixtures (an isotonic map fitted
by `calibrate_presence`), so that "0.8" means present about 8 times in 10. The same validation
mixtures calibrate a split-conformal multi-label set (`MixturePrediction.possible`): every
mineral whose score is not below the level that, on validation mixtures, kept all the truly
present minerals of 90 % of the mixtures (the nonconformity of a mixture is ``1 - min score``
over its present minerals).

On disk (inside a bundle's method folder) a mixture model is a folder::

    mixture.json      format, version, kind, summary, the presence calibration
    unmixer/          `NNLSUnmixer.save`
    network/          `MultiLabelClassifier.save` (absent without one)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lithoscope import __version__
from lithoscope.errors import ModelFileError

__all__ = [
    "MIXTURE_FORMAT",
    "MixtureModel",
    "MixturePrediction",
    "combined_scores",
    "scores_at_half",
]

MIXTURE_FORMAT = "lithoscope-mixture"
MIXTURE_FORMAT_VERSION = 1


def scores_at_half(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Piecewise-linear map of scores so that each column's threshold ``t`` lands on 0.5.

    Examples
    --------
    >>> scores_at_half(np.array([[0.0, 0.1, 0.2, 1.0]]), np.array([0.2, 0.2, 0.2, 0.2]))
    array([[0.  , 0.25, 0.5 , 1.  ]])
    """
    t = np.clip(np.asarray(t, dtype=np.float64), 1e-6, 1 - 1e-6)[None, :]
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    return np.where(p <= t, 0.5 * p / t, 0.5 + 0.5 * (p - t) / (1 - t))


def combined_scores(
    phi: np.ndarray,
    unmixer_thresholds: np.ndarray,
    proba: np.ndarray | None = None,
    network_thresholds: np.ndarray | None = None,
) -> np.ndarray:
    """Presence score of every mineral, 0.5 at the decision: the unmixer's volume fractions
    ``phi`` and, when given, the network's probabilities, each mapped by `scores_at_half` and
    averaged."""
    score = scores_at_half(phi, unmixer_thresholds)
    if proba is not None:
        score = (score + scores_at_half(proba, network_thresholds)) / 2
    return score


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
    possible : ndarray of bool, shape (n, k), optional
        The conformal set: minerals that cannot be ruled out at the calibrated level (None
        without a conformal calibration).
    """

    classes: np.ndarray
    presence: np.ndarray
    present: np.ndarray
    abundance: np.ndarray
    abundance_sd: np.ndarray
    possible: np.ndarray | None = None


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
    presence_map: tuple[list[float], list[float]] | None = None
    conformal: dict[str, float] | None = None
    sd_scale: float = 1.0

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

    def scores(self, X: np.ndarray) -> np.ndarray:
        """`combined_scores` of preprocessed spectra ``X`` (n, p): present above 0.5."""
        phi = self.unmixer.predict_abundances(X, return_sd=False)
        proba = thresholds = None
        if self.network is not None:
            proba = np.asarray(self.network.predict_proba(X), dtype=np.float64)
            thresholds = np.asarray(self.network.thresholds_)
        return combined_scores(phi, np.asarray(self.unmixer.thresholds_), proba, thresholds)

    def calibrate_presence(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        A: np.ndarray | None = None,
        *,
        confidence: float = 0.9,
    ) -> MixtureModel:
        """Map scores to probabilities of presence (isotonic, pooled over minerals) and
        calibrate the conformal multi-label set at ``confidence``, on validation mixtures
        (never on test data); with the true volume fractions ``A``, also scale the served sd
        so that 68 % of the present minerals' true fractions lie within 1 sd (the served
        abundances, NNLS on the present minerals, are closer than the unmixer's own)."""
        from sklearn.isotonic import IsotonicRegression

        Y = np.asarray(Y).astype(bool)
        scores = self.scores(X)
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(scores.ravel(), Y.astype(np.float64).ravel())
        self.presence_map = (
            [float(v) for v in iso.X_thresholds_],
            [float(v) for v in iso.y_thresholds_],
        )
        rows = Y.any(axis=1)
        if rows.sum() >= 10:
            worst = np.where(Y[rows], scores[rows], np.inf).min(axis=1)
            n = worst.size
            level = min(1.0, np.ceil((n + 1) * confidence) / n)
            # the score above which all present minerals of `confidence` of the mixtures lie
            cut = float(np.quantile(worst, 1 - level, method="lower")) if level < 1 else 0.0
            self.conformal = {"confidence": float(confidence), "score": cut, "n": int(n)}
        if A is not None:
            self.sd_scale = 1.0
            pred = self.predict(X)
            hit = pred.present & Y
            ok = hit & (pred.abundance_sd > 0)
            if ok.sum() >= 10:
                ratio = np.abs(pred.abundance - np.asarray(A))[ok] / pred.abundance_sd[ok]
                self.sd_scale = float(np.quantile(ratio, 0.6827))
        return self

    def predict(self, X: np.ndarray) -> MixturePrediction:
        """Presence, abundance and sd of every mineral for preprocessed spectra ``X`` (n, p)."""
        X = np.asarray(X, dtype=np.float64)
        score = self.scores(X)
        present = score > 0.5
        if self.presence_map is not None:
            presence = np.interp(score, *self.presence_map)
        else:
            presence = score
        phi, sd = self.unmixer.predict_abundances(X, candidates=present)
        phi = np.where(present, phi, 0.0)
        total = phi.sum(axis=1, keepdims=True)
        scale = np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)
        possible = None
        if self.conformal is not None:
            possible = (score >= self.conformal["score"]) | present
        return MixturePrediction(
            self.classes,
            presence,
            present,
            phi * scale,
            np.where(present, sd * scale * self.sd_scale, 0.0),
            possible,
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
            "kind": "unmixer",
            "network": self.network is not None,
            "presence_map": self.presence_map,
            "conformal": self.conformal,
            "sd_scale": self.sd_scale,
            "summary": self.summary,
        }
        (folder / "mixture.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Any:
        """Read a folder written by `save`, or by the ``save`` of another kind of mixture model
        (`MIXTURE_KINDS`, by the ``kind`` in mixture.json: ``"modal"`` for VNIR).

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
        kind = doc.get("kind", "unmixer")
        if kind != "unmixer":
            return _load_kind(kind, folder, path)
        if int(doc.get("format_version", 0)) > MIXTURE_FORMAT_VERSION:
            raise ModelFileError(f"{path}: written by a newer lithoscope; upgrade lithoscope")
        unmixer = load_unmixer(folder / "unmixer")
        network = None
        if doc.get("network"):
            from lithoscope.models.keras.multilabel import load_multilabel

            network = load_multilabel(folder / "network")
        presence_map = doc.get("presence_map")
        if presence_map is not None:
            try:
                xs, ys = (np.asarray(v, dtype=np.float64) for v in presence_map)
            except (TypeError, ValueError):
                raise ModelFileError(f"{path}: presence_map is not two lists of numbers") from None
            if xs.shape != ys.shape or xs.size < 1 or np.any(np.diff(xs) < 0):
                raise ModelFileError(f"{path}: presence_map is not an increasing map; retrain")
            presence_map = (xs.tolist(), ys.tolist())
        conformal = doc.get("conformal")
        if conformal is not None:
            try:
                conformal = {
                    "confidence": float(conformal["confidence"]),
                    "score": float(conformal["score"]),
                    "n": int(conformal["n"]),
                }
            except (KeyError, TypeError, ValueError):
                raise ModelFileError(f"{path}: conformal is incomplete; retrain") from None
        sd_scale = doc.get("sd_scale", 1.0)
        if not isinstance(sd_scale, int | float) or not np.isfinite(sd_scale) or sd_scale <= 0:
            raise ModelFileError(f"{path}: sd_scale must be a number > 0; retrain")
        return cls(
            unmixer,
            network,
            dict(doc.get("summary") or {}),
            presence_map,
            conformal,
            float(sd_scale),
        )


#: Mixture models of other kinds, by the ``kind`` in their mixture.json: the class
#: (``module.Class``) whose ``load(folder)`` reads them; they answer like `MixtureModel`.
MIXTURE_KINDS = {"modal": "lithoscope.models.modal.ModalMixtureModel"}


def _load_kind(kind: Any, folder: Path, path: Path) -> Any:
    import importlib

    if kind not in MIXTURE_KINDS:
        valid = ", ".join(["unmixer", *MIXTURE_KINDS])
        raise ModelFileError(
            f"{path}: mixture model kind {kind!r} is not one of {valid}; upgrade lithoscope"
        )
    module, _, name = MIXTURE_KINDS[kind].rpartition(".")
    return getattr(importlib.import_module(module), name).load(folder)
