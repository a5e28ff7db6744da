"""LIBS-only identification against simulated references (`lithoscope data simulate-libs`).

Usage:
    python benchmarks/libs_identification.py [--mirror ../shared/data] [--per-mineral 4,16]
                                             [--all-per-mineral 4] [--seed 0] [--workers 2]
                                             [--queries 400]

A temporary MinDB is filled from the mirror (curated build, RRUFF IMA list, RRUFF Raman) and
then with simulated handheld LIBS references (`simulate_libs_references`, seed ``--seed``):
first of the species with Raman spectra, ``--per-mineral`` draws each (a list: each count adds
draws to the previous library), then, in a copy of the MinDB, of every species
(``--all-per-mineral`` draws). Each library is trained and queried through the normal path:
`lithoscope.pipeline.train.train(db, "libs", "library")` (15 % of the reference draws held out
for calibration, as ``lithoscope train`` does) and `identify_batch`.

(a) RRUFF measured chemistry: one query per RRUFF sample whose Raman spectrum records a measured
    chemistry that `lithoscope.mindb.chemistry.parse_formula` reads (``--queries`` of them drawn
    at random, the same for every library), simulated from that chemistry by `simulate_random`
    with another seed (other plasma and instrument conditions than any reference). Simulation
    against simulation: an upper bound for measured spectra; it measures the spread of plasma
    conditions and how far a sample's real chemistry (substitutions, impurities) moves it from
    its species' formula. Answers pass `identify_batch`'s LIBS chemistry check (element
    detection, consistency re-ranking of the top candidates) like any ``identify``.
(b) The 12 measured handheld spectra of copper minerals (libs-pewpew averages, registered source
    ``libs``; see the mirror's PROVENANCE.md) and the authors' 12 synthetic spectra (NIST ASD
    LIBS interface, coarse resolution). Chalcotrichite is a variety of cuprite and is scored as
    Cuprite; a group name (Tetrahedrite) is right when the answer is one of its species.

Reported: top-1 and top-5 (species), top-1 at group level (`MinDB.species_groups`), top-1
"same elements" (the answer's formula has exactly the element set of the true species'
formula: polymorphs and species of one chemistry look alike to LIBS), and the median rank of the
true species among all the library's species (model probabilities).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
VARIETIES = {"Chalcotrichite": "Cuprite"}  # not IMA species: the species they are a habit of


def score(results, truths, members, groups_of, elements_of):
    """top-1, top-5, group top-1 and same-element top-1 of identify_batch results."""
    top1 = top5 = group1 = same1 = 0
    for result, truth in zip(results, truths, strict=True):
        names = [c["mineral"] for c in result.candidates]
        right = members.get(truth, {truth})
        best = names[0] if names else None
        top1 += best in right
        top5 += any(n in right for n in names[:5])
        group1 += best is not None and (
            best in right or groups_of.get(best, best) == groups_of.get(truth, truth)
        )
        same1 += best is not None and (
            best in right or elements_of.get(best) == elements_of.get(truth, frozenset("?"))
        )
    n = max(1, len(truths))
    return {
        "n": len(truths),
        "top1": top1 / n,
        "top5": top5 / n,
        "group_top1": group1 / n,
        "same_elements_top1": same1 / n,
    }


def measured_chemistry_queries(db, *, seed, atomic, n=None):
    """(spectra, truths, unparsed): spectra simulated from RRUFF samples' measured chemistry.

    One per RRUFF sample (of a species) whose Raman spectrum records a chemistry that
    `parse_formula` reads; ``n`` of them drawn at random (seeded) when given.
    """
    from lithoscope.errors import InputError
    from lithoscope.mindb.chemistry import parse_formula
    from lithoscope.physics.libs import simulate_random

    stored = db.spectra_arrays(method="raman", linked_only=True)
    seen, eligible = set(), []
    unparsed = 0
    for meta in stored.metadata:
        text, group = meta["measured_chemistry"], meta["group"]
        if not text or group in seen:
            continue
        seen.add(group)
        try:
            eligible.append((parse_formula(text), meta["mineral"], group))
        except InputError:
            unparsed += 1
    rng = np.random.default_rng([seed, 1_000_003])  # never a reference's stream
    if n is not None and n < len(eligible):
        eligible = [eligible[i] for i in sorted(rng.choice(len(eligible), n, replace=False))]
    spectra, truths = [], []
    for formula, mineral, _ in eligible:
        try:
            sim = simulate_random(formula, 1, random_state=rng, atomic=atomic)[0]
        except InputError:
            unparsed += 1
            continue
        spectra.append(sim.spectrum)
        truths.append(mineral)
    return spectra, truths, unparsed


def copper_spectra(mirror):
    """{'measured': (spectra, names), 'synthetic (NIST ASD)': (...)} of the 12 Cu minerals."""
    from lithoscope.data.fetch import local_path
    from lithoscope.spectra.io import read_spectra

    out = {}
    for what, name in (
        ("measured handheld", "pewpew_hh12_average_spectra.csv"),
        ("authors' synthetic (NIST ASD)", "pewpew_synthetic12_average_spectra.csv"),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spectra = read_spectra(
                local_path("libs", name, mirror=mirror, progress=False), method="libs"
            )
        names = [re.sub(r"\s*\(id \d+\)$", "", s.label or "") for s in spectra]
        out[what] = (spectra, names)
    return out


def truth_sets(db, names):
    """Truth name -> the set of species that count as right (a group: its species)."""
    from lithoscope.mindb.queries import MineralNotFound

    truths, members = [], {}
    for name in names:
        try:
            kind, canonical = db.resolve(VARIETIES.get(name, name))
        except MineralNotFound:
            truths.append(name)
            continue
        truths.append(canonical)
        if kind == "group":
            members[canonical] = {m["name"] for m in db.mineral(canonical)["members"]}
    return truths, members


def true_ranks(bundle, spectra, truths, members):
    """Rank of the best-ranked right species among all the model's classes, per spectrum."""
    part = bundle.part("libs")
    X, _ = part.preprocess(spectra)
    proba = part.estimator.predict_proba(X)
    classes = np.asarray(part.classes).astype(str)
    ranks = []
    for row, truth in zip(proba, truths, strict=True):
        right = np.isin(classes, list(members.get(truth, {truth})))
        ranks.append(int((row > row[right].max()).sum()) + 1 if right.any() else None)
    return ranks


