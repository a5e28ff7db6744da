"""The batcher: concurrent jobs of equal options become one call; answers go back in order."""

from __future__ import annotations

import asyncio
import threading

import pytest

from lithoscope.service.batching import Batcher


def test_concurrent_jobs_share_one_call_and_get_their_own_answers():
    calls = []
    gate = threading.Event()

    def compute(items, options):
        gate.wait(5)  # hold the first call so that the others queue up behind it
        calls.append(list(items))
        return [f"{options}:{x}" for x in items]

    batcher = Batcher(compute)

    async def main():
        first = asyncio.ensure_future(batcher.submit([0], "a", "a"))
        await asyncio.sleep(0.05)
        rest = [asyncio.ensure_future(batcher.submit([i, i + 100], "a", "a")) for i in (1, 2, 3)]
        other = asyncio.ensure_future(batcher.submit([9], "b", "b"))
        await asyncio.sleep(0.05)
        gate.set()
        return await first, await asyncio.gather(*rest), await other

    try:
        first, rest, other = asyncio.run(main())
    finally:
        batcher.close()
    assert first == ["a:0"]
    assert rest == [["a:1", "a:101"], ["a:2", "a:102"], ["a:3", "a:103"]]
    assert other == ["b:9"]
    # the first call alone, then the three waiting 'a' jobs as one call, the 'b' job apart
    assert calls == [[0], [1, 101, 2, 102, 3, 103], [9]]


def test_a_job_that_fails_does_not_fail_the_others():
    def compute(items, options):
        if "bad" in items:
            raise ValueError("bad item")
        return list(items)

    batcher = Batcher(compute)

    async def main():
        jobs = [
            batcher.submit(["ok1"], 0, 0),
            batcher.submit(["bad"], 0, 0),
            batcher.submit(["ok2"], 0, 0),
        ]
        return await asyncio.gather(*jobs, return_exceptions=True)

    try:
        ok1, bad, ok2 = asyncio.run(main())
    finally:
        batcher.close()
    assert ok1 == ["ok1"] and ok2 == ["ok2"]
    assert isinstance(bad, ValueError)
    with pytest.raises(ValueError, match="bad item"):
        raise bad
