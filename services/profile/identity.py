"""Staff merges and undoing a merge (contract 3a), on one tenant's transaction.

A merge here is the one ingest makes (``services.domain.merge.merge`` and
``services.common.cards.record_merges``), chosen by staff. An undo folds both cards again from
their events (``services.domain.refold``): the absorbed card gets back the events the merge
moved and those that arrived later carrying only its identifiers; each card gets back its staff
tags as ``survivor_staff_after_undo`` decides.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import asyncpg

from schemas.alerts import alert_message
from schemas.events import SiteEvent
from services.common import cards
from services.domain.fold import Customer
from services.domain.merge import Merged, StaffTags, merge, merge_alert, staff_tags
from services.domain.refold import (
    event_of,
    goes_back,
    identifiers_of,
    refold,
    survivor_staff_after_undo,
)
from services.domain.rows import from_row
from services.profile.data import customers, identity


class IdentityError(Exception):
    """A merge or an undo that cannot be done: the status to answer and why."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Undone:
    """An undone merge: the record and the two cards as they are now."""

    merge: Merged
    survivor: Customer
    restored: Customer


async def staff_merge(
    conn: asyncpg.Connection,
    tenant_id: str,
    keep: uuid.UUID,
    other: uuid.UUID,
    *,
    token_id: uuid.UUID | None,
    regular_threshold: int,
) -> Merged:
    """Merge ``other`` into ``keep``; the venue is locked for the rest of the transaction."""
    await cards.lock_venues(conn, [tenant_id])
    a = await _live(conn, tenant_id, keep)
    if keep == other:
        raise IdentityError(422, "a card cannot be merged with itself")
    b = await _live(conn, tenant_id, other)
    merged = merge(a, b, regular_threshold=regular_threshold, keep=keep)
    record = Merged(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        survivor_id=keep,
        absorbed_id=other,
        reason="staff",
        survivor_staff=staff_tags(a),
        absorbed_staff=staff_tags(b),
        token_id=token_id,
        moved_cards=(other,),
    )
    await cards.save_cards(conn, [merged])
    await cards.record_merges(conn, [record], {(tenant_id, other): keep})
    return record


async def undo(
    conn: asyncpg.Connection,
    tenant_id: str,
    merge_id: uuid.UUID,
    *,
    token_id: uuid.UUID | None,
    at: datetime,
    region: str,
    blocked: Collection[str],
    regular_threshold: int,
    keep_apart: bool = True,
) -> Undone:
    """Take a merge back: both cards folded again from their own events. ``keep_apart``: staff
    said they are two people, so an event that links them again does not merge them again (an
    import's undo takes back its merges without saying so)."""
    await cards.lock_venues(conn, [tenant_id])
    row = await identity.merge_record(conn, tenant_id, merge_id, for_update=True)
    if row is None:
        raise IdentityError(404, "no such merge")
    if row["undone_at"] is not None:
        raise IdentityError(409, f"merge {merge_id} was undone at {row['undone_at'].isoformat()}")
    survivor_id, absorbed_id = row["survivor_id"], row["absorbed_id"]
    current = await customers.get(conn, tenant_id, survivor_id, for_update=True)
    if current is None:
        later = await identity.absorbed_into(conn, tenant_id, survivor_id)
        raise IdentityError(
            409,
            f"card {survivor_id} was merged into {later} after this merge: undo that merge first",
        )
    if current["anonymized_at"] is not None:
        raise IdentityError(409, "the card was anonymised: its merges cannot be undone")
    moved = await identity.moved(conn, tenant_id, merge_id)
    rows = await identity.events(conn, tenant_id, survivor_id)
    evs = [(r, event_of(r, tenant_id)) for r in rows]
    theirs = {
        i for r, e in evs if r["event_id"] in moved for i in identifiers_of(e, region, blocked)
    }
    back = {
        r["event_id"]
        for r, e in evs
        if goes_back(
            e,
            moved=r["event_id"] in moved,
            after_merge=r["recorded_at"] >= row["merged_at"],
            absorbed_identifiers=theirs,
            region=region,
            blocked=blocked,
        )
    }
    survivor_staff = StaffTags.from_json(row["survivor_staff"])
    absorbed_staff = StaffTags.from_json(row["absorbed_staff"])
    stay_events = [e for r, e in evs if r["event_id"] not in back]
    back_events = [e for r, e in evs if r["event_id"] in back]
    survivor = refold(
        survivor_id,
        tenant_id,
        stay_events,
        survivor_staff_after_undo(from_row(current), survivor_staff, absorbed_staff),
        region=region,
        blocked=blocked,
        regular_threshold=regular_threshold,
    )
    restored = refold(
        absorbed_id,
        tenant_id,
        back_events,
        absorbed_staff,
        region=region,
        blocked=blocked,
        regular_threshold=regular_threshold,
    )
    await cards.save_cards(conn, [survivor, restored])
    await identity.rehome(conn, tenant_id, sorted(back), absorbed_id)
    await retie(
        conn,
        tenant_id,
        [(survivor_id, stay_events), (absorbed_id, back_events)],
        region=region,
        blocked=blocked,
    )
    await identity.mark_undone(conn, tenant_id, merge_id, at, token_id)
    if keep_apart:  # "not the same person": an event that links them does not merge them
        await identity.dismiss(
            conn, tenant_id, (survivor_id, absorbed_id), reason="undone_merge", at=at, by=token_id
        )
    record = Merged(
        id=merge_id,
        tenant_id=tenant_id,
        survivor_id=survivor_id,
        absorbed_id=absorbed_id,
        reason=row["reason"],
        survivor_staff=survivor_staff,
        absorbed_staff=absorbed_staff,
        event_id=row["event_id"],
        token_id=row["token_id"],
    )
    return Undone(record, survivor, restored)


