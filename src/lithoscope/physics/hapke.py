"""Hapke reflectance of particulate surfaces and intimate mixing through single-scattering albedo.

In a particulate surface (a regolith, a powdered rock, a meteorite ground for the laboratory)
light is scattered by many grains before it leaves, so the reflectance of a mixture is not the
area-weighted mean of its endmembers' reflectances. Hapke's radiative-transfer model relates the
reflectance to the grains' single-scattering albedo ``w``; in an intimate mixture the albedos,
not the reflectances, mix linearly, weighted by each component's geometric cross section
(Hapke 1981; Mustard & Pieters 1989).

This module implements the isotropic-scatterer case with the opposition effect off (the usual
choice for laboratory spectra measured away from zero phase, such as RELAB's i = 30 deg,
e = 0 deg):

.. math::

    r(i, e) = \\frac{w}{4\\pi} \\frac{\\mu_0}{\\mu_0 + \\mu} H(\\mu_0, w) H(\\mu, w),
    \\qquad \\mu_0 = \\cos i, \\ \\mu = \\cos e

with the H-function in Hapke's (2002) improved approximation (relative error below 1 % for every
``w``). Three reflectance quantities are offered, as in Hapke (2012, ch. 10): the
bidirectional reflectance ``r`` (sr-1), the radiance factor ``RADF = pi r`` and the reflectance
factor ``REFF = pi r / mu0``. Laboratory spectra measured against a white standard (RELAB,
USGS) are reflectance factors.

| function | what |
|---|---|
| `h_function` | Chandrasekhar's H-function, Hapke (2002) approximation |
| `reflectance` | ``w`` -> r, RADF or REFF for given angles |
| `single_scattering_albedo` | its inverse, by bisection on ``gamma = sqrt(1 - w)`` |
| `mix_albedo` | intimate mixture's ``w`` from mass fractions, densities, grain sizes |
| `cross_section_fractions` | mass fractions -> relative geometric cross sections |
| `mass_to_volume`, `volume_to_mass` | vol % <-> mass % |

References
----------
* Hapke B. (1981) Bidirectional reflectance spectroscopy 1. Theory. J. Geophys. Res. 86:3039.
* Hapke B. (2002) Bidirectional reflectance spectroscopy 5. The coherent backscatter opposition
  effect and anisotropic scattering. Icarus 157:523-534 (eq. 13, the H-function approximation).
* Hapke B. (2012) Theory of Reflectance and Emittance Spectroscopy, 2nd ed., Cambridge
  University Press (1st ed. 1993).
* Mustard J.F. & Pieters C.M. (1989) Photometric phase functions of common geologic minerals
  and applications to quantitative analysis of mineral mixture reflectance spectra.
  J. Geophys. Res. 94:13619-13634.
* Chandrasekhar S. (1960) Radiative Transfer, Dover (Table XI: the exact H-function).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from lithoscope.errors import InputError

__all__ = [
    "KINDS",
    "RELAB_EMISSION",
    "RELAB_INCIDENCE",
    "cross_section_fractions",
    "h_function",
    "mass_to_volume",
    "mix_albedo",
    "reflectance",
    "single_scattering_albedo",
    "volume_to_mass",
]

#: RELAB's standard bidirectional geometry, degrees.
RELAB_INCIDENCE = 30.0
RELAB_EMISSION = 0.0

#: Reflectance quantities: bidirectional reflectance (sr-1), radiance factor, reflectance factor.
KINDS = ("bidirectional", "radiance_factor", "reflectance_factor")
Kind = Literal["bidirectional", "radiance_factor", "reflectance_factor"]

_BISECTIONS = 64  # halves [0, 1] below the float64 spacing near 1


def _albedo(w: npt.ArrayLike, name: str = "w") -> np.ndarray:
    arr = np.asarray(w, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name}: expected finite single-scattering albedos, got NaN or inf")
    if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
        raise InputError(
            f"{name}: expected single-scattering albedos in [0, 1], got values in "
            f"[{arr.min():.4g}, {arr.max():.4g}]"
        )
    return arr


def _cosine(angle: float, name: str) -> float:
    angle = float(angle)
    if not np.isfinite(angle) or not 0.0 <= angle < 90.0:
        raise InputError(f"{name}: expected an angle in degrees in [0, 90), got {angle!r}")
    return float(np.cos(np.deg2rad(angle)))


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise InputError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    return kind


def _h_gamma(x: np.ndarray | float, gamma: np.ndarray) -> np.ndarray:
    """H(x) written in gamma = sqrt(1 - w), smooth in gamma up to the conservative case."""
    w = 1.0 - gamma**2
    r0 = (1.0 - gamma) / (1.0 + gamma)
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = np.where(x > 0.0, np.log1p(1.0 / np.where(x > 0.0, x, 1.0)), 0.0)
        inner = r0 + 0.5 * (1.0 - 2.0 * r0 * x) * log_term
        # x * log((1 + x) / x) -> 0 as x -> 0, so H(0) = 1.
        return 1.0 / (1.0 - w * np.where(x > 0.0, x * inner, 0.0))


def h_function(x: npt.ArrayLike, w: npt.ArrayLike) -> np.ndarray:
    """Chandrasekhar's H-function for isotropic scatterers, Hapke's (2002) approximation.

    .. math::

        H(x) \\approx \\left[1 - w x \\left(r_0 + \\frac{1 - 2 r_0 x}{2}
        \\ln\\frac{1 + x}{x}\\right)\\right]^{-1}, \\quad
        r_0 = \\frac{1 - \\gamma}{1 + \\gamma}, \\ \\gamma = \\sqrt{1 - w}

    Its relative error is below 1 % for every ``w`` (Hapke 2002, eq. 13).

    Parameters
    ----------
    x : array_like
        Cosine of the incidence or emission angle, in [0, 1].
    w : array_like
        Single-scattering albedo in [0, 1]; broadcast against `x`.

    Returns
    -------
    numpy.ndarray
        H(x, w), >= 1.

    Raises
    ------
    InputError
        If `x` or `w` lies outside [0, 1] or is not finite.

    Examples
    --------
    >>> float(h_function(1.0, 1.0))  # exact (Chandrasekhar 1960): 2.9078
    2.885...
    >>> float(h_function(0.0, 0.7))
    1.0
    """
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)) or (x.size and (x.min() < 0.0 or x.max() > 1.0)):
        raise InputError("x: expected cosines in [0, 1]; pass cos(angle), not the angle")
    gamma = np.sqrt(1.0 - _albedo(w))
    return _h_gamma(x, gamma)


def _reflectance_gamma(gamma: np.ndarray, mu0: float, mu: float, kind: str) -> np.ndarray:
    w = 1.0 - gamma**2
    radf = 0.25 * w * mu0 / (mu0 + mu) * _h_gamma(mu0, gamma) * _h_gamma(mu, gamma)
    if kind == "radiance_factor":
        return radf
    if kind == "reflectance_factor":
        return radf / mu0
    return radf / np.pi


def reflectance(
    w: npt.ArrayLike,
    *,
    incidence: float = RELAB_INCIDENCE,
    emission: float = RELAB_EMISSION,
    kind: Kind = "reflectance_factor",
) -> np.ndarray:
    """Reflectance of a semi-infinite medium of isotropic scatterers (no opposition effect).

    .. math::

        r = \\frac{w}{4\\pi}\\frac{\\mu_0}{\\mu_0 + \\mu} H(\\mu_0) H(\\mu), \\quad
        \\mathrm{RADF} = \\pi r, \\quad \\mathrm{REFF} = \\pi r / \\mu_0

    Parameters
    ----------
    w : array_like
        Single-scattering albedo in [0, 1], any shape.
    incidence, emission : float
        Incidence and emission angles in degrees, in [0, 90). Default: RELAB's 30 and 0.
    kind : {"reflectance_factor", "radiance_factor", "bidirectional"}
        REFF (what laboratory spectra against a white standard are), RADF or r in sr-1.

    Returns
    -------
    numpy.ndarray
        Same shape as `w`.

    Raises
    ------
    InputError
        For albedos outside [0, 1], angles outside [0, 90) or an unknown `kind`.

    Examples
    --------
    >>> float(reflectance(0.0))
    0.0
    >>> round(float(reflectance(1.0, incidence=0.0)), 3)  # w = 1 at normal incidence
    1.041
    """
    gamma = np.sqrt(1.0 - _albedo(w))
    mu0, mu = _cosine(incidence, "incidence"), _cosine(emission, "emission")
    return _reflectance_gamma(gamma, mu0, mu, _kind(kind))


def single_scattering_albedo(
    reflectance: npt.ArrayLike,
    *,
    incidence: float = RELAB_INCIDENCE,
    emission: float = RELAB_EMISSION,
    kind: Kind = "reflectance_factor",
) -> np.ndarray:
    """Single-scattering albedo ``w`` from reflectance: the inverse of `reflectance`.

    Reflectance grows monotonically with ``w``; it is smooth in ``gamma = sqrt(1 - w)`` (not in
    ``w``, whose derivative diverges at ``w = 1``), so ``gamma`` is found by vectorised bisection
    on [0, 1] to float64 resolution. Every element is solved independently.

    Parameters
    ----------
    reflectance : array_like
        Reflectance of the kind `kind`, any shape, between 0 and its value at ``w = 1`` for the
        geometry (about 1.0 as REFF at RELAB's geometry).
    incidence, emission : float
        Angles in degrees, in [0, 90). Default: RELAB's 30 and 0.
    kind : {"reflectance_factor", "radiance_factor", "bidirectional"}
        What `reflectance` is.

    Returns
    -------
    numpy.ndarray
        ``w`` in [0, 1], same shape as `reflectance`.

    Raises
    ------
    InputError
        For non-finite or negative values, values above the reflectance of ``w = 1`` (the
        message gives that maximum; rescale or clip the data first), bad angles or `kind`.

    Examples
    --------
    >>> w = single_scattering_albedo([0.1, 0.5])
    >>> np.allclose(reflectance(w), [0.1, 0.5], atol=1e-12)
    True
    """
    kind = _kind(kind)
    mu0, mu = _cosine(incidence, "incidence"), _cosine(emission, "emission")
    y = np.asarray(reflectance, dtype=np.float64)
    if not np.all(np.isfinite(y)):
        raise InputError("reflectance: expected finite values, got NaN or inf")
    top = float(_reflectance_gamma(np.zeros(1), mu0, mu, kind)[0])
    if y.size and (y.min() < 0.0 or y.max() > top):
        raise InputError(
            f"reflectance: expected {kind} values in [0, {top:.6g}] (the value of w = 1 at "
            f"i={incidence:g}, e={emission:g} deg), got [{y.min():.6g}, {y.max():.6g}]; "
            "rescale or clip the spectrum first"
        )
    # Reflectance falls as gamma rises: keep lo at reflectance >= y, hi at reflectance <= y.
    lo = np.zeros_like(y)
    hi = np.ones_like(y)
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        above = _reflectance_gamma(mid, mu0, mu, kind) >= y
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    gamma = 0.5 * (lo + hi)
    return np.clip(1.0 - gamma**2, 0.0, 1.0)


def _positive(values: npt.ArrayLike, name: str, n: int) -> np.ndarray:
    arr = np.broadcast_to(np.asarray(values, dtype=np.float64), (n,)).copy()
    if not np.all(np.isfinite(arr)) or arr.min() <= 0.0:
        raise InputError(f"{name}: expected {n} positive finite values, got {arr.tolist()}")
    return arr


def _fractions(fractions: npt.ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(fractions, dtype=np.float64)
    if arr.ndim not in (1, 2) or arr.shape[-1] == 0:
        raise InputError(
            f"{name}: expected shape (n_endmembers,) or (n_mixtures, n_endmembers), got {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or arr.min() < 0.0:
        raise InputError(f"{name}: expected non-negative finite fractions")
    total = arr.sum(axis=-1)
    if np.any(total <= 0.0):
        raise InputError(f"{name}: every mixture needs at least one positive fraction")
    return arr


def cross_section_fractions(
    mass_fractions: npt.ArrayLike,
    density: npt.ArrayLike,
    grain_size: npt.ArrayLike = 1.0,
) -> np.ndarray:
    """Relative geometric cross sections ``F_j`` of the components of an intimate mixture.

    .. math::

        F_j = \\frac{M_j / (\\rho_j D_j)}{\\sum_k M_k / (\\rho_k D_k)}

    (Mustard & Pieters 1989, eq. 5): spheres of diameter ``D`` and density ``rho`` present
    ``3 M / (2 rho D)`` of cross section per unit mass.

    Parameters
    ----------
    mass_fractions : array_like, shape (n_endmembers,) or (n_mixtures, n_endmembers)
        Mass fractions ``M_j`` (normalised here, so any positive scale works).
    density : array_like, shape (n_endmembers,)
        Densities ``rho_j`` (any one unit, e.g. g cm-3).
    grain_size : array_like, shape (n_endmembers,) or scalar
        Grain diameters ``D_j`` (any one unit). Default 1: equal grains.

    Returns
    -------
    numpy.ndarray
        ``F``, same shape as `mass_fractions`, summing to 1 along the last axis.

    Raises
    ------
    InputError
        For negative or all-zero fractions, non-positive densities or grain sizes.

    Examples
    --------
    >>> cross_section_fractions([0.5, 0.5], density=[3.3, 2.7]).round(4)
    array([0.45, 0.55])
    """
    m = _fractions(mass_fractions, "mass_fractions")
    n = m.shape[-1]
    weight = m / (_positive(density, "density", n) * _positive(grain_size, "grain_size", n))
    return weight / weight.sum(axis=-1, keepdims=True)


def mix_albedo(
    w: npt.ArrayLike,
    mass_fractions: npt.ArrayLike,
    density: npt.ArrayLike,
    grain_size: npt.ArrayLike = 1.0,
) -> np.ndarray:
    """Single-scattering albedo of an intimate mixture (Hapke 1981; Mustard & Pieters 1989).

    .. math::

        w_{mix} = \\frac{\\sum_j M_j w_j / (\\rho_j D_j)}{\\sum_j M_j / (\\rho_j D_j)}

    Parameters
    ----------
    w : array_like, shape (n_endmembers, n_wavelengths)
        Endmember single-scattering albedos.
    mass_fractions : array_like, shape (n_endmembers,) or (n_mixtures, n_endmembers)
        Mass fractions (normalised here).
    density : array_like, shape (n_endmembers,)
        Densities.
    grain_size : array_like, shape (n_endmembers,) or scalar
        Grain diameters. Default 1: equal grains.

    Returns
    -------
    numpy.ndarray
        Shape (n_wavelengths,) for one mixture, (n_mixtures, n_wavelengths) for several.

    Raises
    ------
    InputError
        For albedos outside [0, 1], mismatched shapes or invalid fractions, densities or sizes.

    Examples
    --------
    >>> mix_albedo([[0.9, 0.8], [0.5, 0.4]], [1.0, 1.0], density=[1.0, 1.0])
    array([0.7, 0.6])
    """
    w = _albedo(w)
    if w.ndim != 2:
        raise InputError(f"w: expected shape (n_endmembers, n_wavelengths), got {w.shape}")
    f = cross_section_fractions(mass_fractions, density, grain_size)
    if f.shape[-1] != w.shape[0]:
        raise InputError(
            f"mass_fractions: expected {w.shape[0]} endmembers (rows of w), got {f.shape[-1]}"
        )
    return f @ w


def mass_to_volume(mass_fractions: npt.ArrayLike, density: npt.ArrayLike) -> np.ndarray:
    """Volume fractions from mass fractions: ``V_j = (M_j / rho_j) / sum_k (M_k / rho_k)``.

    Parameters
    ----------
    mass_fractions : array_like, shape (n_components,) or (n_samples, n_components)
    density : array_like, shape (n_components,)

    Returns
    -------
    numpy.ndarray
        Volume fractions summing to 1 along the last axis.

    Examples
    --------
    >>> mass_to_volume([0.5, 0.5], [3.0, 1.0]).round(3)
    array([0.25, 0.75])
    """
    m = _fractions(mass_fractions, "mass_fractions")
    v = m / _positive(density, "density", m.shape[-1])
    return v / v.sum(axis=-1, keepdims=True)


def volume_to_mass(volume_fractions: npt.ArrayLike, density: npt.ArrayLike) -> np.ndarray:
    """Mass fractions from volume fractions: ``M_j = V_j rho_j / sum_k V_k rho_k``.

    Parameters
    ----------
    volume_fractions : array_like, shape (n_components,) or (n_samples, n_components)
    density : array_like, shape (n_components,)

    Returns
    -------
    numpy.ndarray
        Mass fractions summing to 1 along the last axis.

    Examples
    --------
    >>> volume_to_mass([0.25, 0.75], [3.0, 1.0]).round(3)
    array([0.5, 0.5])
    """
    v = _fractions(volume_fractions, "volume_fractions")
    m = v * _positive(density, "density", v.shape[-1])
    return m / m.sum(axis=-1, keepdims=True)
