"""identify_batch never raises on what a spectrum file can hold: random axes and intensities."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lithoscope.errors import InputError
from lithoscope.models.library import LibrarySearch
from lithoscope.pipeline.bundle import single_method
from lithoscope.pipeline.identify import identify_batch
from lithoscope.pipeline.train import calibrate
from lithoscope.spectra.preprocessing import make_preset, pipeline_to_dict
from lithoscope.spectra.spectrum import Spectrum


@pytest.fixture(scope="module")
def bundle(raman_small, split_small):
    X, y, groups, axis = raman_small
    train, test = split_small
    model = LibrarySearch(axis=axis).fit(X[train], y[train], groups=groups[train])
    conformal, unknown, summary = calibrate(model, X[test], y[test], false_unknown_rate=0.1)
    return single_method(
        "raman",
        model,
        pipeline_to_dict(make_preset("raman")),
        conformal=conformal,
        unknown=unknown,
        calibration=summary,
    )


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def raw_spectra(draw):
    n = draw(st.integers(2, 300))
    start = draw(st.floats(-500, 3000))
    steps = draw(arrays(np.float64, n - 1, elements=st.floats(1e-3, 50)))
    axis = start + np.concatenate([[0.0], np.cumsum(steps)])
    kind = draw(st.sampled_from(["random", "constant", "negative", "spiky", "tiny"]))
    y = draw(arrays(np.float64, n, elements=finite))
    if kind == "constant":
        y = np.full(n, y[0])
    elif kind == "negative":
        y = -np.abs(y) - 1
    elif kind == "spiky":
        y = np.zeros(n)
        y[draw(st.integers(0, n - 1))] = 1e6
    elif kind == "tiny":
        y = y * 1e-300
    return axis, y


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(raw_spectra(), min_size=1, max_size=4))
def test_random_spectra_get_an_answer_or_a_one_line_refusal(bundle, batch):
    spectra = []
    for axis, y in batch:
        try:
            spectra.append(Spectrum(axis, y, "raman", metadata={"file": "fuzz.txt"}))
        except InputError as exc:  # what the readers would report for the file
            assert "\n" not in str(exc)
    if not spectra:
        return
    for result in identify_batch(spectra, bundle, top=3):
        data = result.to_dict()
        assert 0 <= data["coverage"] <= 1
        if result.refused is not None:
            assert "\n" not in result.refused and data["candidates"] == []
            continue
        probs = [c["probability"] for c in data["candidates"]]
        assert np.all(np.isfinite(probs)) and sum(probs) <= 1 + 1e-6
        assert data["prediction_set"] and isinstance(data["unknown"], bool)
        if data["coverage"] < 0.5:
            assert data["unknown"] is True
