"""ONNX export of library, CNN and ensemble models: onnxruntime agrees with the native models
on real held-out spectra; every Keras layer converter agrees with Keras."""

from __future__ import annotations

import json
import zipfile

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
from tests.rruff_samples import RAMAN_ZIP, minerals_with_samples, raman_samples  # noqa: E402

N_MINERALS = 15


#: a tiny network: the point is the exported numerics, not accuracy
TINY_CNN = {
    "channels": (4, 8),
    "embedding_dim": 16,
    "epochs": 4,
    "batch_size": 16,
    "eval_every": 2,
    "hybrid_weight": 0.5,
    "derivative_weight": 0.5,
}


@pytest.fixture(scope="module")
def trained_all(tmp_path_factory, shared_data):
    """A data folder whose registry holds a library, a CNN and an ensemble (library + CNN)
    model, each trained on RRUFF Raman spectra of N_MINERALS minerals, and held-out
    preprocessed spectra (each mineral's last sample, never trained on).

    Returns (data_dir, {kind: bundle}, X).
    """
    data_dir = tmp_path_factory.mktemp("export-data")
    source = zipfile.ZipFile(shared_data / RAMAN_ZIP)
    samples = raman_samples(shared_data)
    chosen = minerals_with_samples(samples, N_MINERALS)
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
    runs = {
        "library": ("raman-lib", None),
        "cnn": ("raman-cnn", TINY_CNN),
        "ensemble": ("raman-ensemble", {"member_params": {"cnn": TINY_CNN}}),
    }
    mp = pytest.MonkeyPatch()
    mp.setenv("LITHOSCOPE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    bundles = {}
    try:
        with connect() as db:
            db.build()
            ingest(db, str(zpath), progress=False)
            for kind, (name, params) in runs.items():
                result = train(db, "raman", kind, name=name, params=params, calibration_size=0.3)
                bundles[kind] = IdentificationModel.load(result.ref.path)
    finally:
        mp.undo()
        get_settings.cache_clear()
    part = bundles["library"].part("raman")
    X, _ = part.preprocess([read_spectrum(p) for p in sorted(held.iterdir())])
    return data_dir, bundles, X


@pytest.fixture(scope="module")
def trained(trained_all):
    """(data_dir, the library bundle, held-out X)."""
    data_dir, bundles, X = trained_all
    return data_dir, bundles["library"], X


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


# ---------------------------------------------------------------------------------- cnn, ensemble
def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _with_temperature(estimator, temperature):
    """A copy of a fitted model (an ensemble: of its members) scoring at another temperature."""
    import copy

    other = copy.copy(estimator)
    if hasattr(other, "members_"):
        other.members_ = [_with_temperature(m, temperature) for m in other.members_]
    else:
        other.temperature_ = temperature
    return other


@pytest.mark.parametrize("kind", ["cnn", "ensemble"])
def test_cnn_and_ensemble_agree_with_native_on_heldout_spectra(trained_all, tmp_path, kind):
    """The network runs in float32 on both sides (XLA and onnxruntime sum in other orders): the
    scores agree to a few float32 roundings, the probabilities to that over the temperature.

    The temperatures fitted on this small set collapse (about 1e-4: one-hot probabilities), so
    the check is repeated at 0.05, about what full-size Raman models fit.
    """
    from lithoscope.pipeline.bundle import MethodModel

    _, bundles, X = trained_all
    part = bundles[kind].part("raman")
    for i, temperature in enumerate([None, 0.05]):
        estimator = part.estimator
        bundle = bundles[kind]
        if temperature is not None:
            estimator = _with_temperature(estimator, temperature)
            bundle = IdentificationModel(
                {"raman": MethodModel("raman", estimator, part.preprocessing)}
            )
        out = export_onnx(bundle, "raman", tmp_path / f"{kind}{i}")
        proba, scores = _session(out).run(["probabilities", "scores"], {"spectra": X})
        native_proba, native_scores = estimator.predict_scores(X)
        np.testing.assert_allclose(scores, native_scores, rtol=0, atol=1e-6)
        np.testing.assert_allclose(proba, native_proba, rtol=0, atol=1e-5)
        np.testing.assert_array_equal(proba.argmax(axis=1), native_proba.argmax(axis=1))
        np.testing.assert_allclose(run_onnx(out, X[:1]), native_proba[:1], rtol=0, atol=1e-5)
        manifest = verify_export(out.parent)
        assert manifest["source"]["kind"] == type(estimator).__name__
        assert ("members'" in manifest["outputs"]["probabilities"]) == (kind == "ensemble")
    assert proba.max(axis=1).min() < 0.99  # at 0.05 the probabilities are not one-hot


def test_cnn_graph_holds_the_hybrid_score(trained_all, tmp_path):
    """The CNN's matching in the graph is the native maths: from the graph's own embedding, the
    NumPy score (`embedding_scores`, `library_features`, the hybrid blend) is its output."""
    from onnx import helper, load

    from lithoscope.models.keras.cnn import embedding_scores, library_features
    from lithoscope.models.scoring import class_max, class_starts

    _, bundles, X = trained_all
    cnn = bundles["cnn"].part("raman").estimator
    assert 0 < cnn.hybrid_weight_ < 1 and 0 < cnn.derivative_weight_ < 1
    out = export_onnx(bundles["cnn"], "raman", tmp_path / "cnn")
    model = load(out)
    embedding = next(n.output[0] for n in model.graph.node if n.name == "embedding64")
    model.graph.output.append(helper.make_tensor_value_info(embedding, 11, ["n", None]))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    scores, E = session.run(["scores", embedding], {"spectra": X})
    np.testing.assert_allclose(E, cnn.embed(X), rtol=0, atol=1e-6)
    starts = class_starts(cnn.reference_labels_)
    R = cnn.reference_embeddings_.astype(np.float64)
    s_embed = embedding_scores(E, R, starts, cnn.prototype_weight)
    L = library_features(X, cnn.derivative_weight_, cnn._pool).astype(np.float64)
    s_lib = class_max(L @ cnn.reference_library_.astype(np.float64).T, starts)
    w = cnn.hybrid_weight_
    np.testing.assert_allclose(scores, w * s_embed + (1 - w) * s_lib, rtol=0, atol=1e-12)
    inside = json.loads((out.parent / "preprocess.json").read_text())["inside_onnx"]
    assert any("Conv1D" in step and "PowerScale" in step for step in inside)
    assert any(f"{w!r} * embedding score" in step for step in inside)


@pytest.mark.parametrize(
    "params",
    [
        {"head": "kan", "hybrid_weight": None},
        {"n_models": 2, "hybrid_weight": None, "prototype_weight": 0.0},
    ],
    ids=["kan-head", "two-towers-embedding-only"],
)
def test_cnn_variants_agree_with_native(trained, raman_small, split_small, tmp_path, params):
    """The KAN head (KANLinear) and two concatenated towers, on held-out samples."""
    from lithoscope.models.keras.cnn import CNNClassifier
    from lithoscope.pipeline.bundle import MethodModel

    X, y, groups, axis = raman_small
    train_idx, test_idx = split_small
    part = trained[1].part("raman")
    np.testing.assert_array_equal(axis, part.grid)  # the same Raman preset
    cnn = CNNClassifier(axis=axis, **{**TINY_CNN, "epochs": 2, **params})
    cnn.fit(X[train_idx], y[train_idx], groups=groups[train_idx])
    bundle = IdentificationModel({"raman": MethodModel("raman", cnn, part.preprocessing)})
    out = export_onnx(bundle, "raman", tmp_path / "onnx")
    proba, scores = _session(out).run(["probabilities", "scores"], {"spectra": X[test_idx]})
    native_proba, native_scores = cnn.predict_scores(X[test_idx])
    np.testing.assert_allclose(
        scores, native_scores, rtol=0, atol=1e-5 if cnn.head == "kan" else 1e-6
    )
    np.testing.assert_allclose(proba, native_proba, rtol=0, atol=1e-5)


def test_unsupported_layer_or_member_is_one_line_error(trained_all, tmp_path):
    import copy

    import keras

    from lithoscope.pipeline.bundle import MethodModel

    _, bundles, _ = trained_all
    part = bundles["cnn"].part("raman")
    cnn = copy.copy(part.estimator)
    inputs = keras.Input((part.grid.size,))
    h = keras.layers.Dense(16)(inputs)
    cnn.model_ = keras.Model(inputs, keras.layers.LayerNormalization(name="odd")(h))
    bundle = IdentificationModel({"raman": MethodModel("raman", cnn, part.preprocessing)})
    with pytest.raises(InputError, match=r"layer 'odd' is a LayerNormalization, which") as info:
        export_onnx(bundle, "raman", tmp_path / "x")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "x").exists()

    class Other:
        classes_ = part.classes

    ensemble = copy.copy(bundles["ensemble"].part("raman").estimator)
    ensemble.members_ = [ensemble.members_[0], Other()]
    bundle = IdentificationModel({"raman": MethodModel("raman", ensemble, part.preprocessing)})
    with pytest.raises(InputError, match=r"ensemble member 1 is a Other; ONNX export") as info:
        export_onnx(bundle, "raman", tmp_path / "y")
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------------- keras layers
def _keras_against_onnx(model, x, atol=1e-5):
    from lithoscope.pipeline.export import keras_to_onnx

    proto = keras_to_onnx(model)
    import onnx

    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"input0": x})
    expected = np.asarray(model(x, training=False))
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=atol)


