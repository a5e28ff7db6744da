"""Request and response models of the HTTP service (what the OpenAPI document describes).

The answers of ``/v1/identify`` and ``/v1/stream`` are the JSON of ``lithoscope identify
--json`` (`Identification.to_dict`, or `MixtureResult.to_json` with ``mixture``) unchanged; the
models here describe their main fields and allow the rest, so that the CLI stays the one
definition of that JSON.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lithoscope.methods import AxisUnit, Method

__all__ = [
    "MAX_FILES",
    "MAX_POINTS",
    "ErrorBody",
    "FileProblem",
    "IdentifyOptions",
    "IdentifyRequest",
    "IdentifyResponse",
    "LearnRequest",
    "SpectraUpload",
    "SpectrumIn",
]

#: files (or spectra) in one request
MAX_FILES = 100
#: points of one spectrum given as arrays
MAX_POINTS = 200_000

Body = Literal["moon", "mars", "meteorite", "earth"]


class ErrorBody(BaseModel):
    """Every error: one line naming the input, what was expected and the fix."""

    detail: str


class SpectrumIn(BaseModel):
    """One spectrum as arrays."""

    model_config = ConfigDict(extra="forbid")

    axis: list[float] = Field(min_length=2, max_length=MAX_POINTS)
    intensities: list[float] = Field(min_length=2, max_length=MAX_POINTS)
    method: Method = Field(description="How it was measured.")
    unit: AxisUnit | None = Field(None, description="Axis unit (default: the method's usual).")
    name: str | None = Field(None, max_length=200, description="How answers name it.")


class IdentifyOptions(BaseModel):
    """Options of an identification (form fields, JSON fields or stream query parameters)."""

    model_config = ConfigDict(extra="forbid")

    body: Body | None = Field(
        None,
        description="Where the sample is from: minerals reported there rank higher, others are "
        "marked (never excluded).",
    )
    confidence: float = Field(0.9, ge=0.5, le=0.999, description="Level of prediction sets.")
    top: int = Field(5, ge=1, le=50, description="Number of candidates.")
    mixture: bool = Field(
        False,
        description="Unmix a rock or mixture spectrum: minerals present, vol %, rock name.",
    )
    explain: bool = Field(
        False, description="Add the explanation (attribution regions, peak table); slower."
    )
    plot: bool = Field(
        False,
        description="Add 'plot' to each answer: the arrays a plot draws (see `Answer.plot`).",
    )
    group: Literal["file", "sample", "measurement"] = Field(
        "file",
        description="How spectra form measurements: 'file', each spectrum alone; 'sample', "
        "spectra with the same sample id (e.g. the RRUFF ID) fused; 'measurement', all the "
        "spectra of the request are one sample, one fused answer (one spectrum per method).",
    )


class IdentifyRequest(IdentifyOptions):
    """A JSON identification: one spectrum (``axis``, ``intensities``, ``method``) or several
    (``spectra``)."""

    axis: list[float] | None = Field(None, min_length=2, max_length=MAX_POINTS)
    intensities: list[float] | None = Field(None, min_length=2, max_length=MAX_POINTS)
    method: Method | None = None
    unit: AxisUnit | None = None
    name: str | None = Field(None, max_length=200)
    spectra: list[SpectrumIn] | None = Field(None, min_length=1, max_length=MAX_FILES)

    @model_validator(mode="after")
    def _one_form(self) -> IdentifyRequest:
        single = (self.axis, self.intensities, self.method, self.unit, self.name)
        if self.spectra is not None:
            if any(v is not None for v in single):
                raise ValueError(
                    "give either 'spectra' or one spectrum's 'axis', 'intensities' and 'method', "
                    "not both"
                )
        elif self.axis is None or self.intensities is None or self.method is None:
            raise ValueError(
                "give 'axis', 'intensities' and 'method' of one spectrum, or 'spectra': a list "
                "of them"
            )
        return self

    def spectra_in(self) -> list[SpectrumIn]:
        if self.spectra is not None:
            return list(self.spectra)
        return [
            SpectrumIn(
                axis=self.axis,  # type: ignore[arg-type]
                intensities=self.intensities,  # type: ignore[arg-type]
                method=self.method,  # type: ignore[arg-type]
                unit=self.unit,
                name=self.name,
            )
        ]

    def options(self) -> IdentifyOptions:
        return IdentifyOptions(**{k: getattr(self, k) for k in IdentifyOptions.model_fields})


class SpectraUpload(BaseModel):
    """Reference spectra as arrays (``POST /v1/minerals/{name}/spectra`` as JSON)."""

    model_config = ConfigDict(extra="forbid")

    spectra: list[SpectrumIn] = Field(min_length=1, max_length=MAX_FILES)


class LearnRequest(BaseModel):
    """``POST /v1/learn`` as JSON: 1-5 spectra of one mineral."""

    model_config = ConfigDict(extra="forbid")

    mineral: str = Field(min_length=1, max_length=200, description="IMA species name.")
    formula: str | None = Field(None, max_length=200, description="To add a mineral MinDB lacks.")
    spectra: list[SpectrumIn] = Field(min_length=1, max_length=5)


class FileProblem(BaseModel):
    """A file (or spectrum) of the request that could not be used; the others are answered."""

    index: int = Field(description="Position of the file in the request (0-based).")
    input: str
    detail: str


class Answer(BaseModel):
    """One answer: the ``lithoscope identify --json`` line (main fields; the rest as is)."""

    model_config = ConfigDict(extra="allow")

    input: str
    method: str
    model: str
    candidates: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Best first: mineral, probability, score and MinDB facts (formula, "
        "bodies, occurs).",
    )
    warnings: list[str] = Field(default_factory=list)
    refused: str | None = None
    plot: dict[str, Any] | None = Field(
        None,
        description="With the 'plot' option (not on refused answers; on each 'by_method' "
        "answer of a fused one). Identification: {axis, unit, spectrum (preprocessed, on the "
        "model's axis), reference: {mineral, sample_id, r, intensities} | null (the best "
        "candidate's stored spectrum that matches best after the same preprocessing), "
        "attribution: [...] | null (with 'explain')}. Mixture: {axis, spectrum, fitted, "
        "residual, components: {mineral: [...]}}.",
    )


class IdentifyResponse(BaseModel):
    """``results``: one answer per spectrum read, in request order; ``errors``: the files that
    could not be read or have no served model; ``warnings``: what the readers repaired."""

    results: list[Answer]
    errors: list[FileProblem] = Field(default_factory=list)
    warnings: list[FileProblem] = Field(default_factory=list)


class SpectrumOut(BaseModel):
    axis: list[float]
    intensities: list[float]
    method: Method
    unit: AxisUnit
    metadata: dict[str, Any]


class Page(BaseModel):
    offset: int
    limit: int
    next_offset: int | None = Field(description="Offset of the next page, null on the last.")


class MineralPage(Page):
    """Rows as ``lithoscope db search --json`` prints them."""

    items: list[dict[str, Any]]


class SpectraPage(Page):
    mineral: str
    items: list[SpectrumOut]


class Readiness(BaseModel):
    status: Literal["ready"]
    models: list[str]
    problems: dict[str, str]
