"""MinDB's spectra API: the array encoder, `spectra` filters, `add_spectra` links and dedup,
relinking after new species, all on real RRUFF files and on both backends."""

from __future__ import annotations

import shutil
import struct
import warnings
import zipfile

import numpy as np
import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from lithoscope.errors import InputError
from lithoscope.mindb import MineralNotFound, connect
from lithoscope.mindb.arrays import decode_array, encode_array
from lithoscope.mindb.build import CURATED_DIR
from lithoscope.mindb.chemistry import parse_formula
from lithoscope.mindb.models import Spectrum as SpectrumRow
from lithoscope.mindb.queries import NewMineral
from lithoscope.spectra.io import parse_spectrum

RAMAN_ZIP = "rruff/raman/excellent_unoriented.zip"
# Real files: species under current names, an old IMA name, a group name, a synthetic glass,
# 'unknown' of a sample RRUFF identified later, and one of a sample still unidentified.
FILES = [
    "Forsterite__R040018__Raman__532__0__unoriented__Raman_Data_Processed__26073.txt",
    "Forsterite__R040018__Raman__780__0__unoriented__Raman_Data_Processed__26075.txt",
    "Forsterite__R040052__Raman__532__0__unoriented__Raman_Data_Processed__15115.txt",
    "Forsterite__R040052__Raman__785__0__unoriented__Raman_Data_Processed__15117.txt",
    "Calcite__R040070__Raman__532__0__unoriented__Raman_Data_Processed__15330.txt",
    "ApophylliteKF__R050021__Raman__532__0__unoriented__Raman_Data_Processed__21041.txt",
    "Tourmaline__R060123__Raman__532__0__unoriented__Raman_Data_Processed__31953.txt",
    "GlassCe__R110075__Raman__532__0__unoriented__Raman_Data_Processed__35483.txt",
    "unknown__R140074__Raman__532__0__unoriented__Raman_Data_Processed__38075.txt",
    "unknown__R140401__Raman__532__0__unoriented__Raman_Data_Processed__38047.txt",
]
# From the IMA list in the mirror (2025 export): the current names these labels link to.
NEW_SPECIES = {
    "Fluorapophyllite-(K)": "KCa4Si8O20F·8H2O",
    "Lefontite": "Fe3+Fe2+2(Be2B2)Si4O16(OH)4",  # any valid formula serves the link test
}


@pytest.fixture(scope="module")
def raw(shared_data):
    """(file name, text) of the real files."""
    with zipfile.ZipFile(shared_data / RAMAN_ZIP) as zf:
        return [(name, zf.read(name).decode()) for name in FILES]


