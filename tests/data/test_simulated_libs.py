"""Simulated LIBS references in MinDB (`lithoscope.data.simulated`), and train/identify on them.

A MinDB built from the curated files is copied for each test; the atomic line data come from the
shared mirror through the registered ``atomic-lines`` source. Everything is written under
``tmp_path`` and the per-test data folder.
"""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

from lithoscope.cli import main
from lithoscope.data.simulated import (
    SOURCE,
    libs_recipe_checksum,
    simulate_libs_references,
    simulate_mineral,
)
from lithoscope.errors import InputError

MINERALS = ["Quartz", "Calcite", "Hematite", "Halite", "Chalcopyrite"]


def run(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["lithoscope", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def built_file(tmp_path_factory):
    """A MinDB (SQLite file) built once from the curated files, copied by each test."""
    from lithoscope.mindb import connect

    path = tmp_path_factory.mktemp("simulated-libs") / "built.sqlite"
    with connect(f"sqlite:///{path}") as db:
        db.build()
    return path


@pytest.fixture
def db_url(built_file, tmp_path):
    target = tmp_path / "mindb.sqlite"
    shutil.copyfile(built_file, target)
    return f"sqlite:///{target}"


@pytest.fixture
def atomic(shared_data):
    from lithoscope.physics.libs import load_atomic_data

    return load_atomic_data(mirror=shared_data)


def _extras(url):
    from sqlalchemy import select

    from lithoscope.mindb import connect
    from lithoscope.mindb.models import Spectrum as Row

    with connect(url) as db, db.session() as s:
        return {
            sid: extra
            for sid, extra in s.execute(
                select(Row.sample_id, Row.extra).where(Row.source == SOURCE)
            )
        }


# ------------------------------------------------------------------------------ library API
def test_draws_are_reproducible_and_independent_of_each_other(atomic):
    three = simulate_mineral("Calcite", "CaCO3", [0, 1, 2], seed=7, atomic=atomic)
    alone = simulate_mineral("Calcite", "CaCO3", [2], seed=7, atomic=atomic)[0]
    assert_allclose(alone.intensities, three[2].intensities, rtol=0, atol=0)
    assert alone.metadata["checksum"] == three[2].metadata["checksum"]
    # other draws, another seed or another mineral name: other conditions
    assert three[0].metadata["temperature_k"] != three[1].metadata["temperature_k"]
    other = simulate_mineral("Calcite", "CaCO3", [2], seed=8, atomic=atomic)[0]
    assert other.metadata["temperature_k"] != alone.metadata["temperature_k"]
    meta = alone.metadata
    assert meta["sample_id"] == "SIM-Calcite-2" and meta["mineral"] == "Calcite"
    assert meta["checksum"] == libs_recipe_checksum(
        "Calcite", "CaCO3", 2, preset="handheld", seed=7
    )
    assert {"temperature_k", "ne_cm3", "preset", "fwhm_nm", "shift_nm", "noise"} <= set(meta)
    assert 8000 <= meta["temperature_k"] <= 14000 and 3e16 <= meta["ne_cm3"] <= 3e17


def test_simulated_spectra_pass_the_libs_preset(atomic):
    from lithoscope.spectra.preprocessing import make_preset

    spectra = simulate_mineral("Quartz", "SiO2", [0, 1], atomic=atomic)
    assert spectra[0].method.value == "libs" and spectra[0].unit.value == "wavelength nm"
    pipe = make_preset("libs")
    X = pipe.fit_transform(spectra)
    grid = np.asarray(pipe.steps[0][1].grid)
    assert X.shape == (2, grid.size) and np.all(np.isfinite(X)) and X.min() >= 0
    assert_allclose(np.trapezoid(X, grid, axis=1), 1.0, rtol=0.01)  # area normalised
    # the strongest Si I line (288.16 nm) survives the baseline removal
    near = np.abs(grid - 288.16) < 0.4
    assert np.all(X[:, near].max(axis=1) > 5 * np.median(X, axis=1))


def test_a_formula_without_lines_on_the_axis_is_skipped_and_counted(db_url, shared_data):
    from lithoscope.mindb import connect
    from lithoscope.mindb.chemistry import parse_formula
    from lithoscope.mindb.queries import NewMineral

    with connect(db_url) as db:
        # the NIST export holds no Se lines: native selenium has nothing to show
        db.add_minerals(
            [NewMineral(name="Selenium", formula_text="Se", formula=parse_formula("Se"))],
            citation="test",
        )
        report = simulate_libs_references(
            db, ["Selenium", "Halite"], per_mineral=2, mirror=shared_data, progress=False
        )
        assert report.added == 2 and report.simulated_minerals == 1
        assert list(report.skipped) == ["Selenium"]
        assert "none of its elements (Se) has a line" in report.skipped["Selenium"]
        assert report.skipped_lines()[0].startswith("skipped: Selenium: formula 'Se'")
        assert len(db.spectra(method="libs")) == 2


def test_worker_processes_store_the_same_spectra(db_url, shared_data, atomic):
    from lithoscope.mindb import connect

    with connect(db_url) as db:
        report = simulate_libs_references(
            db, ["Halite", "Fluorite"], per_mineral=1, workers=2, mirror=shared_data, progress=False
        )
        assert report.added == 2 and report.workers == 2
        stored = {s.metadata["sample_id"]: s for s in db.spectra(method="libs")}
    (expected,) = simulate_mineral("Fluorite", "CaF2", [0], atomic=atomic)
    got = stored["SIM-Fluorite-0"]
    assert got.metadata["checksum"] == expected.metadata["checksum"]
    assert_allclose(got.intensities, expected.intensities, rtol=0, atol=0)
    assert_allclose(got.axis, expected.axis, rtol=0, atol=0)


def test_with_spectra_selects_species_that_have_them(db_url, shared_data):
    from lithoscope.mindb import connect

    with connect(db_url) as db:
        simulate_libs_references(db, ["Halite"], per_mineral=1, mirror=shared_data, progress=False)
        report = simulate_libs_references(
            db, with_spectra="libs", per_mineral=2, mirror=shared_data, progress=False
        )
        assert (report.minerals, report.added, report.already_present) == (1, 1, 1)
        with pytest.raises(InputError, match="none of the species of --minerals has libs spectra"):
            simulate_libs_references(
                db, ["Quartz"], with_spectra="libs", mirror=shared_data, progress=False
            )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"minerals": ["Quartzz"]}, r"mineral 'Quartzz' is not in MinDB; did you mean quartz"),
        ({"minerals": ["Quartz"], "per_mineral": 0}, r"--per-mineral 0: expected a number"),
        ({"minerals": ["Quartz"], "per_mineral": 2.5}, r"--per-mineral 2.5: expected"),
        ({"minerals": ["Quartz"], "workers": 0}, r"--workers 0: expected a number of processes"),
        ({"minerals": ["Quartz"], "preset": "chemcam"}, r"preset 'chemcam' is not one of"),
        ({"minerals": ["Quartz"], "seed": -1}, r"--seed -1: expected an integer >= 0"),
        ({}, r"which minerals\? give --minerals"),
        ({"minerals": []}, r"--minerals is empty"),
        ({"minerals": ["Quartz"], "all_species": True}, r"--all selects every species"),
        ({"with_spectra": "raman"}, r"MinDB holds no raman spectra linked to species"),
        ({"with_spectra": "nmr"}, r"--with-spectra"),
    ],
)
def test_bad_selection_or_numbers_raise_input_errors(db_url, shared_data, kwargs, message):
    from lithoscope.mindb import connect

    with connect(db_url) as db, pytest.raises(InputError, match=message):
        simulate_libs_references(db, mirror=shared_data, progress=False, **kwargs)


