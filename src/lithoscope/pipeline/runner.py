"""Reproducible, cached pipeline runs: fetch -> ingest -> dataset -> train -> calibrate ->
evaluate -> register -> report (``lithoscope pipeline run CONFIG.yaml``).

Each step is cached by the hash of its inputs: its part of the config, the keys of the steps it
reads (so a changed parameter reruns exactly what depends on it), lithoscope's version and a
digest of its source (`code_digest`: new code reruns every step), and for
the dataset step a fingerprint of MinDB's spectra (so spectra ingested by other means rebuild
the dataset). A cached step is reused only after checking that what it made is still there (a
deleted model version, a changed MinDB), and says so; otherwise it runs.

Cache layout, under the data folder: ``pipeline/cache/<step>/<key>/`` with the step's files and
``output.json`` written last (a step cut off halfway leaves only a temporary folder). A run's
summary (every step, its key, ran or cached, seconds) goes to
``pipeline/runs/<name>/<UTC time>/summary.json`` beside the HTML report.

Splits are decided by a hash of ``seed`` and the sample id (`sample_split`): the same config and
data give the same split, model and metrics (library search exactly; the networks within the
tolerance of their seeded training, see the tests).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lithoscope import __version__
from lithoscope._files import jsonable, read_json, write_json
from lithoscope.config import get_settings
from lithoscope.errors import InputError
from lithoscope.pipeline.run_config import PipelineConfig, load_config

__all__ = [
    "STEPS",
    "PipelineResult",
    "StepOutcome",
    "code_digest",
    "read_dataset",
    "run_pipeline",
    "sample_split",
]

#: the steps, in order
STEPS = ("fetch", "ingest", "dataset", "train", "calibrate", "evaluate", "register", "report")

Progress = Callable[[str, str, str], None]


@dataclass
class StepOutcome:
    """What one step did: ``status`` is ``"ran"`` or ``"cached"``."""

    step: str
    key: str
    status: str
    seconds: float
    output: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "key": self.key,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "output": self.output,
        }


@dataclass
class PipelineResult:
    """The outcome of `run_pipeline`."""

    config: PipelineConfig
    steps: list[StepOutcome] = field(default_factory=list)
    run_dir: Path | None = None
    promoted: str | None = None

    @property
    def ran(self) -> list[str]:
        return [s.step for s in self.steps if s.status == "ran"]

    def output(self, step: str) -> dict[str, Any]:
        for s in self.steps:
            if s.step == step:
                return s.output
        raise KeyError(step)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.config.name,
            "config_sha256": self.config.sha256(),
            "ran": self.ran,
            "steps": [s.to_dict() for s in self.steps],
            "run_dir": str(self.run_dir) if self.run_dir else None,
            "promoted": self.promoted,
        }
        done = {s.step for s in self.steps}
        if "register" in done:
            out["model"] = self.output("register")["model"]
        if "evaluate" in done:
            out["metrics"] = _headline(self.output("evaluate")["evaluation"])
        if "report" in done:
            out["report"] = self.output("report")["html"]
        return out


# ---------------------------------------------------------------------------------- splits
def sample_split(groups: Sequence[str] | np.ndarray, fraction: float, salt: str) -> np.ndarray:
    """Whether each sample falls in a held-out share ``fraction``, by a hash of ``salt`` and
    the sample id alone: a sample's spectra (of every method) fall on one side, and the split
    does not depend on which other samples MinDB holds."""
    ids = np.asarray(groups).astype(str)
    unique, inverse = np.unique(ids, return_inverse=True)
    draws = np.array(
        [
            int.from_bytes(hashlib.sha256(f"{salt}:{g}".encode()).digest()[:8], "big") / 2**64
            for g in unique.tolist()
        ]
    )
    return (draws < fraction)[inverse] if unique.size else np.zeros(0, dtype=bool)


# ---------------------------------------------------------------------------------- cache
@functools.cache
def code_digest() -> str:
    """A digest of lithoscope's installed source (its ``.py`` and ``.csv`` files): part of every
    step's key, so that changed code (a fix in a reader, a new default) reruns the steps
    instead of reusing what the old code made. Read once per process (about 150 small files)."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".csv") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def _digest(doc: Any) -> str:
    text = json.dumps(jsonable(doc), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class _Cache:
    """Step folders under ``root``: ``<step>/<key>/``, complete once ``output.json`` is in."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, step: str, key: str) -> Path:
        return self.root / step / key

    def get(self, step: str, key: str) -> dict[str, Any] | None:
        path = self.folder(step, key) / "output.json"
        if not path.is_file():
            return None
        doc = read_json(path, what=f"cached {step} output")
        return doc if isinstance(doc, dict) else None

    @contextmanager
    def writing(self, step: str, key: str) -> Iterator[Path]:
        """A temporary folder that becomes the step's folder when the block succeeds."""
        final = self.folder(step, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".tmp", dir=final.parent))
        try:
            yield tmp
            if final.exists():  # a stale, incomplete folder (no output.json): replace it
                shutil.rmtree(final)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


