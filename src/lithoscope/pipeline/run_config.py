"""The configuration of a pipeline run (`lithoscope pipeline run CONFIG.yaml`), checked by pydantic.

A config is a YAML mapping; every section is optional except ``name``::

    name: raman-library          # the run's name, and the registry name unless register.name
    seed: 0                      # splits (by a hash of the sample id) and the models' random_state
    data:
      sources: [rruff-ima, rruff-raman]   # named sources (lithoscope data fetch) or paths
      mirror: null               # a folder or URL laid out like the public sources
    dataset:
      methods: [raman]           # several: one model per method and their fused answer
      min_spectra_per_mineral: 2
      test_size: 0.2             # samples held out for the evaluate step
      calibration_size: 0.15     # of the other samples: held out of fitting, calibrate on them
    model: {kind: library, params: {}}
    mixture: {enabled: false, network: true, params: {}}
    evaluate: {levels: [0.8, 0.9, 0.95], reliability_bins: 10}
    register: {name: null, promote: false, track: true, experiment: lithoscope}

Unknown keys, wrong types and out-of-range values are one-line `InputError` s naming the file,
the key and the fix (after pydantic's ``extra="forbid"``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lithoscope.errors import InputError
from lithoscope.methods import Method

__all__ = ["PipelineConfig", "load_config", "parse_config"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class DataConfig(_Section):
    """Where the spectra come from."""

    sources: list[str] = Field(default_factory=lambda: ["rruff-ima", "rruff-raman"], min_length=1)
    mirror: str | None = None


class DatasetConfig(_Section):
    """Which spectra of MinDB, and how they are split."""

    methods: list[str] = Field(default_factory=lambda: ["raman"], min_length=1)
    min_spectra_per_mineral: Annotated[int, Field(ge=1)] = 1
    test_size: Annotated[float, Field(gt=0, lt=1)] = 0.2
    calibration_size: Annotated[float, Field(ge=0, lt=1)] = 0.15

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: list[str]) -> list[str]:
        out = []
        for m in value:
            try:
                out.append(Method(str(m).lower()).value)
            except ValueError:
                valid = ", ".join(x.value for x in Method)
                raise ValueError(f"{m!r} is not a method ({valid})") from None
        if len(set(out)) != len(out):
            raise ValueError("a method is listed twice")
        return out


class ModelConfig(_Section):
    """The model kind and its parameters (`lithoscope.models.kinds.MODEL_KINDS`)."""

    kind: str = "library"
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        from lithoscope.models.kinds import MODEL_KINDS

        if value not in MODEL_KINDS:
            raise ValueError(f"{value!r} is not a model kind ({', '.join(MODEL_KINDS)})")
        return value

    @model_validator(mode="after")
    def _params(self) -> ModelConfig:
        # a misspelt parameter is named now, not after fetching and ingesting
        from lithoscope.models.kinds import make_model

        try:
            make_model(self.kind, **self.params)
        except InputError as exc:
            raise ValueError(str(exc)) from None
        return self


class MixtureConfig(_Section):
    """The mixture model (``identify --mixture``) trained beside the classifier."""

    enabled: bool = False
    network: bool = True
    params: dict[str, Any] = Field(default_factory=dict)


class EvaluateConfig(_Section):
    """How the held-out samples are scored."""

    levels: list[Annotated[float, Field(gt=0, lt=1)]] = Field(
        default_factory=lambda: [0.8, 0.9, 0.95]
    )
    reliability_bins: Annotated[int, Field(ge=2, le=50)] = 10


class RegisterConfig(_Section):
    """What happens to the model once evaluated."""

    name: str | None = None
    promote: bool = False
    track: bool = True
    experiment: str = "lithoscope"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None:
            from lithoscope.pipeline.registry import Registry

            try:
                Registry.check_name(value)
            except InputError as exc:
                raise ValueError(str(exc)) from None
        return value


class PipelineConfig(_Section):
    """A whole run: fetch -> ingest -> dataset -> train -> calibrate -> evaluate -> register
    -> report (see `lithoscope.pipeline.runner`)."""

    name: str
    seed: int = 0
    data: DataConfig = Field(default_factory=DataConfig)
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    mixture: MixtureConfig = Field(default_factory=MixtureConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    # "register" would shadow BaseModel.register (abc): the YAML key is the alias
    registration: RegisterConfig = Field(default_factory=RegisterConfig, alias="register")

    @field_validator("name")
    @classmethod
    def _run_name(cls, value: str) -> str:
        from lithoscope.pipeline.registry import Registry

        try:
            Registry.check_name(value)
        except InputError as exc:
            raise ValueError(str(exc).replace("model name", "name")) from None
        return value

    @property
    def model_name(self) -> str:
        """The registry name the model is registered under."""
        return self.registration.name or self.name

    def to_dict(self) -> dict[str, Any]:
        """The config as YAML would say it, defaults filled in."""
        return self.model_dump(mode="json", by_alias=True)

    def sha256(self) -> str:
        """Digest of the canonical JSON of the whole config (defaults filled in)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    """A model's fields by the key a config uses (its alias, else its name)."""
    return {f.alias or name: f for name, f in model.model_fields.items()}


def _valid_keys(loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = PipelineConfig
    for part in loc[:-1]:
        field = _fields(model).get(str(part))
        if field is None or not isinstance(field.annotation, type):
            return []
        if not issubclass(field.annotation, BaseModel):
            return []
        model = field.annotation
    return list(_fields(model))


def parse_config(doc: Any, *, where: str = "config") -> PipelineConfig:
    """A `PipelineConfig` from a parsed YAML/JSON document; the first problem as one line."""
    if not isinstance(doc, dict):
        raise InputError(
            f"{where}: expected a mapping of sections (name, data, dataset, model, ...), "
            f"got {type(doc).__name__}; see configs/raman-library.yaml"
        )
    try:
        return PipelineConfig.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err.get("loc", ()))
        where_key = _location(loc)
        if err.get("type") == "extra_forbidden":
            valid = ", ".join(_valid_keys(loc)) or "none"
            raise InputError(
                f"{where}: unknown key {where_key!r}; valid keys there: {valid}"
            ) from None
        if err.get("type") == "missing":
            raise InputError(f"{where}: key {where_key!r} is required; add it") from None
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        given = err.get("input")
        shown = (
            f" (got {given!r})"
            if err.get("type") != "value_error" and not isinstance(given, dict | list)
            else ""
        )
        raise InputError(f"{where}: {where_key}: {message}{shown}; fix that key") from None


def load_config(path: str | Path) -> PipelineConfig:
    """Read and check a YAML pipeline config.

    Raises
    ------
    InputError
        A missing or unreadable file, invalid YAML, or a config that breaks the schema: one line
        naming the file and the key.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputError(f"config {path}: no such file; give the path of a YAML config")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"config {path}: cannot read it ({exc}); check the file") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise InputError(f"config {path}{line}: {problem}; fix the YAML") from None
    config = parse_config(doc, where=f"config {path}")
    # relative source paths are relative to the config file, not the working directory
    sources = []
    for source in config.data.sources:
        candidate = Path(source).expanduser()
        if not candidate.is_absolute() and (path.parent / candidate).exists():
            source = str((path.parent / candidate).resolve())
        sources.append(source)
    data = config.data.model_copy(update={"sources": sources})
    return config.model_copy(update={"data": data})
