"""A calibrated Raman model for the browser test, and a headless Chromium driving the page.

The shared trained folder of conftest.py has too few calibration spectra for prediction sets;
this one trains on every 532 nm RRUFF file of conftest's minerals in the mirror except one held
out per mineral, with 40 % of the samples calibrating, so answers carry prediction sets.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest

from lithoscope.config import get_settings
from tests.service.conftest import MINERALS

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def rruff_files(mirror: Path) -> dict[str, list[tuple[str, bytes]]]:
    """Mineral -> its 532 nm RRUFF Raman files of the mirror (member name, raw bytes)."""
    source = zipfile.ZipFile(mirror / "rruff" / "raman" / "excellent_unoriented.zip")
    out: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for n in sorted(source.namelist()):
        m = re.match(r"([^_]+)__([RX]\d{6})__Raman__532__", n)
        if m and m.group(1) in MINERALS:
            out[m.group(1)].append((n, source.read(n)))
    return dict(out)


def train_calibrated(data_dir: Path, files: dict[str, list[tuple[str, bytes]]]) -> None:
    """MinDB with all but the last file of each mineral, and a calibrated library model with a
    mixture model as the default Raman model, in ``data_dir``."""
    from lithoscope.data.ingest import ingest
    from lithoscope.mindb import connect
    from lithoscope.pipeline.train import train

    zpath = data_dir / "raman.zip"
    with zipfile.ZipFile(zpath, "w") as out:
        for members in files.values():
            for name, data in members[:-1] if len(members) > 1 else members:
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
                calibration_size=0.4,
            )
    finally:
        mp.undo()
        get_settings.cache_clear()
        zpath.unlink()


def chromium(width: int = 900, height: int = 1200):
    """A headless Chromium (the system's, through its chromedriver) that can reach nothing but
    127.0.0.1, logging every network request.

    Skipped when ``/usr/bin/chromium`` is absent and ``LITHOSCOPE_REQUIRE_BROWSER`` is unset;
    with it set (``make test``), a missing or broken browser is a failure.
    """
    required = bool(os.environ.get("LITHOSCOPE_REQUIRE_BROWSER"))
    if not CHROMIUM.exists() and not required:
        pytest.skip(
            f"{CHROMIUM} not found (apt-get install chromium chromium-driver, or make "
            "system-deps); set LITHOSCOPE_REQUIRE_BROWSER=1 to make this a failure"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root in CI containers
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        # nothing but the server under test resolves: a CDN or web font would fail to load
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
