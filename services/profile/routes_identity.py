"""Identity (contract 3a): duplicate suggestions, staff merges, merge records and their undo,
and the venue's settings (region, regular threshold, blocked identifiers)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from schemas.normalize import normalize_email, normalize_phone
from services.common import tenants
from services.domain.fold import DEFAULT_REGULAR_THRESHOLD
from services.profile import listing, merging, models
from services.profile.deps import (
    AppSettings,
    CustomerId,
    Db,
    Language,
    Reader,
    TenantId,
    Writer,
)
from services.profile.problems import Problem, problem_responses

router = APIRouter(prefix="/v1/tenants/{tenant}", tags=["identity"])
_READ = problem_responses(401, 403, 422, 429, 503)
_WRITE = problem_responses(400, 401, 403, 404, 409, 413, 422, 429, 503)
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=1000)]


@router.get(
    "/duplicates",
    response_model=models.DuplicatePage,
    responses=_READ,
    summary="Cards that may be one person",
)
async def list_duplicates(
    tenant: TenantId,
    _: Reader,
    db: Db,
    settings: AppSettings,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> models.DuplicatePage:
    """Open suggestions between live cards, newest first; dismissed pairs never come back."""
    page = await listing.duplicates_page(db, settings.secret, tenant, cursor=cursor, limit=limit)
    rows, next_cursor = page.rows, page.next_cursor
    return models.DuplicatePage(
        items=[
            models.DuplicatePair(
                customers=[r["first_id"], r["second_id"]], reason=r["reason"], since=r["since"]
            )
            for r in rows
        ],
        next_cursor=next_cursor,
    )


@router.post(
    "/duplicates/dismiss",
    status_code=204,
    responses=_WRITE,
    summary="Not the same person",
)
async def dismiss_duplicate(
    tenant: TenantId, body: models.DismissRequest, principal: Writer, db: Db
) -> None:
    """The pair is never suggested again, and an event that links them never merges them."""
    a, b = body.customers
    await merging.dismiss(db, tenant, a, b, token_id=principal.token_id)


@router.post(
    "/customers/{customer_id}/merge",
    response_model=models.CustomerCard,
    responses=_WRITE,
    summary="Merge another card into this one",
)
async def merge_customers(
    request: Request,
    tenant: TenantId,
    customer_id: CustomerId,
    body: models.MergeRequest,
    principal: Writer,
    db: Db,
    settings: AppSettings,
    lang: Language,
) -> models.CustomerCard:
    """The other card's history, consent, identifiers and tags join this card (3a); its id
    answers 308 to this card from now on; ``customer.merged`` goes to the alerts topic."""
    return await merging.merge(
        db,
        request.app.state.publisher,
        settings,
        tenant,
        customer_id,
        body.customer_id,
        token_id=principal.token_id,
        language=lang,
    )


@router.get(
    "/merges",
    response_model=models.MergePage,
    responses=_READ,
    summary="Merge records, newest first",
)
async def list_merges(
    tenant: TenantId,
    _: Reader,
    db: Db,
    settings: AppSettings,
    customer_id: uuid.UUID | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> models.MergePage:
    """Every merge of the venue, or those of one card (as survivor or as absorbed card)."""
    page = await listing.merges_page(
        db, settings.secret, tenant, customer_id, cursor=cursor, limit=limit
    )
    rows, next_cursor = page.rows, page.next_cursor
    return models.MergePage(
        items=[
            models.MergeRecord(
                merge_id=r["id"],
                survivor_id=r["survivor_id"],
                absorbed_id=r["absorbed_id"],
                reason=r["reason"],
                event_id=r["event_id"],
                merged_at=r["merged_at"],
                undone_at=r["undone_at"],
            )
            for r in rows
        ],
        next_cursor=next_cursor,
    )


@router.post(
    "/merges/{merge_id}/undo",
    response_model=models.Unmerged,
    responses=_WRITE,
    summary="Undo a merge",
)
async def undo_merge(
    request: Request,
    tenant: TenantId,
    merge_id: uuid.UUID,
    principal: Writer,
    db: Db,
    settings: AppSettings,
) -> models.Unmerged:
    """Both cards folded again from their own events (3a); 409 if already undone."""
    done = await merging.undo_merge(
        db,
        request.app.state.publisher,
        settings,
        tenant,
        merge_id,
        token_id=principal.token_id,
    )
    return models.Unmerged(customers=[done.survivor.id, done.restored.id])


@router.get(
    "/settings",
    response_model=models.VenueSettings,
    responses=_READ,
    summary="The venue's settings",
)
async def get_settings(
    tenant: TenantId, _: Reader, db: Db, settings: AppSettings
) -> models.VenueSettings:
    """Region of national phone numbers, regular threshold, blocked identifiers."""
    async with db.tenant(tenant) as conn:
        row = await tenants.settings(conn, tenant)
    if row is None:
        return models.VenueSettings(
            region=settings.default_region, regular_threshold=DEFAULT_REGULAR_THRESHOLD
        )
    return models.VenueSettings(
        region=row["region"],
        regular_threshold=row["regular_threshold"],
        blocked_identifiers=list(row["blocked_identifiers"]),
    )


@router.put(
    "/settings",
    response_model=models.VenueSettings,
    responses=_WRITE,
    summary="Change the venue's settings",
)
async def put_settings(
    tenant: TenantId, body: models.VenueSettings, _: Writer, db: Db
) -> models.VenueSettings:
    """Blocked identifiers are stored normalised (an email lower-cased, a phone in E.164 read in
    the venue's region); from the next event on they never identify nor link a guest."""
    blocked: list[str] = []
    errors = []
    for i, raw in enumerate(body.blocked_identifiers):
        value = normalize_email(raw) if "@" in raw else normalize_phone(raw, body.region)
        if value is None:
            errors.append(
                {
                    "field": f"blocked_identifiers.{i}",
                    "message": "not a usable email or phone",
                    "code": "value_error",
                }
            )
        elif value not in blocked:
            blocked.append(value)
    if errors:
        raise Problem(422, "some blocked identifiers are not emails or phones", errors=errors)
    async with db.tenant(tenant) as conn:
        await tenants.update_settings(
            conn,
            tenant,
            region=body.region,
            regular_threshold=body.regular_threshold,
            blocked_identifiers=blocked,
        )
    return models.VenueSettings(
        region=body.region, regular_threshold=body.regular_threshold, blocked_identifiers=blocked
    )
