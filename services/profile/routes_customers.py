"""Customer list, card, history and lookup."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from schemas.normalize import normalize_email, normalize_phone
from schemas.tags import TAG_CODE
from services.common import tenants
from services.common.segments import SegmentFilters
from services.profile import models, views
from services.profile.data import history, identity
from services.profile.deps import (
    AppSettings,
    CustomerId,
    Db,
    Language,
    Reader,
    TenantId,
    card_or_404,
)
from services.profile.listing import Sort, customer_page, history_page, invalid
from services.profile.problems import Problem, found, problem_responses

router = APIRouter(prefix="/v1/tenants/{tenant}", tags=["customers"])
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_COMMON = problem_responses(401, 403, 422, 429, 503)
_ONE = problem_responses(401, 403, 404, 422, 429, 503)


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # an instant without offset is read as UTC
    return value


_invalid = invalid


@router.get(
    "/customers",
    response_model=models.CustomerPage,
    response_model_exclude_unset=True,
    responses=_COMMON,
    summary="List customers (filters, sort, keyset pagination)",
)
async def list_customers(
    tenant: TenantId,
    _: Reader,
    db: Db,
    settings: AppSettings,
    language: Annotated[list[str], Query(description="ISO 639-1, repeatable")] = [],  # noqa: B006
    newsletter: Literal["true", "false", "unknown"] | None = None,
    first_contact_from: datetime | None = None,
    first_contact_to: datetime | None = None,
    last_contact_from: datetime | None = None,
    last_contact_to: datetime | None = None,
    tag: Annotated[list[str], Query(description="repeatable; all must match")] = [],  # noqa: B006
    min_reservations: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
    min_no_shows: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            pattern=models.NO_NUL,
            description="fuzzy over name, email and phone",
        ),
    ] = None,
    sort: Sort = "-last_contact_at",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    include_total: bool = False,
) -> Response:
    """A page of the tenant's (not anonymised) customers."""
    for code in language:
        if not _LANGUAGE.match(code):
            raise _invalid("language", "an ISO 639-1 code like nl")
    for code in tag:
        if not TAG_CODE.match(code):
            raise _invalid("tag", "a tag code like vip")
    filters = SegmentFilters(
        language=language,
        newsletter=newsletter,
        first_contact_from=_utc(first_contact_from),
        first_contact_to=_utc(first_contact_to),
        last_contact_from=_utc(last_contact_from),
        last_contact_to=_utc(last_contact_to),
        tag=tag,
        min_reservations=min_reservations,
        min_no_shows=min_no_shows,
        q=q,
    )
    page = await customer_page(
        db,
        settings,
        tenant,
        filters,
        sort=sort,
        limit=limit,
        cursor=cursor,
        include_total=include_total,
    )
    return views.customer_page(page.rows, page.next_cursor, page.total)


@router.get(
    "/customers/{customer_id}",
    response_model=models.CustomerCard,
    responses=_ONE,
    summary="The customer card",
)
async def get_customer(
    tenant: TenantId, customer_id: CustomerId, _: Reader, db: Db, lang: Language
) -> Response:
    """Names, contact, consent, tags (labelled), dates, counters and flags of one customer."""
    async with db.tenant(tenant) as conn:
        card = (await card_or_404(conn, tenant, customer_id, lang))[1]
    return views.encoded(card)


@router.get(
    "/customers/{customer_id}/history",
    response_model=models.HistoryPage,
    responses=_ONE,
    summary="A customer's history, newest first",
)
async def get_history(
    tenant: TenantId,
    customer_id: CustomerId,
    _: Reader,
    db: Db,
    settings: AppSettings,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> models.HistoryPage:
    """Entries {id, type, occurred_at, source, summary}, keyset-paginated."""
    page = await history_page(db, settings.secret, tenant, customer_id, cursor=cursor, limit=limit)
    return models.HistoryPage(
        items=[models.HistoryEntry(**dict(r)) for r in page.rows], next_cursor=page.next_cursor
    )


@router.get(
    "/customers/{customer_id}/history/{entry_id}",
    response_model=models.HistoryEntryFull,
    responses=_ONE,
    summary="One history entry in full",
)
async def get_history_entry(
    tenant: TenantId, customer_id: CustomerId, entry_id: uuid.UUID, _: Reader, db: Db
) -> models.HistoryEntryFull:
    """One entry with the event's data."""
    async with db.tenant(tenant) as conn:
        row = found(await history.entry(conn, tenant, customer_id, entry_id), "history entry")
    return models.HistoryEntryFull(**dict(row))


@router.get(
    "/customer-lookup",
    response_model=models.Lookup,
    responses=_ONE,
    summary="Find a guest by email or phone (booking widget)",
)
async def lookup(
    tenant: TenantId,
    _: Reader,
    db: Db,
    settings: AppSettings,
    email: Annotated[str | None, Query(max_length=254)] = None,
    phone: Annotated[str | None, Query(max_length=40, description="any human format")] = None,
) -> Response:
    """Id, tags, flags and counters of the card the email (first) or else the phone leads to,
    by the routing rules of 3a (an identifier shared by several cards: the oldest tie)."""
    if not email and not phone:
        raise _invalid("email", "give an email or a phone")
    normal_email = normalize_email(email)
    if email and normal_email is None and not phone:
        raise _invalid("email", "not a usable email address")
    async with db.tenant(tenant) as conn:
        row = None
        if normal_email is not None:
            row = await identity.holder(conn, tenant, normal_email)
        if row is None and phone:
            normal_phone = normalize_phone(
                phone, await tenants.region(conn, tenant, settings.default_region)
            )
            if normal_phone is None and normal_email is None:
                raise _invalid("phone", "not a usable phone number")
            if normal_phone is not None:
                row = await identity.holder(conn, tenant, normal_phone)
    if row is None:
        raise Problem(404, "no customer with this email or phone")
    return views.encoded(views.lookup(row))
