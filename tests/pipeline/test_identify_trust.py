"""identify's trust outputs: prediction set, unknown verdict, explanation, plot."""

from __future__ import annotations

import numpy as np
import pytest

from lithoscope.models.library import LibrarySearch
from lithoscope.pipeline.bundle import single_method
from lithoscope.pipeline.identify import identify_batch
from lithoscope.pipeline.registry import Registry
from lithoscope.pipeline.train import calibrate
from lithoscope.spectra.preprocessing import make_preset, pipeline_to_dict
from lithoscope.spectra.spectrum import Spectrum


@pytest.fixture
def registered(raman_small, split_small, tmp_path):
    """A library model calibrated on held-out samples, registered in a registry of its own."""
    X, y, groups, axis = raman_small
    train, test = split_small
    # the last 6 minerals are never trained on: they play the unknown minerals
    unseen = np.unique(y)[-6:]
    fit = train[~np.isin(y[train], unseen)]
    model = LibrarySearch(axis=axis).fit(X[fit], y[fit], groups=groups[fit])
    conformal, unknown, summary = calibrate(model, X[test], y[test], false_unknown_rate=0.05)
    bundle = single_method(
        "raman",
        model,
        pipeline_to_dict(make_preset("raman")),
        conformal=conformal,
        unknown=unknown,
        calibration=summary,
    )
    registry = Registry(tmp_path / "models")
    registry.register(bundle, "trust-test")
    loaded, _ = registry.load(method="raman")
    return loaded, X, y, axis, test, unseen, summary


def as_spectrum(x, axis, label):
    return Spectrum(axis, x, "raman", metadata={"mineral": label, "file": f"{label}.txt"})


def test_identify_reports_set_unknown_and_explanation(registered):
    bundle, X, y, axis, test, unseen, summary = registered
    assert summary["n_unseen_minerals_left_out"] > 0
    known = [i for i in test if y[i] not in unseen]
    results = identify_batch([as_spectrum(X[i], axis, y[i]) for i in known], bundle)
    in_set = []
    for i, result in zip(known, results, strict=True):
        data = result.to_dict()
        assert data["confidence_level"] == 0.9 and data["coverage"] == 1.0
        assert data["prediction_set"][0] == data["candidates"][0]["mineral"]
        in_set.append(y[i] in data["prediction_set"])
    assert np.mean(in_set) >= 0.75  # 90 % sets; small calibration set, few test spectra

    novel = [i for i in test if y[i] in unseen]
    scores_novel = [
        r.unknown_score
        for r in identify_batch([as_spectrum(X[i], axis, "") for i in novel], bundle)
    ]
    assert np.mean(scores_novel) > np.mean([r.unknown_score for r in results])

    result = identify_batch([as_spectrum(X[known[0]], axis, "q")], bundle, explain=True)[0]
    expl = result.to_dict()["explanation"]
    assert {"peaks", "top_regions"} <= set(expl)
    for lo, hi, w in expl["top_regions"]:
        assert axis[0] <= lo <= hi <= axis[-1] and 0 < w <= 1
    assert result.attribution.shape == axis.shape


def test_batch_equals_one_by_one(registered):
    bundle, X, y, axis, test, _, _ = registered
    spectra = [as_spectrum(X[i], axis, y[i]) for i in test[:12]]
    batch = [r.to_dict() for r in identify_batch(spectra, bundle, top=4)]
    single = [identify_batch([s], bundle, top=4)[0].to_dict() for s in spectra]
    for a, b in zip(batch, single, strict=True):
        assert [c["mineral"] for c in a["candidates"]] == [c["mineral"] for c in b["candidates"]]
        np.testing.assert_allclose(
            [c["probability"] for c in a["candidates"]],
            [c["probability"] for c in b["candidates"]],
            rtol=1e-4,  # float32 similarities: a batch and a row go through BLAS differently
            atol=1e-7,
        )
        assert a["prediction_set"] == b["prediction_set"] and a["unknown"] == b["unknown"]


def test_larger_confidence_gives_larger_sets(registered):
    bundle, X, y, axis, test, _, _ = registered
    s = as_spectrum(X[test[0]], axis, y[test[0]])
    small = identify_batch([s], bundle, confidence=0.8)[0].prediction_set
    large = identify_batch([s], bundle, confidence=0.99)[0].prediction_set
    assert set(small) <= set(large)


def test_plot_shows_attribution_and_set(registered, tmp_path):
    from lithoscope.pipeline.plots import plot_identification

    bundle, X, y, axis, test, _, _ = registered
    s = as_spectrum(X[test[0]], axis, y[test[0]])
    result = identify_batch([s], bundle, explain=True)[0]
    out = plot_identification(
        s,
        result.to_dict(),
        bundle.part("raman").pipeline,
        tmp_path / "p.png",
        attribution=result.attribution,
    )
    assert out.stat().st_size > 10_000
