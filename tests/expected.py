"""The reference result: the pure fold of a list of events, to compare the database against."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable

import asyncpg

from schemas.events import SiteEvent
from services.ingest.domain import Customer, apply, identify, new_customer
from services.ingest.store import _customer

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
        (r["tenant_id"], r["identity_key"]): dataclasses.replace(_customer(r), id=NIL)
        for r in rows
    }
