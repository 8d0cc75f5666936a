"""The store ports' contract: the in-memory twin and the PostgreSQL store pass the same tests.

Every test runs twice, ``[memory]`` on ``tests.support.fakes.InMemoryIngestStore`` and
``[postgres]`` on ``services.ingest.store.PostgresIngestStore`` over a fresh migrated database,
and pins what ``services.ingest.ports.IngestStore`` and ``Outbox`` promise. Only the arranging
of what other services write (a venue's settings, an erasure's suppressions) differs.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

import pytest

from schemas.alerts import FlaggedBookingAlert, FlaggedBookingData
from services.common.db import connect
from services.common.kafka import Topics
from services.common.retry import is_transient
from services.domain.fold import ConsentStatement, Customer, HistoryEntry, TagState
from services.domain.merge import Merged, StaffTags
from services.domain.routing import MAX_CARDS_PER_IDENTIFIER
from services.ingest.outbox import flush
from services.ingest.ports import Changes, IngestStore, Outbox, TenantConfig, Tie
from services.ingest.store import PostgresIngestStore
from tests.support.builders import BASE
from tests.support.fakes import InMemoryIngestStore

pytestmark = pytest.mark.asyncio(loop_scope="session")

TOPICS = Topics("contract.")
TENANT = "brasserie-leopold"
OTHER = "chez-marcel"
AN = "email:an.peeters@example.be"
PHONE = "phone:+32470123456"


class Store(IngestStore, Outbox, Protocol):
    """Both ports, as both twins implement them on one transaction."""


MakeStore = Callable[..., Awaitable[Store]]


class Boom(Exception):
    """Raised inside a transaction to roll it back."""


@pytest.fixture(params=["memory", "postgres"])
def backend(request: pytest.FixtureRequest) -> str | None:
    """None for the in-memory twin, else the URL of a fresh migrated database."""
    return None if request.param == "memory" else str(request.getfixturevalue("db_url"))


@pytest.fixture
async def make(backend: str | None) -> AsyncIterator[MakeStore]:
    """Builds stores of the parametrized kind (several share one database)."""
    conns = []

    async def make_store(default_region: str = "BE") -> Store:
        if backend is None:
            return InMemoryIngestStore(default_region=default_region, alerts_topic=TOPICS.alerts)
        conn = await connect(backend)
        conns.append(conn)
        return PostgresIngestStore(conn, TOPICS, default_region)

    yield make_store
    for conn in conns:
        await conn.close()


@pytest.fixture
async def store(make: MakeStore) -> Store:
    """A store with two known venues (customers need their venue)."""
    s = await make()
    await s.tenants([TENANT, OTHER])
    return s


# -- arranging what other services write -----------------------------------------------------


async def configure(store: Store, tenant_id: str, config: TenantConfig) -> None:
    """A venue's settings, as the profile API stores them."""
    if isinstance(store, InMemoryIngestStore):
        store.configs[tenant_id] = config
        return
    assert isinstance(store, PostgresIngestStore)
    await store.conn.execute(
        "INSERT INTO tenants (tenant_id, region, regular_threshold) VALUES ($1, $2, $3)"
        " ON CONFLICT (tenant_id) DO UPDATE SET region = $2, regular_threshold = $3",
        tenant_id,
        config.region,
        config.regular_threshold,
    )


async def suppress(store: Store, tenant_id: str, key_hash: bytes, at: datetime) -> None:
    """An erased identity's keyed hash, as the GDPR route records it."""
    if isinstance(store, InMemoryIngestStore):
        store.record_suppression(tenant_id, key_hash, at)
        return
    assert isinstance(store, PostgresIngestStore)
    await store.conn.execute(
        "INSERT INTO suppressions (tenant_id, key_hash, anonymized_at) VALUES ($1, $2, $3)",
        tenant_id,
        key_hash,
        at,
    )


async def moved_events(store: Store, merge_id: uuid.UUID) -> set[uuid.UUID]:
    """The history rows a merge recorded as moved."""
    if isinstance(store, InMemoryIngestStore):
        return {e for _, m, e in store.state.moves if m == merge_id}
    assert isinstance(store, PostgresIngestStore)
    rows = await store.conn.fetch("SELECT event_id FROM merge_moves WHERE merge_id = $1", merge_id)
    return {r["event_id"] for r in rows}


