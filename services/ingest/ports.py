"""The ports ingest needs, as Protocols: the store, its outbox, and a way to run work on them.

``services.ingest.store.PostgresIngestStore`` implements ``IngestStore`` and ``Outbox`` on one
connection; ``tests.unit.fakes.InMemoryIngestStore`` is its in-memory twin, and both pass
``tests/integration/test_store_contract.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, TypeVar
from uuid import UUID

from schemas.alerts import Alert
from services.common.settings import DEFAULT_REGION
from services.domain.fold import (
    DEFAULT_REGULAR_THRESHOLD,
    ConsentStatement,
    Customer,
    HistoryEntry,
)
from services.domain.merge import Merged

ClaimOutcome = Literal["applied", "suppressed"]
"""What the idempotency ledger records for a claimed event id."""

S_co = TypeVar("S_co", covariant=True)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TenantConfig:
    """Per-venue settings the fold needs."""

    region: str = DEFAULT_REGION
    regular_threshold: int = DEFAULT_REGULAR_THRESHOLD
    blocked: frozenset[str] = frozenset()  # the venue's own blocked identifiers (3a)


@dataclass(frozen=True, slots=True)
class Held:
    """A stored card that holds some of a batch's identifiers, with each of its identifiers
    and when it was tied."""

    customer: Customer
    identifiers: dict[str, datetime]
    apart: frozenset[UUID] = frozenset()  # cards staff said are another person


@dataclass(frozen=True, slots=True)
class Tie:
    """An identifier tied to a card (or tied earlier than the card knew)."""

    tenant_id: str
    value: str
    customer_id: UUID
    tied_at: datetime
    event_id: UUID


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Two cards that may be one person (a duplicate suggestion)."""

    tenant_id: str
    cards: tuple[UUID, UUID]
    reason: Literal["shared_phone", "shared_email", "same_name_and_phone"]


@dataclass(frozen=True, slots=True)
class Changes:
    """Everything one batch writes, in one transaction.

    Card ids are final: a card merged later in the batch is already replaced by its survivor.
    """

    customers: list[Customer]
    history: list[tuple[str, HistoryEntry]]
    consent: list[tuple[str, UUID, ConsentStatement]]
    alerts: list[Alert]
    ties: list[Tie] = field(default_factory=list)
    merges: list[Merged] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """One message queued in the outbox by a committed batch, waiting to be produced."""

    id: int
    topic: str
    key: bytes | None
    value: bytes


class IngestStore(Protocol):
    """What ingest reads and writes; every call but ``tenants`` and ``known`` runs inside
    ``transaction``."""

    async def tenants(self, tenant_ids: Iterable[str]) -> dict[str, TenantConfig]:
        """Config of each tenant, creating unknown tenants with defaults."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """One atomic unit: all writes of a batch or none."""
        ...

    async def suppressions(self, keys: set[tuple[str, bytes]]) -> dict[tuple[str, bytes], datetime]:
        """Anonymisation time of each (tenant, identity hash) that is suppressed."""
        ...

    async def known(self, events: list[tuple[str, UUID]]) -> set[tuple[str, UUID]]:
        """The event ids among these that were claimed before (claims are never taken back:
        outside a transaction the answer is still true)."""
        ...

    async def claim(self, events: list[tuple[str, UUID, ClaimOutcome]]) -> set[tuple[str, UUID]]:
        """Record event ids as processed; return those not processed before."""
        ...

    async def lock(self, tenant_ids: Iterable[str]) -> None:
        """Be the only writer of these venues until the transaction ends (the API's merges and
        undos take the same lock)."""
        ...

    async def holders(self, keys: set[tuple[str, str]]) -> list[Held]:
        """The cards holding these (tenant, identifier) pairs, locked for update: for each
        identifier its holders with the oldest ties, one more than the cap of 3a (so that the
        caller sees when it is passed), each with all its identifiers."""
        ...

    async def save(self, changes: Changes) -> None:
        """Upsert customers, record merges (moving the absorbed cards' history, consent and
        identifiers to their survivors, deleting the absorbed rows), tie identifiers, append
        history and consent, record duplicate suggestions, queue alerts in the outbox."""
        ...


class Outbox(Protocol):
    """The messages ``IngestStore.save`` queued, read and forgotten once produced."""

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """One atomic unit: what ``pending`` returned stays locked until it ends."""
        ...

    async def pending(self, limit: int) -> list[OutboxRecord]:
        """At most ``limit`` queued records, oldest first, that no other sender holds."""
        ...

    async def delete(self, ids: list[int]) -> None:
        """Forget records that were produced."""
        ...


class StoreRunner(Protocol[S_co]):
    """Runs work against a store, retrying transient errors in place (``session.DbSession``)."""

    async def run(self, work: Callable[[S_co], Awaitable[T]]) -> T:
        """The result of ``work``, once it ran without a transient error."""
        ...