# ---------------------------------------------------------------------------------- run
def run_pipeline(
    config: PipelineConfig | str | Path,
    *,
    force: Sequence[str] = (),
    until: str | None = None,
    database_url: str | None = None,
    progress: Progress | None = None,
) -> PipelineResult:
    """Run a pipeline config, reusing every step whose inputs did not change.

    Parameters
    ----------
    config : PipelineConfig, or the path of a YAML config
    force : sequence of str
        Steps to run even when cached (``"all"`` for every step); the steps after them rerun
        only if their inputs then differ.
    until : str, optional
        Stop after this step.
    database_url : str, optional
        MinDB to ingest into and train from (default: the settings').
    progress : callable, optional
        ``progress(step, status, detail)`` with status ``"start"``, ``"ran"``, ``"cached"``
        or (after register, with ``register.promote``) ``"promoted"``.

    Returns
    -------
    PipelineResult

    Raises
    ------
    InputError
        A bad config, an unknown step name, or a step's own input problem.
    """
    if not isinstance(config, PipelineConfig):
        config = load_config(config)
    forced = set(force)
    unknown = forced - {*STEPS, "all"}
    if unknown:
        raise InputError(f"--force {sorted(unknown)[0]!r} is not a step ({', '.join(STEPS)}, all)")
    if "all" in forced:
        forced = set(STEPS)
    if until is not None and until not in STEPS:
        raise InputError(f"--until {until!r} is not a step ({', '.join(STEPS)})")
    settings = get_settings()
    cache = _Cache(settings.data_dir / "pipeline" / "cache")
    say = progress or (lambda step, status, detail: None)
    result = PipelineResult(config)
    state = _State(config, cache, database_url)
    try:
        for step in STEPS:
            key, inputs = state.key(step)
            cached = None if step in forced else cache.get(step, key)
            if cached is not None and state.still_valid(step, cached, cache.folder(step, key)):
                result.steps.append(StepOutcome(step, key, "cached", 0.0, cached))
                state.done(step, key, cached)
                say(step, "cached", key)
            else:
                say(step, "start", key)
                start = time.perf_counter()
                with cache.writing(step, key) as folder:
                    output = getattr(state, f"run_{step}")(folder, cache.folder(step, key))
                    output = {**jsonable(output), "inputs": jsonable(inputs)}
                    write_json(folder / "output.json", output)
                seconds = time.perf_counter() - start
                result.steps.append(StepOutcome(step, key, "ran", seconds, output))
                state.done(step, key, output)
                say(step, "ran", f"{seconds:.1f} s")
            if step == "register":
                promoted = state.promote()
                if promoted:
                    result.promoted = promoted
                    say(step, "promoted", promoted)
            if step == until:
                break
    finally:
        state.close()
    result.run_dir = _write_summary(settings.data_dir, result)
    return result


