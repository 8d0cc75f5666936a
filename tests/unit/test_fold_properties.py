"""Property tests of contract 3.1, 3.3 and 3a: for guests who share no identifier, any order and
any batching of a tenant's events gives exactly the same cards, and replaying them changes
nothing. A guest's events that carry only their email and only their phone are two cards until
an event carries both; then they are one (an automatic merge)."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import itertools
from collections.abc import Sequence
from datetime import UTC, timedelta, timezone
from typing import Any
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import SiteEvent, site_event_adapter
from services.domain.fold import Customer, apply, identify, new_customer
from services.ingest.handlers import process_batch
from tests.support.fakes import BASE, InMemoryIngestStore

SECRET = "property-secret"
TENANTS = ["venue-a", "venue-b"]
# A few guests who share no identifier, each written in the ways guests write them. Several
# spellings of the same person (case, spaces, 0032 / +32 / national) must land on one card.
GUESTS: list[tuple[list[str], list[str]]] = [
    (["an@example.be", "  AN@Example.be"], ["0470 12 34 56", "+32 470 12 34 56"]),
    (["bo@example.be"], ["0032 471 22 33 44"]),
    ([], ["0472 99 88 77"]),  # a guest who only ever gives a phone
    (["cy@example.be"], []),  # and one who only gives an email
]
OFFSETS = [
    UTC,
    timezone(timedelta(hours=1)),
    timezone(timedelta(hours=2)),
    timezone(timedelta(hours=-5)),
]
# Import tags: at most 2 codes per event, from a vocabulary of 4 that includes the two auto
# codes (a tag both imported and derived must end up the same in any order). The 9-tag cap makes
# order matter once a customer would get a tenth tag (which tags are kept depends on who came
# first), so the vocabulary is kept far below 9 and the cap is never reached here.
IMPORT_TAGS = ["vip", "local", "no_show", "regular"]
PROPERTY_SETTINGS = settings(max_examples=100, deadline=None)


def optional(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value or None (absent)."""
    return st.none() | values


@st.composite
def event_docs(draw: st.DrawFn) -> dict[str, Any]:
    """One event document of any type about someone from the pool."""
    type_ = draw(st.sampled_from(sorted(_DATA)))
    # Minutes from a narrow window and several UTC offsets: ties on occurred_at are frequent,
    # also between the same instant written in two offsets.
    occurred = (BASE + timedelta(minutes=draw(st.integers(0, 30)))).astimezone(
        draw(st.sampled_from(OFFSETS))
    )
    emails, phones = draw(st.sampled_from(GUESTS))
    email = draw(st.sampled_from([None, "not-an-email", *emails]))
    phone = draw(st.sampled_from([None, *phones]))
    if email in (None, "not-an-email") and phone is None:  # every event is identifiable
        email, phone = (emails[0], None) if emails else (email, phones[0])
    contact: dict[str, Any] = {"email": email, "phone": phone}
    if draw(st.booleans()):
        contact["name"] = draw(st.sampled_from(["Jan Van den Berg", "Cher", "Marie Dubois"]))
    else:
        contact["first_name"] = draw(optional(st.sampled_from(["An", "Anneke", "Bo"])))
        contact["last_name"] = draw(optional(st.sampled_from(["Peeters", "Janssens"])))
    contact["language"] = draw(optional(st.sampled_from(["nl", "fr-BE", "EN", "xx1"])))
    contact["newsletter_opt_in"] = draw(optional(st.booleans()))
    return {
        "event_id": str(draw(st.uuids(version=4))),
        "type": type_,
        "tenant_id": draw(st.sampled_from(TENANTS)),
        "occurred_at": occurred.isoformat(),
        "source": draw(st.sampled_from(["booking-widget", "site-form", "pos"])),
        "data": {
            "contact": {k: v for k, v in contact.items() if v is not None},
            **draw(_DATA[type_](occurred)),
        },
    }


def _reservation(occurred: Any) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "reservation_id": st.sampled_from(["R-1", "R-2"]),
            "starts_at": st.integers(1, 20).map(
                lambda d: (occurred + timedelta(days=d)).isoformat()
            ),
            "party_size": st.integers(1, 8),
        },
        optional={"notes": st.sampled_from(["window table", "birthday"])},
    )


def _ref(occurred: Any) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"reservation_id": st.sampled_from(["R-1", "R-2"])})


_DATA: dict[str, Any] = {
    "reservation.created": _reservation,
    "reservation.updated": _reservation,
    "reservation.cancelled": lambda occurred: st.fixed_dictionaries(
        {"reservation_id": st.just("R-1")}, optional={"reason": st.just("ill")}
    ),
    "reservation.no_show": _ref,
    "reservation.completed": _ref,
    "form.submitted": lambda occurred: st.fixed_dictionaries(
        {}, optional={"form_id": st.just("contact"), "message": st.just("Group of 12?")}
    ),
    "integration.contact": lambda occurred: st.fixed_dictionaries(
        {"integration": st.sampled_from(["pos", "mailchimp"])}
    ),
    "contact.imported": lambda occurred: st.fixed_dictionaries(
        {"import_id": st.just("imp-1"), "row": st.integers(1, 50)},
        optional={
            "tags": st.lists(st.sampled_from(IMPORT_TAGS), max_size=2, unique=True),
            "first_contact_at": st.integers(1, 400).map(
                lambda d: (occurred - timedelta(days=d)).isoformat()
            ),
        },
    ),
}


