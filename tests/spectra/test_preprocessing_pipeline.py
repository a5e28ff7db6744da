"""`ToGrid`, `build_pipeline`, JSON persistence and the presets, on synthetic and real spectra."""

from __future__ import annotations

import csv
import json
import warnings
import zipfile

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from lithoscope.errors import InputError
from lithoscope.spectra import preprocessing as pp
from lithoscope.spectra.io import parse_spectrum
from lithoscope.spectra.spectrum import SpectralCollection, Spectrum

N_REAL = 200


def _rruff(shared_data, relative: str, n: int) -> list[Spectrum]:
    path = shared_data / relative
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
        step = max(1, len(names) // n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # readers note sorted axes and dropped points
            return [
                parse_spectrum(archive.read(name).decode("utf-8", "replace"), name)
                for name in names[::step][:n]
            ]


@pytest.fixture(scope="module")
def raman(shared_data):
    """200 real RRUFF Raman spectra, evenly spread over the alphabetical file list."""
    return _rruff(shared_data, "rruff/raman/excellent_unoriented.zip", N_REAL)


@pytest.fixture(scope="module")
def infrared(shared_data):
    return _rruff(shared_data, "rruff/infrared/Processed.zip", N_REAL)


@pytest.fixture(scope="module")
def vnir(shared_data):
    """RELAB silicate reflectance spectra (Korda et al. 2024), 450-2450 nm."""
    path = shared_data / "vnir" / "korda2024_relab_silicates_denoised_450-2450nm.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    wavelength = np.array(rows[0][2:], dtype=float)
    return [
        Spectrum(wavelength, np.array(r[2:], dtype=float), method="vnir", metadata={"file": r[1]})
        for r in rows[1 : N_REAL + 1]
    ]


@pytest.fixture(scope="module")
def libs(shared_data):
    """PEWPEW average LIBS spectra of 12 copper minerals, 180-961 nm."""
    path = shared_data / "libs" / "pewpew_hh12_average_spectra.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    return [Spectrum(table[:, 0], col, method="libs") for col in table[:, 1:].T]


def synthetic(method: str, seed: int = 0) -> list[Spectrum]:
    """Bands on a sloping background over a range a little narrower than the preset grid."""
    start, stop, step = pp.PRESETS[method].grid
    rng = np.random.default_rng(seed)
    out = []
    for k in range(3):
        x = np.arange(start + 7 * step, stop - 11 * step, step * 0.7)
        width = (stop - start) / 300
        y = 1.0 + 0.3 * (x - start) / (stop - start)
        for c in rng.uniform(start, stop, 4):
            y = y + (0.5 + k) / (1.0 + ((x - c) / width) ** 2)
        out.append(Spectrum(x, y + rng.normal(0, 0.005, x.size), method=method))
    return out


# --------------------------------------------------------------------------------------------
# ToGrid and build_pipeline
# --------------------------------------------------------------------------------------------


def test_to_grid_accepts_spectra_list_collection_or_one_spectrum():
    spectra = synthetic("raman")
    grid = pp.regular_grid(200.0, 1300.0, 2.0)
    step = pp.ToGrid(grid, outside="edge")
    from_list = step.fit_transform(spectra)
    expected = np.vstack(
        [pp.to_grid(s.intensities, s.axis, grid=grid, outside="edge") for s in spectra]
    )
    assert_array_equal(from_list, expected)
    assert from_list.dtype == np.float64 and from_list.shape == (3, grid.size)
    collection = SpectralCollection(spectra[0].axis, [s.intensities for s in spectra], "raman")
    assert_array_equal(step.transform(collection), expected)
    assert_array_equal(step.transform(spectra[1]), expected[1:2])


@pytest.mark.parametrize("outside", ["nan", "zero", "edge", "error"])
def test_to_grid_outside_policy(outside):
    s = Spectrum([10.0, 20.0], [1.0, 3.0], method="raman")
    step = pp.ToGrid([5.0, 15.0, 25.0], outside=outside)
    expected = {"nan": [np.nan, 2, np.nan], "zero": [0, 2, 0], "edge": [1, 2, 3]}
    if outside == "error":
        with pytest.raises(InputError, match=r"spectrum 0: grid 5-25 extends beyond .* 10-20"):
            step.transform([s])
    else:
        assert_array_equal(step.transform([s])[0], expected[outside])


def test_to_grid_refuses_other_methods_units_and_bare_arrays():
    s = Spectrum([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], method="ir", metadata={"file": "a.txt"})
    with pytest.raises(InputError, match="a.txt is a ir spectrum but this pipeline is for raman"):
        pp.ToGrid([1.0, 2.0], method="raman").fit([s])
    with pytest.raises(
        InputError, match="axis in wavenumber cm-1 but this pipeline expects wavelength nm"
    ):
        pp.ToGrid([1.0, 2.0], unit="wavelength nm").transform([s])
    with pytest.raises(InputError, match="got ndarray; wrap arrays as SpectralCollection"):
        pp.ToGrid([1.0, 2.0]).fit(np.ones((2, 3)))
    with pytest.raises(InputError, match="item 0 is a list, not a Spectrum"):
        pp.ToGrid([1.0, 2.0]).fit([[1.0, 2.0]])
    with pytest.raises(InputError, match="method='uv' is not one of 'raman'"):
        pp.ToGrid([1.0, 2.0], method="uv").fit([s])
    with pytest.raises(InputError, match="grid is required"):
        pp.ToGrid().fit([s])


def test_to_grid_leaves_spectra_unchanged():
    spectra = synthetic("ir")
    before = [s.checksum() for s in spectra]
    pp.ToGrid(pp.regular_grid(400.0, 4000.0, 2.0), outside="zero").fit_transform(spectra)
    assert [s.checksum() for s in spectra] == before


def test_build_pipeline_hands_each_step_its_input_axis_and_copies_steps():
    grid = pp.regular_grid(100.0, 200.0, 1.0)
    crop = pp.Crop(lower=120.0, upper=180.0)
    norm = pp.Normalize(kind="area")
    pipe = pp.build_pipeline(grid, [("crop", crop), ("norm", norm)], outside="zero")
    assert [name for name, _ in pipe.steps] == ["to_grid", "crop", "norm"]
    assert_array_equal(pipe.named_steps["crop"].axis, grid)
    assert_array_equal(pipe.named_steps["norm"].axis, np.arange(120.0, 181.0))
    assert crop.axis is None and norm.axis is None  # the caller's objects are untouched
    s = Spectrum(grid, np.linspace(1.0, 2.0, grid.size), method="raman")
    out = pipe.fit_transform([s])
    assert out.shape == (1, 61)
    assert np.trapezoid(out[0], np.arange(120.0, 181.0)) == pytest.approx(1.0, rel=1e-12)
    with pytest.raises(InputError, match="step 'scale' is a StandardScaler"):
        pp.build_pipeline(grid, [("scale", StandardScaler())])


def test_pipeline_clone_and_set_params_work():
    pipe = pp.make_preset("raman")
    copy = clone(pipe)
    copy.set_params(normalize__kind="l2", baseline__params={"half_window": 30})
    assert pipe.named_steps["normalize"].kind == "max"
    assert pipe.named_steps["baseline"].params == {"half_window": 50}
    X = copy.fit_transform(synthetic("raman"))
    assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-12)


