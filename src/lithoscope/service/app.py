"""`create_app`: the FastAPI application of ``lithoscope serve``.

One app per `Settings`. Its lifespan makes the process's `ServiceState` and loads it (MinDB, the
default model of each method, a warm-up) in a background thread, so ``/healthz`` answers at once
and ``/readyz`` says 503 until loading is done; on shutdown MinDB is closed. Every error is JSON
``{"detail": "<one line>"}`` with its status: 400 unreadable body, 401 a write without the token,
404 unknown mineral, 413 body over ``max_upload_bytes``, 415 wrong content type, 422 invalid
input (the reader's or validator's message), 503 still loading.

Security: writes need ``Authorization: Bearer <api_token>`` (compared in constant time; none
configured: writes are off); request bodies are limited while they stream in
(`BodySizeLimit`); uploads are parsed in memory, their names are only labels; CORS is closed
unless ``cors_origins`` lists origins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from lithoscope import __version__
from lithoscope.config import Settings, get_settings
from lithoscope.errors import DatabaseError, LithoscopeError
from lithoscope.service.limits import BodySizeLimit
from lithoscope.service.routes import identify, minerals, system
from lithoscope.service.schemas import IdentifyRequest, LearnRequest, SpectraUpload
from lithoscope.service.state import ServiceState

__all__ = ["create_app"]

log = logging.getLogger("lithoscope.service")

#: JSON request bodies that routes parse themselves (multipart or JSON) and document by name
_BODY_SCHEMAS = (IdentifyRequest, SpectraUpload, LearnRequest)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service's app.

    Parameters
    ----------
    settings : Settings, optional
        Default: `get_settings()` (the environment), read when the app is made.

    Returns
    -------
    FastAPI
        ``app.state.lithoscope`` is its `ServiceState` from startup on.

    Examples
    --------
    >>> from lithoscope.service import create_app  # doctest: +SKIP
    >>> uvicorn.run(create_app(), host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = ServiceState(settings)
        app.state.lithoscope = state
        loading = asyncio.create_task(asyncio.to_thread(state.load))
        try:
            yield
        finally:
            await asyncio.shield(loading)  # a thread cannot be cancelled; let it finish
            state.close()

    app = FastAPI(
        title="lithoscope",
        version=__version__,
        summary="Minerals and rocks of the Moon, Mars and meteorites from their spectra.",
        lifespan=lifespan,
    )
    app.include_router(system.router)
    app.include_router(identify.router)
    app.include_router(minerals.router)
    if system.STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=system.STATIC), name="static")
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(LithoscopeError, _library_error)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"]) or "request"
    more = f" ({len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return JSONResponse({"detail": f"{where}: {first['msg']}{more}"}, status_code=422)


async def _library_error(request: Request, exc: Exception) -> JSONResponse:
    from lithoscope.mindb.queries import MineralNotFound

    if isinstance(exc, MineralNotFound):
        status = 404
    elif isinstance(exc, DatabaseError):
        status = 503
    else:  # InputError and the rest: the input is not what lithoscope expects
        status = 422
    return JSONResponse({"detail": str(exc)}, status_code=status)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        {"detail": f"internal error ({type(exc).__name__}); the server log has the details"},
        status_code=500,
    )


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus the JSON bodies that routes parse themselves."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        routes=app.routes,
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for model in _BODY_SCHEMAS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            schemas.setdefault(name, sub)
        schemas[model.__name__] = schema
    app.openapi_schema = doc
    return doc
