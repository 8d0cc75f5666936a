"""The cheap pre-test of a fuzzy ``q`` (the term's inner trigrams as substrings) never drops a
row that PostgreSQL's own ``word_similarity`` matches: random names, typos and texts, checked
against the server with the list's real condition."""

from __future__ import annotations

import random
import string

import pytest

from services.common.db import connect
from services.common.segments import (
    WORD_SIMILARITY_THRESHOLD,
    Where,
    inner_trigrams,
    q_inline,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

NAMES = [
    "peeters",
    "janssens",
    "maes",
    "jacobs",
    "mertens",
    "willems",
    "claes",
    "goossens",
    "wouters",
    "de_smet",
    "dubois",
    "lambert",
    "dupont",
    "martin",
    "simon",
    "laurent",
    "lefebvre",
    "leroy",
    "renard",
    "vermeulen",
    "van_damme",
    "smith",
    "o'brien",
    "nguyen",
    "li",
    "jan",
    "an",
    "ed",
    "bo",
    "vanden-broucke",
    "d'hondt",
    "müller",
    "lefèvre",
    "çelik",
]
LETTERS = string.ascii_lowercase + "éèëçü0123456789 .-@'_"


def _typo(word: str, rng: random.Random) -> str:
    """One to three edits: replace, insert, delete or swap a letter."""
    chars = list(word)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(chars) + 1)
        op = rng.choice("ridt")
        letter = rng.choice(string.ascii_lowercase + "é")
        if op == "r" and at < len(chars):
            chars[at] = letter
        elif op == "i":
            chars.insert(at, letter)
        elif op == "d" and at < len(chars) and len(chars) > 1:
            del chars[at]
        elif op == "t" and at + 1 < len(chars):
            chars[at], chars[at + 1] = chars[at + 1], chars[at]
    return "".join(chars)


def _term(rng: random.Random) -> str:
    kind = rng.randrange(5)
    name = rng.choice(NAMES).replace("_", " ")
    if kind == 0:
        return name
    if kind == 1:
        return _typo(name, rng)
    if kind == 2:
        return f"{rng.choice(NAMES)} {_typo(rng.choice(NAMES), rng)}".replace("_", " ")
    if kind == 3:
        return "".join(rng.choice(LETTERS) for _ in range(rng.randint(2, 9))).strip() or "ab"
    return name[: rng.randint(2, max(2, len(name)))]


def _text(term: str, rng: random.Random) -> str:
    """A search text (first last email phone), often around a variant of the term."""
    around = rng.choice([term, _typo(term, rng), _typo(_typo(term, rng), rng), term.upper()])
    first = rng.choice(NAMES).replace("_", " ")
    if rng.random() < 0.3:
        around = "".join(rng.choice(LETTERS) for _ in range(rng.randint(1, 12)))
    glue = rng.choice([" ", "-", ".", "", "x"])
    email = f"{first}{glue}{around}@example.be".replace(" ", "")
    return f"{first} {around} {email} +324{rng.randrange(10**7):07d}".lower()


async def test_the_pretest_keeps_every_word_similarity_match(db_url: str) -> None:
    rng = random.Random(16)  # noqa: S311
    conn = await connect(db_url)
    try:
        await conn.fetchval("SELECT word_similarity('a', 'a')")  # loads pg_trgm and its settings
        threshold = float(await conn.fetchval("SHOW pg_trgm.word_similarity_threshold"))
        assert threshold >= WORD_SIMILARITY_THRESHOLD  # the pre-test is sound at or above it
        matches = tested = 0
        for _ in range(300):
            term = _term(rng)
            texts = [_text(term, rng) for _ in range(300)]
            w = Where()
            clause = q_inline(w, term, "BE")
            word = w.args[1]  # q_args binds the LIKE pattern, the word, the phone
            dropped = await conn.fetch(
                f"SELECT c.search FROM (SELECT unnest(${len(w.args) + 1}::text[]) AS search,"
                f" NULL::text AS phone) c WHERE $2 <% c.search AND NOT {clause}",
                *w.args,
                texts,
            )
            assert [r["search"] for r in dropped] == [], (term, word)
            if inner_trigrams(word):
                tested += 1
                matches += int(
                    await conn.fetchval(
                        "SELECT count(*) FROM unnest($2::text[]) s WHERE $1 <% s", word, texts
                    )
                )
    finally:
        await conn.close()
    assert tested > 150  # half the terms take the pre-test (the others: too short, not ASCII)
    assert matches > 10_000  # and the texts do come close to them


async def test_short_or_non_ascii_terms_take_no_pretest() -> None:
    # merteas: 8 trigrams, a match shares 5 (0.6 x 8), at most 3 padded: 2 of its 5 inner ones,
    # so one of any 4 of them
    assert inner_trigrams("merteas") == ["eas", "ert", "mer", "rte"]
    assert inner_trigrams("jans") == []  # 3 padded of 5 trigrams already reach 0.6
    assert inner_trigrams("lefèvre") == []
    assert inner_trigrams("an") == []
    assert inner_trigrams("van damme") == []  # 6 padded of 10
    assert inner_trigrams("vandamme") == ["amm", "and", "dam", "mme"]  # 3 of 6 shared
