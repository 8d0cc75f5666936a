"""Suppressions: keyed hashes of erased identities, so older events about them are dropped."""

from __future__ import annotations

from datetime import datetime

import asyncpg

_RECORD = """
INSERT INTO suppressions (tenant_id, key_hash, anonymized_at)
SELECT $1, h, $3 FROM unnest($2::bytea[]) AS h
ON CONFLICT (tenant_id, key_hash) DO UPDATE SET anonymized_at = EXCLUDED.anonymized_at
"""


async def record(
    conn: asyncpg.Connection, tenant_id: str, hashes: list[bytes], at: datetime
) -> None:
    """Suppress these hashes as of ``at`` (a later erasure moves the instant)."""
    await conn.execute(_RECORD, tenant_id, hashes, at)
