"""The model bundle and the registry: one save/load, checksums, atomic versions, old folders."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import warnings

import numpy as np
import pytest

from lithoscope.errors import InputError
from lithoscope.models.base import load_model
from lithoscope.models.library import LibrarySearch
from lithoscope.pipeline.bundle import IdentificationModel, single_method
from lithoscope.pipeline.identify import identify_batch
from lithoscope.pipeline.registry import Registry, RegistryWarning
from lithoscope.pipeline.train import calibrate
from lithoscope.spectra.preprocessing import make_preset, pipeline_to_dict
from lithoscope.spectra.spectrum import Spectrum


@pytest.fixture(scope="module")
def parts(raman_small, split_small):
    X, y, groups, axis = raman_small
    train, test = split_small
    model = LibrarySearch(axis=axis).fit(X[train], y[train], groups=groups[train])
    conformal, unknown, summary = calibrate(model, X[test], y[test], false_unknown_rate=0.1)
    return model, conformal, unknown, summary, X[test], y[test], axis


def make_bundle(parts):
    model, conformal, unknown, summary, *_ = parts
    return single_method(
        "raman",
        model,
        pipeline_to_dict(make_preset("raman")),
        conformal=conformal,
        unknown=unknown,
        calibration=summary,
        provenance={"dataset_version": "test", "config": {"kind": "library"}},
    )


def spectra_of(X, y, axis):
    return [
        Spectrum(axis, x, "raman", metadata={"file": f"{m}.txt"}) for x, m in zip(X, y, strict=True)
    ]


def test_save_load_round_trip_gives_the_same_answers(parts, tmp_path):
    *_, X, y, axis = parts
    bundle = make_bundle(parts)
    path = bundle.save(tmp_path / "b")
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["schema_version"] == 1 and set(manifest["methods"]) == {"raman"}
    assert "raman/estimator/model.json" in manifest["files"]
    loaded = IdentificationModel.load(path)
    assert loaded.provenance["dataset_version"] == "test"
    before = [r.to_dict() for r in identify_batch(spectra_of(X, y, axis), bundle)]
    after = [r.to_dict() for r in identify_batch(spectra_of(X, y, axis), loaded)]
    for a, b in zip(before, after, strict=True):
        assert a["candidates"] == b["candidates"] and a["prediction_set"] == b["prediction_set"]
        assert a["unknown_score"] == pytest.approx(b["unknown_score"])


def test_save_refuses_an_existing_folder(parts, tmp_path):
    bundle = make_bundle(parts)
    bundle.save(tmp_path / "b")
    with pytest.raises(FileExistsError):
        bundle.save(tmp_path / "b")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda p: (p / "raman/conformal.json").write_text("{}"), "checksum mismatch"),
        (lambda p: (p / "raman/estimator/arrays.npz").unlink(), "arrays.npz is missing"),
        (lambda p: (p / "manifest.json").write_text("{not json"), "not valid JSON"),
        (lambda p: (p / "manifest.json").unlink(), "no manifest.json"),
        (
            lambda p: _edit_manifest(p, schema_version=99),
            "written by a newer lithoscope",
        ),
        (
            lambda p: _edit_manifest(p, files={"../../etc/passwd": "0" * 64}),
            "points outside the model folder",
        ),
    ],
)
def test_damaged_bundles_are_one_line_errors(parts, tmp_path, damage, match):
    path = make_bundle(parts).save(tmp_path / "b")
    damage(path)
    with pytest.raises(InputError, match=match) as info:
        IdentificationModel.load(path)
    assert "\n" not in str(info.value)


def _edit_manifest(path, **changes):
    manifest = json.loads((path / "manifest.json").read_text())
    manifest.update(changes)
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_a_folder_of_lithoscope_0_1_still_loads(parts, tmp_path):
    """model.json + conformal.json + unknown.json side by side, as 0.1 wrote them."""
    model, conformal, unknown, _, X, y, axis = parts
    legacy = tmp_path / "models" / "old" / "v1"
    model.set_provenance(preprocessing=pipeline_to_dict(make_preset("raman")), method="raman")
    model.save(legacy)
    conformal.save(legacy / "conformal.json")
    unknown.save(legacy / "unknown.json")
    (tmp_path / "models" / "defaults.json").write_text('{"raman": "old"}')
    bundle, ref = Registry(tmp_path / "models").load(method="raman")
    assert str(ref) == "old@1" and bundle.methods == ("raman",)
    assert bundle.part("raman").calibrated
    result = identify_batch(spectra_of(X[:3], y[:3], axis), bundle)
    assert all(r.prediction_set and r.unknown is not None for r in result)
    reloaded = load_model(legacy)  # the folder itself is untouched
    assert list(reloaded.classes_) == list(model.classes_)


def test_registry_skips_a_broken_newest_version(parts, tmp_path):
    registry = Registry(tmp_path / "models")
    registry.register(make_bundle(parts), "m")
    second = registry.register(make_bundle(parts), "m")
    (second.path / "raman" / "unknown.json").write_text("{}")
    fresh = Registry(tmp_path / "models")
    with pytest.warns(RegistryWarning, match="m@2 cannot be loaded"):
        _, ref = fresh.load(method="raman")
    assert str(ref) == "m@1"
    with pytest.raises(InputError, match="checksum mismatch"):
        fresh.load("m@2")
    # an interrupted save (no manifest) is not a version at all
    shutil.copytree(second.path, tmp_path / "models" / "m" / "v3")
    (tmp_path / "models" / "m" / "v3" / "manifest.json").unlink()
    assert fresh.versions("m") == [1, 2]
    with pytest.warns(RegistryWarning, match="m@3 is incomplete"):
        fresh.load("m", method="raman")


def test_a_bundle_refuses_a_method_it_does_not_have(parts, tmp_path):
    registry = Registry(tmp_path / "models")
    registry.register(make_bundle(parts), "m")
    with pytest.raises(InputError, match="identifies raman spectra, not ir"):
        registry.load("m", method="ir")


def _register_many(root, n, queue):
    """Child process: register n versions of one name as fast as it can."""
    import os

    os.environ["KERAS_BACKEND"] = "jax"
    from lithoscope.pipeline.bundle import IdentificationModel as IM
    from lithoscope.pipeline.registry import Registry as R

    registry = R(root)
    template = IM.load(root / "template" / "v1")
    refs = [str(registry.register(template, "race")) for _ in range(n)]
    queue.put(refs)


def test_concurrent_registrations_get_distinct_complete_versions(parts, tmp_path):
    root = tmp_path / "models"
    Registry(root).register(make_bundle(parts), "template")
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_register_many, args=(root, 3, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    refs = [r for _ in procs for r in queue.get(timeout=120)]
    for p in procs:
        p.join(timeout=60)
    assert sorted(refs) == [f"race@{v}" for v in range(1, 7)]
    registry = Registry(root)
    assert registry.versions("race") == list(range(1, 7))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no incomplete or broken version
        for v in range(1, 7):
            registry.load(f"race@{v}")


def test_coverage_unknown_and_refusals(parts):
    """Spectra that do not cover the model's axis get 'unknown' or a one-line refusal."""
    *_, X, _, axis = parts
    bundle = make_bundle(parts)
    full = Spectrum(axis, X[0], "raman", metadata={"file": "full.txt"})
    keep = (axis >= 127) & (axis <= 300)
    cut = Spectrum(axis[keep], X[0][keep], "raman", metadata={"file": "cut.txt"})
    two = Spectrum([100.0, 200.0], [1.0, 2.0], "raman", metadata={"file": "two.txt"})
    negative = Spectrum(axis, -1.0 - np.abs(X[0]), "raman", metadata={"file": "neg.txt"})
    flat = Spectrum(axis, np.full(axis.size, 3.0), "raman", metadata={"file": "flat.txt"})
    far = Spectrum(np.linspace(2000, 3000, 200), X[0][:200], "raman", metadata={"file": "far"})
    r_full, r_cut, r_two, r_neg, r_flat, r_far = identify_batch(
        [full, cut, two, negative, flat, far], bundle
    )
    assert r_full.refused is None and r_full.coverage == 1.0 and not r_full.warnings
    assert r_cut.refused is None and r_cut.unknown is True
    assert r_cut.coverage == pytest.approx((300 - 127) / (axis[-1] - axis[0]), abs=0.01)
    assert any("covers only 13%" in w for w in r_cut.warnings)
    assert "only 2 measured point(s)" in r_two.refused and not r_two.candidates
    assert "every intensity is zero or negative" in r_neg.refused
    assert "constant" in r_flat.refused
    assert "does not overlap" in r_far.refused
    for r in (r_two, r_neg, r_flat, r_far):
        assert "\n" not in r.refused and r.to_dict()["candidates"] == []
