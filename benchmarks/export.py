"""ONNX export for instrument computers: latency, agreement, size, start-up against native.

Usage:
    python benchmarks/export.py [--mirror ../shared/data] [--model library|cnn|ensemble] [--n 1000]
                                [--data-dir DIR]

Trains a full-size Raman model of ``--model`` kind with ``lithoscope.pipeline.train.train`` in a
temporary data folder filled from the mirror (MinDB built, the RRUFF IMA export and Raman zip
ingested; as ``lithoscope train``), exports it with ``export_onnx`` and measures, on ``--n`` raw
RRUFF Raman files spread over the zip (most of them are in the library the model stores: the
agreement check is numeric, not an accuracy figure):

* latency per call, median and p95, of the native ``estimator.predict_proba(X)`` and of
  ``onnxruntime`` ``session.run`` on the same preprocessed ``X``, for 1 spectrum (300 calls) and
  batches of 64 (50 calls), the two interleaved so that both see the same machine; and the
  preprocessing (raw spectrum -> ``X``, `Preprocessor.transform`), which stays outside the graph;
* max |native - onnx| over the class probabilities of all ``--n`` spectra, and the share whose
  best class agrees;
* the size of the export folder (and of the native model folder);
* install size: the files of each distribution's RECORD (``importlib.metadata``), walked through
  its requirements (the extras a requirement names are followed, other extras skipped) in this
  venv, for the ONNX route (onnxruntime + numpy; + scipy + pybaselines to run the preprocessing
  steps; or lithoscope[spectra] to run lithoscope's preprocessing) and the native route
  (lithoscope[spectra] for a library model, lithoscope[ml,spectra] for every model kind). An
  editable lithoscope counts its package folder (as a wheel would ship it);
* cold start: a fresh process that imports, loads the model and gives its first answer, median
  of 3 runs after one warm-up run (which fills the OS file cache).
Quote medians from one run; the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
#: --model -> the estimator class `export_onnx` must know (EXPORTABLE) for the kind to export
KIND_CLASSES = {
    "library": "LibrarySearch",
    "cnn": "CNNClassifier",
    "ensemble": "EnsembleClassifier",
}
BATCH = 64


def raw_files(mirror: Path, n: int) -> list[tuple[str, str]]:
    """(name, text) of ``n`` Raman files of the mirror's zip, spread over the whole zip."""
    with zipfile.ZipFile(mirror / "rruff" / "raman" / "excellent_unoriented.zip") as zf:
        names = sorted(m for m in zf.namelist() if m.endswith(".txt"))
        step = max(1, len(names) // n)
        return [(m, zf.read(m).decode("utf-8", "replace")) for m in names[::step][:n]]


def p50_p95(seconds: list[float]) -> tuple[float, float]:
    ms = np.array(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ------------------------------------------------------------------------ install size
def _dist_bytes(dist: md.Distribution) -> int:
    """Bytes of the files a distribution's RECORD lists (a wheel install)."""
    total = 0
    for f in dist.files or []:
        p = Path(dist.locate_file(f))
        if p.is_file():
            total += p.stat().st_size
    direct = dist.read_text("direct_url.json")
    if direct and json.loads(direct).get("dir_info", {}).get("editable"):
        # an editable install records a .pth, not the package: count the package folder
        for top in (dist.read_text("top_level.txt") or dist.metadata["Name"]).split():
            spec = importlib.util.find_spec(top)
            for loc in (spec.submodule_search_locations or []) if spec else []:
                total += sum(
                    p.stat().st_size
                    for p in Path(loc).rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts
                )
    return total


def footprint(roots: list[str]) -> dict[str, int]:
    """Installed distribution -> bytes, for ``roots`` (requirement strings) and everything they
    require in this environment; a requirement's marker is evaluated with the extras asked of
    its distribution (so ``lithoscope[ml]`` brings Keras, and Keras' own extras stay out)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: dict[str, int] = {}
    todo = [Requirement(r) for r in roots]
    extras_done: dict[str, set[str]] = {}
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        asked = set(req.extras)
        if name in extras_done and asked <= extras_done[name]:
            continue
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            continue  # required only on other platforms or Pythons (markers say so)
        extras_done.setdefault(name, set()).update(asked)
        if name not in seen:
            seen[name] = _dist_bytes(dist)
        for line in dist.requires or []:
            sub = Requirement(line)
            envs = [{"extra": e} for e in ["", *sorted(extras_done[name])]]
            if sub.marker is None or any(sub.marker.evaluate(env) for env in envs):
                todo.append(sub)
    return seen


ROUTES = {
    "onnx: graph": ["onnxruntime", "numpy"],
    "onnx + preprocessing steps": ["onnxruntime", "numpy", "scipy", "pybaselines"],
    "onnx + lithoscope preprocessing": ["onnxruntime", "lithoscope[spectra]"],
    "native: library": ["lithoscope[spectra]"],
    "native: all kinds": ["lithoscope[ml,spectra]"],
}


def install_tables() -> list[str]:
    routes = {k: footprint(v) for k, v in ROUTES.items()}
    sizes: dict[str, int] = {}
    for r in routes.values():
        sizes.update(r)
    versions = {}
    for name in sizes:
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = "?"
    lines = [
        "| distribution | version | MB | " + " | ".join(ROUTES) + " |",
        "| --- | --- | ---: |" + " :---: |" * len(ROUTES),
    ]
    for name in sorted(sizes, key=lambda k: -sizes[k]):
        marks = " | ".join("x" if name in r else "" for r in routes.values())
        lines.append(f"| {name} | {versions[name]} | {sizes[name] / 1e6:.1f} | {marks} |")
    totals = " | ".join(f"**{sum(r.values()) / 1e6:.0f} MB**" for r in routes.values())
    lines.append(f"| **total** | | | {totals} |")
    counts = " | ".join(str(len(r)) for r in routes.values())
    lines.append(f"| distributions | | | {counts} |")
    lines.append("")
    lines.append("routes (requirement roots):")
    for k, v in ROUTES.items():
        lines.append(f"  {k}: {', '.join(v)}")
    return lines


# ------------------------------------------------------------------------ cold start
NATIVE = """
import sys, time, json
t0 = time.perf_counter()
from lithoscope.pipeline.bundle import IdentificationModel
from lithoscope.spectra.io import read_spectrum
t1 = time.perf_counter()
part = IdentificationModel.load(sys.argv[1]).part("raman")
t2 = time.perf_counter()
X = part.preprocessor.transform([read_spectrum(sys.argv[2])])
proba = part.estimator.predict_proba(X)
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "answer": t3 - t2,
                  "best": str(part.estimator.classes_[int(proba[0].argmax())])}))
