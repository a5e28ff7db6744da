"""The registry's name lock across processes, and `learn` under it (read parent -> register)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from lithoscope.errors import InputError
from lithoscope.models.library import LibrarySearch
from lithoscope.pipeline.bundle import IdentificationModel, single_method
from lithoscope.pipeline.learn import learn
from lithoscope.pipeline.registry import Registry
from lithoscope.spectra.preprocessing import make_preset, pipeline_to_dict
from lithoscope.spectra.spectrum import Spectrum

#: longer than every class name of the trained model: a fixed-width class array would cut it
LONG_NAME = "Lithoscopeite-(Ce)-extralongname"

_LOCKER = textwrap.dedent(
    """
    import sys
    from lithoscope.pipeline.registry import Registry

    registry = Registry(sys.argv[1])
    print("ready", flush=True)
    with registry.lock("m"):
        print("locked", flush=True)
    """
)

_LEARNER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from lithoscope.mindb import connect
    from lithoscope.pipeline.learn import learn
    from lithoscope.spectra.spectrum import Spectrum

    data = np.load(sys.argv[1])
    spectra = [Spectrum(data["axis"], x, "raman", metadata={"file": "new.txt"}) for x in data["x"]]
    print("ready", flush=True)
    with connect() as db:
        result = learn(db, sys.argv[2], spectra, formula="Mg2SiO4")
    print(json.dumps(result.to_dict()), flush=True)
    """
)


def _child(script: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # imports done; it goes for the lock next
    if line.strip() != "ready":
        proc.kill()
        pytest.fail(f"child did not start: {line!r} {proc.communicate()[1]}")
    return proc


@pytest.mark.parametrize("spelling", ["same", "symlink"])
def test_the_name_lock_excludes_another_process(tmp_path, spelling):
    root = tmp_path / "models"
    root.mkdir()
    child_root = root
    if spelling == "symlink":  # another spelling of the folder is the same lock
        child_root = tmp_path / "link"
        child_root.symlink_to(root, target_is_directory=True)
    registry = Registry(root)
    with registry.lock("m"):
        proc = _child(_LOCKER, str(child_root))
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=1.5)  # blocked on the lock this process holds
        with registry.lock("m"):  # re-entrant here, still exclusive there
            time.sleep(0.2)
            assert proc.poll() is None
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.split() == ["locked"]


@pytest.fixture(scope="module")
def trained(raman_small, split_small):
    X, y, groups, axis = raman_small
    train, test = split_small
    model = LibrarySearch(axis=axis).fit(X[train], y[train], groups=groups[train])
    assert max(len(c) for c in model.classes_) < len(LONG_NAME)
    return model, X[test], axis


def _bundle(model: LibrarySearch) -> IdentificationModel:
    return single_method(
        "raman", model, pipeline_to_dict(make_preset("raman")), provenance={"config": {}}
    )


def test_learn_in_another_process_builds_on_the_version_registered_meanwhile(trained, tmp_path):
    """The parent is read under the lock: a version registered while learn waits is used."""
    from lithoscope.mindb import connect

    model, X, axis = trained
    with connect() as db:
        db.build()
    registry = Registry()
    registry.register(_bundle(model), "lib")
    np.savez(tmp_path / "new.npz", axis=axis, x=X[:2])
    with registry.lock("lib"):
        proc = _child(_LEARNER, str(tmp_path / "new.npz"), LONG_NAME)
        time.sleep(2.0)  # time to read a parent too early, if it did
        v2 = IdentificationModel.load(registry.resolve("lib").path)
        v2.part("raman").estimator.add_class("Zzzite", X[2:3])
        assert str(registry.register(v2, "lib")) == "lib@2"
        assert proc.poll() is None  # still waiting for the lock
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert result["model"] == "lib@3" and result["parent"] == "lib@2", result
    assert result["mineral"] == LONG_NAME and result["mineral_added_to_mindb"] is True
    bundle, ref = Registry().load(method="raman")
    classes = bundle.part("raman").classes.tolist()
    assert str(ref) == "lib@3"
    assert {"Zzzite", LONG_NAME} <= set(classes)  # the full name, not a cut one
    assert len(classes) == len(model.classes_) + 2
    with connect() as db:
        assert db.resolve(LONG_NAME) == ("mineral", LONG_NAME)  # MinDB agrees with the model
        assert db.spectra(method="raman", minerals=[LONG_NAME])
    spectra = [Spectrum(axis, x, "raman") for x in X[:2]]
    assert bundle.part("raman").estimator.predict(
        bundle.part("raman").preprocess(spectra)[0]
    ).tolist() == [LONG_NAME, LONG_NAME]


def test_a_learn_that_fails_leaves_nothing_written(trained, tmp_path):
    from lithoscope.mindb import connect
    from lithoscope.mindb.queries import MineralNotFound

    model, X, axis = trained
    registry = Registry()
    registry.register(_bundle(model), "lib")
    narrow = [Spectrum(axis[:20], X[0, :20], "raman", metadata={"file": "narrow.txt"})]
    with connect() as db:
        db.build()
        n_spectra = db.info()["spectra"]["raman"]
        with pytest.raises(InputError, match=r"narrow.txt: does not cover") as caught:
            learn(db, "Narrowite", narrow, formula="Mg2SiO4")
        assert "\n" not in str(caught.value)
        with pytest.raises(MineralNotFound):
            db.resolve("Narrowite")  # not added to MinDB before the model was built
        assert db.info()["spectra"]["raman"] == n_spectra
    assert registry.versions("lib") == [1]
    assert sorted(p.name for p in (registry.root / "lib").iterdir()) == [".lock", "v1"]
