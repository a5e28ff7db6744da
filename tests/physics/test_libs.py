"""LIBS physics against textbook numbers, independent references and the measured copper minerals.

The atomic data and the measured spectra come from the shared data mirror through the registered
sources (``atomic-lines``, ``libs``), copied into a temporary data folder.
"""

from __future__ import annotations

import csv
import doctest
import json
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.integrate import quad
from scipy.special import voigt_profile

from lithoscope.errors import FormulaError, InputError
from lithoscope.physics import _libs_atomic, _libs_plasma
from lithoscope.physics import libs as L
from lithoscope.spectra.spectrum import Spectrum

K_B_EV = 8.617333262e-5


@pytest.fixture(scope="module")
def isolated_data(shared_data, tmp_path_factory):
    """A data folder of its own for module-scoped fixtures (the autouse one is per test)."""
    from lithoscope.config import get_settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LITHOSCOPE_DATA_DIR", str(tmp_path_factory.mktemp("libs-data")))
        mp.delenv("LITHOSCOPE_MIRROR", raising=False)
        get_settings.cache_clear()
        yield shared_data
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def atomic(isolated_data):
    return L.load_atomic_data(mirror=isolated_data)


@pytest.fixture(scope="module")
def measured(isolated_data):
    """The 12 measured handheld averages and the compositions the authors simulated from."""
    from lithoscope.data.fetch import local_path
    from lithoscope.spectra.io import read_spectra

    def path(name):
        return local_path("libs", name, mirror=isolated_data, progress=False)

    spectra = {
        s.label: s for s in read_spectra(path("pewpew_hh12_average_spectra.csv"), method="libs")
    }
    compositions: dict[str, dict[str, float]] = {}
    with path("pewpew_mineral_compositions_long.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            compositions.setdefault(row["mineral"], {})[row["element"]] = float(
                row["atomic_percent"]
            )
    return spectra, compositions


def nist_row(atomic, element, ion, wavelength):
    idx = atomic.lines_of(element, ion)
    i = idx[np.argmin(np.abs(atomic.wavelength_nm[idx] - wavelength))]
    assert abs(atomic.wavelength_nm[i] - wavelength) < 0.01
    return i


def local_max_near(spectrum, wavelength, reach):
    x, y = spectrum.axis, spectrum.intensities
    lo, hi = np.searchsorted(x, [wavelength - reach, wavelength + reach])
    i = lo + int(np.argmax(y[lo:hi]))
    return i, bool(y[i] > y[i - 1] and y[i] >= y[i + 1])


# ------------------------------------------------------------------------------ atomic data
def test_doctests():
    for module in (_libs_atomic, _libs_plasma):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0


def test_atomic_data_is_cached_and_read_only(atomic, isolated_data):
    assert L.load_atomic_data(mirror=isolated_data) is atomic
    with pytest.raises(ValueError, match="read-only"):
        atomic.aki[0] = 1.0
    assert {"Fe", "Cu", "Si", "H", "As", "Sb"} <= set(atomic.elements)
    assert "D" not in atomic.elements  # deuterium is hydrogen


def test_lines_agree_with_the_curated_rock_forming_subset(atomic, shared_data):
    """Our filter of the full NIST export gives, per species, the curators' count of E1 lines
    with A_ki, and our air wavelengths their column (computed independently of this code)."""
    path = shared_data / "atomic_lines" / "nist_lines_rock_forming_I_II_200-1000nm_with_Aki.csv"
    with path.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["transition_type"] in ("E1", "")]
    counts: dict[tuple[str, int], int] = {}
    for r in rows:
        key = (r["element"], int(r["ion_stage"]))
        counts[key] = counts.get(key, 0) + 1
    for (element, ion), n in counts.items():
        # the 10 hydrogen multiplet totals listed beside their J-resolved components are dropped
        expected = n - (10 if (element, ion) == ("H", 1) else 0)
        assert atomic.lines_of(element, ion).size == expected, (element, ion)
    vac = np.array([float(r["wl_vac_nm"]) for r in rows])
    air = np.array([float(r["wl_air_nm"]) for r in rows])
    assert_allclose(L.vacuum_to_air(vac), air, atol=2e-5)


