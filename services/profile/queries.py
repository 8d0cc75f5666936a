"""The API's SQL, by hand, ``$n`` parameters only; run inside a tenant transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import asyncpg

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


@dataclass(frozen=True, slots=True)
class CustomerFilters:
    """The list's filters; every one is optional and they combine with AND."""

    language: list[str] = field(default_factory=list)
    newsletter: Literal["true", "false", "unknown"] | None = None
    first_contact_from: datetime | None = None
    first_contact_to: datetime | None = None
    last_contact_from: datetime | None = None
    last_contact_to: datetime | None = None
    tag: list[str] = field(default_factory=list)
    min_reservations: int | None = None
    min_no_shows: int | None = None
    q: str | None = None
    q_phone: str | None = None  # q read as a phone number in the tenant's region, if it is one


class _Where:
    """WHERE clauses with their ``$n`` arguments."""

    def __init__(self, *args: Any) -> None:
        self.clauses: list[str] = []
        self.args: list[Any] = list(args)

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, clause: str) -> None:
        self.clauses.append(clause)

    def sql(self) -> str:
        return " AND ".join(self.clauses)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filters(tenant_id: str, f: CustomerFilters) -> _Where:
    w = _Where(tenant_id)
    w.add("c.tenant_id = $1")
    w.add("c.anonymized_at IS NULL")
    if f.language:
        w.add(f"c.language = ANY({w.arg(f.language)}::text[])")
    if f.newsletter == "unknown":
        w.add("c.newsletter IS NULL")
    elif f.newsletter is not None:
        w.add(f"c.newsletter = {w.arg(f.newsletter == 'true')}")
    for column, op, value in (
        ("first_contact_at", ">=", f.first_contact_from),
        ("first_contact_at", "<=", f.first_contact_to),
        ("last_contact_at", ">=", f.last_contact_from),
        ("last_contact_at", "<=", f.last_contact_to),
    ):
        if value is not None:
            w.add(f"c.{column} {op} {w.arg(value)}")
    if f.tag:
        w.add(f"c.tags @> {w.arg(sorted(set(f.tag)))}::text[]")
    if f.min_reservations is not None:
        w.add(f"c.reservations >= {w.arg(f.min_reservations)}")
    if f.min_no_shows is not None:
        w.add(f"c.no_shows >= {w.arg(f.min_no_shows)}")
    if f.q:
        q = f.q.strip().lower()
        like, word = w.arg(f"%{_escape_like(q)}%"), w.arg(q)
        alternatives = [f"c.search LIKE {like}", f"{word} <% c.search"]
        if f.q_phone:
            alternatives.append(f"c.phone = {w.arg(f.q_phone)}")
        w.add("(" + " OR ".join(alternatives) + ")")
    return w


async def list_customers(
    conn: asyncpg.Connection,
    tenant_id: str,
    filters: CustomerFilters,
    *,
    sort: SortKey,
    descending: bool,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Up to ``limit`` customers in sort order after the keyset position ``after``."""
    w = _filters(tenant_id, filters)
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
    conn: asyncpg.Connection, tenant_id: str, filters: CustomerFilters
) -> int:
    """How many customers match the filters."""
    w = _filters(tenant_id, filters)
    return int(await conn.fetchval(f"SELECT count(*) FROM customers c WHERE {w.sql()}", *w.args))


async def region(conn: asyncpg.Connection, tenant_id: str, default: str) -> str:
    """The tenant's country for national phone numbers."""
    found = await conn.fetchval(REGION, tenant_id)
    return str(found) if found else default


async def custom_tags(conn: asyncpg.Connection, tenant_id: str) -> dict[str, dict[str, str]]:
    """The tenant's custom tags, code -> labels."""
    return {r["code"]: r["labels"] for r in await conn.fetch(CUSTOM_TAGS, tenant_id)}
