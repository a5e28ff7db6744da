"""The identify plot: each candidate's best-matching stored reference, and no overwriting."""

from __future__ import annotations

import warnings
import zipfile

import matplotlib
import numpy as np
import pytest

from lithoscope.errors import InputError
from lithoscope.mindb import connect
from lithoscope.pipeline.plots import best_references, plot_identification
from lithoscope.spectra.io import parse_spectrum
from lithoscope.spectra.preprocessing import make_preset

RAMAN_ZIP = "rruff/raman/excellent_unoriented.zip"
FILES = [
    "Forsterite__R040018__Raman__532__0__unoriented__Raman_Data_Processed__26073.txt",
    "Forsterite__R040052__Raman__532__0__unoriented__Raman_Data_Processed__15115.txt",
    "Forsterite__R040057__Raman__532__0__unoriented__Raman_Data_Processed__31757.txt",
    "Calcite__R040070__Raman__532__0__unoriented__Raman_Data_Processed__15330.txt",
    "Calcite__R050009__Raman__532__0__unoriented__Raman_Data_Processed__21027.txt",
    "Calcite__R050048__Raman__532__0__unoriented__Raman_Data_Processed__21180.txt",
]


@pytest.fixture
def setup(shared_data, tmp_path):
    with zipfile.ZipFile(shared_data / RAMAN_ZIP) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        names = [n for n in zf.namelist() if n in FILES]
        assert len(names) == len(FILES)
        spectra = [parse_spectrum(zf.read(n).decode(), n) for n in FILES]
    db = connect(f"sqlite:///{tmp_path / 'mindb.sqlite'}")
    db.build()
    db.add_spectra(spectra, source="test")
    pipe = make_preset("raman").fit(spectra)
    yield db, spectra, pipe
    db.close()


def _result(candidates):
    return {
        "input": "query.txt",
        "method": "raman",
        "model": "raman-library@1",
        "candidates": [{"mineral": m, "probability": p, "score": s} for m, p, s in candidates],
        "prediction_set": [candidates[0][0]],
        "confidence_level": 0.9,
        "unknown": False,
    }


def test_best_reference_is_the_best_correlated_not_the_first_stored(setup):
    db, spectra, pipe = setup
    query = spectra[2]  # the third forsterite sample: not the first one stored
    q = pipe.transform([query])[0]
    best = best_references(db, ["Forsterite", "Calcite", "Unobtainium"], q, pipe, "raman")
    assert set(best) == {"Forsterite", "Calcite"}
    ref, ry, r = best["Forsterite"]
    assert ref.metadata["sample_id"] == "R040057"
    assert r == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(ry, q, atol=1e-9)
    # independent reference: NumPy's Pearson over every stored calcite
    calcites = [s for s in spectra if s.metadata["mineral"] == "Calcite"]
    R = pipe.transform(calcites)
    rs = [np.corrcoef(q, row)[0, 1] for row in R]
    assert (
        best["Calcite"][0].metadata["sample_id"]
        == calcites[int(np.argmax(rs))].metadata["sample_id"]
    )
    assert best["Calcite"][2] == pytest.approx(max(rs), abs=1e-5)
    assert best_references(None, ["Forsterite"], q, pipe, "raman") == {}
    assert best_references(db, ["Forsterite"], q, pipe, "ir") == {}


def test_plot_names_the_reference_drawn_and_refuses_to_overwrite(setup, tmp_path):
    db, spectra, pipe = setup
    result = _result([("Forsterite", 0.8, 0.99), ("Calcite", 0.1, 0.2), ("Unobtainium", 0.1, 0.1)])
    out = tmp_path / "plot.svg"
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text stays searchable
        assert plot_identification(spectra[2], result, pipe, out, db=db) == out
    svg = out.read_text()
    assert "best reference R040057 (r=1.00)" in svg
    assert "Unobtainium" in svg and "no reference spectrum in MinDB" in svg
    before = out.read_bytes()
    with pytest.raises(InputError, match=r"plot\.svg: the file exists; choose another name or"):
        plot_identification(spectra[2], result, pipe, out, db=db)
    assert out.read_bytes() == before
    png = plot_identification(spectra[0], result, pipe, tmp_path / "p.png", db=db)
    assert png.stat().st_size > 10_000
    plot_identification(spectra[0], result, pipe, out, db=db, overwrite=True)
    assert out.read_bytes() != before
    with pytest.raises(InputError, match="use a .png, .svg or .pdf"):
        plot_identification(spectra[0], result, pipe, tmp_path / "p.gif", db=db)
