"""Ingestion of real RRUFF files and the IMA list into MinDB, and datasets built from it."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sys
import zipfile

import numpy as np
import pytest

from lithoscope.data.datasets import DatasetSpec, build_dataset, grouped_split, load_spectra
from lithoscope.data.ingest import compact_key, ingest_ima, ingest_spectra
from lithoscope.errors import InputError
from lithoscope.mindb import MineralNotFound, connect

# Real files chosen for what they exercise: a byte-identical pair (Diamond 532/780), an ID whose
# file name differs from its header (Bromellite R050194 / X050194), one ID under two names
# (R060054 Albite and Anorthoclase), a RRUFF spelling (AgarditeY), and several samples per mineral.
PATTERNS = [
    r"^Diamond__R150086__",
    r"^Bromellite__R050194__",
    r"__R060054__",
    r"^AgarditeY__R060711__",
    r"^Forsterite__R0400(18|52|57)__",
    r"^Fayalite__R(070157|070293|100102)__",
    r"^Enstatite__R(040093|040094|050644)__",
    r"^Calcite__R0400(70|71)__",
]
MINERALS = [
    "Diamond",
    "Bromellite",
    "Albite",
    "Agardite-(Y)",
    "Forsterite",
    "Fayalite",
    "Enstatite",
    "Calcite",
]


@pytest.fixture(scope="module")
def rruff_subset(tmp_path_factory, shared_data):
    """A zip of real RRUFF Raman files, byte-identical to the members of the mirror's zip."""
    source = shared_data / "rruff" / "raman" / "excellent_unoriented.zip"
    out = tmp_path_factory.mktemp("rruff") / "subset.zip"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(out, "w") as dst:
        names = [n for n in src.namelist() if any(re.search(p, n) for p in PATTERNS)]
        for name in names:
            dst.writestr(name, src.read(name))
    return out, names


@pytest.fixture(scope="module")
def ima_subset(tmp_path_factory, shared_data):
    """The real IMA export, cut to the minerals of the subset (keeps the test fast)."""
    source = (
        shared_data / "rruff" / "ima" / "RRUFF_Export_with_Hey_Classification__RamanLab_5c829ff.csv"
    )
    text = source.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    keep = [r for r in rows if r["Mineral Name"] in MINERALS]
    out = tmp_path_factory.mktemp("ima") / "ima.csv"
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(keep)
    return out


@pytest.fixture
def db(db_url):
    with connect(db_url) as handle:
        handle.build()
        yield handle


def test_ima_ingest_adds_missing_species_once(db, ima_subset):
    before = db.info()["minerals"]
    report = ingest_ima(db, ima_subset, progress=False)
    assert report.failed == []
    assert report.minerals_added >= 2  # Bromellite and Agardite-(Y) are not planetary
    assert db.info()["minerals"] == before + report.minerals_added
    card = db.mineral("Bromellite")
    assert card["formula"] == "BeO" and card["occurrences"] == []
    again = ingest_ima(db, ima_subset, progress=False)
    assert again.minerals_added == 0


def test_spectra_ingest_links_dedups_and_reports(db, ima_subset, rruff_subset):
    path, names = rruff_subset
    ingest_ima(db, ima_subset, progress=False)
    report = ingest_spectra(db, path, progress=False)
    digests = {}
    with zipfile.ZipFile(path) as zf:
        for name in names:
            digests.setdefault(hashlib.sha256(zf.read(name)).hexdigest(), []).append(name)
    distinct = len(digests)
    assert report.files == len(names)
    assert report.ingested == distinct
    assert report.duplicates == len(names) - distinct >= 1  # Diamond R150086 532 == 780
    assert report.failed == []
    # Anorthoclase is no IMA species: its spectra link to the group, the species left open
    assert report.unmatched == {}
    assert report.linked_to_groups == 2
    assert report.links["group_labels"] == {"Anorthoclase": "alkali feldspar"}
    assert report.links["spectra_unlinked"] == 0
    assert "R060054" in report.conflicts
    assert set(report.conflicts["R060054"]) == {"Albite", "Anorthoclase"}
    assert report.chemistry_parsed > 0
    info = db.info()
    assert info["spectra"]["raman"] == distinct
    assert db.mineral("Agardite-(Y)")["spectra"] == {"raman": 2}

    spectra = load_spectra(db, "raman")
    by_file = {s.metadata["file"]: s for s in spectra}
    bromellite = next(s for f, s in by_file.items() if f.startswith("Bromellite"))
    assert bromellite.metadata["sample_id"] == "X050194"  # header wins over the file name
    forsterite = next(
        s for f, s in by_file.items() if f.startswith("Forsterite__R040018__Raman__532")
    )
    with zipfile.ZipFile(path) as zf:
        raw = zf.read(forsterite.metadata["file"]).decode()
    pairs = [line.split(",") for line in raw.splitlines() if line and not line.startswith("##")]
    expected = np.array([[float(a), float(b)] for a, b in pairs])
    np.testing.assert_allclose(forsterite.axis, expected[:, 0], rtol=0, atol=0)
    np.testing.assert_allclose(forsterite.intensities, expected[:, 1], rtol=0, atol=0)
    assert forsterite.metadata["laser_nm"] == 532.0

    rerun = ingest_spectra(db, path, progress=False)
    assert rerun.ingested == 0 and rerun.already_present == len(names)
    assert db.info()["spectra"]["raman"] == distinct


