"""Modal mineralogy from VNIR: the regressor on a small real subset, Hapke unmixing, errors."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest

from lithoscope.data.vnir import load_korda
from lithoscope.errors import InputError, ModelFileError
from lithoscope.models import modal
from lithoscope.models.modal import (
    MODES,
    TARGETS,
    ModalRegressor,
    continuum_removed,
    endmember_albedos,
    hapke_unmix,
    korda_targets,
    vnir_features,
)
from lithoscope.physics.hapke import mix_albedo, reflectance, single_scattering_albedo

FAST = {
    "mlp": {"epochs": 3, "hidden": 8},
    "kernel_ridge": {},
}


@pytest.fixture(scope="module")
def korda(shared_data, tmp_path_factory):
    return load_korda(shared_data, dest=tmp_path_factory.mktemp("korda"))


@pytest.fixture(scope="module")
def small(korda):
    """60 spectra spread over the data set, with their targets."""
    rows = np.linspace(0, len(korda) - 1, 60).astype(int)
    part = korda.take(rows)
    return part.reflectance, korda_targets(part.labels)


def test_docstring_examples():
    result = doctest.testmod(modal, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# ------------------------------------------------------------------------------- features
def test_continuum_removal_of_a_straight_line_is_one():
    x = np.linspace(450, 2450, 401)
    np.testing.assert_allclose(continuum_removed(0.2 + 1e-4 * x, x), 1.0)


def test_continuum_removal_gives_band_depth():
    x = np.linspace(450, 2450, 401)
    r = 0.5 * (1 - 0.3 * np.exp(-0.5 * ((x - 1000) / 80) ** 2))
    cr = continuum_removed(r[None], x)[0]
    assert cr.min() == pytest.approx(0.7, abs=1e-3)
    assert cr.max() == 1.0


def test_features_shape_and_no_mutation(small):
    X, _ = small
    copy = X.copy()
    F = vnir_features(X, modal.KORDA_GRID_NM)
    assert F.shape == (60, 3 * 401)
    np.testing.assert_array_equal(X, copy)


def test_targets_mask_chemistry_of_absent_minerals(korda):
    y = korda_targets(korda.labels)
    assert y.shape == (len(korda), len(TARGETS))
    absent_olivine = korda.labels["OL"].to_numpy() == 0
    assert np.isnan(y[absent_olivine, TARGETS.index("Fo")]).all()


# ------------------------------------------------------------------------------ regressor
@pytest.mark.parametrize("method", modal.METHODS)
def test_fit_predict_shapes_and_simplex(small, method):
    X, y = small
    model = ModalRegressor(method, **FAST[method]).fit(X, y)
    P = model.predict(X[:7])
    assert P.shape == (7, len(TARGETS))
    modes = model.predict_modes(X[:7])
    assert modes.shape == (7, len(MODES))
    assert np.all(modes >= 0)
    np.testing.assert_allclose(modes.sum(axis=1), 1.0, atol=1e-6)
    assert np.all((P[:, 4:] >= 0) & (P[:, 4:] <= 1))
    np.testing.assert_array_equal(model.wavelength_nm_, modal.KORDA_GRID_NM)
    assert np.isfinite(model.score(X, y))


def test_kernel_ridge_interpolates_its_training_modes(small):
    X, y = small
    ok = np.isfinite(y[:, :4]).all(axis=1)
    model = ModalRegressor("kernel_ridge", alpha=1e-8).fit(X, y)
    np.testing.assert_allclose(model.predict_modes(X[ok]), y[ok, :4], atol=0.02)


def test_masked_loss_matches_numpy():
    import keras

    loss = modal._masked_mae()
    y = np.array([[0.2, np.nan, 0.5], [np.nan, np.nan, np.nan]], dtype="float32")
    p = np.array([[0.1, 0.9, 0.9], [0.3, 0.3, 0.3]], dtype="float32")
    got = keras.ops.convert_to_numpy(loss(y, p))
    np.testing.assert_allclose(got, [(0.1 + 0.4) / 2, 0.0], rtol=1e-6)


@pytest.mark.parametrize("method", modal.METHODS)
def test_save_load_round_trip(small, tmp_path, method):
    X, y = small
    model = ModalRegressor(method, **FAST[method]).fit(X, y)
    model.save(tmp_path / "m")
    assert not list((tmp_path / "m").glob("*.pkl"))
    again = ModalRegressor.load(tmp_path / "m")
    assert again.get_params() == model.get_params()
    np.testing.assert_allclose(again.predict(X[:5]), model.predict(X[:5]), rtol=1e-6, atol=1e-7)


def test_load_refuses_damaged_or_foreign_folders(small, tmp_path):
    X, y = small
    folder = ModalRegressor("kernel_ridge").fit(X, y).save(tmp_path / "m")
    with pytest.raises(ModelFileError, match="cannot read modal.json"):
        ModalRegressor.load(tmp_path / "nothing")
    (folder / "modal.npz").write_bytes(b"broken")
    with pytest.raises(ModelFileError, match="modal.npz is missing or its checksum differs"):
        ModalRegressor.load(folder)
    manifest = json.loads((folder / "modal.json").read_text())
    (folder / "modal.json").write_text(json.dumps(manifest | {"format_version": 99}))
    with pytest.raises(ModelFileError, match="newer than this lithoscope reads"):
        ModalRegressor.load(folder)


def test_regressor_errors(small):
    X, y = small
    with pytest.raises(InputError, match="method: 'cnn' is not one of mlp, kernel_ridge"):
        ModalRegressor("cnn").fit(X, y)
    with pytest.raises(InputError, match=r"y: expected shape \(60, 10\)"):
        ModalRegressor("kernel_ridge").fit(X, y[:, :4])
    with pytest.raises(InputError, match="expected spectra with 401 values"):
        ModalRegressor("kernel_ridge").fit(X[:, :300], y)
    with pytest.raises(InputError, match=r"fractions in \[0, 1\]"):
        ModalRegressor("kernel_ridge").fit(X, y * 2)
    model = ModalRegressor("kernel_ridge")
    with pytest.raises(Exception, match="not fitted"):
        model.predict(X)
    model.fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :300])


# -------------------------------------------------------------------------- Hapke unmixing
def test_hapke_unmix_recovers_a_synthetic_intimate_mixture(korda):
    E, cls = endmember_albedos(korda.reflectance, korda.modes, per_class=1)
    assert E.shape == (4, 401) and cls.tolist() == [0, 1, 2, 3]
    vol = np.array([[0.5, 0.2, 0.2, 0.1], [0.0, 0.6, 0.1, 0.3], [0.25, 0.25, 0.25, 0.25]])
    size = np.array([60.0, 60.0, 90.0, 120.0])
    mass = vol * modal.DENSITY / (vol * modal.DENSITY).sum(axis=1, keepdims=True)
    r = reflectance(mix_albedo(E, mass, modal.DENSITY, size))
    result = hapke_unmix(r, E, endmember_class=cls, grain_size=size)
    np.testing.assert_allclose(result.volume_fractions, vol, atol=1e-4)
    np.testing.assert_allclose(result.mass_fractions, mass, atol=1e-4)
    assert result.rmse.max() < 1e-6


def test_hapke_unmix_sums_endmembers_per_class(korda):
    E, cls = endmember_albedos(korda.reflectance, korda.modes, per_class=2)
    assert E.shape == (8, 401)
    r = reflectance(0.5 * E[0] + 0.5 * E[1])  # two olivine endmembers
    result = hapke_unmix(r, E, endmember_class=cls)
    np.testing.assert_allclose(result.volume_fractions[0], [1, 0, 0, 0], atol=1e-4)


def test_pure_endmember_is_itself(korda):
    pure = np.flatnonzero(korda.modes[:, 3] >= 0.99)[:1]
    w = single_scattering_albedo(korda.reflectance[pure])
    result = hapke_unmix(korda.reflectance[pure], w, density=[2.7])
    np.testing.assert_allclose(result.cross_sections, [[1.0]])


def test_hapke_errors(korda):
    r = korda.reflectance[:2]
    E, cls = endmember_albedos(korda.reflectance, korda.modes, per_class=1)
    with pytest.raises(InputError, match=r"endmember_w: expected shape \(n_endmembers, 401\)"):
        hapke_unmix(r, E[:, :100])
    with pytest.raises(InputError, match="endmember_w: expected single-scattering albedos"):
        hapke_unmix(r, E * 5)
    with pytest.raises(InputError, match="endmember_class: expected 4 non-negative integers"):
        hapke_unmix(r, E, endmember_class=[0, 1])
    with pytest.raises(InputError, match="density: expected 1 positive values"):
        hapke_unmix(r, E[:1])
    with pytest.raises(InputError, match="reflectance: expected"):
        hapke_unmix(r * 3, E, endmember_class=cls)
    with pytest.raises(InputError, match="class 1 has no spectrum with a mode >= 0.99"):
        endmember_albedos(r, np.array([[1.0, 0.0], [1.0, 0.0]]))


# ------------------------------------------------------------------------ mixture model
@pytest.fixture(scope="module")
def mixture_model(small):
    """A 3-member MLP on the first 30 spectra, calibrated on the other 30."""
    X, y = small
    reg = ModalRegressor(epochs=40, hidden=16, n_members=3).fit(X[:30], y[:30])
    return modal.ModalMixtureModel(reg).calibrate(X[30:], y[30:])


@pytest.mark.parametrize("method", modal.METHODS)
def test_predict_is_the_mean_of_the_members(small, method):
    X, y = small
    params = {"n_members": 2} if method == "mlp" else {}
    model = ModalRegressor(method, **FAST[method], **params).fit(X, y)
    members = model.predict_members(X[:7])
    assert members.shape == ((2 if method == "mlp" else 1), 7, len(TARGETS))
    np.testing.assert_allclose(members[..., : len(MODES)].sum(axis=-1), 1.0, atol=1e-9)
    np.testing.assert_allclose(members.mean(axis=0), model.predict(X[:7]), atol=1e-6)


def test_mixture_prediction_matches_numpy(mixture_model, small):
    from scipy.stats import norm

    X, _ = small
    pred = mixture_model.predict(X)
    members = mixture_model.regressor.predict_members(X)
    modes = members[..., :4].mean(axis=0)
    sd = mixture_model.sd_scale * np.maximum(members[..., :4].std(axis=0, ddof=1), 0.005)
    present = modes > mixture_model.threshold
    total = np.where(present, modes, 0).sum(axis=1, keepdims=True)
    np.testing.assert_array_equal(pred.present, present)
    np.testing.assert_allclose(pred.abundance, np.where(present, modes, 0) / total, atol=1e-9)
    np.testing.assert_allclose(pred.abundance_sd, np.where(present, sd / total, 0), atol=1e-9)
    np.testing.assert_allclose(
        pred.presence, norm.cdf((modes - mixture_model.threshold) / sd), atol=1e-9
    )
    np.testing.assert_allclose(pred.abundance.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(pred.chemistry, members[..., 4:].mean(axis=0), atol=1e-9)
    assert list(pred.classes) == list(modal.MIXTURE_CLASSES)
    values, sds = pred.chemistry_of(0, "orthopyroxene")
    assert set(values) == set(sds) == {"Fs", "Wo"}
    assert pred.chemistry_of(0, "quartz") == ({}, {})


def test_calibration_puts_68_percent_of_true_modes_within_one_sd(mixture_model, small):
    X, y = small
    cal = mixture_model.summary["calibration"]
    assert cal["spectra"] == 30
    assert mixture_model.threshold == cal["threshold"] and 0.01 <= cal["threshold"] <= 0.15
    pred = mixture_model.predict(X[30:])
    truth = y[30:, :4]
    # fewer than 20 multi-phase spectra: the scale is chosen on all of them
    assert cal["sd_scaled_on"].startswith("all 30 spectra")
    inside = np.abs(pred.abundance - truth)[pred.present] <= pred.abundance_sd[pred.present]
    assert 0.66 <= inside.mean() <= 0.8, inside.mean()
    assert all(v > 0 for v in cal["chemistry_sd_scale"].values())


def test_too_few_calibration_spectra_keep_the_defaults(small):
    X, y = small
    reg = ModalRegressor("kernel_ridge").fit(X[:30], y[:30])
    model = modal.ModalMixtureModel(reg).calibrate(X[30:35], y[30:35])
    assert model.threshold == modal.DEFAULT_THRESHOLD and model.sd_scale == 1.0
    assert "5 labelled calibration spectra (< 20)" in model.summary["calibration"]["skipped"]


def test_mixture_model_save_load_round_trip(mixture_model, small, tmp_path):
    from lithoscope.models.mixture import MixtureModel

    X, _ = small
    mixture_model.save(tmp_path / "mix")
    doc = json.loads((tmp_path / "mix" / "mixture.json").read_text())
    assert doc["kind"] == "modal" and doc["format"] == "lithoscope-mixture"
    again = MixtureModel.load(tmp_path / "mix")  # dispatches by kind
    assert isinstance(again, modal.ModalMixtureModel)
    assert again.summary == json.loads(json.dumps(mixture_model.summary))
    a, b = mixture_model.predict(X[:5]), again.predict(X[:5])
    for name in ("presence", "present", "abundance", "abundance_sd", "chemistry"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-6, atol=1e-7)
    with pytest.raises(FileExistsError):
        mixture_model.save(tmp_path / "mix")


def test_mixture_model_load_refuses_bad_files(mixture_model, tmp_path):
    from lithoscope.models.mixture import MixtureModel

    folder = mixture_model.save(tmp_path / "mix")
    doc = json.loads((folder / "mixture.json").read_text())
    for change, match in [
        ({"kind": "magic"}, "kind 'magic' is not one of unmixer, modal"),
        ({"threshold": 2.0}, "threshold or sd scales out of range"),
        ({"sd_scale": None}, "threshold or sd scales missing"),
        ({"format_version": 99}, "newer lithoscope"),
        ({"classes": ["olivine"]}, "classes"),
    ]:
        (folder / "mixture.json").write_text(json.dumps(doc | change))
        with pytest.raises(ModelFileError, match=match):
            MixtureModel.load(folder)
    (folder / "mixture.json").write_text(json.dumps(doc))
    (folder / "regressor" / "member_0.keras").write_bytes(b"broken")
    with pytest.raises(ModelFileError, match="member_0.keras is missing or its checksum"):
        modal.ModalMixtureModel.load(folder)


def test_mixture_model_refuses_spectra_on_another_axis(mixture_model):
    with pytest.raises(InputError, match="expected preprocessed VNIR spectra with 401 values"):
        mixture_model.predict(np.ones((2, 300)))
    with pytest.raises(InputError, match="expected finite values"):
        mixture_model.predict(np.full((1, 401), np.nan))


def test_mlp_fit_is_reproducible_with_its_random_state(small):
    X, y = small
    a = ModalRegressor(epochs=5, hidden=8, n_members=2, random_state=3).fit(X, y).predict(X[:5])
    b = ModalRegressor(epochs=5, hidden=8, n_members=2, random_state=3).fit(X, y).predict(X[:5])
    np.testing.assert_array_equal(a, b)


def test_modal_scores_on_a_hand_worked_case():
    """Presence micro-F1 and the MAE of the four modes, by hand; rows without all four modes
    are left out."""
    nan_chem = [np.nan] * len(modal.CHEMISTRY_TARGETS)
    y = np.array(
        [
            [0.5, 0.5, 0.0, 0.0, *nan_chem],
            [1.0, 0.0, 0.0, 0.0, *nan_chem],
            [np.nan, 0.2, 0.3, 0.5, *nan_chem],  # incomplete: not scored
        ]
    )
    abundance = np.array([[0.6, 0.4, 0.0, 0.0], [0.8, 0.0, 0.0, 0.2], [0.1, 0.2, 0.3, 0.4]])
    prediction = modal.ModalPrediction(
        np.array(modal.MIXTURE_CLASSES),
        presence=abundance,
        present=abundance > 0,
        abundance=abundance,
        abundance_sd=np.zeros_like(abundance),
    )
    scores = modal.modal_scores(prediction, y)
    # present: 2 + 2 predicted, 2 + 1 true, 3 hits -> F1 = 2 * 3 / (4 + 3)
    assert scores["spectra"] == 2
    assert scores["presence_micro_f1"] == pytest.approx(6 / 7, abs=1e-4)
    # |errors| 0.1, 0.1 and 0.2, 0.2 over 2 x 4 modes -> 0.075 = 7.5 vol %
    assert scores["abundance_mae_vol_pct"] == pytest.approx(7.5, abs=0.01)
    assert modal.modal_scores(prediction, np.full((3, 10), np.nan)) == {"spectra": 0}
