"""``lithoscope rock name``: JSON contract, readable output, one-line errors."""

from __future__ import annotations

import json

import pytest

from tests.cli_runner import run


def test_rock_name_json_contract(monkeypatch, capsys):
    code, out, err = run(
        monkeypatch,
        capsys,
        "rock",
        "name",
        "--mode",
        "plagioclase=92",
        "--mode",
        "clinopyroxene=5",
        "--mode",
        "olivine=3",
        "--json",
    )
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert set(doc) == {"name", "scheme", "field", "reasoning"}
    assert (doc["name"], doc["scheme"], doc["field"]) == ("anorthosite", "iugs-qapf", "10")


def test_rock_name_body_an_volcanic_options(monkeypatch, capsys):
    code, out, _ = run(
        monkeypatch,
        capsys,
        "rock",
        "name",
        "--mode",
        "plagioclase=96",
        "--mode",
        "opx=4",
        "--body",
        "moon",
        "--an",
        "96",
        "--json",
    )
    assert code == 0 and json.loads(out)["name"] == "ferroan anorthosite"
    code, out, _ = run(
        monkeypatch,
        capsys,
        "rock",
        "name",
        "--mode",
        "plagioclase=50",
        "--mode",
        "augite=40",
        "--mode",
        "olivine=10",
        "--volcanic",
        "--json",
    )
    assert code == 0 and json.loads(out)["name"] == "basalt"


def test_rock_name_readable_output_shows_reasoning(monkeypatch, capsys):
    code, out, _ = run(
        monkeypatch,
        capsys,
        "rock",
        "name",
        "--mode",
        "olivine=60",
        "--mode",
        "opx=25",
        "--mode",
        "cpx=15",
    )
    assert code == 0
    assert out.splitlines()[0].startswith("lherzolite")
    assert "[LM02 2.10]" in out  # brackets are text, not rich markup


@pytest.mark.parametrize(
    ("mode", "line"),
    [
        ("plag", "error: --mode 'plag': expected MINERAL=PERCENT, e.g. --mode olivine=60"),
        ("olivine=lots", "error: --mode 'olivine=lots': expected MINERAL=PERCENT"),
        ("=5", "error: --mode '=5': expected MINERAL=PERCENT"),
        ("xyz=5", "error: --mode 'xyz': not a mineral lithoscope knows; give an IMA species"),
        ("olivine=-3", "error: --mode 'olivine': expected a finite vol % >= 0"),
    ],
)
def test_rock_name_bad_mode_is_one_line(monkeypatch, capsys, mode, line):
    code, out, err = run(monkeypatch, capsys, "rock", "name", "--mode", mode)
    assert code == 1 and out == ""
    assert err.startswith(line) and err.count("\n") == 1


def test_rock_name_mineral_given_twice(monkeypatch, capsys):
    code, _, err = run(
        monkeypatch, capsys, "rock", "name", "--mode", "olivine=50", "--mode", "olivine=50"
    )
    assert code == 1 and "given twice" in err


def test_rock_name_unknown_body(monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "rock", "name", "--mode", "olivine=50", "--body", "io")
    assert code == 1
    assert err.strip() == "error: --body 'io': expected one of moon, mars, meteorite, or none"


def test_rock_name_fa_fs_options_decide_the_chondrite_group(monkeypatch, capsys):
    # Equilibrated L chondrite silicates (cf. McSween et al. 1991) with L-group olivine and
    # low-Ca pyroxene (Fa 22-26, Fs 19-22; Brearley & Jones 1998).
    args = ["rock", "name", "--mode", "olivine=48", "--mode", "opx=27", "--mode", "cpx=10"]
    args += ["--mode", "plagioclase=15", "--body", "meteorite", "--fa", "24.5", "--fs", "20.5"]
    code, out, err = run(monkeypatch, capsys, *args, "--json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert (doc["name"], doc["scheme"], doc["field"]) == ("L chondrite", "meteorite", "L")
    assert "olivine Fa decides: L" in doc["reasoning"]


@pytest.mark.parametrize(
    ("flag", "value", "line"),
    [
        ("--fa", "120", "error: --fa 120.0: expected olivine Fa in mol % between 0 and 100"),
        ("--fs", "-2", "error: --fs -2.0: expected low-Ca pyroxene Fs in mol % between 0 and 100"),
    ],
)
def test_rock_name_fa_fs_out_of_range_is_one_line(monkeypatch, capsys, flag, value, line):
    code, out, err = run(
        monkeypatch, capsys, "rock", "name", "--mode", "olivine=60", "--mode", "opx=40", flag, value
    )
    assert code == 1 and out == ""
    assert err == line + "\n"
