"""scikit-learn transformers over the preprocessing functions, and the pipeline builder.

Design: the first step, `ToGrid`, takes spectra with their axes (a `SpectralCollection`, a list of
`Spectrum` or one `Spectrum`) and returns the 2-D array ``X`` (n_spectra, n_grid) on its grid.
Every later step takes and returns plain 2-D arrays; those that need positions (crop, baseline,
Savitzky-Golay derivatives, area normalisation, continuum) receive the axis of their input columns
as the ``axis`` constructor parameter. `build_pipeline` sets ``axis`` on each step from the grid
(and from `Crop`, which shortens it), so parameters stay plain constructor arguments that
``get_params``, ``set_params``, ``clone`` and JSON persistence handle.

The transformers learn nothing from data: ``fit`` validates parameters and records
``n_features_in_``, and ``transform`` also works on an unfitted (e.g. just loaded) step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_non_negative, validate_data

from lithoscope.errors import InputError
from lithoscope.methods import AxisUnit, Method
from lithoscope.spectra.preprocessing import _functions as F
from lithoscope.spectra.preprocessing._docs import transformer_doc
from lithoscope.spectra.spectrum import SpectralCollection, Spectrum

__all__ = [
    "BaselineRemoval",
    "Clip",
    "ContinuumRemoval",
    "Crop",
    "Despike",
    "Normalize",
    "SavitzkyGolay",
    "ToGrid",
    "build_pipeline",
]


class _ArrayStep(TransformerMixin, BaseEstimator):
    """Shared plumbing of the steps that take 2-D arrays."""

    _allow_nan = False

    def fit(self, X: npt.ArrayLike, y: Any = None) -> _ArrayStep:
        """Validate the parameters against ``X``; learns nothing from its values.

        Parameters
        ----------
        X : array_like, shape (n_spectra, n_points)
        y : ignored

        Returns
        -------
        self
        """
        X = self._validate(X, reset=True)
        self._check(X.shape[1])
        return self

    def transform(self, X: npt.ArrayLike) -> np.ndarray:
        """Apply the step to every spectrum (row) of ``X``; returns a new float64 array.

        Parameters
        ----------
        X : array_like, shape (n_spectra, n_points)

        Returns
        -------
        numpy.ndarray, shape (n_spectra, n_points_out)
        """
        X = self._validate(X, reset=False)
        self._check(X.shape[1])
        return self._apply(X)

    def transform_axis(self, axis: npt.ArrayLike) -> np.ndarray:
        """The axis of the output columns, given the axis of the input columns."""
        return np.asarray(axis, dtype=np.float64)

    def _validate(self, X: npt.ArrayLike, *, reset: bool) -> np.ndarray:
        X = validate_data(self, X, reset=reset, dtype=np.float64, ensure_all_finite="allow-nan")
        if not self._allow_nan and np.isnan(X).any():
            i, j = np.argwhere(np.isnan(X))[0]
            raise InputError(
                f"{type(self).__name__}: X contains NaN (spectrum {i}, point {j}), e.g. from "
                "ToGrid(outside='nan') beyond a spectrum's measured range; use outside='zero' "
                "or 'edge', or crop the grid"
            )
        return X

    def _axis(self, n_points: int) -> np.ndarray | None:
        """The validated ``axis`` parameter (None: column index)."""
        axis = getattr(self, "axis", None)
        if axis is None:
            return None
        if np.ndim(axis) != 1 or np.size(axis) != n_points:
            raise InputError(
                f"{type(self).__name__}: axis has {np.size(axis)} positions but X has "
                f"{n_points} feature(s) (points per spectrum); build the pipeline with "
                "build_pipeline or make_preset, or pass the axis of X's columns"
            )
        return F._as_axis(axis, n_points, name="axis")

    def _check(self, n_points: int) -> None:
        self._axis(n_points)

    def _apply(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.allow_nan = self._allow_nan
        return tags


class Crop(_ArrayStep):
    __doc__ = transformer_doc(F.crop, "Keep the columns within axis limits.", axis=True)

    _allow_nan = True

    def __init__(
        self,
        *,
        axis: npt.ArrayLike | None = None,
        lower: float | None = None,
        upper: float | None = None,
    ) -> None:
        self.axis = axis
        self.lower = lower
        self.upper = upper

    def _mask(self, n_points: int) -> np.ndarray:
        axis = self._axis(n_points)
        return F._crop_mask(F._as_axis(axis, n_points), self.lower, self.upper)

    def _check(self, n_points: int) -> None:
        self._mask(n_points)

    def _apply(self, X: np.ndarray) -> np.ndarray:
        return X[:, self._mask(X.shape[1])]

    def transform_axis(self, axis: npt.ArrayLike) -> np.ndarray:
        axis = np.asarray(axis, dtype=np.float64)
        return axis[F._crop_mask(axis, self.lower, self.upper)]


class Despike(_ArrayStep):
    __doc__ = transformer_doc(
        F.despike, "Remove cosmic-ray spikes (Whitaker & Hayes 2018).", axis=False
    )

    def __init__(self, *, threshold: float = 8.0, window: int = 2, max_width: int = 3) -> None:
        self.threshold = threshold
        self.window = window
        self.max_width = max_width

    def _check(self, n_points: int) -> None:
        F._check_despike_params(self.threshold, self.window, self.max_width)

    def _apply(self, X: np.ndarray) -> np.ndarray:
        return F.despike(X, threshold=self.threshold, window=self.window, max_width=self.max_width)


class BaselineRemoval(_ArrayStep):
    __doc__ = transformer_doc(
        F.baseline,
        "Subtract a baseline estimated with pybaselines.",
        axis=True,
        applies=F.remove_baseline,
    )

    def __init__(
        self,
        *,
        axis: npt.ArrayLike | None = None,
        method: str = "arpls",
        params: dict[str, Any] | None = None,
    ) -> None:
        self.axis = axis
        self.method = method
        self.params = params

    def _check(self, n_points: int) -> None:
        super()._check(n_points)
        F._check_baseline_params(self.method, self.params)
        F._require_points(n_points, 3, f"baseline {self.method!r}")

    def _apply(self, X: np.ndarray) -> np.ndarray:
        return F.remove_baseline(X, self._axis(X.shape[1]), method=self.method, params=self.params)


class SavitzkyGolay(_ArrayStep):
    __doc__ = transformer_doc(F.savgol, "Savitzky-Golay smoothing or derivative.", axis=True)

    def __init__(
        self,
        *,
        axis: npt.ArrayLike | None = None,
        window_length: int = 11,
        polyorder: int = 2,
        deriv: int = 0,
        mode: str = "interp",
    ) -> None:
        self.axis = axis
        self.window_length = window_length
        self.polyorder = polyorder
        self.deriv = deriv
        self.mode = mode

    def _check(self, n_points: int) -> None:
        super()._check(n_points)
        F._check_savgol_params(self.window_length, self.polyorder, self.deriv, self.mode, n_points)

    def _apply(self, X: np.ndarray) -> np.ndarray:
        return F.savgol(
            X,
            self._axis(X.shape[1]),
            window_length=self.window_length,
            polyorder=self.polyorder,
            deriv=self.deriv,
            mode=self.mode,
        )


class Normalize(_ArrayStep):
    __doc__ = transformer_doc(F.normalize, "Scale each spectrum.", axis=True)

    def __init__(self, *, axis: npt.ArrayLike | None = None, kind: str = "max") -> None:
        self.axis = axis
        self.kind = kind

    def _check(self, n_points: int) -> None:
        super()._check(n_points)
        F._check_normalize_params(self.kind, n_points)

    def _apply(self, X: np.ndarray) -> np.ndarray:
        return F.normalize(X, self._axis(X.shape[1]), kind=self.kind)


class ContinuumRemoval(_ArrayStep):
    __doc__ = transformer_doc(
        F.remove_continuum, "Divide each reflectance spectrum by its convex hull.", axis=True
    )

    def __init__(self, *, axis: npt.ArrayLike | None = None) -> None:
        self.axis = axis

    def _validate(self, X: npt.ArrayLike, *, reset: bool) -> np.ndarray:
        X = super()._validate(X, reset=reset)
        check_non_negative(X, type(self).__name__)
        return X

    def _check(self, n_points: int) -> None:
        super()._check(n_points)
        F._require_points(n_points, 2, "continuum removal")

    def _apply(self, X: np.ndarray) -> np.ndarray:
        return F.remove_continuum(X, self._axis(X.shape[1]))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags


class Clip(_ArrayStep):
    __doc__ = transformer_doc(F.clip, "Limit intensities; by default, zero negatives.", axis=False)

    _allow_nan = True

    def __init__(self, *, lower: float | None = 0.0, upper: float | None = None) -> None:
        self.lower = lower
        self.upper = upper

    def _check(self, n_points: int) -> None:
        F._check_clip_params(self.lower, self.upper)

    def _apply(self, X: np.ndarray) -> np.ndarray:
        return F.clip(X, lower=self.lower, upper=self.upper)


# --------------------------------------------------------------------------------------------
# spectra -> 2-D array
# --------------------------------------------------------------------------------------------


class ToGrid(TransformerMixin, BaseEstimator):
    """Put spectra with their own axes onto one grid: the first step of every pipeline.

    Parameters
    ----------
    grid : array_like, shape (n_grid,)
        Strictly increasing target axis, in the unit of the spectra.
    outside : {'nan', 'zero', 'edge', 'error'}, default='nan'
        Value at grid points outside a spectrum's measured range (see `to_grid`). Later steps
        other than `Crop` and `Clip` refuse NaN, so pipelines with them use 'zero' or 'edge'.
    method : {'raman', 'ir', 'libs', 'vnir', 'xrd'}, optional
        If given, spectra of another method are refused.
    unit : str, optional
        If given (an `AxisUnit` value such as 'raman shift cm-1'), spectra whose axis is in
        another unit are refused.

    Notes
    -----
    ``fit`` and ``transform`` take a `SpectralCollection`, a sequence of `Spectrum` or one
    `Spectrum` (a 2-D array has no axis, so it is refused) and ``transform`` returns a new
    float64 array of shape (n_spectra, n_grid).

    Examples
    --------
    >>> s = Spectrum([100.0, 200.0, 300.0], [0.0, 2.0, 4.0], method="raman")
    >>> ToGrid([150.0, 250.0, 350.0], outside="zero").fit_transform([s]).tolist()
    [[1.0, 3.0, 0.0]]
    """

    def __init__(
        self,
        grid: npt.ArrayLike | None = None,
        *,
        outside: str = "nan",
        method: str | None = None,
        unit: str | None = None,
    ) -> None:
        self.grid = grid
        self.outside = outside
        self.method = method
        self.unit = unit

    def fit(self, X: Any, y: Any = None) -> ToGrid:
        """Validate the parameters and that ``X`` holds spectra of the expected kind."""
        self._check_params()
        self._collection_or_list(X)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """The spectra of ``X`` on the grid, shape (n_spectra, n_grid)."""
        grid, outside = self._check_params()
        data = self._collection_or_list(X)
        if isinstance(data, SpectralCollection):
            return F.to_grid(data.X, data.axis, grid=grid, outside=outside)
        if outside == "error":
            for i, s in enumerate(data):
                try:
                    F._check_inside(s.axis, grid)
                except InputError as exc:
                    raise InputError(f"{_name(s, i)}: {exc}") from None
        # a Spectrum is already valid (>= 2 finite points, increasing axis)
        out = np.empty((len(data), grid.size), dtype=np.float64)
        return F._resample(
            [s.intensities for s in data], [s.axis for s in data], grid, outside, out
        )

    def transform_axis(self, axis: Any = None) -> np.ndarray:
        """The output axis: the grid."""
        return self._check_params()[0]

    def _check_params(self) -> tuple[np.ndarray, str]:
        grid = F._check_grid(self.grid)
        outside = F._check_choice(self.outside, F.OUTSIDE_POLICIES, "outside")
        if self.method is not None:
            _enum(Method, self.method, "method")
        if self.unit is not None:
            _enum(AxisUnit, self.unit, "unit")
        return grid, outside

    def _collection_or_list(self, X: Any) -> SpectralCollection | list[Spectrum]:
        if isinstance(X, SpectralCollection):
            self._check_kind(X.method, X.unit, "the collection")
            return X
        if isinstance(X, Spectrum):
            X = [X]
        if isinstance(X, np.ndarray) or not isinstance(X, Iterable):
            raise InputError(
                f"ToGrid needs spectra with their axis (a SpectralCollection, a list of "
                f"Spectrum or a Spectrum), got {type(X).__name__}; wrap arrays as "
                "SpectralCollection(axis, X, method)"
            )
        items = list(X)
        if not items:
            raise InputError("ToGrid got no spectra; pass at least one")
        for i, s in enumerate(items):
            if not isinstance(s, Spectrum):
                raise InputError(
                    f"ToGrid: item {i} is a {type(s).__name__}, not a Spectrum; read files "
                    "with lithoscope.spectra.io.read_spectrum"
                )
            self._check_kind(s.method, s.unit, _name(s, i))
        return items

    def _check_kind(self, method: Method, unit: AxisUnit, what: str) -> None:
        if self.method is not None and method != _enum(Method, self.method, "method"):
            raise InputError(
                f"{what} is a {method.value} spectrum but this pipeline is for "
                f"{_enum(Method, self.method, 'method').value}; use that method's pipeline"
            )
        if self.unit is not None and unit != _enum(AxisUnit, self.unit, "unit"):
            raise InputError(
                f"{what} has its axis in {unit.value} but this pipeline expects "
                f"{_enum(AxisUnit, self.unit, 'unit').value}; convert the axis first"
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        return tags


def _enum(cls: type, value: Any, name: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        raise InputError(
            f"{name}={value!r} is not one of {', '.join(repr(v.value) for v in cls)}"
        ) from None


def _name(s: Spectrum, i: int) -> str:
    return str(s.metadata.get("file", f"spectrum {i}"))


def build_pipeline(
    grid: npt.ArrayLike,
    steps: Sequence[tuple[str, BaseEstimator]],
    *,
    outside: str = "nan",
    method: str | None = None,
    unit: str | None = None,
) -> Pipeline:
    """A `Pipeline` of `ToGrid` followed by ``steps``, each given the axis of its input.

    Parameters
    ----------
    grid : array_like, shape (n_grid,)
        The grid that `ToGrid` resamples onto.
    steps : sequence of (name, transformer)
        Array steps, in order. They are cloned (the caller's objects are not changed); each
        one with an ``axis`` parameter gets the axis of its input columns.
    outside, method, unit
        Passed to `ToGrid`.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``[("to_grid", ToGrid(...)), *steps]``.

    Examples
    --------
    >>> pipe = build_pipeline([1.0, 2.0, 3.0], [("norm", Normalize(kind="area"))])
    >>> pipe.named_steps["norm"].axis.tolist()
    [1.0, 2.0, 3.0]
    """
    first = ToGrid(np.asarray(grid, dtype=np.float64), outside=outside, method=method, unit=unit)
    axis = first.transform_axis()
    built: list[tuple[str, BaseEstimator]] = [("to_grid", first)]
    for name, step in steps:
        if not isinstance(step, _ArrayStep):
            raise InputError(
                f"step {name!r} is a {type(step).__name__}; build_pipeline takes lithoscope "
                "preprocessing steps (append models to the returned Pipeline)"
            )
        step = clone(step)
        if "axis" in step.get_params(deep=False):
            step.set_params(axis=axis)
        axis = step.transform_axis(axis)
        built.append((name, step))
    return Pipeline(built)
