"""The pure fold (services.domain.fold): contract section 3 for one customer."""

from __future__ import annotations

import copy
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

from schemas.events import SiteEvent
from services.domain.fold import (
    ALERT_NAMESPACE,
    DEFAULT_REGULAR_THRESHOLD,
    ConsentStatement,
    Customer,
    Identity,
    Outcome,
    TagState,
    apply,
    identify,
    new_customer,
)
from tests.support.fakes import BASE, make_event, minutes

TENANT = "brasserie-leopold"
CUSTOMER_ID = UUID("00000000-0000-4000-8000-000000000001")
AN = "email:an.peeters@example.be"


def eid(n: int) -> UUID:
    """A readable, ordered event id: eid(1) < eid(2) as strings too."""
    return UUID(f"00000000-0000-4000-8000-{n:012d}")


def identity_of(event: SiteEvent, region: str = "BE") -> Identity:
    identity = identify(event.data.contact, region)
    assert identity is not None
    return identity


def fold(
    *events: SiteEvent,
    customer: Customer | None = None,
    threshold: int = DEFAULT_REGULAR_THRESHOLD,
) -> tuple[Customer, list[Outcome]]:
    """Fold events (all about one identity) in the given order into one customer."""
    identity = identity_of(events[0])
    c = customer or new_customer(TENANT, identity, CUSTOMER_ID)
    outcomes = []
    for event in events:
        ident = identity_of(event)
        assert ident.key == c.identity_key
        outcome = apply(c, event, ident, regular_threshold=threshold)
        outcomes.append(outcome)
        c = outcome.customer
    return c, outcomes


def customer_with(**fields: Any) -> Customer:
    base = new_customer(TENANT, identity_of(make_event()), CUSTOMER_ID)
    return dataclasses.replace(base, **fields)


def tags(*codes: str) -> dict[str, TagState]:
    """Manual tags set by staff a month before BASE."""
    return {code: TagState("manual", BASE - timedelta(days=30)) for code in codes}


# -- identity (3.2) -----------------------------------------------------------------------------


def test_identity_is_the_normalised_email_first() -> None:
    event = make_event(contact={"email": "  An.Peeters@Example.BE ", "phone": "0470 12 34 56"})

    identity = identify(event.data.contact, "BE")

    assert identity == Identity(
        "email:an.peeters@example.be", "an.peeters@example.be", "+32470123456"
    )


def test_identity_is_the_e164_phone_without_email() -> None:
    event = make_event(contact={"email": None, "phone": "0032 470 12 34 56"})

    assert identify(event.data.contact, "BE") == Identity(
        "phone:+32470123456", None, "+32470123456"
    )


@pytest.mark.parametrize("bad_email", ["an.peeters", "an@@example.be", "   ", ""])
def test_unusable_email_with_usable_phone_gives_the_phone_identity(bad_email: str) -> None:
    event = make_event(contact={"email": bad_email, "phone": "+32 470 12 34 56"})

    identity = identify(event.data.contact, "BE")

    assert identity is not None
    assert identity.key == "phone:+32470123456"
    assert identity.email is None


@pytest.mark.parametrize(
    "contact",
    [
        {"email": None, "phone": None},
        {"email": "not-an-email", "phone": None},
        {"email": None, "phone": "12"},
        {"email": "an@", "phone": "call me"},
    ],
)
def test_no_usable_email_nor_phone_gives_no_identity(contact: dict[str, Any]) -> None:
    assert identify(make_event(contact=contact).data.contact, "BE") is None


def test_phone_identity_reads_national_numbers_in_the_tenant_region() -> None:
    contact = make_event(contact={"email": None, "phone": "06 12 34 56 78"}).data.contact

    assert identify(contact, "FR") == Identity("phone:+33612345678", None, "+33612345678")
    assert identify(contact, "BE") is None


