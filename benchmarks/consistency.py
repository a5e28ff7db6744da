"""Stoichiometric consistency: a controlled test against simulated LIBS and measured chemistry.

Usage:
    python benchmarks/consistency.py [--mirror ../shared/data] [--preset handheld]
                                     [--samples 300] [--draws 2] [--jobs 2] [--seed 0]
                                     [--calibrate]

About 5 minutes on 2 free cores (1.5 of them building MinDB from the mirror).

Protocol. A temporary MinDB is filled from the mirror (RRUFF IMA list and Raman spectra). The
Raman spectra are split by RRUFF sample (`grouped_split`, 20 % of the samples held out, seed 0);
a `LibrarySearch` learns the training side. Up to ``--samples`` held-out samples are drawn and
cut in two halves by sample: *validation* (chooses the flag threshold and the `rerank` strength)
and *test* (reported). For each sample, LIBS is simulated ``--draws`` times from its measured
chemistry (RRUFF ``measured_chemistry`` when it parses with a charge residual below 10 % of the
positive charge, else the ideal MinDB formula) with `simulate_random` (random temperature,
density, self-absorption, continuum, resolution, calibration shift and noise), `detect_elements`
reads each spectrum, and each evidence is checked against:

(a) the right mineral's MinDB formula;
(b) wrong candidates: the library's five best wrong minerals for the sample's first spectrum,
    and five random minerals of the library whose formula differs from the right one.

A wrong candidate is *contradicting* when it differs from the sample's composition in a major
element LIBS can see: an element not in `LIBS_BLIND` with >= 5 wt% on one side and < 1 wt% on
the other. Reported: the share of right answers flagged (score below the threshold) and of wrong
ones flagged (contradicting, and all), for LIBS evidence and for measured-chemistry evidence
(samples with measured chemistry; the analysis as element wt% of the parsed formula, O and H
included, so complete). Then the effect of `rerank` on Raman top-1 over every spectrum of the
samples with the first LIBS draw: every class of the library is scored, strength chosen on
validation, reported on test. `rerank_effect` returns those numbers for the fusion benchmark.
The right answers flagged on the test side are listed with their contradictions.

``--calibrate`` instead simulates training samples only (both presets) and prints the per-element
LIBS miss rates, the false-detection rate by confidence and the spread of the LIBS ratios that
`lithoscope.physics.consistency` uses as constants, and the spread of measured chemistry around
the right formula.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
console = Console(width=180)
N_WRONG = 5
THRESHOLDS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
STRENGTHS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0)


@dataclass
class Sample:
    """One held-out RRUFF sample: its spectra, composition and evidence."""

    group: str
    mineral: str
    rows: list[int]  # indices into the held-out spectra
    composition: Any  # parsed Formula the LIBS spectrum is simulated from
    source: str  # 'measured' or 'ideal'
    measured: Any = None  # parsed measured chemistry or None
    libs: list = field(default_factory=list)  # ChemistryEvidence from LIBS, one per draw
    chem: Any = None  # ChemistryEvidence from measured chemistry
    wrong_raman: list[str] = field(default_factory=list)
    wrong_random: list[str] = field(default_factory=list)


def parse_or_none(text: str | None, *, balanced: bool = False):
    """The parsed formula, or None when it does not parse (or, with ``balanced``, when its
    charge residual exceeds 10 % of its positive charge: a garbled RRUFF transcription)."""
    from lithoscope.errors import FormulaError
    from lithoscope.mindb.chemistry import parse_formula

    if not text:
        return None
    try:
        formula = parse_formula(text)
    except FormulaError:
        return None
    if balanced and not abs(formula.charge_residual_relative) <= 0.1:
        return None
    return formula


def contradicting(formula: str, composition, blind) -> bool:
    """The formula differs from the composition in a major element LIBS can see."""
    a = parse_or_none(formula)
    if a is None:
        return False
    wa, wb = a.element_wt_percent(), composition.element_wt_percent()
    for el in set(wa) | set(wb):
        if el in blind:
            continue
        x, y = wa.get(el, 0.0), wb.get(el, 0.0)
        if (x >= 5 and y < 1) or (y >= 5 and x < 1):
            return True
    return False


def chemistry_evidence(formula):
    """Measured chemistry as a complete element wt% analysis."""
    from lithoscope.physics.consistency import ChemistryEvidence

    return ChemistryEvidence.from_chemistry(formula.element_wt_percent())


def load(mirror: str):
    """MinDB from the mirror, the Raman dataset, its grouped split and the library's answers."""
    from lithoscope.data.datasets import DatasetSpec, build_dataset, grouped_split
    from lithoscope.data.ingest import ingest
    from lithoscope.mindb import connect
    from lithoscope.spectra.preprocessing import make_preset

    with connect() as db:
        db.build()
        ingest(db, "rruff-ima", mirror=mirror, progress=False)
        ingest(db, "rruff-raman", mirror=mirror, progress=False)
        pipe = make_preset("raman")
        ds = build_dataset(db, DatasetSpec.from_pipeline(pipe), pipeline=pipe)
        y = ds.y.astype(str)
        train, test = grouped_split(y, ds.groups, test_size=0.2, random_state=0)
        classes = sorted(set(y.tolist()))
        formulas = {k: v["formula"] for k, v in db.summaries(classes).items()}
    return ds, y, train, test, formulas, pipe


