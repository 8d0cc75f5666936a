"""Customer file imports: the record of a real import and how far ingest applied it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import asyncpg

if TYPE_CHECKING:
    from services.profile.importing import Report

_RECORD = """
INSERT INTO imports (id, tenant_id, sha256, encoding, delimiter, rows, valid, invalid,
                     would_create, would_update, unchanged, published, errors, generation)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
"""
_STATE = """
SELECT i.*, (SELECT count(*) FROM history h
             WHERE h.tenant_id = i.tenant_id AND h.type = 'contact.imported'
               AND h.data ->> 'import_id' = i.id::text) AS applied
FROM imports i WHERE i.tenant_id = $1 AND i.id = $2
"""


async def record(
    conn: asyncpg.Connection,
    import_id: uuid.UUID,
    tenant_id: str,
    sha256: str,
    report: Report,
    *,
    generation: int = 0,
) -> None:
    """Store a real import's report (its counts and row errors) and its generation."""
    await conn.execute(
        _RECORD,
        import_id,
        tenant_id,
        sha256,
        report.encoding,
        report.delimiter,
        report.rows,
        report.valid,
        report.invalid,
        report.would_create,
        report.would_update,
        report.unchanged,
        report.published,
        report.errors,
        generation,
    )


async def state(
    conn: asyncpg.Connection, tenant_id: str, import_id: uuid.UUID
) -> asyncpg.Record | None:
    """The import's record with ``applied``, its rows ingest has folded; None if unknown."""
    return await conn.fetchrow(_STATE, tenant_id, import_id)


_FOR_UNDO = _STATE + " FOR UPDATE OF i"
_EVENT_ROWS = """
SELECT event_id, customer_id FROM history
WHERE tenant_id = $1 AND type = 'contact.imported' AND data ->> 'import_id' = $2::text
"""
_FORGET_ROWS = "SELECT contacts_forget_import_rows($1, $2::uuid[])"
_UNDONE = "UPDATE imports SET undone_at = $3, undone_by = $4 WHERE tenant_id = $1 AND id = $2"
_GENERATION = """
SELECT count(*) FROM imports WHERE tenant_id = $1 AND sha256 = $2 AND undone_at IS NOT NULL
"""
_PAST = """
SELECT i.id, i.sha256, i.rows, i.valid, i.invalid, i.published, i.created_at, i.undone_at,
       (SELECT count(*) FROM history h
        WHERE h.tenant_id = i.tenant_id AND h.type = 'contact.imported'
          AND h.data ->> 'import_id' = i.id::text) AS applied
FROM imports i WHERE i.tenant_id = $1
ORDER BY i.created_at DESC, i.id DESC LIMIT $2
"""
# What an undo would take back: the cards the import's rows are on, and whether each is fed by
# other events too (changed) or by the import alone (created by it: removed).
_TAKE_BACK = """
WITH mine AS (
    SELECT customer_id, count(*) AS n FROM history
    WHERE tenant_id = $1 AND type = 'contact.imported' AND data ->> 'import_id' = $2::text
    GROUP BY customer_id
)
SELECT count(*) FILTER (WHERE all_rows.n = mine.n) AS cards_removed,
       count(*) FILTER (WHERE all_rows.n > mine.n) AS cards_changed
FROM mine CROSS JOIN LATERAL (
    SELECT count(*) AS n FROM history h WHERE h.tenant_id = $1 AND h.customer_id = mine.customer_id
) AS all_rows
"""


async def for_undo(
    conn: asyncpg.Connection, tenant_id: str, import_id: uuid.UUID
) -> asyncpg.Record | None:
    """The import's record with ``applied``, locked until the transaction ends."""
    return await conn.fetchrow(_FOR_UNDO, tenant_id, import_id)


async def event_rows(
    conn: asyncpg.Connection, tenant_id: str, import_id: uuid.UUID
) -> list[asyncpg.Record]:
    """The import's history rows ingest applied: event_id, customer_id."""
    return list(await conn.fetch(_EVENT_ROWS, tenant_id, str(import_id)))


async def forget_rows(
    conn: asyncpg.Connection, import_id: uuid.UUID, event_ids: list[uuid.UUID]
) -> int:
    """Take the import's rows out of the history and the consent ledger (of the transaction's
    tenant, through ``contacts_forget_import_rows``); how many history rows went."""
    return int(await conn.fetchval(_FORGET_ROWS, import_id, event_ids))


async def mark_undone(
    conn: asyncpg.Connection,
    tenant_id: str,
    import_id: uuid.UUID,
    at: datetime,
    by: uuid.UUID | None,
) -> None:
    """Record that the import was taken back, when and by which token."""
    await conn.execute(_UNDONE, tenant_id, import_id, at, by)


async def generation(conn: asyncpg.Connection, tenant_id: str, sha256: str) -> int:
    """How many imports of this same file the venue undid: the next one's event ids differ."""
    return int(await conn.fetchval(_GENERATION, tenant_id, sha256))


async def past(conn: asyncpg.Connection, tenant_id: str, limit: int) -> list[asyncpg.Record]:
    """The venue's imports, newest first, with how many rows ingest applied."""
    return list(await conn.fetch(_PAST, tenant_id, limit))


async def take_back(
    conn: asyncpg.Connection, tenant_id: str, import_id: uuid.UUID
) -> asyncpg.Record:
    """What undoing the import would take back: cards_removed, cards_changed."""
    row = await conn.fetchrow(_TAKE_BACK, tenant_id, str(import_id))
    assert row is not None
    return row


_MAPPING = "SELECT mapping FROM import_mappings WHERE tenant_id = $1 AND header = $2"
_REMEMBER = """
INSERT INTO import_mappings (tenant_id, header, mapping) VALUES ($1, $2, $3)
ON CONFLICT (tenant_id, header) DO UPDATE SET mapping = EXCLUDED.mapping, updated_at = now()
"""


async def mapping(conn: asyncpg.Connection, tenant_id: str, header: str) -> object | None:
    """The column mapping the venue gave for this header before (its JSON), or None."""
    found: object | None = await conn.fetchval(_MAPPING, tenant_id, header)
    return found


async def remember_mapping(
    conn: asyncpg.Connection, tenant_id: str, header: str, doc: dict[str, object]
) -> None:
    """Remember the venue's column mapping for this header (the newest wins)."""
    await conn.execute(_REMEMBER, tenant_id, header, doc)
