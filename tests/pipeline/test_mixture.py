"""train --mixture and identify --mixture: minerals, abundances and the rock name of a mixture."""

from __future__ import annotations

import json
import re
import zipfile
from collections import defaultdict

import numpy as np
import pytest

from lithoscope.config import get_settings
from lithoscope.data.ingest import ingest
from lithoscope.mindb import connect
from lithoscope.pipeline.bundle import IdentificationModel
from lithoscope.pipeline.mixture import fit_mixture_model, identify_mixtures
from lithoscope.pipeline.registry import Registry
from lithoscope.pipeline.train import train
from lithoscope.spectra.io import read_spectrum
from lithoscope.spectra.measurement import Context, Measurement
from tests.cli_runner import run

#: rock-forming minerals of the lunar and Martian assemblages, plus two that are in none
MINERALS = [
    "Anorthite",
    "Augite",
    "Diopside",
    "Enstatite",
    "Forsterite",
    "Ilmenite",
    "Quartz",
    "Albite",
    "Calcite",
    "Gypsum",
    "Hematite",
    "Beryl",
    "Topaz",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shared_data):
    """A data folder whose MinDB holds Raman spectra of MINERALS and a library model trained
    with --mixture (registered as the default Raman model)."""
    data_dir = tmp_path_factory.mktemp("mixture-data")
    source = zipfile.ZipFile(shared_data / "rruff" / "raman" / "excellent_unoriented.zip")
    by_mineral: dict[str, list[str]] = defaultdict(list)
    for n in source.namelist():
        m = re.match(r"([^_]+)__([RX]\d{6})__Raman__532__", n)
        if m and m.group(1) in MINERALS:
            by_mineral[m.group(1)].append(n)
    zpath = data_dir / "raman.zip"
    with zipfile.ZipFile(zpath, "w") as out:
        for names in by_mineral.values():
            for n in names[:6]:
                out.writestr(n, source.read(n))
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
                mixture_params={"epochs": 2, "steps_per_epoch": 8, "n_validation": 100},
                calibration_size=0.3,
            )
    finally:
        mp.undo()
        get_settings.cache_clear()
    return data_dir, result


def _mixture_file(path, bundle, fractions):
    """A two-column file of an efficiency-weighted mixture of training references (on the
    model's grid) with known volume fractions."""
    model = bundle.part("raman").mixture
    unmixer = model.unmixer
    classes = unmixer.classes_.tolist()
    y = np.zeros(unmixer.axis_.size)
    for name, fraction in fractions.items():
        j = classes.index(name)
        ref = unmixer.references_[unmixer.reference_labels_ == j].mean(axis=0)
        y += fraction * unmixer.efficiencies_[j] * ref / ref.max()
    y = y + 0.05  # a flat offset the background term absorbs
    path.write_text(
        "\n".join(f"{x:.3f}, {v:.6f}" for x, v in zip(unmixer.axis_, y, strict=True)) + "\n"
    )
    return path


def test_train_mixture_stores_a_validated_mixture_model(trained):
    _data_dir, result = trained
    bundle = IdentificationModel.load(result.ref.path)
    model = bundle.part("raman").mixture
    assert model is not None
    classes = set(model.classes.tolist())
    assert {"Anorthite", "Forsterite", "Augite"} <= classes
    assert not classes & {"Beryl", "Topaz"}, "only minerals of the planetary rock types"
    summary = result.calibration["mixture"]
    assert summary["minerals"] == len(classes)
    assert summary["validation"]["mixtures"] == 600
    assert 0 <= summary["validation"]["micro_f1"] <= 1
    assert np.all((model.unmixer.thresholds_ > 0) & (model.unmixer.thresholds_ < 1))
    # the network is there, knows the same minerals, and the presence map is monotone
    assert model.network is not None
    np.testing.assert_array_equal(model.network.classes_, model.unmixer.classes_)
    xs, ps = model.presence_map
    assert np.all(np.diff(xs) >= 0) and np.all(np.diff(ps) >= 0)
    assert 0 <= ps[0] <= ps[-1] <= 1
    assert model.conformal["confidence"] == 0.9 and model.conformal["n"] >= 10
    assert model.sd_scale > 0 and summary["validation"]["sd_scale"] == model.sd_scale
    # every efficiency is documented: a value and where it comes from
    assert all({"value", "status"} <= set(e) for e in summary["efficiencies"].values())


