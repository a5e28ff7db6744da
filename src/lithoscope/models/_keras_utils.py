"""What the Keras models share: input scaling layer, fast forward pass, splits, batches, training.

Kept apart from the estimators so that `cnn` and `kan` train, validate and predict the same way.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
from keras import ops

from lithoscope.errors import InputError

__all__ = [
    "Forward",
    "PowerScale",
    "class_max",
    "compile_forward",
    "fit_temperature",
    "grouped_validation_split",
    "load_keras",
    "softmax",
    "train_loop",
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


class Forward:
    """Run a Keras model in inference mode on NumPy input, fast for single spectra.

    On JAX the forward pass is ``jax.jit`` of ``model.stateless_call`` (about 0.4 ms per
    spectrum against 1.3 ms for ``model.predict``), compiled once per input shape; batches are
    padded to a power of two (at most ``batch_size``) so that few shapes are ever compiled. The
    weights are read when the object is made; call `refresh` after changing them. Other backends
    call the model directly.

    ``then(output, *extras, *constants)``, written with ``keras.ops``, post-processes the
    model's output inside the same compiled function (e.g. matching against references):
    ``extras`` are arrays with one row per input row, passed at call time; ``constants`` are
    fixed arrays given here. Keeping everything in one XLA call matters on few cores: NumPy's
    BLAS threads and XLA's thread pool slow each other down when interleaved.
    """

    def __init__(
        self,
        model: keras.Model,
        batch_size: int = 512,
        *,
        then: Callable[..., Any] | None = None,
        constants: Sequence[np.ndarray] = (),
    ) -> None:
        self.model = model
        self.batch_size = int(batch_size)
        self.then = then
        self.constants = tuple(constants)
        if keras.backend.backend() == "jax":
            import jax
            import jax.numpy as jnp

            def run(trainable: Any, frozen: Any, consts: Any, x: Any, *extras: Any) -> Any:
                out, _ = model.stateless_call(trainable, frozen, x, training=False)
                return out if then is None else then(out, *extras, *consts)

            self._run = jax.jit(run)
            self._consts = tuple(jnp.asarray(c) for c in self.constants)
        else:  # pragma: no cover - exercised only on other backends
            self._run = None
        self.refresh()

    def refresh(self) -> None:
        """Take (a copy of) the model's current weights.

        A copy, because Keras' own jitted functions may donate, and so invalidate, the buffers
        of the variables.
        """
        if self._run is None:  # pragma: no cover
            return
        import jax.numpy as jnp

        self._trainable = [jnp.array(v.value, copy=True) for v in self.model.trainable_variables]
        self._frozen = [jnp.array(v.value, copy=True) for v in self.model.non_trainable_variables]

    def _call(self, x: np.ndarray, extras: tuple[np.ndarray, ...]) -> np.ndarray:
        if self._run is None:  # pragma: no cover
            out = self.model(x, training=False)
            if self.then is not None:
                out = self.then(out, *extras, *self.constants)
            return keras.ops.convert_to_numpy(out)
        return np.asarray(self._run(self._trainable, self._frozen, self._consts, x, *extras))

    def __call__(self, X: Any, *extras: Any) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        extra = tuple(np.asarray(e, dtype=np.float32) for e in extras)
        n = X.shape[0]
        if n == 1:
            return self._call(X, extra)
        parts = []
        for start in range(0, n, self.batch_size):
            chunk = (X, *extra)
            chunk = tuple(a[start : start + self.batch_size] for a in chunk)
            m = chunk[0].shape[0]
            size = min(self.batch_size, 1 << max(0, int(np.ceil(np.log2(m)))))
            if m < size:
                chunk = tuple(
                    np.concatenate([a, np.zeros((size - m, *a.shape[1:]), dtype=a.dtype)])
                    for a in chunk
                )
            parts.append(self._call(chunk[0], chunk[1:])[:m])
        return np.concatenate(parts) if parts else np.zeros((0,), np.float32)


def compile_forward(
    model: keras.Model,
    batch_size: int = 512,
    *,
    then: Callable[..., Any] | None = None,
    constants: Sequence[np.ndarray] = (),
) -> Forward:
    """`Forward` of ``model``: a function NumPy -> NumPy for inference."""
    return Forward(model, batch_size, then=then, constants=constants)


def load_keras(path: Any) -> keras.Model:
    """Load a ``.keras`` file in safe mode (no arbitrary code; lithoscope's layers registered)."""
    # importing the modules registers their layers with Keras
    from lithoscope.models import cnn, kan  # noqa: F401

    return keras.saving.load_model(path, safe_mode=True, compile=False)


def grouped_validation_split(
    y_index: np.ndarray,
    groups: np.ndarray | None,
    size: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices with no group on both sides, as `grouped_split` does.

    Groups are drawn at random into validation until ``size`` of the spectra are there; a
    validation spectrum whose class has no spectrum left in train goes back to train (so every
    class is trained on, and validation measures "new sample of a known mineral"). Without
    ``groups`` every spectrum is its own group (optimistic when samples repeat).
    """
    n = y_index.size
    if size == 0:
        return np.arange(n), np.arange(0)
    if not 0 < size < 1:
        raise InputError(f"validation_size must be 0 or between 0 and 1, got {size}")
    g = (
        np.arange(n)
        if groups is None
        else np.unique(np.asarray(groups).astype(str), return_inverse=True)[1]
    )
    order = rng.permutation(np.unique(g))
    sizes = np.bincount(g)
    cumulative = np.cumsum(sizes[order])
    n_groups = int(np.searchsorted(cumulative, size * n) + 1)
    in_val = np.isin(g, order[:n_groups])
    train_classes = np.unique(y_index[~in_val])
    in_val &= np.isin(y_index, train_classes)
    return np.flatnonzero(~in_val), np.flatnonzero(in_val)


def balanced_indices(y_index: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices drawn class-first: each class equally likely, then one of its spectra."""
    order = np.argsort(y_index, kind="stable")
    counts = np.bincount(y_index)
    present = np.flatnonzero(counts)
    starts = np.concatenate([[0], np.cumsum(counts)])[:-1]
    classes = present[rng.integers(0, present.size, n)]
    offset = (rng.random(n) * counts[classes]).astype(np.intp)
    return order[starts[classes] + offset]


def class_max(similarity: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Best similarity per class; columns sorted by class, ``starts`` the first column of each."""
    return np.maximum.reduceat(similarity, starts, axis=1)


def class_starts(labels: np.ndarray) -> np.ndarray:
    """First position of each class in sorted ``labels`` (every class present)."""
    return np.concatenate([[0], np.flatnonzero(np.diff(labels)) + 1])


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise ``softmax(scores / temperature)``."""
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _log_loss(scores: np.ndarray, y_index: np.ndarray, temperature: float) -> float:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(y_index.size), y_index]))