def test_new_customer_carries_its_identity() -> None:
    by_email = new_customer(TENANT, Identity(AN, "an.peeters@example.be", "+32470123456"), eid(1))
    by_phone = new_customer(TENANT, Identity("phone:+32470123456", None, "+32470123456"), eid(2))

    assert (by_email.id, by_email.tenant_id, by_email.identity_key) == (eid(1), TENANT, AN)
    assert by_email.email == "an.peeters@example.be"
    assert by_phone.phone == "+32470123456"
    assert by_phone.email is None


# -- last-writer-wins per field (3.3) -----------------------------------------------------------


def test_newer_event_overwrites_a_field() -> None:
    c, _ = fold(
        make_event(at=0, contact={"first_name": "An"}),
        make_event(at=10, contact={"first_name": "Anneke"}),
    )

    assert c.first_name == "Anneke"


def test_late_older_event_never_overwrites_a_newer_value() -> None:
    c, _ = fold(
        make_event(at=10, contact={"first_name": "Anneke", "phone": "0471 22 33 44"}),
        make_event(at=0, contact={"first_name": "An", "phone": "0470 12 34 56"}),
    )

    assert c.first_name == "Anneke"
    assert c.phone == "+32471223344"


def test_late_older_event_fills_an_empty_field() -> None:
    c, _ = fold(
        make_event(at=10, contact={"language": None, "last_name": None}),
        make_event(at=0, contact={"language": "fr-BE", "last_name": "Dupont"}),
    )

    assert c.language == "fr"
    assert c.last_name == "Dupont"


def test_absent_value_never_clears_a_field() -> None:
    c, _ = fold(
        make_event(at=0),
        make_event(
            at=10, contact={"first_name": None, "last_name": None, "language": None, "phone": None}
        ),
    )

    assert (c.first_name, c.last_name, c.language, c.phone) == (
        "An",
        "Peeters",
        "nl",
        "+32470123456",
    )


def test_unusable_language_does_not_overwrite_a_usable_one() -> None:
    c, _ = fold(
        make_event(at=0, contact={"language": "nl"}), make_event(at=10, contact={"language": "xx1"})
    )

    assert c.language == "nl"


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_same_occurred_at_is_broken_by_event_id_in_any_order(order: tuple[int, int]) -> None:
    events = [
        make_event(at=5, event_id=eid(1), contact={"first_name": "Low"}),
        make_event(at=5, event_id=eid(2), contact={"first_name": "High"}),
    ]

    c, _ = fold(*(events[i] for i in order))

    assert c.first_name == "High"


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_same_instant_in_other_offsets_is_a_tie_broken_by_event_id(
    order: tuple[int, int],
) -> None:
    brussels = datetime(2026, 11, 1, 19, 0, tzinfo=timezone(timedelta(hours=1)))
    events = [
        make_event(at=brussels, event_id=eid(9), contact={"first_name": "Brussels"}),
        make_event(at=brussels.astimezone(UTC), event_id=eid(3), contact={"first_name": "Utc"}),
    ]

    c, _ = fold(*(events[i] for i in order))

    assert c.first_name == "Brussels"


def test_occurred_at_not_utc_wall_clock_decides_the_newest() -> None:
    # 18:30+00:00 is later than 19:00+01:00 (= 18:00 UTC)
    c, _ = fold(
        make_event(at=datetime(2026, 11, 1, 18, 30, tzinfo=UTC), contact={"first_name": "Later"}),
        make_event(
            at=datetime(2026, 11, 1, 19, 0, tzinfo=timezone(timedelta(hours=1))),
            contact={"first_name": "Earlier"},
        ),
    )

    assert c.first_name == "Later"


def test_phone_of_an_email_customer_is_last_writer_wins_and_normalised() -> None:
    c, _ = fold(
        make_event(at=10, contact={"phone": "+32 471 22 33 44"}),
        make_event(at=0, contact={"phone": "0470 12 34 56"}),
        make_event(at=5, contact={"phone": "garbage"}),
    )

    assert c.phone == "+32471223344"
    assert c.email == "an.peeters@example.be"


