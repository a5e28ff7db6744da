"""All identification models side by side, in one run, on RRUFF Raman and infrared spectra.

Usage:
    python benchmarks/identification.py [--mirror ../shared/data] [--models library,logreg,...]
                                        [--methods raman,ir] [--quick]

Protocols (test sets are never used for tuning; models choose settings on validation splits
carved from the training side):
  grouped      split by RRUFF sample id (no sample on both sides, 20 % of samples held out),
               test on minerals that keep another sample for training (unseen samples of known
               minerals);
  literature   one random spectrum per mineral (with >= 2 spectra) held out, the rest trains:
               the protocol of most published RRUFF results, where spectra of the same sample can
               sit on both sides.
Reported: top-1, top-3, macro-F1, training seconds, single-spectrum identify latency (raw spectrum
-> preprocessing -> top-5) p50 and p99 over 200 spectra, and batch throughput (preprocessed).
The data come from a temporary MinDB filled from the mirror.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.metrics import f1_score

REPO = Path(__file__).resolve().parents[1]
ALL_MODELS = ("library", "logreg", "svm", "rf", "cnn", "kan", "ensemble")


def topk_metrics(model, X, y, groups_of):
    """Species top-1 and top-3, macro-F1, and group-level top-1 (the best candidate's group,
    `MinDB.species_groups`, is the true mineral's; a species without a group must match)."""
    cands = model.predict_topk(X, k=3)
    top1 = np.array([c[0].mineral for c in cands])
    t1 = float(np.mean(top1 == y))
    t3 = float(np.mean([yi in [c.mineral for c in cs] for yi, cs in zip(y, cands, strict=True)]))
    f1 = float(f1_score(y, top1, average="macro", labels=np.unique(y)))
    g1 = float(
        np.mean([groups_of.get(p, p) == groups_of.get(t, t) for p, t in zip(top1, y, strict=True)])
    )
    return t1, t3, f1, g1


def literature_split(y, seed=0):
    rng = np.random.default_rng(seed)
    test = []
    for mineral in np.unique(y):
        idx = np.flatnonzero(y == mineral)
        if idx.size >= 2:
            test.append(int(rng.choice(idx)))
    test = np.array(sorted(test))
    return np.setdiff1d(np.arange(y.size), test), test


def latency(model, pipeline, spectra, n=200):
    times = []
    for s in spectra[:n]:
        t0 = time.perf_counter()
        model.predict_topk(pipeline.transform([s]), k=5)
        times.append(time.perf_counter() - t0)
    ms = np.array(times[5:]) * 1000  # the first calls warm caches and compile
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def throughput(model, X):
    t0 = time.perf_counter()
    model.predict_proba(X)
    return X.shape[0] / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--models", default=",".join(ALL_MODELS))
    parser.add_argument("--methods", default="raman,ir")
    parser.add_argument("--protocols", default="grouped,literature")
    parser.add_argument(
        "--splits",
        type=int,
        default=1,
        help="grouped protocol: repeat over this many random sample splits (seeds 0..N-1) and "
        "report the mean and standard deviation; one split moves top-1 by about 2 points",
    )
    parser.add_argument(
        "--literature-models",
        default=None,
        help="models for the literature protocol (default: the same as --models)",
    )
    parser.add_argument(
        "--no-composition",
        action="store_true",
        help="skip the solid-solution composition table (benchmarks/composition.py)",
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LITHOSCOPE_DATA_DIR"] = tmp
        from lithoscope.config import get_settings

        get_settings.cache_clear()
        from lithoscope.data.datasets import DatasetSpec, build_dataset, grouped_split, load_spectra
        from lithoscope.data.ingest import ingest
        from lithoscope.mindb import connect
        from lithoscope.models.kinds import make_model
        from lithoscope.spectra.preprocessing import make_preset

        console = Console(width=200)
        table = Table(title="Identification benchmark (2 CPU cores, one run)")
        for col in (
            "method",
            "protocol",
            "model",
            "n test",
            "top-1",
            "top-3",
            "macro-F1",
            "group top-1",
            "train s",
            "p50 ms",
            "p99 ms",
            "batch /s",
        ):
            table.add_column(
                col, justify="left" if col in ("method", "protocol", "model") else "right"
            )
        with connect() as db:
            db.build()
            ingest(db, "rruff-ima", mirror=args.mirror, progress=False)
            for method in args.methods.split(","):
                ingest(db, f"rruff-{method}", mirror=args.mirror, progress=False)
                pipe = make_preset(method)
                ds = build_dataset(db, DatasetSpec.from_pipeline(pipe), pipeline=pipe)
                raw = {s.metadata["checksum"]: s for s in load_spectra(db, method)}
                raw_list = [raw[m["checksum"]] for m in ds.collection.metadata]
                y = ds.y.astype(str)
                groups_of = db.species_groups(np.unique(y).tolist())
                splits = {}
                if "grouped" in args.protocols:
                    for seed in range(args.splits):
                        label = "grouped" if seed == 0 else f"grouped s{seed}"
                        splits[label] = grouped_split(
                            y, ds.groups, test_size=0.2, random_state=seed
                        )
                if "literature" in args.protocols:
                    splits["literature"] = literature_split(y)
                scores: dict[str, list[tuple[float, float]]] = {}
                for protocol, (train, test) in splits.items():
                    kinds = args.models
                    if protocol == "literature" and args.literature_models:
                        kinds = args.literature_models
                    for kind in kinds.split(","):
                        try:
                            model = make_model(kind, axis=ds.axis, method=method)
                        except (ImportError, AttributeError) as exc:
                            console.print(f"skipping {kind}: {exc}")
                            continue
                        t0 = time.perf_counter()
                        model.fit(ds.X[train], y[train], groups=ds.groups[train])
                        fit_s = time.perf_counter() - t0
                        t1, t3, f1, g1 = topk_metrics(model, ds.X[test], y[test], groups_of)
                        if protocol.startswith("grouped"):
                            scores.setdefault(kind, []).append((t1, t3))
                        p50, p99 = latency(model, pipe, [raw_list[i] for i in test])
                        tput = throughput(model, ds.X[test])
                        table.add_row(
                            method,
                            protocol,
                            kind,
                            str(test.size),
                            f"{t1:.3f}",
                            f"{t3:.3f}",
                            f"{f1:.3f}",
                            f"{g1:.3f}",
                            f"{fit_s:.0f}",
                            f"{p50:.2f}",
                            f"{p99:.2f}",
                            f"{tput:,.0f}",
                        )
                        # one markdown row per model as soon as it is measured
                        print(
                            f"| {method} | {protocol} | {kind} | {test.size} | {t1:.3f} | "
                            f"{t3:.3f} | {f1:.3f} | {g1:.3f} | {fit_s:.0f} | {p50:.2f} | "
                            f"{p99:.2f} | "
                            f"{tput:,.0f} |",
                            flush=True,
                        )
                if args.splits > 1:
                    for kind, values in scores.items():
                        t1s, t3s = np.array(values).T
                        print(
                            f"{method} grouped {kind}: top-1 {t1s.mean():.3f} "
                            f"+- {t1s.std(ddof=1):.3f}, top-3 {t3s.mean():.3f} "
                            f"+- {t3s.std(ddof=1):.3f} over "
                            f"{len(values)} sample splits",
                            flush=True,
                        )
            console.print(table)
            if "raman" in args.methods.split(",") and not args.no_composition:
                import composition as composition_benchmark

                from lithoscope.physics.composition import training_data

                composition_benchmark.print_report(
                    training_data(db), folds=5, seed=0, repeats=5, console=console
                )


if __name__ == "__main__":
    main()
