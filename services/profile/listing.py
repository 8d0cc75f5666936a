"""The API's lists as use cases: filters, sort and keyset cursors to one page of rows (the
customer list, a card's history, duplicate suggestions, merge records); the API routes and the
console's pages both call them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from services.common import tenants
from services.common.segments import SegmentFilters
from services.common.settings import Settings
from services.profile.cursor import decode_cursor, encode_cursor
from services.profile.data import customers, history, identity
from services.profile.db import Database
from services.profile.deps import customer_or_404
from services.profile.problems import Problem

Sort = Literal[
    "last_contact_at",
    "-last_contact_at",
    "first_contact_at",
    "-first_contact_at",
    "name",
    "-name",
]
SORTS: tuple[str, ...] = Sort.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of the list: its rows, the cursor of the next page and (if asked) the count,
    exact (``total``) or the planner's estimate (``about``) when counting would cost too much."""

    rows: list[asyncpg.Record]
    next_cursor: str | None
    total: int | None
    about: int | None = None


def invalid(field: str, message: str) -> Problem:
    """A 422 problem about one request field."""
    return Problem(
        422,
        f"invalid: {field}",
        errors=[{"field": field, "message": message, "code": "value_error"}],
    )


@asynccontextmanager
async def _within(
    db: Database, tenant: str, conn: asyncpg.Connection | None
) -> AsyncIterator[asyncpg.Connection]:
    """``conn`` when the caller already holds the tenant's transaction, else one of our own."""
    if conn is not None:
        yield conn
    else:
        async with db.tenant(tenant) as own:
            yield own


async def customer_page(
    db: Database,
    settings: Settings,
    tenant: str,
    filters: SegmentFilters,
    *,
    sort: Sort,
    limit: int,
    cursor: str | None,
    include_total: bool,
    exact_cost: float | None = None,
    conn: asyncpg.Connection | None = None,
) -> Listing:
    """A page of the tenant's (not anonymised) customers, on ``conn`` (already in the tenant's
    transaction) or in a transaction of its own; a 422 problem for a foreign cursor. With
    ``include_total`` the matches are counted; with ``exact_cost`` too, only when the planner
    costs that count at most this much, else its estimate is the answer (``about``)."""
    key: customers.SortKey = sort.lstrip("-")  # type: ignore[assignment]
    descending = sort.startswith("-")
    scope = f"customers\x00{tenant}\x00{sort}"
    after: tuple[Any, uuid.UUID] | None = None
    if cursor is not None:
        value, raw_id = decode_cursor(settings.secret, scope, cursor, 2)
        try:
            parsed = value if key == "name" else datetime.fromisoformat(value)
            after = (parsed, uuid.UUID(raw_id))
        except (TypeError, ValueError) as exc:
            raise invalid("cursor", "not a cursor of this list") from exc
    async with _within(db, tenant, conn) as c:
        region = settings.default_region
        if filters.q is not None and any(ch.isdigit() for ch in filters.q):
            region = await tenants.region(c, tenant, settings.default_region)
        rows = await customers.list_page(
            c,
            tenant,
            filters,
            sort=key,
            descending=descending,
            after=after,
            limit=limit + 1,
            region=region,
        )
        total = about = None
        if include_total and exact_cost is not None:
            guess = await customers.estimate(c, tenant, filters, region)
            if guess.cost > exact_cost:
                about = guess.rows
        if include_total and about is None:
            total = await customers.count(c, tenant, filters, region)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]["sort_value"]
        value = last if isinstance(last, str) or last is None else last.isoformat()
        next_cursor = encode_cursor(settings.secret, scope, [value, str(rows[-1]["id"])])
    return Listing(rows, next_cursor, total, about)


@dataclass(frozen=True, slots=True)
class Page:
    """One keyset page of rows and the cursor of the next one."""

    rows: list[asyncpg.Record]
    next_cursor: str | None


def _cut(rows: list[asyncpg.Record], limit: int) -> tuple[list[asyncpg.Record], bool]:
    return (rows[:limit], True) if len(rows) > limit else (rows, False)


async def history_page(
    db: Database,
    secret: str,
    tenant: str,
    customer_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
) -> Page:
    """A customer's history entries, newest first; 308/404 as ``customer_or_404``, 422 for a
    foreign cursor."""
    scope = f"history\x00{tenant}\x00{customer_id}"
    after: tuple[datetime, uuid.UUID] | None = None
    if cursor is not None:
        raw_at, raw_id = decode_cursor(secret, scope, cursor, 2)
        try:
            after = (datetime.fromisoformat(raw_at), uuid.UUID(raw_id))
        except (TypeError, ValueError) as exc:
            raise invalid("cursor", "not a cursor of this list") from exc
    async with db.tenant(tenant) as conn:
        await customer_or_404(conn, tenant, customer_id)
        rows, more = _cut(
            await history.page(conn, tenant, customer_id, after=after, limit=limit + 1), limit
        )
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = encode_cursor(
            secret, scope, [last["occurred_at"].isoformat(), str(last["id"])]
        )
    return Page(rows, next_cursor)


async def duplicates_page(
    db: Database, secret: str, tenant: str, *, cursor: str | None, limit: int
) -> Page:
    """Open duplicate suggestions between live cards, newest first."""
    scope = f"duplicates\x00{tenant}"
    after = None
    if cursor is not None:
        at, first, second = decode_cursor(secret, scope, cursor, 3)
        after = (datetime.fromisoformat(at), uuid.UUID(first), uuid.UUID(second))
    async with db.tenant(tenant) as conn:
        rows, more = _cut(await identity.duplicates_page(conn, tenant, after, limit + 1), limit)
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = encode_cursor(
            secret,
            scope,
            [last["since"].isoformat(), str(last["first_id"]), str(last["second_id"])],
        )
    return Page(rows, next_cursor)


async def merges_page(
    db: Database,
    secret: str,
    tenant: str,
    customer_id: uuid.UUID | None,
    *,
    cursor: str | None,
    limit: int,
) -> Page:
    """Merge records of the venue, or of one card, newest first."""
    scope = f"merges\x00{tenant}\x00{customer_id}"
    after = None
    if cursor is not None:
        at, last_id = decode_cursor(secret, scope, cursor, 2)
        after = (datetime.fromisoformat(at), uuid.UUID(last_id))
    async with db.tenant(tenant) as conn:
        rows, more = _cut(
            await identity.merges_page(conn, tenant, customer_id, after, limit + 1), limit
        )
    next_cursor = None
    if more:
        next_cursor = encode_cursor(
            secret, scope, [rows[-1]["merged_at"].isoformat(), str(rows[-1]["id"])]
        )
    return Page(rows, next_cursor)