@pytest.mark.parametrize(
    ("element", "ion", "wavelength", "aki", "gk", "ek"),
    [  # NIST ASD values as printed in textbooks and the ASD web interface
        ("Na", 1, 588.995, 6.16e7, 4, 2.1044),
        ("Na", 1, 589.592, 6.14e7, 2, 2.1023),
        ("Ca", 2, 393.366, 1.47e8, 4, 3.1510),
        ("Ca", 2, 396.847, 1.40e8, 2, 3.1233),
        ("Mg", 2, 279.553, 2.60e8, 4, 4.4338),
        ("Cu", 1, 324.754, 1.395e8, 4, 3.8167),
    ],
)
def test_resonance_lines_have_their_nist_constants(atomic, element, ion, wavelength, aki, gk, ek):
    i = nist_row(atomic, element, ion, wavelength)
    assert_allclose(atomic.aki[i], aki, rtol=0.01)
    assert atomic.gk[i] == gk
    assert_allclose(atomic.ek_ev[i], ek, atol=1e-3)


def test_hydrogen_alpha_is_counted_once(atomic):
    idx = atomic.lines_of("H", 1)
    near = idx[np.abs(atomic.wavelength_nm[idx] - 656.28) < 0.05]
    # the fine-structure components sum to the multiplet: g_k A_ki = 18 x 4.41e7 s^-1
    assert_allclose(np.sum(atomic.gk[near] * atomic.aki[near]), 18 * 4.4101e7, rtol=1e-3)


def test_irwin_parse_matches_the_curated_csv(atomic, shared_data):
    from periodictable import elements

    path = shared_data / "atomic_lines" / "irwin_atoms_v07.3_partition_coeffs.csv"
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(atomic.irwin) == 285
    for r in rows:
        key = (elements[int(r["Z"])].symbol, int(r["ion_stage"]))
        assert_allclose(atomic.irwin[key], [float(r[f"a{i}"]) for i in range(6)], rtol=1e-8)


@pytest.mark.parametrize(
    ("element", "stage", "temperature", "expected", "rtol"),
    [
        ("Fe", 1, 5040.0, 27.9, 0.01),  # Gray, Table D.2 (log U = 1.445 at theta = 1)
        ("Fe", 1, 12500.0, 109.0, 0.01),  # Irwin, as quoted in the mirror's PROVENANCE.md
        ("Na", 1, 12500.0, 10.4, 0.01),
        ("H", 1, 10000.0, 2.0, 0.01),  # ground state g = 2; excited levels negligible
        ("H", 2, 10000.0, 1.0, 1e-12),  # a bare proton
    ],
)
def test_partition_functions(atomic, element, stage, temperature, expected, rtol):
    assert_allclose(atomic.partition_function(element, stage, temperature), expected, rtol=rtol)


def test_unknown_species_in_partition_table(atomic):
    with pytest.raises(InputError, match="not in Irwin's partition-function table"):
        atomic.partition_function("Xx", 1, 10000.0)


# ------------------------------------------------------------------------------ plasma
def test_saha_balance_against_a_hand_calculation(atomic):
    """n_II ne / n_I = 4.829e15 T^1.5 (U_II/U_I) exp(-E_ion / kT) cm^-3 (the textbook constant)."""
    t, ne = 10000.0, 1e17
    plasma = L.plasma_state({"Na": 0.5, "Cl": 0.5}, t, ne, atomic)
    for el in ("Na", "Cl"):
        u1 = atomic.partition_function(el, 1, t)
        u2 = atomic.partition_function(el, 2, t)
        ratio = (
            4.829e15
            * t**1.5
            * (u2 / u1)
            * math.exp(-atomic.ionisation_energy(el, 1) / (K_B_EV * t))
            / ne
        )
        f1, f2, _ = plasma.stages[el]
        assert_allclose(f2 / f1, ratio, rtol=2e-3)
    # charge neutrality closes the balance
    charge = sum(
        c * (plasma.stages[el][1] + 2 * plasma.stages[el][2]) for el, c in plasma.fractions.items()
    )
    assert_allclose(charge * plasma.n_total, ne, rtol=1e-12)
    assert sum(plasma.stages["Na"]) == pytest.approx(1.0)


