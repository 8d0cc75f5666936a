"""The committed JSON Schema files are the ones the models generate."""

from __future__ import annotations

from schemas.generate import OUT, render


def test_committed_json_schema_is_current() -> None:
    for name, text in render().items():
        committed = (OUT / name).read_text(encoding="utf-8")
        assert committed == text, f"{name} is stale: run `make schemas`"


def test_schema_names_every_event_type() -> None:
    text = render()["site-event.schema.json"]
    for kind in (
        "reservation.created",
        "reservation.no_show",
        "form.submitted",
        "integration.contact",
        "contact.imported",
    ):
        assert kind in text
