"""Raman spectra of mineral mixtures: linear mixing by abundance and relative scattering efficiency.

A Raman spectrum taken with a spot larger than the grains of a rock sums the scattering of every
mineral in the spot. Raman scattering is weak and (away from resonance and strong absorption)
each grain scatters independently, so the measured spectrum is, to first order, a **linear
mixture** of the pure minerals' spectra:

.. math::

    s(\\nu) = \\sum_j \\phi_j \\, \\eta_j \\, p_j(\\nu)

where ``phi_j`` is the volume fraction of mineral ``j`` in the spot, ``eta_j`` its relative Raman
scattering efficiency per unit volume (signal of a unit volume of the mineral relative to the
same volume of quartz) and ``p_j`` its pure spectrum. lithoscope's pure spectra are preprocessed
(baseline removed, tallest band scaled to 1), so ``eta_j`` here is the height of the mineral's
tallest band per unit volume relative to quartz's 464 cm-1 band. When efficiencies are known per
unit *mass* (as measured on weighed powders), pass ``densities``: the weight becomes
``phi_j * rho_j * eta_j``.

The model ignores what makes published quantification hard (Haskin et al. 1997, JGR 102:19293;
Breitenfeld et al., Raman cross-section proxies): absorption by dark phases shading their
neighbours, grain size against spot size, crystal orientation and fluorescence of some phases.
`mixture_batch` adds the instrument's share of that variation (`lithoscope.physics.instrument`):
calibration warp, band-ratio changes, a fluorescence-like background, shot and read noise.

Relative efficiencies come from `raman_efficiencies` (``raman_efficiencies.csv`` beside this
module): **quartz = 1 is the only value fixed by definition; every other value is an assumed
ordinal class** (strong 1.0, moderate-to-strong 0.7, moderate 0.5, weak 0.3-0.2, very weak 0.1)
from the qualitative statements of the literature, not a measured cross-section. A mineral with
no row (neither its species nor its group) gets 1.0 with status ``unmeasured``.

| function | what |
|---|---|
| `linear_mixture` | pure spectra + volume fractions + efficiencies -> mixed spectra |
| `signal_fractions` | volume fractions -> fraction of the Raman signal of each mineral |
| `volume_fractions` | the inverse: signal weights (e.g. fitted) -> volume fractions |
| `raman_efficiencies` | the curated table (species or group -> efficiency, status, source) |
| `efficiencies_for` | efficiency of each mineral by species, then group, else 1.0 |
| `mixture_batch` | linear mixtures with instrument variation, background and noise |
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt

from lithoscope.errors import InputError
from lithoscope.physics.instrument import add_baseline, add_noise, scale_bands, warp_axis

__all__ = [
    "EFFICIENCY_FILE",
    "Efficiency",
    "bulk_composition",
    "efficiencies_for",
    "linear_mixture",
    "mixture_batch",
    "raman_efficiencies",
    "signal_fractions",
    "volume_fractions",
]

EFFICIENCY_FILE = "raman_efficiencies.csv"
_STATUSES = ("reference", "measured", "assumed", "unmeasured")


@dataclass(frozen=True)
class Efficiency:
    """Relative Raman scattering efficiency of a species or group (quartz 464 cm-1 = 1)."""

    name: str
    kind: str
    efficiency: float
    status: str
    source: str


@functools.cache
def raman_efficiencies() -> dict[str, Efficiency]:
    """The curated table of relative Raman scattering efficiencies, by lower-case name.

    Returns
    -------
    dict of str to Efficiency
        Keys are species or group names in lower case (``kind`` says which).

    Examples
    --------
    >>> raman_efficiencies()["quartz"].efficiency
    1.0
    >>> raman_efficiencies()["olivine"].status
    'assumed'
    """
    text = resources.files("lithoscope.physics").joinpath(EFFICIENCY_FILE).read_text("utf-8")
    table: dict[str, Efficiency] = {}
    for line, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        try:
            value = float(row["efficiency"])
        except (TypeError, ValueError):
            raise InputError(
                f"{EFFICIENCY_FILE}:{line}: efficiency must be a number, got {row['efficiency']!r}"
            ) from None
        if (
            not value > 0
            or row["status"] not in _STATUSES
            or row["kind"]
            not in (
                "species",
                "group",
            )
        ):
            raise InputError(
                f"{EFFICIENCY_FILE}:{line}: expected efficiency > 0, kind species|group and status "
                f"one of {', '.join(_STATUSES)}, got {value}, {row['kind']!r}, {row['status']!r}"
            )
        key = row["name"].strip().lower()
        table[key] = Efficiency(key, row["kind"], value, row["status"], row["source"])
    return table


def efficiencies_for(
    minerals: Sequence[str],
    groups: Mapping[str, str | None] | None = None,
    *,
    table: Mapping[str, Efficiency] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Relative efficiency of each mineral: its species row, else its group's, else 1.0.

    Parameters
    ----------
    minerals : sequence of str
        Species names (case-insensitive).
    groups : mapping of str to str, optional
        Species -> group name (`MinDB.species_groups`).
    table : mapping, optional
        Default: `raman_efficiencies`.

    Returns
    -------
    (efficiencies, statuses) : (ndarray of shape (k,), list of str)
        ``statuses`` is ``unmeasured`` where neither species nor group has a row.

    Examples
    --------
    >>> eff, status = efficiencies_for(["Quartz", "Forsterite", "Xyz"], {"Forsterite": "olivine"})
    >>> eff.tolist(), status
    ([1.0, 0.7, 1.0], ['reference', 'assumed', 'unmeasured'])
    """
    table = raman_efficiencies() if table is None else table
    groups = groups or {}
    values, statuses = [], []
    for mineral in minerals:
        row = table.get(str(mineral).lower())
        group = groups.get(mineral)
        if row is None and group:
            row = table.get(str(group).lower())
        values.append(1.0 if row is None else row.efficiency)
        statuses.append("unmeasured" if row is None else row.status)
    return np.asarray(values, dtype=np.float64), statuses


