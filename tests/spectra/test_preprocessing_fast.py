"""`Preprocessor`, the fast batch path: the same numbers as ``pipeline.transform`` on real spectra
for every preset, the coverage of the grid, fallbacks and errors, and one resampler shared with
dataset building. The batched kernels are checked against independent references (pybaselines,
a written-out spike search) on real data."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import warnings
import zipfile

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.preprocessing import StandardScaler

from lithoscope.errors import InputError
from lithoscope.spectra import preprocessing as pp
from lithoscope.spectra.io import parse_spectrum
from lithoscope.spectra.preprocessing import Preprocessor
from lithoscope.spectra.preprocessing import _functions as F
from lithoscope.spectra.spectrum import SpectralCollection, Spectrum

# tighter than the rtol 1e-6 / atol 1e-9 asked for: both paths run the same kernels
RTOL, ATOL = 1e-12, 1e-12
N_RAMAN = 600  # more than nine blocks of the fast path, the last one partial


def _zip_spectra(path, n: int | None = None) -> list[Spectrum]:
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with zipfile.ZipFile(path) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # readers note sorted axes and dropped points
        names = sorted(archive.namelist())
        if n is not None:
            names = names[:: max(1, len(names) // n)][:n]
        return [parse_spectrum(archive.read(m).decode("utf-8", "replace"), m) for m in names]


@pytest.fixture(scope="module")
def raman(shared_data):
    """600 real RRUFF Raman spectra spread over the alphabetical list, each on its own axis."""
    return _zip_spectra(shared_data / "rruff" / "raman" / "excellent_unoriented.zip", N_RAMAN)


@pytest.fixture(scope="module")
def infrared(shared_data):
    """Every RRUFF infrared spectrum of the mirror."""
    return _zip_spectra(shared_data / "rruff" / "infrared" / "Processed.zip")


@pytest.fixture(scope="module")
def vnir(shared_data):
    """150 RELAB silicate reflectance spectra (Korda et al. 2024), 450-2450 nm."""
    path = shared_data / "vnir" / "korda2024_relab_silicates_denoised_450-2450nm.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    wavelength = np.array(rows[0][2:], dtype=float)
    return [
        Spectrum(wavelength, np.array(r[2:], dtype=float), method="vnir", metadata={"file": r[1]})
        for r in rows[1:151]
    ]


@pytest.fixture(scope="module")
def libs(shared_data):
    """PEWPEW average LIBS spectra of 12 copper minerals, 180-961 nm."""
    path = shared_data / "libs" / "pewpew_hh12_average_spectra.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    return [Spectrum(table[:, 0], col, method="libs") for col in table[:, 1:].T]


def _relabel(spectra: list[Spectrum], method: str) -> list[Spectrum]:
    """Real Raman band shapes on another method's range (there is no XRD data in the mirror)."""
    start, stop, _ = pp.PRESETS[method].grid
    out = []
    for s in spectra:
        t = (s.axis - s.axis[0]) / (s.axis[-1] - s.axis[0])
        axis = start - 2.0 + t * (stop - start + 4.0)
        out.append(Spectrum(axis, s.intensities, method=method, metadata=s.metadata))
    return out


@pytest.fixture(scope="module")
def by_preset(raman, infrared, vnir, libs):
    return {
        "raman": raman,
        "ir": infrared,
        "vnir": vnir,
        "libs": libs,
        "xrd": _relabel(raman[::12], "xrd"),
    }


def test_every_preset_is_covered(by_preset):
    assert set(by_preset) == set(pp.PRESETS)


# --------------------------------------------------------------------------------------------
# same numbers as the pipeline
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", list(pp.PRESETS))
def test_fast_path_equals_the_pipeline_on_real_spectra(method, by_preset):
    spectra = by_preset[method]
    pipe = pp.make_preset(method)
    pre = Preprocessor.from_pipeline(pipe)
    assert pre.compiled
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="pybaselines")
        X = pre.transform(spectra)
        expected = pipe.transform(spectra)
    assert X.shape == expected.shape == (len(spectra), pre.grid.size)
    assert X.dtype == np.float64 and X.flags.c_contiguous
    assert_allclose(X, expected, rtol=RTOL, atol=ATOL)
    assert_array_equal(pre.axis, pre.grid)
    if method in ("raman", "ir"):  # raw spectra on many different axes
        assert len(spectra) >= 500
        assert len({s.axis.tobytes() for s in spectra}) > {"raman": 400, "ir": 20}[method]


