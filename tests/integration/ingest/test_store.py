"""The batch handler on the real PostgreSQL store: exactly once, suppression, rollback."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from schemas.events import SiteEvent, site_event_adapter
from services.common.crypto import keyed_hash
from services.common.db import connect
from services.common.kafka import Topics
from services.ingest.handlers import process_batch
from services.ingest.store import PostgresIngestStore
from tests.support.builders import BASE, event
from tests.support.expected import fold_all, stored_customers

pytestmark = pytest.mark.asyncio(loop_scope="session")
SECRET = "test-secret"


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[PostgresIngestStore]:
    conn = await connect(db_url)
    yield PostgresIngestStore(conn, Topics("t."))
    await conn.close()


def _events(*docs: dict[str, object]) -> list[SiteEvent]:
    return [site_event_adapter.validate_python(d) for d in docs]


async def _counts(conn: asyncpg.Connection) -> dict[str, int]:
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM customers) AS customers,"
        " (SELECT count(*) FROM history) AS history,"
        " (SELECT count(*) FROM consent_ledger) AS consent,"
        " (SELECT coalesce(sum(reservations), 0) FROM customers) AS reservations"
    )
    return dict(row)


async def _rows(conn: asyncpg.Connection) -> dict[str, list[dict[str, object]]]:
    """Every row of every table ingest writes, all columns, in a stable order."""
    tables = {
        "tenants": "tenant_id",
        "customers": "tenant_id, id",
        "history": "tenant_id, event_id",
        "consent_ledger": "tenant_id, event_id",
        "processed_events": "tenant_id, event_id",
        "outbox": "id",
    }
    return {
        t: [dict(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY {order}")]
        for t, order in tables.items()
    }


async def test_replaying_a_batch_changes_nothing(store: PostgresIngestStore) -> None:
    batch = _events(
        event(at=0, contact={"newsletter_opt_in": True}),
        event("reservation.completed", at=10),
        event(email="other@example.be", at=20),
    )
    first = await process_batch(store, batch, secret=SECRET)
    before = await _rows(store.conn)
    again = await process_batch(store, batch, secret=SECRET)

    assert (first.applied, first.created) == (3, 2)
    assert (again.applied, again.duplicates, again.created) == (0, 3, 0)
    # What the first run wrote is the expected result: the pure fold of the batch, every
    # event in its customer's history, the one consent statement in the ledger.
    assert await stored_customers(store.conn) == fold_all(batch)
    ids = {r["identity_key"]: r["id"] for r in before["customers"]}
    an, other = ids["email:an.peeters@example.be"], ids["email:other@example.be"]
    assert [(h["event_id"], h["customer_id"], h["type"]) for h in before["history"]] == sorted(
        [
            (batch[0].event_id, an, "reservation.created"),
            (batch[1].event_id, an, "reservation.completed"),
            (batch[2].event_id, other, "reservation.created"),
        ]
    )
    assert [
        (c["event_id"], c["customer_id"], c["opt_in"], c["occurred_at"], c["source"])
        for c in before["consent_ledger"]
    ] == [(batch[0].event_id, an, True, batch[0].occurred_at, "booking-widget")]
    assert {(p["event_id"], p["outcome"]) for p in before["processed_events"]} == {
        (e.event_id, "applied") for e in batch
    }
    # The replay changes no row: not a field, a stamp, a counter, a timestamp or an entry.
    assert await _rows(store.conn) == before


async def test_profile_round_trips_through_postgres(store: PostgresIngestStore) -> None:
    await process_batch(
        store,
        _events(
            event(at=0, contact={"newsletter_opt_in": False}),
            *(event("reservation.completed", at=10 + i) for i in range(3)),
            event("reservation.no_show", at=50),
        ),
        secret=SECRET,
    )
    async with store.transaction():
        (held,) = await store.holders({("brasserie-leopold", "an.peeters@example.be")})
    customer = held.customer
    assert held.identifiers.keys() == {"an.peeters@example.be", "+32470123456"}
    assert customer.completed == 3 and customer.no_shows == 1
    assert set(customer.tags) == {"regular", "no_show"}
    assert customer.tags["regular"].added_at == BASE + timedelta(minutes=12)
    assert customer.tags["no_show"].origin == "auto"
    assert customer.newsletter is not None and customer.newsletter.opt_in is False
    assert customer.phone == "+32470123456"
    # Every last-writer-wins field the events set carries its stamp (the email too: a merge
    # of two cards decides by it).
    assert set(customer.stamps) == {"email", "first_name", "last_name", "phone", "language"}


async def test_erased_identity_drops_older_events_and_starts_fresh_after(
    store: PostgresIngestStore,
) -> None:
    erased_at = BASE + timedelta(hours=1)
    await store.conn.execute("INSERT INTO tenants (tenant_id) VALUES ('brasserie-leopold');")
    await store.conn.execute(
        "INSERT INTO suppressions (tenant_id, key_hash, anonymized_at) VALUES ($1, $2, $3)",
        "brasserie-leopold",
        keyed_hash(SECRET, "+32470123456"),
        erased_at,
    )
    older = event(email=None, at=30)  # same phone, before the erasure
    newer = event(email=None, at=90)
    report = await process_batch(store, _events(older, newer), secret=SECRET)

    assert (report.suppressed, report.applied, report.created) == (1, 1, 1)
    assert await store.conn.fetchval("SELECT count(*) FROM history") == 1
    outcome = await store.conn.fetchval(
        "SELECT outcome FROM processed_events WHERE event_id = $1", uuid.UUID(older["event_id"])
    )
    assert outcome == "suppressed"


async def test_failed_batch_rolls_back_and_applies_once_on_retry(
    store: PostgresIngestStore,
) -> None:
    batch = _events(event(at=0), event("form.submitted", at=5))
    original = store.save

    async def broken(changes: object) -> None:
        await original(changes)  # type: ignore[arg-type]
        raise asyncpg.DeadlockDetectedError("simulated")

    store.save = broken  # type: ignore[method-assign]
    with pytest.raises(asyncpg.DeadlockDetectedError):
        await process_batch(store, batch, secret=SECRET)
    assert await _counts(store.conn) == {
        "customers": 0,
        "history": 0,
        "consent": 0,
        "reservations": 0,
    }
    store.save = original  # type: ignore[method-assign]
    report = await process_batch(store, batch, secret=SECRET)
    assert report.applied == 2
    assert (await _counts(store.conn))["history"] == 2
