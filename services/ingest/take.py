"""A pipelined take: the next batch fills while the agent handles the previous one.

faust's ``Stream.take_events`` gates its buffer while the agent handles a batch, so no record
moves into the next batch until the handler returns: intake (faust's per-record work) and
handling alternate on one core, and the handler's SQL waits leave that core idle (at half load
that gate, not the window, set the batch size and most of the latency: bench/ANALYSIS.md).

Here the buffer is swapped out when a batch is yielded, so records keep arriving into the next
one. A batch's events are acked only when the agent asks for the next batch, i.e. after the
batch was applied, and batches are handled one at a time, so acks stay in offset order and faust
never commits past an event that is not applied. Events still buffered when the stream stops
are never acked: they are redelivered, and the ledger (processed_events) absorbs the repeat.
The agent's body must not raise (a batch is retried until applied; the lag metric swallows its
errors): faust commits past at most one unacked offset, so no record may be dropped unacked.

It uses two private members of faust's Stream (``_enable_passive``, ``_processors``), as
``take_events`` itself does; faust-streaming is pinned, and tests/integration run it against a
real broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import faust
from faust.types import ChannelT, EventT


async def take_pipelined(
    stream: faust.Stream[Any], max_: int, within: float
) -> AsyncIterator[list[EventT[Any]]]:
    """Batches of at most ``max_`` events, each yielded once it is full or ``within`` seconds
    have passed without it filling, while the next batch fills."""
    events: list[EventT[Any]] = []
    full = asyncio.Event()
    room = asyncio.Event()
    room.set()
    closed = False

    async def add(value: Any) -> Any:
        while len(events) >= max_ and not closed:  # the next batch is full: wait until taken
            room.clear()
            if (await stream.wait(room)).stopped:  # type: ignore[arg-type]
                return value  # not taken, never acked: redelivered after the restart
        if closed:
            return value  # this take has ended: not taken, never acked
        event = stream.current_event
        if event is None:
            raise RuntimeError("take_pipelined: no current event")
        events.append(event)
        if len(events) >= max_:
            full.set()
        return value

    stream.enable_acks = False  # acked here, after the agent applied them
    stream.add_processor(add)
    stream._enable_passive(cast("ChannelT[Any]", aiter(stream.channel)))
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(full, timeout=within)  # type: ignore[arg-type]
            if not events:
                continue
            batch = list(events)
            events.clear()
            full.clear()
            room.set()
            yield batch
            for event in batch:  # reached only when the agent asks for more: batch applied
                await stream.ack(event)
    finally:
        # Unlike take_events, acks stay off: the background drainer may outlive this take (the
        # agent's supervisor restarts the body on the same stream), and with acks on it would
        # ack records that no batch handled. A blocked ``add`` is released and takes nothing.
        closed = True
        room.set()
        stream._processors.remove(add)
