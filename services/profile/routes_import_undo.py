"""Past imports and taking one back (issue 17)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from services.profile.auth import Principal, require
from services.profile.deps import AppSettings, Db, TenantId
from services.profile.import_history import past_imports, take_back
from services.profile.problems import problem_responses

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
    past = await past_imports(db, tenant, limit)
    return PastImports(
        items=[
            PastImport(
                import_id=p.row["id"],
                created_at=p.row["created_at"],
                rows=p.row["rows"],
                valid=p.row["valid"],
                invalid=p.row["invalid"],
                published=p.row["published"],
                applied=p.row["applied"],
                state=p.state,
                undone_at=p.row["undone_at"],
                cards_removed=p.preview["cards_removed"],
                cards_changed=p.preview["cards_changed"],
            )
            for p in past
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
    done = await take_back(
        db,
        request.app.state.publisher,
        settings,
        tenant,
        import_id,
        token_id=principal.token_id,
    )
    return UndoneImport(
        import_id=import_id,
        state="undone",
        rows=done.rows,
        cards_removed=done.cards_removed,
        cards_changed=done.cards_changed,
        merges_undone=[u.merge.id for u in done.merges_undone],
    )
