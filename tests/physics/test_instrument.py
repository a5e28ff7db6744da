"""The instrument model: shared behaviour of every transform, then each one does what it claims."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from numpy.testing import assert_allclose

from lithoscope.errors import InputError
from lithoscope.physics import instrument as A

AXIS = np.arange(100.0, 1400.0 + 1e-9, 1.0)  # the Raman preset's grid


def lorentz(x, centre, hwhm=4.0, height=1.0):
    return height / (1.0 + ((x - centre) / hwhm) ** 2)


def peaks(*centres, x=AXIS, hwhm=4.0):
    return sum(lorentz(x, c, hwhm) for c in centres)


def peak_position(row, x=AXIS):
    """Sub-point position of the tallest peak (parabola through the top three points)."""
    i = int(np.argmax(row))
    a, b, c = row[i - 1], row[i], row[i + 1]
    return x[i] + 0.5 * (a - c) / (a - 2 * b + c) * (x[1] - x[0])


@pytest.fixture
def stack():
    return np.vstack([peaks(400, 900), peaks(300, 1000, 1200), peaks(700)]) + 0.01


def _call(name, X, rng):
    """Each transform with typical parameters."""
    calls = {
        "warp_axis": lambda: A.warp_axis(X, AXIS, shift=3.0, stretch=0.002),
        "add_noise": lambda: A.add_noise(X, shot=1e-3, read=1e-2, rng=rng),
        "add_baseline": lambda: A.add_baseline(X, AXIS, amplitude=0.2, rng=rng),
        "scale_intensity": lambda: A.scale_intensity(X, scale=2.0, gamma=0.8),
        "add_spikes": lambda: A.add_spikes(X, count=2, rng=rng),
        "broaden": lambda: A.broaden(X, AXIS, sigma=3.0),
        "scale_bands": lambda: A.scale_bands(X, AXIS, amount=0.3, rng=rng),
        "augmenter": lambda: A.SpectralAugmenter()(X, AXIS, rng=rng),
    }
    return calls[name]()


NAMES = [
    "warp_axis",
    "add_noise",
    "add_baseline",
    "scale_intensity",
    "add_spikes",
    "broaden",
    "scale_bands",
    "augmenter",
]


@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_and_no_input_mutation(name, stack):
    before = stack.copy()
    stack.setflags(write=False)  # any write raises
    out = _call(name, stack, np.random.default_rng(0))
    assert out.shape == stack.shape and out.dtype == np.float64
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(stack, before)
    assert not np.shares_memory(out, stack)


@pytest.mark.parametrize("name", NAMES)
def test_seeded_randomness_is_reproducible(name, stack):
    a = _call(name, stack, np.random.default_rng(7))
    b = _call(name, stack, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)


def test_lists_are_accepted_like_arrays(stack):
    expected = A.warp_axis(stack, AXIS, shift=2.0)
    assert_allclose(A.warp_axis(stack.tolist(), AXIS, shift=2.0), expected)


@pytest.mark.parametrize("k", [-7.0, -2.5, 1.0, 4.0, 10.0])
def test_shift_moves_a_peak_by_k(k):
    X = peaks(800.0)[None, :]
    moved = A.warp_axis(X, AXIS, shift=k)
    step = AXIS[1] - AXIS[0]
    assert abs(peak_position(moved[0]) - (800.0 + k)) <= step


def test_stretch_moves_peaks_in_proportion_to_their_distance_from_the_centre():
    X = peaks(300.0, 1300.0)[None, :]
    stretch = 0.01  # 1 %: a band 500 cm-1 from the centre (800) moves by 5
    out = A.warp_axis(X, AXIS, stretch=stretch, center=800.0)
    left, right = out[0, AXIS < 800], out[0, AXIS >= 800]
    assert peak_position(left, AXIS[AXIS < 800]) == pytest.approx(295.0, abs=0.5)
    assert peak_position(right, AXIS[AXIS >= 800]) == pytest.approx(1305.0, abs=0.5)


def test_warp_per_spectrum_parameters():
    X = np.vstack([peaks(600.0)] * 3)
    out = A.warp_axis(X, AXIS, shift=np.array([0.0, 5.0, -5.0]))
    assert [round(peak_position(r)) for r in out] == [600, 605, 595]
    with pytest.raises(InputError, match="one value per spectrum"):
        A.warp_axis(X, AXIS, shift=np.array([1.0, 2.0]))


def test_noise_variance_follows_shot_and_read_levels():
    rng = np.random.default_rng(1)
    flat = np.full((400, AXIS.size), 0.5)
    zero = np.zeros((400, AXIS.size))
    noisy = A.add_noise(flat, shot=4e-3, read=0.0, rng=rng) - flat
    assert noisy.var() == pytest.approx(4e-3 * 0.5, rel=0.02)
    read = A.add_noise(zero, shot=4e-3, read=0.03, rng=rng)
    assert read.std() == pytest.approx(0.03, rel=0.02)


def test_baseline_is_smooth_positive_and_has_the_requested_height():
    rng = np.random.default_rng(2)
    zero = np.zeros((50, AXIS.size))
    out = A.add_baseline(zero, AXIS, amplitude=0.3, rng=rng)
    assert_allclose(out.max(axis=1), 0.3)
    assert out.min() >= 0.0
    # smooth: second differences tiny compared with the height (a band of hwhm 4 has ~0.06)
    assert np.abs(np.diff(out, 2, axis=1)).max() < 1e-3 * 0.3


def test_scale_intensity_is_gain_times_power():
    X = np.array([[0.0, 0.25, 1.0, -0.25]])
    assert_allclose(A.scale_intensity(X, scale=3.0, gamma=0.5), [[0.0, 1.5, 3.0, -1.5]])
    with pytest.raises(InputError, match="gamma"):
        A.scale_intensity(X, gamma=0.0)


def test_spikes_are_narrow_and_counted():
    rng = np.random.default_rng(3)
    zero = np.zeros((200, AXIS.size))
    out = A.add_spikes(zero, count=1, height=(0.5, 1.0), max_width=2, rng=rng)
    widths = (out > 0).sum(axis=1)
    assert set(widths.tolist()) <= {1, 2}
    assert {1, 2} <= set(widths.tolist())
    hit = out[out > 0]
    assert hit.min() >= 0.5 and hit.max() <= 1.0
    assert np.all(A.add_spikes(zero, count=0, rng=rng) == 0)


def test_broadening_matches_a_gaussian_convolution_and_keeps_the_area():
    X = peaks(700.0, hwhm=2.0)[None, :]
    sigma = 3.0
    out = A.broaden(X, AXIS, sigma=sigma)
    kernel_x = np.arange(-30, 31, dtype=float)
    kernel = np.exp(-0.5 * (kernel_x / sigma) ** 2)
    expected = np.convolve(X[0], kernel / kernel.sum(), mode="same")
    inner = slice(100, -100)
    assert_allclose(out[0, inner], expected[inner], atol=1e-4)
    assert out[0].sum() == pytest.approx(X[0].sum(), rel=1e-3)
    assert out[0].max() < X[0].max()
    assert_allclose(A.broaden(X, AXIS, sigma=0.0), X, atol=1e-12)


def test_band_scaling_changes_ratios_but_not_positions():
    X = peaks(300.0, 1200.0)[None, :].repeat(20, axis=0)
    out = A.scale_bands(X, AXIS, amount=0.4, rng=np.random.default_rng(4))
    ratio = out[:, 200] / out[:, 1100]  # heights at 300 and 1200 cm-1
    assert ratio.std() > 0.1
    assert np.all(out > 0)
    for row in out:
        assert abs(peak_position(row[:600], AXIS[:600]) - 300.0) < 1.0


def test_augmenter_normalises_and_honours_probabilities(stack):
    rng = np.random.default_rng(5)
    out = A.SpectralAugmenter()(stack, AXIS, rng=rng)
    assert_allclose(np.abs(out).max(axis=1), 1.0)
    nothing = A.SpectralAugmenter(
        p_warp=0, p_bands=0, p_broaden=0, p_gamma=0, p_baseline=0, p_noise=0, p_spike=0
    )
    assert_allclose(nothing(stack, AXIS, rng=rng), stack / stack.max(axis=1, keepdims=True))


def test_augmenter_options_are_validated():
    assert A.SpectralAugmenter.from_options(False) is None
    assert A.SpectralAugmenter.from_options({"shift": 2.0}).shift == 2.0
    with pytest.raises(InputError, match="unknown augment option.*shfit.*valid: .*shift"):
        A.SpectralAugmenter.from_options({"shfit": 2.0})
    with pytest.raises(InputError, match="p_noise must be a probability"):
        A.SpectralAugmenter(p_noise=1.5)


def test_bad_input_shapes_are_refused():
    with pytest.raises(InputError, match="stack of spectra"):
        A.broaden(np.zeros(10))
    with pytest.raises(InputError, match="one position per point"):
        A.warp_axis(np.zeros((2, 10)), np.arange(9.0))


def test_doctests():
    assert doctest.testmod(A, optionflags=doctest.ELLIPSIS).failed == 0


def test_reference_views_keep_the_spectra_and_add_instrument_variants():
    from lithoscope.physics.instrument import reference_views

    x = np.arange(100.0, 400.0)
    X = np.zeros((2, x.size))
    X[0, 100] = X[1, 200] = 1.0
    X = A.broaden(X, x, sigma=3.0)
    views = reference_views(X, x, n_views=6, random_state=1)
    assert views.shape == (8, x.size)
    np.testing.assert_array_equal(views[:2], X)
    # variants alternate over the given spectra and stay near their band
    assert np.all(np.abs(np.argmax(views[2::2], axis=1) - 100) <= 6)
    assert np.all(np.abs(np.argmax(views[3::2], axis=1) - 200) <= 6)
    assert not np.allclose(views[2], X[0])
    np.testing.assert_array_equal(views, reference_views(X, x, n_views=6, random_state=1))
    np.testing.assert_array_equal(reference_views(X, x, n_views=0), X)
    with pytest.raises(InputError, match="n_views"):
        reference_views(X, x, n_views=-1)
