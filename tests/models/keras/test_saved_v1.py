"""Model folders saved before the Keras code moved to ``lithoscope.models.keras`` still load.

The folders in ``data/saved_v1`` were written by the previous layout (see its README); their
``model.json`` names the old class paths and their ``.keras`` files the registered layer names
(``lithoscope>PowerScale``...). Loading goes through `LEGACY_CLASS_PATHS` and must give the
probabilities that the old code computed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("keras")

from lithoscope.models.base import load_model
from lithoscope.models.kinds import LEGACY_CLASS_PATHS, resolve_class_path

SAVED = Path(__file__).parent / "data" / "saved_v1"


def _load(name: str, tmp_path: Path):
    """Load the saved folder ``name``, its old class path resolved through the alias table."""
    folder = tmp_path / name
    shutil.copytree(SAVED / name, folder)
    doc = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    assert doc["class"] in LEGACY_CLASS_PATHS  # the files really use the old paths
    doc["class"] = resolve_class_path(doc["class"])
    (folder / "model.json").write_text(json.dumps(doc), encoding="utf-8")
    return load_model(folder)


@pytest.mark.parametrize("name", ["cnn", "kan"])
def test_old_folders_load_and_predict_as_before(name, raman_small, tmp_path):
    X = raman_small[0]
    expected = np.load(SAVED / "expected.npz")
    model = _load(name, tmp_path)
    assert type(model).__module__.startswith("lithoscope.models.keras.")
    proba = model.predict_proba(X[expected["test_index"]])
    np.testing.assert_allclose(proba, expected[f"{name}_proba"], atol=1e-5)


def test_new_feature_maths_reproduces_the_saved_reference_rows(raman_small, split_small, tmp_path):
    # the saved hybrid rows were made by the old cnn.library_features; its new home
    # (scoring.correlation_features through library_features) must give the same rows
    from lithoscope.models.keras.cnn import library_features

    X, y, _, _ = raman_small
    train, _ = split_small
    model = _load("cnn", tmp_path)
    rows = train[np.isin(y[train], model.classes_)]  # as make.py chose them
    rows = rows[np.argsort(np.searchsorted(model.classes_, y[rows]), kind="stable")]
    again = library_features(X[rows], model.derivative_weight_, model._pool)
    np.testing.assert_allclose(again, model.reference_library_, atol=1e-6)
