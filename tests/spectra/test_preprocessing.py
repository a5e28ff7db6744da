"""Preprocessing functions and transformers: shared behaviour, then each algorithm against an
independent reference (NumPy/SciPy directly) or an analytic case."""

from __future__ import annotations

import copy
import doctest
import inspect
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal, assert_equal
from scipy.signal import savgol_filter
from sklearn.base import clone

from lithoscope.errors import InputError
from lithoscope.spectra import preprocessing as pp
from lithoscope.spectra import spectrum
from lithoscope.spectra.preprocessing import _docs, _fast, _functions, _persistence, _presets
from lithoscope.spectra.preprocessing import _transformers as _tr

RNG_SEED = 20240611


def lorentzian(x, center, hwhm, height):
    return height / (1.0 + ((x - center) / hwhm) ** 2)


def gaussian(x, center, sigma, height):
    return height * np.exp(-0.5 * ((x - center) / sigma) ** 2)


@pytest.fixture(scope="module")
def data():
    """Three positive, noisy spectra with bands on a sloping background, on an uneven axis."""
    rng = np.random.default_rng(RNG_SEED)
    x = np.sort(rng.uniform(100.0, 1100.0, 400))
    x = np.unique(np.round(x, 3))
    rows = []
    for shift in (0.0, 25.0, -40.0):
        y = (
            5.0
            + 0.002 * x
            + lorentzian(x, 400 + shift, 8, 30)
            + lorentzian(x, 820 + shift, 15, 12)
            + rng.normal(0, 0.05, x.size)
        )
        rows.append(y)
    return np.array(rows), x


@pytest.fixture(scope="module")
def even(data):
    """The same spectra on an evenly spaced axis (needed by derivatives)."""
    Y, x = data
    grid = np.arange(110.0, 1090.0, 2.0)
    return pp.to_grid(Y, x, grid=grid), grid


# --------------------------------------------------------------------------------------------
# shared behaviour, parametrised over every function and every transformer
# --------------------------------------------------------------------------------------------

FUNCTIONS = {
    "crop": lambda y, x: pp.crop(y, x, lower=300.0, upper=900.0)[0],
    "to_grid": lambda y, x: pp.to_grid(y, x, grid=np.linspace(50, 1200, 300), outside="zero"),
    "find_spikes": lambda y, x: pp.find_spikes(y, x, threshold=3.0),
    "despike": lambda y, x: pp.despike(y, x, threshold=3.0),
    "baseline": lambda y, x: pp.baseline(y, x, method="modpoly", params={"poly_order": 2}),
    "remove_baseline": lambda y, x: pp.remove_baseline(y, x, method="asls"),
    "savgol": lambda y, x: pp.savgol(y, x, window_length=9, polyorder=3),
    "normalize:max": lambda y, x: pp.normalize(y, x, kind="max"),
    "normalize:area": lambda y, x: pp.normalize(y, x, kind="area"),
    "normalize:l2": lambda y, x: pp.normalize(y, x, kind="l2"),
    "normalize:snv": lambda y, x: pp.normalize(y, x, kind="snv"),
    "normalize:minmax": lambda y, x: pp.normalize(y, x, kind="minmax"),
    "continuum": lambda y, x: pp.continuum(y, x),
    "remove_continuum": lambda y, x: pp.remove_continuum(y, x),
    "clip": lambda y, x: pp.clip(y, x, lower=5.5),
}


def make_transformers(x):
    """One configured instance of every array transformer (and each normalisation)."""
    return {
        "Crop": pp.Crop(axis=x, lower=300.0, upper=900.0),
        "Despike": pp.Despike(threshold=3.0),
        "BaselineRemoval": pp.BaselineRemoval(axis=x, method="asls", params={"lam": 1e5}),
        "SavitzkyGolay": pp.SavitzkyGolay(axis=x, window_length=9, polyorder=3),
        **{f"Normalize:{k}": pp.Normalize(axis=x, kind=k) for k in pp.NORMALIZATIONS},
        "ContinuumRemoval": pp.ContinuumRemoval(axis=x),
        "Clip": pp.Clip(lower=6.0),
    }


TRANSFORMER_IDS = list(make_transformers(None))


