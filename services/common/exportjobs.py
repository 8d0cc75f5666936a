"""Export job state in PostgreSQL (bookkeeping; no personal data): the one implementation the
API (create, follow) and the export worker (claim, beat, finish, sweep) share."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.common.settings import DEFAULT_EXPORT_STALE_SECONDS

# A job is claimed when queued, or when its runner stopped beating for `stale_after` seconds
# (killed mid-job; CONTACTS_EXPORT_STALE_SECONDS).
STALE_AFTER_SECONDS = DEFAULT_EXPORT_STALE_SECONDS
MAX_ATTEMPTS = 5

_CREATE = """
INSERT INTO exports (id, tenant_id, filters, delimiter, bom) VALUES ($1, $2, $3, $4, $5)
"""
_STATUS = """
SELECT id, state, rows, bytes, sha256, error, created_at, finished_at, delimiter, bom
FROM exports WHERE tenant_id = $1 AND id = $2
"""
_CLAIM = f"""
UPDATE exports SET state = 'running', attempts = attempts + 1, heartbeat_at = now(), error = NULL
WHERE id = $1 AND attempts < {MAX_ATTEMPTS}
  AND (state = 'queued' OR (state = 'running' AND heartbeat_at < now() - make_interval(secs => $2)))
RETURNING *
"""
_HEARTBEAT = "UPDATE exports SET heartbeat_at = now() WHERE id = $1 AND state = 'running'"
_FINISH = """
UPDATE exports SET state = 'done', rows = $2, bytes = $3, sha256 = $4, finished_at = now()
WHERE id = $1
"""
_FAIL = "UPDATE exports SET state = 'failed', error = $2, finished_at = now() WHERE id = $1"
_RELEASE = """
UPDATE exports SET state = $2, error = $3,
       finished_at = CASE WHEN $2 = 'failed' THEN now() END
WHERE id = $1
"""
_GIVE_UP = f"""
UPDATE exports SET state = 'failed', error = 'gave up after {MAX_ATTEMPTS} attempts',
       finished_at = now()
WHERE state = 'running' AND attempts >= {MAX_ATTEMPTS}
  AND heartbeat_at < now() - make_interval(secs => $1)
"""
_UNFINISHED = """
SELECT id FROM exports
WHERE (state = 'queued' AND created_at < now() - make_interval(secs => $1))
   OR (state = 'running' AND heartbeat_at < now() - make_interval(secs => $1))
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
    await conn.execute(_CREATE, export_id, tenant_id, filters, delimiter, bom)
    return export_id


async def status(
    conn: asyncpg.Connection, tenant_id: str, export_id: uuid.UUID
) -> asyncpg.Record | None:
    """Where the tenant's job stands (state, counts, sha256, error, instants, CSV options)."""
    return await conn.fetchrow(_STATUS, tenant_id, export_id)


async def claim(
    conn: asyncpg.Connection, export_id: uuid.UUID, stale_after: float = STALE_AFTER_SECONDS
) -> asyncpg.Record | None:
    """Take the job if nobody is running it; None when it is done, failed or busy."""
    return await conn.fetchrow(_CLAIM, export_id, stale_after)


async def heartbeat(conn: asyncpg.Connection, export_id: uuid.UUID) -> None:
    """Tell other workers the running job is alive."""
    await conn.execute(_HEARTBEAT, export_id)


async def finish(
    conn: asyncpg.Connection, export_id: uuid.UUID, rows: int, size: int, sha256: str
) -> None:
    """Mark the job done with its file's rows, bytes and sha256."""
    await conn.execute(_FINISH, export_id, rows, size, sha256)


async def fail(conn: asyncpg.Connection, export_id: uuid.UUID, error: str) -> None:
    """Mark the job failed for good."""
    await conn.execute(_FAIL, export_id, error)


async def release(conn: asyncpg.Connection, export_id: uuid.UUID, state: str, error: str) -> None:
    """Give a job that raised back (``queued``) or up (``failed``)."""
    await conn.execute(_RELEASE, export_id, state, error)


async def unfinished(
    conn: asyncpg.Connection, stale_after: float = STALE_AFTER_SECONDS
) -> list[uuid.UUID]:
    """Jobs whose request was lost or whose runner died; also fails the hopeless ones."""
    await conn.execute(_GIVE_UP, stale_after)
    return [r["id"] for r in await conn.fetch(_UNFINISHED, stale_after)]
