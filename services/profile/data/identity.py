"""Identity (contract 3a) as the API reads and changes it: identifiers, merge records, what an
undo moves back, duplicate suggestions, and the merge alerts queued in the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

# The card's identifiers and merged_from, alone and inside the card's one statement (cards.py).
IDENTIFIERS = """
SELECT kind, value, tied_at AS since FROM identifiers
WHERE tenant_id = $1 AND customer_id = $2 ORDER BY kind, tied_at, value
"""
MERGED_FROM = """
SELECT absorbed_id AS customer_id, id AS merge_id, reason, merged_at AS at FROM merges
WHERE tenant_id = $1 AND survivor_id = $2 AND undone_at IS NULL ORDER BY merged_at DESC, id
"""
_ABSORBED_INTO = """
SELECT survivor_id FROM merges
WHERE tenant_id = $1 AND absorbed_id = $2 AND undone_at IS NULL
ORDER BY merged_at DESC LIMIT 1
"""
# Rules 1 and 2 of 3a for one identifier: the live card whose tie to it is the oldest.
_HOLDER = """
SELECT c.* FROM identifiers i
JOIN customers c ON c.tenant_id = i.tenant_id AND c.id = i.customer_id
WHERE i.tenant_id = $1 AND i.value = $2 AND c.anonymized_at IS NULL
ORDER BY i.tied_at, i.customer_id LIMIT 1
"""
_MERGE = "SELECT * FROM merges WHERE tenant_id = $1 AND id = $2"
_MERGE_FOR_UPDATE = _MERGE + " FOR UPDATE"
_MERGES_PAGE = """
SELECT id, survivor_id, absorbed_id, reason, event_id, merged_at, undone_at FROM merges
WHERE tenant_id = $1
  AND ($2::uuid IS NULL OR survivor_id = $2 OR absorbed_id = $2)
  AND ($3::timestamptz IS NULL OR (merged_at, id) < ($3, $4::uuid))
ORDER BY merged_at DESC, id DESC LIMIT $5
"""
_BY_EVENTS = """
SELECT id FROM merges
WHERE tenant_id = $1 AND event_id = ANY($2::uuid[]) AND undone_at IS NULL
ORDER BY merged_at DESC, id DESC
"""
_MOVED = "SELECT event_id FROM merge_moves WHERE tenant_id = $1 AND merge_id = $2"
_EVENTS_OF = """
SELECT customer_id, event_id, type, occurred_at, source, data, contact, recorded_at FROM history
WHERE tenant_id = $1 AND customer_id = ANY($2::uuid[])
"""
_REHOME_HISTORY = """
UPDATE history SET customer_id = $3 WHERE tenant_id = $1 AND event_id = ANY($2::uuid[])
"""
_REHOME_CONSENT = """
UPDATE consent_ledger SET customer_id = $3 WHERE tenant_id = $1 AND event_id = ANY($2::uuid[])
"""
_DROP_IDENTIFIERS = "DELETE FROM identifiers WHERE tenant_id = $1 AND customer_id = ANY($2::uuid[])"
_UNDONE = "UPDATE merges SET undone_at = $3, undone_by = $4 WHERE tenant_id = $1 AND id = $2"
_DUPLICATES = """
SELECT d.first_id, d.second_id, d.reason, d.since FROM duplicate_pairs d
WHERE d.tenant_id = $1 AND d.dismissed_at IS NULL
  AND ($2::timestamptz IS NULL OR (d.since, d.first_id, d.second_id) < ($2, $3::uuid, $4::uuid))
  AND EXISTS (SELECT 1 FROM customers c
              WHERE c.tenant_id = d.tenant_id AND c.id = d.first_id AND c.anonymized_at IS NULL)
  AND EXISTS (SELECT 1 FROM customers c
              WHERE c.tenant_id = d.tenant_id AND c.id = d.second_id AND c.anonymized_at IS NULL)
ORDER BY d.since DESC, d.first_id DESC, d.second_id DESC LIMIT $5
"""
_DISMISS = """
INSERT INTO duplicate_pairs (tenant_id, first_id, second_id, reason, dismissed_at, dismissed_by)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (tenant_id, first_id, second_id) DO UPDATE
SET dismissed_at = coalesce(duplicate_pairs.dismissed_at, EXCLUDED.dismissed_at),
    dismissed_by = coalesce(duplicate_pairs.dismissed_by, EXCLUDED.dismissed_by)
"""
_QUEUE = """
INSERT INTO outbox (topic, key, value)
SELECT $1, k, v FROM unnest($2::bytea[], $3::bytea[]) AS x(k, v)
RETURNING id
"""
_FORGET = "DELETE FROM outbox WHERE id = ANY($1::bigint[])"


async def identifiers(
    conn: asyncpg.Connection, tenant_id: str, customer_id: uuid.UUID
) -> list[asyncpg.Record]:
    """The card's identifiers: kind, value, since (emails first, then phones, oldest first)."""
    return list(await conn.fetch(IDENTIFIERS, tenant_id, customer_id))