def fit_temperature(scores: np.ndarray, y_index: np.ndarray) -> float:
    """Temperature minimising the log loss of ``softmax(scores / T)`` (log grid, then refined)."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        return _log_loss(scores, y_index, float(np.exp(log_t)))

    grid = np.linspace(np.log(1e-4), np.log(1e2), 61)
    best = grid[int(np.argmin([nll(t) for t in grid]))]
    step = grid[1] - grid[0]
    res = minimize_scalar(nll, bounds=(best - step, best + step), method="bounded")
    return float(np.exp(res.x))


def top1_and_mrr(scores: np.ndarray, y_index: np.ndarray) -> tuple[float, float]:
    """Top-1 accuracy and mean reciprocal rank of the true class."""
    true = scores[np.arange(y_index.size), y_index][:, None]
    rank = 1 + np.sum(scores > true, axis=1)
    return float(np.mean(rank == 1)), float(np.mean(1.0 / rank))


def prefetch(batches: Iterator[Any], depth: int = 4) -> Iterator[Any]:
    """Produce ``batches`` in a background thread (NumPy augmentation overlaps training)."""
    q: queue.Queue[Any] = queue.Queue(depth)
    done = object()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            for item in batches:
                q.put(item)
        except BaseException as exc:  # re-raised in the consumer
            failure.append(exc)
        finally:
            q.put(done)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    while (item := q.get()) is not done:
        yield item
    thread.join()
    if failure:
        raise failure[0]


def _first(loss: Any) -> float:
    """The total loss (``train_on_batch`` returns a list with several outputs)."""
    return float(loss[0] if isinstance(loss, list | tuple) else loss)


@dataclass
class TrainResult:
    """What `train_loop` did: epochs run, the best epoch and score, per-epoch history."""

    epochs: int = 0
    best_epoch: int = 0
    best_score: float = -np.inf
    seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


def train_loop(
    model: keras.Model,
    batches: Callable[[int], Iterator[tuple[np.ndarray, np.ndarray]]],
    *,
    epochs: int,
    evaluate: Callable[[], float] | None,
    eval_every: int = 1,
    eval_from: int = 1,
    patience: int | None = None,
    verbose: int = 0,
    watch: Sequence[keras.Variable] | None = None,
) -> TrainResult:
    """Train ``model`` (compiled) with ``batches(epoch)``; keep the weights of the best evaluation.

    ``evaluate()`` returns a score to maximise (e.g. validation top-1); it runs every
    ``eval_every`` epochs from epoch ``eval_from`` on and after the last, and training stops once
    ``patience`` epochs passed without improvement. Without ``evaluate`` the final weights are
    kept.
    """
    result = TrainResult()
    watched = list(model.weights if watch is None else watch)
    best_weights: list[np.ndarray] | None = None
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        losses = [_first(model.train_on_batch(xb, yb)) for xb, yb in prefetch(batches(epoch))]
        entry = {"epoch": float(epoch), "loss": float(np.mean(losses)) if losses else np.nan}
        result.epochs = epoch
        if not np.isfinite(entry["loss"]):
            raise FloatingPointError(
                f"training diverged at epoch {epoch} (loss {entry['loss']}); lower learning_rate"
            )
        due = epoch >= eval_from and (epoch - eval_from) % eval_every == 0
        if evaluate is not None and (due or epoch == epochs):
            score = float(evaluate())
            entry["score"] = score
            if score > result.best_score:
                result.best_score, result.best_epoch = score, epoch
                best_weights = [np.array(v.value) for v in watched]
            elif patience is not None and epoch - result.best_epoch >= patience:
                result.history.append(entry)
                break
        result.history.append(entry)
        if verbose:
            print(
                f"epoch {epoch}: loss {entry['loss']:.4f}"
                + (f", validation {entry['score']:.4f}" if "score" in entry else ""),
                flush=True,
            )
    if best_weights is not None:
        for v, w in zip(watched, best_weights, strict=True):
            v.assign(w)
    result.seconds = time.perf_counter() - start
    return result