def test_interrupted_ingest_leaves_mindb_as_it_was(db, rruff_subset):
    path, _ = rruff_subset

    def interrupt(count):
        if count == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest_spectra(db, path, progress=False, on_spectrum=interrupt)
    assert db.info()["spectra"]["raman"] == 0


def test_ingest_of_a_missing_path_is_a_clear_error(db, tmp_path):
    from lithoscope.data.ingest import ingest

    with pytest.raises(InputError, match="neither a file or folder nor one of: rruff-ima"):
        ingest(db, str(tmp_path / "nothing.zip"))


def test_compact_key_matches_rruff_file_spellings():
    assert compact_key("Agardite-(Y)") == compact_key("AgarditeY")
    assert compact_key("Ulvöspinel") == compact_key("Ulvospinel")


def test_dataset_version_and_grouped_split(db, ima_subset, rruff_subset):
    path, _ = rruff_subset
    ingest_ima(db, ima_subset, progress=False)
    ingest_spectra(db, path, progress=False)
    spec = DatasetSpec.make("raman", np.arange(150.0, 1200.0, 2.0), min_spectra_per_mineral=2)
    ds = build_dataset(db, spec)
    again = build_dataset(db, spec)
    other = build_dataset(
        db, DatasetSpec.make("raman", np.arange(150.0, 1200.0, 4.0), min_spectra_per_mineral=2)
    )
    assert ds.version == again.version != other.version
    assert ds.X.shape == (len(ds), spec.grid.__len__())
    assert np.isfinite(ds.X).all()
    assert "Bromellite" not in set(ds.y)  # one spectrum only
    train, test = grouped_split(ds.y, ds.groups, test_size=0.3, random_state=1)
    assert set(ds.groups[train]).isdisjoint(ds.groups[test])
    assert set(ds.y[test]) <= set(ds.y[train])
    assert len(test) > 0


