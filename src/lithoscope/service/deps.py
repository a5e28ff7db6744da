"""Dependencies of the routes: the process's `ServiceState`, MinDB, the models, the write token.

All of them come from the app the request arrived at (``app.state.lithoscope``, made by the
lifespan of `lithoscope.service.app.create_app`); nothing is global, so tests build an app per
settings.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from lithoscope.config import Settings
from lithoscope.service.state import ServedModels, ServiceState

__all__ = ["Db", "Models", "Ready", "State", "WriteAccess"]


def get_state(connection: HTTPConnection) -> ServiceState:
    return connection.app.state.lithoscope


def ready_state(state: Annotated[ServiceState, Depends(get_state)]) -> ServiceState:
    """The state once MinDB and the models are loaded; 503 before (or if loading failed)."""
    if not state.ready:
        detail = (
            f"the service could not load MinDB or its models: {state.problem}"
            if state.problem
            else "the service is still loading MinDB and its models; retry in a few seconds"
        )
        raise HTTPException(503, detail, headers={"Retry-After": "5"})
    return state


def get_settings(state: Annotated[ServiceState, Depends(get_state)]) -> Settings:
    return state.settings


def get_db(state: Annotated[ServiceState, Depends(ready_state)]) -> Any:
    return state.db


def get_models(state: Annotated[ServiceState, Depends(ready_state)]) -> ServedModels:
    assert state.models is not None
    state.models.refresh()
    return state.models


_bearer = HTTPBearer(auto_error=False, description="LITHOSCOPE_API_TOKEN of the server.")


def require_token(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Writes need ``Authorization: Bearer <LITHOSCOPE_API_TOKEN>``; without a token configured
    they are off."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if settings.api_token is None:
        raise HTTPException(
            401,
            "writes are off on this server: it has no API token (set LITHOSCOPE_API_TOKEN and "
            "restart it to allow them)",
            headers=challenge,
        )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            401, "this write needs the header 'Authorization: Bearer <token>'", headers=challenge
        )
    expected = settings.api_token.get_secret_value().encode()
    if not hmac.compare_digest(credentials.credentials.encode(), expected):
        raise HTTPException(
            401, "the bearer token is not this server's API token", headers=challenge
        )


State = Annotated[ServiceState, Depends(get_state)]
Ready = Annotated[ServiceState, Depends(ready_state)]
Db = Annotated[Any, Depends(get_db)]
Models = Annotated[ServedModels, Depends(get_models)]
WriteAccess = Depends(require_token)
