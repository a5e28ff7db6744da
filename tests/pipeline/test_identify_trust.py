"""identify's trust outputs: prediction set, unknown verdict, explanation, plot."""

from __future__ import annotations

import numpy as np
import pytest

from lithoscope.models.library import LibrarySearch
from lithoscope.models.registry import Registry
from lithoscope.pipeline.identify import Identifier
from lithoscope.pipeline.train import calibrate
from lithoscope.spectra.preprocessing import make_preset, pipeline_to_dict
from lithoscope.spectra.spectrum import Spectrum


@pytest.fixture
def registered(raman_small, split_small, tmp_path):
    """A library model calibrated on held-out samples, in a registry of its own."""
    X, y, groups, axis = raman_small
    train, test = split_small
    # the last 6 minerals are never trained on: they play the unknown minerals
    unseen = np.unique(y)[-6:]
    fit = train[~np.isin(y[train], unseen)]
    model = LibrarySearch(axis=axis).fit(X[fit], y[fit], groups=groups[fit])
    model.set_provenance(preprocessing=pipeline_to_dict(make_preset("raman")), method="raman")
    conformal, unknown, summary = calibrate(model, X[test], y[test], false_unknown_rate=0.05)
    registry = Registry(tmp_path / "models")
    ref = registry.register(model, "trust-test")
    conformal.save(ref.path / "conformal.json")
    unknown.save(ref.path / "unknown.json")
    return registry, X, y, axis, test, unseen, summary


def as_spectrum(x, axis, label):
    return Spectrum(axis, x, "raman", metadata={"mineral": label, "file": f"{label}.txt"})


def test_identify_reports_set_unknown_and_explanation(registered):
    registry, X, y, axis, test, unseen, summary = registered
    assert summary["n_unseen_minerals_left_out"] > 0
    ident = Identifier(registry=registry)
    known = [i for i in test if y[i] not in unseen]
    in_set = []
    for i in known:
        result = ident.identify(as_spectrum(X[i], axis, y[i]), confidence=0.9).to_dict()
        assert result["confidence_level"] == 0.9
        assert result["prediction_set"][0] == result["candidates"][0]["mineral"]
        in_set.append(y[i] in result["prediction_set"])
    assert np.mean(in_set) >= 0.75  # 90 % sets; small calibration set, few test spectra

    novel = [i for i in test if y[i] in unseen]
    scores_novel = [
        ident.identify(as_spectrum(X[i], axis, y[i])).to_dict()["unknown_score"] for i in novel
    ]
    scores_known = [
        ident.identify(as_spectrum(X[i], axis, y[i])).to_dict()["unknown_score"] for i in known
    ]
    assert np.mean(scores_novel) > np.mean(scores_known)

    result = ident.identify(as_spectrum(X[known[0]], axis, "q"), explain=True).to_dict()
    expl = result["explanation"]
    assert {"peaks", "top_regions"} <= set(expl)
    for lo, hi, w in expl["top_regions"]:
        assert axis[0] <= lo <= hi <= axis[-1] and 0 < w <= 1
    assert ident.last_attribution.shape == axis.shape


def test_larger_confidence_gives_larger_sets(registered):
    registry, X, y, axis, test, _, _ = registered
    ident = Identifier(registry=registry)
    s = as_spectrum(X[test[0]], axis, y[test[0]])
    small = ident.identify(s, confidence=0.8).to_dict()["prediction_set"]
    large = ident.identify(s, confidence=0.99).to_dict()["prediction_set"]
    assert set(small) <= set(large)


def test_plot_shows_attribution_and_set(registered, tmp_path):
    from lithoscope.pipeline.plots import plot_identification

    registry, X, y, axis, test, _, _ = registered
    ident = Identifier(registry=registry)
    s = as_spectrum(X[test[0]], axis, y[test[0]])
    result = ident.identify(s, explain=True).to_dict()
    out = plot_identification(
        s,
        result,
        ident.loaded("raman").pipeline,
        tmp_path / "p.png",
        attribution=ident.last_attribution,
    )
    assert out.stat().st_size > 10_000
