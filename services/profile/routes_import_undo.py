"""Past imports and taking one back (issue 17)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from services.common import tenants
from services.common.kafka import Topics
from services.profile.auth import Principal, require
from services.profile.commands import Publisher
from services.profile.data import imports
from services.profile.deps import AppSettings, Db, TenantId
from services.profile.identity import IdentityError, queue_alert
from services.profile.import_undo import undo_import
from services.profile.merging import publish
from services.profile.problems import Problem, problem_responses

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1/tenants/{tenant}/imports", tags=["imports"])
Importer = Annotated[Principal, Depends(require("import"))]


class PastImport(BaseModel):
    """One import of the venue, and what an undo of it would take back."""

    import_id: uuid.UUID
    created_at: datetime
    rows: int
    valid: int
    invalid: int
    published: int
    applied: int
    state: str  # applying, done, undone
    undone_at: datetime | None
    cards_removed: int  # by an undo: cards only this import fed
    cards_changed: int  # by an undo: cards folded again from their other events


class PastImports(BaseModel):
    """The venue's imports, newest first."""

    items: list[PastImport]


class UndoneImport(BaseModel):
    """What an undo took back."""

    import_id: uuid.UUID
    state: str
    rows: int
    cards_removed: int
    cards_changed: int
    merges_undone: list[uuid.UUID]


def _state(row: Mapping[str, Any]) -> str:
    if row["undone_at"] is not None:
        return "undone"
    return "done" if row["applied"] >= row["published"] else "applying"


@router.get(
    "",
    response_model=PastImports,
    responses=problem_responses(401, 403, 422, 429, 503),
    summary="The venue's imports, newest first",
)
async def list_imports(
    tenant: TenantId, _: Importer, db: Db, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> PastImports:
    """Each import with its counts, its state and what undoing it would take back."""
    async with db.tenant(tenant) as conn:
        rows = await imports.past(conn, tenant, limit)
        previews = [await imports.take_back(conn, tenant, r["id"]) for r in rows]
    return PastImports(
        items=[
            PastImport(
                import_id=r["id"],
                created_at=r["created_at"],
                rows=r["rows"],
                valid=r["valid"],
                invalid=r["invalid"],
                published=r["published"],
                applied=r["applied"],
                state=_state(dict(r)),
                undone_at=r["undone_at"],
                cards_removed=p["cards_removed"],
                cards_changed=p["cards_changed"],
            )
            for r, p in zip(rows, previews, strict=True)
        ]
    )


@router.post(
    "/{import_id}/undo",
    response_model=UndoneImport,
    responses=problem_responses(401, 403, 404, 409, 422, 429, 503),
    summary="Take an import back",
)
async def undo(
    request: Request,
    tenant: TenantId,
    import_id: uuid.UUID,
    principal: Importer,
    db: Db,
    settings: AppSettings,
) -> UndoneImport:
    """Every change the import made goes: the cards only it fed, its history entries and consent
    statements, the fields it set (each card is folded again from its other events), the
    merges it caused. 409 if already undone, or while ingest is still applying it."""
    topic = Topics(settings.topic_prefix).alerts
    async with db.tenant(tenant) as conn:
        config = await tenants.settings(conn, tenant)
        try:
            done = await undo_import(
                conn,
                tenant,
                import_id,
                token_id=principal.token_id,
                at=datetime.now(UTC),
                region=config["region"] if config else settings.default_region,
                blocked=frozenset(config["blocked_identifiers"]) if config else frozenset(),
                regular_threshold=config["regular_threshold"] if config else 3,
            )
        except IdentityError as exc:
            raise Problem(exc.status, exc.detail) from exc
        queued = [await queue_alert(conn, topic, u.merge, "unmerged") for u in done.merges_undone]
    publisher: Publisher = request.app.state.publisher
    for q in queued:
        await publish(db, publisher, topic, q)
    log.info("import.undone", tenant=tenant, import_id=str(import_id), rows=done.rows)
    return UndoneImport(
        import_id=import_id,
        state="undone",
        rows=done.rows,
        cards_removed=done.cards_removed,
        cards_changed=done.cards_changed,
        merges_undone=[u.merge.id for u in done.merges_undone],
    )
