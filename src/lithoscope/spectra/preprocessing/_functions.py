"""Preprocessing algorithms as pure functions ``f(y, x=None, *, param=...)``.

Every function accepts one spectrum ``y`` of shape (n_points,) or many spectra of shape
(n_spectra, n_points) sharing the axis ``x`` of shape (n_points,), and returns a new float64 array
of the same number of dimensions. ``x=None`` means the point index ``0, 1, ..., n_points - 1``. The
caller's arrays are never written to.
"""

from __future__ import annotations

import functools
import inspect
import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from lithoscope.errors import InputError

__all__ = [
    "BASELINE_METHODS",
    "NORMALIZATIONS",
    "OUTSIDE_POLICIES",
    "SAVGOL_MODES",
    "baseline",
    "clip",
    "continuum",
    "crop",
    "despike",
    "find_spikes",
    "normalize",
    "remove_baseline",
    "remove_continuum",
    "savgol",
    "to_grid",
]


# --------------------------------------------------------------------------------------------
# shared validation
# --------------------------------------------------------------------------------------------


def _as_spectra(y: npt.ArrayLike, *, finite: bool = True) -> np.ndarray:
    """``y`` as float64 of shape (n_points,) or (n_spectra, n_points); may be a read-only view."""
    try:
        arr = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"y must be an array of numbers ({exc})") from None
    if arr.ndim not in (1, 2):
        raise InputError(
            f"y must be one spectrum (n_points,) or a stack (n_spectra, n_points), "
            f"got an array of shape {arr.shape}"
        )
    if arr.shape[-1] == 0:
        raise InputError("y has no points; a spectrum needs at least one point")
    if finite and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(np.atleast_2d(arr)))[0]
        where = f"spectrum {bad[0]} point {bad[1]}" if arr.ndim == 2 else f"point {bad[1]}"
        raise InputError(
            f"y contains NaN or infinity ({where}); resample with outside='zero' or "
            "'edge', or remove that point"
        )
    return arr


def _as_axis(x: npt.ArrayLike | None, n_points: int, *, name: str = "x") -> np.ndarray:
    """The validated axis of ``n_points`` points (index positions when ``x`` is None)."""
    if x is None:
        return np.arange(n_points, dtype=np.float64)
    try:
        axis = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be an array of numbers ({exc})") from None
    if axis.ndim != 1 or axis.size != n_points:
        raise InputError(
            f"{name} must be 1-D with one position per point ({n_points}), got shape {axis.shape}"
        )
    if not np.isfinite(axis).all():
        raise InputError(f"{name} contains NaN or infinity")
    if n_points > 1 and np.any(np.diff(axis) <= 0):
        bad = int(np.flatnonzero(np.diff(axis) <= 0)[0])
        raise InputError(
            f"{name} must be strictly increasing; position {bad + 1} ({axis[bad + 1]:g}) "
            f"follows {axis[bad]:g}; sort the spectrum first"
        )
    return axis


def _require_points(n_points: int, minimum: int, what: str) -> None:
    # "feature(s)" is the word scikit-learn uses for columns of X; both readers see the count.
    if n_points < minimum:
        raise InputError(
            f"{what} needs spectra of at least {minimum} points, got {n_points} feature(s) "
            "(points per spectrum)"
        )