def test_doublet_ratio_follows_boltzmann(atomic):
    """Optically thin Na D2/D1 = (gA/lambda)_2 / (gA/lambda)_1 exp(-(E2 - E1)/kT), NIST values."""
    t = 9000.0
    sim = L.simulate("NaCl", temperature=t, ne=5e16, continuum=0, atomic=atomic)
    d2 = sim.lines.select("Na", 1)
    i2 = np.argmin(np.abs(d2.wavelength_nm - 588.995))
    i1 = np.argmin(np.abs(d2.wavelength_nm - 589.592))
    expected = (
        (4 * 6.16e7 / 588.995)
        / (2 * 6.14e7 / 589.592)
        * math.exp(-(2.104429 - 2.102297) / (K_B_EV * t))
    )
    assert_allclose(d2.intensity[i2] / d2.intensity[i1], expected, rtol=1e-3)


@pytest.mark.parametrize("tau0", [1e-3, 0.5, 5.0, 50.0, 500.0])
def test_self_absorption_matches_numerical_curve_of_growth(atomic, tau0):
    """Area and FWHM of B(1 - exp(-tau0 L(x))) for a Lorentzian L, by quadrature."""
    gamma = 0.01
    area = quad(lambda x: 1 - math.exp(-tau0 / (1 + (x / gamma) ** 2)), -np.inf, np.inf)[0]
    thin = math.pi * gamma * tau0
    half = (1 - math.exp(-tau0)) / 2
    x_half = gamma * math.sqrt(tau0 / -math.log(1 - half) - 1)
    # the same through the module: a line whose Lorentzian peak optical depth is tau0
    i = np.array([nist_row(atomic, "Cu", 1, 324.754)])
    sigma = np.array([1e-9])  # negligible Doppler: a pure Lorentzian
    g = np.array([gamma])
    # lower-level density that gives tau0 over 1 m
    ref = _libs_plasma.self_absorption(atomic, i, np.ones(1), 10000.0, sigma, g, 1.0)[0][0]
    got_tau, sa, width = _libs_plasma.self_absorption(
        atomic, i, np.full(1, tau0 / ref), 10000.0, sigma, g, 1.0
    )
    assert_allclose(got_tau, tau0, rtol=1e-6)
    assert_allclose(sa, area / thin, rtol=1e-4)
    assert_allclose(width, x_half / gamma, rtol=1e-4)


def test_thin_limit_of_self_absorption(atomic):
    thin = L.simulate("CuFeS2", atomic=atomic)
    faint = L.simulate("CuFeS2", self_absorption=True, path_length=1e-7, atomic=atomic)
    assert_allclose(faint.spectrum.intensities, thin.spectrum.intensities, atol=1e-4)
    thick = L.simulate("CuFeS2", self_absorption=True, path_length=0.1, continuum=0, atomic=atomic)
    cu = thick.lines.select("Cu", 1)
    assert cu.tau0.max() > 10  # the resonance lines are optically thick at 1 mm
    ratio_thin = _ratio(thin.lines, "Cu", 324.754, 521.820)
    ratio_thick = _ratio(thick.lines, "Cu", 324.754, 521.820)
    assert ratio_thick < 0.5 * ratio_thin


def _ratio(lines, element, a, b):
    sel = lines.select(element, 1)
    ia = np.argmin(np.abs(sel.wavelength_nm - a))
    ib = np.argmin(np.abs(sel.wavelength_nm - b))
    return sel.intensity[ia] / sel.intensity[ib]


