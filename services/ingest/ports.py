"""The storage port the ingest handler needs, as a Protocol (Postgres and in-memory twins)."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol
from uuid import UUID

from schemas.alerts import FlaggedBookingAlert
from services.ingest.domain import ConsentStatement, Customer, HistoryEntry

Outcome = Literal["applied", "suppressed"]


@dataclass(frozen=True, slots=True)
class TenantConfig:
    """Per-venue settings the fold needs."""

    region: str = "BE"
    regular_threshold: int = 3


@dataclass(frozen=True, slots=True)
class Changes:
    """Everything one batch writes, in one transaction."""

    customers: list[Customer]
    history: list[tuple[str, HistoryEntry]]
    consent: list[tuple[str, UUID, ConsentStatement]]
    alerts: list[FlaggedBookingAlert]


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

    async def claim(self, events: list[tuple[str, UUID, Outcome]]) -> set[tuple[str, UUID]]:
        """Record event ids as processed; return those not processed before."""
        ...

    async def load(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Customer]:
        """The live customers with these (tenant, identity key), locked for update."""
        ...

    async def save(self, changes: Changes) -> None:
        """Upsert customers, append history and consent, queue alerts in the outbox."""
        ...
