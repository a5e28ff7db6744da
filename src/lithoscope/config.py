"""One `Settings` object for every path and URL lithoscope uses.

Values come from environment variables (``LITHOSCOPE_DATA_DIR``, ``LITHOSCOPE_DATABASE_URL``,
``LITHOSCOPE_MIRROR``, ``LITHOSCOPE_MLFLOW_TRACKING_URI`` ...) and otherwise from platform
defaults. Nothing is created or written when the settings are read; folders are made only by the
code that writes into them.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lithoscope.errors import InputError

__all__ = ["Settings", "ensure_folder", "get_settings", "use_jax_compilation_cache"]


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("lithoscope", appauthor=False))


_DATA_DIR_FIX = "set LITHOSCOPE_DATA_DIR to a folder you can write to"


def _blocking_file(path: Path) -> Path | None:
    """``path`` itself or the nearest ancestor that exists, if it is not a folder."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def ensure_folder(path: str | Path, *, what: str = "folder", fix: str = _DATA_DIR_FIX) -> Path:
    """Create ``path`` (and parents) if needed and check that lithoscope can write into it.

    Parameters
    ----------
    path : str or Path
    what : str
        What the folder is for, named in the message (e.g. ``"the data folder"``).
    fix : str
        How the user fixes it, ending the message.

    Returns
    -------
    Path

    Raises
    ------
    InputError
        ``path`` or one of its parents is a file, or the folder cannot be created or written.
    """
    path = Path(path)
    blocking = _blocking_file(path)
    if blocking is not None:
        where = "is a file" if blocking == path else f"is below {blocking}, which is a file"
        raise InputError(f"cannot use {path} as {what}: it {where}; {fix}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {what} {path}: {exc.strerror or exc}; {fix}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {path} ({what}): permission denied; {fix}")
    return path


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
    api_token : SecretStr or None
        Bearer token that the service's writes (adding spectra, ``learn``) require. Environment:
        ``LITHOSCOPE_API_TOKEN``; default: none, and writes are off.
    max_upload_bytes : int
        Largest request body the service accepts (413 beyond it). Environment:
        ``LITHOSCOPE_MAX_UPLOAD_BYTES``; default: 20 MB.
    cors_origins : list of str
        Origins allowed to call the service from a browser page of another origin. Environment:
        ``LITHOSCOPE_CORS_ORIGINS`` as JSON (``'["https://lab.example"]'``); default: none.
    mlflow_tracking_uri : str or None
        MLflow tracking (and model registry) store that runs and registered models are logged
        to: a server (``http://127.0.0.1:5000``) or a database (``sqlite:///path/mlflow.db``).
        Environment: ``LITHOSCOPE_MLFLOW_TRACKING_URI``; default: SQLite file
        ``mlflow/mlflow.db`` in ``data_dir``, artifacts in ``mlflow/artifacts`` beside it
        (`lithoscope.pipeline.tracking.tracking_uri`).

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
    api_token: SecretStr | None = None
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    cors_origins: list[str] = Field(default_factory=list)
    mlflow_tracking_uri: str | None = None

    @field_validator("data_dir", mode="before")
    @classmethod
    def _expand(cls, value: object) -> object:
        if isinstance(value, str | Path):
            if str(value).strip() == "":
                raise ValueError(
                    "LITHOSCOPE_DATA_DIR is empty; set it to a folder path or unset it"
                )
            path = Path(value).expanduser().resolve()
            blocking = _blocking_file(path)
            if blocking is not None:
                where = "is a file" if blocking == path else f"is below {blocking}, a file"
                raise ValueError(
                    f"{str(path)!r} {where}, not a folder; set it to a "
                    "folder path (it is created when first needed)"
                )
            return path
        return value

    @field_validator("database_url", "mirror", "api_token", "mlflow_tracking_uri", mode="before")
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
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InputError(f"environment variable {field}: {message}") from None


def use_jax_compilation_cache(settings: Settings | None = None) -> Path | None:
    """Keep JAX's compiled programs in ``<data dir>/cache/jax``, so later processes skip compiling.

    Called where a Keras model is first loaded for inference; every program is kept, however
    small or quick to compile (a command compiles dozens of small ones). Nothing happens unless
    Keras runs on JAX; a cache folder already chosen (``JAX_COMPILATION_CACHE_DIR``, or an
    earlier call) is kept; a data folder that cannot be written leaves the cache off. Never
    raises.

    Returns
    -------
    Path or None
        The cache folder in use, or None when there is none.
    """
    keras = sys.modules.get("keras")
    try:
        backend = keras.backend.backend() if keras is not None else os.environ.get("KERAS_BACKEND")
    except Exception:  # pragma: no cover - a broken Keras fails later, with its own message
        return None
    if backend != "jax":
        return None
    import jax

    current = jax.config.jax_compilation_cache_dir
    if current:
        return Path(current)
    try:
        folder = (settings or get_settings()).cache_dir / "jax"
        folder.mkdir(parents=True, exist_ok=True)
    except (InputError, OSError):
        return None
    if not os.access(folder, os.W_OK | os.X_OK):
        return None
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    return folder
