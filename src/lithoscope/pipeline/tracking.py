"""MLflow tracking of training runs, the MLflow model registry, promotion and lineage.

A pipeline run is logged with `log_run` (flattened parameters, metrics, JSON documents such as
the dataset manifest, and artifacts such as the model bundle, plots and report); a model
registered in lithoscope's own `Registry` is mirrored as an MLflow model version with
`register_model` (registered model name = lithoscope model name; tags tie the two together).
`promote` pins a method's default model to one version in the lithoscope registry, so that
``lithoscope identify`` without ``--model`` uses it, and sets an MLflow alias on the matching
MLflow version when there is one. `lineage` gathers what a model was made from: dataset
version, data checksums, configuration, code version, metrics, and its MLflow run and version.

The store is ``Settings.mlflow_tracking_uri`` (``LITHOSCOPE_MLFLOW_TRACKING_URI``): a tracking
server (``http://127.0.0.1:5000``) or a database; by default the SQLite file
``<data_dir>/mlflow/mlflow.db`` with artifacts in ``<data_dir>/mlflow/artifacts``, never the
working directory (MLflow's own default is ``./mlruns``). MLflow is imported only when a function
here talks to it (``pip install 'lithoscope[track]'`` installs the small ``mlflow-skinny``);
`promote` and `lineage` work without it and say so in their result. Unless the environment says
otherwise (``MLFLOW_DISABLE_TELEMETRY=false``), lithoscope turns MLflow's usage telemetry off,
and keeps MLflow's "View run" links off stdout (``MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT``).

Only ``MlflowClient`` is used, never MLflow's process-global "active run", so two runs logged by
two threads or processes do not mix.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import math
import numbers
import os
import re
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from lithoscope import __version__
from lithoscope._files import jsonable, sha256_file
from lithoscope.config import Settings, ensure_folder, get_settings
from lithoscope.errors import InputError
from lithoscope.pipeline.registry import ModelRef, Registry

__all__ = [
    "Promotion",
    "TrackedRun",
    "add_artifacts",
    "flatten_params",
    "lineage",
    "log_run",
    "promote",
    "register_model",
    "tracking_uri",
]

INSTALL_HINT = "pip install 'lithoscope[track]'"
DEFAULT_EXPERIMENT = "lithoscope"

# MLflow's limits (mlflow.utils.validation): checked here so that a long configuration is
# shortened on purpose rather than refused by the store half-way through a run
_MAX_KEY = 250
_MAX_PARAM_VALUE = 6000
_MAX_TAG_VALUE = 8000
_PARAMS_PER_BATCH = 100
_METRICS_PER_BATCH = 1000
_KEY_BAD = re.compile(r"[^\w.\- :]")
_ALIAS = re.compile(r"^[\w\-]+$")
_DB_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
_HEALTH_TIMEOUT = 5.0


@dataclass(frozen=True)
class TrackedRun:
    """An MLflow run that `log_run` wrote.

    Attributes
    ----------
    run_id : str
    experiment_id : str
    tracking_uri : str
        The store it lives in.
    """

    run_id: str
    experiment_id: str
    tracking_uri: str


@dataclass(frozen=True)
class Promotion(ModelRef):
    """The promoted version (a `ModelRef`) and what promotion did.

    Attributes
    ----------
    methods : tuple of str
        Methods whose default is now pinned to this version.
    alias : str
    mlflow : dict
        ``tracking_uri``, ``model_version`` (None when MLflow does not know the model) and
        ``alias_set``; ``note`` says why no alias was set.
    """

    methods: tuple[str, ...] = ()
    alias: str = "production"
    mlflow: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": str(self),
            "path": str(self.path),
            "methods": list(self.methods),
            "alias": self.alias,
            "mlflow": dict(self.mlflow),
        }


# ---------------------------------------------------------------------- the store
def tracking_uri(settings: Settings | None = None) -> str:
    """The MLflow tracking and registry URI lithoscope logs to.

    Parameters
    ----------
    settings : Settings, optional
        Default: `get_settings`.

    Returns
    -------
    str
        ``Settings.mlflow_tracking_uri``, or the SQLite store ``<data_dir>/mlflow/mlflow.db``.

    Examples
    --------
    >>> tracking_uri(Settings(data_dir="/tmp/lithoscope-example"))
    'sqlite:////tmp/lithoscope-example/mlflow/mlflow.db'
    """
    settings = settings or get_settings()
    if settings.mlflow_tracking_uri:
        return settings.mlflow_tracking_uri
    return f"sqlite:///{settings.data_dir / 'mlflow' / 'mlflow.db'}"


def _scheme(uri: str) -> str:
    return uri.split(":", 1)[0].split("+", 1)[0].lower() if ":" in uri else ""


def _is_remote(uri: str) -> bool:
    return _scheme(uri) in ("http", "https") or _scheme(uri).startswith("databricks")


def _sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (None: not SQLite, or in memory)."""
    if _scheme(uri) != "sqlite":
        return None
    from sqlalchemy.engine import make_url

    database = make_url(uri).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _artifact_root(uri: str) -> Path | None:
    """Where runs of a database store keep artifacts: beside a SQLite file, else in the data
    folder. None: the store decides (a server, a file store)."""
    if _scheme(uri) not in _DB_SCHEMES:
        return None
    db_file = _sqlite_file(uri)
    if db_file is not None:
        return db_file.resolve().parent / "artifacts"
    return get_settings().data_dir / "mlflow" / "artifacts"


