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

from lithoscope.errors import InputError
from lithoscope.explain.attribution import (
    BASELINES,
    _check_spectrum,
    integrated_gradients,
    keras_class_probability,
    occlusion,
    occlusion_batch,
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
    "explain_batch",
    "explain_identification",
    "find_peaks",
    "integrated_gradients",
    "keras_class_probability",
    "mineral_spectra",
    "occlusion",
    "occlusion_batch",
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
    out = explain_batch(
        model,
        _check_spectrum(model, x)[None, :],
        axis,
        [candidates],
        bands_for,
        targets=[target],
        include_attribution=include_attribution,
        window=window,
        stride=stride,
        baseline=baseline,
        n_regions=n_regions,
        prominence=prominence,
        max_peaks=max_peaks,
        tolerance=tolerance,
        strong=strong,
    )[0]
    if include_attribution:
        out["attribution"] = out["attribution"].tolist()
    return out


def explain_batch(
    model: Any,
    X: npt.ArrayLike,
    axis: npt.ArrayLike,
    candidates: Sequence[Sequence[str]],
    bands_for: Callable[[str], list[dict[str, Any]]],
    *,
    targets: Sequence[str | None] | None = None,
    include_attribution: bool = False,
    window: int = 20,
    stride: int | None = None,
    baseline: str = "zero",
    n_regions: int = 5,
    prominence: float = 0.03,
    max_peaks: int | None = 40,
    tolerance: float = 8.0,
    strong: float = 0.2,
) -> list[dict[str, Any]]:
    """`explain_identification` of many spectra; the occlusions share model calls.

    ``X`` is (n_spectra, n_points); ``candidates`` and ``targets`` hold one entry per
    spectrum; the other parameters are those of `explain_identification`. ``include_attribution``
    keeps the per-point attribution as a NumPy array under ``"attribution"``.
    """
    ax = np.asarray(axis, dtype=np.float64)
    check_same_axis(model.axis_, ax, what="the spectrum to explain")
    arr = np.asarray(X, dtype=np.float64)
    if len(candidates) != len(arr):
        raise InputError(f"candidates: one list per spectrum ({len(arr)}), got {len(candidates)}")
    targets = [None] * len(arr) if targets is None else list(targets)
    targets = [
        str(c[0]) if t is None and len(c) > 0 else t
        for t, c in zip(targets, candidates, strict=True)
    ]
    attributions, t_index = occlusion_batch(
        model, arr, targets, window=window, stride=stride, baseline=baseline
    )
    out = []
    for x, cands, attribution, t in zip(arr, candidates, attributions, t_index, strict=True):
        peaks = find_peaks(x, ax, prominence=prominence, max_peaks=max_peaks)
        table = peak_table(
            peaks, {str(m): bands_for(str(m)) for m in cands}, tolerance=tolerance, strong=strong
        )
        one: dict[str, Any] = {
            "target": str(model.classes_[t]),
            "top_regions": top_regions(attribution, ax, n=n_regions),
            **table,
        }
        if include_attribution:
            one["attribution"] = attribution
        out.append(one)
    return out