async def history_owners(store: Store) -> set[uuid.UUID]:
    """The cards that hold history or consent rows."""
    if isinstance(store, InMemoryIngestStore):
        return {h.customer_id for _, h in store.state.history} | {
            c for _, c, _ in store.state.consent
        }
    assert isinstance(store, PostgresIngestStore)
    rows = await store.conn.fetch(
        "SELECT customer_id FROM history UNION SELECT customer_id FROM consent_ledger"
    )
    return {r["customer_id"] for r in rows}


# -- builders ----------------------------------------------------------------------------------


def customer(tenant_id: str = TENANT, key: str = AN, **fields: Any) -> Customer:
    """A customer with a fresh id and only the given fields."""
    return Customer(id=uuid.uuid4(), tenant_id=tenant_id, identity_key=key, **fields)


def full_customer() -> Customer:
    """A customer with every field the store keeps set to something other than its default."""
    first, later = uuid.uuid4(), uuid.uuid4()
    day = timedelta(days=1)
    return customer(
        email="an.peeters@example.be",
        phone="+32470123456",
        first_name="An",
        last_name="Peeters",
        language="nl",
        stamps={"first_name": (BASE, str(first)), "phone": (BASE + day, str(later))},
        newsletter=ConsentStatement(True, BASE + day, "booking-widget", later),
        first_contact_at=BASE,
        last_contact_at=BASE + 9 * day,
        reservations=5,
        completed=3,
        no_shows=1,
        cancellations=1,
        forms=2,
        tags={"regular": TagState("auto", BASE + 5 * day), "vip": TagState("manual", BASE)},
        removed_tags=frozenset({"no_show"}),
        completion_marks=(BASE + day, BASE + 3 * day, BASE + 5 * day),
    )


def history(c: Customer, event_id: uuid.UUID | None = None) -> tuple[str, HistoryEntry]:
    """One history entry of ``c``."""
    entry = HistoryEntry(
        event_id or uuid.uuid4(),
        c.id,
        "form.submitted",
        BASE,
        "website",
        "Form submitted",
        {"subject": "allergies"},
    )
    return c.tenant_id, entry


def alert(tenant_id: str = TENANT) -> FlaggedBookingAlert:
    """A flagged-booking alert."""
    data = FlaggedBookingData(
        customer_id=uuid.uuid4(),
        reservation_id="R-7",
        tags=["no_show"],
        no_show_count=1,
        starts_at=BASE + timedelta(days=2),
        party_size=2,
    )
    return FlaggedBookingAlert(
        alert_id=uuid.uuid4(),
        tenant_id=tenant_id,
        occurred_at=BASE,
        caused_by_event_id=uuid.uuid4(),
        data=data,
    )


def changes(*customers: Customer, **parts: Any) -> Changes:
    """A batch's changes: these customers (each tied to the identifier of its key), plus
    ``history``, ``consent``, ``alerts``, ``ties``, ``merges``, ``suggestions`` lists."""
    ties = [
        Tie(c.tenant_id, c.identity_key.partition(":")[2], c.id, BASE, uuid.uuid4())
        for c in customers
    ]
    return Changes(
        customers=list(customers),
        history=parts.get("history", []),
        consent=parts.get("consent", []),
        alerts=parts.get("alerts", []),
        ties=ties + parts.get("ties", []),
        merges=parts.get("merges", []),
        suggestions=parts.get("suggestions", []),
    )


async def save(store: Store, batch: Changes) -> None:
    """``save`` in a transaction of its own."""
    async with store.transaction():
        await store.save(batch)


async def load(store: Store, *keys: tuple[str, str]) -> dict[tuple[str, str], Customer]:
    """The cards holding these (tenant, ``kind:value``) identifiers (``holders``, in a
    transaction of its own), by each identifier that leads to them."""
    async with store.transaction():
        held = await store.holders({(t, k.partition(":")[2]) for t, k in keys})
    return {
        (t, k): h.customer
        for t, k in keys
        for h in held
        if h.customer.tenant_id == t and k.partition(":")[2] in h.identifiers
    }


# -- tenants -----------------------------------------------------------------------------------


async def test_unknown_tenants_are_created_with_the_default_settings(make: MakeStore) -> None:
    store = await make(default_region="NL")

    first = await store.tenants([TENANT, OTHER, TENANT])
    again = await store.tenants([TENANT])

    assert first == {TENANT: TenantConfig("NL", 3), OTHER: TenantConfig("NL", 3)}
    assert again == {TENANT: TenantConfig("NL", 3)}
    assert await store.tenants([]) == {}


