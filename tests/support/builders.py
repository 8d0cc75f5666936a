"""Event documents as producers send them, with sensible defaults."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

BASE = datetime(2026, 11, 1, 18, 0, tzinfo=timezone(timedelta(hours=1)))


def event(
    type_: str = "reservation.created",
    *,
    tenant: str = "brasserie-leopold",
    email: str | None = "an.peeters@example.be",
    phone: str | None = "0470 12 34 56",
    at: datetime | float = 0,
    event_id: uuid.UUID | str | None = None,
    source: str = "booking-widget",
    contact: dict[str, Any] | None = None,
    **data: Any,
) -> dict[str, Any]:
    """A valid event document; ``at`` is a datetime or minutes after BASE; ``contact`` entries
    override the default person (``None`` removes one)."""
    occurred = at if isinstance(at, datetime) else BASE + timedelta(minutes=at)
    person: dict[str, Any] = {"first_name": "An", "last_name": "Peeters", "language": "nl"}
    if email is not None:
        person["email"] = email
    if phone is not None:
        person["phone"] = phone
    for key, value in (contact or {}).items():
        if value is None:
            person.pop(key, None)
        else:
            person[key] = value
    body: dict[str, Any] = {"contact": person}
    if type_ in ("reservation.created", "reservation.updated"):
        body |= {
            "reservation_id": "R-1",
            "starts_at": (occurred + timedelta(days=3)).isoformat(),
            "party_size": 2,
        }
    elif type_.startswith("reservation."):
        body |= {"reservation_id": "R-1"}
    elif type_ == "integration.contact":
        body |= {"integration": "lightspeed-pos"}
    elif type_ == "contact.imported":
        body |= {"import_id": "imp-1", "row": 1}
    body |= data
    return {
        "event_id": str(event_id or uuid.uuid4()),
        "type": type_,
        "schema_version": 1,
        "tenant_id": tenant,
        "occurred_at": occurred.isoformat(),
        "source": source,
        "data": body,
    }
