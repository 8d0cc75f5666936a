"""A venue's custom tags (the built-in ones live in ``schemas.tags``)."""

from __future__ import annotations

import asyncpg

CUSTOM = "SELECT code, labels FROM tenant_tags WHERE tenant_id = $1 ORDER BY code"
_CREATE = """
INSERT INTO tenant_tags (tenant_id, code, labels) VALUES ($1, $2, $3)
ON CONFLICT (tenant_id, code) DO NOTHING RETURNING code
"""


async def custom(conn: asyncpg.Connection, tenant_id: str) -> dict[str, dict[str, str]]:
    """The tenant's custom tags, code -> labels, in code order."""
    return {r["code"]: r["labels"] for r in await conn.fetch(CUSTOM, tenant_id)}


async def create(
    conn: asyncpg.Connection, tenant_id: str, code: str, labels: dict[str, str]
) -> bool:
    """Add a custom tag; False when the code exists."""
    return await conn.fetchval(_CREATE, tenant_id, code, labels) is not None
