"""Pure parts of the profile service: tag replacement, language choice, cursors, DSN."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.tags import BUILTIN_TAGS
from services.common.db import role_dsn
from services.profile.cursor import decode_cursor, encode_cursor
from services.profile.problems import Problem
from services.profile.tagging import TagError, pick_language, replace_tags

NOW = datetime(2026, 11, 2, tzinfo=UTC)
AUTO = {"origin": "auto", "added_at": "2026-11-01T00:00:00+00:00"}


def test_replace_keeps_listed_tags_adds_manual_and_remembers_dropped_auto() -> None:
    update = replace_tags(
        ["vip", "regular"], {"regular": AUTO, "no_show": AUTO}, [], set(BUILTIN_TAGS), NOW
    )
    assert update.tags == ["vip", "regular"]
    assert update.tag_meta["regular"] == AUTO
    assert update.tag_meta["vip"] == {"origin": "manual", "added_at": NOW.isoformat()}
    assert update.removed_tags == ["no_show"]


def test_dropping_a_manual_tag_is_not_remembered_and_re_adding_forgets() -> None:
    manual = {"origin": "manual", "added_at": NOW.isoformat()}
    update = replace_tags(["no_show"], {"vip": manual}, ["no_show"], set(BUILTIN_TAGS), NOW)
    assert update.removed_tags == []
    assert update.tag_meta["no_show"]["origin"] == "manual"


@pytest.mark.parametrize("tags", [["nope"], [*BUILTIN_TAGS, "x1"], ["a", "b"]])
def test_unknown_or_too_many_tags_are_refused(tags: list[str]) -> None:
    known = {*BUILTIN_TAGS, "x1", "x2"}
    with pytest.raises(TagError):
        replace_tags([*tags, "x2"] if "x1" in tags else tags, {}, [], known, NOW)


@pytest.mark.parametrize(
    ("lang", "header", "expected"),
    [
        (None, None, "en"),
        ("NL", None, "nl"),
        ("fr-BE", "nl", "fr"),
        (None, "de, nl;q=0.9", "nl"),
        (None, "nl;q=0.2, fr;q=0.8", "fr"),
        (None, "fr;q=0", "en"),
        (None, "nl;q=x", "en"),
    ],
)
def test_pick_language(lang: str | None, header: str | None, expected: str) -> None:
    assert pick_language(lang, header) == expected


def test_cursor_round_trip_and_binding() -> None:
    cursor = encode_cursor("k", "scope-a", ["2026-11-01T00:00:00+00:00", "id"])
    assert decode_cursor("k", "scope-a", cursor, 2) == ["2026-11-01T00:00:00+00:00", "id"]
    for secret, scope in (("other", "scope-a"), ("k", "scope-b")):
        with pytest.raises(Problem):
            decode_cursor(secret, scope, cursor, 2)
    with pytest.raises(Problem):
        decode_cursor("k", "scope-a", cursor, 3)


def test_api_dsn_replaces_the_user_and_drops_the_password() -> None:
    assert role_dsn("postgresql://postgres:@/db?host=/tmp/s") == (
        "postgresql://contacts_api:@/db?host=/tmp/s"
    )
    assert role_dsn("postgresql://app:secret@db.example:5432/contacts") == (
        "postgresql://contacts_api:@db.example:5432/contacts"
    )
    assert role_dsn("postgresql://localhost/contacts") == (
        "postgresql://contacts_api:@localhost/contacts"
    )
