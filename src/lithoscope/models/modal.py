"""Modal mineralogy (olivine, pyroxenes, plagioclase) and their chemistry from VNIR spectra.

Two routes from a reflectance spectrum on the Korda & Kohout (2024) grid (450-2450 nm, 5 nm):

* `ModalRegressor`, learned from labelled spectra: modal OL/OPX/CPX/PLG (non-negative, summing
  to 1) and chemistry (Fo, Fs and Wo of OPX and CPX, An). Features are the continuum-removed
  spectrum, its first derivative and the mean-centred log reflectance (`vnir_features`). Two
  methods (`METHODS`): a small Keras 3 MLP with a softmax head for the modes and a sigmoid head
  for the chemistry, trained with a masked mean absolute error so that missing chemistry (NaN,
  or the chemistry of an absent mineral) contributes nothing; and kernel ridge regression in
  closed form (NumPy), one set of dual coefficients per target over its own labelled rows.
* `hapke_unmix`, physics: the spectrum is turned into single-scattering albedo
  (`lithoscope.physics.hapke`), which mixes linearly in an intimate mixture weighted by
  geometric cross section, and non-negative least squares with a sum-to-one row finds the
  cross sections of endmember albedos (`endmember_albedos` picks them from pure spectra); cross
  sections give mass and volume fractions through density and grain size.

Saved models are a folder: ``modal.json`` (parameters, axis, versions, file checksums),
``modal.npz`` (arrays) and, for the MLP, one ``member_<k>.keras`` per ensemble member. No pickle.

`ModalMixtureModel` serves a `ModalRegressor` as a mixture model (``identify --mixture --method
vnir``), with the interface of `lithoscope.models.mixture.MixtureModel`: per spectrum and mineral
group (olivine, orthopyroxene, clinopyroxene, plagioclase) the presence, the volume fraction and
its standard deviation, and the mineral chemistry. The sd is the spread of the regressor's
ensemble members (different seeds), scaled on calibration spectra so that about 68 % of true
modes fall within one sd.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import nnls
from scipy.special import ndtr
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from lithoscope import __version__
from lithoscope.errors import InputError, ModelFileError
from lithoscope.models.mixture import MIXTURE_FORMAT, MixturePrediction
from lithoscope.physics.hapke import (
    RELAB_EMISSION,
    RELAB_INCIDENCE,
    single_scattering_albedo,
)

__all__ = [
    "CHEMISTRY_TARGETS",
    "DENSITY",
    "KORDA_GRID_NM",
    "METHODS",
    "MIXTURE_CLASSES",
    "MODES",
    "TARGETS",
    "HapkeUnmixing",
    "ModalMixtureModel",
    "ModalPrediction",
    "ModalRegressor",
    "continuum_removed",
    "endmember_albedos",
    "hapke_unmix",
    "korda_targets",
    "modal_scores",
    "vnir_features",
]

MODES = ("OL", "OPX", "CPX", "PLG")
#: Chemistry targets and the mineral (index into `MODES`) each one describes.
CHEMISTRY_TARGETS = ("Fo", "Fs_OPX", "Wo_OPX", "Fs_CPX", "Wo_CPX", "An")
_CHEMISTRY_MINERAL = (0, 1, 1, 2, 2, 3)
TARGETS = MODES + CHEMISTRY_TARGETS
#: Typical densities (g cm-3) of Mg-rich olivine, orthopyroxene, augite and plagioclase
#: (Deer, Howie & Zussman, An Introduction to the Rock-Forming Minerals, 2013).
DENSITY = (3.32, 3.35, 3.30, 2.70)
#: The Korda & Kohout (2024) grid: 450-2450 nm in 5 nm steps.
KORDA_GRID_NM = np.arange(450.0, 2450.0 + 1.0, 5.0)
FORMAT_VERSION = 1
METHODS = ("mlp", "kernel_ridge")


# ------------------------------------------------------------------------------- features
def continuum_removed(reflectance: npt.ArrayLike, wavelength_nm: npt.ArrayLike) -> np.ndarray:
    """Divide each spectrum by its upper convex hull (the continuum), so bands read 1 - depth.

    Parameters
    ----------
    reflectance : array_like, shape (n, n_wavelengths) or (n_wavelengths,)
        Positive reflectance.
    wavelength_nm : array_like, shape (n_wavelengths,)
        Increasing wavelengths.

    Returns
    -------
    numpy.ndarray
        Same shape, values in (0, 1], exactly 1 on the hull's vertices.

    Examples
    --------
    >>> continuum_removed([1.0, 0.5, 1.0], [1.0, 2.0, 3.0])
    array([1. , 0.5, 1. ])
    """
    R = np.asarray(reflectance, dtype=np.float64)
    x = np.asarray(wavelength_nm, dtype=np.float64)
    one = R.ndim == 1
    R = np.atleast_2d(R)
    if x.ndim != 1 or x.size != R.shape[1] or np.any(np.diff(x) <= 0):
        raise InputError(
            f"wavelength_nm: expected {R.shape[1]} increasing values, got shape {x.shape}"
        )
    if not np.all(np.isfinite(R)) or R.min() <= 0:
        raise InputError("reflectance: expected positive finite values")
    out = np.empty_like(R)
    for k, r in enumerate(R):
        hull = [0]  # monotone chain, upper hull
        for i in range(1, x.size):
            while len(hull) >= 2:
                a, b = hull[-2], hull[-1]
                if (x[b] - x[a]) * (r[i] - r[a]) - (r[b] - r[a]) * (x[i] - x[a]) >= 0:
                    hull.pop()
                else:
                    break
            hull.append(i)
        out[k] = r / np.interp(x, x[hull], r[hull])
    return out[0] if one else out


def vnir_features(reflectance: npt.ArrayLike, wavelength_nm: npt.ArrayLike) -> np.ndarray:
    """Features of VNIR spectra for `ModalRegressor`.

    The continuum-removed spectrum (band shapes and depths), its first derivative per 50 nm
    (band centres and edges) and the log reflectance minus its mean (the overall slope and
    shape, independent of brightness), side by side.

    Parameters
    ----------
    reflectance : array_like, shape (n, n_wavelengths)
    wavelength_nm : array_like, shape (n_wavelengths,)

    Returns
    -------
    numpy.ndarray, shape (n, 3 * n_wavelengths)
    """
    R = np.atleast_2d(np.asarray(reflectance, dtype=np.float64))
    x = np.asarray(wavelength_nm, dtype=np.float64)
    cr = continuum_removed(R, x)
    derivative = np.gradient(cr, x, axis=1) * 50.0
    log = np.log(R)
    return np.concatenate([cr, derivative, log - log.mean(axis=1, keepdims=True)], axis=1)


def korda_targets(labels: Any) -> np.ndarray:
    """The `TARGETS` of labelled Korda spectra, with NaN where a label cannot be learned.

    Chemistry of a mineral whose mode is 0 (absent: Korda et al. write 0) or unknown becomes
    NaN, as does chemistry missing in the source.

    Parameters
    ----------
    labels : pandas.DataFrame
        `lithoscope.data.vnir.KordaData.labels` (columns OL, OPX, CPX, PLG, Fo, Fs_OPX, ...).

    Returns
    -------
    numpy.ndarray, shape (n, 10)
    """
    missing = [c for c in TARGETS if c not in labels.columns]
    if missing:
        raise InputError(f"labels: expected the columns {', '.join(TARGETS)}; missing {missing}")
    y = labels.loc[:, list(TARGETS)].to_numpy(dtype=np.float64).copy()
    for j, mineral in enumerate(_CHEMISTRY_MINERAL):
        mode = y[:, mineral]
        y[~(mode > 0), len(MODES) + j] = np.nan
    return y


def _simplex(P: np.ndarray) -> np.ndarray:
    P = np.clip(P, 0.0, None)
    total = P.sum(axis=1, keepdims=True)
    return np.where(total > 0, P / np.where(total > 0, total, 1.0), 1.0 / P.shape[1])


# ---------------------------------------------------------------------------------- keras
def _keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    return keras


def _masked_mae():
    keras = _keras()
    ops = keras.ops

    @keras.saving.register_keras_serializable("lithoscope")
    def masked_mae(y_true, y_pred):
        """Mean absolute error over the labels that are known (not NaN)."""
        known = ops.logical_not(ops.isnan(y_true))
        diff = ops.where(known, ops.abs(ops.where(known, y_true, 0.0) - y_pred), 0.0)
        weight = ops.cast(known, y_pred.dtype)
        return ops.sum(diff, axis=-1) / ops.maximum(ops.sum(weight, axis=-1), 1.0)

    return masked_mae


def _batches_class():
    keras = _keras()

    class Batches(keras.utils.PyDataset):
        """Mini-batches in an order drawn from our own generator, reshuffled every epoch."""

        def __init__(self, Z, y, batch_size, rng):
            super().__init__()
            self.Z, self.y, self.batch_size, self.rng = Z, y, batch_size, rng
            self.order = rng.permutation(len(Z))

        def __len__(self):
            return -(-len(self.Z) // self.batch_size)

        def __getitem__(self, i):
            rows = self.order[i * self.batch_size : (i + 1) * self.batch_size]
            return self.Z[rows], self.y[rows]

        def on_epoch_end(self):
            self.order = self.rng.permutation(len(self.Z))

    return Batches


def _Batches(Z, y, batch_size, rng):
    return _batches_class()(Z, y, batch_size, rng)


def _build_mlp(n_features: int, hidden: int, dropout: float, l2: float, seed: int):
    keras = _keras()
    reg = keras.regularizers.L2(l2)
    init = keras.initializers.GlorotUniform(seed=seed)
    inputs = keras.Input((n_features,), name="features")
    h = keras.layers.Dense(
        hidden, activation="gelu", kernel_regularizer=reg, kernel_initializer=init
    )(inputs)
    h = keras.layers.Dropout(dropout, seed=seed)(h)
    h = keras.layers.Dense(
        hidden, activation="gelu", kernel_regularizer=reg, kernel_initializer=init
    )(h)
    # every layer's initial weights from the seed: no global random state
    modes = keras.layers.Dense(
        len(MODES),
        activation="softmax",
        name="modes",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1),
    )(h)
    chemistry = keras.layers.Dense(
        len(CHEMISTRY_TARGETS),
        activation="sigmoid",
        name="chem",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 2),
    )(h)
    outputs = keras.layers.Concatenate(name="targets")([modes, chemistry])
    return keras.Model(inputs, outputs, name="modal_mlp")


# ----------------------------------------------------------------------------- estimator
class ModalRegressor(RegressorMixin, BaseEstimator):
    """Modal OL/OPX/CPX/PLG and mineral chemistry from VNIR reflectance spectra.

    Parameters
    ----------
    method : {"mlp", "kernel_ridge"}, default "mlp"
        The learner (`METHODS`).
    hidden : int, default 64
        MLP: units of each of the two hidden layers.
    dropout : float, default 0.1
        MLP: dropout after the first hidden layer.
    l2 : float, default 1e-4
        MLP: L2 penalty on the hidden layers' kernels.
    epochs : int, default 300
        MLP: training epochs (Adam, batch `batch_size`).
    batch_size : int, default 32
    learning_rate : float, default 1e-3
    n_members : int, default 1
        MLP: ensemble members (different seeds), averaged.
    alpha : float, default 1e-2
        Kernel ridge: ridge penalty.
    gamma : float, default 4.0
        Kernel ridge: RBF ``exp(-gamma / n_features * |a - b|^2)`` on standardised features.
    wavelength_nm : array_like or None, default None
        The spectral axis of ``X``; None means the Korda grid (`KORDA_GRID_NM`). Spectra on
        another axis are refused at `predict`.
    random_state : int, default 0
        Seed of weight initialisation, dropout and shuffling.

    Attributes
    ----------
    wavelength_nm_ : numpy.ndarray
        The axis of the training spectra.
    feature_mean_, feature_scale_ : numpy.ndarray
        Standardisation of `vnir_features`.
    members_ : list of keras.Model
        MLP only.
    X_fit_, dual_coef_, target_mean_ : numpy.ndarray
        Kernel ridge only: standardised training features, dual coefficients (zero on the rows
        a target was not fitted on) and target means.

    Examples
    --------
    >>> from lithoscope.data.vnir import load_korda  # doctest: +SKIP
    >>> data = load_korda()  # doctest: +SKIP
    >>> model = ModalRegressor().fit(data.reflectance, korda_targets(data.labels))  # doctest: +SKIP
    >>> model.predict_modes(data.reflectance[:2]).sum(axis=1)  # doctest: +SKIP
    array([1., 1.])
    """

    def __init__(
        self,
        method: str = "mlp",
        *,
        hidden: int = 64,
        dropout: float = 0.1,
        l2: float = 1e-4,
        epochs: int = 300,
        batch_size: int = 32,
        learning_rate: float = 1e-3,
        n_members: int = 1,
        alpha: float = 1e-2,
        gamma: float = 4.0,
        wavelength_nm: npt.ArrayLike | None = None,
        random_state: int = 0,
    ) -> None:
        self.method = method
        self.hidden = hidden
        self.dropout = dropout
        self.l2 = l2
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.n_members = n_members
        self.alpha = alpha
        self.gamma = gamma
        self.wavelength_nm = wavelength_nm
        self.random_state = random_state

    # ------------------------------------------------------------------------------ fit
    def _axis(self, n_features: int) -> np.ndarray:
        axis = KORDA_GRID_NM if self.wavelength_nm is None else np.asarray(self.wavelength_nm)
        if axis.shape != (n_features,):
            raise InputError(
                f"X: expected spectra with {axis.size} values on the wavelength axis "
                f"{axis[0]:g}-{axis[-1]:g} nm, got {n_features}; resample to that axis or "
                "pass wavelength_nm"
            )
        return axis.astype(np.float64)

    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike) -> ModalRegressor:
        """Fit on reflectance spectra and their `TARGETS` (NaN where unknown).

        Parameters
        ----------
        X : array_like, shape (n, n_wavelengths)
            Reflectance on `wavelength_nm`.
        y : array_like, shape (n, 10)
            `TARGETS` columns: modes as fractions (rows with a NaN mode are not used for the
            modes), chemistry as fractions, NaN where unknown (see `korda_targets`).

        Returns
        -------
        self
        """
        if self.method not in METHODS:
            raise InputError(f"method: {self.method!r} is not one of {', '.join(METHODS)}")
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        y = np.asarray(y, dtype=np.float64)
        if y.shape != (X.shape[0], len(TARGETS)):
            raise InputError(
                f"y: expected shape ({X.shape[0]}, {len(TARGETS)}) with columns "
                f"{', '.join(TARGETS)}, got {y.shape}"
            )
        if np.any(np.isinf(y)) or np.nanmin(y) < -1e-6 or np.nanmax(y) > 1 + 1e-6:
            raise InputError("y: expected fractions in [0, 1] or NaN")
        modes = y[:, : len(MODES)]
        complete = np.isfinite(modes).all(axis=1)
        if complete.sum() < 2:
            raise InputError("y: expected at least 2 rows with all four modes known")
        y = y.copy()
        y[~complete, : len(MODES)] = np.nan
        y[complete, : len(MODES)] = _simplex(modes[complete])
        self.wavelength_nm_ = self._axis(X.shape[1])
        F = vnir_features(X, self.wavelength_nm_)
        self.feature_mean_ = F.mean(axis=0)
        scale = F.std(axis=0)
        self.feature_scale_ = np.where(scale > 0, scale, 1.0)
        Z = (F - self.feature_mean_) / self.feature_scale_
        if self.method == "mlp":
            self._fit_mlp(Z, y)
        else:
            self._fit_kernel_ridge(Z, y)
        return self

    def _fit_mlp(self, Z: np.ndarray, y: np.ndarray) -> None:
        keras = _keras()
        loss = _masked_mae()
        self.members_ = []
        for k in range(self.n_members):
            seed = int(self.random_state) + 1000 * k
            model = _build_mlp(Z.shape[1], self.hidden, self.dropout, self.l2, seed)
            model.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss=loss)
            batches = _Batches(Z, y, self.batch_size, np.random.default_rng(seed))
            # our batches are shuffled by our own generator; Keras would use the global one
            model.fit(batches, epochs=self.epochs, verbose=0, shuffle=False)
            self.members_.append(model)

    def _kernel(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        d2 = (A**2).sum(1)[:, None] + (B**2).sum(1)[None, :] - 2.0 * A @ B.T
        return np.exp(-self.gamma / A.shape[1] * np.maximum(d2, 0.0))

    def _fit_kernel_ridge(self, Z: np.ndarray, y: np.ndarray) -> None:
        K = self._kernel(Z, Z)
        self.X_fit_ = Z
        self.target_mean_ = np.nanmean(y, axis=0)
        self.dual_coef_ = np.zeros_like(y)
        for j in range(y.shape[1]):
            rows = np.flatnonzero(np.isfinite(y[:, j]))
            if rows.size == 0:
                continue
            Kj = K[np.ix_(rows, rows)] + self.alpha * np.eye(rows.size)
            self.dual_coef_[rows, j] = np.linalg.solve(Kj, y[rows, j] - self.target_mean_[j])

    # --------------------------------------------------------------------------- predict
    def predict(self, X: npt.ArrayLike) -> np.ndarray:
        """Modes and chemistry, shape (n, 10), columns `TARGETS`.

        Modes are non-negative and sum to 1; chemistry lies in [0, 1]. Chemistry is predicted
        for every mineral, also where its predicted mode is small (then it means little).
        """
        check_is_fitted(self, "wavelength_nm_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        Z = (vnir_features(X, self.wavelength_nm_) - self.feature_mean_) / self.feature_scale_
        if self.method == "mlp":
            P = np.mean([np.asarray(m.predict(Z, verbose=0)) for m in self.members_], axis=0)
            P = P.astype(np.float64)
        else:
            P = self._kernel(Z, self.X_fit_) @ self.dual_coef_ + self.target_mean_
        P[:, : len(MODES)] = _simplex(P[:, : len(MODES)])
        P[:, len(MODES) :] = np.clip(P[:, len(MODES) :], 0.0, 1.0)
        return P

    def predict_members(self, X: npt.ArrayLike) -> np.ndarray:
        """Each ensemble member's modes and chemistry, shape (n_members, n, 10).

        Modes of each member are non-negative and sum to 1, chemistry lies in [0, 1]; `predict`
        is their mean (its modes renormalised). Kernel ridge has one member.
        """
        check_is_fitted(self, "wavelength_nm_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        Z = (vnir_features(X, self.wavelength_nm_) - self.feature_mean_) / self.feature_scale_
        if self.method == "mlp":
            P = np.stack([np.asarray(m.predict(Z, verbose=0)) for m in self.members_])
            P = P.astype(np.float64)
        else:
            P = (self._kernel(Z, self.X_fit_) @ self.dual_coef_ + self.target_mean_)[None]
        for member in P:
            member[:, : len(MODES)] = _simplex(member[:, : len(MODES)])
        P[..., len(MODES) :] = np.clip(P[..., len(MODES) :], 0.0, 1.0)
        return P

    def predict_modes(self, X: npt.ArrayLike) -> np.ndarray:
        """Modal OL, OPX, CPX, PLG as volume fractions summing to 1, shape (n, 4)."""
        return self.predict(X)[:, : len(MODES)]

    def score(self, X: npt.ArrayLike, y: npt.ArrayLike, sample_weight: Any = None) -> float:
        """Minus the mean absolute error of the modes (higher is better)."""
        y = np.asarray(y, dtype=np.float64)[:, : len(MODES)]
        keep = np.isfinite(y).all(axis=1)
        P = self.predict_modes(np.asarray(X)[keep])
        return -float(np.mean(np.abs(P - y[keep])))

    # ------------------------------------------------------------------------ persistence
    def save(self, folder: str | Path) -> Path:
        """Save to `folder` (created): ``modal.json``, ``modal.npz``, ``member_<k>.keras``."""
        check_is_fitted(self, "wavelength_nm_")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {
            "wavelength_nm": self.wavelength_nm_,
            "feature_mean": self.feature_mean_,
            "feature_scale": self.feature_scale_,
        }
        files = ["modal.npz"]
        if self.method == "kernel_ridge":
            arrays |= {
                "X_fit": self.X_fit_,
                "dual_coef": self.dual_coef_,
                "target_mean": self.target_mean_,
            }
        else:
            for k, member in enumerate(self.members_):
                member.save(folder / f"member_{k}.keras")
                files.append(f"member_{k}.keras")
        np.savez(folder / "modal.npz", **arrays)
        params = self.get_params()
        params["wavelength_nm"] = (
            None if self.wavelength_nm is None else self.wavelength_nm_.tolist()
        )
        manifest = {
            "kind": "lithoscope.models.modal.ModalRegressor",
            "format_version": FORMAT_VERSION,
            "lithoscope_version": __version__,
            "targets": list(TARGETS),
            "params": params,
            "files": {name: _sha256(folder / name) for name in files},
        }
        (folder / "modal.json").write_text(json.dumps(manifest, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ModalRegressor:
        """Load a model saved by `save`, checking its manifest and checksums first.

        Raises
        ------
        ModelFileError
            If the manifest is missing, foreign, newer, or a file's checksum differs.
        """
        folder = Path(folder)
        where = f"modal model {str(folder)!r}"
        try:
            manifest = json.loads((folder / "modal.json").read_text())
        except (OSError, ValueError) as exc:
            raise ModelFileError(
                f"{where}: cannot read modal.json ({type(exc).__name__}); save the model again"
            ) from None
        if not isinstance(manifest, dict) or manifest.get("kind") != (
            "lithoscope.models.modal.ModalRegressor"
        ):
            raise ModelFileError(f"{where}: modal.json is not a ModalRegressor manifest")
        if manifest.get("format_version", 0) > FORMAT_VERSION:
            raise ModelFileError(
                f"{where}: format {manifest.get('format_version')} is newer than this "
                f"lithoscope reads ({FORMAT_VERSION}); upgrade lithoscope"
            )
        for name, digest in manifest.get("files", {}).items():
            path = folder / name
            if not path.is_file() or _sha256(path) != digest:
                raise ModelFileError(f"{where}: {name} is missing or its checksum differs")
        model = cls(**manifest["params"])
        with np.load(folder / "modal.npz", allow_pickle=False) as npz:
            model.wavelength_nm_ = npz["wavelength_nm"]
            model.feature_mean_ = npz["feature_mean"]
            model.feature_scale_ = npz["feature_scale"]
            if model.method == "kernel_ridge":
                model.X_fit_ = npz["X_fit"]
                model.dual_coef_ = npz["dual_coef"]
                model.target_mean_ = npz["target_mean"]
        model.n_features_in_ = model.wavelength_nm_.size
        if model.method == "mlp":
            keras = _keras()
            _masked_mae()
            model.members_ = [
                keras.saving.load_model(folder / f"member_{k}.keras", compile=False)
                for k in range(model.n_members)
            ]
        return model


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- Hapke unmixing
@dataclass(frozen=True)
class HapkeUnmixing:
    """Result of `hapke_unmix` for n spectra and k mineral classes.

    Attributes
    ----------
    cross_sections : numpy.ndarray, shape (n, k)
        Relative geometric cross sections ``F`` (sum 1).
    mass_fractions : numpy.ndarray, shape (n, k)
    volume_fractions : numpy.ndarray, shape (n, k)
    rmse : numpy.ndarray, shape (n,)
        Root-mean-square residual of the fit in single-scattering albedo.
    """

    cross_sections: np.ndarray
    mass_fractions: np.ndarray
    volume_fractions: np.ndarray
    rmse: np.ndarray


def hapke_unmix(
    reflectance: npt.ArrayLike,
    endmember_w: npt.ArrayLike,
    *,
    endmember_class: npt.ArrayLike | None = None,
    density: npt.ArrayLike = DENSITY,
    grain_size: npt.ArrayLike = 1.0,
    incidence: float = RELAB_INCIDENCE,
    emission: float = RELAB_EMISSION,
    sum_weight: float = 10.0,
) -> HapkeUnmixing:
    """Unmix reflectance spectra into mineral fractions through Hapke single-scattering albedo.

    Each spectrum is turned into ``w`` (`single_scattering_albedo`); in an intimate mixture
    ``w = sum_j F_j w_j`` with ``F`` the relative geometric cross sections (Hapke 1981;
    Mustard & Pieters 1989). ``F >= 0`` is found by `scipy.optimize.nnls` with an extra row
    ``sum_weight * sum(F) = sum_weight`` that pulls the sum to 1; ``F`` is then summed per class
    and normalised. Mass fractions are ``M ~ F rho D``, volume fractions ``V ~ F D``.

    Parameters
    ----------
    reflectance : array_like, shape (n, n_wavelengths) or (n_wavelengths,)
        Reflectance factor at the given geometry.
    endmember_w : array_like, shape (m, n_wavelengths)
        Single-scattering albedos of m endmembers (see `endmember_albedos`).
    endmember_class : array_like of int, shape (m,), optional
        Class (0..k-1) of each endmember; default: each endmember its own class.
    density : array_like, shape (k,)
        Densities of the classes. Default: `DENSITY` (OL, OPX, CPX, PLG).
    grain_size : array_like, shape (k,) or scalar, default 1
        Grain diameters of the classes (equal grains by default).
    incidence, emission : float
        Geometry in degrees. Default: RELAB's 30, 0.
    sum_weight : float, default 10
        Weight of the sum-to-one row (larger: stricter).

    Returns
    -------
    HapkeUnmixing

    Raises
    ------
    InputError
        For mismatched shapes, albedos outside [0, 1], reflectance out of range, bad classes.
    """
    R = np.asarray(reflectance, dtype=np.float64)
    R = R[None, :] if R.ndim == 1 else R
    E = np.asarray(endmember_w, dtype=np.float64)
    if E.ndim != 2 or E.shape[1] != R.shape[1]:
        raise InputError(
            f"endmember_w: expected shape (n_endmembers, {R.shape[1]}) like the spectra, "
            f"got {E.shape}"
        )
    if not np.all(np.isfinite(E)) or E.min() < 0 or E.max() > 1:
        raise InputError("endmember_w: expected single-scattering albedos in [0, 1]")
    cls = np.arange(E.shape[0]) if endmember_class is None else np.asarray(endmember_class)
    if cls.shape != (E.shape[0],) or not np.issubdtype(cls.dtype, np.integer) or cls.min() < 0:
        raise InputError(
            f"endmember_class: expected {E.shape[0]} non-negative integers, got {cls.tolist()}"
        )
    k = int(cls.max()) + 1
    density = np.asarray(density, dtype=np.float64)
    size = np.asarray(grain_size, dtype=np.float64)
    for name, values in (("density", density), ("grain_size", size)):
        if values.shape not in ((), (k,)) or not np.all(np.isfinite(values)) or values.min() <= 0:
            raise InputError(
                f"{name}: expected {k} positive values (one per class), got {values.tolist()}"
            )
    w = single_scattering_albedo(R, incidence=incidence, emission=emission)
    A = np.vstack([E.T, np.full((1, E.shape[0]), sum_weight)])
    F_end = np.empty((R.shape[0], E.shape[0]))
    rmse = np.empty(R.shape[0])
    for i, wi in enumerate(w):
        F_end[i], _ = nnls(A, np.append(wi, sum_weight))
        rmse[i] = np.sqrt(np.mean((E.T @ F_end[i] - wi) ** 2))
    F = np.zeros((R.shape[0], k))
    np.add.at(F.T, cls, F_end.T)
    F = _simplex(F)
    mass = F * density * size
    volume = F * size
    return HapkeUnmixing(
        cross_sections=F,
        mass_fractions=mass / mass.sum(axis=1, keepdims=True),
        volume_fractions=volume / volume.sum(axis=1, keepdims=True),
        rmse=rmse,
    )


def endmember_albedos(
    reflectance: npt.ArrayLike,
    modes: npt.ArrayLike,
    *,
    per_class: int | None = 3,
    purity: float = 0.99,
    incidence: float = RELAB_INCIDENCE,
    emission: float = RELAB_EMISSION,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Endmember single-scattering albedos from the pure spectra of each mineral class.

    The spectra whose mode of one class is at least `purity` are turned into albedo; per class,
    k-means on the log albedo (k = `per_class`) gives cluster means as endmembers, so a few
    chemistries (Fo-rich and Fa-rich olivine, ...) are represented. ``per_class=None`` keeps
    every pure spectrum.

    Parameters
    ----------
    reflectance : array_like, shape (n, n_wavelengths)
    modes : array_like, shape (n, k)
        Modal fractions (NaN rows are skipped).
    per_class : int or None, default 3
    purity : float, default 0.99
    incidence, emission : float
    random_state : int, default 0

    Returns
    -------
    (endmember_w, endmember_class) : (numpy.ndarray (m, n_wavelengths), numpy.ndarray (m,))

    Raises
    ------
    InputError
        If a class has no pure spectrum.
    """
    from sklearn.cluster import KMeans

    R = np.asarray(reflectance, dtype=np.float64)
    M = np.asarray(modes, dtype=np.float64)
    if M.ndim != 2 or M.shape[0] != R.shape[0]:
        raise InputError(f"modes: expected shape ({R.shape[0]}, n_classes), got {M.shape}")
    w = single_scattering_albedo(R, incidence=incidence, emission=emission)
    ends, classes = [], []
    for c in range(M.shape[1]):
        pure = np.flatnonzero(np.nan_to_num(M[:, c], nan=0.0) >= purity)
        if pure.size == 0:
            raise InputError(
                f"modes: class {c} has no spectrum with a mode >= {purity}; lower purity or add "
                "pure spectra"
            )
        if per_class is None or pure.size <= per_class:
            chosen = w[pure]
        else:
            km = KMeans(per_class, n_init=10, random_state=random_state)
            labels = km.fit_predict(np.log(np.clip(w[pure], 1e-6, None)))
            chosen = np.array([w[pure][labels == j].mean(axis=0) for j in range(per_class)])
        ends.append(chosen)
        classes.extend([c] * len(chosen))
    return np.vstack(ends), np.array(classes)


