"""The ingest use case: a batch of valid events folded into profiles in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from schemas.alerts import FlaggedBookingAlert
from schemas.events import SiteEvent
from services.common.suppression import suppression_hashes
from services.domain.fold import Customer, Identity, apply, identify, new_customer
from services.ingest.ports import Changes, ClaimOutcome, IngestStore


@dataclass(slots=True)
class BatchReport:
    """What happened to each event of a batch."""

    applied: int = 0
    duplicates: int = 0
    suppressed: int = 0
    created: int = 0
    unidentifiable: list[int] = field(default_factory=list)  # indexes into the batch
    alerts: list[FlaggedBookingAlert] = field(default_factory=list)


def suppression_keys(tenant_id: str, identity: Identity, secret: str) -> list[tuple[str, bytes]]:
    """The (tenant, keyed hash) pairs an erasure of this identity would have recorded."""
    hashes = suppression_hashes(
        secret, email=identity.email, phone=identity.phone, identity_key=identity.key
    )
    return [(tenant_id, h) for h in hashes]


async def process_batch(
    store: IngestStore,
    events: Sequence[SiteEvent],
    *,
    secret: str,
    new_id: Callable[[], UUID] = uuid.uuid4,
) -> BatchReport:
    """Apply a batch exactly once: duplicates, replays and suppressed events change nothing."""
    report = BatchReport()
    configs = await store.tenants({e.tenant_id for e in events})
    seen: set[tuple[str, UUID]] = set()
    work: list[tuple[SiteEvent, Identity]] = []
    for index, event in enumerate(events):
        if (event.tenant_id, event.event_id) in seen:
            report.duplicates += 1
            continue
        seen.add((event.tenant_id, event.event_id))
        identity = identify(event.data.contact, configs[event.tenant_id].region)
        if identity is None:
            report.unidentifiable.append(index)
        else:
            work.append((event, identity))
    if not work:
        return report

    async with store.transaction():
        event_keys = [suppression_keys(e.tenant_id, i, secret) for e, i in work]
        keys = {k for ks in event_keys for k in ks}
        erased = await store.suppressions(keys) if keys else {}
        outcomes: list[ClaimOutcome] = (
            [
                "suppressed" if _is_suppressed(e, ks, erased) else "applied"
                for (e, _), ks in zip(work, event_keys, strict=True)
            ]
            if erased
            else ["applied"] * len(work)
        )
        claimed = await store.claim(
            [(e.tenant_id, e.event_id, o) for (e, _), o in zip(work, outcomes, strict=True)]
        )
        fresh = []
        for (event, identity), outcome in zip(work, outcomes, strict=True):
            if (event.tenant_id, event.event_id) not in claimed:
                report.duplicates += 1
            elif outcome == "suppressed":
                report.suppressed += 1
            else:
                fresh.append((event, identity))
        if not fresh:
            return report

        customers = await store.load({(e.tenant_id, i.key) for e, i in fresh})
        changed: dict[tuple[str, str], Customer] = {}
        changes = Changes(customers=[], history=[], consent=[], alerts=[])
        for event, identity in fresh:
            key = (event.tenant_id, identity.key)
            current = customers.get(key)
            if current is None:
                current = new_customer(event.tenant_id, identity, new_id())
                report.created += 1
            result = apply(
                current,
                event,
                identity,
                regular_threshold=configs[event.tenant_id].regular_threshold,
            )
            customers[key] = changed[key] = result.customer
            changes.history.append((event.tenant_id, result.history))
            if result.consent is not None:
                changes.consent.append((event.tenant_id, result.customer.id, result.consent))
            changes.alerts.extend(result.alerts)
        changes.customers.extend(changed.values())
        await store.save(changes)
    report.applied = len(fresh)
    report.alerts = changes.alerts
    return report


def _is_suppressed(
    event: SiteEvent,
    keys: list[tuple[str, bytes]],
    erased: dict[tuple[str, bytes], datetime],
) -> bool:
    """An event about an erased email or phone that happened before the erasure is dropped.

    ``keys`` are the event's ``suppression_keys``.
    """
    for key in keys:
        at = erased.get(key)
        if at is not None and event.occurred_at < at:
            return True
    return False
