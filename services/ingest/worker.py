"""The ingest worker: a database session, the batch handler, the DLQ and the outbox, wired."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from uuid import UUID

from schemas.events import SiteEvent
from services.common.kafka import Topics
from services.ingest.batch import BatchHandler
from services.ingest.dlq import DeadLetterWriter
from services.ingest.handlers import BatchReport, process_batch
from services.ingest.outbox import Relay
from services.ingest.poison import apply_events
from services.ingest.ports import IngestStore
from services.ingest.records import Headers, Produce, Record
from services.ingest.session import DbSession
from services.ingest.store import PostgresIngestStore

__all__ = ["Headers", "IngestWorker", "Produce", "Record"]


class IngestWorker:
    """Applies batches to PostgreSQL; waits out database outages instead of skipping events."""

    def __init__(self, dsn: str, topics: Topics, produce: Produce, *, secret: str, region: str):
        self._secret = secret
        self._session = DbSession(dsn, lambda conn: PostgresIngestStore(conn, topics, region))

        async def send(topic: str, key: bytes | None, value: bytes) -> None:
            await produce(topic, key, value, None)

        self._batch = BatchHandler(
            apply=partial(apply_events, self._session, self._process),
            dead_letters=DeadLetterWriter(topics.dlq, produce),
            relay=Relay(self._session, send),
            known=self._known,
        )

    async def handle(self, records: Sequence[Record]) -> BatchReport:
        """Process one batch completely: when this returns, every record is applied or DLQ'd."""
        return await self._batch.handle(records)

    async def close(self) -> None:
        """Close the database connection."""
        await self._session.close()

    async def _known(self, keys: list[tuple[str, UUID]]) -> set[tuple[str, UUID]]:
        return await self._session.run(lambda store: store.known(keys))

    async def _process(self, store: IngestStore, events: list[SiteEvent]) -> BatchReport:
        return await process_batch(store, events, secret=self._secret)