def test_fast_path_of_a_pipeline_loaded_from_json(raman):
    pipe = pp.make_preset("raman")
    loaded = pp.pipeline_from_dict(pp.pipeline_to_dict(pipe))
    assert_array_equal(
        Preprocessor.from_pipeline(loaded).transform(raman[:100]),
        Preprocessor.from_pipeline(pipe).transform(raman[:100]),
    )


def test_one_spectrum_is_the_one_row_case_of_the_batch(raman):
    pre = Preprocessor.from_pipeline(pp.make_preset("raman"))
    batch = pre.transform(raman[:70])
    for i in (0, 63, 64, 69):  # both sides of a block boundary
        assert_array_equal(pre.transform(raman[i]), batch[i : i + 1])
        assert_array_equal(pre.transform([raman[i]]), batch[i : i + 1])


def test_every_step_kind_on_a_built_pipeline(infrared):
    """Crop (shortens the axis), derivative, a pybaselines baseline, SNV, clip, continuum."""
    grid = np.arange(400.0, 4000.0, 4.0)
    steps = [
        ("crop", pp.Crop(lower=600.0, upper=3800.0)),
        ("despike", pp.Despike(threshold=6.0)),
        ("smooth", pp.SavitzkyGolay(window_length=11, polyorder=3, deriv=1)),
        ("baseline", pp.BaselineRemoval(method="asls", params={"lam": 1e5})),
        ("snv", pp.Normalize(kind="snv")),
        ("clip", pp.Clip(lower=-1.0, upper=3.0)),
    ]
    pipe = pp.build_pipeline(grid, steps, outside="zero", method="ir")
    pre = Preprocessor.from_pipeline(pipe)
    assert pre.compiled
    spectra = infrared[::10]
    X = pre.transform(spectra)
    assert_allclose(X, pipe.transform(spectra), rtol=RTOL, atol=ATOL)
    assert_array_equal(pre.axis, grid[(grid >= 600.0) & (grid <= 3800.0)])
    assert X.shape == (len(spectra), pre.axis.size)
    tail = pp.build_pipeline(
        grid, [("clip", pp.Clip()), ("continuum", pp.ContinuumRemoval())], outside="edge"
    )
    relabelled = [Spectrum(s.axis, s.intensities, method="raman") for s in spectra]
    assert_allclose(
        Preprocessor.from_pipeline(tail).transform(relabelled),
        tail.transform(relabelled),
        rtol=RTOL,
        atol=ATOL,
    )


def test_a_spectral_collection_goes_through_too(raman):
    collection = SpectralCollection.from_spectra(raman[:20], grid=np.arange(90.0, 1500.0, 0.5))
    pipe = pp.make_preset("raman")
    assert_allclose(
        Preprocessor.from_pipeline(pipe).transform(collection),
        pipe.transform(collection),
        rtol=RTOL,
        atol=ATOL,
    )
    assert Preprocessor.from_pipeline(pipe).coverage(collection).tolist() == [1.0] * 20


# --------------------------------------------------------------------------------------------
# fallbacks and errors
# --------------------------------------------------------------------------------------------


def test_unknown_steps_fall_back_to_the_pipeline(raman):
    pipe = pp.make_preset("raman")
    pipe.steps.append(("scale", StandardScaler().fit(pipe.transform(raman[:50]))))
    pre = Preprocessor.from_pipeline(pipe)
    assert not pre.compiled and "pipeline.transform" in repr(pre)
    assert_array_equal(pre.transform(raman[:10]), pipe.transform(raman[:10]))


def test_nan_policy_before_nan_refusing_steps_falls_back_with_the_pipelines_error():
    pipe = pp.build_pipeline(np.arange(100.0, 200.0), [("max", pp.Normalize())], outside="nan")
    pre = Preprocessor.from_pipeline(pipe)
    assert not pre.compiled
    short = Spectrum([150.0, 160.0, 170.0], [1.0, 2.0, 1.0], method="raman")
    with pytest.raises(InputError, match="X contains NaN"):
        pre.transform([short])
    keeps_nan = pp.build_pipeline(np.arange(100.0, 200.0), [("clip", pp.Clip())], outside="nan")
    fast = Preprocessor.from_pipeline(keeps_nan)
    assert fast.compiled
    assert_array_equal(fast.transform([short]), keeps_nan.transform([short]))