def test_every_public_function_and_step_class_is_covered():
    functions = {
        name
        for name, obj in vars(pp).items()
        if inspect.isfunction(obj) and obj.__module__ == _functions.__name__
    }
    assert functions == {key.split(":")[0] for key in FUNCTIONS}
    array_steps = set(pp.STEP_CLASSES) - {"ToGrid"}
    assert array_steps == {key.split(":")[0] for key in TRANSFORMER_IDS}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_leaves_inputs_unchanged_and_accepts_read_only(name, data):
    Y, x = data
    y_copy, x_copy = Y.copy(), x.copy()
    Y_ro, x_ro = Y.copy(), x.copy()
    Y_ro.setflags(write=False)
    x_ro.setflags(write=False)
    out = FUNCTIONS[name](Y_ro, x_ro)  # raises if the function writes into its input
    assert_array_equal(Y_ro, y_copy)
    assert_array_equal(x_ro, x_copy)
    assert not np.shares_memory(out, Y_ro)
    FUNCTIONS[name](Y, x)
    assert_array_equal(Y, y_copy)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_list_input_equals_array_input(name, data):
    Y, x = data
    assert_array_equal(FUNCTIONS[name](Y.tolist(), x.tolist()), FUNCTIONS[name](Y, x))


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_rows_equal_single_spectra_and_dtype(name, data):
    Y, x = data
    stacked = FUNCTIONS[name](Y, x)
    expected_dtype = bool if name == "find_spikes" else np.float64
    assert stacked.dtype == expected_dtype
    assert stacked.ndim == 2 and stacked.shape[0] == Y.shape[0]
    for i, row in enumerate(Y):
        single = FUNCTIONS[name](row, x)
        assert single.ndim == 1 and single.dtype == expected_dtype
        assert_allclose(single, stacked[i], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_integer_input_gives_float64(name, data):
    Y, x = data
    out = FUNCTIONS[name](np.rint(Y * 10).astype(np.int64), x)
    assert out.dtype == (bool if name == "find_spikes" else np.float64)


@pytest.mark.parametrize("name", TRANSFORMER_IDS)
def test_transformer_leaves_input_unchanged_list_equals_array_float64(name, data):
    Y, x = data
    step = make_transformers(x)[name]
    params_before = copy.deepcopy(step.get_params())
    Y_ro = Y.copy()
    Y_ro.setflags(write=False)
    out = step.fit_transform(Y_ro)
    assert_array_equal(Y_ro, Y)
    assert out.dtype == np.float64 and out.shape[0] == Y.shape[0]
    assert not np.shares_memory(out, Y_ro)
    assert_array_equal(step.transform(Y.tolist()), out)
    assert_array_equal(clone(step).fit(Y).transform(Y), out)
    assert_array_equal(step.transform(np.rint(Y).astype(np.int32)), step.transform(np.rint(Y)))
    assert_equal(step.get_params(), params_before)  # fit and transform change no parameter


@pytest.mark.parametrize("name", TRANSFORMER_IDS)
def test_transformer_equals_its_function(name, data):
    Y, x = data
    step = make_transformers(x)[name]
    function = (
        FUNCTIONS.get(name.replace("Normalize", "normalize"))
        or {
            "Crop": FUNCTIONS["crop"],
            "Despike": FUNCTIONS["despike"],
            "BaselineRemoval": lambda y, x: pp.remove_baseline(
                y, x, method="asls", params={"lam": 1e5}
            ),
            "SavitzkyGolay": FUNCTIONS["savgol"],
            "ContinuumRemoval": FUNCTIONS["remove_continuum"],
            "Clip": lambda y, x: pp.clip(y, x, lower=6.0),
        }[name]
    )
    assert_array_equal(step.fit_transform(Y), function(Y, x))


@pytest.mark.parametrize("name", TRANSFORMER_IDS)
def test_transformer_works_unfitted_and_refuses_another_axis_length(name, data):
    Y, x = data
    step = make_transformers(x)[name]
    assert_array_equal(step.transform(Y), clone(step).fit_transform(Y))
    if "axis" in step.get_params():
        with pytest.raises(InputError, match=r"axis has \d+ positions but X has 10 feature"):
            step.fit(Y[:, :10])


@pytest.mark.parametrize(
    ("cls", "function"),
    [
        (pp.Crop, pp.crop),
        (pp.Despike, pp.despike),
        (pp.BaselineRemoval, pp.baseline),
        (pp.SavitzkyGolay, pp.savgol),
        (pp.Normalize, pp.normalize),
        (pp.ContinuumRemoval, pp.remove_continuum),
        (pp.Clip, pp.clip),
    ],
)
def test_transformer_defaults_and_docs_come_from_the_function(cls, function):
    fn_params = {
        name: p.default
        for name, p in inspect.signature(function).parameters.items()
        if name not in ("y", "x")
    }
    cls_params = {
        name: p.default
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if name not in ("self", "axis")
    }
    assert cls_params == fn_params
    for name in fn_params:
        assert f"\n{name}" in cls.__doc__ or f", {name}" in cls.__doc__
    assert f"preprocessing.{function.__name__}`" in cls.__doc__


def test_docstring_examples_run():
    for module in (pp, _functions, _tr, _persistence, _presets, _docs, _fast, spectrum):
        result = doctest.testmod(module, extraglobs={"np": np}, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__
        assert module in (_docs, _persistence) or result.attempted > 0, module.__name__


# --------------------------------------------------------------------------------------------
# crop and to_grid
# --------------------------------------------------------------------------------------------


def test_crop_keeps_the_inclusive_range():
    y, x = pp.crop([[1, 2, 3, 4, 5]], [10, 20, 30, 40, 50], lower=20, upper=40)
    assert_array_equal(x, [20, 30, 40])
    assert_array_equal(y, [[2, 3, 4]])
    with pytest.raises(InputError, match="no point of the axis"):
        pp.crop([1, 2], [10, 20], lower=30)
    with pytest.raises(InputError, match="lower=40 must be below upper=20"):
        pp.crop([1, 2], [10, 20], lower=40, upper=20)


def reference_resample(x, y, grid, outside):
    """Linear interpolation written out point by point: the bracketing measured points of each
    grid position, their weights, and the policy beyond the measured range."""
    out = np.empty(grid.size)
    for k, g in enumerate(grid):
        if g < x[0] or g > x[-1]:
            out[k] = {"nan": np.nan, "zero": 0.0, "edge": y[0] if g < x[0] else y[-1]}[outside]
            continue
        j = min(int(np.sum(x <= g)), x.size - 1)  # first measured point right of g
        t = (g - x[j - 1]) / (x[j] - x[j - 1])
        out[k] = (1 - t) * y[j - 1] + t * y[j]
    return out


@pytest.mark.parametrize("outside", ["nan", "zero", "edge"])
def test_to_grid_matches_a_written_out_reference(outside, data):
    Y, x = data
    grid = np.linspace(50.0, 1200.0, 777)
    expected = np.vstack([reference_resample(x, row, grid, outside) for row in Y])
    assert_allclose(pp.to_grid(Y, x, grid=grid, outside=outside), expected, rtol=1e-12, atol=1e-12)


def test_to_grid_outside_policies_are_explicit():
    y, x = [1.0, 3.0], [10.0, 20.0]
    grid = [5.0, 10.0, 15.0, 20.0, 25.0]
    assert_array_equal(pp.to_grid(y, x, grid=grid, outside="nan"), [np.nan, 1, 2, 3, np.nan])
    assert_array_equal(pp.to_grid(y, x, grid=grid, outside="zero"), [0, 1, 2, 3, 0])
    assert_array_equal(pp.to_grid(y, x, grid=grid, outside="edge"), [1, 1, 2, 3, 3])
    assert_array_equal(pp.to_grid(y, x, grid=grid[1:4], outside="error"), [1, 2, 3])
    with pytest.raises(InputError, match="extends beyond the measured range 10-20"):
        pp.to_grid(y, x, grid=grid, outside="error")
    with pytest.raises(InputError, match="outside='clamp' is not one of 'nan', 'zero'"):
        pp.to_grid(y, x, grid=grid, outside="clamp")


def test_to_grid_is_exact_on_measured_points():
    x = np.array([0.1, 0.7, 1.3, 2.9])
    y = np.array([3.3, -1.7, 0.123456789, 8.0])
    assert_array_equal(pp.to_grid(y, x, grid=x), y)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"grid": [3.0, 2.0]}, "grid must be strictly increasing"),
        ({"grid": [1.0]}, "grid must have at least 2 points"),
        ({"grid": None}, "grid is required"),
    ],
)
def test_to_grid_bad_grid(kwargs, match):
    with pytest.raises(InputError, match=match):
        pp.to_grid([1.0, 2.0], [0.0, 1.0], **kwargs)


