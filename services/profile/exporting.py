"""Segment exports as use cases: queue a job (and ask the worker), read its state, find its
finished file (the API routes and the console call them)."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg

from services.common import exportjobs, tenants
from services.common.segments import SegmentFilters
from services.profile.commands import ExportRequests
from services.profile.db import Database
from services.profile.problems import Problem, found


async def queue(
    db: Database,
    requests: ExportRequests,
    tenant: str,
    filters: SegmentFilters,
    *,
    delimiter: str,
    bom: bool,
) -> uuid.UUID:
    """A queued export of the segment; a 404 problem for an unknown venue."""
    async with db.tenant(tenant) as conn:
        if not await tenants.exists(conn, tenant):
            raise Problem(404, "no such tenant")
        export_id = await exportjobs.create(
            conn,
            tenant,
            filters.model_dump(mode="json", exclude_defaults=True),
            delimiter=delimiter,
            bom=bom,
        )
    await requests.send(tenant, export_id)  # if it fails, the worker's sweep runs the job
    return export_id


async def state(db: Database, tenant: str, export_id: uuid.UUID) -> asyncpg.Record:
    """The job's row (state, rows, bytes, sha256...); a 404 problem when the venue has none."""
    async with db.tenant(tenant) as conn:
        return found(await exportjobs.status(conn, tenant, export_id), "export")


async def finished_file(
    db: Database, exports_path: Path, tenant: str, export_id: uuid.UUID
) -> tuple[Path, str]:
    """The finished CSV and the file name to download it as; 409 while not done, 404 once the
    file is gone."""
    row = await state(db, tenant, export_id)
    if row["state"] != "done":
        raise Problem(409, f"the export is {row['state']}")
    # Both parts are validated (tenant pattern, UUID): the path cannot leave the export folder.
    path = Path(exports_path) / tenant / f"{export_id}.csv"
    if not path.is_file():
        raise Problem(404, "the export file is gone (retention)")
    return path, f"{tenant}-{row['created_at']:%Y%m%d-%H%M%S}.csv"
