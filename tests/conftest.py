"""Session-wide real services; each test gets its own database and topic prefix."""

from __future__ import annotations

import gc
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from services.common.db import migrate, with_database
from tests.support.stack import Stack, start_stack

# The profile API fixtures (app, client, owner, seed, settings, make_token) for every ring.
pytest_plugins = ["tests.support.api"]

TEMPLATE = "contacts_template"


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """Real PostgreSQL and a real broker for the whole session."""
    with start_stack() as s:
        yield s


@pytest.fixture(scope="session")
async def template_db(stack: Stack) -> str:
    """A database built from the migrations once; tests clone it (proves they apply)."""
    conn = await asyncpg.connect(stack.admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        await conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    finally:
        await conn.close()
    await migrate(with_database(stack.admin_url, TEMPLATE))
    return TEMPLATE


@pytest.fixture
async def db_url(stack: Stack, template_db: str) -> AsyncIterator[str]:
    """A fresh migrated database for one test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(stack.admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    finally:
        await conn.close()
    yield with_database(stack.admin_url, name)
    conn = await asyncpg.connect(stack.admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
def topic_prefix() -> str:
    """Topics of one test never meet another test's."""
    return f"t{uuid.uuid4().hex[:8]}."


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish() -> None:
    """Collect garbage before the plugins' late imports: on CPython 3.11.7 a finalizer that the
    garbage collector runs in the middle of compiling a module (left-over faust and asyncio
    objects have them) breaks the compiler's recursion check (SystemError: AST constructor
    recursion depth mismatch), and pytest's assertion rewriter compiles those imports."""
    gc.collect()