def test_errors_name_the_input():
    with pytest.raises(InputError, match="starting with ToGrid, got StandardScaler"):
        Preprocessor.from_pipeline(StandardScaler())
    bad = pp.build_pipeline(np.arange(10.0), [("sg", pp.SavitzkyGolay(window_length=4))])
    with pytest.raises(InputError, match="window_length=4 must be odd"):
        Preprocessor.from_pipeline(bad)
    pre = Preprocessor.from_pipeline(pp.make_preset("raman"))
    ir = Spectrum([400.0, 4000.0], [1.0, 2.0], method="ir", metadata={"file": "a.txt"})
    with pytest.raises(InputError, match="a.txt is a ir spectrum but this pipeline is for raman"):
        pre.transform([ir])
    with pytest.raises(InputError, match="not a Spectrum"):
        pre.transform([np.ones(5)])
    with pytest.raises(InputError, match="got ndarray"):
        pre.transform(np.ones((2, 5)))
    strict = Preprocessor.from_pipeline(pp.make_preset("raman", outside="error"))
    short = Spectrum([150.0, 1500.0], [1.0, 2.0], method="raman", metadata={"file": "b.txt"})
    with pytest.raises(InputError, match="b.txt: grid 100-1400 extends beyond .* 150-1500"):
        strict.transform([short])


# --------------------------------------------------------------------------------------------
# coverage
# --------------------------------------------------------------------------------------------


def test_coverage_of_constructed_axes():
    pre = Preprocessor.from_pipeline(pp.make_preset("raman"))  # 100-1400 cm-1, step 1
    n = pre.grid.size
    spectra = [
        Spectrum([50.0, 800.0, 1500.0], [1.0, 2.0, 3.0], method="raman"),  # beyond both ends
        Spectrum([100.0, 1400.0], [1.0, 2.0], method="raman"),  # exactly the grid
        Spectrum([100.0, 749.5, 750.0], [1.0, 2.0, 3.0], method="raman"),  # the lower half
        Spectrum([1500.0, 1600.0], [1.0, 2.0], method="raman"),  # beyond the grid
        Spectrum([10.0, 99.9], [1.0, 2.0], method="raman"),  # ends just below the grid
        Spectrum([100.0, 200.0], [1.0, 2.0], method="raman"),  # the two-point file of issue 8
        Spectrum([127.3, 300.0], [1.0, 2.0], method="raman"),  # a cut forsterite's range
    ]
    expected = [1.0, 1.0, 651 / n, 0.0, 0.0, 101 / n, (300 - 128 + 1) / n]
    assert_allclose(pre.coverage(spectra), expected, rtol=0, atol=1e-15)
    assert round(float(pre.coverage(spectra[5])[0]), 2) == 0.08
    assert pre.coverage(spectra).shape == (len(spectra),)


def test_coverage_of_real_spectra_matches_their_measured_range(raman):
    pre = Preprocessor.from_pipeline(pp.make_preset("raman"))
    got = pre.coverage(raman)
    for s, c in zip(raman, got, strict=True):
        inside = (pre.grid >= s.axis[0]) & (pre.grid <= s.axis[-1])
        assert c == inside.mean()
    assert 0.5 < np.median(got) <= 1.0


# --------------------------------------------------------------------------------------------
# one resampler for training and serving
# --------------------------------------------------------------------------------------------


def test_dataset_building_and_the_fast_path_give_the_same_array(tmp_path, shared_data):
    """A raw file through the fast path (identify) equals its row in a training set built
    from MinDB with the same pipeline: one resampler, same kernels, same numbers."""
    from lithoscope.data.datasets import DatasetSpec, build_dataset
    from lithoscope.data.ingest import ingest_ima, ingest_spectra
    from lithoscope.mindb import connect

    source = shared_data / "rruff" / "raman" / "excellent_unoriented.zip"
    pattern = re.compile(r"^(Forsterite|Fayalite|Calcite)__R0[0-9]{5}__")
    subset = tmp_path / "subset.zip"
    raw: dict[str, bytes] = {}
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(subset, "w") as dst:
        for name in src.namelist():
            if pattern.search(name) and len(raw) < 12:
                raw[name] = src.read(name)
                dst.writestr(name, raw[name])
    ima_source = (
        shared_data / "rruff" / "ima" / "RRUFF_Export_with_Hey_Classification__RamanLab_5c829ff.csv"
    )
    rows = list(csv.DictReader(io.StringIO(ima_source.read_text(encoding="utf-8-sig"))))
    ima = tmp_path / "ima.csv"
    with ima.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(
            r for r in rows if r["Mineral Name"] in ("Forsterite", "Fayalite", "Calcite")
        )

    pipe = pp.make_preset("raman")
    with connect(f"sqlite:///{tmp_path / 'mindb.sqlite'}") as db:
        db.build()
        ingest_ima(db, ima, progress=False)
        ingest_spectra(db, subset, progress=False)
        ds = build_dataset(db, DatasetSpec.from_pipeline(pipe), pipeline=pipe)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # MinDB names each spectrum by the sha256 of its file
        by_checksum = {
            hashlib.sha256(data).hexdigest(): parse_spectrum(data.decode("utf-8", "replace"), name)
            for name, data in raw.items()
        }
    order = [by_checksum[m["checksum"]] for m in ds.collection.metadata]
    assert len(order) >= 8
    assert_array_equal(Preprocessor.from_pipeline(pipe).transform(order), ds.X)


