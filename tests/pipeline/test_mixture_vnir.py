"""VNIR as a lithoscope method: ingest korda2024, train --method vnir [--mixture], identify.

A real subset of the Korda & Kohout (2024) spectra goes into a fresh MinDB; one lunar
anorthosite (65315,153, both of its grain-size splits) is kept out of MinDB and identified.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from lithoscope.config import get_settings
from lithoscope.data.vnir import MODES, ingest_korda, ingest_usgs, load_korda
from lithoscope.errors import InputError
from lithoscope.mindb import connect
from lithoscope.models.modal import MIXTURE_CLASSES, ModalMixtureModel
from lithoscope.pipeline.bundle import IdentificationModel
from lithoscope.pipeline.mixture import identify_mixtures
from lithoscope.pipeline.train import train
from lithoscope.spectra.measurement import Context, Measurement
from lithoscope.spectra.spectrum import Spectrum
from tests.cli_runner import run

HELD_OUT = "65315,153"
#: a small, quick ensemble: enough to check the plumbing, not the accuracy
FAST = {"epochs": 60, "hidden": 32, "n_members": 3}


@pytest.fixture(scope="module")
def korda(shared_data, tmp_path_factory):
    return load_korda(shared_data, dest=tmp_path_factory.mktemp("korda"))


@pytest.fixture(scope="module")
def held_out(korda):
    """Rows of the lunar anorthosite kept out of MinDB."""
    return np.flatnonzero(korda.metadata["SampleName"].str.startswith(HELD_OUT).to_numpy())


@pytest.fixture(scope="module")
def trained(tmp_path_factory, korda, held_out):
    """A data folder whose MinDB holds a quarter of the Korda spectra, every lunar one and every
    pure plagioclase (minus the held-out rock), and a vnir library model with --mixture."""
    data_dir = tmp_path_factory.mktemp("vnir-data")
    lunar = korda.subset("lunar")
    plagioclase = np.nan_to_num(korda.modes[:, 3]) >= 0.99
    keep = (np.arange(len(korda)) % 4 == 0) | lunar | plagioclase
    keep[held_out] = False
    mp = pytest.MonkeyPatch()
    mp.setenv("LITHOSCOPE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    try:
        with connect() as db:
            db.build()
            report = ingest_korda(db, korda.take(keep))
            result = train(
                db,
                "vnir",
                "library",
                mixture=True,
                calibration_size=0.3,
                mixture_params=FAST,
                make_default=True,
            )
    finally:
        mp.undo()
        get_settings.cache_clear()
    return data_dir, result, report, int(keep.sum()), int((keep & korda.has_modes).sum())


def _two_column(path, korda, row):
    path.write_text(
        "\n".join(
            f"{x:g}, {v:.6f}"
            for x, v in zip(korda.wavelength_nm, korda.reflectance[row], strict=True)
        )
        + "\n"
    )
    return path


def test_train_vnir_library_with_a_modal_mixture_model(trained):
    _data_dir, result, report, n_kept, n_labelled = trained
    assert report.ingested == n_kept and report.unmatched == {}
    bundle = IdentificationModel.load(result.ref.path)
    part = bundle.part("vnir")
    np.testing.assert_allclose(part.grid, np.arange(450.0, 2450.1, 5.0))
    assert {"Forsterite", "Enstatite", "Augite", "Anorthite"} <= set(part.classes.tolist())
    assert not any(c.startswith(("rock", "mixture")) for c in part.classes.tolist())
    model = part.mixture
    assert isinstance(model, ModalMixtureModel)
    assert list(model.classes) == list(MIXTURE_CLASSES)
    np.testing.assert_allclose(model.axis, part.grid)
    summary = result.calibration["mixture"]
    assert summary["kind"] == "modal"
    # every ingested spectrum with its four modes known is on exactly one side
    assert summary["training_spectra"] + summary["calibration_spectra"] == n_labelled
    cal = summary["calibration"]
    assert cal["spectra"] == summary["calibration_spectra"] >= 20
    assert 0.01 <= cal["threshold"] <= 0.15 and cal["sd_scale"] > 0
    assert summary["regressor"]["n_members"] == 3


def test_identify_mixture_vnir_json_on_a_held_out_lunar_rock(
    trained, korda, held_out, tmp_path, monkeypatch, capsys
):
    data_dir, result, *_ = trained
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    path = _two_column(tmp_path / "anorthosite.txt", korda, held_out[0])
    code, out, err = run(
        monkeypatch,
        capsys,
        "identify",
        "--mixture",
        str(path),
        "--method",
        "vnir",
        "--body",
        "moon",
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert {"input", "method", "model", "abundance_unit", "minerals", "rock", "warnings"} <= set(
        doc
    )
    assert doc["method"] == "vnir" and doc["model"] == str(result.ref)
    assert doc["abundance_unit"] == "vol %" and doc["refused"] is None
    present = [m for m in doc["minerals"] if m["present"]]
    assert present and sum(m["abundance"] for m in present) == pytest.approx(100, abs=0.1)
    for m in doc["minerals"]:
        assert m["mineral"] in MIXTURE_CLASSES
        assert {
            "mineral",
            "present",
            "present_probability",
            "abundance",
            "abundance_sd",
            "formula",
            "group",
            "chemistry",
        } <= set(m)
        assert 0 <= m["present_probability"] <= 1 and m["abundance_sd"] >= 0
        assert all(0 <= v <= 100 for v in m["chemistry"].values())
    # 98.5 vol % plagioclase (An 97.5): the lunar scheme names an anorthosite
    assert present[0]["mineral"] == "plagioclase", doc["minerals"]
    assert set(present[0]["chemistry"]) == {"An"}
    rock = doc["rock"]
    assert rock["scheme"] == "lunar" and "anorthosite" in rock["name"], rock
    assert any("An" in step for step in rock["reasoning"])
    # without a body: the IUGS name
    code, out, _ = run(
        monkeypatch, capsys, "identify", "--mixture", str(path), "--method", "vnir", "--json"
    )
    assert code == 0 and json.loads(out)["rock"]["scheme"].startswith("iugs")
    # readable: the modes with their chemistry; --plot draws the spectrum and the modes
    plot = tmp_path / "modes.png"
    code, out, err = run(
        monkeypatch,
        capsys,
        "identify",
        "--mixture",
        str(path),
        "--method",
        "vnir",
        "--plot",
        str(plot),
    )
    assert code == 0, err
    assert "plagioclase" in out and "An " in out
    assert plot.stat().st_size > 10_000


def test_identify_mixtures_vnir_batch_equals_one_by_one(trained, korda, held_out):
    _, result, *_ = trained
    bundle = IdentificationModel.load(result.ref.path)
    rows = [*held_out.tolist(), 0]  # the anorthosite's two splits and an LL chondrite
    measurements = [
        Measurement.of(
            Spectrum(korda.wavelength_nm, korda.reflectance[r], "vnir"),
            name=f"row {r}",
            context=Context(body="moon" if r in held_out else "meteorite"),
        )
        for r in rows
    ]
    batch = identify_mixtures(measurements, bundle)
    single = [identify_mixtures([m], bundle)[0] for m in measurements]
    for a, b in zip(batch, single, strict=True):
        assert a.to_json() == b.to_json()
        assert a.fitted is None and a.components == {}  # a modal model fits no spectrum
    modes = korda.modes[rows]
    for r, answer in zip(range(len(rows)), batch, strict=True):
        got = {m["mineral"]: m["abundance"] for m in answer.minerals if m["present"]}
        assert set(got) <= set(MIXTURE_CLASSES)
        # the answer's modes, as % of the four silicates, against the labels (loose: tiny model)
        truth = dict(zip(MIXTURE_CLASSES, modes[r] * 100, strict=True))
        assert np.mean([abs(got.get(k, 0.0) - v) for k, v in truth.items()]) < 25


def test_identify_vnir_mineral_spectrum_with_the_library_model(
    trained, korda, tmp_path, monkeypatch, capsys
):
    data_dir, *_ = trained
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    # a pure olivine that is in MinDB: its own species comes first
    olivine = int(np.flatnonzero((korda.modes[:, 0] >= 0.99) & (np.arange(len(korda)) % 4 == 0))[0])
    path = _two_column(tmp_path / "olivine.txt", korda, olivine)
    code, out, err = run(
        monkeypatch, capsys, "identify", str(path), "--method", "vnir", "--json", "--no-explain"
    )
    assert code == 0, err
    doc = json.loads(out)
    expected = "Forsterite" if korda.labels["Fo"][olivine] >= 0.5 else "Fayalite"
    assert doc["candidates"][0]["mineral"] == expected, doc["candidates"][:3]


def test_vnir_mixture_needs_spectra_with_modal_labels(tmp_path, monkeypatch, shared_data):
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    with connect() as db:
        db.build()
        ingest_usgs(db, mirror=shared_data)  # minerals without modes
        with pytest.raises(InputError, match="no vnir spectra with modal labels"):
            train(db, "vnir", "library", mixture=True, calibration_size=0.3)
        # without --mixture the library model trains on them
        assert train(db, "vnir", "library", calibration_size=0).dataset.info["n_minerals"] > 10


def test_modes_are_read_through_mindb_not_the_mirror(trained, korda, monkeypatch):
    """The stored labels are the mirror's: what the mixture model learned from."""
    data_dir, *_ = trained
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    with connect() as db:
        stored = db.spectra_arrays(method="vnir", extra=True)
    by_id = {m["extra"]["relab_spectrum_id"]: m["extra"] for m in stored.metadata}
    ids = korda.metadata["SpectrumID"].tolist()
    for i in (0, 4, 8):
        np.testing.assert_allclose(
            [by_id[ids[i]]["modes"][m] for m in MODES], korda.modes[i], atol=1e-6
        )