def test_render_lines_matches_a_brute_force_sum():
    rng = np.random.default_rng(0)
    axis = np.linspace(400.0, 420.0, 4001)
    centre = rng.uniform(401, 419, 60)
    area = rng.uniform(0.1, 1.0, 60)
    sigma = rng.uniform(0.01, 0.1, 60)
    gamma = rng.uniform(0.0, 0.05, 60)
    gamma[0] = 0.8  # a broad hydrogen-like line with long wings
    fast = _libs_plasma.render_lines(axis, centre, area, sigma, gamma, max_cells=1000)
    slow = sum(
        a * voigt_profile(axis - c, s, g)
        for c, a, s, g in zip(centre, area, sigma, gamma, strict=True)
    )
    assert_allclose(fast, slow, atol=0.01 * slow.max())


# ------------------------------------------------------------------------------ simulate
@pytest.mark.parametrize(
    ("formula", "wavelength"),
    [
        ("NaCl", 588.995),  # Na I D2
        ("NaCl", 589.592),  # Na I D1
        ("CaCO3", 393.366),  # Ca II K
        ("CaCO3", 396.847),  # Ca II H
        ("Mg(OH)2", 656.28),  # H-alpha
        ("Mg2SiO4", 279.553),  # Mg II
        ("Mg2SiO4", 280.270),  # Mg II
        ("SiO2", 288.158),  # Si I
        ("Fe2O3", 371.994),  # Fe I
        ("Fe2O3", 373.487),  # Fe I
        ("Fe2O3", 404.581),  # Fe I
    ],
)
def test_textbook_lines_land_where_they_belong(atomic, formula, wavelength):
    spectrum = L.simulate(formula, atomic=atomic).spectrum
    fwhm = spectrum.metadata["fwhm_nm"][0]
    i, is_max = local_max_near(spectrum, wavelength, fwhm)
    assert is_max
    assert abs(spectrum.axis[i] - wavelength) <= 0.1  # the 0.1 nm pixel holding the line


def test_handheld_and_supercam_axes(atomic):
    hand = L.simulate("CaCO3", atomic=atomic).spectrum
    assert hand.method.value == "libs" and hand.unit.value == "wavelength nm"
    assert hand.n_points == 7810
    assert_allclose([hand.axis[0], hand.axis[-1]], [180.0, 960.9])
    assert hand.intensities.max() == pytest.approx(1.0)
    cam = L.simulate("CaCO3", preset="supercam", atomic=atomic).spectrum
    assert cam.n_points == 3 * 2048
    assert np.all(np.diff(cam.axis) > 0) and np.all(np.isfinite(cam.intensities))
    gaps = ((cam.axis > 342) & (cam.axis < 382)) | ((cam.axis > 469) & (cam.axis < 474))
    assert not gaps.any()
    assert cam.metadata["fwhm_nm"] == [0.15, 0.2, 0.6]


def test_resolution_sets_the_line_width(atomic):
    for fwhm in (0.2, 0.5):
        spectrum = L.simulate("NaCl", resolution=fwhm, ne=1e15, continuum=0, atomic=atomic)
        y, x = spectrum.spectrum.intensities, spectrum.spectrum.axis
        sel = (x > 586) & (x < 592)
        above = x[sel][y[sel] >= 0.5 * y[sel].max()]
        # the D2 line's half-maximum points (D1 is 0.6 nm away; 0.1 nm pixels)
        d2 = above[above < 589.3]
        assert d2.max() - d2.min() + 0.1 == pytest.approx(fwhm, abs=0.1)


