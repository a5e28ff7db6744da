"""Hapke reflectance and intimate mixing, against analytic cases and Chandrasekhar's H-function."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from lithoscope.errors import InputError
from lithoscope.physics import hapke
from lithoscope.physics.hapke import (
    cross_section_fractions,
    h_function,
    mass_to_volume,
    mix_albedo,
    reflectance,
    single_scattering_albedo,
    volume_to_mass,
)

# Chandrasekhar (1960) Radiative Transfer, Table XI: the exact H-function of conservative
# (w = 1) isotropic scattering, rounded to 4 decimals (a numerical solution of the integral
# equation, as in `exact_h` with many more iterations, reproduces them).
CHANDRASEKHAR_W1 = {0.0: 1.0, 0.1: 1.2474, 0.5: 2.0128, 1.0: 2.9078}


def exact_h(mu: np.ndarray, w: float) -> np.ndarray:
    """The exact H-function, solving its integral equation by iteration (Gauss-Legendre).

    ``1 / H(mu) = 1 - (w / 2) mu int_0^1 H(mu') / (mu + mu') dmu'`` (Chandrasekhar 1960,
    eq. V.16); converges geometrically for w < 1.
    """
    x, wt = np.polynomial.legendre.leggauss(200)
    x, wt = (x + 1) / 2, wt / 2
    h = np.ones_like(x)
    for _ in range(2000):
        new = 1 / (1 - w / 2 * x * np.sum(wt * h / (x[:, None] + x), axis=1))
        if np.max(np.abs(new - h)) < 1e-13:
            break
        h = new
    mu = np.asarray(mu, dtype=float)
    return 1 / (1 - w / 2 * mu * np.sum(wt * h / (mu[:, None] + x), axis=1))


def test_docstring_examples():
    result = doctest.testmod(hapke, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


# ------------------------------------------------------------------------------ H-function
@pytest.mark.parametrize(("mu", "expected"), CHANDRASEKHAR_W1.items())
def test_h_function_conservative_case_matches_chandrasekhar_within_one_percent(mu, expected):
    assert h_function(mu, 1.0) == pytest.approx(expected, rel=0.01)


@pytest.mark.parametrize("w", [0.1, 0.5, 0.9, 0.99])
def test_h_function_within_one_percent_of_the_exact_solution(w):
    mu = np.linspace(0.0, 1.0, 21)
    np.testing.assert_allclose(h_function(mu, w), exact_h(mu, w), rtol=0.01)


@pytest.mark.parametrize("w", [0.2, 0.6, 0.95, 1.0])
def test_h_function_zeroth_moment(w):
    # Exact identity (Chandrasekhar 1960, eq. V.24): int_0^1 H dmu = (2 / w)(1 - sqrt(1 - w)).
    x, wt = np.polynomial.legendre.leggauss(400)
    moment = np.sum(wt / 2 * h_function((x + 1) / 2, w))
    assert moment == pytest.approx(2 / w * (1 - np.sqrt(1 - w)), rel=0.01)


def test_h_is_one_without_scattering_or_at_grazing_angles():
    np.testing.assert_array_equal(h_function(np.linspace(0, 1, 5), 0.0), 1.0)
    np.testing.assert_array_equal(h_function(0.0, np.linspace(0, 1, 5)), 1.0)


# ---------------------------------------------------------------------------- reflectance
def test_black_grains_reflect_nothing():
    for kind in hapke.KINDS:
        assert reflectance(0.0, kind=kind) == 0.0


def test_conservative_reflectance_from_chandrasekhar_h():
    # w = 1, i = e = 0: REFF = (1/4)(1/2) H(1)^2 with H(1) = 2.9078 exactly; the 2002
    # approximation is within 1 % in H, so within ~2 % in REFF.
    expected = 0.125 * CHANDRASEKHAR_W1[1.0] ** 2
    assert reflectance(1.0, incidence=0.0, emission=0.0) == pytest.approx(expected, rel=0.02)


def test_kinds_are_related_by_pi_and_mu0():
    w = np.linspace(0.0, 1.0, 11)
    mu0 = np.cos(np.deg2rad(30.0))
    r = reflectance(w, kind="bidirectional")
    np.testing.assert_allclose(reflectance(w, kind="radiance_factor"), np.pi * r, rtol=1e-14)
    np.testing.assert_allclose(reflectance(w), np.pi * r / mu0, rtol=1e-14)


def test_reflectance_is_the_formula_with_h():
    w = np.array([0.3, 0.8])
    mu0, mu = np.cos(np.deg2rad(45.0)), np.cos(np.deg2rad(10.0))
    expected = w / 4 / (mu0 + mu) * h_function(mu0, w) * h_function(mu, w)
    np.testing.assert_allclose(reflectance(w, incidence=45.0, emission=10.0), expected, rtol=1e-14)


def test_reflectance_rises_with_albedo():
    assert np.all(np.diff(reflectance(np.linspace(0, 1, 1001))) > 0)


@pytest.mark.parametrize("kind", hapke.KINDS)
@pytest.mark.parametrize(("i", "e"), [(30.0, 0.0), (0.0, 0.0), (60.0, 30.0)])
def test_round_trip_w_to_reflectance_to_w(kind, i, e):
    w = np.concatenate([[0.0, 1e-9, 0.5, 1 - 1e-9, 1.0], np.random.default_rng(0).random(500)])
    r = reflectance(w, incidence=i, emission=e, kind=kind)
    back = single_scattering_albedo(r, incidence=i, emission=e, kind=kind)
    np.testing.assert_allclose(back, w, atol=1e-8, rtol=0)


def test_inverse_keeps_shape_and_does_not_mutate():
    r = np.array([[0.1, 0.2], [0.3, 0.4]])
    copy = r.copy()
    assert single_scattering_albedo(r).shape == (2, 2)
    np.testing.assert_array_equal(r, copy)
    np.testing.assert_array_equal(single_scattering_albedo(r.tolist()), single_scattering_albedo(r))


# -------------------------------------------------------------------------------- mixing
def test_mixing_identical_endmembers_gives_the_endmember():
    w = np.linspace(0.05, 0.95, 7)
    mixed = mix_albedo(
        np.stack([w, w, w]), [0.2, 0.5, 0.3], density=[3.3, 3.2, 2.7], grain_size=[10, 50, 100]
    )
    np.testing.assert_allclose(mixed, w, rtol=1e-14)


def test_mixing_limits_and_bounds():
    w = np.array([[0.9, 0.6, 0.3], [0.2, 0.4, 0.1]])
    np.testing.assert_allclose(mix_albedo(w, [1.0, 0.0], density=[3.3, 2.7]), w[0])
    np.testing.assert_allclose(mix_albedo(w, [0.0, 1.0], density=[3.3, 2.7]), w[1])
    several = mix_albedo(w, np.array([[0.3, 0.7], [0.6, 0.4]]), density=[3.3, 2.7])
    assert several.shape == (2, 3)
    assert np.all(several <= w.max(axis=0)) and np.all(several >= w.min(axis=0))


def test_mixing_weights_by_cross_section():
    # Equal masses; the second component is 3x denser -> 1/3 the cross section: F = (3/4, 1/4).
    w = np.array([[0.8], [0.4]])
    assert mix_albedo(w, [0.5, 0.5], density=[1.0, 3.0])[0] == pytest.approx(0.7)
    # Twice the grain size halves the cross section per unit mass.
    f = cross_section_fractions([0.5, 0.5], density=[1.0, 1.0], grain_size=[1.0, 2.0])
    np.testing.assert_allclose(f, [2 / 3, 1 / 3])


def test_intimate_mixture_reflectance_is_not_linear():
    # A bright and a dark component: the mixture is darker than the linear mean (dark wins).
    w = np.array([[0.99], [0.3]])
    r_mix = reflectance(mix_albedo(w, [0.5, 0.5], density=[1.0, 1.0]))[0]
    assert r_mix < reflectance(w).mean()


def test_volume_mass_round_trip():
    v = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    rho = [3.3, 3.4, 2.7]
    np.testing.assert_allclose(mass_to_volume(volume_to_mass(v, rho), rho), v, atol=1e-15)
    # forsterite 3.27 and anorthite 2.76 g/cm3: 50 vol % each -> 54.2 mass % olivine.
    assert volume_to_mass([0.5, 0.5], [3.27, 2.76])[0] == pytest.approx(3.27 / 6.03)


# -------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: reflectance(1.2), r"w: expected single-scattering albedos in \[0, 1\]"),
        (lambda: reflectance([0.1, np.nan]), "w: expected finite"),
        (lambda: reflectance(0.5, incidence=90.0), r"incidence: expected an angle .*\[0, 90\)"),
        (lambda: reflectance(0.5, emission=-1.0), "emission: expected an angle"),
        (lambda: reflectance(0.5, kind="albedo"), "kind: 'albedo' is not one of"),
        (lambda: single_scattering_albedo(1.5), r"reflectance: expected .* clip"),
        (lambda: single_scattering_albedo(-0.1), "reflectance: expected"),
        (lambda: single_scattering_albedo([np.inf]), "reflectance: expected finite"),
        (lambda: h_function(1.5, 0.5), r"x: expected cosines in \[0, 1\]"),
        (lambda: mix_albedo([0.5, 0.5], [1, 1], [1, 1]), "w: expected shape"),
        (lambda: mix_albedo([[0.5], [0.5]], [1, 1, 1], [1, 1, 1]), "expected 2 endmembers"),
        (lambda: mix_albedo([[0.5], [0.5]], [-1, 2], [1, 1]), "non-negative"),
        (lambda: mix_albedo([[0.5], [0.5]], [0, 0], [1, 1]), "at least one positive"),
        (lambda: mix_albedo([[0.5], [0.5]], [1, 1], [1, 0]), "density: expected 2 positive"),
        (lambda: cross_section_fractions([1, 1], [1, 1], [1, -2]), "grain_size: expected"),
        (lambda: mass_to_volume([[[1.0]]], [1.0]), "mass_fractions: expected shape"),
    ],
)
def test_errors_are_one_line_input_errors(call, match):
    with pytest.raises(InputError, match=match) as info:
        call()
    assert "\n" not in str(info.value)
