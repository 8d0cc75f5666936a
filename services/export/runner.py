"""Run one export job: claim it, stream the CSV, record the result; safe to run again."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

import asyncpg
import structlog
from pydantic import ValidationError

from services.common import exportjobs as jobs
from services.common import tenants
from services.common.db import connect
from services.common.segments import SegmentFilters
from services.common.settings import DEFAULT_REGION
from services.export.writer import write_segment

log = structlog.get_logger(__name__)


def export_path(export_dir: Path, tenant_id: str, export_id: uuid.UUID) -> Path:
    """Where a job's file lives: one folder per tenant, named by the job id only."""
    return export_dir / tenant_id / f"{export_id}.csv"


class ExportRunner:
    """Claims jobs with the owner's connection; reads customers as the API role, under RLS."""

    def __init__(
        self,
        owner_dsn: str,
        reader_dsn: str,
        export_dir: Path,
        *,
        default_region: str = DEFAULT_REGION,
        stale_after: float = jobs.STALE_AFTER_SECONDS,
    ) -> None:
        self.owner_dsn = owner_dsn
        self.stale_after = stale_after
        self.default_region = default_region
        self.reader_dsn = reader_dsn
        self.export_dir = export_dir

    async def run(self, export_id: uuid.UUID) -> str | None:
        """Run the job if it is claimable; return its final state, None if not ours to run."""
        owner = await connect(self.owner_dsn)
        try:
            job = await jobs.claim(owner, export_id, self.stale_after)
            if job is None:
                return None
            beat = asyncio.create_task(self._beat(export_id))
            try:
                return await self._produce(owner, job)
            except Exception as exc:
                # Give the job back (or up): the next request or sweep runs it again.
                state = "failed" if job["attempts"] >= jobs.MAX_ATTEMPTS else "queued"
                await jobs.release(owner, export_id, state, type(exc).__name__)
                raise
            finally:
                beat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beat
        finally:
            await owner.close()

    async def _produce(self, owner: asyncpg.Connection, job: asyncpg.Record) -> str:
        tenant_id, export_id = job["tenant_id"], job["id"]
        bound = log.bind(tenant_id=tenant_id, export_id=str(export_id), attempt=job["attempts"])
        try:
            filters = SegmentFilters.model_validate(job["filters"])
        except ValidationError as exc:
            await jobs.fail(owner, export_id, f"invalid filters: {exc.error_count()}")
            bound.warning("export.failed", reason="invalid filters")
            return "failed"
        region = await tenants.region(owner, tenant_id, self.default_region)
        reader = await connect(self.reader_dsn)
        try:
            async with reader.transaction(isolation="repeatable_read", readonly=True):
                await tenants.scope(reader, tenant_id)
                written = await write_segment(
                    reader,
                    tenant_id,
                    filters,
                    export_path(self.export_dir, tenant_id, export_id),
                    delimiter=job["delimiter"],
                    bom=job["bom"],
                    region=region,
                )
        finally:
            await reader.close()
        await jobs.finish(owner, export_id, written.rows, written.bytes, written.sha256)
        bound.info("export.done", rows=written.rows, bytes=written.bytes)
        return "done"

    async def _beat(self, export_id: uuid.UUID) -> None:
        """Tell other workers this job is alive; a killed runner stops beating."""
        beat = await connect(self.owner_dsn)
        try:
            while True:
                await asyncio.sleep(min(5.0, self.stale_after / 3))
                await jobs.heartbeat(beat, export_id)
        finally:
            await beat.close()
