"""MinDB over HTTP: search, the mineral card, its spectra; adding spectra and ``learn`` (writes).

Each route is one `MinDB` query (or `learn`) rendered as the JSON of the matching command
(``db search --json``, ``db show --json``, ``learn --json``). Writes need the server's bearer
token (`lithoscope.service.deps.require_token`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from starlette.requests import Request

from lithoscope.methods import Method
from lithoscope.pipeline.learn import learn
from lithoscope.service.deps import Db, Models, Ready, WriteAccess
from lithoscope.service.routes import errors_doc, multipart_schema
from lithoscope.service.routes.identify import content_type
from lithoscope.service.routes.inputs import (
    Parsed,
    json_model,
    options_from_form,
    parse_files,
    read_form,
    spectra_from_arrays,
    with_methods,
)
from lithoscope.service.schemas import LearnRequest, MineralPage, SpectraPage, SpectraUpload
from lithoscope.spectra.measurement import Context
from lithoscope.spectra.spectrum import Spectrum

__all__ = ["router"]

router = APIRouter(tags=["minerals"])

Name = Annotated[str, Path(min_length=1, max_length=200, description="Species, group or alias.")]
#: metadata of stored spectra that the API shows
_SHOWN = ("spectrum_id", "mineral", "link", "label", "sample_id", "laser_nm", "source", "file")


def _page(rows: list[Any], offset: int, limit: int) -> dict[str, Any]:
    """Rows ``offset .. offset + limit`` of a query asked for ``offset + limit + 1`` rows."""
    more = len(rows) > offset + limit
    return {
        "items": rows[offset : offset + limit],
        "offset": offset,
        "limit": limit,
        "next_offset": offset + limit if more else None,
    }


@router.get("/v1/minerals", response_model=MineralPage, responses=errors_doc(422, 503))
def minerals(
    db: Db,
    body: Annotated[
        str | None, Query(max_length=20, description="moon, mars or meteorite.")
    ] = None,
    element: Annotated[
        list[str], Query(max_length=20, description="Element it must contain (repeat).")
    ] = [],  # noqa: B006 - FastAPI copies defaults
    evidence: Annotated[
        str | None,
        Query(max_length=40, description="returned sample, meteorite, in-situ rover, orbital."),
    ] = None,
    mineral_class: Annotated[
        str | None, Query(alias="class", max_length=40, description="e.g. silicate, oxide.")
    ] = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of the name.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Any:
    """Minerals by body, elements, evidence, class or name (``lithoscope db search``), paged."""
    rows = db.search(
        body=body,
        elements=element,
        evidence=evidence,
        mineral_class=mineral_class,
        name_contains=q,
        limit=offset + limit + 1,
    )
    return _page(rows, offset, limit)


@router.get("/v1/minerals/{name}", responses=errors_doc(404, 422, 503))
def mineral(name: Name, db: Db) -> dict[str, Any]:
    """The card of a species or group: ``lithoscope db show NAME --json``."""
    return db.mineral(name)


def _spectrum_out(s: Spectrum) -> dict[str, Any]:
    return {
        "axis": s.axis.tolist(),
        "intensities": s.intensities.tolist(),
        "method": s.method.value,
        "unit": s.unit.value,
        "metadata": {k: s.metadata.get(k) for k in _SHOWN},
    }


@router.get(
    "/v1/minerals/{name}/spectra", response_model=SpectraPage, responses=errors_doc(404, 422, 503)
)
def mineral_spectra(
    name: Name,
    db: Db,
    method: Method | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Any:
    """MinDB's spectra of a species or group (oldest first), paged."""
    _, canonical = db.resolve(name)
    spectra = db.spectra(minerals=canonical, method=method, limit=offset + limit + 1)
    page = _page(spectra, offset, limit)
    return {**page, "mineral": canonical, "items": [_spectrum_out(s) for s in page["items"]]}


class _LearnFields(BaseModel):
    mineral: str = Field(min_length=1, max_length=200)
    formula: str | None = Field(None, max_length=200)


async def _spectra_of(
    request: Request, json_model_type: type[BaseModel], fields: tuple[str, ...]
) -> tuple[list[Spectrum], dict[str, Any]]:
    """The spectra of a write (files or arrays) and its other fields; any file that cannot be
    read makes the whole write 422 (writes are all or nothing)."""
    if content_type(request) == "multipart/form-data":
        uploads, values = await read_form(request, fields=("method", *fields))
        uploads = with_methods(uploads, values.pop("method", None), [])
        parsed: Parsed = await run_in_threadpool(parse_files, uploads, Context())
    else:
        payload = json_model(json_model_type, await request.body())
        values = payload.model_dump(exclude={"spectra"})
        parsed = spectra_from_arrays(payload.spectra, Context())  # type: ignore[attr-defined]
    if parsed.errors:
        raise HTTPException(422, parsed.errors[0].detail)
    return [next(iter(m.spectra.values())) for m in parsed.measurements], values


_METHOD_FIELD = {
    "method": {"type": "string", "description": "Method of files that do not record it."}
}


def _body(form: dict[str, Any], json_schema: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": form},
                "application/json": {"schema": {"$ref": f"#/components/schemas/{json_schema}"}},
            },
        }
    }


class _NoOptions(BaseModel):
    pass


@router.post(
    "/v1/minerals/{name}/spectra",
    status_code=201,
    dependencies=[WriteAccess],
    responses=errors_doc(400, 401, 404, 413, 415, 422, 503),
    openapi_extra=_body(multipart_schema(_NoOptions, _METHOD_FIELD), "SpectraUpload"),
)
async def add_spectra(name: Name, request: Request, state: Ready) -> Any:
    """Store reference spectra of a mineral in MinDB (one transaction; duplicates are
    recognised by content). Needs the bearer token."""
    spectra, _ = await _spectra_of(request, SpectraUpload, ())
    report = await run_in_threadpool(
        state.db.add_spectra, spectra, mineral=name, source="lithoscope service (user upload)"
    )
    return report.to_dict()


@router.post(
    "/v1/learn",
    dependencies=[WriteAccess],
    responses=errors_doc(400, 401, 413, 415, 422, 503),
    openapi_extra=_body(multipart_schema(_LearnFields, _METHOD_FIELD), "LearnRequest"),
)
async def learn_mineral(request: Request, state: Ready, models: Models) -> Any:
    """Teach the served model a new mineral from 1-5 spectra (``lithoscope learn``): a new
    model version, served from now on. Needs the bearer token."""
    spectra, values = await _spectra_of(request, LearnRequest, ("mineral", "formula"))
    fields = options_from_form(_LearnFields, values)
    result = await run_in_threadpool(
        learn,
        state.db,
        fields.mineral,
        spectra,
        formula=fields.formula,
        registry=models.registry,
    )
    await run_in_threadpool(models.reload, result.ref.name)
    return result.to_dict()