def test_every_layer_converter_agrees_with_keras():
    """One network through every converter of `KERAS_LAYERS` (nested model, paddings, strides,
    dilation, groups, batch statistics), against Keras itself."""
    keras = pytest.importorskip("keras")
    from keras import layers

    from lithoscope.models.keras.layers import CosineProxies, KANLinear, PowerScale
    from lithoscope.pipeline.export import KERAS_LAYERS

    inputs = keras.Input((64,))
    h = layers.Reshape((64, 1))(PowerScale(0.3)(inputs))
    a = layers.Conv1D(3, 5, padding="same", activation="relu")(h)
    b = layers.Conv1D(3, 3, padding="causal", dilation_rate=2, use_bias=False)(h)
    h = layers.Concatenate()([a, b])
    h = layers.Conv1D(4, 3, strides=2, groups=2, activation="tanh")(h)
    h = layers.Activation("silu")(layers.BatchNormalization()(h))
    h = layers.MaxPooling1D(3, strides=2, padding="same")(layers.MaxPooling1D(2)(h))
    h = layers.Dense(8, activation="elu")(layers.Dropout(0.5)(layers.Flatten()(h)))
    inner_in = keras.Input((8,))
    inner = keras.Model(inner_in, layers.UnitNormalization()(layers.Dense(6)(inner_in)))
    e = inner(h)
    k = KANLinear(5, grid_size=4, seed=1)(layers.Rescaling(2.0, offset=0.5)(e))
    c = CosineProxies(4, seed=2)(e)
    model = keras.Model(inputs, layers.Concatenate()([k, c]))
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.set_weights(
                [
                    rng.uniform(0.5, 2, 4),
                    rng.normal(size=4),
                    rng.normal(size=4),
                    rng.uniform(0.1, 2, 4),
                ]
            )
    used = {type(layer).__name__ for layer in model.layers} | {
        type(layer).__name__ for layer in inner.layers
    }
    assert set(KERAS_LAYERS) <= used
    x = rng.uniform(-0.2, 1.0, size=(7, 64)).astype(np.float32)
    _keras_against_onnx(model, x)


