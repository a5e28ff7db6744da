"""Reading the Korda & Kohout (2024) VNIR data from a mirror: the real files and broken copies."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from lithoscope.data import vnir
from lithoscope.data.sources import get_source
from lithoscope.data.vnir import LABELS, MODES, KordaData, load_korda
from lithoscope.errors import InputError

FILES = [f.name for f in get_source(vnir.SOURCE).files]


@pytest.fixture(scope="module")
def korda(shared_data, tmp_path_factory) -> KordaData:
    return load_korda(shared_data, dest=tmp_path_factory.mktemp("korda"))


def copy_mirror(shared_data: Path, root: Path, edit: dict[str, str] | None = None) -> Path:
    """A writable mirror with the Korda files; `edit` replaces file contents (manifest updated)."""
    folder = root / "vnir"
    folder.mkdir(parents=True)
    lines = []
    for name in FILES:
        if edit and name in edit:
            (folder / name).write_text(edit[name])
        else:
            shutil.copyfile(shared_data / "vnir" / name, folder / name)
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        lines.append(f"{digest}  {name}\n")
    (folder / "MANIFEST.sha256").write_text("".join(lines))
    return root


# ----------------------------------------------------------------------------- real data
def test_real_data_shapes_and_grid(korda):
    assert len(korda) == 674
    assert korda.reflectance.shape == (674, 401)
    np.testing.assert_allclose(korda.wavelength_nm, np.arange(450, 2451, 5))
    assert list(korda.labels.columns) == list(LABELS)
    assert 0.02 < korda.reflectance.min() and korda.reflectance.max() < 1.0


def test_real_labels_are_fractions_and_modes_sum_to_one(korda):
    modes = korda.modes[korda.has_modes]
    assert korda.has_modes.sum() >= 668
    np.testing.assert_allclose(modes.sum(axis=1), 1.0, atol=1e-4)
    # chemistry of a mineral is given where it is present (0 where absent)
    olivine = korda.labels[(korda.labels["OL"] > 0) & korda.labels["Fo"].notna()]
    np.testing.assert_allclose(olivine["Fa"] + olivine["Fo"], 1.0, atol=1e-3)
    opx = korda.labels[korda.labels["OPX"] > 0]
    np.testing.assert_allclose(opx[["Fs_OPX", "En_OPX", "Wo_OPX"]].sum(axis=1), 1.0, atol=0.02)


def test_real_metadata_sources_and_subsets(korda):
    counts = korda.metadata["Source"].value_counts().to_dict()
    assert counts == {
        "Earth": 342,
        "Other-Met": 151,
        "Synthetic": 134,
        "Moon-Ret": 37,
        "Mars-Met": 10,
    }
    assert korda.subset("lunar").sum() == 37
    assert korda.subset("mars").sum() == 10
    assert korda.subset("rocks").sum() == 154
    assert korda.subset("minerals").sum() + korda.subset("rocks").sum() == 674
    assert (korda.metadata["Type1"] == "Silicate (Neso)").sum() == 99  # blanks stripped
    with pytest.raises(InputError, match="subset 'moon' is unknown; valid names: all, minerals"):
        korda.subset("moon")


def test_material_groups_join_splits_of_one_material(korda):
    groups = korda.material_groups()
    assert groups.shape == (674,)
    names = korda.metadata["SampleName"]
    websterite = groups[names.str.startswith("Websterite").to_numpy()]
    assert np.unique(websterite).size == 1
    assert 150 < np.unique(groups).size < np.unique(korda.sample_ids).size == 674
    # no group mixes different labels on the modes
    for g in np.unique(groups)[:100]:
        modes = korda.modes[groups == g]
        assert np.allclose(np.nan_to_num(modes, nan=-1), np.nan_to_num(modes[0], nan=-1))


def test_normalised_spectra_are_one_at_550_nm(shared_data, tmp_path):
    data = load_korda(shared_data, normalised=True, dest=tmp_path)
    np.testing.assert_allclose(data.reflectance[:, data.wavelength_nm == 550], 1.0, atol=1e-5)


def test_take_keeps_rows_aligned(korda):
    part = korda.take([5, 2])
    assert len(part) == 2
    np.testing.assert_array_equal(part.reflectance, korda.reflectance[[5, 2]])
    assert list(part.metadata["SpectrumID"]) == list(korda.metadata["SpectrumID"].iloc[[5, 2]])
    assert part.modes.shape == (2, len(MODES))


# --------------------------------------------------------------------------------- errors
def test_missing_mirror_is_a_one_line_input_error(tmp_path):
    with pytest.raises(InputError, match=r"Korda file 'korda2024_.*--mirror") as info:
        load_korda(tmp_path / "nowhere", dest=tmp_path / "cache")
    assert "\n" not in str(info.value)


def test_file_differing_from_manifest_is_an_input_error(shared_data, tmp_path):
    root = copy_mirror(shared_data, tmp_path / "m")
    (root / "vnir" / vnir.LABELS_FILE).write_text("row,SpectrumID\n")
    with pytest.raises(InputError, match=rf"Korda file '{vnir.LABELS_FILE}'.*(sha256|checksum)"):
        load_korda(root, dest=tmp_path / "cache")


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        (vnir.SPECTRA_FILE, "row,SpectrumID,450,455\n0,A,0.1,0.2\n", "expected 401 increasing"),
        (vnir.SPECTRA_FILE, "a,b\n1,2\n", "expected the columns to start with 'row'"),
        (vnir.LABELS_FILE, "row,SpectrumID,OL\n0,A,0.5\n", "the 15 label columns"),
        (vnir.METADATA_FILE, "row,SpectrumID\n0,A\n", "missing SampleID"),
        (vnir.METADATA_FILE, "", "cannot be read as CSV"),
    ],
)
def test_malformed_files_name_the_file_and_the_fix(shared_data, tmp_path, name, text, match):
    root = copy_mirror(shared_data, tmp_path / "m", edit={name: text})
    with pytest.raises(InputError, match=rf"Korda file '{name}'.*{match}.*fix: ") as info:
        load_korda(root, dest=tmp_path / "cache")
    assert "\n" not in str(info.value)


def test_bad_value_names_the_line(shared_data, tmp_path):
    lines = (shared_data / "vnir" / vnir.SPECTRA_FILE).read_text().splitlines()
    cells = lines[3].split(",")
    cells[10] = "abc"
    lines[3] = ",".join(cells)
    root = copy_mirror(shared_data, tmp_path / "m", edit={vnir.SPECTRA_FILE: "\n".join(lines)})
    with pytest.raises(InputError, match=rf"'{vnir.SPECTRA_FILE}' line 4: expected positive"):
        load_korda(root, dest=tmp_path / "cache")


def test_misaligned_rows_are_refused(shared_data, tmp_path):
    lines = (shared_data / "vnir" / vnir.METADATA_FILE).read_text().splitlines(keepends=True)
    text = lines[0] + "".join(reversed(lines[1:]))
    root = copy_mirror(shared_data, tmp_path / "m", edit={vnir.METADATA_FILE: text})
    with pytest.raises(InputError, match="same SpectrumIDs in the same order"):
        load_korda(root, dest=tmp_path / "cache")


# ------------------------------------------------------------------- species and MinDB
@pytest.mark.parametrize(
    ("group", "chemistry", "species"),
    [
        ("olivine", {"Fo": 0.91, "Fa": 0.09}, "Forsterite"),
        ("olivine", {"Fo": 0.50, "Fa": 0.50}, "Forsterite"),
        ("olivine", {"Fo": 0.49, "Fa": 0.51}, "Fayalite"),
        ("orthopyroxene", {"Fs_OPX": 0.49, "En_OPX": 0.51, "Wo_OPX": 0.0}, "Enstatite"),
        ("orthopyroxene", {"Fs_OPX": 0.50, "En_OPX": 0.50, "Wo_OPX": 0.0}, "Ferrosilite"),
        # Mg vs Fe decides, not Fs alone: Fs 49 with Wo 3 is Fe-dominant
        ("orthopyroxene", {"Fs_OPX": 0.49, "En_OPX": 0.48, "Wo_OPX": 0.03}, "Ferrosilite"),
        ("clinopyroxene", {"Wo_CPX": 0.47, "En_CPX": 0.45, "Fs_CPX": 0.08}, "Diopside"),
        ("clinopyroxene", {"Wo_CPX": 0.47, "En_CPX": 0.10, "Fs_CPX": 0.43}, "Hedenbergite"),
        ("clinopyroxene", {"Wo_CPX": 0.45, "En_CPX": 0.30, "Fs_CPX": 0.25}, "Diopside"),
        ("clinopyroxene", {"Wo_CPX": 0.449, "En_CPX": 0.30, "Fs_CPX": 0.251}, "Augite"),
        ("clinopyroxene", {"Wo_CPX": 0.20, "En_CPX": 0.50, "Fs_CPX": 0.30}, "Augite"),
        ("clinopyroxene", {"Wo_CPX": 0.19, "En_CPX": 0.50, "Fs_CPX": 0.31}, "Pigeonite"),
        ("clinopyroxene", {"Wo_CPX": 0.05, "En_CPX": 0.60, "Fs_CPX": 0.35}, "Pigeonite"),
        ("clinopyroxene", {"Wo_CPX": 0.02, "En_CPX": 0.60, "Fs_CPX": 0.38}, "Clinoenstatite"),
        ("clinopyroxene", {"Wo_CPX": 0.02, "En_CPX": 0.38, "Fs_CPX": 0.60}, "Clinoferrosilite"),
        # labradorite and bytownite are plagioclase names, not IMA species
        ("plagioclase", {"An": 0.62, "Ab": 0.38, "Or": 0.0}, "Anorthite"),
        ("plagioclase", {"An": 0.50, "Ab": 0.50, "Or": 0.0}, "Anorthite"),
        ("plagioclase", {"An": 0.48, "Ab": 0.52, "Or": 0.0}, "Albite"),
        # dominant valency first: An 40 < Ab + Or 60, then Na > K
        ("plagioclase", {"An": 0.40, "Ab": 0.35, "Or": 0.25}, "Albite"),
        ("plagioclase", {"An": 0.00, "Ab": 0.27, "Or": 0.73}, "feldspar"),
        ("olivine", {"Fo": float("nan")}, "olivine"),
        ("clinopyroxene", {}, "clinopyroxene"),
    ],
)
def test_ima_species_follows_the_dominant_constituent_rule(group, chemistry, species):
    call = vnir.ima_species(group, chemistry)
    assert call.label == species
    assert call.kind == ("group" if species[0].islower() else "species")


def test_ima_species_refuses_an_unknown_group():
    with pytest.raises(InputError, match="group 'pyroxene' is not one of olivine"):
        vnir.ima_species("pyroxene", {})


def test_real_labels_link_only_single_phase_minerals(korda):
    calls = vnir.mindb_labels(korda)
    assert len(calls) == len(korda)
    kinds = np.array([c.kind for c in calls])
    rocks = korda.subset("rocks")
    assert set(kinds[rocks]) <= {"rock", "unlabelled"}
    linked = kinds == "species"
    assert not (linked & rocks).any()
    # every linked spectrum is one silicate at >= 99 vol %
    assert np.all(np.nanmax(korda.modes[linked], axis=1) >= vnir.PURE_MODE)
    assert (kinds == "mixture").sum() == 151
    by_name = dict(zip(korda.metadata["SampleName"], calls, strict=True))
    assert by_name["Labradorite (An 62) <25 um"].label == "Anorthite"
    assert by_name["Labradorite (An 48) <25 um"].label == "Albite"
    assert by_name["Albite (An 1) <25 um"].label == "Albite"
    assert by_name["15555,965 plagioclase B"].label == "Anorthite"  # lunar, An 91
    assert by_name["BUR-3460A"].label == "feldspar"  # microcline: K-feldspar, group only
    labels = {c.label for c in calls if c.kind == "species"}
    assert labels == {
        "Forsterite",
        "Fayalite",
        "Enstatite",
        "Ferrosilite",
        "Diopside",
        "Hedenbergite",
        "Augite",
        "Pigeonite",
        "Anorthite",
        "Albite",
    }


def test_korda_spectra_carry_labels_as_numbers(korda):
    spectra = vnir.korda_spectra(korda.take([0, 154, 300]))
    assert [s.method.value for s in spectra] == ["vnir"] * 3
    rock = spectra[0].metadata
    assert rock["sample_id"] == korda.metadata["SampleID"].iloc[0]
    assert rock["relab_spectrum_id"] == korda.metadata["SpectrumID"].iloc[0]
    assert rock["mineral"].startswith("rock: ") and rock["relab_source"] == "Other-Met"
    np.testing.assert_allclose(
        [rock["modes"][m] for m in MODES], korda.modes[0], rtol=0, atol=1e-12
    )
    assert all(isinstance(v, float) and np.isfinite(v) for v in rock["chemistry"].values())
    assert len({s.metadata["checksum"] for s in spectra}) == 3


def test_usgs_records_are_minerals_mixtures_or_left_out(shared_data, tmp_path):
    mica = vnir.load_usgs_mica(shared_data, dest=tmp_path)
    assert mica.reflectance.shape == (70, 2151)
    np.testing.assert_allclose(mica.wavelength_nm[[0, -1]], [350.0, 2500.0])
    assert sum(len(r) for r in mica.rules) == 77
    spectra, calls, skipped = vnir.usgs_spectra(mica)
    assert len(skipped) == 9 and all("Calcite" not in s for s in skipped)
    assert {c.label for c in calls} >= {"Kaolinite", "Natroalunite", "Natrojarosite", "Calcite"}
    assert set(vnir.USGS_RECORDS) <= set(mica.records)
    for spectrum, call in zip(spectra, calls, strict=True):
        record = spectrum.metadata["species_rule"].split()[1].rstrip(":")
        single = record in vnir.USGS_RECORDS
        assert single == (call.kind != "mixture"), record
        if not single:
            assert "+" in record or record.startswith(("synth", "Kaolin_Smect")), record
        # only measured points are kept (Nicolet records start near 1.3 um)
        assert np.all(np.isfinite(spectrum.intensities)) and spectrum.axis[-1] >= 2450
    assert len({s.metadata["sample_id"] for s in spectra}) == len(spectra)


@pytest.fixture
def mindb(db_url):
    from lithoscope.mindb import connect

    with connect(db_url) as db:
        db.build()
        yield db


def test_ingest_korda_and_usgs_into_mindb(mindb, shared_data, tmp_path):
    from lithoscope.data.ingest import ingest

    report = ingest(mindb, "korda2024", mirror=shared_data)
    assert report.ingested == 674 and report.failed == [] and report.unmatched == {}
    assert any("stored unlinked by design" in w for w in report.warnings)
    unlinked = report.links["unlinked_labels"]
    assert unlinked["rock: Ordinary Chondrite"] == {
        "spectra": 74,
        "reason": "a rock or mixture: stays unlinked",
    }
    stored = mindb.spectra_arrays(method="vnir", source="korda2024", extra=True)
    assert len(stored) == 674
    by_link: dict[str | None, int] = {}
    for meta in stored.metadata:
        by_link[meta["link"]] = by_link.get(meta["link"], 0) + 1
        extra = meta["extra"]
        if meta["link"] == "mineral":
            assert extra["category"] == "species" and extra["sample_type"] == "Mineral"
            assert max(extra["modes"].values()) >= vnir.PURE_MODE
            assert meta["mineral"] in extra["species_rule"]
        if extra["sample_type"] == "Rock" or extra["category"] == "mixture":
            assert meta["link"] is None
    assert by_link == {"mineral": 368, "group": 1, None: 305}
    lunar = [m for m in stored.metadata if m["extra"]["relab_source"] == "Moon-Ret"]
    assert len(lunar) == 37 and all(len(m["extra"]["modes"]) == 4 for m in lunar)
    # the sample id is RELAB's; again: nothing twice
    assert {m["sample_id"] for m in stored.metadata} == set(
        load_korda(shared_data, dest=tmp_path).sample_ids
    )
    assert ingest(mindb, "korda2024", mirror=shared_data).already_present == 674

    usgs = ingest(mindb, "usgs-splib07", mirror=shared_data)
    assert usgs.ingested == 61 and usgs.conflicts == {}
    assert set(usgs.unmatched) <= {"Chalcedony", "Natroalunite", "Pyrophyllite", "Topaz"}
    calcite = mindb.spectra(method="vnir", minerals="Calcite")
    assert len(calcite) == 1 and calcite[0].axis[0] == 350.0
    assert calcite[0].metadata["source"] == "usgs-splib07"


def test_docstring_examples():
    import doctest

    result = doctest.testmod(vnir)
    assert result.attempted >= 4 and result.failed == 0
