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
