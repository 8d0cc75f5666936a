"""The worker on the real database: transient errors wait, poison events are dead-lettered
through the real broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import orjson
import pytest

from schemas.events import SiteEvent
from services.common.db import fetch_once
from services.common.kafka import Topics
from services.ingest import decode as decode_module
from services.ingest import session as session_module
from services.ingest import worker as worker_module
from services.ingest.handlers import BatchReport, process_batch
from services.ingest.worker import Headers, IngestWorker, Record
from tests.support.builders import event
from tests.support.processes import (
    IngestProcess,
    consume_all,
    create_topics,
    event_bytes,
    produce,
    wait_for,
)
from tests.support.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="session")
TOPICS = Topics("w.")
POISON_ATTEMPTS = 3  # README: a poison event is "retried 3 times alone, then DLQ"


class Sent:
    """Records the worker produced, in order."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, bytes, Headers | None]] = []

    async def __call__(
        self, topic: str, key: bytes | None, value: bytes, headers: Headers | None
    ) -> None:
        self.records.append((topic, key, value, headers))


def _records(*docs: dict[str, object]) -> list[Record]:
    return [
        Record(str(d["tenant_id"]).encode(), orjson.dumps(d), TOPICS.site_events, 0, i)
        for i, d in enumerate(docs)
    ]


async def _history(db_url: str) -> int:
    row = await fetch_once(db_url, "SELECT count(*) FROM history")
    return int(row[0]) if row else 0


async def test_poison_event_goes_to_dlq_after_bounded_retries_and_others_apply(
    stack: Stack, db_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    """A permanent database error on one event, through the real worker, broker and database:
    the batch is tried once, then event by event, the poison one POISON_ATTEMPTS times; then it
    is on the broker's DLQ topic, byte for byte, with the contract's headers, and the events
    around it are applied."""
    poison = event(at=5, email="poison@example.be")
    docs = [event(at=0), poison, event("form.submitted", at=10)]
    conn = await asyncpg.connect(db_url)
    # The database refuses the poison event's history row for good (not a transient error),
    # and counts the attempts in a sequence, which a rollback does not undo.
    await conn.execute(f"""
        CREATE SEQUENCE poison_attempts;
        CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.event_id = '{poison["event_id"]}' THEN
                PERFORM nextval('poison_attempts');
                RAISE EXCEPTION 'refused by the test';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_poison BEFORE INSERT ON history
            FOR EACH ROW EXECUTE FUNCTION refuse_poison();
    """)
    topics = await create_topics(stack.bootstrap, topic_prefix)
    worker = IngestProcess(db_url, stack.bootstrap, topic_prefix, tmp_path / "ingest.log")
    worker.start()
    try:
        await produce(stack.bootstrap, topics.site_events, [event_bytes(d) for d in docs])
        dead = await consume_all(stack.bootstrap, topics.dlq, expect=1, timeout=90)
        others = {uuid.UUID(d["event_id"]) for d in docs if d is not poison}

        async def applied() -> bool:
            rows = await conn.fetch("SELECT event_id FROM history")
            return {r["event_id"] for r in rows} == others

        await wait_for(applied, timeout=30)
        await asyncio.sleep(1.0)  # a second dead letter or a late retry would show up now
        dead = await consume_all(stack.bootstrap, topics.dlq, expect=10**9, timeout=2)
        source = [
            r
            for r in await consume_all(
                stack.bootstrap, topics.site_events, expect=len(docs), timeout=10
            )
            if r.value == orjson.dumps(poison)
        ]
        attempts = await conn.fetchval("SELECT last_value FROM poison_attempts")
        processed = await conn.fetch("SELECT event_id FROM processed_events")
    finally:
        code = worker.stop()
        await conn.close()
    log = (tmp_path / "ingest.log").read_text()
    assert code == 0, log[-3000:]

    assert attempts == 1 + POISON_ATTEMPTS  # the batch once, then the poison event alone
    assert {r["event_id"] for r in processed} == others  # the poison one is not claimed
    assert len(dead) == 1, dead
    record = dead[0]
    assert (record.key, record.value) == (b"brasserie-leopold", orjson.dumps(poison))
    headers = dict(record.headers)
    assert set(headers) == {
        "error.code",
        "error.message",
        "source.topic",
        "source.partition",
        "source.offset",
    }
    assert headers["error.code"] == b"event.unprocessable"
    assert headers["error.message"] == f"RaiseError after {POISON_ATTEMPTS} attempts".encode()
    assert len(source) == 1
    assert headers["source.topic"].decode() == topics.site_events
    assert int(headers["source.partition"]) == source[0].partition
    assert int(headers["source.offset"]) == source[0].offset
    assert log.count('"ingest.poison_event"') == 1
    assert "poison@example.be" not in log  # the log names the event, never the person


async def test_transient_database_errors_are_retried_in_place(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures = [asyncpg.ConnectionDoesNotExistError("gone"), OSError("refused")]

    async def flaky(store: object, events: Sequence[SiteEvent], **kw: object) -> BatchReport:
        if failures:
            raise failures.pop(0)
        return await process_batch(store, events, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(worker_module, "process_batch", flaky)
    monkeypatch.setattr(session_module.asyncio, "sleep", _no_sleep)
    sent = Sent()
    worker = IngestWorker(db_url, TOPICS, sent, secret="s", region="BE")
    try:
        report = await worker.handle(_records(event(at=0), event("reservation.completed", at=9)))
    finally:
        await worker.close()

    assert failures == []
    assert report.applied == 2
    assert await _history(db_url) == 2
    assert [r for r in sent.records if r[0] == TOPICS.dlq] == []


async def _no_sleep(_: float) -> None:
    return None


async def test_a_replayed_record_stops_at_the_ledger_before_validation(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replay costs a JSON parse and a read: records the ledger holds are counted as
    duplicates and never validated; new and invalid records in the same batch go their way."""
    first, second = event(at=0), event("form.submitted", at=10)
    sent = Sent()
    worker = IngestWorker(db_url, TOPICS, sent, secret="s", region="BE")
    try:
        await worker.handle(_records(first, second))
        validated: list[object] = []
        original = decode_module.validate

        def counting(doc: dict[str, object], raw: bytes) -> object:
            validated.append(doc["event_id"])
            return original(doc, raw)

        monkeypatch.setattr(decode_module, "validate", counting)
        new = event("reservation.completed", at=20)
        broken = {**event(at=30), "occurred_at": "not a date"}
        replay = await worker.handle(_records(first, second, new, broken))
    finally:
        await worker.close()

    assert (replay.duplicates, replay.applied) == (2, 1)
    assert validated == [new["event_id"], broken["event_id"]]  # the replayed two never were
    assert await _history(db_url) == 3
    assert [r[2] for r in sent.records if r[0] == TOPICS.dlq] == [orjson.dumps(broken)]
