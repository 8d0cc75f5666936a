"""One batch of raw records to the end: decode, apply, dead-letter, publish alerts, observe."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID

import structlog

from schemas.events import SiteEvent
from services.ingest import decode, metrics, unreadable
from services.ingest.dlq import DeadLetter, DeadLetterWriter
from services.ingest.handlers import BatchReport
from services.ingest.outbox import Relay
from services.ingest.poison import Applied
from services.ingest.records import Record

log = structlog.get_logger(__name__)

Apply = Callable[[list[SiteEvent]], Awaitable[Applied]]
Known = Callable[[list[tuple[str, UUID]]], Awaitable[set[tuple[str, UUID]]]]


class BatchHandler:
    """Handles batches completely: when ``handle`` returns, every record is applied or DLQ'd."""

    def __init__(
        self, apply: Apply, dead_letters: DeadLetterWriter, relay: Relay, known: Known
    ) -> None:
        self._apply = apply
        self._dead_letters = dead_letters
        self._relay = relay
        self._known = known

    async def handle(self, records: Sequence[Record]) -> BatchReport:
        """Apply the valid records, dead-letter the others, then publish queued alerts.

        A record whose tenant and event id the ledger already holds is a duplicate, whatever
        else it holds: it is counted and skipped before validation, so a replay costs its JSON
        parse and its share of one read. Claims are never taken back, so that read needs no
        lock; the apply checks the rest again under the venue's lock."""
        started = time.perf_counter()
        parsed, dead = _parse(records)
        keys = [decode.event_key(doc) for _, doc in parsed]
        wanted = [k for k in keys if k is not None]
        known = await self._known(wanted) if wanted else set()
        valid, valid_records = _validate(parsed, keys, known, dead)
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
        report.duplicates += sum(1 for k in keys if k is not None and k in known)
        await self._dead_letters.send(dead)
        # Only batches that raised alerts queue records; after a restart the first batch also
        # sends what a crashed run left behind.
        sent = await self._relay.publish(bool(report.alerts))
        _observe(records, report, dead_lettered=len(dead), sent=sent, started=started)
        return report


Parsed = list[tuple[Record, dict[str, Any]]]


def _parse(records: Sequence[Record]) -> tuple[Parsed, list[DeadLetter]]:
    """The records that parse as events of a known type, and the rejected ones."""
    parsed: Parsed = []
    dead: list[DeadLetter] = []
    for record in records:
        if isinstance(record.value, unreadable.UnreadableBatch):  # the consumer could not read
            dead.append(DeadLetter(record, unreadable.CODE, record.value.describe()))
            continue
        doc = decode.parse(record.value)
        if isinstance(doc, decode.Rejection):
            dead.append(DeadLetter(record, doc.code, doc.message))
        else:
            parsed.append((record, doc))
    return parsed, dead


def _validate(
    parsed: Parsed,
    keys: list[tuple[str, UUID] | None],
    known: set[tuple[str, UUID]],
    dead: list[DeadLetter],
) -> tuple[list[SiteEvent], list[Record]]:
    """The valid events among those the ledger does not hold (with their records); the invalid
    ones join ``dead``."""
    valid: list[SiteEvent] = []
    valid_records: list[Record] = []
    for (record, doc), key in zip(parsed, keys, strict=True):
        if key is not None and key in known:
            continue
        event = decode.validate(doc, record.value or b"")
        if isinstance(event, decode.Rejection):
            dead.append(DeadLetter(record, event.code, event.message))
        else:
            valid.append(event)
            valid_records.append(record)
    return valid, valid_records


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
