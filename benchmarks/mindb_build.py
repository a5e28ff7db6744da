"""Time `lithoscope db build` on a fresh database and print a table.

Usage: python benchmarks/mindb_build.py [--repeat 5]

Each repeat builds into a new empty SQLite file and also times the no-op rebuild. Medians of one
run; the machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lithoscope.mindb import connect
from lithoscope.mindb.build import read_curated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    t0 = time.perf_counter()
    read_curated()
    validate = time.perf_counter() - t0

    fresh, noop = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'mindb.sqlite'}"
            t0 = time.perf_counter()
            with connect(url) as db:
                report = db.build()
            fresh.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with connect(url) as db:
                db.build()
            noop.append(time.perf_counter() - t0)

    table = Table(title=f"MinDB build (SQLite, median of {args.repeat})")
    table.add_column("step")
    table.add_column("seconds", justify="right")
    table.add_row("read + validate curated files (parse every formula)", f"{validate:.2f}")
    table.add_row("connect + migrate + build, empty database", f"{statistics.median(fresh):.2f}")
    table.add_row("rebuild, files unchanged (no-op)", f"{statistics.median(noop):.2f}")
    Console().print(table)
    print(
        f"minerals {report.minerals}, occurrences {report.occurrences}, "
        f"species by body {report.by_body}"
    )


if __name__ == "__main__":
    main()
