"""take_pipelined through faust's own test context (no broker): when records are acked.

The guarantee it carries: a record is acked (so its offset may be committed) only after the
batch holding it was applied, which is when the agent asks for the next batch; records that
no batch handled are never acked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import faust
from faust.types import StreamT

from services.ingest.take import take_pipelined


async def _until(done: Callable[[], bool]) -> None:
    for _ in range(500):  # a generous bound, not a timing assertion
        if done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def _acked(batch: list[Any]) -> list[bool]:
    return [bool(e.message.acked) for e in batch]


async def test_a_batch_is_acked_only_after_the_agent_asks_for_the_next() -> None:
    app = faust.App("take-test-1")
    batches: list[list[Any]] = []
    release = asyncio.Event()

    @app.agent()
    async def agent(stream: StreamT[Any]) -> None:
        async for batch in take_pipelined(cast(faust.Stream[Any], stream), 3, 0.05):
            batches.append(batch)
            if len(batches) == 1:
                await release.wait()  # the first batch is "being applied"

    async with agent.test_context() as ag:
        for i in range(3):
            await ag.put(i)
        await _until(lambda: len(batches) == 1)
        for i in range(3, 5):  # arrive while the first batch is in flight
            await ag.put(i)
        await asyncio.sleep(0.2)
        assert len(batches) == 1
        assert _acked(batches[0]) == [False, False, False]
        release.set()
        await _until(lambda: len(batches) == 2 and all(_acked(batches[0])))
        assert [[e.value for e in b] for b in batches] == [[0, 1, 2], [3, 4]]
        await _until(lambda: all(_acked(batches[1])))  # the agent asked for a third batch


async def test_records_no_batch_handled_are_never_acked() -> None:
    app = faust.App("take-test-2")
    taken: list[list[Any]] = []
    streams: list[faust.Stream[Any]] = []
    ended = asyncio.Event()

    @app.agent()
    async def agent(stream: StreamT[Any]) -> None:
        streams.append(cast(faust.Stream[Any], stream))
        async for batch in take_pipelined(cast(faust.Stream[Any], stream), 2, 0.05):
            taken.append(batch)
            break  # the body stops mid-batch: the take ends at its yield
        ended.set()
        await asyncio.Event().wait()  # stay alive; the stream's drainer keeps running

    async with agent.test_context() as ag:
        for i in range(2):
            await ag.put(i)
        await ended.wait()
        later = [await ag.put(i) for i in range(2, 4)]
        await asyncio.sleep(0.2)
        assert streams[0].enable_acks is False  # not restored, unlike take_events
        assert _acked(taken[0]) == [False, False]  # never asked for more: redelivered
        assert _acked(later) == [False, False]  # seen by the stream after the take ended
