"""The customer list as one use case: filters, sort and keyset cursor to a page of rows (the list
route of the API and the console's list page both call it)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from services.common import tenants
from services.common.segments import SegmentFilters
from services.common.settings import Settings
from services.profile.cursor import decode_cursor, encode_cursor
from services.profile.data import customers
from services.profile.db import Database
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
    """One page of the list: its rows, the cursor of the next page and (if asked) the count."""

    rows: list[asyncpg.Record]
    next_cursor: str | None
    total: int | None


def invalid(field: str, message: str) -> Problem:
    """A 422 problem about one request field."""
    return Problem(
        422,
        f"invalid: {field}",
        errors=[{"field": field, "message": message, "code": "value_error"}],
    )


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
) -> Listing:
    """A page of the tenant's (not anonymised) customers; a 422 problem for a foreign cursor."""
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
    async with db.tenant(tenant) as conn:
        region = settings.default_region
        if filters.q is not None and any(ch.isdigit() for ch in filters.q):
            region = await tenants.region(conn, tenant, settings.default_region)
        rows = await customers.list_page(
            conn,
            tenant,
            filters,
            sort=key,
            descending=descending,
            after=after,
            limit=limit + 1,
            region=region,
        )
        total = await customers.count(conn, tenant, filters, region) if include_total else None
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]["sort_value"]
        value = last if isinstance(last, str) or last is None else last.isoformat()
        next_cursor = encode_cursor(settings.secret, scope, [value, str(rows[-1]["id"])])
    return Listing(rows, next_cursor, total)
