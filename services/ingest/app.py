"""The faust app: one agent on ``contacts.site-events`` that hands batches to the worker."""

from __future__ import annotations

import asyncio
from typing import cast

import faust
import structlog
from faust.types import TP, EventT, StreamT

from services.common.faustapp import faust_app, raw_topic
from services.common.kafka import Topics
from services.common.retry import backoff
from services.common.settings import Settings
from services.ingest import metrics, unreadable
from services.ingest.records import Headers, Record
from services.ingest.take import take_pipelined
from services.ingest.worker import IngestWorker

log = structlog.get_logger(__name__)


def create_app(settings: Settings, dsn: str) -> faust.App:
    """Build the ingest app; `faust.Worker(app).execute_from_commandline()` runs it."""
    topics = Topics(settings.topic_prefix)
    app = faust_app(
        settings,
        settings.ingest_group,
        broker_commit_interval=1.0,
        stream_buffer_maxsize=max(4 * settings.ingest_batch_size, 4096),
        broker_max_poll_records=max(settings.ingest_batch_size, 500),
        producer_acks=-1,
    )
    # an unreadable record batch (codec missing, corrupt, bad CRC) reaches the worker as one
    # record to dead-letter, instead of crashing the fetcher on every start (unreadable.py)
    unreadable.guard([topics.site_events])
    source = raw_topic(app, topics.site_events)
    outputs = {t: raw_topic(app, t) for t in (topics.dlq, topics.alerts)}

    async def produce(topic: str, key: bytes | None, value: bytes, headers: Headers | None) -> None:
        fut = await outputs[topic].send(key=key, value=value, headers=headers)
        await fut  # delivered before the batch's offsets can be committed

    # concurrency=1: faust can commit past in-flight messages with more (faust-streaming#606).
    @app.agent(source, concurrency=1)
    async def ingest(stream: StreamT[bytes]) -> None:
        worker = IngestWorker(
            dsn, topics, produce, secret=settings.secret, region=settings.default_region
        )
        try:
            async for events in take_pipelined(
                cast(faust.Stream[bytes], stream),
                settings.ingest_batch_size,
                settings.ingest_batch_within,
            ):
                records = [_record(e) for e in events]
                await _finish(worker, records)
                _observe_lag(app, records)
        finally:
            await worker.close()

    return app


async def _finish(worker: IngestWorker, records: list[Record]) -> None:
    """Handle a batch to the end, even when the worker is being stopped.

    The take acks a batch only when the agent asks for the next one, so a stop never commits
    an offset whose event is not applied; finishing the batch first also means a graceful stop
    sends the batch's DLQ records and alerts instead of leaving them to the next start.
    """
    task = asyncio.ensure_future(_until_done(worker, records))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


async def _until_done(worker: IngestWorker, records: list[Record]) -> None:
    """Retry a batch whose handling failed unexpectedly (the broker refused a DLQ write)."""
    delays = backoff(first=0.5, cap=10.0)
    while True:
        try:
            await worker.handle(records)
            return
        except Exception as exc:  # noqa: BLE001 - faust would ack and skip the batch
            delay = next(delays)
            log.error("ingest.batch_retry", error=type(exc).__name__, delay=delay)
            await asyncio.sleep(delay)


def _observe_lag(app: faust.App, records: list[Record]) -> None:
    """Publish per-partition lag after a batch, from the consumer's high-water marks."""
    last: dict[tuple[str, int], int] = {}
    for r in records:
        last[(r.topic, r.partition)] = max(r.offset, last.get((r.topic, r.partition), -1))
    for (topic, partition), offset in last.items():
        try:
            highwater = app.consumer.highwater(TP(topic, partition))
        except Exception as exc:  # noqa: BLE001 - e.g. revoked meanwhile (aiokafka asserts)
            # the agent's body must not raise: see take_pipelined
            log.debug("ingest.lag_unknown", partition=partition, error=type(exc).__name__)
            continue
        if highwater is not None:
            metrics.LAG.labels(str(partition)).set(max(highwater - offset - 1, 0))


def _record(event: EventT[bytes]) -> Record:
    m = event.message
    return Record(key=m.key, value=m.value, topic=m.topic, partition=m.partition, offset=m.offset)
