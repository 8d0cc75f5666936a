"""services.ingest.handlers.process_batch against the in-memory store (contract 3.1, 3.2, 3.8)."""

from __future__ import annotations

import copy
import itertools
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest

from schemas.events import SiteEvent
from services.common.crypto import keyed_hash
from services.ingest.handlers import BatchReport, process_batch
from services.ingest.ports import Changes, Held, IngestStore, TenantConfig
from tests.support.fakes import (
    InMemoryIngestStore,
    make_event,
    minutes,
)

SECRET = "unit-test-secret"
TENANT = "brasserie-leopold"
AN = "email:an.peeters@example.be"
BO = "email:bo@example.be"


def ids() -> Callable[[], UUID]:
    """Deterministic customer ids: 1, 2, 3, ..."""
    counter = itertools.count(1)
    return lambda: UUID(int=next(counter))


async def run(store: InMemoryIngestStore, events: Sequence[SiteEvent]) -> BatchReport:
    return await process_batch(store, events, secret=SECRET)


BO_CONTACT = {
    "first_name": "Bo",
    "last_name": "Janssens",
    "email": "Bo@Example.be",
    "phone": "0471 22 33 44",
}


def bo(type_: str = "reservation.created", **kwargs: Any) -> SiteEvent:
    """An event about a second guest, Bo."""
    return make_event(type_, contact=BO_CONTACT, **kwargs)


# -- the handler's use of the store port ---------------------------------------------------------


