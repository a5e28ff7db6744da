"""Every Keras layer of lithoscope, registered under the names saved ``.keras`` files use.

Registration happens here, once, when this module is imported (`load_keras` imports it before
it deserialises anything); the registered names (``lithoscope>PowerScale``,
``lithoscope>CosineProxies``, ``lithoscope>KANLinear``) are part of the file format: files
saved by earlier versions name them, so they never change.

* `PowerScale`: ``max(x, 0) ** power`` at the input of the networks;
* `CosineProxies`: cosine of unit embeddings to one learned proxy per class (CosFace training);
* `KANLinear`: a Kolmogorov-Arnold layer on B-spline, RBF or Chebyshev bases (`BASES`), whose
  basis functions are here too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import ops

from lithoscope.errors import InputError

__all__ = [
    "BASES",
    "CosineProxies",
    "KANLinear",
    "PowerScale",
    "bspline_basis",
    "chebyshev_basis",
    "check_basis",
    "rbf_basis",
    "uniform_knots",
]


@keras.saving.register_keras_serializable("lithoscope")
class PowerScale(keras.layers.Layer):
    """``max(x, 0) ** power``: compresses strong bands so that weak ones count (0.5: square root).

    Parameters
    ----------
    power : float, default=0.5
        Exponent in (0, 1]; 1 keeps intensities (clipped at 0).
    """

    def __init__(self, power: float = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0 < power <= 1:
            raise InputError(f"power must be in (0, 1], got {power}")
        self.power = float(power)

    def build(self, input_shape: Any) -> None:
        self.built = True

    def call(self, inputs: Any) -> Any:
        clipped = ops.maximum(inputs, 0.0)
        if self.power == 1.0:
            return clipped
        if self.power == 0.5:
            return ops.sqrt(clipped)
        return ops.power(clipped, self.power)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "power": self.power}


@keras.saving.register_keras_serializable("lithoscope")
class CosineProxies(keras.layers.Layer):
    """Cosine similarity of unit embeddings to one learned unit proxy per class.

    Input: (batch, dim) unit vectors; output: (batch, units) cosines in [-1, 1].

    Parameters
    ----------
    units : int
        Number of classes (proxies).
    seed : int, optional
        Seed of the proxies' initialisation.
    """

    def __init__(self, units: int, *, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = int(units)
        self.seed = seed

    def build(self, input_shape: Any) -> None:
        self.proxies = self.add_weight(
            shape=(int(input_shape[-1]), self.units),
            initializer=keras.initializers.RandomNormal(seed=self.seed),
            name="proxies",
        )

    def call(self, inputs: Any) -> Any:
        w = self.proxies / ops.maximum(ops.norm(self.proxies, axis=0, keepdims=True), 1e-12)
        return ops.matmul(inputs, w)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units, "seed": self.seed}


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


def check_basis(basis: str) -> None:
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
        check_basis(basis)
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
