"""Kolmogorov-Arnold networks (KAN) in ``keras.ops``, and a KAN mineral classifier.

A KAN layer replaces each weight of a dense layer by a learned function of one input: output
``j`` is ``sum_i phi_ij(x_i)`` with ``phi_ij(x) = w_ij * silu(x) + sum_k c_ijk * B_k(x)`` on a
basis ``B`` (Liu et al. 2024, "KAN: Kolmogorov-Arnold Networks"; this is the "efficient-kan"
formulation: one matrix product over all basis values). The layer, `KANLinear`, and its bases
(`BASES`) live in `lithoscope.models.keras.layers`:

* ``'bspline'``: B-splines of order ``spline_order`` on ``grid_size`` intervals per input
  (Cox-de Boor recursion), with `KANLinear.update_grid` moving the knots to the quantiles of the
  data while refitting the coefficients so that the function is kept (least squares);
* ``'rbf'``: Gaussian radial basis functions on a fixed grid ("FastKAN", Li 2024), which
  approximate cubic B-splines at a fraction of the cost;
* ``'chebyshev'``: Chebyshev polynomials of ``tanh(x)`` up to degree ``grid_size``.

`KANClassifier` is (a) a classifier on a compact input: square-root intensities projected on
their first ``n_components`` principal components (whitened), then KAN layers. (b) For a KAN
*on the CNN embedding*, use ``CNNClassifier(head='kan')``: it trains a `KANLinear` layer on the
frozen embeddings of augmented training spectra (`fit_kan_head`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import keras
import numpy as np
import numpy.typing as npt
from keras import layers

from lithoscope.models.base import SpectralClassifier
from lithoscope.models.keras.layers import KANLinear, PowerScale, check_basis
from lithoscope.models.keras.training import (
    adamw_warmup_cosine,
    balanced_indices,
    check_positive_ints,
    compile_forward,
    fit_keras,
    grouped_validation_split,
    load_keras,
    make_augmenter,
)
from lithoscope.models.scoring import fit_temperature, softmax, top1_and_mrr
from lithoscope.physics.instrument import SpectralAugmenter

__all__ = ["KANClassifier", "build_kan", "fit_kan_head", "update_grids"]


def build_kan(
    n_in: int,
    hidden: tuple[int, ...],
    n_out: int,
    *,
    basis: str,
    grid_size: int,
    spline_order: int,
    seed: int,
    inputs: Any = None,
    features: Any = None,
    name: str = "kan",
) -> keras.Model:
    """KAN layers ``n_in -> hidden... -> n_out`` with layer normalisation between them.

    ``inputs``/``features`` let a caller put its own layers (e.g. a projection) in front.
    """
    if inputs is None:
        inputs = keras.Input((n_in,), name="features")
        features = inputs
    h = features
    for i, width in enumerate((*hidden, n_out)):
        if i > 0:
            h = layers.LayerNormalization(name=f"norm_{i}")(h)
        h = KANLinear(
            int(width),
            basis=basis,
            grid_size=grid_size,
            spline_order=spline_order,
            seed=seed + 10 * i,
            name=f"kan_{i}",
        )(h)
    return keras.Model(inputs, h, name=name)


def update_grids(model: keras.Model, x: np.ndarray) -> None:
    """`KANLinear.update_grid` of every B-spline layer of ``model``, in order, on its inputs."""
    for layer in model.layers:
        if isinstance(layer, KANLinear) and layer.basis == "bspline":
            upstream = keras.Model(model.input, layer.input)
            layer.update_grid(np.asarray(upstream(x, training=False)))


def _train_classifier(
    model: keras.Model,
    features: Callable[[np.ndarray, np.random.Generator], np.ndarray],
    y_index: np.ndarray,
    train: np.ndarray,
    evaluate: Callable[[], float] | None,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    weight_decay: float,
    patience: int | None,
    grid_updates: int,
    grid_sample: Callable[[], np.ndarray] | None,
    rng: np.random.Generator,
    verbose: int,
) -> Any:
    """Cross-entropy training with class-balanced batches; B-spline grids updated early on."""
    steps = max(1, train.size // batch_size)
    model.compile(
        optimizer=adamw_warmup_cosine(learning_rate, weight_decay, steps=steps, epochs=epochs),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    if grid_sample is not None:
        update_grids(model, grid_sample())

    def move_grids(epoch: int) -> None:
        if grid_sample is not None and 1 < epoch <= grid_updates + 1:
            update_grids(model, grid_sample())

    def batches(epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        index = train[balanced_indices(y_index[train], steps * batch_size, rng)]
        for b in range(steps):
            rows = index[b * batch_size : (b + 1) * batch_size]
            yield features(rows, rng), y_index[rows].astype(np.int32)

    return fit_keras(
        model,
        batches,
        steps=steps,
        epochs=epochs,
        evaluate=evaluate,
        patience=patience,
        on_epoch_begin=move_grids,
        verbose=verbose,
    )


def fit_kan_head(
    embed: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y_index: np.ndarray,
    train: np.ndarray,
    val: np.ndarray,
    axis: np.ndarray,
    *,
    n_classes: int,
    augmenter: SpectralAugmenter | None,
    rng: np.random.Generator,
    seed: int,
    copies: int = 8,
    epochs: int = 30,
    grid_size: int = 5,
    verbose: int = 0,
) -> keras.Model:
    """A KAN classifier (one `KANLinear` layer) on frozen embeddings of training spectra.

    The embeddings of ``copies`` augmented versions of every training spectrum (plus the clean
    ones) are computed once; the head trains on them with class-balanced cross-entropy and
    stops early on the validation spectra's top-1.

    Returns
    -------
    keras.Model
        embedding -> class logits (the embedding is scaled by ``sqrt(dim)`` inside, so that its
        components have about unit variance, as the B-spline grid expects).
    """
    Xs = [X[train]]
    for _ in range(copies if augmenter is not None else 0):
        Xs.append(augmenter(X[train], axis, rng=rng))  # type: ignore[misc]
    E = np.concatenate([embed(part) for part in Xs])
    labels = np.tile(y_index[train], len(Xs))
    dim = E.shape[1]
    inputs = keras.Input((dim,), name="embedding")
    scaled = layers.Rescaling(float(np.sqrt(dim)))(inputs)
    head = build_kan(
        dim,
        (),
        n_classes,
        basis="bspline",
        grid_size=grid_size,
        spline_order=3,
        seed=seed + 7,
        inputs=inputs,
        features=scaled,
        name="kan_head",
    )
    rows_all = np.arange(E.shape[0])
    evaluate = None
    if val.size:
        E_val = embed(X[val])
        forward = compile_forward(head)

        def evaluate() -> float:
            forward.refresh()
            return top1_and_mrr(forward(E_val), y_index[val])[0]

    _train_classifier(
        head,
        lambda rows, _rng: E[rows],
        labels,
        rows_all,
        evaluate,
        epochs=epochs,
        batch_size=256,
        learning_rate=3e-3,
        weight_decay=1e-4,
        patience=6,
        grid_updates=2,
        grid_sample=lambda: E[rng.choice(E.shape[0], min(E.shape[0], 4096), replace=False)],
        rng=rng,
        verbose=verbose,
    )
    return head


def _pca(Z: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, projection) with ``(Z - mean) @ projection`` whitened principal components."""
    mean = Z.mean(axis=0)
    _, s, vt = np.linalg.svd(Z - mean, full_matrices=False)
    k = min(n_components, vt.shape[0])
    std = s[:k] / np.sqrt(max(Z.shape[0] - 1, 1))
    return mean, (vt[:k].T / np.where(std > 0, std, 1.0))