def test_composition_inputs_agree(atomic):
    from lithoscope.mindb.chemistry import parse_formula

    by_formula = L.simulate("CuFeS2", atomic=atomic).spectrum.intensities
    mapping = {"Cu": 1, "Fe": 1, "S": 2}
    frozen = dict(mapping)
    by_atoms = L.simulate(mapping, atomic=atomic).spectrum.intensities
    assert mapping == frozen  # not mutated
    wt = parse_formula("CuFeS2").element_wt_percent()
    by_mass = L.simulate(wt, basis="mass", atomic=atomic).spectrum.intensities
    assert_allclose(by_atoms, by_formula, atol=1e-12)
    assert_allclose(by_mass, by_formula, atol=1e-9)
    assert L.atom_fractions(parse_formula("Fe2O3")) == pytest.approx({"Fe": 0.4, "O": 0.6})


def test_noise_is_reproducible(atomic):
    a = L.simulate("CaCO3", noise=0.01, random_state=3, atomic=atomic).spectrum.intensities
    b = L.simulate("CaCO3", noise=0.01, random_state=3, atomic=atomic).spectrum.intensities
    c = L.simulate("CaCO3", noise=0.01, random_state=4, atomic=atomic).spectrum.intensities
    assert_allclose(a, b)
    assert not np.allclose(a, c)


def test_continuum_is_smooth_and_scaled(atomic):
    without = L.simulate("CaCO3", continuum=0, atomic=atomic)
    spectrum = L.simulate("CaCO3", continuum=1, atomic=atomic).spectrum
    assert without.spectrum.intensities[:50].max() == 0.0  # 180-185 nm: no line, no continuum
    edge = spectrum.intensities[:50]  # lambda^-2 between 180 and 185 nm
    assert np.all(np.diff(edge) < 0)
    assert_allclose(edge[0] / edge[-1], (184.9 / 180.0) ** 2, rtol=1e-3)


def test_elements_without_lines_are_reported(atomic):
    sim = L.simulate("ZrSiO4", atomic=atomic)
    assert sim.spectrum.metadata["elements_without_lines"] == ["Zr"]
    assert "Zr" not in set(sim.lines.element)


def test_line_list_records(atomic):
    sim = L.simulate("CaCO3", atomic=atomic)
    records = sim.lines.to_records(5)
    assert [r["intensity"] for r in records] == sorted(
        (r["intensity"] for r in records), reverse=True
    )
    assert records[0] == {"element": "Ca", "ion": 2, "wavelength_nm": 393.3663, "intensity": 1.0}
    json.dumps(sim.to_dict(max_lines=10))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"temperature": 50000}, r"temperature 50000 K: expected 1000-16000 K"),
        ({"ne": -1}, r"ne -1 cm\^-3: expected an electron density"),
        ({"preset": "chemcam"}, r"preset 'chemcam' is not one of handheld, supercam"),
        ({"preset": "supercam", "resolution": [0.1, 0.2]}, r"one per spectrometer"),
        ({"path_length": 0}, r"path_length 0 cm: expected a number > 0"),
        ({"basis": "volume"}, r"basis 'volume' is not one of 'atom', 'mass'"),
        ({"noise": -0.1}, r"noise -0.1: expected a number >= 0"),
    ],
)
def test_bad_arguments(atomic, kwargs, match):
    with pytest.raises(InputError, match=match):
        L.simulate("CaCO3", atomic=atomic, **kwargs)


@pytest.mark.parametrize(
    ("composition", "match"),
    [
        ({"Xy": 1.0}, r"'Xy' is not an element symbol"),
        ({"Fe": -1.0}, r"amount of Fe must be finite and >= 0"),
        ({"Fe": 0.0}, r"no element with an amount > 0"),
        (42, r"composition must be a formula string"),
    ],
)
def test_bad_compositions(atomic, composition, match):
    with pytest.raises(InputError, match=match):
        L.simulate(composition, atomic=atomic)


def test_bad_formula(atomic):
    with pytest.raises(FormulaError, match="unknown element 'Xx'"):
        L.simulate("Xx2O3", atomic=atomic)


