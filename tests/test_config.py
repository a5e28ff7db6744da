"""Settings: environment variables, defaults, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from lithoscope.config import Settings, get_settings
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


def test_default_data_dir_is_platform_user_dir(monkeypatch):
    import platformdirs

    monkeypatch.delenv("LITHOSCOPE_DATA_DIR")
    assert Settings().data_dir == Path(platformdirs.user_data_dir("lithoscope", appauthor=False))


def test_empty_data_dir_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", "  ")
    get_settings.cache_clear()
    with pytest.raises(InputError, match="LITHOSCOPE_DATA_DIR"):
        get_settings()
