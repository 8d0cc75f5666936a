"""Customers: the list (filters, sort, keyset pages), the card, lookups, tags and erasure."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg
import orjson

from services.common.segments import VENUE_CLAUSES, SegmentFilters, q_inline, segment_where

SortKey = Literal["last_contact_at", "first_contact_at", "name"]
_SORT_COLUMNS: dict[str, str] = {
    "last_contact_at": "c.last_contact_at",
    "first_contact_at": "c.first_contact_at",
    "name": "c.sort_name",
}
_SUMMARY_COLUMNS = """
c.id, c.first_name, c.last_name, c.email, c.phone, c.language, c.newsletter, c.tags,
c.first_contact_at, c.last_contact_at, c.reservations, c.no_shows
"""
_GET = "SELECT * FROM customers WHERE tenant_id = $1 AND id = $2"
_GET_FOR_UPDATE = _GET + " FOR UPDATE"
_SET_TAGS = """
UPDATE customers SET tags = $3, tag_meta = $4, removed_tags = $5, updated_at = now()
WHERE tenant_id = $1 AND id = $2
"""
# Erasure: identity, names and stamps go; counters, dates and tags stay.
_ANONYMIZE = """
UPDATE customers SET identity_key = NULL, email = NULL, phone = NULL, first_name = NULL,
       last_name = NULL, language = NULL, stamps = '{}', anonymized_at = $3, updated_at = $3
WHERE tenant_id = $1 AND id = $2
"""
_DELETE = "DELETE FROM customers WHERE tenant_id = $1 AND id = ANY($2::uuid[])"
_BY_IDS = """
SELECT * FROM customers WHERE tenant_id = $1 AND anonymized_at IS NULL AND id = ANY($2::uuid[])
"""

# A free-text ``q`` first reads at most this many of the venue's customers in the list's order
# (after the cursor) and tests q and the other filters on them: a common name fills a page
# within the first few thousand, where the trigram index (through contacts_matching) would
# first fetch every match in the venue (25,000 "mertens" of a 1M venue: ~1 s against ~25 ms).
# A rare name reads them all in vain (~8-20 µs each, mostly word_similarity), then the index.
Q_WALK = 10_000


async def list_page(
    conn: asyncpg.Connection,
    tenant_id: str,
    filters: SegmentFilters,
    *,
    region: str,
    sort: SortKey,
    descending: bool,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Up to ``limit`` customers in sort order after the keyset position ``after``."""
    if filters.q and sort != "name":
        # (In name order a surname's matches sit together, rarely in the first rows: no walk.)
        # The first ``limit`` matches among the first Q_WALK rows in sort order are the first
        # ``limit`` matches of all: a full page from the walk is the answer.
        found = await _page(
            conn, tenant_id, filters, region, sort, descending, after, limit, walk=Q_WALK
        )
        if len(found) == limit:
            return found
    return await _page(conn, tenant_id, filters, region, sort, descending, after, limit)


async def _page(
    conn: asyncpg.Connection,
    tenant_id: str,
    filters: SegmentFilters,
    region: str,
    sort: SortKey,
    descending: bool,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
    *,
    walk: int | None = None,
) -> list[asyncpg.Record]:
    """One keyset page; with ``walk``, only the venue's first ``walk`` rows in order (after the
    cursor) are read, and ``q`` and the other filters are tested on those."""
    q = filters.q if walk else None
    w = segment_where(tenant_id, filters.model_copy(update={"q": None}) if q else filters, region)
    column = _SORT_COLUMNS[sort]
    direction = "DESC" if descending else "ASC"
    order = f"ORDER BY {column} {direction}, c.id {direction}"
    keyset = []
    if after is not None:
        op = "<" if descending else ">"
        keyset = [f"({column}, c.id) {op} ({w.arg(after[0])}, {w.arg(after[1])}::uuid)"]
    if q:
        venue, others = w.clauses[:VENUE_CLAUSES], w.clauses[VENUE_CLAUSES:]
        source = (
            f"(SELECT * FROM customers c WHERE {' AND '.join(venue + keyset)}"
            f" {order} LIMIT {w.arg(walk)}) c"
        )
        where = " AND ".join([*others, q_inline(w, q, region)])
    else:
        source, where = "customers c", " AND ".join(w.clauses + keyset)
    sql = (
        f"SELECT {_SUMMARY_COLUMNS}, {column} AS sort_value FROM {source} WHERE {where}"
        f" {order} LIMIT {w.arg(limit)}"
    )
    return list(await conn.fetch(sql, *w.args))


async def count(
    conn: asyncpg.Connection, tenant_id: str, filters: SegmentFilters, region: str
) -> int:
    """How many customers match the filters."""
    w = segment_where(tenant_id, filters, region)
    return int(await conn.fetchval(f"SELECT count(*) FROM customers c WHERE {w.sql()}", *w.args))


@dataclass(frozen=True, slots=True)
class Estimate:
    """The planner's guess of how many customers match, and of what reading them costs (in
    its cost units: ~pages read plus a little per row)."""

    rows: int
    cost: float


async def estimate(
    conn: asyncpg.Connection, tenant_id: str, filters: SegmentFilters, region: str
) -> Estimate:
    """The planner's estimate for the filters (EXPLAIN: planned, not run; ~1 ms)."""
    w = segment_where(tenant_id, filters, region)
    plan = await conn.fetchval(
        f"EXPLAIN (FORMAT JSON) SELECT FROM customers c WHERE {w.sql()}", *w.args
    )
    top = (orjson.loads(plan) if isinstance(plan, str | bytes) else plan)[0]["Plan"]
    return Estimate(int(top["Plan Rows"]), float(top["Total Cost"]))


async def get(
    conn: asyncpg.Connection, tenant_id: str, customer_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    """The customer's full row (anonymised or not); locked with ``for_update``."""
    return await conn.fetchrow(_GET_FOR_UPDATE if for_update else _GET, tenant_id, customer_id)


async def by_ids(
    conn: asyncpg.Connection, tenant_id: str, ids: list[uuid.UUID]
) -> list[asyncpg.Record]:
    """The live customers with these ids (whole rows)."""
    return list(await conn.fetch(_BY_IDS, tenant_id, ids))


async def set_tags(
    conn: asyncpg.Connection,
    tenant_id: str,
    customer_id: uuid.UUID,
    *,
    tags: list[str],
    tag_meta: dict[str, Any],
    removed_tags: list[str],
) -> None:
    """Replace the customer's tags, their provenance and the tags staff removed."""
    await conn.execute(_SET_TAGS, tenant_id, customer_id, tags, tag_meta, removed_tags)


async def anonymize(
    conn: asyncpg.Connection, tenant_id: str, customer_id: uuid.UUID, at: datetime
) -> None:
    """Erase identity, names, language and stamps as of ``at``; counters, dates, tags stay."""
    await conn.execute(_ANONYMIZE, tenant_id, customer_id, at)


async def delete(conn: asyncpg.Connection, tenant_id: str, ids: list[uuid.UUID]) -> None:
    """Delete cards that no event feeds any more (their identifiers go with them)."""
    await conn.execute(_DELETE, tenant_id, ids)
