"""Raw record bytes to a site event or a DLQ rejection (contract sections 1 and 2)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
import pytest

from schemas.events import (
    EVENT_TYPES,
    MAX_EVENT_BYTES,
    CancellationEvent,
    CompletedEvent,
    FormEvent,
    ImportEvent,
    IntegrationEvent,
    NoShowEvent,
    ReservationEvent,
)
from services.ingest.decode import Rejection, decode

# The example of contract section 2, byte for byte in content.
CONTRACT_EXAMPLE = b"""{
  "event_id": "5b0e6d1c-8f0e-4a59-9d3f-2f1a9c0d7e11",
  "type": "reservation.created",
  "schema_version": 1,
  "tenant_id": "brasserie-leopold",
  "occurred_at": "2026-11-23T18:02:11+01:00",
  "source": "booking-widget",
  "data": { "reservation_id": "R-88213", "starts_at": "2026-11-28T19:30:00+01:00",
            "party_size": 4, "notes": "window table",
            "contact": { "first_name": "An", "last_name": "Peeters",
                         "email": "An.Peeters@Example.be", "phone": "0470 12 34 56",
                         "language": "nl", "newsletter_opt_in": true } }
}"""

CONTACT = {
    "first_name": "An",
    "last_name": "Peeters",
    "email": "An.Peeters@Example.be",
    "phone": "0470 12 34 56",
    "language": "nl",
    "newsletter_opt_in": True,
}

DATA_BY_TYPE: dict[str, dict[str, Any]] = {
    "reservation.created": {
        "reservation_id": "R-88213",
        "starts_at": "2026-11-28T19:30:00+01:00",
        "party_size": 4,
        "notes": "window table",
    },
    "reservation.updated": {
        "reservation_id": "R-88213",
        "starts_at": "2026-11-28T20:00:00+01:00",
        "party_size": 5,
    },
    "reservation.cancelled": {"reservation_id": "R-88213", "reason": "ill"},
    "reservation.no_show": {"reservation_id": "R-88213"},
    "reservation.completed": {"reservation_id": "R-88213"},
    "form.submitted": {"form_id": "contact", "subject": "Group dinner", "message": "For 12?"},
    "integration.contact": {"integration": "lightspeed-pos", "external_id": "C-991", "note": "x"},
    "contact.imported": {
        "import_id": "imp-20261101",
        "row": 7,
        "tags": ["vip", "local"],
        "first_contact_at": "2019-05-04T12:00:00+02:00",
    },
}

MODEL_BY_TYPE = {
    "reservation.created": ReservationEvent,
    "reservation.updated": ReservationEvent,
    "reservation.cancelled": CancellationEvent,
    "reservation.no_show": NoShowEvent,
    "reservation.completed": CompletedEvent,
    "form.submitted": FormEvent,
    "integration.contact": IntegrationEvent,
    "contact.imported": ImportEvent,
}


def document(type_: str = "reservation.created") -> dict[str, Any]:
    """A valid document of ``type_`` shaped like the contract example."""
    return {
        "event_id": "5b0e6d1c-8f0e-4a59-9d3f-2f1a9c0d7e11",
        "type": type_,
        "schema_version": 1,
        "tenant_id": "brasserie-leopold",
        "occurred_at": "2026-11-23T18:02:11+01:00",
        "source": "booking-widget",
        "data": {**copy.deepcopy(DATA_BY_TYPE[type_]), "contact": dict(CONTACT)},
    }


def rejected(raw: bytes | None) -> Rejection:
    result = decode(raw)
    assert isinstance(result, Rejection), f"expected a rejection, decoded {result!r}"
    return result


# -- valid events -------------------------------------------------------------------------------


def test_contract_example_decodes_into_a_reservation_event() -> None:
    event = decode(CONTRACT_EXAMPLE)

    assert isinstance(event, ReservationEvent)
    assert event.event_id == UUID("5b0e6d1c-8f0e-4a59-9d3f-2f1a9c0d7e11")
    assert event.type == "reservation.created"
    assert event.tenant_id == "brasserie-leopold"
    assert event.occurred_at == datetime(2026, 11, 23, 17, 2, 11, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timedelta(hours=1)
    assert event.data.reservation_id == "R-88213"
    assert event.data.party_size == 4
    assert event.data.notes == "window table"
    # decode does not normalise: the contact is kept as the producer wrote it
    assert event.data.contact.email == "An.Peeters@Example.be"
    assert event.data.contact.phone == "0470 12 34 56"
    assert event.data.contact.newsletter_opt_in is True


def test_every_contract_type_has_an_example_here() -> None:
    assert set(DATA_BY_TYPE) == set(MODEL_BY_TYPE) == EVENT_TYPES


@pytest.mark.parametrize("type_", sorted(EVENT_TYPES))
def test_valid_event_of_each_type_decodes_into_its_model(type_: str) -> None:
    event = decode(orjson.dumps(document(type_)))

    assert type(event) is MODEL_BY_TYPE[type_]
    assert event.type == type_
    assert event.data.contact.first_name == "An"
    for name, value in DATA_BY_TYPE[type_].items():
        got = getattr(event.data, name)
        if isinstance(got, datetime):
            got = got.isoformat()
        assert got == value, name


def test_unknown_fields_are_ignored_so_producers_can_add_fields() -> None:
    doc = document()
    doc["trace_id"] = "abc"
    doc["data"]["table"] = 12
    doc["data"]["contact"]["birthday"] = "1990-01-01"

    assert isinstance(decode(orjson.dumps(doc)), ReservationEvent)


def test_event_of_exactly_64_kib_is_accepted() -> None:
    doc = document("form.submitted")
    doc["padding"] = ""
    size = len(orjson.dumps(doc))
    doc["padding"] = "x" * (MAX_EVENT_BYTES - size)
    raw = orjson.dumps(doc)
    assert len(raw) == MAX_EVENT_BYTES

    assert isinstance(decode(raw), FormEvent)


# -- event.malformed ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        None,
        b"",
        b"not json",
        b'{"type": "reservation.created", ',
        b"{'type': 'reservation.created'}",
    ],
    ids=["none", "empty", "text", "truncated", "single-quotes"],
)
def test_not_json_is_malformed(raw: bytes | None) -> None:
    assert rejected(raw).code == "event.malformed"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type": "form.submitted", "x": "caf\xe9"}',  # latin-1 byte
        b"\xff\xfe{\x00}\x00",  # UTF-16 with BOM
        orjson.dumps(document()).replace(b"Peeters", b"P\xc3eeters"),  # broken sequence
    ],
    ids=["latin-1", "utf-16", "broken-sequence"],
)
def test_not_utf8_is_malformed(raw: bytes) -> None:
    assert rejected(raw).code == "event.malformed"


@pytest.mark.parametrize(
    "raw",
    [orjson.dumps([document()]), b"[]", b'"reservation.created"', b"42", b"null", b"true"],
    ids=["array-of-event", "empty-array", "string", "number", "null", "bool"],
)
def test_json_that_is_not_an_object_is_malformed(raw: bytes) -> None:
    rejection = rejected(raw)

    assert rejection.code == "event.malformed"
    assert "object" in rejection.message


def test_malformed_message_does_not_echo_the_payload() -> None:
    raw = b'{"type": "form.submitted", "email": "an.peeters@example.be", oops}'

    rejection = rejected(raw)

    assert rejection.code == "event.malformed"
    assert "an.peeters" not in rejection.message


# -- event.too_large ----------------------------------------------------------------------------


def test_event_over_64_kib_is_too_large() -> None:
    doc = document("form.submitted")
    doc["data"]["contact"]["email"] = "secret.guest@example.be"
    doc["padding"] = ""
    doc["padding"] = "x" * (MAX_EVENT_BYTES - len(orjson.dumps(doc)) + 1)
    raw = orjson.dumps(doc)
    assert len(raw) == MAX_EVENT_BYTES + 1

    rejection = rejected(raw)

    assert rejection.code == "event.too_large"
    assert str(MAX_EVENT_BYTES + 1) in rejection.message
    assert "secret.guest" not in rejection.message


def test_size_is_checked_before_parsing() -> None:
    assert rejected(b"x" * (MAX_EVENT_BYTES + 1)).code == "event.too_large"


# -- event.unknown_type -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "shown"),
    [
        ("reservation.deleted", "reservation.deleted"),
        ("Reservation.Created", "Reservation.Created"),
        ("", "''"),
        (42, "int"),
        (None, "NoneType"),
        (True, "bool"),
    ],
)
def test_type_outside_the_contract_is_unknown_type(type_: Any, shown: str) -> None:
    doc = document()
    doc["type"] = type_

    rejection = rejected(orjson.dumps(doc))

    assert rejection.code == "event.unknown_type"
    assert shown in rejection.message


@pytest.mark.parametrize(
    ("type_", "shown"), [(["reservation.created"], "list"), ({"name": "x"}, "dict")]
)
def test_unhashable_type_is_unknown_type_and_decode_does_not_raise(type_: Any, shown: str) -> None:
    doc = document()
    doc["type"] = type_

    rejection = rejected(orjson.dumps(doc))

    assert rejection.code == "event.unknown_type"
    assert shown in rejection.message


def test_missing_type_is_unknown_type() -> None:
    doc = document()
    del doc["type"]

    assert rejected(orjson.dumps(doc)).code == "event.unknown_type"


# -- event.invalid ------------------------------------------------------------------------------


def invalid(mutate: Any, type_: str = "reservation.created") -> Rejection:
    doc = document(type_)
    mutate(doc)
    rejection = rejected(orjson.dumps(doc))
    assert rejection.code == "event.invalid", rejection
    return rejection


def test_party_size_of_the_wrong_type_is_invalid_and_named() -> None:
    rejection = invalid(lambda d: d["data"].update(party_size="four"))

    assert "data.party_size" in rejection.message
    assert "four" not in rejection.message


def test_party_size_out_of_range_is_invalid_and_named() -> None:
    rejection = invalid(lambda d: d["data"].update(party_size=0))

    assert "data.party_size" in rejection.message


def test_occurred_at_without_offset_is_invalid_and_named() -> None:
    rejection = invalid(lambda d: d.update(occurred_at="2026-11-23T18:02:11"))

    assert rejection.message.startswith("occurred_at")
    assert "timezone" in rejection.message


def test_starts_at_without_offset_is_invalid_and_named() -> None:
    rejection = invalid(lambda d: d["data"].update(starts_at="2026-11-28T19:30:00"))

    assert "data.starts_at" in rejection.message


def test_occurred_at_before_2000_is_invalid() -> None:
    rejection = invalid(lambda d: d.update(occurred_at="1970-01-01T00:00:00+00:00"))

    assert "occurred_at" in rejection.message


@pytest.mark.parametrize(
    "tenant_id", ["Brasserie-Leopold", "brasserie leopold", "-leopold", "", "a" * 64, 7]
)
def test_bad_tenant_id_is_invalid_and_named(tenant_id: Any) -> None:
    rejection = invalid(lambda d: d.update(tenant_id=tenant_id))

    assert "tenant_id" in rejection.message


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(event_id="not-a-uuid"), "event_id"),
        (lambda d: d.update(schema_version=2), "schema_version"),
        (lambda d: d.update(source=""), "source"),
        (lambda d: d["data"].pop("reservation_id"), "data.reservation_id"),
        (lambda d: d["data"].pop("contact"), "data.contact"),
        (lambda d: d["data"]["contact"].update(newsletter_opt_in="maybe"), "newsletter_opt_in"),
    ],
    ids=["event_id", "schema_version", "source", "reservation_id", "contact", "newsletter"],
)
def test_schema_violation_is_invalid_and_names_the_field(mutate: Any, field: str) -> None:
    assert field in invalid(mutate).message


@pytest.mark.parametrize(
    "bad_email",
    [
        12345678,
        ["an.peeters@example.be"],
        "an.peeters." + "x" * 320 + "@example.be",
    ],
    ids=["number", "list", "too-long"],
)
def test_invalid_message_names_the_email_field_but_never_echoes_it(bad_email: Any) -> None:
    rejection = invalid(lambda d: d["data"]["contact"].update(email=bad_email))

    assert "data.contact.email" in rejection.message
    assert "an.peeters" not in rejection.message
    assert "12345678" not in rejection.message
    assert "xxxxxxxx" not in rejection.message


def test_invalid_message_never_echoes_personal_values_of_any_field() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["data"]["contact"].update(
            first_name=["Annelies"], last_name={"x": "Vandenbroucke"}, phone=32470998877
        )
        d["data"]["notes"] = {"allergy": "peanuts"}

    rejection = invalid(mutate)

    for field in ("first_name", "last_name", "phone", "data.notes"):
        assert field in rejection.message
    for value in ("Annelies", "Vandenbroucke", "32470998877", "peanuts", "allergy"):
        assert value not in rejection.message


def test_nul_character_in_a_string_is_invalid_and_not_echoed() -> None:
    rejection = invalid(lambda d: d["data"]["contact"].update(first_name="Secret\u0000Name"))

    assert "NUL" in rejection.message
    assert "Secret" not in rejection.message


def test_nul_character_in_free_text_is_invalid() -> None:
    invalid(lambda d: d["data"].update(message="hi\u0000there"), "form.submitted")


def test_nul_rejection_names_the_field() -> None:
    rejection = invalid(lambda d: d["data"]["contact"].update(first_name="An\u0000"))

    assert "first_name" in rejection.message


def test_literal_backslash_u0000_text_is_not_mistaken_for_nul() -> None:
    doc = document()
    doc["data"]["notes"] = "see C:\\u0000\\menu.txt"  # a backslash, not a NUL

    assert isinstance(decode(orjson.dumps(doc)), ReservationEvent)


def test_unknown_type_wins_over_schema_errors() -> None:
    doc = document()
    doc["type"] = "reservation.moved"
    doc["tenant_id"] = "NOT VALID"

    assert rejected(orjson.dumps(doc)).code == "event.unknown_type"


def test_type_specific_data_is_checked_against_the_declared_type() -> None:
    # A valid reservation.created body declared as contact.imported lacks import_id and row.
    rejection = invalid(lambda d: d.update(type="contact.imported"))

    assert "data.import_id" in rejection.message
    assert "data.row" in rejection.message


def test_more_than_nine_import_tags_is_invalid() -> None:
    rejection = invalid(
        lambda d: d["data"].update(tags=[f"t{i}" for i in range(10)]), "contact.imported"
    )

    assert "data.tags" in rejection.message


def test_decode_never_raises_on_deeply_nested_input() -> None:
    raw = b'{"type": "form.submitted", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}"

    assert rejected(raw).code in {"event.malformed", "event.invalid"}
