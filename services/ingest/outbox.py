"""Publishing the transactional outbox after commit (at least once)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg

Send = Callable[[str, bytes | None, bytes], Awaitable[None]]

_TAKE = """
SELECT id, topic, key, value FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
"""


async def flush(conn: asyncpg.Connection, send: Send, *, limit: int = 500) -> int:
    """Send queued records, oldest first, and delete them once delivered; return how many."""
    total = 0
    while True:
        async with conn.transaction():
            rows = await conn.fetch(_TAKE, limit)
            # all at once: one produce request instead of one delivery round trip per record
            await asyncio.gather(*(send(r["topic"], r["key"], r["value"]) for r in rows))
            if rows:
                ids = [r["id"] for r in rows]
                await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", ids)
        total += len(rows)
        if len(rows) < limit:
            return total
