"""`lithoscope pipeline run`: every step on real RRUFF spectra, cached by the hash of its inputs."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from lithoscope.config import get_settings
from lithoscope.errors import InputError
from lithoscope.pipeline.bundle import IdentificationModel
from lithoscope.pipeline.registry import Registry
from lithoscope.pipeline.run_config import load_config
from lithoscope.pipeline.runner import STEPS, read_dataset, run_pipeline, sample_split
from tests.cli_runner import run
from tests.rruff_samples import RAMAN_ZIP, minerals_with_samples, raman_samples

N_MINERALS = 40
#: library search is deterministic: a rerun gives the same metrics to rounding
REPRODUCIBLE_ATOL = 1e-9


def _small_zip(shared_data: Path, out: Path, n_minerals: int, skip: int = 0) -> Path:
    """RRUFF Raman spectra (532 nm) of ``n_minerals`` minerals with >= 3 samples each."""
    source = zipfile.ZipFile(shared_data / RAMAN_ZIP)
    samples = raman_samples(shared_data)
    chosen = minerals_with_samples(samples, n_minerals, skip=skip)
    with zipfile.ZipFile(out, "w") as z:
        for mineral in chosen:
            for sid in sorted(samples[mineral]):
                for n in samples[mineral][sid][:2]:
                    z.writestr(n, source.read(n))
    return out


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, shared_data):
    """A data folder and a config (relative source path) on 40 minerals' Raman spectra."""
    root = tmp_path_factory.mktemp("pipeline")
    _small_zip(shared_data, root / "raman.zip", N_MINERALS)
    config = {
        "name": "small-raman",
        "seed": 0,
        "data": {"sources": ["raman.zip"]},
        "dataset": {"methods": ["raman"], "test_size": 0.25, "calibration_size": 0.5},
        "model": {"kind": "library"},
        "evaluate": {"levels": [0.8, 0.9], "reliability_bins": 5},
        "register": {"track": True, "promote": True},
    }
    path = root / "small.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return root, path, config


