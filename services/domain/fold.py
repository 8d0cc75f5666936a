"""The pure fold: current customer + site event -> new customer, history entry and alerts.

No I/O here. Every guarantee of contract section 3 that concerns one customer lives in
``apply``; identity lives in ``identify``. The fold is order-independent for a customer:
fields are last-writer-wins by ``(occurred_at, event_id)``, counters add, contact dates are
min / max, the consent ledger keeps every statement and the newest is current.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast

from schemas.alerts import FlaggedBookingAlert, FlaggedBookingData
from schemas.events import (
    CancellationEvent,
    CompletedEvent,
    Contact,
    FormEvent,
    ImportEvent,
    IntegrationEvent,
    NoShowEvent,
    ReservationEvent,
    SiteEvent,
)
from schemas.normalize import normalize_email, normalize_language, normalize_phone, split_name
from schemas.tags import FLAGGING_TAGS, MAX_TAGS_PER_CUSTOMER

ALERT_NAMESPACE = uuid.UUID("0c9a1d5e-3f0b-4b8e-9a57-6d2f1c3e8b40")
DEFAULT_REGULAR_THRESHOLD = 3
LWW_FIELDS = ("email", "first_name", "last_name", "phone", "language")
Stamp = tuple[datetime, str]
Origin = Literal["auto", "manual"]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who an event is about: the identity key and the normalised email and phone."""

    key: str
    email: str | None
    phone: str | None

    @property
    def identifiers(self) -> tuple[str, ...]:
        """The email and phone it has, email first."""
        if self.email is None:
            return () if self.phone is None else (self.phone,)
        return (self.email,) if self.phone is None else (self.email, self.phone)


@dataclass(frozen=True, slots=True)
class ConsentStatement:
    """One newsletter statement of the consent ledger."""

    opt_in: bool
    occurred_at: datetime
    source: str
    event_id: uuid.UUID

    @property
    def stamp(self) -> Stamp:
        """The ordering key: newest statement wins, event id breaks ties."""
        return (self.occurred_at, str(self.event_id))


@dataclass(frozen=True, slots=True)
class TagState:
    """One tag on a customer: where it came from and since when."""

    origin: Origin
    added_at: datetime


