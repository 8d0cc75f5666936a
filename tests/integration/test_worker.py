"""The worker on the real database: transient errors wait, poison events are dead-lettered."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import orjson
import pytest

from schemas.events import SiteEvent
from services.common.kafka import Topics
from services.ingest import worker as worker_module
from services.ingest.handlers import BatchReport, process_batch
from services.ingest.worker import Headers, IngestWorker, Record
from tests.builders import event

pytestmark = pytest.mark.asyncio(loop_scope="session")
TOPICS = Topics("w.")


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
    conn = await asyncpg.connect(db_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM history"))
    finally:
        await conn.close()


async def test_poison_event_goes_to_dlq_after_bounded_retries_and_others_apply(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    poison = event(at=5, email="poison@example.be")
    docs = (event(at=0), poison, event("form.submitted", at=10))
    calls: list[int] = []

    async def fragile(store: object, events: Sequence[SiteEvent], **kw: object) -> BatchReport:
        if any(str(e.event_id) == poison["event_id"] for e in events):
            calls.append(len(events))
            raise ValueError("unforeseen")
        return await process_batch(store, events, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(worker_module, "process_batch", fragile)
    sent = Sent()
    worker = IngestWorker(db_url, TOPICS, sent, secret="s", region="BE")
    try:
        report = await worker.handle(_records(*docs))
    finally:
        await worker.close()

    assert report.applied == 2
    assert await _history(db_url) == 2
    assert calls == [3, 1, 1, 1]  # the batch once, then the poison event three times
    dead = [r for r in sent.records if r[0] == TOPICS.dlq]
    assert len(dead) == 1
    _, key, value, headers = dead[0]
    assert value == orjson.dumps(poison) and key == b"brasserie-leopold"
    assert dict(headers or [])["error.code"] == b"event.unprocessable"
    assert dict(headers or [])["source.offset"] == b"1"


async def test_transient_database_errors_are_retried_in_place(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures = [asyncpg.ConnectionDoesNotExistError("gone"), OSError("refused")]

    async def flaky(store: object, events: Sequence[SiteEvent], **kw: object) -> BatchReport:
        if failures:
            raise failures.pop(0)
        return await process_batch(store, events, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(worker_module, "process_batch", flaky)
    monkeypatch.setattr(worker_module.asyncio, "sleep", _no_sleep)
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
