"""The console's session: a signed, HttpOnly, SameSite=Strict cookie scoped to /console, and
the CSRF synchronizer token it carries. It holds the token's hash, never the token."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "contacts_console"
PATH = "/console"
MAX_AGE = 12 * 3600  # a working day at the host stand


@dataclass
class Session:
    """What the cookie holds: language, CSRF token, and once signed in the token's hash and the
    venue."""

    data: dict[str, Any] = field(default_factory=dict)
    dirty: bool = False

    def get(self, key: str) -> Any:
        """A value, or None."""
        return self.data.get(key)

    def set(self, key: str, value: Any) -> None:
        """Change a value; the cookie is written again."""
        if self.data.get(key) != value:
            self.data[key] = value
            self.dirty = True

    def drop(self, *keys: str) -> None:
        """Forget values."""
        for key in keys:
            if key in self.data:
                del self.data[key]
                self.dirty = True

    @property
    def csrf(self) -> str:
        """The session's CSRF token, made on first use."""
        token = self.data.get("csrf")
        if not isinstance(token, str):
            token = secrets.token_urlsafe(32)
            self.set("csrf", token)
        return token


def csrf_ok(session: Session, submitted: str | None) -> bool:
    """True when a form's token is the session's (constant-time; never with no session token)."""
    expected = session.data.get("csrf")
    if not isinstance(expected, str) or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


class Signer:
    """Signs and reads the cookie with the service's secret."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="contacts-console-session")

    def load(self, cookie: str | None) -> Session:
        """The session in ``cookie``; an empty one if absent, forged or too old."""
        if not cookie:
            return Session()
        try:
            data = self._serializer.loads(cookie, max_age=MAX_AGE)
        except BadSignature:
            return Session(dirty=True)
        return Session(data if isinstance(data, dict) else {})

    def dump(self, session: Session) -> str:
        """The cookie value of ``session``."""
        return self._serializer.dumps(session.data)
