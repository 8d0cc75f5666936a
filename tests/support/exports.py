"""Seeding through the real ingest and running real export jobs (directly, or through the API)."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from schemas.events import site_event_adapter
from services.common import exportjobs as jobs
from services.common.db import role_dsn
from services.common.kafka import Topics
from services.common.settings import Settings
from services.export.runner import ExportRunner, export_path
from services.ingest.handlers import process_batch
from services.ingest.store import PostgresIngestStore

TENANT = "brasserie-leopold"


async def seed(conn: asyncpg.Connection, *docs: dict[str, Any]) -> None:
    """Fold event documents through the ingest path, as the workers do."""
    events = [site_event_adapter.validate_python(d) for d in docs]
    await process_batch(PostgresIngestStore(conn, Topics("t.")), events, secret="s")


async def run_export(db_url: str, owner: asyncpg.Connection, export_dir: Path, **job: Any) -> Path:
    """Create an export job of TENANT, run it with the real runner; the finished file."""
    filters = job.pop("filters", {})
    export_id = await jobs.create(owner, TENANT, filters, **job)
    runner = ExportRunner(db_url, role_dsn(db_url), export_dir)
    assert await runner.run(export_id) == "done"
    row = await owner.fetchrow("SELECT * FROM exports WHERE id = $1", export_id)
    assert row is not None
    path = export_path(export_dir, TENANT, export_id)
    data = path.read_bytes()
    assert (row["state"], row["bytes"]) == ("done", len(data))
    assert row["sha256"] == hashlib.sha256(data).hexdigest()
    return path


async def export_via_api(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    settings: Settings,
    db_url: str,
    tenant: str = TENANT,
    **options: Any,
) -> bytes:
    """POST an export through the API, run the job with the real runner, download the file."""
    base = f"/v1/tenants/{tenant}"
    r = await client.post(f"{base}/exports", json=options, headers=headers)
    assert r.status_code == 202, r.text
    export_id = uuid.UUID(r.json()["export_id"])
    runner = ExportRunner(db_url, role_dsn(db_url), Path(settings.exports_path))
    assert await runner.run(export_id) == "done"
    r = await client.get(f"{base}/exports/{export_id}/download", headers=headers)
    assert r.status_code == 200
    return r.content