def build_samples(ds, y, index, formulas, rng, n_samples):
    """One `Sample` per RRUFF sample among ``index`` (at most ``n_samples``, drawn at random)."""
    by_group: dict[str, list[int]] = defaultdict(list)
    for i in index:
        by_group[str(ds.groups[i])].append(int(i))
    groups = sorted(by_group)
    rng.shuffle(groups)
    out = []
    for g in groups:
        rows = by_group[g]
        mineral = y[rows[0]]
        ideal = parse_or_none(formulas.get(mineral))
        if ideal is None:
            continue
        measured = parse_or_none(
            ds.collection.metadata[rows[0]].get("measured_chemistry"), balanced=True
        )
        out.append(
            Sample(
                g,
                mineral,
                rows,
                measured or ideal,
                "measured" if measured is not None else "ideal",
                measured,
            )
        )
        if len(out) >= n_samples:
            break
    return out


_WORKER: dict[str, Any] = {}


def _init_worker(mirror: str, data_dir: str) -> None:
    os.environ["LITHOSCOPE_DATA_DIR"] = data_dir
    warnings.simplefilter("ignore")
    from lithoscope.config import get_settings

    get_settings.cache_clear()
    from lithoscope.physics.libs import load_atomic_data

    _WORKER["atomic"] = load_atomic_data(mirror=mirror)


def _detect(job: tuple[dict[str, float], str, int, int]) -> list[list[tuple]]:
    """Simulate ``draws`` LIBS spectra of a composition and detect their elements."""
    from lithoscope.physics.libs import detect_elements, simulate_random

    composition, preset, seed, draws = job
    atomic = _WORKER["atomic"]
    sims = simulate_random(composition, draws, preset=preset, random_state=seed, atomic=atomic)
    return [
        [
            (e.element, e.confidence, e.ratio, e.ambient)
            for e in detect_elements(sim.spectrum, atomic=atomic).elements
        ]
        for sim in sims
    ]


@dataclass
class Detected:
    """The detected elements of one spectrum (all `ChemistryEvidence.from_detection` reads)."""

    elements: list