def _check_choice(value: Any, choices: Mapping[str, Any] | tuple[str, ...], name: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise InputError(f"{name}={value!r} is not one of {', '.join(map(repr, choices))}")
    return value


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_real(value: Any, name: str, *, positive: bool = False, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{name} must be a number, got {value!r}")
    if not np.isfinite(value) or (positive and value <= 0):
        kind = "a positive finite number" if positive else "a finite number"
        raise InputError(f"{name} must be {kind}, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------------------------
# crop and grid
# --------------------------------------------------------------------------------------------


def _crop_mask(axis: np.ndarray, lower: float | None, upper: float | None) -> np.ndarray:
    lo = _check_real(lower, "lower", optional=True)
    hi = _check_real(upper, "upper", optional=True)
    if lo is not None and hi is not None and lo >= hi:
        raise InputError(f"crop: lower={lo:g} must be below upper={hi:g}")
    mask = np.ones(axis.size, dtype=bool)
    if lo is not None:
        mask &= axis >= lo
    if hi is not None:
        mask &= axis <= hi
    if not mask.any():
        raise InputError(
            f"crop: no point of the axis ({axis[0]:g}-{axis[-1]:g}) lies within "
            f"[{lower}, {upper}]; widen the range"
        )
    return mask


def crop(
    y: npt.ArrayLike,
    x: npt.ArrayLike | None = None,
    *,
    lower: float | None = None,
    upper: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the points whose position lies in ``[lower, upper]``.

    Parameters
    ----------
    y : array_like, shape (n_points,) or (n_spectra, n_points)
        Intensities.
    x : array_like, shape (n_points,), optional
        Strictly increasing axis; default: the point index.
    lower, upper : float, optional
        Inclusive limits in axis units; None keeps that side.

    Returns
    -------
    y_cropped : numpy.ndarray
        The kept intensities (a new array).
    x_cropped : numpy.ndarray
        The kept axis positions.

    Raises
    ------
    InputError
        ``lower >= upper``, or no point in the range.

    Examples
    --------
    >>> y, x = crop([1, 2, 3, 4], [100, 200, 300, 400], lower=150, upper=300)
    >>> y.tolist(), x.tolist()
    ([2.0, 3.0], [200.0, 300.0])
    """
    arr = _as_spectra(y, finite=False)
    axis = _as_axis(x, arr.shape[-1])
    mask = _crop_mask(axis, lower, upper)
    return arr[..., mask].copy(), axis[mask].copy()


OUTSIDE_POLICIES: tuple[str, ...] = ("nan", "zero", "edge", "error")

#: value np.interp gives grid points beyond the measured range, per policy (None: the edge value)
_FILL: dict[str, float | None] = {"nan": np.nan, "zero": 0.0, "edge": None, "error": None}


def _check_grid(grid: npt.ArrayLike | None, name: str = "grid") -> np.ndarray:
    if grid is None:
        raise InputError(f"{name} is required: the axis positions to resample onto")
    g = _as_axis(grid, np.size(grid), name=name)
    if g.size < 2:
        raise InputError(f"{name} must have at least 2 points, got {g.size}")
    return g


def _check_inside(axis: np.ndarray, grid: np.ndarray) -> None:
    """Raise `InputError` if ``grid`` reaches beyond ``axis`` (the 'error' policy)."""
    if grid[0] < axis[0] or grid[-1] > axis[-1]:
        raise InputError(
            f"grid {grid[0]:g}-{grid[-1]:g} extends beyond the measured range "
            f"{axis[0]:g}-{axis[-1]:g}; crop the grid or choose outside='nan', 'zero' or 'edge'"
        )


def _resample(
    rows: Iterable[np.ndarray],
    axes: Iterable[np.ndarray],
    grid: np.ndarray,
    outside: str,
    out: np.ndarray,
) -> np.ndarray:
    """Write each row, measured at its own axis, linearly interpolated onto ``grid`` into ``out``.

    The one resampler of lithoscope: `to_grid`, `ToGrid`, `Preprocessor`, `Spectrum.resample`
    and dataset building all end here, so a spectrum reaches a model as the same array in
    training and in the field. Inputs are validated by the callers (increasing axes of >= 2
    points, finite values, the 'error' policy already checked).
    """
    fill = _FILL[outside]
    for i, (row, axis) in enumerate(zip(rows, axes, strict=False)):
        # np.interp returns the measured value exactly at a measured position
        out[i] = np.interp(grid, axis, row, left=fill, right=fill)
    return out


def to_grid(
    y: npt.ArrayLike,
    x: npt.ArrayLike,
    *,
    grid: npt.ArrayLike,
    outside: str = "nan",
) -> np.ndarray:
    """Linear interpolation from the measured axis ``x`` onto ``grid``.

    This is the only resampler in lithoscope: `ToGrid`, `Preprocessor`, `Spectrum.resample`
    and dataset building all use it, so training and serving see the same numbers.

    Parameters
    ----------
    y : array_like, shape (n_points,) or (n_spectra, n_points)
        Intensities measured at ``x``.
    x : array_like, shape (n_points,)
        Strictly increasing measured axis.
    grid : array_like, shape (n_grid,)
        Strictly increasing target axis, same unit as ``x``.
    outside : {'nan', 'zero', 'edge', 'error'}, default='nan'
        Value at grid points outside the measured range ``[x[0], x[-1]]``: NaN (explicitly
        unknown), 0, the nearest measured value, or raise `InputError`.

    Returns
    -------
    numpy.ndarray, shape (n_grid,) or (n_spectra, n_grid)

    Raises
    ------
    InputError
        An invalid grid or policy, or ``outside='error'`` with the grid reaching beyond ``x``.

    Examples
    --------
    >>> to_grid([0.0, 10.0], [0.0, 10.0], grid=[-5.0, 5.0, 15.0], outside="edge").tolist()
    [0.0, 5.0, 10.0]
    >>> to_grid([0.0, 10.0], [0.0, 10.0], grid=[-5.0, 5.0], outside="nan").tolist()
    [nan, 5.0]
    """
    arr = _as_spectra(y)
    if x is None:
        raise InputError("to_grid needs the measured axis x")
    axis = _as_axis(x, arr.shape[-1])
    _require_points(axis.size, 2, "to_grid")
    g = _check_grid(grid)
    _check_choice(outside, OUTSIDE_POLICIES, "outside")
    if outside == "error":
        _check_inside(axis, g)
    rows = np.atleast_2d(arr)
    out = np.empty((rows.shape[0], g.size), dtype=np.float64)
    _resample(rows, itertools.repeat(axis), g, outside, out)
    return out if arr.ndim == 2 else out[0]


def _coverage(lower: np.ndarray, upper: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Share of ``grid`` within ``[lower[i], upper[i]]`` for each i, vectorised."""
    inside = np.searchsorted(grid, upper, side="right") - np.searchsorted(grid, lower, side="left")
    return np.maximum(inside, 0) / grid.size


# --------------------------------------------------------------------------------------------
# cosmic-ray spikes (Whitaker & Hayes 2018)
# --------------------------------------------------------------------------------------------


def _row_median(a: np.ndarray) -> np.ndarray:
    """``np.median(a, axis=-1, keepdims=True)`` of a 2-D array, bit for bit, about 4x faster.

    np.median partitions around both middle positions; one partition around the upper one and
    the maximum of the part below it give the same two values (and the same mean).
    """
    n = a.shape[-1]
    k = n // 2
    part = np.partition(a, k, axis=-1)
    upper = part[:, k : k + 1]
    if n % 2:
        return upper.copy()
    lower = np.max(part[:, :k], axis=-1, keepdims=True)
    lower += upper
    lower /= 2
    return lower


def _modified_z(d: np.ndarray) -> np.ndarray:
    """Modified z-scores (Iglewicz & Hoaglin) of each row of 2-D ``d``; ``d`` is overwritten."""
    d -= _row_median(d)
    dev = np.abs(d)
    mad = _row_median(dev)
    scale = mad / 0.6745
    flat = ~(mad > 0)[:, 0]
    if flat.any():
        # MAD is 0 when more than half the steps are equal (flat or saturated stretches); the
        # mean absolute deviation (scaled to match a normal sigma) then takes over.
        scale[flat] = 1.253314 * np.mean(dev[flat], axis=-1, keepdims=True)
    ok = scale > 0
    np.divide(d, scale, out=d, where=ok)
    if not ok.all():
        d[~ok[:, 0]] = 0.0
    return d


def _check_spike_params(threshold: float, max_width: int) -> tuple[float, int]:
    return _check_real(threshold, "threshold", positive=True), _check_int(max_width, "max_width", 1)


def _spike_points(
    rows: np.ndarray, threshold: float, max_width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row and column of every spike point of validated 2-D float64 ``rows``, and the mask.

    `find_spikes`, vectorised over the whole batch: only the few steep rises are visited, and
    every rule is checked at those positions for each spike width at once, so the cost is that
    of the z-scores.
    """
    n_points = rows.shape[1]
    mask = np.zeros(rows.shape, dtype=bool)
    n_steps = n_points - 1
    none = np.zeros(0, dtype=np.intp)
    if n_points < 3:
        return none, none, mask
    z = _modified_z(np.diff(rows, axis=1))
    up = z > threshold
    down = z < -threshold
    # a spike is entered by a steep rise that is not preceded by another steep rise
    first = up.copy()
    first[:, 1:] &= ~up[:, :-1]
    i, p = np.divmod(np.flatnonzero(first), n_steps)
    if i.size == 0:
        return none, none, mask
    # column k - 1: a spike of k points, left by the steep fall at step e = p + k
    e = p[:, None] + np.arange(1, max_width + 1)
    ok = e <= n_steps - 1
    np.minimum(e, n_steps - 1, out=e)
    r = i[:, None]
    ok &= down[r, e]
    # ... that is not followed by another steep fall
    ok &= ~((e + 1 < n_steps) & down[r, np.minimum(e + 1, n_steps - 1)])
    # ... and every spike point is higher than both neighbours of the spike
    inside_min = np.minimum.accumulate(rows[r, e], axis=1)
    ok &= inside_min > np.maximum(rows[i, p][:, None], rows[r, e + 1])
    width = np.where(ok.any(axis=1), ok.argmax(axis=1) + 1, 0)  # 0: no spike starts at p
    found = width > 0
    i, p, width = i[found], p[found], width[found]
    if i.size > 1:
        # a rise inside an accepted spike does not start another one (rows are in order)
        clash = (i[1:] == i[:-1]) & (p[1:] <= p[:-1] + width[:-1])
        if clash.any():
            keep = np.ones(i.size, dtype=bool)
            row, stop = -1, 0
            for j in range(i.size):
                if i[j] == row and p[j] < stop:
                    keep[j] = False
                    continue
                row, stop = i[j], p[j] + width[j] + 1
            i, p, width = i[keep], p[keep], width[keep]
    spike_rows, spike_cols = [], []
    for k in range(1, max_width + 1):
        sel = width >= k
        spike_rows.append(i[sel])
        spike_cols.append(p[sel] + k)
    i, j = np.concatenate(spike_rows), np.concatenate(spike_cols)
    mask[i, j] = True
    return i, j, mask


def _despike(rows: np.ndarray, threshold: float, window: int, max_width: int) -> np.ndarray:
    """`despike` of validated 2-D float64 ``rows``, written into ``rows`` itself (returned)."""
    i, j, mask = _spike_points(rows, threshold, max_width)
    if i.size:
        n_points = rows.shape[1]
        total = np.zeros(i.size)
        count = np.zeros(i.size)
        # neighbours in index order, so the sum is the one np.mean would form
        for offset in range(-window, window + 1):
            k = j + offset
            valid = (k >= 0) & (k < n_points)
            k = np.clip(k, 0, n_points - 1)
            clean = valid & ~mask[i, k]
            total += np.where(clean, rows[i, k], 0.0)
            count += clean
        rows[i, j] = total / count  # every replacement was computed from the input
    return rows


def find_spikes(
    y: npt.ArrayLike,
    x: npt.ArrayLike | None = None,
    *,
    threshold: float = 8.0,
    max_width: int = 3,
) -> np.ndarray:
    """Locate cosmic-ray spikes with the Whitaker-Hayes modified z-score.

    Following Whitaker & Hayes (2018, Chemometr. Intell. Lab. Syst. 179:82), the steps between
    neighbouring points, ``d[i] = y[i + 1] - y[i]``, get modified z-scores
    ``0.6745 (d - median(d)) / MAD(d)`` per spectrum, and steps with ``|z| > threshold`` are
    steep. The paper replaces every point next to a steep step; here a spike is located
    exactly: a run of 1 to ``max_width`` points entered by a steep rise that is not preceded by
    another steep rise, left by a steep fall that is not followed by another steep fall, and
    higher than both of its neighbours. The flanks of real bands are several steep steps long,
    so band tops are left alone unless a band is at most ``max_width`` points wide. Only
    positive spikes (cosmic rays add counts) are found.

    Parameters
    ----------
    y : array_like, shape (n_points,) or (n_spectra, n_points)
        Intensities.
    x : array_like, shape (n_points,), optional
        Not used (spikes are found by point index); accepted for a uniform signature.
    threshold : float, default=8.0
        Modified z-score above which a step is steep. Whitaker & Hayes tune it per data set;
        3.5 is Iglewicz and Hoaglin's outlier limit, larger values find fewer spikes.
    max_width : int, default=3
        Widest spike, in points.

    Returns
    -------
    numpy.ndarray of bool, same shape as ``y``
        True at spike points.

    Examples
    --------
    >>> y = [0.0, 0.1, -0.1, 0.05, 9.0, 0.0, -0.05, 0.1, 0.0, -0.1, 0.05]
    >>> find_spikes(y).nonzero()[0].tolist()
    [4]
    """
    arr = _as_spectra(y)
    threshold, max_width = _check_spike_params(threshold, max_width)
    mask = _spike_points(np.atleast_2d(arr), threshold, max_width)[2]
    return mask if arr.ndim == 2 else mask[0]


def _check_despike_params(threshold: float, window: int, max_width: int) -> tuple[float, int, int]:
    threshold, max_width = _check_spike_params(threshold, max_width)
    window = _check_int(window, "window", 1)
    if window < (max_width + 1) // 2:
        raise InputError(
            f"despike: window={window} cannot reach past a spike of max_width={max_width} "
            f"points; use window >= {(max_width + 1) // 2}"
        )
    return threshold, window, max_width


def despike(
    y: npt.ArrayLike,
    x: npt.ArrayLike | None = None,
    *,
    threshold: float = 8.0,
    window: int = 2,
    max_width: int = 3,
) -> np.ndarray:
    """Remove cosmic-ray spikes (Whitaker & Hayes 2018).

    Spikes are located by `find_spikes`; each spike point becomes the mean of the non-spike
    points within ``window`` points of it, as in the paper. All other points are returned
    unchanged.

    Parameters
    ----------
    y : array_like, shape (n_points,) or (n_spectra, n_points)
        Intensities.
    x : array_like, shape (n_points,), optional
        Not used; accepted for a uniform signature.
    threshold : float, default=8.0
        Modified z-score above which a step is steep (see `find_spikes`).
    window : int, default=2
        Half-width, in points, of the neighbourhood whose non-spike points replace a spike
        point; at least ``(max_width + 1) // 2`` so that every spike point has one.
    max_width : int, default=3
        Widest spike, in points.

    Returns
    -------
    numpy.ndarray, same shape as ``y``

    Raises
    ------
    InputError
        ``window`` too small for ``max_width``, or invalid parameters.

    Examples
    --------
    >>> y = [0.0, 0.1, -0.1, 0.05, 9.0, 0.0, -0.05, 0.1, 0.0, -0.1, 0.05]
    >>> despike(y, window=1, max_width=1)[3:6].tolist()
    [0.05, 0.025, 0.0]
    """
    arr = _as_spectra(y)
    threshold, window, max_width = _check_despike_params(threshold, window, max_width)
    out = _despike(np.atleast_2d(arr).copy(), threshold, window, max_width)
    return out if arr.ndim == 2 else out[0]


# --------------------------------------------------------------------------------------------
# baseline (pybaselines)
# --------------------------------------------------------------------------------------------

#: Baseline algorithms offered, by name, as methods of ``pybaselines.Baseline`` (the value is
#: the pybaselines family). Algorithms needing inputs other than one spectrum are left out.
BASELINE_METHODS: dict[str, str] = {
    **dict.fromkeys(
        (
            "asls",
            "iasls",
            "airpls",
            "arpls",
            "drpls",
            "iarpls",
            "aspls",
            "psalsa",
            "derpsalsa",
            "brpls",
            "lsrpls",
        ),
        "whittaker",
    ),
    **dict.fromkeys(
        ("poly", "modpoly", "imodpoly", "penalized_poly", "quant_reg", "goldindec", "loess"),
        "polynomial",
    ),
    **dict.fromkeys(
        ("mor", "imor", "mormol", "amormol", "rolling_ball", "mwmv", "tophat", "jbcd"),
        "morphological",
    ),
    **dict.fromkeys(
        ("mixture_model", "irsqr", "pspline_asls", "pspline_arpls", "pspline_airpls"),
        "spline",
    ),
    **dict.fromkeys(("snip", "noise_median", "swima", "ipsa", "ria"), "smooth"),
    **dict.fromkeys(
        ("dietrich", "golotvin", "std_distribution", "fastchrom", "fabc", "rubberband"),
        "classification",
    ),
    "beads": "misc",
}


def _baseline_class() -> Any:
    try:
        import pybaselines
    except ImportError:  # pragma: no cover - depends on the environment
        raise InputError(
            "baseline removal needs pybaselines; install it with "
            "`pip install 'lithoscope[spectra]'`"
        ) from None
    return pybaselines.Baseline


def _check_baseline_params(method: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    if not isinstance(method, str) or method not in BASELINE_METHODS:
        raise InputError(
            f"baseline method {method!r} is not one of {', '.join(sorted(BASELINE_METHODS))}"
        )
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InputError(f"params must be a dict of {method} parameters, got {params!r}")
    signature = inspect.signature(getattr(_baseline_class(), method))
    valid = [
        p.name
        for p in signature.parameters.values()
        if p.name not in ("self", "data") and p.kind is not p.VAR_KEYWORD
    ]
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise InputError(
            f"{', '.join(map(repr, unknown))} not a parameter of pybaselines {method}; "
            f"valid: {', '.join(valid)}"
        )
    return dict(params)


def baseline(
    y: npt.ArrayLike,
    x: npt.ArrayLike | None = None,
    *,
    method: str = "arpls",
    params: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """Estimate the baseline with a pybaselines algorithm.

    Each spectrum is passed to ``pybaselines.Baseline(x_data=x).<method>(y, **params)``.

    Parameters
    ----------
    y : array_like, shape (n_points,) or (n_spectra, n_points)
        Intensities.
    x : array_like, shape (n_points,), optional
        Strictly increasing axis, passed to pybaselines as ``x_data`` (used by the
        polynomial and spline algorithms).
    method : str, default='arpls'
        A name in `BASELINE_METHODS`, e.g. 'asls', 'arpls', 'airpls', 'snip', 'modpoly',
        'imodpoly', 'rubberband'.
    params : dict, optional
        Keyword arguments of that pybaselines method, e.g. ``{"lam": 1e5}`` for 'arpls',
        ``{"poly_order": 3}`` for 'modpoly' or ``{"max_half_window": 40}`` for 'snip';
        defaults are pybaselines'. Whittaker ``lam`` values depend on the number of points.

    Returns
    -------
    numpy.ndarray, same shape as ``y``
        The baseline.

    Raises
    ------
    InputError
        Unknown method (the message lists the valid ones) or parameter names.

    Examples
    --------
    >>> x = np.linspace(0, 10, 201)
    >>> y = 0.5 + 0.2 * x + np.exp(-((x - 5) ** 2) / 0.1)
    >>> b = baseline(y, x, method="modpoly", params={"poly_order": 1})
    >>> bool(np.allclose(b, 0.5 + 0.2 * x, atol=0.02))
    True
    """
    arr = _as_spectra(y)
    kwargs = _check_baseline_params(method, params)
    axis = None if x is None else _as_axis(x, arr.shape[-1])
    _require_points(arr.shape[-1], 3, f"baseline {method!r}")
    out = _baseline(np.atleast_2d(arr), axis, method, kwargs)
    return out if arr.ndim == 2 else out[0]


def _baseline(
    rows: np.ndarray, axis: np.ndarray | None, method: str, kwargs: Mapping[str, Any]
) -> np.ndarray:
    """`baseline` of validated 2-D float64 ``rows`` (a new array)."""
    half_window = kwargs.get("half_window")
    if method == "mor" and set(kwargs) == {"half_window"} and _is_count(half_window):
        return _mor(rows, int(half_window))
    fitter = _baseline_class()(x_data=axis)
    fit: Callable[..., tuple[np.ndarray, dict]] = getattr(fitter, method)
    out = np.empty(rows.shape, dtype=np.float64)
    for i, row in enumerate(rows):
        out[i] = fit(row.copy(), **kwargs)[0]
    return out


def _is_count(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1


def _mor(rows: np.ndarray, half_window: int) -> np.ndarray:
    """pybaselines ``mor`` (Perez-Pueyo et al. 2010) on every row at once.

    The same operations as pybaselines 1.2 (an opening, then the lower of it and the mean of its
    dilation and erosion, with scipy.ndimage's 'reflect' edges) as 1-D filters along the rows
    of the whole batch instead of one call per spectrum; min and max are exact, so the result
    is identical.
    """
    from scipy.ndimage import maximum_filter1d, minimum_filter1d

    size = 2 * half_window + 1
    opening = maximum_filter1d(minimum_filter1d(rows, size, axis=-1), size, axis=-1)
    average = maximum_filter1d(opening, size, axis=-1)
    average += minimum_filter1d(opening, size, axis=-1)
    average *= 0.5
    return np.minimum(opening, average, out=average)


def remove_baseline(
    y: npt.ArrayLike,
    x: npt.ArrayLike | None = None,
    *,
    method: str = "arpls",
    params: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """Subtract the baseline estimated by `baseline` (same parameters)."""
    arr = _as_spectra(y)
    return arr - baseline(arr, x, method=method, params=params)


# --------------------------------------------------------------------------------------------
# Savitzky-Golay
# --------------------------------------------------------------------------------------------

SAVGOL_MODES: tuple[str, ...] = ("interp", "mirror", "nearest", "constant", "wrap")


def _check_savgol_params(
    window_length: int, polyorder: int, deriv: int, mode: str, n_points: int
) -> None:
    window_length = _check_int(window_length, "window_length", 1)
    polyorder = _check_int(polyorder, "polyorder", 0)
    deriv = _check_int(deriv, "deriv", 0)
    _check_choice(mode, SAVGOL_MODES, "mode")
    if window_length % 2 == 0:
        raise InputError(
            f"window_length={window_length} must be odd so the window is centred; "
            f"use {window_length + 1}"
        )
    if polyorder >= window_length:
        raise InputError(
            f"polyorder={polyorder} must be below window_length={window_length}; lower the "
            "order or widen the window"
        )
    if deriv > polyorder:
        raise InputError(
            f"deriv={deriv} exceeds polyorder={polyorder}, which gives zeros; raise polyorder"
        )
    if mode == "interp":
        _require_points(n_points, window_length, f"Savitzky-Golay window_length={window_length}")


def savgol(
    y: npt.ArrayLike,
    x: npt.ArrayLike | None = None,
    *,
    window_length: int = 11,
    polyorder: int = 2,
    deriv: int = 0,
    mode: str = "interp",
) -> np.ndarray:
    """Savitzky-Golay smoothing or derivative (``scipy.signal.savgol_filter``).

    Parameters
    ----------
    y : array_like, shape (n_points,) or (n_spectra, n_points)
        Intensities.
    x : array_like, shape (n_points,), optional
        Evenly spaced axis; its step scales derivatives (``deriv > 0``) to axis units. Without
        it, derivatives are per point.
    window_length : int, default=11
        Odd window length in points.
    polyorder : int, default=2
        Order of the local polynomial, below ``window_length``.
    deriv : int, default=0
        Derivative order (0 smooths), at most ``polyorder``.
    mode : {'interp', 'mirror', 'nearest', 'constant', 'wrap'}, default='interp'
        Edge handling, as in scipy.

    Returns
    -------
    numpy.ndarray, same shape as ``y``

    Raises
    ------
    InputError
        Even window, ``polyorder >= window_length``, ``deriv > polyorder``, a window longer than
        the spectrum, or a derivative on an unevenly spaced axis.

    Examples
    --------
    >>> x = np.arange(0.0, 10.0, 0.5)
    >>> d = savgol(x**2, x, window_length=5, polyorder=2, deriv=1)
    >>> bool(np.allclose(d, 2 * x))
    True
    """
    arr = _as_spectra(y)
    _check_savgol_params(window_length, polyorder, deriv, mode, arr.shape[-1])
    delta = 1.0
    if x is not None and deriv > 0:
        delta = _even_step(_as_axis(x, arr.shape[-1]))
    out = _savgol(np.atleast_2d(arr), int(window_length), int(polyorder), int(deriv), delta, mode)
    return out if arr.ndim == 2 else out[0]


def _even_step(axis: np.ndarray) -> float:
    """The step of an evenly spaced axis (for derivatives in axis units)."""
    steps = np.diff(axis)
    if steps.size and not np.allclose(steps, steps[0], rtol=1e-6, atol=0):
        raise InputError(
            "Savitzky-Golay derivatives need an evenly spaced axis; resample onto a "
            "regular grid first"
        )
    return float(steps.mean()) if steps.size else 1.0


@functools.lru_cache(maxsize=64)
def _savgol_operator(
    window_length: int, polyorder: int, deriv: int, delta: float
) -> tuple[np.ndarray, np.ndarray]:
    """The convolution kernel of ``scipy.signal.savgol_filter`` and its 'interp' edge matrix.

    In 'interp' mode scipy fits one polynomial to the first (and one to the last)
    ``window_length`` points and evaluates it on the half-window at that edge. The fit is linear
    in those points, so filtering unit impulses gives the matrix: ``edges[j]`` is the output of
    an impulse at point ``j`` of a spectrum one window long.
    """
    from scipy.signal import savgol_coeffs, savgol_filter

    coeffs = savgol_coeffs(window_length, polyorder, deriv=deriv, delta=delta)
    eye = np.eye(window_length)
    edges = savgol_filter(eye, window_length, polyorder, deriv=deriv, delta=delta, mode="interp")
    coeffs.setflags(write=False)
    edges.setflags(write=False)
    return coeffs, edges


def _savgol(
    rows: np.ndarray, window_length: int, polyorder: int, deriv: int, delta: float, mode: str
) -> np.ndarray:
    """``scipy.signal.savgol_filter`` along validated 2-D float64 ``rows`` (a new array), with
    its coefficients and edge fits computed once per parameter set."""
    from scipy.ndimage import convolve1d

    coeffs, edges = _savgol_operator(window_length, polyorder, deriv, delta)
    if mode != "interp":
        return convolve1d(rows, coeffs, axis=-1, mode=mode)
    out = convolve1d(rows, coeffs, axis=-1, mode="constant")
    half = window_length // 2
    if half:
        out[:, :half] = rows[:, :window_length] @ edges[:, :half]
        out[:, -half:] = rows[:, -window_length:] @ edges[:, -half:]
    return out


# --------------------------------------------------------------------------------------------
# normalisation
# --------------------------------------------------------------------------------------------


def _norm_max(y: np.ndarray, axis: np.ndarray) -> tuple[Any, np.ndarray]:
    # max |y| without an |y| temporary
    top = np.max(y, axis=-1, keepdims=True)
    return 0.0, np.maximum(top, -np.min(y, axis=-1, keepdims=True), out=top)


def _norm_area(y: np.ndarray, axis: np.ndarray) -> tuple[Any, np.ndarray]:
    return 0.0, np.trapezoid(np.abs(y), axis, axis=-1)[..., np.newaxis]


def _norm_l2(y: np.ndarray, axis: np.ndarray) -> tuple[Any, np.ndarray]:
    return 0.0, np.linalg.norm(y, axis=-1, keepdims=True)


def _norm_snv(y: np.ndarray, axis: np.ndarray) -> tuple[Any, np.ndarray]:
    return np.mean(y, axis=-1, keepdims=True), np.std(y, axis=-1, ddof=1, keepdims=True)


def _norm_minmax(y: np.ndarray, axis: np.ndarray) -> tuple[Any, np.ndarray]:
    lo = np.min(y, axis=-1, keepdims=True)
    return lo, np.max(y, axis=-1, keepdims=True) - lo


#: name -> function returning (shift, scale); the result is ``(y - shift) / scale``.
NORMALIZATIONS: dict[str, Callable[[np.ndarray, np.ndarray], tuple[Any, np.ndarray]]] = {
    "max": _norm_max,
    "area": _norm_area,
    "l2": _norm_l2,
    "snv": _norm_snv,
    "minmax": _norm_minmax,
}


def _check_normalize_params(kind: str, n_points: int) -> None:
    _check_choice(kind, NORMALIZATIONS, "kind")
    _require_points(n_points, 2 if kind in ("snv", "area") else 1, f"normalisation {kind!r}")


def normalize(
    y: npt.ArrayLike,
    x: npt.ArrayLike | None = None,
    *,
    kind: str = "max",
) -> np.ndarray:
    """Scale each spectrum.

    Parameters
    ----------
    y : array_like, shape (n_points,) or (n_spectra, n_points)
        Intensities.
    x : array_like, shape (n_points,), optional
        Strictly increasing axis, used by 'area'; default: the point index.
    kind : {'max', 'area', 'l2', 'snv', 'minmax'}, default='max'
        'max': divide by the largest absolute value (a non-negative spectrum peaks at 1);
        'area': divide by the trapezoid integral of ``|y|`` over ``x`` (in axis units);
        'l2': divide by the Euclidean norm; 'snv': standard normal variate, subtract the
        mean and divide by the sample standard deviation (``ddof=1``, Barnes et al. 1989);
        'minmax': map the minimum to 0 and the maximum to 1.

    Returns
    -------
    numpy.ndarray, same shape as ``y``
        A spectrum whose scale is 0 (all zeros, or constant for 'snv' and 'minmax') becomes
        all zeros rather than NaN.

    Examples
    --------
    >>> normalize([1.0, 2.0, 4.0], kind="max").tolist()
    [0.25, 0.5, 1.0]
    >>> normalize([1.0, 2.0, 3.0], kind="snv").tolist()
    [-1.0, 0.0, 1.0]
    """
    arr = _as_spectra(y)
    _check_normalize_params(kind, arr.shape[-1])
    axis = _as_axis(x, arr.shape[-1])
    return _normalize(arr.copy(), axis, kind)


def _normalize(y: np.ndarray, axis: np.ndarray, kind: str) -> np.ndarray:
    """`normalize` of validated float64 ``y``, written into ``y`` itself (returned)."""
    shift, scale = NORMALIZATIONS[kind](y, axis)
    if np.ndim(shift):
        y -= shift
    ok = scale > 0
    np.divide(y, scale, out=y, where=ok)
    if not ok.all():
        y[~ok[..., 0]] = 0.0
    return y


# --------------------------------------------------------------------------------------------
# continuum (VNIR)
# --------------------------------------------------------------------------------------------


def _upper_hull(x: list[float], y: list[float]) -> list[int]:
    """Indices of the upper convex hull of points sorted by x (Andrew's monotone chain)."""
    hull: list[int] = []
    for i in range(len(x)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # b is dropped when it lies on or below the chord from a to i
            if (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a]) >= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    return hull


def continuum(y: npt.ArrayLike, x: npt.ArrayLike | None = None) -> np.ndarray:
    """Convex-hull continuum: the upper convex hull of each spectrum over ``x``.

    Parameters
    ----------
    y : array_like, shape (n_points,) or (n_spectra, n_points)
        Reflectance.
    x : array_like, shape (n_points,), optional
        Strictly increasing wavelength; default: the point index.

    Returns
    -------
    numpy.ndarray, same shape as ``y``
        The hull, piecewise linear between its vertices, evaluated at ``x``; it is never below
        ``y`` and touches it at the vertices.

    Examples
    --------
    >>> continuum([1.0, 0.5, 2.0, 1.0, 1.0], [0, 1, 2, 3, 4]).tolist()
    [1.0, 1.5, 2.0, 1.5, 1.0]
    """
    arr = _as_spectra(y)
    axis = _as_axis(x, arr.shape[-1])
    rows = np.atleast_2d(arr)
    out = np.empty(rows.shape, dtype=np.float64)
    xs = axis.tolist()
    for i, row in enumerate(rows):
        idx = _upper_hull(xs, row.tolist())
        out[i] = np.interp(axis, axis[idx], row[idx])
    return out if arr.ndim == 2 else out[0]


def remove_continuum(y: npt.ArrayLike, x: npt.ArrayLike | None = None) -> np.ndarray:
    """Continuum removal by division: ``y / continuum(y, x)`` (Clark & Roush 1984).

    Band depth at a point is ``1 - result``. The result lies in ``[0, 1]`` and equals 1 at the
    hull vertices; where the continuum is 0 the spectrum touches it and the result is 1.

    Parameters
    ----------
    y : array_like, shape (n_points,) or (n_spectra, n_points)
        Non-negative reflectance.
    x : array_like, shape (n_points,), optional
        Strictly increasing wavelength; default: the point index.

    Returns
    -------
    numpy.ndarray, same shape as ``y``

    Raises
    ------
    InputError
        Negative reflectance (e.g. a missing-value marker such as -1.23e34).

    Examples
    --------
    >>> remove_continuum([1.0, 0.5, 1.0], [0, 1, 2]).tolist()
    [1.0, 0.5, 1.0]
    """
    arr = _as_spectra(y)
    if np.any(arr < 0):
        bad = np.argwhere(np.atleast_2d(arr) < 0)[0]
        raise InputError(
            f"continuum removal needs non-negative reflectance; spectrum {bad[0]} point "
            f"{bad[1]} is {np.atleast_2d(arr)[tuple(bad)]:g}; mask missing values first"
        )
    hull = continuum(arr, x)
    ratio = np.divide(arr, hull, out=np.ones_like(hull), where=hull > 0)
    # y <= hull holds exactly; rounding in the interpolation can exceed 1 by an ulp
    return np.minimum(ratio, 1.0)


# --------------------------------------------------------------------------------------------
# clipping
# --------------------------------------------------------------------------------------------


def _check_clip_params(lower: float | None, upper: float | None) -> None:
    lo = _check_real(lower, "lower", optional=True)
    hi = _check_real(upper, "upper", optional=True)
    if lo is not None and hi is not None and lo > hi:
        raise InputError(f"clip: lower={lo:g} must not exceed upper={hi:g}")


def clip(
    y: npt.ArrayLike,
    x: npt.ArrayLike | None = None,
    *,
    lower: float | None = 0.0,
    upper: float | None = None,
) -> np.ndarray:
    """Limit intensities to ``[lower, upper]``; by default, set negative values to 0.

    Useful after baseline removal, where noise around zero goes negative.

    Parameters
    ----------
    y : array_like, shape (n_points,) or (n_spectra, n_points)
        Intensities; NaN stays NaN.
    x : array_like, shape (n_points,), optional
        Not used; accepted for a uniform signature.
    lower, upper : float or None, default=0.0 and None
        Limits; None leaves that side open.

    Returns
    -------
    numpy.ndarray, same shape as ``y``

    Examples
    --------
    >>> clip([-0.5, 0.2, 3.0]).tolist()
    [0.0, 0.2, 3.0]
    """
    arr = _as_spectra(y, finite=False)
    _check_clip_params(lower, upper)
    return np.clip(arr, lower, upper)