def _import_mlflow() -> Any:
    """``mlflow.MlflowClient``, or a one-line `InputError` saying what to install."""
    # usage telemetry is MLflow's own network traffic, not something lithoscope was asked for;
    # stdout belongs to lithoscope's output (--json), not to MLflow's "View run" links
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    try:
        from mlflow import MlflowClient
    except ImportError as exc:
        missing = exc.name or "mlflow"
        raise InputError(
            f"MLflow tracking needs mlflow-skinny ({missing} is not installed); {INSTALL_HINT}"
        ) from None
    # creating a new SQLite store logs its table creation at INFO on stderr, between
    # lithoscope's progress lines; keep it unless the user configured that logger
    for name in ("mlflow.store.db.utils", "alembic.runtime.migration"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
    return MlflowClient


def _check_server(uri: str) -> None:
    """Fail fast on a tracking server that does not answer (MLflow itself retries for minutes)."""
    if _scheme(uri) not in ("http", "https"):
        return
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=_HEALTH_TIMEOUT):
            pass
    except urllib.error.HTTPError:
        return  # it answered; authentication and the like are MLflow's to report
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(
            f"MLflow tracking server {uri} does not answer ({reason}); start it or fix "
            "LITHOSCOPE_MLFLOW_TRACKING_URI"
        ) from None


def _client(uri: str, *, create: bool) -> Any:
    """An ``MlflowClient`` on ``uri`` (tracking and registry).

    ``create=False`` refuses, with the reason, a local SQLite store that does not exist yet,
    so that reading lineage never creates one.
    """
    if importlib.util.find_spec("mlflow") is None:  # said before anything is looked at
        raise InputError(f"MLflow tracking needs mlflow-skinny (not installed); {INSTALL_HINT}")
    db_file = _sqlite_file(uri)
    if db_file is not None and not create and not db_file.is_file():
        raise InputError(f"no MLflow store at {db_file} yet (nothing was tracked)")
    client_cls = _import_mlflow()  # ~2 s: only once a store is there to talk to
    if db_file is not None and create:
        ensure_folder(
            db_file.parent,
            what="the MLflow store folder",
            fix="set LITHOSCOPE_MLFLOW_TRACKING_URI or LITHOSCOPE_DATA_DIR to a place you can "
            "write to",
        )
    _check_server(uri)
    return client_cls(tracking_uri=uri, registry_uri=uri)


