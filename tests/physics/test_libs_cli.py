"""``lithoscope libs simulate`` and ``lithoscope libs elements``, run in-process."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.cli_runner import run


def test_simulate_json_lists_lines_strongest_first(monkeypatch, capsys, shared_data):
    code, out, err = run(
        monkeypatch,
        capsys,
        *("libs", "simulate", "CaCO3", "--temperature", "9000", "--ne", "5e16"),
        *("--mirror", str(shared_data), "--top", "8", "--json"),
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["formula"] == "CaCO3"
    assert data["temperature_k"] == 9000 and data["ne_cm3"] == 5e16
    lines = data["lines"]
    assert len(lines) == 8
    assert set(lines[0]) == {"element", "ion", "wavelength_nm", "intensity"}
    assert lines[0] == {"element": "Ca", "ion": 2, "wavelength_nm": 393.3663, "intensity": 1.0}
    assert [x["intensity"] for x in lines] == sorted((x["intensity"] for x in lines), reverse=True)
    assert {x["ion"] for x in lines} <= {1, 2}


def test_simulate_writes_a_spectrum_and_refuses_to_overwrite(
    monkeypatch, capsys, shared_data, tmp_path
):
    from lithoscope.spectra.io import read_spectrum

    out = tmp_path / "calcite.csv"
    args = ("libs", "simulate", "CaCO3", "--preset", "supercam", "--mirror", str(shared_data))
    code, stdout, err = run(monkeypatch, capsys, *args, "--out", str(out))
    assert code == 0, err
    assert "Ca" in stdout and str(out) in stdout
    spectrum = read_spectrum(out)
    assert spectrum.method.value == "libs" and spectrum.n_points == 3 * 2048
    assert spectrum.metadata["preset"] == "supercam"
    before = out.read_bytes()
    code, _, err = run(monkeypatch, capsys, *args, "--out", str(out))
    assert code == 1
    assert err.count("\n") == 1 and "--overwrite" in err and "Traceback" not in err
    assert out.read_bytes() == before
    code, _, err = run(
        monkeypatch, capsys, *args, "--temperature", "12000", "--out", str(out), "--overwrite"
    )
    assert code == 0, err
    assert out.read_bytes() != before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("Xx2O3",), "unknown element 'Xx'"),
        (("CaCO3", "--preset", "chemcam"), "preset 'chemcam' is not one of handheld, supercam"),
        (("CaCO3", "--temperature", "40000"), "temperature 40000.0 K: expected 1000-16000 K"),
        (("CaCO3", "--top", "-1"), "--top -1: expected a number of lines >= 0"),
        (("CaCO3", "--out", "spectrum.xyz"), "cannot tell the format from the suffix"),
    ],
)
def test_simulate_bad_input_is_one_line(monkeypatch, capsys, shared_data, tmp_path, args, message):
    monkeypatch.chdir(tmp_path)  # a stray --out would land here, not in the checkout
    code, out, err = run(
        monkeypatch, capsys, "libs", "simulate", *args, "--mirror", str(shared_data)
    )
    assert code == 1
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not any(tmp_path.iterdir())


def test_simulate_without_a_mirror_says_how_to_get_the_data(monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "libs", "simulate", "CaCO3")
    assert code == 1
    assert err.count("\n") == 1 and "atomic-lines" in err and "--mirror" in err


def test_elements_json_on_a_measured_spectrum(monkeypatch, capsys, shared_data, tmp_path):
    """One measured handheld average (olivenite, Cu3(AsO4)(OH)) written as a CSV file."""
    from lithoscope.spectra.io import read_spectra
    from lithoscope.spectra.io.writers import write_spectrum

    table = shared_data / "libs" / "pewpew_hh12_average_spectra.csv"
    olivenite = next(s for s in read_spectra(table, method="libs") if s.label == "Olivenite")
    path = write_spectrum(olivenite, tmp_path / "olivenite.csv")
    code, out, err = run(
        monkeypatch,
        capsys,
        *("libs", "elements", str(path), "--mirror", str(shared_data), "--json"),
    )
    assert code == 0, err
    data = json.loads(out)
    found = {e["element"]: e for e in data["elements"]}
    assert {"Cu", "As"} <= set(found)
    assert all(set(e) >= {"element", "confidence", "ratio"} for e in data["elements"])
    assert found["Cu"]["confidence"] >= 0.9
    ratios = [e["ratio"] for e in data["elements"] if e["ratio"] is not None]
    assert np.isclose(sum(ratios), 1.0, atol=1e-3)
    assert found["Ar"]["ratio"] is None and found["Ar"]["ambient"]
    confidences = [e["confidence"] for e in data["elements"]]
    assert confidences == sorted(confidences, reverse=True)


def test_elements_table_and_bad_files(monkeypatch, capsys, shared_data, tmp_path):
    sim = tmp_path / "halite.jdx"
    code, _, err = run(
        monkeypatch,
        capsys,
        *("libs", "simulate", "NaCl", "--mirror", str(shared_data), "--out", str(sim)),
    )
    assert code == 0, err
    code, out, err = run(
        monkeypatch, capsys, "libs", "elements", str(sim), "--mirror", str(shared_data)
    )
    assert code == 0, err
    assert "Na" in out and "confidence" in out
    from lithoscope.spectra.io.writers import write_spectrum
    from lithoscope.spectra.spectrum import Spectrum

    raman = write_spectrum(
        Spectrum([100.0, 200.0, 300.0], [0.0, 1.0, 0.0], method="raman"), tmp_path / "r.csv"
    )
    code, out, err = run(
        monkeypatch, capsys, "libs", "elements", str(raman), "--mirror", str(shared_data)
    )
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "r.csv" in err and "Traceback" not in err
    missing = tmp_path / "missing.csv"
    code, out, err = run(
        monkeypatch, capsys, "libs", "elements", str(missing), "--mirror", str(shared_data)
    )
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "missing.csv" in err and "Traceback" not in err