# ------------------------------------------------------------------------ mixture model
#: The mineral groups of a `ModalMixtureModel`, in `MODES` order (names the rock schemes know).
MIXTURE_CLASSES = ("olivine", "orthopyroxene", "clinopyroxene", "plagioclase")
#: Chemistry reported for each mineral group: (`CHEMISTRY_TARGETS` column, name in the answer).
MIXTURE_CHEMISTRY: dict[str, tuple[tuple[str, str], ...]] = {
    "olivine": (("Fo", "Fo"),),
    "orthopyroxene": (("Fs_OPX", "Fs"), ("Wo_OPX", "Wo")),
    "clinopyroxene": (("Fs_CPX", "Fs"), ("Wo_CPX", "Wo")),
    "plagioclase": (("An", "An"),),
}
#: Presence threshold (volume fraction) when too few calibration spectra choose one: 2 vol %.
DEFAULT_THRESHOLD = 0.02
#: Smallest ensemble spread (fraction) an sd is built from: 0.5 vol % (or 0.5 mol %).
SPREAD_FLOOR = 0.005
#: Fewer labelled calibration spectra than this: default threshold, unscaled sd.
MIN_CALIBRATION = 20
_THRESHOLDS = np.round(np.arange(0.01, 0.1501, 0.005), 3)
_ONE_SD = 0.6827
_MODAL_FORMAT_VERSION = 1


