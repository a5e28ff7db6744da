"""The `Spectrum` data model, `SpectralCollection` (many spectra on one axis) and `SpectralCube`.

The spectral axis always travels with the intensities (after RamanSPy's SpectralContainer). A
collection holds a single axis; code that receives data on another axis refuses it with a clear
message unless resampling is asked for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from lithoscope.errors import InputError
from lithoscope.methods import DEFAULT_UNIT, AxisUnit, Method, parse_enum

__all__ = ["OutsidePolicy", "SpectralCollection", "SpectralCube", "Spectrum", "check_same_axis"]

OutsidePolicy = Literal["nan", "zero", "edge", "error"]


def _as_method(value: Method | str) -> Method:
    return parse_enum(Method, value, "method")


def _as_unit(value: AxisUnit | str | None, method: Method) -> AxisUnit:
    if value is None:
        return DEFAULT_UNIT[method]
    return parse_enum(AxisUnit, value, "axis unit", lower=False)


def _readonly(a: npt.ArrayLike, name: str, where: str) -> np.ndarray:
    try:
        arr = np.array(a, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}: {name} must be numbers ({exc})") from None
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Spectrum:
    """One spectrum: axis, unit, intensities, method and metadata.

    Parameters
    ----------
    axis : array_like, shape (n,)
        Strictly increasing positions (Raman shift, wavenumber, wavelength or 2-theta).
    intensities : array_like, shape (n,)
        Finite intensities, one per axis point.
    method : {'raman', 'ir', 'libs', 'vnir', 'xrd'}
        How it was measured.
    unit : AxisUnit or str, optional
        Axis unit; default: the usual unit of ``method``.
    metadata : mapping, optional
        Free metadata; lithoscope uses the keys ``mineral``, ``sample_id``, ``laser_nm``,
        ``source``, ``file``, ``format`` and ``measured_chemistry``.

    Raises
    ------
    InputError
        Shapes differ, fewer than two points, non-finite values, or an axis that is not strictly
        increasing (readers sort a decreasing axis with a warning before building a Spectrum).

    Examples
    --------
    >>> s = Spectrum([100.0, 200.0, 300.0], [0.0, 1.0, 0.5], method="raman")
    >>> s.unit.value, s.n_points
    ('raman shift cm-1', 3)
    """

    axis: np.ndarray
    intensities: np.ndarray
    method: Method
    unit: AxisUnit = None  # type: ignore[assignment]
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        method = _as_method(self.method)
        where = str(self.metadata.get("file", "spectrum")) if self.metadata else "spectrum"
        axis = _readonly(self.axis, "axis", where)
        y = _readonly(self.intensities, "intensities", where)
        if axis.ndim != 1 or y.ndim != 1 or axis.shape != y.shape:
            raise InputError(
                f"{where}: axis and intensities must be 1-D of equal length, got shapes "
                f"{axis.shape} and {y.shape}"
            )
        if axis.size < 2:
            raise InputError(f"{where}: a spectrum needs at least 2 points, got {axis.size}")
        if not np.all(np.isfinite(axis)) or not np.all(np.isfinite(y)):
            bad = int(np.flatnonzero(~(np.isfinite(axis) & np.isfinite(y)))[0])
            raise InputError(f"{where}: point {bad} is NaN or infinite; remove or fix that point")
        steps = np.diff(axis)
        if np.any(steps <= 0):
            bad = int(np.flatnonzero(steps <= 0)[0])
            raise InputError(
                f"{where}: axis must be strictly increasing; point {bad + 1} "
                f"({axis[bad + 1]:g}) follows {axis[bad]:g}; sort it and merge duplicates"
            )
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "unit", _as_unit(self.unit, method))
        object.__setattr__(self, "axis", axis)
        object.__setattr__(self, "intensities", y)
        object.__setattr__(self, "metadata", dict(self.metadata))

    @property
    def n_points(self) -> int:
        return int(self.axis.size)

    @property
    def label(self) -> str | None:
        """The mineral name in the metadata, if any."""
        return self.metadata.get("mineral")

    def checksum(self) -> str:
        """sha256 of axis and intensities as little-endian float64 (the content identity)."""
        digest = hashlib.sha256()
        digest.update(self.axis.astype("<f8").tobytes())
        digest.update(self.intensities.astype("<f8").tobytes())
        return digest.hexdigest()

    def with_intensities(self, intensities: npt.ArrayLike, **metadata: Any) -> Spectrum:
        """A copy with new intensities on the same axis (and extra metadata)."""
        return replace(self, intensities=intensities, metadata={**self.metadata, **metadata})

    def resample(self, grid: npt.ArrayLike, *, outside: OutsidePolicy = "nan") -> Spectrum:
        """This spectrum linearly interpolated onto ``grid``.

        Uses `lithoscope.spectra.preprocessing.to_grid`, the resampler of every pipeline, so
        the numbers are those a model sees.

        Parameters
        ----------
        grid : array_like, shape (m,)
            Strictly increasing target axis, in this spectrum's unit.
        outside : {'nan', 'zero', 'edge', 'error'}, default='nan'
            Grid points beyond the measured range: 'nan' refuses them (a Spectrum holds no
            NaN), 'zero' and 'edge' fill them, 'error' refuses them.

        Returns
        -------
        Spectrum
            On ``grid``, with the same method, unit and metadata.

        Raises
        ------
        InputError
            An invalid grid, or a grid beyond the measured range with 'nan' or 'error'.

        Examples
        --------
        >>> s = Spectrum([0.0, 10.0], [0.0, 1.0], method="raman")
        >>> s.resample([0.0, 5.0, 20.0], outside="zero").intensities.tolist()
        [0.0, 0.5, 0.0]
        """
        from lithoscope.spectra.preprocessing import to_grid  # preprocessing imports this module

        try:
            y = to_grid(self.intensities, self.axis, grid=grid, outside=outside)
        except InputError as exc:
            raise InputError(f"{self._where()}: {exc}") from None
        grid_arr = np.asarray(grid, dtype=np.float64)
        if outside == "nan" and np.isnan(y).any():
            raise InputError(
                f"{self._where()}: grid {grid_arr[0]:g}-{grid_arr[-1]:g} extends beyond the "
                f"measured range {self.axis[0]:g}-{self.axis[-1]:g}; a Spectrum cannot hold "
                "NaN, so pass outside='zero' or 'edge', or crop the grid"
            )
        return replace(self, axis=grid_arr, intensities=y)

    def _where(self) -> str:
        return str(self.metadata.get("file", "spectrum"))

    def __repr__(self) -> str:
        label = f" {self.label!r}" if self.label else ""
        return (
            f"<Spectrum{label} {self.method.value} {self.n_points} points "
            f"{self.axis[0]:g}-{self.axis[-1]:g} {self.unit.value}>"
        )


def check_same_axis(
    expected: npt.ArrayLike,
    got: npt.ArrayLike,
    *,
    what: str = "data",
    rtol: float = 1e-9,
) -> None:
    """Raise `InputError` unless ``got`` is the same axis as ``expected``."""
    e = np.asarray(expected, dtype=np.float64)
    g = np.asarray(got, dtype=np.float64)
    if e.shape != g.shape or not np.allclose(e, g, rtol=rtol, atol=0):
        raise InputError(
            f"{what} is on another axis ({g.size} points {g.min():g}-{g.max():g}) than the one "
            f"expected ({e.size} points {e.min():g}-{e.max():g}); resample it first "
            "(e.g. resample=True) or use a model trained on this axis"
        )


@dataclass(frozen=True, eq=False)
class SpectralCollection:
    """Many spectra of one method on one shared axis, as a 2-D array for models.

    Parameters
    ----------
    axis : array_like, shape (n_points,)
    X : array_like, shape (n_spectra, n_points)
    method, unit : as for `Spectrum`
    metadata : sequence of mappings, one per spectrum
    """

    axis: np.ndarray
    X: np.ndarray
    method: Method
    unit: AxisUnit = None  # type: ignore[assignment]
    metadata: Sequence[Mapping[str, Any]] = ()

    def __post_init__(self) -> None:
        method = _as_method(self.method)
        axis = _readonly(self.axis, "axis", "collection")
        X = np.array(self.X, dtype=np.float64, copy=True)
        if X.ndim != 2 or X.shape[1] != axis.size:
            raise InputError(
                f"collection: X must have shape (n_spectra, {axis.size}), got {X.shape}"
            )
        if np.any(np.diff(axis) <= 0):
            raise InputError("collection: axis must be strictly increasing")
        metadata = [dict(m) for m in self.metadata] or [{} for _ in range(X.shape[0])]
        if len(metadata) != X.shape[0]:
            raise InputError(
                f"collection: {len(metadata)} metadata entries for {X.shape[0]} spectra"
            )
        X.setflags(write=False)
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "unit", _as_unit(self.unit, method))
        object.__setattr__(self, "axis", axis)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "metadata", tuple(metadata))

    @classmethod
    def from_spectra(
        cls,
        spectra: Iterable[Spectrum],
        grid: npt.ArrayLike | None = None,
        *,
        outside: OutsidePolicy = "zero",
    ) -> SpectralCollection:
        """Put spectra of one method and unit on ``grid`` (default: the first one's axis)."""
        items = list(spectra)
        if not items:
            raise InputError("no spectra given; a collection needs at least one")
        method, unit = items[0].method, items[0].unit
        for s in items[1:]:
            if s.method != method or s.unit != unit:
                raise InputError(
                    f"{s.metadata.get('file', 'spectrum')}: {s.method.value} / {s.unit.value} "
                    f"cannot join a collection of {method.value} / {unit.value}"
                )
        from lithoscope.spectra.preprocessing import to_grid  # preprocessing imports this module

        g = items[0].axis if grid is None else np.asarray(grid, dtype=np.float64)
        X = np.vstack([to_grid(s.intensities, s.axis, grid=g, outside=outside) for s in items])
        return cls(g, X, method, unit, [s.metadata for s in items])

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def __getitem__(self, i: int) -> Spectrum:
        return Spectrum(self.axis, self.X[i], self.method, self.unit, self.metadata[i])

    @property
    def labels(self) -> list[str | None]:
        return [m.get("mineral") for m in self.metadata]

    @property
    def groups(self) -> list[str | None]:
        """Sample ids (RRUFF ids), the grouping key of every split."""
        return [m.get("sample_id") for m in self.metadata]


@dataclass(frozen=True, eq=False)
class SpectralCube:
    """A spectral map: one spectrum at each node of a regular grid of stage positions.

    Parameters
    ----------
    axis : array_like, shape (n_channels,)
        Strictly increasing spectral axis shared by every spectrum.
    intensities : array_like, shape (n_rows, n_cols, n_channels)
        Finite intensities; ``intensities[row, col]`` is the spectrum measured at
        ``(x[col], y[row])``.
    x : array_like, shape (n_cols,)
        Stage x position of each column.
    y : array_like, shape (n_rows,)
        Stage y position of each row.
    method, unit : as for `Spectrum`
    position_unit : str, default='µm'
        Unit of ``x`` and ``y``.
    metadata : mapping, optional
        Metadata of the whole map (file, format, title, instrument, laser_nm ...).

    Raises
    ------
    InputError
        Shapes disagree, non-finite values, or an axis that is not strictly increasing.

    Examples
    --------
    >>> cube = SpectralCube([100.0, 200.0], np.zeros((2, 3, 2)), [0.0, 1.0, 2.0], [0.0, 5.0],
    ...                     method="raman")
    >>> cube.shape, cube.spectrum(1, 2).metadata["map_x"]
    ((2, 3, 2), 2.0)
    """

    axis: np.ndarray
    intensities: np.ndarray
    x: np.ndarray
    y: np.ndarray
    method: Method
    unit: AxisUnit = None  # type: ignore[assignment]
    position_unit: str = "µm"
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        method = _as_method(self.method)
        where = str(self.metadata.get("file", "cube")) if self.metadata else "cube"
        axis = _readonly(self.axis, "axis", where)
        cube = _readonly(self.intensities, "intensities", where)
        x = _readonly(self.x, "x positions", where)
        y = _readonly(self.y, "y positions", where)
        if axis.ndim != 1 or axis.size < 2:
            raise InputError(f"{where}: the axis must be 1-D with at least 2 points")
        if cube.ndim != 3 or cube.shape != (y.size, x.size, axis.size):
            raise InputError(
                f"{where}: intensities must have shape (len(y), len(x), len(axis)) = "
                f"({y.size}, {x.size}, {axis.size}), got {cube.shape}"
            )
        if np.any(np.diff(axis) <= 0):
            raise InputError(f"{where}: axis must be strictly increasing")
        for name, arr in (("axis", axis), ("intensities", cube), ("x", x), ("y", y)):
            if not np.all(np.isfinite(arr)):
                raise InputError(f"{where}: {name} holds NaN or infinite values")
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "unit", _as_unit(self.unit, method))
        object.__setattr__(self, "axis", axis)
        object.__setattr__(self, "intensities", cube)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "metadata", dict(self.metadata))

    @property
    def shape(self) -> tuple[int, int, int]:
        """(n_rows, n_cols, n_channels)."""
        return tuple(int(n) for n in self.intensities.shape)  # type: ignore[return-value]

    def spectrum(self, row: int, col: int) -> Spectrum:
        """The spectrum at ``(row, col)``, its position in ``map_row/map_col/map_x/map_y``."""
        n_rows, n_cols, _ = self.shape
        if not (0 <= row < n_rows and 0 <= col < n_cols):
            raise InputError(f"map position ({row}, {col}) is outside the {n_rows} x {n_cols} map")
        meta = {
            **self.metadata,
            "map_row": int(row),
            "map_col": int(col),
            "map_x": float(self.x[col]),
            "map_y": float(self.y[row]),
            "position_unit": self.position_unit,
        }
        return Spectrum(self.axis, self.intensities[row, col], self.method, self.unit, meta)

    def to_collection(self) -> SpectralCollection:
        """All spectra, row by row, as a `SpectralCollection` (positions in the metadata)."""
        n_rows, n_cols, _ = self.shape
        spectra = [self.spectrum(r, c) for r in range(n_rows) for c in range(n_cols)]
        return SpectralCollection(
            self.axis,
            self.intensities.reshape(n_rows * n_cols, -1),
            self.method,
            self.unit,
            [s.metadata for s in spectra],
        )

    def __repr__(self) -> str:
        n_rows, n_cols, n = self.shape
        return (
            f"<SpectralCube {self.method.value} {n_rows} x {n_cols} spectra of {n} points "
            f"{self.axis[0]:g}-{self.axis[-1]:g} {self.unit.value}>"
        )
