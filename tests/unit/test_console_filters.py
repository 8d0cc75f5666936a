"""The list's query string read into a segment (pure)."""

from __future__ import annotations

from datetime import datetime

from starlette.datastructures import QueryParams

from services.profile.console.filters import read


def test_every_filter_is_read() -> None:
    query = read(
        QueryParams(
            "language=nl&language=fr&newsletter=true&first_from=2026-01-01&first_to=2026-02-01"
            "&last_from=2026-03-01&last_to=2026-04-01&tag=vip&tag=regular&min_reservations=2"
            "&min_no_shows=1&q=ann&sort=name"
        )
    )
    f = query.filters
    assert query.errors == [] and query.sort == "name"
    assert f.language == ["nl", "fr"] and f.newsletter == "true" and f.tag == ["vip", "regular"]
    assert f.min_reservations == 2 and f.min_no_shows == 1 and f.q == "ann"
    assert isinstance(f.first_contact_from, datetime) and f.first_contact_from.hour == 0
    assert f.first_contact_to is not None and f.first_contact_to.hour == 23


def test_bad_values_are_reported_and_left_out() -> None:
    query = read(QueryParams("min_reservations=lots&first_from=yesterday&language=dutch&sort=x"))
    assert set(query.errors) == {"min_reservations", "first_from", "language"}
    assert query.filters.min_reservations is None and query.filters.language == []
    assert query.sort == "-last_contact_at"
