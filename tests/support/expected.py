"""The reference result: the pure fold of a list of events, to compare the database against."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from schemas.events import SiteEvent
from services.domain.fold import Customer, apply, identify, new_customer
from services.domain.rows import from_row

NIL = uuid.UUID(int=0)


def fold_all(events: Iterable[SiteEvent], region: str = "BE") -> dict[tuple[str, str], Customer]:
    """Fold every distinct event into its customer, in the order given."""
    seen: set[tuple[str, uuid.UUID]] = set()
    customers: dict[tuple[str, str], Customer] = {}
    for event in events:
        if (event.tenant_id, event.event_id) in seen:
            continue
        seen.add((event.tenant_id, event.event_id))
        identity = identify(event.data.contact, region)
        if identity is None:
            continue
        key = (event.tenant_id, identity.key)
        current = customers.get(key) or new_customer(event.tenant_id, identity, NIL)
        customers[key] = apply(current, event, identity).customer
    return {k: dataclasses.replace(c, id=NIL) for k, c in customers.items()}


async def stored_customers(conn: asyncpg.Connection) -> dict[tuple[str, str], Customer]:
    """Every live customer in the database, as the fold's type, ids blanked."""
    rows = await conn.fetch("SELECT * FROM customers WHERE identity_key IS NOT NULL")
    return {
        (r["tenant_id"], r["identity_key"]): dataclasses.replace(from_row(r), id=NIL) for r in rows
    }


Landing = tuple[str, str, datetime, str]  # (identity key, type, occurred_at, source)
Statement = tuple[str, bool, datetime]  # (identity key, opt-in, occurred_at)
EventKey = tuple[str, uuid.UUID]  # (tenant, event id)


def history_of(events: Iterable[SiteEvent], region: str = "BE") -> dict[EventKey, Landing]:
    """Where each distinct, identifiable event lands: its customer's identity and what it says."""
    landed: dict[EventKey, Landing] = {}
    for event in events:
        identity = identify(event.data.contact, region)
        if identity is not None:
            landed.setdefault(
                (event.tenant_id, event.event_id),
                (identity.key, event.type, event.occurred_at, event.source),
            )
    return landed


async def stored_history(conn: asyncpg.Connection) -> dict[EventKey, Landing]:
    """Every history entry in the database, by (tenant, event id), with its customer's identity."""
    rows = await conn.fetch(
        "SELECT h.tenant_id, h.event_id, c.identity_key, h.type, h.occurred_at, h.source"
        " FROM history h JOIN customers c ON (c.tenant_id, c.id) = (h.tenant_id, h.customer_id)"
    )
    return {
        (r["tenant_id"], r["event_id"]): (
            r["identity_key"],
            r["type"],
            r["occurred_at"],
            r["source"],
        )
        for r in rows
    }


def consent_of(events: Iterable[SiteEvent], region: str = "BE") -> dict[EventKey, Statement]:
    """Every newsletter statement of the distinct, identifiable events: identity, value, time."""
    statements: dict[EventKey, Statement] = {}
    for event in events:
        identity = identify(event.data.contact, region)
        opt_in = event.data.contact.newsletter_opt_in
        if identity is not None and opt_in is not None:
            statements.setdefault(
                (event.tenant_id, event.event_id), (identity.key, opt_in, event.occurred_at)
            )
    return statements


async def stored_consent(conn: asyncpg.Connection) -> dict[EventKey, Statement]:
    """Every consent ledger entry in the database, with its customer's identity."""
    rows = await conn.fetch(
        "SELECT l.tenant_id, l.event_id, c.identity_key, l.opt_in, l.occurred_at"
        " FROM consent_ledger l"
        " JOIN customers c ON (c.tenant_id, c.id) = (l.tenant_id, l.customer_id)"
    )
    return {
        (r["tenant_id"], r["event_id"]): (r["identity_key"], r["opt_in"], r["occurred_at"])
        for r in rows
    }


def demo_stream(**options: Any) -> tuple[list[Any], list[SiteEvent], set[tuple[str, UUID]]]:
    """The demo's records (``services.demo.generate(**options)``), the valid events among them
    and the (tenant, event id) of each: what a run over them must apply exactly once."""
    from services import demo
    from services.ingest.decode import Rejection, decode

    records = demo.generate(**options)
    decoded = (decode(r.value) for r in records if r.valid)
    valid = [d for d in decoded if not isinstance(d, Rejection)]
    return records, valid, {(e.tenant_id, e.event_id) for e in valid}
