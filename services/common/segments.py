"""Customer segments: the list filters, as one model and one SQL builder shared by the list
route of the profile API and the export worker (a segment exports exactly what the list shows)."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.normalize import normalize_phone
from schemas.tags import TAG_PATTERN
from services.common.settings import DEFAULT_REGION


class SegmentFilters(BaseModel):
    """The list's filters; every one is optional and they combine with AND."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    language: list[Annotated[str, Field(pattern=r"^[a-z]{2}$")]] = Field(
        default_factory=list, max_length=20
    )
    newsletter: Literal["true", "false", "unknown"] | None = None
    first_contact_from: AwareDatetime | None = None
    first_contact_to: AwareDatetime | None = None
    last_contact_from: AwareDatetime | None = None
    last_contact_to: AwareDatetime | None = None
    tag: list[Annotated[str, Field(pattern=TAG_PATTERN)]] = Field(
        default_factory=list, max_length=9
    )
    min_reservations: int | None = Field(default=None, ge=0, le=1_000_000)
    min_no_shows: int | None = Field(default=None, ge=0, le=1_000_000)
    q: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[^\x00]*$")


class Where:
    """WHERE clauses with their ``$n`` arguments."""

    def __init__(self, *args: Any) -> None:
        self.clauses: list[str] = []
        self.args: list[Any] = list(args)

    def arg(self, value: Any) -> str:
        """Bind a value; return its placeholder."""
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, clause: str) -> None:
        """AND another clause."""
        self.clauses.append(clause)

    def sql(self) -> str:
        """The clauses joined with AND."""
        return " AND ".join(self.clauses)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def q_args(w: Where, q: str, region: str) -> tuple[str, str, str]:
    """Bind the three forms of a free-text ``q``: LIKE pattern, word, phone in E.164."""
    text = q.strip().lower()
    return w.arg(f"%{_escape_like(text)}%"), w.arg(text), w.arg(normalize_phone(q, region))


# pg_trgm's default pg_trgm.word_similarity_threshold, against which `<%` compares (a test
# checks the server's setting is this one: the pre-test below is only sound for it or higher).
WORD_SIMILARITY_THRESHOLD = 0.6
_WORD = re.compile(r"[a-z0-9]+")


def inner_trigrams(word: str) -> list[str]:
    """Three-letter pieces of ``word`` (lowercased) of which every text that ``word <% text``
    matches contains at least one; empty when no such guarantee holds (then test them all).

    pg_trgm cuts the term into words of letters and digits, pads each as ``"  w "`` and takes
    its trigrams. ``word_similarity`` = shared / (term's + extent's - shared) <= shared /
    term's, so a match shares at least ``threshold`` x the term's trigrams. The padded ones
    (with a space) are at most 3 per word; when they fall short of that share by ``k``, a match
    shares ``k`` inner trigrams: three letters in a row of one word of the text, hence
    substrings of it. Any ``m - k + 1`` of the ``m`` inner ones then hold one of those
    (pigeonhole): fewer pieces to test, and fewer texts pass them.
    Only for ASCII terms: there PostgreSQL's and Python's lower case and letters agree, and no
    trigram of the term is hashed (pg_trgm hashes those of more than 3 bytes)."""
    if not word.isascii():
        return []
    grams: set[str] = set()
    for part in _WORD.findall(word.lower()):
        padded = f"  {part} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    inner = sorted(g for g in grams if " " not in g)
    # shared >= threshold x all (an integer: its ceiling; the epsilon keeps 0.6 x 5 at 3)
    short = math.ceil(WORD_SIMILARITY_THRESHOLD * len(grams) - 1e-9) - (len(grams) - len(inner))
    if not inner or short < 1:
        return []
    return inner[: len(inner) - short + 1]


def q_inline(w: Where, q: str, region: str) -> str:
    """``q`` as a plain condition on ``c``: what ``contacts_matching`` (migration 0010) tests,
    for a query that reaches the rows another way (no index can serve it beneath RLS).

    ``word_similarity`` costs ~8 µs a row; a substring test of the term's inner trigrams first
    (necessary for a match, see ``inner_trigrams``, and for containing the whole term, which
    contains them) is far cheaper and lets few rows through."""
    like, word, phone = q_args(w, q, region)
    text = f"(c.search LIKE {like} OR {word} <% c.search)"
    inner = inner_trigrams(q.strip().lower())
    if inner:
        text = f"(c.search LIKE ANY({w.arg([f'%{g}%' for g in inner])}::text[]) AND {text})"
    return f"({text} OR c.phone = {phone})"


# segment_where's first clauses: the venue's listed customers, before any filter.
VENUE_CLAUSES = 2


def segment_where(tenant_id: str, f: SegmentFilters, region: str = DEFAULT_REGION) -> Where:
    """The WHERE of a segment over ``customers c``; ``$1`` is the tenant."""
    w = Where(tenant_id)
    w.add("c.tenant_id = $1")
    w.add("c.anonymized_at IS NULL")  # VENUE_CLAUSES: these two come first
    if f.language:
        w.add(f"c.language = ANY({w.arg([x.lower() for x in f.language])}::text[])")
    if f.newsletter == "unknown":
        w.add("c.newsletter IS NULL")
    elif f.newsletter is not None:
        w.add(f"c.newsletter = {w.arg(f.newsletter == 'true')}")
    bounds: tuple[tuple[str, str, datetime | None], ...] = (
        ("first_contact_at", ">=", f.first_contact_from),
        ("first_contact_at", "<=", f.first_contact_to),
        ("last_contact_at", ">=", f.last_contact_from),
        ("last_contact_at", "<=", f.last_contact_to),
    )
    for column, op, value in bounds:
        if value is not None:
            w.add(f"c.{column} {op} {w.arg(value)}")
    if f.tag:
        w.add(f"c.tags @> {w.arg(sorted(set(f.tag)))}::text[]")
    if f.min_reservations is not None:
        w.add(f"c.reservations >= {w.arg(f.min_reservations)}")
    if f.min_no_shows is not None:
        w.add(f"c.no_shows >= {w.arg(f.min_no_shows)}")
    if f.q:
        # Through contacts_matching (migration 0010): the trigram and phone indexes cannot
        # serve `LIKE` / `<%` beneath row level security; the function applies the tenant.
        like, word, phone = q_args(w, f.q, region)
        w.add(f"c.id IN (SELECT m.id FROM contacts_matching({like}, {word}, {phone}) m)")
    return w
