"""Instrument files (SPC, WDF, OPUS) from other readers' public test suites (data/instruments).

Sources, licences and what upstream states are in ``data/instruments/README.md``. Values are
checked against an independent reading: the file's own header parsed here with ``struct`` (SPC
``fnpts``/``ffirst``/``flast``, the raw integers of ``gxy.spc``), OPUS's own text export of the
same measurement (``peach_juice.dpt``), the values the upstream test suites state, and, for the
silicon map, the textbook position of silicon's Raman phonon. Truncated and corrupted copies
made in ``tmp_path`` must fail with one line naming the file and the format, or (when only
trailing metadata blocks are lost) give exactly the data of the whole file.
"""

from __future__ import annotations

import json
import re
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from lithoscope.errors import InputError
from lithoscope.methods import AxisUnit, Method
from lithoscope.spectra.io import (
    SpectrumFileError,
    read_cube,
    read_spectra,
    read_spectrum,
)
from lithoscope.spectra.io.instruments import detect_instrument_format
from lithoscope.spectra.spectrum import SpectralCollection, SpectralCube
from tests.cli_runner import run

DATA = Path(__file__).parent / "data" / "instruments"
SPECTRA_SPC = DATA / "specio" / "spectra.spc"
GXY_SPC = DATA / "specio" / "gxy.spc"
XY_SPC = DATA / "specio" / "x-y.spc"
MS_SPC = DATA / "specio" / "m_xyxy.spc"
SP_WDF = DATA / "orange-spectroscopy" / "sp.wdf"
UNDEFINED_WDF = DATA / "orange-spectroscopy" / "single-spectrum_undefined-type.wdf"
MAP_WDF = DATA / "renishaw-wdf" / "Si-map.wdf"
OPUS = DATA / "orange-spectroscopy" / "peach_juice.0"
OPUS_DPT = DATA / "orange-spectroscopy" / "peach_juice.dpt"


def _spc_header(path: Path) -> dict[str, float]:
    """fexp, fnpts, ffirst, flast of an SPC 0x4B header (SPC.H layout), read independently."""
    head = path.read_bytes()[:32]
    fexp, fnpts, ffirst, flast = struct.unpack("<bIdd", head[3:24])
    return {"fexp": fexp, "fnpts": fnpts, "ffirst": ffirst, "flast": flast}


# --------------------------------------------------------------------------------- SPC
def test_spc_xy_raman_spectrum_against_its_header():
    hdr = _spc_header(SPECTRA_SPC)
    s = read_spectrum(SPECTRA_SPC)
    assert s.method is Method.RAMAN and s.unit is AxisUnit.RAMAN_SHIFT  # x type Raman shift
    assert s.n_points == hdr["fnpts"] == 1911
    np.testing.assert_allclose(s.axis[[0, -1]], [hdr["ffirst"], hdr["flast"]], rtol=0, atol=1e-4)
    # the C-H stretching band of the biological sample, as spc-spectra also reads it
    assert 2900 < s.axis[np.argmax(s.intensities)] < 2970
    assert s.metadata["format"] == "spc" and s.metadata["instrument"] == "LABRAM HR EVOL"


def test_spc_y_only_evenly_spaced_against_raw_integers():
    # x type 'arbitrary' (labelled "Wavenumber (cm-1)"): the unit must be given
    with pytest.raises(SpectrumFileError, match=r"gxy\.spc': the SPC file does not say what its x"):
        read_spectrum(GXY_SPC, method="ir")
    s = read_spectrum(GXY_SPC, method="ir", unit="wavenumber cm-1")
    hdr = _spc_header(GXY_SPC)
    assert s.n_points == hdr["fnpts"] == 151  # specio's test_spc.py: 151 points
    # stored from 15590 down to 15575; the reader reverses the declared decreasing order
    np.testing.assert_allclose(s.axis[[0, -1]], [hdr["flast"], hdr["ffirst"]], atol=1e-9)
    np.testing.assert_allclose(np.diff(s.axis), 0.1, rtol=1e-6)
    raw = np.frombuffer(GXY_SPC.read_bytes()[512 + 32 : 512 + 32 + 4 * 151], "<i4")
    expected = raw * 2.0 ** (hdr["fexp"] - 32)  # SPC.H: 32-bit y scaled by 2^(exp-32)
    np.testing.assert_allclose(s.intensities, expected[::-1], rtol=0, atol=0)
    assert s.metadata["axis_label"] == "Wavenumber (cm-1)"
    assert s.metadata["title"] == "Krypton Lamps"


