"""Merging two cards of one guest (contract 3a, "What a merge keeps"): a pure function.

``merge`` is commutative on every field, the id included, and associative while the joined
tags fit under the cap of 9 (a tag dropped at the cap is forgotten). Folding two disjoint sets
of a guest's events into two cards and merging them gives the card of folding them all into
one, but for what today's fold leaves unstamped (see tests/unit/test_merge.py)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from schemas.alerts import MergeAlert, MergeData
from services.domain.fold import (
    ALERT_NAMESPACE,
    DEFAULT_REGULAR_THRESHOLD,
    LWW_FIELDS,
    ConsentStatement,
    Customer,
    Stamp,
    TagState,
    _add_tag,  # private: the one rule of joining, capping and suppressing a tag
)

# The email shown is last-writer-wins too (3a), although the fold does not stamp it yet.
MERGED_LWW = tuple(dict.fromkeys(("email", *LWW_FIELDS)))
_NEVER = datetime.max.replace(tzinfo=UTC)
_UNSTAMPED: Stamp = (datetime.min.replace(tzinfo=UTC), "")
_SCRATCH = uuid.UUID(int=0)  # the id of a throw-away card that only joins one tag's states
_HANDLED = {
    "id",
    "tenant_id",
    "identity_key",
    *MERGED_LWW,
    "stamps",
    "newsletter",
    "first_contact_at",
    "last_contact_at",
    "reservations",
    "completed",
    "no_shows",
    "cancellations",
    "forms",
    "tags",
    "removed_tags",
    "completion_marks",
}
if {f.name for f in dataclasses.fields(Customer)} != _HANDLED:
    raise RuntimeError("every Customer field needs a merge rule (merge.py)")


@dataclass(frozen=True, slots=True)
class StaffTags:
    """The tags people set on a card: manual tags (with their dates) and the removed codes."""

    tags: Mapping[str, datetime]
    removed: frozenset[str]

    def to_json(self) -> dict[str, Any]:
        """As stored in a merge record."""
        return {
            "tags": {code: at.isoformat() for code, at in self.tags.items()},
            "removed": sorted(self.removed),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> StaffTags:
        """From a merge record."""
        return cls(
            {code: datetime.fromisoformat(at) for code, at in doc["tags"].items()},
            frozenset(doc["removed"]),
        )


def staff_tags(c: Customer) -> StaffTags:
    """The card's manual tags and staff removals."""
    return StaffTags(
        {code: t.added_at for code, t in c.tags.items() if t.origin == "manual"},
        c.removed_tags,
    )


@dataclass(frozen=True, slots=True)
class Merged:
    """A merge to record: ``absorbed`` went into ``survivor``, and what an undo needs."""

    id: uuid.UUID
    tenant_id: str
    survivor_id: uuid.UUID
    absorbed_id: uuid.UUID
    reason: Literal["linked_by_event", "staff"]
    survivor_staff: StaffTags
    absorbed_staff: StaffTags
    event_id: uuid.UUID | None = None
    token_id: uuid.UUID | None = None
    # Stored cards whose history moves with this merge: the absorbed card and the cards merged
    # into it earlier in the same batch; and the batch's own events that were theirs.
    moved_cards: tuple[uuid.UUID, ...] = ()
    moved_events: tuple[uuid.UUID, ...] = ()


def merge_alert(m: Merged, kind: str, at: datetime, caused_by: UUID | None = None) -> MergeAlert:
    """``customer.merged`` or ``customer.unmerged`` for a merge record (ids only); the same
    alert id whenever it is made again (a retried batch, a replayed undo)."""
    return MergeAlert(
        alert_id=uuid.uuid5(ALERT_NAMESPACE, f"{m.tenant_id}:{m.id}:{kind}"),
        type="customer.merged" if kind == "merged" else "customer.unmerged",
        tenant_id=m.tenant_id,
        occurred_at=at,
        caused_by_event_id=caused_by,
        data=MergeData(
            survivor_id=m.survivor_id, absorbed_id=m.absorbed_id, merge_id=m.id, reason=m.reason
        ),
    )


def survivor(a: Customer, b: Customer) -> Customer:
    """The card whose id lives on: the older first contact, then the smaller id."""
    return min(a, b, key=_age)


