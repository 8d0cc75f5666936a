"""API tokens: stored by hash, looked up by hash, revoked (owner connection, except lookup)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

_INSERT = """
INSERT INTO api_tokens (id, tenant_id, scopes, token_hash, name, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)
"""
_REVOKE = """
UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING id
"""
_LOOKUP = "SELECT * FROM contacts_token_lookup($1)"


async def insert(
    conn: asyncpg.Connection,
    token_id: uuid.UUID,
    tenant_id: str,
    scopes: list[str],
    digest: bytes,
    *,
    name: str | None,
    expires_at: datetime | None,
) -> None:
    """Store a token's hash, tenant (or ``*``), scopes, name and expiry."""
    await conn.execute(_INSERT, token_id, tenant_id, scopes, digest, name, expires_at)


async def revoke(conn: asyncpg.Connection, token_id: uuid.UUID) -> bool:
    """Revoke a token (the first revocation's instant stays); False when there is none."""
    return await conn.fetchval(_REVOKE, token_id) is not None


async def lookup(conn: asyncpg.Connection, digest: bytes) -> asyncpg.Record | None:
    """The token row with this hash, through the lookup function (no tenant needed)."""
    return await conn.fetchrow(_LOOKUP, digest)