def test_cli_ingest_json_and_spectra_info(monkeypatch, capsys, db_url, rruff_subset, tmp_path):
    from lithoscope.cli import main

    path, names = rruff_subset
    monkeypatch.setenv("LITHOSCOPE_DATABASE_URL", db_url)

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["lithoscope", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code
        return code, *capsys.readouterr()

    code, out, _ = run("data", "ingest", str(path), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["ingested"] > 0 and {"duplicates", "unmatched_names", "conflicts"} <= set(report)

    member = next(n for n in names if n.startswith("Forsterite__R040018__Raman__780"))
    with zipfile.ZipFile(path) as zf:
        (tmp_path / member).write_bytes(zf.read(member))
    (tmp_path / "junk.txt").write_bytes(b"\x00\x01binary")
    code, out, err = run(
        "spectra", "info", str(tmp_path / member), str(tmp_path / "junk.txt"), "--json"
    )
    assert code == 1
    row = json.loads(out.strip().splitlines()[0])
    assert row["mineral"] == "Forsterite" and row["rruff_id"] == "R040018"
    assert row["laser_nm"] == 780.0 and row["method"] == "raman" and row["format"] == "rruff-2019"
    assert set(row) == {
        "file",
        "format",
        "method",
        "mineral",
        "rruff_id",
        "laser_nm",
        "unit",
        "n_points",
        "axis_min",
        "axis_max",
    }
    assert err.startswith("error: ") and "junk.txt" in err and err.count("\n") == 1


def test_dataset_with_preset_pipeline_matches_the_pipeline_itself(db, ima_subset, rruff_subset):
    """Preprocessing in dataset building is exactly the pipeline used on single spectra."""
    from lithoscope.spectra.preprocessing import make_preset

    path, _ = rruff_subset
    ingest_ima(db, ima_subset, progress=False)
    ingest_spectra(db, path, progress=False)
    pipe = make_preset("raman")
    spec = DatasetSpec.from_pipeline(pipe)
    ds = build_dataset(db, spec, pipeline=pipe)
    spectra = {s.metadata["checksum"]: s for s in load_spectra(db, "raman")}
    direct = pipe.fit_transform([spectra[m["checksum"]] for m in ds.collection.metadata])
    # arPLS iterates to a tolerance, so interpolation round-off shows at ~1e-9 of the maximum
    np.testing.assert_allclose(ds.X, direct, rtol=0, atol=1e-8)
    assert np.allclose(ds.X.max(axis=1), 1.0)
    plain = build_dataset(db, DatasetSpec.make("raman", spec.grid, outside="edge"))
    assert plain.version != ds.version
    with pytest.raises(InputError, match="from_pipeline"):
        build_dataset(db, DatasetSpec.make("raman", spec.grid), pipeline=pipe)


RELABEL_PATTERNS = [
    r"^ApophylliteKF__R050021__",  # IMA renamed: Fluorapophyllite-(K)
    r"^Tourmaline__R060123__",  # a supergroup name: the species stays open
    r"^GlassCe__R110075__",  # a synthetic glass: stays unlinked, with the reason
    r"^unknown__R140074__",  # RRUFF's current list names this sample Lefontite
    r"^Hainite__R1(30110|41183)__",  # one sample is Hainite-(Y), the other Götzenite
    r"^Zunyite__R050263__",  # an IMA species after the cut of the RamanLab export
]


@pytest.fixture(scope="module")
def relabel_subset(tmp_path_factory, shared_data):
    """Real RRUFF files whose labels are not current species names, and IMA list extracts."""
    out = tmp_path_factory.mktemp("relabel")
    source = shared_data / "rruff" / "raman" / "excellent_unoriented.zip"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(out / "labels.zip", "w") as dst:
        for name in src.namelist():
            if any(re.search(p, name) for p in RELABEL_PATTERNS):
                dst.writestr(name, src.read(name))
    ima = shared_data / "rruff" / "ima"

    def extract(name, keep):
        text = (ima / name).read_text(encoding="utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        with (out / name).open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(r for r in rows if r["Mineral Name"] in keep)
        return out / name

    current = extract(
        "RRUFF_Export_with_Hey_Classification__RamanLab_5c829ff.csv",
        # its real last row marks where the copy was cut
        {"Fluorapophyllite-(K)", "Lefontite", "Götzenite", "Hainite-(Y)", "Zugshunstite-(Ce)"},
    )
    # Uranophane-β sorts before the cut: an old name, never added from the older export
    older = extract("RRUFF_Export_20220228_102415.csv", {"Zunyite", "Uranophane-β"})
    return out / "labels.zip", current, older


def test_labels_link_to_renamed_species_groups_or_stay_unlinked_with_why(db, relabel_subset):
    path, current, older = relabel_subset
    first = ingest_spectra(db, path, progress=False)
    assert first.ingested == 13 and first.failed == []
    assert first.linked_to_groups == 1  # Tourmaline
    unlinked = first.links["unlinked_labels"]
    assert "ingest rruff-ima" in unlinked["Apophyllite-(KF)"]["reason"]
    assert unlinked["Zunyite"]["reason"].startswith("not a MinDB species")
    assert unlinked["Glass-(Ce)"]["reason"].startswith("not a mineral: ")
    assert any("Glass-(Ce) (2 spectra): not a mineral" in line for line in first.unlinked_lines())

    ima = ingest_ima(db, current, complement=older, progress=False)
    assert ima.failed == [] and ima.minerals_added == 6  # 5 + Zunyite, not Uranophane-β
    assert db.resolve("Zunyite") == ("mineral", "Zunyite")
    with pytest.raises(MineralNotFound):
        db.resolve("Uranophane-β")
    # relinked: Apophyllite-(KF) 3, unknown R140074 2, Hainite 3, Zunyite 2
    assert ima.links["relinked"] == 10
    assert set(ima.links["unlinked_labels"]) == {"Glass-(Ce)"}
    renamed = ima.links["renamed_labels"]
    assert renamed["Apophyllite-(KF)"] == "Fluorapophyllite-(K)"
    assert renamed["unknown"] == "Lefontite"
    by_sample = {}
    for s in load_spectra(db, "raman"):
        by_sample.setdefault(s.metadata["sample_id"], set()).add(s.metadata["mineral"])
    assert by_sample["R130110"] == {
        "Gotzenite"
    }  # the IMA ingest stores plain names and by_sample["R141183"] == {"Hainite-(Y)"}
    assert by_sample["R050021"] == {"Fluorapophyllite-(K)"}
    assert by_sample["R140074"] == {"Lefontite"} and by_sample["R050263"] == {"Zunyite"}

    again = ingest_spectra(db, path, progress=False)
    assert again.ingested == 0 and again.links["relinked"] == 0
    assert again.links["group_labels"] == {"Tourmaline": "tourmaline supergroup"}
    # species training: group-linked and unlinked spectra stay out
    ds = build_dataset(db, DatasetSpec.make("raman", np.arange(150.0, 1200.0, 2.0)))
    assert "tourmaline supergroup" not in set(ds.y) and "Glass-(Ce)" not in set(ds.y)
    assert {"Fluorapophyllite-(K)", "Lefontite", "Zunyite", "Gotzenite"} <= set(ds.y)
    assert len(ds) == 10
