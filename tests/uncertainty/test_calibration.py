"""`calibrate` and `unknown_score_for` on real RRUFF spectra with a library search model."""

from __future__ import annotations

import numpy as np
import pytest

from lithoscope.errors import InputError
from lithoscope.models.classical import ClassicalClassifier
from lithoscope.models.library import LibrarySearch
from lithoscope.uncertainty import ConformalPredictor, UnknownDetector, coverage
from lithoscope.uncertainty.calibration import calibrate, unknown_score_for


@pytest.fixture(scope="module")
def fitted(raman_small, split_small):
    X, y, groups, axis = raman_small
    train, test = split_small
    # the last third of the minerals stays out of training: their spectra are "unknown"
    minerals = np.unique(y)
    known = np.isin(y, minerals[: 2 * minerals.size // 3])
    fit_rows = train[known[train]]
    model = LibrarySearch(axis=axis).fit(X[fit_rows], y[fit_rows], groups=groups[fit_rows])
    return model, X[test], y[test], known[test]


def test_unknown_score_follows_the_kind_of_class_scores(raman_small):
    assert unknown_score_for(LibrarySearch()) == "similarity_margin"
    assert unknown_score_for(ClassicalClassifier()) == "max_proba"


def test_calibrate_leaves_unseen_minerals_out_and_fits_both(fitted):
    model, X, y, known = fitted
    conformal, unknown, summary = calibrate(model, X, y, false_unknown_rate=0.1)
    assert isinstance(conformal, ConformalPredictor) and isinstance(unknown, UnknownDetector)
    assert summary == {
        "n_calibration": int(known.sum()),
        "n_unseen_minerals_left_out": int((~known).sum()),
        "conformal_method": "lac",
        "unknown_score": "similarity_margin",
        "false_unknown_rate": 0.1,
    }
    # on its own calibration spectra the split-conformal sets cover at least the target
    proba = model.predict_proba(X[known])
    y_index = np.searchsorted(model.classes_, y[known])
    sets = conformal.predict_sets(proba, 0.9)
    assert coverage(sets, y_index) >= 0.9 - 1e-9


def test_calibrate_with_no_known_mineral_is_a_clear_error(fitted):
    model, X, y, known = fitted
    with pytest.raises(InputError):
        calibrate(model, X[~known], y[~known])
