"""LIBS plasma emission under local thermodynamic equilibrium, Boltzmann plots, element detection.

A laser-induced plasma is modelled as one homogeneous layer in local thermodynamic equilibrium
(LTE) at temperature ``T`` and electron density ``ne``:

1. **Composition**: atom fractions from a formula (via `lithoscope.mindb.chemistry.parse_formula`:
   atoms per formula unit), from a parsed `Formula`, or from a mapping element -> amount read as
   atom fractions (``basis='atom'``, the default) or as wt% (``basis='mass'``).
2. **Saha balance** of stages I, II and III of every element at ``ne`` (no lowering of the
   ionisation energy); the heavy-particle density follows from charge neutrality
   (``ne = sum n_II + 2 sum n_III``; ambient gas is not added unless it is in the composition).
3. **Boltzmann populations** with Irwin's partition functions ``U(T)``: a line of stage ``s``
   emits ``I = L (hc/4 pi lambda) A_ki g_k exp(-E_k/kT) / U_s(T) n_s`` (W m⁻² sr⁻¹; ``L`` the
   path length). Lines: NIST ASD, stages I and II, with A_ki, g_k, E_k; air wavelengths.
4. **Profiles**: Voigt (`scipy.special.voigt_profile`) of a Lorentzian Stark width (H-alpha and
   H-beta from Gigosos et al. 2003; other lines a documented default, see
   `lithoscope.physics._libs_plasma.stark_fwhm_nm`) and a Gaussian of the thermal Doppler
   width and the instrument's resolution (FWHM).
5. **Continuum**: free-free + free-bound of Cremers & Radziemski with unit Biberman and Gaunt
   factors: a smooth ``lambda^-2`` term proportional to ``ne sum z^2 n_z / sqrt(T)``
   (``continuum=0`` for gated or baseline-corrected spectra).
6. **Self-absorption** (optional): each line's peak optical depth over the path length, its
   area scaled by the Ladenburg-Reiche curve of growth and its width by the exact FWHM of a
   saturated Lorentzian; blends do not absorb each other's light.
7. **Instrument**: a preset axis (`PRESETS`) with per-spectrometer resolution (a pixel's width
   adds its variance), an optional spectral response (`estimate_response`), the spectrum
   scaled to a maximum of 1, optional Gaussian noise (`noise`). `simulate_random` draws
   plasma and instrument conditions for training data.

Analysis under the same model: `boltzmann_plot` (temperature from the lines of one species)
and `detect_elements` (elements by line matching, with a confidence each, and
calibration-free ratios).

The atomic data (`load_atomic_data`) are read once per process from the registered data source
``atomic-lines`` (a mirror, verified by sha256).

Examples
--------
>>> from lithoscope.physics import libs                                 # doctest: +SKIP
>>> sim = libs.simulate("CuFeS2", temperature=10000, ne=1e17, preset="handheld")  # doctest: +SKIP
>>> sim.spectrum                                                        # doctest: +SKIP
<Spectrum libs 7810 points 180-960.9 wavelength nm>
>>> round(libs.boltzmann_plot(sim.lines, "Fe").temperature)             # doctest: +SKIP
10000
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from lithoscope.errors import InputError
from lithoscope.physics._libs_atomic import (
    ATOMIC_SOURCE,
    IRWIN_RANGE_K,
    K_B_EV,
    AtomicData,
    load_atomic_data,
    vacuum_to_air,
)
from lithoscope.physics._libs_plasma import (
    STARK_REFERENCE_FWHM_NM,
    PlasmaState,
    atom_fractions,
    check_plasma,
    continuum_radiance,
    doppler_sigma_nm,
    gaussian_sigma,
    line_radiance,
    plasma_state,
    render_lines,
    self_absorption,
    stark_fwhm_nm,
)
from lithoscope.spectra.spectrum import Spectrum

__all__ = [
    "ATOMIC_SOURCE",
    "PRESETS",
    "STARK_REFERENCE_FWHM_NM",
    "AtomicData",
    "BoltzmannPlot",
    "Channel",
    "DetectedElement",
    "ElementDetection",
    "LibsSimulation",
    "LineList",
    "PlasmaState",
    "Preset",
    "Response",
    "atom_fractions",
    "boltzmann_plot",
    "detect_elements",
    "estimate_response",
    "get_preset",
    "load_atomic_data",
    "plasma_state",
    "simulate",
    "simulate_random",
    "vacuum_to_air",
]

_MARGIN_NM = 5.0  # lines this far outside the axis still reach it with their wings


# ------------------------------------------------------------------------------ instrument
@dataclass(frozen=True)
class Channel:
    """One spectrometer: an evenly sampled wavelength range and its resolution.

    Parameters
    ----------
    start_nm, stop_nm : float
        First and last pixel, nm (air).
    n_points : int
        Number of pixels.
    fwhm_nm : float
        Instrumental resolution (Gaussian FWHM), nm.
    """

    start_nm: float
    stop_nm: float
    n_points: int
    fwhm_nm: float

    def axis(self) -> np.ndarray:
        return np.linspace(self.start_nm, self.stop_nm, self.n_points)


@dataclass(frozen=True)
class Preset:
    """An instrument layout: one or more spectrometers (channels) side by side.

    The spectrum's axis is the channels' pixels one after the other; wavelengths in the gaps
    between channels have no pixel (no zeros, no NaN), so a `Spectrum` on this axis has points
    only where the instrument measures. Resample with ``outside='zero'`` to put it on a
    continuous grid.
    """

    name: str
    description: str
    channels: tuple[Channel, ...]

    def axis(self) -> np.ndarray:
        """All pixels, strictly increasing."""
        return np.concatenate([c.axis() for c in self.channels])

    def fwhm(self, resolution: float | Sequence[float] | None) -> tuple[float, ...]:
        """Resolution per channel: the preset's, one value for all, or one per channel."""
        if resolution is None:
            return tuple(c.fwhm_nm for c in self.channels)
        values = np.atleast_1d(np.asarray(resolution, dtype=np.float64))
        if values.size == 1:
            values = np.repeat(values, len(self.channels))
        if values.shape != (len(self.channels),) or not np.all(np.isfinite(values)):
            raise InputError(
                f"resolution {resolution!r}: expected one FWHM in nm, or one per spectrometer "
                f"of preset {self.name!r} ({len(self.channels)})"
            )
        if np.any(values <= 0):
            raise InputError(f"resolution {resolution!r}: FWHM must be > 0 nm")
        return tuple(float(v) for v in values)


