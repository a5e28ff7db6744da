"""Liveness, readiness, the served models and the web page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from lithoscope.service.deps import Models, Ready
from lithoscope.service.routes import errors_doc
from lithoscope.service.schemas import Readiness

__all__ = ["STATIC", "router"]

router = APIRouter()

#: the web page's files (``static/index.html`` ...), shipped in this package
STATIC = Path(__file__).resolve().parents[1] / "static"


@router.get("/healthz", tags=["system"])
def healthz() -> dict[str, str]:
    """The process answers (it may still be loading: see ``/readyz``)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, tags=["system"], responses=errors_doc(503))
def readyz(state: Ready) -> Any:
    """200 once MinDB is open and the models are loaded; 503 before."""
    assert state.models is not None
    return {
        "status": "ready",
        "models": sorted({state.models.bundle_of(m).name for m in state.models.methods}),
        "problems": state.models.problems,
    }


@router.get("/v1/models", tags=["models"], responses=errors_doc(503))
def models(served: Models) -> dict[str, Any]:
    """The models this process serves (per method: classes, axis, calibration, mixture model),
    the registered models and the default of each method."""
    return served.describe()


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    """The web page (``static/index.html``), on the API's origin."""
    index = STATIC / "index.html"
    if not index.is_file():
        raise HTTPException(404, "no web page is installed with this lithoscope")
    return FileResponse(index, media_type="text/html")


@router.get("/static/vendor/plotly.min.js", include_in_schema=False)
def plotly_js() -> FileResponse:
    """Plotly.js as the installed ``plotly`` package ships it: the page needs no CDN (this
    route is matched before the ``/static`` mount)."""
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise HTTPException(404, "plotly is not installed; pip install 'lithoscope[service]'")
    script = Path(spec.origin).parent / "package_data" / "plotly.min.js"
    if not script.is_file():
        raise HTTPException(404, f"{script} is missing; reinstall plotly")
    return FileResponse(script, media_type="text/javascript")
