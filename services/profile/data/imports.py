"""Customer file imports: the record of a real import and how far ingest applied it."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import asyncpg

if TYPE_CHECKING:
    from services.profile.importing import Report

_RECORD = """
INSERT INTO imports (id, tenant_id, sha256, encoding, delimiter, rows, valid, invalid,
                     would_create, would_update, unchanged, published, errors)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
"""
_STATE = """
SELECT i.*, (SELECT count(*) FROM history h
             WHERE h.tenant_id = i.tenant_id AND h.type = 'contact.imported'
               AND h.data ->> 'import_id' = i.id::text) AS applied
FROM imports i WHERE i.tenant_id = $1 AND i.id = $2
"""


async def record(
    conn: asyncpg.Connection, import_id: uuid.UUID, tenant_id: str, sha256: str, report: Report
) -> None:
    """Store a real import's report (its counts and row errors)."""
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
    )


async def state(
    conn: asyncpg.Connection, tenant_id: str, import_id: uuid.UUID
) -> asyncpg.Record | None:
    """The import's record with ``applied``, its rows ingest has folded; None if unknown."""
    return await conn.fetchrow(_STATE, tenant_id, import_id)
