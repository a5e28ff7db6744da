"""Ingest the full RRUFF Raman and IR zips into a fresh MinDB and load them back on a grid.

Usage: python benchmarks/ingest.py [--mirror ../shared/data] [--repeat 3]

Prints one table: db build, IMA list ingest, Raman and IR ingest (seconds and files/s), and the
time to load all Raman spectra of MinDB onto a common 1 cm-1 grid (median of --repeat). The data
folder is a temporary one; the mirror defaults to ../shared/data beside the checkout.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LITHOSCOPE_DATA_DIR"] = tmp
        from lithoscope.config import get_settings
        from lithoscope.data.datasets import DatasetSpec, build_dataset
        from lithoscope.data.fetch import fetch
        from lithoscope.data.ingest import ingest
        from lithoscope.mindb import connect

        get_settings.cache_clear()
        for source in ("rruff-ima", "rruff-raman", "rruff-ir"):
            fetch(source, mirror=args.mirror, progress=False)  # not timed: a copy
        rows = []
        with connect() as db:
            t0 = time.perf_counter()
            db.build()
            rows.append(("db build (curated files)", time.perf_counter() - t0, None))
            for source in ("rruff-ima", "rruff-raman", "rruff-ir"):
                t0 = time.perf_counter()
                report = ingest(db, source, mirror=args.mirror, progress=False)
                rows.append((f"ingest {source}", time.perf_counter() - t0, report))
            spec = DatasetSpec.make("raman", np.arange(150.0, 1500.0, 1.0))
            loads = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                ds = build_dataset(db, spec)
                loads.append(time.perf_counter() - t0)
            size = Path(db.engine.url.database).stat().st_size

    table = Table(title="MinDB ingestion (SQLite, 2 CPU cores)")
    for col in ("step", "seconds", "files", "ingested", "files/s"):
        table.add_column(col, justify="right" if col != "step" else "left")
    for name, seconds, report in rows:
        if report is None:
            table.add_row(name, f"{seconds:.1f}", "", "", "")
        else:
            n = report.files
            added = report.ingested or report.minerals_added
            table.add_row(name, f"{seconds:.1f}", str(n), str(added), f"{n / seconds:.0f}")
    table.add_row(
        f"load {len(ds)} Raman spectra onto a {ds.X.shape[1]}-point grid (median)",
        f"{statistics.median(loads):.2f}",
        "",
        "",
        "",
    )
    Console().print(table)
    print(f"database size: {size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