def test_simulate_random_records_its_draws(atomic):
    first = L.simulate_random("Mg2SiO4", 3, random_state=7, atomic=atomic)
    again = L.simulate_random("Mg2SiO4", 3, random_state=7, atomic=atomic)
    assert len(first) == 3
    for a, b in zip(first, again, strict=True):
        assert_allclose(a.spectrum.intensities, b.spectrum.intensities)
        meta = a.spectrum.metadata
        assert 8000 <= meta["temperature_k"] <= 14000 and 3e16 <= meta["ne_cm3"] <= 3e17
        assert {"shift_nm", "noise", "self_absorption"} <= set(meta)
    temps = {s.spectrum.metadata["temperature_k"] for s in first}
    assert len(temps) == 3
    with pytest.raises(InputError, match="n 0: expected a number of spectra >= 1"):
        L.simulate_random("Mg2SiO4", 0, atomic=atomic)


def test_estimate_response_recovers_a_known_response(atomic):
    """Measured = simulated x a known smooth response: the estimate gives it back."""
    formulas = ["CuFeS2", "CaMgSi2O6", "Fe2O3", "NaAlSi3O8", "TiO2", "Mn3O4", "Cr2O3", "CaCO3"]
    truth = L.Response(np.array([180.0, 400.0, 961.0]), np.array([0.1, 1.0, 0.4]))
    sims = [L.simulate(f, continuum=0, atomic=atomic).spectrum for f in formulas]
    seen = [s.with_intensities(s.intensities * truth(s.axis)) for s in sims]
    knots = np.array([260.0, 320.0, 400.0, 500.0, 600.0])
    got = L.estimate_response(seen, sims, knots=knots, window=30.0)
    expected = truth(knots) / truth(knots).max()
    assert_allclose(got.factor, expected, rtol=0.25)
    with pytest.raises(InputError, match="expected pairs"):
        L.estimate_response(seen, sims[:2])


# ------------------------------------------------------------------------------ Boltzmann
def test_boltzmann_from_a_line_list_is_exact(atomic):
    sim = L.simulate("FeTiO3", temperature=9300.0, atomic=atomic)
    for element, ion in (("Fe", 1), ("Fe", 2), ("Ti", 1), ("Ti", 2)):
        assert L.boltzmann_plot(sim, element, ion).temperature == pytest.approx(9300.0, rel=1e-6)


@pytest.mark.parametrize(
    ("temperature", "preset", "ion"),
    [
        (8000.0, "handheld", 1),
        (10000.0, "handheld", 1),
        (12000.0, "handheld", 2),
        (10000.0, "supercam", 1),
    ],
)
def test_boltzmann_recovers_the_temperature_of_a_spectrum(atomic, temperature, preset, ion):
    spectrum = L.simulate(
        "Fe2O3", temperature=temperature, ne=1e16, preset=preset, atomic=atomic
    ).spectrum
    plot = L.boltzmann_plot(spectrum, "Fe", ion, atomic=atomic)
    assert plot.n_lines >= 3
    assert plot.temperature == pytest.approx(temperature, rel=0.05)
    assert plot.to_dict()["n_lines"] == plot.n_lines


def test_boltzmann_errors(atomic):
    spectrum = L.simulate("NaCl", atomic=atomic).spectrum
    with pytest.raises(InputError, match=r"Boltzmann plot of Cl II: only \d usable lines"):
        L.boltzmann_plot(spectrum, "Cl", 2, atomic=atomic)
    with pytest.raises(InputError, match="ion 3: expected 1"):
        L.boltzmann_plot(spectrum, "Na", 3, atomic=atomic)
    raman = Spectrum([100.0, 200.0, 300.0], [0.0, 1.0, 0.0], method="raman")
    with pytest.raises(InputError, match="needs a wavelength axis in nm"):
        L.boltzmann_plot(raman, "Na", 1, atomic=atomic)


