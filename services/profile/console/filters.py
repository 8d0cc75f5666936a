"""The list's filters as a query string: read into SegmentFilters, written back into links
(pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import QueryParams

from services.common.segments import SegmentFilters
from services.profile.console.i18n import ZONE
from services.profile.listing import SORTS

NAMES = (
    "language",
    "newsletter",
    "first_from",
    "first_to",
    "last_from",
    "last_to",
    "tag",
    "min_reservations",
    "min_no_shows",
    "q",
)


@dataclass
class ListQuery:
    """The filters as typed in the form, the segment they make, the sort and any errors."""

    values: dict[str, Any] = field(default_factory=dict)
    filters: SegmentFilters = field(default_factory=SegmentFilters)
    sort: str = "-last_contact_at"
    errors: list[str] = field(default_factory=list)

    def query(self, **override: Any) -> dict[str, Any]:
        """The query string values of this list (for links: sort, pages, export)."""
        return {**self.values, "sort": self.sort, **override}


def _day(raw: str, end: bool) -> datetime | None:
    if not raw:
        return None
    parsed = date.fromisoformat(raw)
    return datetime.combine(parsed, time.max if end else time.min, tzinfo=ZONE)


def _count(raw: str) -> int | None:
    return int(raw) if raw.strip() else None


def read(params: QueryParams) -> ListQuery:
    """The list query of a request; a bad field is reported by name and left out."""
    values: dict[str, Any] = {
        "language": [v for v in params.getlist("language") if v],
        "tag": [v for v in params.getlist("tag") if v],
    }
    for name in NAMES:
        if name not in values:
            values[name] = (params.get(name) or "").strip()
    result = ListQuery(values=values)
    sort = params.get("sort") or "-last_contact_at"
    result.sort = sort if sort in SORTS else "-last_contact_at"
    fields: dict[str, Any] = {}
    readers: list[tuple[str, str, Any]] = [
        ("first_contact_from", "first_from", lambda r: _day(r, False)),
        ("first_contact_to", "first_to", lambda r: _day(r, True)),
        ("last_contact_from", "last_from", lambda r: _day(r, False)),
        ("last_contact_to", "last_to", lambda r: _day(r, True)),
        ("min_reservations", "min_reservations", _count),
        ("min_no_shows", "min_no_shows", _count),
    ]
    for target, name, parse in readers:
        try:
            fields[target] = parse(values[name])
        except ValueError:
            result.errors.append(name)
            values[name] = ""
    if values["newsletter"] in ("true", "false", "unknown"):
        fields["newsletter"] = values["newsletter"]
    else:
        values["newsletter"] = ""
    fields["q"] = values["q"] or None
    fields["language"] = values["language"]
    fields["tag"] = values["tag"]
    try:
        result.filters = SegmentFilters(**fields)
    except ValidationError as exc:
        bad = {str(e["loc"][0]) for e in exc.errors()}
        result.errors.extend(sorted(bad))
        result.filters = SegmentFilters(
            **{k: v for k, v in fields.items() if k not in bad and v is not None}
        )
    return result
