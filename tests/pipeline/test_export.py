"""ONNX export of a library model: onnxruntime agrees with the native model on real spectra."""

from __future__ import annotations

import json
import re
import zipfile
from collections import defaultdict

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from lithoscope.config import get_settings  # noqa: E402
from lithoscope.data.ingest import ingest  # noqa: E402
from lithoscope.errors import InputError  # noqa: E402
from lithoscope.mindb import connect  # noqa: E402
from lithoscope.pipeline.bundle import IdentificationModel  # noqa: E402
from lithoscope.pipeline.export import export_onnx, run_onnx, verify_export  # noqa: E402
from lithoscope.pipeline.train import train  # noqa: E402
from lithoscope.spectra.io import read_spectrum  # noqa: E402
from tests.cli_runner import run  # noqa: E402

N_MINERALS = 15


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shared_data):
    """A data folder whose registry holds a library model trained on RRUFF Raman spectra of
    N_MINERALS minerals, and held-out files (each mineral's last sample, never trained on)."""
    data_dir = tmp_path_factory.mktemp("export-data")
    source = zipfile.ZipFile(shared_data / "rruff" / "raman" / "excellent_unoriented.zip")
    samples: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for n in source.namelist():
        m = re.match(r"([^_]+)__([RX]\d{6})__Raman__532__", n)
        if m:
            samples[m.group(1)][m.group(2)].append(n)
    chosen = sorted(k for k, v in samples.items() if len(v) >= 3)[:N_MINERALS]
    held = data_dir / "heldout"
    held.mkdir()
    zpath = data_dir / "raman.zip"
    with zipfile.ZipFile(zpath, "w") as out:
        for mineral in chosen:
            ids = sorted(samples[mineral])
            for sid in ids[:-1]:
                for n in samples[mineral][sid][:2]:
                    out.writestr(n, source.read(n))
            for n in samples[mineral][ids[-1]][:2]:
                (held / n).write_bytes(source.read(n))
    mp = pytest.MonkeyPatch()
    mp.setenv("LITHOSCOPE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    try:
        with connect() as db:
            db.build()
            ingest(db, str(zpath), progress=False)
            result = train(db, "raman", "library", name="raman-lib", calibration_size=0.3)
    finally:
        mp.undo()
        get_settings.cache_clear()
    bundle = IdentificationModel.load(result.ref.path)
    part = bundle.part("raman")
    X, _ = part.preprocess([read_spectrum(p) for p in sorted(held.iterdir())])
    return data_dir, bundle, X


@pytest.fixture
def exported(trained, tmp_path):
    _, bundle, _ = trained
    return export_onnx(bundle, "raman", tmp_path / "onnx")


def test_onnx_agrees_with_native_on_heldout_spectra(trained, exported):
    _, bundle, X = trained
    assert X.shape[0] >= N_MINERALS
    native = bundle.part("raman").estimator.predict_proba(X)
    onnx_proba = run_onnx(exported.parent, X)
    assert onnx_proba.dtype == np.float64
    np.testing.assert_allclose(onnx_proba, native, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(onnx_proba.argmax(axis=1), native.argmax(axis=1))
    # one spectrum is the one-row case, and float32 input is accepted
    np.testing.assert_allclose(run_onnx(exported, X[0]), native[:1], rtol=0, atol=1e-5)
    np.testing.assert_allclose(
        run_onnx(exported, X.astype(np.float32)),
        bundle.part("raman").estimator.predict_proba(X.astype(np.float32)),
        rtol=0,
        atol=1e-5,
    )


def test_scores_output_and_graph_with_onnxruntime_alone(trained, exported):
    _, bundle, X = trained
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    proba, scores = session.run(["probabilities", "scores"], {"spectra": X})
    _, native_scores = bundle.part("raman").estimator.predict_scores(X)
    np.testing.assert_allclose(scores, native_scores, rtol=0, atol=1e-6)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_derivative_blend_and_cosine_match_native(trained, tmp_path):
    """The derivative (np.gradient as slices) and the cosine metric, on the same references."""
    from lithoscope.models.library import LibrarySearch
    from lithoscope.pipeline.bundle import MethodModel

    _, bundle, X = trained
    part = bundle.part("raman")
    # the held-out spectra as a small library of 3 made-up classes (uneven sizes)
    labels = np.array(["a", "b", "b", "c", "c", "c"] * 3)[: X.shape[0]]
    for i, params in enumerate(({"derivative_weight": 0.4}, {"metric": "cosine", "power": 1.0})):
        est = LibrarySearch(axis=part.grid, **params).fit(X, labels)
        other = IdentificationModel({"raman": MethodModel("raman", est, part.preprocessing)})
        out = export_onnx(other, "raman", tmp_path / f"onnx{i}")
        np.testing.assert_allclose(run_onnx(out, X), est.predict_proba(X), rtol=0, atol=1e-5)


def test_export_files_and_manifest(trained, exported):
    _, bundle, _ = trained
    folder = exported.parent
    manifest = verify_export(folder)
    assert set(manifest["files"]) == {
        "model.onnx",
        "preprocess.json",
        "classes.json",
        "README.txt",
    }
    part = bundle.part("raman")
    assert json.loads((folder / "classes.json").read_text()) == [str(c) for c in part.classes]
    pre = json.loads((folder / "preprocess.json").read_text())
    np.testing.assert_array_equal(pre["grid"], part.grid)
    assert [s["class"] for s in pre["steps"]] == [s["class"] for s in part.preprocessing["steps"]]
    assert all(s["function"] for s in pre["steps"])
    assert manifest["input"] == {
        "name": "spectra",
        "dtype": "float64",
        "shape": ["n", part.grid.size],
    }
    # the preprocessing rebuilt from preprocess.json is the bundle's
    from lithoscope.spectra.preprocessing import pipeline_from_dict, pipeline_to_dict

    assert pipeline_to_dict(pipeline_from_dict(pre["pipeline"])) == part.preprocessing


def test_tampered_or_wrong_input_is_one_line_error(trained, exported):
    _, _, X = trained
    data = bytearray(exported.read_bytes())
    data[-10] ^= 0xFF
    exported.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"model\.onnx: checksum mismatch") as info:
        run_onnx(exported.parent, X)
    assert "\n" not in str(info.value)


def test_wrong_grid_and_existing_folder(trained, exported):
    _, bundle, X = trained
    with pytest.raises(InputError, match=r"expects \(n, \d+\) preprocessed spectra"):
        run_onnx(exported.parent, X[:, :-1])
    with pytest.raises(FileExistsError):
        export_onnx(bundle, "raman", exported.parent)
    with pytest.raises(InputError, match="no manifest.json"):
        run_onnx(exported.parent.parent, X)


def test_other_kinds_are_refused(trained, tmp_path):
    from lithoscope.pipeline.bundle import MethodModel

    _, bundle, _ = trained
    part = bundle.part("raman")

    class Other:
        classes_ = part.classes

    other = IdentificationModel(
        {"raman": MethodModel("raman", Other(), part.preprocessing)}, ref="other@1"
    )
    with pytest.raises(InputError, match=r"is a Other; ONNX export supports LibrarySearch"):
        export_onnx(other, "raman", tmp_path / "x")
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------------------------- CLI
@pytest.fixture
def data_env(trained, monkeypatch):
    data_dir, _, _ = trained
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()


def test_cli_models_list_show(monkeypatch, capsys, data_env):
    code, out, err = run(monkeypatch, capsys, "models", "list", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["models"] == [{"name": "raman-lib", "versions": [1], "default_for": ["raman"]}]
    code, out, err = run(monkeypatch, capsys, "models", "show", "raman-lib@1", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["model"] == "raman-lib@1"
    assert doc["methods"]["raman"]["kind"] == "LibrarySearch"
    bundle = IdentificationModel.load(data_env / "models" / "raman-lib" / "v1")
    assert doc["methods"]["raman"]["classes"] == len(bundle.part("raman").classes) >= 5
    assert doc["provenance"]["dataset_version"]
    assert "metrics" in doc["provenance"] and "config" in doc["provenance"]
    code, out, _ = run(monkeypatch, capsys, "models", "list")
    assert code == 0 and "raman-lib" in out
    code, out, _ = run(monkeypatch, capsys, "models", "show", "raman-lib")
    assert code == 0 and "LibrarySearch" in out


def test_cli_models_export(monkeypatch, capsys, data_env, trained, tmp_path):
    _, bundle, X = trained
    out_dir = tmp_path / "instrument"
    args = ("models", "export", "raman-lib@1", "--format", "onnx", "--out", str(out_dir))
    code, out, err = run(monkeypatch, capsys, *args, "--method", "raman", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["path"] == str(out_dir) and "model.onnx" in doc["files"]
    np.testing.assert_allclose(
        run_onnx(out_dir, X), bundle.part("raman").estimator.predict_proba(X), rtol=0, atol=1e-5
    )
    code, _, err = run(monkeypatch, capsys, *args)
    assert code == 1 and err.strip().count("\n") == 0


def test_cli_export_errors(monkeypatch, capsys, data_env, tmp_path):
    code, _, err = run(
        monkeypatch,
        capsys,
        "models",
        "export",
        "raman-lib",
        "--format",
        "tflite",
        "--out",
        str(tmp_path / "x"),
    )
    assert code == 1 and "--format 'tflite' is not one of onnx" in err
    code, _, err = run(
        monkeypatch, capsys, "models", "export", "nope", "--out", str(tmp_path / "y")
    )
    assert code == 1 and "no model named 'nope'" in err
