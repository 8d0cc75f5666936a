"""What the API puts on Kafka: export requests and imported rows, through one lazy producer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable

import orjson
import structlog
from aiokafka import AIOKafkaProducer

log = structlog.get_logger(__name__)


class Publisher:
    """A producer started on first use; ``close`` on shutdown."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._producer: AIOKafkaProducer | None = None

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                acks="all",
                linger_ms=5,
                request_timeout_ms=10_000,
            )
            try:
                await asyncio.wait_for(producer.start(), timeout=10)
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def publish(self, topic: str, records: Iterable[tuple[bytes, bytes]]) -> int:
        """Send (key, value) records and wait until the broker has every one; return the count."""
        producer = await self._started()
        try:
            futures = [await producer.send(topic, value, key=key) for key, value in records]
            await asyncio.gather(*futures)
        except Exception:
            await self.close()  # a broken producer is not reused
            raise
        return len(futures)

    async def close(self) -> None:
        """Stop the producer."""
        if self._producer is not None:
            producer, self._producer = self._producer, None
            try:
                await producer.stop()
            except Exception:  # noqa: BLE001 - closing a broken producer
                log.warning("producer.close_failed")


class ExportRequests:
    """Requests for the export worker on ``contacts.export-requests``."""

    def __init__(self, publisher: Publisher, topic: str) -> None:
        self.publisher = publisher
        self.topic = topic

    async def send(self, tenant_id: str, export_id: uuid.UUID) -> bool:
        """Ask the export worker to run a job; False when the broker is unreachable."""
        value = orjson.dumps({"export_id": str(export_id), "tenant_id": tenant_id})
        try:
            await asyncio.wait_for(
                self.publisher.publish(self.topic, [(tenant_id.encode(), value)]), timeout=10
            )
        except Exception as exc:  # noqa: BLE001 - the job is queued; the worker's sweep runs it
            log.warning("export.request_not_sent", tenant_id=tenant_id, error=type(exc).__name__)
            return False
        return True