"""

# an instrument computer without lithoscope: checksums of the manifest, onnxruntime, numpy
ONNX_GRAPH = """
import sys, time, json
t0 = time.perf_counter()
import hashlib
from pathlib import Path
import numpy as np
import onnxruntime as ort
t1 = time.perf_counter()
folder = Path(sys.argv[1])
manifest = json.loads((folder / "manifest.json").read_text())
for name, digest in manifest["files"].items():
    assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
classes = json.loads((folder / "classes.json").read_text())
t2 = time.perf_counter()
X = np.load(sys.argv[2])
proba = session.run(["probabilities"], {session.get_inputs()[0].name: X})[0]
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "answer": t3 - t2,
                  "best": classes[int(proba[0].argmax())]}))
"""

# the same with lithoscope's preprocessing of the raw file (no Keras, no JAX)
ONNX_PRE = """
import sys, time, json
t0 = time.perf_counter()
import hashlib
from pathlib import Path
import numpy as np
import onnxruntime as ort
from lithoscope.spectra.io import read_spectrum
from lithoscope.spectra.preprocessing import Preprocessor, pipeline_from_dict
t1 = time.perf_counter()
folder = Path(sys.argv[1])
manifest = json.loads((folder / "manifest.json").read_text())
for name, digest in manifest["files"].items():
    assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
classes = json.loads((folder / "classes.json").read_text())
pre = json.loads((folder / "preprocess.json").read_text())
prep = Preprocessor.from_pipeline(pipeline_from_dict(pre["pipeline"]))
t2 = time.perf_counter()
inp = session.get_inputs()[0]
X = prep.transform([read_spectrum(sys.argv[2])])
X = X.astype(np.float64 if inp.type == "tensor(double)" else np.float32)
proba = session.run(["probabilities"], {inp.name: X})[0]
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "answer": t3 - t2,
                  "best": classes[int(proba[0].argmax())]}))
