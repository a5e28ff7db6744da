"""``POST /v1/identify`` and ``WS /v1/stream``: spectra in, the ``identify --json`` answers out.

Both parse what they are sent, call `identify_batch` (or `identify_mixtures` with ``mixture``)
with the served models and the process's `IdentifyCache`, and render each result's
``to_dict()`` / ``to_json()`` unchanged. The work runs in the thread pool, so the event loop
keeps accepting requests and stream messages meanwhile.

Per-file errors: a file that cannot be read, or whose method has no served model, is listed in
``errors`` (its index, name and the one-line reason) and the other files are answered (200);
when no file of the request can be answered, the request is 422 with the first reason as
``detail`` (and all of them in ``errors``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.requests import Request

from lithoscope.errors import LithoscopeError
from lithoscope.service.deps import Ready, State
from lithoscope.service.routes import errors_doc, multipart_schema
from lithoscope.service.routes.inputs import (
    Parsed,
    json_model,
    message_spectra,
    options_from_form,
    parse_files,
    read_form,
    regroup,
    spectra_from_arrays,
    with_methods,
)
from lithoscope.service.schemas import (
    FileProblem,
    IdentifyOptions,
    IdentifyRequest,
    IdentifyResponse,
)
from lithoscope.service.state import ServiceState
from lithoscope.spectra.measurement import Context

__all__ = ["router"]

router = APIRouter(tags=["identify"])

_OPTIONS = tuple(IdentifyOptions.model_fields)

_FORM = multipart_schema(
    IdentifyOptions,
    {
        "method": {
            "type": "string",
            "description": "Method of every file that does not record it (raman, ir, libs, "
            "vnir, xrd).",
        },
        "methods": {
            "type": "string",
            "description": "One method per file, in file order (comma-separated or repeated); "
            "'auto' leaves a file's method to its content.",
        },
    },
)


def content_type(request: Request) -> str:
    """``multipart/form-data`` or ``application/json``; 415 for anything else."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind not in ("multipart/form-data", "application/json"):
        raise HTTPException(
            415,
            f"content type {kind or 'none'!r} is not accepted; send multipart/form-data (files) "
            "or application/json (arrays)",
        )
    return kind


async def identify_answers(
    parse: Callable[[], Parsed], options: IdentifyOptions, state: ServiceState
) -> dict[str, Any]:
    """The response of a request: its spectra parsed (thread pool), those with a served model
    identified (the batcher: `identify_batch` / `identify_mixtures`), the rest in ``errors``."""
    models = state.models
    assert models is not None and state.batcher is not None
    parsed = await run_in_threadpool(parse)
    errors = list(parsed.errors)
    usable = []
    for m, index in zip(parsed.measurements, parsed.positions, strict=True):
        why = models.missing(m)
        if why is None:
            usable.append(m)
        else:
            errors.append(FileProblem(index=index, input=m.name, detail=why))
    errors.sort(key=lambda e: e.index)
    if not usable:
        raise _Unanswerable(errors)
    key = tuple(options.model_dump().items())
    results = await state.batcher.submit(usable, options, key)
    return {
        "results": results,
        "errors": [e.model_dump() for e in errors],
        "warnings": [w.model_dump() for w in parsed.warnings],
    }


class _Unanswerable(Exception):
    def __init__(self, errors: list[FileProblem]) -> None:
        super().__init__(errors[0].detail if errors else "no spectrum in the request")
        self.errors = errors


async def _answer(
    parse: Callable[[], Parsed], options: IdentifyOptions, state: ServiceState
) -> JSONResponse:
    try:
        return JSONResponse(safe_json(await identify_answers(parse, options, state)))
    except _Unanswerable as exc:
        return JSONResponse(
            {"detail": str(exc), "errors": [e.model_dump() for e in exc.errors]}, status_code=422
        )


def safe_json(doc: Any) -> Any:
    """``doc`` with NaN and infinities as null (JSON has neither)."""
    try:
        json.dumps(doc, allow_nan=False)
        return doc
    except ValueError:
        return _finite(doc)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


@router.post(
    "/v1/identify",
    response_model=IdentifyResponse,
    responses=errors_doc(400, 413, 415, 422, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": _FORM},
                "application/json": {"schema": {"$ref": "#/components/schemas/IdentifyRequest"}},
            },
        }
    },
)
async def identify(request: Request, state: Ready) -> Any:
    """Identify the minerals of one or more spectra: the answers of ``lithoscope identify
    --json``, one per spectrum read.

    Send files as ``multipart/form-data`` (field ``files``; options as form fields) or arrays
    as ``application/json`` (`IdentifyRequest`).
    """
    if content_type(request) == "multipart/form-data":
        uploads, values = await read_form(
            request, fields=("method", *_OPTIONS), list_fields=("methods",)
        )
        options = options_from_form(
            IdentifyOptions, {k: values[k] for k in _OPTIONS if k in values}
        )
        uploads = with_methods(uploads, values.get("method"), values.get("methods", []))
        context = Context(body=options.body)
        return await _answer(
            lambda: regroup(parse_files(uploads, context), options.group, context), options, state
        )
    payload = json_model(IdentifyRequest, await request.body())
    options = payload.options()
    context = Context(body=options.body)
    items = payload.spectra_in()
    return await _answer(
        lambda: regroup(spectra_from_arrays(items, context), options.group, context),
        options,
        state,
    )


async def _stream_reply(
    payload: str | bytes, method: str | None, index: int, options: IdentifyOptions, state: Any
) -> str:
    context = Context(body=options.body)
    ident, parsed = await run_in_threadpool(message_spectra, payload, method, index, context)
    try:
        answers = (await identify_answers(lambda: parsed, options, state))["results"]
    except LithoscopeError as exc:
        reply: dict[str, Any] = {"error": str(exc)}
    except _Unanswerable as exc:
        reply = {"error": str(exc)}
    else:
        reply = answers[0] if len(answers) == 1 else {"results": answers}
    if ident is not None:
        reply = {"id": ident, **reply}
    return json.dumps(safe_json(reply))


@router.websocket("/v1/stream")
async def stream(websocket: WebSocket, state: State) -> None:
    """One answer per message, in order. Query parameters: the options of ``/v1/identify``
    (``body``, ``confidence``, ``top``, ``mixture``, ``explain``, ``plot``) and ``method`` for file
    contents that do not record it. A message is ``{"axis": [...], "intensities": [...],
    "method": "raman", "unit": ..., "id": ...}`` or the text (or bytes) of a spectrum file; the
    answer is the ``identify --json`` object (with ``id`` when given), or ``{"error": "..."}``
    (the socket stays open)."""
    await websocket.accept()
    query = dict(websocket.query_params)
    method = query.pop("method", None)
    try:
        options = options_from_form(IdentifyOptions, query)
    except HTTPException as exc:
        await websocket.send_text(json.dumps({"error": exc.detail}))
        await websocket.close(code=1008)
        return
    if not state.ready:
        why = state.problem or "the service is still loading MinDB and its models; retry soon"
        await websocket.send_text(json.dumps({"error": why}))
        await websocket.close(code=1013)
        return
    limit = state.settings.max_upload_bytes
    index = 0
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            payload = message.get("text")
            if payload is None:
                payload = message.get("bytes") or b""
            index += 1
            if len(payload) > limit:
                reply = json.dumps({"error": f"message {index}: larger than {limit} bytes"})
            else:
                reply = await _stream_reply(payload, method, index, options, state)
            await websocket.send_text(reply)
    except WebSocketDisconnect:
        return
