"""One retry policy: which errors are transient, and the backoff between tries."""

from __future__ import annotations

import itertools

import asyncpg
import pytest

from services.common.retry import backoff, is_transient


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(),
        OSError(),
        TimeoutError(),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection"),
        asyncpg.InterfaceError("closed"),
        asyncpg.SerializationError("could not serialize"),
        asyncpg.DeadlockDetectedError("deadlock"),
    ],
)
def test_errors_that_may_pass_on_a_later_try_are_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError(),
        KeyError("x"),
        asyncpg.UndefinedTableError("no table"),
        asyncpg.InsufficientPrivilegeError("denied"),
        asyncpg.DataError("bad value"),
    ],
)
def test_bugs_and_refusals_are_permanent(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_backoff_doubles_up_to_the_cap() -> None:
    assert list(itertools.islice(backoff(0.2, 5.0), 7)) == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    assert list(itertools.islice(backoff(first=1.0, cap=30.0), 6)) == [1, 2, 4, 8, 16, 30]