class KANClassifier(SpectralClassifier):
    """KAN on whitened principal components of square-root intensities.

    Parameters
    ----------
    axis : array_like, optional
    n_components : int, default=64
        Principal components of sqrt intensities (fitted on the training spectra).
    hidden : tuple of int, default=(64,)
        Widths of the hidden KAN layers.
    basis : {'bspline', 'rbf', 'chebyshev'}, default='bspline'
    grid_size : int, default=5
    spline_order : int, default=3
    grid_updates : int, default=2
        Epochs at the start after which B-spline grids move to the data (plus one before).
    epochs : int, default=60
    batch_size : int, default=128
    learning_rate : float, default=3e-3
    weight_decay : float, default=1e-4
    augment : bool or dict, default=True
        As in `CNNClassifier` (augmented spectra are projected on the same components).
    validation_size : float, default=0.15
    patience : int, default=10
    random_state : int, default=0
    verbose : int, default=0

    Attributes
    ----------
    model_ : keras.Model
        spectrum -> class logits (sqrt, PCA projection as a frozen dense layer, KAN layers).
    temperature_ : float
    history_ : dict
    """

    _MODEL_FILE: ClassVar[str] = "model.keras"

    def __init__(
        self,
        *,
        axis: npt.ArrayLike | None = None,
        n_components: int = 64,
        hidden: tuple[int, ...] = (64,),
        basis: str = "bspline",
        grid_size: int = 5,
        spline_order: int = 3,
        grid_updates: int = 2,
        epochs: int = 60,
        batch_size: int = 128,
        learning_rate: float = 3e-3,
        weight_decay: float = 1e-4,
        augment: bool | dict[str, Any] = True,
        validation_size: float = 0.15,
        patience: int = 10,
        random_state: int = 0,
        verbose: int = 0,
    ) -> None:
        self.axis = axis
        self.n_components = n_components
        self.hidden = hidden
        self.basis = basis
        self.grid_size = grid_size
        self.spline_order = spline_order
        self.grid_updates = grid_updates
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.augment = augment
        self.validation_size = validation_size
        self.patience = patience
        self.random_state = random_state
        self.verbose = verbose

    def _fit(self, X: np.ndarray, y_index: np.ndarray) -> None:
        check_basis(self.basis)
        check_positive_ints(self, ("n_components", "epochs", "batch_size"))
        groups = self._checked_groups(X.shape[0])
        rng = np.random.default_rng(self.random_state)
        seed = int(rng.integers(0, 2**31 - 1))
        augmenter = make_augmenter(self.augment)
        train, val = grouped_validation_split(y_index, groups, float(self.validation_size), rng)
        n_points = X.shape[1]
        mean, projection = _pca(np.sqrt(np.clip(X[train], 0.0, None)), int(self.n_components))
        k = projection.shape[1]

        inputs = keras.Input((n_points,), name="spectrum")
        h = PowerScale(0.5, name="power")(inputs)
        pca = layers.Dense(k, trainable=False, name="pca")
        h = pca(h)
        pca.set_weights([projection.astype(np.float32), (-mean @ projection).astype(np.float32)])
        model = build_kan(
            k,
            tuple(int(v) for v in self.hidden),
            self.classes_.size,
            basis=self.basis,
            grid_size=int(self.grid_size),
            spline_order=int(self.spline_order),
            seed=seed,
            inputs=inputs,
            features=h,
            name="kan_classifier",
        )
        evaluate = None
        forward = compile_forward(model)
        if val.size:
            Xv = X[val].astype(np.float32)

            def evaluate() -> float:
                forward.refresh()
                return top1_and_mrr(forward(Xv), y_index[val])[0]

        def features(rows: np.ndarray, r: np.random.Generator) -> np.ndarray:
            xb = X[rows]
            if augmenter is not None:
                xb = augmenter(xb, self.axis_, rng=r)
            return xb.astype(np.float32)

        sample = rng.choice(train, min(train.size, 2048), replace=False)
        result = _train_classifier(
            model,
            features,
            y_index,
            train,
            evaluate,
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            learning_rate=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
            patience=self.patience,
            grid_updates=int(self.grid_updates),
            grid_sample=(
                (lambda: X[sample].astype(np.float32)) if self.basis == "bspline" else None
            ),
            rng=rng,
            verbose=self.verbose,
        )
        self.model_ = model
        forward.refresh()
        self._forward = forward
        self.temperature_ = (
            fit_temperature(forward(X[val]).astype(np.float64), y_index[val]) if val.size else 1.0
        )
        self.history_ = result.summary(train.size, val.size)

    def _scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits = self._forward(X).astype(np.float64)
        return softmax(logits, self.temperature_), logits

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"temperature": float(self.temperature_), "history": self.history_}, {}

    def _save_extra(self, folder: Path) -> None:
        self.model_.save(folder / self._MODEL_FILE)

    def _set_state(
        self, state: dict[str, Any], arrays: dict[str, np.ndarray], folder: Path
    ) -> None:
        self.temperature_ = float(state["temperature"])
        self.history_ = state.get("history", {})
        self.model_ = load_keras(folder / self._MODEL_FILE)
        self._forward = compile_forward(self.model_)