def _answer(chemistry_sd):
    from lithoscope.pipeline.mixture import MixtureResult

    result = MixtureResult("x", "vnir", "m")
    result.minerals = [
        {
            "mineral": "olivine",
            "present": True,
            "abundance": 55.0,
            "chemistry": {"Fo": 75.0},
            "chemistry_sd": {"Fo": chemistry_sd},
        },
        {
            "mineral": "orthopyroxene",
            "present": True,
            "abundance": 25.0,
            "chemistry": {"Fs": 21.0, "Wo": 1.0},
            "chemistry_sd": {"Fs": chemistry_sd, "Wo": 0.5},
        },
        {"mineral": "clinopyroxene", "present": True, "abundance": 8.0, "chemistry": {}},
        {
            "mineral": "plagioclase",
            "present": True,
            "abundance": 12.0,
            "chemistry": {"An": 12.0},
            "chemistry_sd": {"An": 30.0},
        },
    ]
    return result


def test_rock_name_uses_predicted_chemistry_only_when_it_is_precise():
    from lithoscope.pipeline.mixture import ROCK_CHEMISTRY_SD, _rock

    # an ordinary chondrite with olivine Fa 25 (+- 2): L by Fa; An +- 30 is left out
    precise = _answer(2.0)
    rock = _rock(precise, "meteorite", None)
    assert rock["name"] == "L chondrite"
    assert any("Fa 25" in step for step in rock["reasoning"]), rock["reasoning"]
    assert precise.warnings == [
        f"plagioclase An 12 +- 30 mol % is too uncertain (sd > {ROCK_CHEMISTRY_SD:g}) to name "
        "the rock: left out"
    ]
    vague = _answer(ROCK_CHEMISTRY_SD + 1)
    rock = _rock(vague, "meteorite", None)
    assert not any("Fa 25" in step for step in rock["reasoning"])
    assert len(vague.warnings) == 3
    # the caller's An wins over the prediction, whatever its sd
    given = _answer(2.0)
    _rock(given, "meteorite", 15.0)
    assert given.warnings == []


