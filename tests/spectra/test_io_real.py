"""Readers on the real data mirror (../shared/data), checked against independent parsing.

RRUFF spectra are taken from the zips member by member (never the whole zip); every VNIR and
LIBS table is read whole. Values are compared with numbers parsed here by the csv module or
str.split, with explicit tolerances.
"""

from __future__ import annotations

import csv
import html
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lithoscope.methods import AxisUnit, Method
from lithoscope.spectra.io import (
    SpectrumFileError,
    SpectrumWarning,
    read_spectra,
    read_spectrum,
    write_spectrum,
)

RAMAN_ZIP = "rruff/raman/excellent_unoriented.zip"
IR_ZIP = "rruff/infrared/Processed.zip"
# IR files with a non-monotonic axis (PROVENANCE.md), one with x = 0, and RAW Raman files
SPECIAL = ("R141187", "R130041", "R130034", "R050128__Raman__514", "Raman_Data_RAW")
EXACT = {"rtol": 0, "atol": 0}  # the same decimal text parsed by float() both times


def _members(zip_path: Path, step: int) -> list[str]:
    with zipfile.ZipFile(zip_path) as z:
        names = sorted(n for n in z.namelist() if n.endswith(".txt"))
    special = [n for n in names if any(k in n for k in SPECIAL)]
    return sorted(set(names[::step] + special))


def _extract(zip_path: Path, members: list[str], folder: Path) -> list[Path]:
    paths = []
    with zipfile.ZipFile(zip_path) as z:
        for member in members:
            path = folder / member
            path.write_bytes(z.read(member))
            paths.append(path)
    return paths


def _independent_rruff(path: Path) -> tuple[dict[str, str], np.ndarray, np.ndarray]:
    header: dict[str, str] = {}
    rows = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        line = line.strip()
        if line.startswith("##"):
            key, _, value = line[2:].partition("=")
            header[key.strip()] = html.unescape(value.strip())
        elif line:
            a, b = line.split(",")[:2]
            rows.append((float(a), float(b)))
    data = np.array(sorted(rows))
    return header, data[:, 0], data[:, 1]


@pytest.fixture(scope="module")
def rruff_files(shared_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("rruff")
    raman = _extract(shared_data / RAMAN_ZIP, _members(shared_data / RAMAN_ZIP, 97), folder)
    ir = _extract(shared_data / IR_ZIP, _members(shared_data / IR_ZIP, 29), folder)
    return raman, ir


def test_rruff_raman_and_ir_sample(rruff_files):
    raman, ir = rruff_files
    assert len(raman) >= 50 and len(ir) >= 30
    warned = set()
    for path in raman + ir:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SpectrumWarning)
            s = read_spectrum(path)
        if caught:
            warned.add(path.name.split("__")[1])
        header, x, y = _independent_rruff(path)
        np.testing.assert_allclose(s.axis, x, **EXACT)
        np.testing.assert_allclose(s.intensities, y, **EXACT)
        assert s.label == header["NAMES"]
        assert s.metadata["sample_id"] == header["RRUFFID"]
        tokens = path.name.split("__")
        if tokens[2] == "Raman":
            assert (s.method, s.unit) == (Method.RAMAN, AxisUnit.RAMAN_SHIFT)
            assert s.metadata["laser_nm"] == float(tokens[3])
        else:
            assert (s.method, s.unit) == (Method.IR, AxisUnit.WAVENUMBER)
    assert warned == {"R141187", "R130041", "R130034"}


def test_rruff_spectra_survive_writing(rruff_files, tmp_path):
    raman, ir = rruff_files
    for path in raman[:3] + ir[:3]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SpectrumWarning)
            original = read_spectrum(path)
        for fmt in ("csv", "jcamp"):
            back = read_spectrum(write_spectrum(original, tmp_path / f"{path.stem}.{fmt}"))
            np.testing.assert_allclose(back.axis, original.axis, rtol=1e-12, atol=0)
            np.testing.assert_array_equal(back.intensities, original.intensities)
            assert (back.method, back.unit, back.label) == (
                original.method,
                original.unit,
                original.label,
            )
            assert back.metadata["sample_id"] == original.metadata["sample_id"]
            assert back.metadata.get("laser_nm") == original.metadata["laser_nm"]


# ----------------------------------------------------------------------------- VNIR and LIBS


def _csv_rows(path: Path, delimiter: str = ",") -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


# Every file in the VNIR and LIBS folders: the number of spectra, or None for tables that hold
# no spectra (they must be refused with a SpectrumFileError).
TABLES = {
    "vnir/korda2024_relab_silicates_denoised_450-2450nm.csv": 674,
    "vnir/korda2024_relab_silicates_denoised_norm550_450-2450nm.csv": 674,
    "vnir/usgs_splib07_mica_ref77_1nm_0.35-2.5um.csv": 77,
    "vnir/relab_62231_avg_scaled_std_text.txt": 2,
    "vnir/relab_bmr1ls101.tab": 1,
    "vnir/relab_c1bf01.tab": 1,
    "vnir/relab_c9mb29.tab": 1,
    "libs/pewpew_hh12_average_spectra.csv": 12,
    "libs/pewpew_synthetic12_average_spectra.csv": 12,
    "libs/pewpew_chalcopyrite_single_spectrum.csv": 2,
}