def test_spc_multifile_gives_every_subfile_with_z():
    with pytest.raises(SpectrumFileError, match=r"does not say which method .*method='raman'"):
        read_spectra(XY_SPC)
    spectra = read_spectra(XY_SPC, method="raman")
    hdr = _spc_header(XY_SPC)
    assert len(spectra) == 31  # specio's test_spc.py: (31, 1024)
    assert {s.n_points for s in spectra} == {1024} and {s.unit for s in spectra} == {
        AxisUnit.WAVELENGTH_NM
    }
    np.testing.assert_allclose(
        spectra[0].axis[[0, -1]], [hdr["flast"], hdr["ffirst"]], rtol=0, atol=1e-4
    )
    assert [s.metadata["subfile"] for s in spectra] == list(range(31))
    z = [s.metadata["z"] for s in spectra]
    assert len(set(z)) == 31  # one position per subfile, in file order
    assert spectra[0].metadata["laser_nm"] == 532.2  # EXCIT_LINE in the LabSpec log
    with pytest.raises(SpectrumFileError, match=r"holds 31 spectra; use read_spectra"):
        read_spectrum(XY_SPC, method="raman")


def test_spc_mass_spectrum_is_refused():
    with pytest.raises(SpectrumFileError, match=r"m_xyxy\.spc': the SPC x axis is mass \(m/z\)"):
        read_spectra(MS_SPC, method="raman")


def test_spc_given_unit_or_method_that_contradicts_the_file():
    with pytest.raises(SpectrumFileError, match=r"says unit 'raman shift cm-1' .* unit="):
        read_spectrum(SPECTRA_SPC, unit="wavenumber cm-1")
    with pytest.raises(SpectrumFileError, match=r"says method 'raman' .* method='ir'"):
        read_spectrum(SPECTRA_SPC, method="ir")


# --------------------------------------------------------------------------------- WDF
@pytest.mark.parametrize(
    ("path", "fifth", "lo", "hi", "laser"),
    [
        # orange-spectroscopy test_readers.py: X[0][4], min(getx), max(getx)
        (SP_WDF, 52.4945182800293, 1226.275269, 2787.514404, 532.25),
        (UNDEFINED_WDF, -2.4491686820983887, 78.728516, 1338.296875, None),
    ],
)
def test_wdf_single_spectrum_against_upstream_values(path, fifth, lo, hi, laser):
    s = read_spectrum(path)
    assert s.method is Method.RAMAN and s.unit is AxisUnit.RAMAN_SHIFT
    assert s.n_points == 1015
    np.testing.assert_allclose(s.axis[[0, -1]], [lo, hi], rtol=0, atol=1e-6)
    # stored in decreasing Raman shift: the fifth value in file order is the fifth from the end
    assert s.intensities[-5] == pytest.approx(fifth, abs=0)
    assert s.metadata.get("laser_nm") == laser
    assert s.metadata["format"] == "wdf" and s.metadata["instrument"].startswith("Renishaw")


def test_wdf_single_spectrum_metadata():
    meta = read_spectrum(SP_WDF).metadata
    assert meta["title"] == "Single scan measurement 1"
    assert meta["instrument"] == "Renishaw 75C784"
    assert meta["acquired"].startswith("2017-05-16T14:49")
    assert meta["measurement"] == "single"


def test_wdf_map_as_cube_against_upstream_values():
    cube = read_cube(MAP_WDF)
    assert isinstance(cube, SpectralCube)
    assert cube.shape == (11, 8, 575)  # renishaw-wdf test_wdf.py: 88 spectra of 575 points
    # renishaw-wdf test_wdf.py: map area starts at x = -7.090 with 2.0 um steps, 8 columns
    np.testing.assert_allclose(cube.x, -7.090 + 2.0 * np.arange(8), atol=1e-3)
    np.testing.assert_allclose(np.diff(cube.y), 2.0, atol=1e-6)
    assert cube.position_unit == "µm"
    in_file_order = cube.intensities[..., ::-1]  # stored in decreasing Raman shift
    np.testing.assert_array_equal(np.trunc(in_file_order[0, 0, :4]), [1595, 1565, 1590, 1580])
    np.testing.assert_array_equal(np.trunc(in_file_order[-1, -1, :4]), [1612, 1615, 1514, 1553])
    np.testing.assert_array_equal(np.trunc(in_file_order[0, :4, 0]), [1595, 1583, 1640, 2120])
    # crystalline silicon's first-order Raman phonon: 520.7 cm-1 (within one channel, ~1.6 cm-1)
    peaks = cube.axis[np.argmax(cube.intensities, axis=2)]
    spacing = float(np.median(np.diff(cube.axis)))
    assert np.all(np.abs(peaks - 520.7) <= spacing)
    assert cube.metadata["laser_nm"] == pytest.approx(532.0, abs=1e-3)
    assert cube.method is Method.RAMAN and cube.unit is AxisUnit.RAMAN_SHIFT