@dataclass(frozen=True)
class ModalPrediction(MixturePrediction):
    """`MixturePrediction` with the mineral chemistry.

    Attributes
    ----------
    chemistry : numpy.ndarray, shape (n, 6)
        `CHEMISTRY_TARGETS` (Fo, Fs and Wo of OPX and CPX, An) as fractions 0-1, predicted for
        every mineral whether present or not.
    chemistry_sd : numpy.ndarray, shape (n, 6)
    """

    chemistry: np.ndarray | None = None
    chemistry_sd: np.ndarray | None = None

    def chemistry_of(self, row: int, mineral: str) -> tuple[dict[str, float], dict[str, float]]:
        """(values, sds) in mol % of one mineral's chemistry in spectrum ``row``.

        Examples
        --------
        >>> p = ModalPrediction(np.array(MIXTURE_CLASSES), *[np.zeros((1, 4))] * 4,
        ...                     chemistry=np.full((1, 6), 0.5), chemistry_sd=np.zeros((1, 6)))
        >>> p.chemistry_of(0, "plagioclase")
        ({'An': 50.0}, {'An': 0.0})
        """
        if self.chemistry is None or self.chemistry_sd is None:
            return {}, {}
        values, sds = {}, {}
        for target, name in MIXTURE_CHEMISTRY.get(mineral, ()):
            j = CHEMISTRY_TARGETS.index(target)
            values[name] = round(float(self.chemistry[row, j]) * 100, 2)
            sds[name] = round(float(self.chemistry_sd[row, j]) * 100, 2)
        return values, sds


