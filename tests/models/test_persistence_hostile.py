"""Saved model folders that are truncated, foreign or tampered with: one `ModelFileError` line.

Every case starts from a real model fitted on RRUFF spectra and saved by lithoscope, then damages
one file the way a failed copy, a mix-up or an attacker would. Loading must name the folder and the
file, say it is corrupt or foreign and how to fix it, and never run code or half-load.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lithoscope.errors import InputError, ModelFileError
from lithoscope.models.base import MODEL_FORMAT_VERSION, load_model
from lithoscope.models.classical import TRUSTED_SKOPS_TYPES, ClassicalClassifier
from lithoscope.models.library import LibrarySearch

CORRUPT = "is corrupt or not a lithoscope model file"


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message and "Traceback" not in message
    assert isinstance(exc.value, InputError)
    return message


@pytest.fixture(scope="module")
def data(raman_small, split_small):
    X, y, groups, axis = raman_small
    train, test = split_small
    return X[train], y[train], groups[train], X[test], axis


@pytest.fixture(scope="module")
def fitted(data) -> dict[str, object]:
    """A library model and the three classical baselines, fitted on RRUFF Raman spectra."""
    X, y, _, _, axis = data
    models = {
        "library": LibrarySearch(axis=axis),
        "pca-logreg": ClassicalClassifier(kind="pca-logreg", axis=axis, n_components=20),
        "pca-svm": ClassicalClassifier(kind="pca-svm", axis=axis, n_components=20),
        "rf": ClassicalClassifier(kind="rf", axis=axis, n_components=20),
    }
    return {name: model.fit(X, y) for name, model in models.items()}


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("saved")
    return {name: model.save(root / name) for name, model in fitted.items()}


@pytest.fixture
def copy(saved, tmp_path):
    def make(name: str) -> Path:
        return Path(shutil.copytree(saved[name], tmp_path / name))

    return make


@pytest.mark.parametrize("name", ["library", "pca-logreg", "pca-svm", "rf"])
def test_round_trip_still_answers_the_same(fitted, saved, data, name):
    X_test = data[3]
    loaded = load_model(saved[name])
    assert type(loaded) is type(fitted[name])
    np.testing.assert_array_equal(loaded.classes_, fitted[name].classes_)
    np.testing.assert_allclose(
        loaded.predict_proba(X_test), fitted[name].predict_proba(X_test), rtol=1e-6, atol=1e-9
    )


# ------------------------------------------------------------------------------- model.json
def _edit_json(folder: Path, change) -> None:
    path = folder / "model.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d.update({"class": "os.system"}), "names class 'os.system', not a lithoscope"),
        (
            lambda d: d.update({"class": "lithoscope.errors.InputError"}),
            "not a lithoscope model",
        ),
        (
            lambda d: d.update({"class": "lithoscope.models.base.SpectralClassifier"}),
            "not a lithoscope model",
        ),
        (
            lambda d: d.update({"class": "lithoscope.models.base.np"}),
            "not a lithoscope model",
        ),
        (
            lambda d: d.update({"class": "lithoscope.models.nothere.Model"}),
            "does not exist in lithoscope",
        ),
        (lambda d: d["params"].update({"colour": "red"}), "takes no parameter 'colour'"),
        (lambda d: d["params"].update({"**": 1}), "takes no parameter"),
        (lambda d: d.update({"format_version": MODEL_FORMAT_VERSION + 1}), "newer lithoscope"),
        (lambda d: d.update({"format_version": "1"}), "is not a whole number"),
        (lambda d: d.update({"classes": "Quartz"}), "'classes' should be a list"),
        (lambda d: d.update({"classes": []}), "non-empty list"),
        (lambda d: d.pop("n_features_in"), "'n_features_in' should be a int, got nothing"),
        (lambda d: d.update({"n_features_in": 7}), "axis_ has shape"),
        (lambda d: d.update({"state": {}}), "KeyError"),
        (lambda d: d.update({"classes": d["classes"][:5]}), "classes"),
        (lambda d: d.update({"format": "keras"}), CORRUPT),
    ],
    ids=[
        "class-os-system",
        "class-outside-models",
        "abstract-base",
        "module-not-class",
        "missing-module",
        "unknown-param",
        "odd-param-name",
        "newer-format",
        "format-version-text",
        "classes-not-list",
        "classes-empty",
        "no-n-features",
        "n-features-mismatch",
        "state-missing-keys",
        "fewer-classes-than-references",
        "foreign-format",
    ],
)
def test_tampered_model_json_is_one_line(copy, change, match):
    folder = copy("library")
    _edit_json(folder, change)
    with pytest.raises(ModelFileError, match=match) as info:
        load_model(folder)
    message = _one_line(info)
    assert message.startswith(str(folder))


@pytest.mark.parametrize(
    "content",
    [b"", b'{"format": "lithoscope-model", "cla', b"\xff\xfe\x00garbage", b"[1, 2]"],
    ids=["empty", "truncated", "binary", "not-an-object"],
)
def test_broken_model_json_is_one_line(copy, content):
    folder = copy("library")
    (folder / "model.json").write_bytes(content)
    with pytest.raises(ModelFileError, match=f"model.json {CORRUPT}.*; retrain") as info:
        load_model(folder)
    _one_line(info)


def test_missing_folder_and_missing_model_json(tmp_path):
    with pytest.raises(ModelFileError, match="no such model folder"):
        load_model(tmp_path / "absent")
    with pytest.raises(ModelFileError, match="no model.json"):
        load_model(tmp_path)


def test_legacy_class_path_still_loads(copy, data, tmp_path):
    """Models saved before the Keras move name lithoscope.models.cnn/kan; the alias table maps
    them (checked here on the table itself, with a library model standing in)."""
    kinds = pytest.importorskip("lithoscope.models.kinds")
    table = getattr(kinds, "LEGACY_CLASS_PATHS", {})
    assert table, "LEGACY_CLASS_PATHS is empty"
    for old, new in table.items():
        assert old.startswith("lithoscope.models.") and new.startswith("lithoscope.models.")


# ------------------------------------------------------------------------------- arrays.npz
@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "missing"])
def test_damaged_arrays_npz_is_one_line(copy, damage):
    folder = copy("library")
    path = folder / "arrays.npz"
    content = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(content[: len(content) // 2])
    elif damage == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(len(content)))
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()
    match = "arrays.npz is missing" if damage == "missing" else f"arrays.npz {CORRUPT}"
    with pytest.raises(ModelFileError, match=match) as info:
        load_model(folder)
    _one_line(info)


class _Payload:
    """Unpickling this touches a marker file: proof that code from the file would have run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_pickled_object_array_is_refused_without_running_it(copy, tmp_path):
    folder = copy("library")
    marker = tmp_path / "pwned"
    with np.load(folder / "arrays.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    payload = np.empty(1, dtype=object)
    payload[0] = _Payload(marker)
    arrays["references_"] = payload
    np.savez(folder / "arrays.npz", **arrays)  # savez pickles object arrays
    with pytest.raises(ModelFileError, match=f"arrays.npz {CORRUPT}.*pickle") as info:
        load_model(folder)
    _one_line(info)
    assert not marker.exists()


def test_axis_of_another_length_is_refused(copy):
    folder = copy("library")
    with np.load(folder / "arrays.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["axis_"] = arrays["axis_"][:-3]
    np.savez(folder / "arrays.npz", **arrays)
    with pytest.raises(ModelFileError, match="axis_ has shape"):
        load_model(folder)


def test_references_of_another_model_are_refused(copy, saved):
    """arrays.npz of a model on the same axis but other references: the shapes disagree."""
    folder = copy("library")
    with np.load(folder / "arrays.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["references_"] = arrays["references_"][:, :50]
    np.savez(folder / "arrays.npz", **arrays)
    with pytest.raises(ModelFileError, match=CORRUPT) as info:
        load_model(folder)
    _one_line(info)


# ------------------------------------------------------------------------------- skops
def _rewrite_zip(path: Path, edit) -> None:
    """Rewrite a skops zip with ``edit(schema) -> schema`` applied to its schema.json."""
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members["schema.json"] = json.dumps(edit(json.loads(members["schema.json"]))).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)


def _find(node, predicate):
    if isinstance(node, dict):
        if predicate(node):
            return node
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _find(child, predicate)
        if found is not None:
            return found
    return None


def test_skops_naming_numpy_runstring_is_refused(copy):
    """A function anywhere under numpy was trusted before; an exact list refuses it."""
    folder = copy("pca-logreg")

    def plant(schema):
        node = _find(schema, lambda n: n.get("__class__") == "PCA")
        solver = node["content"]["content"]["svd_solver"]
        solver.clear()
        solver.update(
            {
                "__class__": "runstring",
                "__module__": "numpy.testing._private.utils",
                "__loader__": "FunctionNode",
                "__id__": 1,
            }
        )
        return schema

    _rewrite_zip(folder / "estimator.skops", plant)
    import skops.io as sio

    assert "numpy.testing._private.utils.runstring" in sio.get_untrusted_types(
        file=folder / "estimator.skops"
    )
    with pytest.raises(ModelFileError, match="numpy.testing._private.utils.runstring") as info:
        load_model(folder)
    message = _one_line(info)
    assert "estimator.skops" in message and "refusing" in message


def test_trusted_skops_types_are_exactly_what_our_pipelines_need(saved):
    import skops.io as sio

    needed = set()
    for name in ("pca-logreg", "pca-svm", "rf"):
        needed |= set(sio.get_untrusted_types(file=saved[name] / "estimator.skops"))
    assert needed == TRUSTED_SKOPS_TYPES


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing", "not-a-skops-zip"])
def test_damaged_skops_is_one_line(copy, damage):
    folder = copy("pca-svm")
    path = folder / "estimator.skops"
    content = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(content[: len(content) // 2])
    elif damage == "garbage":
        path.write_bytes(np.random.default_rng(1).bytes(4096))
    elif damage == "missing":
        path.unlink()
    else:
        shutil.copy(folder / "arrays.npz", path)  # a zip, but not skops
    match = "estimator.skops is missing" if damage == "missing" else f"estimator.skops {CORRUPT}"
    with pytest.raises(ModelFileError, match=match) as info:
        load_model(folder)
    _one_line(info)


def test_swapped_skops_of_another_kind_is_refused(copy, saved):
    folder = copy("pca-logreg")
    shutil.copy(saved["rf"] / "estimator.skops", folder / "estimator.skops")
    with pytest.raises(ModelFileError, match="not the pca-logreg pipeline") as info:
        load_model(folder)
    _one_line(info)


def test_skops_of_something_else_is_refused(copy):
    import skops.io as sio

    folder = copy("pca-logreg")
    sio.dump({"not": "a pipeline"}, folder / "estimator.skops")
    with pytest.raises(ModelFileError, match="holds dict, not the pca-logreg pipeline"):
        load_model(folder)


# ------------------------------------------------------------------------------- keras
@pytest.fixture(scope="module")
def keras_saved(data, tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("keras")
    cnn = pytest.importorskip("lithoscope.models.keras.cnn")
    kan = pytest.importorskip("lithoscope.models.keras.kan")
    X, y, groups, _, axis = data
    root = tmp_path_factory.mktemp("keras")
    tiny = {"epochs": 1, "batch_size": 32, "validation_size": 0.0, "patience": None}
    cnn_model = cnn.CNNClassifier(
        axis=axis, channels=(4, 8), embedding_dim=16, hybrid_weight=0.5, **tiny
    )
    kan_model = kan.KANClassifier(axis=axis, n_components=8, hidden=(8,), **tiny)
    return {
        "cnn": cnn_model.fit(X, y, groups=groups).save(root / "cnn"),
        "kan": kan_model.fit(X, y, groups=groups).save(root / "kan"),
    }


@pytest.fixture
def keras_copy(keras_saved, tmp_path):
    def make(name: str) -> Path:
        return Path(shutil.copytree(keras_saved[name], tmp_path / name))

    return make


def test_keras_round_trip(keras_saved, data):
    X_test = data[3]
    for folder in keras_saved.values():
        a, b = load_model(folder), load_model(folder)
        np.testing.assert_allclose(a.predict_proba(X_test), b.predict_proba(X_test), rtol=1e-5)


@pytest.mark.parametrize("damage", ["other-model", "truncate", "garbage", "zip-not-keras"])
def test_swapped_or_damaged_keras_file_is_one_line(keras_copy, keras_saved, damage):
    folder = keras_copy("cnn")
    path = folder / "model.keras"
    if damage == "other-model":
        shutil.copy(keras_saved["kan"] / "model.keras", path)
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[:2000])
    elif damage == "garbage":
        path.write_bytes(np.random.default_rng(2).bytes(5000))
    else:
        shutil.copy(folder / "arrays.npz", path)
    with pytest.raises(ModelFileError, match=CORRUPT) as info:
        load_model(folder)
    message = _one_line(info)
    assert message.startswith(str(folder)) and "model.keras" in message
