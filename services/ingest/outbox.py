"""The transactional outbox: alerts queued with their batch, produced after commit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from schemas.alerts import Alert
from services.ingest.ports import Outbox, StoreRunner

Send = Callable[[str, bytes | None, bytes], Awaitable[None]]


def alert_message(alert: Alert) -> tuple[bytes, bytes]:
    """The (key, value) an alert is queued and produced with: keyed by tenant, JSON."""
    return alert.tenant_id.encode(), alert.model_dump_json().encode()


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
    """Flushes the outbox after a batch that queued alerts, and once after a start."""

    def __init__(self, outbox: StoreRunner[Outbox], send: Send):
        self._outbox = outbox
        self._send = send
        self._pending = True  # a previous run may have left records in the outbox

    async def publish(self, queued: bool) -> int:
        """Flush if this batch ``queued`` alerts or a flush is owed; return how many were sent."""
        if not (self._pending or queued):
            return 0
        sent = await self._outbox.run(lambda outbox: flush(outbox, self._send))
        self._pending = False
        return sent
