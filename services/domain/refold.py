"""Folding a card again from its events: what undoing a merge (contract 3a) is made of.

Pure. A history row keeps its event's contact, so the event can be rebuilt and folded again;
staff tags are not events, so a merge records each side's (``StaffTags``) and an undo seeds
each card with them before folding its events.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable

from schemas.events import SiteEvent, site_event_adapter
from services.domain.fold import (
    DEFAULT_REGULAR_THRESHOLD,
    Customer,
    Identity,
    _add_tag,  # private: the one rule of adding a tag (cap, removals)
    apply,
    identify,
)
from services.domain.merge import StaffTags, staff_tags
from services.domain.routing import is_junk
from services.domain.rows import Row


def survivor_staff_after_undo(
    current: Customer, survivor: StaffTags, absorbed: StaffTags
) -> StaffTags:
    """The survivor's staff tags once the absorbed card leaves again.

    The absorbed card takes back exactly the staff tags it had when it was merged; what came
    from it alone (a manual tag or a removal the survivor did not have) leaves the survivor,
    and every other staff change on the merged card, before or after the merge, stays.
    """
    only_absorbed = set(absorbed.tags) - set(survivor.tags)
    removed_only_absorbed = absorbed.removed - survivor.removed
    now = staff_tags(current)
    return StaffTags(
        {code: at for code, at in now.tags.items() if code not in only_absorbed},
        frozenset(now.removed - removed_only_absorbed),
    )


def event_of(row: Row, tenant_id: str) -> SiteEvent:
    """The event a history row recorded (its data and its contact)."""
    return site_event_adapter.validate_python(
        {
            "event_id": row["event_id"],
            "type": row["type"],
            "schema_version": 1,
            "tenant_id": tenant_id,
            "occurred_at": row["occurred_at"],
            "source": row["source"],
            "data": {**row["data"], "contact": row["contact"] or {}},
        }
    )


def identifiers_of(event: SiteEvent, region: str, blocked: Collection[str]) -> tuple[str, ...]:
    """The event's normalised identifiers that may identify a guest (not junk, not blocked)."""
    identity = identify(event.data.contact, region)
    if identity is None:
        return ()
    return tuple(
        i
        for i in (identity.email, identity.phone)
        if i is not None and not is_junk(i) and i not in blocked
    )


def refold(
    card_id: uuid.UUID,
    tenant_id: str,
    events: Iterable[SiteEvent],
    staff: StaffTags,
    *,
    region: str,
    regular_threshold: int = DEFAULT_REGULAR_THRESHOLD,
) -> Customer:
    """The card folded from nothing: staff tags first, then every event (in a fixed order)."""
    ordered = sorted(events, key=lambda e: (e.occurred_at, str(e.event_id)))
    c = Customer(id=card_id, tenant_id=tenant_id, identity_key=_key(ordered, region))
    for code, at in sorted(staff.tags.items(), key=lambda t: (t[1], t[0])):
        _add_tag(c, code, "manual", at)
    c.removed_tags = staff.removed
    for event in ordered:
        identity = identify(event.data.contact, region) or Identity("", None, None)
        c = apply(c, event, identity, regular_threshold=regular_threshold).customer
    return c


def _key(events: list[SiteEvent], region: str) -> str:
    """The card's identity key: its first email, else its first phone."""
    found = [i for e in events if (i := identify(e.data.contact, region)) is not None]
    emailed = [i for i in found if i.email is not None]
    return (emailed or found)[0].key if found else ""


def goes_back(
    event: SiteEvent,
    *,
    moved: bool,
    after_merge: bool,
    absorbed_identifiers: Collection[str],
    region: str,
    blocked: Collection[str],
) -> bool:
    """Whether undoing a merge gives this event of the merged card back to the absorbed card.

    Its own events (the ones the merge moved) go back, and those that arrived after the merge
    carrying only identifiers the absorbed card held.
    """
    if moved:
        return True
    if not after_merge:
        return False
    ids = identifiers_of(event, region, blocked)
    return bool(ids) and all(i in absorbed_identifiers for i in ids)