async def test_a_known_tenant_keeps_its_settings(make: MakeStore) -> None:
    store = await make()
    await configure(store, TENANT, TenantConfig("FR", 5))

    assert await store.tenants([TENANT, OTHER]) == {
        TENANT: TenantConfig("FR", 5),
        OTHER: TenantConfig("BE", 3),
    }


# -- the idempotency ledger --------------------------------------------------------------------


async def test_claim_returns_only_event_ids_not_claimed_before(store: Store) -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with store.transaction():
        first = await store.claim(
            [(TENANT, a, "applied"), (TENANT, b, "suppressed"), (TENANT, b, "applied")]
        )
    async with store.transaction():
        second = await store.claim(
            [(TENANT, a, "applied"), (TENANT, c, "applied"), (OTHER, a, "applied")]
        )
    async with store.transaction():
        replay = await store.claim([(TENANT, a, "applied"), (TENANT, c, "applied")])
        nothing = await store.claim([])

    assert first == {(TENANT, a), (TENANT, b)}
    assert second == {(TENANT, c), (OTHER, a)}  # an event id belongs to its tenant
    assert replay == set() and nothing == set()


async def test_known_tells_which_event_ids_were_claimed(store: Store) -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with store.transaction():
        await store.claim([(TENANT, a, "applied"), (OTHER, b, "suppressed")])
    async with store.transaction():
        known = await store.known([(TENANT, a), (TENANT, b), (OTHER, b), (TENANT, c)])
        nothing = await store.known([])

    assert known == {(TENANT, a), (OTHER, b)}  # whatever the outcome, per tenant
    assert nothing == set()


async def test_a_claim_is_undone_with_its_transaction(store: Store) -> None:
    event_id = uuid.uuid4()
    an = customer()
    with pytest.raises(Boom):
        async with store.transaction():
            assert await store.claim([(TENANT, event_id, "applied")]) == {(TENANT, event_id)}
            await store.save(changes(an, history=[history(an, event_id)], alerts=[alert()]))
            raise Boom

    async with store.transaction():
        assert await store.claim([(TENANT, event_id, "applied")]) == {(TENANT, event_id)}
        assert await store.holders({(TENANT, AN.partition(":")[2])}) == []
        assert await store.pending(10) == []


# -- customers ---------------------------------------------------------------------------------


async def test_saved_customers_load_back_equal(store: Store) -> None:
    an = full_customer()
    by_phone = customer(key=PHONE, phone="+32470123456")
    elsewhere = customer(OTHER, AN, email="an.peeters@example.be")

    await save(
        store,
        changes(
            an, by_phone, elsewhere, history=[history(an)], consent=[(TENANT, an.id, an.newsletter)]
        ),
    )
    found = await load(store, (TENANT, AN), (TENANT, PHONE), (OTHER, AN), (TENANT, "email:x@y.be"))

    assert found == {(TENANT, AN): an, (TENANT, PHONE): by_phone, (OTHER, AN): elsewhere}
    assert await load(store) == {}


async def test_saving_a_customer_again_updates_it_in_place(store: Store) -> None:
    an = full_customer()
    await save(store, changes(an))
    an.first_name, an.reservations, an.newsletter = "Anna", 6, None
    an.tags = {"vip": TagState("manual", BASE)}
    an.removed_tags = frozenset({"no_show", "regular"})

    await save(store, changes(an))

    assert await load(store, (TENANT, AN)) == {(TENANT, AN): an}


async def test_a_card_tied_to_a_new_identifier_is_found_under_both(store: Store) -> None:
    card = customer(key=PHONE, phone="+32470123456")
    await save(store, changes(card))
    card.identity_key, card.email = AN, "an.peeters@example.be"

    await save(store, changes(card))

    assert await load(store, (TENANT, AN), (TENANT, PHONE)) == {
        (TENANT, AN): card,
        (TENANT, PHONE): card,
    }


async def test_holders_are_the_oldest_ties_one_past_the_cap(store: Store) -> None:
    family = [customer(key=PHONE, first_name=f"Guest {i}") for i in range(8)]
    ties = [
        Tie(TENANT, PHONE.partition(":")[2], c.id, BASE + timedelta(minutes=8 - i), uuid.uuid4())
        for i, c in enumerate(family)
    ]
    await save(store, changes(*family, ties=ties))

    async with store.transaction():
        held = await store.holders({(TENANT, PHONE.partition(":")[2])})

    # the tie of each card is the older of the two (BASE from ``changes``, then 8 - i minutes)
    assert len(held) == MAX_CARDS_PER_IDENTIFIER + 1
    assert {h.customer.id for h in held} <= {c.id for c in family}
    assert all(h.identifiers == {"+32470123456": BASE} for h in held)


