"""Test doubles for the ingest unit tests: an in-memory ``IngestStore`` and an event factory.

``InMemoryIngestStore`` is a faithful twin of ``services.ingest.store.PostgresIngestStore``
as far as ``services.ingest.ports.IngestStore`` and ``Outbox`` promise; both pass
``tests/integration/test_store_contract.py``:

- ``tenants`` creates unknown tenants with defaults (outside any transaction, like the real one);
- every other call must run inside ``transaction()``; a transaction snapshots the whole state
  on enter (``copy.deepcopy``) and restores it when the block raises;
- ``claim`` is the idempotency ledger keyed by (tenant, event id);
- ``load`` returns copies of the *live* customers (anonymised ones have no identity any more);
- ``save`` upserts customers by id, enforces the unique (tenant, identity_key) index and the
  history / consent primary keys and foreign keys (raising ``UniqueViolation`` or
  ``ForeignKeyViolation``, which the retry policy classes as PostgreSQL's own), appends history
  and consent and queues alerts in the outbox;
- ``pending`` and ``delete`` read and empty the outbox (``state.alerts`` decodes what waits).

It also offers what the profile service would do around ingest (``record_suppression``,
``anonymize``) and a fault hook (``fail_next_save``) to prove rollbacks.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from schemas.alerts import FlaggedBookingAlert, MergeAlert
from schemas.events import SiteEvent, site_event_adapter
from services.common.crypto import keyed_hash
from services.domain.fold import ConsentStatement, Customer, HistoryEntry
from services.domain.merge import Merged
from services.domain.routing import MAX_CARDS_PER_IDENTIFIER
from services.ingest.outbox import alert_message
from services.ingest.ports import Changes, ClaimOutcome, Held, OutboxRecord, TenantConfig
from tests.support.builders import BASE, event


class IntegrityError(Exception):
    """What PostgreSQL would raise for a broken unique, primary or foreign key."""


class UniqueViolation(IntegrityError, asyncpg.UniqueViolationError):
    """A broken unique index or primary key: transient for the retry policy, as in PostgreSQL."""


class ForeignKeyViolation(IntegrityError, asyncpg.ForeignKeyViolationError):
    """A row that refers to a missing tenant or customer: permanent, as in PostgreSQL."""


class NotInTransactionError(RuntimeError):
    """A transactional call was made outside ``transaction()``."""


@dataclasses.dataclass
class _State:
    customers: dict[tuple[str, UUID], Customer] = dataclasses.field(default_factory=dict)
    # (tenant, identifier) -> {card: tied_at}
    identifiers: dict[tuple[str, str], dict[UUID, datetime]] = dataclasses.field(
        default_factory=dict
    )
    merges: list[Merged] = dataclasses.field(default_factory=list)
    moves: set[tuple[str, UUID, UUID]] = dataclasses.field(default_factory=set)
    suggestions: set[tuple[str, UUID, UUID, str]] = dataclasses.field(default_factory=set)
    anonymized: dict[tuple[str, UUID], datetime] = dataclasses.field(default_factory=dict)
    history: list[tuple[str, HistoryEntry]] = dataclasses.field(default_factory=list)
    consent: list[tuple[str, UUID, ConsentStatement]] = dataclasses.field(default_factory=list)
    outbox: dict[int, OutboxRecord] = dataclasses.field(default_factory=dict)
    processed: dict[tuple[str, UUID], ClaimOutcome] = dataclasses.field(default_factory=dict)
    suppressions: dict[tuple[str, bytes], datetime] = dataclasses.field(default_factory=dict)

    @property
    def alerts(self) -> list[FlaggedBookingAlert]:
        """The flagged-booking alerts waiting in the outbox, oldest first."""
        return [
            FlaggedBookingAlert.model_validate_json(r.value)
            for r in self.outbox.values()
            if b'"customer.flagged_booking"' in r.value
        ]

    @property
    def merge_alerts(self) -> list[MergeAlert]:
        """The merge alerts waiting in the outbox, oldest first."""
        return [
            MergeAlert.model_validate_json(r.value)
            for r in self.outbox.values()
            if b'"customer.flagged_booking"' not in r.value
        ]

    def held(self, tenant_id: str, card: UUID) -> dict[str, datetime]:
        """The identifiers a card holds, with their tie times."""
        return {
            value: cards[card]
            for (t, value), cards in self.identifiers.items()
            if t == tenant_id and card in cards
        }


class InMemoryIngestStore:
    """The in-memory twin of the ingest store (see the module docstring)."""

    def __init__(
        self,
        configs: dict[str, TenantConfig] | None = None,
        *,
        default_region: str = "BE",
        alerts_topic: str = "contacts.alerts",
    ) -> None:
        self.configs: dict[str, TenantConfig] = dict(configs or {})
        self.default_region = default_region
        self.alerts_topic = alerts_topic
        self._outbox_ids = itertools.count(1)  # a sequence: a rollback does not take ids back
        self.state = _State()
        self.commits = 0
        self.rollbacks = 0
        self._in_transaction = False
        self._save_error: BaseException | None = None

    # -- the IngestStore protocol -------------------------------------------------------------

    async def tenants(self, tenant_ids: Iterable[str]) -> dict[str, TenantConfig]:
        """Config of each tenant, creating unknown tenants with defaults."""
        result = {}
        for tenant_id in set(tenant_ids):
            if tenant_id not in self.configs:
                self.configs[tenant_id] = TenantConfig(region=self.default_region)
            result[tenant_id] = self.configs[tenant_id]
        return result

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """One atomic unit: all writes of a batch or none (state restored on an exception)."""
        if self._in_transaction:
            raise RuntimeError("nested transactions are not used by ingest")
        snapshot = copy.deepcopy(self.state)
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self.state = snapshot
            self.rollbacks += 1
            raise
        else:
            self.commits += 1
        finally:
            self._in_transaction = False

    async def suppressions(self, keys: set[tuple[str, bytes]]) -> dict[tuple[str, bytes], datetime]:
        """Anonymisation time of each (tenant, identity hash) that is suppressed."""
        self._require_transaction()
        return {k: self.state.suppressions[k] for k in keys if k in self.state.suppressions}

    async def known(self, events: list[tuple[str, UUID]]) -> set[tuple[str, UUID]]:
        """The event ids among these that were claimed before."""
        return {key for key in events if key in self.state.processed}

    async def claim(self, events: list[tuple[str, UUID, ClaimOutcome]]) -> set[tuple[str, UUID]]:
        """Record event ids as processed; return those not processed before."""
        self._require_transaction()
        fresh: set[tuple[str, UUID]] = set()
        for tenant_id, event_id, outcome in events:
            key = (tenant_id, event_id)
            if key not in self.state.processed:  # ON CONFLICT DO NOTHING
                self.state.processed[key] = outcome
                fresh.add(key)
        return fresh

    async def lock(self, tenant_ids: Iterable[str]) -> None:
        """One writer only: nothing to do in memory, but it belongs in a transaction."""
        self._require_transaction()

    async def holders(self, keys: set[tuple[str, str]]) -> list[Held]:
        """Copies of the cards holding these identifiers (the oldest ties, cap + 1 of them)."""
        self._require_transaction()
        found: set[tuple[str, UUID]] = set()
        for tenant_id, value in keys:
            cards = self.state.identifiers.get((tenant_id, value), {})
            oldest = sorted(cards.items(), key=lambda c: (c[1], c[0]))
            found.update((tenant_id, c) for c, _ in oldest[: MAX_CARDS_PER_IDENTIFIER + 1])
        return [
            Held(copy.deepcopy(self.state.customers[key]), self.state.held(*key))
            for key in sorted(found)
            if key not in self.state.anonymized
        ]

    async def save(self, changes: Changes) -> None:
        """Upsert customers, append history and consent, queue alerts."""
        self._require_transaction()
        s = self.state
        for customer in changes.customers:
            if customer.tenant_id not in self.configs:
                raise ForeignKeyViolation(f"customer of an unknown tenant {customer.tenant_id}")
            s.customers[(customer.tenant_id, customer.id)] = copy.deepcopy(customer)
        if self._save_error is not None:
            # Fail half-way, after some rows are written, as a dropped connection would.
            error, self._save_error = self._save_error, None
            raise error
        self._merge(changes)
        for t in changes.ties:
            if (t.tenant_id, t.customer_id) not in s.customers:
                raise ForeignKeyViolation("an identifier of an unknown customer")
            cards = s.identifiers.setdefault((t.tenant_id, t.value), {})
            cards[t.customer_id] = min(t.tied_at, cards.get(t.customer_id, t.tied_at))
        for sug in changes.suggestions:
            s.suggestions.add((sug.tenant_id, *sug.cards, sug.reason))
        known = {(t, h.event_id) for t, h in s.history}
        for tenant_id, entry in changes.history:
            if (tenant_id, entry.event_id) in known:
                raise UniqueViolation(f"duplicate history ({tenant_id}, {entry.event_id})")
            if (tenant_id, entry.customer_id) not in s.customers:
                raise ForeignKeyViolation("history for an unknown customer")
            known.add((tenant_id, entry.event_id))
            s.history.append((tenant_id, entry))
        ledger = {(t, st.event_id) for t, _, st in s.consent}
        for tenant_id, customer_id, statement in changes.consent:
            if (tenant_id, statement.event_id) in ledger:
                raise UniqueViolation(f"duplicate consent ({tenant_id}, {statement.event_id})")
            if (tenant_id, customer_id) not in s.customers:
                raise ForeignKeyViolation("consent for an unknown customer")
            ledger.add((tenant_id, statement.event_id))
            s.consent.append((tenant_id, customer_id, statement))
        for alert in changes.alerts:
            key, value = alert_message(alert)
            record = OutboxRecord(next(self._outbox_ids), self.alerts_topic, key, value)
            s.outbox[record.id] = record

    def _merge(self, changes: Changes) -> None:
        """Record merges and move the absorbed cards' rows and identifiers (cards.record_merges)."""
        s = self.state
        into = {(m.tenant_id, m.absorbed_id): m.survivor_id for m in changes.merges}

        def final(tenant_id: str, card: UUID) -> UUID:
            while (tenant_id, card) in into:
                card = into[(tenant_id, card)]
            return card

        for m in changes.merges:
            s.merges.append(m)
            moved = set(m.moved_cards)
            s.moves.update(
                (m.tenant_id, m.id, h.event_id)
                for t, h in s.history
                if t == m.tenant_id and h.customer_id in moved
            )
            s.moves.update((m.tenant_id, m.id, e) for e in m.moved_events)
        if not into:
            return
        s.history = [
            (t, dataclasses.replace(h, customer_id=final(t, h.customer_id))) for t, h in s.history
        ]
        s.consent = [(t, final(t, c), st) for t, c, st in s.consent]
        for (t, _), cards in s.identifiers.items():
            for card in [c for c in cards if (t, c) in into]:
                at = cards.pop(card)
                to = final(t, card)
                cards[to] = min(at, cards.get(to, at))
        for key in into:
            s.customers.pop(key, None)

    # -- the Outbox protocol ------------------------------------------------------------------

    async def pending(self, limit: int) -> list[OutboxRecord]:
        """At most ``limit`` queued records, oldest first."""
        self._require_transaction()
        return sorted(self.state.outbox.values(), key=lambda r: r.id)[:limit]

    async def delete(self, ids: list[int]) -> None:
        """Forget records that were produced."""
        self._require_transaction()
        for record_id in ids:
            self.state.outbox.pop(record_id, None)

    # -- around ingest: what the profile service and the tests do -----------------------------

    def fail_next_save(self, error: BaseException) -> None:
        """Make the next ``save`` write the customers and then raise ``error``."""
        self._save_error = error

    def record_suppression(self, tenant_id: str, key_hash: bytes, at: datetime) -> None:
        """Record that the identity behind ``key_hash`` was anonymised at ``at``."""
        self.state.suppressions[(tenant_id, key_hash)] = at

    def anonymize(self, tenant_id: str, customer_id: UUID, at: datetime, *, secret: str) -> None:
        """Erase a customer as the GDPR route would: free the identity, record suppressions."""
        customer = self.state.customers[(tenant_id, customer_id)]
        held = set(self.state.held(tenant_id, customer_id))
        for value in held | {v for v in (customer.email, customer.phone) if v is not None}:
            self.record_suppression(tenant_id, keyed_hash(secret, value), at)
        for cards in self.state.identifiers.values():
            cards.pop(customer_id, None)
        self.state.customers[(tenant_id, customer_id)] = dataclasses.replace(
            customer, email=None, phone=None, first_name=None, last_name=None, stamps={}
        )
        self.state.anonymized[(tenant_id, customer_id)] = at

    # -- read helpers for assertions ----------------------------------------------------------

    def customer(self, tenant_id: str, identity_key: str) -> Customer | None:
        """The live card an identifier (``email:<e>`` / ``phone:<p>``, or the bare value) leads
        to by the routing rules (the oldest tie), or None."""
        value = identity_key.partition(":")[2] or identity_key
        cards = self.state.identifiers.get((tenant_id, value), {})
        if not cards:
            return None
        card = min(cards.items(), key=lambda c: (c[1], c[0]))[0]
        return self.state.customers[(tenant_id, card)]

    def customers_of(self, tenant_id: str) -> list[Customer]:
        """Every stored customer of a tenant, live or anonymised."""
        return [c for (t, _), c in self.state.customers.items() if t == tenant_id]

    def history_of(self, tenant_id: str, customer_id: UUID) -> list[HistoryEntry]:
        """A customer's history entries in insertion order."""
        return [h for t, h in self.state.history if t == tenant_id and h.customer_id == customer_id]

    def _require_transaction(self) -> None:
        if not self._in_transaction:
            raise NotInTransactionError("IngestStore calls other than tenants() need a transaction")


# -- event factory ------------------------------------------------------------------------------

DEFAULT_CONTACT: dict[str, Any] = {
    "first_name": "An",
    "last_name": "Peeters",
    "email": "An.Peeters@Example.be",
    "phone": "0470 12 34 56",
    "language": "nl",
}


def minutes(n: float) -> datetime:
    """``BASE`` plus ``n`` minutes."""
    return BASE + timedelta(minutes=n)


def event_doc(
    type_: str = "reservation.created", *, contact: dict[str, Any] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """A valid event document (``builders.event``) about DEFAULT_CONTACT; ``contact`` entries
    override (``None`` removes) the defaults."""
    person = {**DEFAULT_CONTACT, **(contact or {})}
    email, phone = person.pop("email"), person.pop("phone")
    return event(type_, email=email, phone=phone, contact=person, **kwargs)


def make_event(type_: str = "reservation.created", **kwargs: Any) -> SiteEvent:
    """A validated site event built by ``event_doc``."""
    return site_event_adapter.validate_python(event_doc(type_, **kwargs))