# -- name split (section 2) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("Jan Van den Berg", "Jan", "Van den Berg"),
        ("  Marie   Dubois ", "Marie", "Dubois"),
        ("Cher", "Cher", None),
    ],
)
def test_single_name_is_split_into_first_and_last_name(
    name: str, first: str, last: str | None
) -> None:
    c, _ = fold(make_event(contact={"first_name": None, "last_name": None, "name": name}))

    assert (c.first_name, c.last_name) == (first, last)


def test_first_and_last_name_win_over_a_single_name() -> None:
    c, _ = fold(
        make_event(contact={"first_name": "An", "last_name": "Peeters", "name": "Someone Else"})
    )

    assert (c.first_name, c.last_name) == ("An", "Peeters")


# -- contact dates and counters (3.4) -----------------------------------------------------------


def test_first_and_last_contact_are_min_and_max_whatever_the_order() -> None:
    c, _ = fold(make_event(at=30), make_event(at=-20), make_event(at=100), make_event(at=5))

    assert c.first_contact_at == minutes(-20)
    assert c.last_contact_at == minutes(100)


def test_import_first_contact_at_moves_first_contact_back() -> None:
    long_ago = datetime(2019, 5, 4, 12, 0, tzinfo=UTC)

    c, _ = fold(
        make_event(at=0),
        make_event("contact.imported", at=60, first_contact_at=long_ago.isoformat()),
    )

    assert c.first_contact_at == long_ago
    assert c.last_contact_at == minutes(0)


@pytest.mark.parametrize(
    ("type_", "counter"),
    [
        ("reservation.created", "reservations"),
        ("reservation.completed", "completed"),
        ("reservation.no_show", "no_shows"),
        ("reservation.cancelled", "cancellations"),
        ("form.submitted", "forms"),
    ],
)
def test_each_event_type_increments_its_counter(type_: str, counter: str) -> None:
    c, _ = fold(make_event(type_, at=0), make_event(type_, at=1))

    counters = {
        n: getattr(c, n)
        for n in ("reservations", "completed", "no_shows", "cancellations", "forms")
    }
    assert counters == {n: (2 if n == counter else 0) for n in counters}


@pytest.mark.parametrize(
    "type_", ["reservation.updated", "integration.contact", "contact.imported"]
)
def test_events_without_a_counter_count_nothing(type_: str) -> None:
    c, _ = fold(make_event(type_))

    assert (c.reservations, c.completed, c.no_shows, c.cancellations, c.forms) == (0, 0, 0, 0, 0)
    assert c.last_contact_at == minutes(0)


# -- consent ledger (3.5) -----------------------------------------------------------------------


def test_every_newsletter_statement_is_returned_for_the_ledger() -> None:
    events = [
        make_event(
            at=0, event_id=eid(1), source="booking-widget", contact={"newsletter_opt_in": True}
        ),
        make_event(at=5, event_id=eid(2), contact={"newsletter_opt_in": None}),
        make_event(
            "form.submitted",
            at=9,
            event_id=eid(3),
            source="site-form",
            contact={"newsletter_opt_in": False},
        ),
    ]

    _, outcomes = fold(*events)

    assert [o.consent for o in outcomes] == [
        ConsentStatement(True, minutes(0), "booking-widget", eid(1)),
        None,
        ConsentStatement(False, minutes(9), "site-form", eid(3)),
    ]


def test_current_consent_is_the_newest_statement_even_when_it_arrives_first() -> None:
    newest = make_event(
        at=60, event_id=eid(2), source="newsletter-tool", contact={"newsletter_opt_in": False}
    )
    older = make_event(at=0, event_id=eid(1), contact={"newsletter_opt_in": True})

    c, outcomes = fold(newest, older)

    assert c.newsletter == ConsentStatement(False, minutes(60), "newsletter-tool", eid(2))
    # the older statement still goes to the ledger
    assert outcomes[1].consent == ConsentStatement(True, minutes(0), "booking-widget", eid(1))