def _parsed(raw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [parse_spectrum(text, name) for name, text in raw]


@pytest.fixture
def db(db_url):
    with connect(db_url) as handle:
        handle.build()
        yield handle


def test_encoder_is_little_endian_float64_and_read_only():
    values = np.array([1.5, -2.25, 1e300, 0.0])
    data = encode_array(values)
    assert data == struct.pack("<4d", *values)  # independent layout reference
    back = decode_array(data)
    assert back.dtype == np.float64 and not back.flags.writeable
    np.testing.assert_array_equal(back, values)
    # non-contiguous and integer input are encoded as float64 values
    np.testing.assert_array_equal(decode_array(encode_array(np.arange(6)[::2])), [0.0, 2.0, 4.0])


def test_add_spectra_links_each_label_and_says_why_not(db, raw, tmp_path):
    spectra = _parsed(raw)
    report = db.add_spectra(spectra, source="test: RRUFF subset")
    assert report.added == len(FILES) and report.already_present == 0
    # before the IMA list: the renamed apophyllite's target is missing, and says so
    assert report.unlinked["Apophyllite-(KF)"] == 1
    assert "Fluorapophyllite-(K)" in report.unlinked_reasons["Apophyllite-(KF)"]
    assert "ingest rruff-ima" in report.unlinked_reasons["Apophyllite-(KF)"]
    assert report.unlinked_reasons["Glass-(Ce)"].startswith("not a mineral:")
    assert report.unlinked_reasons["unknown"].startswith("unidentified:")
    assert report.linked_to_species == 5 and report.linked_to_groups == 1

    stored = {s.metadata["label"]: s for s in db.spectra(method="raman")}
    assert stored["Tourmaline"].metadata["link"] == "group"
    assert stored["Tourmaline"].metadata["mineral"] == "tourmaline supergroup"
    assert stored["Glass-(Ce)"].metadata["link"] is None

    again = db.add_spectra(_parsed(raw), source="test: RRUFF subset")
    assert again.added == 0 and again.already_present == len(FILES)

    # the IMA species arrive later: linking again picks them up
    db.add_minerals(
        [NewMineral(n, f, parse_formula(f)) for n, f in NEW_SPECIES.items()], citation="test"
    )
    links = db.link_spectra()
    assert links.relinked == 2  # Apophyllite-(KF) and unknown R140074 (re-identified)
    assert links.renamed == {"Apophyllite-(KF)": "Fluorapophyllite-(K)", "unknown": "Lefontite"}
    assert links.group_labels == {"Tourmaline": "tourmaline supergroup"}
    assert set(links.unlinked_labels) == {"Glass-(Ce)", "unknown"}  # R140401 stays unknown
    assert links.unlinked_labels["unknown"]["spectra"] == 1
    by_sample = {s.metadata["sample_id"]: s.metadata for s in db.spectra(method="raman")}
    assert by_sample["R140074"]["mineral"] == "Lefontite"
    assert by_sample["R140401"]["link"] is None
    assert db.link_spectra().relinked == 0  # nothing left to do

    # a curator drops the apophyllite rename: the next build moves its spectrum out again
    folder = tmp_path / "curated"
    shutil.copytree(CURATED_DIR, folder)
    renames = folder / "renames.csv"
    lines = renames.read_text(encoding="utf-8").splitlines(keepends=True)
    renames.write_text(
        "".join(ln for ln in lines if not ln.startswith("Apophyllite-(KF),")), encoding="utf-8"
    )
    report = db.build(folder)
    assert report.links["unlinked_labels"]["Apophyllite-(KF)"]["reason"].startswith(
        "not a MinDB species"
    )
    assert report.links["spectra_linked_to_species"] == 5 + 1  # Forsterite... and Lefontite


def test_spectra_filters_and_metadata(db, raw):
    db.add_spectra(_parsed(raw), source="test: RRUFF subset")
    everything = db.spectra()
    assert len(everything) == len(FILES)
    first = everything[0]
    assert set(first.metadata) >= {
        "spectrum_id",
        "mineral",
        "link",
        "label",
        "sample_id",
        "group",
        "laser_nm",
        "checksum",
        "file",
        "source",
    }
    # arrays come back exactly as the file gave them
    name, text = raw[0]
    pairs = [ln.split(",") for ln in text.splitlines() if ln.strip() and not ln.startswith("##")]
    expected = np.array([[float(a), float(b)] for a, b in pairs])
    assert first.metadata["file"] == name
    np.testing.assert_array_equal(first.axis, expected[:, 0])
    np.testing.assert_array_equal(first.intensities, expected[:, 1])

    forsterite = db.spectra(minerals="FORSTERITE")
    assert [s.metadata["sample_id"] for s in forsterite] == ["R040018"] * 2 + ["R040052"] * 2
    assert len(db.spectra(minerals=["Forsterite", "calcite"])) == 5
    assert len(db.spectra(minerals="tourmaline supergroup")) == 1  # by group
    assert len(db.spectra(laser_nm=532)) == 8
    assert len(db.spectra(minerals="Forsterite", laser_nm=[780.0, 785.0])) == 2
    assert len(db.spectra(sample_ids=["R040052", "R110075"])) == 3
    assert len(db.spectra(linked_only=True)) == 5  # species only: not the group, not unlinked
    assert len(db.spectra(source="test: RRUFF subset", limit=3)) == 3
    assert db.spectra(source="elsewhere") == []
    ids = [s.metadata["spectrum_id"] for s in everything[2:4]]
    assert [s.metadata["spectrum_id"] for s in db.spectra(ids=ids)] == ids
    assert db.spectra(method="ir") == []
    arrays = db.spectra_arrays(minerals="Forsterite")
    assert len(arrays) == 4 and not arrays.axes[0].flags.writeable
    np.testing.assert_array_equal(arrays.intensities[0], forsterite[0].intensities)
    with pytest.raises(InputError, match="method 'sonar' is not one of raman"):
        db.spectra(method="sonar")
    with pytest.raises(InputError, match="laser_nm must be numbers"):
        db.spectra(laser_nm="green")


def test_a_recorded_material_is_the_grouping_key(db, raw):
    """Spectra of two samples of one analysed material (as grain-size splits of a VNIR
    sample) share their group, so a grouped split keeps them on one side."""
    spectra = _parsed(raw)
    for s in spectra[:4]:  # R040018 and R040052 (two lasers each), declared one material
        s.metadata["material"] = "R040018"
    db.add_spectra(spectra, source="test: RRUFF subset")
    groups = {m["sample_id"]: m["group"] for m in db.spectra_arrays().metadata}
    assert groups["R040018"] == groups["R040052"] == "R040018"
    assert groups["R040070"] == "R040070"  # no material: the base sample id
    by_id = {m["spectrum_id"]: m for m in db.spectra_arrays(extra=True).metadata}
    assert [m["extra"].get("material") for m in by_id.values()].count("R040018") == 4


def test_add_spectra_to_a_named_mineral_is_all_or_nothing(db, raw):
    spectra = _parsed(raw)[:2]
    with pytest.raises(MineralNotFound, match="Unobtainium"):
        db.add_spectra(spectra, mineral="Unobtainium", source="user")
    assert db.spectra() == []

    def interrupt(count):
        if count == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        db.add_spectra(_parsed(raw), source="user", on_spectrum=interrupt)
    assert db.spectra() == []

    report = db.add_spectra(spectra, mineral="forsterite", source="user")
    assert report.added == 2 and report.linked_to_species == 2
    assert {s.metadata["label"] for s in db.spectra(source="user")} == {"Forsterite"}
    with pytest.raises(InputError, match="source is empty"):
        db.add_spectra(spectra, source=" ")


def test_a_spectrum_links_to_a_species_or_a_group_never_both(db, raw):
    db.add_spectra(_parsed(raw)[:1], source="user")
    tourmaline = db.resolve("tourmaline")
    assert tourmaline == ("group", "tourmaline supergroup")
    from lithoscope.mindb.models import MineralGroup

    with db.session() as s, pytest.raises(IntegrityError):
        gid = s.query(MineralGroup.id).filter_by(name="tourmaline supergroup").scalar()
        s.execute(update(SpectrumRow).values(group_id=gid))
        s.commit()