def simulate_evidence(samples, preset, mirror, rng, draws, jobs) -> float:
    """LIBS evidence (``draws`` random simulations per sample, in ``jobs`` processes) and
    measured-chemistry evidence; returns the seconds per LIBS spectrum."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from lithoscope.physics._libs_detect import DetectedElement
    from lithoscope.physics.consistency import ChemistryEvidence

    started = time.perf_counter()
    work = [(dict(s.composition.amounts), preset, int(rng.integers(2**31)), draws) for s in samples]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        jobs,
        mp_context=context,
        initializer=_init_worker,
        initargs=(mirror, os.environ["LITHOSCOPE_DATA_DIR"]),
    ) as pool:
        found = list(pool.map(_detect, work, chunksize=4))
    for s, spectra in zip(samples, found, strict=True):
        s.libs = [
            ChemistryEvidence.from_detection(
                Detected([DetectedElement(el, c, r, ambient=a) for el, c, r, a in elements]),
                preset=preset,
            )
            for elements in spectra
        ]
        if s.measured is not None:
            s.chem = chemistry_evidence(s.measured)
    return (time.perf_counter() - started) / max(len(samples) * draws, 1)


def choose_wrong(samples, proba, row_of, classes, formulas, rng) -> None:
    from lithoscope.mindb.chemistry import normalize_formula

    with_formula = [c for c in classes if c in formulas]
    for s in samples:
        p = proba[row_of[s.rows[0]]]
        order = [classes[j] for j in np.argsort(-p)]
        s.wrong_raman = [c for c in order if c != s.mineral and c in formulas][:N_WRONG]
        right = normalize_formula(formulas[s.mineral])
        picks: list[str] = []
        while len(picks) < N_WRONG:
            c = with_formula[int(rng.integers(len(with_formula)))]
            if c != s.mineral and c not in picks and normalize_formula(formulas[c]) != right:
                picks.append(c)
        s.wrong_random = picks


def controlled(samples, formulas, kind: str):
    """Scores of right and wrong candidates: {'right': [...], 'raman': [(score, contra)], ...,
    'flagged right': [(score, mineral, contradictions)]} over every evidence of the samples."""
    from lithoscope.physics.consistency import LIBS_BLIND, check_consistency

    out: dict[str, list] = {"right": [], "raman": [], "random": [], "cases": []}
    for s in samples:
        evidence = s.libs if kind == "libs" else [s.chem] if s.chem is not None else []
        for ev in evidence:
            right = check_consistency(formulas[s.mineral], ev, name=s.mineral)
            out["right"].append(right.score)
            out["cases"].append((right.score, s.mineral, s.source, right.contradictions))
            for key, names in (("raman", s.wrong_raman), ("random", s.wrong_random)):
                for c in names:
                    score = check_consistency(formulas[c], ev).score
                    out[key].append((score, contradicting(formulas[c], s.composition, LIBS_BLIND)))
    return out


def flag_rates(result, threshold):
    right = np.asarray(result["right"])
    wrong = result["raman"] + result["random"]
    rows = {
        "right flagged": (right < threshold, right.size),
    }
    for key, items in (("raman", result["raman"]), ("random", result["random"]), ("all", wrong)):
        s = np.asarray([x for x, _ in items])
        c = np.asarray([x for x, con in items if con])
        rows[f"wrong {key} flagged"] = (s < threshold, s.size)
        rows[f"wrong {key} contradicting flagged"] = (c < threshold, c.size)
    return {k: (float(np.mean(v)) if n else math.nan, n) for k, (v, n) in rows.items()}


def choose_threshold(result, target=0.05):
    """The largest threshold of `THRESHOLDS` flagging fewer than ``target`` of right answers."""
    right = np.asarray(result["right"])
    ok = [t for t in THRESHOLDS if np.mean(right < t) < target]
    return max(ok) if ok else min(THRESHOLDS)


def class_scores(samples, classes, formulas, kind):
    """Consistency score of every library class for every sample (1 where no formula)."""
    from lithoscope.errors import FormulaError
    from lithoscope.physics.consistency import consistency_batch

    out = {}
    cols = [formulas.get(c) for c in classes]
    for s in samples:
        ev = (s.libs[0] if s.libs else None) if kind == "libs" else s.chem
        if ev is None:
            continue
        try:
            res = consistency_batch(cols, ev)
        except FormulaError:
            res = []
            for f in cols:
                try:
                    res.append(consistency_batch([f], ev)[0])
                except FormulaError:
                    res.append(None)
        out[s.group] = np.array([1.0 if r is None else r.score for r in res])
    return out


def rerank_effect(samples, proba, row_of, classes, scores, strengths=STRENGTHS):
    """Top-1 of the library before and after `rerank` at each strength, over every spectrum of
    the samples that have evidence: ``{strength: (top-1, n spectra)}`` (strength 0 = Raman)."""
    from lithoscope.physics.consistency import rerank

    cls = np.asarray(classes)
    out = {}
    for k in strengths:
        hits = []
        for s in samples:
            if s.group not in scores:
                continue
            p = proba[[row_of[i] for i in s.rows]]
            q = rerank(p, scores[s.group], strength=k)
            hits += list(cls[np.argmax(q, axis=1)] == s.mineral)
        out[k] = (float(np.mean(hits)) if hits else math.nan, len(hits))
    return out


def calibrate(ds, y, train, formulas, args) -> None:
    """Miss rates, false detections and ratio spread on training samples (both presets)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from lithoscope.physics.consistency import (
        LIBS_BLIND,
        ChemistryEvidence,
        check_consistency,
    )

    rng = np.random.default_rng(args.seed + 100)
    samples = build_samples(ds, y, train, formulas, rng, args.calibration_samples)
    miss: dict[str, dict[str, list[int]]] = {}
    false_conf: dict[str, list[float]] = {}
    log_err: list[float] = []
    n_spectra: dict[str, int] = {}
    for preset in ("handheld", "supercam"):
        miss[preset] = defaultdict(lambda: [0, 0])
        false_conf[preset] = []
        started = time.perf_counter()
        work = [(dict(s.composition.amounts), preset, int(rng.integers(2**31)), 1) for s in samples]
        with ProcessPoolExecutor(
            args.jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(args.mirror, os.environ["LITHOSCOPE_DATA_DIR"]),
        ) as pool:
            found = list(pool.map(_detect, work, chunksize=4))
        for s, spectra in zip(samples, found, strict=True):
            conf = {el: c for el, c, _, _ in spectra[0]}
            ratio = {el: r for el, _, r, _ in spectra[0] if r}
            wt = s.composition.element_wt_percent()
            amounts = s.composition.amounts
            for el, w in wt.items():
                if w >= 5 and el not in LIBS_BLIND:
                    miss[preset][el][0] += el not in conf
                    miss[preset][el][1] += 1
            false_conf[preset] += [c for el, c in conf.items() if el not in wt]
            both = [e for e in ratio if e in amounts and e not in LIBS_BLIND]
            for i, a in enumerate(both):
                for b in both[i + 1 :]:
                    log_err.append(abs(math.log((ratio[a] / ratio[b]) / (amounts[a] / amounts[b]))))
        n_spectra[preset] = len(samples)
        console.print(
            f"{preset}: {len(samples)} spectra, "
            f"{(time.perf_counter() - started) / len(samples):.2f} s each"
        )
    table = Table(title="LIBS misses at >= 5 wt% (training samples): missed / present")
    for col in ("element", "handheld", "supercam"):
        table.add_column(col, justify="right")
    rates: dict[str, dict[str, float]] = {"handheld": {}, "supercam": {}}
    for el in sorted(set(miss["handheld"]) | set(miss["supercam"])):
        cells = []
        for p in ("handheld", "supercam"):
            k, n = miss[p].get(el, [0, 0])
            cells.append(f"{k}/{n}")
            if n:  # Laplace's rule of succession, floor 0.02
                rates[p][el] = round(max((k + 1) / (n + 2), 0.02), 2)
        table.add_row(el, *cells)
    console.print(table)
    console.print("LIBS_MISS_RATE = " + repr(rates))
    for preset, values in false_conf.items():
        c = np.asarray(values)
        console.print(
            f"{preset}: false detections per spectrum "
            + ", ".join(
                f"conf >= {t}: {np.sum(c >= t) / n_spectra[preset]:.3f}"
                for t in (0.5, 0.7, 0.9, 0.99)
            )
        )
    err = np.asarray(log_err)
    console.print(
        f"|ln ratio error| of detected pairs: median {np.median(err):.2f}, 90 % "
        f"{np.percentile(err, 90):.2f}; Laplace scale median / ln 2 = "
        f"{np.median(err) / math.log(2):.2f}"
    )
    scores = [
        check_consistency(
            formulas[s.mineral], ChemistryEvidence.from_chemistry(s.measured.element_wt_percent())
        ).score
        for s in samples
        if s.measured is not None
    ]
    sc = np.asarray(scores)
    console.print(
        f"measured chemistry vs the right formula ({sc.size} training samples): "
        + ", ".join(f"score < {t}: {np.mean(sc < t):.3f}" for t in THRESHOLDS)
    )


