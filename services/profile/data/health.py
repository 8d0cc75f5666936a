"""The database round trip of the readiness check."""

from __future__ import annotations

import asyncpg

_PING = "SELECT 1"


async def ping(conn: asyncpg.Connection) -> None:
    """One round trip: raises when the database does not answer."""
    await conn.fetchval(_PING)
