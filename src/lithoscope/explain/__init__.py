"""Why the model answered what it did: attributions and peak matching.

`explain_identification` returns the ``"explanation"`` object of an identification::

    "explanation": {
      "target": "Forsterite",                     # the class the attribution explains
      "top_regions": [[from, to, weight], ...],   # axis units; weights sum to 1, strongest first
      "peaks": [                                  # the sample's peaks, by position
        {"position": 824.3, "intensity": 0.93,    # intensity relative to the strongest peak
         "matches": {"Forsterite": 823.9, "Calcite": null}}, ...],
      "candidates": [                             # one per candidate, in the order given
        {"mineral": "Forsterite", "matched": 7, "n_reference_bands": 8,
         "unmatched_reference_bands": [{"position": 965.1, "intensity": 0.12}],
         "match_fraction": 0.97}, ...],          # intensity-weighted share of bands found
      "unmatched_strong_peaks": [{"position": 1086.0, "intensity": 0.41}],
      "attribution": [...]                        # only with include_attribution=True
    }

The attribution is `occlusion` (any model); `integrated_gradients` serves differentiable Keras
models. Reference bands come from MinDB through `BandCache`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from lithoscope.explain.attribution import (
    BASELINES,
    _occlusion,
    integrated_gradients,
    keras_class_probability,
    occlusion,
    occlusion_windows,
    shade_attribution,
    top_regions,
)
from lithoscope.explain.peaks import (
    BandCache,
    find_peaks,
    mineral_spectra,
    peak_table,
    reference_bands,
)
from lithoscope.spectra.spectrum import check_same_axis

__all__ = [
    "BASELINES",
    "BandCache",
    "explain_identification",
    "find_peaks",
    "integrated_gradients",
    "keras_class_probability",
    "mineral_spectra",
    "occlusion",
    "occlusion_windows",
    "peak_table",
    "reference_bands",
    "shade_attribution",
    "top_regions",
]


def explain_identification(
    model: Any,
    x: npt.ArrayLike,
    axis: npt.ArrayLike,
    candidates: Sequence[str],
    bands_for: Callable[[str], list[dict[str, Any]]],
    *,
    target: str | None = None,
    include_attribution: bool = False,
    window: int = 20,
    stride: int | None = None,
    baseline: str = "zero",
    n_regions: int = 5,
    prominence: float = 0.03,
    max_peaks: int | None = 40,
    tolerance: float = 8.0,
    strong: float = 0.2,
) -> dict[str, Any]:
    """The ``"explanation"`` of one identification (see the module docstring for its shape).

    Parameters
    ----------
    model : SpectralClassifier
        The fitted model that identified ``x``.
    x : array_like, shape (n_points,)
        The preprocessed spectrum the model saw.
    axis : array_like, shape (n_points,)
        Its axis; must be ``model.axis_``.
    candidates : sequence of str
        Minerals to match peaks against, best first (the identification's candidates).
    bands_for : callable
        ``mineral -> bands`` (`reference_bands` output), e.g. ``BandCache.for_method``.
    target : str, optional
        Class to attribute; default ``candidates[0]`` (the model's top class without
        candidates).
    include_attribution : bool, default=False
        Add the per-point attribution as a list (large: one number per axis point).
    window, stride, baseline
        Of `occlusion`.
    n_regions : int, default=5
        Of `top_regions`.
    prominence, max_peaks
        Of `find_peaks`.
    tolerance, strong
        Of `peak_table`.

    Returns
    -------
    dict
        JSON-ready: ``target``, ``top_regions``, ``peaks``, ``candidates``,
        ``unmatched_strong_peaks`` and, when asked, ``attribution``.

    Raises
    ------
    InputError
        ``axis`` is not the model's; as `occlusion`, `find_peaks` and `peak_table`.
    """
    ax = np.asarray(axis, dtype=np.float64)
    check_same_axis(model.axis_, ax, what="the spectrum to explain")
    if target is None and len(candidates) > 0:
        target = str(candidates[0])
    attribution, t = _occlusion(model, x, target, window, stride, baseline)
    peaks = find_peaks(np.ravel(x), ax, prominence=prominence, max_peaks=max_peaks)
    table = peak_table(
        peaks, {str(m): bands_for(str(m)) for m in candidates}, tolerance=tolerance, strong=strong
    )
    out: dict[str, Any] = {
        "target": str(model.classes_[t]),
        "top_regions": top_regions(attribution, ax, n=n_regions),
        **table,
    }
    if include_attribution:
        out["attribution"] = attribution.tolist()
    return out
