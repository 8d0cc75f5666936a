"""Fixtures of the reliability suite: the profile API fixtures, and helpers shared by its tests."""

from __future__ import annotations

# The in-process API, its database owner connection, seeding and tokens (tests/profile).
from tests.profile.conftest import (  # noqa: F401 - pytest finds fixtures by name
    app,
    client,
    make_token,
    owner,
    seed,
    settings,
)
