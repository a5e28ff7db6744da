"""Real RRUFF Raman spectra for the uncertainty tests (the idea of tests/models/conftest.py)."""

from __future__ import annotations

import re
import warnings
import zipfile
from collections import defaultdict

import numpy as np
import pytest


@pytest.fixture(scope="session")
def raman_sets(shared_data):
    """(X, y, groups): 532 nm RRUFF spectra of every mineral with 3+ samples, raman preset.

    Up to 4 samples of each of ~170 minerals: enough samples per mineral to train, calibrate
    and test on different ones, and enough minerals that library search makes mistakes (on a
    few dozen it is right on ~98 % of held-out samples and every set is a single mineral).
    """
    from lithoscope.spectra.io import parse_spectrum
    from lithoscope.spectra.preprocessing import make_preset

    source = shared_data / "rruff" / "raman" / "excellent_unoriented.zip"
    by_mineral: dict[str, dict[str, str]] = defaultdict(dict)
    with zipfile.ZipFile(source) as zf:
        for name in zf.namelist():
            m = re.match(r"([^_]+)__([RX]\d{6})__Raman__(\d+)__", name)
            if m and m.group(3) == "532":
                by_mineral[m.group(1)].setdefault(m.group(2), name)
        chosen = sorted(k for k, v in by_mineral.items() if len(v) >= 3)
        spectra = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for mineral in chosen:
                for member in list(by_mineral[mineral].values())[:4]:
                    spectra.append(parse_spectrum(zf.read(member).decode(), member))
    X = make_preset("raman").fit_transform(spectra)
    y = np.array([s.metadata["mineral"] for s in spectra])
    groups = np.array([s.metadata["sample_id"] for s in spectra])
    return X, y, groups
