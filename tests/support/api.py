"""Fixtures (a pytest plugin, see tests/conftest.py) and helpers of the profile API in-process on
a fresh migrated database; seeding through the real ingest."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from schemas.events import site_event_adapter
from services.common.db import connect, with_role
from services.common.kafka import Topics
from services.common.settings import Settings
from services.ingest.handlers import BatchReport, process_batch
from services.ingest.store import PostgresIngestStore
from services.profile.app import create_app
from services.profile.tokens import create_token
from tests.support.stack import Stack

SECRET = "test-secret"
API_PASSWORD = "contacts-api-test"
# The app under test trusts a token it resolved this long: a test revoking a token it has used
# (as `contacts token revoke` would, from elsewhere) waits this long before it is refused.
TOKEN_CACHE_SECONDS = 1.0

# The tables that hold a tenant's data (row level security on each).
TENANT_TABLES = [
    "tenants",
    "customers",
    "history",
    "consent_ledger",
    "suppressions",
    "processed_events",
    "tenant_tags",
    "identifiers",
    "merges",
    "merge_moves",
    "duplicate_pairs",
]

Seed = Callable[..., Awaitable[BatchReport]]
MakeToken = Callable[..., Awaitable[str]]


def api_url(db_url: str) -> str:
    """The test database's URL as the contacts_api role."""
    return with_role(db_url, "contacts_api", API_PASSWORD)


@pytest.fixture
async def owner(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the owner (superuser in tests), like ingest's."""
    conn = await connect(db_url)
    # Servers with password auth (testcontainers): give the API role a password to log in with.
    await conn.execute(f"ALTER ROLE contacts_api PASSWORD '{API_PASSWORD}'")
    yield conn
    await conn.close()


@pytest.fixture
def settings(db_url: str, stack: Stack, tmp_path: Path, topic_prefix: str) -> Settings:
    """Settings of the app under test: the test's own database, topics and export folder."""
    return Settings(
        database_url=db_url,
        secret=SECRET,
        kafka_bootstrap=stack.bootstrap,
        topic_prefix=topic_prefix,
        export_dir=tmp_path / "exports",
        dev_token=None,
        auth_failures_per_minute=1000,
        token_cache_seconds=TOKEN_CACHE_SECONDS,
    )


def build_app(settings: Settings, db_url: str) -> FastAPI:
    """The app on the test database as contacts_api."""
    return create_app(settings, dsn=db_url, api_dsn=api_url(db_url))


@pytest.fixture
async def app(settings: Settings, db_url: str, owner: asyncpg.Connection) -> AsyncIterator[FastAPI]:
    """The app, its lifespan running."""
    application = build_app(settings, db_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as c:
        yield c


@pytest.fixture
def seed(owner: asyncpg.Connection) -> Seed:
    """Process event documents through the real ingest path."""

    async def run(*docs: dict[str, Any]) -> BatchReport:
        events = [site_event_adapter.validate_python(d) for d in docs]
        return await process_batch(PostgresIngestStore(owner, Topics("t.")), events, secret=SECRET)

    return run


@pytest.fixture
def make_token(owner: asyncpg.Connection) -> MakeToken:
    """Issue a token; returns the bearer string."""

    async def run(tenant: str, *scopes: str, expires_days: float | None = None) -> str:
        _, token = await create_token(
            owner, tenant, list(scopes or ("read",)), expires_days=expires_days
        )
        return token

    return run


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}