def test_functions_refuse_nan_and_bad_axes():
    with pytest.raises(InputError, match="NaN or infinity .spectrum 1 point 2."):
        pp.normalize([[1.0, 2.0, 3.0], [1.0, 2.0, np.nan]])
    with pytest.raises(InputError, match=r"x must be strictly increasing; position 2 \(1\)"):
        pp.normalize([1.0, 2.0, 3.0], [0.0, 2.0, 1.0], kind="area")
    with pytest.raises(InputError, match=r"x must be 1-D with one position per point \(3\)"):
        pp.normalize([1.0, 2.0, 3.0], [0.0, 2.0], kind="area")
    with pytest.raises(InputError, match="y must be one spectrum"):
        pp.clip(np.zeros((2, 2, 2)))


# --------------------------------------------------------------------------------------------
# despiking
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spiky():
    rng = np.random.default_rng(RNG_SEED)
    x = np.arange(0.0, 1000.0, 1.0)
    clean = (
        2.0
        + lorentzian(x, 200, 6, 40)  # strong band, steep flanks
        + lorentzian(x, 520, 3, 15)
        + gaussian(x, 760, 4, 8)
        + rng.normal(0, 0.1, x.size)
    )
    spikes = {100: 30.0, 350: 12.0, 640: 50.0, 641: 45.0, 900: 20.0, 901: 60.0, 902: 25.0}
    y = clean.copy()
    for i, height in spikes.items():
        y[i] += height
    return x, clean, y, sorted(spikes)


