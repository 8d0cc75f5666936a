"""One batch of raw records to the end: decode, apply, dead-letter, publish alerts, observe."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

import structlog

from schemas.events import SiteEvent
from services.ingest import metrics, unreadable
from services.ingest.decode import Rejection, decode
from services.ingest.dlq import DeadLetter, DeadLetterWriter
from services.ingest.handlers import BatchReport
from services.ingest.outbox import Relay
from services.ingest.poison import Applied
from services.ingest.records import Record

log = structlog.get_logger(__name__)

Apply = Callable[[list[SiteEvent]], Awaitable[Applied]]


class BatchHandler:
    """Handles batches completely: when ``handle`` returns, every record is applied or DLQ'd."""

    def __init__(self, apply: Apply, dead_letters: DeadLetterWriter, relay: Relay):
        self._apply = apply
        self._dead_letters = dead_letters
        self._relay = relay

    async def handle(self, records: Sequence[Record]) -> BatchReport:
        """Apply the valid records, dead-letter the others, then publish queued alerts."""
        started = time.perf_counter()
        valid, valid_records, dead = _decode(records)
        report = BatchReport()
        if valid:
            applied = await self._apply(valid)
            report = applied.report
            dead.extend(
                DeadLetter(
                    valid_records[i],
                    "contact.unidentifiable",
                    "no usable email and no usable phone",
                )
                for i in report.unidentifiable
            )
            dead.extend(
                DeadLetter(valid_records[i], "event.unprocessable", why)
                for i, why in applied.failed
            )
        await self._dead_letters.send(dead)
        # Only batches that raised alerts queue records; after a restart the first batch also
        # sends what a crashed run left behind.
        sent = await self._relay.publish(bool(report.alerts))
        _observe(records, report, dead_lettered=len(dead), sent=sent, started=started)
        return report


def _decode(records: Sequence[Record]) -> tuple[list[SiteEvent], list[Record], list[DeadLetter]]:
    """The valid events (with their records) and the records rejected on reading."""
    valid: list[SiteEvent] = []
    valid_records: list[Record] = []
    dead: list[DeadLetter] = []
    for record in records:
        if isinstance(record.value, unreadable.UnreadableBatch):  # the consumer could not read
            dead.append(DeadLetter(record, unreadable.CODE, record.value.describe()))
            continue
        decoded = decode(record.value)
        if isinstance(decoded, Rejection):
            dead.append(DeadLetter(record, decoded.code, decoded.message))
        else:
            valid.append(decoded)
            valid_records.append(record)
    return valid, valid_records, dead


def _observe(
    records: Sequence[Record],
    report: BatchReport,
    *,
    dead_lettered: int,
    sent: int,
    started: float,
) -> None:
    """The batch's metrics and its one log line (counts only: no personal data)."""
    metrics.ALERTS.inc(sent)
    metrics.EVENTS.labels("applied").inc(report.applied)
    metrics.EVENTS.labels("duplicate").inc(report.duplicates)
    metrics.EVENTS.labels("suppressed").inc(report.suppressed)
    metrics.EVENTS.labels("dead_lettered").inc(dead_lettered)
    metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
    log.info(
        "ingest.batch",
        records=len(records),
        applied=report.applied,
        created=report.created,
        duplicates=report.duplicates,
        suppressed=report.suppressed,
        dead_lettered=dead_lettered,
        alerts=sent,
        partitions=sorted({r.partition for r in records}),
        ms=round((time.perf_counter() - started) * 1000, 1),
    )
