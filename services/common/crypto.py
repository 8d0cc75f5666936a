"""Keyed hashes: of erased identities (suppression) and of API tokens."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache


@lru_cache(maxsize=65536)
def keyed_hash(secret: str, value: str) -> bytes:
    """HMAC-SHA256 of a normalised identity value; the value itself is never stored."""
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).digest()
