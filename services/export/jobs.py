"""Export job state for the worker: the shared functions of ``services.common.exportjobs``,
which the API's create and follow routes call too (one implementation, no SQL here)."""

from __future__ import annotations

from services.common.exportjobs import (
    MAX_ATTEMPTS,
    STALE_AFTER_SECONDS,
    claim,
    create,
    fail,
    finish,
    heartbeat,
    release,
    status,
    unfinished,
)

__all__ = [
    "MAX_ATTEMPTS",
    "STALE_AFTER_SECONDS",
    "claim",
    "create",
    "fail",
    "finish",
    "heartbeat",
    "release",
    "status",
    "unfinished",
]
