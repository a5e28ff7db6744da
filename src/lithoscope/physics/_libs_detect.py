"""Element detection and line measurement in LIBS spectra (see `lithoscope.physics.libs`)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.ndimage import percentile_filter, uniform_filter1d
from scipy.signal import find_peaks, peak_widths
from scipy.special import ndtr

from lithoscope.errors import InputError
from lithoscope.methods import AxisUnit, Method
from lithoscope.physics._libs_atomic import K_B_EV, AtomicData
from lithoscope.physics._libs_plasma import check_plasma, stage_fractions
from lithoscope.spectra.spectrum import Spectrum

__all__ = [
    "AMBIENT_ELEMENTS",
    "DetectedElement",
    "ElementDetection",
    "detect_elements",
    "estimate_fwhm",
    "find_lines",
    "line_widths",
    "measure_lines",
]

#: Elements that an air or argon atmosphere (or a purge) puts into the plasma whatever the
#: sample: their detection says little about the sample.
AMBIENT_ELEMENTS = frozenset({"H", "N", "O", "Ar"})
#: Temperatures (K) scanned when the plasma temperature is fitted.
_T_GRID = tuple(float(t) for t in range(6000, 15001, 1000))


def _check_libs(spectrum: Spectrum, what: str) -> Spectrum:
    if not isinstance(spectrum, Spectrum):
        raise InputError(f"{what}: expected a Spectrum, got {type(spectrum).__name__}")
    where = spectrum.metadata.get("file", "spectrum")
    if spectrum.unit != AxisUnit.WAVELENGTH_NM:
        raise InputError(
            f"{where}: {what} needs a wavelength axis in nm, got {spectrum.unit.value!r}; read "
            "the file with method='libs'"
        )
    if spectrum.method not in (Method.LIBS,):
        raise InputError(
            f"{where}: {what} needs a LIBS spectrum, got method {spectrum.method.value!r}"
        )
    return spectrum


def _steps(axis: np.ndarray) -> np.ndarray:
    """Local pixel width at every point."""
    return np.gradient(axis)


def estimate_fwhm(spectrum: Spectrum) -> float:
    """Typical line width (nm): median FWHM of the 20 most prominent peaks.

    Falls back to three pixels when the spectrum has fewer than three clear peaks.
    """
    x, y = spectrum.axis, spectrum.intensities
    step = _steps(x)
    span = float(np.ptp(y))
    if span <= 0:
        return float(3 * np.median(step))
    peaks, props = find_peaks(y, prominence=0.05 * span)
    if peaks.size < 3:
        return float(3 * np.median(step))
    top = peaks[np.argsort(props["prominences"])[::-1][:20]]
    widths = peak_widths(y, top, rel_height=0.5)[0] * step[top]
    return float(np.median(widths))


def line_widths(spectrum: Spectrum, fwhm: float | None = None) -> np.ndarray:
    """Line width (FWHM, nm) at every point of a spectrum's axis, at least two pixels.

    ``fwhm`` if given; else the ``fwhm_nm`` metadata of a simulated spectrum (one value per
    spectrometer of its ``preset``, each over that spectrometer's range); else `estimate_fwhm`.

    Raises
    ------
    InputError
        ``fwhm`` not a positive number.
    """
    axis = spectrum.axis
    pixel = 2.0 * _steps(axis)
    if fwhm is not None:
        try:
            value = float(fwhm)
        except (TypeError, ValueError):
            raise InputError(f"fwhm {fwhm!r}: expected a line width in nm") from None
        if not value > 0:
            raise InputError(f"fwhm {fwhm!r}: expected a line width > 0 nm")
        return np.maximum(np.full(axis.size, value), pixel)
    meta = spectrum.metadata.get("fwhm_nm")
    values = [float(v) for v in np.atleast_1d(meta)] if meta is not None else []
    if len(values) == 1:
        return np.maximum(np.full(axis.size, values[0]), pixel)
    if len(values) > 1:
        from lithoscope.physics.libs import PRESETS

        preset = PRESETS.get(str(spectrum.metadata.get("preset")))
        if preset is not None and len(preset.channels) == len(values):
            # each spectrometer's width up to the middle of the gap to the next one
            stops = [c.stop_nm for c in preset.channels[:-1]]
            starts = [c.start_nm for c in preset.channels[1:]]
            edges = [(a + b) / 2.0 for a, b in zip(stops, starts, strict=True)]
            width = np.asarray(values)[np.searchsorted(edges, axis)]
            return np.maximum(width, pixel)
        return np.maximum(np.full(axis.size, max(values)), pixel)
    return np.maximum(np.full(axis.size, estimate_fwhm(spectrum)), pixel)


def _baseline(y: np.ndarray, axis: np.ndarray, fwhm: float) -> np.ndarray:
    """A smooth lower envelope: the 10th percentile over 30 line widths, then a moving mean.

    A percentile rather than the minimum keeps the baseline within the noise, not below it.
    """
    step = float(np.median(_steps(axis)))
    size = max(3, round(30 * fwhm / step) | 1)
    low = percentile_filter(y, 10, size=size, mode="nearest")
    return uniform_filter1d(low, size, mode="nearest")


def _noise(y: np.ndarray) -> float:
    """Standard deviation of white noise from the median absolute first difference."""
    d = np.diff(y)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2.0))


@dataclass(frozen=True)
class _Peaks:
    position: np.ndarray
    height: np.ndarray
    corrected: np.ndarray  # the baseline-corrected spectrum, scaled to a maximum of 1
    noise: float


def find_lines(
    spectrum: Spectrum,
    *,
    fwhm: float | np.ndarray,
    min_prominence: float = 0.005,
    snr: float = 5.0,
) -> _Peaks:
    """Emission peaks above a smooth baseline, with sub-pixel positions.

    Parameters
    ----------
    spectrum : Spectrum
    fwhm : float or numpy.ndarray
        Line width, nm, or one per axis point (sets the baseline window and the minimum peak
        distance).
    min_prominence : float, default=0.005
        Smallest peak height, as a fraction of the highest baseline-corrected point.
    snr : float, default=5.0
        Smallest prominence in units of the noise's standard deviation.
    """
    x = spectrum.axis
    widths = np.broadcast_to(np.asarray(fwhm, dtype=np.float64), x.shape)
    typical, narrow = float(np.median(widths)), float(widths.min())
    y = spectrum.intensities - _baseline(spectrum.intensities, x, typical)
    top = float(y.max())
    if top <= 0:
        return _Peaks(np.empty(0), np.empty(0), y, 0.0)
    y = y / top
    noise = _noise(y)
    step = float(np.median(_steps(x)))
    level = max(min_prominence, snr * noise)
    peaks, _ = find_peaks(
        y,
        height=level,
        prominence=0.5 * level,
        wlen=max(3, int(10 * typical / step)),
        distance=max(1, int(0.5 * narrow / step)),
    )
    inner = peaks[(peaks > 0) & (peaks < y.size - 1)]
    a, b, c = y[inner - 1], y[inner], y[inner + 1]
    denom = a - 2 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(denom < 0, 0.5 * (a - c) / denom, 0.0)
    frac = np.clip(frac, -0.5, 0.5)
    pos = x[inner] + frac * np.where(frac >= 0, x[inner + 1] - x[inner], x[inner] - x[inner - 1])
    return _Peaks(pos, y[inner], y, noise)


# ----------------------------------------------------------------------------- line strengths
def _species_strength(
    atomic: AtomicData, idx: np.ndarray, element: str, temperature: float, ne: float
) -> np.ndarray:
    """Emission of each line of one element per atom of it (optically thin), W sr^-1."""
    (f1, f2, _), (u1, u2) = stage_fractions(atomic, element, temperature, ne)
    frac = np.where(atomic.ion[idx] == 1, f1 / u1, f2 / u2)
    kt = K_B_EV * temperature
    return (
        frac
        * atomic.gk[idx]
        * atomic.aki[idx]
        * np.exp(-atomic.ek_ev[idx] / kt)
        / atomic.wavelength_nm[idx]
    )


def _covered(axis: np.ndarray, wavelength: np.ndarray) -> np.ndarray:
    """True where a wavelength lies on the axis (not beyond its ends, not in a gap)."""
    i = np.clip(np.searchsorted(axis, wavelength), 1, axis.size - 1)
    left, right = axis[i - 1], axis[i]
    gap = right - left
    typical = np.median(np.diff(axis))
    return (wavelength >= axis[0]) & (wavelength <= axis[-1]) & (gap <= 3 * typical)


@dataclass(frozen=True)
class _Features:
    position: np.ndarray
    strength: np.ndarray  # per atom of the element (optically thin), arbitrary units
    label: list[str]  # e.g. 'Cu I 324.75'

    @property
    def relative(self) -> np.ndarray:
        return self.strength / self.strength.max()


def _features(
    atomic: AtomicData,
    element: str,
    axis: np.ndarray,
    *,
    temperature: float,
    ne: float,
    merge: np.ndarray,
    n_lines: int,
) -> _Features | None:
    """The element's strongest expected spectral features: lines closer than ``merge`` (nm,
    one value per axis point) are one feature (summed strength, strength-weighted position)."""
    idx = atomic.lines_of(element)
    if idx.size == 0:
        return None
    idx = idx[_covered(axis, atomic.wavelength_nm[idx])]
    if idx.size == 0:
        return None
    try:
        strength = _species_strength(atomic, idx, element, temperature, ne)
    except InputError:
        return None
    keep = strength >= 1e-4 * strength.max()
    idx, strength = idx[keep], strength[keep]
    wl = atomic.wavelength_nm[idx]
    order = np.argsort(wl)
    idx, strength, wl = idx[order], strength[order], wl[order]
    close = np.interp(wl[:-1], axis, merge)
    group = np.concatenate([[0], np.cumsum(np.diff(wl) > close)])
    total = np.bincount(group, weights=strength)
    position = np.bincount(group, weights=strength * wl) / total
    # the strongest line of each feature names it
    order = np.lexsort((-strength, group))
    first = order[np.concatenate([[True], np.diff(group[order]) > 0])]
    top = np.argsort(-total, kind="stable")[:n_lines]
    labels = [
        f"{element} {'I' * int(atomic.ion[idx[first[g]]])} "
        f"{atomic.wavelength_nm[idx[first[g]]]:.2f}"
        for g in top
    ]
    return _Features(position[top], total[top], labels)


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class DetectedElement:
    """One element's evidence in a LIBS spectrum.

    Attributes
    ----------
    element : str
    confidence : float
        0-1: the weighted fraction of the element's strongest expected features that have a
        peak within the tolerance, corrected for the fraction expected by chance at this
        spectrum's peak density (see `detect_elements`).
    ratio : float or None
        Atom fraction among the detected elements that are not ambient, from the
        calibration-free estimate; None for ambient elements and for elements not detected.
    matched, missing : list of str
        Expected features with and without a peak, e.g. ``'Cu I 324.75'``.
    ambient : bool
        One of `AMBIENT_ELEMENTS` (H, N, O, Ar), which air or a purge gas also supplies.
    """

    element: str
    confidence: float
    ratio: float | None
    matched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    ambient: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "element": self.element,
            "confidence": round(self.confidence, 4),
            "ratio": None if self.ratio is None else round(self.ratio, 4),
            "ambient": self.ambient,
            "matched_lines": list(self.matched),
            "missing_lines": list(self.missing),
        }


@dataclass(frozen=True)
class ElementDetection:
    """What `detect_elements` found.

    Attributes
    ----------
    elements : list of DetectedElement
        Detected elements (confidence >= ``min_confidence``), most confident first.
    candidates : list of DetectedElement
        Every element with a confidence of at least 0.01, most confident first.
    temperature : float
        Plasma temperature used for the expected intensities and the fit, K.
    ne : float
        Electron density used, cm⁻³.
    fwhm : float
        Line width, nm (the median over the axis).
    tolerance : float
        Largest distance between a peak and an expected line, nm (the median over the axis).
    n_peaks : int
        Peaks found in the spectrum.
    """

    elements: list[DetectedElement]
    candidates: list[DetectedElement]
    temperature: float
    ne: float
    fwhm: float
    tolerance: float
    n_peaks: int

    def __iter__(self):
        return iter(self.elements)

    def __len__(self) -> int:
        return len(self.elements)

    @property
    def symbols(self) -> list[str]:
        """Detected element symbols, most confident first."""
        return [e.element for e in self.elements]

    @property
    def ratios(self) -> dict[str, float]:
        """Element -> atom fraction among the detected elements that are not ambient."""
        return {e.element: e.ratio for e in self.elements if e.ratio is not None}

    def to_dict(self) -> dict[str, Any]:
        """``{"elements": [{"element", "confidence", "ratio", ...}], "temperature_k", ...}``."""
        return {
            "elements": [e.to_dict() for e in self.elements],
            "temperature_k": self.temperature,
            "ne_cm3": self.ne,
            "fwhm_nm": round(self.fwhm, 4),
            "tolerance_nm": round(self.tolerance, 4),
            "n_peaks": self.n_peaks,
        }


# ----------------------------------------------------------------------------- detection
#: Probability that an element's line whose expected height is well above the detection
#: threshold shows a peak when the element is present (blends, shifts, saturation).
_Q_MAX = 0.9
#: Neighbourhood (nm) whose matched lines set the scale of an element's expected heights.
_SCALE_WINDOW = 50.0
#: Smallest chance-match probability: peak positions are never known perfectly.
_P_MIN = 0.03
#: Default candidates leave out noble gases other than argon (a purge gas) and elements with
#: no stable isotope that are absent from minerals.
_NOT_CANDIDATES = frozenset("He Ne Kr Xe Rn Tc Pm Po At Fr Ra Ac Pa".split())


@dataclass(frozen=True)
class _Evidence:
    element: str
    confidence: float
    matched: list[str]
    missing: list[str]
    log_abundance: np.ndarray  # ln(observed height / strength per atom) of the matched features
    peak: np.ndarray  # index of the peak each feature matches (-1: none)
    predicted: np.ndarray  # expected height of each feature (NaN: no matched feature nearby)


def _chance_map(axis: np.ndarray, positions: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    """Cumulative count of axis points lying within tolerance of a peak (for local rates);
    ``tolerance`` has one value per axis point."""
    covered = np.zeros(axis.size, dtype=bool)
    if positions.size:
        tol = np.interp(positions, axis, tolerance)
        lo = np.searchsorted(axis, positions - tol)
        hi = np.searchsorted(axis, positions + tol, side="right")
        mark = np.zeros(axis.size + 1)
        np.add.at(mark, lo, 1)
        np.add.at(mark, hi, -1)
        covered = np.cumsum(mark)[:-1] > 0
    return np.cumsum(np.concatenate([[0.0], covered.astype(float)]))


def _evidence(
    element: str,
    feats: _Features,
    axis: np.ndarray,
    peaks: _Peaks,
    chance_map: np.ndarray,
    claimed: np.ndarray,
    *,
    tolerance: np.ndarray,
    threshold: float,
    prior: float,
) -> _Evidence:
    """Posterior probability of the element from its features' matches and misses.

    Features that match a peak already explained by a more certain element (``claimed``)
    carry no evidence either way.
    """
    pos, height = peaks.position, peaks.height
    f = feats.position
    peak = np.full(f.size, -1)
    if pos.size:
        j = np.searchsorted(pos, f)
        left, right = np.clip(j - 1, 0, pos.size - 1), np.clip(j, 0, pos.size - 1)
        nearest = np.where(np.abs(pos[left] - f) <= np.abs(pos[right] - f), left, right)
        hit = np.abs(pos[nearest] - f) <= np.interp(f, axis, tolerance)
        peak = np.where(hit, nearest, -1)
    hit = peak >= 0
    observed = np.where(hit, height[np.maximum(peak, 0)], 0.0) if pos.size else np.zeros(f.size)
    informative = ~(hit & claimed[np.maximum(peak, 0)]) if pos.size else np.ones(f.size, bool)
    a = np.searchsorted(axis, f - 10.0)
    b = np.searchsorted(axis, f + 10.0)
    p = np.clip((chance_map[b] - chance_map[a]) / np.maximum(b - a, 1), _P_MIN, 0.95)
    # expected height of each feature: its relative strength times the element's scale, taken
    # from the matched features nearby (the instrument's response varies along the axis)
    rel = feats.relative
    ratio = np.where(hit, observed / rel, np.nan)
    q = p.copy()
    predicted = np.full(f.size, np.nan)
    overall = float(np.median(ratio[hit])) if hit.any() else 0.0
    for i in range(f.size):
        near = hit & (np.abs(f - f[i]) <= _SCALE_WINDOW)
        if near.any():
            predicted[i] = rel[i] * float(np.median(ratio[near]))
            visible = min(1.0, predicted[i] / (3.0 * threshold))
        else:  # the scale of distant lines says less: the response may differ there
            visible = 0.5 * min(1.0, rel[i] * overall / (3.0 * threshold))
        q[i] = p[i] + (_Q_MAX - p[i]) * visible
    q = np.clip(q, p, _Q_MAX)
    terms = np.where(hit, np.log(q / p), np.log((1 - q) / (1 - p)))
    logit = float(np.sum(terms[informative])) + math.log(prior / (1.0 - prior))
    confidence = 1.0 / (1.0 + math.exp(-logit)) if logit > -700 else 0.0
    counted = hit & informative
    with np.errstate(divide="ignore"):
        log_abundance = np.log(observed[hit] / feats.strength[hit])
    return _Evidence(
        element,
        float(confidence) if counted.any() else 0.0,
        [lab for lab, h in zip(feats.label, hit, strict=True) if h],
        [lab for lab, h in zip(feats.label, hit, strict=True) if not h],
        log_abundance,
        peak,
        predicted,
    )


def _assess(
    atomic: AtomicData,
    axis: np.ndarray,
    peaks: _Peaks,
    candidates: Sequence[str],
    *,
    temperature: float,
    ne: float,
    fwhm: np.ndarray,
    tolerance: np.ndarray,
    threshold: float,
    n_lines: int,
    prior: float,
    min_confidence: float,
) -> list[_Evidence]:
    """Evidence for every candidate, accepting elements greedily and explaining peaks away.

    The most confident element above ``min_confidence`` is accepted; the peaks its features
    explain (expected height at least a third of the observed one) are then claimed, and the
    other candidates are scored again without them. This stops a line of a present element
    (Ar I 794.82 nm) from counting for an absent one (Rb I 794.76 nm).
    """
    chance = _chance_map(axis, peaks.position, tolerance)
    feats = {}
    for element in candidates:
        found = _features(
            atomic,
            element,
            axis,
            temperature=temperature,
            ne=ne,
            merge=0.5 * fwhm,
            n_lines=n_lines,
        )
        if found is not None:
            feats[element] = found
    claimed = np.zeros(peaks.position.size, dtype=bool)
    options = {"tolerance": tolerance, "threshold": threshold, "prior": prior}
    accepted: list[_Evidence] = []
    remaining = dict(feats)
    while True:
        scored = [
            _evidence(el, ft, axis, peaks, chance, claimed, **options)
            for el, ft in remaining.items()
        ]
        scored.sort(key=lambda d: (-d.confidence, d.element))
        if not scored or scored[0].confidence < min_confidence:
            break
        best = scored[0]
        accepted.append(best)
        del remaining[best.element]
        explains = (best.peak >= 0) & (
            best.predicted >= peaks.height[np.maximum(best.peak, 0)] / 3.0
        )
        claimed[best.peak[explains]] = True
    return accepted + scored


def _scatter(evidence: Sequence[_Evidence]) -> float:
    """Pooled spread of ln(observed / expected) within each element (0 when undefined)."""
    resid = [
        e.log_abundance - np.median(e.log_abundance) for e in evidence if e.log_abundance.size > 1
    ]
    if not resid:
        return math.inf
    r = np.concatenate(resid)
    return float(np.mean(np.abs(r)))


def detect_elements(
    spectrum: Spectrum,
    *,
    elements: Sequence[str] | None = None,
    temperature: float | None = None,
    ne: float = 1e17,
    fwhm: float | None = None,
    tolerance: float | None = None,
    n_lines: int = 15,
    min_confidence: float = 0.5,
    prior: float = 0.1,
    min_prominence: float = 0.005,
    atomic: AtomicData | None = None,
) -> ElementDetection:
    """Which elements a LIBS spectrum shows, how surely, and in what ratios.

    1. **Peaks**: a smooth lower envelope (10th percentile over 30 line widths) is
       subtracted; peaks at least ``min_prominence`` of the highest point and 5 noise standard
       deviations high (and half that prominent within 10 line widths) are kept, with sub-pixel
       positions.
    2. **Expected features** of each candidate element: its stage I and II lines on the axis,
       weighted by their optically thin LTE intensity per atom of the element at the
       temperature (Saha-Boltzmann), lines within half a line width merged; the ``n_lines``
       strongest.
    3. **Confidence**: the posterior probability that the element is present under a simple
       line-matching model. A feature "matches" when a peak lies within ``tolerance``. If the
       element is absent, feature ``i`` matches by chance with probability ``p_i``, the share
       of its ±10 nm neighbourhood lying within ``tolerance`` of some peak, at least 0.03 (so
       a peak-rich spectrum does not make every element look present). If it is present, the feature
       shows with probability ``q_i`` up to 0.9, scaled by its expected height against the
       detection threshold; the expected height is its relative LTE strength times the
       element's scale, the median observed/expected ratio of its matched features within
       ±50 nm (the instrument's response changes along the axis; without a matched feature
       nearby, the element's overall scale counts half). The log-likelihood ratio of the matches and
       misses plus the log prior odds (``prior``, by default 0.1: few of the ~80 candidates
       are in any sample) gives the confidence. Missing strong lines weigh heavily; an element
       whose only matches are chance coincidences with tall peaks of other elements is
       rejected, because its scale then predicts lines that are not there.
    4. **Explaining away**: elements are accepted greedily, most confident first; the peaks
       an accepted element explains (its expected height at least a third of the peak's) no
       longer count for the others, which are scored again (Ar I 794.82 nm does not make Rb
       I 794.76 nm look present).
    5. **Temperature** (when not given): the expected intensities of steps 2-4 use 10,000 K;
       then, for the detected elements that are not ambient, ``ln(observed height / expected
       strength per atom)`` (the same for every line of one element under LTE) is computed at
       6,000-15,000 K in 1,000 K steps, and the temperature with the smallest pooled spread
       (a multi-element Saha-Boltzmann plot) is reported and used for the ratios.
    6. **Ratios** (calibration-free LIBS under the same LTE model): each detected element's
       abundance is ``exp(median ln(observed / expected))`` over its matched features,
       normalised over the detected elements that are not ambient (H, N, O, Ar: ``ratio`` is
       None for them, since air or purge gas also supplies them). The instrument's spectral
       response, self-absorption and matrix effects are not modelled: the ratios are
       semi-quantitative.

    Parameters
    ----------
    spectrum : Spectrum
        A LIBS spectrum, wavelength axis in nm (air).
    elements : sequence of str, optional
        Candidate elements; default: every element with lines in the atomic data except the
        noble gases other than Ar and the elements without a stable isotope (Tc, Pm, Po, At,
        Fr, Ra, Ac, Pa).
    temperature : float, optional
        Plasma temperature, K; default: 10,000 K for the confidences and fitted for the
        ratios (step 5).
    ne : float, default=1e17
        Electron density for the Saha balance, cm⁻³.
    fwhm : float, optional
        Line width, nm; default: the spectrum's ``fwhm_nm`` metadata (per spectrometer for a
        simulated multi-spectrometer preset), else the median width of its 20 most prominent
        peaks; at least two pixels.
    tolerance : float, optional
        Largest distance between a peak and an expected line, nm; default: half the local line
        width (at least 1.5 pixels).
    n_lines : int, default=15
        Expected features per element that are checked.
    min_confidence : float, default=0.5
        Confidence from which an element counts as detected.
    prior : float, default=0.1
        Prior probability that a candidate element is present.
    min_prominence : float, default=0.005
        Smallest peak height above the baseline, as a fraction of the highest point.
    atomic : AtomicData, optional
        Default: `load_atomic_data()`.

    Returns
    -------
    ElementDetection
        ``.elements`` (detected, with ``confidence`` and ``ratio``), ``.candidates`` (all with
        a confidence of at least 0.01), ``.to_dict()``.

    Raises
    ------
    InputError
        Not a LIBS spectrum in nm, an unknown candidate element, or parameters out of range.
    """
    from lithoscope.physics._libs_atomic import load_atomic_data

    spectrum = _check_libs(spectrum, "element detection")
    if atomic is None:
        atomic = load_atomic_data()
    if not 0 <= min_confidence <= 1:
        raise InputError(f"min_confidence {min_confidence!r}: expected a number in 0-1")
    if not 0 < prior < 1:
        raise InputError(f"prior {prior!r}: expected a probability strictly between 0 and 1")
    if int(n_lines) < 1:
        raise InputError(f"n_lines {n_lines!r}: expected at least 1")
    t0 = 10000.0 if temperature is None else check_plasma(temperature, ne)[0]
    check_plasma(t0, ne)
    if elements is None:
        candidates = [e for e in atomic.elements if e not in _NOT_CANDIDATES]
    else:
        candidates = [str(e) for e in elements]
        unknown = [e for e in candidates if atomic.lines_of(e).size == 0]
        if unknown:
            raise InputError(
                f"elements: no lines in the atomic data for {', '.join(unknown)}; valid: "
                f"{', '.join(atomic.elements)}"
            )
    axis = spectrum.axis
    widths = line_widths(spectrum, fwhm)
    if tolerance is None:
        tol = np.maximum(0.5 * widths, 1.5 * _steps(axis))
    else:
        try:
            value = float(tolerance)
        except (TypeError, ValueError):
            value = math.nan
        if not value > 0:
            raise InputError(f"tolerance {tolerance!r}: expected a distance > 0 nm")
        tol = np.full(axis.size, value)
    peaks = find_lines(spectrum, fwhm=widths, min_prominence=min_prominence)
    threshold = max(min_prominence, 5.0 * peaks.noise)
    kwargs = {
        "ne": ne,
        "fwhm": widths,
        "tolerance": tol,
        "threshold": threshold,
        "n_lines": int(n_lines),
        "prior": prior,
        "min_confidence": min_confidence,
    }
    evidence = _assess(atomic, axis, peaks, candidates, temperature=t0, **kwargs)
    found = [e for e in evidence if e.confidence >= min_confidence]
    t = t0
    fit = [e.element for e in found if e.element not in AMBIENT_ELEMENTS]
    if temperature is None and fit:
        trials = [_assess(atomic, axis, peaks, fit, temperature=tt, **kwargs) for tt in _T_GRID]
        spreads = [_scatter(trial) for trial in trials]
        if np.isfinite(min(spreads)):
            best = int(np.argmin(spreads))
            t = _T_GRID[best]
            by_element = {e.element: e.log_abundance for e in trials[best]}
            found = [
                dataclasses.replace(e, log_abundance=by_element[e.element])
                if e.element in by_element
                else e
                for e in found
            ]
    found = [e for e in evidence if e.confidence >= min_confidence]
    abundance = {
        e.element: math.exp(float(np.median(e.log_abundance)))
        for e in found
        if e.element not in AMBIENT_ELEMENTS and e.log_abundance.size
    }
    total = math.fsum(abundance.values())
    results = [
        DetectedElement(
            e.element,
            e.confidence,
            (abundance[e.element] / total if e.element in abundance and total > 0 else None),
            e.matched,
            e.missing,
            e.element in AMBIENT_ELEMENTS,
        )
        for e in evidence
        if e.confidence >= 0.01
    ]
    return ElementDetection(
        elements=[d for d in results if d.confidence >= min_confidence],
        candidates=results,
        temperature=float(t),
        ne=float(ne),
        fwhm=float(np.median(widths)),
        tolerance=float(np.median(tol)),
        n_peaks=int(peaks.position.size),
    )


# ----------------------------------------------------------------------------- Boltzmann lines
def measure_lines(
    spectrum: Spectrum,
    atomic: AtomicData,
    element: str,
    ion: int,
    *,
    temperature: float,
    fwhm: float | None,
    n_lines: int,
    max_uncertainty: float,
    interferences: Sequence[str] = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Wavelength, E_k, ``ln(I lambda / (g_k A_ki))`` and its uncertainty for the isolated
    lines of a species."""
    _check_libs(spectrum, "Boltzmann plot")
    axis, y = spectrum.axis, spectrum.intensities
    widths = np.maximum(line_widths(spectrum, fwhm), 2.5 * _steps(axis))
    noise = _noise(y)
    every = atomic.lines_of(element)
    if atomic.lines_of(element, ion).size == 0:
        raise InputError(
            f"Boltzmann plot: no {element} {'I' * ion} lines in the atomic data; check the "
            "element symbol and stage"
        )
    every = every[_covered(axis, atomic.wavelength_nm[every])]
    ne = 1e17
    # both stages of the element, on one scale (Saha-Boltzmann per atom), then the species'
    every_s = _species_strength(atomic, every, element, temperature, ne) if every.size else []
    every_s = np.asarray(every_s, dtype=np.float64)
    if every_s.size:
        every_s = every_s / every_s.max()
    mine = atomic.ion[every] == ion
    idx, rel = every[mine], every_s[mine]
    wl = atomic.wavelength_nm[idx]
    acc = atomic.accuracy[idx]
    good = np.isfinite(acc) & (acc <= max_uncertainty)
    # neighbours that would blend: the element's own lines, and those of the interferences
    others_wl = [atomic.wavelength_nm[every]]
    others_s = [every_s]
    for el in interferences:
        j = atomic.lines_of(el)
        j = j[_covered(axis, atomic.wavelength_nm[j])]
        if j.size == 0 or el == element:
            continue
        st = _species_strength(atomic, j, el, temperature, ne)
        others_wl.append(atomic.wavelength_nm[j])
        others_s.append(st / st.max())
    all_wl = np.concatenate(others_wl)
    all_s = np.concatenate(others_s)
    order = np.argsort(all_wl)
    all_wl, all_s = all_wl[order], all_s[order]
    strength = rel
    ranked = [i for i in np.argsort(-strength) if good[i]]
    out_wl, out_e, out_y, out_sd = [], [], [], []
    base = _baseline(y, axis, float(np.median(widths)))
    line_width = np.interp(wl, axis, widths)
    for i in ranked:
        if len(out_wl) >= n_lines:
            break
        width = float(line_width[i])
        sigma = width / (2.0 * math.sqrt(2.0 * math.log(2.0)))
        half = 1.5 * width  # +-3.5 sigma: the whole Gaussian
        # light of the other lines falling into this line's window, at their expected strength
        lo, hi = np.searchsorted(all_wl, [wl[i] - half - 4 * sigma, wl[i] + half + 4 * sigma])
        inside = ndtr((wl[i] + half - all_wl[lo:hi]) / sigma) - ndtr(
            (wl[i] - half - all_wl[lo:hi]) / sigma
        )
        foreign = float(np.sum(all_s[lo:hi] * inside)) - rel[i] * (ndtr(3.5) - ndtr(-3.5))
        if foreign > 0.05 * rel[i]:
            continue
        a, b = np.searchsorted(axis, [wl[i] - half, wl[i] + half])
        if b - a < 3:
            continue
        seg = y[a:b] - base[a:b]
        top = a + int(np.argmax(seg))
        if abs(axis[top] - wl[i]) > 0.5 * width or top in (a, b - 1) or seg.max() < 5 * noise:
            continue
        edge = min(seg[0], seg[-1])
        area = float(np.sum((seg - edge) * _steps(axis)[a:b]))
        if area <= 0:
            continue
        out_wl.append(wl[i])
        out_e.append(atomic.ek_ev[idx[i]])
        out_y.append(math.log(area * wl[i] / (atomic.gk[idx[i]] * atomic.aki[idx[i]])))
        # white noise on b - a pixels; a floor of 0.5 % for the model (profiles, baseline)
        noise_area = noise * float(np.sqrt(np.sum(_steps(axis)[a:b] ** 2)))
        out_sd.append(math.hypot(noise_area / area, 0.005))
    return np.asarray(out_wl), np.asarray(out_e), np.asarray(out_y), np.asarray(out_sd)
