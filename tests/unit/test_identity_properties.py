"""Property tests of contract 3a beyond the fold's own (tests/unit/test_fold_properties.py):
undoing a merge gives back both cards; identifiers shared between guests (a family phone, a junk
address, a venue's blocked phone, a phone past the cap) follow the documented rule in every
order and batching, deterministically."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import uuid
from collections.abc import Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import SiteEvent, site_event_adapter
from services.domain.fold import Customer, TagState
from services.domain.merge import StaffTags, merge, staff_tags
from services.domain.refold import goes_back, refold, survivor_staff_after_undo
from services.domain.routing import MAX_CARDS_PER_IDENTIFIER
from services.ingest.handlers import process_batch
from services.ingest.ports import TenantConfig
from tests.support.builders import event
from tests.support.fakes import InMemoryIngestStore

SECRET = "property-secret"
T = "brasserie-leopold"
PHONE, E164 = "0470 12 34 56", "+32470123456"
TYPES = [
    "reservation.created",
    "reservation.completed",
    "reservation.no_show",
    "reservation.cancelled",
    "form.submitted",
    "integration.contact",
]
STAFF = ["vip", "local", "business", "friends_family"]
PROPERTY = settings(max_examples=100, deadline=None)


def docs(
    email: str | None, phone: str | None, minutes: Sequence[int], types: Sequence[str]
) -> list[SiteEvent]:
    return [
        site_event_adapter.validate_python(
            event(
                t,
                email=email,
                phone=phone,
                at=m,
                contact={"first_name": f"N{m % 3}", "newsletter_opt_in": bool(m % 2)},
            )
        )
        for m, t in zip(minutes, types, strict=False)
    ]


guest_events = st.lists(st.integers(0, 600), min_size=1, max_size=8, unique=True).flatmap(
    lambda ms: st.lists(st.sampled_from(TYPES), min_size=len(ms), max_size=len(ms)).map(
        lambda ts: (ms, ts)
    )
)
staff = st.builds(
    lambda tags, removed: StaffTags(
        {c: event_time(i) for i, c in enumerate(tags)}, frozenset(removed) - set(tags)
    ),
    st.lists(st.sampled_from(STAFF), max_size=3, unique=True),
    st.sets(st.sampled_from(["no_show", "regular", *STAFF])),
)


def event_time(i: int) -> Any:
    from tests.support.builders import BASE

    return BASE.replace(hour=i)


def without_id(c: Customer) -> dict[str, Any]:
    return {f.name: getattr(c, f.name) for f in dataclasses.fields(c) if f.name != "identity_key"}


@PROPERTY
@given(a_events=guest_events, b_events=guest_events, a_staff=staff, b_staff=staff)
def test_undo_of_a_merge_gives_back_both_cards(
    a_events: tuple[list[int], list[str]],
    b_events: tuple[list[int], list[str]],
    a_staff: StaffTags,
    b_staff: StaffTags,
) -> None:
    ea = docs("an.peeters@example.be", None, *a_events)  # the email card
    eb = docs(None, PHONE, *b_events)  # the phone card
    a = refold(uuid.UUID(int=1), T, ea, a_staff, region="BE")
    b = refold(uuid.UUID(int=2), T, eb, b_staff, region="BE")
    merged = merge(a, b, keep=a.id)
    moved = {e.event_id for e in eb}

    back = [
        e
        for e in [*ea, *eb]
        if goes_back(
            e,
            moved=e.event_id in moved,
            after_merge=False,
            absorbed_identifiers={E164},
            region="BE",
            blocked=(),
        )
    ]
    stay = [e for e in [*ea, *eb] if e not in back]
    again_a = refold(
        a.id,
        T,
        stay,
        survivor_staff_after_undo(merged, staff_tags(a), staff_tags(b)),
        region="BE",
    )
    again_b = refold(b.id, T, back, staff_tags(b), region="BE")

    assert without_id(again_a) == without_id(a)
    assert without_id(again_b) == without_id(b)


@PROPERTY
@given(events=guest_events, seed_staff=staff, data=st.data())
def test_refold_is_the_fold_in_any_order(
    events: tuple[list[int], list[str]], seed_staff: StaffTags, data: st.DataObject
) -> None:
    evs = docs("an.peeters@example.be", PHONE, *events)
    shuffled = data.draw(st.permutations(evs))

    assert refold(uuid.UUID(int=1), T, shuffled, seed_staff, region="BE") == refold(
        uuid.UUID(int=1), T, evs, seed_staff, region="BE"
    )


# -- shared identifiers, through the handler in every order and batching --------------------


def run(
    events: Sequence[SiteEvent], cuts: Sequence[int], config: TenantConfig | None = None
) -> InMemoryIngestStore:
    store = InMemoryIngestStore({T: config} if config else None)
    points = sorted({0, len(events), *(c % (len(events) + 1) for c in cuts)})

    async def go() -> None:
        for lo, hi in itertools.pairwise(points):
            if lo < hi:
                await process_batch(store, list(events[lo:hi]), secret=SECRET)

    asyncio.run(go())
    return store


def cards(store: InMemoryIngestStore) -> list[Customer]:
    return list(store.state.customers.values())


def holders(store: InMemoryIngestStore, value: str) -> list[Customer]:
    return [c for c in cards(store) if value in store.state.held(T, c.id)]


def shape(store: InMemoryIngestStore) -> list[Any]:
    """Everything but the random ids, to compare two runs of the same order."""

    def key(c: Customer) -> str:
        return repr(
            (sorted(store.state.held(T, c.id)), dataclasses.replace(c, id=uuid.UUID(int=0)))
        )

    ids = {c.id: i for i, c in enumerate(sorted(cards(store), key=key))}
    return sorted(
        (
            repr(dataclasses.replace(c, id=uuid.UUID(int=ids[c.id]))),
            sorted(store.state.held(T, c.id).items()),
        )
        for c in cards(store)
    )


def check_deterministic(events: Sequence[SiteEvent], cuts: Sequence[int], **kw: Any) -> None:
    assert shape(run(events, cuts, **kw)) == shape(run(events, cuts, **kw))


FAMILY = ["an@example.be", "jan@example.be", "mia@example.be"]


@PROPERTY
@given(
    data=st.data(),
    shape_=st.lists(st.tuples(st.sampled_from([*FAMILY, None]), st.booleans()), min_size=2),
)
def test_a_family_phone_never_merges_two_emails(
    data: st.DataObject, shape_: list[tuple[str | None, bool]]
) -> None:
    events = [
        *(
            docs(e, PHONE if with_phone or e is None else None, [i], ["reservation.created"])[0]
            for i, (e, with_phone) in enumerate(shape_)
        ),
    ]
    order = data.draw(st.permutations(events))
    cuts = data.draw(st.lists(st.integers(0, 20), max_size=3))

    store = run(order, cuts)

    for email in {e for e, _ in shape_ if e is not None}:
        assert len(holders(store, email)) == 1  # each address: exactly one card
    for c in cards(store):  # and no card holds two of the family's addresses
        assert sum(e in store.state.held(T, c.id) for e in FAMILY) <= 1
    assert all(m.reason == "linked_by_event" for m in store.state.merges)
    for m in store.state.merges:  # a merge only ever absorbs a card without an email
        assert m.absorbed_id not in {c.id for c in cards(store)}
    assert len(store.state.history) == len(events)
    check_deterministic(order, cuts)


@PROPERTY
@given(
    data=st.data(),
    phones=st.lists(
        st.sampled_from(["0471 11 11 11", "0472 22 22 22", "0473 33 33 33"]), min_size=1
    ),
)
def test_a_junk_address_never_links_guests(data: st.DataObject, phones: list[str]) -> None:
    events = [
        docs(email, p, [i], ["form.submitted"])[0]
        for i, p in enumerate(phones)
        for email in ("noemail@gmail.com",)
    ]
    order = data.draw(st.permutations(events))
    cuts = data.draw(st.lists(st.integers(0, 20), max_size=3))

    store = run(order, cuts)

    assert len(cards(store)) == len(set(phones))  # one card per phone, none for the address
    assert holders(store, "noemail@gmail.com") == []
    assert store.state.merges == [] and store.state.suggestions == set()
    check_deterministic(order, cuts)


@PROPERTY
@given(data=st.data(), emails=st.lists(st.sampled_from(FAMILY), min_size=1, max_size=6))
def test_a_blocked_phone_identifies_nobody(data: st.DataObject, emails: list[str]) -> None:
    config = TenantConfig(blocked=frozenset({E164}))
    events = [docs(e, PHONE, [i], ["reservation.created"])[0] for i, e in enumerate(emails)]
    events.append(docs(None, PHONE, [99], ["reservation.created"])[0])  # the phone alone
    order = data.draw(st.permutations(events))
    cuts = data.draw(st.lists(st.integers(0, 20), max_size=3))

    store = run(order, cuts, config=config)

    assert len(cards(store)) == len(set(emails))
    assert holders(store, E164) == []
    assert store.state.merges == [] and store.state.suggestions == set()
    assert len(store.state.history) == len(emails)  # the phone-only event: unidentifiable
    check_deterministic(order, cuts, config=config)


@PROPERTY
@given(data=st.data(), lone=st.integers(1, 3))
def test_a_phone_on_more_than_five_cards_stops_linking(data: st.DataObject, lone: int) -> None:
    guests = [f"guest{i}@example.be" for i in range(MAX_CARDS_PER_IDENTIFIER + 2)]
    events = [docs(e, PHONE, [i], ["reservation.created"])[0] for i, e in enumerate(guests)]
    alone = docs(None, PHONE, list(range(100, 100 + lone)), ["form.submitted"] * lone)
    order = [*data.draw(st.permutations(events)), *alone]  # the phone alone, after the cap
    cuts = data.draw(st.lists(st.integers(0, 20), max_size=3))

    store = run(order, cuts)

    # past the cap the phone alone chooses no card: each such event starts a card of its own
    assert len(cards(store)) == len(guests) + lone
    assert store.state.merges == []
    for email in guests:
        assert len(holders(store, email)) == 1
    check_deterministic(order, cuts)


def test_staff_tags_round_trip_through_json() -> None:
    s = StaffTags({"vip": event_time(3)}, frozenset({"no_show"}))
    assert StaffTags.from_json(s.to_json()) == s
    c = Customer(uuid.UUID(int=1), T, "email:x@y.be")
    c.tags = {"vip": TagState("manual", event_time(1)), "no_show": TagState("auto", event_time(2))}
    assert staff_tags(c) == StaffTags({"vip": event_time(1)}, frozenset())