def test_wdf_map_spectra_carry_their_positions_and_match_the_cube():
    cube = read_cube(MAP_WDF)
    spectra = read_spectra(MAP_WDF)
    assert len(spectra) == 88
    for s in spectra:
        m = s.metadata
        r, c = m["map_row"], m["map_col"]
        assert m["map_x"] == pytest.approx(cube.x[c], abs=1e-3)
        assert m["map_y"] == pytest.approx(cube.y[r], abs=1e-3)
        np.testing.assert_array_equal(s.intensities, cube.intensities[r, c])
        np.testing.assert_array_equal(s.axis, cube.axis)
    assert len({(s.metadata["map_row"], s.metadata["map_col"]) for s in spectra}) == 88
    assert spectra[0].metadata["acquired"] < spectra[-1].metadata["acquired"]
    collection = cube.to_collection()
    assert isinstance(collection, SpectralCollection) and len(collection) == 88
    assert collection[9].metadata["map_row"] == 1 and collection[9].metadata["map_col"] == 1


def test_read_cube_refuses_a_single_spectrum_and_other_formats():
    with pytest.raises(SpectrumFileError, match=r"sp\.wdf': not a map .*'single'"):
        read_cube(SP_WDF)
    with pytest.raises(SpectrumFileError, match=r"spectra\.spc': not a readable Renishaw WDF"):
        read_cube(SPECTRA_SPC)


def test_wdf_refuses_another_method():
    with pytest.raises(SpectrumFileError, match=r"says method 'raman' .*method='ir'"):
        read_spectrum(SP_WDF, method="ir")


# -------------------------------------------------------------------------------- OPUS
def test_opus_reflectance_against_opus_own_text_export():
    s = read_spectrum(OPUS)
    dpt = np.loadtxt(OPUS_DPT, max_rows=1816)  # OPUS's export, 5 decimals, decreasing x
    assert s.method is Method.IR and s.unit is AxisUnit.WAVENUMBER
    assert s.n_points == dpt.shape[0] == 1816
    np.testing.assert_allclose(s.axis, dpt[::-1, 0], rtol=0, atol=5.1e-6)
    np.testing.assert_allclose(s.intensities, dpt[::-1, 1], rtol=0, atol=5.1e-6)
    # orange-spectroscopy test_readers.py: 0.90655535 at 3994.330014648437 cm-1
    i = int(np.argmin(np.abs(s.axis - 3994.330014648437)))
    assert s.axis[i] == pytest.approx(3994.330014648437, abs=1e-6)
    assert s.intensities[i] == pytest.approx(0.90655535, abs=1e-8)
    meta = s.metadata
    assert meta["ordinate"] == "Reflectance" and meta["instrument"] == "IFS66V/S"
    assert meta["title"] == "Peach juice colorful spot"
    assert meta["acquired"] == "2012-11-09T11:45:34-06:00"
    assert "laser_nm" not in meta  # LWN is the interferometer's reference laser, not a Raman one


def test_opus_method_default_can_be_overridden_but_not_the_unit():
    assert read_spectrum(OPUS, method="vnir").method is Method.VNIR
    with pytest.raises(SpectrumFileError, match=r"block is Reflectance, not a raman spectrum"):
        read_spectrum(OPUS, method="raman")
    with pytest.raises(SpectrumFileError, match=r"says unit 'wavenumber cm-1'"):
        read_spectrum(OPUS, unit="wavelength nm")


# ------------------------------------------------------------------------- detection
@pytest.mark.parametrize(
    ("path", "fmt", "kwargs"),
    [
        (SPECTRA_SPC, "spc", {}),
        (XY_SPC, "spc", {"method": "raman"}),
        (SP_WDF, "wdf", {}),
        (MAP_WDF, "wdf", {}),
        (OPUS, "opus", {}),
    ],
)
def test_detected_by_magic_bytes_whatever_the_name(tmp_path, path, fmt, kwargs):
    assert detect_instrument_format(path.read_bytes()[:4096], path.name) == fmt
    renamed = tmp_path / "exported.dat"
    renamed.write_bytes(path.read_bytes())
    assert {s.metadata["format"] for s in read_spectra(renamed, **kwargs)} == {fmt}


