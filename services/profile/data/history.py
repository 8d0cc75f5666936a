"""A customer's history entries: pages, one entry, all of them, and scrubbing on erasure."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

_PAGE = """
SELECT event_id AS id, type, occurred_at, source, summary FROM history
WHERE tenant_id = $1 AND customer_id = $2
  AND ($3::timestamptz IS NULL OR (occurred_at, event_id) < ($3, $4::uuid))
ORDER BY occurred_at DESC, event_id DESC LIMIT $5
"""
_ENTRY = """
SELECT event_id AS id, type, occurred_at, source, summary, data FROM history
WHERE tenant_id = $1 AND customer_id = $2 AND event_id = $3
"""
_ALL = """
SELECT event_id AS id, type, occurred_at, source, summary, data FROM history
WHERE tenant_id = $1 AND customer_id = $2 ORDER BY occurred_at DESC, event_id DESC
"""
# Erasure keeps only the structured keys of the event data: free text (notes, message,
# subject, reason, note) and foreign identifiers (external_id) are removed.
KEEP = [
    "reservation_id",
    "starts_at",
    "party_size",
    "form_id",
    "integration",
    "import_id",
    "row",
    "tags",
    "first_contact_at",
]
_SCRUB = """
UPDATE history SET contact = '{}', data = coalesce(
    (SELECT jsonb_object_agg(key, value) FROM jsonb_each(data) WHERE key = ANY($3::text[])),
    '{}'::jsonb)
WHERE tenant_id = $1 AND customer_id = $2
"""


async def page(
    conn: asyncpg.Connection,
    tenant_id: str,
    customer_id: uuid.UUID,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Up to ``limit`` entries without data, newest first, after the keyset position ``after``."""
    at, event_id = after if after is not None else (None, None)
    return list(await conn.fetch(_PAGE, tenant_id, customer_id, at, event_id, limit))


async def entry(
    conn: asyncpg.Connection, tenant_id: str, customer_id: uuid.UUID, entry_id: uuid.UUID
) -> asyncpg.Record | None:
    """One entry with the event's data; None when the customer has no such entry."""
    return await conn.fetchrow(_ENTRY, tenant_id, customer_id, entry_id)


async def everything(
    conn: asyncpg.Connection, tenant_id: str, customer_id: uuid.UUID
) -> list[asyncpg.Record]:
    """Every entry with its data, newest first (GDPR access)."""
    return list(await conn.fetch(_ALL, tenant_id, customer_id))


async def scrub(conn: asyncpg.Connection, tenant_id: str, customer_id: uuid.UUID) -> None:
    """Strip every entry's data down to the ``KEEP`` keys and drop its contact (erasure)."""
    await conn.execute(_SCRUB, tenant_id, customer_id, KEEP)