def print_controlled(title, val, test, threshold):
    table = Table(title=title)
    for col in ("split", "threshold", "measure", "share", "n"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    for name, result in (("validation", val), ("test", test)):
        for measure, (share, n) in flag_rates(result, threshold).items():
            table.add_row(name, f"{threshold:g}", measure, f"{share:.3f}", str(n))
    console.print(table)
    rates = flag_rates(test, threshold)
    print(
        f"| {title.split(':')[0]} | {threshold:g} | {rates['right flagged'][0]:.3f} "
        f"({rates['right flagged'][1]}) | {rates['wrong all contradicting flagged'][0]:.3f} "
        f"({rates['wrong all contradicting flagged'][1]}) | "
        f"{rates['wrong all flagged'][0]:.3f} ({rates['wrong all flagged'][1]}) | "
        f"{rates['wrong raman flagged'][0]:.3f} ({rates['wrong raman flagged'][1]}) |",
        flush=True,
    )


def sweep(result, label):
    table = Table(title=f"{label}: share flagged by threshold (validation)")
    for col in ("threshold", "right", "wrong contradicting", "wrong all"):
        table.add_column(col, justify="right")
    for t in THRESHOLDS:
        r = flag_rates(result, t)
        table.add_row(
            f"{t:g}",
            f"{r['right flagged'][0]:.3f}",
            f"{r['wrong all contradicting flagged'][0]:.3f}",
            f"{r['wrong all flagged'][0]:.3f}",
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--preset", default="handheld", choices=("handheld", "supercam"))
    parser.add_argument("--samples", type=int, default=300, help="held-out samples used")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--draws", type=int, default=2, help="LIBS simulations per sample")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the LIBS simulations")
    parser.add_argument("--calibrate", action="store_true", help="print the LIBS calibration")
    parser.add_argument("--calibration-samples", type=int, default=600)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory(prefix="lithoscope-consistency-") as tmp:
        os.environ["LITHOSCOPE_DATA_DIR"] = tmp
        from lithoscope.config import get_settings

        get_settings.cache_clear()
        from lithoscope.models.kinds import make_model
        from lithoscope.physics import consistency as C
        from lithoscope.physics.libs import load_atomic_data

        started = time.perf_counter()
        load_atomic_data(mirror=args.mirror)  # into the data folder once, before the workers
        ds, y, train, test, formulas, _ = load(args.mirror)
        console.print(
            f"MinDB and Raman dataset: {len(y)} spectra, {len(train)} train / {len(test)} "
            f"held out, {time.perf_counter() - started:.0f} s"
        )
        if args.calibrate:
            calibrate(ds, y, train, formulas, args)
            return
        model = make_model("library", method="raman", axis=ds.axis)
        model.fit(ds.X[train], y[train], groups=ds.groups[train])
        classes = [str(c) for c in model.classes_]
        proba = model.predict_proba(ds.X[test])
        row_of = {int(i): k for k, i in enumerate(test)}
        rng = np.random.default_rng(args.seed)
        samples = build_samples(ds, y, test, formulas, rng, args.samples)
        half = len(samples) // 2
        val, tst = samples[:half], samples[half:]
        per = simulate_evidence(samples, args.preset, args.mirror, rng, args.draws, args.jobs)
        choose_wrong(samples, proba, row_of, classes, formulas, rng)
        console.print(
            f"{len(samples)} held-out samples ({sum(s.source == 'measured' for s in samples)} "
            f"with measured chemistry), validation {len(val)} / test {len(tst)}; LIBS "
            f"{args.preset}, {args.draws} draw(s) per sample, {per:.2f} s per spectrum with "
            f"{args.jobs} processes"
        )
        print(
            "| evidence | threshold | right flagged | wrong contradicting flagged | wrong all "
            "flagged | wrong Raman top-5 flagged |"
        )
        print("|---|---|---|---|---|---|")
        chosen = {}
        for kind, label in (("libs", f"LIBS ({args.preset})"), ("chem", "measured chemistry")):
            rv, rt = controlled(val, formulas, kind), controlled(tst, formulas, kind)
            sweep(rv, label)
            threshold = choose_threshold(rv)
            chosen[kind] = threshold
            print_controlled(f"{label}: flags at the validation threshold", rv, rt, threshold)
            if threshold != C.FLAG_BELOW:
                print_controlled(f"{label}: flags at FLAG_BELOW", rv, rt, C.FLAG_BELOW)
            for score, mineral, source, contradictions in sorted(rt["cases"]):
                if score < threshold:
                    console.print(
                        f"  right answer flagged ({label}, test): {mineral} [{source}] "
                        f"score {score:.3f}: {'; '.join(contradictions)}",
                        markup=False,
                    )
        console.print(
            f"validation thresholds (largest flagging < 5 % of right answers): {chosen}; "
            f"module FLAG_BELOW = {C.FLAG_BELOW}"
        )
        table = Table(title="rerank: Raman library top-1 with consistency scores")
        for col in ("evidence", "strength", "validation top-1", "test top-1", "n test spectra"):
            table.add_column(col, justify="right")
        for kind, label in (("libs", f"LIBS ({args.preset})"), ("chem", "measured chemistry")):
            started = time.perf_counter()
            scores = class_scores(samples, classes, formulas, kind)
            ev_val = rerank_effect(val, proba, row_of, classes, scores)
            ev_test = rerank_effect(tst, proba, row_of, classes, scores)
            best = max(STRENGTHS, key=lambda k: (round(ev_val[k][0], 6), -k))
            for k in STRENGTHS:
                mark = " (chosen)" if k == best else ""
                table.add_row(
                    label,
                    f"{k:g}{mark}",
                    f"{ev_val[k][0]:.3f}",
                    f"{ev_test[k][0]:.3f}",
                    str(ev_test[k][1]),
                )
            default = C.DEFAULT_STRENGTH
            at_default = rerank_effect(tst, proba, row_of, classes, scores, (default,))[default]
            print(
                f"| rerank {label} | strength {best:g} (validation) | Raman top-1 "
                f"{ev_test[0.0][0]:.3f} -> {ev_test[best][0]:.3f} on {ev_test[best][1]} test "
                f"spectra; at DEFAULT_STRENGTH {default:g}: {at_default[0]:.3f} |",
                flush=True,
            )
            console.print(
                f"{label}: scored {len(classes)} classes per sample in "
                f"{time.perf_counter() - started:.1f} s"
            )
        console.print(table)
        get_settings.cache_clear()


if __name__ == "__main__":
    main()