#: Instrument presets by name. ``handheld``: one 180-960.9 nm axis in 0.1 nm steps (the grid of
#: the libs-pewpew handheld averages) at 0.2 nm FWHM, the median width of isolated lines in
#: those spectra; the NIST line export starts at 200 nm, so 180-200 nm holds continuum only.
#: ``supercam``: a ChemCam/SuperCam-like layout of three 2048-pixel spectrometers, UV 240-342 nm,
#: VIO 382-469 nm and VNIR 474-906 nm, at 0.15, 0.20 and 0.60 nm FWHM (round values of the
#: order reported for ChemCam; not taken from a calibration file).
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "handheld",
            "handheld LIBS, one spectrometer 180-960.9 nm, 0.1 nm pixels, 0.2 nm FWHM",
            (Channel(180.0, 960.9, 7810, 0.2),),
        ),
        Preset(
            "supercam",
            "ChemCam/SuperCam-like: UV 240-342, VIO 382-469, VNIR 474-906 nm, 3 x 2048 pixels",
            (
                Channel(240.0, 342.0, 2048, 0.15),
                Channel(382.0, 469.0, 2048, 0.20),
                Channel(474.0, 906.0, 2048, 0.60),
            ),
        ),
    )
}


def get_preset(name: str | Preset) -> Preset:
    """The preset called ``name`` (or ``name`` itself if it is a `Preset`).

    Raises
    ------
    InputError
        Unknown name; the message lists the valid ones.
    """
    if isinstance(name, Preset):
        return name
    try:
        return PRESETS[str(name)]
    except KeyError:
        raise InputError(f"preset {name!r} is not one of {', '.join(PRESETS)}") from None


# ------------------------------------------------------------------------------ results
@dataclass(frozen=True, eq=False)
class LineList:
    """Emission lines of a simulated plasma.

    Attributes
    ----------
    element : numpy.ndarray of str
    ion : numpy.ndarray of int
        1 = neutral (I), 2 = singly ionised (II).
    wavelength_nm : numpy.ndarray
        Air wavelength.
    intensity : numpy.ndarray
        Integrated line intensity relative to the strongest line (= 1), after self-absorption
        when it was simulated.
    aki, gk, ek_ev : numpy.ndarray
        The atomic data of each line (s⁻¹, -, eV).
    stark_fwhm_nm : numpy.ndarray
        Lorentzian Stark FWHM used.
    tau0 : numpy.ndarray
        Peak optical depth over the path length (computed also when self-absorption was not
        applied: lines with ``tau0 > 1`` would be optically thick).
    """

    element: np.ndarray
    ion: np.ndarray
    wavelength_nm: np.ndarray
    intensity: np.ndarray
    aki: np.ndarray
    gk: np.ndarray
    ek_ev: np.ndarray
    stark_fwhm_nm: np.ndarray
    tau0: np.ndarray

    def __len__(self) -> int:
        return int(self.element.size)

    def _take(self, index: np.ndarray) -> LineList:
        return LineList(
            **{f: getattr(self, f)[index] for f in self.__dataclass_fields__}  # type: ignore[arg-type]
        )

    def select(self, element: str, ion: int | None = None) -> LineList:
        """The lines of one element (and one stage, if given)."""
        keep = self.element == element
        if ion is not None:
            keep &= self.ion == ion
        return self._take(np.flatnonzero(keep))

    def strongest(self, n: int | None = None) -> LineList:
        """The lines by decreasing intensity (the first ``n``, if given)."""
        order = np.argsort(-self.intensity, kind="stable")
        return self._take(order if n is None else order[:n])

    def to_records(self, n: int | None = None) -> list[dict[str, Any]]:
        """``[{"element", "ion", "wavelength_nm", "intensity"}, ...]``, strongest first."""
        top = self.strongest(n)
        return [
            {
                "element": str(el),
                "ion": int(ion),
                "wavelength_nm": round(float(wl), 4),
                "intensity": float(f"{inten:.6g}"),
            }
            for el, ion, wl, inten in zip(
                top.element, top.ion, top.wavelength_nm, top.intensity, strict=True
            )
        ]