def test_every_shared_file_is_read_or_refused(shared_data):
    for folder in ("vnir", "libs"):
        for path in sorted((shared_data / folder).iterdir()):
            key = f"{folder}/{path.name}"
            if key in TABLES:
                spectra = read_spectra(path)
                assert len(spectra) == TABLES[key], key
                method = Method.LIBS if folder == "libs" else Method.VNIR
                assert {(s.method, s.unit) for s in spectra} == {
                    (method, AxisUnit.WAVELENGTH_NM)
                }, key
                assert all(s.metadata["source"] for s in spectra), key
            else:
                with pytest.raises(SpectrumFileError) as info:
                    read_spectra(path)
                assert str(path) in str(info.value)


@pytest.mark.parametrize("name", [k for k in TABLES if "korda" in k])
def test_korda_rows(shared_data, name):
    path = shared_data / name
    spectra = read_spectra(path)
    rows = _csv_rows(path)
    axis = np.array([float(v) for v in rows[0][2:]])
    for s, row in zip(spectra, rows[1:], strict=True):
        np.testing.assert_allclose(s.axis, axis, **EXACT)
        np.testing.assert_allclose(s.intensities, [float(v) for v in row[2:]], rtol=1e-15)
        assert s.metadata["spectrum_id"] == row[1]
    meta = {r["SpectrumID"]: r for r in csv.DictReader(_csv_rows_text(path, "metadata"))}
    labels = {r["SpectrumID"]: r for r in csv.DictReader(_csv_rows_text(path, "labels"))}
    for s in spectra:
        sid = s.metadata["spectrum_id"]
        assert s.metadata["sample_id"] == meta[sid]["SampleID"]
        assert s.metadata["sample_origin"] == meta[sid]["Source"]
        ol = labels[sid]["OL modal abundances normalised to silicates (vol%)"]
        if ol:
            assert s.metadata["modal_composition"]["olivine"] == pytest.approx(float(ol), rel=0)
    minerals = [s.label for s in spectra if s.label]
    assert {"olivine", "orthopyroxene", "clinopyroxene", "plagioclase"} >= set(minerals)
    assert 300 <= len(minerals) <= 520  # single-phase mineral samples (520 minerals in all)
    sources = {s.metadata["sample_origin"] for s in spectra}
    assert {"Moon-Ret", "Mars-Met"} <= sources


def _csv_rows_text(spectra_path: Path, kind: str) -> list[str]:
    [path] = spectra_path.parent.glob(f"korda2024_*{kind}.csv")
    return path.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize(
    ("name", "factor", "delimiter"),
    [
        ("vnir/usgs_splib07_mica_ref77_1nm_0.35-2.5um.csv", 1000.0, ","),
        ("libs/pewpew_hh12_average_spectra.csv", 1.0, ","),
        ("libs/pewpew_synthetic12_average_spectra.csv", 1.0, ","),
        ("libs/pewpew_chalcopyrite_single_spectrum.csv", 1.0, ","),
        ("vnir/relab_62231_avg_scaled_std_text.txt", 1.0, "\t"),
    ],
)
def test_column_tables(shared_data, name, factor, delimiter):
    path = shared_data / name
    spectra = read_spectra(path)
    rows = _csv_rows(path, delimiter)
    header, body = rows[0], rows[1:]
    columns = [j for j, c in enumerate(header) if j and "std" not in c]
    assert [s.metadata["column"] for s in spectra] == [header[j] for j in columns]
    for s, j in zip(spectra, columns, strict=True):
        cells = [(float(r[0]) * factor, float(r[j])) for r in body if r[j] not in ("", "nan")]
        x, y = np.array(cells).T
        np.testing.assert_allclose(s.axis, x, rtol=1e-12, atol=0)
        np.testing.assert_allclose(s.intensities, y, **EXACT)
    if "pewpew_hh12" in name:
        assert spectra[0].label == "Chalcopyrite" and "synthetic" not in spectra[0].metadata
    if "synthetic" in name:
        assert all(s.metadata["synthetic"] for s in spectra)
    if "usgs" in name:
        index = _csv_rows(path.parent / "usgs_splib07_mica_ref77_index.csv")[1:]
        assert [s.metadata["mica_rule"] for s in spectra] == [r[1] for r in index]
        assert [s.metadata["record"] for s in spectra] == [r[2] for r in index]
        synthetic = [s.metadata["mica_rule"] for s in spectra if s.metadata.get("synthetic")]
        assert synthetic == [r[1] for r in index if r[2].startswith("synth ")]
        assert {s.metadata["source"] for s in spectra} == {"USGS splib07"}


@pytest.mark.parametrize(
    ("name", "rows", "skip"),
    [("relab_bmr1ls101.tab", 3424, 1), ("relab_c1bf01.tab", 224, 0), ("relab_c9mb29.tab", 461, 0)],
)
def test_relab_tab_files(shared_data, name, rows, skip):
    path = shared_data / "vnir" / name
    [s] = read_spectra(path)
    lines = path.read_text().splitlines()[skip : skip + rows]
    data = np.array([[float(v) for v in line.split()[:2]] for line in lines])
    np.testing.assert_allclose(s.axis, data[:, 0], **EXACT)
    np.testing.assert_allclose(s.intensities, data[:, 1], **EXACT)
    if name == "relab_bmr1ls101.tab":
        assert s.metadata["spectrum_id"] == "BMR1LS101"
        assert s.metadata["sample_name"] == "62231,42 bulk <1 mm"
