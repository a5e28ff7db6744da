"""A data folder with a small MinDB and a trained Raman model, and apps serving it.

The model is trained once per session on RRUFF Raman spectra of 13 minerals from the mirror
(the minerals of tests/pipeline/test_mixture.py), with a mixture model (unmixer only), and is
the default Raman model. Tests that write (learn, add spectra) get their own copy of the folder.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import time
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from lithoscope.config import Settings, get_settings

MINERALS = [
    "Anorthite",
    "Augite",
    "Diopside",
    "Enstatite",
    "Forsterite",
    "Ilmenite",
    "Quartz",
    "Albite",
    "Calcite",
    "Gypsum",
    "Hematite",
    "Beryl",
    "Topaz",
]
TOKEN = "test-token-0123456789"


@pytest.fixture(scope="session")
def raman_files(shared_data) -> dict[str, list[tuple[str, bytes]]]:
    """Mineral -> (member name, raw bytes) of its RRUFF Raman files at 532 nm (the mirror's)."""
    source = zipfile.ZipFile(shared_data / "rruff" / "raman" / "excellent_unoriented.zip")
    out: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for n in sorted(source.namelist()):
        m = re.match(r"([^_]+)__([RX]\d{6})__Raman__532__", n)
        if m and m.group(1) in MINERALS and len(out[m.group(1)]) < 7:
            out[m.group(1)].append((n, source.read(n)))
    return dict(out)


@pytest.fixture(scope="session")
def trained_dir(tmp_path_factory, raman_files) -> Path:
    """A data folder: MinDB built and filled with 6 spectra per mineral (the 7th is held out),
    and a library model with a mixture model registered as the default Raman model."""
    from lithoscope.data.ingest import ingest
    from lithoscope.mindb import connect
    from lithoscope.pipeline.train import train

    data_dir = tmp_path_factory.mktemp("service-data")
    zpath = tmp_path_factory.mktemp("service-zip") / "raman.zip"
    with zipfile.ZipFile(zpath, "w") as out:
        for files in raman_files.values():
            for name, data in files[:6]:
                out.writestr(name, data)
    mp = pytest.MonkeyPatch()
    mp.setenv("LITHOSCOPE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    try:
        with connect() as db:
            db.build()
            ingest(db, str(zpath), progress=False)
            train(
                db,
                "raman",
                "library",
                mixture=True,
                mixture_network=False,
                mixture_params={"n_validation": 100},
                calibration_size=0.3,
            )
    finally:
        mp.undo()
        get_settings.cache_clear()
    return data_dir


@pytest.fixture(scope="session")
def held_out(raman_files) -> dict[str, tuple[str, bytes]]:
    """Mineral -> a RRUFF file of it that the model was not trained on."""
    return {k: v[6] for k, v in raman_files.items() if len(v) > 6}


def make_settings(data_dir: Path, **overrides) -> Settings:
    values = {"data_dir": data_dir, "api_token": TOKEN, **overrides}
    return Settings(**values)


def serving(settings: Settings) -> Iterator:
    """A TestClient of an app over ``settings``, once the app is ready."""
    from fastapi.testclient import TestClient

    from lithoscope.service import create_app

    with TestClient(create_app(settings)) as client:
        assert client.app.state.lithoscope.wait(120), "loading did not finish"
        yield client


@pytest.fixture(scope="module")
def client(trained_dir) -> Iterator:
    """Read-only routes: an app over the shared trained folder (tests must not write)."""
    yield from serving(make_settings(trained_dir))


@pytest.fixture
def write_client(trained_dir, tmp_path) -> Iterator:
    """An app over a private copy of the trained folder (writes allowed with TOKEN)."""
    copy = tmp_path / "data"
    shutil.copytree(trained_dir, copy)
    yield from serving(make_settings(copy))


@contextlib.contextmanager
def live_server(app) -> Iterator[str]:
    """``app`` under a real uvicorn server on 127.0.0.1 (a free port), in a thread; its URL once
    the app is ready."""
    import socket
    import threading

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)
        assert app.state.lithoscope.wait(120), "loading did not finish"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
