"""Routing an event to a card (contract 3a): the five rules, the automatic merge, junk and
blocked identifiers, the cap, and the same decision whatever order the cards come in."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain.routing import CardIdentifiers, Route, _rules, is_junk, route
from tests.support.builders import BASE

E, E2, P, P2 = "an@example.be", "bo@example.be", "+32470123456", "+32471223344"
A, B, C, D = (UUID(int=n) for n in (1, 2, 3, 4))
RECEPTION = "+3222345678"


def holder(
    card: UUID, emails: dict[str, int] | None = None, phones: dict[str, int] | None = None
) -> CardIdentifiers:
    """A card holding these identifiers, each tied so many minutes after BASE."""

    def at(ties: dict[str, int] | None) -> dict[str, datetime]:
        return {k: BASE + timedelta(minutes=m) for k, m in (ties or {}).items()}

    return CardIdentifiers(card, at(emails), at(phones))


# -- the five rules ------------------------------------------------------------------------------


def test_rule_1_the_card_holding_the_email_which_gets_the_new_phone() -> None:
    cards = [holder(A, {E: 0}), holder(B, {E2: 0})]

    assert route(E, P, cards) == Route(1, A, tie=(P,))
    assert route(E, None, cards) == Route(1, A)


def test_rule_1_an_email_on_two_cards_goes_to_its_oldest_tie() -> None:
    assert route(E, None, [holder(A, {E: 9}), holder(B, {E: 1})]) == Route(1, B)


def test_rule_2_a_phone_alone_goes_to_the_card_holding_it() -> None:
    assert route(None, P, [holder(A, {E: 0}, {P: 3})]) == Route(2, A)


def test_rule_2_a_phone_on_several_cards_goes_to_its_oldest_tie_then_the_smaller_id() -> None:
    cards = [holder(C, {E: 0}, {P: 5}), holder(B, {E2: 0}, {P: 2}), holder(A, {}, {P: 7})]

    assert route(None, P, cards) == Route(2, B)
    assert route(None, P, [holder(C, {}, {P: 2}), holder(B, {}, {P: 2})]) == Route(2, B)


def test_rule_3_the_phone_card_without_email_gets_the_email() -> None:
    """The guest who booked by phone and later online."""
    assert route(E, P, [holder(B, {}, {P: 0})]) == Route(3, B, tie=(E,))


def test_rule_4_a_phone_shared_with_other_emails_makes_a_new_card_and_a_suggestion() -> None:
    """A family or colleagues sharing a phone."""
    cards = [holder(C, {"cy@example.be": 0}, {P: 8}), holder(B, {E2: 0}, {P: 4})]

    assert route(E, P, cards) == Route(4, None, tie=(E, P), suggest=B)


def test_rule_5_nothing_known_makes_a_new_card() -> None:
    assert route(E, P, []) == Route(5, None, tie=(E, P))
    assert route(E, None, [holder(A, {E2: 0}, {P: 0})]) == Route(5, None, tie=(E,))
    assert route(None, P2, [holder(A, {E2: 0}, {P: 0})]) == Route(5, None, tie=(P2,))


# -- the automatic merge and suggestions --------------------------------------------------------


def test_an_event_tying_an_email_card_to_a_phone_card_without_email_merges_them() -> None:
    cards = [holder(A, {E: 5}), holder(B, {}, {P: 1})]

    assert route(E, P, cards) == Route(1, A, tie=(P,), absorb=(B,))


def test_cards_with_another_email_are_suggested_never_merged() -> None:
    cards = [holder(A, {E: 5}), holder(C, {E2: 1}, {P: 1}), holder(B, {}, {P: 3})]

    assert route(E, P, cards) == Route(1, A, tie=(P,), absorb=(B,), suggest=C)


def test_a_phone_already_on_the_card_suggests_nothing_again() -> None:
    """The pair was suggested when the phone was first tied; each later booking is quiet."""
    cards = [holder(A, {E: 5}, {P: 6}), holder(C, {E2: 1}, {P: 1})]

    assert route(E, P, cards) == Route(1, A)


def test_phone_cards_without_email_beside_the_chosen_one_are_merged_into_it() -> None:
    """Not in the five rules: P on two cards without email (after an undo, an import) and E
    new. Rule 3 takes the oldest tie; the event then ties E to P on the other: merged."""
    cards = [holder(C, {}, {P: 4}), holder(B, {}, {P: 2})]

    assert route(E, P, cards) == Route(3, B, tie=(E,), absorb=(C,))


# -- junk, blocked, the cap ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "identifier",
    [
        "test@test.com",
        "a@a.com",
        "xx@y.be",
        "noemail@gmail.com",
        "no-reply@resto.be",
        "geen@telenet.be",
        "aucun@skynet.be",
        "+32444444444",
        "+3222222222",
        "+15555555555",
    ],
)
def test_placeholders_are_junk(identifier: str) -> None:
    assert is_junk(identifier)


@pytest.mark.parametrize("identifier", [E, "a@ab.com", "annie@a.be", P, "+3224444444"])
def test_real_identifiers_are_not_junk(identifier: str) -> None:
    assert not is_junk(identifier)


def test_junk_never_identifies_nor_links() -> None:
    cards = [holder(A, {"test@test.com": 0}, {P2: 0}), holder(B, {}, {P: 0})]

    assert route("test@test.com", None, cards) is None
    assert route("test@test.com", P, cards) == Route(2, B)  # as if no email was given
    assert route(E, "+32444444444", cards) == Route(5, None, tie=(E,))


def test_a_venues_blocked_identifiers_never_identify_nor_link() -> None:
    blocked = frozenset({RECEPTION, "info@resto.be"})
    cards = [holder(A, {E2: 0}, {RECEPTION: 0})]

    assert route(None, RECEPTION, cards, blocked=blocked) is None
    assert route(E, RECEPTION, cards, blocked=blocked) == Route(5, None, tie=(E,))
    assert route("info@resto.be", P, [holder(B, {"info@resto.be": 0})], blocked=blocked) == (
        Route(5, None, tie=(P,))
    )
    # a card whose only email is blocked counts as a card without email
    assert route(E, P, [holder(B, {"info@resto.be": 0}, {P: 0})], blocked=blocked) == (
        Route(3, B, tie=(E,))
    )


def test_an_identifier_on_more_than_five_cards_stops_linking() -> None:
    five = [holder(UUID(int=n), {}, {P: n}) for n in range(1, 6)]
    six = [*five, holder(UUID(int=6), {}, {P: 6})]

    assert route(None, P, five) == Route(2, UUID(int=1))
    assert route(None, P, six) == Route(5, None, tie=(P,))
    assert route(E, P, six) == Route(5, None, tie=(E, P))  # no rule 3, no merge of six cards
    assert route(E, P, [holder(A, {E: 0}), *six]) == Route(1, A, tie=(P,))


# -- determinism ---------------------------------------------------------------------------------

EMAILS = [E, E2, "test@test.com", "info@resto.be"]
PHONES = [P, P2, RECEPTION, "+32444444444"]
BLOCKED = frozenset({RECEPTION, "info@resto.be"})


@st.composite
def lookups(draw: st.DrawFn) -> list[CardIdentifiers]:
    """Up to 8 cards over a small pool of identifiers, with frequent equal tie times."""
    ids = draw(st.lists(st.integers(1, 20), max_size=8, unique=True))
    times = st.integers(0, 3).map(lambda m: BASE + timedelta(minutes=m))
    return [
        CardIdentifiers(
            UUID(int=n),
            draw(st.dictionaries(st.sampled_from(EMAILS), times)),
            draw(st.dictionaries(st.sampled_from(PHONES), times)),
        )
        for n in ids
    ]


@settings(max_examples=500, deadline=None)
@given(
    data=st.data(),
    cards=lookups(),
    email=st.sampled_from([None, *EMAILS]),
    phone=st.sampled_from([None, *PHONES]),
    blocked=st.sampled_from([frozenset(), BLOCKED]),
)
def test_the_same_decision_whatever_the_order_of_the_cards(
    data: st.DataObject,
    cards: list[CardIdentifiers],
    email: str | None,
    phone: str | None,
    blocked: frozenset[str],
) -> None:
    decision = route(email, phone, cards, blocked=blocked)

    assert route(email, phone, data.draw(st.permutations(cards)), blocked=blocked) == decision
    if decision is None:
        return
    ids = {c.id for c in cards}
    assert not any(is_junk(i) or i in blocked for i in decision.tie)
    assert decision.card is None or decision.card in ids
    assert {*decision.absorb, decision.suggest} <= ids | {None}
    assert decision.card not in {*decision.absorb, decision.suggest} - {None}
    for absorbed in (c for c in cards if c.id in decision.absorb):  # phone cards, never emailed
        assert phone in absorbed.phones
        assert all(is_junk(x) or x in blocked for x in absorbed.emails)


@settings(max_examples=500, deadline=None)
@given(
    cards=lookups().map(lambda cards: cards[:1]),
    email=st.sampled_from([None, *EMAILS]),
    phone=st.sampled_from([None, *PHONES]),
    blocked=st.sampled_from([frozenset(), BLOCKED]),
)
def test_the_short_cuts_decide_as_the_rules(
    cards: list[CardIdentifiers], email: str | None, phone: str | None, blocked: frozenset[str]
) -> None:
    # route() answers a first-seen guest and a returning one without running every rule;
    # for no card or one card, whatever it holds, it must be the rules' answer.
    decision = route(email, phone, cards, blocked=blocked)
    e, p = (
        i if i is not None and not is_junk(i) and i not in blocked else None for i in (email, phone)
    )

    assert decision == (None if e is None and p is None else _rules(e, p, cards, blocked))
