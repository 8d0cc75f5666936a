"""Opaque keyset cursors, signed so a tampered or foreign cursor is refused."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

import orjson

from services.profile.problems import Problem

_SIG_BYTES = 16


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, scope: str, payload: bytes) -> bytes:
    mac = hmac.new(secret.encode(), scope.encode() + b"\x00" + payload, hashlib.sha256)
    return mac.digest()[:_SIG_BYTES]


def encode_cursor(secret: str, scope: str, values: list[Any]) -> str:
    """A cursor for the position after ``values``, bound to ``scope`` (tenant, list and sort)."""
    payload = orjson.dumps(values)
    return f"{_b64(payload)}.{_b64(_sign(secret, scope, payload))}"


def decode_cursor(secret: str, scope: str, cursor: str, arity: int) -> list[Any]:
    """The values of a cursor made by ``encode_cursor`` for the same scope; 422 otherwise."""
    try:
        head, _, sig = cursor.partition(".")
        payload = _unb64(head)
        good = hmac.compare_digest(_unb64(sig), _sign(secret, scope, payload))
        values = orjson.loads(payload) if good else None
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != arity:
        raise Problem(
            422,
            "invalid cursor",
            errors=[{"field": "cursor", "message": "not a cursor of this list", "code": "cursor"}],
        )
    return values
