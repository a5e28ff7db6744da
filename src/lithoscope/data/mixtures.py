"""Synthetic Raman spectra of mineral mixtures drawn from real planetary rock types.

`ASSEMBLAGE_FILE` (``assemblages.csv`` beside this module) lists, for each rock type of the Moon,
Mars and meteorites, its minerals ("slots": plagioclase, low-Ca pyroxene...), the RRUFF species
that may stand for each slot (``Enstatite|Ferrosilite``), a typical volume-% range and the
source (``../shared/data/occurrence/ROCKS.md`` for the lunar rocks and Martian meteorites, the
MSL CheMin tables of the mirror for Gale sediments and basalt, and the cited modal studies for
chondrites; rows marked "approximate" are rounded literature ranges, not a measured
distribution). Ranges are of the crystalline, Raman-visible fraction: Fe-Ni metal and troilite
in chondrites and amorphous phases are left out.

`make_mixtures` draws mixtures of 2-4 minerals from given pure spectra (so that a benchmark can
pass the spectra of its test side only): an assemblage at random, then distinct slots (more
abundant slots more often), one available species per slot, one of its spectra, and volume
fractions ``min_fraction + (1 - k min_fraction) Dirichlet(alpha)`` whose concentrations follow
the slots' typical abundances. The spectra are mixed and "measured" by
`lithoscope.physics.mixing.mixture_batch` (efficiency-weighted linear mixing, calibration warp,
band ratios, background, noise).
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lithoscope.errors import InputError
from lithoscope.physics.mixing import mixture_batch

__all__ = [
    "ASSEMBLAGE_FILE",
    "Assemblage",
    "Mixtures",
    "Slot",
    "assemblage_species",
    "load_assemblages",
    "make_mixtures",
]

ASSEMBLAGE_FILE = "assemblages.csv"


@dataclass(frozen=True)
class Slot:
    """One mineral of a rock type: the species that may stand for it and its vol-% range."""

    name: str
    species: tuple[str, ...]
    min_vol: float
    max_vol: float
    source: str


@dataclass(frozen=True)
class Assemblage:
    """A rock type and its minerals."""

    rock: str
    body: str
    slots: tuple[Slot, ...]

    def species(self) -> list[str]:
        """Every species any slot may take, sorted."""
        return sorted({s for slot in self.slots for s in slot.species})


def _read_rows(text: str, where: str) -> dict[str, Assemblage]:
    rows: dict[str, tuple[str, list[Slot]]] = {}
    required = {"rock", "body", "slot", "species", "min_vol", "max_vol", "source"}
    reader = csv.DictReader(text.splitlines())
    if not required <= set(reader.fieldnames or ()):
        raise InputError(f"{where}: expected columns {', '.join(sorted(required))}")
    for line, row in enumerate(reader, start=2):
        try:
            lo, hi = float(row["min_vol"]), float(row["max_vol"])
        except (TypeError, ValueError):
            raise InputError(
                f"{where}:{line}: min_vol and max_vol must be numbers, got "
                f"{row['min_vol']!r}, {row['max_vol']!r}"
            ) from None
        species = tuple(s.strip() for s in row["species"].split("|") if s.strip())
        if not 0 <= lo <= hi <= 100 or not species:
            raise InputError(
                f"{where}:{line}: expected 0 <= min_vol <= max_vol <= 100 and at least one "
                f"species, got {lo}, {hi}, {row['species']!r}"
            )
        slots = rows.setdefault(row["rock"], (row["body"], []))[1]
        slots.append(Slot(row["slot"], species, lo, hi, row["source"]))
    return {rock: Assemblage(rock, body, tuple(slots)) for rock, (body, slots) in rows.items()}


@functools.cache
def _packaged() -> dict[str, Assemblage]:
    text = resources.files("lithoscope.data").joinpath(ASSEMBLAGE_FILE).read_text("utf-8")
    return _read_rows(text, ASSEMBLAGE_FILE)


def load_assemblages(path: str | Path | None = None) -> dict[str, Assemblage]:
    """Rock type -> `Assemblage`, from the packaged table or a CSV of the same columns.

    Parameters
    ----------
    path : str or Path, optional
        A CSV with columns rock, body, slot, species (``|``-separated), min_vol, max_vol,
        source.

    Returns
    -------
    dict of str to Assemblage

    Raises
    ------
    InputError
        A row with bad numbers or no species (the message gives file:line).

    Examples
    --------
    >>> table = load_assemblages()
    >>> table["troctolite"].body
    'Moon'
    >>> [s.name for s in table["troctolite"].slots][:2]
    ['plagioclase', 'olivine']
    """
    if path is None:
        return dict(_packaged())
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the assemblage table ({exc.strerror})") from None
    return _read_rows(text, str(path))


def assemblage_species(assemblages: Mapping[str, Assemblage] | None = None) -> list[str]:
    """Every species of the assemblages, sorted (the candidate classes of a mixture model)."""
    table = load_assemblages() if assemblages is None else assemblages
    return sorted({s for a in table.values() for s in a.species()})


@dataclass
class Mixtures:
    """Synthetic mixture spectra and their truth.

    Attributes
    ----------
    X : ndarray, shape (m, n_points)
    Y : ndarray of int8, shape (m, n_classes)
        1 where the class is in the mixture.
    A : ndarray, shape (m, n_classes)
        Volume fractions (rows sum to 1).
    classes : ndarray of str, shape (n_classes,)
    rocks : ndarray of str, shape (m,)
        The rock type each mixture was drawn from.
    """

    X: np.ndarray
    Y: np.ndarray
    A: np.ndarray
    classes: np.ndarray
    rocks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=str))

    @property
    def n_components(self) -> np.ndarray:
        """Minerals in each mixture, shape (m,)."""
        return self.Y.sum(axis=1)


def _check_spectra(
    spectra_by_species: Mapping[str, npt.ArrayLike],
) -> tuple[dict[str, np.ndarray], int]:
    out: dict[str, np.ndarray] = {}
    n_points = None
    for name, value in spectra_by_species.items():
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[0] == 0:
            raise InputError(
                f"spectra_by_species[{name!r}] must be a stack of spectra (n, n_points), got "
                f"shape {np.shape(value)}"
            )
        if n_points is None:
            n_points = arr.shape[1]
        elif arr.shape[1] != n_points:
            raise InputError(
                f"spectra_by_species[{name!r}] has {arr.shape[1]} points, the others {n_points}; "
                "resample them onto one axis"
            )
        out[str(name)] = arr
    if n_points is None:
        raise InputError("spectra_by_species is empty: give pure spectra of at least 2 species")
    return out, n_points


def make_mixtures(
    spectra_by_species: Mapping[str, npt.ArrayLike],
    assemblages: Mapping[str, Assemblage] | None = None,
    n: int = 1000,
    *,
    n_components: tuple[int, int] = (2, 4),
    rng: np.random.Generator,
    classes: Sequence[str] | None = None,
    x: npt.ArrayLike | None = None,
    efficiencies: Mapping[str, float] | None = None,
    min_fraction: float = 0.05,
    concentration: float = 4.0,
    instrument: Mapping[str, Any] | None = None,
) -> Mixtures:
    """Draw ``n`` mixtures of 2-4 minerals of real rock types from the given pure spectra.

    Parameters
    ----------
    spectra_by_species : mapping of str to array_like (n_i, n_points)
        Preprocessed pure spectra of each species on one axis; only these are mixed (pass the
        test side's spectra to build a test set).
    assemblages : mapping of str to Assemblage, optional
        Default: `load_assemblages`. Slots without any available species are skipped; rock
        types left with fewer than ``n_components[0]`` slots are not drawn.
    n : int, default=1000
    n_components : (int, int), default=(2, 4)
        Smallest and largest number of minerals (inclusive; capped by the rock's slots).
    rng : numpy.random.Generator
    classes : sequence of str, optional
        Columns of ``Y`` and ``A`` (default: every available species of the assemblages);
        must include every species that can be drawn.
    x : array_like, optional
        The axis (passed to the instrument model).
    efficiencies : mapping of str to float, optional
        Relative Raman efficiency per species (`lithoscope.physics.mixing.efficiencies_for`);
        missing species get 1.
    min_fraction : float, default=0.05
        Smallest volume fraction of a mineral in a mixture (a trace mineral below the noise
        would be "present" but invisible).
    concentration : float, default=4.0
        Dirichlet concentration: larger values keep fractions nearer the rock's typical mode.
    instrument : mapping, optional
        Keyword arguments of `mixture_batch` (shift, stretch, band_amount, baseline, shot,
        read); ``{"baseline": 0, ...}`` for clean mixtures.

    Returns
    -------
    Mixtures

    Raises
    ------
    InputError
        Empty or inconsistent spectra, bad ``n_components`` or ``min_fraction``, no rock type
        with enough available species, or ``classes`` missing a drawable species.
    """
    pure, _ = _check_spectra(spectra_by_species)
    lo, hi = (int(v) for v in n_components)
    if not 1 <= lo <= hi:
        raise InputError(f"n_components must be (low, high) with 1 <= low <= high, got {lo, hi}")
    if not 0 <= min_fraction * hi < 1:
        raise InputError(
            f"min_fraction must be >= 0 and below 1/{hi} for {hi} components, got {min_fraction}"
        )
    if n < 1:
        raise InputError(f"n must be a positive number of mixtures, got {n}")
    table = load_assemblages() if assemblages is None else assemblages
    usable: list[tuple[str, list[tuple[Slot, list[str]]]]] = []
    for rock, assemblage in table.items():
        slots = [(s, [sp for sp in s.species if sp in pure]) for s in assemblage.slots]
        slots = [(s, sp) for s, sp in slots if sp]
        if len(slots) >= lo:
            usable.append((rock, slots))
    if not usable:
        raise InputError(
            f"no rock type has {lo} slots with spectra among the {len(pure)} species given; "
            "give spectra of rock-forming minerals (see lithoscope/data/assemblages.csv)"
        )
    drawable = sorted({sp for _, slots in usable for _, sps in slots for sp in sps})
    cls = np.asarray(drawable if classes is None else list(classes), dtype=str)
    missing = sorted(set(drawable) - set(cls.tolist()))
    if missing:
        raise InputError(
            f"classes lack species that can be drawn: {', '.join(missing[:5])}"
            f"{'...' if len(missing) > 5 else ''}; add them or leave classes out"
        )
    column = {c: i for i, c in enumerate(cls.tolist())}
    eff_of = dict(efficiencies or {})

    chosen_rows: list[list[str]] = []
    fractions: list[np.ndarray] = []
    rocks: list[str] = []
    for _ in range(int(n)):
        rock, slots = usable[rng.integers(len(usable))]
        k = int(rng.integers(lo, min(hi, len(slots)) + 1))
        mids = np.array([max(0.5 * (s.min_vol + s.max_vol), 1.0) for s, _ in slots])
        picked: list[str] = []
        weights: list[float] = []
        order = rng.choice(len(slots), size=len(slots), replace=False, p=mids / mids.sum())
        for i in order:
            options = [sp for sp in slots[i][1] if sp not in picked]
            if not options:
                continue
            picked.append(options[rng.integers(len(options))])
            weights.append(mids[i])
            if len(picked) == k:
                break
        w = np.asarray(weights)
        alpha = 1.0 + concentration * w / w.sum() * len(w)
        phi = min_fraction + (1.0 - len(w) * min_fraction) * rng.dirichlet(alpha)
        chosen_rows.append(picked)
        fractions.append(phi)
        rocks.append(rock)

    m = len(chosen_rows)
    kmax = max(len(r) for r in chosen_rows)
    n_points = next(iter(pure.values())).shape[1]
    S = np.zeros((m, kmax, n_points))
    P = np.zeros((m, kmax))
    E = np.ones((m, kmax))
    Y = np.zeros((m, cls.size), dtype=np.int8)
    A = np.zeros((m, cls.size))
    for r, (species, phi) in enumerate(zip(chosen_rows, fractions, strict=True)):
        for j, sp in enumerate(species):
            stack = pure[sp]
            S[r, j] = stack[rng.integers(stack.shape[0])]
            P[r, j] = phi[j]
            E[r, j] = float(eff_of.get(sp, 1.0))
            Y[r, column[sp]] = 1
            A[r, column[sp]] = phi[j]
    X = mixture_batch(S, P, x, efficiencies=E, rng=rng, **dict(instrument or {}))
    return Mixtures(X=X, Y=Y, A=A, classes=cls, rocks=np.asarray(rocks, dtype=str))