@contextlib.contextmanager
def _mlflow_errors(uri: str) -> Iterator[None]:
    """MLflow's exceptions as one-line `InputError` naming the store."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        lines = str(exc.message if hasattr(exc, "message") else exc).strip().splitlines()
        detail = (lines or [type(exc).__name__])[0][:300]
        raise InputError(
            f"MLflow store {uri}: {detail}; check LITHOSCOPE_MLFLOW_TRACKING_URI"
        ) from None


def _error_code(exc: BaseException) -> str | None:
    return getattr(exc, "error_code", None)


# ---------------------------------------------------------------------- keys and values
def _key(key: Any, *, what: str) -> str:
    """A name MLflow accepts: letters, digits, ``_ - . : /`` and spaces (others become ``_``)."""
    text = _KEY_BAD.sub("_", str(key)).strip()
    if text in ("", ".", ".."):
        raise InputError(f"{what} name {key!r} is empty after removing characters MLflow refuses")
    if len(text) > _MAX_KEY:
        raise InputError(f"{what} name {text[:40]!r}... is longer than MLflow's {_MAX_KEY}")
    return text


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    marker = f"... [{len(text)} characters; see the run's documents]"
    return text[: limit - len(marker)] + marker


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested parameters as MLflow parameters: dotted keys, text values within MLflow's limits.

    Parameters
    ----------
    params : mapping
        Values are mappings (flattened), text, or anything JSON can write (written as JSON).
    prefix : str, optional

    Returns
    -------
    dict of str to str
        Values longer than MLflow's 6000 characters end with a note of their length.

    Raises
    ------
    InputError
        Two keys that become one name.

    Examples
    --------
    >>> flatten_params({"model": {"kind": "library", "params": {"k": 3}}, "seed": None})
    {'model.kind': 'library', 'model.params.k': '3', 'seed': 'null'}
    """
    out: dict[str, str] = {}
    for raw_key, value in params.items():
        key = f"{prefix}.{raw_key}" if prefix else str(raw_key)
        if isinstance(value, Mapping) and value:
            items = flatten_params(value, key).items()
        else:
            text = value if isinstance(value, str) else json.dumps(jsonable(value), sort_keys=True)
            items = [(_key(key, what="parameter"), _clip(text, _MAX_PARAM_VALUE))]
        for k, v in items:
            if k in out:
                raise InputError(f"parameters {key!r} and another one are both named {k!r}")
            out[k] = v
    return out


def _flat_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Metric name -> float; None and non-finite values are left out (MLflow stores no NaN)."""
    out: dict[str, float] = {}
    for raw_key, value in metrics.items():
        key = f"{prefix}.{raw_key}" if prefix else str(raw_key)
        if isinstance(value, Mapping):
            out.update(_flat_metrics(value, key))
            continue
        if value is None:
            continue
        if not isinstance(value, numbers.Real):
            raise InputError(f"metric {key!r}: expected a number, got {value!r}")
        number = float(value)
        if math.isfinite(number):
            out[_key(key, what="metric")] = number
    return out


def _tags(tags: Mapping[str, Any]) -> dict[str, str]:
    return {
        _key(k, what="tag"): _clip(str(v), _MAX_TAG_VALUE) for k, v in tags.items() if v is not None
    }


def _artifact_dir(name: str) -> str:
    """An artifact folder or file name: a relative POSIX path inside the run."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\\" in name:
        raise InputError(f"artifact name {name!r} must be a relative path inside the run (no '..')")
    return path.as_posix()