@dataclass(frozen=True, eq=False)
class LibsSimulation:
    """A simulated LIBS measurement: the spectrum, its lines and the plasma behind them.

    Attributes
    ----------
    spectrum : Spectrum
        Method ``libs``, axis in nm, maximum 1 before noise; metadata records the conditions.
    lines : LineList
        Every line drawn (above ``min_relative_intensity``).
    plasma : PlasmaState
    formula : str or None
        The formula given, if any.
    """

    spectrum: Spectrum
    lines: LineList
    plasma: PlasmaState
    formula: str | None = None

    def to_dict(self, *, max_lines: int | None = None) -> dict[str, Any]:
        """``{"formula", "lines": [...] strongest first, "temperature_k", "ne_cm3", ...}``."""
        meta = self.spectrum.metadata
        return {
            "formula": self.formula,
            "lines": self.lines.to_records(max_lines),
            "temperature_k": self.plasma.temperature,
            "ne_cm3": self.plasma.ne,
            "preset": meta.get("preset"),
            "composition": dict(self.plasma.fractions),
            "elements_without_lines": list(meta.get("elements_without_lines", [])),
        }


# ------------------------------------------------------------------------------ simulate
def simulate(
    composition: str | Mapping[str, float] | Any,
    *,
    temperature: float = 10000.0,
    ne: float = 1e17,
    preset: str | Preset = "handheld",
    resolution: float | Sequence[float] | None = None,
    self_absorption: bool = False,
    path_length: float = 0.1,
    continuum: float = 1.0,
    stark_width: float = STARK_REFERENCE_FWHM_NM,
    basis: Literal["atom", "mass"] = "atom",
    noise: float = 0.0,
    random_state: int | np.random.Generator | None = None,
    min_relative_intensity: float = 1e-5,
    response: Response | None = None,
    atomic: AtomicData | None = None,
) -> LibsSimulation:
    """Simulate the LIBS spectrum of a composition in an LTE plasma (see the module docstring).

    Parameters
    ----------
    composition : str, Formula or mapping of str to float
        A formula (``"CuFeS2"``; atoms per formula unit), a parsed `Formula`, or a mapping
        element -> amount, read as atom fractions or wt% according to ``basis``.
    temperature : float, default=10000.0
        Plasma temperature, K (1,000-16,000 K, the range of Irwin's partition functions).
    ne : float, default=1e17
        Electron density, cm⁻³.
    preset : {'handheld', 'supercam'} or Preset, default='handheld'
        Instrument layout and default resolution (`PRESETS`).
    resolution : float or sequence of float, optional
        Instrumental FWHM in nm, one for all spectrometers or one per spectrometer; default:
        the preset's.
    self_absorption : bool, default=False
        Correct each line for its optical depth over ``path_length`` (optically thick lines
        grow less and wider).
    path_length : float, default=0.1
        Depth of the plasma along the line of sight, cm (also scales the absolute radiance,
        which the scaling to a maximum of 1 removes).
    continuum : float, default=1.0
        Scale of the continuum: 1 = the LTE value, 0 = none (gated or baseline-corrected).
    stark_width : float, default=0.02
        Stark FWHM (nm) of non-hydrogen lines at 1e17 cm⁻³ and 500 nm; scales with ne and
        lambda².
    basis : {'atom', 'mass'}, default='atom'
        How a mapping's amounts are meant (ignored for formulas).
    noise : float, default=0.0
        Gaussian noise after scaling to a maximum of 1: standard deviation ``noise`` (read
        noise) plus a shot-noise term of variance ``noise**2 * intensity``.
    random_state : int or numpy.random.Generator, optional
        Seed of the noise.
    min_relative_intensity : float, default=1e-5
        Lines weaker than this fraction of the strongest line are not drawn.
    response : Response, optional
        The instrument's relative spectral response (`estimate_response`), multiplied into
        the spectrum before scaling; default: flat. The line list stays the plasma's.
    atomic : AtomicData, optional
        Default: `load_atomic_data()` (from ``LITHOSCOPE_MIRROR`` or the local cache).

    Returns
    -------
    LibsSimulation
        ``.spectrum`` (a `Spectrum`, method libs, nm), ``.lines`` (`LineList`), ``.plasma``.

    Raises
    ------
    InputError
        A composition, plasma condition, preset or resolution out of range; `FormulaError`
        for an unreadable formula.

    Examples
    --------
    >>> sim = simulate("NaCl", temperature=9000, ne=5e16)  # doctest: +SKIP
    >>> [(r["element"], r["wavelength_nm"]) for r in sim.lines.to_records(2)]  # doctest: +SKIP
    [('Na', 588.9951), ('Na', 589.5924)]
    """
    fractions = atom_fractions(composition, basis=basis)
    t, n = check_plasma(temperature, ne)
    inst = get_preset(preset)
    fwhm = inst.fwhm(resolution)
    _check_positive(path_length, "path_length", "cm")
    _check_positive(stark_width, "stark_width", "nm", zero=True)
    _check_positive(continuum, "continuum", "", zero=True)
    _check_positive(noise, "noise", "", zero=True)
    if atomic is None:
        atomic = load_atomic_data()
    plasma = plasma_state(fractions, t, n, atomic)
    axis = inst.axis()
    lines = _draw_lines(
        atomic,
        plasma,
        list(fractions),
        (axis[0] - _MARGIN_NM, axis[-1] + _MARGIN_NM),
        path_length_m=path_length * 1e-2,
        self_absorbed=self_absorption,
        stark_width=stark_width,
        min_relative_intensity=min_relative_intensity,
    )
    y = np.zeros(axis.size)
    start = 0
    for channel, width in zip(inst.channels, fwhm, strict=True):
        x = axis[start : start + channel.n_points]
        # a pixel integrates over its width: its box adds variance step**2 / 12
        pixel = (channel.stop_nm - channel.start_nm) / (channel.n_points - 1)
        sigma = np.sqrt(lines.sigma_doppler**2 + gaussian_sigma(width) ** 2 + pixel**2 / 12.0)
        y[start : start + channel.n_points] = render_lines(
            x, lines.centre, lines.radiance, sigma, lines.gamma
        )
        start += channel.n_points
    if continuum > 0:
        y += continuum * continuum_radiance(axis, plasma, path_length_m=path_length * 1e-2)
    if response is not None:
        y *= response(axis)
    peak = float(y.max())
    if peak > 0:
        y /= peak
    if noise > 0:
        from lithoscope.physics.instrument import add_noise

        rng = np.random.default_rng(random_state)
        y = add_noise(y[None, :], shot=noise**2, read=noise, rng=rng)[0]
    without = sorted(el for el in fractions if atomic.lines_of(el).size == 0)
    metadata = {
        "source": "lithoscope.physics.libs.simulate",
        "formula": composition if isinstance(composition, str) else None,
        "composition": {el: round(v, 8) for el, v in fractions.items()},
        "temperature_k": t,
        "ne_cm3": n,
        "preset": inst.name,
        "fwhm_nm": list(fwhm),
        "self_absorption": bool(self_absorption),
        "path_length_cm": float(path_length),
        "continuum": float(continuum),
        "response": None if response is None else "estimated",
        "elements_without_lines": without,
    }
    metadata = {k: v for k, v in metadata.items() if v is not None}
    spectrum = Spectrum(axis, y, method="libs", metadata=metadata)
    return LibsSimulation(
        spectrum,
        lines.public,
        plasma,
        composition if isinstance(composition, str) else None,
    )


