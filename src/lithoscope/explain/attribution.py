"""Which spectral regions drove an identification.

* `occlusion` works for every `SpectralClassifier`: slide a window over the spectrum, replace
  what it covers by a baseline, and see how much the probability of the identified mineral
  drops. All occluded copies go to the model in one ``predict_proba`` call.
* `integrated_gradients` (Sundararajan et al. 2017) is exact up to a Riemann sum for
  differentiable Keras models on the JAX backend: the attributions add up to
  ``f(x) - f(baseline)``.
* `top_regions` condenses an attribution into the few contiguous regions worth showing, and
  `shade_attribution` shades them on a matplotlib axes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.utils.validation import check_is_fitted

from lithoscope.errors import InputError

__all__ = [
    "BASELINES",
    "integrated_gradients",
    "keras_class_probability",
    "occlusion",
    "occlusion_batch",
    "occlusion_windows",
    "shade_attribution",
    "top_regions",
]


def _zero(x: np.ndarray, start: int, stop: int) -> np.ndarray:
    return np.zeros(stop - start)


def _mean(x: np.ndarray, start: int, stop: int) -> np.ndarray:
    return np.full(stop - start, x.mean())


def _local(x: np.ndarray, start: int, stop: int) -> np.ndarray:
    # the straight line between the points just outside the window: the band goes, the
    # background under it stays, so the occluded spectrum still looks like a spectrum
    left = x[start - 1] if start > 0 else x[start]
    right = x[stop] if stop < x.size else x[stop - 1]
    t = (np.arange(start, stop) - (start - 1)) / (stop - start + 1)
    return left + (right - left) * t


#: baseline name -> ``f(x, start, stop)``: the values that replace ``x[start:stop]``
BASELINES: dict[str, Callable[[np.ndarray, int, int], np.ndarray]] = {
    "zero": _zero,
    "mean": _mean,
    "local": _local,
}


def occlusion_windows(n: int, window: int, stride: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of the occluding windows over ``n`` points.

    Windows start every ``stride`` points; a last window ending at ``n`` is added when the
    stride does not reach the end, so every point is covered.

    Examples
    --------
    >>> occlusion_windows(10, 4, 3)
    [(0, 4), (3, 7), (6, 10)]
    >>> occlusion_windows(11, 4, 3)
    [(0, 4), (3, 7), (6, 10), (7, 11)]
    """
    if window < 1 or window > n:
        raise InputError(f"window must be between 1 and the spectrum's {n} points, got {window}")
    if stride < 1:
        raise InputError(f"stride must be at least 1 point, got {stride}")
    starts = list(range(0, n - window + 1, stride))
    if starts[-1] + window < n:
        starts.append(n - window)
    return [(s, s + window) for s in starts]


def _target_index(model: Any, target: Any, proba: np.ndarray) -> int:
    if target is None:
        return int(np.argmax(proba))
    classes = [str(c) for c in model.classes_]
    if isinstance(target, str):
        if target not in classes:
            raise InputError(
                f"target {target!r} is not a class of the model; it knows {len(classes)} "
                f"minerals such as {', '.join(classes[:5])}"
            )
        return classes.index(target)
    if isinstance(target, int | np.integer) and 0 <= int(target) < len(classes):
        return int(target)
    raise InputError(
        f"target must be a mineral name or a class index below {len(classes)}, got {target!r}"
    )


def _check_spectrum(model: Any, x: npt.ArrayLike) -> np.ndarray:
    check_is_fitted(model, "classes_")
    arr = np.asarray(x, dtype=np.float64)
    n = np.asarray(model.axis_).size
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.shape != (n,):
        raise InputError(
            f"x must be one preprocessed spectrum on the model's axis ({n} points), got shape "
            f"{arr.shape}; preprocess it with the model's pipeline"
        )
    if not np.all(np.isfinite(arr)):
        raise InputError("x has NaN or infinite values; preprocess it with the model's pipeline")
    return arr


