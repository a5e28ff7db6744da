"""The service's routers, one module per concern, and what their OpenAPI entries share."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from lithoscope.service.schemas import ErrorBody

__all__ = ["errors_doc", "multipart_schema"]

_WHY = {
    400: "The request cannot be parsed (bad multipart body or Content-Length).",
    401: "A write without this server's bearer token (or writes are off).",
    404: "No such mineral (or page).",
    413: "The body is larger than LITHOSCOPE_MAX_UPLOAD_BYTES.",
    415: "Neither multipart/form-data nor application/json.",
    422: "Invalid input: the reader's or the validator's one-line message.",
    503: "MinDB and the models are still loading (or failed to load).",
}


def errors_doc(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error responses of a route for ``responses=`` (each ``{"detail": "..."}``)."""
    return {code: {"model": ErrorBody, "description": _WHY[code]} for code in codes}


def multipart_schema(options: type[BaseModel], extra: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI schema of a form: ``files`` (one or more), the fields of ``options`` (as their
    JSON schema types) and ``extra`` fields."""
    fields = options.model_json_schema()["properties"]
    properties: dict[str, Any] = {
        "files": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "minItems": 1,
            "description": "Spectrum files (any format lithoscope reads).",
        }
    }
    for name, spec in fields.items():
        spec = {k: v for k, v in spec.items() if k != "title"}
        if "anyOf" in spec:  # optional: the non-null alternative
            spec = {**next(s for s in spec.pop("anyOf") if s.get("type") != "null"), **spec}
        if spec.get("default", 0) is None:
            del spec["default"]
        properties[name] = spec
    properties.update(extra)
    return {"type": "object", "required": ["files"], "properties": properties}
