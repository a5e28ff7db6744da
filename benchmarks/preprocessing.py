"""Throughput of every preprocessing preset on real RRUFF Raman spectra; prints tables.

Usage: python benchmarks/preprocessing.py [--n 1000] [--repeat 3] [--zip PATH]

The spectra are taken evenly from the RRUFF Raman zip in the shared data mirror. The Raman preset
gets them as they are; every other preset gets the same spectra relabelled to its method, with the
axis mapped linearly onto that preset's grid range, so that all presets process the same real
signal shapes (throughput depends on the number of grid points and the algorithms, not on what the
bands mean). Each figure is the median of ``--repeat`` runs of ``fit_transform`` (spectra in,
array out); a second table splits the time by step. Machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from lithoscope.spectra.io import parse_spectrum
from lithoscope.spectra.preprocessing import PRESETS, make_preset
from lithoscope.spectra.spectrum import Spectrum

DEFAULT_ZIP = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "rruff"
    / "raman"
    / "excellent_unoriented.zip"
)


def load(path: Path, n: int) -> list[Spectrum]:
    with zipfile.ZipFile(path) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # readers note sorted axes and dropped points
        names = sorted(archive.namelist())
        names = names[:: max(1, len(names) // n)][:n]
        return [parse_spectrum(archive.read(m).decode("utf-8", "replace"), m) for m in names]


def relabel(spectra: list[Spectrum], method: str) -> list[Spectrum]:
    if method == "raman":
        return spectra
    start, stop, _ = PRESETS[method].grid
    out = []
    for s in spectra:
        t = (s.axis - s.axis[0]) / (s.axis[-1] - s.axis[0])
        out.append(Spectrum(start + t * (stop - start), s.intensities, method=method))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="number of spectra")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP, help="RRUFF Raman zip")
    args = parser.parse_args()

    t0 = time.perf_counter()
    spectra = load(args.zip.resolve(), args.n)
    print(f"read {len(spectra)} RRUFF Raman spectra in {time.perf_counter() - t0:.1f} s")

    summary = Table(title=f"preset throughput, {len(spectra)} spectra, median of {args.repeat}")
    for column in ("preset", "grid points", "steps", "seconds", "spectra/s", "ms/spectrum"):
        summary.add_column(column, justify="left" if column in ("preset", "steps") else "right")
    by_step = Table(title="time per step (ms per spectrum, median)")
    by_step.add_column("preset")
    by_step.add_column("step")
    by_step.add_column("ms/spectrum", justify="right")

    for method in PRESETS:
        data = relabel(spectra, method)
        pipe = make_preset(method)
        totals, steps = [], {name: [] for name, _ in pipe.steps}
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="pybaselines")
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                X = pipe.fit_transform(data)
                totals.append(time.perf_counter() - t0)
                out = data
                for name, step in pipe.steps:
                    t0 = time.perf_counter()
                    out = step.fit_transform(out)
                    steps[name].append(time.perf_counter() - t0)
        assert np.isfinite(X).all(), method
        seconds = statistics.median(totals)
        summary.add_row(
            method,
            str(X.shape[1]),
            " > ".join(name for name, _ in pipe.steps[1:]),
            f"{seconds:.2f}",
            f"{len(data) / seconds:,.0f}",
            f"{1000 * seconds / len(data):.2f}",
        )
        for name, times in steps.items():
            by_step.add_row(method, name, f"{1000 * statistics.median(times) / len(data):.3f}")

    console = Console(width=120)
    console.print(summary)
    console.print(by_step)


if __name__ == "__main__":
    main()
