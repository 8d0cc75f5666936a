"""Raw Kafka bytes to a validated site event, or a rejection with a DLQ code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from pydantic import ValidationError

from schemas.events import (
    EVENT_TYPES,
    MAX_EVENT_BYTES,
    NUL_MESSAGE,
    SiteEvent,
    nul_fields,
    site_event_adapter,
)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an event goes to the dead-letter topic: a contract error code and a message."""

    code: str
    message: str


def decode(raw: bytes | None) -> SiteEvent | Rejection:
    """Decode and validate one record value; never raises."""
    doc = parse(raw)
    return doc if isinstance(doc, Rejection) else validate(doc, raw or b"")


def parse(raw: bytes | None) -> dict[str, Any] | Rejection:
    """The record's JSON object, if it is one of a known event type; never raises."""
    if raw is None:
        return Rejection("event.malformed", "empty record value")
    if len(raw) > MAX_EVENT_BYTES:
        return Rejection("event.too_large", f"{len(raw)} bytes > {MAX_EVENT_BYTES}")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # orjson rejects invalid UTF-8 as a decode error too.
        return Rejection("event.malformed", f"not UTF-8 JSON: {str(exc)[:200]}")
    if not isinstance(doc, dict):
        return Rejection("event.malformed", "not a JSON object")
    kind = doc.get("type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        shown = kind if isinstance(kind, str) else type(kind).__name__
        return Rejection("event.unknown_type", f"unknown type {shown[:80]!r}")
    return doc


def event_key(doc: dict[str, Any]) -> tuple[str, UUID] | None:
    """The (tenant, event id) a parsed event claims, before validation; None if unreadable."""
    tenant, event_id = doc.get("tenant_id"), doc.get("event_id")
    if not isinstance(tenant, str) or not isinstance(event_id, str):
        return None
    try:
        return tenant, UUID(event_id)
    except ValueError:
        return None


def validate(doc: dict[str, Any], raw: bytes) -> SiteEvent | Rejection:
    """The parsed event validated against its contract; never raises."""
    try:
        event = site_event_adapter.validate_python(doc)
    except ValidationError as exc:
        return Rejection("event.invalid", _describe(exc))
    except (ValueError, TypeError, RecursionError) as exc:  # pathological input
        return Rejection("event.invalid", type(exc).__name__)
    # PostgreSQL text cannot hold NUL. A JSON string can only carry one as the escape \u0000,
    # so the (rare) events whose raw bytes contain it get their strings checked, field by field.
    if b"\\u0000" in raw:
        paths = nul_fields(event)
        if paths:
            message = "; ".join(f"{p}: {NUL_MESSAGE}" for p in paths[:5])
            return Rejection("event.invalid", message[:1000])
    return event


def _describe(exc: ValidationError) -> str:
    """Name the failing fields without echoing their (possibly personal) values."""
    parts: list[str] = []
    for err in exc.errors(include_url=False, include_input=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"] if not _is_union_tag(p))
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)[:1000]


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and part in EVENT_TYPES
