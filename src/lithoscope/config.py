"""One `Settings` object for every path and URL lithoscope uses.

Values come from environment variables (``LITHOSCOPE_DATA_DIR``, ``LITHOSCOPE_DATABASE_URL``,
``LITHOSCOPE_MIRROR``) and otherwise from platform defaults. Nothing is created or written when the
settings are read; folders are made only by the code that writes into them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lithoscope.errors import InputError

__all__ = ["Settings", "get_settings"]


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("lithoscope", appauthor=False))


class Settings(BaseSettings):
    """Paths and URLs of a lithoscope installation.

    Parameters
    ----------
    data_dir : Path
        Folder for MinDB (SQLite default), models and caches. Environment: ``LITHOSCOPE_DATA_DIR``;
        default: the platform's user data folder for lithoscope.
    database_url : str or None
        SQLAlchemy URL of MinDB, e.g. ``postgresql+psycopg://user@127.0.0.1:5432/mindb``.
        Environment: ``LITHOSCOPE_DATABASE_URL``; default: SQLite file ``mindb.sqlite`` in
        ``data_dir``.
    mirror : str or None
        Local folder or http(s) URL laid out like lithoscope's data mirror. Environment:
        ``LITHOSCOPE_MIRROR``.

    Examples
    --------
    >>> s = Settings(data_dir="/tmp/lithoscope-example")
    >>> s.resolved_database_url()
    'sqlite:////tmp/lithoscope-example/mindb.sqlite'
    """

    model_config = SettingsConfigDict(env_prefix="LITHOSCOPE_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None
    mirror: str | None = None

    @field_validator("data_dir", mode="before")
    @classmethod
    def _expand(cls, value: object) -> object:
        if isinstance(value, str | Path):
            if str(value).strip() == "":
                raise ValueError(
                    "LITHOSCOPE_DATA_DIR is empty; set it to a folder path or unset it"
                )
            return Path(value).expanduser().resolve()
        return value

    @field_validator("database_url", "mirror", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str) and value.strip() == "":
            return None
        return value

    @property
    def models_dir(self) -> Path:
        """Folder of the model registry."""
        return self.data_dir / "models"

    @property
    def cache_dir(self) -> Path:
        """Folder of downloaded data and derived caches."""
        return self.data_dir / "cache"

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'mindb.sqlite'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once from the environment (tests call ``get_settings.cache_clear()``).

    Raises
    ------
    InputError
        If an environment variable holds an invalid value.
    """
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "LITHOSCOPE_" + str(first["loc"][0]).upper() if first["loc"] else "LITHOSCOPE_*"
        raise InputError(f"environment variable {field}: {first['msg']}") from None
