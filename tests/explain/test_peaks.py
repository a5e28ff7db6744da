"""Peaks, consensus reference bands and the peak table: synthetic truths, then real RRUFF spectra.

Synthetic spectra are sums of Lorentzians whose centres, heights and widths are known, so the
recovered values are checked against the truth with explicit tolerances. On real data, the
consensus bands are checked against band positions every Raman spectroscopist knows (forsterite's
Si-O stretching doublet near 824 and 856 cm-1, calcite's symmetric CO3 stretch near 1086 cm-1).
"""

from __future__ import annotations

import json
import re
import warnings
import zipfile

import numpy as np
import pytest

from lithoscope.errors import InputError
from lithoscope.explain import BandCache, find_peaks, mineral_spectra, peak_table, reference_bands
from lithoscope.spectra.spectrum import Spectrum

RAMAN_ZIP = "rruff/raman/excellent_unoriented.zip"


def lorentzian(axis: np.ndarray, centre: float, height: float, fwhm: float) -> np.ndarray:
    return height / (1.0 + ((axis - centre) / (fwhm / 2.0)) ** 2)


# ----------------------------------------------------------------------------- find_peaks
@pytest.mark.parametrize("offset", [0.0, 0.13, 0.37, 0.5, 0.81])
@pytest.mark.parametrize("step", [1.0, 2.0])
def test_find_peaks_recovers_lorentzian_positions_between_grid_points(offset, step):
    axis = 100.0 + step * np.arange(1000)
    # centres in points, off the grid by `offset`; widths 4-12 points; heights 1 to 0.08
    truth = [(150 + offset, 1.0, 6), (400 + offset, 0.5, 4), (620 + offset, 0.2, 12)]
    truth.append((850 + offset, 0.08, 8))
    x = sum(lorentzian(np.arange(1000.0), c, h, w) for c, h, w in truth)
    peaks = find_peaks(x, axis)
    assert len(peaks) == len(truth)
    for peak, (c, h, w) in zip(peaks, truth, strict=True):
        assert abs((peak["position"] - axis[0]) / step - c) < 0.2  # in points
        assert peak["intensity"] == pytest.approx(h, rel=0.03)
        # isolated band on a flat zero: scipy's prominence is the highest grid sample (not the
        # interpolated top), and the width at half prominence the FWHM
        sampled = lorentzian(np.round(c), c, h, w)
        assert peak["prominence"] == pytest.approx(sampled, rel=0.02)
        assert peak["width"] / step == pytest.approx(w, rel=0.1)


def test_find_peaks_with_noise_stays_within_a_fifth_of_a_point():
    rng = np.random.default_rng(7)
    axis = np.arange(1000.0)
    centres = rng.uniform(50, 950, size=8)
    centres.sort()
    centres = centres[np.r_[True, np.diff(centres) > 40]]
    x = sum(lorentzian(axis, c, 1.0, 8.0) for c in centres)
    x = x + rng.normal(0.0, 0.003, axis.size)
    peaks = find_peaks(x, axis, prominence=0.1)
    found = np.array([p["position"] for p in peaks])
    assert found.size == centres.size
    np.testing.assert_allclose(found, centres, atol=0.2)


def test_find_peaks_keeps_the_most_prominent_and_is_scale_free():
    axis = np.arange(500.0)
    x = sum(lorentzian(axis, c, h, 6) for c, h in [(100, 1.0), (200, 0.1), (300, 0.5), (400, 0.04)])
    top2 = [round(p["position"]) for p in find_peaks(x, axis, max_peaks=2)]
    assert top2 == [100, 300]
    # prominence is relative to the tallest point: scaling the spectrum finds the same peaks
    a = [p["position"] for p in find_peaks(x, axis, prominence=0.05)]
    b = [p["position"] for p in find_peaks(1000 * x, axis, prominence=0.05)]
    assert a == pytest.approx(b) and len(a) == 3
    assert find_peaks(np.zeros(50), np.arange(50.0)) == []


def test_find_peaks_does_not_mutate_and_accepts_lists():
    axis = np.arange(200.0)
    x = lorentzian(axis, 80.4, 1.0, 6)
    before = x.copy()
    assert find_peaks(x.tolist(), axis.tolist()) == find_peaks(x, axis)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize(
    ("x", "axis", "kwargs", "match"),
    [
        (np.ones((2, 10)), np.arange(10.0), {}, "one spectrum"),
        (np.ones(10), np.arange(9.0), {}, "axis has 9 points"),
        (np.r_[np.ones(9), np.nan], np.arange(10.0), {}, "NaN"),
        (np.ones(10), np.arange(10.0)[::-1], {}, "strictly increasing"),
        (np.ones(10), np.arange(10.0), {"prominence": 0}, "prominence must be > 0"),
        (np.ones(10), np.arange(10.0), {"max_peaks": 0}, "max_peaks"),
    ],
)
def test_find_peaks_errors(x, axis, kwargs, match):
    with pytest.raises(InputError, match=match):
        find_peaks(x, axis, **kwargs)