def test_find_spikes_finds_exactly_the_inserted_spikes(spiky):
    x, clean, y, positions = spiky
    assert np.flatnonzero(pp.find_spikes(y, x)).tolist() == positions
    assert not pp.find_spikes(clean, x).any()  # bands of 6-10 points are not spikes


def test_despike_removes_spikes_and_leaves_every_other_point_unchanged(spiky):
    x, clean, y, positions = spiky
    out = pp.despike(y, x, window=2)
    others = np.setdiff1d(np.arange(x.size), positions)
    assert_array_equal(out[others], y[others])
    # the replacement is the mean of nearby clean points: within noise (sigma 0.1)
    assert_allclose(out[positions], clean[positions], atol=0.5)


def test_despike_follows_whitaker_hayes_replacement():
    y = np.array([1.0, 1.1, 0.9, 1.0, 1.2, 1.0, 0.8, 1.0, 20.0, 1.1, 0.9, 1.0, 1.1, 1.0, 0.9])
    out = pp.despike(y, window=3, max_width=1)
    # the mean of the non-spike points within 3 points: indices 5, 6, 7 and 9, 10, 11
    assert out[8] == pytest.approx(np.mean([1.0, 0.8, 1.0, 1.1, 0.9, 1.0]), rel=1e-12)
    assert_array_equal(np.delete(out, 8), np.delete(y, 8))


def test_despike_respects_max_width_and_threshold(spiky):
    x, _, y, _ = spiky
    assert np.flatnonzero(pp.find_spikes(y, x, max_width=2)).tolist() == [100, 350, 640, 641]
    assert np.flatnonzero(pp.find_spikes(y, x, threshold=1e6)).tolist() == []


def test_despike_parameter_errors():
    with pytest.raises(InputError, match="window=1 cannot reach past a spike of max_width=3"):
        pp.despike([1.0, 2.0, 3.0], window=1, max_width=3)
    with pytest.raises(InputError, match="threshold must be a positive finite number"):
        pp.find_spikes([1.0, 2.0, 3.0], threshold=0)
    with pytest.raises(InputError, match="max_width must be an integer >= 1"):
        pp.find_spikes([1.0, 2.0, 3.0], max_width=0)


# --------------------------------------------------------------------------------------------
# baseline
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fluorescence():
    """Lorentzian bands on a smooth fluorescence-like background, 1 point per cm-1."""
    rng = np.random.default_rng(RNG_SEED)
    x = np.arange(100.0, 1401.0, 1.0)
    centers, hwhm, heights = [250.0, 480.0, 700.0, 1010.0, 1300.0], 4.0, [1.0, 0.6, 0.3, 0.8, 0.5]
    peaks = sum(lorentzian(x, c, hwhm, h) for c, h in zip(centers, heights, strict=True))
    t = (x - 100) / 1300
    background = 2.0 + 3.0 * t - 2.0 * t**2 + gaussian(x, 700, 250, 0.8)
    y = peaks + background + rng.normal(0, 0.01, x.size)
    return x, y, peaks, background, centers, heights