"""


def cold_start(
    scratch: Path, name: str, code: str, args: list[str], runs: int = 3
) -> dict[str, Any]:
    """Median wall time and import / load / first-answer split of ``code`` in a fresh process
    (``runs`` timed runs after one warm-up)."""
    script = scratch / f"cold_{name}.py"
    script.write_text(code, encoding="utf-8")
    walls, parts = [], []
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, str(script), *args],
            capture_output=True,
            text=True,
            env={**os.environ, "KERAS_BACKEND": "jax"},
            cwd=scratch,
        )
        if out.returncode:
            raise RuntimeError(f"cold start {name} failed:\n{out.stderr}")
        walls.append(time.perf_counter() - t0)
        parts.append(json.loads(out.stdout.strip().splitlines()[-1]))
    walls, parts = walls[1:], parts[1:]
    result = {k: statistics.median(p[k] for p in parts) for k in ("import", "load", "answer")}
    result["wall"] = statistics.median(walls)
    result["best"] = parts[-1]["best"]
    return result


# ------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--model", default="library", choices=sorted(KIND_CLASSES))
    parser.add_argument("--n", type=int, default=1000, help="raw RRUFF Raman files measured")
    parser.add_argument(
        "--data-dir",
        default=None,
        help="a lithoscope data folder whose registry already holds raman-MODEL (kept; nothing "
        "is trained); default: a temporary one, filled and trained here",
    )
    args = parser.parse_args()
    os.environ.setdefault("KERAS_BACKEND", "jax")
    warnings.simplefilter("ignore")
    command = " ".join(["python", "benchmarks/export.py", *sys.argv[1:]])
    mirror = Path(args.mirror)

    from lithoscope.pipeline.export import EXPORTABLE, export_onnx

    if KIND_CLASSES[args.model] not in EXPORTABLE:
        raise SystemExit(
            f"--model {args.model}: export_onnx exports {', '.join(EXPORTABLE)} only "
            f"(lithoscope.pipeline.export.EXPORTABLE), not {KIND_CLASSES[args.model]}; "
            "use --model library"
        )
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        data_dir = args.data_dir or str(scratch / "data")
        os.environ["LITHOSCOPE_DATA_DIR"] = data_dir
        from lithoscope.config import get_settings

        get_settings.cache_clear()
        import onnxruntime as ort

        from lithoscope.data.ingest import ingest
        from lithoscope.mindb import connect
        from lithoscope.pipeline.registry import Registry
        from lithoscope.pipeline.train import train
        from lithoscope.spectra.io import parse_spectrum

        name = f"raman-{args.model}"
        if args.data_dir is None:
            t0 = time.perf_counter()
            with connect() as db:
                db.build()
                ingest(db, "rruff-ima", mirror=str(mirror), progress=False)
                ingest(db, "rruff-raman", mirror=str(mirror), progress=False)
                t1 = time.perf_counter()
                ref = train(db, "raman", args.model, name=name).ref
            print(
                f"MinDB filled in {t1 - t0:.0f} s; trained {ref} in "
                f"{time.perf_counter() - t1:.0f} s",
                flush=True,
            )
        else:
            ref = Registry().resolve(name)
        bundle, _ = Registry().load(str(ref))
        part = bundle.part("raman")
        est = part.estimator
        t0 = time.perf_counter()
        onnx_path = export_onnx(bundle, "raman", scratch / "export")
        t_export = time.perf_counter() - t0
        folder = onnx_path.parent
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        inp = session.get_inputs()[0]
        in_dtype = np.float64 if inp.type == "tensor(double)" else np.float32

        files = raw_files(mirror, args.n)
        spectra = [parse_spectrum(text, fname) for fname, text in files]
        pre = part.preprocessor
        X = pre.transform(spectra)
        Xo = np.ascontiguousarray(X, dtype=in_dtype)
        print(
            f"{ref}: {est.classes_.size} classes, grid {X.shape[1]} points, "
            f"{type(est).__name__}; exported in {t_export:.1f} s; {len(spectra)} RRUFF spectra; "
            f"onnxruntime {ort.__version__}, input {inp.type}, intra-op threads default",
            flush=True,
        )

        def native(rows: np.ndarray) -> np.ndarray:
            return est.predict_proba(rows)

        def onnx(rows: np.ndarray) -> np.ndarray:
            return session.run(["probabilities"], {inp.name: rows})[0]

        # agreement on every spectrum (in batches of 64, as served)
        nat = np.vstack([native(X[i : i + BATCH]) for i in range(0, len(X), BATCH)])
        onx = np.vstack([onnx(Xo[i : i + BATCH]) for i in range(0, len(X), BATCH)])
        diff = float(np.max(np.abs(nat - onx)))
        same_best = float(np.mean(nat.argmax(1) == onx.argmax(1)))

        # latency: the two routes interleaved; the first calls warm caches and compile
        lat: dict[str, list[float]] = {k: [] for k in ("pre1", "nat1", "onx1")}
        for i in range(310):
            j = i % len(X)
            t0 = time.perf_counter()
            pre.transform([spectra[j]])
            t1 = time.perf_counter()
            native(X[j : j + 1])
            t2 = time.perf_counter()
            onnx(Xo[j : j + 1])
            t3 = time.perf_counter()
            if i >= 10:
                lat["pre1"].append(t1 - t0)
                lat["nat1"].append(t2 - t1)
                lat["onx1"].append(t3 - t2)
        starts = list(range(0, len(X) - BATCH + 1, BATCH)) or [0]
        latb: dict[str, list[float]] = {k: [] for k in ("pre", "nat", "onx")}
        for i in range(53):
            s = starts[i % len(starts)]
            t0 = time.perf_counter()
            pre.transform(spectra[s : s + BATCH])
            t1 = time.perf_counter()
            native(X[s : s + BATCH])
            t2 = time.perf_counter()
            onnx(Xo[s : s + BATCH])
            t3 = time.perf_counter()
            if i >= 3:
                latb["pre"].append(t1 - t0)
                latb["nat"].append(t2 - t1)
                latb["onx"].append(t3 - t2)
        nb = min(BATCH, len(X))

        # cold start: the native bundle folder, the export folder, one raw file
        raw = scratch / Path(files[0][0]).name  # the RRUFF name tells the method
        raw.write_text(files[0][1], encoding="utf-8")
        np.save(scratch / "one.npy", Xo[:1])
        cold = {
            "native (lithoscope, bundle)": cold_start(
                scratch, "native", NATIVE, [str(ref.path), str(raw)]
            ),
            "onnx: graph on preprocessed X": cold_start(
                scratch, "graph", ONNX_GRAPH, [str(folder), str(scratch / "one.npy")]
            ),
            "onnx + lithoscope preprocessing": cold_start(
                scratch, "pre", ONNX_PRE, [str(folder), str(raw)]
            ),
        }
        export_files = {p.name: p.stat().st_size for p in sorted(folder.iterdir())}
        export_size = folder_bytes(folder)
        native_size = folder_bytes(Path(ref.path))

    print()
    print(f"## latency per call (ms), {args.model}: median / p95")
    print()
    print("| call | native predict_proba | onnxruntime run | preprocessing (outside the graph) |")
    print("| --- | ---: | ---: | ---: |")
    for label, a, b, c in (
        ("1 spectrum", lat["nat1"], lat["onx1"], lat["pre1"]),
        (f"batch of {nb}", latb["nat"], latb["onx"], latb["pre"]),
    ):
        cells = [f"{p50:.3f} / {p95:.3f}" for p50, p95 in map(p50_p95, (a, b, c))]
        print(f"| {label} | {' | '.join(cells)} |")
    per = [statistics.median(v) / nb * 1000 for v in (latb["nat"], latb["onx"], latb["pre"])]
    print(
        f"| per spectrum in a batch of {nb} (median) | {per[0]:.3f} | {per[1]:.3f} | {per[2]:.3f} |"
    )
    print()
    print(
        f"agreement on {len(X)} RRUFF spectra: max |native - onnx| = {diff:.2e} "
        f"(probabilities), same best class {same_best:.1%}"
    )
    print()
    print("## sizes")
    print()
    print(f"export folder: {export_size / 1e6:.2f} MB")
    for fname, size in export_files.items():
        print(f"  {fname}: {size / 1e6:.3f} MB")
    print(f"native model folder (bundle): {native_size / 1e6:.2f} MB")
    print()
    print("## cold start: fresh process, import + load + first answer (s), median of 3")
    print()
    print("| route | wall | import | load | first answer | best class |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for label, r in cold.items():
        print(
            f"| {label} | {r['wall']:.2f} | {r['import']:.2f} | {r['load']:.2f} | "
            f"{r['answer']:.3f} | {r['best']} |"
        )
    print()
    print("## install size (site-packages, RECORD files of each distribution and its requirements)")
    print()
    for line in install_tables():
        print(line)
    print()
    print(f"python {sys.version.split()[0]}, cores: {os.cpu_count()}; reproduce: {command}")


if __name__ == "__main__":
    main()
