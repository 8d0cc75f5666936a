"""Applying valid events: the batch in one transaction, or event by event around a poison one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from schemas.events import SiteEvent
from services.ingest.handlers import BatchReport
from services.ingest.ports import IngestStore, StoreRunner

log = structlog.get_logger(__name__)

POISON_ATTEMPTS = 3
Process = Callable[[IngestStore, list[SiteEvent]], Awaitable[BatchReport]]
Work = Callable[[IngestStore], Awaitable[BatchReport]]


@dataclass(slots=True)
class Applied:
    """The report of the applied events, and the events that failed every attempt."""

    report: BatchReport
    failed: list[tuple[int, str]] = field(default_factory=list)  # (index, why)


async def apply_events(
    store: StoreRunner[IngestStore], process: Process, events: list[SiteEvent]
) -> Applied:
    """The whole batch in one transaction; on an unforeseen error, event by event."""
    try:
        return Applied(await store.run(_on(process, events)))
    except Exception as exc:  # noqa: BLE001 - the agent must never raise
        log.warning("ingest.batch_failed", error=type(exc).__name__, records=len(events))
    applied = Applied(BatchReport())
    for index, event in enumerate(events):
        for attempt in range(1, POISON_ATTEMPTS + 1):
            try:
                one = await store.run(_on(process, [event]))
            except Exception as exc:  # noqa: BLE001
                if attempt == POISON_ATTEMPTS:
                    applied.failed.append((index, f"{type(exc).__name__} after {attempt} attempts"))
                    log.error(
                        "ingest.poison_event",
                        tenant_id=event.tenant_id,
                        event_id=str(event.event_id),
                        error=type(exc).__name__,
                    )
                continue
            _add(applied.report, one, index)
            break
    return applied


def _on(process: Process, events: list[SiteEvent]) -> Work:
    return lambda store: process(store, events)


def _add(total: BatchReport, one: BatchReport, index: int) -> None:
    """Add a one-event report; its unidentifiable index is ``index`` in the whole batch."""
    total.applied += one.applied
    total.duplicates += one.duplicates
    total.suppressed += one.suppressed
    total.created += one.created
    total.unidentifiable.extend(index for _ in one.unidentifiable)
    total.alerts.extend(one.alerts)