async def absorbed_into(
    conn: asyncpg.Connection, tenant_id: str, customer_id: uuid.UUID
) -> uuid.UUID | None:
    """The card this id now lives on in, following merges; None when it was never merged."""
    seen: set[uuid.UUID] = set()
    card, to = customer_id, None
    while (nxt := await conn.fetchval(_ABSORBED_INTO, tenant_id, card)) is not None:
        if nxt in seen:  # pragma: no cover - a merge never absorbs its own survivor
            break
        seen.add(nxt)
        card = to = nxt
    return to


async def holder(conn: asyncpg.Connection, tenant_id: str, value: str) -> asyncpg.Record | None:
    """The live card an identifier leads to (the oldest tie), as its full row."""
    return await conn.fetchrow(_HOLDER, tenant_id, value)


async def merge_record(
    conn: asyncpg.Connection, tenant_id: str, merge_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    """One merge record."""
    return await conn.fetchrow(_MERGE_FOR_UPDATE if for_update else _MERGE, tenant_id, merge_id)


async def merges_page(
    conn: asyncpg.Connection,
    tenant_id: str,
    customer_id: uuid.UUID | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Merge records, newest first, of one card (as survivor or absorbed) or of the venue."""
    at, last = after if after is not None else (None, None)
    return list(await conn.fetch(_MERGES_PAGE, tenant_id, customer_id, at, last, limit))


async def caused_by(
    conn: asyncpg.Connection, tenant_id: str, event_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    """The merges these events made and that stand, newest first."""
    return [r["id"] for r in await conn.fetch(_BY_EVENTS, tenant_id, list(event_ids))]


async def moved(conn: asyncpg.Connection, tenant_id: str, merge_id: uuid.UUID) -> set[uuid.UUID]:
    """The event ids of the history rows a merge moved from the absorbed card."""
    return {r["event_id"] for r in await conn.fetch(_MOVED, tenant_id, merge_id)}


async def events(
    conn: asyncpg.Connection, tenant_id: str, customer_id: uuid.UUID
) -> list[asyncpg.Record]:
    """Every history row of a card with what a refold needs (data, contact, recorded_at)."""
    return await events_of(conn, tenant_id, [customer_id])


async def events_of(
    conn: asyncpg.Connection, tenant_id: str, customer_ids: Sequence[uuid.UUID]
) -> list[asyncpg.Record]:
    """``events`` of many cards in one statement, each row with its ``customer_id``."""
    return list(await conn.fetch(_EVENTS_OF, tenant_id, list(customer_ids)))


async def rehome(
    conn: asyncpg.Connection, tenant_id: str, event_ids: Sequence[uuid.UUID], to: uuid.UUID
) -> None:
    """Give these history rows and their consent statements to another card."""
    await conn.execute(_REHOME_HISTORY, tenant_id, list(event_ids), to)
    await conn.execute(_REHOME_CONSENT, tenant_id, list(event_ids), to)


async def drop_identifiers(
    conn: asyncpg.Connection, tenant_id: str, customer_ids: Sequence[uuid.UUID]
) -> None:
    """Forget every identifier of these cards (before tying them again, or on erasure)."""
    await conn.execute(_DROP_IDENTIFIERS, tenant_id, list(customer_ids))


async def mark_undone(
    conn: asyncpg.Connection,
    tenant_id: str,
    merge_id: uuid.UUID,
    at: datetime,
    by: uuid.UUID | None,
) -> None:
    """Record that a merge was taken back, when and by which token."""
    await conn.execute(_UNDONE, tenant_id, merge_id, at, by)


async def duplicates_page(
    conn: asyncpg.Connection,
    tenant_id: str,
    after: tuple[datetime, uuid.UUID, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Open duplicate suggestions between live cards, newest first."""
    since, a, b = after if after is not None else (None, None, None)
    return list(await conn.fetch(_DUPLICATES, tenant_id, since, a, b, limit))


async def dismiss(
    conn: asyncpg.Connection,
    tenant_id: str,
    pair: tuple[uuid.UUID, uuid.UUID],
    *,
    reason: str,
    at: datetime,
    by: uuid.UUID | None,
) -> None:
    """Mark a pair "not the same person": it is never suggested again."""
    first, second = sorted(pair)
    await conn.execute(_DISMISS, tenant_id, first, second, reason, at, by)


async def queue(
    conn: asyncpg.Connection, topic: str, messages: Sequence[tuple[bytes, bytes]]
) -> list[int]:
    """Queue alerts in the outbox with the transaction that caused them; their ids."""
    if not messages:
        return []
    keys, values = (list(c) for c in zip(*messages, strict=True))
    return [r["id"] for r in await conn.fetch(_QUEUE, topic, keys, values)]


async def forget(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    """Delete outbox records once produced."""
    await conn.execute(_FORGET, list(ids))
