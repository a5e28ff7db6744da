"""Spectral maps on Dask: throughput of `identify_map` with 1 and 2 workers, memory per worker.

Usage:
    python benchmarks/map.py [--mirror ../shared/data] [--size 200] [--channels 1000]
                             [--workers 1,2] [--chunk-pixels 4096] [--mixture]

Protocol:
  * RRUFF Raman (532 nm, excellent unoriented) from the mirror's zip: for each of 5 rock-forming
    minerals with >= 6 samples, the last sample builds the map and the others train a library
    model (with its mixture model) in a temporary MinDB, so no map spectrum taught the model;
  * the map (``--size`` x ``--size`` x ``--channels``, float32 HDF5): Voronoi grains (seeded) of
    the 5 minerals; pixels within 3 pixels of a grain boundary are linear mixtures
    (`physics.mixing.linear_mixture`) of the two grains' spectra weighted by distance; Gaussian
    noise at 1 % of the maximum;
  * `identify_map` on a `distributed.LocalCluster(n_workers=N, threads_per_worker=1,
    processes=True)`, reading the HDF5 in row chunks of ``--chunk-pixels`` pixels, answers
    written to Zarr; the wall time includes the workers' one model load each (cluster start-up is
    excluded); the peak resident memory of each worker process is sampled every 0.2 s (psutil).
Reported: pixels/s, speed-up over 1 worker, peak RSS per worker, chunk size, and as a sanity
check the share of pure-grain pixels whose answer is the grain's mineral.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time
import warnings
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
MINERALS = ["Anorthite", "Diopside", "Enstatite", "Forsterite", "Quartz"]


def rruff_spectra(mirror: Path) -> dict[str, list[tuple[str, bytes]]]:
    by_mineral: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    with zipfile.ZipFile(mirror / "rruff" / "raman" / "excellent_unoriented.zip") as zf:
        for n in sorted(zf.namelist()):
            m = re.match(r"([^_]+)__([RX]\d{6})__Raman__532__", n)
            if m and m.group(1) in MINERALS:
                by_mineral[m.group(1)].append((n, zf.read(n)))
    return by_mineral


def build_map(
    pures: np.ndarray, size: int, *, grains: int = 24, boundary: float = 3.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cube float32 (size, size, channels), label of each pixel's grain, pure-pixel mask)."""
    from lithoscope.physics.mixing import linear_mixture

    rng = np.random.default_rng(seed)
    seeds = rng.uniform(0, size, size=(grains, 2))
    grain_mineral = np.arange(grains) % len(pures)
    rng.shuffle(grain_mineral)
    rr, cc = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    d = np.hypot(rr[..., None] - seeds[:, 0], cc[..., None] - seeds[:, 1])
    order = np.argsort(d, axis=-1)[..., :2]
    d1 = np.take_along_axis(d, order[..., :1], -1)[..., 0]
    d2 = np.take_along_axis(d, order[..., 1:], -1)[..., 0]
    first, second = grain_mineral[order[..., 0]], grain_mineral[order[..., 1]]
    # distance to the boundary of the two nearest grains is (d2 - d1) / 2 for Voronoi cells
    gap = (d2 - d1) / 2
    mixed = (gap < boundary) & (first != second)
    w = np.where(mixed, 0.5 + 0.5 * np.clip(gap / boundary, 0, 1), 1.0)
    channels = pures.shape[1]
    cube = np.empty((size, size, channels), dtype=np.float32)
    for r in range(size):
        spectra = np.stack([pures[first[r]], pures[second[r]]], axis=1)  # (cols, 2, channels)
        abundances = np.stack([w[r], 1 - w[r]], axis=1)
        row = linear_mixture(spectra, abundances)
        cube[r] = row + rng.normal(0, 0.01, size=row.shape)
    return cube, first, ~mixed


