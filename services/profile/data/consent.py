"""The consent ledger: a customer's newsletter statements."""

from __future__ import annotations

import uuid

import asyncpg

_LEDGER = """
SELECT event_id, opt_in, occurred_at, source, recorded_at FROM consent_ledger
WHERE tenant_id = $1 AND customer_id = $2 ORDER BY occurred_at DESC, event_id DESC
"""


async def ledger(
    conn: asyncpg.Connection, tenant_id: str, customer_id: uuid.UUID
) -> list[asyncpg.Record]:
    """Every statement of the customer, newest first."""
    return list(await conn.fetch(_LEDGER, tenant_id, customer_id))
