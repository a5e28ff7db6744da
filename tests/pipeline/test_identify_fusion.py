"""A measurement of several methods gets one fused answer (late fusion of the methods' models)."""

from __future__ import annotations

import json
import re
import warnings
import zipfile
from collections import defaultdict

import numpy as np
import pytest

from lithoscope.models.library import LibrarySearch
from lithoscope.pipeline.bundle import single_method
from lithoscope.pipeline.identify import identify_batch
from lithoscope.pipeline.registry import Registry
from lithoscope.spectra.io import parse_spectrum
from lithoscope.spectra.measurement import Context, Measurement
from lithoscope.spectra.preprocessing import make_preset, pipeline_to_dict
from lithoscope.uncertainty.calibration import calibrate_context
from tests.cli_runner import run


@pytest.fixture(scope="module")
def ir_small(shared_data):
    """Raw RRUFF infrared spectra of the raman_small minerals with 2+ samples: {mineral: [..]}."""
    source = shared_data / "rruff" / "infrared" / "Processed.zip"
    by_mineral: dict[str, list] = defaultdict(list)
    with zipfile.ZipFile(source) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in sorted(zf.namelist()):
            m = re.match(r"([^_]+)__", name)
            if m and m.group(1) < "C":  # the alphabetical head, like raman_small
                by_mineral[m.group(1)].append(parse_spectrum(zf.read(name).decode(), name))
    return {k: v for k, v in by_mineral.items() if len({s.metadata["sample_id"] for s in v}) >= 2}


@pytest.fixture(scope="module")
def bundles(raman_small, split_small, ir_small):
    X, y, groups, axis = raman_small
    train, _ = split_small
    raman = LibrarySearch(axis=axis).fit(X[train], y[train], groups=groups[train])
    minerals = np.unique(y)
    context = calibrate_context(raman, X[train], y[train], {"moon": minerals[::2].tolist()})
    raman_bundle = single_method(
        "raman", raman, pipeline_to_dict(make_preset("raman")), context=context
    )
    pipe = make_preset("ir")
    refs = [(m, s) for m, spectra in ir_small.items() for s in spectra[:-1]]
    X_ir = pipe.fit_transform([s for _, s in refs])
    ir = LibrarySearch(axis=pipe.steps[0][1].grid).fit(X_ir, [m for m, _ in refs])
    ir_bundle = single_method("ir", ir, pipeline_to_dict(pipe))
    return {"raman": raman_bundle, "ir": ir_bundle}


def test_two_methods_give_one_fused_answer(bundles, raman_small, split_small, ir_small):
    from lithoscope.spectra.spectrum import Spectrum

    X, y, _, axis = raman_small
    _, test = split_small
    items, truth = [], []
    for i in test:
        if y[i] in ir_small:
            raman = Spectrum(axis, X[i], "raman", metadata={"file": f"{y[i]}.txt"})
            items.append(Measurement({"raman": raman, "ir": ir_small[y[i]][-1]}))
            truth.append(y[i])
    assert len(items) >= 5
    results = identify_batch(items, bundles)
    fused_right = raman_right = 0
    for result, mineral in zip(results, truth, strict=True):
        data = json.loads(json.dumps(result.to_dict()))
        assert data["methods"] == ["raman", "ir"] and data["method"] == "raman+ir"
        assert set(data["by_method"]) == {"raman", "ir"}
        probs = [c["probability"] for c in data["candidates"]]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-9
        for c in data["candidates"]:
            assert set(c["by_method"]) == {"raman", "ir"}
        assert any("no prediction set for the fused answer" in w for w in data["warnings"])
        fused_right += result.top == mineral
        raman_right += result.by_method["raman"].top == mineral
    assert fused_right >= raman_right - 1


def test_a_method_that_fails_leaves_the_other(bundles, raman_small):
    from lithoscope.spectra.spectrum import Spectrum

    X, _, _, axis = raman_small
    raman = Spectrum(axis, X[0], "raman", metadata={"file": "a.txt"})
    flat = Spectrum(np.linspace(400, 4000, 500), np.ones(500), "ir", metadata={"file": "flat.txt"})
    [result] = identify_batch([Measurement({"raman": raman, "ir": flat})], bundles)
    assert result.refused is None and result.candidates
    assert result.top == result.by_method["raman"].top
    assert any(w.startswith("ir not used") for w in result.warnings)