@dataclass(slots=True)
class Customer:
    """The customer profile as the fold sees it."""

    id: uuid.UUID
    tenant_id: str
    identity_key: str
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    language: str | None = None
    stamps: dict[str, Stamp] = field(default_factory=dict)
    newsletter: ConsentStatement | None = None
    first_contact_at: datetime | None = None
    last_contact_at: datetime | None = None
    reservations: int = 0
    completed: int = 0
    no_shows: int = 0
    cancellations: int = 0
    forms: int = 0
    tags: dict[str, TagState] = field(default_factory=dict)
    removed_tags: frozenset[str] = frozenset()
    # The earliest completion times, at most `regular_threshold` of them: the last one is the
    # date the guest became a regular, whatever order the completions arrive in.
    completion_marks: tuple[datetime, ...] = ()


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """What one event adds to the customer's history."""

    event_id: uuid.UUID
    customer_id: uuid.UUID
    type: str
    occurred_at: datetime
    source: str
    summary: str
    data: dict[str, Any]
    contact: dict[str, Any] = field(default_factory=dict)  # as sent: what a refold needs


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of folding one event into one customer."""

    customer: Customer
    history: HistoryEntry
    consent: ConsentStatement | None
    alerts: tuple[FlaggedBookingAlert, ...]


def identify(contact: Contact, region: str) -> Identity | None:
    """Identity by normalised email first, else E.164 phone; None when neither is usable."""
    email = normalize_email(contact.email)
    phone = normalize_phone(contact.phone, region)
    if email is not None:
        return Identity(f"email:{email}", email, phone)
    if phone is not None:
        return Identity(f"phone:{phone}", None, phone)
    return None


def new_customer(tenant_id: str, identity: Identity, customer_id: uuid.UUID) -> Customer:
    """An empty profile for a first-seen identity."""
    return Customer(
        id=customer_id,
        tenant_id=tenant_id,
        identity_key=identity.key,
        email=identity.email,
        phone=identity.phone if identity.email is None else None,
    )


def apply(
    customer: Customer,
    event: SiteEvent,
    identity: Identity,
    *,
    regular_threshold: int = DEFAULT_REGULAR_THRESHOLD,
) -> Outcome:
    """Fold one event into a customer; the input customer is left untouched."""
    before_tags = frozenset(customer.tags)
    c = _copy(customer)
    stamp: Stamp = (event.occurred_at, str(event.event_id))
    _merge_fields(c, _field_values(event.data.contact, identity), stamp)
    _touch(c, _contact_time(event))
    consent = _consent(event)
    if consent is not None and (c.newsletter is None or consent.stamp > c.newsletter.stamp):
        c.newsletter = consent
    _count(c, event, regular_threshold)
    alerts = _alerts(c, event, before_tags)
    return Outcome(c, _history(c, event), consent, alerts)


def _copier() -> Callable[[Customer], Customer]:
    """``_copy``: a copy to fold into, the mutable dicts copied, the rest (immutable) shared.

    Generated from Customer's fields (the one declaration of them), as dataclasses generates
    its own methods: much cheaper per call than ``dataclasses.replace``, which inspects the
    fields every time."""
    mutable = {"stamps", "tags"}
    args = ", ".join(
        f"dict(c.{f.name})" if f.name in mutable else f"c.{f.name}"
        for f in dataclasses.fields(Customer)
    )
    namespace: dict[str, Any] = {"Customer": Customer}
    exec(f"def _copy(c):\n    return Customer({args})", namespace)  # noqa: S102 - fixed text
    return cast(Callable[[Customer], Customer], namespace["_copy"])


_copy = _copier()


def _field_values(contact: Contact, identity: Identity) -> dict[str, str | None]:
    first, last = contact.first_name or None, contact.last_name or None
    if first is None and last is None and contact.name:
        first, last = split_name(contact.name)
    return {
        "email": identity.email,
        "first_name": first,
        "last_name": last,
        "phone": identity.phone,
        "language": normalize_language(contact.language),
    }


def _merge_fields(c: Customer, values: dict[str, str | None], stamp: Stamp) -> None:
    for name in LWW_FIELDS:
        value = values[name]
        if value is None:
            continue  # an absent value never clears a field
        current = c.stamps.get(name)
        if current is None or stamp > current:
            setattr(c, name, value)
            c.stamps[name] = stamp


def _contact_time(event: SiteEvent) -> datetime:
    if isinstance(event, ImportEvent) and event.data.first_contact_at is not None:
        return event.data.first_contact_at
    return event.occurred_at


def _touch(c: Customer, at: datetime) -> None:
    c.first_contact_at = at if c.first_contact_at is None else min(c.first_contact_at, at)
    c.last_contact_at = at if c.last_contact_at is None else max(c.last_contact_at, at)


def _consent(event: SiteEvent) -> ConsentStatement | None:
    opt_in = event.data.contact.newsletter_opt_in
    if opt_in is None:
        return None
    return ConsentStatement(opt_in, event.occurred_at, event.source, event.event_id)


def _count(c: Customer, event: SiteEvent, regular_threshold: int) -> None:
    if isinstance(event, ReservationEvent):
        if event.type == "reservation.created":
            c.reservations += 1
    elif isinstance(event, CancellationEvent):
        c.cancellations += 1
    elif isinstance(event, NoShowEvent):
        c.no_shows += 1
        _add_tag(c, "no_show", "auto", event.occurred_at)
    elif isinstance(event, CompletedEvent):
        c.completed += 1
        marks = sorted((*c.completion_marks, event.occurred_at))[: max(regular_threshold, 1)]
        c.completion_marks = tuple(marks)
        if c.completed >= regular_threshold:
            _add_tag(c, "regular", "auto", marks[-1])
    elif isinstance(event, FormEvent):
        c.forms += 1
    elif isinstance(event, ImportEvent):
        for code in event.data.tags or ():
            _add_tag(c, code, "manual", _contact_time(event))


def _add_tag(c: Customer, code: str, origin: Origin, at: datetime) -> None:
    """Add a tag, keep the earliest date; a tag staff removed is never re-added by the system.

    A tag both stated by people (an import) and derived by the system is manual, whatever
    arrived first: the result must not depend on arrival order.
    """
    if code in c.removed_tags:
        return
    current = c.tags.get(code)
    if current is not None:
        merged = TagState(
            "manual" if "manual" in (origin, current.origin) else "auto",
            min(at, current.added_at),
        )
        if merged != current:
            c.tags[code] = merged
        return
    if len(c.tags) >= MAX_TAGS_PER_CUSTOMER:
        return
    c.tags[code] = TagState(origin, at)


def _alerts(
    c: Customer, event: SiteEvent, before_tags: frozenset[str]
) -> tuple[FlaggedBookingAlert, ...]:
    if not (isinstance(event, ReservationEvent) and event.type == "reservation.created"):
        return ()
    flagged = before_tags & FLAGGING_TAGS
    if not flagged:
        return ()
    data = FlaggedBookingData(
        customer_id=c.id,
        reservation_id=event.data.reservation_id,
        starts_at=event.data.starts_at,
        party_size=event.data.party_size,
        tags=sorted(before_tags),
        no_show_count=c.no_shows,
    )
    alert = FlaggedBookingAlert(
        alert_id=uuid.uuid5(ALERT_NAMESPACE, f"{event.tenant_id}:{event.event_id}"),
        tenant_id=event.tenant_id,
        occurred_at=event.occurred_at,
        caused_by_event_id=event.event_id,
        data=data,
    )
    return (alert,)


def _history(c: Customer, event: SiteEvent) -> HistoryEntry:
    data = event.data.model_dump(mode="json", exclude={"contact"})
    return HistoryEntry(
        event_id=event.event_id,
        customer_id=c.id,
        type=event.type,
        occurred_at=event.occurred_at,
        source=event.source,
        summary=summarize(event),
        data=data,
        contact=event.data.contact.model_dump(mode="json", exclude_none=True),
    )


def summarize(event: SiteEvent) -> str:
    """A one-line summary for the history list; never contains free text or personal data."""
    if isinstance(event, ReservationEvent):
        verb = "Reservation" if event.type == "reservation.created" else "Reservation changed"
        when = event.data.starts_at.strftime("%Y-%m-%d %H:%M")
        return f"{verb} {event.data.reservation_id}: {event.data.party_size} on {when}"
    if isinstance(event, CancellationEvent):
        return f"Reservation {event.data.reservation_id} cancelled"
    if isinstance(event, NoShowEvent):
        return f"No-show for reservation {event.data.reservation_id}"
    if isinstance(event, CompletedEvent):
        return f"Visited (reservation {event.data.reservation_id})"
    if isinstance(event, FormEvent):
        return f"Form {event.data.form_id or 'contact'} submitted"
    if isinstance(event, IntegrationEvent):
        return f"Seen in {event.data.integration}"
    return f"Imported (import {event.data.import_id}, row {event.data.row})"
