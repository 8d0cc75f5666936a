"""The reference result of a list of events (routed and folded in memory), to compare the
database against."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Coroutine, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from schemas.events import SiteEvent
from services.domain.fold import Customer
from services.domain.rows import from_row
from services.ingest.handlers import process_batch
from tests.support.fakes import InMemoryIngestStore

NIL = uuid.UUID(int=0)
SECRET = "expected-secret"  # the reference erases nobody: suppression is never consulted

CardKey = tuple[str, str]  # (tenant, the card's identifiers sorted and joined by " ")
Landing = tuple[str, str, datetime, str]  # (card key, type, occurred_at, source)
Statement = tuple[str, bool, datetime]  # (card key, opt-in, occurred_at)
EventKey = tuple[str, uuid.UUID]  # (tenant, event id)


def _done(coro: Coroutine[Any, Any, Any]) -> Any:
    """The result of a coroutine that never waits (the in-memory store does no I/O)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("the reference store waited on something")  # pragma: no cover


def reference(events: Iterable[SiteEvent], region: str = "BE") -> InMemoryIngestStore:
    """The reference result: every event routed (3a) and folded in the order given, in the
    in-memory store, in one batch (the result does not depend on the batching: a property of
    tests/unit/test_identity_properties.py and test_fold_properties.py), no crash, no retry:
    what any batching, crash, replay or rebalance of the same per-venue order must give."""
    store = InMemoryIngestStore(default_region=region)
    _done(process_batch(store, list(events), secret=SECRET))
    return store


def _key(tenant_id: str, identifiers: Iterable[str]) -> CardKey:
    return (tenant_id, " ".join(sorted(identifiers)))


def fold_all(events: Iterable[SiteEvent], region: str = "BE") -> dict[CardKey, Customer]:
    """The reference cards, by their identifiers, ids blanked."""
    store = reference(events, region)
    return {
        _key(t, store.state.held(t, c.id)): dataclasses.replace(c, id=NIL)
        for (t, _), c in store.state.customers.items()
    }


async def _card_keys(conn: asyncpg.Connection) -> dict[tuple[str, UUID], CardKey]:
    rows = await conn.fetch(
        "SELECT tenant_id, customer_id, array_agg(value) AS ids FROM identifiers"
        " GROUP BY tenant_id, customer_id"
    )
    return {(r["tenant_id"], r["customer_id"]): _key(r["tenant_id"], r["ids"]) for r in rows}


async def stored_customers(conn: asyncpg.Connection) -> dict[CardKey, Customer]:
    """Every live card in the database, by its identifiers, as the fold's type, ids blanked."""
    keys = await _card_keys(conn)
    rows = await conn.fetch("SELECT * FROM customers WHERE anonymized_at IS NULL")
    return {
        keys.get((r["tenant_id"], r["id"]), (r["tenant_id"], "")): dataclasses.replace(
            from_row(r), id=NIL
        )
        for r in rows
    }


def _reference_keys(store: InMemoryIngestStore) -> dict[tuple[str, UUID], CardKey]:
    return {(t, c): _key(t, store.state.held(t, c)) for (t, c) in store.state.customers}


def history_of(events: Iterable[SiteEvent], region: str = "BE") -> dict[EventKey, Landing]:
    """Where each distinct, identifiable event lands: its card and what it says."""
    store = reference(events, region)
    keys = _reference_keys(store)
    return {
        (t, h.event_id): (keys[(t, h.customer_id)][1], h.type, h.occurred_at, h.source)
        for t, h in store.state.history
    }


async def stored_history(conn: asyncpg.Connection) -> dict[EventKey, Landing]:
    """Every history entry in the database, by (tenant, event id), with its card."""
    keys = await _card_keys(conn)
    rows = await conn.fetch(
        "SELECT tenant_id, event_id, customer_id, type, occurred_at, source FROM history"
    )
    return {
        (r["tenant_id"], r["event_id"]): (
            keys.get((r["tenant_id"], r["customer_id"]), ("", ""))[1],
            r["type"],
            r["occurred_at"],
            r["source"],
        )
        for r in rows
    }


def consent_of(events: Iterable[SiteEvent], region: str = "BE") -> dict[EventKey, Statement]:
    """Every newsletter statement of the distinct, identifiable events: card, value, time."""
    store = reference(events, region)
    keys = _reference_keys(store)
    return {
        (t, s.event_id): (keys[(t, c)][1], s.opt_in, s.occurred_at)
        for t, c, s in store.state.consent
    }


async def stored_consent(conn: asyncpg.Connection) -> dict[EventKey, Statement]:
    """Every consent ledger entry in the database, with its card."""
    keys = await _card_keys(conn)
    rows = await conn.fetch(
        "SELECT tenant_id, event_id, customer_id, opt_in, occurred_at FROM consent_ledger"
    )
    return {
        (r["tenant_id"], r["event_id"]): (
            keys.get((r["tenant_id"], r["customer_id"]), ("", ""))[1],
            r["opt_in"],
            r["occurred_at"],
        )
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
