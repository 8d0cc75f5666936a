"""Ingest through the real broker into the real database: the contract's guarantees end to end."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import orjson
import pytest

from services.common.db import with_database
from services.common.infra import free_port
from services.common.kafka import Topics
from tests.support.builders import event
from tests.support.processes import (
    IngestProcess,
    consume_all,
    create_topics,
    event_bytes,
    librdkafka_produce,
    produce,
    wait_for,
)
from tests.support.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
async def env(
    stack: Stack, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, Topics]]:
    """One ingest worker for the module, its own database and topics."""
    name = f"m_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(stack.admin_url)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    await admin.close()
    db_url = with_database(stack.admin_url, name)
    prefix = f"m{uuid.uuid4().hex[:8]}."
    topics = await create_topics(stack.bootstrap, prefix)
    log = tmp_path_factory.mktemp("ingest") / "log"
    worker = IngestProcess(db_url, stack.bootstrap, prefix, log)
    worker.start()
    yield db_url, topics
    assert worker.stop() == 0, Path(worker.log_path).read_text()[-3000:]


async def _count(db_url: str, sql: str, *args: object) -> int:
    conn = await asyncpg.connect(db_url)
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


async def _history_of(db_url: str, tenant: str) -> int:
    return await _count(db_url, "SELECT count(*) FROM history WHERE tenant_id = $1", tenant)


def _tenant() -> str:
    return f"venue-{uuid.uuid4().hex[:8]}"


async def test_duplicate_events_land_once(stack: Stack, env: tuple[str, Topics]) -> None:
    db_url, topics = env
    tenant = _tenant()
    first = event(tenant=tenant, at=0)
    second = event("reservation.completed", tenant=tenant, at=60)
    docs = [first, second, first, second, first]
    await produce(stack.bootstrap, topics.site_events, [event_bytes(d) for d in docs])
    marker = event("form.submitted", tenant=tenant, at=120)
    await produce(stack.bootstrap, topics.site_events, [event_bytes(marker)])

    await wait_for(lambda: _has(db_url, tenant, marker["event_id"]))
    assert await _history_of(db_url, tenant) == 3
    conn = await asyncpg.connect(db_url)
    row = await conn.fetchrow(
        "SELECT reservations, completed, forms FROM customers WHERE tenant_id = $1", tenant
    )
    await conn.close()
    assert dict(row) == {"reservations": 1, "completed": 1, "forms": 1}


async def _has(db_url: str, tenant: str, event_id: str) -> bool:
    return bool(
        await _count(
            db_url,
            "SELECT count(*) FROM processed_events WHERE tenant_id = $1 AND event_id = $2",
            tenant,
            uuid.UUID(event_id),
        )
    )


async def test_late_older_event_fills_empty_field_but_never_overwrites(
    stack: Stack, env: tuple[str, Topics]
) -> None:
    db_url, topics = env
    tenant = _tenant()
    newer = event(tenant=tenant, at=600, contact={"language": "fr", "last_name": "Peeters"})
    late = event(
        "form.submitted",
        tenant=tenant,
        at=0,
        contact={"language": "nl", "last_name": "Janssens", "newsletter_opt_in": False},
        phone="+32 2 511 22 33",
    )
    newer["data"]["contact"]["newsletter_opt_in"] = True
    del newer["data"]["contact"]["phone"]
    await produce(stack.bootstrap, topics.site_events, [event_bytes(newer), event_bytes(late)])
    await wait_for(lambda: _has(db_url, tenant, late["event_id"]))

    conn = await asyncpg.connect(db_url)
    row = await conn.fetchrow("SELECT * FROM customers WHERE tenant_id = $1", tenant)
    ledger = await conn.fetchval("SELECT count(*) FROM consent_ledger WHERE tenant_id = $1", tenant)
    await conn.close()
    assert row["language"] == "fr" and row["last_name"] == "Peeters"  # newer kept
    assert row["phone"] == "+3225112233"  # empty field filled by the late event
    assert row["newsletter"] is True  # newest statement wins
    assert ledger == 2  # both statements kept
    assert row["first_contact_at"] < row["last_contact_at"]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (b"{not json", "event.malformed"),
        (b"\xff\xfe\x00", "event.malformed"),
        (b"{" + b'"x": "' + b"a" * 70_000 + b'"}', "event.too_large"),
        (orjson.dumps(event("reservation.teleported")), "event.unknown_type"),
        (orjson.dumps(event(party_size="four")), "event.invalid"),
        (orjson.dumps(event(email="not-an-email", phone="12")), "contact.unidentifiable"),
    ],
    ids=["not-json", "not-utf8", "too-large", "unknown-type", "invalid", "unidentifiable"],
)
async def test_each_rejection_goes_to_the_dlq_with_its_code(
    stack: Stack, env: tuple[str, Topics], value: bytes, code: str
) -> None:
    _, topics = env
    key = f"k-{uuid.uuid4().hex}".encode()
    await produce(stack.bootstrap, topics.site_events, [(key, value)])
    records = await _dlq_records_with_key(stack.bootstrap, topics.dlq, key)
    assert len(records) == 1
    record = records[0]
    headers = dict(record.headers)
    assert record.value == value  # the rejected bytes, unchanged
    assert headers["error.code"].decode() == code
    assert headers["error.message"]
    assert headers["source.topic"].decode() == topics.site_events
    assert int(headers["source.offset"]) >= 0
    assert 0 <= int(headers["source.partition"]) < 4


async def _dlq_records_with_key(bootstrap: str, topic: str, key: bytes) -> list:
    found: list = []

    async def arrived() -> bool:
        found[:] = [
            r
            for r in await consume_all(bootstrap, topic, expect=10**9, timeout=1.0)
            if r.key == key
        ]
        return bool(found)

    await wait_for(arrived, timeout=60, every=0.5)
    return found


async def test_booking_by_a_no_show_raises_one_alert(stack: Stack, env: tuple[str, Topics]) -> None:
    db_url, topics = env
    tenant = _tenant()
    docs = [
        event(tenant=tenant, at=0),
        event("reservation.no_show", tenant=tenant, at=10),
        event(tenant=tenant, at=20, reservation_id="R-2"),
    ]
    await produce(stack.bootstrap, topics.site_events, [event_bytes(d) for d in docs])
    await wait_for(lambda: _has(db_url, tenant, docs[-1]["event_id"]))
    alerts: list = []

    async def alerted() -> bool:
        alerts[:] = [
            orjson.loads(r.value)
            for r in await consume_all(stack.bootstrap, topics.alerts, expect=10**9, timeout=1.0)
            if r.key == tenant.encode()
        ]
        return bool(alerts)

    await wait_for(alerted, timeout=30, every=0.5)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["type"] == "customer.flagged_booking"
    assert alert["tenant_id"] == tenant
    assert alert["data"]["reservation_id"] == "R-2"
    assert alert["data"]["tags"] == ["no_show"]
    assert alert["data"]["no_show_count"] == 1
    assert await _count(db_url, "SELECT count(*) FROM outbox") == 0


async def test_two_tenants_sharing_an_email_stay_apart(
    stack: Stack, env: tuple[str, Topics]
) -> None:
    db_url, topics = env
    a, b = _tenant(), _tenant()
    docs = [
        event(tenant=a, at=0, contact={"first_name": "Alice"}),
        event(tenant=b, at=5, contact={"first_name": "Bob"}),
        event("reservation.no_show", tenant=a, at=10, contact={"first_name": "Alice"}),
    ]
    await produce(stack.bootstrap, topics.site_events, [event_bytes(d) for d in docs])
    await wait_for(lambda: _has(db_url, a, docs[-1]["event_id"]))
    await wait_for(lambda: _has(db_url, b, docs[1]["event_id"]))
    conn = await asyncpg.connect(db_url)
    rows = await conn.fetch(
        "SELECT tenant_id, id, first_name, no_shows FROM customers WHERE tenant_id = ANY($1)",
        [a, b],
    )
    await conn.close()
    by_tenant = {r["tenant_id"]: r for r in rows}
    assert len(rows) == 2
    assert by_tenant[a]["first_name"] == "Alice" and by_tenant[a]["no_shows"] == 1
    assert by_tenant[b]["first_name"] == "Bob" and by_tenant[b]["no_shows"] == 0
    assert by_tenant[a]["id"] != by_tenant[b]["id"]


def _samples(text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("contacts_ingest_")
    }


async def test_ingest_metrics_count_outcomes_dlq_and_lag(
    stack: Stack, db_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    """A worker of its own, so every count is this test's events: three applied, two
    duplicates, one malformed record dead-lettered (distinct counts, so no counter can pass
    for another), and no lag left on their partition."""
    topics = await create_topics(stack.bootstrap, topic_prefix)
    port = free_port()
    worker = IngestProcess(
        db_url,
        stack.bootstrap,
        topic_prefix,
        tmp_path / "log",
        CONTACTS_INGEST_METRICS_PORT=str(port),
    )
    worker.start()
    try:
        tenant = _tenant()
        good = [event(tenant=tenant, at=i) for i in range(3)]
        await produce(
            stack.bootstrap,
            topics.site_events,
            [*(event_bytes(d) for d in [*good, *good[:2]]), (tenant.encode(), b"{broken")],
        )
        dead = await _dlq_records_with_key(stack.bootstrap, topics.dlq, tenant.encode())
        partition = int(dict(dead[0].headers)["source.partition"])
        expected = {
            'contacts_ingest_events_total{outcome="applied"}': 3.0,
            'contacts_ingest_events_total{outcome="duplicate"}': 2.0,
            'contacts_ingest_events_total{outcome="suppressed"}': 0.0,
            'contacts_ingest_events_total{outcome="dead_lettered"}': 1.0,
            'contacts_ingest_dlq_total{code="event.malformed"}': 1.0,
            f'contacts_ingest_lag{{partition="{partition}"}}': 0.0,
        }
        samples: dict[str, float] = {}

        async def counted() -> bool:
            async with httpx.AsyncClient() as client:
                text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
            samples.clear()
            samples.update(_samples(text))
            return {k: samples.get(k) for k in expected} == expected

        with contextlib.suppress(AssertionError):  # the assertion below says what differs
            await wait_for(counted, timeout=30, every=0.5)
        assert {k: samples.get(k) for k in expected} == expected, samples
        assert [k for k in samples if k.startswith("contacts_ingest_dlq_total")] == [
            'contacts_ingest_dlq_total{code="event.malformed"}'
        ]
        assert [k for k in samples if k.startswith("contacts_ingest_lag")] == [
            f'contacts_ingest_lag{{partition="{partition}"}}'
        ]
        assert await _history_of(db_url, tenant) == 3
    finally:
        assert worker.stop() == 0, Path(worker.log_path).read_text()[-3000:]


async def _alerts_of(stack: Stack, topics: Topics, tenant: str, expect: int) -> list[dict]:
    found: list[dict] = []

    async def arrived() -> bool:
        found[:] = [
            orjson.loads(r.value)
            for r in await consume_all(stack.bootstrap, topics.alerts, expect=10**9, timeout=1.0)
            if r.key == tenant.encode()
        ]
        return len(found) >= expect

    await wait_for(arrived, timeout=30, every=0.5)
    return found


async def test_a_guest_booked_by_phone_then_online_is_one_card_and_is_flagged(
    stack: Stack, env: tuple[str, Topics]
) -> None:
    db_url, topics = env
    tenant = _tenant()
    docs = [
        event(tenant=tenant, email=None, at=0, source="phone"),
        event("reservation.no_show", tenant=tenant, email=None, at=10, source="phone"),
        event(tenant=tenant, at=20, reservation_id="R-2"),  # online: email and phone
    ]
    librdkafka_produce(stack.bootstrap, topics.site_events, docs)
    await wait_for(lambda: _has(db_url, tenant, docs[-1]["event_id"]))

    cards = await _rows(
        db_url,
        "SELECT id, email, phone, reservations, no_shows FROM customers WHERE tenant_id = $1",
        tenant,
    )
    assert [(c["email"], c["phone"], c["reservations"], c["no_shows"]) for c in cards] == [
        ("an.peeters@example.be", "+32470123456", 2, 1)
    ]
    (alert,) = await _alerts_of(stack, topics, tenant, 1)
    assert alert["type"] == "customer.flagged_booking"
    assert alert["data"]["customer_id"] == str(cards[0]["id"])
    assert alert["data"]["reservation_id"] == "R-2"


async def test_an_event_linking_two_cards_merges_them_and_says_so(
    stack: Stack, env: tuple[str, Topics]
) -> None:
    db_url, topics = env
    tenant = _tenant()
    docs = [
        event("form.submitted", tenant=tenant, phone=None, at=0),
        event(tenant=tenant, email=None, at=10, source="phone"),
        event("reservation.no_show", tenant=tenant, email=None, at=20, source="phone"),
    ]
    librdkafka_produce(stack.bootstrap, topics.site_events, docs)
    await wait_for(lambda: _has(db_url, tenant, docs[-1]["event_id"]))
    before = {
        r["email"]: r["id"]
        for r in await _rows(db_url, "SELECT id, email FROM customers WHERE tenant_id = $1", tenant)
    }
    assert len(before) == 2
    link = event(tenant=tenant, at=30, reservation_id="R-3")

    librdkafka_produce(stack.bootstrap, topics.site_events, [link])
    await wait_for(lambda: _has(db_url, tenant, link["event_id"]))

    survivor, absorbed = before["an.peeters@example.be"], before[None]
    cards = await _rows(
        db_url,
        "SELECT id, reservations, no_shows, forms FROM customers WHERE tenant_id = $1",
        tenant,
    )
    assert [(c["id"], c["reservations"], c["no_shows"], c["forms"]) for c in cards] == [
        (survivor, 2, 1, 1)
    ]
    merges = await _rows(
        db_url,
        "SELECT survivor_id, absorbed_id, reason, event_id FROM merges WHERE tenant_id = $1",
        tenant,
    )
    assert [tuple(m) for m in merges] == [
        (survivor, absorbed, "linked_by_event", uuid.UUID(link["event_id"]))
    ]
    alerts = await _alerts_of(stack, topics, tenant, 2)
    assert sorted(a["type"] for a in alerts) == ["customer.flagged_booking", "customer.merged"]
    by_type = {a["type"]: a for a in alerts}
    assert by_type["customer.merged"]["data"]["survivor_id"] == str(survivor)
    assert by_type["customer.merged"]["data"]["absorbed_id"] == str(absorbed)
    assert by_type["customer.flagged_booking"]["data"]["customer_id"] == str(survivor)
    assert by_type["customer.flagged_booking"]["data"]["no_show_count"] == 1


async def _rows(db_url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db_url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()