def _weights(
    abundances: npt.ArrayLike,
    k: int,
    efficiencies: npt.ArrayLike | None,
    densities: npt.ArrayLike | None,
) -> np.ndarray:
    """Signal weight ``phi * eta (* rho)`` of each component, shape (m, k)."""
    phi = np.asarray(abundances, dtype=np.float64)
    if phi.ndim == 1:
        phi = phi[None, :]
    if phi.ndim != 2 or phi.shape[1] != k:
        raise InputError(
            f"abundances must have shape (n_mixtures, {k}) (one column per pure spectrum), "
            f"got {np.shape(abundances)}"
        )
    if np.any(phi < 0) or not np.all(np.isfinite(phi)):
        raise InputError("abundances must be finite volume fractions >= 0")
    w = phi.copy()
    for name, values in (("efficiencies", efficiencies), ("densities", densities)):
        if values is None:
            continue
        arr = np.asarray(values, dtype=np.float64)
        if arr.shape != (k,) or np.any(arr <= 0) or not np.all(np.isfinite(arr)):
            raise InputError(
                f"{name} must be {k} finite numbers > 0 (one per pure spectrum), got shape "
                f"{arr.shape}"
            )
        w = w * arr[None, :]
    return w


def linear_mixture(
    spectra: npt.ArrayLike,
    abundances: npt.ArrayLike,
    efficiencies: npt.ArrayLike | None = None,
    densities: npt.ArrayLike | None = None,
) -> np.ndarray:
    """Mixed spectra ``sum_j phi_j * eta_j (* rho_j) * p_j``: Raman signal adds by volume.

    Parameters
    ----------
    spectra : array_like, shape (k, n_points) or (m, k, n_points)
        Pure spectra of the ``k`` components, shared by all mixtures or one set per mixture.
    abundances : array_like, shape (m, k) or (k,)
        Volume fractions (any non-negative scale; they are not renormalised).
    efficiencies : array_like, shape (k,), optional
        Relative Raman scattering efficiency per unit volume (default 1), or per unit mass
        when ``densities`` are given.
    densities : array_like, shape (k,), optional
        g/cm3; turns per-mass efficiencies into per-volume ones.

    Returns
    -------
    numpy.ndarray, shape (m, n_points)

    Raises
    ------
    InputError
        Shapes that do not match, negative fractions, efficiencies or densities <= 0.

    Examples
    --------
    >>> linear_mixture([[1.0, 0.0], [0.0, 1.0]], [[0.25, 0.75]], efficiencies=[2.0, 1.0]).tolist()
    [[0.5, 0.75]]
    """
    S = np.asarray(spectra, dtype=np.float64)
    if S.ndim not in (2, 3) or S.shape[-1] < 2:
        raise InputError(
            f"spectra must have shape (k, n_points) or (m, k, n_points), got {S.shape}"
        )
    k = S.shape[-2]
    w = _weights(abundances, k, efficiencies, densities)
    if S.ndim == 2:
        return w @ S
    if S.shape[0] != w.shape[0]:
        raise InputError(
            f"spectra hold {S.shape[0]} sets of pure spectra but abundances {w.shape[0]} mixtures"
        )
    return np.einsum("mk,mkn->mn", w, S)


