"""Export a model for instrument computers: an ONNX graph that onnxruntime runs without Keras,
JAX or scikit-learn.

``export_onnx(bundle, method, out_dir)`` writes one folder (after the bundle's own layout)::

    model.onnx          preprocessed spectrum on the grid -> class probabilities and scores
    preprocess.json     the preprocessing that stays outside the graph, step by step
    classes.json        class names in the order of the graph's output columns
    README.txt          what the instrument computer runs, in order
    manifest.json       written last: format, versions, input/output, sha256 of every file

What is in the graph (library search, `LibrarySearch`): the intensity power, the first
derivative (``np.gradient`` as slices), the Pearson centring and unit scaling of each part and
their blend, the similarity to every stored reference, the best reference per class and the
softmax with the fitted temperature; all in float64, with the features rounded to float32 (as
the stored references) before their float64 product, as in the native model.

What stays outside: the preprocessing pipeline (resampling onto the grid, despiking, the
iterative baseline fit, smoothing, normalisation). It is not a fixed sequence of tensor
operations (baselines iterate to convergence, spikes are found by a data-dependent search), so
the instrument computer runs `lithoscope.spectra.preprocessing` (NumPy/SciPy/pybaselines only)
or the steps ``preprocess.json`` lists, and feeds the graph their output.

`run_onnx` checks the manifest's checksums, then runs the graph with onnxruntime. Only library
models export: the CNN's graph (multi-scale towers, the hybrid match against references and
prototypes, the KAN head) has no clean route to ONNX without TensorFlow or PyTorch converters.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable
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
    "export_onnx",
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


# ---------------------------------------------------------------------------------- graphs
def _library_graph(estimator: Any, name: str) -> Any:
    """The ONNX graph of a fitted `LibrarySearch` (see the module docstring)."""
    from onnx import TensorProto, helper, numpy_helper

    from lithoscope.models.scoring import class_starts

    params = type(estimator).feature_params(estimator)
    metric, power = params["metric"], float(params["power"])
    weight = float(params["derivative_weight"])
    refs = np.asarray(estimator.references_, dtype=np.float32)
    labels = np.asarray(estimator.reference_labels_, dtype=np.int64)
    n_points = int(np.asarray(estimator.axis_).size)
    n_classes = int(estimator.classes_.size)
    if n_points < 2:
        raise InputError(f"{name}: a grid of {n_points} point cannot be exported")

    nodes: list[Any] = []
    inits: list[Any] = []

    def const(key: str, value: npt.ArrayLike, dtype: Any = np.float64) -> str:
        if key not in {t.name for t in inits}:
            inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), key))
        return key

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    # sign(x) * |x| ** power, as `power_transform` (signed)
    a = INPUT
    if power != 1:
        mag = node("Pow", [node("Abs", [a], "abs"), const("power", power)], "abs_pow")
        a = node("Mul", [node("Sign", [a], "sign"), mag], "powered")

    def unit(p: str, tag: str, w: float) -> str:
        if metric == "pearson":
            mean = node("ReduceMean", [p], f"{tag}_mean", axes=[1], keepdims=1)
            p = node("Sub", [p, mean], f"{tag}_centred")
        norm = node(
            "Sqrt", [node("ReduceSumSquare", [p], f"{tag}_ss", axes=[1], keepdims=1)], f"{tag}_norm"
        )
        positive = node("Greater", [norm, const("zero", 0.0)], f"{tag}_positive")
        safe = node("Where", [positive, norm, const("one", 1.0)], f"{tag}_safe")
        scaled = node("Div", [p, safe], f"{tag}_unit")
        return node("Mul", [scaled, const(f"{tag}_weight", np.sqrt(w))], f"{tag}_part")

    parts = []
    if 1.0 - weight > 0:
        parts.append(unit(a, "intensity", 1.0 - weight))
    if weight > 0:
        # np.gradient with unit spacing: central differences inside, one-sided at the ends
        def cut(start: int, end: int, tag: str) -> str:
            keys = [const(f"{tag}_{k}", [v], np.int64) for k, v in (("s", start), ("e", end))]
            return node("Slice", [a, *keys, const(f"{tag}_ax", [1], np.int64)], tag)

        big = np.iinfo(np.int64).max
        inner = node("Sub", [cut(2, big, "d_hi"), cut(0, -2, "d_lo")], "d_inner2")
        inner = node("Mul", [inner, const("half", 0.5)], "d_inner")
        first = node("Sub", [cut(1, 2, "d_1"), cut(0, 1, "d_0")], "d_first")
        last = node("Sub", [cut(-1, big, "d_n1"), cut(-2, -1, "d_n2")], "d_last")
        deriv = node("Concat", [first, inner, last], "derivative", axis=1)
        parts.append(unit(deriv, "derivative", weight))
    feats = parts[0] if len(parts) == 1 else node("Concat", parts, "features64", axis=1)
    # as the native model: features rounded to float32 (as the stored references), their
    # product then taken in float64 (onnxruntime folds the references' Cast once)
    feats = node("Cast", [feats], "features32", to=TensorProto.FLOAT)
    feats = node("Cast", [feats], "features", to=TensorProto.DOUBLE)
    refs64 = node(
        "Cast", [const("references_t", refs.T, np.float32)], "references64", to=TensorProto.DOUBLE
    )
    sim = node("MatMul", [feats, refs64], "similarity")

    # best reference per class: classes of similar size share one padded Gather + ReduceMax
    # (a class shorter than its bucket repeats its first reference, which leaves the max)
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
        g = node("Gather", [sim, const(f"bucket{b}_idx", idx, np.int64)], f"bucket{b}", axis=1)
        pieces.append(node("ReduceMax", [g], f"bucket{b}_max", axes=[2], keepdims=0))
        order.extend(members.tolist())
    scores = pieces[0] if len(pieces) == 1 else node("Concat", pieces, "bucketed", axis=1)
    if order != list(range(n_classes)):
        inverse = np.argsort(np.asarray(order))
        scores = node(
            "Gather", [scores, const("class_order", inverse, np.int64)], "class_scores", axis=1
        )
    nodes.append(helper.make_node("Identity", [scores], ["scores"], name="scores"))
    logits = node("Div", [scores, const("temperature", float(estimator.temperature_))], "logits")
    node("Softmax", [logits], "probabilities", axis=1)

    graph = helper.make_graph(
        nodes,
        f"lithoscope_{name}",
        [helper.make_tensor_value_info(INPUT, TensorProto.DOUBLE, ["n", n_points])],
        [helper.make_tensor_value_info(o, TensorProto.DOUBLE, ["n", n_classes]) for o in OUTPUTS],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="lithoscope",
        producer_version=__version__,
        doc_string="library search: preprocessed spectra on the grid -> class probabilities",
    )
    model.ir_version = IR_VERSION
    return model


#: estimator class name -> graph builder; exact names, as a subclass may score otherwise
EXPORTABLE: dict[str, Callable[[Any, str], Any]] = {"LibrarySearch": _library_graph}
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
        The method's model is not a kind that exports (library only), or the method is absent.
    FileExistsError
        ``out_dir`` exists.

    Examples
    --------
    >>> path = export_onnx(bundle, "raman", "raman-onnx")  # doctest: +SKIP
    >>> run_onnx(path.parent, X_preprocessed).shape  # doctest: +SKIP
    (1, 112)
    """
    part = bundle.part(method)
    kind = type(part.estimator).__name__
    builder = EXPORTABLE.get(kind)
    if builder is None:
        raise InputError(
            f"model {bundle.name} ({part.method}) is a {kind}; ONNX export supports "
            f"{', '.join(EXPORTABLE)} (library) models only; train one with "
            "'lithoscope train --model library'"
        )
    import onnx

    model = builder(part.estimator, part.method)
    onnx.checker.check_model(model, full_check=True)
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise FileExistsError(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        _write(tmp, model, bundle, part, kind)
        os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir / "model.onnx"


def _write(folder: Path, model: Any, bundle: Any, part: Any, kind: str) -> None:
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
            "inside_onnx": _inside(part.estimator),
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
                "probabilities": "float64 (n, classes): softmax of scores / temperature",
                "scores": "float64 (n, classes): best reference similarity per class",
            },
            "files": files,
        },
    )


def _inside(estimator: Any) -> list[str]:
    params = type(estimator).feature_params(estimator)
    return [
        f"power: sign(y) * |y| ** {params['power']}",
        f"derivative: np.gradient, weight {params['derivative_weight']}",
        f"{params['metric']} normalisation of each part (centre, unit length), blended",
        f"similarity to {estimator.references_.shape[0]} references (float32)",
        "best reference per class",
        f"softmax(scores / {float(estimator.temperature_)!r})",
    ]


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