# ---------------------------------------------------------------------- runs
def log_run(
    *,
    run_name: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    tags: Mapping[str, str] | None = None,
    documents: Mapping[str, Any] | None = None,
    artifacts: Mapping[str, Path | Sequence[Path]] | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    uri: str | None = None,
) -> TrackedRun:
    """Log one finished run to MLflow.

    Parameters
    ----------
    run_name : str
    params : mapping
        Nested mappings become dotted keys (`flatten_params`).
    metrics : mapping of str to float
        None and non-finite values are left out; names with characters MLflow refuses
        (``coverage@0.9``) have them replaced by ``_``.
    tags : mapping of str to str, optional
        ``lithoscope.version`` is added.
    documents : mapping of str to object, optional
        Artifact file name -> JSON-able object (``"dataset_manifest.json"``, ``"config.json"``).
    artifacts : mapping of str to Path or sequence of Path, optional
        Artifact folder -> a file, a folder or several of them to upload
        (``{"model": bundle_dir, "plots": [a.png, b.png], "report": report_html}``).
    experiment : str
        Created when missing, with its artifacts in the store's artifact folder.
    uri : str, optional
        Default: `tracking_uri`.

    Returns
    -------
    TrackedRun

    Raises
    ------
    InputError
        MLflow is not installed, the store cannot be reached or refuses the run (the run is
        then marked FAILED), or an input cannot be logged.
    """
    uri = uri or tracking_uri()
    flat_params = flatten_params(params)
    flat_metrics = _flat_metrics(metrics)
    run_tags = _tags({"lithoscope.version": __version__, **dict(tags or {})})
    documents = dict(documents or {})
    for name in documents:
        _artifact_dir(name)
    artifacts = dict(artifacts or {})
    _check_artifacts(artifacts)
    client = _client(uri, create=True)
    from mlflow.entities import Metric, Param

    with _mlflow_errors(uri):
        experiment_id = _experiment(client, experiment, uri)
        run = client.create_run(experiment_id, run_name=run_name, tags=run_tags)
        run_id = run.info.run_id
        status = "FAILED"
        try:
            items = [Param(k, v) for k, v in flat_params.items()]
            for i in range(0, len(items), _PARAMS_PER_BATCH):
                client.log_batch(run_id, params=items[i : i + _PARAMS_PER_BATCH])
            now = int(time.time() * 1000)
            values = [Metric(k, v, now, 0) for k, v in flat_metrics.items()]
            for i in range(0, len(values), _METRICS_PER_BATCH):
                client.log_batch(run_id, metrics=values[i : i + _METRICS_PER_BATCH])
            if documents:
                with tempfile.TemporaryDirectory(prefix="lithoscope-mlflow-") as tmp:
                    for name, doc in documents.items():
                        rel = _artifact_dir(name)
                        target = Path(tmp) / rel
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_text(
                            json.dumps(jsonable(doc), indent=2, ensure_ascii=False),
                            encoding="utf-8",
                        )
                        parent = PurePosixPath(rel).parent.as_posix()
                        client.log_artifact(run_id, str(target), None if parent == "." else parent)
            _upload(client, run_id, artifacts)
            status = "FINISHED"
        finally:
            client.set_terminated(run_id, status)
    return TrackedRun(run_id, experiment_id, uri)


def add_artifacts(
    run: TrackedRun, artifacts: Mapping[str, Path | Sequence[Path]], *, uri: str | None = None
) -> None:
    """Upload more artifacts to a run `log_run` wrote (a report made after registration).

    Parameters
    ----------
    run : TrackedRun
    artifacts : mapping of str to Path or sequence of Path
        As in `log_run`.
    uri : str, optional
        Default: the run's store.
    """
    uri = uri or run.tracking_uri
    artifacts = dict(artifacts)
    _check_artifacts(artifacts)
    client = _client(uri, create=False)
    with _mlflow_errors(uri):
        _upload(client, run.run_id, artifacts)