def signal_fractions(
    abundances: npt.ArrayLike,
    efficiencies: npt.ArrayLike | None = None,
    densities: npt.ArrayLike | None = None,
) -> np.ndarray:
    """Share of the Raman signal of each component: ``phi eta / sum(phi eta)``, shape (m, k).

    Examples
    --------
    >>> signal_fractions([0.5, 0.5], [1.0, 0.25]).round(2).tolist()
    [[0.8, 0.2]]
    """
    phi = np.asarray(abundances, dtype=np.float64)
    k = phi.shape[-1] if phi.ndim else 0
    w = _weights(phi, k, efficiencies, densities)
    total = w.sum(axis=1, keepdims=True)
    return w / np.where(total > 0, total, 1.0)


def volume_fractions(
    weights: npt.ArrayLike,
    efficiencies: npt.ArrayLike | None = None,
    densities: npt.ArrayLike | None = None,
) -> np.ndarray:
    """Volume fractions from signal weights (the inverse of the mixing): ``(w / eta) / sum``.

    Rows whose weights are all zero stay zero.

    Parameters
    ----------
    weights : array_like, shape (m, k) or (k,)
        Non-negative signal weights, e.g. fitted by least squares against pure spectra.
    efficiencies, densities : array_like, shape (k,), optional
        As in `linear_mixture`.

    Returns
    -------
    numpy.ndarray, shape (m, k)
        Rows sum to 1 (or are all 0).

    Examples
    --------
    >>> volume_fractions([0.5, 0.75], [2.0, 1.0]).tolist()
    [[0.25, 0.75]]
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 1:
        w = w[None, :]
    if w.ndim != 2:
        raise InputError(f"weights must have shape (m, k), got {np.shape(weights)}")
    k = w.shape[1]
    scale = _weights(np.ones((1, k)), k, efficiencies, densities)
    phi = np.clip(w, 0.0, None) / scale
    total = phi.sum(axis=1, keepdims=True)
    return phi / np.where(total > 0, total, 1.0)


def mixture_batch(
    spectra: npt.ArrayLike,
    abundances: npt.ArrayLike,
    x: npt.ArrayLike | None = None,
    *,
    efficiencies: npt.ArrayLike | None = None,
    rng: np.random.Generator,
    shift: float = 1.5,
    stretch: float = 0.001,
    band_amount: float = 0.2,
    baseline: float = 0.15,
    shot: tuple[float, float] = (1e-4, 2e-3),
    read: tuple[float, float] = (1e-3, 1e-2),
    normalize: bool = True,
) -> np.ndarray:
    """Linear mixtures as an instrument would record them: warp, band ratios, background, noise.

    Each pure spectrum is first varied on its own (`scale_bands`: orientation of that mineral's
    grains), then the mixture (`linear_mixture`) is recorded once: one calibration warp
    (`warp_axis`), a fluorescence-like background (`add_baseline`), shot and read noise
    (`add_noise`), and division by its maximum (as the preprocessing presets do).

    Parameters
    ----------
    spectra : array_like, shape (m, k, n_points) or (k, n_points)
        Preprocessed pure spectra (tallest band 1), one set per mixture or shared.
    abundances : array_like, shape (m, k)
        Volume fractions.
    x : array_like, shape (n_points,), optional
        The axis (cm-1); default: point index.
    efficiencies : array_like, shape (k,) or (m, k), optional
        Relative scattering efficiency per unit volume (default 1); one row per mixture when
        the components differ between mixtures.
    rng : numpy.random.Generator
    shift, stretch : float
        Largest calibration offset (axis units) and relative dispersion change.
    band_amount : float, default=0.2
        Largest log-gain of the band-ratio change of each pure spectrum (0: none).
    baseline : float, default=0.15
        Largest background maximum relative to the mixture's tallest band (0: none).
    shot, read : (float, float)
        Log-uniform ranges of the shot-noise factor and read-noise sd (relative to the tallest
        band); (0, 0) for none.
    normalize : bool, default=True

    Returns
    -------
    numpy.ndarray, shape (m, n_points)
    """
    S = np.asarray(spectra, dtype=np.float64)
    phi = np.asarray(abundances, dtype=np.float64)
    if phi.ndim == 1:
        phi = phi[None, :]
    if S.ndim == 2:
        S = np.broadcast_to(S, (phi.shape[0], *S.shape))
    if S.ndim != 3:
        raise InputError(
            f"spectra must have shape (k, n_points) or (m, k, n_points), got {np.shape(spectra)}"
        )
    m, k, n = S.shape
    eff = np.ones((m, k)) if efficiencies is None else np.asarray(efficiencies, dtype=np.float64)
    if eff.ndim == 1:
        eff = np.broadcast_to(eff, (m, eff.size))
    if eff.shape != (m, k) or np.any(eff <= 0):
        raise InputError(
            f"efficiencies must be > 0 with shape ({k},) or ({m}, {k}), got {eff.shape}"
        )
    w = _weights(phi, k, None, None) * eff
    axis = np.arange(n, dtype=np.float64) if x is None else np.asarray(x, dtype=np.float64)
    pure = S.reshape(m * k, n)
    if band_amount > 0:
        amount = rng.uniform(0.0, band_amount, m * k)
        pure = scale_bands(pure, axis, amount=amount, rng=rng)
    out = np.einsum("mk,mkn->mn", w, pure.reshape(m, k, n))
    peak = np.max(np.abs(out), axis=1, keepdims=True)
    out = out / np.where(peak > 0, peak, 1.0)
    if shift > 0 or stretch > 0:
        out = warp_axis(
            out,
            axis,
            shift=rng.uniform(-shift, shift, m),
            stretch=rng.uniform(-stretch, stretch, m),
        )
    if baseline > 0:
        out = add_baseline(out, axis, amplitude=rng.uniform(0.0, baseline, m), rng=rng)
    if shot[1] > 0 or read[1] > 0:

        def loguniform(lo_hi: tuple[float, float]) -> np.ndarray:
            if lo_hi[1] <= 0:
                return np.zeros(m)
            lo = max(lo_hi[0], lo_hi[1] * 1e-6)
            return np.exp(rng.uniform(np.log(lo), np.log(lo_hi[1]), m))

        out = add_noise(out, shot=loguniform(shot), read=loguniform(read), rng=rng)
    if normalize:
        peak = np.max(np.abs(out), axis=1, keepdims=True)
        out = out / np.where(peak > 0, peak, 1.0)
    return out


def bulk_composition(
    formulas: Sequence[str | object],
    volume_fractions: npt.ArrayLike,
    densities: npt.ArrayLike,
) -> dict[str, float]:
    """Element wt% of a mixture: each mineral's element wt% weighted by its mass fraction.

    The composition a LIBS plasma of the mixture sees (the laser samples the minerals in
    proportion to their mass under the spot), to simulate with
    ``lithoscope.physics.libs.simulate(composition, basis="mass")``.

    Parameters
    ----------
    formulas : sequence of str or Formula
        The minerals' formulas (parsed by `lithoscope.mindb.chemistry.parse_formula`).
    volume_fractions : array_like (k,)
        Non-negative; normalised to sum to 1.
    densities : array_like (k,)
        g/cm3, > 0 (vol -> mass).

    Returns
    -------
    dict of str to float
        Element -> wt%, summing to 100.

    Raises
    ------
    InputError
        Lengths differ, negative or all-zero fractions, non-positive densities, or an
        unreadable formula.

    Examples
    --------
    >>> comp = bulk_composition(["SiO2", "SiO2"], [0.5, 0.5], [2.65, 2.65])
    >>> round(comp["Si"], 2), round(comp["O"], 2)
    (46.74, 53.26)
    """
    from lithoscope.mindb.chemistry import parse_formula

    phi = np.asarray(volume_fractions, dtype=np.float64)
    rho = np.asarray(densities, dtype=np.float64)
    if not (phi.shape == rho.shape == (len(formulas),)):
        raise InputError(
            f"formulas ({len(formulas)}), volume_fractions {phi.shape} and densities "
            f"{rho.shape} must have one entry per mineral"
        )
    if not np.all(np.isfinite(phi)) or np.any(phi < 0) or phi.sum() <= 0:
        raise InputError(f"volume_fractions must be >= 0 and not all 0, got {phi.tolist()}")
    if not np.all(np.isfinite(rho)) or np.any(rho <= 0):
        raise InputError(f"densities must be > 0 g/cm3, got {rho.tolist()}")
    mass = phi * rho
    mass = mass / mass.sum()
    out: dict[str, float] = {}
    for formula, w in zip(formulas, mass, strict=True):
        parsed = parse_formula(formula) if isinstance(formula, str) else formula
        for element, pct in parsed.element_wt_percent().items():
            out[element] = out.get(element, 0.0) + float(w) * pct
    return out
