"""train -> identify -> evaluate through the command line, on real RRUFF spectra."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import zipfile
from collections import defaultdict

import numpy as np
import pytest

from tests.cli_runner import run

N_MINERALS = 12


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, shared_data):
    """Train zip, held-out zip and a cut IMA list (minerals with >= 3 samples at 532 nm)."""
    root = tmp_path_factory.mktemp("pipeline")
    source = shared_data / "rruff" / "raman" / "excellent_unoriented.zip"
    samples: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    with zipfile.ZipFile(source) as zf:
        for name in zf.namelist():
            m = re.match(r"([^_]+)__([RX]\d{6})__Raman__532__", name)
            if m:
                samples[m.group(1)][m.group(2)].append(name)
        eligible = sorted(k for k, v in samples.items() if len(v) >= 3)
        chosen = eligible[:N_MINERALS]
        newcomer = eligible[N_MINERALS]  # never in the training zip: learned with `learn`
        second = eligible[N_MINERALS + 1]  # another one, learned at the same time
        second_file = root / samples[second][sorted(samples[second])[0]][0]
        second_file.write_bytes(zf.read(samples[second][sorted(samples[second])[0]][0]))
        new_files = []
        for sid in sorted(samples[newcomer])[:2]:
            member = samples[newcomer][sid][0]
            (root / member).write_bytes(zf.read(member))
            new_files.append(root / member)
        last = sorted(samples[newcomer])[-1]
        query_new = root / samples[newcomer][last][0]
        query_new.write_bytes(zf.read(samples[newcomer][last][0]))
        with (
            zipfile.ZipFile(root / "train.zip", "w") as tr,
            zipfile.ZipFile(root / "heldout.zip", "w") as ho,
        ):
            for mineral in chosen:
                ids = sorted(samples[mineral])
                for sid in ids:
                    target = ho if sid == ids[-1] else tr
                    for member in samples[mineral][sid]:
                        target.writestr(member, zf.read(member))
            first = samples[chosen[0]][sorted(samples[chosen[0]])[-1]][0]
            (root / first).write_bytes(zf.read(first))
    ima = (
        shared_data / "rruff" / "ima" / "RRUFF_Export_with_Hey_Classification__RamanLab_5c829ff.csv"
    )
    rows = list(csv.DictReader(io.StringIO(ima.read_text(encoding="utf-8-sig"))))
    keys = {re.sub(r"[^a-z0-9]", "", c.lower()) for c in [*chosen, newcomer, second]}
    keep = [r for r in rows if re.sub(r"[^a-z0-9]", "", r["Mineral Name"].lower()) in keys]
    with (root / "ima.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(keep)
    return root, chosen, root / first, (newcomer, new_files, query_new), (second, second_file)


def test_train_identify_evaluate(monkeypatch, capsys, workspace, tmp_path):
    root, _, query_file, *_ = workspace
    from lithoscope.data.ingest import ingest_ima
    from lithoscope.mindb import connect

    with connect() as db:  # the isolated default database of this test
        db.build()
        ingest_ima(db, root / "ima.csv", progress=False)
    assert run(monkeypatch, capsys, "data", "ingest", str(root / "train.zip"), "--json")[0] == 0

    code, out, _ = run(
        monkeypatch, capsys, "train", "--method", "raman", "--model", "library", "--json"
    )
    assert code == 0
    trained = json.loads(out)
    # minerals whose RRUFF name is not an IMA species stay unlinked and out of training
    assert trained["model"] == "raman-library@1" and trained["n_minerals"] >= N_MINERALS - 2

    plot = tmp_path / "id.png"
    code, out, err = run(
        monkeypatch,
        capsys,
        "identify",
        str(query_file),
        str(tmp_path / "none.txt"),
        "--json",
        "--top",
        "3",
        "--plot",
        str(plot),
    )
    assert code == 1  # one file could not be read ...
    assert err.startswith("error: ") and "none.txt" in err
    result = json.loads(out.strip())  # ... and the other one still ran
    assert result["input"] == str(query_file) and result["method"] == "raman"
    assert result["model"] == "raman-library@1"
    cands = result["candidates"]
    assert len(cands) == 3
    assert {"mineral", "probability", "score"} <= set(cands[0])
    assert [c["probability"] for c in cands] == sorted(
        (c["probability"] for c in cands), reverse=True
    )
    assert plot.is_file() and plot.stat().st_size > 10_000

    code, out, _ = run(
        monkeypatch, capsys, "evaluate", "--data", str(root / "heldout.zip"), "--json"
    )
    assert code == 0
    report = json.loads(out)
    assert report["n"] >= N_MINERALS - 2
    assert report["top1"] > 0.5 and report["top3"] >= report["top1"]
    assert 0 <= report["macro_f1"] <= 1
    assert {"confused", "skipped"} <= set(report)

    # a second training adds a version; the old one stays loadable
    assert run(monkeypatch, capsys, "train", "--method", "raman", "--model", "library")[0] == 0
    code, out, _ = run(
        monkeypatch, capsys, "identify", str(query_file), "--model", "raman-library@1", "--json"
    )
    assert code == 0 and json.loads(out)["model"] == "raman-library@1"
    code, out, _ = run(monkeypatch, capsys, "identify", str(query_file), "--json")
    assert json.loads(out)["model"] == "raman-library@2"
    code, _, err = run(
        monkeypatch, capsys, "identify", str(query_file), "--model", "raman-library@9"
    )
    assert code == 1 and "has no version '9'" in err and err.count("\n") == 1

    # planetary context: the model was trained with MinDB's occurrences as a prior
    code, out, err = run(
        monkeypatch, capsys, "identify", str(query_file), "--body", "moon", "--json"
    )
    assert code == 0, err
    lunar = json.loads(out)
    assert not any("context" in w for w in lunar["warnings"]), lunar["warnings"]
    assert lunar["context"] == {"body": "moon"}
    for c in lunar["candidates"]:
        assert c["reported_on_body"] == ("moon" in (c.get("bodies") or []))
        assert ("note" in c) != c["reported_on_body"]
    code, out, _ = run(monkeypatch, capsys, "identify", str(query_file), "--body", "moon")
    assert code == 0 and "note" in out and "Moon" in out  # the table wraps the note
    code, _, err = run(monkeypatch, capsys, "identify", str(query_file), "--body", "venus")
    assert code == 1 and "--body" in err and "venus" in err and err.count("\n") == 1


def test_identify_without_a_model_says_how_to_train(monkeypatch, capsys, workspace):
    _, _, query_file, *_ = workspace
    code, _, err = run(monkeypatch, capsys, "identify", str(query_file))
    assert code == 1
    assert "no default raman model yet" in err and "lithoscope train --method raman" in err


def test_train_rejects_unknown_model_kind(monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "train", "--method", "raman", "--model", "xgboost")
    assert code == 1 and "--model 'xgboost' is not one of" in err


def test_learn_adds_a_mineral_as_a_new_version(monkeypatch, capsys, workspace):
    root, _, _, (newcomer, new_files, query_new), _ = workspace
    from lithoscope.data.ingest import ingest_ima
    from lithoscope.mindb import connect

    with connect() as db:
        db.build()
        ingest_ima(db, root / "ima.csv", progress=False)
    run(monkeypatch, capsys, "data", "ingest", str(root / "train.zip"))
    assert run(monkeypatch, capsys, "train", "--method", "raman", "--model", "library")[0] == 0
    code, out, _ = run(monkeypatch, capsys, "identify", str(query_new), "--json")
    before = json.loads(out)["candidates"][0]["mineral"]

    code, out, err = run(
        monkeypatch, capsys, "learn", *map(str, new_files), "--mineral", newcomer, "--json"
    )
    assert code == 0, err
    learned = json.loads(out)
    assert learned["model"] == "raman-library@2" and learned["parent"] == "raman-library@1"
    assert learned["n_spectra"] == len(new_files)

    code, out, _ = run(monkeypatch, capsys, "identify", str(query_new), "--json")
    result = json.loads(out)
    assert result["model"] == "raman-library@2"
    assert result["candidates"][0]["mineral"] != before
    with connect() as db:
        assert result["candidates"][0]["mineral"] == db.resolve(newcomer)[1]
    # the old version is untouched and still loadable
    code, out, _ = run(
        monkeypatch, capsys, "identify", str(query_new), "--model", "raman-library@1", "--json"
    )
    assert json.loads(out)["candidates"][0]["mineral"] == before


def test_learn_needs_a_formula_for_a_mineral_mindb_lacks(monkeypatch, capsys, workspace):
    root, _, _, (_, new_files, _), _ = workspace
    from lithoscope.data.ingest import ingest_ima
    from lithoscope.mindb import connect

    with connect() as db:
        db.build()
        ingest_ima(db, root / "ima.csv", progress=False)
    run(monkeypatch, capsys, "data", "ingest", str(root / "train.zip"))
    assert run(monkeypatch, capsys, "train", "--method", "raman", "--model", "library")[0] == 0
    code, _, err = run(monkeypatch, capsys, "learn", str(new_files[0]), "--mineral", "Lunarite")
    assert code == 1 and "give its formula with --formula" in err
    code, out, err = run(
        monkeypatch,
        capsys,
        "learn",
        str(new_files[0]),
        "--mineral",
        "Lunarite",
        "--formula",
        "Mg2SiO4",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["mineral_added_to_mindb"] is True
    with connect() as db:
        assert db.mineral("lunarite")["formula"] == "Mg2SiO4"


def _trained(monkeypatch, capsys, root):
    from lithoscope.data.ingest import ingest_ima
    from lithoscope.mindb import connect

    with connect() as db:
        db.build()
        ingest_ima(db, root / "ima.csv", progress=False)
    run(monkeypatch, capsys, "data", "ingest", str(root / "train.zip"))
    assert run(monkeypatch, capsys, "train", "--method", "raman", "--model", "library")[0] == 0


def test_two_learn_runs_at_once_keep_both_minerals(monkeypatch, capsys, workspace):
    """Two processes learn two minerals at once: two versions, the newest knows both."""
    import os
    import subprocess

    root, _, _, (newcomer, new_files, _), (second, second_file) = workspace
    _trained(monkeypatch, capsys, root)
    cmd = [sys.executable, "-m", "lithoscope.cli", "learn", "--json"]
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    pipes = {"env": env, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    procs = [
        subprocess.Popen([*cmd, str(new_files[0]), "--mineral", newcomer], **pipes),
        subprocess.Popen([*cmd, str(second_file), "--mineral", second], **pipes),
    ]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        outs.append(json.loads(out))
    by_model = {o["model"]: o for o in outs}
    assert sorted(by_model) == ["raman-library@2", "raman-library@3"]
    # the second run waited for the first and built on its version, not on their common parent
    assert by_model["raman-library@2"]["parent"] == "raman-library@1"
    assert by_model["raman-library@3"]["parent"] == "raman-library@2"
    from lithoscope.mindb import connect
    from lithoscope.pipeline.registry import Registry

    bundle, ref = Registry().load(method="raman")
    assert str(ref) == "raman-library@3"
    classes = set(bundle.part("raman").classes.tolist())
    with connect() as db:
        learned = {db.resolve(newcomer)[1], db.resolve(second)[1]}
        assert learned <= classes  # MinDB and the registry agree
        for name in learned:
            assert db.spectra(method="raman", minerals=[name])


def test_identify_plot_refuses_to_overwrite(monkeypatch, capsys, workspace, tmp_path):
    root, _, query_file, *_ = workspace
    _trained(monkeypatch, capsys, root)
    plot = tmp_path / "exists.png"
    plot.write_bytes(b"keep me")
    code, _, err = run(monkeypatch, capsys, "identify", str(query_file), "--plot", str(plot))
    assert code == 1 and "exists; choose another name or pass --overwrite" in err
    assert plot.read_bytes() == b"keep me" and err.count("\n") == 1
    code, _, err = run(
        monkeypatch, capsys, "identify", str(query_file), "--plot", str(plot), "--overwrite"
    )
    assert code == 0, err
    assert plot.stat().st_size > 10_000


def test_a_file_reaches_the_model_as_in_training(monkeypatch, capsys, workspace):
    """The array identify gives the model for a file is the training array of that file."""
    from lithoscope.data.datasets import DatasetSpec, build_dataset
    from lithoscope.mindb import connect
    from lithoscope.pipeline.identify import identify_batch
    from lithoscope.pipeline.registry import Registry
    from lithoscope.spectra.io import read_spectrum
    from lithoscope.spectra.preprocessing import make_preset

    root, _, _, *_ = workspace
    _trained(monkeypatch, capsys, root)
    bundle, _ = Registry().load(method="raman")
    with zipfile.ZipFile(root / "train.zip") as zf:
        member = zf.namelist()[0]
        (root / "one.txt").write_bytes(zf.read(member))
    spectrum = read_spectrum(root / "one.txt", method="raman")
    with connect() as db:
        pipe = make_preset("raman")
        dataset = build_dataset(db, DatasetSpec.from_pipeline(pipe), pipeline=pipe)
    files = [str(m.get("file") or "").rsplit("/", 1)[-1] for m in dataset.collection.metadata]
    row = files.index(member.rsplit("/", 1)[-1])
    result = identify_batch([spectrum], bundle)[0]
    np.testing.assert_allclose(result.x, dataset.X[row], rtol=1e-9, atol=1e-12)