def _check_positive(value: float, name: str, unit: str, *, zero: bool = False) -> None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    ok = math.isfinite(v) and (v >= 0 if zero else v > 0)
    if not ok:
        bound = ">= 0" if zero else "> 0"
        raise InputError(f"{name} {value!r}{' ' + unit if unit else ''}: expected a number {bound}")


@dataclass(frozen=True, eq=False)
class _Drawn:
    """Lines ready to render: centres, areas and widths, plus the public `LineList`."""

    centre: np.ndarray
    radiance: np.ndarray
    sigma_doppler: np.ndarray
    gamma: np.ndarray
    public: LineList


def _draw_lines(
    atomic: AtomicData,
    plasma: PlasmaState,
    elements: Sequence[str],
    window: tuple[float, float],
    *,
    path_length_m: float,
    self_absorbed: bool,
    stark_width: float,
    min_relative_intensity: float,
    per_atom: bool = False,
) -> _Drawn:
    """Radiance, widths and optical depth of the lines of ``elements`` inside ``window``."""
    parts = [atomic.lines_of(el) for el in elements]
    idx = np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)
    wl = atomic.wavelength_nm[idx]
    idx = idx[(wl >= window[0]) & (wl <= window[1])]
    radiance, lower = line_radiance(
        atomic, idx, plasma, path_length_m=path_length_m, per_atom=per_atom
    )
    if radiance.size:
        keep = radiance >= min_relative_intensity * radiance.max()
        idx, radiance, lower = idx[keep], radiance[keep], lower[keep]
    sigma_d = doppler_sigma_nm(atomic, idx, plasma.temperature)
    stark = stark_fwhm_nm(atomic, idx, plasma.ne, reference_fwhm_nm=stark_width)
    gamma = stark / 2.0
    tau0, sa, width = self_absorption(
        atomic, idx, lower, plasma.temperature, sigma_d, gamma, path_length_m
    )
    if self_absorbed:
        radiance = radiance * sa
        gamma = gamma * width
    top = radiance.max() if radiance.size else 1.0
    public = LineList(
        element=atomic.element[idx],
        ion=atomic.ion[idx].astype(np.int64),
        wavelength_nm=atomic.wavelength_nm[idx],
        intensity=radiance / top,
        aki=atomic.aki[idx],
        gk=atomic.gk[idx],
        ek_ev=atomic.ek_ev[idx],
        stark_fwhm_nm=stark,
        tau0=tau0,
    )
    return _Drawn(atomic.wavelength_nm[idx], radiance, sigma_d, gamma, public)


