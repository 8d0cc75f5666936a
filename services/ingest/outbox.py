"""The transactional outbox: alerts queued with their batch, produced after commit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from schemas.alerts import alert_message
from services.ingest.ports import Outbox, StoreRunner

__all__ = ["Relay", "Send", "alert_message", "flush"]

Send = Callable[[str, bytes | None, bytes], Awaitable[None]]


async def flush(outbox: Outbox, send: Send, *, limit: int = 500) -> int:
    """Produce queued records oldest first, delete them once delivered; return how many."""
    total = 0
    while True:
        async with outbox.transaction():
            records = await outbox.pending(limit)
            # all at once: one produce request instead of one delivery round trip per record
            await asyncio.gather(*(send(r.topic, r.key, r.value) for r in records))
            if records:
                await outbox.delete([r.id for r in records])
        total += len(records)
        if len(records) < limit:
            return total


class Relay:
    """Flushes the outbox after a batch that queued alerts, once after a start, and at least
    every ``sweep_seconds`` while batches come: the API queues merge alerts it could not
    produce itself (broker away), and they must not wait for the next flagged booking."""

    def __init__(self, outbox: StoreRunner[Outbox], send: Send, *, sweep_seconds: float = 30.0):
        self._outbox = outbox
        self._send = send
        self._sweep = sweep_seconds
        self._pending = True  # a previous run may have left records in the outbox
        self._last = 0.0

    async def publish(self, queued: bool) -> int:
        """Flush if this batch ``queued`` alerts or a flush is owed; return how many were sent."""
        now = time.monotonic()
        if not (self._pending or queued or now - self._last >= self._sweep):
            return 0
        sent = await self._outbox.run(lambda outbox: flush(outbox, self._send))
        self._pending = False
        self._last = now
        return sent