def test_array_steps_fit_returns_self_and_records_n_features():
    X = np.abs(np.random.default_rng(0).normal(size=(4, 50))) + 0.1
    for step in [
        pp.Crop(),
        pp.Despike(),
        pp.BaselineRemoval(),
        pp.SavitzkyGolay(),
        pp.Normalize(),
        pp.ContinuumRemoval(),
        pp.Clip(),
    ]:
        assert step.fit(X) is step and step.n_features_in_ == 50
        with pytest.raises(ValueError, match="X has 49 features, but .* expecting 50"):
            step.transform(X[:, :49])


def test_steps_refuse_nan_except_crop_and_clip():
    X = np.ones((2, 20))
    X[1, 3] = np.nan
    assert np.isnan(pp.Clip().fit_transform(X)[1, 3])
    assert np.isnan(pp.Crop().fit_transform(X)[1, 3])
    with pytest.raises(InputError, match=r"Normalize: X contains NaN \(spectrum 1, point 3\)"):
        pp.Normalize().fit(X)
    pipe = pp.make_preset("raman", outside="nan")
    with pytest.raises(InputError, match="Despike: X contains NaN .* use outside='zero' or"):
        pipe.fit_transform(synthetic("raman"))
    with pytest.raises(ValueError, match="Input X contains infinity"):
        pp.Clip().fit(np.full((1, 3), np.inf))


