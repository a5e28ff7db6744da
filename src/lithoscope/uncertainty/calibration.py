"""Calibrating a fitted model's trust: its conformal predictor and unknown detector together.

`calibrate` fits both on held-out calibration spectra, from the model's ``predict_proba`` and
``class_scores`` only; `unknown_score_for` picks the out-of-library score that suits the
model's class scores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy.typing as npt

from lithoscope.uncertainty.conformal import ConformalPredictor, labels_to_index
from lithoscope.uncertainty.unknown import UnknownDetector

if TYPE_CHECKING:
    from lithoscope.models.base import SpectralClassifier

__all__ = ["calibrate", "unknown_score_for"]


def unknown_score_for(model: SpectralClassifier) -> str:
    """The out-of-library score that suits a model's class scores.

    ``'max_similarity'`` for models whose class scores are similarities (library search, a
    CNN that matches embeddings: they declare ``similarity_scores`` or embed and match);
    ``'max_proba'`` for the others (logits, votes).

    Parameters
    ----------
    model : SpectralClassifier

    Returns
    -------
    {'max_similarity', 'max_proba'}
    """
    matching = hasattr(model, "embed") and getattr(model, "head", None) in (None, "match")
    if getattr(model, "similarity_scores", False) or matching:
        return "max_similarity"
    return "max_proba"


def calibrate(
    model: SpectralClassifier,
    X: npt.ArrayLike,
    labels: npt.ArrayLike,
    *,
    method: str = "aps",
    false_unknown_rate: float = 0.05,
) -> tuple[ConformalPredictor, UnknownDetector, dict[str, Any]]:
    """Conformal predictor and unknown detector fitted on calibration spectra of ``model``.

    Calibration spectra of minerals the model does not know are left out of both (they are
    what "unknown" means), and counted in the summary.

    Parameters
    ----------
    model : SpectralClassifier
        Fitted; the calibration spectra must not have been used to fit it.
    X : array_like, shape (n_spectra, n_points)
        Preprocessed calibration spectra on the model's axis.
    labels : array_like of str, shape (n_spectra,)
        Their mineral names.
    method : str, default='aps'
        Nonconformity score of the `ConformalPredictor`.
    false_unknown_rate : float, default=0.05
        Share of known-mineral spectra the `UnknownDetector` may call unknown.

    Returns
    -------
    conformal : ConformalPredictor
    unknown : UnknownDetector
    summary : dict
        Counts and settings, JSON-able.

    Raises
    ------
    InputError
        Too few calibration spectra of known minerals, or bad settings.
    """
    proba = model.predict_proba(X)
    scores = model.class_scores(X)
    y_index, known = labels_to_index(model.classes_, labels)
    conformal = ConformalPredictor(method=method).calibrate(proba[known], y_index)
    unknown = UnknownDetector(
        score=unknown_score_for(model), false_unknown_rate=false_unknown_rate
    ).fit(proba[known], scores[known], y_index)
    summary = {
        "n_calibration": int(known.sum()),
        "n_unseen_minerals_left_out": int((~known).sum()),
        "conformal_method": method,
        "unknown_score": unknown.score,
        "false_unknown_rate": false_unknown_rate,
    }
    return conformal, unknown, summary
