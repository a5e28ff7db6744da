"""Settings: environment variables, defaults, and clear errors."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest

from lithoscope.config import Settings, ensure_folder, get_settings
from lithoscope.errors import InputError


def test_environment_sets_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("LITHOSCOPE_MIRROR", "http://127.0.0.1:9/mirror")
    get_settings.cache_clear()
    s = get_settings()
    assert s.data_dir == tmp_path / "d"
    assert s.resolved_database_url() == f"sqlite:///{tmp_path / 'd' / 'mindb.sqlite'}"
    assert s.mirror == "http://127.0.0.1:9/mirror"
    assert s.models_dir == tmp_path / "d" / "models"
    assert not (tmp_path / "d").exists(), "reading settings must not create folders"


def test_database_url_overrides_default(monkeypatch):
    monkeypatch.setenv("LITHOSCOPE_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1/m")
    get_settings.cache_clear()
    assert get_settings().resolved_database_url() == "postgresql+psycopg://u@127.0.0.1/m"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("http://127.0.0.1:5000", "http://127.0.0.1:5000"), ("  ", None), (None, None)],
)
def test_mlflow_tracking_uri_from_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("LITHOSCOPE_MLFLOW_TRACKING_URI", raising=False)
    else:
        monkeypatch.setenv("LITHOSCOPE_MLFLOW_TRACKING_URI", value)
    get_settings.cache_clear()
    assert get_settings().mlflow_tracking_uri == expected


def test_default_data_dir_is_platform_user_dir(monkeypatch):
    import platformdirs

    monkeypatch.delenv("LITHOSCOPE_DATA_DIR")
    assert Settings().data_dir == Path(platformdirs.user_data_dir("lithoscope", appauthor=False))


def test_empty_data_dir_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", "  ")
    get_settings.cache_clear()
    with pytest.raises(InputError, match="LITHOSCOPE_DATA_DIR"):
        get_settings()


# ------------------------------------------------------------------ data folder checks
def _cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    from lithoscope.cli import main

    monkeypatch.setattr(sys, "argv", ["lithoscope", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def test_data_dir_that_is_a_file_is_a_clear_error(monkeypatch, tmp_path):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", str(tmp_path / "file"))
    get_settings.cache_clear()
    with pytest.raises(InputError, match=r"LITHOSCOPE_DATA_DIR: '.*file' is a file, not a folder"):
        get_settings()


def test_data_dir_below_a_file_is_a_clear_error(monkeypatch, tmp_path):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", str(tmp_path / "file" / "lithoscope"))
    get_settings.cache_clear()
    with pytest.raises(InputError, match=r"is below .*file, a file, not a folder"):
        get_settings()
    assert (tmp_path / "file").read_text() == "x"


@pytest.mark.parametrize("where", ["file", "below-file"])
def test_cli_db_build_with_data_dir_on_a_file_is_one_line(monkeypatch, capsys, tmp_path, where):
    (tmp_path / "file").write_text("x")
    target = tmp_path / "file" if where == "file" else tmp_path / "file" / "sub"
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", str(target))
    get_settings.cache_clear()
    code, out, err = _cli(monkeypatch, capsys, "db", "build")
    lines = err.strip().splitlines()
    assert code == 1 and out == ""
    assert len(lines) == 1
    assert lines[0].startswith("error: environment variable LITHOSCOPE_DATA_DIR")
    assert "Traceback" not in err


def test_installed_command_with_data_dir_on_a_file_exits_1_without_traceback(tmp_path):
    (tmp_path / "file").write_text("x")
    env = {**os.environ, "LITHOSCOPE_DATA_DIR": str(tmp_path / "file" / "sub")}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lithoscope"), "db", "build"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_database_url_folder_below_a_file(monkeypatch, capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("LITHOSCOPE_DATABASE_URL", f"sqlite:///{tmp_path / 'file' / 'm.sqlite'}")
    code, _, err = _cli(monkeypatch, capsys, "db", "info")
    assert code == 1
    assert err.startswith(f"error: cannot use {tmp_path / 'file'} as the folder of MinDB")
    assert len(err.strip().splitlines()) == 1


def test_ensure_folder_creates_and_refuses(tmp_path):
    made = ensure_folder(tmp_path / "a" / "b", what="the test folder")
    assert made.is_dir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match=r"cannot use .*f as the test folder: it is a file"):
        ensure_folder(tmp_path / "f", what="the test folder")
    with pytest.raises(InputError, match=r"is below .*f, which is a file"):
        ensure_folder(tmp_path / "f" / "g", what="the test folder")


@pytest.mark.skipif(
    os.geteuid() == 0, reason="root writes into read-only folders; the file cases above cover it"
)
def test_read_only_data_dir_is_a_clear_error(monkeypatch, capsys, tmp_path):
    data = tmp_path / "ro"
    data.mkdir()
    data.chmod(0o555)
    try:
        with pytest.raises(InputError, match="permission denied"):
            ensure_folder(data, what="the data folder")
        monkeypatch.setenv("LITHOSCOPE_DATA_DIR", str(data))
        get_settings.cache_clear()
        code, _, err = _cli(monkeypatch, capsys, "db", "build")
        assert code == 1 and len(err.strip().splitlines()) == 1
        assert "Traceback" not in err
    finally:
        data.chmod(0o755)


# ------------------------------------------------------------------ OSError at the edge
@pytest.fixture(scope="module")
def few_spectra(tmp_path_factory, shared_data):
    """A zip of real RRUFF Raman files of four minerals (three samples each) and their IMA rows."""
    root = tmp_path_factory.mktemp("few")
    source = shared_data / "rruff" / "raman" / "excellent_unoriented.zip"
    samples: dict[str, dict[str, str]] = defaultdict(dict)
    with zipfile.ZipFile(source) as zf:
        for name in zf.namelist():
            m = re.match(r"([^_]+)__([RX]\d{6})__Raman__532__", name)
            if m:
                samples[m.group(1)].setdefault(m.group(2), name)
        chosen = sorted(k for k, v in samples.items() if len(v) >= 3)[:4]
        with zipfile.ZipFile(root / "train.zip", "w") as out:
            for mineral in chosen:
                for member in list(samples[mineral].values())[:3]:
                    out.writestr(member, zf.read(member))
    ima = shared_data / "rruff" / "ima"
    ima_csv = next(ima.glob("RRUFF_Export*.csv"))
    rows = list(csv.DictReader(io.StringIO(ima_csv.read_text(encoding="utf-8-sig"))))
    keys = {re.sub(r"[^a-z0-9]", "", c.lower()) for c in chosen}
    keep = [r for r in rows if re.sub(r"[^a-z0-9]", "", r["Mineral Name"].lower()) in keys]
    with (root / "ima.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(keep)
    return root


def test_train_when_the_models_folder_is_a_file_is_one_line(monkeypatch, capsys, few_spectra):
    """The data folder is fine but a file stands where the model registry goes: training must
    end with one "cannot write" line, exit code 1, and leave MinDB as it was."""
    from lithoscope.data.ingest import ingest_ima
    from lithoscope.mindb import connect

    with connect() as db:
        db.build()
        ingest_ima(db, few_spectra / "ima.csv", progress=False)
    code, _, err = _cli(monkeypatch, capsys, "data", "ingest", str(few_spectra / "train.zip"))
    assert code == 0, err
    models = get_settings().models_dir
    models.write_text("not a folder")
    with connect() as db:
        before = db.info()
    code, out, err = _cli(monkeypatch, capsys, "train", "--method", "raman", "--model", "library")
    lines = err.strip().splitlines()
    assert code == 1 and out == ""
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith(f"error: cannot write {models}")
    assert models.read_text() == "not a folder"
    with connect() as db:
        assert db.info() == before
