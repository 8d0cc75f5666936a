"""The worker's database session: one connection, reconnected, transient errors waited out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import asyncpg
import structlog

from services.common.db import connect
from services.common.retry import TRANSIENT, backoff
from services.ingest import metrics

log = structlog.get_logger(__name__)

S = TypeVar("S")
T = TypeVar("T")


class DbSession(Generic[S]):
    """Runs work on a store over one connection; retries transient errors in place, forever."""

    def __init__(self, dsn: str, store: Callable[[asyncpg.Connection], S]):
        self._dsn = dsn
        self._store = store
        self._conn: asyncpg.Connection | None = None

    async def run(self, work: Callable[[S], Awaitable[T]]) -> T:
        """The result of ``work``; a partition waits out a database outage, it never skips."""
        delays = backoff()
        while True:
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await connect(self._dsn)
                return await work(self._store(self._conn))
            except TRANSIENT as exc:
                metrics.RETRIES.inc()
                delay = next(delays)
                log.warning("ingest.db_retry", error=type(exc).__name__, delay=delay)
                await self._reset()
                await asyncio.sleep(delay)

    async def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _reset(self) -> None:
        if self._conn is not None:
            try:
                await asyncio.wait_for(self._conn.close(), timeout=2)
            except Exception:  # noqa: BLE001 - a broken connection may not close cleanly
                self._conn.terminate()
            self._conn = None
