"""identify with planetary context (--body) and answers at group level."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lithoscope.models.library import LibrarySearch
from lithoscope.physics.composition import CompositionEstimator
from lithoscope.pipeline.bundle import IdentificationModel, single_method
from lithoscope.pipeline.identify import identify_batch
from lithoscope.spectra.measurement import Context, Measurement
from lithoscope.spectra.preprocessing import make_preset, pipeline_to_dict
from lithoscope.spectra.spectrum import Spectrum
from lithoscope.uncertainty.calibration import calibrate, calibrate_context


@pytest.fixture(scope="module")
def bundle(raman_small, split_small, tmp_path_factory):
    """A library bundle with a context prior ('moon': the first half of the minerals) and
    groups (every garnet and 'pair' of two minerals as a group), saved and loaded back."""
    X, y, groups, axis = raman_small
    train, test = split_small
    model = LibrarySearch(axis=axis).fit(X[train], y[train], groups=groups[train])
    conformal, unknown, summary = calibrate(model, X[test], y[test])
    minerals = np.unique(y)
    moon = minerals[: minerals.size // 2].tolist()
    context = calibrate_context(model, X[test], y[test], {"moon": moon})
    species_groups = {m: f"pair {i // 2}" for i, m in enumerate(minerals.tolist())}
    # plagioclase composition from the two end members' spectra (An 0 and An 100)
    plag = train[np.isin(y[train], ["Albite", "Anorthite"])]
    composition = CompositionEstimator(axis=axis, min_samples=2).fit(
        X[plag],
        ["plagioclase"] * plag.size,
        [{"An": 0.0 if y[i] == "Albite" else 100.0} for i in plag],
        groups=groups[plag],
    )
    made = single_method(
        "raman",
        model,
        pipeline_to_dict(make_preset("raman")),
        conformal=conformal,
        unknown=unknown,
        calibration=summary,
        context=context,
        groups=species_groups,
        composition=composition,
    )
    path = made.save(tmp_path_factory.mktemp("ctx") / "bundle")
    return IdentificationModel.load(path), moon


def spectra(raman_small, index):
    X, y, _, axis = raman_small
    return [Spectrum(axis, X[i], "raman", metadata={"file": f"{y[i]}.txt"}) for i in index]


def test_body_reweights_marks_and_never_excludes(bundle, raman_small, split_small):
    model, moon = bundle
    _, y, _, _ = raman_small
    _, test = split_small
    items = spectra(raman_small, test)
    plain = identify_batch(items, model)
    lunar = identify_batch([Measurement.of(s, context=Context(body="moon")) for s in items], model)
    right_plain = right_lunar = kept = 0
    n_moon = 0
    for i, a, b in zip(test, plain, lunar, strict=True):
        assert b.context == {"body": "moon"}
        probs = [c["probability"] for c in b.candidates]
        assert probs == sorted(probs, reverse=True)
        for c in b.candidates:
            assert c["reported_on_body"] == (c["mineral"] in moon)
            assert ("note" in c) == (c["mineral"] not in moon)
            if "note" in c:
                assert c["note"] == "not reported on the Moon"
            assert 0 < c["probability_without_context"] <= 1
        assert "reported_on_body" not in a.candidates[0]
        if y[i] in moon:
            n_moon += 1
            right_plain += a.top == y[i]
            right_lunar += b.top == y[i]
        elif a.top == y[i] and a.candidates[0]["probability"] > 0.9:
            # a mineral not reported there is still found when its spectrum is clear
            assert y[i] in [c["mineral"] for c in b.candidates]
            kept += 1
    assert n_moon > 5 and right_lunar >= right_plain and kept > 0
    doc = json.loads(json.dumps(lunar[0].to_dict()))
    assert doc["context"] == {"body": "moon"}


def test_a_body_without_a_prior_is_answered_without_it_and_says_so(bundle, raman_small):
    model, _ = bundle
    s = spectra(raman_small, [0])[0]
    [result] = identify_batch([Measurement.of(s, context=Context(body="mars"))], model)
    assert any("context 'mars' not used" in w for w in result.warnings)
    assert "reported_on_body" not in result.candidates[0]


def test_group_answer_sums_its_species(bundle, raman_small, split_small):
    model, _ = bundle
    _, test = split_small
    for result in identify_batch(spectra(raman_small, test[:10]), model):
        group = result.group
        assert group is not None and group["name"].startswith("pair ")
        assert result.top in group["species"]
        members = [m for m, g in model.part("raman").groups.items() if g == group["name"]]
        assert set(group["species"]) <= set(members)
        assert group["level"] in ("species", "group")
        if group["level"] == "group":
            assert len(result.prediction_set) >= 2
            assert set(result.prediction_set) <= set(members)
        assert result.to_dict()["group"] == group


def test_plagioclase_answers_carry_their_composition(bundle, raman_small, split_small):
    model, _ = bundle
    _, y, _, _ = raman_small
    _, test = split_small
    results = identify_batch(spectra(raman_small, test), model)
    seen = 0
    for i, result in zip(test, results, strict=True):
        if result.top in ("Albite", "Anorthite"):
            comp = result.to_dict()["composition"]
            assert set(comp) == {"An", "An_sd", "method"} and 0 <= comp["An"] <= 100
            assert comp["An_sd"] > 0 and "regression" in comp["method"]
            # the end members land on their own side of the series
            assert (comp["An"] > 50) == (y[i] == "Anorthite")
            seen += 1
        else:
            assert result.composition is None and "composition" not in result.to_dict()
    assert seen >= 2


def test_the_table_shows_group_level_and_composition(bundle, raman_small, split_small, capsys):
    from lithoscope.cli import _render_answer

    model, _ = bundle
    _, test = split_small
    results = identify_batch(spectra(raman_small, test), model)
    plag = next(r for r in results if r.composition is not None)
    data = plag.to_dict()
    data["group"] = {**data["group"], "level": "group"}
    _render_answer(data)
    out = capsys.readouterr().out
    assert "composition: An " in out and "+-" in out
    assert data["group"]["name"] in out and "does not separate" in out


def test_chemistry_in_the_context_checks_and_reranks_candidates(
    bundle, raman_small, split_small, built_db_url
):
    from lithoscope.mindb import connect

    model, _ = bundle
    y = raman_small[1]
    _, test = split_small
    i = int(next(j for j in test if y[j] == "Anorthite"))
    s = spectra(raman_small, [i])[0]
    with connect(built_db_url) as db:
        [plain] = identify_batch([s], model, db=db)
        # the user measured a sodic feldspar: no Ca
        chem = Context(chemistry={"Na2O": 11.8, "Al2O3": 19.4, "SiO2": 68.7})
        [checked] = identify_batch([Measurement.of(s, context=chem)], model, db=db)
    assert "consistency" not in plain.candidates[0]
    by_name = {c["mineral"]: c for c in checked.candidates}
    assert by_name["Anorthite"]["consistency"]["score"] < 0.5
    assert any("Ca" in text for text in by_name["Anorthite"]["consistency"]["contradictions"])
    if "Albite" in by_name:
        assert (
            by_name["Albite"]["consistency"]["score"] > by_name["Anorthite"]["consistency"]["score"]
        )
        assert by_name["Albite"]["probability"] / by_name["Anorthite"]["probability"] > (
            {c["mineral"]: c for c in plain.candidates}["Albite"]["probability"]
            / {c["mineral"]: c for c in plain.candidates}["Anorthite"]["probability"]
        )
    probs = [c["probability"] for c in checked.candidates]
    assert probs == sorted(probs, reverse=True)
