"""Fuzzing the ingest decoder: whatever the bytes, ``decode`` returns a model or a Rejection.

Arbitrary bytes, arbitrary JSON, deep nesting, huge strings, control characters, wrong types and
mutations of every contract event type (structural and byte-level). Never an exception, always
one of the contract's DLQ codes, and a rejection message never repeats a personal value.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from schemas.events import EVENT_TYPES, MAX_EVENT_BYTES
from services.ingest.decode import Rejection, decode
from tests.support.mutations import Edit, edits, mutate
from tests.unit.test_decode import CONTACT, DATA_BY_TYPE, document

CODES = {"event.malformed", "event.too_large", "event.unknown_type", "event.invalid"}
PERSONAL = [CONTACT["email"], CONTACT["email"].lower(), CONTACT["phone"], "Peeters", "window table"]
FUZZ = settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


def check(raw: bytes | None) -> BaseModel | Rejection:
    result = decode(raw)
    if isinstance(result, Rejection):
        assert result.code in CODES, result
        assert isinstance(result.message, str) and len(result.message) <= 2000
    else:
        assert isinstance(result, BaseModel)
        assert result.type in EVENT_TYPES  # type: ignore[attr-defined]
    return result


def no_echo(result: BaseModel | Rejection) -> None:
    if isinstance(result, Rejection):
        for value in PERSONAL:
            assert value not in result.message, (value, result.message)


# -- arbitrary input ----------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes(raw: bytes) -> None:
    check(raw)


@FUZZ
@given(st.binary(min_size=1, max_size=200).map(lambda b: b"{" + b))
def test_bytes_that_start_like_an_object(raw: bytes) -> None:
    check(raw)


texts = st.text(st.characters(codec="utf-8"), max_size=40)
control = st.text(
    st.characters(max_codepoint=0x1F) | st.sampled_from("\x7f\u2028\u2029\ufeff\u202e"),
    min_size=1,
    max_size=10,
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63, max_value=2**80)
    | st.floats(allow_nan=False)
    | texts
    | control
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(json_values)
def test_arbitrary_json(value: Any) -> None:
    check(json.dumps(value).encode())


@FUZZ
@given(
    st.dictionaries(st.sampled_from(list(document())) | texts, json_values, max_size=9),
    st.sampled_from([*EVENT_TYPES, None]),
)
def test_arbitrary_objects_with_and_without_a_known_type(
    doc: dict[str, Any], kind: str | None
) -> None:
    if kind is not None:
        doc["type"] = kind
    check(json.dumps(doc).encode())


# -- mutations of valid events ------------------------------------------------------------------


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> None:
    for part in path[:-1]:
        doc = doc[part]
    if delete:
        del doc[path[-1]]
    else:
        doc[path[-1]] = value


replacements = (
    json_values
    | st.text(min_size=1, max_size=5).map(lambda s: s * 5000)  # big, under 64 KiB
    | control.map(lambda c: "An" + c + "Peeters")
    | st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "null",
            "1e999",
            "-0",
            "2026-02-30T25:61:00+01:00",
            "9999-12-31T23:59:59+14:00",
            "0001-01-01T00:00:00Z",
            "not-a-uuid",
            "00000000-0000-0000-0000-000000000000",
            "A" * 63,
            "a" * 64,
            "../../etc/passwd",
            "' OR 1=1 --",
            '=HYPERLINK("x")',
            "\ud7ff\ue000",
        ]
    )
    | st.sampled_from([[], {}, [[[]]], {"": {}}, 10**30, -1, 0, 1.5, True])
)


# Values a person could be identified by, shaped so that no rejection message contains them by
# chance (an accented name, a full address, a long phone number): a message that holds one
# echoed it. Each is offered as is, inside something invalid (a control character, a length
# past the limit) and as the wrong JSON type.
PERSONAL_KEYS = {
    "first_name",
    "last_name",
    "name",
    "email",
    "phone",
    "notes",
    "message",
    "subject",
    "reason",
    "note",
}
person_names = st.from_regex(r"[A-Z][a-z]{1,6}[éèëïöüçñ][a-z]{1,6}", fullmatch=True)
person_emails = st.from_regex(
    r"[a-z]{3,8}\.[a-z]{3,8}[0-9]{2}@(@?)[a-z]{4,8}\.(be|nl|com)", fullmatch=True
)
person_phones = st.from_regex(r"(\+32 ?|0)4[0-9]{2}( ?[0-9]{2}){3}", fullmatch=True)
person_texts = st.builds(lambda n, p: f"{n}, {p}", person_names, person_phones)
personal = st.one_of(person_names, person_emails, person_phones, person_texts)


@st.composite
def personal_values(draw: st.DrawFn) -> tuple[str, Any]:
    """A personal value and how it is placed: itself, made invalid, or as the wrong type."""
    value = draw(personal)
    shape = draw(st.sampled_from(["as is", "control", "too long", "list", "object"]))
    if shape == "control":
        cut = draw(st.integers(0, len(value)))
        return value, value[:cut] + draw(control) + value[cut:]
    if shape == "too long":
        return value, value + " " + value * (9000 // len(value))
    if shape == "list":
        return value, [value]
    if shape == "object":
        return value, {"value": value}
    return value, value


@FUZZ
@given(st.sampled_from(sorted(EVENT_TYPES)), st.data())
def test_mutated_valid_events(kind: str, data: st.DataObject) -> None:
    doc = document(kind)
    paths = [*_paths(doc), ("data", "contact", "name")]
    injected: list[str] = []  # the personal values placed in the document
    for _ in range(data.draw(st.integers(1, 4))):
        path = data.draw(st.sampled_from(paths))
        personal_path = path[-1] in PERSONAL_KEYS
        try:
            if data.draw(st.booleans()) and isinstance(path[-1], str):
                _set(doc, path, None, delete=True)
            elif personal_path and data.draw(st.booleans()):
                value, placed = data.draw(personal_values())
                _set(doc, path, placed)
                injected.append(value)
            else:
                _set(doc, path, copy.deepcopy(data.draw(replacements)))  # no shared objects
        except (KeyError, IndexError, TypeError):
            pass  # the parent was already replaced
    result = check(json.dumps(doc).encode())
    if "type" in doc and doc["type"] == kind:
        no_echo(result)
    if isinstance(result, Rejection):  # whatever the type: only a type is ever shown
        for value in injected:
            assert value not in result.message, (value, result.message)


@FUZZ
@given(st.sampled_from(sorted(EVENT_TYPES)), edits(["flip", "insert", "delete"], max_size=8))
def test_byte_level_mutations_of_valid_events(kind: str, changes: list[Edit]) -> None:
    check(mutate(orjson.dumps(document(kind)), changes))


# -- pathological shapes ------------------------------------------------------------------------


def _nest(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + close * depth


@pytest.mark.parametrize("depth", [1_000, 10_000, 30_000])
@pytest.mark.parametrize("where", ["top", "data", "contact", "type", "email", "objects"])
def test_deep_nesting(depth: int, where: str) -> None:
    doc = document("form.submitted")
    if where == "top":
        raw = _nest(depth).encode()
    elif where == "objects":
        raw = ('{"a":' * depth + "1" + "}" * depth).encode()
    else:
        marker = "__DEEP__"
        if where == "data":
            doc["data"]["message"] = marker
        elif where == "contact":
            doc["data"]["contact"]["first_name"] = marker
        elif where == "email":
            doc["data"]["contact"]["email"] = marker
        else:
            doc["type"] = marker
        raw = json.dumps(doc).replace(f'"{marker}"', _nest(depth)).encode()
    result = check(raw)
    assert isinstance(result, Rejection)


@pytest.mark.parametrize(
    "field",
    [
        "first_name",
        "last_name",
        "email",
        "phone",
        "language",
        "notes",
        "tenant_id",
        "source",
        "reservation_id",
    ],
)
@pytest.mark.parametrize("size", [60_000, MAX_EVENT_BYTES + 1, 5 * 1024 * 1024])
def test_huge_strings(field: str, size: int) -> None:
    doc = document("reservation.created")
    target = (
        doc["data"]["contact"]
        if field in CONTACT
        else (doc["data"] if field in DATA_BY_TYPE["reservation.created"] else doc)
    )
    target[field] = "x" * size
    raw = orjson.dumps(doc)
    result = check(raw)
    if len(raw) > MAX_EVENT_BYTES:
        assert isinstance(result, Rejection) and result.code == "event.too_large"


@pytest.mark.parametrize(
    "raw",
    [
        None,
        b"",
        b" ",
        b"\x00",
        b"\xff\xfe{\x00}\x00",
        b"\xef\xbb\xbf{}",
        b"null",
        b"[]",
        b"1e999",
        b'{"type": {"$ne": null}}',
        b'{"type": ["reservation.created"]}',
        b'{"type": 1e400}',
        b'{"type": "reservation.created", "type": "x"}',
        b'{"\\ud800": 1}',
        b'"\\ud800"',
        b'{"type": "reservation.created", "data": {"contact": {"email": "\\ud800@x.be"}}}',
        b'{"type":"form.submitted","data":' + b"1" * 50_000 + b"}",
        b'{"type":"form.submitted","data":{"contact":{"phone":' + b"9" * 5000 + b"}}}",
    ],
    ids=lambda r: repr(r)[:40],
)
def test_odd_documents(raw: bytes | None) -> None:
    assert isinstance(check(raw), Rejection)


def test_a_copy_of_a_valid_event_still_decodes() -> None:
    """The fuzzing baseline: the unmutated documents are valid."""
    for kind in EVENT_TYPES:
        assert not isinstance(decode(orjson.dumps(copy.deepcopy(document(kind)))), Rejection)