def _experiment(client: Any, name: str, uri: str) -> str:
    """The id of experiment ``name``, created (with lithoscope's artifact folder) if missing."""
    found = client.get_experiment_by_name(name)
    if found is None:
        root = _artifact_root(uri)
        location = None
        if root is not None:
            slug = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:100] or "experiment"
            location = (root / slug).as_uri()
        from mlflow.exceptions import MlflowException

        try:
            return str(client.create_experiment(name, artifact_location=location))
        except MlflowException as exc:  # created meanwhile by another process
            if _error_code(exc) != "RESOURCE_ALREADY_EXISTS":
                raise
            found = client.get_experiment_by_name(name)
    if found.lifecycle_stage != "active":
        raise InputError(
            f"MLflow experiment {name!r} was deleted in {uri}; restore it or choose another "
            "experiment name"
        )
    return str(found.experiment_id)


def _check_artifacts(artifacts: Mapping[str, Any]) -> None:
    for name, value in artifacts.items():
        _artifact_dir(name)
        for path in _paths(value):
            if not path.exists():
                raise InputError(f"artifact {name!r}: {path} does not exist")


def _paths(value: Path | Sequence[Path]) -> list[Path]:
    if isinstance(value, str | os.PathLike):
        return [Path(value)]
    return [Path(p) for p in value]


def _upload(client: Any, run_id: str, artifacts: Mapping[str, Path | Sequence[Path]]) -> None:
    for name, value in artifacts.items():
        folder = _artifact_dir(name)
        single = isinstance(value, str | os.PathLike)
        for path in _paths(value):
            if path.is_dir():
                # a folder given alone is the artifact folder; one of several keeps its name
                target = folder if single else f"{folder}/{path.name}"
                client.log_artifacts(run_id, str(path), target)
            else:
                client.log_artifact(run_id, str(path), folder)


