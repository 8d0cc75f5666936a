"""asyncpg pools and the forward-only migration runner."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import orjson
import structlog

log = structlog.get_logger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_KEY = 0x636F6E74  # advisory lock: one migrator at a time


API_ROLE = "contacts_api"


def with_role(dsn: str, role: str, password: str = "") -> str:
    """The same server and database as ``dsn``, logging in as ``role``."""
    parts = urlsplit(dsn)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{quote(role)}:{quote(password)}@{host}"))


def with_database(dsn: str, name: str) -> str:
    """The same server and login as ``dsn``, another database."""
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))


def role_dsn(dsn: str, role: str = API_ROLE) -> str:
    """The same server and database as ``dsn``, logging in as ``role`` with no password.

    For trust / peer setups (the embedded server); elsewhere set CONTACTS_API_DATABASE_URL.
    """
    return with_role(dsn, role)


_JSONB_VERSION = b"\x01"  # jsonb's binary form: a version byte, then the JSON text


async def _init_connection(conn: asyncpg.Connection) -> None:
    """jsonb in and out as Python objects, encoded with orjson; in binary form, so that rows
    holding jsonb can be sent with ``COPY`` (asyncpg's copy is binary only)."""
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda v: _JSONB_VERSION + orjson.dumps(v, default=str),
        decoder=lambda b: orjson.loads(b[1:]),
        schema="pg_catalog",
        format="binary",
    )


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    reset: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
) -> asyncpg.Pool:
    """A pool whose connections speak jsonb as Python objects; ``reset`` replaces asyncpg's
    reset on release (``RESET ALL`` and more: one round trip per checkout)."""
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=reset
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    """One connection, set up like the pool's."""
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


async def fetch_once(dsn: str, sql: str, *args: Any) -> asyncpg.Record | None:
    """The first row of one statement, on a connection of its own (status lines, checks)."""
    conn = await connect(dsn)
    try:
        return await conn.fetchrow(sql, *args)
    finally:
        await conn.close()


def migrations_dir() -> Path:
    """Where the migrations are: CONTACTS_MIGRATIONS_DIR, else the repository's."""
    from services.common.settings import get_settings

    return get_settings().migrations_dir or MIGRATIONS_DIR


def migration_files(directory: Path | None = None) -> list[tuple[int, Path]]:
    """The numbered migration files, in order."""
    found = []
    for path in sorted((directory or migrations_dir()).glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if match is None:
            raise ValueError(f"badly named migration {path.name}")
        found.append((int(match.group(1)), path))
    return found


async def _catch_up(conn: asyncpg.Connection) -> None:
    """What the previous version wrote after a migration and before the rollout, brought up to
    the new schema (0012: identifiers of new cards, contacts of new history rows)."""
    if await conn.fetchval("SELECT to_regprocedure('contacts_identity_catch_up()')") is not None:
        tied = await conn.fetchval("SELECT contacts_identity_catch_up()")
        if tied:
            log.info("migration.caught_up", identifiers=tied)


async def migrate(dsn: str, directory: Path | None = None) -> list[str]:
    """Apply every migration not applied yet, each in its own transaction, then catch up what
    an older version still running wrote meanwhile; return the names of those applied."""
    conn = await asyncpg.connect(dsn)
    applied: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        # Checked first: CREATE ... IF NOT EXISTS needs the CREATE right even when the table
        # exists, and the services' roles (not owners) run this at start-up too.
        if await conn.fetchval("SELECT to_regclass('public.schema_migrations')") is None:
            await conn.execute(
                "CREATE TABLE schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, path in migration_files(directory):
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text(encoding="utf-8"))
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    version,
                    path.name,
                )
            applied.append(path.name)
            log.info("migration.applied", migration=path.name)
        await _catch_up(conn)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
        await conn.close()
    return applied
