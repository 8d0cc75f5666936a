"""The worker's view of Kafka: one consumed record, and how it produces one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Headers = list[tuple[str, bytes]]
Produce = Callable[[str, bytes | None, bytes, Headers | None], Awaitable[None]]
"""Produce (topic, key, value, headers); returns once the broker has the record."""


@dataclass(frozen=True, slots=True)
class Record:
    """What the worker needs of one consumed Kafka record."""

    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int