@pytest.mark.parametrize(
    ("method", "params"),
    [("arpls", {"lam": 1e6}), ("asls", {"lam": 1e6, "p": 0.01})],
)
def test_baseline_removal_recovers_lorentzian_bands(method, params, fluorescence):
    x, y, peaks, _, centers, heights = fluorescence
    corrected = pp.remove_baseline(y, x, method=method, params=params)
    at_centres = corrected[np.searchsorted(x, centers)]
    # band heights within 0.05 (5 % of the tallest band) of the truth; background of 2-4 removed
    assert_allclose(at_centres, heights, atol=0.05)
    assert np.sqrt(np.mean((corrected - peaks) ** 2)) < 0.03
    assert_allclose(pp.baseline(y, x, method=method, params=params), y - corrected, atol=1e-12)


@pytest.mark.parametrize(
    ("method", "params", "atol"),
    [
        ("imodpoly", {"poly_order": 2}, 1e-9),
        ("quant_reg", {"poly_order": 2, "quantile": 0.01}, 1e-5),
    ],
)
def test_polynomial_baseline_is_recovered(method, params, atol):
    x = np.linspace(0.0, 10.0, 501)
    background = 1.0 + 0.5 * x - 0.03 * x**2
    y = background + gaussian(x, 4.0, 0.1, 2.0) + gaussian(x, 7.0, 0.15, 1.0)
    assert_allclose(pp.baseline(y, x, method=method, params=params), background, atol=atol)


def test_every_registered_baseline_method_runs_on_a_sloped_spectrum():
    x = np.linspace(0.0, 100.0, 300)
    background = 1.0 + 0.01 * x
    y = background + gaussian(x, 50.0, 1.5, 1.0) + np.random.default_rng(0).normal(0, 0.01, 300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence notes of individual algorithms
        for method in pp.BASELINE_METHODS:
            estimate = pp.baseline(y, x, method=method)
            assert estimate.shape == y.shape and np.isfinite(estimate).all(), method
            assert np.median(np.abs(estimate - background)) < 0.1, method


def test_baseline_errors_name_the_valid_choices():
    with pytest.raises(InputError, match="baseline method 'als' is not one of .*arpls.*snip"):
        pp.baseline([1.0, 2.0, 3.0], method="als")
    with pytest.raises(
        InputError, match="'lambda' not a parameter of pybaselines arpls; valid: lam, diff_order"
    ):
        pp.baseline([1.0, 2.0, 3.0], method="arpls", params={"lambda": 10})


# --------------------------------------------------------------------------------------------
# Savitzky-Golay
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window_length", "polyorder", "deriv", "mode"),
    [(11, 2, 0, "interp"), (7, 3, 1, "interp"), (9, 4, 2, "mirror"), (5, 2, 1, "nearest")],
)
def test_savgol_equals_scipy(window_length, polyorder, deriv, mode, even):
    Y, grid = even
    expected = np.vstack(
        [
            savgol_filter(row, window_length, polyorder, deriv=deriv, delta=2.0, mode=mode)
            for row in Y
        ]
    )
    out = pp.savgol(
        Y, grid, window_length=window_length, polyorder=polyorder, deriv=deriv, mode=mode
    )
    assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_savgol_derivative_is_in_axis_units():
    x = np.arange(0.0, 5.0, 0.01)
    d = pp.savgol(np.sin(x), x, window_length=21, polyorder=4, deriv=1)
    assert_allclose(d[20:-20], np.cos(x[20:-20]), atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"window_length": 10}, "window_length=10 must be odd"),
        ({"window_length": 5, "polyorder": 5}, "polyorder=5 must be below window_length=5"),
        ({"window_length": 5, "polyorder": 1, "deriv": 2}, "deriv=2 exceeds polyorder=1"),
        ({"window_length": 31}, "at least 31 points, got 20 feature"),
        ({"mode": "reflect"}, "mode='reflect' is not one of"),
    ],
)
def test_savgol_parameter_errors(kwargs, match):
    with pytest.raises(InputError, match=match):
        pp.savgol(np.arange(20.0), **kwargs)


def test_savgol_derivative_needs_an_even_axis(data):
    Y, x = data
    with pytest.raises(InputError, match="evenly spaced axis"):
        pp.savgol(Y, x, deriv=1)


# --------------------------------------------------------------------------------------------
# normalisation
# --------------------------------------------------------------------------------------------