def test_identify_mixture_finds_both_minerals_and_names_the_rock(
    trained, tmp_path, monkeypatch, capsys
):
    data_dir, result = trained
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    bundle = IdentificationModel.load(result.ref.path)
    path = _mixture_file(tmp_path / "rock.txt", bundle, {"Anorthite": 0.7, "Forsterite": 0.3})
    plot = tmp_path / "rock.png"
    code, out, err = run(
        monkeypatch,
        capsys,
        "identify",
        "--mixture",
        str(path),
        "--method",
        "raman",
        "--body",
        "moon",
        "--plot",
        str(plot),
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert {"input", "minerals", "rock", "abundance_unit"} <= set(doc)
    present = {m["mineral"]: m for m in doc["minerals"] if m["present"]}
    assert {"Anorthite", "Forsterite"} <= set(present), doc["minerals"]
    for m in doc["minerals"]:
        assert {"mineral", "present_probability", "abundance", "abundance_sd"} <= set(m)
        assert 0 <= m["present_probability"] <= 1 and m["abundance_sd"] >= 0
    assert abs(present["Anorthite"]["abundance"] - 70) < 15
    assert abs(present["Forsterite"]["abundance"] - 30) < 15
    assert sum(m["abundance"] for m in present.values()) == pytest.approx(100, abs=0.1)
    rock = doc["rock"]
    assert set(rock) == {"name", "scheme", "field", "reasoning"}
    assert rock["reasoning"] and "troctolite" in rock["name"], rock
    assert plot.stat().st_size > 10_000
    # the conformal multi-label set holds every present mineral and says its level
    assert doc["confidence_level"] == 0.9
    assert set(present) <= set(doc["prediction_set"])
    # readable output names the rock and the minerals
    code, out, _ = run(monkeypatch, capsys, "identify", "--mixture", str(path), "--method", "raman")
    assert code == 0 and "Anorthite" in out and "troctolite" in out


def test_identify_mixtures_batch_equals_one_by_one(trained, tmp_path, monkeypatch):
    _data_dir, result = trained
    bundle = IdentificationModel.load(result.ref.path)
    files = [
        _mixture_file(tmp_path / "a.txt", bundle, {"Anorthite": 0.5, "Augite": 0.5}),
        _mixture_file(tmp_path / "b.txt", bundle, {"Quartz": 0.6, "Albite": 0.4}),
    ]
    measurements = [
        Measurement.of(read_spectrum(f, method="raman"), name=str(f), context=Context())
        for f in files
    ]
    batch = identify_mixtures(measurements, bundle)
    single = [identify_mixtures([m], bundle)[0] for m in measurements]
    for a, b in zip(batch, single, strict=True):
        assert a.to_json() == b.to_json()
    assert {m["mineral"] for m in batch[1].minerals if m["present"]} >= {"Quartz", "Albite"}


def test_model_without_mixture_is_a_one_line_refusal(tmp_path, monkeypatch, capsys, trained):
    data_dir, _ = trained
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    with connect() as db:
        plain = train(db, "raman", "library", name="plain", calibration_size=0.3)
    bundle = IdentificationModel.load(plain.ref.path)
    path = tmp_path / "x.txt"
    axis = bundle.part("raman").grid
    path.write_text("\n".join(f"{x}, {np.sin(x / 50) + 2}" for x in axis))
    code, _out, err = run(
        monkeypatch,
        capsys,
        "identify",
        "--mixture",
        str(path),
        "--method",
        "raman",
        "--model",
        "plain",
    )
    assert code == 1
    assert "has no mixture model for raman; train one with lithoscope train" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    code, _, err = run(monkeypatch, capsys, "identify", "--mixture", str(path), str(path))
    assert code == 1 and "--mixture takes the rock's spectra itself" in err
    assert Registry().versions("plain") == [1]


def test_unmixer_only_mixture_model_round_trips(trained, tmp_path):
    _data_dir, result = trained
    bundle = IdentificationModel.load(result.ref.path)
    full = bundle.part("raman").mixture
    from lithoscope.models.mixture import MixtureModel

    nnls_only = MixtureModel(
        full.unmixer, None, {"note": "test"}, full.presence_map, full.conformal, 1.7
    )
    nnls_only.save(tmp_path / "m")
    again = MixtureModel.load(tmp_path / "m")
    assert again.network is None and again.presence_map == full.presence_map
    assert again.conformal == full.conformal and again.sd_scale == 1.7
    X = full.unmixer.references_[:5]
    a, b = nnls_only.predict(X), again.predict(X)
    np.testing.assert_array_equal(a.present, b.present)
    np.testing.assert_allclose(a.abundance, b.abundance)
    # a pure reference spectrum: its own mineral is present and dominant
    labels = full.unmixer.classes_[full.unmixer.reference_labels_[:5]]
    for row, mineral in enumerate(labels):
        j = full.unmixer.classes_.tolist().index(mineral)
        assert a.present[row, j] and a.abundance[row, j] > 0.5
    with pytest.raises(FileExistsError):
        nnls_only.save(tmp_path / "m")


def test_conformal_sets_cover_the_present_minerals(trained):
    from lithoscope.data.mixtures import make_mixtures
    from lithoscope.models.mixture import MixtureModel

    _data_dir, result = trained
    full = IdentificationModel.load(result.ref.path).part("raman").mixture
    unmixer = full.unmixer
    by_species = {
        str(c): unmixer.references_[unmixer.reference_labels_ == j]
        for j, c in enumerate(unmixer.classes_)
    }

    def draw(seed):
        return make_mixtures(
            by_species,
            n=200,
            rng=np.random.default_rng(seed),
            classes=unmixer.classes_.tolist(),
            x=unmixer.axis_,
        )

    calib, fresh = draw(1), draw(2)
    model = MixtureModel(unmixer).calibrate_presence(calib.X, calib.Y, confidence=0.9)

    def coverage(mix):
        possible = model.predict(mix.X).possible
        return np.mean(np.all(possible | ~mix.Y.astype(bool), axis=1))

    # split conformal: >= 90 % on the calibration draws by construction, about 90 % on new ones
    assert coverage(calib) >= 0.9
    assert coverage(fresh) >= 0.8
    sizes = model.predict(fresh.X).possible.sum(axis=1)
    assert sizes.mean() < unmixer.classes_.size, "the set rules some minerals out"


def test_fit_mixture_model_needs_two_rock_forming_minerals():
    X = np.random.default_rng(0).random((4, 50))
    y = np.array(["Beryl", "Beryl", "Forsterite", "Topaz"])
    from lithoscope.errors import InputError

    with pytest.raises(InputError, match="a mixture model needs at least 2"):
        fit_mixture_model(X, y, np.arange(50.0), np.arange(4), np.array([], dtype=int))


def test_evaluate_mixture_model_on_mixtures_of_unseen_spectra(trained, monkeypatch):
    """Scored on mixtures drawn from spectra the unmixer does not hold (the calibration side
    stands in for a pipeline's test side); one mineral alone cannot make a mixture."""
    from lithoscope.data.datasets import DatasetSpec, build_dataset
    from lithoscope.pipeline.mixture import evaluate_mixture_model
    from lithoscope.spectra.preprocessing import make_preset

    data_dir, result = trained
    bundle = IdentificationModel.load(result.ref.path)
    model = bundle.part("raman").mixture
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()  # the suite's own fixture clears it again afterwards
    with connect() as db:
        pipe = make_preset("raman")
        dataset = build_dataset(db, DatasetSpec.from_pipeline(pipe), pipeline=pipe)
        # the spectra that are not among the unmixer's references (training side)
        refs = np.asarray(model.unmixer.references_)
        unseen = np.flatnonzero(
            [not np.any(np.all(refs == x, axis=1)) for x in dataset.X.astype(refs.dtype)]
        )
        figures = evaluate_mixture_model(db, dataset, model, unseen, pipeline=pipe)
        one = unseen[dataset.y[unseen] == "Forsterite"]
        alone = evaluate_mixture_model(db, dataset, model, one, pipeline=pipe)
    # the references are training-side spectra as they are; the others are unseen
    in_classes = np.isin(dataset.y, model.classes)
    assert refs.shape[0] == (in_classes.sum() - in_classes[unseen].sum()) > 0
    assert figures["on"] == "mixtures of test spectra" and figures["mixtures"] == 600
    classes = set(model.classes.tolist())
    assert figures["test_minerals"] == len(set(dataset.y[unseen].tolist()) & classes) >= 2
    assert 0.5 <= figures["micro_f1"] <= 1.0
    assert 0.0 <= figures["abundance_mae_vol_pct"] <= 50.0
    assert set(alone) == {"on", "skipped"}