def test_format_argument_accepts_instrument_formats():
    assert read_spectrum(SP_WDF, format="wdf").n_points == 1015
    with pytest.raises(InputError, match=r"format 'wdff' is not one of .*spc, wdf, opus"):
        read_spectrum(SP_WDF, format="wdff")


def test_text_file_with_an_instrument_suffix_is_read_as_text(tmp_path):
    f = tmp_path / "export.spc"
    f.write_text("100,1\n200,2\n300,3\n")
    assert read_spectrum(f, method="raman").metadata["format"] == "text"


# ---------------------------------------------------------------- damaged files, errors
LABELS = {"spc": "Thermo/Galactic SPC", "wdf": "Renishaw WDF", "opus": "Bruker OPUS"}
DAMAGEABLE = [
    (SPECTRA_SPC, "spc", {}),
    (GXY_SPC, "spc", {"method": "ir", "unit": "wavenumber cm-1"}),
    (XY_SPC, "spc", {"method": "raman"}),
    (SP_WDF, "wdf", {}),
    (UNDEFINED_WDF, "wdf", {}),
    (MAP_WDF, "wdf", {}),
    (OPUS, "opus", {}),
]


def _one_line_about(exc: SpectrumFileError, path: Path, label: str) -> None:
    message = str(exc)
    assert "\n" not in message
    assert message.startswith(f"spectrum '{path}': ")
    assert label in message or "holds" in message


@pytest.mark.parametrize(("source", "fmt", "kwargs"), DAMAGEABLE, ids=lambda v: str(v)[-24:])
def test_truncated_copies_fail_in_one_line_or_give_the_whole_data(tmp_path, source, fmt, kwargs):
    whole = read_spectra(source, **kwargs)
    data = source.read_bytes()
    cuts = sorted({*np.linspace(600, len(data) - 1, 12).astype(int).tolist(), 5, 100, 513})
    for n in cuts:
        cut = tmp_path / f"cut_{n}{source.suffix}"
        cut.write_bytes(data[:n])
        try:
            spectra = read_spectra(cut, **kwargs)
        except SpectrumFileError as exc:
            _one_line_about(exc, cut, LABELS[fmt])
            continue
        # only trailing metadata blocks were cut: the data must be the whole file's
        assert len(spectra) == len(whole), n
        for a, b in zip(spectra, whole, strict=True):
            np.testing.assert_array_equal(a.axis, b.axis)
            np.testing.assert_array_equal(a.intensities, b.intensities)


@pytest.mark.parametrize(
    ("source", "offset", "value", "match"),
    [
        # npoints of the WDF header far beyond the file
        (SP_WDF, 60, struct.pack("<I", 10**8), r"not a readable Renishaw WDF file \("),
        # a WDF file whose first block is not WDF1
        (SP_WDF, 0, b"WDF2", r"not a readable Renishaw WDF file \(starts with b'WDF2'"),
        # SPC fnpts far beyond the file
        (SPECTRA_SPC, 4, struct.pack("<I", 10**7), r"not a readable Thermo/Galactic SPC file \("),
        # SPC old format version byte
        (SPECTRA_SPC, 1, b"\x4d", r"SPC file \(old 0x4D format; spc-io reads the 0x4B format\)"),
        # OPUS directory: the offset of a reflectance block beyond the end of the file (the
        # library would silently take the other reflectance block)
        (OPUS, 24 + 12 * 25 + 8, struct.pack("<I", 0x7FFFFFF0), r"OPUS file \(block 25 ends"),
        # OPUS: the data status (npt, fxv, lxv) of the first data block lost
        (OPUS, 24 + 12 * 20 + 8, struct.pack("<I", 1184000), r"not a readable Bruker OPUS file \("),
    ],
)
def test_corrupted_headers_fail_in_one_line(tmp_path, source, offset, value, match):
    data = bytearray(source.read_bytes())
    data[offset : offset + len(value)] = value
    bad = tmp_path / source.name
    bad.write_bytes(bytes(data))
    with pytest.raises(SpectrumFileError, match=match) as info:
        read_spectra(bad, method="raman" if source.suffix == ".spc" else None)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(f"spectrum '{bad}': ")
    assert str(info.value).endswith("export it again or as text")


