"""Preprocessing speed: the fast path (`Preprocessor`) against the scikit-learn pipeline; tables.

Usage: python benchmarks/preprocessing.py [--n 1000] [--repeat 3] [--single 300] [--all-presets]

Table 1, on raw RRUFF files (Raman from the Raman zip, infrared from the infrared zip of the
shared data mirror, each spectrum on its own axis, as read): batch throughput of
``Preprocessor.transform`` and ``pipeline.transform`` on ``--n`` spectra (median of
``--repeat`` runs; the infrared zip holds fewer files, so its list is repeated up to ``--n``),
and the latency of one spectrum (p50/p99 over ``--single`` different spectra, one call each,
spectra in, array out). The last column checks that both paths give the same numbers.

With ``--all-presets``, table 2 runs every preset on the Raman spectra relabelled to its method,
the axis mapped linearly onto the preset's range (same real signal shapes; throughput depends on
the number of grid points and the algorithms), and table 3 splits the pipeline's time by step.
Machines are shared and noisy: compare figures from one run.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from lithoscope.spectra.io import parse_spectrum
from lithoscope.spectra.preprocessing import PRESETS, Preprocessor, make_preset
from lithoscope.spectra.spectrum import Spectrum

MIRROR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "rruff"
DEFAULT_ZIP = MIRROR / "raman" / "excellent_unoriented.zip"
IR_ZIP = MIRROR / "infrared" / "Processed.zip"


def load(path: Path, n: int) -> list[Spectrum]:
    """``n`` spectra taken evenly from a RRUFF zip (all of them if it holds fewer)."""
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


def batch_seconds(run: Callable[[], np.ndarray], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def single_ms(transform: Callable[[list[Spectrum]], np.ndarray], spectra: list[Spectrum]):
    transform(spectra[:1])  # warm caches (kernel coefficients, imports)
    times = []
    for s in spectra:
        t0 = time.perf_counter()
        transform([s])
        times.append(time.perf_counter() - t0)
    ms = 1000 * np.asarray(times)
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def raw_table(args: argparse.Namespace, console: Console) -> None:
    table = Table(
        title=(
            f"raw RRUFF spectra, batch of {args.n} (median of {args.repeat}) and single spectra "
            f"(p50/p99 over {args.single})"
        )
    )
    for column in (
        "preset",
        "files",
        "grid",
        "fast batch /s",
        "pipeline batch /s",
        "speed-up",
        "fast 1 p50 ms",
        "fast 1 p99 ms",
        "pipeline 1 p50 ms",
        "max |fast - pipeline|",
    ):
        table.add_column(column, justify="left" if column == "preset" else "right")
    for method, path in (("raman", args.zip), ("ir", args.ir_zip)):
        t0 = time.perf_counter()
        files = load(path.resolve(), args.n)
        spectra = list(itertools.islice(itertools.cycle(files), args.n))
        console.print(
            f"read {len(files)} RRUFF {method} files in {time.perf_counter() - t0:.1f} s"
            + (f"; repeated to {len(spectra)}" if len(files) < len(spectra) else "")
        )
        pipe = make_preset(method)
        fast = Preprocessor.from_pipeline(pipe)
        fast_s = batch_seconds(lambda: fast.transform(spectra), args.repeat)  # noqa: B023
        pipe_s = batch_seconds(lambda: pipe.transform(spectra), args.repeat)  # noqa: B023
        singles = files[: args.single]
        fast_p50, fast_p99 = single_ms(fast.transform, singles)
        pipe_p50, _ = single_ms(pipe.transform, singles[: max(1, args.single // 3)])
        diff = float(np.max(np.abs(fast.transform(spectra) - pipe.transform(spectra))))
        table.add_row(
            method,
            str(len(files)),
            str(fast.grid.size),
            f"{len(spectra) / fast_s:,.0f}",
            f"{len(spectra) / pipe_s:,.0f}",
            f"{pipe_s / fast_s:.1f}x",
            f"{fast_p50:.3f}",
            f"{fast_p99:.3f}",
            f"{pipe_p50:.3f}",
            f"{diff:.1e}",
        )
    console.print(table)


def preset_tables(args: argparse.Namespace, console: Console) -> None:
    spectra = load(args.zip.resolve(), args.n)
    summary = Table(title=f"every preset, {len(spectra)} Raman spectra relabelled to its method")
    for column in ("preset", "grid points", "steps", "fast /s", "pipeline /s", "ms/spectrum"):
        summary.add_column(column, justify="left" if column in ("preset", "steps") else "right")
    by_step = Table(title="pipeline time per step (ms per spectrum, median)")
    by_step.add_column("preset")
    by_step.add_column("step")
    by_step.add_column("ms/spectrum", justify="right")
    for method in PRESETS:
        data = relabel(spectra, method)
        pipe = make_preset(method)
        fast = Preprocessor.from_pipeline(pipe)
        steps: dict[str, list[float]] = {name: [] for name, _ in pipe.steps}
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="pybaselines")
            fast_s = batch_seconds(lambda: fast.transform(data), args.repeat)  # noqa: B023
            pipe_s = batch_seconds(lambda: pipe.transform(data), args.repeat)  # noqa: B023
            for _ in range(args.repeat):
                out = data
                for name, step in pipe.steps:
                    t0 = time.perf_counter()
                    out = step.transform(out)
                    steps[name].append(time.perf_counter() - t0)
        summary.add_row(
            method,
            str(fast.grid.size),
            " > ".join(name for name, _ in pipe.steps[1:]),
            f"{len(data) / fast_s:,.0f}",
            f"{len(data) / pipe_s:,.0f}",
            f"{1000 * fast_s / len(data):.3f}",
        )
        for name, times in steps.items():
            by_step.add_row(method, name, f"{1000 * statistics.median(times) / len(data):.3f}")
    console.print(summary)
    console.print(by_step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="spectra per batch")
    parser.add_argument("--repeat", type=int, default=3, help="batch runs (the median is shown)")
    parser.add_argument("--single", type=int, default=300, help="spectra timed one by one")
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP, help="RRUFF Raman zip")
    parser.add_argument("--ir-zip", type=Path, default=IR_ZIP, help="RRUFF infrared zip")
    parser.add_argument("--all-presets", action="store_true", help="also tables 2 and 3")
    args = parser.parse_args()
    console = Console(width=160)
    raw_table(args, console)
    if args.all_presets:
        preset_tables(args, console)


if __name__ == "__main__":
    main()