def test_absent_opt_in_keeps_the_current_consent() -> None:
    c, _ = fold(
        make_event(at=0, contact={"newsletter_opt_in": True}),
        make_event(at=10, contact={"newsletter_opt_in": None}),
    )

    assert c.newsletter is not None
    assert c.newsletter.opt_in is True


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_consent_tie_on_occurred_at_is_broken_by_event_id(order: tuple[int, int]) -> None:
    events = [
        make_event(at=0, event_id=eid(1), contact={"newsletter_opt_in": True}),
        make_event(at=0, event_id=eid(2), contact={"newsletter_opt_in": False}),
    ]

    c, _ = fold(*(events[i] for i in order))

    assert c.newsletter is not None
    assert (c.newsletter.opt_in, c.newsletter.event_id) == (False, eid(2))


# -- auto-tags (3.7) ----------------------------------------------------------------------------


def test_no_show_adds_the_auto_no_show_tag() -> None:
    c, _ = fold(make_event("reservation.no_show", at=15))

    assert c.tags == {"no_show": TagState("auto", minutes(15))}
    assert c.no_shows == 1


def test_no_show_tag_dates_from_the_earliest_no_show_in_any_order() -> None:
    c, _ = fold(
        make_event("reservation.no_show", at=50),
        make_event("reservation.no_show", at=10),
        make_event("reservation.no_show", at=30),
    )

    assert c.tags["no_show"] == TagState("auto", minutes(10))


def test_regular_tag_once_completions_reach_the_default_threshold_of_three() -> None:
    assert DEFAULT_REGULAR_THRESHOLD == 3
    completions = [make_event("reservation.completed", at=m) for m in (0, 10, 20, 30)]

    after_two, _ = fold(*completions[:2])
    after_three, _ = fold(*completions[:3])
    after_four, _ = fold(*completions)

    assert "regular" not in after_two.tags
    assert after_three.tags["regular"] == TagState("auto", minutes(20))
    assert after_four.tags["regular"] == TagState("auto", minutes(20))


def test_regular_tag_dates_from_the_third_earliest_completion_in_any_order() -> None:
    c, _ = fold(*(make_event("reservation.completed", at=m) for m in (40, 30, 20, 10)))

    assert c.tags["regular"] == TagState("auto", minutes(30))


@pytest.mark.parametrize("threshold", [1, 2, 5])
def test_regular_tag_follows_the_tenant_threshold(threshold: int) -> None:
    completions = [make_event("reservation.completed", at=m) for m in range(threshold)]

    _, outcomes = fold(*completions, threshold=threshold)

    assert ["regular" in o.customer.tags for o in outcomes] == [False] * (threshold - 1) + [True]
    assert outcomes[-1].customer.tags["regular"] == TagState("auto", minutes(threshold - 1))


def test_other_events_do_not_count_towards_regular() -> None:
    c, _ = fold(
        *(
            make_event(t, at=i)
            for i, t in enumerate(
                [
                    "reservation.created",
                    "reservation.created",
                    "reservation.created",
                    "form.submitted",
                    "reservation.completed",
                    "reservation.completed",
                ]
            )
        )
    )

    assert "regular" not in c.tags


@pytest.mark.parametrize(
    ("removed", "events"),
    [
        ("no_show", ["reservation.no_show"]),
        ("regular", ["reservation.completed"] * 3),
    ],
)
def test_tag_removed_by_staff_is_never_re_added(removed: str, events: list[str]) -> None:
    start = customer_with(removed_tags=frozenset({removed}))

    c, _ = fold(*(make_event(t, at=i) for i, t in enumerate(events)), customer=start)

    assert removed not in c.tags
    assert (c.no_shows, c.completed) == (
        events.count("reservation.no_show"),
        events.count("reservation.completed"),
    )


def test_removed_tag_is_not_re_added_by_an_import_either() -> None:
    start = customer_with(removed_tags=frozenset({"vip"}))

    c, _ = fold(make_event("contact.imported", tags=["vip", "local"]), customer=start)

    assert set(c.tags) == {"local"}