@dataclass(frozen=True, eq=False)
class Response:
    """An instrument's relative spectral response: a smooth factor along the wavelength axis.

    Parameters
    ----------
    wavelength_nm : array_like
        Knots, strictly increasing.
    factor : array_like
        Response at the knots (maximum 1); linear in between, constant beyond the ends.
    """

    wavelength_nm: np.ndarray
    factor: np.ndarray

    def __post_init__(self) -> None:
        wl = np.asarray(self.wavelength_nm, dtype=np.float64)
        f = np.asarray(self.factor, dtype=np.float64)
        if wl.ndim != 1 or wl.shape != f.shape or wl.size < 2 or np.any(np.diff(wl) <= 0):
            raise InputError(
                "response: expected increasing wavelength knots and one factor per knot"
            )
        if not np.all(np.isfinite(f)) or np.any(f < 0):
            raise InputError("response: factors must be finite and >= 0")
        object.__setattr__(self, "wavelength_nm", wl)
        object.__setattr__(self, "factor", f)

    def __call__(self, wavelength_nm: npt.ArrayLike) -> np.ndarray:
        return np.interp(
            np.asarray(wavelength_nm, dtype=np.float64), self.wavelength_nm, self.factor
        )

    def to_dict(self) -> dict[str, Any]:
        return {"wavelength_nm": self.wavelength_nm.tolist(), "factor": self.factor.tolist()}