@pytest.mark.parametrize(("source", "fmt", "kwargs"), DAMAGEABLE, ids=lambda v: str(v)[-24:])
def test_random_byte_damage_gives_data_or_one_line(tmp_path, source, fmt, kwargs):
    """Overwrite 4 random bytes (80 times; half of them in the first 2 kB, where the headers
    and directories are): either the file still reads or it fails with a SpectrumFileError."""
    rng = np.random.default_rng(20261206)
    data = source.read_bytes()
    bad = tmp_path / f"damaged{source.suffix}"
    for trial in range(80):
        damaged = bytearray(data)
        end = 2048 if trial % 2 else len(data) - 4
        at = int(rng.integers(0, end))
        damaged[at : at + 4] = rng.integers(0, 256, 4, dtype=np.uint8).tobytes()
        bad.write_bytes(bytes(damaged))
        try:
            read_spectra(bad, **kwargs)
        except SpectrumFileError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(f"spectrum '{bad}'"), at


def test_binary_junk_with_an_instrument_suffix_names_the_format(tmp_path):
    junk = bytes(range(256)) * 8
    for suffix, label in (
        (".wdf", "Renishaw WDF"),
        (".spc", "Thermo/Galactic SPC"),
        (".0", "OPUS"),
    ):
        f = tmp_path / f"junk{suffix}"
        f.write_bytes(junk)
        with pytest.raises(SpectrumFileError, match=rf"junk\{suffix}': not a readable .*{label}"):
            read_spectrum(f)


@pytest.mark.parametrize(
    ("path", "module"), [(SP_WDF, "wdf"), (SPECTRA_SPC, "spc_io"), (OPUS, "brukeropus")]
)
def test_missing_library_names_the_extra(monkeypatch, path, module):
    monkeypatch.setitem(sys.modules, module, None)  # importing it now raises ImportError
    with pytest.raises(SpectrumFileError, match=re.escape("pip install 'lithoscope[formats]'")):
        read_spectrum(path)


def test_does_not_touch_the_file(tmp_path):
    copy = tmp_path / "sp.wdf"
    copy.write_bytes(SP_WDF.read_bytes())
    before = copy.read_bytes()
    s = read_spectrum(copy)
    assert copy.read_bytes() == before
    with pytest.raises(ValueError, match="read-only"):
        s.intensities[0] = 0.0


# ------------------------------------------------------------------------------- CLI
def test_cli_spectra_info_on_instrument_files(monkeypatch, capsys):
    code, out, err = run(
        monkeypatch, capsys, "spectra", "info", str(SP_WDF), str(OPUS), str(MAP_WDF), "--json"
    )
    assert code == 0, err
    rows = [json.loads(line) for line in out.strip().splitlines()]
    assert len(rows) == 1 + 1 + 88
    assert rows[0]["format"] == "wdf" and rows[0]["laser_nm"] == 532.25
    assert rows[1]["format"] == "opus" and rows[1]["method"] == "ir" and rows[1]["n_points"] == 1816
    assert rows[2]["file"] == f"{MAP_WDF} [0]" and rows[-1]["file"] == f"{MAP_WDF} [87]"
    code, _, err = run(monkeypatch, capsys, "spectra", "info", str(XY_SPC))
    assert code == 1 and "--method raman" in err


# ------------------------------------------------------------------------ SpectralCube
def test_spectral_cube_validates_and_does_not_share_the_callers_array():
    data = np.ones((2, 3, 4))
    cube = SpectralCube(np.arange(4.0), data, [0.0, 1.0, 2.0], [0.0, 1.0], method="raman")
    data[0, 0, 0] = 99.0
    assert cube.intensities[0, 0, 0] == 1.0
    with pytest.raises(InputError, match=r"len\(axis\)\) = \(2, 3, 4\), got \(3, 2, 4\)"):
        SpectralCube(np.arange(4.0), np.ones((3, 2, 4)), [0.0, 1.0, 2.0], [0.0, 1.0], "raman")
    with pytest.raises(InputError, match="strictly increasing"):
        SpectralCube(np.arange(4.0)[::-1], data, [0.0, 1.0, 2.0], [0.0, 1.0], "raman")
    with pytest.raises(InputError, match=r"map position \(2, 0\) is outside the 2 x 3 map"):
        cube.spectrum(2, 0)
