"""The service under a real uvicorn server on 127.0.0.1: HTTP with httpx, the stream with the
websockets client."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx
import pytest

from tests.service.conftest import live_server, make_settings


@pytest.fixture(scope="module")
def server(trained_dir):
    from lithoscope.service import create_app

    with live_server(create_app(make_settings(trained_dir, max_upload_bytes=100_000))) as url:
        yield url


def test_http_over_a_real_socket(server, held_out):
    with httpx.Client(base_url=server, timeout=30) as http:
        assert http.get("/readyz").json()["models"] == ["raman-library@1"]
        name, data = held_out["Anorthite"]
        r = http.post("/v1/identify", files=[("files", (name, data))])
        assert r.status_code == 200
        assert r.json()["results"][0]["candidates"][0]["mineral"] == "Anorthite"
        assert http.get("/v1/minerals/forsterite").json()["formula"] == "Mg2SiO4"


def test_the_limit_answers_413_before_the_body_ends(server):
    """A chunked body (no Content-Length) past the 100 kB limit, never finished: the answer
    comes while the client is still sending."""
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/identify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 10_000
        for _ in range(15):  # 150 kB, and no terminating chunk
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        answer = sock.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 413")
    assert '"detail":"request body is larger than the 100000 bytes' in answer


def test_websocket_stream_over_a_real_socket(server, held_out):
    import websockets

    async def talk() -> list[dict]:
        url = server.replace("http://", "ws://") + "/v1/stream?method=raman&top=1"
        async with websockets.connect(url) as ws:
            for mineral in ("Quartz", "Calcite", "Forsterite"):
                await ws.send(held_out[mineral][1])
            await ws.send(json.dumps({"axis": [1, 2], "intensities": [1, 2], "id": 4}))
            return [json.loads(await ws.recv()) for _ in range(4)]

    answers = asyncio.run(talk())
    assert [a["candidates"][0]["mineral"] for a in answers[:3]] == [
        "Quartz",
        "Calcite",
        "Forsterite",
    ]
    assert answers[3]["id"] == 4 and answers[3]["refused"].startswith("it does not overlap")
