"""The API's SQL, by hand, ``$n`` parameters only; run inside a tenant transaction."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import asyncpg

from services.common.segments import SegmentFilters, segment_where

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
    w = segment_where(tenant_id, filters, region)
    column = SORT_COLUMNS[sort]
    if after is not None:
        op = "<" if descending else ">"
        w.add(f"({column}, c.id) {op} ({w.arg(after[0])}, {w.arg(after[1])}::uuid)")
    direction = "DESC" if descending else "ASC"
    sql = (
        f"SELECT {SUMMARY_COLUMNS}, {column} AS sort_value FROM customers c WHERE {w.sql()}"
        f" ORDER BY {column} {direction}, c.id {direction} LIMIT {w.arg(limit)}"
    )
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