@pytest.fixture(scope="module")
def env(workspace):
    root, _, _ = workspace
    mp = pytest.MonkeyPatch()
    mp.setenv("LITHOSCOPE_DATA_DIR", str(root / "data"))
    mp.delenv("LITHOSCOPE_MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    yield root / "data"
    mp.undo()
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _module_data_dir(_isolated_settings, env, monkeypatch):
    """The steps' cache and registry live in the module's data folder, for every test (the
    suite's own fixture gives each test a fresh one)."""
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", str(env))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def first(workspace, env):
    _, path, _ = workspace
    events: list[tuple[str, str]] = []
    result = run_pipeline(path, progress=lambda step, status, _: events.append((step, status)))
    return result, events


def _variant(workspace, tmp_path, **changes) -> Path:
    _, path, config = workspace
    doc = json.loads(json.dumps(config))
    for dotted, value in changes.items():
        section, _, key = dotted.partition("__")
        if key:
            doc[section][key] = value
        else:
            doc[section] = value
    doc["data"]["sources"] = [str(path.parent / "raman.zip")]
    out = tmp_path / "variant.yaml"
    out.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return out


def test_first_run_runs_every_step_and_registers(first, env):
    result, events = first
    assert result.ran == list(STEPS)
    assert [s for s, status in events if status == "ran"] == list(STEPS)
    assert ("register", "promoted") in events
    doc = result.to_dict()
    ref = doc["model"]
    assert ref == "small-raman@1"
    # identify without --model now uses the promoted version
    registry = Registry()
    assert registry.resolve(None, method="raman").name == "small-raman"
    bundle, _ = registry.load(ref)
    prov = bundle.provenance
    assert prov["dataset_version"] and prov["code_version"]
    assert prov["pipeline"]["config_sha256"] == result.config.sha256()
    assert prov["metrics"]["raman.top1"] == pytest.approx(doc["metrics"]["raman.top1"])
    assert bundle.part("raman").calibrated
    # the held-out samples were never trained on, and never calibrated on
    dataset = result.output("dataset")["methods"]["raman"]
    assert dataset["spectra"]["test"] > 15 and dataset["spectra"]["calibration"] >= 19
    assert bundle.provenance["metrics"]["fit_seconds"]["raman"] >= 0
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["config"]["name"] == "small-raman" and summary["code_version"]
    assert Path(doc["report"]).is_file()


def test_evaluation_scores_held_out_samples(first):
    result, _ = first
    evaluation = result.output("evaluate")["evaluation"]
    block = evaluation["methods"]["raman"]
    assert block["n"] > 15 and block["refused"] == 0
    assert 0.5 <= block["top1"] <= block["top3"] <= 1.0
    assert [c["level"] for c in block["coverage"]] == [0.8, 0.9]
    assert all(1 <= c["mean_set_size"] for c in block["coverage"])
    assert len(block["reliability"]) == 5
    assert sum(b["n"] for b in block["reliability"]) == block["n"]
    assert sum(m["n"] for m in block["per_mineral"]) == block["n"]
    # the test split holds whole samples that neither fitting nor calibration saw
    bundle = IdentificationModel.load(result.output("calibrate")["bundle"])
    dataset, split = read_dataset(_folder(result, "dataset"), "raman")
    groups_seen = set(dataset.groups[split != "test"].tolist())
    assert groups_seen.isdisjoint(dataset.groups[split == "test"].tolist())
    assert bundle.part("raman").estimator.references_.shape[0] == int((split == "fit").sum())


def _folder(result, step: str) -> Path:
    return (
        Path(get_settings().data_dir)
        / "pipeline"
        / "cache"
        / step
        / next(s.key for s in result.steps if s.step == step)
    )


def test_unchanged_config_does_no_work_and_says_so(first, workspace, monkeypatch, capsys):
    _, path, _ = workspace
    before = Registry().versions("small-raman")
    code, out, err = run(monkeypatch, capsys, "pipeline", "run", str(path))
    assert code == 0, err
    assert "Nothing to do" in out
    assert all(f"{step:<10} cached" in err for step in STEPS)
    assert Registry().versions("small-raman") == before  # no new version


def test_changing_one_parameter_reruns_only_what_depends_on_it(first, workspace, tmp_path):
    result, _ = first
    variant = _variant(workspace, tmp_path, evaluate__levels=[0.95])
    again = run_pipeline(variant)
    assert again.ran == ["evaluate", "register", "report"]
    assert [
        c["level"] for c in again.output("evaluate")["evaluation"]["methods"]["raman"]["coverage"]
    ] == [0.95]
    # top-1 does not depend on the levels
    assert again.to_dict()["metrics"]["raman.top1"] == result.to_dict()["metrics"]["raman.top1"]
    variant = _variant(workspace, tmp_path, model__params={"derivative_weight": 0.3})
    assert run_pipeline(variant).ran == ["train", "calibrate", "evaluate", "register", "report"]
    variant = _variant(workspace, tmp_path, dataset__test_size=0.3)
    assert run_pipeline(variant).ran == list(STEPS[2:])


def test_same_config_and_data_give_the_same_metrics(first, workspace):
    result, _ = first
    _, path, _ = workspace
    again = run_pipeline(path, force=["all"])
    assert again.ran == list(STEPS)
    a, b = result.to_dict()["metrics"], again.to_dict()["metrics"]
    assert a.keys() == b.keys()
    for k in a:
        assert b[k] == pytest.approx(a[k], rel=0, abs=REPRODUCIBLE_ATOL), k
    # the same data: the same dataset version and split
    assert again.output("dataset")["version"] == result.output("dataset")["version"]


def test_a_deleted_model_or_changed_mindb_is_noticed(first, workspace, shared_data, tmp_path):
    import shutil

    _, path, _ = workspace
    last = run_pipeline(path)
    registered = Path(last.output("register")["path"])
    shutil.rmtree(registered)
    again = run_pipeline(path)
    assert again.ran == ["register", "report"]
    assert (
        again.output("register")["path"] != str(registered)
        or Path(again.output("register")["path"]).is_dir()
    )
    # more spectra in MinDB (ingested by other means): ingest and everything after rerun
    from lithoscope.data.ingest import ingest
    from lithoscope.mindb import connect

    extra = _small_zip(shared_data, tmp_path / "extra.zip", 2, skip=N_MINERALS)
    with connect() as db:
        ingest(db, str(extra), progress=False)
    assert run_pipeline(path).ran == list(STEPS[1:])


def test_bad_config_is_one_line(workspace, env, monkeypatch, capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodle: {kind: cnn}\n", encoding="utf-8")
    code, _, err = run(monkeypatch, capsys, "pipeline", "run", str(bad))
    assert code == 1
    assert err.strip().count("\n") == 0
    assert "unknown key 'modle'; valid keys there: name, seed, data, dataset, model" in err
    bad.write_text("name: x\ndataset: {test_size: 1.5}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"dataset\.test_size: Input should be less than 1"):
        load_config(bad)
    # a misspelt model parameter is named before anything is fetched
    bad.write_text("name: x\nmodel: {kind: cnn, params: {epoch: 3}}\n", encoding="utf-8")
    with pytest.raises(InputError, match="model: cnn model has no parameter 'epoch'; its para"):
        load_config(bad)
    bad.write_text("name: x\ndata: {sources: [no-such-source]}\n", encoding="utf-8")
    with pytest.raises(InputError, match="'no-such-source' is neither a file or folder"):
        run_pipeline(bad)
    with pytest.raises(InputError, match="--force 'trian' is not a step"):
        run_pipeline(bad, force=["trian"])


def test_shipped_configs_are_valid():
    root = Path(__file__).resolve().parents[2] / "configs"
    names = sorted(p.name for p in root.glob("*.yaml"))
    assert {"raman-default.yaml", "ir-default.yaml", "fusion-raman-ir.yaml"} <= set(names)
    assert any(n.startswith("mixtures") for n in names)
    for p in root.glob("*.yaml"):
        config = load_config(p)
        assert config.name == p.stem


def test_sample_split_is_by_sample_and_stable():
    groups = np.array([f"R{i:06d}" for i in range(2000)] * 2)
    held = sample_split(groups, 0.2, "0:test")
    assert np.array_equal(held[:2000], held[2000:])  # a sample's spectra on one side
    assert 0.17 < held[:2000].mean() < 0.23
    # independent of the other samples present
    assert np.array_equal(sample_split(groups[:100], 0.2, "0:test"), held[:100])
    assert not np.array_equal(sample_split(groups, 0.2, "1:test"), held)


def test_a_mixture_model_is_scored_on_the_test_side(first, workspace, tmp_path):
    """The evaluate step scores the mixture model on the test side (`evaluate_mixture_model`,
    whose figures tests/pipeline/test_mixture.py checks): the 40 minerals here leave too few
    rock-forming ones among the test samples to make a mixture, and it says so."""
    variant = _variant(workspace, tmp_path, mixture={"enabled": True, "network": False})
    result = run_pipeline(variant)
    assert result.ran == list(STEPS[3:])  # the same dataset
    bundle = IdentificationModel.load(result.output("calibrate")["bundle"])
    assert bundle.part("raman").mixture is not None
    mixture = result.output("evaluate")["evaluation"]["mixture"]
    assert mixture["method"] == "raman" and mixture["on"] == "mixtures of test spectra"
    assert mixture["skipped"].startswith("no rock type has 2 slots with spectra among")
    assert not any(k.startswith("mixture.") for k in result.to_dict()["metrics"])


def test_changed_code_reruns_every_step(first, workspace, monkeypatch):
    from lithoscope.pipeline import runner

    _, path, _ = workspace
    assert runner.code_digest() == runner.code_digest() and len(runner.code_digest()) == 16
    monkeypatch.setattr(runner, "code_digest", lambda: "0" * 16)
    again = run_pipeline(path)
    assert again.ran == list(STEPS)
    a, b = first[0].to_dict()["metrics"], again.to_dict()["metrics"]
    assert b["raman.top1"] == pytest.approx(a["raman.top1"], rel=0, abs=REPRODUCIBLE_ATOL)


#: seeded CNN training on the CPU: XLA reduces in a fixed order, so a rerun in one process
#: gives the same weights and metrics to rounding
NETWORK_ATOL = 1e-6


def test_a_seeded_network_gives_the_same_metrics_again(first, workspace, tmp_path):
    tiny = {"channels": [4, 8], "embedding_dim": 16, "epochs": 3, "batch_size": 16}
    variant = _variant(workspace, tmp_path, model={"kind": "cnn", "params": tiny})
    once = run_pipeline(variant, until="evaluate")
    again = run_pipeline(variant, force=["train", "calibrate", "evaluate"], until="evaluate")
    assert again.ran == ["train", "calibrate", "evaluate"]
    a, b = once.to_dict()["metrics"], again.to_dict()["metrics"]
    assert a.keys() == b.keys() and "raman.top1" in a
    for k in a:
        assert b[k] == pytest.approx(a[k], rel=0, abs=NETWORK_ATOL), k