def merge(
    a: Customer,
    b: Customer,
    *,
    regular_threshold: int = DEFAULT_REGULAR_THRESHOLD,
    keep: uuid.UUID | None = None,
) -> Customer:
    """One card from two cards of the same tenant; neither input is changed.

    The id and identity key are ``keep``'s (the card an event or staff chose), else the
    survivor's (``survivor``: older first contact, then smaller id), so that the result does
    not depend on the argument order. ``regular_threshold`` must be the tenant's, as given to
    the fold.
    """
    if a.tenant_id != b.tenant_id:
        raise ValueError("cards of different tenants are never merged")
    if keep is None:
        kept = survivor(a, b)
    elif keep in (a.id, b.id):
        kept = a if keep == a.id else b
    else:
        raise ValueError("the card to keep must be one of the two")
    c = Customer(id=kept.id, tenant_id=kept.tenant_id, identity_key=kept.identity_key)
    for name in MERGED_LWW:
        value, stamp = _newest(name, a, b)
        setattr(c, name, value)
        if stamp is not None:
            c.stamps[name] = stamp
    c.newsletter = _newest_statement(a.newsletter, b.newsletter)
    c.first_contact_at = min(_present(a.first_contact_at, b.first_contact_at), default=None)
    c.last_contact_at = max(_present(a.last_contact_at, b.last_contact_at), default=None)
    c.reservations = a.reservations + b.reservations
    c.completed = a.completed + b.completed
    c.no_shows = a.no_shows + b.no_shows
    c.cancellations = a.cancellations + b.cancellations
    c.forms = a.forms + b.forms
    c.removed_tags = a.removed_tags | b.removed_tags
    c.completion_marks = tuple(
        sorted((*a.completion_marks, *b.completion_marks))[: max(regular_threshold, 1)]
    )
    entries = [*a.tags.items(), *b.tags.items()]
    # The fold's regular rule (domain._count), evaluated on the joined completions.
    if c.completion_marks and c.completed >= regular_threshold:
        entries.append(("regular", TagState("auto", c.completion_marks[-1])))
    # Ranked once joined, so that which 9 tags are kept does not depend on merge order.
    for code, tag in sorted(_join_tags(entries).items(), key=_tag_rank):
        _add_tag(c, code, tag.origin, tag.added_at)  # a removed tag stays out; at most 9
    return c


def _age(c: Customer) -> tuple[bool, datetime, str]:
    first = c.first_contact_at
    return (first is None, first or _NEVER, str(c.id))


def _newest(name: str, a: Customer, b: Customer) -> tuple[str | None, Stamp | None]:
    """The value with the newer stamp; a side without a value never wins.

    Today's fold stamps neither the email nor a phone card's phone: such a value loses to any
    stamped one, and between two of them the larger wins, only so that the result is the same
    in any order (the fold should stamp them: see the report of issue 14).
    """
    sides = [(v, c.stamps.get(name)) for c in (a, b) if (v := getattr(c, name)) is not None]
    return max(sides, key=_by_stamp, default=(None, None))


def _by_stamp(side: tuple[str, Stamp | None]) -> tuple[bool, Stamp, str]:
    value, stamp = side
    return (stamp is not None, stamp or _UNSTAMPED, value)


def _newest_statement(
    a: ConsentStatement | None, b: ConsentStatement | None
) -> ConsentStatement | None:
    statements = [s for s in (a, b) if s is not None]
    return max(statements, key=lambda s: (s.stamp, s.opt_in, s.source), default=None)


def _present(*dates: datetime | None) -> list[datetime]:
    return [d for d in dates if d is not None]


def _join_tags(entries: list[tuple[str, TagState]]) -> dict[str, TagState]:
    """Each code's states joined by the fold's own rule (manual wins, the earliest date)."""
    cards: dict[str, Customer] = {}
    for code, tag in entries:
        if code not in cards:
            cards[code] = Customer(id=_SCRATCH, tenant_id="", identity_key="")
        _add_tag(cards[code], code, tag.origin, tag.added_at)
    return {code: card.tags[code] for code, card in cards.items()}


def _tag_rank(entry: tuple[str, TagState]) -> tuple[bool, datetime, str]:
    """Who gets the 9 places: manual before automatic, then the earliest, then by code."""
    code, tag = entry
    return (tag.origin != "manual", tag.added_at, code)
