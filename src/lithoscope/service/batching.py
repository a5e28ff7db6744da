"""Micro-batching: the identifications of concurrent requests run as one `identify_batch` call.

Requests (and stream messages) hand their parsed measurements to the process's `Batcher`; its one
thread takes every job waiting, joins those with the same options into one batch (one
preprocessing pass and one model call: a batch runs at over 1,000 spectra/s where single calls
run at ~100/s) and hands each job its own answers, in order. One thread does the model work, so
requests never run the model at once (they would slow each other down) and the event loop keeps
accepting connections meanwhile.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Batcher"]

#: most measurements in one call
MAX_BATCH = 256

Compute = Callable[[Sequence[Any], Any], list[Any]]


@dataclass
class _Job:
    items: list[Any]
    key: Any
    options: Any
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop


class Batcher:
    """Run ``compute(items, options)`` for jobs of equal options together, in one thread.

    Parameters
    ----------
    compute : callable
        ``(items, options) -> results``, one result per item in order (`identify_batch`).
    """

    def __init__(self, compute: Compute, *, max_batch: int = MAX_BATCH) -> None:
        self.compute = compute
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="lithoscope-batcher", daemon=True)
        self._thread.start()

    async def submit(self, items: list[Any], options: Any, key: Any) -> list[Any]:
        """The results of ``items`` (same order); raises what ``compute`` raised for them."""
        if not items:
            return []
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_Job(items, key, options, future, loop))
        return await future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            n = len(first.items)
            while n < self.max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._queue.put(None)  # stop after this round
                    break
                jobs.append(job)
                n += len(job.items)
            groups: dict[Any, list[_Job]] = {}
            for job in jobs:
                groups.setdefault(job.key, []).append(job)
            for group in groups.values():
                self._serve(group)

    def _serve(self, jobs: list[_Job]) -> None:
        items = [item for job in jobs for item in job.items]
        try:
            results = self.compute(items, jobs[0].options)
        except Exception as exc:
            if len(jobs) == 1:
                _settle(jobs[0], exc=exc)
                return
            for job in jobs:  # one job's input spoiled the batch: each on its own
                self._serve([job])
            return
        start = 0
        for job in jobs:
            _settle(job, value=results[start : start + len(job.items)])
            start += len(job.items)


def _settle(job: _Job, *, value: Any = None, exc: BaseException | None = None) -> None:
    def done() -> None:
        if job.future.done():  # the request was cancelled (client gone)
            return
        if exc is not None:
            job.future.set_exception(exc)
        else:
            job.future.set_result(value)

    try:
        job.loop.call_soon_threadsafe(done)
    except RuntimeError:  # the loop is closed (shutdown)
        pass
