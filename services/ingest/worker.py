"""One batch of raw records: decode, apply with retries, dead-letter, publish alerts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
import structlog

from schemas.events import SiteEvent
from services.common.db import connect
from services.common.kafka import Topics
from services.common.retry import TRANSIENT, backoff
from services.ingest import metrics, outbox, unreadable
from services.ingest.decode import Rejection, decode
from services.ingest.handlers import BatchReport, process_batch
from services.ingest.store import PostgresIngestStore

log = structlog.get_logger(__name__)

Headers = list[tuple[str, bytes]]
Produce = Callable[[str, bytes | None, bytes, Headers | None], Awaitable[None]]

POISON_ATTEMPTS = 3
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Record:
    """What the worker needs of one consumed Kafka record."""

    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int


class IngestWorker:
    """Applies batches to PostgreSQL; waits out database outages instead of skipping events."""

    def __init__(self, dsn: str, topics: Topics, produce: Produce, *, secret: str, region: str):
        self.dsn = dsn
        self.topics = topics
        self.produce = produce
        self.secret = secret
        self.region = region
        self._conn: asyncpg.Connection | None = None
        self._outbox_pending = True  # a previous run may have left records in the outbox

    async def close(self) -> None:
        """Close the database connection."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def handle(self, records: Sequence[Record]) -> BatchReport:
        """Process one batch completely: when this returns, every record is applied or DLQ'd."""
        started = time.perf_counter()
        valid: list[SiteEvent] = []
        valid_records: list[Record] = []
        dead: list[tuple[Record, str, str]] = []
        for record in records:
            if isinstance(record.value, unreadable.UnreadableBatch):  # the consumer could not read
                dead.append((record, unreadable.CODE, record.value.describe()))
                continue
            decoded = decode(record.value)
            if isinstance(decoded, Rejection):
                dead.append((record, decoded.code, decoded.message))
            else:
                valid.append(decoded)
                valid_records.append(record)
        report = BatchReport()
        if valid:
            report, failed = await self._apply(valid)
            dead.extend(
                (valid_records[i], "contact.unidentifiable", "no usable email and no usable phone")
                for i in report.unidentifiable
            )
            dead.extend((valid_records[i], "event.unprocessable", why) for i, why in failed)
        # concurrently: the producer batches them into one request (each still awaited)
        await asyncio.gather(*(self._dead_letter(r, code, why) for r, code, why in dead))
        sent = 0
        if self._outbox_pending or report.alerts:
            # Only batches that raised alerts queue records; after a restart the first batch
            # also sends what a crashed run left behind.
            sent = await self._with_db(lambda store: outbox.flush(store.conn, self._send_plain))
            self._outbox_pending = False
        metrics.ALERTS.inc(sent)
        metrics.EVENTS.labels("applied").inc(report.applied)
        metrics.EVENTS.labels("duplicate").inc(report.duplicates)
        metrics.EVENTS.labels("suppressed").inc(report.suppressed)
        metrics.EVENTS.labels("dead_lettered").inc(len(dead))
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        log.info(
            "ingest.batch",
            records=len(records),
            applied=report.applied,
            created=report.created,
            duplicates=report.duplicates,
            suppressed=report.suppressed,
            dead_lettered=len(dead),
            alerts=sent,
            partitions=sorted({r.partition for r in records}),
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return report

    async def _apply(self, events: list[SiteEvent]) -> tuple[BatchReport, list[tuple[int, str]]]:
        """The whole batch in one transaction; on an unforeseen error, event by event."""
        try:
            return await self._with_db(self._process(events)), []
        except Exception as exc:  # noqa: BLE001 - the agent must never raise
            log.warning("ingest.batch_failed", error=type(exc).__name__, records=len(events))
        total = BatchReport()
        failed: list[tuple[int, str]] = []
        for index, event in enumerate(events):
            for attempt in range(1, POISON_ATTEMPTS + 1):
                try:
                    one = await self._with_db(self._process([event]))
                except Exception as exc:  # noqa: BLE001
                    if attempt == POISON_ATTEMPTS:
                        failed.append((index, f"{type(exc).__name__} after {attempt} attempts"))
                        log.error("ingest.poison_event", tenant_id=event.tenant_id,
                                  event_id=str(event.event_id), error=type(exc).__name__)
                    continue
                _merge(total, one, index)
                break
        return total, failed

    def _process(
        self, events: list[SiteEvent]
    ) -> Callable[[PostgresIngestStore], Awaitable[BatchReport]]:
        return lambda store: process_batch(store, events, secret=self.secret)

    async def _with_db(self, work: Callable[[PostgresIngestStore], Awaitable[T]]) -> T:
        """Run ``work``, retrying transient errors in place with backoff, forever."""
        delays = backoff()
        while True:
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await connect(self.dsn)
                return await work(PostgresIngestStore(self._conn, self.topics, self.region))
            except TRANSIENT as exc:
                metrics.RETRIES.inc()
                delay = next(delays)
                log.warning("ingest.db_retry", error=type(exc).__name__, delay=delay)
                await self._reset()
                await asyncio.sleep(delay)

    async def _reset(self) -> None:
        if self._conn is not None:
            try:
                await asyncio.wait_for(self._conn.close(), timeout=2)
            except Exception:  # noqa: BLE001 - a broken connection may not close cleanly
                self._conn.terminate()
            self._conn = None

    async def _dead_letter(self, record: Record, code: str, message: str) -> None:
        headers: Headers = [
            ("error.code", code.encode()),
            ("error.message", message.encode()),
            ("source.topic", record.topic.encode()),
            ("source.partition", str(record.partition).encode()),
            ("source.offset", str(record.offset).encode()),
        ]
        await self.produce(self.topics.dlq, record.key, record.value or b"", headers)
        metrics.DLQ.labels(code).inc()
        log.info("ingest.dead_lettered", code=code, topic=record.topic,
                 partition=record.partition, offset=record.offset)

    async def _send_plain(self, topic: str, key: bytes | None, value: bytes) -> None:
        await self.produce(topic, key, value, None)


def _merge(total: BatchReport, one: BatchReport, index: int) -> None:
    total.applied += one.applied
    total.duplicates += one.duplicates
    total.suppressed += one.suppressed
    total.created += one.created
    total.unidentifiable.extend(index for _ in one.unidentifiable)
    total.alerts.extend(one.alerts)
