"""Customer and the ``customers`` table's row: one declaration of how each field is stored,
from which the upsert's column list, the row written and the customer read all derive."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from services.domain.fold import ConsentStatement, Customer, TagState


class Row(Protocol):
    """A stored row by column name (an asyncpg Record, or a dict)."""

    def __getitem__(self, key: str, /) -> Any: ...


# Fields stored as they are, in a column of the same name: the column's SQL type.
PLAIN: dict[str, str] = {
    "tenant_id": "text",
    "id": "uuid",
    "identity_key": "text",
    "email": "text",
    "phone": "text",
    "first_name": "text",
    "last_name": "text",
    "language": "text",
    "first_contact_at": "timestamptz",
    "last_contact_at": "timestamptz",
    "reservations": "int",
    "completed": "int",
    "no_shows": "int",
    "cancellations": "int",
    "forms": "int",
    "completion_marks": "timestamptz[]",
}


def _newsletter_row(n: ConsentStatement | None) -> dict[str, Any]:
    if n is None:
        return dict.fromkeys(
            ("newsletter", "newsletter_at", "newsletter_source", "newsletter_event_id")
        )
    return {
        "newsletter": n.opt_in,
        "newsletter_at": n.occurred_at,
        "newsletter_source": n.source,
        "newsletter_event_id": n.event_id,
    }


def _newsletter(r: Row) -> ConsentStatement | None:
    if r["newsletter"] is None:
        return None
    return ConsentStatement(
        r["newsletter"], r["newsletter_at"], r["newsletter_source"], r["newsletter_event_id"]
    )


def _tags_row(tags: dict[str, TagState]) -> dict[str, Any]:
    meta = {k: {"origin": t.origin, "added_at": t.added_at} for k, t in tags.items()}
    return {"tags": list(tags), "tag_meta": meta}


@dataclasses.dataclass(frozen=True)
class Stored:
    """A field stored in other shapes: its columns (name -> SQL type) and both directions."""

    columns: dict[str, str]
    to_row: Callable[[Any], dict[str, Any]]
    from_row: Callable[[Row], Any]


SHAPED: dict[str, Stored] = {
    "stamps": Stored(
        {"stamps": "jsonb"},
        lambda stamps: {"stamps": stamps},
        lambda r: {k: (datetime.fromisoformat(at), eid) for k, (at, eid) in r["stamps"].items()},
    ),
    "newsletter": Stored(
        {
            "newsletter": "boolean",
            "newsletter_at": "timestamptz",
            "newsletter_source": "text",
            "newsletter_event_id": "uuid",
        },
        _newsletter_row,
        _newsletter,
    ),
    "tags": Stored(
        {"tags": "text[]", "tag_meta": "jsonb"},
        _tags_row,
        lambda r: {
            code: TagState(meta["origin"], datetime.fromisoformat(meta["added_at"]))
            for code, meta in r["tag_meta"].items()
        },
    ),
    "removed_tags": Stored(
        {"removed_tags": "text[]"},
        lambda removed: {"removed_tags": sorted(removed)},
        lambda r: frozenset(r["removed_tags"]),
    ),
}

_FIELDS = [f.name for f in dataclasses.fields(Customer)]
if set(_FIELDS) != set(PLAIN) | set(SHAPED) or set(PLAIN) & set(SHAPED):  # pragma: no cover
    raise RuntimeError("every Customer field needs exactly one way to be stored (rows.py)")

# Every column, in Customer's field order: "name type, ..." (for jsonb_to_recordset).
COLUMNS: dict[str, str] = {}
for _name in _FIELDS:
    COLUMNS.update({_name: PLAIN[_name]} if _name in PLAIN else SHAPED[_name].columns)


def to_row(c: Customer) -> dict[str, Any]:
    """One customer as a JSON object (orjson encodes datetimes and UUIDs natively)."""
    row = {name: getattr(c, name) for name in PLAIN}
    for name, stored in SHAPED.items():
        row.update(stored.to_row(getattr(c, name)))
    return row


def from_row(r: Row) -> Customer:
    """The customer a stored row holds."""
    values = {name: r[name] for name in PLAIN}
    values.update({name: stored.from_row(r) for name, stored in SHAPED.items()})
    values["completion_marks"] = tuple(values["completion_marks"])
    return Customer(**values)
