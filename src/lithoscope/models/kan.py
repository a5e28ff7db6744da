"""Kolmogorov-Arnold networks (KAN) in ``keras.ops``, and a KAN mineral classifier.

A KAN layer replaces each weight of a dense layer by a learned function of one input: output
``j`` is ``sum_i phi_ij(x_i)`` with ``phi_ij(x) = w_ij * silu(x) + sum_k c_ijk * B_k(x)`` on a
basis ``B`` (Liu et al. 2024, "KAN: Kolmogorov-Arnold Networks"; this is the "efficient-kan"
formulation: one matrix product over all basis values). Bases (`BASES`):

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
from keras import layers, ops

from lithoscope.errors import InputError
from lithoscope.models._keras_utils import (
    PowerScale,
    balanced_indices,
    compile_forward,
    fit_temperature,
    grouped_validation_split,
    load_keras,
    softmax,
    top1_and_mrr,
    train_loop,
)
from lithoscope.models.augment import SpectralAugmenter, make_augmenter
from lithoscope.models.base import SpectralClassifier

__all__ = [
    "BASES",
    "KANClassifier",
    "KANLinear",
    "bspline_basis",
    "chebyshev_basis",
    "fit_kan_head",
    "rbf_basis",
]


# --------------------------------------------------------------------------------------------
# bases: x of shape (batch, in) -> values of shape (batch, in, n_basis)
# --------------------------------------------------------------------------------------------


def bspline_basis(x: Any, grid: Any, order: int) -> Any:
    """B-spline basis values by the Cox-de Boor recursion.

    Parameters
    ----------
    x : tensor, shape (batch, in)
    grid : tensor, shape (in, n_knots)
        Increasing knots of each input (``grid_size + 2 * order + 1`` of them).
    order : int
        Spline order (3: cubic).

    Returns
    -------
    tensor, shape (batch, in, n_knots - order - 1)
        Zero outside ``[grid[order], grid[-order - 1])``; inside, the values sum to one.
    """
    x = ops.expand_dims(x, -1)
    bases = ops.cast(
        ops.logical_and(x >= grid[:, :-1], x < grid[:, 1:]),
        x.dtype,
    )
    for p in range(1, order + 1):
        left = (x - grid[:, : -(p + 1)]) / (grid[:, p:-1] - grid[:, : -(p + 1)])
        right = (grid[:, p + 1 :] - x) / (grid[:, p + 1 :] - grid[:, 1:-p])
        bases = left * bases[..., :-1] + right * bases[..., 1:]
    return bases


def rbf_basis(x: Any, centers: Any, width: float) -> Any:
    """Gaussian bumps ``exp(-((x - c) / width)**2)`` at ``centers`` (FastKAN)."""
    return ops.exp(-ops.square((ops.expand_dims(x, -1) - centers) / width))


def chebyshev_basis(x: Any, degree: int) -> Any:
    """Chebyshev polynomials ``T_0..T_degree`` of ``tanh(x)`` (maps any input into [-1, 1])."""
    t = ops.tanh(x)
    values = [ops.ones_like(t), t]
    for _ in range(2, degree + 1):
        values.append(2.0 * t * values[-1] - values[-2])
    return ops.stack(values[: degree + 1], axis=-1)


#: basis name -> number of basis functions per input, from (grid_size, spline_order)
BASES: dict[str, Callable[[int, int], int]] = {
    "bspline": lambda grid_size, order: grid_size + order,
    "rbf": lambda grid_size, order: grid_size,
    "chebyshev": lambda grid_size, order: grid_size + 1,
}


def _check_basis(basis: str) -> None:
    if basis not in BASES:
        raise InputError(f"basis={basis!r} is not one of {', '.join(BASES)}")


def uniform_knots(lo: float, hi: float, grid_size: int, order: int) -> np.ndarray:
    """``grid_size + 2 * order + 1`` evenly spaced knots: ``[lo, hi]`` extended by ``order``."""
    h = (hi - lo) / grid_size
    return lo + h * np.arange(-order, grid_size + order + 1, dtype=np.float64)


@keras.saving.register_keras_serializable("lithoscope")
class KANLinear(keras.layers.Layer):
    """A KAN layer: ``y_j = b_j + sum_i w_ij silu(x_i) + sum_ik c_ijk B_k(x_i)``.

    Parameters
    ----------
    units : int
        Output features.
    basis : {'bspline', 'rbf', 'chebyshev'}, default='bspline'
    grid_size : int, default=5
        Intervals of the B-spline grid, RBF centres, or Chebyshev degree.
    spline_order : int, default=3
        B-spline order (ignored by the other bases).
    grid_range : (float, float), default=(-2.0, 2.0)
        Initial knot range (B-spline) or centre range (RBF).
    seed : int, optional
        Seed of the weight initialisation.

    Examples
    --------
    >>> layer = KANLinear(3, grid_size=4)
    >>> tuple(layer(np.zeros((2, 5), dtype="float32")).shape)
    (2, 3)
    """

    def __init__(
        self,
        units: int,
        *,
        basis: str = "bspline",
        grid_size: int = 5,
        spline_order: int = 3,
        grid_range: tuple[float, float] = (-2.0, 2.0),
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_basis(basis)
        if grid_size < 1 or spline_order < 0:
            raise InputError(
                f"grid_size must be >= 1 and spline_order >= 0, got {grid_size}, {spline_order}"
            )
        lo, hi = (float(v) for v in grid_range)
        if not lo < hi:
            raise InputError(f"grid_range must be (low, high) with low < high, got {grid_range}")
        self.units = int(units)
        self.basis = basis
        self.grid_size = int(grid_size)
        self.spline_order = int(spline_order)
        self.grid_range = (lo, hi)
        self.seed = seed
        self.n_basis = BASES[basis](self.grid_size, self.spline_order)

    def build(self, input_shape: Any) -> None:
        n_in = int(input_shape[-1])
        self.n_in = n_in
        if self.basis == "bspline":
            knots = uniform_knots(*self.grid_range, self.grid_size, self.spline_order)
            self.grid = self.add_weight(
                shape=(n_in, knots.size),
                initializer=keras.initializers.Constant(np.tile(knots, (n_in, 1))),
                trainable=False,
                name="grid",
            )
        seed = self.seed
        self.base_kernel = self.add_weight(
            shape=(n_in, self.units),
            initializer=keras.initializers.GlorotUniform(seed=seed),
            name="base_kernel",
        )
        self.spline_kernel = self.add_weight(
            shape=(n_in * self.n_basis, self.units),
            initializer=keras.initializers.RandomNormal(
                stddev=0.1 / np.sqrt(n_in), seed=None if seed is None else seed + 1
            ),
            name="spline_kernel",
        )
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def basis_values(self, x: Any) -> Any:
        """Basis values of the inputs, shape (batch, in, n_basis)."""
        if self.basis == "bspline":
            return bspline_basis(x, self.grid, self.spline_order)
        if self.basis == "rbf":
            lo, hi = self.grid_range
            centers = np.linspace(lo, hi, self.grid_size).astype("float32")
            width = (hi - lo) / max(self.grid_size - 1, 1)
            return rbf_basis(x, centers, width)
        return chebyshev_basis(x, self.grid_size)

    def call(self, inputs: Any) -> Any:
        base = ops.matmul(ops.silu(inputs), self.base_kernel)
        values = ops.reshape(self.basis_values(inputs), (-1, self.n_in * self.n_basis))
        return base + ops.matmul(values, self.spline_kernel) + self.bias

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (*input_shape[:-1], self.units)

    def update_grid(self, x: Any, *, margin: float = 0.01, grid_eps: float = 0.02) -> None:
        """Move the B-spline knots to the distribution of ``x`` and keep each function.

        The new knots mix the quantiles of ``x`` (weight ``1 - grid_eps``) with an even grid over
        its range; the spline coefficients are refitted by (ridge-stabilised) least squares so
        that the layer's output on ``x`` changes as little as possible.

        Parameters
        ----------
        x : array_like, shape (batch, in)
            Typical inputs of this layer (batch > grid_size).
        """
        if self.basis != "bspline":
            raise InputError(f"update_grid applies to basis='bspline', not {self.basis!r}")
        x = ops.convert_to_tensor(np.asarray(x, dtype="float32"))
        batch = int(x.shape[0])
        k, g = self.spline_order, self.grid_size
        coef = ops.reshape(self.spline_kernel, (self.n_in, self.n_basis, self.units))
        old = ops.einsum("bin,inu->ibu", bspline_basis(x, self.grid, k), coef)  # (in, batch, units)
        xs = ops.sort(x, axis=0)
        picks = np.linspace(0, batch - 1, g + 1).round().astype("int32")
        adaptive = ops.take(xs, picks, axis=0)  # (g + 1, in)
        step = (xs[-1] - xs[0] + 2 * margin) / g
        uniform = ops.arange(g + 1, dtype="float32")[:, None] * step + xs[0] - margin
        core = grid_eps * uniform + (1 - grid_eps) * adaptive
        lower = core[:1] - step * ops.arange(k, 0, -1, dtype="float32")[:, None]
        upper = core[-1:] + step * ops.arange(1, k + 1, dtype="float32")[:, None]
        grid = ops.transpose(ops.concatenate([lower, core, upper], axis=0))  # (in, knots)
        A = ops.transpose(bspline_basis(x, grid, k), (1, 0, 2))  # (in, batch, n_basis)
        At = ops.transpose(A, (0, 2, 1))
        ridge = 1e-4 * ops.eye(self.n_basis)
        new = ops.solve(ops.matmul(At, A) + ridge, ops.matmul(At, old))  # (in, n_basis, units)
        self.grid.assign(grid)
        self.spline_kernel.assign(ops.reshape(new, (self.n_in * self.n_basis, self.units)))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "basis": self.basis,
            "grid_size": self.grid_size,
            "spline_order": self.spline_order,
            "grid_range": list(self.grid_range),
            "seed": self.seed,
        }


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
    total = steps * epochs
    warmup = min(total // 5, 2 * steps)
    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate * 0.1,
        max(1, total - warmup),
        warmup_target=learning_rate,
        warmup_steps=warmup,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=weight_decay),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    if grid_sample is not None:
        update_grids(model, grid_sample())

    def batches(epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if grid_sample is not None and 1 < epoch <= grid_updates + 1:
            update_grids(model, grid_sample())
        index = train[balanced_indices(y_index[train], steps * batch_size, rng)]
        for b in range(steps):
            rows = index[b * batch_size : (b + 1) * batch_size]
            yield features(rows, rng), y_index[rows].astype(np.int32)

    return train_loop(
        model,
        batches,
        epochs=epochs,
        evaluate=evaluate,
        patience=patience,
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

    def _augmenter(self) -> SpectralAugmenter | None:
        return make_augmenter(self.augment)

    def _fit(self, X: np.ndarray, y_index: np.ndarray) -> None:
        _check_basis(self.basis)
        for name in ("n_components", "epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        groups = getattr(self, "_groups", None)
        if groups is not None and groups.shape != (X.shape[0],):
            raise InputError(f"groups has {groups.size} entries but X has {X.shape[0]} spectra")
        rng = np.random.default_rng(self.random_state)
        seed = int(rng.integers(0, 2**31 - 1))
        augmenter = self._augmenter()
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
        self.history_ = {
            "epochs": result.epochs,
            "best_epoch": result.best_epoch or result.epochs,
            "best_validation_top1": None if evaluate is None else result.best_score,
            "seconds": round(result.seconds, 1),
            "n_train": int(train.size),
            "n_validation": int(val.size),
        }

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