@dataclass(frozen=True, slots=True)
class Queued:
    """Alerts queued in the outbox: their ids and (key, value) messages."""

    ids: list[int]
    messages: list[tuple[bytes, bytes]]


async def queue_alert(
    conn: asyncpg.Connection, topic: str, record: Merged, kind: Literal["merged", "unmerged"]
) -> Queued:
    """Queue ``customer.merged`` / ``customer.unmerged`` with the transaction that made it."""
    messages = [alert_message(merge_alert(record, kind, datetime.now(UTC)))]
    return Queued(await identity.queue(conn, topic, messages), messages)


async def _live(conn: asyncpg.Connection, tenant_id: str, card: uuid.UUID) -> Customer:
    row = await customers.get(conn, tenant_id, card, for_update=True)
    if row is None:
        into = await identity.absorbed_into(conn, tenant_id, card)
        if into is not None:
            raise IdentityError(409, f"card {card} was merged into {into}")
        raise IdentityError(404, f"no such customer {card}")
    if row["anonymized_at"] is not None:
        raise IdentityError(409, f"card {card} is anonymised")
    return from_row(row)


async def retie(
    conn: asyncpg.Connection,
    tenant_id: str,
    folded: Iterable[tuple[uuid.UUID, Iterable[SiteEvent]]],
    *,
    region: str,
    blocked: Collection[str],
) -> None:
    """Tie each card's identifiers again from its own events (after a refold)."""
    folded = [(card, list(events)) for card, events in folded]
    await identity.drop_identifiers(conn, tenant_id, [card for card, _ in folded])
    await cards.tie(
        conn,
        [t for card, events in folded for t in _ties(tenant_id, card, events, region, blocked)],
    )


def _ties(
    tenant_id: str,
    card: uuid.UUID,
    events: Iterable[SiteEvent],
    region: str,
    blocked: Collection[str],
) -> list[tuple[str, str, uuid.UUID, datetime, uuid.UUID | None]]:
    """The identifiers a card's events tie to it, each at its earliest event."""
    first: dict[str, tuple[datetime, uuid.UUID]] = {}
    for e in events:
        for value in identifiers_of(e, region, blocked):
            if value not in first or (e.occurred_at, str(e.event_id)) < (
                first[value][0],
                str(first[value][1]),
            ):
                first[value] = (e.occurred_at, e.event_id)
    return [(tenant_id, v, card, at, eid) for v, (at, eid) in sorted(first.items())]
