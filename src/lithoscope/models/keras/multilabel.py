"""Which minerals are in a Raman spectrum of a mixture, and how much of each: a multi-label CNN.

`MultiLabelClassifier` puts two heads on the convolutional encoder of the identification CNN
(`lithoscope.models.keras.cnn.build_encoder`, reused as is): a sigmoid per mineral (presence)
and a softmax over the minerals plus "other" (volume fractions). It is trained on mixtures
drawn on the fly from the *pure* training spectra it is given (`lithoscope.data.mixtures`:
2-4 minerals of a real rock type, fractions around the rock's mode, efficiency-weighted linear
mixing and instrument variation from `lithoscope.physics.mixing`), so every batch holds new
mixtures. Spectra of whole samples (``groups``) are held out to make a fixed set of validation
mixtures: the weights of the best validation micro-F1 are kept and each mineral's presence
threshold is the one of best validation F1 (0.5 for minerals that never occur there).

The minerals it knows (``classes_``) are the species of the assemblage table that have
training spectra. "other" takes the share of minerals outside ``classes_``; synthetic training
mixtures have none, so it stays near zero unless trained with such spectra.

Saved as a folder: ``multilabel.keras`` (the network), ``multilabel.json`` (parameters,
classes, history) and ``arrays.npz`` (axis, thresholds); `load_multilabel` reads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
import numpy.typing as npt
from keras import layers
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from lithoscope import __version__
from lithoscope.data.mixtures import Assemblage, load_assemblages, make_mixtures
from lithoscope.errors import InputError, ModelFileError
from lithoscope.models.base import split_xy
from lithoscope.models.keras.cnn import build_encoder
from lithoscope.models.keras.training import (
    adamw_warmup_cosine,
    check_positive_ints,
    compile_forward,
    fit_keras,
    grouped_validation_split,
    load_keras,
)
from lithoscope.models.unmixing import best_f1_thresholds
from lithoscope.spectra.spectrum import check_same_axis

__all__ = ["MultiLabelClassifier", "load_multilabel", "micro_f1"]

FORMAT = "lithoscope-multilabel"
FORMAT_VERSION = 1
_THRESHOLD_GRID = np.round(np.linspace(0.05, 0.95, 19), 2)


def micro_f1(Y_true: npt.ArrayLike, Y_pred: npt.ArrayLike) -> float:
    """Micro-averaged F1 of 0/1 matrices (1.0 when both are empty).

    Examples
    --------
    >>> micro_f1([[1, 0], [1, 1]], [[1, 1], [0, 1]])
    0.6666666666666666
    """
    t = np.asarray(Y_true).astype(bool)
    p = np.asarray(Y_pred).astype(bool)
    tp = np.sum(t & p)
    denominator = 2 * tp + np.sum(~t & p) + np.sum(t & ~p)
    return 1.0 if denominator == 0 else float(2 * tp / denominator)


def _abundance_loss(y_true: Any, y_pred: Any) -> Any:
    """Cross-entropy of soft fraction targets (minimum when the fractions match)."""
    return keras.ops.mean(keras.losses.categorical_crossentropy(y_true, y_pred))


class MultiLabelClassifier(BaseEstimator):
    """Multi-label CNN: presence probability per mineral and volume fractions of mixtures.

    Parameters
    ----------
    axis : array_like, optional
        Axis of array inputs (a `SpectralCollection` or `Dataset` brings its own).
    channels : tuple of int, default=(16, 32, 64, 128, 128)
    embedding_dim : int, default=128
    dropout : float, default=0.2
    epochs : int, default=30
    steps_per_epoch : int, default=100
        Batches of fresh mixtures per epoch.
    batch_size : int, default=64
    learning_rate : float, default=2e-3
    weight_decay : float, default=1e-4
    abundance_weight : float, default=1.0
        Weight of the abundance loss against the presence loss.
    n_components : (int, int), default=(2, 4)
        Minerals per training mixture (inclusive range).
    min_fraction : float, default=0.05
        Smallest volume fraction of a mineral in a training mixture.
    efficiencies : mapping of str to float, optional
        Relative Raman scattering efficiency per mineral used to simulate the mixtures
        (`lithoscope.physics.mixing.efficiencies_for`); missing ones are 1.
    assemblages : str, optional
        Path of an assemblage CSV (default: the packaged `lithoscope.data.mixtures` table).
    instrument : mapping, optional
        Keyword arguments of `lithoscope.physics.mixing.mixture_batch` for the training
        mixtures (default: its defaults).
    validation_size : float, default=0.15
        Fraction of the pure spectra (whole groups) whose mixtures form the validation set.
    n_validation : int, default=600
        Validation mixtures.
    random_state : int, default=0
    verbose : int, default=0

    Attributes
    ----------
    classes_ : ndarray of str
    axis_ : ndarray
    thresholds_ : ndarray (n_classes,)
    model_ : keras.Model
        spectrum -> [presence probabilities (n_classes), fractions (n_classes + 1)].
    history_ : dict
    """

    _MODEL_FILE = "multilabel.keras"

    def __init__(
        self,
        *,
        axis: npt.ArrayLike | None = None,
        channels: tuple[int, ...] = (16, 32, 64, 128, 128),
        embedding_dim: int = 128,
        dropout: float = 0.2,
        epochs: int = 30,
        steps_per_epoch: int = 100,
        batch_size: int = 64,
        learning_rate: float = 2e-3,
        weight_decay: float = 1e-4,
        abundance_weight: float = 1.0,
        n_components: tuple[int, int] = (2, 4),
        min_fraction: float = 0.05,
        efficiencies: Mapping[str, float] | None = None,
        assemblages: str | None = None,
        instrument: Mapping[str, Any] | None = None,
        validation_size: float = 0.15,
        n_validation: int = 600,
        random_state: int = 0,
        verbose: int = 0,
    ) -> None:
        self.axis = axis
        self.channels = channels
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.abundance_weight = abundance_weight
        self.n_components = n_components
        self.min_fraction = min_fraction
        self.efficiencies = efficiencies
        self.assemblages = assemblages
        self.instrument = instrument
        self.validation_size = validation_size
        self.n_validation = n_validation
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> None:
        check_positive_ints(
            self, ("embedding_dim", "epochs", "steps_per_epoch", "batch_size", "n_validation")
        )
        if not self.channels or any(int(c) < 1 for c in self.channels):
            raise InputError(f"channels must be positive integers, got {self.channels!r}")
        if not 0 <= float(self.dropout) < 1:
            raise InputError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not float(self.abundance_weight) >= 0:
            raise InputError(f"abundance_weight must be >= 0, got {self.abundance_weight!r}")
        if not 0 < float(self.validation_size) < 1:
            raise InputError(
                f"validation_size must be between 0 and 1 (validation mixtures choose the "
                f"thresholds), got {self.validation_size!r}"
            )

    def _resolve_axis(self, axis: np.ndarray | None, n: int) -> np.ndarray:
        if axis is not None and self.axis is not None:
            check_same_axis(self.axis, axis, what="the training data")
        chosen = axis if axis is not None else self.axis
        if chosen is None:
            return np.arange(n, dtype=np.float64)
        chosen = np.asarray(chosen, dtype=np.float64)
        if chosen.shape != (n,):
            raise InputError(f"axis has {chosen.size} points but X has {n} columns")
        return chosen

    def fit(self, X: Any, y: Any = None, *, groups: Any = None) -> MultiLabelClassifier:
        """Train on mixtures drawn from the pure spectra ``X`` of minerals ``y``.

        Parameters
        ----------
        X : array_like (n_spectra, n_points), SpectralCollection or Dataset
            Preprocessed pure spectra (the training side only).
        y : array_like of str
            Mineral of each spectrum.
        groups : array_like, optional
            Sample id of each spectrum (a `Dataset` brings its own): validation mixtures are
            made of samples never used for training mixtures.

        Returns
        -------
        self
        """
        self._check_params()
        if groups is None and hasattr(X, "groups") and hasattr(X, "collection"):
            groups = X.groups
        arr, axis, labels = split_xy(X, y)
        if labels is None or labels.shape != (arr.shape[0],):
            raise InputError("y must give one mineral per spectrum")
        if groups is not None and np.shape(groups) != (arr.shape[0],):
            raise InputError(f"groups has {np.size(groups)} entries but X has {arr.shape[0]}")
        self.axis_ = self._resolve_axis(axis, arr.shape[1])
        self.n_features_in_ = arr.shape[1]
        labels = labels.astype(str)
        table = self._assemblages()
        rng = np.random.default_rng(self.random_state)
        seed = int(rng.integers(0, 2**31 - 1))
        _, y_index = np.unique(labels, return_inverse=True)
        train, val = grouped_validation_split(y_index, groups, float(self.validation_size), rng)
        pure_train = _by_species(arr[train], labels[train])
        pure_val = _by_species(arr[val], labels[val])
        probe = make_mixtures(
            pure_train, table, 1, rng=np.random.default_rng(0), n_components=self._nc()
        )
        self.classes_ = probe.classes
        pure_val = {k: v for k, v in pure_val.items() if k in set(self.classes_)}
        mixing = {
            "assemblages": table,
            "n_components": self._nc(),
            "classes": self.classes_,
            "x": self.axis_,
            "efficiencies": dict(self.efficiencies or {}),
            "min_fraction": float(self.min_fraction),
            "instrument": self.instrument,
        }
        try:
            val_mix = make_mixtures(
                pure_val, n=int(self.n_validation), rng=np.random.default_rng(seed + 7), **mixing
            )
        except InputError:
            raise InputError(
                "the validation samples hold too few minerals of any rock type to make mixtures; "
                "give more samples or raise validation_size"
            ) from None

        n_classes = self.classes_.size
        model = self._build(arr.shape[1], n_classes, seed)
        model.compile(
            optimizer=adamw_warmup_cosine(
                float(self.learning_rate),
                float(self.weight_decay),
                steps=int(self.steps_per_epoch),
                epochs=int(self.epochs),
            ),
            loss=["binary_crossentropy", _abundance_loss],
            loss_weights=[1.0, float(self.abundance_weight)],
        )
        batch_rng = np.random.default_rng(seed + 1)

        def batches(epoch: int) -> Iterator[tuple[np.ndarray, Any]]:
            for _ in range(int(self.steps_per_epoch)):
                mix = make_mixtures(pure_train, n=int(self.batch_size), rng=batch_rng, **mixing)
                yield mix.X.astype(np.float32), _targets(mix.Y, mix.A)

        self._forward = _joined_forward(model)
        Xv = val_mix.X.astype(np.float32)

        def evaluate() -> float:
            self._forward.refresh()
            return micro_f1(val_mix.Y, self._split(Xv)[0] > 0.5)

        result = fit_keras(
            model,
            batches,
            steps=int(self.steps_per_epoch),
            epochs=int(self.epochs),
            evaluate=evaluate,
            eval_from=max(1, int(self.epochs) // 2),
            verbose=self.verbose,
        )
        self.model_ = model
        self._forward = _joined_forward(model)
        proba, _ = self._split(Xv)
        self.thresholds_ = best_f1_thresholds(
            proba, val_mix.Y, np.full(n_classes, 0.5), grid=_THRESHOLD_GRID
        )
        self.history_ = result.summary(len(train), len(val), curves=True)
        self.history_["validation_micro_f1"] = micro_f1(val_mix.Y, proba > self.thresholds_)
        return self

    def _nc(self) -> tuple[int, int]:
        lo, hi = self.n_components
        return int(lo), int(hi)

    def _assemblages(self) -> dict[str, Assemblage]:
        return load_assemblages(self.assemblages)

    def _build(self, n_points: int, n_classes: int, seed: int) -> keras.Model:
        encoder = build_encoder(
            n_points,
            channels=tuple(int(c) for c in self.channels),
            embedding_dim=int(self.embedding_dim),
            dropout=float(self.dropout),
            seed=seed,
        )
        # the features before the unit normalisation: presence and amounts need magnitudes
        features = keras.Model(encoder.input, encoder.get_layer("embedding").input)
        inputs = keras.Input((n_points,), name="spectrum")
        h = features(inputs)
        h = layers.Dense(
            256,
            activation="relu",
            kernel_initializer=keras.initializers.HeNormal(seed=seed + 11),
            name="shared",
        )(h)
        presence = layers.Dense(
            n_classes,
            activation="sigmoid",
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 12),
            name="presence",
        )(h)
        fractions = layers.Dense(
            n_classes + 1,
            activation="softmax",
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 13),
            name="abundance",
        )(h)
        return keras.Model(inputs, [presence, fractions], name="multilabel")

    def _split(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(presence, fractions) of the network for float32 rows ``X``."""
        out = self._forward(X)
        k = self.classes_.size
        return out[:, :k], out[:, k:]

    # ------------------------------------------------------------------ prediction
    def _check_X(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "classes_")
        arr, axis, _ = split_xy(X)
        if axis is not None:
            check_same_axis(self.axis_, axis, what="these spectra")
        if arr.ndim != 2 or arr.shape[1] != self.n_features_in_:
            raise InputError(
                f"X has {arr.shape[-1]} points per spectrum, the model expects "
                f"{self.n_features_in_} (the axis it was trained on)"
            )
        if not np.all(np.isfinite(arr)):
            raise InputError("X holds NaN or infinite values")
        return arr.astype(np.float32)

    def _outputs(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        return self._split(self._check_X(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Presence probability of every mineral, shape (n_spectra, n_classes)."""
        return self._outputs(X)[0].astype(np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """Presence (0/1) of every mineral: probability above its validation threshold."""
        return (self.predict_proba(X) > self.thresholds_[None, :]).astype(np.int8)

    def predict_abundances(self, X: Any, *, include_other: bool = False) -> np.ndarray:
        """Volume fractions, shape (n_spectra, n_classes) (+1 column "other" if asked)."""
        fractions = self._outputs(X)[1].astype(np.float64)
        return fractions if include_other else fractions[:, :-1]

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | Path) -> Path:
        """Save into ``folder`` (created; must not hold a model): .keras + JSON + npz."""
        check_is_fitted(self, "classes_")
        folder = Path(folder)
        if (folder / "multilabel.json").exists():
            raise InputError(f"{folder} already holds a model; choose a new folder")
        folder.mkdir(parents=True, exist_ok=True)
        params = self.get_params(deep=False)
        params["axis"] = None if params["axis"] is None else np.asarray(params["axis"]).tolist()
        params["channels"] = [int(c) for c in params["channels"]]
        params["n_components"] = [int(c) for c in params["n_components"]]
        if params["efficiencies"] is not None:
            params["efficiencies"] = {str(k): float(v) for k, v in params["efficiencies"].items()}
        if params["instrument"] is not None:
            params["instrument"] = json.loads(json.dumps(dict(params["instrument"])))
        self.model_.save(folder / self._MODEL_FILE)
        np.savez(folder / "arrays.npz", axis_=self.axis_, thresholds_=self.thresholds_)
        doc = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "lithoscope_version": __version__,
            "params": params,
            "classes": [str(c) for c in self.classes_],
            "history": json.loads(json.dumps(self.history_, default=float)),
        }
        tmp = folder / "multilabel.json.tmp"
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(folder / "multilabel.json")
        return folder


def _joined_forward(model: keras.Model) -> Any:
    """`Forward` of the two-output network returning [presence | fractions] in one array."""
    return compile_forward(model, then=lambda out: keras.ops.concatenate(list(out), axis=-1))


def _targets(Y: np.ndarray, A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Presence targets and fraction targets with a zero "other" column."""
    other = np.clip(1.0 - A.sum(axis=1, keepdims=True), 0.0, 1.0)
    return Y.astype(np.float32), np.hstack([A, other]).astype(np.float32)


def _by_species(X: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    return {str(s): X[labels == s] for s in np.unique(labels)}


def load_multilabel(folder: str | Path) -> MultiLabelClassifier:
    """Load a model saved with `MultiLabelClassifier.save`, checking its files first.

    Raises
    ------
    ModelFileError
        Missing, corrupt or foreign files, a newer format, or a network whose outputs do not
        match the recorded classes.
    """
    folder = Path(folder)
    path = folder / "multilabel.json"
    if not path.is_file():
        raise ModelFileError(f"{folder}: no multilabel.json; not a saved multi-label model")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: not valid JSON ({exc}); retrain or restore it") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a lithoscope multi-label model")
    if int(doc.get("format_version", 0)) > FORMAT_VERSION:
        raise ModelFileError(f"{path}: written by a newer lithoscope; upgrade lithoscope")
    params = dict(doc.get("params", {}))
    known = set(MultiLabelClassifier._get_param_names())
    if set(params) - known:
        raise ModelFileError(f"{path}: unknown parameters {sorted(set(params) - known)}")
    params["channels"] = tuple(params.get("channels", ()))
    params["n_components"] = tuple(params.get("n_components", (2, 4)))
    model = MultiLabelClassifier(**params)
    try:
        with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        network = load_keras(folder / MultiLabelClassifier._MODEL_FILE)
    except Exception as exc:  # any failure to decode untrusted files means bad files
        raise ModelFileError(f"{folder}: model files are missing or corrupt ({exc})") from None
    classes = np.asarray(doc.get("classes", []), dtype=str)
    shapes = [tuple(o.shape) for o in network.outputs]
    if shapes != [(None, classes.size), (None, classes.size + 1)] or arrays.get(
        "thresholds_", np.zeros(0)
    ).shape != (classes.size,):
        raise ModelFileError(
            f"{folder}: the network or thresholds do not match the {classes.size} classes of "
            "multilabel.json; retrain or restore the folder"
        )
    model.classes_ = classes
    model.axis_ = arrays["axis_"].astype(np.float64)
    model.thresholds_ = arrays["thresholds_"].astype(np.float64)
    model.n_features_in_ = int(model.axis_.size)
    model.history_ = doc.get("history", {})
    model.model_ = network
    model._forward = _joined_forward(network)
    return model
