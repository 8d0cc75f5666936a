"""The console's links: query strings built from filters, and no redirect off the console."""

from __future__ import annotations

from services.profile.console.pages_auth import _local
from services.profile.console.pages_exports import default_preset
from services.profile.console.web import url


def test_links_carry_the_filters_and_leave_out_empty_ones() -> None:
    assert url("/customers") == "/console/customers"
    link = url("/customers", language=["nl", "fr"], q="an & co", tag=[], min_reservations="")
    assert link == "/console/customers?language=nl&language=fr&q=an+%26+co"


def test_the_language_switch_goes_back_to_console_pages_only() -> None:
    assert _local("/console/customers?q=x") == "/console/customers?q=x"
    for elsewhere in ("https://evil.example/", "//evil.example/console/", "/console//evil", None):
        assert _local(elsewhere) == "/console/"


def test_excel_presets_follow_the_ui_language() -> None:
    assert default_preset("nl") == default_preset("fr") == "excel_semicolon"
    assert default_preset("en") == "excel_comma"