def estimate_response(
    measured: Sequence[Spectrum],
    simulated: Sequence[Spectrum],
    *,
    knots: npt.ArrayLike | None = None,
    window: float = 20.0,
    fwhm: float | None = None,
    min_points: int = 3,
) -> Response:
    """An instrument's relative spectral response from reference samples of known composition.

    For each pair (a measured spectrum and the simulation of that sample), every clear peak of
    the simulation (at least 1 % of its maximum) gives ``ln(measured height / simulated
    height)`` at its wavelength; each pair's values are centred on their median (each spectrum
    has its own scale). The response at each knot is the median of the values within
    ``window`` nm of it (knots with fewer than ``min_points`` values are interpolated), scaled to
    a maximum of 1. It absorbs what the plasma model leaves out along the axis (detector and
    optics efficiency, and on average self-absorption and temperature structure), so estimate
    it on samples other than those it is applied to.

    Parameters
    ----------
    measured, simulated : sequence of Spectrum
        Pairs, in the same order; each simulation is resampled onto its measurement's axis.
    knots : array_like, optional
        Default: every 20 nm over the measured axes.
    window : float, default=20.0
        Half width (nm) of the neighbourhood of a knot.
    fwhm : float, optional
        Line width for the peak search (default: estimated from the first simulation).
    min_points : int, default=3

    Returns
    -------
    Response

    Raises
    ------
    InputError
        Unequal numbers of spectra, or no peak in common.
    """
    from lithoscope.physics._libs_detect import estimate_fwhm, find_lines

    if len(measured) != len(simulated) or not measured:
        raise InputError(
            f"estimate_response: expected pairs of measured and simulated spectra, got "
            f"{len(measured)} and {len(simulated)}"
        )
    points = []
    for m, sim in zip(measured, simulated, strict=True):
        grid = m.axis
        s = sim.resample(grid, outside="zero")
        width = fwhm if fwhm is not None else estimate_fwhm(s)
        peaks = find_lines(s, fwhm=width, min_prominence=0.01)
        i = np.clip(np.searchsorted(grid, peaks.position), 1, grid.size - 2)
        step = float(np.median(np.diff(grid)))
        reach = max(1, round(0.5 * width / step))
        heights = np.array([m.intensities[max(k - reach, 0) : k + reach + 1].max() for k in i])
        ok = heights > 0
        if ok.sum() < 2:
            continue
        values = np.log(heights[ok] / peaks.height[ok])
        points.append(np.column_stack([peaks.position[ok], values - np.median(values)]))
    if not points:
        raise InputError("estimate_response: no peak of the simulations shows in the measurements")
    pts = np.concatenate(points)
    if knots is None:
        lo = min(float(m.axis[0]) for m in measured)
        hi = max(float(m.axis[-1]) for m in measured)
        knots = np.arange(lo, hi + 1e-9, 20.0)
    knots = np.asarray(knots, dtype=np.float64)
    level = np.full(knots.size, np.nan)
    for k, centre in enumerate(knots):
        near = np.abs(pts[:, 0] - centre) <= window
        if near.sum() >= min_points:
            level[k] = np.median(pts[near, 1])
    ok = np.isfinite(level)
    if not ok.any():
        raise InputError(
            f"estimate_response: no knot has {min_points} peaks within {window:g} nm; widen "
            "window or give more reference spectra"
        )
    level = np.interp(knots, knots[ok], level[ok])
    return Response(knots, np.exp(level - level.max()))


def simulate_random(
    composition: str | Mapping[str, float] | Any,
    n: int = 1,
    *,
    preset: str | Preset = "handheld",
    temperature: tuple[float, float] = (8000.0, 14000.0),
    ne: tuple[float, float] = (3e16, 3e17),
    self_absorption: float = 0.5,
    path_length: tuple[float, float] = (0.02, 0.2),
    continuum: tuple[float, float] = (0.0, 1.0),
    resolution_scale: tuple[float, float] = (0.8, 1.3),
    shift: float = 0.03,
    noise: tuple[float, float] = (0.0, 0.02),
    basis: Literal["atom", "mass"] = "atom",
    random_state: int | np.random.Generator | None = None,
    atomic: AtomicData | None = None,
) -> list[LibsSimulation]:
    """``n`` simulations of one composition under randomised plasma and instrument conditions.

    For training data (fusion, augmentation): each draw takes the temperature uniformly, ne
    log-uniformly, self-absorption with probability ``self_absorption`` (path length
    log-uniform), a continuum scale, the preset's resolution times a uniform factor, a
    wavelength-calibration offset ~ N(0, ``shift`` nm) (`lithoscope.physics.instrument.warp_axis`)
    and a noise level; every choice is recorded in the spectrum's metadata.

    Parameters
    ----------
    composition : str, Formula or mapping
        As for `simulate`.
    n : int, default=1
        Number of spectra.
    preset : str or Preset, default='handheld'
    temperature, ne, path_length, continuum, resolution_scale, noise : (low, high)
        Ranges of the draws (K, cm⁻³, cm, -, -, -).
    self_absorption : float, default=0.5
        Probability that a draw includes self-absorption.
    shift : float, default=0.03
        Standard deviation of the wavelength offset, nm.
    basis : {'atom', 'mass'}
    random_state : int or numpy.random.Generator, optional
    atomic : AtomicData, optional

    Returns
    -------
    list of LibsSimulation
        On the preset's axis; metadata adds ``shift_nm`` and ``noise``.
    """
    from lithoscope.physics.instrument import add_noise, warp_axis

    if int(n) < 1:
        raise InputError(f"n {n!r}: expected a number of spectra >= 1")
    rng = np.random.default_rng(random_state)
    if atomic is None:
        atomic = load_atomic_data()
    inst = get_preset(preset)
    base = np.asarray(inst.fwhm(None))
    out = []
    for _ in range(int(n)):
        t = rng.uniform(*temperature)
        density = math.exp(rng.uniform(math.log(ne[0]), math.log(ne[1])))
        thick = bool(rng.random() < self_absorption)
        length = math.exp(rng.uniform(math.log(path_length[0]), math.log(path_length[1])))
        level = rng.uniform(*noise)
        sim = simulate(
            composition,
            temperature=t,
            ne=density,
            preset=inst,
            resolution=tuple(base * rng.uniform(*resolution_scale)),
            self_absorption=thick,
            path_length=length,
            continuum=rng.uniform(*continuum),
            basis=basis,
            atomic=atomic,
        )
        offset = float(rng.normal(0.0, shift)) if shift > 0 else 0.0
        y = sim.spectrum.intensities[None, :]
        if offset:  # the calibration error moves the lines; the detector's noise comes after
            y = warp_axis(y, sim.spectrum.axis, shift=offset)
        if level > 0:
            y = add_noise(y, shot=level**2, read=level, rng=rng)
        spectrum = sim.spectrum.with_intensities(y[0], shift_nm=offset, noise=level)
        out.append(LibsSimulation(spectrum, sim.lines, sim.plasma, sim.formula))
    return out


