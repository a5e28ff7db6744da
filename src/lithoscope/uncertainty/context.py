"""Planetary context as a prior: where a sample comes from re-weights the model's minerals.

A spectrum measured on the Moon is far more likely to be a mineral already reported on the Moon
than one of the ~1,500 others a RRUFF-trained model knows. `ContextPrior` turns MinDB's
occurrences into a prior over the model's classes, for each body (moon, mars, meteorite):

    posterior(c) = p(c | spectrum) * w(c) / sum_k p(k | spectrum) * w(k)
    w(c) = 1 if c is reported on the body, exp(-strength) otherwise

It is never a hard filter: a mineral not reported there keeps a finite weight, so a new mineral is
still found when its spectrum is clear. The strength is chosen per body on held-out calibration
spectra by the log loss of the posterior over a population in which a share
``new_mineral_share`` of the spectra (default 10 %) are of minerals *not* reported on that body:
the stated assumption of how often a measurement on that body meets a mineral not on its list
(Chang'e-5 alone added several). A hard filter (infinite strength) has infinite loss on that
share, no prior (zero) ignores what is known; the loss picks between them.

Conformal prediction sets under a context are calibrated on the same posterior, from the
calibration spectra of minerals reported on that body (the population a measurement there
comes from), so that their coverage holds for such minerals; a body with too few of them keeps
the sets calibrated without context (and says so in ``calibration``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator

from lithoscope.errors import InputError
from lithoscope.uncertainty.conformal import (
    ConformalPredictor,
    JsonDocument,
    _check_format,
    check_proba,
)

__all__ = ["BODY_NAMES", "ContextPrior"]

FORMAT = "lithoscope-context-prior"
FORMAT_VERSION = 1

#: how answers name a body ("not reported on the Moon")
BODY_NAMES = {"moon": "the Moon", "mars": "Mars", "meteorite": "meteorites", "earth": "Earth"}

#: strengths tried (exp(-8) ~ 3e-4: a mineral not reported must look ~3,000x better)
_STRENGTHS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0)


class ContextPrior(JsonDocument, BaseEstimator):
    """Per-body occurrence prior over a model's classes, with conformal sets on the posterior.

    Parameters
    ----------
    new_mineral_share : float, default=0.1
        Assumed share of measurements on a body that are of minerals not reported there; sets
        the trade-off when the strength is chosen.
    method : {'lac', 'aps', 'raps'}, default='lac'
        Nonconformity score of the per-body `ConformalPredictor`.
    min_calibration : int, default=20
        Fewest calibration spectra of reported minerals for a body's own conformal sets.

    Attributes
    ----------
    classes_ : ndarray of str
    reported_ : dict of str to ndarray of bool
        Per body, which classes are reported there.
    strength_ : dict of str to float
    conformal_ : dict of str to ConformalPredictor or None
    calibration_ : dict
        Per body: calibration spectra of reported minerals, chosen strength, validation loss.
    """

    _what = "context prior"
    _format = FORMAT
    _format_version = FORMAT_VERSION

    def __init__(
        self,
        *,
        new_mineral_share: float = 0.1,
        method: str = "lac",
        min_calibration: int = 20,
    ) -> None:
        self.new_mineral_share = new_mineral_share
        self.method = method
        self.min_calibration = min_calibration

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        proba: npt.ArrayLike,
        y_index: npt.ArrayLike,
        classes: npt.ArrayLike,
        reported: Mapping[str, Iterable[str]],
    ) -> ContextPrior:
        """Choose each body's strength and calibrate its conformal sets.

        Parameters
        ----------
        proba : array_like, shape (n_spectra, n_classes)
            The model's probabilities of held-out calibration spectra of known minerals.
        y_index : array_like of int, shape (n_spectra,)
            Their true class.
        classes : array_like of str, shape (n_classes,)
            The model's classes.
        reported : mapping of str to iterable of str
            Body -> names of the species reported there (`MinDB.species_reported`).
        """
        if not 0 < self.new_mineral_share < 1:
            raise InputError(
                f"new_mineral_share must be between 0 and 1, got {self.new_mineral_share}"
            )
        classes = np.asarray(classes).astype(str)
        P = check_proba(proba, n_classes=classes.size)
        y = np.asarray(y_index, dtype=np.intp)
        if y.shape != (P.shape[0],) or np.any((y < 0) | (y >= classes.size)):
            raise InputError("y_index must hold one class index (0..n_classes-1) per row of proba")
        self.classes_ = classes
        self.reported_ = {}
        self.strength_ = {}
        self.conformal_ = {}
        self.calibration_ = {}
        for body, names in reported.items():
            mask = np.isin(classes, list(names))
            self.reported_[str(body)] = mask
            strength, loss = self._choose_strength(P, y, mask)
            self.strength_[str(body)] = strength
            rows = mask[y]
            info: dict[str, Any] = {
                "reported_classes": int(mask.sum()),
                "calibration_spectra_reported": int(rows.sum()),
                "strength": strength,
                "validation_log_loss": round(loss, 4) if np.isfinite(loss) else None,
            }
            cp = None
            if rows.sum() >= self.min_calibration:
                cp = ConformalPredictor(method=self.method).calibrate(
                    self.posterior(P[rows], body), y[rows]
                )
            else:
                info["conformal"] = (
                    f"only {int(rows.sum())} calibration spectra of minerals reported on this "
                    f"body (< {self.min_calibration}); sets calibrated without context"
                )
            self.conformal_[str(body)] = cp
            self.calibration_[str(body)] = info
        return self

    def _choose_strength(
        self, P: np.ndarray, y: np.ndarray, mask: np.ndarray
    ) -> tuple[float, float]:
        """The strength with the lowest weighted log loss (ties: the weaker prior)."""
        rows = mask[y]
        if rows.all() or not rows.any():
            # no spectra on one side: the trade-off cannot be measured; no prior
            return 0.0, float("nan")
        share = np.where(
            rows,
            (1 - self.new_mineral_share) / rows.sum(),
            self.new_mineral_share / (~rows).sum(),
        )
        p_true = np.clip(P[np.arange(y.size), y], 1e-300, None)
        best = (np.inf, 0.0)
        for strength in _STRENGTHS:
            w = np.where(mask, 1.0, np.exp(-strength))
            loss = -np.sum(share * (np.log(p_true) + np.log(w[y]) - np.log(P @ w)))
            if loss < best[0] - 1e-9:
                best = (float(loss), float(strength))
        return best[1], best[0]

    # ------------------------------------------------------------------ use
    def _check_fitted(self) -> None:
        if not hasattr(self, "strength_"):
            raise InputError("the context prior is not fitted; train the model again")

    @property
    def bodies(self) -> tuple[str, ...]:
        self._check_fitted()
        return tuple(self.strength_)

    def _body(self, body: str) -> str:
        self._check_fitted()
        if body not in self.strength_:
            known = ", ".join(self.strength_) or "none"
            raise InputError(f"no context prior for body {body!r} (this model has: {known})")
        return body

    def weights(self, body: str) -> np.ndarray:
        """Prior weight of each class on ``body`` (1 reported, exp(-strength) not)."""
        body = self._body(body)
        return np.where(self.reported_[body], 1.0, np.exp(-self.strength_[body]))

    def posterior(self, proba: npt.ArrayLike, body: str) -> np.ndarray:
        """The model's probabilities re-weighted by ``body``'s prior (rows sum to 1)."""
        P = np.asarray(proba, dtype=np.float64) * self.weights(body)
        return P / np.clip(P.sum(axis=1, keepdims=True), 1e-300, None)

    def reported(self, body: str) -> np.ndarray:
        """Boolean mask over ``classes_``: reported on ``body``."""
        return self.reported_[self._body(body)]

    def conformal(self, body: str) -> ConformalPredictor | None:
        """The conformal predictor calibrated on ``body``'s posterior, or None (too few)."""
        return self.conformal_[self._body(body)]

    def with_classes(self, classes: npt.ArrayLike) -> ContextPrior:
        """The prior over a model's new class list (after ``learn`` added a mineral).

        Masks follow the names; a new class is not reported anywhere. The per-body conformal
        scores (of the calibration minerals) are kept, as `learn` keeps the model's own.
        """
        self._check_fitted()
        new = np.asarray(classes).astype(str)
        for body, mask in self.reported_.items():
            self.reported_[body] = np.isin(new, self.classes_[mask])
            cp = self.conformal_[body]
            if cp is not None:
                cp.n_classes_ = new.size
        self.classes_ = new
        return self

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return self._document(
            classes=self.classes_.tolist(),
            bodies={
                body: {
                    "strength": self.strength_[body],
                    "reported": np.flatnonzero(self.reported_[body]).tolist(),
                    "conformal": (
                        self.conformal_[body].to_dict()
                        if self.conformal_[body] is not None
                        else None
                    ),
                    "calibration": self.calibration_[body],
                }
                for body in self.strength_
            },
        )

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ContextPrior:
        _check_format(doc, FORMAT, FORMAT_VERSION, "context prior")
        try:
            self = cls(**doc["params"])
            classes = np.asarray(doc["classes"], dtype=str)
            self.classes_ = classes
            self.reported_, self.strength_, self.conformal_, self.calibration_ = {}, {}, {}, {}
            for body, entry in doc["bodies"].items():
                mask = np.zeros(classes.size, dtype=bool)
                mask[np.asarray(entry["reported"], dtype=np.intp)] = True
                self.reported_[body] = mask
                self.strength_[body] = float(entry["strength"])
                conf = entry["conformal"]
                self.conformal_[body] = (
                    ConformalPredictor.from_dict(conf) if conf is not None else None
                )
                self.calibration_[body] = dict(entry.get("calibration") or {})
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise InputError(f"context prior document is incomplete or invalid: {exc}") from None
        return self