def _segment_dots(
    R: np.ndarray, v: np.ndarray, segments: list[tuple[int, int, np.ndarray]], chunk: int = 128
) -> np.ndarray:
    """``R @ v`` (row 0) and ``R @ v_k`` for ``v`` with each segment changed (rows 1...).

    ``segments`` holds ``(lo, hi, delta)``: ``v_k = v`` plus ``delta`` on ``lo:hi``. ``R`` is
    read once, chunk by chunk of columns, each chunk multiplied by the few segments touching
    it in one matrix product: memory traffic, not arithmetic, bounds this on small machines.
    """
    n = v.size
    lows = np.array([seg[0] for seg in segments])
    highs = np.array([seg[1] for seg in segments])
    dot = np.zeros((len(segments) + 1, R.shape[0]), dtype=np.float32)
    for c0 in range(0, n, chunk):
        c1 = min(c0 + chunk, n)
        touching = np.flatnonzero((lows < c1) & (highs > c0))
        D = np.zeros((touching.size + 1, c1 - c0), dtype=np.float32)
        D[0] = v[c0:c1]
        for row, k in enumerate(touching, start=1):
            lo, hi, delta = segments[k]
            a, b = max(lo, c0), min(hi, c1)
            D[row, a - c0 : b - c0] = delta[a - lo : b - lo]
        part = D @ R[:, c0:c1].T
        dot[0] += part[0]
        dot[touching + 1] += part[1:]
    dot[1:] += dot[0]
    return dot


def _fast_params(model: Any) -> dict[str, Any] | None:
    """The correlation-feature settings of a model whose scores the shortcut reproduces.

    A model opts in with a ``feature_params()`` method (as `LibrarySearch` has) returning the
    keyword arguments of `lithoscope.models.scoring.correlation_features` that made its
    ``references_``; its class scores must be ``class_max(features @ references_.T)`` and its
    probabilities ``softmax(scores, temperature_)``. Settings the shortcut does not handle
    (pooling, ``np.diff`` derivatives, clipped powers) take the generic path.
    """
    method = getattr(model, "feature_params", None)
    if not callable(method):
        return None
    params = dict(method())
    if (
        params.get("pool", 1) != 1
        or params.get("derivative", "gradient") != "gradient"
        or not params.get("signed", True)
    ):
        return None
    return params


def _library_search_proba(
    model: Any, x: np.ndarray, windows: list[tuple[int, int]], fills: list[np.ndarray]
) -> np.ndarray:
    """``predict_proba`` of ``x`` and its occluded copies for a correlation search, exactly.

    The dense batch costs (windows x points x references) multiply-adds; here each window
    changes only its own points, so its similarity to every reference is the unoccluded dot
    product plus a correction over those points, and its norm is updated from running sums.
    The references are centred for Pearson, so the query's mean drops out of the dot product.
    Same maths as `correlation_features` followed by `class_max` and `softmax`; the tests
    compare the two.
    """
    # many small products on several BLAS threads cost more in waking and waiting than they
    # save: 81 ms against 12 ms on one thread (2-core machine, 4,100 references)
    with _blas_controller().limit(limits=1, user_api="blas"):
        return _library_search_proba_serial(model, x, windows, fills)


@functools.cache
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController  # a dependency of scikit-learn

    return ThreadpoolController()


