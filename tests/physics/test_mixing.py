"""Linear Raman mixing: analytic cases, the inverse, the efficiency table and the batch."""

from __future__ import annotations

import numpy as np
import pytest

from lithoscope.errors import InputError
from lithoscope.physics.mixing import (
    efficiencies_for,
    linear_mixture,
    mixture_batch,
    raman_efficiencies,
    signal_fractions,
    volume_fractions,
)

RNG_SEED = 3


def _pure(k: int = 3, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """k Gaussian bands of unit height at different positions (an analytic stand-in)."""
    x = np.linspace(100.0, 1400.0, n)
    centres = np.linspace(300.0, 1200.0, k)
    return np.exp(-0.5 * ((x[None, :] - centres[:, None]) / 8.0) ** 2), x


def test_one_component_returns_it():
    S, _ = _pure()
    out = linear_mixture(S, [[0.0, 1.0, 0.0]])
    np.testing.assert_allclose(out[0], S[1], rtol=0, atol=1e-12)


def test_linearity_in_abundances():
    S, _ = _pure()
    a, b = np.array([0.2, 0.5, 0.3]), np.array([0.6, 0.1, 0.3])
    lhs = linear_mixture(S, [0.4 * a + 0.6 * b])
    rhs = 0.4 * linear_mixture(S, [a]) + 0.6 * linear_mixture(S, [b])
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12)


def test_efficiencies_scale_band_heights():
    S, _ = _pure()
    out = linear_mixture(S, [[0.5, 0.5, 0.0]], efficiencies=[1.0, 0.25, 1.0])
    # separated bands: each band's height is phi * eta
    i, j = S[0].argmax(), S[1].argmax()
    np.testing.assert_allclose(out[0, i], 0.5 * S[0, i], atol=1e-9)
    np.testing.assert_allclose(out[0, j], 0.125 * S[1, j], atol=1e-9)


def test_densities_turn_per_mass_into_per_volume():
    S, _ = _pure(2)
    out = linear_mixture(S, [[0.5, 0.5]], efficiencies=[1.0, 1.0], densities=[2.0, 4.0])
    np.testing.assert_allclose(out, linear_mixture(S, [[1.0, 2.0]]), atol=1e-12)