def _write_summary(data_dir: Path, result: PipelineResult) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    run_dir = data_dir / "pipeline" / "runs" / result.config.name / stamp
    run_dir.mkdir(parents=True, exist_ok=False)
    result.run_dir = run_dir
    doc = result.to_dict()
    doc["config"] = result.config.to_dict()
    doc["code_version"] = _code_version()
    write_json(run_dir / "summary.json", doc)
    return run_dir


def _code_version() -> str:
    from lithoscope.pipeline.train import code_version

    return code_version()


def _headline(evaluation: dict[str, Any]) -> dict[str, Any]:
    """Flat metrics of an evaluation (``raman.top1``, ``fused.coverage@0.9`` ...)."""
    out: dict[str, Any] = {}
    for method, block in (evaluation.get("methods") or {}).items():
        for k in ("n", "top1", "top3", "macro_f1", "ece"):
            if block.get(k) is not None:
                out[f"{method}.{k}"] = block[k]
        for c in block.get("coverage") or []:
            out[f"{method}.coverage@{c['level']:g}"] = c["coverage"]
            out[f"{method}.set_size@{c['level']:g}"] = c["mean_set_size"]
    for k, v in (evaluation.get("mixture") or {}).items():
        if isinstance(v, int | float) and not isinstance(v, bool):
            out[f"mixture.{k}"] = v
    return out


