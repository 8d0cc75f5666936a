"""The dead-letter topic: a rejected record, unchanged, with the contract's reason headers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from services.ingest import metrics
from services.ingest.records import Headers, Produce, Record

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that goes to the DLQ, with its error code and message."""

    record: Record
    code: str
    message: str

    def headers(self) -> Headers:
        """``error.code``, ``error.message`` and where the record came from."""
        r = self.record
        return [
            ("error.code", self.code.encode()),
            ("error.message", self.message.encode()),
            ("source.topic", r.topic.encode()),
            ("source.partition", str(r.partition).encode()),
            ("source.offset", str(r.offset).encode()),
        ]


class DeadLetterWriter:
    """Produces dead letters to the DLQ topic and counts them by code."""

    def __init__(self, topic: str, produce: Produce):
        self._topic = topic
        self._produce = produce

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        """Produce every letter; returns once the broker has them all."""
        # concurrently: the producer batches them into one request (each still awaited)
        await asyncio.gather(*(self._send_one(letter) for letter in letters))

    async def _send_one(self, letter: DeadLetter) -> None:
        r = letter.record
        await self._produce(self._topic, r.key, r.value or b"", letter.headers())
        metrics.DLQ.labels(letter.code).inc()
        log.info(
            "ingest.dead_lettered",
            code=letter.code,
            topic=r.topic,
            partition=r.partition,
            offset=r.offset,
        )
