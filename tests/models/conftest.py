"""A small real Raman set: RRUFF spectra of minerals with three or more samples."""

from __future__ import annotations

import re
import warnings
import zipfile
from collections import defaultdict

import numpy as np
import pytest


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
