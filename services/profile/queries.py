"""The API's SQL, by hand, ``$n`` parameters only; run inside a tenant transaction."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import asyncpg

from services.common.segments import VENUE_CLAUSES, SegmentFilters, q_inline, segment_where

SortKey = Literal["last_contact_at", "first_contact_at", "name"]
SORT_COLUMNS: dict[str, str] = {
    "last_contact_at": "c.last_contact_at",
    "first_contact_at": "c.first_contact_at",
    "name": "c.sort_name",
}
SUMMARY_COLUMNS = """
c.id, c.first_name, c.last_name, c.email, c.phone, c.language, c.newsletter, c.tags,
c.first_contact_at, c.last_contact_at, c.reservations, c.no_shows
"""
REGION = "SELECT region FROM tenants WHERE tenant_id = $1"
CUSTOM_TAGS = "SELECT code, labels FROM tenant_tags WHERE tenant_id = $1 ORDER BY code"
INSERT_TAG = """
INSERT INTO tenant_tags (tenant_id, code, labels) VALUES ($1, $2, $3)
ON CONFLICT (tenant_id, code) DO NOTHING RETURNING code
"""
CUSTOMER = "SELECT * FROM customers WHERE tenant_id = $1 AND id = $2"
CUSTOMER_FOR_UPDATE = CUSTOMER + " FOR UPDATE"
UPDATE_TAGS = """
UPDATE customers SET tags = $3, tag_meta = $4, removed_tags = $5, updated_at = now()
WHERE tenant_id = $1 AND id = $2
"""
HISTORY_PAGE = """
SELECT event_id AS id, type, occurred_at, source, summary FROM history
WHERE tenant_id = $1 AND customer_id = $2
  AND ($3::timestamptz IS NULL OR (occurred_at, event_id) < ($3, $4::uuid))
ORDER BY occurred_at DESC, event_id DESC LIMIT $5
"""
HISTORY_ENTRY = """
SELECT event_id AS id, type, occurred_at, source, summary, data FROM history
WHERE tenant_id = $1 AND customer_id = $2 AND event_id = $3
"""
HISTORY_ALL = """
SELECT event_id AS id, type, occurred_at, source, summary, data FROM history
WHERE tenant_id = $1 AND customer_id = $2 ORDER BY occurred_at DESC, event_id DESC
"""
CONSENT_ALL = """
SELECT event_id, opt_in, occurred_at, source, recorded_at FROM consent_ledger
WHERE tenant_id = $1 AND customer_id = $2 ORDER BY occurred_at DESC, event_id DESC
"""
LOOKUP_EMAIL = """
SELECT * FROM customers
WHERE tenant_id = $1 AND anonymized_at IS NULL AND (identity_key = 'email:' || $2 OR email = $2)
ORDER BY (identity_key = 'email:' || $2) DESC, last_contact_at DESC NULLS LAST LIMIT 1
"""
LOOKUP_PHONE = """
SELECT * FROM customers
WHERE tenant_id = $1 AND anonymized_at IS NULL AND phone = $2
ORDER BY (identity_key = 'phone:' || $2) DESC, last_contact_at DESC NULLS LAST LIMIT 1
"""
# Erasure: identity, names and stamps go; counters, dates and tags stay.
ANONYMIZE = """
UPDATE customers SET identity_key = NULL, email = NULL, phone = NULL, first_name = NULL,
       last_name = NULL, language = NULL, stamps = '{}', anonymized_at = $3, updated_at = $3
WHERE tenant_id = $1 AND id = $2
"""
SUPPRESS = """
INSERT INTO suppressions (tenant_id, key_hash, anonymized_at)
SELECT $1, h, $3 FROM unnest($2::bytea[]) AS h
ON CONFLICT (tenant_id, key_hash) DO UPDATE SET anonymized_at = EXCLUDED.anonymized_at
"""
# History keeps only the structured keys of the event data: free text (notes, message,
# subject, reason, note) and foreign identifiers (external_id) are removed.
HISTORY_KEEP = [
    "reservation_id", "starts_at", "party_size", "form_id", "integration", "import_id", "row",
    "tags", "first_contact_at",
]
SCRUB_HISTORY = """
UPDATE history SET data = coalesce(
    (SELECT jsonb_object_agg(key, value) FROM jsonb_each(data) WHERE key = ANY($3::text[])),
    '{}'::jsonb)
WHERE tenant_id = $1 AND customer_id = $2
"""


# A free-text ``q`` first reads at most this many of the venue's customers in the list's order
# (after the cursor) and tests q and the other filters on them: a common name fills a page
# within the first few thousand, where the trigram index (through contacts_matching) would
# first fetch every match in the venue (25,000 "mertens" of a 1M venue: ~1 s against ~25 ms).
# A rare name reads them all in vain (~8-20 µs each, mostly word_similarity), then the index.
Q_WALK = 10_000


async def list_customers(
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
        found = await _page(conn, tenant_id, filters, region, sort, descending, after, limit,
                            walk=Q_WALK)
        if len(found) == limit:
            return found
    return await _page(conn, tenant_id, filters, region, sort, descending, after, limit)


async def _page(conn: asyncpg.Connection, tenant_id: str, filters: SegmentFilters, region: str,
                sort: SortKey, descending: bool, after: tuple[Any, uuid.UUID] | None, limit: int,
                *, walk: int | None = None) -> list[asyncpg.Record]:
    """One keyset page; with ``walk``, only the venue's first ``walk`` rows in order (after the
    cursor) are read, and ``q`` and the other filters are tested on those."""
    q = filters.q if walk else None
    w = segment_where(tenant_id, filters.model_copy(update={"q": None}) if q else filters, region)
    column = SORT_COLUMNS[sort]
    direction = "DESC" if descending else "ASC"
    order = f"ORDER BY {column} {direction}, c.id {direction}"
    keyset = []
    if after is not None:
        op = "<" if descending else ">"
        keyset = [f"({column}, c.id) {op} ({w.arg(after[0])}, {w.arg(after[1])}::uuid)"]
    if q:
        venue, others = w.clauses[:VENUE_CLAUSES], w.clauses[VENUE_CLAUSES:]
        source = (f"(SELECT * FROM customers c WHERE {' AND '.join(venue + keyset)}"
                  f" {order} LIMIT {w.arg(walk)}) c")
        where = " AND ".join([*others, q_inline(w, q, region)])
    else:
        source, where = "customers c", " AND ".join(w.clauses + keyset)
    sql = (f"SELECT {SUMMARY_COLUMNS}, {column} AS sort_value FROM {source} WHERE {where}"
           f" {order} LIMIT {w.arg(limit)}")
    return list(await conn.fetch(sql, *w.args))


async def count_customers(
    conn: asyncpg.Connection, tenant_id: str, filters: SegmentFilters, region: str
) -> int:
    """How many customers match the filters."""
    w = segment_where(tenant_id, filters, region)
    return int(await conn.fetchval(f"SELECT count(*) FROM customers c WHERE {w.sql()}", *w.args))


async def region(conn: asyncpg.Connection, tenant_id: str, default: str) -> str:
    """The tenant's country for national phone numbers."""
    found = await conn.fetchval(REGION, tenant_id)
    return str(found) if found else default


async def custom_tags(conn: asyncpg.Connection, tenant_id: str) -> dict[str, dict[str, str]]:
    """The tenant's custom tags, code -> labels."""
    return {r["code"]: r["labels"] for r in await conn.fetch(CUSTOM_TAGS, tenant_id)}
