"""The serving path end to end: raw file contents -> `identify_batch` -> answer, and CLI start-up.

Usage:
    python benchmarks/serving.py [--mirror ../shared/data] [--models library,cnn] [--n 1000]
                                 [--n-explain 200] [--data-dir DIR]

Trains each model kind with ``lithoscope.pipeline.train.train`` (the registered bundle, with its
calibration, exactly as ``lithoscope train`` makes it) in a temporary data folder filled from the
mirror, then measures on raw RRUFF Raman files:

* single spectrum, p50 / p99 over 300 calls: parse the file's text, `identify_batch` of one
  measurement, answer (top-5, prediction set, unknown verdict, MinDB facts); no explanation;
  and p50 from the parsed spectrum (parsing a 40 kB RRUFF text is about 2.5 ms of it). As a
  service would, the MinDB facts of every class are read once before;
* batch throughput of `identify_batch` on ``--n`` raw spectra (parsed beforehand), explanation off
  (and on, over the first ``--n-explain``: occlusion scores about 130 copies per spectrum), and of
  the bundle's preprocessing alone;
* ``lithoscope identify one.txt`` wall time in a fresh process (median of 3 runs after one warm-up
  run that fills the OS file cache and JAX's persistent compilation cache).
Quote medians from one run; the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def raw_files(mirror: Path, n: int) -> list[tuple[str, str]]:
    """(name, text) of ``n`` Raman files of the mirror's zip, spread over the whole zip."""
    with zipfile.ZipFile(mirror / "rruff" / "raman" / "excellent_unoriented.zip") as zf:
        names = sorted(m for m in zf.namelist() if m.endswith(".txt"))
        step = max(1, len(names) // n)
        return [(m, zf.read(m).decode("utf-8", "replace")) for m in names[::step][:n]]


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = np.array(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--models", default="library,cnn")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--n-explain", type=int, default=200)
    parser.add_argument(
        "--data-dir",
        default=None,
        help="a lithoscope data folder that already holds MinDB with the RRUFF Raman spectra and "
        "models named raman-KIND (kept; nothing is trained); default: a temporary one, filled "
        "and trained here",
    )
    args = parser.parse_args()
    mirror = Path(args.mirror)
    warnings.simplefilter("ignore")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.data_dir or scratch
        os.environ["LITHOSCOPE_DATA_DIR"] = tmp
        from lithoscope.config import get_settings

        get_settings.cache_clear()
        from lithoscope.data.ingest import ingest
        from lithoscope.mindb import connect
        from lithoscope.pipeline.identify import IdentifyCache, identify_batch
        from lithoscope.pipeline.registry import Registry
        from lithoscope.pipeline.train import train
        from lithoscope.spectra.io import parse_spectrum

        files = raw_files(mirror, args.n)
        spectra = [parse_spectrum(text, name) for name, text in files]
        with connect() as db:
            if args.data_dir is None:
                db.build()
                ingest(db, "rruff-ima", mirror=str(mirror), progress=False)
                ingest(db, "rruff-raman", mirror=str(mirror), progress=False)
            for kind in args.models.split(","):
                if args.data_dir is None:
                    t0 = time.perf_counter()
                    ref = train(db, "raman", kind, name=f"raman-{kind}").ref
                    print(f"trained {ref} in {time.perf_counter() - t0:.0f} s", flush=True)
                else:
                    ref = Registry().resolve(f"raman-{kind}")
                bundle, _ = Registry().load(str(ref))
                part = bundle.part("raman")
                cache = IdentifyCache(db)
                # what a service does once at start: MinDB facts of every class, compilation
                cache.prefetch(str(c) for c in part.estimator.classes_)
                identify_batch(spectra[:64], bundle, cache=cache)
                single, parsed = [], []
                for (name, text), spectrum in zip(files[:300], spectra, strict=False):
                    t0 = time.perf_counter()
                    identify_batch([parse_spectrum(text, name)], bundle, cache=cache)
                    t1 = time.perf_counter()
                    identify_batch([spectrum], bundle, cache=cache)
                    single.append(t1 - t0)
                    parsed.append(time.perf_counter() - t1)
                p50, p99 = percentiles(single[10:])
                p50_parsed = percentiles(parsed[10:])[0]
                t0 = time.perf_counter()
                part.preprocess(spectra)
                pre = len(spectra) / (time.perf_counter() - t0)
                t0 = time.perf_counter()
                identify_batch(spectra, bundle, cache=cache)
                batch = len(spectra) / (time.perf_counter() - t0)
                few = spectra[: args.n_explain]
                t0 = time.perf_counter()
                identify_batch(few, bundle, cache=cache, explain=True)
                batch_explain = len(few) / (time.perf_counter() - t0)
                cli = cli_seconds(Path(scratch), Path(tmp), files[0], str(ref))
                rows.append((kind, p50, p99, p50_parsed, pre, batch, batch_explain, cli))
                print(
                    f"| {kind} | {p50:.2f} | {p99:.2f} | {p50_parsed:.2f} | {pre:,.0f} | "
                    f"{batch:,.0f} | "
                    f"{batch_explain:,.0f} | {cli:.2f} |",
                    flush=True,
                )
    print()
    print(
        "| model | single p50 ms | single p99 ms | p50 from a parsed spectrum ms "
        "| preprocessing /s | identify_batch /s | with explanation /s | CLI identify s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for kind, p50, p99, p50_parsed, pre, batch, batch_explain, cli in rows:
        print(
            f"| {kind} | {p50:.2f} | {p99:.2f} | {p50_parsed:.2f} | {pre:,.0f} | {batch:,.0f} | "
            f"{batch_explain:,.0f} | {cli:.2f} |"
        )


def cli_seconds(scratch: Path, data_dir: Path, file: tuple[str, str], model: str) -> float:
    """Median wall time of ``lithoscope identify FILE --model MODEL`` in a fresh process."""
    path = scratch / "one.txt"
    path.write_text(file[1], encoding="utf-8")
    exe = Path(sys.executable).with_name("lithoscope")
    cmd = [str(exe), "identify", str(path), "--model", model, "--method", "raman"]
    env = {**os.environ, "LITHOSCOPE_DATA_DIR": str(data_dir)}
    times = []
    for _ in range(4):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


if __name__ == "__main__":
    main()