def test_import_tags_are_manual_and_date_from_first_contact() -> None:
    long_ago = datetime(2020, 1, 2, tzinfo=UTC)

    c, _ = fold(
        make_event("contact.imported", tags=["vip", "local"], first_contact_at=long_ago.isoformat())
    )

    assert c.tags == {"vip": TagState("manual", long_ago), "local": TagState("manual", long_ago)}


def test_auto_tag_is_not_added_beyond_nine_tags() -> None:
    nine = tags("a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9")
    start = customer_with(tags=nine)

    c, _ = fold(
        make_event("reservation.no_show"),
        *(make_event("reservation.completed", at=i) for i in range(1, 4)),
        customer=start,
    )

    assert c.tags == nine
    assert c.no_shows == 1


def test_import_never_takes_a_customer_beyond_nine_tags() -> None:
    start = customer_with(tags=tags("vip", "local"))
    codes = [f"custom_{i}" for i in range(9)]

    c, _ = fold(make_event("contact.imported", tags=codes), customer=start)

    assert len(c.tags) == 9
    assert {"vip", "local"} <= set(c.tags)


def test_tag_already_present_keeps_its_origin_and_earliest_date() -> None:
    start = customer_with(tags={"no_show": TagState("manual", minutes(-100))})

    c, _ = fold(make_event("reservation.no_show", at=0), customer=start)

    assert c.tags == {"no_show": TagState("manual", minutes(-100))}


def test_tag_origin_does_not_depend_on_arrival_order() -> None:
    imported = make_event("contact.imported", at=0, tags=["no_show"])
    no_show = make_event("reservation.no_show", at=5)

    a, _ = fold(imported, no_show)
    b, _ = fold(no_show, imported)

    assert a.tags == b.tags


# -- flagged-booking alert (3.6) ----------------------------------------------------------------


@pytest.mark.parametrize("flag", ["no_show", "problem"])
def test_reservation_by_a_flagged_customer_yields_one_alert(flag: str) -> None:
    start = customer_with(tags=tags(flag, "vip"), no_shows=2)
    booking = make_event(
        "reservation.created", at=30, event_id=eid(7), reservation_id="R-9", party_size=6
    )

    _, (outcome,) = fold(booking, customer=start)

    assert len(outcome.alerts) == 1
    alert = outcome.alerts[0]
    assert alert.type == "customer.flagged_booking"
    assert alert.tenant_id == TENANT
    assert alert.caused_by_event_id == eid(7)
    assert alert.occurred_at == minutes(30)
    assert alert.data.customer_id == CUSTOMER_ID
    assert alert.data.reservation_id == "R-9"
    assert alert.data.party_size == 6
    assert alert.data.tags == sorted([flag, "vip"])
    assert alert.data.no_show_count == 2


def test_reservation_after_a_no_show_is_flagged_with_the_auto_tag() -> None:
    _, outcomes = fold(
        make_event("reservation.no_show", at=0),
        make_event("reservation.created", at=10, reservation_id="R-2"),
    )

    assert outcomes[0].alerts == ()
    (alert,) = outcomes[1].alerts
    assert (alert.data.tags, alert.data.no_show_count, alert.data.reservation_id) == (
        ["no_show"],
        1,
        "R-2",
    )


@pytest.mark.parametrize(
    ("start_tags", "type_"),
    [
        ((), "reservation.created"),
        (("vip", "regular"), "reservation.created"),
        (("no_show", "problem"), "reservation.updated"),
        (("no_show",), "reservation.completed"),
        (("problem",), "form.submitted"),
    ],
)
def test_no_alert_otherwise(start_tags: tuple[str, ...], type_: str) -> None:
    _, (outcome,) = fold(make_event(type_), customer=customer_with(tags=tags(*start_tags)))

    assert outcome.alerts == ()


def test_alert_contains_no_personal_data() -> None:
    start = customer_with(tags=tags("problem"))
    _, (outcome,) = fold(
        make_event(event_id=eid(3), contact={"first_name": "Annelies"}, notes="peanuts"),
        customer=start,
    )

    text = outcome.alerts[0].model_dump_json()
    for personal in ("Annelies", "Peeters", "example.be", "0470", "+32470", "peanuts"):
        assert personal not in text


