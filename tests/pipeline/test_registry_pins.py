"""Defaults pinned to one version (``NAME@VERSION``) in the registry, next to defaults by name."""

from __future__ import annotations

import json
import warnings

import pytest

from lithoscope.errors import InputError
from lithoscope.models.library import LibrarySearch
from lithoscope.pipeline.bundle import single_method
from lithoscope.pipeline.registry import Registry, RegistryWarning
from lithoscope.spectra.preprocessing import make_preset, pipeline_to_dict


@pytest.fixture(scope="module")
def bundle(raman_small, split_small):
    """A library model of real RRUFF Raman spectra as a one-method bundle."""
    X, y, groups, axis = raman_small
    train, _ = split_small
    model = LibrarySearch(axis=axis).fit(X[train], y[train], groups=groups[train])
    return single_method(
        "raman", model, pipeline_to_dict(make_preset("raman")), provenance={"config": {}}
    )


@pytest.fixture
def registry(bundle, tmp_path):
    """Three versions of 'lib'; the default of raman follows the name."""
    reg = Registry(tmp_path / "models")
    for _ in range(3):
        reg.register(bundle, "lib")
    return reg


def test_pinned_default_resolves_to_exactly_that_version(registry, bundle):
    assert registry.defaults() == {"raman": "lib"}
    assert str(registry.resolve(None, method="raman")) == "lib@3"
    assert registry.set_default("raman", "lib@v2") == "lib@2"  # canonical spelling stored
    assert json.loads((registry.root / "defaults.json").read_text()) == {"raman": "lib@2"}
    assert str(registry.resolve(None, method="raman")) == "lib@2"
    model, ref = Registry(registry.root).load(method="raman")
    assert str(ref) == "lib@2" and model.ref == "lib@2"
    # a newer version does not move a pin ...
    registry.register(bundle, "lib")
    assert str(registry.resolve(None, method="raman")) == "lib@2"
    assert registry.default_models() == {
        "raman": {"spec": "lib@2", "model": "lib@2", "pinned": True}
    }
    # ... registering as default on purpose does, and the default follows the name again
    registry.register(bundle, "lib", make_default=True)
    assert registry.defaults() == {"raman": "lib"}
    assert registry.default_models()["raman"] == {"spec": "lib", "model": "lib@5", "pinned": False}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("lib@7", "model 'lib' has no version '7'; versions: 1, 2, 3"),
        ("lib@two", "model 'lib' has no version 'two'"),
        ("other", "no model named 'other'"),
        ("bad name@1", "model name 'bad name'"),
    ],
)
def test_unknown_versions_are_refused(registry, spec, message):
    with pytest.raises(InputError, match=message):
        registry.set_default("raman", spec)
    assert registry.defaults() == {"raman": "lib"}


def test_incomplete_damaged_or_other_method_versions_are_refused(registry):
    manifest = registry.root / "lib" / "v1" / "manifest.json"
    manifest.rename(manifest.with_suffix(".bak"))  # an interrupted save leaves no manifest
    with pytest.raises(InputError, match=r"lib@1 is incomplete \(no manifest"):
        registry.set_default("raman", "lib@1")
    estimator = next(p for p in (registry.root / "lib" / "v2").rglob("*") if p.suffix == ".npz")
    estimator.write_bytes(estimator.read_bytes()[:-10])
    with pytest.raises(InputError, match="checksum mismatch"):
        Registry(registry.root).set_default("raman", "lib@2")
    with pytest.raises(InputError, match="identifies raman spectra, not ir"):
        registry.set_default("ir", "lib@3")
    assert registry.defaults() == {"raman": "lib"}


def test_a_pin_whose_version_is_gone_is_named(registry):
    import shutil

    registry.set_default("raman", "lib@1")
    shutil.rmtree(registry.root / "lib" / "v1")
    with pytest.raises(InputError, match=r"the default raman model lib@1 \(pinned with"):
        registry.resolve(None, method="raman")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RegistryWarning)
        entry = registry.default_models()["raman"]
    assert entry["model"] is None and "promote another version" in entry["problem"]
