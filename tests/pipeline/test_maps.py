"""lithoscope map identify: a small real map identified on Dask equals per-pixel identify_batch."""

from __future__ import annotations

import re
import warnings
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dask")
pytest.importorskip("distributed")
pytest.importorskip("xarray")
pytest.importorskip("zarr")
pytest.importorskip("h5py")

from lithoscope.config import get_settings
from lithoscope.data.ingest import ingest
from lithoscope.errors import InputError
from lithoscope.mindb import connect
from lithoscope.pipeline.bundle import IdentificationModel
from lithoscope.pipeline.identify import identify_batch
from lithoscope.pipeline.maps import identify_map, open_cube, plot_map, save_cube
from lithoscope.pipeline.mixture import identify_mixtures
from lithoscope.pipeline.train import train
from lithoscope.spectra.io import parse_spectrum
from lithoscope.spectra.measurement import Measurement
from lithoscope.spectra.spectrum import Spectrum
from tests.cli_runner import run

#: rock-forming minerals (so the mixture model knows them too)
MINERALS = ["Anorthite", "Diopside", "Forsterite"]
N_TRAIN = 5
AXIS = np.linspace(150.0, 1300.0, 500)
ROWS, COLS = 6, 8


def _rruff(shared_data) -> dict[str, list[tuple[str, bytes]]]:
    by_mineral: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    with zipfile.ZipFile(shared_data / "rruff" / "raman" / "excellent_unoriented.zip") as zf:
        for n in zf.namelist():
            m = re.match(r"([^_]+)__([RX]\d{6})__Raman__532__", n)
            if m and m.group(1) in MINERALS:
                by_mineral[m.group(1)].append((n, zf.read(n)))
    return by_mineral


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shared_data):
    """A data folder with a library model (and mixture model) trained on the first samples of
    MINERALS, and a 6 x 8 map of their other samples on one axis: three grains, a row of 50/50
    mixtures at a grain boundary and one empty pixel."""
    data_dir = tmp_path_factory.mktemp("maps-data")
    by_mineral = _rruff(shared_data)
    zpath = data_dir / "raman.zip"
    with zipfile.ZipFile(zpath, "w") as out:
        for items in by_mineral.values():
            for n, raw in items[:N_TRAIN]:
                out.writestr(n, raw)
    mp = pytest.MonkeyPatch()
    mp.setenv("LITHOSCOPE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    try:
        with connect() as db:
            db.build()
            ingest(db, str(zpath), progress=False)
            result = train(
                db,
                "raman",
                "library",
                mixture=True,
                mixture_network=False,
                mixture_params={"n_validation": 60},
                calibration_size=0.3,
            )
    finally:
        mp.undo()
        get_settings.cache_clear()
    pixels = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for mineral, items in by_mineral.items():
            name, raw = items[N_TRAIN]
            s = parse_spectrum(raw.decode(), name)
            y = np.interp(AXIS, s.axis, s.intensities)
            pixels[mineral] = y / y.max()
    cube = np.zeros((ROWS, COLS, AXIS.size), dtype=np.float32)
    a, d, f = (pixels[m] for m in MINERALS)
    cube[:, :3] = a
    cube[:, 3:6] = d
    cube[:, 6:] = f
    cube[ROWS - 1, :] = 0.5 * a + 0.5 * d  # a grain boundary of two minerals
    cube[0, 0] = 0.0  # nothing measured
    return data_dir, result, cube


def _per_pixel(cube, bundle):
    measurements = [
        Measurement.of(Spectrum(AXIS, cube[i, j], method="raman"), name=f"{i},{j}")
        for i in range(cube.shape[0])
        for j in range(cube.shape[1])
    ]
    return measurements, identify_batch(measurements, bundle)


@pytest.mark.parametrize("suffix", [".h5", ".zarr"])
def test_open_cube_round_trip(trained, tmp_path, suffix):
    _, _, cube = trained
    path = save_cube(tmp_path / f"map{suffix}", cube, AXIS, method="raman")
    arr = open_cube(path, chunk_pixels=16)
    assert arr.dims == ("row", "col", "channel")
    assert arr.attrs["method"] == "raman"
    assert arr.data.chunks[0] == (2, 2, 2)  # whole rows, at most 16 pixels
    np.testing.assert_array_equal(arr["channel"].values, AXIS)
    np.testing.assert_array_equal(arr.values, cube)


def test_identify_map_equals_identify_batch_per_pixel(trained, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    data_dir, result, cube = trained
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    bundle = IdentificationModel.load(result.ref.path)
    path = save_cube(tmp_path / "map.h5", cube, AXIS, method="raman")
    seen = []
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        ds = identify_map(
            path,
            str(result.ref),
            client=client,
            chunk_pixels=16,
            mixture=True,
            out=tmp_path / "map.zarr",
            progress=lambda done, total: seen.append((done, total)),
        )
    assert seen[-1] == (3, 3)
    classes = ds.attrs["classes"]
    assert set(MINERALS) <= set(classes)
    measurements, expected = _per_pixel(cube, bundle)
    mineral = ds["mineral"].values.ravel()
    probability = ds["probability"].values.ravel()
    unknown = ds["unknown"].values.ravel()
    for p, answer in enumerate(expected):
        if answer.refused is not None:
            assert mineral[p] == -1 and unknown[p]
            continue
        assert classes[mineral[p]] == answer.top
        assert probability[p] == np.float32(answer.candidates[0]["probability"])
        assert unknown[p] == bool(answer.unknown)
    assert mineral[0] == -1, "the empty pixel is refused"
    # pure grains are found (the map's pixels are other samples than the training ones)
    assert classes[mineral[1 * COLS + 1]] == "Anorthite"
    assert classes[mineral[1 * COLS + 4]] == "Diopside"
    # abundances equal identify_mixtures' answers
    mixes = identify_mixtures(measurements, bundle, method="raman")
    abundance = ds["abundance"].values.reshape(ROWS * COLS, -1)
    components = ds.attrs["components"]
    for p, mix in enumerate(mixes):
        if mix.refused is not None:
            assert np.all(np.isnan(abundance[p]))
            continue
        want = np.zeros(len(components))
        for m in mix.minerals:
            if m["present"]:
                want[components.index(m["mineral"])] = m["abundance"]
        np.testing.assert_allclose(abundance[p], want, rtol=0, atol=1e-4)
    # the store holds the same and plots
    stored = open_zarr(tmp_path / "map.zarr")
    np.testing.assert_array_equal(stored["mineral"].values, ds["mineral"].values)
    assert stored.attrs["model"] == str(result.ref)
    png = plot_map(tmp_path / "map.zarr", tmp_path / "map.png")
    assert png.stat().st_size > 1000


def open_zarr(path):
    import xarray as xr

    return xr.open_zarr(path, consolidated=False)


def test_bad_cube_is_one_line_error(tmp_path):
    bad = tmp_path / "broken.h5"
    bad.write_text("not hdf5")
    with pytest.raises(InputError, match=r"cube '.*broken.h5': not a readable HDF5 file"):
        open_cube(bad)
    with pytest.raises(InputError, match="expected a .h5/.hdf5, .zarr or .wdf map"):
        open_cube(tmp_path / "map.csv")


def test_cli_map_identify(trained, tmp_path, monkeypatch, capsys):
    data_dir, result, cube = trained
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    path = save_cube(tmp_path / "grains.zarr", cube, AXIS, method="raman")
    out = tmp_path / "out"
    code, stdout, err = run(
        monkeypatch,
        capsys,
        "map",
        "identify",
        str(path),
        "--model",
        str(result.ref.path),
        "--scheduler",
        "synchronous",
        "--out",
        str(out),
    )
    assert code == 0, err
    assert (out / "grains.zarr").is_dir() and (out / "grains.png").is_file()
    assert "Anorthite" in stdout
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x00" * 10)
    code, stdout, err = run(monkeypatch, capsys, "map", "identify", str(bad), "--out", str(out))
    assert code == 1
    assert err.startswith("error: cube") and len(err.strip().splitlines()) == 1


WDF = Path(__file__).resolve().parents[1] / "spectra" / "data" / "instruments"


def test_open_cube_reads_a_renishaw_wdf_map():
    pytest.importorskip("wdf")
    arr = open_cube(WDF / "renishaw-wdf" / "Si-map.wdf")
    assert arr.sizes == {"row": 11, "col": 8, "channel": 575}
    assert arr.attrs["method"] == "raman"
    # crystalline silicon's first-order phonon at 520.7 cm-1, within one channel
    peaks = arr["channel"].values[np.argmax(arr.values, axis=2)]
    assert np.all(np.abs(peaks - 520.7) <= np.median(np.diff(arr["channel"].values)))


def test_synchronous_scheduler_reports_progress_per_block(trained, tmp_path):
    import dask

    _, result, cube = trained
    arr = open_cube(save_cube(tmp_path / "m.zarr", cube, AXIS, method="raman"))
    seen = []
    with dask.config.set(scheduler="synchronous"):
        ds = identify_map(
            arr, result.ref.path, chunk_pixels=COLS, progress=lambda d, t: seen.append((d, t))
        )
    assert seen == [(k, ROWS) for k in range(1, ROWS + 1)]
    assert ds.attrs["chunk_pixels"] == COLS
    assert "abundance" not in ds
    with pytest.raises(InputError, match="chunk_pixels must be at least 1, got 0"):
        identify_map(arr, result.ref.path, chunk_pixels=0)
    with pytest.raises(InputError, match=r"--out .* exists; .* --overwrite"):
        identify_map(arr, result.ref.path, out=tmp_path)


def test_cli_map_identify_on_a_scheduler_address(trained, tmp_path, monkeypatch, capsys):
    distributed = pytest.importorskip("distributed")
    data_dir, result, cube = trained
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    path = save_cube(tmp_path / "grains.h5", cube, AXIS, method="raman")
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as cluster:
        code, stdout, err = run(
            monkeypatch,
            capsys,
            "map",
            "identify",
            str(path),
            "--model",
            str(result.ref),
            "--mixture",
            "--scheduler",
            cluster.scheduler_address,
            "--out",
            str(tmp_path / "out"),
        )
    assert code == 0, err
    ds = open_zarr(tmp_path / "out" / "grains.zarr")
    assert ds["abundance"].shape == (ROWS, COLS, len(ds.attrs["components"]))
    assert "Diopside" in stdout
