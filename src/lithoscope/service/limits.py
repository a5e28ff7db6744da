"""The request size limit, enforced while the body streams in (not after reading all of it).

`BodySizeLimit` is a pure ASGI middleware: a declared ``Content-Length`` above the limit is
answered with 413 before a byte of the body is read; a body without one (chunked) is counted as
it arrives, and the read that passes the limit raises a 413 `HTTPException` inside the route, so
the rest is never read (FastAPI passes an `HTTPException` raised while reading a body through).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException

__all__ = ["BodySizeLimit", "too_large"]


def too_large(limit: int) -> str:
    return (
        f"request body is larger than the {_size(limit)} this service accepts; send fewer or "
        "smaller files (the limit is LITHOSCOPE_MAX_UPLOAD_BYTES)"
    )


def _size(n: int) -> str:
    return f"{n / 1e6:g} MB" if n >= 1_000_000 else f"{n} bytes"


class BodySizeLimit:
    """Refuse request bodies larger than ``max_bytes`` with 413 ``{"detail": ...}``."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared == -1:
            await _reply(send, 400, "Content-Length is not a non-negative integer")
            return
        if declared is not None and declared > self.max_bytes:
            await _reply(send, 413, too_large(self.max_bytes))
            return
        received = 0
        started = False

        async def counted() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, too_large(self.max_bytes))
            return message

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except HTTPException as exc:  # raised outside the app's exception handlers
            if started or exc.status_code != 413:
                raise
            await _reply(send, 413, str(exc.detail))


def _content_length(scope: dict[str, Any]) -> int | None:
    """The declared length, None without one, -1 when it is not a number."""
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else -1
    return None


async def _reply(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