async def test_a_merge_moves_history_consent_and_identifiers_to_the_survivor(
    store: Store,
) -> None:
    survivor = customer(first_name="An")
    absorbed = customer(key=PHONE, phone="+32470123456")
    statement = ConsentStatement(True, BASE, "pos", uuid.uuid4())
    await save(
        store,
        changes(
            survivor,
            absorbed,
            history=[history(absorbed, statement.event_id), history(survivor)],
            consent=[(TENANT, absorbed.id, statement)],
        ),
    )
    none = StaffTags({}, frozenset())
    record = Merged(
        uuid.uuid4(),
        TENANT,
        survivor.id,
        absorbed.id,
        "staff",
        none,
        none,
        moved_cards=(absorbed.id,),
    )

    await save(store, changes(survivor, merges=[record]))

    found = await load(store, (TENANT, AN), (TENANT, PHONE))
    assert found == {(TENANT, AN): survivor, (TENANT, PHONE): survivor}
    assert await moved_events(store, record.id) == {statement.event_id}
    assert await history_owners(store) == {survivor.id}


async def test_history_and_consent_need_a_stored_customer(store: Store) -> None:
    ghost = customer()
    statement = ConsentStatement(True, BASE, "website", uuid.uuid4())

    for batch in (
        changes(history=[history(ghost)]),
        changes(consent=[(TENANT, ghost.id, statement)]),
    ):
        with pytest.raises(Exception) as refused:
            await save(store, batch)
        assert not is_transient(refused.value)  # a bug, not a race: it goes to the DLQ


async def test_a_customer_needs_a_known_tenant(make: MakeStore) -> None:
    store = await make()

    with pytest.raises(Exception) as refused:
        await save(store, changes(customer("unknown-venue")))
    assert not is_transient(refused.value)


# -- suppressions ------------------------------------------------------------------------------


async def test_suppressions_answer_for_the_erased_hashes_of_each_tenant(store: Store) -> None:
    erased, other_erased, never = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32
    await suppress(store, TENANT, erased, BASE)
    await suppress(store, OTHER, other_erased, BASE + timedelta(hours=1))

    async with store.transaction():
        found = await store.suppressions(
            {(TENANT, erased), (TENANT, other_erased), (TENANT, never), (OTHER, other_erased)}
        )
        nothing = await store.suppressions(set())

    assert found == {(TENANT, erased): BASE, (OTHER, other_erased): BASE + timedelta(hours=1)}
    assert nothing == {}


# -- the outbox --------------------------------------------------------------------------------


async def test_alerts_saved_with_a_batch_wait_in_the_outbox_oldest_first(store: Store) -> None:
    first, second, third = alert(), alert(OTHER), alert()
    await save(store, changes(alerts=[first, second]))
    await save(store, changes(alerts=[third]))

    async with store.transaction():
        records = await store.pending(10)
        oldest = await store.pending(2)

    assert [(r.topic, r.key) for r in records] == [
        (TOPICS.alerts, TENANT.encode()),
        (TOPICS.alerts, OTHER.encode()),
        (TOPICS.alerts, TENANT.encode()),
    ]
    assert [FlaggedBookingAlert.model_validate_json(r.value) for r in records] == [
        first,
        second,
        third,
    ]
    assert records[0].id < records[1].id < records[2].id
    assert oldest == records[:2]


async def test_deleted_records_leave_the_outbox_with_their_transaction(store: Store) -> None:
    await save(store, changes(alerts=[alert(), alert(), alert()]))
    async with store.transaction():
        first, *rest = await store.pending(10)
        await store.delete([first.id])
    with pytest.raises(Boom):
        async with store.transaction():
            await store.delete([r.id for r in rest])
            raise Boom

    async with store.transaction():
        assert await store.pending(10) == rest


async def test_flush_sends_every_queued_record_once_and_empties_the_outbox(store: Store) -> None:
    alerts = [alert() for _ in range(5)]
    await save(store, changes(alerts=alerts))
    sent: list[tuple[str, bytes | None, bytes]] = []

    async def send(topic: str, key: bytes | None, value: bytes) -> None:
        sent.append((topic, key, value))

    assert await flush(store, send, limit=2) == 5
    assert await flush(store, send, limit=2) == 0
    assert [FlaggedBookingAlert.model_validate_json(v) for _, _, v in sent] == alerts
    async with store.transaction():
        assert await store.pending(10) == []
