"""A venue's past imports and taking one back, as use cases in their transaction (the API
routes and the console call them); the unmerge alerts are produced after the commit."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog

from services.common import tenants
from services.common.kafka import Topics
from services.common.settings import Settings
from services.profile.commands import Publisher
from services.profile.data import imports
from services.profile.db import Database
from services.profile.identity import IdentityError, queue_alert
from services.profile.import_undo import UndoneImport, undo_import
from services.profile.merging import publish
from services.profile.problems import Problem

log = structlog.get_logger(__name__)


def import_state(row: Mapping[str, Any]) -> str:
    """``undone``, ``done`` once ingest applied every published row, else ``applying``."""
    if row["undone_at"] is not None:
        return "undone"
    return "done" if row["applied"] >= row["published"] else "applying"


@dataclass(frozen=True, slots=True)
class PastImport:
    """An import's record and what an undo of it would take back."""

    row: asyncpg.Record
    preview: asyncpg.Record

    @property
    def state(self) -> str:
        """Where the import stands."""
        return import_state(dict(self.row))


async def past_imports(db: Database, tenant: str, limit: int) -> list[PastImport]:
    """The venue's imports, newest first, each with its undo preview."""
    async with db.tenant(tenant) as conn:
        rows = await imports.past(conn, tenant, limit)
        return [PastImport(r, await imports.take_back(conn, tenant, r["id"])) for r in rows]


async def take_back(
    db: Database,
    publisher: Publisher,
    settings: Settings,
    tenant: str,
    import_id: uuid.UUID,
    *,
    token_id: uuid.UUID | None,
) -> UndoneImport:
    """Undo an applied import (404 / 409 problems when it cannot be)."""
    topic = Topics(settings.topic_prefix).alerts
    async with db.tenant(tenant) as conn:
        config = await tenants.rules(conn, tenant, settings.default_region)
        try:
            done = await undo_import(
                conn,
                tenant,
                import_id,
                token_id=token_id,
                at=datetime.now(UTC),
                region=config.region,
                blocked=config.blocked,
                regular_threshold=config.regular_threshold,
            )
        except IdentityError as exc:
            raise Problem(exc.status, exc.detail) from exc
        queued = [await queue_alert(conn, topic, u.merge, "unmerged") for u in done.merges_undone]
    for q in queued:
        await publish(db, publisher, topic, q)
    log.info("import.undone", tenant=tenant, import_id=str(import_id), rows=done.rows)
    return done