# ----------------------------------------------------------------------------- reference_bands
def _jittered_references(rng: np.random.Generator, n: int = 10) -> list[Spectrum]:
    """``n`` spectra of one 'mineral': true bands jittered in position and intensity.

    Bands: 200 (weak, in all), 465 and 480 (a doublet 15 apart, in all), 700 (in all), 1000
    (strong but in 3 spectra only: orientation), 1100 (weak, in 3 only), and in each spectrum
    one spurious band at a random place (contamination, a cosmic ray).
    """
    axis = np.arange(100.0, 1300.0, 1.0)
    out = []
    for k in range(n):
        y = np.zeros_like(axis)
        bands = [(200, 0.15), (465, 1.0), (480, 0.4), (700, 0.3)]
        if k < 3:
            bands += [(1000, 0.8), (1100, 0.2)]
        for centre, height in bands:
            c = centre + rng.normal(0.0, 0.7)
            y += lorentzian(axis, c, height * rng.uniform(0.8, 1.2), 7.0)
        y += lorentzian(axis, rng.uniform(250, 1250), 0.3, 5.0)
        y += rng.normal(0.0, 0.002, axis.size)
        out.append(Spectrum(axis, y, "raman"))
    return out


def test_reference_bands_consensus_on_jittered_spectra():
    refs = _jittered_references(np.random.default_rng(3))
    bands = reference_bands(refs, tolerance=5.0)
    positions = [b["position"] for b in bands]
    assert len(bands) == 5, positions
    expected = [200, 465, 480, 700, 1000]
    np.testing.assert_allclose(positions, expected, atol=1.0)
    seen = {e: b["n_spectra"] for e, b in zip(expected, bands, strict=True)}
    assert seen == {200: 10, 465: 10, 480: 10, 700: 10, 1000: 3}  # 1000: by the strong rule
    strongest = max(bands, key=lambda b: b["intensity"])
    assert strongest["position"] == pytest.approx(465, abs=1.0)
    assert strongest["intensity"] == pytest.approx(1.0, abs=0.05)
    doublet = next(b for b in bands if 470 <= b["position"] <= 490)
    assert doublet["intensity"] == pytest.approx(0.4, rel=0.2)


def test_reference_bands_doublet_closer_than_the_tolerance_stays_two_bands():
    rng = np.random.default_rng(5)
    axis = np.arange(400.0, 540.0, 0.5)
    refs = []
    for _ in range(6):
        y = lorentzian(axis, 465.0 + rng.normal(0, 0.2), 1.0, 2.5)
        y += lorentzian(axis, 469.5 + rng.normal(0, 0.2), 0.6, 2.5)
        refs.append(Spectrum(axis, y + rng.normal(0, 0.002, axis.size), "raman"))
    # 4.5 apart with a tolerance of 5: a spectrum gives each cluster at most one peak
    bands = reference_bands(refs, tolerance=5.0)
    assert [b["n_spectra"] for b in bands] == [6, 6]
    np.testing.assert_allclose([b["position"] for b in bands], [465.0, 469.5], atol=0.3)


def test_reference_bands_options_change_what_is_kept():
    refs = _jittered_references(np.random.default_rng(3))
    # 1000 (3 of 10 spectra, strong) needs the strong rule; with it out of reach, it goes
    positions = [b["position"] for b in reference_bands(refs, strong=1.5)]
    assert not any(990 < p < 1010 for p in positions)
    # with 1100 required in only 30 % of the spectra it comes back
    positions = [b["position"] for b in reference_bands(refs, min_fraction=0.3)]
    assert any(1095 < p < 1105 for p in positions)
    # one spectrum: all its bands are the consensus
    assert len(reference_bands(refs[:1])) == len(find_peaks(refs[0].intensities, refs[0].axis))
    assert reference_bands([]) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tolerance": 0}, "tolerance"),
        ({"min_fraction": 0}, "min_fraction"),
        ({"strong": 0}, "strong"),
    ],
)
def test_reference_bands_errors(kwargs, match):
    with pytest.raises(InputError, match=match):
        reference_bands([], **kwargs)


# ----------------------------------------------------------------------------- peak_table
def _peaks(*pairs):
    return [{"position": p, "intensity": i} for p, i in pairs]


