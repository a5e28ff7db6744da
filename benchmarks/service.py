"""Load test of ``lithoscope serve`` on 127.0.0.1: identify latency and throughput, stream rate.

Usage:
    python benchmarks/service.py [--mirror ../shared/data] [--data-dir DIR] [--requests 400]
                                 [--stream 500] [--concurrency 1,10,50] [--workers 1]

Without ``--data-dir`` a temporary data folder is filled from the mirror as
``benchmarks/serving.py`` does (MinDB built, RRUFF IMA list and all RRUFF Raman spectra
ingested) and a library model is trained on it (``lithoscope train --method raman --model
library``); a ``--data-dir`` that already has models is used as it is (else it is filled so).

Then ``lithoscope serve`` runs in its own process on a free port of 127.0.0.1, and this process
measures, with raw RRUFF Raman files (spread over the whole zip) as the spectra:

* ``POST /v1/identify`` of one file (multipart, ``method=raman``), at 1, 10 and 50 concurrent
  clients (httpx, one connection each), ``--requests`` requests per level after 20 warm-up
  requests: p50 / p99 latency, requests per second, errors (non-200 or transport errors);
* ``WS /v1/stream``: one client sends a spectrum, waits for its answer, sends the next
  (``--stream`` messages): p50 / p99 per message and spectra per second.

Bounded: a fixed number of requests per level, 60 s timeout per request; the server is stopped
at the end. Quote one run; the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def raw_files(mirror: Path, n: int) -> list[tuple[str, bytes]]:
    """(name, bytes) of ``n`` Raman files of the mirror's zip, spread over the whole zip."""
    with zipfile.ZipFile(mirror / "rruff" / "raman" / "excellent_unoriented.zip") as zf:
        names = sorted(m for m in zf.namelist() if m.endswith(".txt"))
        step = max(1, len(names) // n)
        return [(m, zf.read(m)) for m in names[::step][:n]]


def prepare(data_dir: Path, mirror: Path) -> None:
    """MinDB with the RRUFF Raman spectra and a default library model, in ``data_dir``."""
    os.environ["LITHOSCOPE_DATA_DIR"] = str(data_dir)
    from lithoscope.config import get_settings

    get_settings.cache_clear()
    from lithoscope.data.ingest import ingest
    from lithoscope.mindb import connect
    from lithoscope.pipeline.train import train

    t0 = time.perf_counter()
    with connect() as db:
        db.build()
        ingest(db, "rruff-ima", mirror=str(mirror), progress=False)
        ingest(db, "rruff-raman", mirror=str(mirror), progress=False)
        ref = train(db, "raman", "library", make_default=True).ref
    print(f"MinDB filled and {ref} trained in {time.perf_counter() - t0:.0f} s", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, port: int, workers: int) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("lithoscope")
    env = {**os.environ, "LITHOSCOPE_DATA_DIR": str(data_dir)}
    cmd = [str(exe), "serve", "--port", str(port), "--workers", str(workers)]
    return subprocess.Popen(
        [*cmd, "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL, stderr=sys.stderr
    )


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 600) -> float:
    import httpx

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"lithoscope serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return time.perf_counter() - t0
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"lithoscope serve was not ready after {timeout:.0f} s")


async def identify_load(
    url: str, files: list[tuple[str, bytes]], concurrency: int, n: int
) -> tuple[list[float], int, float]:
    """Latencies (s), error count and wall time of ``n`` single-file identifications sent by
    ``concurrency`` clients at once."""
    import httpx

    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def client() -> None:
        nonlocal errors
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                name, data = files[i % len(files)]
                t0 = time.perf_counter()
                try:
                    r = await http.post(
                        "/v1/identify", files=[("files", (name, data))], data={"method": "raman"}
                    )
                    ok = r.status_code == 200 and not r.json()["errors"]
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t0)
                errors += not ok

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - t0


async def stream_rate(
    url: str, files: list[tuple[str, bytes]], n: int
) -> tuple[list[float], int, float]:
    """Per-message latencies, errors and wall time of ``n`` spectra sent one after the other
    over one WebSocket (each sent when the previous answer arrived)."""
    import json

    import websockets

    latencies: list[float] = []
    errors = 0
    ws_url = url.replace("http://", "ws://") + "/v1/stream?method=raman"
    async with websockets.connect(ws_url, max_size=None) as ws:
        for _name, data in files[:5]:  # warm-up
            await ws.send(data)
            await ws.recv()
        t0 = time.perf_counter()
        for i in range(n):
            data = files[i % len(files)][1]
            t = time.perf_counter()
            await ws.send(data)
            answer = json.loads(await ws.recv())
            latencies.append(time.perf_counter() - t)
            errors += "error" in answer
        wall = time.perf_counter() - t0
    return latencies, errors, wall


def ms(latencies: list[float], q: float) -> float:
    return float(np.percentile(np.array(latencies) * 1000, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--data-dir", default=None, help="a data folder with MinDB and a model")
    parser.add_argument("--requests", type=int, default=400, help="identify requests per level")
    parser.add_argument("--stream", type=int, default=500, help="stream messages")
    parser.add_argument("--concurrency", default="1,10,50")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    mirror = Path(args.mirror)
    files = raw_files(mirror, 300)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(args.data_dir) if args.data_dir else Path(scratch)
        if not (data_dir / "models" / "defaults.json").is_file():
            prepare(data_dir, mirror)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_server(data_dir, port, args.workers)
        try:
            ready = wait_ready(url, proc)
            print(f"server ready in {ready:.1f} s ({args.workers} worker(s))", flush=True)
            asyncio.run(identify_load(url, files, 1, 20))  # warm-up
            for c in (int(v) for v in args.concurrency.split(",")):
                lat, errors, wall = asyncio.run(identify_load(url, files, c, args.requests))
                rows.append(
                    (f"identify, {c} client(s)", ms(lat, 50), ms(lat, 99), len(lat) / wall, errors)
                )
                print(rows[-1], flush=True)
            lat, errors, wall = asyncio.run(stream_rate(url, files, args.stream))
            rows.append(("stream, 1 client", ms(lat, 50), ms(lat, 99), len(lat) / wall, errors))
        finally:
            proc.terminate()
            proc.wait(30)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"lithoscope serve on 127.0.0.1 ({args.workers} worker(s))")
    for col in ("load", "p50 ms", "p99 ms", "per s", "errors"):
        table.add_column(col, justify="left" if col == "load" else "right")
    for load, p50, p99, rate, errors in rows:
        table.add_row(load, f"{p50:.1f}", f"{p99:.1f}", f"{rate:,.0f}", str(errors))
    Console().print(table)
    print("| load | p50 ms | p99 ms | per s | errors |")
    print("| --- | --- | --- | --- | --- |")
    for load, p50, p99, rate, errors in rows:
        print(f"| {load} | {p50:.1f} | {p99:.1f} | {rate:,.0f} | {errors} |")


if __name__ == "__main__":
    main()