def test_alert_id_is_deterministic_per_event() -> None:
    start = customer_with(tags=tags("no_show"))
    booking = make_event(event_id=eid(42))

    _, (first,) = fold(booking, customer=start)
    _, (again,) = fold(booking, customer=copy.deepcopy(start))
    _, (other,) = fold(make_event(event_id=eid(43)), customer=start)

    assert first.alerts[0].alert_id == again.alerts[0].alert_id
    assert first.alerts[0].alert_id == uuid.uuid5(ALERT_NAMESPACE, f"{TENANT}:{eid(42)}")
    assert other.alerts[0].alert_id != first.alerts[0].alert_id


# -- history (3.1) ------------------------------------------------------------------------------

PERSONAL = ("Annelies", "Peeters", "an.peeters", "example.be", "0470", "+32470", "12 34 56")
FREE_TEXT = "my wife is allergic to peanuts"

FREE_TEXT_DATA = {
    "reservation.created": {"notes": FREE_TEXT},
    "reservation.updated": {"notes": FREE_TEXT},
    "reservation.cancelled": {"reason": FREE_TEXT},
    "reservation.no_show": {},
    "reservation.completed": {},
    "form.submitted": {"form_id": "contact", "subject": FREE_TEXT, "message": FREE_TEXT},
    "integration.contact": {"note": FREE_TEXT},
    "contact.imported": {"tags": ["vip"]},
}


@pytest.mark.parametrize("type_", sorted(FREE_TEXT_DATA))
def test_history_entry_records_the_event_without_personal_data_in_the_summary(
    type_: str,
) -> None:
    event = make_event(
        type_,
        at=12,
        event_id=eid(5),
        source="site-form",
        contact={"first_name": "Annelies"},
        **FREE_TEXT_DATA[type_],
    )

    _, (outcome,) = fold(event)
    entry = outcome.history

    assert (entry.event_id, entry.customer_id, entry.type, entry.occurred_at, entry.source) == (
        eid(5),
        CUSTOMER_ID,
        type_,
        minutes(12),
        "site-form",
    )
    assert entry.summary
    for personal in PERSONAL:
        assert personal not in entry.summary
    assert "peanuts" not in entry.summary
    assert "contact" not in entry.data
    assert "An.Peeters@Example.be" not in repr(entry.data)


def test_history_summary_of_a_reservation_names_reservation_party_and_time() -> None:
    event = make_event(
        reservation_id="R-88213",
        party_size=4,
        starts_at="2026-11-28T19:30:00+01:00",
        notes=FREE_TEXT,
    )

    _, (outcome,) = fold(event)

    assert outcome.history.summary == "Reservation R-88213: 4 on 2026-11-28 19:30"
    assert outcome.history.data == {
        "reservation_id": "R-88213",
        "party_size": 4,
        "starts_at": "2026-11-28T19:30:00+01:00",
        "notes": FREE_TEXT,
    }


# -- purity -------------------------------------------------------------------------------------


def test_apply_does_not_mutate_its_input_customer() -> None:
    start = customer_with(
        tags=tags("vip"),
        stamps={"first_name": (minutes(-5), str(eid(0)))},
        first_name="Old",
        completion_marks=(minutes(-10),),
        reservations=1,
    )
    frozen = copy.deepcopy(start)
    events = [
        make_event(
            "reservation.no_show", at=0, contact={"first_name": "New", "newsletter_opt_in": True}
        ),
        make_event("reservation.completed", at=1),
        make_event("reservation.completed", at=2),
        make_event("reservation.created", at=3),
        make_event("contact.imported", at=4, tags=["local"]),
    ]

    for event in events:
        outcome = apply(start, event, identity_of(event), regular_threshold=2)
        assert outcome.customer is not start

    assert start == frozen
    assert start.tags == tags("vip")
    assert start.stamps == {"first_name": (minutes(-5), str(eid(0)))}
