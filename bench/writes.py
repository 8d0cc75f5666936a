"""Write-path figures without faust: naive per-event, unnest batches, raw COPY, worker alone."""

from __future__ import annotations

import time
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.process import SECRET
from schemas.events import SiteEvent
from services.common.db import connect
from services.common.kafka import Topics
from services.common.settings import DEFAULT_REGION
from services.demo import DemoRecord
from services.ingest.decode import Rejection, decode
from services.ingest.handlers import process_batch
from services.ingest.store import HISTORY_COLUMNS, PostgresIngestStore
from services.ingest.worker import Headers, IngestWorker, Record

BATCH = 2000


async def naive(db_url: str, bootstrap: str, topic: str, limit: int) -> float:
    """aiokafka consumer, decode and one transaction per event; events/s over ``limit`` records."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    conn = await connect(db_url)
    store = PostgresIngestStore(conn, Topics())
    await consumer.start()
    done = 0
    try:
        started = time.perf_counter()
        while done < limit:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            for messages in batch.values():
                for message in messages:
                    if done >= limit:
                        break
                    event = decode(message.value)
                    if not isinstance(event, Rejection):
                        await process_batch(store, [event], secret=SECRET)
                    done += 1
        elapsed = time.perf_counter() - started
    finally:
        await consumer.stop()
        await conn.close()
    return done / elapsed


async def unnest(db_url: str, events: Sequence[SiteEvent]) -> float:
    """process_batch over batches of 2000 decoded events on one connection; events/s."""
    conn = await connect(db_url)
    store = PostgresIngestStore(conn, Topics())
    try:
        started = time.perf_counter()
        for i in range(0, len(events), BATCH):
            await process_batch(store, events[i : i + BATCH], secret=SECRET)
        return len(events) / (time.perf_counter() - started)
    finally:
        await conn.close()


async def copy_ceiling(db_url: str) -> tuple[float, int]:
    """COPY the history rows of ``db_url`` into a fresh table of the same shape; (rows/s, rows)."""
    conn = await connect(db_url)  # the services' codecs, as the write path sends its rows
    try:
        rows = await conn.fetch(
            f"SELECT {', '.join(HISTORY_COLUMNS)} FROM history ORDER BY recorded_at, event_id"
        )
        records = [tuple(r) for r in rows]
        await conn.execute(
            "DROP TABLE IF EXISTS history_copy;"
            " CREATE TABLE history_copy (LIKE history INCLUDING ALL)"
        )
        started = time.perf_counter()
        for i in range(0, len(records), BATCH):
            await conn.copy_records_to_table(
                "history_copy", records=records[i : i + BATCH], columns=list(HISTORY_COLUMNS)
            )
        return len(records) / (time.perf_counter() - started), len(records)
    finally:
        await conn.close()


async def worker_alone(
    db_url: str, bootstrap: str, topics: Topics, records: Sequence[DemoRecord]
) -> float:
    """IngestWorker.handle over batches of 2000 raw records (real DLQ producer), no faust."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()

    async def produce(topic: str, key: bytes | None, value: bytes, headers: Headers | None) -> None:
        fut = await producer.send(topic, key=key, value=value, headers=headers)
        await fut  # as the faust app does: delivered before the batch counts as done

    worker = IngestWorker(db_url, topics, produce, secret=SECRET, region=DEFAULT_REGION)
    raw = [Record(r.key, r.value, topics.site_events, 0, i) for i, r in enumerate(records)]
    try:
        started = time.perf_counter()
        for i in range(0, len(raw), BATCH):
            await worker.handle(raw[i : i + BATCH])
        return len(raw) / (time.perf_counter() - started)
    finally:
        await worker.close()
        await producer.stop()
