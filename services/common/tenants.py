"""Venues: their row, settings (region), the ops list of every venue, and the tenant a
transaction sees under row level security. Shared by the profile API and the export worker."""

from __future__ import annotations

import re
from dataclasses import dataclass

import asyncpg

from schemas.events import TENANT_PATTERN
from services.domain.fold import DEFAULT_REGULAR_THRESHOLD

_REGION = "SELECT region FROM tenants WHERE tenant_id = $1"
_EXISTS = "SELECT 1 FROM tenants WHERE tenant_id = $1"
_ENSURE = "INSERT INTO tenants (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING"
_ALL_IDS = "SELECT contacts_tenant_ids()"
_VENUES = "SELECT * FROM contacts_venues($1, $2)"
_SCOPE = "SELECT set_config('contacts.tenant_id', $1, true)"
_TENANT_ID = re.compile(TENANT_PATTERN)
_SETTINGS = """
SELECT region, regular_threshold, blocked_identifiers FROM tenants WHERE tenant_id = $1
"""
_UPDATE_SETTINGS = """
INSERT INTO tenants (tenant_id, region, regular_threshold, blocked_identifiers)
VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant_id) DO UPDATE
SET region = EXCLUDED.region, regular_threshold = EXCLUDED.regular_threshold,
    blocked_identifiers = EXCLUDED.blocked_identifiers
"""


async def region(conn: asyncpg.Connection, tenant_id: str, default: str) -> str:
    """The tenant's country for national phone numbers; ``default`` when it has none."""
    found = await conn.fetchval(_REGION, tenant_id)
    return str(found) if found else default


async def settings(conn: asyncpg.Connection, tenant_id: str) -> asyncpg.Record | None:
    """The venue's region, regular threshold and blocked identifiers; None without a row."""
    return await conn.fetchrow(_SETTINGS, tenant_id)


@dataclass(frozen=True, slots=True)
class Rules:
    """What routing and the fold need of a venue: its settings, defaults where it has none."""

    region: str
    regular_threshold: int
    blocked: frozenset[str]


async def rules(conn: asyncpg.Connection, tenant_id: str, default_region: str) -> Rules:
    """The venue's ``Rules`` (``default_region`` and the default threshold without a row)."""
    row = await settings(conn, tenant_id)
    if row is None:
        return Rules(default_region, DEFAULT_REGULAR_THRESHOLD, frozenset())
    return Rules(row["region"], row["regular_threshold"], frozenset(row["blocked_identifiers"]))


async def update_settings(
    conn: asyncpg.Connection,
    tenant_id: str,
    *,
    region: str,
    regular_threshold: int,
    blocked_identifiers: list[str],
) -> None:
    """Replace the venue's settings (recording the venue if it has no row yet)."""
    await conn.execute(_UPDATE_SETTINGS, tenant_id, region, regular_threshold, blocked_identifiers)


async def exists(conn: asyncpg.Connection, tenant_id: str) -> bool:
    """True when the venue has a row."""
    return bool(await conn.fetchval(_EXISTS, tenant_id))


async def ensure(conn: asyncpg.Connection, tenant_id: str) -> None:
    """Record the venue's row if it has none yet."""
    await conn.execute(_ENSURE, tenant_id)


async def all_ids(conn: asyncpg.Connection) -> list[str]:
    """Every venue's id (ops; on a connection without a tenant)."""
    return [r[0] for r in await conn.fetch(_ALL_IDS)]


async def venues_page(
    conn: asyncpg.Connection, after: str | None, limit: int
) -> list[asyncpg.Record]:
    """Venues after ``after`` in id order, with their customer counts (ops; any connection)."""
    return list(await conn.fetch(_VENUES, after, limit))


async def scope(conn: asyncpg.Connection, tenant_id: str) -> None:
    """Show this transaction ``tenant_id``'s rows only (row level security reads the setting)."""
    await conn.execute(_SCOPE, tenant_id)


async def begin_scoped(conn: asyncpg.Connection, tenant_id: str) -> None:
    """Begin a transaction that shows ``tenant_id``'s rows only, in one round trip: a simple
    query of two statements, which takes no parameters, so the id is written into it; only a
    valid tenant id (lower-case letters, digits, ``_`` and ``-``) can get there."""
    if not _TENANT_ID.fullmatch(tenant_id):
        raise ValueError("not a tenant id")
    await conn.execute(f"BEGIN; SELECT set_config('contacts.tenant_id', '{tenant_id}', true)")