def test_peak_table_tolerance_is_inclusive_and_nearest_band_wins():
    sample = _peaks((1000.0, 1.0), (500.0, 0.5))
    table = peak_table(
        sample,
        {
            "edge": _peaks((1008.0, 1.0), (491.99, 1.0)),  # exactly 8 away, and 8.01 away
            "nearest": _peaks((992.0, 1.0), (1006.0, 1.0)),  # both within 8: 1006 is nearer
            "outside": _peaks((1008.01, 1.0), (508.01, 1.0)),
        },
        tolerance=8.0,
    )
    first, second = table["peaks"]
    assert first["matches"] == {"edge": 1008.0, "nearest": 1006.0, "outside": None}
    assert second["matches"] == {"edge": None, "nearest": None, "outside": None}
    by_name = {c["mineral"]: c for c in table["candidates"]}
    assert [c["mineral"] for c in table["candidates"]] == ["edge", "nearest", "outside"]
    assert by_name["edge"]["matched"] == 1
    assert by_name["edge"]["unmatched_reference_bands"] == [{"position": 491.99, "intensity": 1.0}]
    # both of 'nearest's bands lie within tolerance of the sample's 1000 peak
    assert by_name["nearest"]["matched"] == 2 and by_name["nearest"]["match_fraction"] == 1.0
    assert by_name["outside"]["matched"] == 0 and by_name["outside"]["match_fraction"] == 0.0
    # 500 (relative 0.5) matches nothing: called out
    assert table["unmatched_strong_peaks"] == [{"position": 500.0, "intensity": 0.5}]


def test_peak_table_match_fraction_is_intensity_weighted():
    sample = _peaks((300.0, 2.0), (600.0, 1.0))
    bands = _peaks((301.0, 1.0), (598.0, 0.5), (900.0, 0.25))
    (cand,) = peak_table(sample, {"m": bands})["candidates"]
    assert cand["matched"] == 2 and cand["n_reference_bands"] == 3
    assert cand["match_fraction"] == pytest.approx(1.5 / 1.75, abs=1e-3)
    assert cand["unmatched_reference_bands"] == [{"position": 900.0, "intensity": 0.25}]


def test_peak_table_strong_threshold_and_shared_matches():
    # sample intensities are made relative to its strongest peak (here 4.0)
    sample = _peaks((100.0, 4.0), (200.0, 1.0), (300.0, 0.8), (400.0, 0.6), (500.0, 2.0))
    table = peak_table(sample, {"a": _peaks((100.0, 1.0)), "b": _peaks((500.0, 1.0))}, strong=0.2)
    assert [p["intensity"] for p in table["peaks"]] == [1.0, 0.25, 0.2, 0.15, 0.5]
    # 200 (0.25) and 300 (exactly 0.2) are strong and unexplained; 400 (0.15) is weak;
    # 100 and 500 are each explained by one candidate, which is enough
    assert [p["position"] for p in table["unmatched_strong_peaks"]] == [200.0, 300.0]


def test_peak_table_without_bands_or_peaks():
    table = peak_table(_peaks((100.0, 1.0)), {"nothing": []})
    assert table["candidates"][0] == {
        "mineral": "nothing",
        "matched": 0,
        "n_reference_bands": 0,
        "unmatched_reference_bands": [],
        "match_fraction": None,
    }
    assert table["peaks"][0]["matches"] == {"nothing": None}
    empty = peak_table([], {"m": _peaks((100.0, 1.0))})
    assert empty["peaks"] == [] and empty["unmatched_strong_peaks"] == []
    assert empty["candidates"][0]["match_fraction"] == 0.0
    json.dumps(table), json.dumps(empty)  # the identify JSON contract


@pytest.mark.parametrize(
    ("sample", "bands", "kwargs", "match"),
    [
        ([], {}, {"tolerance": -1}, "tolerance"),
        ([], {}, {"strong": 1.5}, "strong"),
        ([{"position": 1.0}], {}, {}, "'position' and 'intensity'"),
        ([], {"m": [{"pos": 1.0, "intensity": 1.0}]}, {}, "'position' and 'intensity'"),
    ],
)
def test_peak_table_errors(sample, bands, kwargs, match):
    with pytest.raises(InputError, match=match):
        peak_table(sample, bands, **kwargs)


# ----------------------------------------------------------------------------- real RRUFF data
@pytest.fixture(scope="module")
def rruff_raman(shared_data):
    """Forsterite and Calcite spectra (all lasers) from the mirror's zip, by sample id."""
    from lithoscope.spectra.io import parse_spectrum

    by_mineral: dict[str, dict[str, list[Spectrum]]] = {"Forsterite": {}, "Calcite": {}}
    with zipfile.ZipFile(shared_data / RAMAN_ZIP) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in zf.namelist():
            m = re.match(r"(Forsterite|Calcite)__([RX]\d{6})__Raman__", name)
            if m:
                spectrum = parse_spectrum(zf.read(name).decode(), name)
                by_mineral[m.group(1)].setdefault(m.group(2), []).append(spectrum)
    return by_mineral