@pytest.mark.parametrize(
    "activation", ["linear", "relu", "sigmoid", "tanh", "softmax", "silu", "elu", "softplus"]
)
def test_activations_agree_with_keras(activation):
    keras = pytest.importorskip("keras")
    from lithoscope.pipeline.export import _ACTIVATIONS

    assert activation in _ACTIVATIONS
    inputs = keras.Input((5,))
    model = keras.Model(inputs, keras.layers.Dense(4, activation=activation)(inputs))
    x = np.random.default_rng(1).normal(size=(3, 5)).astype(np.float32)
    _keras_against_onnx(model, x)


@pytest.mark.parametrize("basis", ["bspline", "rbf", "chebyshev"])
def test_kan_bases_agree_with_keras(basis):
    keras = pytest.importorskip("keras")
    from lithoscope.models.keras.layers import KANLinear

    inputs = keras.Input((6,))
    model = keras.Model(inputs, KANLinear(3, basis=basis, grid_size=5, seed=0)(inputs))
    x = np.random.default_rng(2).uniform(-2.5, 2.5, size=(9, 6)).astype(np.float32)
    _keras_against_onnx(model, x)


def test_unknown_activation_is_named():
    keras = pytest.importorskip("keras")
    from lithoscope.pipeline.export import keras_to_onnx

    inputs = keras.Input((5,))
    model = keras.Model(inputs, keras.layers.Dense(4, activation="gelu", name="d")(inputs))
    with pytest.raises(InputError, match=r"layer 'd': activation 'gelu' is not one"):
        keras_to_onnx(model)


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
    assert {m["name"]: m["versions"] for m in doc["models"]} == {
        "raman-cnn": [1],
        "raman-ensemble": [1],
        "raman-lib": [1],
    }
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
