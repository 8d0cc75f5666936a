"""The alert envelope published on ``contacts.alerts``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict


class FlaggedBookingData(BaseModel):
    """What staff need to act on a booking by a flagged customer (no personal data)."""

    model_config = ConfigDict(frozen=True)

    customer_id: UUID
    reservation_id: str
    starts_at: datetime | None = None
    party_size: int | None = None
    tags: list[str]
    no_show_count: int


class FlaggedBookingAlert(BaseModel):
    """``customer.flagged_booking``: a customer tagged no_show or problem booked again."""

    model_config = ConfigDict(frozen=True)

    alert_id: UUID
    type: Literal["customer.flagged_booking"] = "customer.flagged_booking"
    tenant_id: str
    occurred_at: datetime
    caused_by_event_id: UUID
    data: FlaggedBookingData


class MergeData(BaseModel):
    """Which card lives on and which one was merged into it (ids only, no personal data)."""

    model_config = ConfigDict(frozen=True)

    survivor_id: UUID
    absorbed_id: UUID
    merge_id: UUID
    reason: Literal["linked_by_event", "staff"]


class MergeAlert(BaseModel):
    """``customer.merged`` / ``customer.unmerged``: services that store customer ids follow it."""

    model_config = ConfigDict(frozen=True)

    alert_id: UUID
    type: Literal["customer.merged", "customer.unmerged"]
    tenant_id: str
    occurred_at: datetime
    caused_by_event_id: UUID | None = None
    data: MergeData


Alert = FlaggedBookingAlert | MergeAlert


def alert_message(alert: Alert) -> tuple[bytes, bytes]:
    """The (key, value) an alert is queued and produced with: keyed by tenant, JSON."""
    return alert.tenant_id.encode(), alert.model_dump_json().encode()