# ------------------------------------------------------------------------------ Boltzmann
@dataclass(frozen=True, eq=False)
class BoltzmannPlot:
    """A Boltzmann plot: ``ln(I lambda / (g_k A_ki))`` against ``E_k`` and its straight line.

    Attributes
    ----------
    element : str
    ion : int
    temperature : float
        ``-1 / (k slope)``, K.
    temperature_error : float
        From the standard error of the slope, K.
    slope, intercept : float
    r2 : float
        Coefficient of determination of the fit (on the lines kept).
    energy_ev, y, wavelength_nm : numpy.ndarray
        The points used (outliers removed).
    n_rejected : int
        Points removed as outliers (blends) by the robust fit.
    """

    element: str
    ion: int
    temperature: float
    temperature_error: float
    slope: float
    intercept: float
    r2: float
    energy_ev: np.ndarray
    y: np.ndarray
    wavelength_nm: np.ndarray
    n_rejected: int = 0

    @property
    def n_lines(self) -> int:
        return int(self.energy_ev.size)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary and points."""
        return {
            "element": self.element,
            "ion": self.ion,
            "temperature_k": self.temperature,
            "temperature_error_k": self.temperature_error,
            "r2": self.r2,
            "n_lines": self.n_lines,
            "n_rejected": self.n_rejected,
            "points": [
                {"wavelength_nm": float(w), "ek_ev": float(e), "y": float(v)}
                for w, e, v in zip(self.wavelength_nm, self.energy_ev, self.y, strict=True)
            ],
        }


def boltzmann_plot(
    data: Spectrum | LineList | LibsSimulation,
    element: str,
    ion: int = 1,
    *,
    fwhm: float | None = None,
    temperature_guess: float = 10000.0,
    n_lines: int = 40,
    max_uncertainty: float = 0.25,
    interferences: Sequence[str] = (),
    atomic: AtomicData | None = None,
) -> BoltzmannPlot:
    """Plasma temperature from the lines of one species (slope of a Boltzmann plot).

    In LTE and optically thin, ``ln(I lambda / (g_k A_ki)) = -E_k / kT + const`` for the lines
    of one species, so the slope of a straight line through the points gives T.

    From a `LineList` (or a `LibsSimulation`), every line of the species is a point. From a
    measured `Spectrum`, the species' lines are ranked by their expected intensity at the
    current temperature estimate (NIST A_ki uncertainty at most ``max_uncertainty``); the
    ``n_lines`` strongest are measured as the area above a local baseline within ±1.5 FWHM,
    provided that the light other lines would put into that window (the element's lines of
    both stages at their Saha-Boltzmann strengths, and the lines of ``interferences``, each
    relative to its own strongest line) stays under 5 % of the line's, and that a local
    maximum at least 5 noise standard deviations high lies within 0.5 FWHM of the line. A
    fit weighted by each area's noise (a Theil-Sen start, then 3-sigma clipping on the median
    absolute deviation) rejects blends; the estimate is iterated three times from
    ``temperature_guess``.

    Parameters
    ----------
    data : Spectrum, LineList or LibsSimulation
        A LIBS spectrum in nm (air), or lines with their intensities.
    element : str
        Element symbol.
    ion : {1, 2}, default=1
        1 for the neutral's lines, 2 for the singly ionised species'.
    fwhm : float, optional
        Line width in the spectrum, nm; default: the spectrum's ``fwhm_nm`` metadata (per
        spectrometer of its preset), else estimated from its peaks.
    temperature_guess : float, default=10000.0
        Start of the iteration, K.
    n_lines : int, default=40
        Number of candidate lines measured in a spectrum.
    max_uncertainty : float, default=0.25
        Largest relative uncertainty of A_ki (NIST accuracy C = 25 %) of a line used.
    interferences : sequence of str, default=()
        Other elements known to be in the spectrum whose lines must not blend.
    atomic : AtomicData, optional
        Needed for a spectrum; default `load_atomic_data()`.

    Returns
    -------
    BoltzmannPlot

    Raises
    ------
    InputError
        Fewer than 3 usable lines, or an energy spread under 0.5 eV; ``ion`` not 1 or 2.
    """
    if ion not in (1, 2):
        raise InputError(f"ion {ion!r}: expected 1 (neutral) or 2 (singly ionised)")
    if isinstance(data, LibsSimulation):
        data = data.lines
    if isinstance(data, LineList):
        sel = data.select(element, ion)
        sel = sel._take(np.flatnonzero(sel.intensity > 0))
        points = (sel.ek_ev, sel.intensity * sel.wavelength_nm / (sel.gk * sel.aki), sel)
        return _fit_boltzmann(element, ion, points[0], np.log(points[1]), sel.wavelength_nm)
    if not isinstance(data, Spectrum):
        raise InputError(
            f"boltzmann_plot: expected a Spectrum, LineList or LibsSimulation, got "
            f"{type(data).__name__}"
        )
    from lithoscope.physics._libs_detect import measure_lines

    if atomic is None:
        atomic = load_atomic_data()
    t = check_plasma(temperature_guess, 1e17)[0]
    result = None
    for _ in range(3):
        wl, energy, y, sd = measure_lines(
            data,
            atomic,
            element,
            ion,
            temperature=t,
            fwhm=fwhm,
            n_lines=n_lines,
            max_uncertainty=max_uncertainty,
            interferences=interferences,
        )
        result = _fit_boltzmann(element, ion, energy, y, wl, sd)
        t_new = float(np.clip(result.temperature, *IRWIN_RANGE_K))
        if abs(t_new - t) < 0.005 * t:
            break
        t = t_new
    assert result is not None
    return result


def _fit_boltzmann(
    element: str,
    ion: int,
    energy: np.ndarray,
    y: np.ndarray,
    wavelength: np.ndarray,
    sigma: np.ndarray | None = None,
) -> BoltzmannPlot:
    """Robust straight line through a Boltzmann plot; ``sigma``: uncertainty of each ``y``."""
    energy = np.asarray(energy, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    sd = np.ones_like(y) if sigma is None else np.asarray(sigma, dtype=np.float64)
    ok = np.isfinite(energy) & np.isfinite(y) & np.isfinite(sd) & (sd > 0)
    energy, y, sd, wavelength = energy[ok], y[ok], sd[ok], np.asarray(wavelength)[ok]
    where = f"Boltzmann plot of {element} {'I' * ion}"
    if energy.size < 3:
        raise InputError(
            f"{where}: only {energy.size} usable lines (need >= 3); use another species, or "
            "a spectrum with more of its lines resolved"
        )
    from scipy.stats import theilslopes

    keep = np.ones(energy.size, dtype=bool)
    # a robust start (Theil-Sen), so that one blended line cannot tilt the first fit; then
    # 3-sigma clipping of the residuals in units of their uncertainty
    slope, intercept = theilslopes(y, energy)[:2]
    for _ in range(10):
        z = (y - (slope * energy + intercept)) / sd
        scale = 1.4826 * np.median(np.abs(z[keep] - np.median(z[keep])))
        new = np.abs(z) <= 3.0 * max(scale, 1e-6)
        if new.sum() < 3 or np.array_equal(new, keep):
            break
        keep = new
        slope, intercept = np.polyfit(energy[keep], y[keep], 1, w=1.0 / sd[keep])
    e, v, w = energy[keep], y[keep], 1.0 / sd[keep]
    spread = float(e.max() - e.min())
    if spread < 0.5:
        raise InputError(
            f"{where}: the upper levels span only {spread:.2f} eV (need >= 0.5 eV for a slope); "
            "use another species"
        )
    slope, intercept = np.polyfit(e, v, 1, w=w)
    fitted = slope * e + intercept
    ss_res = float(np.sum((w * (v - fitted)) ** 2))
    mean = float(np.sum(w**2 * v) / np.sum(w**2))
    ss_tot = float(np.sum((w * (v - mean)) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    dof = max(e.size - 2, 1)
    e_mean = float(np.sum(w**2 * e) / np.sum(w**2))
    slope_err = math.sqrt(ss_res / dof / float(np.sum((w * (e - e_mean)) ** 2)))
    if slope >= 0:
        raise InputError(
            f"{where}: the points rise with E_k (slope {slope:.3g} per eV), so no temperature "
            "follows; the lines are blended or optically thick"
        )
    temperature = -1.0 / (K_B_EV * slope)
    return BoltzmannPlot(
        element,
        ion,
        float(temperature),
        float(temperature * slope_err / abs(slope)),
        float(slope),
        float(intercept),
        float(r2),
        e,
        v,
        np.asarray(wavelength)[keep],
        int((~keep).sum()),
    )


# ------------------------------------------------------------------------------ detection
from lithoscope.physics._libs_detect import (  # noqa: E402  (uses the names above)
    DetectedElement,
    ElementDetection,
    detect_elements,
)
