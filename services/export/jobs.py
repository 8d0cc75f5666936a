"""Export job state in PostgreSQL (bookkeeping; no personal data)."""

from __future__ import annotations

import os
import uuid
from typing import Any

import asyncpg

# A job is claimed when queued, or when its runner stopped beating (killed mid-job).
STALE_AFTER_SECONDS = float(os.environ.get("CONTACTS_EXPORT_STALE_SECONDS", "30"))
MAX_ATTEMPTS = 5

CREATE = """
INSERT INTO exports (id, tenant_id, filters, delimiter, bom) VALUES ($1, $2, $3, $4, $5)
"""
_STALE = f"now() - make_interval(secs => {STALE_AFTER_SECONDS})"
CLAIM = f"""
UPDATE exports SET state = 'running', attempts = attempts + 1, heartbeat_at = now(), error = NULL
WHERE id = $1 AND attempts < {MAX_ATTEMPTS}
  AND (state = 'queued' OR (state = 'running' AND heartbeat_at < {_STALE}))
RETURNING *
"""
HEARTBEAT = "UPDATE exports SET heartbeat_at = now() WHERE id = $1 AND state = 'running'"
FINISH = """
UPDATE exports SET state = 'done', rows = $2, bytes = $3, sha256 = $4, finished_at = now()
WHERE id = $1
"""
FAIL = "UPDATE exports SET state = 'failed', error = $2, finished_at = now() WHERE id = $1"
RELEASE = """
UPDATE exports SET state = $2, error = $3,
       finished_at = CASE WHEN $2 = 'failed' THEN now() END
WHERE id = $1
"""
GIVE_UP = f"""
UPDATE exports SET state = 'failed', error = 'gave up after {MAX_ATTEMPTS} attempts',
       finished_at = now()
WHERE state = 'running' AND attempts >= {MAX_ATTEMPTS}
  AND heartbeat_at < {_STALE}
"""
UNFINISHED = f"""
SELECT id FROM exports
WHERE (state = 'queued' AND created_at < {_STALE})
   OR (state = 'running' AND heartbeat_at < {_STALE})
ORDER BY created_at LIMIT 100
"""


async def create(
    conn: asyncpg.Connection,
    tenant_id: str,
    filters: dict[str, Any],
    *,
    delimiter: str = ",",
    bom: bool = False,
) -> uuid.UUID:
    """A queued export job."""
    export_id = uuid.uuid4()
    await conn.execute(CREATE, export_id, tenant_id, filters, delimiter, bom)
    return export_id


async def claim(conn: asyncpg.Connection, export_id: uuid.UUID) -> asyncpg.Record | None:
    """Take the job if nobody is running it; None when it is done, failed or busy."""
    return await conn.fetchrow(CLAIM, export_id)


async def unfinished(conn: asyncpg.Connection) -> list[uuid.UUID]:
    """Jobs whose request was lost or whose runner died; also fails the hopeless ones."""
    await conn.execute(GIVE_UP)
    return [r["id"] for r in await conn.fetch(UNFINISHED)]
