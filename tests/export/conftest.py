"""Fixtures of the export tests: the owner's connection to the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.common.db import connect


@pytest.fixture
async def owner(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(db_url)
    yield conn
    await conn.close()
