"""Commands the API puts on Kafka (export requests); a lost one is picked up by the sweep."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import structlog
from aiokafka import AIOKafkaProducer

log = structlog.get_logger(__name__)


class ExportRequests:
    """A lazily started producer for ``contacts.export-requests``."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._producer: AIOKafkaProducer | None = None

    async def send(self, tenant_id: str, export_id: uuid.UUID) -> bool:
        """Ask the export worker to run a job; False when the broker is unreachable."""
        try:
            if self._producer is None:
                producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                            request_timeout_ms=5000)
                await asyncio.wait_for(producer.start(), timeout=5)
                self._producer = producer
            value = orjson.dumps({"export_id": str(export_id), "tenant_id": tenant_id})
            await asyncio.wait_for(
                self._producer.send_and_wait(self.topic, value, key=tenant_id.encode()), timeout=5
            )
        except Exception as exc:  # noqa: BLE001 - the job is queued; the worker's sweep runs it
            log.warning("export.request_not_sent", tenant_id=tenant_id, error=type(exc).__name__)
            await self.close()
            return False
        return True

    async def close(self) -> None:
        """Stop the producer."""
        if self._producer is not None:
            producer, self._producer = self._producer, None
            try:
                await producer.stop()
            except Exception:  # noqa: BLE001 - closing a broken producer
                log.warning("export.producer_close_failed")
