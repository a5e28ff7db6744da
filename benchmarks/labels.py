"""How RRUFF Raman labels link to MinDB: species, groups (species left open) or nothing.

Usage: python benchmarks/labels.py [--mirror ../shared/data]

Builds a fresh MinDB in a temporary folder (curated files, IMA list, RRUFF Raman zip) and
prints, for the labels that match no species by name, alias or RRUFF spelling (the only
matches before the curated rename table), how many labels and spectra now link to a species,
to a group, or stay unlinked, and the reasons of the unlinked ones. IMA species that the
RamanLab copy of the IMA export lost (added from the 2022 export) count as newly linked.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
OLD_MATCHES = {"name", "alias", "rruff spelling"}
CUT = "zugshunstite-(ce)"  # last name of the RamanLab copy of the IMA export


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LITHOSCOPE_DATA_DIR"] = tmp
        from lithoscope.config import get_settings
        from lithoscope.data.ingest import ingest
        from lithoscope.mindb import connect
        from lithoscope.mindb.labels import Linker
        from lithoscope.mindb.names import name_key

        get_settings.cache_clear()
        with connect() as db:
            db.build()
            ingest(db, "rruff-ima", mirror=args.mirror, progress=False)
            ingest(db, "rruff-raman", mirror=args.mirror, progress=False)
            # species after the cut of the RamanLab export, added from the 2022 export
            late = {m["name"] for m in db.search() if name_key(m["name"]) > CUT}
            stored = db.spectra_arrays(method="raman")
            with db.session() as session:
                linker = Linker(session)
                rows = []
                for meta in stored.metadata:
                    link = linker.link(
                        meta["label"], filename=meta["file"], sample_id=meta["sample_id"]
                    )
                    rows.append((meta["label"], link))

    before = [
        (label, link)
        for label, link in rows
        if link.how not in OLD_MATCHES or (link.kind == "mineral" and link.name in late)
    ]
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    for label, link in before:
        kinds[label][link.kind or "unlinked"] += 1
    spectra = Counter(link.kind or "unlinked" for _, link in before)
    labels = Counter(next(iter(c)) if len(c) == 1 else "mixed (by sample)" for c in kinds.values())
    table = Table(title="RRUFF Raman labels not matched by name, alias or spelling")
    for col in ("now", "labels", "spectra"):
        table.add_column(col, justify="left" if col == "now" else "right")
    for kind in ("mineral", "group", "unlinked", "mixed (by sample)"):
        table.add_row(kind, str(labels.get(kind, 0)), str(spectra.get(kind, 0)))
    table.add_row("total", str(len(kinds)), str(len(before)))
    Console().print(table)
    mixed = {label: dict(c) for label, c in kinds.items() if len(c) > 1}
    print("mixed labels:", mixed)
    reasons = {label: link.reason for label, link in before if link.kind is None}
    for label, reason in sorted(reasons.items()):
        print(f"unlinked: {label} ({kinds[label]['unlinked']}): {reason}")


if __name__ == "__main__":
    main()
