"""`lithoscope data simulate-libs`: simulated LIBS reference spectra of MinDB's minerals.

MinDB holds no measured LIBS reference spectra; this fills it with spectra of its own species
simulated by the LTE plasma model (`lithoscope.physics.libs.simulate_random`) from each
species' formula, so that ``lithoscope train --method libs`` and ``lithoscope identify FILE
--method libs`` work through the same path as Raman and infrared.

It is a command of its own, not an ``ingest`` source: ingest sources are files fetched from a URL
or mirror and parsed, deduplicated by the file's sha256; here nothing is read but MinDB itself
(and the atomic data), and a run is described by parameters (which minerals, how many spectra
each, the instrument preset, the seed) that a source name cannot carry.

For every selected species with a formula the simulator can read (the others are skipped and
counted, with the reason), ``per_mineral`` spectra are drawn under randomised plasma and
instrument conditions. Draw ``k`` of a species has its own random stream, seeded by
``(seed, species name, k)``, so it is the same whatever else is simulated, in whatever order or
process. Each spectrum is stored with `MinDB.add_spectra` as method ``libs``:

* ``source``: ``"lithoscope LTE simulation (physics.libs)"`` (`SOURCE`);
* ``sample_id``: ``SIM-<mineral>-<k>``: each draw is a sample of its own, so grouped splits may
  put two draws of a mineral on either side (they are independent measurements), and no draw
  shares an id with a RRUFF sample (draw ``k`` of another preset or seed shares it, and stays on
  the same side);
* ``checksum``: the sha256 of the recipe (generator, preset, seed, mineral, formula, ``k``), not
  of the numbers: a run skips what an earlier run stored before simulating anything, and an
  interrupted run resumes where it stopped (spectra are committed every ``chunk`` spectra);
* metadata: the conditions drawn (``temperature_k``, ``ne_cm3``, ``preset``, ``fwhm_nm``,
  ``self_absorption``, ``path_length_cm``, ``continuum``, ``shift_nm``, ``noise``), the formula
  and atom fractions simulated, the seed and draw, and the sha256 of the NIST line file.

A spectrum is ~125 kB in MinDB (7,810 float64 points for axis and intensities, handheld preset):
4 spectra of the ~1,650 species with Raman spectra take about 0.8 GB, of all ~6,000 species 3 GB.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lithoscope.errors import InputError
from lithoscope.methods import Method, parse_enum
from lithoscope.spectra.spectrum import Spectrum

if TYPE_CHECKING:  # not imported at run time: worker processes need no database code
    from lithoscope.mindb.queries import MinDB

__all__ = [
    "GENERATOR",
    "SOURCE",
    "SimulationReport",
    "libs_recipe_checksum",
    "sample_id",
    "simulate_libs_references",
    "simulate_mineral",
]

#: The ``source`` of every simulated reference spectrum in MinDB.
SOURCE = "lithoscope LTE simulation (physics.libs)"
#: The function that draws them (part of each spectrum's identity).
GENERATOR = "lithoscope.physics.libs.simulate_random"
_SKIPPED_SHOWN = 20


@dataclass
class SimulationReport:
    """What a `simulate_libs_references` run did.

    ``skipped`` maps each species left out to the reason (its formula cannot be simulated);
    ``without_lines`` each species simulated in this run with elements that have no line in the
    atomic data (Zr, Nb, Se, Th, U, ... in the NIST export used) to those elements.
    """

    preset: str
    seed: int
    per_mineral: int
    minerals: int = 0
    simulated_minerals: int = 0
    added: int = 0
    already_present: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    without_lines: dict[str, list[str]] = field(default_factory=dict)
    workers: int = 1
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": SOURCE,
            "preset": self.preset,
            "seed": self.seed,
            "per_mineral": self.per_mineral,
            "minerals": self.minerals,
            "simulated_minerals": self.simulated_minerals,
            "added": self.added,
            "already_present": self.already_present,
            "skipped": len(self.skipped),
            "skipped_minerals": dict(sorted(self.skipped.items())),
            "without_lines": len(self.without_lines),
            "elements_without_lines": dict(
                sorted(Counter(e for els in self.without_lines.values() for e in els).items())
            ),
            "workers": self.workers,
            "seconds": round(self.seconds, 2),
        }

    def skipped_lines(self, limit: int | None = _SKIPPED_SHOWN) -> list[str]:
        """One line per skipped species (the first ``limit``), with the reason."""
        items = sorted(self.skipped.items())
        lines = [f"skipped: {name}: {reason}" for name, reason in items[:limit]]
        if limit is not None and len(items) > limit:
            lines.append(f"... and {len(items) - limit} more (see --json)")
        return lines


# ---------------------------------------------------------------------------------- identity
def sample_id(mineral: str, k: int) -> str:
    """The sample id of draw ``k`` of ``mineral``: ``SIM-<mineral>-<k>``.

    Examples
    --------
    >>> sample_id("Monazite-(Ce)", 2)
    'SIM-Monazite-(Ce)-2'
    """
    return f"SIM-{mineral}-{k}"


def libs_recipe_checksum(mineral: str, formula: str, k: int, *, preset: str, seed: int) -> str:
    """sha256 of what makes a simulated spectrum: generator, preset, seed, mineral, formula, draw.

    Examples
    --------
    >>> a = libs_recipe_checksum("Quartz", "SiO2", 0, preset="handheld", seed=0)
    >>> a == libs_recipe_checksum("Quartz", "SiO2", 1, preset="handheld", seed=0), len(a)
    (False, 64)
    """
    recipe = {
        "generator": GENERATOR,
        "preset": preset,
        "seed": int(seed),
        "mineral": mineral,
        "formula": formula,
        "k": int(k),
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def _draw_rng(seed: int, mineral: str, k: int) -> np.random.Generator:
    """The random stream of draw ``k`` of ``mineral``: independent of order and process."""
    name = int.from_bytes(hashlib.sha256(mineral.encode()).digest()[:8], "big")
    return np.random.default_rng(np.random.SeedSequence([int(seed), name, int(k)]))


# ---------------------------------------------------------------------------------- simulation
def simulate_mineral(
    mineral: str,
    formula: str,
    draws: Sequence[int],
    *,
    preset: str = "handheld",
    seed: int = 0,
    atomic: Any = None,
) -> list[Spectrum]:
    """The simulated spectra ``draws`` (draw numbers ``k``) of one mineral, ready to store.

    Parameters
    ----------
    mineral : str
        Species name (the label the spectra are linked by).
    formula : str
        Its formula (`lithoscope.mindb.chemistry.parse_formula` syntax).
    draws : sequence of int
        Draw numbers ``k`` (0, 1, ...): draw ``k`` is the same in every run with this seed.
    preset : {'handheld', 'supercam'}, default='handheld'
    seed : int, default=0
    atomic : AtomicData, optional
        Default: `lithoscope.physics.libs.load_atomic_data()`.

    Returns
    -------
    list of Spectrum
        Method libs, nm; metadata ``mineral``, ``sample_id``, ``checksum`` (`libs_recipe_checksum`)
        and the simulation conditions.

    Raises
    ------
    InputError
        The formula cannot be simulated (`FormulaError` if it cannot be read), or none of its
        elements has a line on the preset's axis.
    """
    from lithoscope.physics.libs import load_atomic_data, simulate_random

    if atomic is None:
        atomic = load_atomic_data()
    lines_sha = next((sha for name, sha in atomic.sources.items() if "lines" in name), None)
    out = []
    for k in draws:
        sim = simulate_random(
            formula, 1, preset=preset, random_state=_draw_rng(seed, mineral, k), atomic=atomic
        )[0]
        if len(sim.lines) == 0:
            elements = ", ".join(sorted(sim.plasma.fractions))
            raise InputError(
                f"formula {formula!r}: none of its elements ({elements}) has a line on the "
                f"{preset} axis"
            )
        meta = {k_: v for k_, v in sim.spectrum.metadata.items() if k_ != "source"}
        meta.update(
            {
                "mineral": mineral,
                "sample_id": sample_id(mineral, k),
                "checksum": libs_recipe_checksum(mineral, formula, k, preset=preset, seed=seed),
                "formula": formula,
                "generator": GENERATOR,
                "seed": int(seed),
                "draw": int(k),
                "atomic_lines_sha256": lines_sha,
                "simulated": True,
            }
        )
        out.append(
            Spectrum(sim.spectrum.axis, sim.spectrum.intensities, Method.LIBS, metadata=meta)
        )
    return out


# A worker process keeps its atomic data between tasks (read once per process).
_WORKER_ATOMIC: Any = None


def _worker_init(mirror: str | None) -> None:
    global _WORKER_ATOMIC
    from lithoscope.physics.libs import load_atomic_data

    _WORKER_ATOMIC = load_atomic_data(mirror=mirror)


def _worker_task(
    task: tuple[str, str, list[int]], preset: str, seed: int
) -> tuple[str, list[tuple[np.ndarray, dict[str, Any]]] | str]:
    """(mineral, [(intensities, metadata) per draw]) or (mineral, reason it was skipped)."""
    mineral, formula, draws = task
    try:
        spectra = simulate_mineral(
            mineral, formula, draws, preset=preset, seed=seed, atomic=_WORKER_ATOMIC
        )
    except InputError as exc:
        return mineral, str(exc)
    return mineral, [(np.asarray(s.intensities), s.metadata) for s in spectra]


# ---------------------------------------------------------------------------------- selection
def _selected_species(
    db: MinDB,
    minerals: Iterable[str] | None,
    *,
    all_species: bool,
    with_spectra: str | None,
) -> list[tuple[str, str]]:
    """(name, formula) of the species to simulate, sorted by name."""
    names = None if minerals is None else [str(m).strip() for m in minerals if str(m).strip()]
    if minerals is not None and not names:
        raise InputError("--minerals is empty; give species names, --with-spectra METHOD or --all")
    if all_species and (names or with_spectra):
        raise InputError(
            "--all selects every species; give it alone, or select with --minerals and/or "
            "--with-spectra instead"
        )
    if not all_species and names is None and with_spectra is None:
        raise InputError(
            "which minerals? give --minerals NAME[,NAME...], --with-spectra METHOD or --all"
        )
    formulas = {row["name"]: row["formula"] for row in db.search()}
    if not formulas:
        raise InputError("MinDB holds no minerals; run 'lithoscope db build' first")
    wanted: set[str] | None = None
    if names is not None:
        wanted = set()
        for name in names:
            kind, canonical = db.resolve(name)  # MineralNotFound: one line with suggestions
            if kind == "group":
                wanted.update(m["name"] for m in db.mineral(canonical)["members"])
            else:
                wanted.add(canonical)
    if with_spectra is not None:
        method = parse_enum(Method, with_spectra, "--with-spectra").value
        stored = db.spectra_arrays(method=method, linked_only=True)
        having = {m["mineral"] for m in stored.metadata}
        if not having:
            raise InputError(
                f"--with-spectra {method}: MinDB holds no {method} spectra linked to species; "
                f"ingest some first ('lithoscope data ingest rruff-{method}') or use --all"
            )
        if wanted is not None and not wanted & having:
            raise InputError(
                f"--with-spectra {method}: none of the species of --minerals has {method} "
                "spectra in MinDB; drop --with-spectra to simulate them anyway"
            )
        wanted = having if wanted is None else wanted & having
    chosen = formulas if wanted is None else {n: formulas[n] for n in wanted if n in formulas}
    return sorted(chosen.items())


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---------------------------------------------------------------------------------- the run
def simulate_libs_references(
    db: MinDB,
    minerals: Iterable[str] | None = None,
    *,
    all_species: bool = False,
    with_spectra: str | None = None,
    per_mineral: int = 4,
    preset: str = "handheld",
    seed: int = 0,
    workers: int = 1,
    mirror: str | Path | None = None,
    chunk: int = 2000,
    progress: bool = True,
) -> SimulationReport:
    """Store simulated LIBS reference spectra of MinDB's species (see the module docstring).

    Parameters
    ----------
    db : MinDB
        Open database; species are read from it and spectra written to it.
    minerals : iterable of str, optional
        Species, alias or group names (a group stands for its member species).
    all_species : bool, default=False
        Every species in MinDB (not with ``minerals`` or ``with_spectra``).
    with_spectra : str, optional
        Only species that have spectra of this method in MinDB (``'raman'``); with
        ``minerals``, those of them that do.
    per_mineral : int, default=4
        Spectra per species (draws ``0 .. per_mineral - 1``); raising it later adds only the
        new draws.
    preset : {'handheld', 'supercam'}, default='handheld'
        Instrument (`lithoscope.physics.libs.PRESETS`).
    seed : int, default=0
        Seed of the random plasma and instrument conditions.
    workers : int, default=1
        Processes simulating in parallel (each reads the atomic data once, a few seconds).
    mirror : str or Path, optional
        Data mirror of the atomic line data (default: ``LITHOSCOPE_MIRROR`` or the local copy).
    chunk : int, default=2000
        Spectra per transaction: an interrupted run keeps the chunks it committed.
    progress : bool, default=True
        Show a progress bar.

    Returns
    -------
    SimulationReport

    Raises
    ------
    InputError
        No selection or a contradictory one, an unknown mineral (`MineralNotFound`, with close
        names), ``per_mineral`` or ``workers`` < 1, an unknown preset or method.

    Examples
    --------
    >>> from lithoscope.mindb import connect                                    # doctest: +SKIP
    >>> with connect() as db:                                                  # doctest: +SKIP
    ...     report = simulate_libs_references(db, ["Quartz", "Calcite"], per_mineral=4)
    >>> report.added                                                           # doctest: +SKIP
    8
    """
    from lithoscope.data.ingest import _progress
    from lithoscope.physics.libs import get_preset, load_atomic_data

    per_mineral = _positive_int(per_mineral, "--per-mineral", "a number of spectra per mineral")
    workers = _positive_int(workers, "--workers", "a number of processes")
    chunk = _positive_int(chunk, "chunk", "a number of spectra per transaction")
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        raise InputError(f"--seed {seed!r}: expected an integer") from None
    if seed < 0:
        raise InputError(f"--seed {seed}: expected an integer >= 0")
    preset_name = get_preset(preset).name
    start = time.perf_counter()
    species = _selected_species(db, minerals, all_species=all_species, with_spectra=with_spectra)
    report = SimulationReport(preset_name, seed, per_mineral, minerals=len(species))
    stored = db.spectrum_checksums()
    tasks: list[tuple[str, str, list[int]]] = []
    for name, formula in species:
        missing = [
            k
            for k in range(per_mineral)
            if libs_recipe_checksum(name, formula, k, preset=preset_name, seed=seed) not in stored
        ]
        report.already_present += per_mineral - len(missing)
        if missing:
            tasks.append((name, formula, missing))
    n_spectra = sum(len(t[2]) for t in tasks)
    workers = min(workers, max(1, len(tasks)))
    report.workers = workers
    mirror_arg = None if mirror is None else str(mirror)
    if workers == 1:
        atomic = load_atomic_data(mirror=mirror)
        pool = None
    else:
        import multiprocessing

        # spawn, not fork: the parent may hold threads (a numerical backend) that fork breaks
        pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(mirror_arg,),
        )
    simulated: set[str] = set()
    axis = get_preset(preset_name).axis()

    def results(batch: list[tuple[str, str, list[int]]]) -> Iterator[tuple[str, Any]]:
        if pool is None:
            for name, formula, draws in batch:
                try:
                    yield (
                        name,
                        simulate_mineral(
                            name, formula, draws, preset=preset_name, seed=seed, atomic=atomic
                        ),
                    )
                except InputError as exc:
                    yield name, str(exc)
        else:
            yield from pool.map(
                _worker_task,
                batch,
                [preset_name] * len(batch),
                [seed] * len(batch),
                chunksize=max(1, min(8, len(batch) // (4 * workers))),
            )

    try:
        with _progress(progress) as bar:
            task = bar.add_task(f"Simulating LIBS ({preset_name})", total=n_spectra)

            def spectra(batch: list[tuple[str, str, list[int]]]) -> Iterator[Spectrum]:
                for (name, _, draws), (_, result) in zip(batch, results(batch), strict=True):
                    bar.advance(task, len(draws))
                    if isinstance(result, str):
                        report.skipped[name] = result
                        continue
                    simulated.add(name)
                    for item in result:
                        meta = item.metadata if isinstance(item, Spectrum) else item[1]
                        if meta.get("elements_without_lines"):
                            report.without_lines[name] = list(meta["elements_without_lines"])
                        if isinstance(item, Spectrum):
                            yield item
                        else:
                            yield Spectrum(axis, item[0], Method.LIBS, metadata=meta)

            per_chunk = max(1, chunk // per_mineral)
            for batch in _chunks(tasks, per_chunk):
                added = db.add_spectra(spectra(batch), source=SOURCE)
                report.added += added.added
                report.already_present += added.already_present
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    report.simulated_minerals = len(simulated)
    report.seconds = time.perf_counter() - start
    return report


def _positive_int(value: Any, name: str, what: str) -> int:
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1
    if not ok:
        raise InputError(f"{name} {value!r}: expected {what} >= 1")
    return int(value)