def test_normalize_against_numpy(data):
    Y, x = data
    y = Y[0]
    n = y.size
    manual_snv = (y - y.sum() / n) / np.sqrt(((y - y.sum() / n) ** 2).sum() / (n - 1))
    expected = {
        "max": y / y.max(),
        "area": y / np.trapezoid(y, x),
        "l2": y / np.sqrt(np.sum(y * y)),
        "snv": manual_snv,
        "minmax": (y - y.min()) / (y.max() - y.min()),
    }
    assert set(expected) == set(pp.NORMALIZATIONS)
    for kind, reference in expected.items():
        assert_allclose(pp.normalize(y, x, kind=kind), reference, rtol=1e-12, err_msg=kind)
    assert np.trapezoid(pp.normalize(y, x, kind="area"), x) == pytest.approx(1.0, rel=1e-12)


def test_normalize_max_keeps_the_sign_and_zero_spectra_stay_zero():
    assert_array_equal(pp.normalize([-4.0, 2.0], kind="max"), [-1.0, 0.5])
    for kind in pp.NORMALIZATIONS:
        assert_array_equal(pp.normalize(np.zeros((2, 5)), kind=kind), np.zeros((2, 5)))
    assert_array_equal(pp.normalize([3.0, 3.0, 3.0], kind="snv"), [0.0, 0.0, 0.0])
    with pytest.raises(InputError, match="kind='vector' is not one of 'max', 'area'"):
        pp.normalize([1.0, 2.0], kind="vector")


# --------------------------------------------------------------------------------------------
# continuum removal
# --------------------------------------------------------------------------------------------


def test_continuum_removal_gives_the_analytic_band_depth():
    wavelength = np.arange(400.0, 2500.0, 5.0)
    line = 0.30 + 0.00015 * (wavelength - 400.0)  # linear continuum
    depth, centre, half_width = 0.27, 1050.0, 120.0
    u = np.clip(np.abs(wavelength - centre) / half_width, 0.0, 1.0)
    band = depth * (1.0 - u**2) ** 2  # smooth band with compact support
    reflectance = line * (1.0 - band)
    hull = pp.continuum(reflectance, wavelength)
    removed = pp.remove_continuum(reflectance, wavelength)
    assert_allclose(hull, line, rtol=1e-12)
    assert_allclose(removed, 1.0 - band, atol=1e-12)
    assert 1.0 - removed.min() == pytest.approx(depth, abs=1e-12)
    assert wavelength[np.argmin(removed)] == centre
    assert removed.max() == 1.0


def test_continuum_of_a_concave_spectrum_is_itself():
    x = np.linspace(1.0, 3.0, 101)
    y = np.sqrt(x)
    assert_allclose(pp.continuum(y, x), y, rtol=1e-14)
    assert_allclose(pp.remove_continuum(y, x), 1.0, rtol=1e-14)


def test_continuum_is_the_upper_hull_of_a_random_spectrum():
    rng = np.random.default_rng(RNG_SEED)
    x = np.sort(rng.uniform(0.0, 1.0, 200))
    y = rng.uniform(0.1, 1.0, 200)
    hull = pp.continuum(y, x)
    assert np.all(hull >= y - 1e-15)
    slopes = np.diff(hull) / np.diff(x)
    assert np.all(np.diff(slopes) <= 1e-9)  # concave
    assert hull[0] == y[0] and hull[-1] == y[-1]


def test_continuum_removal_refuses_negative_reflectance():
    with pytest.raises(InputError, match="spectrum 0 point 1 is -1.23e"):
        pp.remove_continuum([0.3, -1.23e34, 0.4])
    assert_array_equal(pp.remove_continuum([0.0, 0.0, 0.0]), [1.0, 1.0, 1.0])


# --------------------------------------------------------------------------------------------
# clipping
# --------------------------------------------------------------------------------------------


def test_clip_against_numpy(data):
    Y, _ = data
    centred = Y - 6.0
    assert_array_equal(pp.clip(centred), np.maximum(centred, 0.0))
    assert_array_equal(pp.clip(centred, lower=-0.5, upper=1.0), np.clip(centred, -0.5, 1.0))
    assert np.isnan(pp.clip([np.nan, -1.0])[0])
    with pytest.raises(InputError, match="lower=2 must not exceed upper=1"):
        pp.clip([1.0], lower=2.0, upper=1.0)