# ---------------------------------------------------------------------------------- steps
class _State:
    """The steps' inputs, work and checks; one method per step (``run_<step>``)."""

    def __init__(self, config: PipelineConfig, cache: _Cache, database_url: str | None) -> None:
        self.config = config
        self.cache = cache
        self.database_url = database_url
        self.keys: dict[str, str] = {}
        self.outputs: dict[str, dict[str, Any]] = {}
        self._db: Any = None

    # ------------------------------------------------------------------ plumbing
    @property
    def db(self) -> Any:
        if self._db is None:
            from lithoscope.mindb import connect

            self._db = connect(self.database_url)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def done(self, step: str, key: str, output: dict[str, Any]) -> None:
        self.keys[step] = key
        self.outputs[step] = output

    def key(self, step: str) -> tuple[str, dict[str, Any]]:
        inputs = {
            "step": step,
            "lithoscope": __version__,
            "code": code_digest(),
            **getattr(self, f"inputs_{step}")(),
        }
        return _digest(inputs), inputs

    def folder(self, step: str) -> Path:
        return self.cache.folder(step, self.keys[step])

    def db_url(self) -> str:
        return self.db.url

    def fingerprint(self) -> str:
        """MinDB's spectra and curated facts, cheaply: the spectra's content checksums and the
        curated data's state (what a dataset is built from)."""
        info = self.db.info()
        digest = hashlib.sha256()
        for checksum in sorted(self.db.spectrum_checksums()):
            digest.update(checksum.encode())
        digest.update(json.dumps(jsonable(info.get("curated")), sort_keys=True).encode())
        digest.update(str(info.get("minerals")).encode())
        return digest.hexdigest()[:16]

    # ------------------------------------------------------------------ fetch
    def inputs_fetch(self) -> dict[str, Any]:
        c = self.config.data
        return {"sources": c.sources, "mirror": c.mirror}

    def run_fetch(self, folder: Path, final: Path) -> dict[str, Any]:
        from lithoscope.data.fetch import fetch
        from lithoscope.data.sources import SOURCES

        files: dict[str, list[dict[str, Any]]] = {}
        for source in self.config.data.sources:
            path = Path(source).expanduser()
            if path.exists():
                files[source] = [{"path": str(p), "sha256": _sha256(p)} for p in _files_of(path)]
            elif source in SOURCES:
                got = fetch(source, mirror=self.config.data.mirror, progress=False)
                files[source] = [{"path": str(f.path), "sha256": f.sha256} for f in got.files]
            else:
                valid = ", ".join(sorted(SOURCES))
                raise InputError(
                    f"data.sources: {source!r} is neither a file or folder nor a source "
                    f"({valid}); fix the config"
                )
        return {"files": files}

    def still_valid_fetch(self, output: dict[str, Any], folder: Path) -> bool:
        return all(
            Path(f["path"]).is_file() and os.path.getsize(f["path"]) > 0
            for group in output["files"].values()
            for f in group
        )

    # ------------------------------------------------------------------ ingest
    def inputs_ingest(self) -> dict[str, Any]:
        return {"fetch": self.keys["fetch"], "database": self.db_url()}

    def run_ingest(self, folder: Path, final: Path) -> dict[str, Any]:
        from lithoscope.data.ingest import ingest

        db = self.db
        build = db.build()
        reports = {}
        for source in self.config.data.sources:
            report = ingest(db, source, mirror=self.config.data.mirror, progress=False)
            reports[source] = report.to_dict() if hasattr(report, "to_dict") else str(report)
        return {
            "built": not build.unchanged,
            "reports": reports,
            "fingerprint": self.fingerprint(),
        }

    def still_valid_ingest(self, output: dict[str, Any], folder: Path) -> bool:
        # MinDB changed since (another ingest, a rebuild): ingest again (a no-op for what is
        # there already) so that the dataset sees the current spectra
        return bool(output.get("fingerprint") == self.fingerprint())

    # ------------------------------------------------------------------ dataset
    def inputs_dataset(self) -> dict[str, Any]:
        c = self.config
        return {
            "mindb": self.outputs["ingest"]["fingerprint"],
            "dataset": c.dataset.model_dump(),
            "seed": c.seed,
        }

    def run_dataset(self, folder: Path, final: Path) -> dict[str, Any]:
        from lithoscope.data.datasets import DatasetSpec, build_dataset
        from lithoscope.spectra.preprocessing import make_preset

        c = self.config
        manifest: dict[str, Any] = {}
        for method in c.dataset.methods:
            pipe = make_preset(method)
            spec = DatasetSpec.from_pipeline(
                pipe, min_spectra_per_mineral=c.dataset.min_spectra_per_mineral
            )
            dataset = build_dataset(self.db, spec, pipeline=pipe)
            test = sample_split(dataset.groups, c.dataset.test_size, f"{c.seed}:test")
            rest_fraction = c.dataset.calibration_size
            cal = ~test & sample_split(dataset.groups, rest_fraction, f"{c.seed}:calibration")
            split = np.where(test, "test", np.where(cal, "calibration", "fit"))
            np.savez(
                folder / f"{method}.npz",
                X=dataset.X,
                axis=np.asarray(dataset.axis),
                y=dataset.y.astype(str),
                groups=dataset.groups.astype(str),
                split=split.astype(str),
                spectrum_id=np.array(
                    [m["spectrum_id"] for m in dataset.collection.metadata], dtype=np.int64
                ),
            )
            write_json(
                folder / f"{method}.json",
                {
                    "version": dataset.version,
                    "info": dataset.info,
                    "spec": spec.to_dict(),
                    "metadata": dataset.collection.metadata,
                },
            )
            counts = {s: int((split == s).sum()) for s in ("fit", "calibration", "test")}
            fit_minerals = set(dataset.y[split == "fit"].tolist())
            manifest[method] = {
                "version": dataset.version,
                "n_spectra": len(dataset),
                "n_minerals": int(np.unique(dataset.y).size),
                "n_samples": int(np.unique(dataset.groups).size),
                "spectra": counts,
                "test_minerals_unseen": len(
                    set(dataset.y[split == "test"].tolist()) - fit_minerals
                ),
                "preprocessing_sha256": _digest(spec.preprocessing),
            }
        version = _digest({m: v["version"] for m, v in manifest.items()})
        return {"version": version, "methods": manifest}

    def still_valid_dataset(self, output: dict[str, Any], folder: Path) -> bool:
        return all((folder / f"{m}.npz").is_file() for m in output["methods"])

    def load_dataset(self, method: str) -> tuple[Any, np.ndarray]:
        return read_dataset(self.folder("dataset"), method)

    # ------------------------------------------------------------------ train
    def inputs_train(self) -> dict[str, Any]:
        c = self.config
        return {
            "dataset": self.keys["dataset"],
            "model": c.model.model_dump(),
            "mixture": c.mixture.model_dump(),
            "seed": c.seed,
        }

    def _params(self) -> dict[str, Any]:
        """The model's parameters, with the config's seed as its ``random_state``."""
        from lithoscope.models.kinds import make_model

        params = dict(self.config.model.params)
        probe = make_model(self.config.model.kind, method=self.config.dataset.methods[0])
        if "random_state" in probe.get_params(deep=False) and "random_state" not in params:
            params["random_state"] = self.config.seed
        return params

    def run_train(self, folder: Path, final: Path) -> dict[str, Any]:
        from lithoscope.pipeline.bundle import IdentificationModel
        from lithoscope.pipeline.train import fit_part

        c = self.config
        parts = {}
        seconds = {}
        for method in c.dataset.methods:
            dataset, split = self.load_dataset(method)
            start = time.perf_counter()
            trained = fit_part(
                self.db,
                dataset,
                c.model.kind,
                fit_idx=np.flatnonzero(split == "fit"),
                cal_idx=np.flatnonzero(split == "calibration"),
                params=self._params(),
                mixture=c.mixture.enabled,
                mixture_network=c.mixture.network,
                mixture_params=dict(c.mixture.params) or None,
                calibration_size=c.dataset.calibration_size,
                test_idx=np.flatnonzero(split == "test"),
            )
            seconds[method] = round(time.perf_counter() - start, 2)
            parts[method] = trained.part
        provenance = self._provenance({"fit_seconds": seconds})
        IdentificationModel(parts, provenance).save(folder / "bundle")
        return {"bundle": str(final / "bundle"), "fit_seconds": seconds}

    def _provenance(self, metrics: dict[str, Any]) -> dict[str, Any]:
        c = self.config
        datasets = self.outputs["dataset"]["methods"]
        first = datasets[c.dataset.methods[0]]
        provenance: dict[str, Any] = {
            "code_version": _code_version(),
            "dataset_version": first["version"],
            "config": {
                "method": ",".join(c.dataset.methods),
                "kind": c.model.kind,
                "params": self._params(),
                "min_spectra_per_mineral": c.dataset.min_spectra_per_mineral,
                "calibration_size": c.dataset.calibration_size,
                "test_size": c.dataset.test_size,
                "split": f"by a hash of seed {c.seed} and the sample id",
                "mixture": c.mixture.model_dump() if c.mixture.enabled else None,
            },
            "pipeline": {
                "name": c.name,
                "config_sha256": c.sha256(),
                "dataset": self.outputs["dataset"]["version"],
                "steps": dict(self.keys),
            },
            "metrics": metrics,
        }
        if len(datasets) > 1:
            provenance["datasets"] = {m: d["version"] for m, d in datasets.items()}
        return provenance

    def still_valid_train(self, output: dict[str, Any], folder: Path) -> bool:
        from lithoscope.pipeline.bundle import IdentificationModel

        return IdentificationModel.is_bundle(output["bundle"])

    # ------------------------------------------------------------------ calibrate
    def inputs_calibrate(self) -> dict[str, Any]:
        return {"train": self.keys["train"]}

    def run_calibrate(self, folder: Path, final: Path) -> dict[str, Any]:
        from lithoscope.pipeline.bundle import IdentificationModel
        from lithoscope.pipeline.train import TrainedPart, calibrate_fusion, calibrate_part

        bundle = IdentificationModel.load(self.outputs["train"]["bundle"])
        trained = []
        for method in bundle.methods:
            dataset, split = self.load_dataset(method)
            part = TrainedPart(
                bundle.part(method),
                dataset,
                np.flatnonzero(split == "calibration"),
                int((split == "fit").sum()),
            )
            trained.append(calibrate_part(self.db, part))
        if len(trained) > 1:
            bundle.fusion = calibrate_fusion(trained)
        out_bundle = IdentificationModel(
            {t.part.method: t.part for t in trained},
            dict(bundle.provenance),
            fusion=bundle.fusion,
        )
        out_bundle.save(folder / "bundle")
        summary = {t.part.method: t.part.calibration for t in trained}
        if bundle.fusion is not None:
            summary["fused"] = bundle.fusion.summary
        return {"bundle": str(final / "bundle"), "calibration": summary}

    def still_valid_calibrate(self, output: dict[str, Any], folder: Path) -> bool:
        return self.still_valid_train(output, folder)

    # ------------------------------------------------------------------ evaluate
    def inputs_evaluate(self) -> dict[str, Any]:
        return {"calibrate": self.keys["calibrate"], "evaluate": self.config.evaluate.model_dump()}

    def run_evaluate(self, folder: Path, final: Path) -> dict[str, Any]:
        from lithoscope.pipeline.bundle import IdentificationModel
        from lithoscope.pipeline.evaluate import evaluate_labelled
        from lithoscope.spectra.measurement import Measurement

        c = self.config
        bundle = IdentificationModel.load(self.outputs["calibrate"]["bundle"])
        methods: dict[str, Any] = {}
        by_sample: dict[str, dict[str, Any]] = {}
        truth_of: dict[str, str] = {}
        unseen: dict[str, int] = {}
        for method in bundle.methods:
            dataset, split = self.load_dataset(method)
            known = set(bundle.part(method).classes.tolist())
            test = np.flatnonzero(split == "test")
            keep = [i for i in test.tolist() if dataset.y[i] in known]
            unseen[method] = int(test.size - len(keep))
            ids = [int(dataset.collection.metadata[i]["spectrum_id"]) for i in keep]
            spectra = {s.metadata.get("spectrum_id"): s for s in self.db.spectra(ids=ids)}
            measurements, truths = [], []
            for i, sid in zip(keep, ids, strict=True):
                spectrum = spectra[sid]
                measurements.append(Measurement.of(spectrum, name=f"spectrum {sid}"))
                truths.append(str(dataset.y[i]))
                sample = str(dataset.groups[i])
                by_sample.setdefault(sample, {}).setdefault(method, spectrum)
                truth_of.setdefault(sample, str(dataset.y[i]))
            methods[method] = evaluate_labelled(
                measurements,
                truths,
                bundle,
                db=self.db,
                levels=c.evaluate.levels,
                n_bins=c.evaluate.reliability_bins,
            )
        if len(bundle.methods) > 1:
            several = {s: v for s, v in by_sample.items() if len(v) > 1}
            if several:
                fused = [Measurement(v, name=f"sample {s}") for s, v in several.items()]
                methods["fused"] = evaluate_labelled(
                    fused,
                    [truth_of[s] for s in several],
                    bundle,
                    db=self.db,
                    levels=c.evaluate.levels,
                    n_bins=c.evaluate.reliability_bins,
                )
        for block in methods.values():
            block["refused"] = len(block["refused"])
        evaluation: dict[str, Any] = {
            "model": None,
            "dataset": self._dataset_summary(),
            "methods": methods,
            "test_spectra_of_unseen_minerals": unseen,
        }
        mixture = self._mixture_evaluation(bundle)
        if mixture:
            evaluation["mixture"] = mixture
        write_json(folder / "evaluation.json", evaluation)
        return {"evaluation": evaluation}

    def _dataset_summary(self) -> dict[str, Any]:
        methods = self.outputs["dataset"]["methods"]
        return {
            "version": self.outputs["dataset"]["version"],
            "n_spectra": sum(m["n_spectra"] for m in methods.values()),
            "n_minerals": max(m["n_minerals"] for m in methods.values()),
            "n_test_spectra": sum(m["spectra"]["test"] for m in methods.values()),
        }

    def _mixture_evaluation(self, bundle: Any) -> dict[str, Any]:
        """The mixture model's figures on the test side (`evaluate_mixture_model`)."""
        from lithoscope.pipeline.mixture import evaluate_mixture_model
        from lithoscope.spectra.preprocessing import pipeline_from_dict

        for method in bundle.methods:
            part = bundle.part(method)
            if part.mixture is None:
                continue
            dataset, split = self.load_dataset(method)
            figures = evaluate_mixture_model(
                self.db,
                dataset,
                part.mixture,
                np.flatnonzero(split == "test"),
                pipeline=pipeline_from_dict(dataset.spec.preprocessing),
                random_state=self.config.seed,
            )
            return {"method": method, **figures}
        return {}

    def still_valid_evaluate(self, output: dict[str, Any], folder: Path) -> bool:
        return "evaluation" in output

    # ------------------------------------------------------------------ register
    def inputs_register(self) -> dict[str, Any]:
        r = self.config.registration
        return {
            "calibrate": self.keys["calibrate"],
            "evaluate": self.keys["evaluate"],
            "name": self.config.model_name,
            "track": r.track,
            "experiment": r.experiment,
            "registry": str(get_settings().models_dir),
        }

    def run_register(self, folder: Path, final: Path) -> dict[str, Any]:
        from lithoscope.pipeline.bundle import IdentificationModel
        from lithoscope.pipeline.registry import Registry

        c = self.config
        evaluation = self.outputs["evaluate"]["evaluation"]
        source = IdentificationModel.load(self.outputs["calibrate"]["bundle"])
        provenance = dict(source.provenance)
        provenance["metrics"] = {**dict(provenance.get("metrics") or {}), **_headline(evaluation)}
        provenance["pipeline"] = {
            **dict(provenance.get("pipeline") or {}),
            "steps": dict(self.keys),
        }
        bundle = IdentificationModel(
            {m: source.part(m) for m in source.methods}, provenance, fusion=source.fusion
        )
        registry = Registry()
        ref = registry.register(bundle, c.model_name)
        output: dict[str, Any] = {"model": str(ref), "path": str(ref.path)}
        if c.registration.track:
            output["mlflow"] = self._track(ref, bundle, evaluation)
        return output

    def promote(self) -> str | None:
        """With ``register.promote``: make the registered model its methods' default (cached or
        not; nothing to do when it already is). Returns the model when this call promoted it."""
        from lithoscope.pipeline.registry import Registry

        if not self.config.registration.promote:
            return None
        model = self.outputs["register"]["model"]
        registry = Registry()
        defaults = registry.defaults()
        methods = self.config.dataset.methods
        if all(defaults.get(m) == model for m in methods):
            return None
        from lithoscope.pipeline.tracking import promote

        promote(model, registry=registry)
        return model

    def _track(self, ref: Any, bundle: Any, evaluation: dict[str, Any]) -> dict[str, Any]:
        from lithoscope.pipeline.tracking import log_run, register_model

        c = self.config
        dataset_manifest = {
            "version": self.outputs["dataset"]["version"],
            "methods": self.outputs["dataset"]["methods"],
            "mindb": self.outputs["ingest"]["fingerprint"],
            "sources": self.outputs["fetch"]["files"],
        }
        run = log_run(
            run_name=f"{c.name} {ref}",
            params={"config": c.to_dict()},
            metrics=_headline(evaluation),
            tags={
                "lithoscope.model": str(ref),
                "lithoscope.config_sha256": c.sha256(),
                "lithoscope.code_version": _code_version(),
                "lithoscope.dataset_version": self.outputs["dataset"]["version"],
            },
            documents={
                "config.json": c.to_dict(),
                "dataset_manifest.json": dataset_manifest,
                "preprocessing.json": {m: bundle.part(m).preprocessing for m in bundle.methods},
                "evaluation.json": evaluation,
            },
            artifacts={"model": Path(ref.path)},
            experiment=c.registration.experiment,
        )
        version = register_model(ref, run=run, lineage=bundle.provenance)
        return {"run_id": run.run_id, "experiment_id": run.experiment_id, "model_version": version}

    def still_valid_register(self, output: dict[str, Any], folder: Path) -> bool:
        from lithoscope.pipeline.bundle import IdentificationModel

        return IdentificationModel.is_bundle(output["path"])

    # ------------------------------------------------------------------ report
    def inputs_report(self) -> dict[str, Any]:
        # what register made, not only its key: a deleted version registered again is another
        # version (another MLflow run) that the report's lineage names
        registered = {k: v for k, v in self.outputs["register"].items() if k != "inputs"}
        return {
            "evaluate": self.keys["evaluate"],
            "register": self.keys["register"],
            "registered": _digest(registered),
        }

    def run_report(self, folder: Path, final: Path) -> dict[str, Any]:
        from lithoscope.pipeline.report import write_report

        evaluation = dict(self.outputs["evaluate"]["evaluation"])
        registered = self.outputs["register"]
        evaluation["model"] = registered["model"]
        lineage = self._lineage(registered)
        files = write_report(evaluation, folder, lineage=lineage, title=self.config.name)
        output: dict[str, Any] = {
            "html": str(final / files.html.name),
            "plots": [str(final / p.name) for p in files.plots],
        }
        mlflow = registered.get("mlflow")
        if mlflow:
            from lithoscope.pipeline.tracking import TrackedRun, add_artifacts, tracking_uri

            run = TrackedRun(mlflow["run_id"], mlflow["experiment_id"], tracking_uri())
            add_artifacts(run, {"report": files.html, "plots": files.plots})
        return output

    def _lineage(self, registered: dict[str, Any]) -> dict[str, Any]:
        from lithoscope.pipeline.bundle import IdentificationModel

        bundle = IdentificationModel.load(registered["path"])
        prov = bundle.provenance or {}
        return {
            "model": registered["model"],
            "dataset_version": self.outputs["dataset"]["version"],
            "config": self.config.to_dict(),
            "config_sha256": self.config.sha256(),
            "code_version": prov.get("code_version"),
            "metrics": prov.get("metrics"),
            **({"mlflow": registered["mlflow"]} if registered.get("mlflow") else {}),
        }

    def still_valid_report(self, output: dict[str, Any], folder: Path) -> bool:
        return Path(output["html"]).is_file()

    # ------------------------------------------------------------------ checks
    def still_valid(self, step: str, output: dict[str, Any], folder: Path) -> bool:
        try:
            return bool(getattr(self, f"still_valid_{step}")(output, folder))
        except (KeyError, TypeError, OSError, InputError):
            return False


