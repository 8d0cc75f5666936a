"""The faust app of the export worker: one agent on ``contacts.export-requests``."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import faust
import orjson
import structlog
from faust.types import StreamT

from services.common import exportjobs as jobs
from services.common.db import connect
from services.common.faustapp import faust_app, raw_topic
from services.common.kafka import Topics
from services.common.retry import TRANSIENT, backoff
from services.common.settings import Settings
from services.export.runner import ExportRunner

log = structlog.get_logger(__name__)


def create_app(settings: Settings, owner_dsn: str, reader_dsn: str) -> faust.App:
    """Build the export worker app."""
    topics = Topics(settings.topic_prefix)
    app = faust_app(
        settings,
        f"{settings.ingest_group.removesuffix('-ingest')}-export",
        broker_max_poll_interval=3600.0,  # a million-row export may take a while
    )
    stale_after = settings.export_stale_seconds
    runner = ExportRunner(
        owner_dsn,
        reader_dsn,
        Path(settings.exports_path),
        default_region=settings.default_region,
        stale_after=stale_after,
    )
    requests = raw_topic(app, topics.export_requests)

    @app.agent(requests, concurrency=1)
    async def export(stream: StreamT[bytes]) -> None:
        async for value in stream:
            export_id = _export_id(value)
            if export_id is not None:
                await _run_until_settled(runner, export_id)

    @app.timer(interval=stale_after)  # type: ignore[untyped-decorator]
    async def sweep() -> None:
        """Pick up jobs whose request was lost or whose runner was killed."""
        try:
            conn = await connect(owner_dsn)
            try:
                stale = await jobs.unfinished(conn, stale_after)
            finally:
                await conn.close()
        except TRANSIENT as exc:  # e.g. CannotConnectNowError while the database restarts
            log.warning("export.sweep_failed", error=type(exc).__name__)
            return
        for export_id in stale:
            await _run_until_settled(runner, export_id)

    return app


def _export_id(value: bytes) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(orjson.loads(value)["export_id"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        log.warning("export.bad_request", size=len(value))
        return None


async def _run_until_settled(runner: ExportRunner, export_id: uuid.UUID) -> None:
    """Run a job; on an error retry it, up to the job's attempt limit (never raise)."""
    delays = backoff(first=1.0, cap=30.0)
    for _ in range(jobs.MAX_ATTEMPTS):
        try:
            await runner.run(export_id)
            return
        except Exception as exc:  # noqa: BLE001 - faust would ack the request and forget it
            log.error("export.retry", export_id=str(export_id), error=type(exc).__name__)
            await asyncio.sleep(next(delays))
