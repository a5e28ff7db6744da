"""Spectral preprocessing: pure functions, scikit-learn transformers, JSON pipelines, presets.

The same pipeline object runs in training and in the field, and is saved as JSON next to every
model (`save_pipeline`; its `pipeline_hash` names it).

Functions (``f(y, x=None, *, param=...)``, 1-D or 2-D ``y``, new float64 output):
`crop`, `to_grid`, `find_spikes`, `despike`, `baseline`, `remove_baseline`, `savgol`,
`normalize`, `continuum`, `remove_continuum`, `clip`.

Transformers: `ToGrid` (spectra -> 2-D array on a grid, always first), then array steps `Crop`,
`Despike`, `BaselineRemoval`, `SavitzkyGolay`, `Normalize`, `ContinuumRemoval`, `Clip`;
`build_pipeline` chains them and hands each its input axis.

Fast path: `Preprocessor.from_pipeline(pipeline)` runs a pipeline over a batch of raw spectra in
one vectorised pass (same numbers as ``pipeline.transform``) and reports each spectrum's
``coverage`` of the grid. `to_grid` is the only resampler: the transformers, the fast path,
`Spectrum.resample` and dataset building all use it.

Presets: `PRESETS` and `make_preset` ('raman', 'ir', 'vnir', 'libs', 'xrd').

Examples
--------
>>> import numpy as np
>>> from lithoscope.spectra.spectrum import Spectrum
>>> x = np.arange(100.0, 1500.0, 0.5)
>>> s = Spectrum(x, 10 + np.exp(-((x - 464) / 4) ** 2) * 100, method="raman")
>>> X = make_preset("raman").fit_transform([s])
>>> X.shape, float(X.max())
((1, 1301), 1.0)
"""

from lithoscope.spectra.preprocessing._fast import Preprocessor
from lithoscope.spectra.preprocessing._functions import (
    BASELINE_METHODS,
    NORMALIZATIONS,
    OUTSIDE_POLICIES,
    SAVGOL_MODES,
    baseline,
    clip,
    continuum,
    crop,
    despike,
    find_spikes,
    normalize,
    remove_baseline,
    remove_continuum,
    savgol,
    to_grid,
)
from lithoscope.spectra.preprocessing._persistence import (
    FORMAT,
    FORMAT_VERSION,
    STEP_CLASSES,
    load_pipeline,
    pipeline_from_dict,
    pipeline_hash,
    pipeline_to_dict,
    save_pipeline,
)
from lithoscope.spectra.preprocessing._presets import PRESETS, Preset, make_preset, regular_grid
from lithoscope.spectra.preprocessing._transformers import (
    BaselineRemoval,
    Clip,
    ContinuumRemoval,
    Crop,
    Despike,
    Normalize,
    SavitzkyGolay,
    ToGrid,
    build_pipeline,
)

__all__ = [
    "BASELINE_METHODS",
    "FORMAT",
    "FORMAT_VERSION",
    "NORMALIZATIONS",
    "OUTSIDE_POLICIES",
    "PRESETS",
    "SAVGOL_MODES",
    "STEP_CLASSES",
    "BaselineRemoval",
    "Clip",
    "ContinuumRemoval",
    "Crop",
    "Despike",
    "Normalize",
    "Preprocessor",
    "Preset",
    "SavitzkyGolay",
    "ToGrid",
    "baseline",
    "build_pipeline",
    "clip",
    "continuum",
    "crop",
    "despike",
    "find_spikes",
    "load_pipeline",
    "make_preset",
    "normalize",
    "pipeline_from_dict",
    "pipeline_hash",
    "pipeline_to_dict",
    "regular_grid",
    "remove_baseline",
    "remove_continuum",
    "save_pipeline",
    "savgol",
    "to_grid",
]
