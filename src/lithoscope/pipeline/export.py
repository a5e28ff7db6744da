"""Export a model for instrument computers: an ONNX graph that onnxruntime runs without Keras,
JAX or scikit-learn.

``export_onnx(bundle, method, out_dir)`` writes one folder (after the bundle's own layout)::

    model.onnx          preprocessed spectrum on the grid -> class probabilities and scores
    preprocess.json     the preprocessing that stays outside the graph, step by step
    classes.json        class names in the order of the graph's output columns
    README.txt          what the instrument computer runs, in order
    manifest.json       written last: format, versions, input/output, sha256 of every file

What is in the graph depends on the model kind (`EXPORTABLE`):

* library search (`LibrarySearch`): the intensity power, the first derivative (``np.gradient``
  as slices), the Pearson centring and unit scaling of each part and their blend, the
  similarity to every stored reference, the best reference per class and the softmax with the
  fitted temperature; all in float64, with the features rounded to float32 (as the stored
  references) before their float64 product, as in the native model.
* the CNN (`CNNClassifier`): its encoder network, converted layer by layer from the trained
  Keras model by `keras_to_onnx` (a registry, `KERAS_LAYERS`, from layer class name to the
  ONNX nodes it emits: `PowerScale`, Conv1D, batch normalisation, max pooling, flatten, dense,
  unit normalisation, rescaling, concatenation of towers ..., in float32 as Keras computes
  them), then its scoring as the native model does it: the cosine of the unit embedding to
  every stored reference embedding (best per class) blended with the cosine to the class
  prototypes; for a hybrid model also the library part (square-root intensities pooled over a
  few points, their first difference, Pearson-normalised, rounded to float32) and the blend
  ``w * embedding + (1 - w) * library``; the products in float64 of float32 values, then the
  softmax with the fitted temperature. With ``head='kan'`` the `KANLinear` head (its B-spline,
  RBF or Chebyshev basis as elementwise nodes) gives the logits instead.
* the ensemble (`EnsembleClassifier`): each member's graph (library and CNN), and the
  weighted sums of their probabilities and scores.

No TensorFlow, PyTorch or converter package is involved: the graphs are written with
``onnx.helper`` from the fitted estimators' arrays and weights. A layer (or activation) without
converter stops the export with a one-line `InputError` naming it.

Agreement with the native model: the library graph is float64 throughout (probabilities agree
to about 1e-13). The native CNN computes in float32 (its network, and its matching inside the
same XLA call), onnxruntime runs the network in float32 too but sums in other orders, and the
graph matches in float64: the class scores differ by the native float32 roundings (about 1e-6
at most with a full-size model's 4,000 references) and a probability by at most that over
twice the softmax temperature (``|dp| <= max |d score| / (2 T)``), a few 1e-6 at the
temperatures full-size models fit (about 0.05).

What stays outside: the preprocessing pipeline (resampling onto the grid, despiking, the
iterative baseline fit, smoothing, normalisation). It is not a fixed sequence of tensor
operations (baselines iterate to convergence, spikes are found by a data-dependent search), so
the instrument computer runs `lithoscope.spectra.preprocessing` (NumPy/SciPy/pybaselines only)
or the steps ``preprocess.json`` lists, and feeds the graph their output.

`run_onnx` checks the manifest's checksums, then runs the graph with onnxruntime.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lithoscope import __version__
from lithoscope._files import read_json, sha256_file, write_json
from lithoscope.errors import InputError

__all__ = [
    "EXPORTABLE",
    "EXPORT_FORMAT",
    "EXPORT_FORMATS",
    "KERAS_LAYERS",
    "export_onnx",
    "keras_to_onnx",
    "run_onnx",
    "verify_export",
]

EXPORT_FORMAT = "lithoscope-onnx"
EXPORT_SCHEMA_VERSION = 1
#: opset 17 keeps ``axes`` an attribute of the reductions; onnxruntime >= 1.14 runs it
OPSET = 17
#: IR version 9: readable by onnxruntime >= 1.15 (newer IR versions need newer runtimes)
IR_VERSION = 9
MANIFEST = "manifest.json"
INPUT = "spectra"
OUTPUTS = ("probabilities", "scores")

#: the reference function in `lithoscope.spectra.preprocessing` of each step class, and a NumPy
#: recipe where one line is the whole story
_STEP_RECIPES: dict[str, tuple[str, str]] = {
    "ToGrid": ("to_grid", "np.interp(grid, x, y) after sorting x (outside the data: 0)"),
    "Crop": ("crop", "keep the points with lower <= x <= upper"),
    "Despike": ("despike", "cosmic-ray spikes: modified z-score of first differences"),
    "BaselineRemoval": ("remove_baseline", "iterative baseline fit (pybaselines); y - baseline"),
    "SavitzkyGolay": ("savgol", "scipy.signal.savgol_filter(y, window, order)"),
    "Normalize": ("normalize", "y / max(y) (kind='max'), or the kind named"),
    "ContinuumRemoval": ("remove_continuum", "y / upper convex hull of (x, y)"),
    "Clip": ("clip", "np.clip(y, lower, upper)"),
}


# ---------------------------------------------------------------------------------- graph
#: ``onnx.TensorProto.FLOAT`` and ``DOUBLE`` (onnx is imported only when exporting)
_FLOAT, _DOUBLE = 1, 11
_END = np.iinfo(np.int64).max


class _Graph:
    """The nodes and initializers of one ONNX graph being built; `scope` prefixes names.

    Builders pass on only names that `node` and `const` returned, so that scoped builders (the
    members of an ensemble, the layers of nested Keras models) never collide.
    """

    def __init__(
        self, prefix: str = "", nodes: list[Any] | None = None, inits: dict[str, Any] | None = None
    ) -> None:
        self.prefix = prefix
        self.nodes: list[Any] = [] if nodes is None else nodes
        self.inits: dict[str, Any] = {} if inits is None else inits

    def scope(self, prefix: str) -> _Graph:
        return _Graph(f"{self.prefix}{prefix}/", self.nodes, self.inits)

    def const(self, key: str, value: npt.ArrayLike, dtype: Any = np.float64) -> str:
        from onnx import numpy_helper

        name = self.prefix + key
        if name not in self.inits:
            self.inits[name] = numpy_helper.from_array(np.asarray(value, dtype=dtype), name)
        return name

    def ints(self, key: str, values: npt.ArrayLike) -> str:
        return self.const(key, values, np.int64)

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        from onnx import helper

        name = self.prefix + output
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def cast(self, x: str, output: str, to: int) -> str:
        return self.node("Cast", [x], output, to=to)

    def slice(self, x: str, start: int, end: int, output: str, axis: int = 1) -> str:
        keys = [self.ints(f"{output}_{k}", [v]) for k, v in (("s", start), ("e", end), ("a", axis))]
        return self.node("Slice", [x, *keys], output)

    def model(self, outputs: dict[str, str], n_points: int, n_classes: int, doc: str) -> Any:
        """The ModelProto: input ``spectra`` (float64 (n, n_points)), ``outputs`` (float64)."""
        from onnx import helper

        nodes = list(self.nodes)
        for public, name in outputs.items():
            nodes.append(helper.make_node("Identity", [name], [public], name=public))
        graph = helper.make_graph(
            nodes,
            "lithoscope",
            [helper.make_tensor_value_info(INPUT, _DOUBLE, ["n", n_points])],
            [helper.make_tensor_value_info(o, _DOUBLE, ["n", n_classes]) for o in outputs],
            initializer=list(self.inits.values()),
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="lithoscope",
            producer_version=__version__,
            doc_string=doc,
        )
        model.ir_version = IR_VERSION
        return model


# ---------------------------------------------------------------------------------- scoring
def _unit_part(g: _Graph, p: str, tag: str, weight: float, metric: str) -> str:
    """``sqrt(weight) * p / |p|`` (after centring, for Pearson); a flat row gives zeros."""
    if metric == "pearson":
        mean = g.node("ReduceMean", [p], f"{tag}_mean", axes=[1], keepdims=1)
        p = g.node("Sub", [p, mean], f"{tag}_centred")
    ss = g.node("ReduceSumSquare", [p], f"{tag}_ss", axes=[1], keepdims=1)
    norm = g.node("Sqrt", [ss], f"{tag}_norm")
    positive = g.node("Greater", [norm, g.const("zero", 0.0)], f"{tag}_positive")
    safe = g.node("Where", [positive, norm, g.const("one", 1.0)], f"{tag}_safe")
    scaled = g.node("Div", [p, safe], f"{tag}_unit")
    return g.node("Mul", [scaled, g.const(f"{tag}_weight", np.sqrt(weight))], f"{tag}_part")


def _rounded_features(g: _Graph, parts: list[str], tag: str) -> str:
    """The parts side by side, rounded to float32 (as stored references are), as float64."""
    feats = parts[0] if len(parts) == 1 else g.node("Concat", parts, f"{tag}64", axis=1)
    return g.cast(g.cast(feats, f"{tag}32", _FLOAT), tag, _DOUBLE)


def _similarity(g: _Graph, feats: str, refs: np.ndarray, tag: str) -> str:
    """``feats @ refs.T`` in float64 of the float32 ``refs`` (onnxruntime folds the Cast once)."""
    stored = g.const(f"{tag}_refs_t", np.asarray(refs, dtype=np.float32).T, np.float32)
    return g.node("MatMul", [feats, g.cast(stored, f"{tag}_refs64", _DOUBLE)], f"{tag}_similarity")


def _class_max(g: _Graph, sim: str, labels: np.ndarray, n_classes: int, tag: str) -> str:
    """Best column of each class (``labels`` sorted: `class_max` of `lithoscope.models.scoring`).

    Classes of similar size share one padded Gather + ReduceMax (a class shorter than its bucket
    repeats its first column, which leaves the max).
    """
    from lithoscope.models.scoring import class_starts

    labels = np.asarray(labels, dtype=np.int64)
    if labels.size == 0 or np.any(np.diff(labels) < 0):
        raise InputError(f"{tag}: references must be sorted by class; retrain the model")
    missing = np.setdiff1d(np.arange(n_classes), labels)
    if missing.size:
        raise InputError(
            f"{tag}: {missing.size} class(es) have no reference (first: column {missing[0]}); "
            "retrain the model"
        )
    starts = class_starts(labels)
    counts = np.diff(np.r_[starts, labels.size])
    bucket = np.ceil(np.log2(counts)).astype(int)
    pieces, order = [], []
    for b in np.unique(bucket):
        members = np.flatnonzero(bucket == b)
        width = int(counts[members].max())
        idx = np.array(
            [
                [s + min(j, c - 1) for j in range(width)]
                for s, c in zip(starts[members], counts[members], strict=True)
            ],
            dtype=np.int64,
        )
        idx_name = g.ints(f"{tag}_bucket{b}_idx", idx)
        gathered = g.node("Gather", [sim, idx_name], f"{tag}_bucket{b}", axis=1)
        pieces.append(g.node("ReduceMax", [gathered], f"{tag}_bucket{b}_max", axes=[2], keepdims=0))
        order.extend(members.tolist())
    scores = pieces[0] if len(pieces) == 1 else g.node("Concat", pieces, f"{tag}_bucketed", axis=1)
    if order != list(range(n_classes)):
        inverse = np.argsort(np.asarray(order)).tolist()
        scores = g.node(
            "Gather", [scores, g.ints(f"{tag}_class_order", inverse)], f"{tag}_classes", axis=1
        )
    return scores


def _softmax(g: _Graph, scores: str, temperature: float) -> str:
    logits = g.node("Div", [scores, g.const("temperature", float(temperature))], "logits")
    return g.node("Softmax", [logits], "softmax", axis=1)


def _blend(g: _Graph, a: str, b: str, w: float, tag: str) -> str:
    """``w * a + (1 - w) * b``."""
    wa = g.node("Mul", [a, g.const(f"{tag}_w", w)], f"{tag}_a")
    wb = g.node("Mul", [b, g.const(f"{tag}_1mw", 1.0 - w)], f"{tag}_b")
    return g.node("Add", [wa, wb], tag)


# ---------------------------------------------------------------------------------- library
def _library_graph(estimator: Any, g: _Graph, spectra: str) -> tuple[str, str]:
    """Probabilities and scores of a fitted `LibrarySearch` (see the module docstring)."""
    params = type(estimator).feature_params(estimator)
    metric, power = params["metric"], float(params["power"])
    weight = float(params["derivative_weight"])
    if int(np.asarray(estimator.axis_).size) < 2:
        raise InputError("library model: a grid of one point cannot be exported")
    # sign(x) * |x| ** power, as `power_transform` (signed)
    a = spectra
    if power != 1:
        mag = g.node("Pow", [g.node("Abs", [a], "abs"), g.const("power", power)], "abs_pow")
        a = g.node("Mul", [g.node("Sign", [a], "sign"), mag], "powered")
    parts = []
    if 1.0 - weight > 0:
        parts.append(_unit_part(g, a, "intensity", 1.0 - weight, metric))
    if weight > 0:
        # np.gradient with unit spacing: central differences inside, one-sided at the ends
        inner = g.node("Sub", [g.slice(a, 2, _END, "d_hi"), g.slice(a, 0, -2, "d_lo")], "d_in2")
        inner = g.node("Mul", [inner, g.const("half", 0.5)], "d_inner")
        first = g.node("Sub", [g.slice(a, 1, 2, "d_1"), g.slice(a, 0, 1, "d_0")], "d_first")
        last = g.node("Sub", [g.slice(a, -1, _END, "d_n1"), g.slice(a, -2, -1, "d_n2")], "d_last")
        deriv = g.node("Concat", [first, inner, last], "derivative", axis=1)
        parts.append(_unit_part(g, deriv, "derivative", weight, metric))
    # as the native model: features rounded to float32, their product taken in float64
    feats = _rounded_features(g, parts, "features")
    sim = _similarity(g, feats, estimator.references_, "library")
    scores = _class_max(
        g, sim, estimator.reference_labels_, int(estimator.classes_.size), "library"
    )
    return _softmax(g, scores, estimator.temperature_), scores


def _library_inside(estimator: Any) -> list[str]:
    params = type(estimator).feature_params(estimator)
    return [
        f"power: sign(y) * |y| ** {params['power']}",
        f"derivative: np.gradient, weight {params['derivative_weight']}",
        f"{params['metric']} normalisation of each part (centre, unit length), blended",
        f"similarity to {estimator.references_.shape[0]} references (float64 product of "
        "float32 features and references)",
        "best reference per class",
        f"softmax(scores / {float(estimator.temperature_)!r})",
    ]


# ---------------------------------------------------------------------------------- keras
def _weight(variable: Any) -> np.ndarray:
    return np.array(variable.value, dtype=np.float32)


def _channels_last(layer: Any) -> None:
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise InputError(
            f"layer {layer.name!r}: data_format={layer.data_format!r}; the ONNX export converts "
            "channels_last layers only"
        )


def _to_channels_first(g: _Graph, x: str, op: Callable[[str], str]) -> str:
    """``op`` on (batch, channels, length) of a Keras (batch, length, channels) tensor."""
    ncl = g.node("Transpose", [x], "ncl", perm=[0, 2, 1])
    return g.node("Transpose", [op(ncl)], "nlc", perm=[0, 2, 1])


def _silu(g: _Graph, x: str) -> str:
    return g.node("Mul", [x, g.node("Sigmoid", [x], "sigmoid")], "silu")


#: Keras activation name -> ONNX nodes (``swish`` is ``silu`` in Keras 3)
_ACTIVATIONS: dict[str, Callable[[_Graph, str], str]] = {
    "linear": lambda g, x: x,
    "relu": lambda g, x: g.node("Relu", [x], "relu"),
    "sigmoid": lambda g, x: g.node("Sigmoid", [x], "sigmoid"),
    "tanh": lambda g, x: g.node("Tanh", [x], "tanh"),
    "softmax": lambda g, x: g.node("Softmax", [x], "softmax", axis=-1),
    "silu": _silu,
    "elu": lambda g, x: g.node("Elu", [x], "elu", alpha=1.0),
    "softplus": lambda g, x: g.node("Softplus", [x], "softplus"),
}


def _activation(layer: Any, g: _Graph, x: str) -> str:
    fn = layer.activation
    name = getattr(fn, "__name__", repr(fn))
    if name not in _ACTIVATIONS:
        raise InputError(
            f"layer {layer.name!r}: activation {name!r} is not one the ONNX export converts "
            f"({', '.join(_ACTIVATIONS)})"
        )
    return _ACTIVATIONS[name](g, x)


def _conv1d(layer: Any, g: _Graph, ins: list[str], shapes: list[Any]) -> str:
    _channels_last(layer)
    (k,), (s,), (d,) = layer.kernel_size, layer.strides, layer.dilation_rate
    weights = [g.const("W", _weight(layer.kernel).transpose(2, 1, 0), np.float32)]
    if layer.use_bias:
        weights.append(g.const("B", _weight(layer.bias), np.float32))
    pads: dict[str, Any] = {
        "valid": {"pads": [0, 0]},
        "same": {"auto_pad": "SAME_UPPER"},
        "causal": {"pads": [(k - 1) * d, 0]},
    }[layer.padding]

    def conv(x: str) -> str:
        attrs = {"kernel_shape": [k], "strides": [s], "dilations": [d], "group": layer.groups}
        return g.node("Conv", [x, *weights], "conv", **attrs, **pads)

    return _activation(layer, g, _to_channels_first(g, ins[0], conv))


def _max_pooling1d(layer: Any, g: _Graph, ins: list[str], shapes: list[Any]) -> str:
    _channels_last(layer)
    (p,), (s,) = layer.pool_size, layer.strides
    pads = {"auto_pad": "SAME_UPPER"} if layer.padding == "same" else {"pads": [0, 0]}

    def pool(x: str) -> str:
        return g.node("MaxPool", [x], "maxpool", kernel_shape=[p], strides=[s], **pads)

    return _to_channels_first(g, ins[0], pool)


def _batch_normalization(layer: Any, g: _Graph, ins: list[str], shapes: list[Any]) -> str:
    # as Keras: x * inv + (beta - mean * inv), inv = gamma / sqrt(variance + epsilon)
    rank = len(shapes[0])
    shape = [1] * rank
    axis = int(layer.axis) % rank
    shape[axis] = -1
    inv = (1.0 / np.sqrt(_weight(layer.moving_variance) + np.float32(layer.epsilon))).astype(
        np.float32
    )
    if layer.scale:
        inv = inv * _weight(layer.gamma)
    res = -_weight(layer.moving_mean) * inv
    if layer.center:
        res = res + _weight(layer.beta)
    scaled = g.node("Mul", [ins[0], g.const("inv", inv.reshape(shape), np.float32)], "scaled")
    return g.node("Add", [scaled, g.const("res", res.reshape(shape), np.float32)], "bn")


def _dense(layer: Any, g: _Graph, ins: list[str], shapes: list[Any]) -> str:
    y = g.node("MatMul", [ins[0], g.const("kernel", _weight(layer.kernel), np.float32)], "matmul")
    if layer.use_bias:
        y = g.node("Add", [y, g.const("bias", _weight(layer.bias), np.float32)], "dense")
    return _activation(layer, g, y)


def _reshape(layer: Any, g: _Graph, ins: list[str], shapes: list[Any]) -> str:
    target = g.ints("shape", [0, *(int(v) for v in layer.target_shape)])
    return g.node("Reshape", [ins[0], target], "reshape")


def _flatten(layer: Any, g: _Graph, ins: list[str], shapes: list[Any]) -> str:
    _channels_last(layer)
    return g.node("Reshape", [ins[0], g.ints("shape", [0, -1])], "flatten")


def _unit_normalization(layer: Any, g: _Graph, ins: list[str], shapes: list[Any]) -> str:
    # as keras.ops.normalize: x * min(1 / sqrt(sum x**2), 1 / epsilon), epsilon 1e-12
    axes = [int(a) for a in np.atleast_1d(layer.axis)]
    ss = g.node("ReduceSumSquare", [ins[0]], "ss", axes=axes, keepdims=1)
    inv = g.node("Reciprocal", [g.node("Sqrt", [ss], "norm")], "inv_norm")
    inv = g.node("Min", [inv, g.const("cap", 1e12, np.float32)], "inv_capped")
    return g.node("Mul", [ins[0], inv], "unit")


def _rescaling(layer: Any, g: _Graph, ins: list[str], shapes: list[Any]) -> str:
    y = g.node("Mul", [ins[0], g.const("scale", layer.scale, np.float32)], "scaled")
    if np.any(np.asarray(layer.offset) != 0):
        y = g.node("Add", [y, g.const("offset", layer.offset, np.float32)], "rescaled")
    return y


def _concatenate(layer: Any, g: _Graph, ins: list[str], shapes: list[Any]) -> str:
    return g.node("Concat", ins, "concat", axis=int(layer.axis))


def _power_scale(layer: Any, g: _Graph, ins: list[str], shapes: list[Any]) -> str:
    clipped = g.node("Relu", [ins[0]], "clipped")
    if layer.power == 1.0:
        return clipped
    if layer.power == 0.5:
        return g.node("Sqrt", [clipped], "sqrt")
    return g.node("Pow", [clipped, g.const("power", layer.power, np.float32)], "pow")


def _cosine_proxies(layer: Any, g: _Graph, ins: list[str], shapes: list[Any]) -> str:
    w = _weight(layer.proxies)
    w = w / np.maximum(np.linalg.norm(w, axis=0, keepdims=True), np.float32(1e-12))
    return g.node("MatMul", [ins[0], g.const("proxies", w, np.float32)], "cosine")


def _kan_basis(layer: Any, g: _Graph, x: str) -> str:
    """Basis values (batch, in, n_basis) of `KANLinear.basis_values`, float32 as Keras."""
    x3 = g.node("Unsqueeze", [x, g.ints("last", [-1])], "x3")
    f32 = np.float32
    if layer.basis == "bspline":
        grid = _weight(layer.grid)
        low = g.node("GreaterOrEqual", [x3, g.const("g_lo", grid[:, :-1], f32)], "ge")
        high = g.node("Less", [x3, g.const("g_hi", grid[:, 1:], f32)], "lt")
        bases = g.cast(g.node("And", [low, high], "inside"), "b0", _FLOAT)
        for p in range(1, int(layer.spline_order) + 1):
            a, b = grid[:, : -(p + 1)], grid[:, p + 1 :]
            num = g.node("Sub", [x3, g.const(f"lo{p}", a, f32)], f"ln{p}")
            left = g.node("Div", [num, g.const(f"ld{p}", grid[:, p:-1] - a, f32)], f"l{p}")
            num = g.node("Sub", [g.const(f"hi{p}", b, f32), x3], f"rn{p}")
            right = g.node("Div", [num, g.const(f"rd{p}", b - grid[:, 1:-p], f32)], f"r{p}")
            first = g.slice(bases, 0, -1, f"bl{p}", axis=2)
            rest = g.slice(bases, 1, _END, f"bh{p}", axis=2)
            bases = g.node(
                "Add",
                [
                    g.node("Mul", [left, first], f"lb{p}"),
                    g.node("Mul", [right, rest], f"rb{p}"),
                ],
                f"b{p}",
            )
        return bases
    if layer.basis == "rbf":
        lo, hi = layer.grid_range
        centers = np.linspace(lo, hi, layer.grid_size).astype(f32)
        width = (hi - lo) / max(layer.grid_size - 1, 1)
        z = g.node("Sub", [x3, g.const("centers", centers, f32)], "dx")
        z = g.node("Div", [z, g.const("width", width, f32)], "z")
        z = g.node("Neg", [g.node("Mul", [z, z], "z2")], "neg_z2")
        return g.node("Exp", [z], "rbf")
    t = g.node("Tanh", [x3], "t")
    values = [g.node("Expand", [g.const("one", 1.0, f32), g.node("Shape", [t], "shape")], "t0"), t]
    for k in range(2, int(layer.grid_size) + 1):
        twice = g.node(
            "Mul", [g.node("Mul", [g.const("two", 2.0, f32), t], f"2t{k}"), values[-1]], f"2tt{k}"
        )
        values.append(g.node("Sub", [twice, values[-2]], f"t{k}"))
    return g.node("Concat", values[: int(layer.grid_size) + 1], "chebyshev", axis=2)


def _kan_linear(layer: Any, g: _Graph, ins: list[str], shapes: list[Any]) -> str:
    x = ins[0]
    f32 = np.float32
    base = g.node(
        "MatMul", [_silu(g, x), g.const("base_kernel", _weight(layer.base_kernel), f32)], "base"
    )
    values = g.node(
        "Reshape",
        [_kan_basis(layer, g, x), g.ints("flat", [-1, int(layer.n_in * layer.n_basis)])],
        "values",
    )
    spline = g.node(
        "MatMul", [values, g.const("spline_kernel", _weight(layer.spline_kernel), f32)], "spline"
    )
    y = g.node("Add", [base, spline], "sum")
    return g.node("Add", [y, g.const("bias", _weight(layer.bias), f32)], "kan")


def _identity(layer: Any, g: _Graph, ins: list[str], shapes: list[Any]) -> str:
    return ins[0]


def _functional(layer: Any, g: _Graph, ins: list[str], shapes: list[Any]) -> list[str]:
    return _emit_keras(layer, g, ins)


#: Keras layer class name -> converter ``(layer, graph, input names, input shapes) -> output
#: name(s)``: float32 nodes, tensors channels-last as in Keras, in inference mode
KERAS_LAYERS: dict[str, Callable[[Any, _Graph, list[str], list[Any]], str | list[str]]] = {
    "Functional": _functional,
    "PowerScale": _power_scale,
    "Reshape": _reshape,
    "Conv1D": _conv1d,
    "BatchNormalization": _batch_normalization,
    "Activation": lambda layer, g, ins, shapes: _activation(layer, g, ins[0]),
    "MaxPooling1D": _max_pooling1d,
    "Flatten": _flatten,
    "Dropout": _identity,
    "Dense": _dense,
    "UnitNormalization": _unit_normalization,
    "Rescaling": _rescaling,
    "Concatenate": _concatenate,
    "CosineProxies": _cosine_proxies,
    "KANLinear": _kan_linear,
}


def keras_to_onnx(model: Any) -> Any:
    """An ONNX model of a functional Keras model, built layer by layer with `KERAS_LAYERS`.

    No TensorFlow, PyTorch or converter package: each layer's weights become initializers of
    the nodes its converter emits. The graph computes in float32, as Keras does.

    Parameters
    ----------
    model : keras.Model
        Functional, float32, in inference mode (dropout is the identity, batch normalisation
        uses the moving statistics); nested functional models are converted recursively.

    Returns
    -------
    onnx.ModelProto
        Inputs ``input0``, ``input1`` ... and outputs ``output0`` ... (float32), in the order of
        ``model.inputs`` and ``model.outputs``; the first dimension is the batch.

    Raises
    ------
    InputError
        A layer (or activation) without converter, named; a model that is not functional.

    Examples
    --------
    >>> import onnxruntime as ort  # doctest: +SKIP
    >>> proto = keras_to_onnx(cnn.model_)  # doctest: +SKIP
    >>> session = ort.InferenceSession(proto.SerializeToString())  # doctest: +SKIP
    >>> session.run(None, {"input0": X.astype("float32")})[0].shape  # doctest: +SKIP
    (n, 128)
    """
    from onnx import helper

    def info(name: str, tensor: Any) -> Any:
        dims = [
            "n",
            *(d if d is not None else f"{name}_{i}" for i, d in enumerate(tensor.shape[1:])),
        ]
        return helper.make_tensor_value_info(name, _FLOAT, dims)

    g = _Graph()
    names = [f"input{i}" for i in range(len(model.inputs))]
    outs = _emit_keras(model, g.scope("model"), names)
    nodes = [
        *g.nodes,
        *(
            helper.make_node("Identity", [o], [f"output{i}"], name=f"output{i}")
            for i, o in enumerate(outs)
        ),
    ]
    graph = helper.make_graph(
        nodes,
        str(model.name),
        [info(n, t) for n, t in zip(names, model.inputs, strict=True)],
        [info(f"output{i}", t) for i, t in enumerate(model.outputs)],
        initializer=list(g.inits.values()),
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="lithoscope",
        producer_version=__version__,
    )
    proto.ir_version = IR_VERSION
    return proto


def _emit_keras(model: Any, g: _Graph, inputs: list[str]) -> list[str]:
    """Add the nodes of ``model`` to ``g`` fed by the float32 tensors ``inputs``; its outputs."""
    nodes_by_depth = getattr(model, "_nodes_by_depth", None)
    if nodes_by_depth is None:
        raise InputError(
            f"Keras model {model.name!r} is a {type(model).__name__}, not a functional model; "
            "the ONNX export converts functional models"
        )
    names = {id(t): n for t, n in zip(model.inputs, inputs, strict=True)}
    for depth in sorted(nodes_by_depth, reverse=True):
        for node in nodes_by_depth[depth]:
            layer = node.operation
            if layer is None or node.is_input:
                continue
            kind = type(layer).__name__
            convert = KERAS_LAYERS.get(kind)
            if convert is None:
                raise InputError(
                    f"Keras model {model.name!r}: layer {layer.name!r} is a {kind}, which the "
                    f"ONNX export does not convert (it converts {', '.join(KERAS_LAYERS)}); "
                    "add a converter to lithoscope.pipeline.export.KERAS_LAYERS"
                )
            if kind != "Functional" and getattr(layer, "compute_dtype", "float32") != "float32":
                raise InputError(
                    f"Keras model {model.name!r}: layer {layer.name!r} computes in "
                    f"{layer.compute_dtype}; the ONNX export converts float32 layers only"
                )
            ins = [names[id(t)] for t in node.input_tensors]
            shapes = [tuple(t.shape) for t in node.input_tensors]
            out = convert(layer, g.scope(layer.name), ins, shapes)
            outs = [out] if isinstance(out, str) else out
            for tensor, name in zip(node.outputs, outs, strict=True):
                names[id(tensor)] = name
    return [names[id(t)] for t in model.outputs]


def _keras_layer_kinds(model: Any) -> list[str]:
    """Class names of a Keras model's layers, nested models opened, in first-use order."""
    kinds: list[str] = []
    for layer in model.layers:
        inner = _keras_layer_kinds(layer) if hasattr(layer, "layers") else [type(layer).__name__]
        kinds.extend(k for k in inner if k not in kinds and k != "InputLayer")
    return kinds


