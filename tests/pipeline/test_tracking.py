"""MLflow tracking, the MLflow model registry, promotion and lineage of real trained models.

Two stores: the default SQLite store under the data folder, and a real ``mlflow server``
subprocess on 127.0.0.1 (full ``mlflow``; skipped without it unless
``LITHOSCOPE_REQUIRE_MLFLOW_SERVER=1``).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from lithoscope.config import Settings, get_settings
from lithoscope.errors import InputError
from lithoscope.pipeline.registry import Registry
from lithoscope.pipeline.tracking import (
    flatten_params,
    lineage,
    log_run,
    promote,
    register_model,
    tracking_uri,
)
from tests.cli_runner import run
from tests.rruff_samples import RAMAN_ZIP, minerals_with_samples, raman_samples

N_MINERALS = 8
SERVER_START_SECONDS = 180


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real ``mlflow server`` (own SQLite backend, served artifacts), started before the
    models are trained so that its slow start overlaps theirs; stopped at the end."""
    if importlib.util.find_spec("flask") is None or importlib.util.find_spec("mlflow") is None:
        reason = "full mlflow (with its server) is not installed: pip install 'mlflow>=3.0'"
        if os.environ.get("LITHOSCOPE_REQUIRE_MLFLOW_SERVER") == "1":
            pytest.fail(f"LITHOSCOPE_REQUIRE_MLFLOW_SERVER=1 but {reason}")
        yield None, reason
        return
    root = tmp_path_factory.mktemp("mlflow-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (root / "server.log").open("w")
    cmd = [
        *(sys.executable, "-m", "mlflow", "server"),
        *("--backend-store-uri", f"sqlite:///{root / 'backend.db'}"),
        *("--serve-artifacts", "--artifacts-destination", str(root / "artifacts")),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
    ]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    # its own session: the server starts uvicorn as a child, stopped together below
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield (proc, f"http://127.0.0.1:{port}", root), None
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shared_data, mlflow_server):
    """A data folder (MinDB + registry) with raman-lib@1 and raman-lib@2, library models
    trained on RRUFF Raman spectra of N_MINERALS minerals, and a held-out query file."""
    from lithoscope.data.ingest import ingest
    from lithoscope.mindb import connect
    from lithoscope.pipeline.train import train

    data_dir = tmp_path_factory.mktemp("tracking-data")
    source = zipfile.ZipFile(shared_data / RAMAN_ZIP)
    samples = raman_samples(shared_data)
    chosen = minerals_with_samples(samples, N_MINERALS)
    query_dir = tmp_path_factory.mktemp("tracking-query")
    zpath = query_dir / "raman.zip"
    with zipfile.ZipFile(zpath, "w") as out:
        for mineral in chosen:
            ids = sorted(samples[mineral])
            for sid in ids[:-1]:
                for n in samples[mineral][sid][:2]:
                    out.writestr(n, source.read(n))
    held = samples[chosen[0]][sorted(samples[chosen[0]])[-1]][0]
    query = query_dir / Path(held).name
    query.write_bytes(source.read(held))
    mp = pytest.MonkeyPatch()
    mp.setenv("LITHOSCOPE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    try:
        with connect() as db:
            db.build()
            ingest(db, str(zpath), progress=False)
            for _ in range(2):
                train(db, "raman", "library", name="raman-lib", calibration_size=0.3)
    finally:
        mp.undo()
        get_settings.cache_clear()
    return data_dir, query


@pytest.fixture
def data_dir(trained, tmp_path, monkeypatch):
    """A copy of the trained data folder for this test alone (promotions change defaults)."""
    folder = tmp_path / "data"
    shutil.copytree(trained[0], folder)
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", str(folder))
    monkeypatch.delenv("LITHOSCOPE_MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


@pytest.fixture
def empty_cwd(tmp_path, monkeypatch):
    """Run from an empty working directory; the test checks that it stays empty."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def _client(uri: str):
    mlflow = pytest.importorskip("mlflow")
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def _report_files(folder: Path) -> tuple[Path, list[Path]]:
    folder.mkdir()
    html = folder / "report.html"
    html.write_text("<html><body><h1>raman-lib</h1></body></html>", encoding="utf-8")
    plots = []
    for name in ("reliability.svg", "confusion.svg"):
        plots.append(folder / name)
        plots[-1].write_text(f'<svg xmlns="http://www.w3.org/2000/svg"><title>{name}</title></svg>')
    return html, plots


def _log(ref, report: Path, plots: list[Path], uri: str | None = None):
    bundle = Registry().load(str(ref))[0]
    config = {"dataset": {"methods": ["raman"], "min_spectra": 1}, "model": {"kind": "library"}}
    return log_run(
        run_name=f"test {ref}",
        params={"config": config, "notes": "x" * 7000},
        metrics={"raman.top1": 0.75, "raman.coverage@0.9": 0.91, "skipped": None, "nan": math.nan},
        tags={"lithoscope.model": str(ref)},
        documents={
            "config.json": config,
            "dataset_manifest.json": {"version": bundle.provenance["dataset_version"]},
            "preprocessing.json": bundle.part("raman").preprocessing,
        },
        artifacts={"model": ref.path, "plots": plots, "report": report},
        uri=uri,
    )


# ---------------------------------------------------------------------------------- pure parts
def test_tracking_uri_default_and_setting(tmp_path, monkeypatch):
    s = Settings(data_dir=tmp_path)
    assert tracking_uri(s) == f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    monkeypatch.setenv("LITHOSCOPE_MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    get_settings.cache_clear()
    assert tracking_uri() == "http://127.0.0.1:5000"
    assert not (tmp_path / "mlflow").exists()


def test_flatten_params_within_mlflow_limits():
    flat = flatten_params({"a": {"b": {"c": 1}, "d": [1, 2]}, "e": "x" * 7000, "f": {}, "g": None})
    assert flat["a.b.c"] == "1" and flat["a.d"] == "[1, 2]" and flat["f"] == "{}"
    assert flat["g"] == "null"
    assert len(flat["e"]) == 6000
    assert flat["e"].endswith("... [7000 characters; see the run's documents]")
    assert flatten_params({"top@0.9": 1}) == {"top_0.9": "1"}
    with pytest.raises(InputError, match="both named 'a_b'"):
        flatten_params({"a@b": 1, "a#b": 2})


def test_bad_inputs_are_refused_before_anything_is_logged(data_dir, empty_cwd):
    pytest.importorskip("mlflow")
    with pytest.raises(InputError, match="metric 'top1': expected a number, got 'high'"):
        log_run(run_name="r", params={}, metrics={"top1": "high"})
    with pytest.raises(InputError, match=r"artifact 'model': .*missing does not exist"):
        log_run(run_name="r", params={}, metrics={}, artifacts={"model": data_dir / "missing"})
    with pytest.raises(InputError, match="relative path inside the run"):
        log_run(run_name="r", params={}, metrics={}, documents={"../x.json": {}})
    with pytest.raises(InputError, match="--alias 'latest'"):
        promote("raman-lib@1", alias="latest")
    assert not (data_dir / "mlflow").exists()
    assert Registry().defaults() == {"raman": "raman-lib"}
    assert list(empty_cwd.iterdir()) == []


# ---------------------------------------------------------------------------------- local store
def test_local_store_round_trip(data_dir, empty_cwd, tmp_path, monkeypatch, capsys):
    registry = Registry()
    ref = registry.resolve("raman-lib@1")
    bundle = registry.load("raman-lib@1")[0]
    report, plots = _report_files(tmp_path / "report")
    tracked = _log(ref, report, plots)
    assert tracked.tracking_uri == f"sqlite:///{data_dir / 'mlflow' / 'mlflow.db'}"
    version = register_model(ref, run=tracked)
    assert version == 1
    assert register_model(ref, run=tracked) == 1  # the same bundle again: the same version

    client = _client(tracked.tracking_uri)
    got = client.get_run(tracked.run_id)
    assert got.info.status == "FINISHED" and got.info.run_name == "test raman-lib@1"
    params = got.data.params
    assert params["config.model.kind"] == "library"
    assert params["config.dataset.methods"] == '["raman"]'
    assert len(params["notes"]) == 6000
    assert got.data.metrics == {"raman.top1": 0.75, "raman.coverage_0.9": 0.91}
    assert got.data.tags["lithoscope.model"] == "raman-lib@1"

    # artifacts: documents at the root, the bundle, plots and report, all under the data folder
    artifact_dir = data_dir / "mlflow" / "artifacts" / "lithoscope" / tracked.run_id / "artifacts"
    assert got.info.artifact_uri == artifact_dir.as_uri()
    names = {f.path for f in client.list_artifacts(tracked.run_id)}
    assert {"config.json", "dataset_manifest.json", "preprocessing.json"} <= names
    assert {"model", "plots", "report"} <= names
    for f in (p for p in ref.path.rglob("*") if p.is_file()):
        copy = artifact_dir / "model" / f.relative_to(ref.path)
        assert copy.read_bytes() == f.read_bytes()
    assert sorted(p.name for p in (artifact_dir / "plots").iterdir()) == sorted(
        p.name for p in plots
    )
    assert (artifact_dir / "report" / "report.html").read_bytes() == report.read_bytes()
    manifest = json.loads((artifact_dir / "dataset_manifest.json").read_text())
    assert manifest == {"version": bundle.provenance["dataset_version"]}

    mv = client.get_model_version("raman-lib", "1")
    assert mv.source == f"runs:/{tracked.run_id}/model" and mv.run_id == tracked.run_id
    assert mv.tags["lithoscope_ref"] == "raman-lib@1" and mv.tags["lithoscope_version"] == "1"
    assert mv.tags["dataset_version"] == bundle.provenance["dataset_version"]
    assert mv.tags["code_version"] == bundle.provenance["code_version"]
    assert re.fullmatch(r"[0-9a-f]{64}", mv.tags["config_sha256"])
    n_spectra = bundle.provenance["metrics"]["n_spectra"]
    assert float(mv.tags["metric.n_spectra"]) == pytest.approx(n_spectra, rel=1e-6)

    # a version registered without a run: its source is the bundle folder (local store only)
    ref2 = registry.resolve("raman-lib@2")
    assert register_model(ref2) == 2
    assert client.get_model_version("raman-lib", "2").source == str(ref2.path.resolve())

    # promote version 1: pinned in the registry even though version 2 is newer; MLflow alias
    promoted = promote("raman-lib@1")
    assert str(promoted) == "raman-lib@1" and promoted.methods == ("raman",)
    assert promoted.mlflow == {
        "tracking_uri": tracked.tracking_uri,
        "model_version": 1,
        "alias_set": True,
    }
    assert Registry().defaults() == {"raman": "raman-lib@1"}
    assert str(Registry().resolve(None, method="raman")) == "raman-lib@1"
    assert int(client.get_model_version_by_alias("raman-lib", "production").version) == 1

    lin = lineage("raman-lib@1")
    assert lin["dataset_version"] == bundle.provenance["dataset_version"]
    assert lin["data_checksums"] == bundle.provenance["data_checksums"]
    assert lin["config"] == bundle.provenance["config"]
    assert lin["code_version"] == bundle.provenance["code_version"]
    assert lin["metrics"] == bundle.provenance["metrics"]
    assert lin["config_sha256"] == mv.tags["config_sha256"]
    assert lin["default_for"] == ["raman"]
    assert lin["mlflow"]["tracked"] and lin["mlflow"]["model_version"] == 1
    assert lin["mlflow"]["aliases"] == ["production"]
    assert lin["mlflow"]["run_id"] == tracked.run_id
    assert lin["mlflow"]["experiment_id"] == tracked.experiment_id
    assert lineage("raman-lib@2")["mlflow"]["aliases"] == []

    # the command line shows the same lineage
    code, out, err = run(monkeypatch, capsys, "models", "show", "raman-lib@1", "--json")
    assert code == 0, err
    shown = json.loads(out)["lineage"]
    assert shown["mlflow"]["aliases"] == ["production"]
    assert shown["mlflow"]["run_id"] == tracked.run_id
    code, out, _ = run(monkeypatch, capsys, "models", "show", "raman-lib@1")
    assert code == 0 and "aliases: production" in out and f"run: {tracked.run_id}" in out
    # the config and metrics one per line, nested keys dotted, numbers to 4 digits
    assert "\n    kind: library\n" in out and "\n    calibration_size: 0.3\n" in out
    floats = {k: v for k, v in shown["metrics"].items() if isinstance(v, float)}
    assert floats and all(f"\n    {k}: {v:.4g}\n" in out for k, v in floats.items())

    # promoting version 2 moves the alias and the pin
    assert promote("raman-lib@2").mlflow["model_version"] == 2
    assert int(client.get_model_version_by_alias("raman-lib", "production").version) == 2
    assert Registry().defaults() == {"raman": "raman-lib@2"}
    assert list(empty_cwd.iterdir()) == []


def test_lineage_of_an_untracked_model_creates_no_store(data_dir, empty_cwd):
    pytest.importorskip("mlflow")
    lin = lineage("raman-lib")
    assert lin["model"] == "raman-lib@2" and lin["default_for"] == ["raman"]
    assert lin["mlflow"]["tracked"] is False
    assert "no MLflow store at" in lin["mlflow"]["note"]
    promoted = promote("raman-lib@1")
    assert promoted.mlflow["alias_set"] is False
    assert "no MLflow alias set" in promoted.mlflow["note"]
    assert not (data_dir / "mlflow").exists()
    assert list(empty_cwd.iterdir()) == []


def test_a_server_that_does_not_answer_is_one_line_at_once(data_dir, monkeypatch):
    pytest.importorskip("mlflow")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    monkeypatch.setenv("LITHOSCOPE_MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    get_settings.cache_clear()
    start = time.monotonic()
    with pytest.raises(InputError, match="does not answer") as info:
        log_run(run_name="r", params={}, metrics={})
    assert "\n" not in str(info.value)
    lin = lineage("raman-lib@1")
    assert "does not answer" in lin["mlflow"]["note"]
    assert time.monotonic() - start < 20  # MLflow's own retries would take minutes


_WITHOUT_MLFLOW = textwrap.dedent(
    """
    import json, sys
    sys.modules["mlflow"] = None  # an environment without mlflow: importing it fails
    from lithoscope.errors import InputError
    from lithoscope.pipeline.tracking import lineage, log_run, promote

    promoted = promote("raman-lib@1")
    out = {"promoted": promoted.to_dict(), "lineage": lineage("raman-lib@1")}
    try:
        log_run(run_name="r", params={}, metrics={})
    except InputError as exc:
        out["log_run"] = str(exc)
    print(json.dumps(out, default=str))
    """
)


def test_promote_and_lineage_work_without_mlflow(data_dir):
    env = {**os.environ, "KERAS_BACKEND": "jax", "LITHOSCOPE_DATA_DIR": str(data_dir)}
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_MLFLOW],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=data_dir,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    hint = "pip install 'lithoscope[track]'"
    assert out["promoted"]["model"] == "raman-lib@1" and out["promoted"]["methods"] == ["raman"]
    assert hint in out["promoted"]["mlflow"]["note"]
    assert out["lineage"]["default_for"] == ["raman"] and out["lineage"]["dataset_version"]
    assert out["lineage"]["mlflow"]["tracked"] is False
    assert hint in out["lineage"]["mlflow"]["note"]
    assert out["log_run"].startswith("MLflow tracking needs mlflow-skinny (not installed)")
    assert hint in out["log_run"] and "\n" not in out["log_run"]
    assert Registry().defaults() == {"raman": "raman-lib@1"}
    assert not (data_dir / "mlflow").exists()


# ---------------------------------------------------------------------------------- CLI
def test_cli_promote_pins_what_identify_uses(data_dir, trained, monkeypatch, capsys):
    _, query = trained
    code, out, err = run(monkeypatch, capsys, "identify", str(query), "--json")
    assert code == 0, err
    assert json.loads(out)["model"] == "raman-lib@2"  # the default follows the newest

    code, out, err = run(monkeypatch, capsys, "models", "promote", "raman-lib@1", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["model"] == "raman-lib@1" and doc["methods"] == ["raman"]
    assert doc["alias"] == "production" and doc["mlflow"]["alias_set"] is False

    code, out, err = run(monkeypatch, capsys, "identify", str(query), "--json")
    assert code == 0, err
    assert json.loads(out)["model"] == "raman-lib@1"

    code, out, _ = run(monkeypatch, capsys, "models", "list", "--json")
    listed = json.loads(out)
    assert listed["models"] == [{"name": "raman-lib", "versions": [1, 2], "default_for": ["raman"]}]
    assert listed["defaults"] == {"raman": "raman-lib@1"}
    assert listed["default_models"] == {
        "raman": {"spec": "raman-lib@1", "model": "raman-lib@1", "pinned": True}
    }
    code, out, _ = run(monkeypatch, capsys, "models", "list")
    assert code == 0 and "raman (pinned @1)" in out

    code, out, _ = run(monkeypatch, capsys, "models", "show", "raman-lib@1")
    assert code == 0 and "default for: raman" in out and "mlflow: not tracked" in out
    code, out, _ = run(monkeypatch, capsys, "models", "show", "raman-lib@2", "--json")
    lin = json.loads(out)["lineage"]
    assert lin["default_for"] == [] and lin["code_version"] and lin["dataset_version"]

    code, out, err = run(monkeypatch, capsys, "models", "promote", "raman-lib@2")
    assert code == 0, err
    assert "Promoted raman-lib@2: default for raman." in out and "no MLflow alias set" in out
    code, out, _ = run(monkeypatch, capsys, "identify", str(query), "--json")
    assert json.loads(out)["model"] == "raman-lib@2"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("raman-lib@9",), "model 'raman-lib' has no version '9'; versions: 1, 2"),
        (("nope@1",), "model 'nope' has no version '1'; versions: none"),
        (("raman-lib@1", "--method", "ir"), "method 'ir': raman-lib@1 identifies raman only"),
        (("raman-lib@1", "--method", "xrd"), "method"),
        (("raman-lib@1", "--alias", "v2"), "--alias 'v2'"),
    ],
)
def test_cli_promote_errors_are_one_line(data_dir, monkeypatch, capsys, args, message):
    code, out, err = run(monkeypatch, capsys, "models", "promote", *args)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert Registry().defaults() == {"raman": "raman-lib"}  # nothing changed


def test_a_pinned_version_that_disappears_is_named(data_dir, trained, monkeypatch, capsys):
    _, query = trained
    assert run(monkeypatch, capsys, "models", "promote", "raman-lib@1")[0] == 0
    shutil.rmtree(data_dir / "models" / "raman-lib" / "v1")
    code, _, err = run(monkeypatch, capsys, "identify", str(query))
    assert code == 1 and err.count("\n") == 1
    assert "the default raman model raman-lib@1 (pinned with 'lithoscope models promote')" in err


# ---------------------------------------------------------------------------------- server
def test_through_a_real_mlflow_server(
    mlflow_server, data_dir, empty_cwd, tmp_path, monkeypatch, capsys
):
    server, reason = mlflow_server
    if server is None:
        pytest.skip(reason)
    proc, uri, root = server
    deadline = time.monotonic() + SERVER_START_SECONDS
    while True:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log = (root / "server.log").read_text()[-2000:]
            pytest.fail(f"mlflow server did not start (exit {proc.poll()}): {log}")
        time.sleep(0.5)
    monkeypatch.setenv("LITHOSCOPE_MLFLOW_TRACKING_URI", uri)
    get_settings.cache_clear()

    registry = Registry()
    ref = registry.resolve("raman-lib@1")
    report, plots = _report_files(tmp_path / "report")
    tracked = _log(ref, report, plots)
    assert tracked.tracking_uri == uri
    assert capsys.readouterr().out == ""  # no "View run" links mixed into lithoscope's output
    with pytest.raises(InputError, match="needs the run holding its bundle"):
        register_model(registry.resolve("raman-lib@2"))
    version = register_model(ref, run=tracked)
    promoted = promote("raman-lib@1", alias="champion")
    assert promoted.mlflow["alias_set"] and promoted.mlflow["model_version"] == version

    client = _client(uri)
    got = client.get_run(tracked.run_id)
    assert got.data.metrics["raman.top1"] == 0.75
    assert got.data.params["config.model.kind"] == "library"
    mv = client.get_model_version_by_alias("raman-lib", "champion")
    assert int(mv.version) == version and mv.tags["lithoscope_ref"] == "raman-lib@1"
    assert mv.source == f"runs:/{tracked.run_id}/model"
    # the artifacts went through the server into its artifacts folder
    store = root / "artifacts"
    stored = {p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file()}
    prefix = f"{tracked.experiment_id}/{tracked.run_id}/artifacts"
    assert f"{prefix}/model/manifest.json" in stored
    assert f"{prefix}/report/report.html" in stored
    assert f"{prefix}/dataset_manifest.json" in stored
    assert {f"{prefix}/plots/{p.name}" for p in plots} <= stored

    lin = lineage("raman-lib@1")
    assert lin["mlflow"]["aliases"] == ["champion"] and lin["mlflow"]["run_id"] == tracked.run_id
    assert Registry().defaults() == {"raman": "raman-lib@1"}
    assert list(empty_cwd.iterdir()) == []
