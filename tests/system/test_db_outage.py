"""PostgreSQL stopped for 10 s under a live stream: ingest waits and resumes, the API says 503.

The test runs its own embedded PostgreSQL (the session's shared server is never stopped).
Afterwards every valid event is in history exactly once and the profiles equal the pure fold;
the in-process profile API answered 503 problem+json during the outage and 200 after it, on its
own (same app, same pool, no restart).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.common.db import connect, migrate, role_dsn
from services.common.settings import Settings
from services.profile.app import create_app
from services.profile.tokens import create_token
from tests.support.expected import demo_stream, fold_all, stored_customers
from tests.support.faults import DedicatedPostgres, log_events, stream
from tests.support.processes import IngestProcess, create_topics, wait_for
from tests.support.stack import Stack

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]
OUTAGE_SECONDS = 10
TENANT = "brasserie-leopold"


@pytest.fixture
async def dedicated() -> AsyncIterator[DedicatedPostgres]:
    pg = DedicatedPostgres()
    await asyncio.to_thread(pg.start)
    await migrate(pg.url)
    try:
        yield pg
    finally:
        await asyncio.to_thread(pg.cleanup)


async def test_postgres_down_for_10s_ingest_resumes_exactly_once_and_api_recovers(
    stack: Stack, dedicated: DedicatedPostgres, topic_prefix: str, tmp_path: Path
) -> None:
    records, valid, expected_ids = demo_stream(
        seed=23, venues=4, guests_per_venue=150, events=4_000
    )
    topics = await create_topics(stack.bootstrap, topic_prefix)
    url = dedicated.url

    owner = await connect(url)
    _, token = await create_token(owner, "*", ["read"])
    await owner.close()
    settings = Settings(
        database_url=url,
        secret="test-secret",
        kafka_bootstrap=stack.bootstrap,
        topic_prefix=topic_prefix,
        dev_token=None,
        auth_failures_per_minute=1000,
    )
    app = create_app(settings, dsn=url, api_dsn=role_dsn(url))
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/v1/tenants/{TENANT}/customers"

    log_path = tmp_path / "ingest.log"
    worker = IngestProcess(url, stack.bootstrap, topic_prefix, log_path)
    worker.start()
    # ~4,000 events over ~20 s: the outage lands in the middle of the stream.
    producer = asyncio.create_task(
        stream(
            stack.bootstrap,
            topics.site_events,
            [(r.key, r.value) for r in records],
            chunk=100,
            pause=0.5,
        )
    )
    statuses_down: list[tuple[int, str]] = []
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://api.test"
            ) as client,
        ):
            conn = await connect(url)
            try:

                async def some_applied() -> bool:
                    return int(await conn.fetchval("SELECT count(*) FROM history")) >= 300

                await wait_for(some_applied, timeout=120, every=0.2)
                before = await conn.fetchval("SELECT count(*) FROM history")
            finally:
                await conn.close()
            assert (await client.get(path, headers=headers)).status_code == 200
            assert before < len(expected_ids), "the stream ended before the outage"

            await asyncio.to_thread(dedicated.stop_server)
            down_at = time.monotonic()
            while time.monotonic() - down_at < OUTAGE_SECONDS:
                r = await client.get(path, headers=headers)
                statuses_down.append((r.status_code, r.headers.get("content-type", "")))
                if r.status_code == 503:
                    body = r.json()
                    assert body["status"] == 503 and body["title"]
                    assert r.headers.get("retry-after")
                await asyncio.sleep(1.0)
            await asyncio.to_thread(dedicated.start_server)

            # The same app recovers by itself.
            recovered: list[int] = []

            async def api_back() -> bool:
                r = await client.get(path, headers=headers)
                recovered.append(r.status_code)
                return r.status_code == 200

            await wait_for(api_back, timeout=30, every=0.5)
            assert all(s in (200, 503) for s in recovered), recovered

        await producer
        conn = await connect(url)
        try:

            async def finished() -> bool:
                return int(await conn.fetchval("SELECT count(*) FROM processed_events")) >= len(
                    expected_ids
                )

            await wait_for(finished, timeout=180, every=0.5)
            await asyncio.sleep(1.5)  # a straggling duplicate would show up now
            history = {
                (r["tenant_id"], r["event_id"])
                for r in await conn.fetch("SELECT tenant_id, event_id FROM history")
            }
            assert history == expected_ids
            assert await conn.fetchval("SELECT count(*) FROM history") == len(expected_ids)
            assert await stored_customers(conn) == fold_all(valid)
        finally:
            await conn.close()
    finally:
        producer.cancel()
        code = worker.stop()
    assert code == 0, log_path.read_text()[-3000:]
    assert statuses_down and all(
        s == 503 and ct == "application/problem+json" for s, ct in statuses_down
    ), statuses_down
    lines = log_events(log_path)
    assert any(e.get("event") == "ingest.db_retry" for e in lines)  # it waited, not skipped
    assert not any(e.get("event") == "ingest.poison_event" for e in lines)
