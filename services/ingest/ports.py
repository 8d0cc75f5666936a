"""The ports ingest needs, as Protocols: the store, its outbox, and a way to run work on them.

``services.ingest.store.PostgresIngestStore`` implements ``IngestStore`` and ``Outbox`` on one
connection; ``tests.unit.fakes.InMemoryIngestStore`` is its in-memory twin, and both pass
``tests/integration/test_store_contract.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, TypeVar
from uuid import UUID

from schemas.alerts import FlaggedBookingAlert
from services.common.settings import DEFAULT_REGION
from services.domain.fold import (
    DEFAULT_REGULAR_THRESHOLD,
    ConsentStatement,
    Customer,
    HistoryEntry,
)

ClaimOutcome = Literal["applied", "suppressed"]
"""What the idempotency ledger records for a claimed event id."""

S_co = TypeVar("S_co", covariant=True)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TenantConfig:
    """Per-venue settings the fold needs."""

    region: str = DEFAULT_REGION
    regular_threshold: int = DEFAULT_REGULAR_THRESHOLD


@dataclass(frozen=True, slots=True)
class Changes:
    """Everything one batch writes, in one transaction."""

    customers: list[Customer]
    history: list[tuple[str, HistoryEntry]]
    consent: list[tuple[str, UUID, ConsentStatement]]
    alerts: list[FlaggedBookingAlert]


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """One message queued in the outbox by a committed batch, waiting to be produced."""

    id: int
    topic: str
    key: bytes | None
    value: bytes


class IngestStore(Protocol):
    """What ingest reads and writes; every call but ``tenants`` runs inside ``transaction``."""

    async def tenants(self, tenant_ids: Iterable[str]) -> dict[str, TenantConfig]:
        """Config of each tenant, creating unknown tenants with defaults."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """One atomic unit: all writes of a batch or none."""
        ...

    async def suppressions(self, keys: set[tuple[str, bytes]]) -> dict[tuple[str, bytes], datetime]:
        """Anonymisation time of each (tenant, identity hash) that is suppressed."""
        ...

    async def claim(self, events: list[tuple[str, UUID, ClaimOutcome]]) -> set[tuple[str, UUID]]:
        """Record event ids as processed; return those not processed before."""
        ...

    async def load(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Customer]:
        """The live customers with these (tenant, identity key), locked for update."""
        ...

    async def save(self, changes: Changes) -> None:
        """Upsert customers, append history and consent, queue alerts in the outbox.

        A second live customer with the same (tenant, identity key) raises an error that
        ``services.common.retry`` classes as transient: another writer won the race.
        """
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