# --------------------------------------------------------------------------------------------
# persistence
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", list(pp.PRESETS))
def test_json_round_trip_reproduces_outputs_exactly(method, tmp_path):
    pipe = pp.make_preset(method)
    spectra = synthetic(method)
    expected = pipe.fit_transform(spectra)
    path = tmp_path / f"{method}.json"
    digest = pp.save_pipeline(pipe, path)
    loaded = pp.load_pipeline(path)
    assert [type(s) for _, s in loaded.steps] == [type(s) for _, s in pipe.steps]
    assert_array_equal(loaded.transform(spectra), expected)  # usable without fit
    assert_array_equal(clone(loaded).fit_transform(spectra), expected)
    assert pp.pipeline_hash(loaded) == digest == pp.pipeline_hash(pipe)
    assert json.loads(path.read_text())["content_sha256"] == digest
    for (_, original), (_, restored) in zip(pipe.steps, loaded.steps, strict=True):
        assert_same_params(original.get_params(), restored.get_params())


def assert_same_params(expected, got):
    assert expected.keys() == got.keys()
    for key, value in expected.items():
        if isinstance(value, np.ndarray):
            assert isinstance(got[key], np.ndarray) and got[key].dtype == value.dtype, key
            assert_array_equal(got[key], value)
        else:
            assert got[key] == value and type(got[key]) is type(value), key


def test_saved_file_is_plain_json_with_each_array_once(tmp_path):
    path = tmp_path / "libs.json"
    pp.save_pipeline(pp.make_preset("libs"), path)
    document = json.loads(path.read_text())
    assert document["format"] == "lithoscope.preprocessing"
    assert document["format_version"] == pp.FORMAT_VERSION
    assert [s["class"] for s in document["steps"]] == [
        "ToGrid",
        "BaselineRemoval",
        "Clip",
        "Normalize",
    ]
    # the 7001-point grid is shared by three steps but stored once
    assert len(document["arrays"]) == 1
    (array,) = document["arrays"].values()
    assert array["dtype"] == "f8" and array["shape"] == [7001]
    assert_array_equal(array["data"], pp.regular_grid(200.0, 900.0, 0.1))
    assert path.stat().st_size < 250_000


def test_hash_changes_with_any_parameter():
    a = pp.make_preset("raman")
    b = pp.make_preset("raman")
    assert pp.pipeline_hash(a) == pp.pipeline_hash(b)
    b.set_params(despike__threshold=9.0)
    assert pp.pipeline_hash(a) != pp.pipeline_hash(b)
    c = pp.make_preset("raman", grid=pp.regular_grid(100.0, 1400.0, 2.0))
    assert pp.pipeline_hash(a) != pp.pipeline_hash(c)


def test_load_refuses_edited_unknown_and_newer_documents(tmp_path):
    document = pp.pipeline_to_dict(pp.make_preset("xrd"))
    edited = json.loads(json.dumps(document))
    edited["steps"][-1]["params"]["kind"] = "l2"
    with pytest.raises(InputError, match="content hash .* does not match .* edited or damaged"):
        pp.pipeline_from_dict(edited)
    unknown = json.loads(json.dumps(document))
    unknown["steps"][1]["class"] = "PickledThing"
    del unknown["content_sha256"]
    with pytest.raises(
        InputError,
        match="unknown class 'PickledThing'; valid: ToGrid, Crop, Despike, BaselineRemoval",
    ):
        pp.pipeline_from_dict(unknown)
    bad_param = json.loads(json.dumps(document))
    bad_param["steps"][2]["params"]["floor"] = 0
    del bad_param["content_sha256"]
    with pytest.raises(InputError, match="'floor' not a parameter of Clip; valid: lower, upper"):
        pp.pipeline_from_dict(bad_param)
    newer = {**document, "format_version": pp.FORMAT_VERSION + 1}
    with pytest.raises(InputError, match="format_version 2 is not supported"):
        pp.pipeline_from_dict(newer)
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(InputError, match="broken.json: not valid JSON"):
        pp.load_pipeline(path)
    with pytest.raises(InputError, match="not a lithoscope preprocessing pipeline"):
        pp.pipeline_from_dict({"steps": []})


def test_only_registered_steps_and_json_values_can_be_saved():
    with pytest.raises(
        InputError,
        match="step 'scale' is a StandardScaler, which cannot be "
        "saved; saved pipelines hold only ToGrid",
    ):
        pp.pipeline_to_dict(Pipeline([("scale", StandardScaler())]))
    with pytest.raises(InputError, match="step 'clip'.upper: nan cannot be written to JSON"):
        pp.pipeline_to_dict(Pipeline([("clip", pp.Clip(upper=float("nan")))]))
    with pytest.raises(InputError, match="a set cannot be written to JSON"):
        pp.pipeline_to_dict(Pipeline([("b", pp.BaselineRemoval(params={"lam": {1}}))]))