def _library_search_proba_serial(
    model: Any, x: np.ndarray, windows: list[tuple[int, int]], fills: list[np.ndarray]
) -> np.ndarray:
    from lithoscope.models.scoring import class_max, class_starts, power_transform, softmax

    params = _fast_params(model) or {}
    power = float(params.get("power", 0.5))
    dw = float(params.get("derivative_weight", 0.0))
    pearson = params.get("metric", "pearson") == "pearson"
    refs = model.references_
    n = x.size
    A = power_transform(x, power)
    a_segments = [
        (s, e, power_transform(f, power)) for (s, e), f in zip(windows, fills, strict=True)
    ]
    parts = [(1.0 - dw, A, a_segments)]
    if dw > 0:
        g_segments = []
        for s, e, a_new in a_segments:
            # np.gradient changes one point beyond each side of the window; compute it on the
            # window plus two neighbours each side so those points are interior as globally
            lo, hi = max(s - 1, 0), min(e + 1, n)
            ext_lo, ext_hi = max(lo - 1, 0), min(hi + 1, n)
            local = A[ext_lo:ext_hi].copy()
            local[s - ext_lo : e - ext_lo] = a_new
            g_segments.append((lo, hi, np.gradient(local)[lo - ext_lo : hi - ext_lo]))
        parts.append((dw, np.gradient(A), g_segments))

    S = np.zeros((len(windows) + 1, refs.shape[0]), dtype=np.float32)
    offset = 0
    for weight, v, segments in parts:
        if weight <= 0:
            continue
        deltas = [(lo, hi, new - v[lo:hi]) for lo, hi, new in segments]
        dot = _segment_dots(refs[:, offset : offset + n], v, deltas)
        offset += n
        total = np.r_[0.0, [d.sum() for _, _, d in deltas]] + v.sum()
        squares = np.r_[
            0.0, [np.dot(new, new) - np.dot(v[lo:hi], v[lo:hi]) for lo, hi, new in segments]
        ] + np.dot(v, v)
        norm2 = squares - total**2 / n if pearson else squares
        # `_features` divides a zero vector by 1: its similarities are 0, not 0 / 0
        tiny = norm2 <= 1e-20 * max(1.0, float(squares[0]))
        scale = np.where(tiny, 0.0, np.sqrt(weight) / np.sqrt(np.where(tiny, 1.0, norm2)))
        S += scale.astype(np.float32)[:, None] * dot
    starts = class_starts(model.reference_labels_)
    return softmax(class_max(S, starts).astype(np.float64), model.temperature_)


def occlusion(
    model: Any,
    x: npt.ArrayLike,
    *,
    target: str | int | None = None,
    window: int = 20,
    stride: int | None = None,
    baseline: str = "zero",
    fast: bool = True,
) -> np.ndarray:
    """Occlusion attribution of one spectrum: how much each region supports the target class.

    Each window of ``window`` points (every ``stride`` points, see `occlusion_windows`) is
    replaced by the baseline; the drop of the target's probability is spread evenly over the
    window's points, and each point gets the mean over the windows that cover it. With
    ``stride == window`` the attribution sums to the total drop over all windows. A negative
    value marks a region that speaks against the target (hiding it raises the probability).

    All occluded copies are scored in one ``predict_proba`` call together with ``x`` itself
    (one batched forward pass), except for correlation searches that declare their features
    (a ``feature_params()`` method, as `LibrarySearch` has): their occluded copies are scored
    by an exact shortcut, about 10 times faster, the same probabilities to float32 rounding.

    Parameters
    ----------
    model : SpectralClassifier
        Any fitted lithoscope classifier (``predict_proba``, ``classes_``, ``axis_``).
    x : array_like, shape (n_points,)
        One preprocessed spectrum on ``model.axis_``.
    target : str or int, optional
        Mineral name or class index; default: the model's top class for ``x``.
    window : int, default=20
        Width of the occluded region in points (about a Raman band's width at 1 cm-1 steps).
    stride : int, optional
        Step between windows in points; default ``window // 2``.
    baseline : {'zero', 'mean', 'local'}, default='zero'
        What replaces the window: zeros (no signal, as after baseline removal), the
        spectrum's mean, or the straight line between the window's neighbours (removes a band
        but keeps the background it sits on).
    fast : bool, default=True
        Use the correlation-search shortcut when the model declares ``feature_params``;
        False always calls ``predict_proba`` on the batch.

    Returns
    -------
    numpy.ndarray, shape (n_points,)
        Probability drop per point.

    Raises
    ------
    InputError
        ``x`` not one finite spectrum on the model's axis; unknown ``baseline`` or ``target``;
        bad ``window`` or ``stride``.
    """
    return _occlusion(model, x, target, window, stride, baseline, fast)[0]