# ---------------------------------------------------------------------------------- cnn
def _cnn_library_features(
    g: _Graph, x: str, n_points: int, derivative_weight: float, pool: int
) -> str:
    """`lithoscope.models.keras.cnn.library_features` (float64, rounded to float32)."""
    a = g.node("Sqrt", [g.node("Max", [x, g.const("zero", 0.0)], "lib_clipped")], "lib_sqrt")
    if pool > 1:
        # trailing points that do not fill a pool are dropped, as `correlation_features`
        n = n_points - n_points % pool
        a = g.slice(a, 0, n, "lib_kept")
        a = g.node("Reshape", [a, g.ints("lib_pools", [0, n // pool, pool])], "lib_pooled3")
        a = g.node("ReduceMean", [a], "lib_pooled", axes=[2], keepdims=0)
    parts = []
    if 1.0 - derivative_weight > 0:
        parts.append(_unit_part(g, a, "lib_intensity", 1.0 - derivative_weight, "pearson"))
    if derivative_weight > 0:
        diff = g.node("Sub", [g.slice(a, 1, _END, "lib_d1"), g.slice(a, 0, -1, "lib_d0")], "lib_d")
        parts.append(_unit_part(g, diff, "lib_difference", derivative_weight, "pearson"))
    return _rounded_features(g, parts, "lib_features")


def _cnn_graph(estimator: Any, g: _Graph, spectra: str) -> tuple[str, str]:
    """Probabilities and scores of a fitted `CNNClassifier` (see the module docstring)."""
    n_classes = int(estimator.classes_.size)
    x32 = g.cast(spectra, "spectra32", _FLOAT)  # as the native forward pass
    (embedding,) = _emit_keras(estimator.model_, g.scope("encoder"), [x32])
    if estimator.head == "kan":
        (logits,) = _emit_keras(estimator.head_, g.scope("kan_head"), [embedding])
        scores = g.cast(logits, "logits64", _DOUBLE)
        return _softmax(g, scores, estimator.temperature_), scores
    labels = estimator.reference_labels_
    e = g.cast(embedding, "embedding64", _DOUBLE)
    sim = _similarity(g, e, estimator.reference_embeddings_, "embedding")
    scores = _class_max(g, sim, labels, n_classes, "nearest")
    p = float(estimator.prototype_weight)
    if p > 0:
        proto = _similarity(g, e, estimator.prototypes_, "prototype")
        scores = _blend(g, proto, scores, p, "embedding_score")
    w = float(estimator.hybrid_weight_)
    if w < 1:
        n_points = int(np.asarray(estimator.axis_).size)
        feats = _cnn_library_features(
            g, spectra, n_points, float(estimator.derivative_weight_), int(estimator._pool)
        )
        sim = _similarity(g, feats, estimator.reference_library_, "library")
        library = _class_max(g, sim, labels, n_classes, "library")
        scores = _blend(g, scores, library, w, "hybrid")
    return _softmax(g, scores, estimator.temperature_), scores


def _cnn_inside(estimator: Any) -> list[str]:
    inside = [
        "float32 from here to the embedding, as the native network",
        f"encoder network ({', '.join(_keras_layer_kinds(estimator.model_))}) -> unit embedding",
    ]
    if estimator.head == "kan":
        return [
            *inside,
            f"KAN head ({', '.join(_keras_layer_kinds(estimator.head_))}) -> class logits",
            "scores: the logits, as float64",
            f"softmax(scores / {float(estimator.temperature_)!r})",
        ]
    p, w = float(estimator.prototype_weight), float(estimator.hybrid_weight_)
    inside += [
        f"cosine to {estimator.reference_embeddings_.shape[0]} reference embeddings and "
        f"{estimator.prototypes_.shape[0]} prototypes (float64 products of float32 values)",
        f"embedding score: {1 - p!r} * best reference of the class + {p!r} * prototype",
    ]
    if w < 1:
        inside += [
            f"library features: sqrt(max(y, 0)), mean of {estimator._pool} points, first "
            f"difference (weight {float(estimator.derivative_weight_)!r}), Pearson "
            "normalisation of each part, rounded to float32",
            f"similarity to {estimator.reference_library_.shape[0]} library references, best "
            "reference per class",
            f"hybrid: {w!r} * embedding score + {1 - w!r} * library score",
        ]
    return [*inside, f"softmax(scores / {float(estimator.temperature_)!r})"]


# ---------------------------------------------------------------------------------- ensemble
def _ensemble_graph(estimator: Any, g: _Graph, spectra: str) -> tuple[str, str]:
    """Weighted sums of the members' probabilities and scores (`EnsembleClassifier`)."""
    probas, scores = [], []
    for i, (w, member) in enumerate(zip(estimator.weights_, estimator.members_, strict=True)):
        exporter = _member_exporter(member, i)
        p, s = exporter.graph(member, g.scope(f"member{i}"), spectra)
        weight = g.const(f"member{i}_weight", float(w))
        probas.append(g.node("Mul", [p, weight], f"member{i}_probabilities"))
        scores.append(g.node("Mul", [s, weight], f"member{i}_scores"))
    return g.node("Sum", probas, "mean_probabilities"), g.node("Sum", scores, "mean_scores")


def _member_exporter(member: Any, i: int) -> _Exporter:
    kind = type(member).__name__
    exporter = EXPORTABLE.get(kind)
    if exporter is None or kind == "EnsembleClassifier":
        members = [k for k in EXPORTABLE if k != "EnsembleClassifier"]
        raise InputError(
            f"ensemble member {i} is a {kind}; ONNX export supports members of kinds "
            f"{', '.join(members)}; train the ensemble with members library and cnn"
        )
    return exporter


def _ensemble_inside(estimator: Any) -> list[str]:
    inside = []
    for i, (w, member) in enumerate(zip(estimator.weights_, estimator.members_, strict=True)):
        exporter = _member_exporter(member, i)
        inside += [
            f"member {i} ({type(member).__name__}, weight {float(w)!r}): {step}"
            for step in exporter.inside(member)
        ]
    return [*inside, "probabilities and scores: the weighted sums of the members'"]


@dataclass(frozen=True)
class _Exporter:
    """How one estimator class becomes a graph, and what its preprocess.json says is inside."""

    graph: Callable[[Any, _Graph, str], tuple[str, str]]
    inside: Callable[[Any], list[str]]
    scores: str
    probabilities: str = "softmax of scores / temperature"


#: estimator class name -> its exporter; exact names, as a subclass may score otherwise
EXPORTABLE: dict[str, _Exporter] = {
    "LibrarySearch": _Exporter(
        _library_graph, _library_inside, "best reference similarity per class"
    ),
    "CNNClassifier": _Exporter(
        _cnn_graph,
        _cnn_inside,
        "class scores of the native model (hybrid similarity per class; KAN head: logits)",
    ),
    "EnsembleClassifier": _Exporter(
        _ensemble_graph,
        _ensemble_inside,
        "weighted mean of the members' class scores",
        "weighted mean of the members' probabilities",
    ),
}
#: export formats -> writer (one today; the CLI's --format lists these)
EXPORT_FORMATS = ("onnx",)


# ---------------------------------------------------------------------------------- export
def export_onnx(bundle: Any, method: str, out_dir: str | Path) -> Path:
    """Write the ONNX export of ``bundle``'s ``method`` model into the new folder ``out_dir``.

    Parameters
    ----------
    bundle : IdentificationModel
    method : str
        A method the bundle identifies (``raman``, ``ir`` ...).
    out_dir : str or Path
        Must not exist; written beside itself and renamed into place, manifest last.

    Returns
    -------
    Path
        ``out_dir/model.onnx``.

    Raises
    ------
    InputError
        The method's model is not a kind that exports (`EXPORTABLE`), a layer of its network
        has no converter (`KERAS_LAYERS`), or the method is absent.
    FileExistsError
        ``out_dir`` exists.

    Examples
    --------
    >>> path = export_onnx(bundle, "raman", "raman-onnx")  # doctest: +SKIP
    >>> run_onnx(path.parent, X_preprocessed).shape  # doctest: +SKIP
    (1, 112)
    """
    part = bundle.part(method)
    estimator = part.estimator
    kind = type(estimator).__name__
    exporter = EXPORTABLE.get(kind)
    if exporter is None:
        raise InputError(
            f"model {bundle.name} ({part.method}) is a {kind}; ONNX export supports "
            f"{', '.join(EXPORTABLE)} models only; train one with "
            "'lithoscope train --model library|cnn|ensemble'"
        )
    import onnx

    g = _Graph()
    proba, scores = exporter.graph(estimator, g, INPUT)
    model = g.model(
        {"probabilities": proba, "scores": scores},
        int(np.asarray(estimator.axis_).size),
        int(estimator.classes_.size),
        f"{kind} ({part.method}): preprocessed spectra on the grid -> class probabilities",
    )
    onnx.checker.check_model(model, full_check=True)
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise FileExistsError(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        _write(tmp, model, bundle, part, kind, exporter)
        os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir / "model.onnx"


def _write(
    folder: Path, model: Any, bundle: Any, part: Any, kind: str, exporter: _Exporter
) -> None:
    (folder / "model.onnx").write_bytes(model.SerializeToString())
    grid = np.asarray(part.grid, dtype=np.float64)
    steps = []
    for step in part.preprocessing.get("steps", []):
        function, recipe = _STEP_RECIPES.get(step.get("class"), ("", ""))
        steps.append(
            {
                "name": step.get("name"),
                "class": step.get("class"),
                "params": step.get("params"),
                "function": f"lithoscope.spectra.preprocessing.{function}" if function else None,
                "numpy": recipe or None,
            }
        )
    write_json(
        folder / "preprocess.json",
        {
            "outside_onnx": "run these steps in order on each raw spectrum (x, y); the result, "
            "one row per spectrum on 'grid', is the graph's input",
            "grid": grid.tolist(),
            "steps": steps,
            "inside_onnx": exporter.inside(part.estimator),
            "pipeline": dict(part.preprocessing),
        },
    )
    write_json(folder / "classes.json", [str(c) for c in part.classes])
    (folder / "README.txt").write_text(_readme(bundle, part, grid, steps), encoding="utf-8")
    files = {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.is_file()}
    write_json(
        folder / MANIFEST,
        {
            "format": EXPORT_FORMAT,
            "schema_version": EXPORT_SCHEMA_VERSION,
            "lithoscope_version": __version__,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "source": {
                "model": bundle.name,
                "method": part.method,
                "kind": kind,
                "dataset_version": (bundle.provenance or {}).get("dataset_version"),
                "preprocessing_sha256": part.preprocessing.get("content_sha256"),
            },
            "onnx": {"opset": OPSET, "ir_version": IR_VERSION},
            "input": {"name": INPUT, "dtype": "float64", "shape": ["n", int(grid.size)]},
            "outputs": {
                "probabilities": f"float64 (n, classes): {exporter.probabilities}",
                "scores": f"float64 (n, classes): {exporter.scores}",
            },
            "files": files,
        },
    )


def _readme(bundle: Any, part: Any, grid: np.ndarray, steps: list[dict[str, Any]]) -> str:
    lines = [
        f"lithoscope ONNX export of {bundle.name} ({part.method}), lithoscope {__version__}",
        "",
        "Run: onnxruntime.InferenceSession('model.onnx').run(None, {'spectra': X})",
        f"  X: float64 (n, {grid.size}), preprocessed spectra on the grid of preprocess.json",
        f"  ({grid[0]:g} to {grid[-1]:g}, {grid.size} points)",
        "  outputs: probabilities, scores (n, classes); classes.json names the columns",
        "",
        "Preprocessing (outside the graph; baselines and despiking iterate, so they are not",
        "tensor operations). Either run lithoscope.spectra.preprocessing (NumPy, SciPy,",
        "pybaselines; no deep-learning framework):",
        "  pipe = pipeline_from_dict(preprocess['pipeline'])",
        "  X = Preprocessor.from_pipeline(pipe).transform(spectra)",
        "or these steps in order:",
    ]
    for i, s in enumerate(steps, 1):
        lines.append(f"  {i}. {s['class']}: {s['numpy'] or s['function']}")
    lines += ["", "manifest.json holds the sha256 of every file: check it before use.", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- run
def verify_export(folder: str | Path) -> dict[str, Any]:
    """The manifest of an export folder, after checking its format and every checksum.

    Raises
    ------
    InputError
        No manifest, another format, or a missing or altered file.
    """
    folder = Path(folder)
    if not (folder / MANIFEST).is_file():
        raise InputError(f"{folder}: no {MANIFEST}; not a lithoscope ONNX export; export again")
    manifest = read_json(folder / MANIFEST, what="export manifest")
    if not isinstance(manifest, dict) or manifest.get("format") != EXPORT_FORMAT:
        raise InputError(f"{folder / MANIFEST}: not a {EXPORT_FORMAT} manifest; export again")
    if manifest.get("schema_version", 0) > EXPORT_SCHEMA_VERSION:
        raise InputError(
            f"{folder}: export schema {manifest.get('schema_version')} is newer than this "
            f"lithoscope reads ({EXPORT_SCHEMA_VERSION}); upgrade lithoscope"
        )
    for name, digest in (manifest.get("files") or {}).items():
        path = folder / name
        if not path.is_file():
            raise InputError(f"{path}: missing from the export; export again")
        if sha256_file(path) != digest:
            raise InputError(f"{path}: checksum mismatch (altered or truncated); export again")
    return manifest


def run_onnx(path: str | Path, X: npt.ArrayLike) -> np.ndarray:
    """Class probabilities of preprocessed spectra ``X`` from an export, with onnxruntime.

    Parameters
    ----------
    path : str or Path
        The export folder or its ``model.onnx``; the folder's checksums are checked first.
    X : array_like, shape (n_spectra, n_grid)
        Preprocessed spectra on the export's grid (a 1-D array is one spectrum).

    Returns
    -------
    numpy.ndarray of float64, shape (n_spectra, n_classes)
        Columns in the order of ``classes.json``.

    Raises
    ------
    InputError
        A damaged export, or ``X`` of another number of points.
    """
    import onnxruntime as ort

    path = Path(path)
    folder = path if path.is_dir() else path.parent
    manifest = verify_export(folder)
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    n_grid = manifest["input"]["shape"][1]
    if arr.ndim != 2 or arr.shape[1] != n_grid:
        raise InputError(
            f"X has shape {arr.shape}; the export expects (n, {n_grid}) preprocessed spectra "
            "on its grid (preprocess.json)"
        )
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    return session.run(["probabilities"], {INPUT: np.ascontiguousarray(arr)})[0]