# ---------------------------------------------------------------------- model registry
def _bundle_digest(path: Path) -> str:
    """sha256 of a bundle folder: every file's relative path and sha256, in order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in Path(path).rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(path).as_posix()}\t{sha256_file(file)}\n".encode())
    return digest.hexdigest()


def _config_sha256(lineage: Mapping[str, Any]) -> str | None:
    given = lineage.get("config_sha256") or (lineage.get("pipeline") or {}).get("config_sha256")
    if given:
        return str(given)
    if lineage.get("config") is None:
        return None
    text = json.dumps(jsonable(lineage["config"]), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _version_tags(ref: ModelRef, lineage: Mapping[str, Any], digest: str) -> dict[str, str]:
    tags: dict[str, Any] = {
        "lithoscope_ref": str(ref),
        "lithoscope_version": str(ref.version),
        "lithoscope_bundle_sha256": digest,
        "lithoscope_path": str(Path(ref.path).resolve()),
        "dataset_version": lineage.get("dataset_version"),
        "config_sha256": _config_sha256(lineage),
        "code_version": lineage.get("code_version"),
    }
    metrics = _flat_metrics(
        {k: v for k, v in (lineage.get("metrics") or {}).items() if _is_number_or_map(v)}
    )
    tags.update({f"metric.{k}": f"{v:.6g}" for k, v in metrics.items()})
    return _tags(tags)


def _is_number_or_map(value: Any) -> bool:
    return isinstance(value, Mapping) or (
        isinstance(value, numbers.Real) and not isinstance(value, bool)
    )


def register_model(
    ref: ModelRef,
    *,
    run: TrackedRun | None = None,
    lineage: Mapping[str, Any] | None = None,
    uri: str | None = None,
) -> int:
    """Register a lithoscope model version in the MLflow model registry.

    The registered model is named as the lithoscope model; the version carries the tags
    ``lithoscope_ref`` (``NAME@3``), ``lithoscope_version``, ``lithoscope_bundle_sha256``,
    ``dataset_version``, ``config_sha256``, ``code_version`` and ``metric.*``. Registering the
    same bundle again returns the version it already has.

    Parameters
    ----------
    ref : ModelRef
        A version in lithoscope's registry.
    run : TrackedRun, optional
        The run that made it: the version's source is the run's ``model`` artifact (the bundle
        is uploaded there if the run lacks it). Without a run the source is the bundle's folder,
        which only a local store accepts.
    lineage : mapping, optional
        Provenance to tag the version with; default: the bundle's provenance.
    uri : str, optional
        Default: the run's store, else `tracking_uri`.

    Returns
    -------
    int
        The MLflow model version.

    Raises
    ------
    InputError
        MLflow is not installed, the bundle is not a complete model, the store cannot be
        reached or refuses the version, or a server is given no run.
    """
    from lithoscope.pipeline.bundle import IdentificationModel

    uri = uri or (run.tracking_uri if run is not None else tracking_uri())
    path = Path(ref.path)
    bundle = IdentificationModel.load(path, ref=str(ref))  # checksums before anything is sent
    info = dict(lineage) if lineage is not None else dict(bundle.provenance or {})
    if run is None and _is_remote(uri):
        raise InputError(
            f"registering {ref} in the MLflow server {uri} needs the run holding its bundle: "
            "log it with log_run(..., artifacts={'model': path}) and pass run="
        )
    digest = _bundle_digest(path)
    tags = _version_tags(ref, info, digest)
    tags["methods"] = ",".join(bundle.methods)
    client = _client(uri, create=True)
    from mlflow.exceptions import MlflowException

    with _mlflow_errors(uri):
        existing = _find_version(client, ref, digest)
        if existing is not None:
            return int(existing.version)
        try:
            client.create_registered_model(
                ref.name, description="lithoscope identification model (lithoscope.Registry)"
            )
        except MlflowException as exc:
            if _error_code(exc) != "RESOURCE_ALREADY_EXISTS":
                raise
        if run is not None:
            if not client.list_artifacts(run.run_id, "model"):
                client.log_artifacts(run.run_id, str(path), "model")
            source, run_id = f"runs:/{run.run_id}/model", run.run_id
        else:
            source, run_id = str(path.resolve()), None
        version = client.create_model_version(
            ref.name, source, run_id=run_id, tags=tags, description=f"lithoscope {ref}"
        )
    return int(version.version)


def _find_version(client: Any, ref: ModelRef, digest: str | None) -> Any:
    """The newest MLflow version of ``ref`` with the same bundle (None: not registered)."""
    found = client.search_model_versions(f"name = '{ref.name}' and tags.lithoscope_ref = '{ref}'")
    same = [v for v in found if digest is None or v.tags.get("lithoscope_bundle_sha256") == digest]
    return max(same, key=lambda v: int(v.version)) if same else None


# ---------------------------------------------------------------------- promotion
def promote(
    spec: str,
    *,
    method: str | None = None,
    alias: str = "production",
    registry: Registry | None = None,
    uri: str | None = None,
) -> Promotion:
    """Make one model version the default of its methods, and alias it in MLflow.

    The lithoscope registry's default of every method the bundle identifies (or of ``method``
    alone) is pinned to exactly ``NAME@VERSION``: ``lithoscope identify`` without ``--model``
    uses it, and registering newer versions does not move it. When MLflow knows the version
    (`register_model`), ``alias`` is set on it there; otherwise the result says why not, and
    the promotion stands.

    Parameters
    ----------
    spec : str
        ``NAME@VERSION``, or ``NAME`` for its newest complete version.
    method : str, optional
        Pin only this method's default.
    alias : str
        MLflow alias (letters, digits, ``_``, ``-``; not ``latest`` nor ``v<N>``).
    registry : Registry, optional
        Default: the settings' registry.
    uri : str, optional
        MLflow store; default `tracking_uri`.

    Returns
    -------
    Promotion
        The version, the methods pinned and what MLflow did.

    Raises
    ------
    InputError
        An unknown or damaged version, a method the model does not identify, or an invalid
        alias (nothing is changed then).
    """
    if not _ALIAS.match(alias) or alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", alias):
        raise InputError(
            f"--alias {alias!r}: use letters, digits, '_' and '-' (not 'latest' nor 'v<N>', "
            "which MLflow reserves)"
        )
    registry = registry or Registry()
    bundle, ref = registry.load(str(registry.resolve(spec)))
    methods = bundle.methods
    if method is not None:
        from lithoscope.methods import Method, parse_enum

        wanted = parse_enum(Method, method, "method").value
        if wanted not in methods:
            raise InputError(
                f"method {method!r}: {ref} identifies {', '.join(methods)} only; promote a "
                f"version that identifies {wanted}"
            )
        methods = (wanted,)
    for m in methods:
        registry.set_default(m, str(ref))
    uri = uri or tracking_uri()
    outcome: dict[str, Any] = {"tracking_uri": uri, "model_version": None, "alias_set": False}
    try:
        client = _client(uri, create=False)
        with _mlflow_errors(uri):
            found = _find_version(client, ref, _bundle_digest(ref.path))
            if found is None:
                outcome["note"] = f"{ref} is not registered in MLflow; no alias set"
            else:
                client.set_registered_model_alias(ref.name, alias, found.version)
                outcome.update(model_version=int(found.version), alias_set=True)
    except InputError as exc:
        outcome["note"] = f"{exc}; no MLflow alias set"
    return Promotion(ref.name, ref.version, ref.path, tuple(methods), alias, outcome)


# ---------------------------------------------------------------------- lineage
def lineage(
    ref: ModelRef | str, *, registry: Registry | None = None, uri: str | None = None
) -> dict[str, Any]:
    """What a registered model was made from, and where MLflow has it.

    Parameters
    ----------
    ref : ModelRef or str
        A version, or ``NAME[@VERSION]``.
    registry : Registry, optional
    uri : str, optional
        MLflow store; default `tracking_uri`.

    Returns
    -------
    dict
        ``model``, ``path``, ``methods``, ``default_for`` (methods whose default is this
        version), ``dataset_version``, ``datasets``, ``data_checksums``, ``config``,
        ``config_sha256``, ``code_version``, ``pipeline``, ``metrics``, ``learned``, and
        ``mlflow``: ``tracked`` with ``run_id``, ``experiment_id``, ``model_version``,
        ``aliases`` and ``run_name``, or a ``note`` on why not (MLflow absent, nothing tracked,
        server down). Values a model does not record are None.

    Raises
    ------
    InputError
        An unknown or damaged version.
    """
    registry = registry or Registry()
    bundle, found = registry.load(str(ref))
    prov = dict(bundle.provenance or {})
    defaults = registry.default_models()
    out: dict[str, Any] = {
        "model": str(found),
        "path": str(found.path),
        "methods": list(bundle.methods),
        "default_for": sorted(m for m, d in defaults.items() if d.get("model") == str(found)),
        "dataset_version": prov.get("dataset_version"),
        "datasets": prov.get("datasets"),
        "data_checksums": prov.get("data_checksums"),
        "config": prov.get("config"),
        "config_sha256": _config_sha256(prov),
        "code_version": prov.get("code_version"),
        "pipeline": prov.get("pipeline"),
        "metrics": prov.get("metrics"),
        "learned": prov.get("learned"),
    }
    uri = uri or tracking_uri()
    tracked: dict[str, Any] = {"tracking_uri": uri, "tracked": False}
    try:
        client = _client(uri, create=False)
        with _mlflow_errors(uri):
            version = _find_version(client, found, _bundle_digest(found.path))
            if version is None:
                tracked["note"] = f"{found} is not registered in MLflow"
            else:
                # search results leave aliases out; the version itself has them
                version = client.get_model_version(found.name, version.version)
                tracked.update(
                    tracked=True,
                    model_version=int(version.version),
                    aliases=sorted(version.aliases or []),
                    source=version.source,
                    run_id=version.run_id or None,
                )
                if version.run_id:
                    run = client.get_run(version.run_id)
                    tracked.update(
                        experiment_id=run.info.experiment_id,
                        run_name=run.info.run_name,
                        artifact_uri=run.info.artifact_uri,
                    )
    except InputError as exc:
        tracked["note"] = str(exc)
    out["mlflow"] = tracked
    return out