class Recording(InMemoryIngestStore):
    """The in-memory store, noting each port call and whether a transaction was open."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, bool]] = []
        self.open = False

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        async with super().transaction():
            self.open = True
            try:
                yield
            finally:
                self.open = False

    def _note(self, name: str) -> None:
        self.calls.append((name, self.open))

    async def tenants(self, tenant_ids: Iterable[str]) -> dict[str, TenantConfig]:
        self._note("tenants")
        return await super().tenants(tenant_ids)

    async def suppressions(self, keys: set[tuple[str, bytes]]) -> dict[tuple[str, bytes], datetime]:
        self._note("suppressions")
        return await super().suppressions(keys)

    async def known(self, events: list[tuple[str, UUID]]) -> set[tuple[str, UUID]]:
        self._note("known")
        return await super().known(events)

    async def claim(self, events: list[tuple[str, UUID, Any]]) -> set[tuple[str, UUID]]:
        self._note("claim")
        return await super().claim(events)

    async def lock(self, tenant_ids: Iterable[str]) -> None:
        self._note("lock")
        await super().lock(tenant_ids)

    async def holders(self, keys: set[tuple[str, str]]) -> list[Held]:
        self._note("holders")
        return await super().holders(keys)

    async def save(self, changes: Changes) -> None:
        self._note("save")
        await super().save(changes)


async def test_handler_claims_loads_and_saves_inside_one_transaction_per_batch() -> None:
    store = Recording()
    port: IngestStore = store  # type-checks against the Protocol
    batch = [make_event("reservation.created", at=0), bo("form.submitted", at=1)]

    report = await process_batch(port, batch, secret=SECRET)
    replay = await process_batch(port, batch, secret=SECRET)

    assert (report.applied, replay.duplicates) == (2, 2)
    # Only the tenant config is read outside; the venue lock, the idempotency claim and the
    # writes are one atomic unit, so a crash between them can neither lose nor duplicate an
    # event, and no other writer of the venue (a worker during a rebalance, a staff merge)
    # routes between the lookup of the holders and the save.
    # A replay stops at the ledger: nothing is identified, hashed or claimed again.
    assert store.calls == [
        ("tenants", False),
        ("lock", True),
        ("known", True),
        ("suppressions", True),
        ("claim", True),
        ("holders", True),
        ("save", True),
        ("tenants", False),
        ("lock", True),
        ("known", True),
    ]
    assert (store.commits, store.rollbacks) == (2, 0)


async def test_batch_applies_every_event_and_creates_one_customer_per_identity() -> None:
    store = InMemoryIngestStore()
    batch = [
        make_event("reservation.created", at=0),
        bo("form.submitted", at=1),
        make_event("reservation.completed", at=2, contact={"newsletter_opt_in": True}),
    ]

    report = await process_batch(store, batch, secret=SECRET, new_id=ids())

    assert (report.applied, report.created, report.duplicates, report.suppressed) == (3, 2, 0, 0)
    assert report.unidentifiable == []
    an, b = store.customer(TENANT, AN), store.customer(TENANT, BO)
    assert an is not None and b is not None
    assert (an.id, b.id) == (UUID(int=1), UUID(int=2))
    assert (an.reservations, an.completed, an.forms) == (1, 1, 0)
    assert (b.first_name, b.forms, b.phone) == ("Bo", 1, "+32471223344")
    assert [h.type for h in store.history_of(TENANT, an.id)] == [
        "reservation.created",
        "reservation.completed",
    ]
    assert [(t, cid, s.opt_in) for t, cid, s in store.state.consent] == [(TENANT, an.id, True)]
    assert store.commits == 1


async def test_next_batch_updates_the_existing_customer() -> None:
    store = InMemoryIngestStore()
    await run(store, [make_event(at=0)])
    first = store.customer(TENANT, AN)

    report = await run(
        store, [make_event("reservation.completed", at=5, contact={"first_name": "Anneke"})]
    )

    assert (report.applied, report.created) == (1, 0)
    again = store.customer(TENANT, AN)
    assert first is not None and again is not None
    assert again.id == first.id
    assert (again.first_name, again.reservations, again.completed) == ("Anneke", 1, 1)
    assert len(store.customers_of(TENANT)) == 1


async def test_duplicate_inside_one_batch_is_counted_and_applied_once() -> None:
    store = InMemoryIngestStore()
    event = make_event("reservation.created")

    report = await run(store, [event, bo(), event, event])

    assert (report.applied, report.duplicates, report.created) == (2, 2, 2)
    an = store.customer(TENANT, AN)
    assert an is not None
    assert an.reservations == 1
    assert len(store.history_of(TENANT, an.id)) == 1


async def test_replayed_batch_is_all_duplicates_and_changes_nothing() -> None:
    store = InMemoryIngestStore()
    batch = [
        make_event("reservation.created", at=0, contact={"newsletter_opt_in": True}),
        make_event("reservation.no_show", at=5),
        make_event("reservation.created", at=10),  # flagged: an alert
        bo("form.submitted", at=3),
    ]
    first = await run(store, batch)
    before = copy.deepcopy(store.state)

    replay = await run(store, batch)

    assert (first.applied, len(first.alerts)) == (4, 1)
    assert (replay.applied, replay.created, replay.duplicates) == (0, 0, 4)
    assert replay.alerts == []
    assert store.state == before


async def test_old_event_in_a_new_batch_is_a_duplicate_the_new_one_applies() -> None:
    store = InMemoryIngestStore()
    old = make_event("reservation.created", at=0)
    await run(store, [old])

    report = await run(store, [old, make_event("reservation.cancelled", at=5)])

    assert (report.applied, report.duplicates) == (1, 1)
    an = store.customer(TENANT, AN)
    assert an is not None
    assert (an.reservations, an.cancellations) == (1, 1)
    assert len(store.history_of(TENANT, an.id)) == 2


async def test_unidentifiable_events_are_reported_by_index_and_not_claimed() -> None:
    store = InMemoryIngestStore()
    nobody = make_event("form.submitted", contact={"email": "not-an-email", "phone": "12"})
    nobody_too = make_event("form.submitted", contact={"email": None, "phone": None})
    good, also_good = make_event("form.submitted"), bo()

    report = await run(store, [nobody, good, also_good, nobody_too])

    assert report.unidentifiable == [0, 3]
    assert report.applied == 2
    assert set(store.state.processed) == {(TENANT, good.event_id), (TENANT, also_good.event_id)}
    assert len(store.state.history) == 2


async def test_unidentifiable_events_are_never_claimed() -> None:
    store = InMemoryIngestStore()
    nobody = make_event(contact={"email": None, "phone": None})

    report = await run(store, [nobody, make_event(at=1)])
    again = await run(store, [nobody])

    assert report.unidentifiable == [0] and again.unidentifiable == [0]  # dead-lettered again
    assert report.applied == 1
    assert nobody.event_id not in {e for _, e in store.state.processed}


async def test_region_of_the_tenant_reads_national_phone_numbers() -> None:
    store = InMemoryIngestStore({"chez-marcel": TenantConfig(region="FR")})
    event = make_event(tenant="chez-marcel", contact={"email": None, "phone": "06 12 34 56 78"})

    report = await run(store, [event])

    assert report.applied == 1
    assert store.customer("chez-marcel", "phone:+33612345678") is not None


async def test_unknown_tenant_is_created_with_default_config() -> None:
    store = InMemoryIngestStore()

    await run(store, [make_event(tenant="new-venue")])

    assert store.configs["new-venue"] == TenantConfig(region="BE", regular_threshold=3)


async def test_regular_threshold_comes_from_the_tenant_config() -> None:
    store = InMemoryIngestStore({TENANT: TenantConfig(regular_threshold=2)})

    await run(store, [make_event("reservation.completed", at=0)])
    one = store.customer(TENANT, AN)
    await run(store, [make_event("reservation.completed", at=10)])
    two = store.customer(TENANT, AN)

    assert one is not None and two is not None
    assert "regular" not in one.tags
    assert two.tags["regular"].origin == "auto"


async def test_flagged_booking_alert_is_stored_with_the_batch_once() -> None:
    store = InMemoryIngestStore()
    await run(store, [make_event("reservation.no_show", at=0)])
    booking = make_event("reservation.created", at=10, reservation_id="R-77")

    report = await run(store, [booking])
    await run(store, [booking])

    an = store.customer(TENANT, AN)
    assert an is not None
    assert len(report.alerts) == 1
    assert store.state.alerts == report.alerts
    (alert,) = store.state.alerts
    assert (
        alert.tenant_id,
        alert.data.customer_id,
        alert.data.reservation_id,
        alert.data.tags,
        alert.data.no_show_count,
    ) == (TENANT, an.id, "R-77", ["no_show"], 1)


async def test_two_tenants_sharing_an_email_get_two_customers() -> None:
    store = InMemoryIngestStore()
    a = make_event("reservation.created", tenant="venue-a")
    b = make_event("form.submitted", tenant="venue-b", event_id=a.event_id)  # same id, too

    report = await run(store, [a, b])

    assert (report.applied, report.created, report.duplicates) == (2, 2, 0)
    in_a, in_b = store.customer("venue-a", AN), store.customer("venue-b", AN)
    assert in_a is not None and in_b is not None
    assert in_a.id != in_b.id
    assert (in_a.reservations, in_a.forms) == (1, 0)
    assert (in_b.reservations, in_b.forms) == (0, 1)
    assert [h.type for h in store.history_of("venue-a", in_a.id)] == ["reservation.created"]
    assert [h.type for h in store.history_of("venue-b", in_b.id)] == ["form.submitted"]


# -- suppression after anonymisation (3.8) ------------------------------------------------------


async def test_event_before_a_suppression_is_dropped_and_one_after_creates_a_customer() -> None:
    store = InMemoryIngestStore()
    t = minutes(60)
    store.record_suppression(TENANT, keyed_hash(SECRET, "an.peeters@example.be"), t)
    before = make_event("reservation.created", at=59, contact={"email": " AN.Peeters@example.be"})
    after = make_event("reservation.created", at=61)

    dropped = await run(store, [before])

    assert (dropped.suppressed, dropped.applied, dropped.created) == (1, 0, 0)
    assert store.customers_of(TENANT) == []
    assert store.state.history == []
    assert store.state.processed == {(TENANT, before.event_id): "suppressed"}

    replay = await run(store, [before])
    assert (replay.duplicates, replay.suppressed) == (1, 0)

    kept = await run(store, [after])

    assert (kept.applied, kept.created, kept.suppressed) == (1, 1, 0)
    an = store.customer(TENANT, AN)
    assert an is not None
    assert an.first_contact_at == minutes(61)
    assert [h.event_id for h in store.history_of(TENANT, an.id)] == [after.event_id]


async def test_suppressed_phone_drops_older_events_about_that_phone() -> None:
    store = InMemoryIngestStore()
    store.record_suppression(TENANT, keyed_hash(SECRET, "+32470123456"), minutes(60))
    phone_only = make_event(
        "form.submitted", at=0, contact={"email": None, "phone": "0032 470 12 34 56"}
    )

    report = await run(store, [phone_only])

    assert (report.suppressed, report.applied) == (1, 0)
    assert store.customers_of(TENANT) == []


async def test_suppression_in_one_tenant_does_not_touch_another() -> None:
    store = InMemoryIngestStore()
    store.record_suppression("venue-a", keyed_hash(SECRET, "an.peeters@example.be"), minutes(60))

    report = await run(
        store, [make_event(tenant="venue-a", at=0), make_event(tenant="venue-b", at=0)]
    )

    assert (report.suppressed, report.applied) == (1, 1)
    assert store.customers_of("venue-a") == []
    assert store.customer("venue-b", AN) is not None


async def test_after_anonymisation_old_events_are_dropped_new_ones_start_a_new_profile() -> None:
    store = InMemoryIngestStore()
    await run(
        store, [make_event("reservation.created", at=0), make_event("reservation.no_show", at=5)]
    )
    erased = store.customer(TENANT, AN)
    assert erased is not None
    store.anonymize(TENANT, erased.id, minutes(100), secret=SECRET)
    late_old = make_event("reservation.completed", at=50)
    fresh = make_event("form.submitted", at=120)

    report = await run(store, [late_old, fresh])

    assert (report.suppressed, report.applied, report.created) == (1, 1, 1)
    new = store.customer(TENANT, AN)
    assert new is not None
    assert new.id != erased.id
    assert (new.forms, new.completed, new.no_shows, new.tags) == (1, 0, 0, {})
    old = store.state.customers[(TENANT, erased.id)]
    assert (old.completed, old.no_shows, old.email) == (0, 1, None)
    assert len(store.history_of(TENANT, erased.id)) == 2


# -- atomicity ----------------------------------------------------------------------------------


async def test_failure_inside_save_rolls_back_so_a_retry_applies_exactly_once() -> None:
    store = InMemoryIngestStore()
    batch = [
        make_event("reservation.created", at=0, contact={"newsletter_opt_in": True}),
        make_event("reservation.completed", at=5),
        bo("form.submitted", at=1),
    ]
    store.fail_next_save(ConnectionResetError("connection lost mid-batch"))

    with pytest.raises(ConnectionResetError):
        await run(store, batch)

    assert store.rollbacks == 1
    assert store.state.processed == {}
    assert store.state.customers == {}
    assert store.state.history == []

    retry = await run(store, batch)
    replay = await run(store, batch)

    assert (retry.applied, retry.created, retry.duplicates) == (3, 2, 0)
    assert (replay.applied, replay.duplicates) == (0, 3)
    an = store.customer(TENANT, AN)
    assert an is not None
    assert (an.reservations, an.completed) == (1, 1)
    assert len(store.state.history) == 3
    assert len(store.state.consent) == 1
    assert len(store.state.processed) == 3


async def test_failed_batch_keeps_what_earlier_batches_committed() -> None:
    store = InMemoryIngestStore()
    await run(store, [make_event("reservation.created", at=0)])
    committed = copy.deepcopy(store.state)
    store.fail_next_save(RuntimeError("boom"))

    with pytest.raises(RuntimeError):
        await run(store, [make_event("reservation.created", at=10), bo()])

    assert store.state == committed