@pytest.fixture(scope="module")
def raman_pipeline():
    from lithoscope.spectra.preprocessing import make_preset

    return make_preset("raman")


def _flat(samples: dict[str, list[Spectrum]], *, leave_out: str | None = None) -> list[Spectrum]:
    return [s for sid, group in samples.items() if sid != leave_out for s in group]


def test_real_consensus_bands_of_forsterite_and_calcite(rruff_raman, raman_pipeline):
    forsterite = reference_bands(_flat(rruff_raman["Forsterite"]), raman_pipeline)
    positions = np.array([b["position"] for b in forsterite])
    for known in (824.0, 856.0):  # the Si-O stretching doublet of olivine
        assert np.min(np.abs(positions - known)) <= 4.0, positions
    doublet = [b for b in forsterite if 815 < b["position"] < 865]
    assert len(doublet) == 2 and all(b["intensity"] > 0.5 for b in doublet)
    calcite = reference_bands(_flat(rruff_raman["Calcite"]), raman_pipeline)
    strongest = max(calcite, key=lambda b: b["intensity"])
    assert strongest["position"] == pytest.approx(1086.0, abs=4.0)  # CO3 symmetric stretch


def test_real_forsterite_query_matches_forsterite_not_calcite(rruff_raman, raman_pipeline):
    held_out = "R040018"  # every spectrum of this sample is left out of the reference bands
    fo_bands = reference_bands(_flat(rruff_raman["Forsterite"], leave_out=held_out), raman_pipeline)
    ca_bands = reference_bands(_flat(rruff_raman["Calcite"]), raman_pipeline)
    grid = np.asarray(raman_pipeline.steps[0][1].grid)
    for query in rruff_raman["Forsterite"][held_out]:
        x = raman_pipeline.transform([query])[0]
        table = peak_table(find_peaks(x, grid), {"Forsterite": fo_bands, "Calcite": ca_bands})
        fo, ca = table["candidates"]
        assert fo["match_fraction"] > 0.8, (query.metadata["file"], fo)
        assert ca["match_fraction"] < 0.2, (query.metadata["file"], ca)
        assert table["unmatched_strong_peaks"] == []
        # against calcite alone, the forsterite doublet is what is left unexplained
        alone = peak_table(find_peaks(x, grid), {"Calcite": ca_bands})
        called_out = [p["position"] for p in alone["unmatched_strong_peaks"]]
        assert any(abs(p - 856) <= 4 for p in called_out), called_out


def test_band_cache_reads_mindb_once_per_mineral_and_method(shared_data, tmp_path, raman_pipeline):
    from lithoscope.data.ingest import ingest_spectra
    from lithoscope.mindb import connect

    subset = tmp_path / "subset.zip"
    pattern = re.compile(r"^(Forsterite|Calcite)__R0400(18|52|57|70|71)__")
    with zipfile.ZipFile(shared_data / RAMAN_ZIP) as src, zipfile.ZipFile(subset, "w") as dst:
        for name in src.namelist():
            if pattern.match(name):
                dst.writestr(name, src.read(name))
    calls = []

    def pipeline_for(method):
        calls.append(method)
        return raman_pipeline

    with connect(f"sqlite:///{tmp_path / 'mindb.sqlite'}") as db:
        db.build()
        ingest_spectra(db, subset, progress=False)
        spectra = mineral_spectra(db, "Forsterite", "raman")
        assert len(spectra) == 9 and {s.metadata["mineral"] for s in spectra} == {"Forsterite"}
        assert len(mineral_spectra(db, "Forsterite", "raman", lasers=[532.0])) == 3
        assert mineral_spectra(db, "Forsterite", "ir") == []

        cache = BandCache(db, pipeline_for=pipeline_for)
        bands = cache.bands("Forsterite", "raman")
        assert bands == reference_bands(spectra, raman_pipeline)
        bands_for = cache.for_method("raman")
        assert bands_for("Forsterite") is bands  # cached
        assert calls == ["raman"]
        calcite = bands_for("Calcite")
        assert max(calcite, key=lambda b: b["intensity"])["position"] == pytest.approx(1086, abs=4)
        assert cache.bands("Unobtainium", "raman") == []
        assert calls == ["raman", "raman", "raman"]
        with pytest.raises(InputError, match="not one of"):
            mineral_spectra(db, "Forsterite", "sonar")
        with pytest.raises(InputError, match="not reference_bands options"):
            BandCache(db, options={"tolerence": 3})