class Bench:
    """One MinDB (URL) with its simulated references, trained and evaluated in turn."""

    def __init__(self, args, console, queries, copper):
        self.args, self.console, self.queries, self.copper = args, console, queries, copper
        self.rows, self.cu_rows = [], []

    def run(self, db, label, *, per_mineral, **selection):
        from lithoscope.data.simulated import simulate_libs_references
        from lithoscope.pipeline.identify import identify_batch
        from lithoscope.pipeline.registry import Registry
        from lithoscope.pipeline.train import train

        args, console = self.args, self.console
        label = f"{label}, {per_mineral} per species"
        t0 = time.perf_counter()
        report = simulate_libs_references(
            db,
            per_mineral=per_mineral,
            seed=args.seed,
            workers=args.workers,
            mirror=args.mirror,
            progress=False,
            **selection,
        )
        t_sim = time.perf_counter() - t0
        console.print(
            f"[{label}] simulated {report.added} new spectra of {report.simulated_minerals} "
            f"species in {t_sim:.0f} s with {report.workers} process(es) "
            f"({1000 * t_sim * report.workers / max(1, report.added):.0f} ms per spectrum and "
            f"process); {report.already_present} already there; skipped "
            f"{len(report.skipped)}; {len(report.without_lines)} species with elements "
            f"without lines ({', '.join(report.to_dict()['elements_without_lines'])})"
        )
        t0 = time.perf_counter()
        trained = train(db, "libs", "library", name="libs-bench")
        t_train = time.perf_counter() - t0
        bundle = Registry().load(str(trained.ref))[0]
        library = set(bundle.part("libs").classes.tolist())
        console.print(
            f"[{label}] trained {trained.ref} on {trained.to_dict()['n_spectra']} spectra of "
            f"{len(library)} species in {t_train:.0f} s"
        )
        species = db.search()
        elements_of = {r["name"]: frozenset(r["elements"]) for r in species}
        groups_of = db.species_groups(list(elements_of))
        spectra, truths, unparsed = self.queries
        t0 = time.perf_counter()
        results = identify_batch(spectra, bundle, db=db, top=5)
        ranks = true_ranks(bundle, spectra, truths, {})
        t_id = time.perf_counter() - t0
        self.rows.append(
            (
                f"(a) RRUFF samples' measured chemistry, simulated; library: {label}",
                score(results, truths, {}, groups_of, elements_of),
                ranks,
                f"{len(set(truths))} species; {unparsed} chemistries unreadable; "
                f"identify {t_id:.0f} s",
            )
        )
        for what, (cu_spectra, names) in self.copper.items():
            truths, members = truth_sets(db, names)
            results = identify_batch(cu_spectra, bundle, db=db, top=5)
            ranks = true_ranks(bundle, cu_spectra, truths, members)
            self.rows.append(
                (
                    f"(b) 12 copper minerals, {what}; library: {label}",
                    score(results, truths, members, groups_of, elements_of),
                    ranks,
                    "",
                )
            )
            for name, truth, result, rank in zip(names, truths, results, ranks, strict=True):
                ranked = [c["mineral"] for c in result.candidates]
                self.cu_rows.append(
                    (label, what, name, truth, ", ".join(ranked[:3]), rank, len(library))
                )

    def print(self):
        console = self.console
        table = Table(title="LIBS-only identification, simulated handheld references")
        cols = ("queries", "n", "top-1", "top-5", "group top-1", "same elements top-1")
        for col in (*cols, "median rank of truth"):
            table.add_column(col, justify="left" if col == "queries" else "right")
        table.add_column("notes")
        for name, m, ranks, note in self.rows:
            known = [r for r in ranks if r is not None]
            table.add_row(
                name,
                str(m["n"]),
                f"{m['top1']:.3f}",
                f"{m['top5']:.3f}",
                f"{m['group_top1']:.3f}",
                f"{m['same_elements_top1']:.3f}",
                f"{np.median(known):.0f}" if known else "-",
                note,
            )
        console.print(table)
        table = Table(title="(b) per copper mineral: best three answers, rank of the true one")
        for col in ("library", "spectra", "mineral", "truth", "top-3", "rank", "of"):
            table.add_column(col)
        for row in self.cu_rows:
            table.add_row(*map(str, row))
        console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument(
        "--per-mineral",
        default="4,16",
        help="draws per species of the Raman-species libraries, ascending (each adds to the last)",
    )
    parser.add_argument(
        "--all-per-mineral",
        type=int,
        default=4,
        help="draws per species of the all-species library (0: skip it)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the reference draws")
    parser.add_argument("--workers", type=int, default=2, help="simulation processes")
    parser.add_argument(
        "--queries",
        type=int,
        default=400,
        help="(a) on this many RRUFF samples drawn at random (0: all ~1,300; identify runs "
        "LIBS element detection on each, ~0.3 s)",
    )
    args = parser.parse_args()
    counts = sorted(int(n) for n in args.per_mineral.split(","))
    warnings.simplefilter("ignore")
    console = Console(width=180)

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LITHOSCOPE_DATA_DIR"] = tmp
        from lithoscope.config import get_settings

        get_settings.cache_clear()
        from lithoscope.data.ingest import ingest
        from lithoscope.mindb import connect
        from lithoscope.physics.libs import load_atomic_data

        atomic = load_atomic_data(mirror=args.mirror)
        first, every = Path(tmp) / "first.sqlite", Path(tmp) / "all.sqlite"
        with connect(f"sqlite:///{first}") as db:
            t0 = time.perf_counter()
            db.build()
            ingest(db, "rruff-ima", mirror=args.mirror, progress=False)
            ingest(db, "rruff-raman", mirror=args.mirror, progress=False)
            console.print(f"MinDB build + ingest: {time.perf_counter() - t0:.0f} s")
            queries = measured_chemistry_queries(
                db, seed=args.seed + 1, atomic=atomic, n=args.queries or None
            )
            bench = Bench(args, console, queries, copper_spectra(args.mirror))
        # The Raman-species libraries grow in one MinDB (each count adds draws); the
        # all-species library grows in a copy, taken when it holds what that library shares.
        copy_after = args.all_per_mineral if args.all_per_mineral in counts else None
        if args.all_per_mineral > 0 and copy_after is None:
            shutil.copyfile(first, every)
        with connect(f"sqlite:///{first}") as db:
            for n in counts:
                bench.run(db, "species with Raman spectra", per_mineral=n, with_spectra="raman")
                if n == copy_after:
                    db.close()
                    shutil.copyfile(first, every)
        if args.all_per_mineral > 0:
            with connect(f"sqlite:///{every}") as db:
                bench.run(
                    db, "all MinDB species", per_mineral=args.all_per_mineral, all_species=True
                )
        bench.print()


if __name__ == "__main__":
    main()