def test_per_mixture_spectra():
    S, _ = _pure(2)
    stacked = np.stack([S, S[::-1]])
    out = linear_mixture(stacked, [[1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(out, [S[0], S[1]], atol=1e-12)


def test_volume_fractions_invert_signal_fractions():
    phi = np.array([[0.2, 0.5, 0.3], [0.0, 0.9, 0.1]])
    eff = np.array([1.0, 0.3, 0.7])
    signal = signal_fractions(phi, eff)
    np.testing.assert_allclose(signal.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(volume_fractions(signal, eff), phi, rtol=1e-12, atol=1e-12)
    # 0.2*1 : 0.5*0.3 : 0.3*0.7 by hand
    np.testing.assert_allclose(signal[0], np.array([0.2, 0.15, 0.21]) / 0.56, rtol=1e-12)


def test_volume_fractions_zero_row_stays_zero():
    assert volume_fractions([[0.0, 0.0]]).tolist() == [[0.0, 0.0]]


def test_inputs_not_mutated():
    S, _ = _pure()
    phi = np.array([[0.2, 0.5, 0.3]])
    S0, phi0 = S.copy(), phi.copy()
    linear_mixture(S, phi, [1.0, 0.5, 0.2])
    mixture_batch(S, phi, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(S, S0)
    np.testing.assert_array_equal(phi, phi0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"abundances": [[0.5, 0.5]]}, "abundances must have shape"),
        ({"abundances": [[-0.1, 0.6, 0.5]]}, "volume fractions >= 0"),
        ({"abundances": [[0.3, 0.3, 0.4]], "efficiencies": [1.0, 0.0, 1.0]}, "efficiencies"),
        ({"abundances": [[0.3, 0.3, 0.4]], "densities": [1.0, 2.0]}, "densities"),
    ],
)
def test_errors(kwargs, match):
    S, _ = _pure()
    with pytest.raises(InputError, match=match):
        linear_mixture(S, **kwargs)


def test_bad_spectra_shape():
    with pytest.raises(InputError, match="spectra must have shape"):
        linear_mixture(np.ones(5), [[1.0]])


def test_table_has_quartz_reference_and_sources():
    table = raman_efficiencies()
    assert table["quartz"].efficiency == 1.0
    assert table["quartz"].status == "reference"
    for row in table.values():
        assert row.source.strip()
        assert 0 < row.efficiency <= 1.0


def test_efficiencies_species_then_group_then_default():
    eff, status = efficiencies_for(
        ["Quartz", "Enstatite", "Unobtainium"], {"Enstatite": "orthopyroxene"}
    )
    assert eff.tolist() == [1.0, raman_efficiencies()["orthopyroxene"].efficiency, 1.0]
    assert status == ["reference", "assumed", "unmeasured"]


def test_mixture_batch_clean_equals_normalised_linear_mixture():
    S, x = _pure()
    phi = np.array([[0.2, 0.5, 0.3], [0.6, 0.4, 0.0]])
    out = mixture_batch(
        S,
        phi,
        x,
        efficiencies=[1.0, 0.5, 0.2],
        rng=np.random.default_rng(RNG_SEED),
        shift=0.0,
        stretch=0.0,
        band_amount=0.0,
        baseline=0.0,
        shot=(0.0, 0.0),
        read=(0.0, 0.0),
    )
    ref = linear_mixture(S, phi, [1.0, 0.5, 0.2])
    np.testing.assert_allclose(out, ref / ref.max(axis=1, keepdims=True), atol=1e-12)


def test_mixture_batch_is_seeded_and_varies():
    S, x = _pure()
    phi = np.full((4, 3), 1 / 3)
    a = mixture_batch(S, phi, x, rng=np.random.default_rng(1))
    b = mixture_batch(S, phi, x, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (4, S.shape[1])
    assert np.abs(a.max(axis=1) - 1.0).max() < 1e-12
    assert not np.allclose(a[0], a[1])


def test_mixture_batch_efficiency_shape_error():
    S, x = _pure()
    with pytest.raises(InputError, match="efficiencies must be > 0"):
        mixture_batch(S, [[0.5, 0.5, 0.0]], x, efficiencies=[1.0, 1.0], rng=np.random.default_rng())


# ---------------------------------------------------------------------- LIBS of mixtures
def test_bulk_composition_weighs_minerals_by_mass():
    from lithoscope.physics.mixing import bulk_composition

    # forsterite Mg2SiO4 (3.27 g/cm3) and anorthite CaAl2Si2O8 (2.76 g/cm3), 50:50 by volume
    comp = bulk_composition(["Mg2SiO4", "CaAl2Si2O8"], [0.5, 0.5], [3.27, 2.76])
    w_fo = 0.5 * 3.27 / (0.5 * 3.27 + 0.5 * 2.76)
    mg_in_fo = 2 * 24.305 / (2 * 24.305 + 28.0855 + 4 * 15.999) * 100
    ca_in_an = 40.078 / (40.078 + 2 * 26.9815 + 2 * 28.0855 + 8 * 15.999) * 100
    assert comp["Mg"] == pytest.approx(w_fo * mg_in_fo, rel=1e-3)
    assert comp["Ca"] == pytest.approx((1 - w_fo) * ca_in_an, rel=1e-3)
    assert sum(comp.values()) == pytest.approx(100.0, abs=1e-6)


@pytest.mark.parametrize(
    ("phi", "rho", "match"),
    [
        ([0.5], [3.0, 3.0], "one entry per mineral"),
        ([-0.1, 1.1], [3.0, 3.0], "volume_fractions must be >= 0"),
        ([0.5, 0.5], [3.0, 0.0], "densities must be > 0"),
    ],
)
def test_bulk_composition_errors(phi, rho, match):
    from lithoscope.physics.mixing import bulk_composition

    with pytest.raises(InputError, match=match):
        bulk_composition(["SiO2", "MgO"], phi, rho)


def test_libs_of_a_mixture_shows_both_minerals_lines(shared_data):
    from lithoscope.physics.libs import load_atomic_data, simulate
    from lithoscope.physics.mixing import bulk_composition

    atomic = load_atomic_data(mirror=shared_data)

    def line_height(sim, wavelength):
        x, y = sim.spectrum.axis, sim.spectrum.intensities
        near = np.abs(x - wavelength) < 0.3
        return float(y[near].max())

    troctolite = bulk_composition(["Mg2SiO4", "CaAl2Si2O8"], [0.3, 0.7], [3.27, 2.76])
    dunite = bulk_composition(["Mg2SiO4", "CaAl2Si2O8"], [0.95, 0.05], [3.27, 2.76])
    a = simulate(troctolite, basis="mass", atomic=atomic)
    b = simulate(dunite, basis="mass", atomic=atomic)
    # Ca II 393.37 nm relative to Mg I 285.21 nm grows with the plagioclase share
    ratio_a = line_height(a, 393.37) / line_height(a, 285.21)
    ratio_b = line_height(b, 393.37) / line_height(b, 285.21)
    assert ratio_a > 3 * ratio_b
