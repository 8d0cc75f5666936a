"""The console's catalogs and formats: every message of the templates and pages is translated
in Dutch and French; dates and numbers read as in Belgium."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from babel.messages.pofile import read_po

from services.profile.console import i18n
from services.profile.console.catalog import messages


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_every_message_is_translated(language: str) -> None:
    with i18n.catalog_path(language).open("rb") as f:
        catalog = read_po(f, locale=i18n.LOCALES[language])
    wanted = [m.id for m in messages() if m.id]
    assert len(wanted) > 50
    missing = []
    for msgid in wanted:
        found = catalog.get(msgid)
        strings = [found.string] if found and isinstance(found.string, str) else []
        if found and not isinstance(found.string, str):
            strings = list(found.string)
        if not strings or not all(strings) or found.fuzzy:
            missing.append(msgid)
    assert missing == []


def test_translations_are_loaded_at_runtime() -> None:
    assert i18n.translations("nl").gettext("Customers") == "Klanten"
    assert i18n.translations("fr").gettext("Customers") == "Clients"
    assert i18n.translations("en").gettext("Customers") == "Customers"
    assert i18n.translations("fr").ngettext("%(n)s customer", "%(n)s customers", 2) == (
        "%(n)s clients"
    )


def test_dates_and_numbers_read_as_in_belgium() -> None:
    at = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # 1 December in Brussels
    assert i18n.day(at, "nl") == "1 dec 2026"
    assert i18n.day(at, "fr") == "1 déc. 2026"
    assert "00:30" in i18n.when(at, "nl")
    assert i18n.number(1234567, "nl") == "1.234.567"
    assert i18n.number(1234567, "fr").replace("\u202f", " ") == "1 234 567"
    assert i18n.day(None, "en") == "—"


def test_unknown_languages_fall_back_to_dutch() -> None:
    assert i18n.pick("de") == "nl" and i18n.pick(None) == "nl" and i18n.pick("fr") == "fr"
