"""The API's token cache: how long a resolved token is trusted, and what it never keeps."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.profile.auth import Principal, TokenCache

DIGEST = b"\x01" * 32


class _Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def _principal(expires_at: datetime | None = None) -> Principal:
    return Principal(uuid.uuid4(), "brasserie-leopold", frozenset({"read"}), expires_at)


def test_a_token_is_trusted_for_the_cache_time_then_looked_up_again() -> None:
    clock = _Clock()
    cache = TokenCache(5.0, clock=clock)
    principal = _principal()
    cache.put(DIGEST, principal)
    clock.now += 4.9
    assert cache.get(DIGEST) == principal
    clock.now += 0.1
    assert cache.get(DIGEST) is None
    assert cache.get(b"\x02" * 32) is None


def test_a_token_expiring_while_kept_is_refused_at_its_expiry() -> None:
    cache = TokenCache(3600.0)
    cache.put(DIGEST, _principal(datetime.now(UTC) - timedelta(seconds=1)))
    assert cache.get(DIGEST) is None
    later = _principal(datetime.now(UTC) + timedelta(hours=1))
    cache.put(DIGEST, later)
    assert cache.get(DIGEST) == later


def test_a_cache_time_of_0_keeps_nothing() -> None:
    cache = TokenCache(0)
    cache.put(DIGEST, _principal())
    assert cache.get(DIGEST) is None
