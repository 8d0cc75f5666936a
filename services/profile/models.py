"""Request and response bodies of the API (pydantic v2); the OpenAPI document is built from them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.tags import MAX_TAGS_PER_CUSTOMER, TAG_PATTERN

TagCode = str
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL


class Newsletter(BaseModel):
    """Current newsletter consent: the newest statement of the ledger."""

    opt_in: bool | None
    updated_at: datetime | None
    source: str | None


class Counters(BaseModel):
    """What the customer did, counted."""

    reservations: int
    completed: int
    no_shows: int
    cancellations: int
    forms: int


class CustomerTag(BaseModel):
    """A tag on a customer, labelled in the requested language."""

    code: str
    label: str
    origin: Literal["auto", "manual"]
    added_at: datetime | None


class _Person(BaseModel):
    """Who a customer is: the fields the list and the card both show first."""

    id: uuid.UUID
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    language: str | None


class CustomerSummary(_Person):
    """One row of the customer list."""

    newsletter: bool | None
    tags: list[str]
    flags: list[str]
    first_contact_at: datetime | None
    last_contact_at: datetime | None
    reservations: int
    no_shows: int


class CustomerPage(BaseModel):
    """A page of the customer list; ``total`` only when ``include_total=true``."""

    items: list[CustomerSummary]
    next_cursor: str | None
    total: int | None = None


class Identifier(BaseModel):
    """An email or phone that leads to the card (contract 3a), tied since ``since``."""

    kind: Literal["email", "phone"]
    value: str
    since: datetime


class MergedFrom(BaseModel):
    """A card merged into this one (its id answers 308 to this card)."""

    customer_id: uuid.UUID
    merge_id: uuid.UUID
    reason: Literal["linked_by_event", "staff"]
    at: datetime


class CustomerCard(_Person):
    """Everything staff see about one customer."""

    newsletter: Newsletter
    tags: list[CustomerTag]
    first_contact_at: datetime | None
    last_contact_at: datetime | None
    counters: Counters
    flags: list[str]
    anonymized: bool
    anonymized_at: datetime | None
    identifiers: list[Identifier] = []
    merged_from: list[MergedFrom] = []


class MergeRecord(BaseModel):
    """One merge: which card lives on, which was merged into it, why and when."""

    merge_id: uuid.UUID
    survivor_id: uuid.UUID
    absorbed_id: uuid.UUID
    reason: Literal["linked_by_event", "staff"]
    event_id: uuid.UUID | None
    merged_at: datetime
    undone_at: datetime | None


class MergePage(BaseModel):
    """Merge records, newest first."""

    items: list[MergeRecord]
    next_cursor: str | None


class MergeRequest(BaseModel):
    """Merge the card ``customer_id`` into the card of the path."""

    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID


class Unmerged(BaseModel):
    """An undone merge: the survivor and the card given back, in that order."""

    customers: list[uuid.UUID]


class DuplicatePair(BaseModel):
    """Two cards that may be one person."""

    customers: list[uuid.UUID]
    reason: Literal["shared_phone", "shared_email", "same_name_and_phone"]
    since: datetime


class DuplicatePage(BaseModel):
    """Open duplicate suggestions, newest first."""

    items: list[DuplicatePair]
    next_cursor: str | None


class DismissRequest(BaseModel):
    """Two cards that are not the same person."""

    model_config = ConfigDict(extra="forbid")

    customers: list[uuid.UUID] = Field(min_length=2, max_length=2)


class VenueSettings(BaseModel):
    """A venue's settings: phone region, regular threshold, identifiers that identify nobody."""

    model_config = ConfigDict(extra="forbid")

    region: str = Field(pattern=r"^[A-Z]{2}$", description="country of national phone numbers")
    regular_threshold: int = Field(ge=1, le=1000)
    blocked_identifiers: list[str] = Field(
        default=[],
        max_length=100,
        description="emails and phones that never identify a guest (the venue's own)",
    )


class HistoryEntry(BaseModel):
    """One event in a customer's history."""

    id: uuid.UUID
    type: str
    occurred_at: datetime
    source: str
    summary: str


class HistoryEntryFull(HistoryEntry):
    """One history entry with the event's data (without the contact block)."""

    data: dict[str, Any]


class HistoryPage(BaseModel):
    """A page of history, newest first."""

    items: list[HistoryEntry]
    next_cursor: str | None


class Lookup(BaseModel):
    """What the booking widget needs to know about a guest."""

    id: uuid.UUID
    tags: list[str]
    flags: list[str]
    counters: Counters


class TagsUpdate(BaseModel):
    """The full desired set of a customer's tags."""

    model_config = ConfigDict(extra="forbid")

    tags: list[TagCode] = Field(examples=[["vip", "regular"]])


class Labels(BaseModel):
    """A tag's label in each language."""

    model_config = ConfigDict(extra="forbid")

    nl: str = Field(min_length=1, max_length=60, pattern=NO_NUL)
    fr: str = Field(min_length=1, max_length=60, pattern=NO_NUL)
    en: str = Field(min_length=1, max_length=60, pattern=NO_NUL)


class TagCreate(BaseModel):
    """A custom tag for one tenant."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=TAG_PATTERN, examples=["wine_club"])
    labels: Labels


class Tag(BaseModel):
    """A tag of the tenant's vocabulary."""

    code: str
    label: str
    labels: Labels
    builtin: bool


class TagList(BaseModel):
    """The tenant's vocabulary: built-in tags, then custom ones."""

    items: list[Tag]
    max_per_customer: int = MAX_TAGS_PER_CUSTOMER


class Anonymized(BaseModel):
    """The outcome of an erasure."""

    id: uuid.UUID
    anonymized: bool
    anonymized_at: datetime


class ConsentStatement(BaseModel):
    """One statement of the newsletter consent ledger."""

    event_id: uuid.UUID
    opt_in: bool
    occurred_at: datetime
    source: str
    recorded_at: datetime


class TagState(BaseModel):
    """The raw tag state held for a customer."""

    tags: list[str]
    tag_meta: dict[str, Any]
    removed_tags: list[str]


class DataExport(BaseModel):
    """GDPR access: everything held about one person."""

    exported_at: datetime
    tenant_id: str
    customer: CustomerCard
    history: list[HistoryEntryFull]
    consent: list[ConsentStatement]
    tags: TagState


class Status(BaseModel):
    """A liveness / readiness answer."""

    status: str
    checks: dict[str, str] | None = None


class Venue(BaseModel):
    """A venue and how many customers it has (anonymised ones not counted)."""

    tenant_id: str
    customers: int
    created_at: datetime


class VenuePage(BaseModel):
    """Venues in id order."""

    items: list[Venue]
    next_cursor: str | None