def peak_rss(pids: list[int], stop: threading.Event, peaks: dict[int, int]) -> None:
    import psutil

    procs = [psutil.Process(p) for p in pids]
    while not stop.is_set():
        for p in procs:
            try:
                peaks[p.pid] = max(peaks.get(p.pid, 0), p.memory_info().rss)
            except psutil.NoSuchProcess:
                pass
        stop.wait(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--size", type=int, default=200, help="map of SIZE x SIZE pixels")
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--chunk-pixels", type=int, default=4096)
    parser.add_argument("--mixture", action="store_true", help="also unmix every pixel")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    os.environ.setdefault("KERAS_BACKEND", "jax")
    console = Console(width=150)
    command = " ".join(["python", "benchmarks/map.py", *sys.argv[1:]])

    from distributed import Client, LocalCluster

    from lithoscope.config import get_settings
    from lithoscope.data.ingest import ingest
    from lithoscope.mindb import connect
    from lithoscope.pipeline.maps import identify_map, save_cube
    from lithoscope.pipeline.train import train
    from lithoscope.spectra.io import parse_spectrum

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        os.environ["LITHOSCOPE_DATA_DIR"] = tmp  # the workers inherit it
        get_settings.cache_clear()
        by_mineral = rruff_spectra(Path(args.mirror))
        chosen = [m for m in MINERALS if len(by_mineral[m]) >= 6]
        zpath = tmp_path / "train.zip"
        with zipfile.ZipFile(zpath, "w") as out:
            for m in chosen:
                for n, raw in by_mineral[m][:-1]:
                    out.writestr(n, raw)
        t0 = time.perf_counter()
        with connect() as db:
            db.build()
            ingest(db, str(zpath), progress=False)
            result = train(db, "raman", "library", mixture=args.mixture, mixture_network=False)
        t_train = time.perf_counter() - t0
        axis = np.linspace(150.0, 1300.0, args.channels)
        pures = []
        for m in chosen:
            name, raw = by_mineral[m][-1]
            s = parse_spectrum(raw.decode(), name)
            y = np.interp(axis, s.axis, s.intensities)
            y = y - y.min()
            pures.append(y / y.max())
        t0 = time.perf_counter()
        cube, truth, pure = build_map(np.array(pures), args.size)
        path = save_cube(tmp_path / "map.h5", cube, axis, method="raman")
        t_build = time.perf_counter() - t0
        console.print(
            f"map {args.size} x {args.size} x {args.channels} ({cube.nbytes / 1e6:.0f} MB, "
            f"{chosen}, {pure.mean():.0%} pure pixels) built in {t_build:.1f} s; model "
            f"{result.ref} trained in {t_train:.1f} s"
        )
        del cube
        rows = []
        base = None
        for n_workers in [int(w) for w in args.workers.split(",")]:
            with (
                LocalCluster(
                    n_workers=n_workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address="127.0.0.1:0",
                    memory_limit=0,
                ) as cluster,
                Client(cluster) as client,
            ):
                pids = list(client.run(os.getpid).values())
                peaks: dict[int, int] = {}
                stop = threading.Event()
                sampler = threading.Thread(target=peak_rss, args=(pids, stop, peaks))
                sampler.start()
                t0 = time.perf_counter()
                ds = identify_map(
                    path,
                    str(result.ref),
                    client=client,
                    chunk_pixels=args.chunk_pixels,
                    mixture=args.mixture,
                    out=tmp_path / f"map-{n_workers}.zarr",
                )
                wall = time.perf_counter() - t0
                stop.set()
                sampler.join()
            classes = np.array(ds.attrs["classes"])
            mineral = ds["mineral"].values
            answered = np.where(mineral >= 0, classes[np.maximum(mineral, 0)], "")
            want = np.array(chosen)[truth]
            accuracy = float(np.mean(answered[pure] == want[pure]))
            rate = mineral.size / wall
            base = base or rate
            rows.append(
                (
                    n_workers,
                    mineral.size,
                    ds.attrs["chunk_pixels"],
                    wall,
                    rate,
                    rate / base,
                    max(peaks.values()) / 1e6,
                    accuracy,
                )
            )
    table = Table(title="identify_map on a LocalCluster (processes, 1 thread per worker)")
    for col in (
        "workers",
        "pixels",
        "chunk (pixels)",
        "wall s",
        "pixels/s",
        "speed-up",
        "peak RSS / worker (MB)",
        "pure pixels right",
    ):
        table.add_column(col, justify="right")
    for w, n, chunk, wall, rate, up, rss, acc in rows:
        table.add_row(
            str(w),
            str(n),
            str(chunk),
            f"{wall:.1f}",
            f"{rate:.0f}",
            f"{up:.2f}",
            f"{rss:.0f}",
            f"{acc:.1%}",
        )
    console.print(table)
    console.print(f"cores: {os.cpu_count()}; mixture: {args.mixture}; reproduce: {command}")


if __name__ == "__main__":
    main()
