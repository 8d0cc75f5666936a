"""One retry policy: which errors are transient, and how long to wait before the next try.

Transient means the same work may succeed later: the database restarts or refuses
connections while it starts, a connection drops, a broker is briefly away, two writers race
on a new identity during a rebalance. Everything else is permanent and is not retried.
"""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg

TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,  # includes ConnectionError and socket errors
    TimeoutError,
    asyncpg.PostgresConnectionError,  # includes CannotConnectNowError (server starting up)
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.UniqueViolationError,
    asyncpg.AdminShutdownError,
)


def is_transient(exc: BaseException) -> bool:
    """True if the work that raised ``exc`` may succeed when tried again."""
    return isinstance(exc, TRANSIENT)


def backoff(first: float = 0.2, cap: float = 5.0, factor: float = 2.0) -> Iterator[float]:
    """Delays before each next try: ``first``, doubling, at most ``cap``; endless."""
    delay = first
    while True:
        yield delay
        delay = min(delay * factor, cap)
