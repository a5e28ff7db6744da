"""`Preprocessor`: a preprocessing pipeline compiled into one pass over a batch of raw spectra.

A scikit-learn `Pipeline` validates its input at every step (``validate_data``, NaN checks, the
parameters again), which costs more than the maths for one spectrum. `Preprocessor` checks the
parameters once, when it is built, and then runs the same private kernels of `_functions` as the
transformers (so the numbers are the pipeline's) over the whole batch: one resampling call per
spectrum into one preallocated array, then each step on the 2-D array, in place where the
maths allows. Pipelines holding a step it does not know run through ``pipeline.transform``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from lithoscope.errors import InputError
from lithoscope.methods import AxisUnit, Method
from lithoscope.spectra.preprocessing import _functions as F
from lithoscope.spectra.preprocessing._transformers import (
    BaselineRemoval,
    Clip,
    ContinuumRemoval,
    Crop,
    Despike,
    Normalize,
    SavitzkyGolay,
    ToGrid,
    _ArrayStep,
    _name,
)
from lithoscope.spectra.spectrum import SpectralCollection, Spectrum

__all__ = ["Preprocessor"]

_Kernel = Callable[[np.ndarray], np.ndarray]

#: rows per block in `Preprocessor.transform` (64 spectra of ~2,000 points: ~1 MB per array)
_BLOCK = 64


def _despike(step: Despike, axis: np.ndarray) -> _Kernel:
    threshold, window, max_width = F._check_despike_params(
        step.threshold, step.window, step.max_width
    )
    return lambda X: F._despike(X, threshold, window, max_width)


def _savgol(step: SavitzkyGolay, axis: np.ndarray) -> _Kernel:
    given = step._axis(axis.size)
    delta = F._even_step(given) if given is not None and step.deriv > 0 else 1.0
    args = (int(step.window_length), int(step.polyorder), int(step.deriv), delta, step.mode)
    return lambda X: F._savgol(X, *args)


def _baseline(step: BaselineRemoval, axis: np.ndarray) -> _Kernel:
    given = step._axis(axis.size)
    kwargs = F._check_baseline_params(step.method, step.params)
    method = step.method

    def remove(X: np.ndarray) -> np.ndarray:
        X -= F._baseline(X, given, method, kwargs)
        return X

    return remove


def _clip(step: Clip, axis: np.ndarray) -> _Kernel:
    lower, upper = step.lower, step.upper
    return lambda X: np.clip(X, lower, upper, out=X)


def _normalize(step: Normalize, axis: np.ndarray) -> _Kernel:
    given = F._as_axis(step._axis(axis.size), axis.size)
    kind = step.kind
    return lambda X: F._normalize(X, given, kind)


def _continuum(step: ContinuumRemoval, axis: np.ndarray) -> _Kernel:
    given = step._axis(axis.size)
    return lambda X: F.remove_continuum(X, given)


def _crop(step: Crop, axis: np.ndarray) -> _Kernel:
    keep = np.flatnonzero(step._mask(axis.size))
    lo, hi = int(keep[0]), int(keep[-1]) + 1  # an increasing axis keeps one block
    return lambda X: X[:, lo:hi]


#: step class -> builder of its kernel (parameters checked once, at build time)
_KERNELS: dict[type[_ArrayStep], Callable[[Any, np.ndarray], _Kernel]] = {
    Despike: _despike,
    SavitzkyGolay: _savgol,
    BaselineRemoval: _baseline,
    Clip: _clip,
    Normalize: _normalize,
    ContinuumRemoval: _continuum,
    Crop: _crop,
}


class Preprocessor:
    """A preprocessing pipeline run as one vectorised pass over a batch of raw spectra.

    Build it with `from_pipeline`; ``transform(spectra)`` gives the same array as
    ``pipeline.transform(spectra)`` (same kernels, same order of operations) without
    scikit-learn's per-step validation, and ``coverage(spectra)`` tells how much of the grid
    each spectrum actually measured.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A preprocessing pipeline whose first step is `ToGrid` (`make_preset`,
        `build_pipeline`, `pipeline_from_dict`). It is not modified.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
        The pipeline given.
    grid : numpy.ndarray, shape (n_grid,)
        The grid `ToGrid` resamples onto (read-only).
    axis : numpy.ndarray, shape (n_features,)
        The axis of the output columns (the grid, unless a `Crop` step shortens it).
    compiled : bool
        False when a step is unknown to the fast path (or NaN must reach a step that refuses
        it): then ``transform`` calls ``pipeline.transform``, which is correct but slower.

    Raises
    ------
    InputError
        The pipeline does not start with `ToGrid`, or a step has invalid parameters.

    Examples
    --------
    >>> from lithoscope.spectra.preprocessing import make_preset
    >>> x = np.arange(90.0, 1500.0, 0.7)
    >>> s = Spectrum(x, 10 + 100 * np.exp(-(((x - 464) / 4) ** 2)), method="raman")
    >>> pre = Preprocessor.from_pipeline(make_preset("raman"))
    >>> X = pre.transform([s])
    >>> X.shape, bool(np.allclose(X, make_preset("raman").transform([s]), rtol=0, atol=1e-12))
    ((1, 1301), True)
    >>> short = Spectrum([100.0, 200.0], [1.0, 2.0], method="raman")
    >>> pre.coverage([s, short]).round(3).tolist()
    [1.0, 0.078]
    """

    def __init__(self, pipeline: Pipeline) -> None:
        steps = getattr(pipeline, "steps", None)
        if not steps or not isinstance(steps[0][1], ToGrid):
            raise InputError(
                f"Preprocessor needs a preprocessing Pipeline starting with ToGrid, got "
                f"{type(pipeline).__name__}; build it with make_preset or pipeline_from_dict"
            )
        self.pipeline = pipeline
        self._to_grid: ToGrid = steps[0][1]
        grid, self._outside = self._to_grid._check_params()
        method, unit = self._to_grid.method, self._to_grid.unit
        self._method = None if method is None else Method(method)
        self._unit = None if unit is None else AxisUnit(unit)
        grid = grid.copy()
        grid.setflags(write=False)
        self.grid = grid
        self._kernels: list[_Kernel] = []
        self.compiled = True
        axis: np.ndarray | None = grid
        for _, step in steps[1:]:
            build = _KERNELS.get(type(step))
            if build is None:  # not ours: the axis and parameters are the step's business
                self.compiled, axis = False, None
                break
            step._check(axis.size)  # the parameters, once
            if self._outside == "nan" and not step._allow_nan:
                self.compiled = False  # the pipeline refuses the NaN, with its message
            if self.compiled:
                self._kernels.append(build(step, axis))
            axis = step.transform_axis(axis)
        if not self.compiled:
            self._kernels = []
        self.axis = self._output_axis(steps) if axis is None else np.asarray(axis, np.float64)

    @classmethod
    def from_pipeline(cls, pipeline: Pipeline) -> Preprocessor:
        """The fast path of ``pipeline`` (see the class)."""
        return cls(pipeline)

    def transform(self, spectra: Spectrum | Sequence[Spectrum] | SpectralCollection) -> np.ndarray:
        """The preprocessed spectra, one row each, on `axis`.

        Parameters
        ----------
        spectra : Spectrum, sequence of Spectrum, or SpectralCollection
            Raw spectra, each on its own axis, of the pipeline's method and unit.

        Returns
        -------
        numpy.ndarray, shape (n_spectra, n_features)
            A new float64 array; equal to ``pipeline.transform(spectra)``.

        Raises
        ------
        InputError
            Not spectra, another method or unit, or (``outside='error'``) a spectrum that does
            not cover the grid; the message names the spectrum.
        """
        data = self._spectra(spectra)
        if not self.compiled:
            return np.asarray(self.pipeline.transform(data), dtype=np.float64)
        rows, axes = _rows_and_axes(data)
        if self._outside == "error":
            for i, axis in enumerate(axes):
                try:
                    F._check_inside(axis, self.grid)
                except InputError as exc:
                    raise InputError(f"{_label(data, i)}: {exc}") from None
        n = len(data)
        out = np.empty((n, self.axis.size), dtype=np.float64)
        # Blocks of rows keep every temporary small enough to stay in cache and be reused by
        # the allocator instead of fresh pages for each step of a large batch.
        block = np.empty((min(n, _BLOCK), self.grid.size), dtype=np.float64)
        for start in range(0, n, _BLOCK):
            stop = min(start + _BLOCK, n)
            X = block[: stop - start]
            F._resample(rows[start:stop], axes[start:stop], self.grid, self._outside, X)
            for kernel in self._kernels:
                X = kernel(X)
            out[start:stop] = X
        return out

    def coverage(self, spectra: Spectrum | Sequence[Spectrum] | SpectralCollection) -> np.ndarray:
        """The fraction of the grid's points inside each spectrum's measured range.

        Grid points beyond a spectrum's first and last axis position are not measured but
        filled by the ``outside`` policy of `ToGrid`; callers warn, or call the result
        unknown, when too little of the grid is covered.

        Parameters
        ----------
        spectra : Spectrum, sequence of Spectrum, or SpectralCollection

        Returns
        -------
        numpy.ndarray, shape (n_spectra,)
            Between 0 (no grid point within the measured range) and 1 (every grid point).
        """
        data = self._spectra(spectra)
        if isinstance(data, SpectralCollection):
            lower = np.full(len(data), data.axis[0])
            upper = np.full(len(data), data.axis[-1])
        else:
            lower = np.fromiter((s.axis[0] for s in data), np.float64, len(data))
            upper = np.fromiter((s.axis[-1] for s in data), np.float64, len(data))
        return F._coverage(lower, upper, self.grid)

    def _spectra(self, spectra: Any) -> SpectralCollection | list[Spectrum]:
        """``spectra`` checked as `ToGrid` checks them (its messages), quickly when valid."""
        if isinstance(spectra, Spectrum):
            spectra = [spectra]
        if (
            isinstance(spectra, (list, tuple))
            and spectra
            and all(
                isinstance(s, Spectrum)
                and (self._method is None or s.method is self._method)
                and (self._unit is None or s.unit is self._unit)
                for s in spectra
            )
        ):
            return list(spectra)
        return self._to_grid._collection_or_list(spectra)

    def _output_axis(self, steps: list[tuple[str, Any]]) -> np.ndarray:
        axis = self.grid
        for _, step in steps[1:]:
            transform_axis = getattr(step, "transform_axis", None)
            if transform_axis is None:
                return np.arange(np.size(axis), dtype=np.float64)
            axis = transform_axis(axis)
        return axis

    def __repr__(self) -> str:
        names = [name for name, _ in self.pipeline.steps]
        path = "compiled" if self.compiled else "pipeline.transform"
        return f"Preprocessor({' > '.join(names)}; {self.grid.size} grid points; {path})"


def _rows_and_axes(data: SpectralCollection | list[Spectrum]) -> tuple[Any, Any]:
    if isinstance(data, SpectralCollection):
        return data.X, [data.axis] * len(data)
    return [s.intensities for s in data], [s.axis for s in data]


def _label(data: SpectralCollection | list[Spectrum], i: int) -> str:
    if isinstance(data, SpectralCollection):
        return str(data.metadata[i].get("file", f"spectrum {i}"))
    return _name(data[i], i)
