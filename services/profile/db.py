"""The API's database access: a pool as ``contacts_api`` and per-tenant transactions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import asyncpg

from services.common import tenants
from services.common.db import create_pool


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
        async with self._pool.acquire(timeout=5) as conn:
            yield cast(asyncpg.Connection, conn)  # a proxy with the same interface

    @asynccontextmanager
    async def tenant(self, tenant_id: str) -> AsyncIterator[asyncpg.Connection]:
        """A transaction whose row level security shows ``tenant_id``'s rows only."""
        async with self.connection() as conn, conn.transaction():
            await tenants.scope(conn, tenant_id)
            yield conn