def read_dataset(folder: str | Path, method: str) -> tuple[Any, np.ndarray]:
    """The `Dataset` of ``method`` a dataset step wrote into ``folder``, and each spectrum's
    split (``"fit"``, ``"calibration"`` or ``"test"``)."""
    from lithoscope.data.datasets import Dataset, DatasetSpec
    from lithoscope.methods import DEFAULT_UNIT, Method
    from lithoscope.spectra.spectrum import SpectralCollection

    folder = Path(folder)
    with np.load(folder / f"{method}.npz", allow_pickle=False) as arrays:
        X, axis = arrays["X"], arrays["axis"]
        y = arrays["y"].astype(object)
        groups = arrays["groups"].astype(object)
        split = arrays["split"].astype(str)
    doc = read_json(folder / f"{method}.json", what="dataset metadata")
    spec_doc = dict(doc["spec"])
    spec = DatasetSpec(
        method=spec_doc["method"],
        grid=tuple(spec_doc["grid"]),
        min_spectra_per_mineral=spec_doc["min_spectra_per_mineral"],
        lasers=tuple(spec_doc["lasers"]) if spec_doc.get("lasers") else None,
        outside=spec_doc["outside"],
        preprocessing=spec_doc["preprocessing"],
    )
    m = Method(method)
    collection = SpectralCollection(axis, X, m, DEFAULT_UNIT[m], list(doc["metadata"]))
    return Dataset(collection, y, groups, doc["version"], spec, dict(doc["info"])), split


def _files_of(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file())


def _sha256(path: Path) -> str:
    from lithoscope._files import sha256_file

    return sha256_file(path)