# --------------------------------------------------------------------------------------------
# presets
# --------------------------------------------------------------------------------------------


def test_presets_list_and_unknown_name():
    assert set(pp.PRESETS) == {"raman", "ir", "vnir", "libs", "xrd"}
    with pytest.raises(InputError, match="preset 'uv' is not one of raman, ir, vnir, libs, xrd"):
        pp.make_preset("uv")


@pytest.mark.parametrize("method", list(pp.PRESETS))
def test_preset_on_synthetic_spectra_gives_its_documented_output(method):
    pipe = pp.make_preset(method)
    grid = pipe.named_steps["to_grid"].grid
    X = pipe.fit_transform(synthetic(method))
    assert X.shape == (3, grid.size) and X.dtype == np.float64
    assert np.isfinite(X).all()
    if pp.PRESETS[method].output.startswith("area"):
        assert_allclose(np.trapezoid(X, grid, axis=1), 1.0, rtol=1e-12)
    else:
        assert_array_equal(X.max(axis=1), 1.0)
    assert X.min() >= 0.0


def test_preset_refuses_spectra_of_another_method():
    with pytest.raises(InputError, match="is a raman spectrum but this pipeline is for vnir"):
        pp.make_preset("vnir").fit_transform(synthetic("raman"))


def test_raman_preset_on_real_rruff_spectra(raman):
    pipe = pp.make_preset("raman")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="pybaselines")
        X = pipe.fit_transform(raman)
    assert X.shape == (N_REAL, 1301)
    assert not np.isnan(X).any()
    assert_array_equal(X.max(axis=1), 1.0)
    assert X.min() == 0.0
    # the tallest band stays where it was measured (1 cm-1 grid, 7-point smoothing); the
    # morphological baseline also lowers broad humps under sharp bands, which can swap two bands
    # of similar height (7 of these 200 spectra), so allow 5 %
    grid = pipe.named_steps["to_grid"].grid
    moved = []
    for s, row in zip(raman, X, strict=True):
        inside = (s.axis >= grid[0]) & (s.axis <= grid[-1])
        measured_peak = s.axis[inside][np.argmax(s.intensities[inside])]
        if abs(grid[np.argmax(row)] - measured_peak) > 2.5:
            moved.append(s.metadata.get("file"))
    assert len(moved) <= 0.05 * len(raman), moved


def test_raman_despike_on_real_spectra_removes_inserted_spikes_only(raman):
    grid = pp.regular_grid(100.0, 1400.0, 1.0)
    X = pp.ToGrid(grid, outside="edge").transform(raman[:100])
    rng = np.random.default_rng(7)
    positions = rng.integers(20, grid.size - 20, size=len(X))
    spiked = X.copy()
    spiked[np.arange(len(X)), positions] += X.max(axis=1)  # a cosmic ray as tall as the spectrum
    step = pp.make_preset("raman").named_steps["despike"]
    found = step.transform(spiked)
    changed = found != spiked
    hits = changed[np.arange(len(X)), positions]
    assert hits.mean() >= 0.95
    # apart from the inserted spikes, almost nothing else moves (RRUFF spectra are cleaned)
    changed[np.arange(len(X)), positions] = False
    assert changed.any(axis=1).sum() <= 3


def test_ir_preset_on_real_rruff_spectra(infrared):
    X = pp.make_preset("ir").fit_transform(infrared)
    assert X.shape == (N_REAL, 1801)
    assert not np.isnan(X).any()
    assert_array_equal(X.max(axis=1), 1.0)


def test_vnir_preset_on_real_relab_spectra(vnir):
    X = pp.make_preset("vnir").fit_transform(vnir)
    assert X.shape == (len(vnir), 401)
    assert not np.isnan(X).any()
    assert_array_equal(X.max(axis=1), 1.0)
    assert X.min() > 0.0
    # continuum-removed reflectance touches 1 at both ends of the range (hull endpoints)
    assert_array_equal(X[:, 0], 1.0)
    assert_array_equal(X[:, -1], 1.0)


def test_libs_preset_on_real_pewpew_spectra(libs):
    pipe = pp.make_preset("libs")
    X = pipe.fit_transform(libs)
    grid = pipe.named_steps["to_grid"].grid
    assert not np.isnan(X).any() and X.min() >= 0.0
    assert_allclose(np.trapezoid(X, grid, axis=1), 1.0, rtol=1e-12)
