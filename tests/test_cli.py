"""The ``lithoscope`` command: JSON contracts, readable output, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.cli_runner import run


@pytest.fixture
def built(monkeypatch, capsys, built_db_url):
    monkeypatch.setenv("LITHOSCOPE_DATABASE_URL", built_db_url)
    return built_db_url


def test_db_build_then_info_json_contract(monkeypatch, capsys, db_url):
    monkeypatch.setenv("LITHOSCOPE_DATABASE_URL", db_url)
    code, out, _ = run(monkeypatch, capsys, "db", "build", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["unchanged"] is False and report["minerals"] > 0
    code, out, _ = run(monkeypatch, capsys, "db", "build")
    assert code == 0 and "up to date" in out
    code, out, _ = run(monkeypatch, capsys, "db", "info", "--json")
    info = json.loads(out)
    assert code == 0
    assert {"minerals", "by_body", "spectra", "schema_version"} <= set(info)
    assert set(info["by_body"]) == {"moon", "mars", "meteorite"}
    assert info["by_body"]["moon"] >= 105
    assert set(info["spectra"]) == {"raman", "ir", "libs", "vnir", "xrd"}


def test_db_show_json_contract(monkeypatch, capsys, built):
    code, out, _ = run(monkeypatch, capsys, "db", "show", "ILMENITE", "--json")
    assert code == 0
    card = json.loads(out)
    required = {"name", "formula", "elements", "crystal_system", "molar_mass", "oxide_wt_percent"}
    assert required <= set(card)
    assert card["name"] == "Ilmenite"
    assert set(card["oxide_wt_percent"]) >= {"FeO", "TiO2"}
    assert card["occurrences"]
    for occ in card["occurrences"]:
        assert {"body", "setting", "evidence", "source"} <= set(occ)


def test_db_show_readable_card(monkeypatch, capsys, built):
    code, out, _ = run(monkeypatch, capsys, "db", "show", "forsterite")
    assert code == 0
    assert "Forsterite" in out and "Mg2SiO4" in out and "Occurrences" in out


def test_db_show_unknown_is_one_line_error(monkeypatch, capsys, built):
    code, out, err = run(monkeypatch, capsys, "db", "show", "forsterit")
    assert code == 1 and out == ""
    assert err.startswith("error: mineral 'forsterit' is not in MinDB")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_db_search_json(monkeypatch, capsys, built):
    code, out, _ = run(
        monkeypatch, capsys, "db", "search", "--body", "moon", "--element", "Ti", "--json"
    )
    assert code == 0
    rows = json.loads(out)
    assert "Ilmenite" in {r["name"] for r in rows}
    assert all("Ti" in r["elements"] and "moon" in r["bodies"] for r in rows)


def test_chem_formula_json(monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, "chem", "(Mg,Fe)2SiO4", "--json")
    assert code == 0
    data = json.loads(out)
    assert {"molar_mass", "element_wt_percent", "oxide_wt_percent", "charge_residual"} <= set(data)
    assert data["charge_residual"] == pytest.approx(0, abs=1e-9)
    assert sum(data["element_wt_percent"].values()) == pytest.approx(100, abs=1e-6)


def test_chem_oxides_olivine_json(monkeypatch, capsys):
    code, out, _ = run(
        monkeypatch,
        capsys,
        "chem",
        "--oxides",
        "SiO2=40.87,MgO=49.35,FeO=9.78",
        "--basis",
        "olivine",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    # independent arithmetic: moles of cations from oxide wt% and molar masses
    m_si, m_mg, m_fe = 40.87 / 60.084, 49.35 / 40.304, 9.78 / 71.844
    oxygens = 2 * m_si + m_mg + m_fe
    scale = 4 / oxygens
    assert data["cations"]["Si"] == pytest.approx(m_si * scale, abs=2e-3)
    assert data["cations"]["Mg"] == pytest.approx(m_mg * scale, abs=2e-3)
    assert data["endmembers"]["Fo"] == pytest.approx(100 * m_mg / (m_mg + m_fe), abs=0.05)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["chem", "Mg2SiO4)"], "error: "),
        (["chem"], "error: give either FORMULA or --oxides"),
        (["chem", "--oxides", "SiO2=abc", "--basis", "olivine"], "error: "),
        (["chem", "--oxides", "SiO2=40,MgO=50,FeO=10"], "error: --oxides needs --basis"),
        (["db", "search", "--body", "venus"], "error: --body 'venus'"),
    ],
)
def test_bad_input_is_one_line(monkeypatch, capsys, args, match):
    code, _, err = run(monkeypatch, capsys, *args)
    assert code == 1
    assert err.startswith(match)
    assert err.count("\n") == 1 and "Traceback" not in err


def test_installed_entry_point_runs_without_traceback(tmp_path):
    env = {"LITHOSCOPE_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "lithoscope.cli", "chem", "Xx2O3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Xx" in result.stderr
    assert list(tmp_path.iterdir()) == []  # chem writes nothing


def test_db_upgrade_migrates_an_old_database(monkeypatch, capsys, db_url):
    from lithoscope.mindb.db import head_revision
    from tests.mindb.test_db import _upgrade_to

    _upgrade_to(db_url, "0001")
    monkeypatch.setenv("LITHOSCOPE_DATABASE_URL", db_url)
    code, out, _ = run(monkeypatch, capsys, "db", "upgrade")
    assert code == 0 and f"migrated from 0001 to {head_revision()}" in out
    code, out, _ = run(monkeypatch, capsys, "db", "upgrade")
    assert code == 0 and "nothing to do" in out