def _occlusion(
    model: Any,
    x: npt.ArrayLike,
    target: Any,
    window: int,
    stride: int | None,
    baseline: str,
    fast: bool = True,
) -> tuple[np.ndarray, int]:
    """`occlusion` and the index of the class it explains."""
    attribution, t = occlusion_batch(
        model,
        _check_spectrum(model, x)[None, :],
        [target],
        window=window,
        stride=stride,
        baseline=baseline,
        fast=fast,
    )
    return attribution[0], int(t[0])


def occlusion_batch(
    model: Any,
    X: npt.ArrayLike,
    targets: Sequence[Any] | None = None,
    *,
    window: int = 20,
    stride: int | None = None,
    baseline: str = "zero",
    fast: bool = True,
    max_rows: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    """`occlusion` of many spectra: the occluded copies of several spectra share model calls.

    Parameters
    ----------
    model : SpectralClassifier
    X : array_like, shape (n_spectra, n_points)
        Preprocessed spectra on ``model.axis_``.
    targets : sequence, optional
        One target per spectrum (name, index or None for the model's top class).
    window, stride, baseline, fast
        As `occlusion`.
    max_rows : int, default=4096
        Occluded copies per ``predict_proba`` call (bounds memory: rows x points floats).

    Returns
    -------
    attributions : numpy.ndarray, shape (n_spectra, n_points)
    target_index : numpy.ndarray of int, shape (n_spectra,)
        The class each attribution explains.
    """
    check_is_fitted(model, "classes_")
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 2:
        raise InputError(f"X must be a 2-D batch of spectra, got shape {arr.shape}")
    rows = [_check_spectrum(model, x) for x in arr]
    targets = [None] * len(rows) if targets is None else list(targets)
    if len(targets) != len(rows):
        raise InputError(f"targets: one per spectrum ({len(rows)}), got {len(targets)}")
    if baseline not in BASELINES:
        raise InputError(f"baseline {baseline!r} is not one of {', '.join(BASELINES)}")
    n = arr.shape[1]
    windows = occlusion_windows(n, int(window), int(stride or max(1, window // 2)))
    fill = BASELINES[baseline]
    per = len(windows) + 1
    spread = np.zeros((len(windows), n))
    for w, (start, stop) in enumerate(windows):
        spread[w, start:stop] = 1.0 / (stop - start)
    covered = np.count_nonzero(spread, axis=0)
    out = np.zeros((len(rows), n))
    t_out = np.zeros(len(rows), dtype=int)
    use_shortcut = fast and _fast_params(model) is not None
    step = max(1, max_rows // per)
    for c0 in range(0, len(rows), step):
        chunk = rows[c0 : c0 + step]
        fills = [[fill(x, start, stop) for start, stop in windows] for x in chunk]
        if use_shortcut:
            probas = [
                _library_search_proba(model, x, windows, f)
                for x, f in zip(chunk, fills, strict=True)
            ]
        else:
            batch = np.repeat(np.stack(chunk), per, axis=0)
            for r, f in enumerate(fills):
                for w, (start, stop) in enumerate(windows, start=1):
                    batch[r * per + w, start:stop] = f[w - 1]
            flat = np.asarray(model.predict_proba(batch))
            probas = [flat[r * per : (r + 1) * per] for r in range(len(chunk))]
        for r, proba in enumerate(probas):
            t = _target_index(model, targets[c0 + r], proba[0])
            # each window's drop spread evenly over its points, then averaged per point
            out[c0 + r] = ((proba[0, t] - proba[1:, t]) @ spread) / covered
            t_out[c0 + r] = t
    return out, t_out


def keras_class_probability(model: Any, target: int) -> Callable[[Any], Any]:
    """``batch -> probability of class `target``` for a Keras model with softmax outputs.

    The function to give `integrated_gradients`; the model is called in inference mode.
    """
    return lambda X: model(X, training=False)[:, int(target)]


def integrated_gradients(
    model_fn: Callable[[Any], Any],
    x: npt.ArrayLike,
    *,
    baseline: npt.ArrayLike | None = None,
    steps: int = 32,
) -> np.ndarray:
    """Integrated gradients of a differentiable model for one spectrum (JAX backend).

    ``(x - baseline) * mean_k grad f(baseline + a_k (x - baseline))`` with the midpoint rule
    ``a_k = (k + 1/2) / steps``; the gradients of all ``steps`` points come from one
    ``jax.grad`` of the batch sum (rows are independent), so the cost is one batched forward
    and backward pass. By the completeness axiom the result sums to ``f(x) - f(baseline)``
    up to the Riemann sum's error, which falls as ``1 / steps**2``.

    Parameters
    ----------
    model_fn : callable
        Maps a batch ``(n, n_points)`` to the target's score ``(n,)`` with ``keras.ops`` (or
        ``jax.numpy``); e.g. `keras_class_probability`.
    x : array_like, shape (n_points,)
        One preprocessed spectrum.
    baseline : array_like, shape (n_points,), optional
        The reference input; default: zeros (no signal).
    steps : int, default=32
        Points of the Riemann sum.

    Returns
    -------
    numpy.ndarray, shape (n_points,)

    Raises
    ------
    InputError
        Keras is not on the JAX backend; shapes differ; ``model_fn`` does not return one value
        per row; ``steps`` < 1.
    """
    import keras

    if keras.backend.backend() != "jax":
        raise InputError(
            f"integrated_gradients needs Keras' JAX backend, not {keras.backend.backend()!r}; "
            "set KERAS_BACKEND=jax before importing keras"
        )
    import jax
    import jax.numpy as jnp

    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim != 1:
        raise InputError(f"x must be one spectrum (1-D), got shape {arr.shape}")
    base = np.zeros_like(arr) if baseline is None else np.asarray(baseline, dtype=np.float32)
    if base.shape != arr.shape:
        raise InputError(f"baseline has shape {base.shape} but x has {arr.shape}")
    if steps < 1:
        raise InputError(f"steps must be at least 1, got {steps}")
    alphas = (np.arange(steps, dtype=np.float32) + 0.5) / steps
    path = base[None, :] + alphas[:, None] * (arr - base)[None, :]

    def total(batch: Any) -> Any:
        out = model_fn(batch)
        if out.shape != (batch.shape[0],):
            raise InputError(
                f"model_fn must return one value per row, shape ({batch.shape[0]},), got "
                f"{tuple(out.shape)}; select the target class, e.g. keras_class_probability"
            )
        return jnp.sum(out)

    grads = np.asarray(jax.grad(total)(jnp.asarray(path)), dtype=np.float64)
    return (arr - base).astype(np.float64) * grads.mean(axis=0)


def top_regions(
    attribution: npt.ArrayLike,
    axis: npt.ArrayLike,
    *,
    n: int = 5,
    min_width: float | None = None,
    threshold: float = 0.25,
) -> list[list[float]]:
    """The few contiguous regions that supported the answer most, with their share.

    Points whose positive attribution reaches ``threshold`` times the largest form runs; runs
    closer than ``min_width`` merge, narrower ones widen about their centre to ``min_width``.
    A region's weight is the positive attribution it holds, normalised over the returned ones.

    Parameters
    ----------
    attribution : array_like, shape (n_points,)
        From `occlusion` or `integrated_gradients`.
    axis : array_like, shape (n_points,)
        Strictly increasing positions.
    n : int, default=5
        At most this many regions.
    min_width : float, optional
        Axis units; default 5 grid steps.
    threshold : float, default=0.25
        Fraction of the largest attribution a point needs to belong to a region.

    Returns
    -------
    list of [from, to, weight]
        Strongest first; weights sum to 1. Empty when no attribution is positive.

    Raises
    ------
    InputError
        Shapes differ, non-finite values, bad ``n``, ``min_width`` or ``threshold``.

    Examples
    --------
    >>> axis = np.arange(100.0)
    >>> a = np.zeros(100); a[20:30] = 1.0; a[60:70] = 3.0; a[90] = 0.1
    >>> top_regions(a, axis)
    [[60.0, 69.0, 0.75], [20.0, 29.0, 0.25]]
    """
    a = np.asarray(attribution, dtype=np.float64)
    ax = np.asarray(axis, dtype=np.float64)
    if a.ndim != 1 or a.shape != ax.shape:
        raise InputError(f"attribution {a.shape} and axis {ax.shape} must be 1-D of one length")
    if not np.all(np.isfinite(a)):
        raise InputError("attribution has NaN or infinite values")
    if a.size < 2 or np.any(np.diff(ax) <= 0):
        raise InputError("axis must be strictly increasing with at least 2 points")
    if n < 1:
        raise InputError(f"n must be at least 1, got {n}")
    if not 0 < threshold <= 1:
        raise InputError(f"threshold must be in (0, 1], got {threshold}")
    width = 5 * float(np.median(np.diff(ax))) if min_width is None else float(min_width)
    if width < 0:
        raise InputError(f"min_width must be >= 0 (axis units), got {min_width}")
    pos = np.clip(a, 0.0, None)
    if not pos.max() > 0:
        return []
    mask = pos >= threshold * pos.max()
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    runs = [[int(s), int(e) - 1] for s, e in zip(edges[::2], edges[1::2], strict=True)]
    merged = [runs[0]]
    for s, e in runs[1:]:
        if ax[s] - ax[merged[-1][1]] < width:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    regions = []
    for s, e in merged:
        lo, hi = float(ax[s]), float(ax[e])
        if hi - lo < width:
            mid = 0.5 * (lo + hi)
            lo = max(float(ax[0]), mid - width / 2)
            hi = min(float(ax[-1]), mid + width / 2)
        inside = (ax >= lo) & (ax <= hi)
        regions.append([lo, hi, float(pos[inside].sum())])
    regions.sort(key=lambda r: -r[2])
    regions = regions[:n]
    total = sum(r[2] for r in regions)
    return [[lo, hi, w / total] for lo, hi, w in regions]


def shade_attribution(
    ax: Any,
    axis: npt.ArrayLike,
    attribution: npt.ArrayLike,
    *,
    color: str = "tab:orange",
    alpha: float = 0.35,
    n: int = 5,
    label: str | None = "drove the answer",
) -> list[Any]:
    """Shade the `top_regions` of an attribution on a matplotlib axes.

    Each region is a vertical band whose opacity grows with its weight (the strongest at
    ``alpha``), drawn behind the lines.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    axis, attribution : array_like
        As for `top_regions`.
    color : str, default='tab:orange'
    alpha : float, default=0.35
        Opacity of the strongest region.
    n : int, default=5
        Regions to shade.
    label : str, optional
        Legend label of the strongest region; None for no legend entry.

    Returns
    -------
    list of matplotlib.patches.Polygon
        The shaded spans, strongest first.
    """
    if not 0 < alpha <= 1:
        raise InputError(f"alpha must be in (0, 1], got {alpha}")
    regions = top_regions(attribution, axis, n=n)
    if not regions:
        return []
    strongest = regions[0][2]
    spans = []
    for i, (lo, hi, w) in enumerate(regions):
        style = {"label": label} if i == 0 and label is not None else {}
        opacity = alpha * max(0.25, w / strongest)
        spans.append(ax.axvspan(lo, hi, color=color, alpha=opacity, lw=0, zorder=0, **style))
    return spans