def site_events(max_size: int = 25) -> st.SearchStrategy[list[SiteEvent]]:
    docs = st.lists(event_docs(), min_size=1, max_size=max_size, unique_by=lambda d: d["event_id"])
    return docs.map(lambda ds: [site_event_adapter.validate_python(d) for d in ds])


# -- helpers ------------------------------------------------------------------------------------

Key = tuple[str, str]


def fold_all(events: Sequence[SiteEvent], threshold: int = 3) -> list[Customer]:
    """The reference: one card per set of a tenant's events linked by shared identifiers (no
    guest shares one with another), each event folded into it in the order given."""
    components: dict[Key, set[Key]] = {}  # (tenant, identifier) -> its component (shared)
    for event in events:
        identity = identify(event.data.contact, "BE")
        assert identity is not None
        keys = {(event.tenant_id, i) for i in (identity.email, identity.phone) if i}
        joined = set(keys).union(*(components.get(k, set()) for k in keys))
        for k in joined:
            components[k] = joined
    ids = itertools.count(1)
    cards: dict[int, Customer] = {}
    for event in events:
        identity = identify(event.data.contact, "BE")
        assert identity is not None
        anchor = (event.tenant_id, identity.email or identity.phone or "")
        key = id(components[anchor])
        current = cards.get(key) or new_customer(event.tenant_id, identity, UUID(int=next(ids)))
        cards[key] = apply(current, event, identity, regular_threshold=threshold).customer
    return list(cards.values())


def profile(customer: Customer) -> dict[str, Any]:
    """Every field of the card but its (randomly chosen) id and the key it was created by."""
    return {
        f.name: getattr(customer, f.name)
        for f in dataclasses.fields(customer)
        if f.name not in ("id", "identity_key")
    }


def profiles(customers: Sequence[Customer]) -> list[dict[str, Any]]:
    return sorted((profile(c) for c in customers), key=repr)


def store_profiles(store: InMemoryIngestStore) -> list[dict[str, Any]]:
    return profiles(list(store.state.customers.values()))


async def ingest(store: InMemoryIngestStore, batches: Sequence[Sequence[SiteEvent]]) -> None:
    for batch in batches:
        await process_batch(store, batch, secret=SECRET)


def split(events: Sequence[SiteEvent], cuts: Sequence[int]) -> list[list[SiteEvent]]:
    points = sorted({0, len(events), *(c % (len(events) + 1) for c in cuts)})
    return [list(events[a:b]) for a, b in itertools.pairwise(points) if a < b]


# -- properties ---------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(data=st.data(), events=site_events(), threshold=st.sampled_from([1, 2, 3]))
def test_fold_gives_the_same_profiles_in_any_order(
    data: st.DataObject, events: list[SiteEvent], threshold: int
) -> None:
    shuffled = data.draw(st.permutations(events), label="order")

    assert profiles(fold_all(shuffled, threshold)) == profiles(fold_all(events, threshold))


@PROPERTY_SETTINGS
@given(data=st.data(), events=site_events())
def test_handler_in_any_order_and_batching_gives_the_profiles_of_the_fold(
    data: st.DataObject, events: list[SiteEvent]
) -> None:
    shuffled = data.draw(st.permutations(events), label="order")
    cuts = data.draw(st.lists(st.integers(0, 30), max_size=4), label="batch cuts")
    store = InMemoryIngestStore()

    asyncio.run(ingest(store, split(shuffled, cuts)))

    assert store_profiles(store) == profiles(fold_all(events))
    # every event exactly once in its customer's history, every statement in the ledger
    assert sorted(str(h.event_id) for _, h in store.state.history) == sorted(
        str(e.event_id) for e in events
    )
    assert len(store.state.consent) == sum(
        e.data.contact.newsletter_opt_in is not None for e in events
    )


@PROPERTY_SETTINGS
@given(data=st.data(), events=site_events())
def test_replaying_the_same_events_through_the_handler_changes_nothing(
    data: st.DataObject, events: list[SiteEvent]
) -> None:
    store = InMemoryIngestStore()
    asyncio.run(ingest(store, [events]))
    before = copy.deepcopy(store.state)

    replay = data.draw(st.permutations(events), label="replay order")
    cuts = data.draw(st.lists(st.integers(0, 30), max_size=3), label="replay cuts")
    reports = asyncio.run(replay_reports(store, split(replay, cuts)))

    assert sum(r.duplicates for r in reports) == len(events)
    assert sum(r.applied + r.created + r.suppressed for r in reports) == 0
    assert all(r.alerts == [] for r in reports)
    assert store.state == before  # customers, history, consent, alerts, ledger


async def replay_reports(
    store: InMemoryIngestStore, batches: Sequence[Sequence[SiteEvent]]
) -> list[Any]:
    return [await process_batch(store, b, secret=SECRET) for b in batches]
