"""API tokens: issued once, stored as a sha256 hash, revocable (owner connection; CLI, tests)."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from schemas.events import TENANT_PATTERN
from services.profile.data import tokens as stored

SCOPES = frozenset({"read", "write", "import", "export", "gdpr"})
TOKEN_PREFIX = "ct_"  # noqa: S105 - a prefix, not a secret
_TENANT = re.compile(TENANT_PATTERN)


def token_hash(token: str) -> bytes:
    """The stored form of a token: its sha256 (tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).digest()


def new_token() -> str:
    """A fresh token: ``ct_`` and 32 random bytes, url-safe base64."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def create_token(
    conn: asyncpg.Connection,
    tenant_id: str,
    scopes: list[str],
    *,
    name: str | None = None,
    expires_days: float | None = None,
) -> tuple[uuid.UUID, str]:
    """Store a new token for ``tenant_id`` (or ``*``); return its id and the token, shown once."""
    if tenant_id != "*" and not _TENANT.match(tenant_id):
        raise ValueError(f"bad tenant id {tenant_id!r}")
    unknown = set(scopes) - SCOPES
    if unknown or not scopes:
        raise ValueError(f"scopes must be among {sorted(SCOPES)}; got {sorted(scopes)}")
    token_id, token = uuid.uuid4(), new_token()
    expires = None
    if expires_days is not None:
        expires = datetime.now(UTC) + timedelta(days=expires_days)
    await stored.insert(
        conn,
        token_id,
        tenant_id,
        sorted(set(scopes)),
        token_hash(token),
        name=name,
        expires_at=expires,
    )
    return token_id, token


async def revoke_token(conn: asyncpg.Connection, token_id: uuid.UUID) -> bool:
    """Revoke a token; False when no such token exists."""
    return await stored.revoke(conn, token_id)
