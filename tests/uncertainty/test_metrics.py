"""Reliability bins and the expected calibration error, against a brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest

from lithoscope.errors import InputError
from lithoscope.uncertainty.metrics import expected_calibration_error, reliability_bins


def _reference(conf, hit, n_bins):
    """Each answer placed in its bin by comparisons alone (no arithmetic on indices)."""
    edges = [b / n_bins for b in range(n_bins + 1)]
    out = []
    for b in range(n_bins):
        last = b == n_bins - 1
        inside = [
            i
            for i, c in enumerate(conf)
            if edges[b] <= c and (c < edges[b + 1] or (last and c <= edges[b + 1]))
        ]
        out.append((len(inside), [conf[i] for i in inside], [hit[i] for i in inside]))
    return out


@pytest.mark.parametrize("n_bins", [1, 2, 5, 10])
def test_bins_and_ece_match_the_reference(n_bins):
    rng = np.random.default_rng(3)
    conf = rng.uniform(0, 1, 400)
    conf[:3] = [0.0, 1.0, 0.5]
    hit = rng.uniform(0, 1, 400) < conf
    bins = reliability_bins(conf, hit, n_bins=n_bins)
    ref = _reference(conf.tolist(), hit.tolist(), n_bins)
    assert [b["n"] for b in bins] == [r[0] for r in ref]
    gap = 0.0
    for b, (n, c, h) in zip(bins, ref, strict=True):
        if n:
            assert b["confidence"] == pytest.approx(np.mean(c), rel=0, abs=1e-12)
            assert b["accuracy"] == pytest.approx(np.mean(h), rel=0, abs=1e-12)
            gap += n / conf.size * abs(np.mean(h) - np.mean(c))
        else:
            assert b["confidence"] is None and b["accuracy"] is None
    assert expected_calibration_error(conf, hit, n_bins=n_bins) == pytest.approx(gap, abs=1e-12)


def test_perfectly_calibrated_and_overconfident():
    # 10 answers at 0.75 confidence, 3 of 4 right in expectation: exactly calibrated here
    conf = np.full(8, 0.75)
    hit = np.array([1, 1, 1, 0, 1, 1, 1, 0], dtype=bool)
    assert expected_calibration_error(conf, hit) == pytest.approx(0.0, abs=1e-12)
    assert expected_calibration_error(np.full(4, 0.9), np.zeros(4, dtype=bool)) == pytest.approx(
        0.9
    )


def test_bad_input_is_one_line():
    with pytest.raises(InputError, match="one length"):
        reliability_bins([0.5, 0.6], [True])
    with pytest.raises(InputError, match=r"probabilities in \[0, 1\]"):
        reliability_bins([1.5], [True])
    with pytest.raises(InputError, match="n_bins must be >= 1"):
        reliability_bins([0.5], [True], n_bins=0)
    with pytest.raises(InputError, match="no answers"):
        expected_calibration_error([], [])