@dataclass
class ModalMixtureModel:
    """A `ModalRegressor` serving VNIR mixtures like `lithoscope.models.mixture.MixtureModel`.

    For preprocessed VNIR spectra (the ``vnir`` preset: continuum removed, on the regressor's
    axis) `predict` gives, per mineral group of `MIXTURE_CLASSES`:

    * ``abundance``: the ensemble mean of the predicted modes, renormalised over the present
      groups;
    * ``present``: that mode above ``threshold`` (chosen on calibration spectra for the best
      micro-F1 of "mode > 0", else `DEFAULT_THRESHOLD`);
    * ``abundance_sd``: ``sd_scale`` times the spread (sd) of the ensemble members' modes
      (floored at `SPREAD_FLOOR`), with ``sd_scale`` chosen on calibration spectra so that 68 %
      of their true modes fall within one sd (on the multi-phase ones, rocks and mixtures,
      when there are at least `MIN_CALIBRATION`: single minerals are easier, and their sd then
      errs on the wide side);
    * ``presence``: the normal probability ``Phi((mode - threshold) / sd)``;
    * ``chemistry`` and ``chemistry_sd`` (`ModalPrediction`): Fo, Fs and Wo of both
      pyroxenes and An, the sd scaled the same way per target.

    Parameters
    ----------
    regressor : ModalRegressor
        Fitted on preprocessed spectra, with several members (``n_members``) for the spread.
    threshold : float, default `DEFAULT_THRESHOLD`
    sd_scale : float, default 1
    chemistry_sd_scale : sequence of float, optional
        One per `CHEMISTRY_TARGETS` (default all 1).
    summary : dict, optional
        How it was trained and calibrated (kept in the bundle).

    Examples
    --------
    >>> reg = ModalRegressor(n_members=5).fit(X_train, y_train)  # doctest: +SKIP
    >>> model = ModalMixtureModel(reg).calibrate(X_cal, y_cal)  # doctest: +SKIP
    >>> model.predict(X).abundance.sum(axis=1)  # doctest: +SKIP
    array([1., 1.])
    """

    kind = "modal"

    regressor: Any
    threshold: float = DEFAULT_THRESHOLD
    sd_scale: float = 1.0
    chemistry_sd_scale: tuple[float, ...] = (1.0,) * len(CHEMISTRY_TARGETS)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def classes(self) -> np.ndarray:
        return np.array(MIXTURE_CLASSES)

    @property
    def axis(self) -> np.ndarray:
        return np.asarray(self.regressor.wavelength_nm_)

    def _raw(self, X: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Ensemble mean and spread of the modes and of the chemistry."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.axis.size:
            raise InputError(
                f"X: expected preprocessed VNIR spectra with {self.axis.size} values on "
                f"{self.axis[0]:g}-{self.axis[-1]:g} nm, got shape {X.shape}; preprocess with "
                "the model's pipeline"
            )
        if not np.all(np.isfinite(X)):
            raise InputError("X: expected finite values; remove NaN before predicting")
        # continuum-removed values may touch 0 where the reflectance was clipped: logs need > 0
        P = self.regressor.predict_members(np.clip(X, 1e-3, None))
        k = len(MODES)
        mean = P.mean(axis=0)
        mean[:, :k] = _simplex(mean[:, :k])
        spread = P.std(axis=0, ddof=1) if P.shape[0] > 1 else np.zeros_like(mean)
        return mean[:, :k], spread[:, :k], mean[:, k:], spread[:, k:]

    def predict(self, X: npt.ArrayLike) -> ModalPrediction:
        """Presence, abundance, sd and chemistry of the four groups for preprocessed ``X``."""
        modes, spread, chemistry, chem_spread = self._raw(X)
        sd = self.sd_scale * np.maximum(spread, SPREAD_FLOOR)
        present = modes > self.threshold
        presence = ndtr((modes - self.threshold) / sd)
        kept = np.where(present, modes, 0.0)
        total = kept.sum(axis=1, keepdims=True)
        scale = np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)
        chem_sd = np.asarray(self.chemistry_sd_scale)[None, :] * np.maximum(
            chem_spread, SPREAD_FLOOR
        )
        return ModalPrediction(
            self.classes,
            presence,
            present,
            kept * scale,
            np.where(present, sd * scale, 0.0),
            chemistry=chemistry,
            chemistry_sd=chem_sd,
        )

    def calibrate(self, X: npt.ArrayLike, y: npt.ArrayLike) -> ModalMixtureModel:
        """Choose ``threshold``, ``sd_scale`` and ``chemistry_sd_scale`` on labelled spectra.

        Parameters
        ----------
        X : array_like, shape (n, n_wavelengths)
            Preprocessed spectra that the regressor did not learn from.
        y : array_like, shape (n, 10)
            Their `TARGETS` (NaN where unknown, see `korda_targets`).

        Returns
        -------
        self
            With ``summary["calibration"]``: the choices and, on these spectra, presence F1,
            abundance MAE (vol %) and the share of true modes within one sd.
        """
        y = np.asarray(y, dtype=np.float64)
        k = len(MODES)
        complete = np.isfinite(y[:, :k]).all(axis=1) if y.size else np.zeros(0, bool)
        n = int(complete.sum())
        if n < MIN_CALIBRATION:
            self.summary["calibration"] = {
                "skipped": f"{n} labelled calibration spectra (< {MIN_CALIBRATION}): threshold "
                f"{DEFAULT_THRESHOLD} and the ensemble spread as sd, unscaled",
            }
            return self
        X = np.asarray(X, dtype=np.float64)[complete]
        truth, chem_truth = y[complete, :k], y[complete, k:]
        modes, spread, chemistry, chem_spread = self._raw(X)
        really = truth > 0
        f1 = [_f1(modes > t, really) for t in _THRESHOLDS]
        self.threshold = float(_THRESHOLDS[int(np.argmax(f1))])
        present = modes > self.threshold
        kept = np.where(present, modes, 0.0)
        renorm = 1.0 / kept.sum(axis=1, keepdims=True)
        error = np.abs(kept * renorm - truth)
        base = np.maximum(spread, SPREAD_FLOOR) * renorm
        # The sd is for rocks and mixtures: scaled on the multi-phase spectra when there are
        # enough (single minerals are easier; their sd then errs on the wide side).
        multi = (truth > 0).sum(axis=1) >= 2
        basis = multi if multi.sum() >= MIN_CALIBRATION else np.ones_like(multi)
        chosen = present & basis[:, None]
        self.sd_scale = float(np.quantile(error[chosen] / base[chosen], _ONE_SD, method="higher"))
        scales = []
        for j in range(len(CHEMISTRY_TARGETS)):
            rows = np.isfinite(chem_truth[:, j])
            if rows.sum() < 5:
                scales.append(1.0)
                continue
            z = np.abs(chemistry[rows, j] - chem_truth[rows, j]) / np.maximum(
                chem_spread[rows, j], SPREAD_FLOOR
            )
            scales.append(float(np.quantile(z, _ONE_SD, method="higher")))
        self.chemistry_sd_scale = tuple(scales)
        self.summary["calibration"] = {
            "spectra": n,
            "threshold": self.threshold,
            "presence_micro_f1": round(float(max(f1)), 4),
            "sd_scale": round(self.sd_scale, 4),
            "sd_scaled_on": (
                f"{int(multi.sum())} multi-phase spectra"
                if multi.sum() >= MIN_CALIBRATION
                else f"all {n} spectra ({int(multi.sum())} multi-phase, < {MIN_CALIBRATION})"
            ),
            "chemistry_sd_scale": dict(
                zip(CHEMISTRY_TARGETS, (round(v, 4) for v in scales), strict=True)
            ),
            # measured on the spectra that chose them: a check that they took, not a test
            "abundance_mae_vol_pct": round(float(error.mean() * 100), 2),
        }
        return self

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | Path) -> Path:
        """Write into the new folder ``folder``: mixture.json and regressor/."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=False)
        self.regressor.save(folder / "regressor")
        doc = {
            "format": MIXTURE_FORMAT,
            "format_version": _MODAL_FORMAT_VERSION,
            "kind": self.kind,
            "lithoscope_version": __version__,
            "classes": list(MIXTURE_CLASSES),
            "threshold": self.threshold,
            "sd_scale": self.sd_scale,
            "chemistry_sd_scale": list(self.chemistry_sd_scale),
            "summary": self.summary,
        }
        (folder / "mixture.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ModalMixtureModel:
        """Read a folder written by `save` (its regressor's checksums checked first).

        Raises
        ------
        ModelFileError
            A missing or foreign file, a newer format, or values out of range.
        """
        folder = Path(folder)
        path = folder / "mixture.json"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"{path}: unreadable ({exc}); retrain the mixture model") from None
        if not isinstance(doc, dict) or doc.get("format") != MIXTURE_FORMAT:
            raise ModelFileError(f"{path}: not a lithoscope mixture model")
        if doc.get("kind") != cls.kind:
            raise ModelFileError(f"{path}: kind {doc.get('kind')!r} is not a modal mixture model")
        if int(doc.get("format_version", 0)) > _MODAL_FORMAT_VERSION:
            raise ModelFileError(f"{path}: written by a newer lithoscope; upgrade lithoscope")
        if doc.get("classes") != list(MIXTURE_CLASSES):
            raise ModelFileError(f"{path}: classes {doc.get('classes')} are not {MIXTURE_CLASSES}")
        try:
            threshold = float(doc["threshold"])
            sd_scale = float(doc["sd_scale"])
            chem = tuple(float(v) for v in doc["chemistry_sd_scale"])
        except (KeyError, TypeError, ValueError):
            raise ModelFileError(f"{path}: threshold or sd scales missing; retrain") from None
        if (
            not 0 < threshold < 1
            or not np.isfinite(sd_scale)
            or sd_scale <= 0
            or len(chem) != len(CHEMISTRY_TARGETS)
            or not all(np.isfinite(v) and v > 0 for v in chem)
        ):
            raise ModelFileError(f"{path}: threshold or sd scales out of range; retrain")
        regressor = ModalRegressor.load(folder / "regressor")
        return cls(regressor, threshold, sd_scale, chem, dict(doc.get("summary") or {}))


def modal_scores(prediction: ModalPrediction, y: npt.ArrayLike) -> dict[str, Any]:
    """How well `ModalMixtureModel.predict` did on spectra of known modes.

    Parameters
    ----------
    prediction : ModalPrediction
        The model's answer for the spectra.
    y : array_like, shape (n, 10)
        Their `TARGETS` (NaN where unknown, see `korda_targets`); spectra without all four
        modes are left out.

    Returns
    -------
    dict
        ``spectra`` scored, ``presence_micro_f1`` (present against "true mode > 0") and
        ``abundance_mae_vol_pct`` (mean absolute error of the four renormalised modes, in
        vol %), the measures `ModalMixtureModel.calibrate` reports.
    """
    y = np.asarray(y, dtype=np.float64)
    k = len(MODES)
    complete = np.isfinite(y[:, :k]).all(axis=1) if y.size else np.zeros(0, bool)
    truth = y[complete, :k]
    if not truth.shape[0]:
        return {"spectra": 0}
    present = np.asarray(prediction.present)[complete].astype(bool)
    abundance = np.asarray(prediction.abundance, dtype=np.float64)[complete]
    return {
        "spectra": int(truth.shape[0]),
        "presence_micro_f1": round(_f1(present, truth > 0), 4),
        "abundance_mae_vol_pct": round(float(np.abs(abundance - truth).mean() * 100), 2),
    }


def _f1(predicted: np.ndarray, truth: np.ndarray) -> float:
    tp = float((predicted & truth).sum())
    return 2 * tp / max(1.0, float(predicted.sum() + truth.sum()))