# ------------------------------------------------------------------------------ CLI
def test_cli_stores_once_then_trains_and_identifies(
    monkeypatch, capsys, db_url, shared_data, tmp_path, atomic
):
    from lithoscope.mindb import connect

    base = ("data", "simulate-libs", "--mirror", str(shared_data), "--database-url", db_url)
    code, out, err = run(
        monkeypatch, capsys, *base, "--minerals", ",".join(MINERALS), "--per-mineral", "3", "--json"
    )
    assert code == 0, err
    first = json.loads(out)
    assert first["added"] == 15 and first["already_present"] == 0 and first["skipped"] == 0
    assert first["minerals"] == first["simulated_minerals"] == 5
    with connect(db_url) as db:
        stored = db.spectra(method="libs")
    assert len(stored) == 15
    assert {s.metadata["source"] for s in stored} == {SOURCE}
    assert {s.metadata["link"] for s in stored} == {"mineral"}
    assert {s.metadata["sample_id"] for s in stored} == {
        f"SIM-{m}-{k}" for m in MINERALS for k in range(3)
    }
    # each draw is a sample of its own: grouped splits may put draws on both sides
    assert len({s.metadata["group"] for s in stored}) == 15
    extras = _extras(db_url)
    assert extras["SIM-Quartz-0"]["preset"] == "handheld"
    assert {"temperature_k", "ne_cm3", "self_absorption", "seed", "draw"} <= set(
        extras["SIM-Quartz-0"]
    )

    # a second run adds nothing; a larger --per-mineral adds only the new draws
    code, out, err = run(
        monkeypatch, capsys, *base, "--minerals", ",".join(MINERALS), "--per-mineral", "3", "--json"
    )
    again = json.loads(out)
    assert code == 0 and again["added"] == 0 and again["already_present"] == 15
    code, out, err = run(
        monkeypatch, capsys, *base, "--minerals", "Quartz", "--minerals", "Calcite",
        "--per-mineral", "4", "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    assert "spectra added" in out and "2 (2 species)" in out and "6" in out
    with connect(db_url) as db:
        assert len(db.spectra(method="libs")) == 17

    code, out, err = run(
        monkeypatch, capsys, "train", "--method", "libs", "--model", "library",
        "--database-url", db_url, "--json",
    )  # fmt: skip
    assert code == 0, err
    trained = json.loads(out)
    assert trained["model"] == "libs-library@1" and trained["n_minerals"] == 5

    # a fresh simulation (other seed, so other plasma conditions) of calcite and of hematite
    from lithoscope.physics.libs import simulate_random
    from lithoscope.spectra.io.writers import write_spectrum

    files = []
    for formula in ("CaCO3", "Fe2O3"):
        sim = simulate_random(formula, 1, random_state=12345, atomic=atomic)[0]
        files.append(write_spectrum(sim.spectrum, tmp_path / f"{formula}.csv"))
    code, out, err = run(
        monkeypatch, capsys, "identify", *map(str, files), "--method", "libs",
        "--database-url", db_url, "--json",
    )  # fmt: skip
    assert code == 0, err
    answers = [json.loads(line) for line in out.strip().splitlines()]
    assert [a["method"] for a in answers] == ["libs", "libs"]
    assert [a["model"] for a in answers] == ["libs-library@1"] * 2
    assert [a["candidates"][0]["mineral"] for a in answers] == ["Calcite", "Hematite"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--minerals", "Quartzz"), "mineral 'Quartzz' is not in MinDB; did you mean quartz?"),
        (("--minerals", "Quartz", "--per-mineral", "0"), "--per-mineral 0: expected a number"),
        ((), "which minerals? give --minerals NAME[,NAME...], --with-spectra METHOD or --all"),
    ],
)
def test_cli_bad_input_is_one_line(
    monkeypatch, capsys, db_url, shared_data, tmp_path, args, message
):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(
        monkeypatch, capsys, "data", "simulate-libs", "--mirror", str(shared_data),
        "--database-url", db_url, *args,
    )  # fmt: skip
    assert code == 1 and out == ""
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
