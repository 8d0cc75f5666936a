"""Migration 0012 on a database written by the code before identity (contract 3a): every card's
email and phone become its identifiers, and every history row gets the contact that explains
the card exactly, so that folding a card again from its history gives the same card."""

from __future__ import annotations

import dataclasses
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from schemas.normalize import normalize_email
from services import demo
from services.common.cards import save_cards
from services.common.db import MIGRATIONS_DIR, connect, migrate, with_database
from services.domain.fold import Customer, apply, identify, new_customer
from services.domain.merge import staff_tags
from services.domain.refold import event_of, refold
from services.domain.routing import is_junk
from services.domain.rows import from_row
from services.ingest.decode import Rejection, decode
from tests.support.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def old_db(stack: Stack, tmp_path: Path) -> AsyncIterator[str]:
    """A database migrated up to 0011, the schema before identity."""
    name = f"m_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(stack.admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    before = tmp_path / "migrations"
    before.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if int(path.name[:4]) < 12:
            shutil.copy(path, before / path.name)
    url = with_database(stack.admin_url, name)
    await migrate(url, before)
    yield url
    admin = await asyncpg.connect(stack.admin_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


def old_fold(events: list) -> tuple[list[Customer], list[tuple[uuid.UUID, object]]]:
    """What the code before 0012 stored: one card per identity key (email, else phone)."""
    cards: dict[tuple[str, str], Customer] = {}
    history = []
    for e in events:
        identity = identify(e.data.contact, "BE")
        if identity is None:
            continue
        key = (e.tenant_id, identity.key)
        current = cards.get(key) or new_customer(e.tenant_id, identity, uuid.uuid4())
        outcome = apply(current, e, identity)
        cards[key] = outcome.customer
        history.append((e, outcome))
    return list(cards.values()), history


async def test_existing_cards_get_identifiers_and_refold_to_themselves(old_db: str) -> None:
    records = demo.generate(seed=12, venues=2, guests_per_venue=40, events=600, phone_first=0.0)
    decoded = [decode(r.value) for r in records if r.valid]
    seen: set[tuple[str, uuid.UUID]] = set()
    events = []
    for d in decoded:
        # (a placeholder address made a card of its own before 3a; now it identifies nobody)
        if isinstance(d, Rejection) or is_junk(
            normalize_email(d.data.contact.email) or "x@example.be"
        ):
            continue
        if (d.tenant_id, d.event_id) not in seen:
            seen.add((d.tenant_id, d.event_id))
            events.append(d)
    cards, history = old_fold(events)
    conn = await connect(old_db)
    try:
        tenants = sorted({c.tenant_id for c in cards})
        await conn.executemany(
            "INSERT INTO tenants (tenant_id) VALUES ($1)", [(t,) for t in tenants]
        )
        await save_cards(conn, cards)
        await conn.executemany(
            "INSERT INTO history (tenant_id, event_id, customer_id, type, occurred_at, source,"
            " summary, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            [
                (
                    e.tenant_id,
                    o.history.event_id,
                    o.customer.id,
                    o.history.type,
                    o.history.occurred_at,
                    o.history.source,
                    o.history.summary,
                    o.history.data,
                )
                for e, o in history
            ],
        )
        await conn.executemany(
            "INSERT INTO consent_ledger (tenant_id, event_id, customer_id, opt_in, occurred_at,"
            " source) VALUES ($1, $2, $3, $4, $5, $6)",
            [
                (
                    e.tenant_id,
                    o.consent.event_id,
                    o.customer.id,
                    o.consent.opt_in,
                    o.consent.occurred_at,
                    o.consent.source,
                )
                for e, o in history
                if o.consent is not None
            ],
        )
    finally:
        await conn.close()

    assert (await migrate(old_db))[0] == "0012_identity.sql"

    conn = await connect(old_db)
    try:
        stored = [from_row(r) for r in await conn.fetch("SELECT * FROM customers")]
        assert len(stored) == len(cards)
        for card in stored:
            held = {
                r["value"]
                for r in await conn.fetch(
                    "SELECT value FROM identifiers WHERE tenant_id = $1 AND customer_id = $2",
                    card.tenant_id,
                    card.id,
                )
            }
            assert held == {v for v in (card.email, card.phone) if v}
            rows = await conn.fetch(
                "SELECT * FROM history WHERE tenant_id = $1 AND customer_id = $2",
                card.tenant_id,
                card.id,
            )
            again = refold(
                card.id,
                card.tenant_id,
                [event_of(r, card.tenant_id) for r in rows],
                staff_tags(card),
                region="BE",
            )
            assert dataclasses.replace(again, identity_key=card.identity_key) == card
    finally:
        await conn.close()


async def test_what_the_previous_version_writes_after_the_migration_is_caught_up(
    old_db: str,
) -> None:
    """Between the migration and the rollout the previous version still runs: its new cards
    have no identifiers and its history rows no contact. The next start of any service (it runs
    ``migrate``) catches them up."""
    assert (await migrate(old_db))[0] == "0012_identity.sql"
    (e,) = [
        d
        for d in (decode(r.value) for r in demo.generate(seed=3, venues=1, events=40))
        if not isinstance(d, Rejection) and d.data.contact.email
    ][:1]
    cards, history = old_fold([e])
    (card,) = cards
    ((_, outcome),) = history
    conn = await connect(old_db)
    try:
        await conn.execute("INSERT INTO tenants (tenant_id) VALUES ($1)", e.tenant_id)
        await save_cards(conn, cards)  # as the previous version does: no identifiers
        await conn.execute(
            "INSERT INTO history (tenant_id, event_id, customer_id, type, occurred_at, source,"
            " summary, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            e.tenant_id,
            e.event_id,
            card.id,
            e.type,
            e.occurred_at,
            e.source,
            outcome.history.summary,
            outcome.history.data,
        )

        assert await migrate(old_db) == []

        held = await conn.fetch("SELECT value FROM identifiers WHERE customer_id = $1", card.id)
        assert {r["value"] for r in held} == {v for v in (card.email, card.phone) if v}
        contact = await conn.fetchval("SELECT contact FROM history WHERE event_id = $1", e.event_id)
        assert contact["email"] == card.email
    finally:
        await conn.close()
