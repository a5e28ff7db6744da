"""scikit-learn's own estimator checks on every transformer that takes plain 2-D arrays.

`ToGrid` takes spectra with their axes, not arrays, so these checks do not apply to it (it is
tested in test_preprocessing_pipeline.py). Instances are configured for the checks' small data
(3 to 10 points per row): a Savitzky-Golay window of 3 and a despiking window of 1.
"""

from __future__ import annotations

import warnings

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from lithoscope.spectra import preprocessing as pp

ESTIMATORS = [
    pp.Crop(),
    pp.Crop(lower=1.0),
    pp.Despike(window=1, max_width=1),
    pp.BaselineRemoval(method="asls", params={"lam": 10.0}),
    pp.BaselineRemoval(method="snip", params={"max_half_window": 2}),
    pp.SavitzkyGolay(window_length=3, polyorder=1, mode="mirror"),
    pp.SavitzkyGolay(window_length=3, polyorder=2, deriv=1, mode="nearest"),
    *[pp.Normalize(kind=kind) for kind in pp.NORMALIZATIONS],
    pp.ContinuumRemoval(),
    pp.Clip(),
]


def test_every_array_step_class_is_checked():
    assert {type(e).__name__ for e in ESTIMATORS} == set(pp.STEP_CLASSES) - {"ToGrid"}


# These checks fit make_blobs data of 2 columns; every baseline algorithm needs >= 3 points
# and refuses fewer with an InputError, so the check cannot run.
_TWO_COLUMN_CHECKS = (
    "check_estimators_fit_returns_self",
    "check_estimators_overwrite_params",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_n_features_in",
    "check_readonly_memmap_input",
)


def expected_failed_checks(estimator):
    if isinstance(estimator, pp.BaselineRemoval):
        reason = "the check's X has 2 points per spectrum; a baseline needs at least 3"
        return dict.fromkeys(_TWO_COLUMN_CHECKS, reason)
    if isinstance(estimator, pp.Crop) and estimator.lower is not None:
        return {
            "check_fit2d_1feature": "a crop from 1.0 leaves no column of a 1-column X; the error "
            "says so by naming the axis range, not scikit-learn's 'n_features = 1' wording"
        }
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        # pybaselines notes convergence on the checks' random data; not what is tested here
        warnings.filterwarnings("ignore", module="pybaselines")
        check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: repr(e))
def test_stateless_steps_declare_it(estimator):
    tags = estimator.__sklearn_tags__()
    assert tags.requires_fit is False
    assert tags.input_tags.allow_nan is isinstance(estimator, (pp.Crop, pp.Clip))
