"""The curated rename table: checked against the IMA list exports in the data mirror."""

from __future__ import annotations

import csv
import io
from collections import defaultdict

import pytest

from lithoscope.mindb import connect
from lithoscope.mindb.build import CURATED_DIR, read_curated
from lithoscope.mindb.labels import LINKING_KINDS, UNLINKED_KINDS
from lithoscope.mindb.names import name_key

IMA_2025 = "rruff/ima/RRUFF_Export_with_Hey_Classification__RamanLab_5c829ff.csv"
IMA_2022 = "rruff/ima/RRUFF_Export_20220228_102415.csv"


def _rows(path):
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


@pytest.fixture(scope="module")
def ima(shared_data):
    """Current IMA names (2025 export, completed after its cut by the 2022 one) and, per
    RRUFF sample id, the names the 2025 export lists it under."""
    current = _rows(shared_data / IMA_2025)
    names = {name_key(r["Mineral Name (plain)"]) for r in current}
    last = max(names)
    names |= {
        name_key(r["Mineral Name (plain)"])
        for r in _rows(shared_data / IMA_2022)
        if name_key(r["Mineral Name (plain)"]) > last
    }
    by_sample: dict[str, set[str]] = defaultdict(set)
    for r in current:
        for rid in (r["RRUFF ID"] or "").split():
            by_sample[rid].add(name_key(r["Mineral Name (plain)"]))
    return names, by_sample


@pytest.fixture(scope="module")
def renames():
    with (CURATED_DIR / "renames.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_every_row_has_a_source_and_a_known_kind(renames):
    assert len(renames) >= 80
    for row in renames:
        assert row["source"].strip(), row
        assert row["kind"] in LINKING_KINDS | UNLINKED_KINDS, row
        if row["kind"] in UNLINKED_KINDS:
            assert not row["target"] and row["note"].strip(), row


def test_species_targets_are_current_ima_names(ima, renames):
    names, _ = ima
    content = read_curated()
    groups = set(content.groups) | set(content.open_groups)
    for row in renames:
        if row["kind"] not in LINKING_KINDS:
            continue
        target = name_key(row["target"])
        assert target in names or target in groups, row
        if row["kind"] == "group":
            assert target in groups, row


def test_old_labels_are_no_current_ima_names(ima, renames):
    names, _ = ima
    for row in renames:
        if not row["sample_id"]:
            assert name_key(row["label"]) not in names, row


def test_sample_rows_follow_rruffs_current_list(ima, renames):
    """A row for one RRUFF sample names the species RRUFF's 2025 export lists it under."""
    _, by_sample = ima
    rows = [r for r in renames if r["sample_id"]]
    assert len(rows) >= 10
    for row in rows:
        assert row["kind"] == "reidentified", row
        assert name_key(row["target"]) in by_sample[row["sample_id"]], row


def test_build_loads_the_table_and_resolves_old_names(built_db_url):
    with connect(built_db_url) as db:
        assert db.resolve("Tourmaline") == ("group", "tourmaline supergroup")
        assert db.resolve("Microlite") == ("group", "microlite group")
        assert db.resolve("Labradorite") == ("group", "plagioclase")  # an alias to a group
        assert db.mineral("tourmaline supergroup")["members"] == []  # species left open
        from lithoscope.mindb import MineralNotFound

        with pytest.raises(MineralNotFound, match="not a mineral species .*synthetic"):
            db.resolve("Yttrium aluminum garnet")
