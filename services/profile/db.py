"""The API's database access: a pool as ``contacts_api`` and per-tenant transactions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import asyncpg

from services.common import tenants
from services.common.db import create_pool

_ACQUIRE_TIMEOUT = 5.0  # seconds a request waits for a connection before its 503


async def _rollback_only(conn: asyncpg.Connection) -> None:
    """Release without ``RESET ALL``: the API keeps no session state (the tenant is set per
    transaction, ``set_config(..., true)``); an unfinished transaction is still rolled back."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class Database:
    """The API's pool; connects lazily so the service starts (and says 503) without a database."""

    def __init__(self, dsn: str, *, max_size: int = 10) -> None:
        self.dsn = dsn
        self.max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._gate = asyncio.Semaphore(max_size)  # as many holders as connections, in order

    async def open(self) -> None:
        """Create the pool; min_size 0 means no connection is made until one is needed."""
        if self._pool is None:
            self._pool = await create_pool(
                self.dsn, min_size=0, max_size=self.max_size, reset=_rollback_only
            )

    async def close(self) -> None:
        """Close every connection."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """One connection, no tenant: only the token lookup function is usable on it."""
        if self._pool is None:
            raise RuntimeError("Database.open() was not awaited")
        # First come, first served: asyncpg's pool hands a released connection to whoever asks
        # next, often the request that just released it, so under more requests than
        # connections a few wait many turns (bench/ANALYSIS.md, issue 16: list p99 at 64
        # clients). The gate queues them in order.
        async with asyncio.timeout(_ACQUIRE_TIMEOUT):
            await self._gate.acquire()
        try:
            async with self._pool.acquire(timeout=_ACQUIRE_TIMEOUT) as conn:
                yield cast(asyncpg.Connection, conn)  # a proxy with the same interface
        finally:
            self._gate.release()

    @asynccontextmanager
    async def tenant(self, tenant_id: str) -> AsyncIterator[asyncpg.Connection]:
        """A transaction whose row level security shows ``tenant_id``'s rows only; BEGIN and
        the tenant's setting go in one round trip. An error rolls it back (on release)."""
        async with self.connection() as conn:
            await tenants.begin_scoped(conn, tenant_id)
            yield conn
            await conn.execute("COMMIT")