def test_spectrum_resample_is_to_grid(raman):
    grid = np.arange(120.0, 1300.0, 0.7)
    for s in raman[:20]:
        r = s.resample(grid, outside="edge")
        assert_array_equal(
            r.intensities, pp.to_grid(s.intensities, s.axis, grid=grid, outside="edge")
        )
        assert_array_equal(r.axis, grid)
    with pytest.raises(InputError, match="a Spectrum cannot hold NaN"):
        raman[0].resample(np.arange(0.0, 5000.0))


# --------------------------------------------------------------------------------------------
# the batched kernels against independent references
# --------------------------------------------------------------------------------------------


def _spikes_reference(row, threshold, max_width):
    """The spike search of `find_spikes`, spike by spike, as first written (one loop per row)."""
    d = np.diff(row)
    med = np.median(d)
    mad = np.median(np.abs(d - med))
    scale = mad / 0.6745 if mad > 0 else 1.253314 * np.mean(np.abs(d - med))
    z = (d - med) / scale if scale > 0 else np.zeros_like(d)
    up, down = z > threshold, z < -threshold
    mask = np.zeros(row.size, dtype=bool)
    spikes: list[tuple[int, int]] = []
    n_steps = up.size
    for p in np.flatnonzero(up):
        if spikes and p < spikes[-1][1]:
            continue
        if p > 0 and up[p - 1]:
            continue
        for e in range(p + 1, min(p + max_width, n_steps - 1) + 1):
            if not down[e] or (e + 1 < n_steps and down[e + 1]):
                continue
            if row[p + 1 : e + 1].min() > max(row[p], row[e + 1]):
                spikes.append((p + 1, e + 1))
                break
    for start, stop in spikes:
        mask[start:stop] = True
    return mask


@pytest.mark.parametrize(
    ("threshold", "max_width", "at_least"), [(3.0, 1, 20), (5.0, 3, 20), (10.0, 2, 1)]
)
def test_spike_search_equals_the_loop_reference_on_real_raman(
    threshold, max_width, at_least, raman
):
    X = pp.make_preset("raman").steps[0][1].transform(raman[:300])
    got = pp.find_spikes(X, threshold=threshold, max_width=max_width)
    expected = np.array([_spikes_reference(row, threshold, max_width) for row in X])
    assert_array_equal(got, expected)
    assert expected.sum() >= at_least  # real spikes (and narrow bands) were found


def test_despike_replacement_equals_the_paper_on_real_raman(raman):
    X = pp.make_preset("raman").steps[0][1].transform(raman[:300])
    mask = pp.find_spikes(X, threshold=5.0, max_width=3)
    expected = X.copy()
    for i, j in zip(*np.nonzero(mask), strict=True):
        lo, hi = max(0, j - 2), min(X.shape[1], j + 3)
        expected[i, j] = X[i, lo:hi][~mask[i, lo:hi]].mean()
    assert_allclose(pp.despike(X, threshold=5.0, window=2, max_width=3), expected, rtol=1e-15)


@pytest.mark.parametrize(("method", "half_window"), [("raman", 50), ("ir", 100), ("raman", 3)])
def test_batched_mor_equals_pybaselines(method, half_window, by_preset):
    from pybaselines import Baseline

    pipe = pp.make_preset(method)
    X = pipe[:-3].transform(by_preset[method][:150])  # up to the baseline step
    fitter = Baseline(x_data=pipe.steps[0][1].grid)
    expected = np.array([fitter.mor(row, half_window=half_window)[0] for row in X])
    got = pp.baseline(X, pipe.steps[0][1].grid, method="mor", params={"half_window": half_window})
    assert_array_equal(got, expected)


def test_savgol_operator_is_cached_and_read_only():
    a = F._savgol_operator(7, 2, 0, 1.0)
    assert a is F._savgol_operator(7, 2, 0, 1.0)
    assert not a[0].flags.writeable and not a[1].flags.writeable
