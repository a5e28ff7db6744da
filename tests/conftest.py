"""Shared fixtures: isolated settings, the shared data mirror, and a real PostgreSQL server.

PostgreSQL: the session starts its own throw-away cluster with ``initdb`` + ``pg_ctl`` on a free
loopback port (as the ``postgres`` user when run as root, since initdb refuses root) unless
``LITHOSCOPE_TEST_POSTGRES_URL`` points at a server. Without PostgreSQL binaries the PostgreSQL
variants are skipped, except when ``LITHOSCOPE_REQUIRE_POSTGRES=1`` (set by ``make test``), where
that is a failure.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
import warnings
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory, monkeypatch):
    """Every test gets its own data folder; nothing touches the user's real one."""
    from lithoscope.config import get_settings

    data_dir = tmp_path_factory.mktemp("lithoscope-data")
    monkeypatch.setenv("LITHOSCOPE_DATA_DIR", str(data_dir))
    monkeypatch.delenv("LITHOSCOPE_DATABASE_URL", raising=False)
    monkeypatch.delenv("LITHOSCOPE_MIRROR", raising=False)
    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only data mirror beside the checkout (../shared/data)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data mirror not found at {SHARED_DATA}")
    return SHARED_DATA


def _pg_bin(name: str) -> str | None:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if candidates:
        return candidates[0]
    return shutil.which(name)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _PostgresServer:
    def __init__(self) -> None:
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise FileNotFoundError("initdb/pg_ctl not found (install the 'postgresql' package)")
        self.pg_ctl = pg_ctl
        self.root = Path(tempfile.mkdtemp(prefix="lithoscope-pg-"))
        self.datadir = self.root / "data"
        self.port = _free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres")
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self._run(
            [
                initdb,
                "-D",
                str(self.datadir),
                "-U",
                "lithoscope",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        )
        self._run(
            [
                pg_ctl,
                "-D",
                str(self.datadir),
                "-l",
                str(self.root / "server.log"),
                "-w",
                "-o",
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ]
        )
        self.admin_url = f"postgresql+psycopg://lithoscope@127.0.0.1:{self.port}/postgres"

    def _run(self, cmd: list[str]) -> None:
        result = subprocess.run(
            self.prefix + cmd, capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{cmd[0]} failed: {result.stderr.strip()} {tail}")

    def stop(self) -> None:
        subprocess.run(
            [*self.prefix, self.pg_ctl, "-D", str(self.datadir), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """URL of the maintenance database of a real PostgreSQL server on 127.0.0.1."""
    external = os.environ.get("LITHOSCOPE_TEST_POSTGRES_URL")
    if external:
        yield external
        return
    required = os.environ.get("LITHOSCOPE_REQUIRE_POSTGRES") == "1"
    try:
        server = _PostgresServer()
    except (FileNotFoundError, RuntimeError, KeyError) as exc:
        if required:
            pytest.fail(f"PostgreSQL is required (LITHOSCOPE_REQUIRE_POSTGRES=1) but: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        yield server.admin_url
    finally:
        server.stop()


@contextmanager
def _postgres_database(admin_url: str) -> Iterator[str]:
    from sqlalchemy import create_engine, text

    name = f"mindb_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_admin_url) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    with _postgres_database(postgres_admin_url) as url:
        yield url


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    """An empty database URL on each backend: SQLite file, then real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mindb.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session", params=BACKENDS)
def built_db_url(request, tmp_path_factory) -> Iterator[str]:
    """A MinDB built once per session from the packaged curated files, on each backend.

    Tests must only read from it.
    """
    from lithoscope.mindb import connect

    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('built') / 'mindb.sqlite'}"
        else:
            admin = request.getfixturevalue("postgres_admin_url")
            url = stack.enter_context(_postgres_database(admin))
        with connect(url) as db:
            db.build()
        yield url


# ---------------------------------------------------------------- small real Raman set


@pytest.fixture(scope="session")
def raman_small(shared_data):
    """(X, y, groups, axis): 30 minerals x 3+ samples, raman preset, from the mirror's zip."""
    from lithoscope.spectra.io import parse_spectrum
    from lithoscope.spectra.preprocessing import make_preset

    source = shared_data / "rruff" / "raman" / "excellent_unoriented.zip"
    by_mineral: dict[str, dict[str, str]] = defaultdict(dict)
    with zipfile.ZipFile(source) as zf:
        for name in zf.namelist():
            m = re.match(r"([^_]+)__([RX]\d{6})__Raman__(\d+)__", name)
            if m and m.group(3) == "532":
                by_mineral[m.group(1)].setdefault(m.group(2), name)
        chosen = sorted(k for k, v in by_mineral.items() if len(v) >= 3)[:30]
        spectra = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for mineral in chosen:
                for member in list(by_mineral[mineral].values())[:4]:
                    spectra.append(parse_spectrum(zf.read(member).decode(), member))
    pipe = make_preset("raman")
    X = pipe.fit_transform(spectra)
    y = np.array([s.metadata["mineral"] for s in spectra])
    groups = np.array([s.metadata["sample_id"] for s in spectra])
    return X, y, groups, np.asarray(pipe.steps[0][1].grid)


@pytest.fixture(scope="session")
def split_small(raman_small):
    """Train/test indices: the last sample of each mineral is held out."""
    _, y, groups, _ = raman_small
    test = []
    for mineral in np.unique(y):
        idx = np.flatnonzero(y == mineral)
        last_group = groups[idx][-1]
        test.extend(idx[groups[idx] == last_group].tolist())
    test_idx = np.array(sorted(test))
    train_idx = np.setdiff1d(np.arange(y.size), test_idx)
    return train_idx, test_idx
