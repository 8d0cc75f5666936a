"""The site-event envelope and every event type (pydantic v2, discriminated on ``type``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    field_validator,
)

TENANT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"  # a tenant id: the one rule, used everywhere
MAX_EVENT_BYTES = 64 * 1024

Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
TenantId = Annotated[str, StringConstraints(pattern=TENANT_PATTERN)]


class _Model(BaseModel):
    """Base: unknown fields are ignored so producers can add fields without breaking us."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_max_length=8000)


NUL_MESSAGE = "Value error, NUL character (\\u0000) not allowed"


def nul_fields(model: BaseModel, prefix: str = "") -> list[str]:
    """The dotted paths of the string fields (or lists of strings) of ``model`` holding a NUL.

    PostgreSQL text cannot hold NUL: ingest refuses such an event, naming the field. Walking
    every string of every event costs too much, so ``decode`` calls this only when the raw JSON
    contains a ``\\u0000`` escape (the only way a JSON string can carry a NUL).
    """
    found: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, str):
            if "\x00" in value:
                found.append(prefix + name)
        elif isinstance(value, BaseModel):
            found.extend(nul_fields(value, f"{prefix}{name}."))
        elif isinstance(value, list) and any(isinstance(v, str) and "\x00" in v for v in value):
            found.append(prefix + name)
    return found


class Contact(_Model):
    """Who the event is about, as the producer wrote it (normalised later, per tenant)."""

    first_name: Name | None = None
    last_name: Name | None = None
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    phone: Annotated[str, StringConstraints(max_length=64)] | None = None
    language: Annotated[str, StringConstraints(max_length=35)] | None = None
    newsletter_opt_in: bool | None = None


class _Data(_Model):
    contact: Contact


class ReservationData(_Data):
    """Data of ``reservation.created`` and ``reservation.updated``."""

    reservation_id: Short
    starts_at: AwareDatetime
    party_size: Annotated[int, Field(ge=1, le=1000)]
    notes: Text | None = None


class CancellationData(_Data):
    """Data of ``reservation.cancelled``."""

    reservation_id: Short
    reason: Text | None = None


class ReservationRefData(_Data):
    """Data of ``reservation.no_show`` and ``reservation.completed``."""

    reservation_id: Short


class FormData(_Data):
    """Data of ``form.submitted``."""

    form_id: Short | None = None
    subject: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    message: Text | None = None


class IntegrationData(_Data):
    """Data of ``integration.contact``."""

    integration: Short
    external_id: Short | None = None
    note: Text | None = None


class ImportData(_Data):
    """Data of ``contact.imported`` (made by the import API only)."""

    import_id: Short
    row: Annotated[int, Field(ge=1)]
    tags: list[Annotated[str, StringConstraints(max_length=32)]] | None = Field(
        default=None, max_length=9
    )
    first_contact_at: AwareDatetime | None = None


class _Envelope(_Model):
    event_id: UUID
    schema_version: Literal[1] = 1
    tenant_id: TenantId
    occurred_at: AwareDatetime
    source: Short

    @field_validator("occurred_at", mode="after")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        if value.year < 2000:
            raise ValueError("occurred_at before 2000")
        return value


class ReservationEvent(_Envelope):
    """A reservation was made or changed."""

    type: Literal["reservation.created", "reservation.updated"]
    data: ReservationData


class CancellationEvent(_Envelope):
    """A reservation was cancelled."""

    type: Literal["reservation.cancelled"]
    data: CancellationData


class NoShowEvent(_Envelope):
    """The guest did not come."""

    type: Literal["reservation.no_show"]
    data: ReservationRefData


class CompletedEvent(_Envelope):
    """The guest came."""

    type: Literal["reservation.completed"]
    data: ReservationRefData


class FormEvent(_Envelope):
    """A contact form was submitted."""

    type: Literal["form.submitted"]
    data: FormData


class IntegrationEvent(_Envelope):
    """A connected tool (POS, newsletter tool) saw the guest."""

    type: Literal["integration.contact"]
    data: IntegrationData


class ImportEvent(_Envelope):
    """A row of an imported customer file."""

    type: Literal["contact.imported"]
    data: ImportData


SiteEvent = Annotated[
    ReservationEvent
    | CancellationEvent
    | NoShowEvent
    | CompletedEvent
    | FormEvent
    | IntegrationEvent
    | ImportEvent,
    Field(discriminator="type"),
]

EVENT_TYPES: frozenset[str] = frozenset(
    {
        "reservation.created",
        "reservation.updated",
        "reservation.cancelled",
        "reservation.no_show",
        "reservation.completed",
        "form.submitted",
        "integration.contact",
        "contact.imported",
    }
)

site_event_adapter: TypeAdapter[SiteEvent] = TypeAdapter(SiteEvent)
