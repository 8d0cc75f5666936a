"""Which card an event goes to (contract 3a): the five rules, junk identifiers and the cap.

Pure: the caller looks up the cards that hold the event's email or phone (all of them, so the
cap can be counted) and applies the decision: ties, merges, a duplicate suggestion.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Literal

import phonenumbers

from schemas.events import Contact
from services.domain.fold import Identity, identify

MAX_CARDS_PER_IDENTIFIER = 5  # an identifier on more cards than this stops linking
JUNK_EMAILS = frozenset(
    {
        "test@test.com",
        "test@example.com",
        "email@email.com",
        "mail@mail.com",
        "no@no.com",
    }
)
JUNK_LOCAL_PARTS = frozenset(
    {  # what guests type when they will not give an address
        "noemail",
        "no-email",
        "no.email",
        "no_email",
        "nomail",
        "none",
        "noreply",
        "no-reply",
        "geen",
        "geenemail",
        "geen-email",
        "geenmail",
        "aucun",
        "pasdemail",
        "pas-de-mail",
    }
)
_ONE_LETTER_EACH = re.compile(r"^(.)\1*@(.)\2*\.[a-z]+$")  # a@a.com, xx@y.be


@dataclass(frozen=True)
class CardIdentifiers:
    """An existing card as routing sees it: each identifier with when it was tied to it."""

    id: uuid.UUID
    emails: Mapping[str, datetime] = field(default_factory=dict)
    phones: Mapping[str, datetime] = field(default_factory=dict)
    apart: frozenset[uuid.UUID] = frozenset()  # cards staff said are another person


@dataclass(frozen=True, slots=True)
class Route:
    """Where an event goes (``card`` None: a new card) and what it changes on the way."""

    rule: Literal[1, 2, 3, 4, 5]
    card: uuid.UUID | None
    tie: tuple[str, ...] = ()  # the event's identifiers that the card does not hold yet
    absorb: tuple[uuid.UUID, ...] = ()  # merged into ``card`` now (reason linked_by_event)
    suggest: uuid.UUID | None = None  # paired with ``card`` as a duplicate suggestion


def is_junk(identifier: str) -> bool:
    """A placeholder that identifies nobody: built-in emails, or a phone of one repeated digit."""
    if "@" not in identifier:
        return _one_digit(identifier)
    local = identifier.partition("@")[0]
    return (
        identifier in JUNK_EMAILS
        or local in JUNK_LOCAL_PARTS
        or _ONE_LETTER_EACH.match(identifier) is not None
    )


def usable_identity(
    contact: Contact, region: str, blocked: Collection[str] = frozenset()
) -> Identity | None:
    """Who an event is about once junk and the venue's blocked identifiers are set aside: the
    fold never shows them on a card, routing never follows them. None: unidentifiable."""
    identity = identify(contact, region)
    if identity is None:
        return None
    email, phone = (
        i if i is not None and not is_junk(i) and i not in blocked else None
        for i in (identity.email, identity.phone)
    )
    if email is None and phone is None:
        return None
    if (email, phone) == (identity.email, identity.phone):
        return identity
    return Identity(f"email:{email}" if email else f"phone:{phone}", email, phone)


def route(
    email: str | None,
    phone: str | None,
    cards: Iterable[CardIdentifiers],
    *,
    blocked: Collection[str] = frozenset(),
) -> Route | None:
    """The route of an event with this normalised email and phone; None if it is unidentifiable.

    ``cards`` are the venue's cards holding either identifier, in any order; ``blocked`` is
    the venue's own list. Junk and blocked identifiers are ignored; one held by more than
    ``MAX_CARDS_PER_IDENTIFIER`` cards is still tied but chooses, merges and suggests nothing.
    """
    e, p = (
        i if i is not None and not is_junk(i) and i not in blocked else None for i in (email, phone)
    )
    if e is None and p is None:
        return None
    known = list(cards)
    # The two common cases first, as the rules decide them (tests/unit/test_routing.py):
    if not known:  # a guest seen for the first time
        return Route(5, None, tuple(i for i in (e, p) if i is not None))
    if len(known) == 1:  # a guest coming back to the one card that holds all they gave
        only = known[0]
        if (e is None or e in only.emails) and (p is None or p in only.phones):
            return Route(1 if e is not None else 2, only.id)
    return _rules(e, p, known, blocked)


def _rules(
    e: str | None, p: str | None, known: list[CardIdentifiers], blocked: Collection[str]
) -> Route:
    """The five rules, for a usable email and phone (at least one) and the cards holding them."""
    by_e = _holders(known, e, "emails")
    by_p = _holders(known, p, "phones")
    e_links, p_links = _links(e, by_e), _links(p, by_p)

    def emailed(c: CardIdentifiers) -> bool:
        return any(not is_junk(x) and x not in blocked for x in c.emails)

    rule: Literal[1, 2, 3, 4, 5]
    target: CardIdentifiers | None = None
    if e_links and by_e:
        rule, target = 1, by_e[0]
    elif not e_links:
        rule, target = (2, by_p[0]) if p_links and by_p else (5, None)
    elif p_links and by_p:
        without_email = [c for c in by_p if not emailed(c)]
        rule, target = (3, without_email[0]) if without_email else (4, None)
    else:
        rule = 5
    held = set(target.emails) | set(target.phones) if target else set()
    tie = tuple(i for i in (e, p) if i is not None and i not in held)
    card = None if target is None else target.id
    if not (e_links and p_links):  # the event ties no email to a phone
        return Route(rule, card, tie)
    # Cards staff kept apart from the target (a dismissed pair, an undone merge) stay apart.
    others = [
        c
        for c in by_p
        if c is not target
        and (target is None or (c.id not in target.apart and target.id not in c.apart))
    ]
    absorb = tuple(c.id for c in others if not emailed(c))
    # Cards with other emails are never merged automatically; a new tie suggests one pair.
    suggest = next((c.id for c in others if emailed(c)), None) if p in tie else None
    return Route(rule, card, tie, absorb, suggest)


def _holders(
    cards: list[CardIdentifiers], identifier: str | None, kind: Literal["emails", "phones"]
) -> list[CardIdentifiers]:
    """The cards holding ``identifier``, the oldest tie first (then the smaller card id)."""
    if identifier is None:
        return []
    held = [(getattr(c, kind)[identifier], c) for c in cards if identifier in getattr(c, kind)]
    return [c for _, c in sorted(held, key=lambda tied: (tied[0], tied[1].id.int))]


def _links(identifier: str | None, holders: list[CardIdentifiers]) -> bool:
    return identifier is not None and len(holders) <= MAX_CARDS_PER_IDENTIFIER


@lru_cache(maxsize=4096)
def _one_digit(phone: str) -> bool:
    if len(set(phone[-4:])) > 1:  # not even its last digits repeat: no parse needed
        return False
    try:
        national = str(phonenumbers.parse(phone, None).national_number)
    except phonenumbers.NumberParseException:
        return False
    return len(set(national)) == 1