def test_a_pipeline_test_side_is_kept_out_of_the_modal_model_and_scores_it(trained, monkeypatch):
    """With ``test_idx`` (a pipeline's test samples) the modal model neither learns from nor
    calibrates on those materials; `evaluate_mixture_model` scores it on exactly them."""
    from lithoscope.data.datasets import DatasetSpec, build_dataset
    from lithoscope.pipeline.mixture import _modal_labelled, _on_side, evaluate_mixture_model
    from lithoscope.pipeline.runner import sample_split
    from lithoscope.pipeline.train import fit_part
    from lithoscope.spectra.preprocessing import make_preset

    data_dir, *_ = trained
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()  # the suite's own fixture clears it again afterwards
    with connect() as db:
        pipe = make_preset("vnir")
        dataset = build_dataset(db, DatasetSpec.from_pipeline(pipe), pipeline=pipe)
        test = sample_split(dataset.groups, 0.25, "0:test")
        cal = ~test & sample_split(dataset.groups, 0.3, "0:calibration")
        test_idx = np.flatnonzero(test)
        part = fit_part(
            db,
            dataset,
            "library",
            fit_idx=np.flatnonzero(~test & ~cal),
            cal_idx=np.flatnonzero(cal),
            mixture=True,
            mixture_params=FAST,
            test_idx=test_idx,
        ).part
        _, y, material = _modal_labelled(db, "vnir", pipe)
        tested = _on_side(material, dataset.groups, test_idx)
        figures = evaluate_mixture_model(db, dataset, part.mixture, test_idx, pipeline=pipe)
    summary = part.mixture.summary
    assert 0 < tested.sum() < tested.size
    assert summary["training_spectra"] + summary["calibration_spectra"] == (~tested).sum()
    complete = np.isfinite(y[tested, :4]).all(axis=1).sum()
    assert figures["spectra"] == complete > 0
    assert figures["materials"] == np.unique(material[tested]).size
    assert figures["on"] == "test samples with measured modes"
    assert 0.0 <= figures["presence_micro_f1"] <= 1.0
    assert 0.0 <= figures["abundance_mae_vol_pct"] <= 100.0
