"""The system as compose runs it, on the embedded stack: two ingest workers in one consumer
group, logging in as the writer role, and the profile API as contacts_api, on one database."""

from __future__ import annotations

import re
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
import httpx
import pytest

from services import demo
from services.common.db import connect, with_database
from services.common.infra import free_port
from services.common.settings import Settings
from services.profile.app import create_app
from services.profile.tokens import create_token
from tests.integration.test_roles import API_PASSWORD, INGEST_PASSWORD, SECRET, as_role
from tests.support.expected import (
    consent_of,
    demo_stream,
    fold_all,
    history_of,
    stored_consent,
    stored_customers,
    stored_history,
)
from tests.support.processes import IngestProcess, create_topics, wait_for
from tests.support.stack import Stack

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]
EVENTS = 6_000
PARTITIONS = 12


def applied_by(port: int) -> float:
    """contacts_ingest_events_total{outcome="applied"} of the worker on ``port``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
        text = r.read().decode()
    found = re.search(r'^contacts_ingest_events_total\{outcome="applied"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


async def test_two_ingest_workers_and_the_api_share_one_database(
    stack: Stack, db_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    records, valid, expected_ids = demo_stream(
        seed=23, venues=5, guests_per_venue=150, events=EVENTS
    )
    per_tenant = Counter(tenant for tenant, _ in fold_all(valid))
    assert len(per_tenant) == 5

    owner = await connect(db_url)
    await owner.execute(f"ALTER ROLE contacts_ingest PASSWORD '{INGEST_PASSWORD}'")
    await owner.execute(f"ALTER ROLE contacts_api PASSWORD '{API_PASSWORD}'")
    topics = await create_topics(stack.bootstrap, topic_prefix, partitions=PARTITIONS)
    writer = as_role(db_url, "contacts_ingest", INGEST_PASSWORD)
    ports = [free_port(), free_port()]
    workers = [  # one group: IngestProcess sets CONTACTS_INGEST_GROUP from the prefix
        IngestProcess(
            writer,
            stack.bootstrap,
            topic_prefix,
            tmp_path / f"ingest-{i}.log",
            CONTACTS_INGEST_METRICS_PORT=str(port),
            CONTACTS_INGEST_BATCH_SIZE="500",
        )
        for i, port in enumerate(ports)
    ]
    try:
        for w in workers:
            w.start()

        async def both_up() -> bool:
            try:
                for port in ports:
                    applied_by(port)
            except OSError:
                return False
            return True

        await wait_for(both_up, timeout=60)
        # Spread over ~10 s, so the group has settled with both members while events arrive.
        await demo.stream(stack.bootstrap, topics.site_events, records, rate=EVENTS / 10)

        async def processed() -> bool:
            n = await owner.fetchval("SELECT count(*) FROM processed_events")
            return int(n) >= len(expected_ids)

        await wait_for(processed, timeout=240, every=0.5)
        time.sleep(1.0)  # a straggling duplicate would show up now
        history = await owner.fetch("SELECT tenant_id, event_id FROM history")
        assert {(r["tenant_id"], r["event_id"]) for r in history} == expected_ids
        assert len(history) == len(expected_ids)
        # Exactly once means the profiles too: a redelivered event (the demo sends some twice;
        # the group rebalances as the second worker joins) must not be counted again, so every
        # customer equals the pure fold of the distinct events, every entry sits on its
        # person's card, and the consent ledger holds each statement once.
        assert await stored_customers(owner) == fold_all(valid)
        assert await stored_history(owner) == history_of(valid)
        assert await stored_consent(owner) == consent_of(valid)
        shares = [applied_by(port) for port in ports]
        assert all(s > 0 for s in shares), shares  # both workers took part
        assert sum(shares) >= len(expected_ids)

        settings = Settings(
            database_url=db_url,
            secret=SECRET,
            kafka_bootstrap=stack.bootstrap,
            dev_token=None,
            topic_prefix=topic_prefix,
        )
        app = create_app(
            settings, dsn=db_url, api_dsn=as_role(db_url, "contacts_api", API_PASSWORD)
        )
        _, token = await create_token(owner, "*", ["read"])
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as c:
                assert (await c.get("/readyz")).status_code == 200
                for tenant, count in per_tenant.items():
                    r = await c.get(
                        f"/v1/tenants/{tenant}/customers",
                        params={"include_total": "true", "limit": 1},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    assert r.status_code == 200, r.text
                    assert r.json()["total"] == count, tenant
    finally:
        codes = [w.stop() for w in workers]
        await owner.close()
    logs = [(tmp_path / f"ingest-{i}.log").read_text()[-2000:] for i in range(2)]
    assert codes == [0, 0], logs


async def test_writer_role_cannot_be_used_before_the_migrations(
    stack: Stack, tmp_path: Path
) -> None:
    """A worker started before the migrate job exits non-zero (and compose/k8s restart it)."""
    name = f"m_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(stack.admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = with_database(stack.admin_url, name)
        await admin.execute(f"ALTER ROLE contacts_ingest PASSWORD '{INGEST_PASSWORD}'")
        worker = IngestProcess(
            as_role(url, "contacts_ingest", INGEST_PASSWORD),
            stack.bootstrap,
            "pre.",
            tmp_path / "ingest.log",
        )
        worker.start()
        assert worker.proc is not None
        assert worker.proc.wait(timeout=60) != 0
        log = (tmp_path / "ingest.log").read_text()
        assert "permission denied" in log or "InsufficientPrivilege" in log, log[-2000:]
        tables = await asyncpg.connect(url)
        try:
            assert await tables.fetchval("SELECT to_regclass('customers')") is None
        finally:
            await tables.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
