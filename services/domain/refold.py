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
)
from services.domain.merge import StaffTags, staff_tags
from services.domain.routing import usable_identity
from services.domain.rows import Row


def survivor_staff_after_undo(
    current: Customer, survivor: StaffTags, absorbed: StaffTags
) -> StaffTags:
    """The survivor's staff tags once the absorbed card leaves again.

    The survivor gets back the staff tags it had when it was merged, plus every staff change
    made on the merged card since (a tag added or taken off, a removal made or lifted); the
    absorbed card takes back exactly the staff tags it had (``absorbed``). So a tag that came
    only from the absorbed card leaves with it, and one a removal on the absorbed card had
    hidden comes back.
    """
    joined_removed = survivor.removed | absorbed.removed
    joined = {**absorbed.tags, **survivor.tags}
    joined_tags = {c for c in joined if c not in joined_removed}
    now = staff_tags(current)
    added = {c: at for c, at in now.tags.items() if c not in joined_tags}
    dropped = joined_tags - set(now.tags)
    tags = {c: at for c, at in survivor.tags.items() if c not in dropped}
    tags.update(added)
    removed = (survivor.removed | (now.removed - joined_removed)) - (joined_removed - now.removed)
    return StaffTags(tags, frozenset(removed - set(tags)))


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
    identity = usable_identity(event.data.contact, region, blocked)
    if identity is None:
        return ()
    return tuple(i for i in (identity.email, identity.phone) if i is not None)


def refold(
    card_id: uuid.UUID,
    tenant_id: str,
    events: Iterable[SiteEvent],
    staff: StaffTags,
    *,
    region: str,
    blocked: Collection[str] = frozenset(),
    regular_threshold: int = DEFAULT_REGULAR_THRESHOLD,
) -> Customer:
    """The card folded from nothing: staff tags first, then every event (in a fixed order),
    each with the identity ingest gave it (junk and blocked identifiers set aside)."""
    ordered = sorted(events, key=lambda e: (e.occurred_at, str(e.event_id)))
    identities = [
        usable_identity(e.data.contact, region, blocked) or Identity("", None, None)
        for e in ordered
    ]
    emailed = [i.key for i in identities if i.email is not None]
    keyed = [i.key for i in identities if i.key]
    c = Customer(id=card_id, tenant_id=tenant_id, identity_key=(emailed or keyed or [""])[0])
    for code, at in sorted(staff.tags.items(), key=lambda t: (t[1], t[0])):
        _add_tag(c, code, "manual", at)
    c.removed_tags = staff.removed
    for event, identity in zip(ordered, identities, strict=True):
        c = apply(c, event, identity, regular_threshold=regular_threshold).customer
    return c


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