def test_body_prior_applies_once_to_the_fused_answer(bundles, raman_small, ir_small):
    from lithoscope.spectra.spectrum import Spectrum

    X, y, _, axis = raman_small
    i = int(np.flatnonzero(np.isin(y, list(ir_small)))[0])
    m = Measurement(
        {
            "raman": Spectrum(axis, X[i], "raman", metadata={"file": "r.txt"}),
            "ir": ir_small[y[i]][0],
        },
        Context(body="moon"),
    )
    [result] = identify_batch([m], bundles)
    for c in result.candidates:
        assert "reported_on_body" in c
        assert ("note" in c) == (not c["reported_on_body"])


def test_cli_fuses_one_file_per_method(
    monkeypatch, capsys, bundles, ir_small, shared_data, tmp_path
):
    registry = Registry()
    registry.register(bundles["raman"], "raman-t", make_default=True)
    registry.register(bundles["ir"], "ir-t", make_default=True)
    mineral = sorted(ir_small)[0]
    ir_file = tmp_path / "ir.txt"
    ir_file.write_text(
        "\n".join(
            f"{x}, {v}"
            for x, v in zip(
                ir_small[mineral][0].axis, ir_small[mineral][0].intensities, strict=True
            )
        )
    )
    source = shared_data / "rruff" / "raman" / "excellent_unoriented.zip"
    with zipfile.ZipFile(source) as zf:
        member = next(n for n in zf.namelist() if n.startswith(f"{mineral}__") and "__532__" in n)
        raman_file = tmp_path / "raman.txt"
        raman_file.write_bytes(zf.read(member))
    code, out, err = run(
        monkeypatch, capsys, "identify", "--raman", str(raman_file), "--ir", str(ir_file), "--json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["methods"] == ["raman", "ir"] and data["candidates"]
    code, out, err = run(
        monkeypatch, capsys, "identify", "--raman", str(raman_file), "--ir", str(ir_file)
    )
    assert code == 0 and "raman+ir" in out
    code, _, err = run(monkeypatch, capsys, "identify", "--ir", str(tmp_path / "none.txt"))
    assert code == 1 and err.startswith("error: --ir:") and err.count("\n") == 1
    code, _, err = run(monkeypatch, capsys, "identify")
    assert code == 1 and "--raman/--ir" in err


def test_cli_groups_the_files_of_one_sample_in_a_folder(
    monkeypatch, capsys, bundles, shared_data, tmp_path
):
    registry = Registry()
    registry.register(bundles["raman"], "raman-t", make_default=True)
    registry.register(bundles["ir"], "ir-t", make_default=True)
    raman_zip = zipfile.ZipFile(shared_data / "rruff" / "raman" / "excellent_unoriented.zip")
    ir_zip = zipfile.ZipFile(shared_data / "rruff" / "infrared" / "Processed.zip")
    raman_ids = {}
    for n in raman_zip.namelist():
        m = re.match(r"([^_]+)__([RX]\d{6})__Raman__532__", n)
        if m:
            raman_ids.setdefault(m.group(2), n)
    pair = next(
        (n, raman_ids[m.group(1)])
        for n in sorted(ir_zip.namelist())
        if (m := re.match(r"[^_]+__([RX]\d{6})-\d__", n)) and m.group(1) in raman_ids
    )
    folder = tmp_path / "sample"
    folder.mkdir()
    # RRUFF file names tell the method
    (folder / pair[0]).write_bytes(ir_zip.read(pair[0]))
    (folder / pair[1]).write_bytes(raman_zip.read(pair[1]))
    code, out, err = run(
        monkeypatch, capsys, "identify", str(folder), "--group-by", "sample", "--json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["methods"] == ["raman", "ir"] and data["sample_id"]


def test_libs_without_a_libs_model_checks_the_chemistry(
    bundles, raman_small, built_db_url, shared_data, monkeypatch
):
    from lithoscope.mindb import connect
    from lithoscope.physics.libs import simulate
    from lithoscope.spectra.spectrum import Spectrum

    monkeypatch.setenv("LITHOSCOPE_MIRROR", str(shared_data))  # the atomic lines
    X, y, _, axis = raman_small
    i = int(np.flatnonzero(y == "Anorthite")[0])
    raman = Spectrum(axis, X[i], "raman", metadata={"file": "an.txt"})
    # the LIBS spectrum of albite (Na, no Ca) contradicts anorthite
    libs = simulate("NaAlSi3O8", temperature=9000.0, ne=5e16).spectrum
    with connect(built_db_url) as db:
        [result] = identify_batch([Measurement({"raman": raman, "libs": libs})], bundles, db=db)
    assert any("LIBS spectrum is used as evidence" in w for w in result.warnings)
    by_name = {c["mineral"]: c for c in result.candidates}
    assert by_name["Anorthite"]["consistency"]["contradictions"]
    assert result.method == "raman"