# ------------------------------------------------------------------------------ detection
def test_detects_the_elements_of_a_simulated_feldspar(atomic):
    spectrum = L.simulate(
        "KAlSi3O8", self_absorption=True, temperature=11000, atomic=atomic
    ).spectrum
    result = L.detect_elements(spectrum, atomic=atomic)
    found = {e.element for e in result.elements if not e.ambient}
    assert found == {"K", "Al", "Si"}
    ratios = result.ratios
    assert sum(ratios.values()) == pytest.approx(1.0)
    json.dumps(result.to_dict())


def test_ratios_of_a_simulated_sulfide(atomic):
    spectrum = L.simulate("CuFeS2", self_absorption=True, atomic=atomic).spectrum
    result = L.detect_elements(spectrum, elements=["Cu", "Fe", "Zn", "Ni", "Pb"], atomic=atomic)
    assert result.symbols[:2] in (["Cu", "Fe"], ["Fe", "Cu"])
    assert {"Zn", "Ni", "Pb"}.isdisjoint(result.symbols)
    cu, fe = result.ratios["Cu"], result.ratios["Fe"]
    assert 0.3 < cu / (cu + fe) < 0.7  # the truth is 0.5; semi-quantitative


@pytest.mark.parametrize(
    ("mineral", "present"),
    [
        ("Malachite", {"Cu"}),
        ("Olivenite", {"Cu", "As"}),
        ("Tetrahedrite", {"Cu", "Sb", "Zn", "Fe"}),
    ],
)
def test_detects_formula_elements_in_measured_spectra(atomic, measured, mineral, present):
    spectra, _ = measured
    result = L.detect_elements(spectra[mineral], atomic=atomic)
    scores = {e.element: e for e in result.elements}
    for element in present:
        assert scores[element].confidence >= 0.9, element
    # the handheld's argon purge is in every spectrum; it is flagged as ambient, without ratio
    assert scores["Ar"].ambient and scores["Ar"].ratio is None
    assert {"Ti", "Ni", "Cr", "V", "U"}.isdisjoint(scores)


def test_copper_minerals_correlate_better_than_the_authors_synthetics(
    atomic, measured, shared_data
):
    """Our simulation (one setting for all) beats the authors' NIST-derived spectra on r."""
    from lithoscope.spectra.io import read_spectra

    spectra, compositions = measured
    path = shared_data / "libs" / "pewpew_synthetic12_average_spectra.csv"
    theirs = {s.label: s for s in read_spectra(path, method="libs")}
    ours_r, theirs_r = [], []
    for name, m in spectra.items():
        sim = L.simulate(
            compositions[name.lower()],
            temperature=8000,
            self_absorption=True,
            continuum=0,
            atomic=atomic,
        ).spectrum.resample(m.axis)
        ours_r.append(np.corrcoef(m.intensities, sim.intensities)[0, 1])
        theirs_r.append(np.corrcoef(m.intensities, theirs[name].intensities)[0, 1])
    assert np.mean(ours_r) > 0.2
    assert np.mean(ours_r) > 2 * np.mean(theirs_r)


def test_detection_errors(atomic):
    raman = Spectrum([100.0, 200.0, 300.0], [0.0, 1.0, 0.0], method="raman")
    with pytest.raises(InputError, match="needs a wavelength axis in nm"):
        L.detect_elements(raman, atomic=atomic)
    spectrum = L.simulate("NaCl", atomic=atomic).spectrum
    with pytest.raises(InputError, match="no lines in the atomic data for Zz"):
        L.detect_elements(spectrum, elements=["Na", "Zz"], atomic=atomic)
    with pytest.raises(InputError, match="prior 1.5: expected a probability"):
        L.detect_elements(spectrum, prior=1.5, atomic=atomic)
    with pytest.raises(InputError, match="fwhm -1: expected a line width > 0 nm"):
        L.detect_elements(spectrum, fwhm=-1, atomic=atomic)


def test_nothing_detected_in_a_flat_spectrum(atomic):
    flat = Spectrum(np.linspace(200, 900, 5000), np.ones(5000), method="libs")
    result = L.detect_elements(flat, atomic=atomic)
    assert result.elements == [] and result.n_peaks == 0
