"""Identity and merges (contract 3a) through the real ingest path, PostgreSQL and the API: one
card per guest across email and phone, automatic and staff merges, undo, 308 for old ids,
duplicates, blocked identifiers, erasure of a merged card."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from tests.support.api import MakeToken, Seed, bearer
from tests.support.builders import event
from tests.support.gdpr import scan

pytestmark = pytest.mark.asyncio(loop_scope="session")
T = "brasserie-leopold"
URL = f"/v1/tenants/{T}"
AN = "an.peeters@example.be"
PHONE = "0470 12 34 56"
E164 = "+32470123456"


@pytest.fixture
async def headers(make_token: MakeToken) -> dict[str, str]:
    return bearer(await make_token(T, "read", "write", "gdpr", "import"))


async def card_of(client: httpx.AsyncClient, headers: dict[str, str], **who: str) -> Any:
    found = await client.get(f"{URL}/customer-lookup", params=who, headers=headers)
    assert found.status_code == 200, found.text
    card = await client.get(f"{URL}/customers/{found.json()['id']}", headers=headers)
    assert card.status_code == 200, card.text
    return card.json()


async def history_count(client: httpx.AsyncClient, headers: dict[str, str], card: str) -> int:
    page = await client.get(f"{URL}/customers/{card}/history?limit=200", headers=headers)
    assert page.status_code == 200, page.text
    return len(page.json()["items"])


async def outbox(owner: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await owner.fetch("SELECT value FROM outbox ORDER BY id")
    return [orjson.loads(r["value"]) for r in rows]


async def customers_of(owner: asyncpg.Connection) -> int:
    return int(await owner.fetchval("SELECT count(*) FROM customers WHERE tenant_id = $1", T))


async def test_a_guest_seen_by_phone_first_then_online_has_one_card(
    client: httpx.AsyncClient, seed: Seed, headers: dict[str, str], owner: asyncpg.Connection
) -> None:
    await seed(event("reservation.created", email=None, at=0, source="phone"))
    await seed(event("reservation.no_show", email=None, at=60, source="phone"))
    report = await seed(event("reservation.created", at=24 * 60, reservation_id="R-2"))

    assert report.created == 0 and report.merged == 0  # rule 3: the phone card takes the email
    card = await card_of(client, headers, email=AN)
    assert card == await card_of(client, headers, phone=PHONE)
    assert {(i["kind"], i["value"]) for i in card["identifiers"]} == {
        ("email", AN),
        ("phone", E164),
    }
    assert card["counters"]["reservations"] == 2 and card["counters"]["no_shows"] == 1
    assert card["email"] == AN and card["phone"] == E164
    flagged = [a for a in await outbox(owner) if a["type"] == "customer.flagged_booking"]
    assert [(a["data"]["customer_id"], a["data"]["reservation_id"]) for a in flagged] == [
        (card["id"], "R-2")
    ]
    assert await customers_of(owner) == 1


async def test_an_event_linking_an_email_card_and_a_phone_card_merges_them(
    client: httpx.AsyncClient, seed: Seed, headers: dict[str, str], owner: asyncpg.Connection
) -> None:
    await seed(event("form.submitted", phone=None, at=0))  # the email card
    await seed(event("reservation.created", email=None, at=10, source="phone"))
    await seed(event("reservation.no_show", email=None, at=20, source="phone"))
    phone_card = (await client.get(f"{URL}/customer-lookup?phone={PHONE}", headers=headers)).json()
    email_card = (await client.get(f"{URL}/customer-lookup?email={AN}", headers=headers)).json()
    assert phone_card["id"] != email_card["id"]

    report = await seed(event("reservation.created", at=30, reservation_id="R-9"))

    assert report.merged == 1
    card = await card_of(client, headers, phone=PHONE)
    assert card["id"] == email_card["id"]  # "B is merged into A": the email card lives on
    assert card["counters"] == {
        "reservations": 2,
        "completed": 0,
        "no_shows": 1,
        "cancellations": 0,
        "forms": 1,
    }
    assert [m["customer_id"] for m in card["merged_from"]] == [phone_card["id"]]
    assert card["merged_from"][0]["reason"] == "linked_by_event"
    assert await history_count(client, headers, card["id"]) == 4
    # the old id answers 308 to the survivor, on the card and on its sub-resources
    old = await client.get(f"{URL}/customers/{phone_card['id']}", headers=headers)
    assert old.status_code == 308
    assert old.headers["location"] == f"{URL}/customers/{card['id']}"
    old_history = await client.get(f"{URL}/customers/{phone_card['id']}/history", headers=headers)
    assert old_history.headers["location"] == f"{URL}/customers/{card['id']}/history"
    # alerts: the merge, and the booking of a no-show evaluated on the merged card
    alerts = await outbox(owner)
    merged = [a for a in alerts if a["type"] == "customer.merged"]
    assert [(a["data"]["survivor_id"], a["data"]["absorbed_id"]) for a in merged] == [
        (card["id"], phone_card["id"])
    ]
    flagged = [a for a in alerts if a["type"] == "customer.flagged_booking"]
    assert [(a["data"]["customer_id"], a["data"]["no_show_count"]) for a in flagged] == [
        (card["id"], 1)
    ]
    records = (await client.get(f"{URL}/merges?customer_id={card['id']}", headers=headers)).json()
    assert [(m["survivor_id"], m["absorbed_id"], m["reason"]) for m in records["items"]] == [
        (card["id"], phone_card["id"], "linked_by_event")
    ]
    assert await customers_of(owner) == 1


async def test_staff_merge_and_undo_give_each_card_its_own_events_and_tags(
    client: httpx.AsyncClient, seed: Seed, headers: dict[str, str], owner: asyncpg.Connection
) -> None:
    bo = "bo@example.be"
    await seed(*(event("reservation.completed", phone=None, at=i) for i in range(2)))
    await seed(
        *(event("form.submitted", email=bo, phone="0471 22 33 44", at=100 + i) for i in range(3))
    )
    a, b = await card_of(client, headers, email=AN), await card_of(client, headers, email=bo)
    put = await client.put(
        f"{URL}/customers/{b['id']}/tags", json={"tags": ["vip"]}, headers=headers
    )
    assert put.status_code == 200, put.text

    merged = await client.post(
        f"{URL}/customers/{a['id']}/merge", json={"customer_id": b["id"]}, headers=headers
    )

    assert merged.status_code == 200, merged.text
    card = merged.json()
    assert card["id"] == a["id"] and "vip" in [t["code"] for t in card["tags"]]
    assert card["counters"]["completed"] == 2 and card["counters"]["forms"] == 3
    assert await history_count(client, headers, a["id"]) == 5
    assert (await client.get(f"{URL}/customers/{b['id']}", headers=headers)).status_code == 308
    # after the merge: an event carrying only b's email lands on the merged card, and staff
    # add a tag to the merged card
    await seed(event("form.submitted", email=bo, phone=None, at=200))
    assert await history_count(client, headers, a["id"]) == 6
    put = await client.put(
        f"{URL}/customers/{a['id']}/tags", json={"tags": ["vip", "local"]}, headers=headers
    )
    assert put.status_code == 200, put.text
    merge_id = card["merged_from"][0]["merge_id"]

    undone = await client.post(f"{URL}/merges/{merge_id}/undo", headers=headers)

    assert undone.status_code == 200, undone.text
    assert undone.json() == {"customers": [a["id"], b["id"]]}
    assert await history_count(client, headers, a["id"]) == 2
    assert await history_count(client, headers, b["id"]) == 4  # its 3 and the later one
    after_a = (await client.get(f"{URL}/customers/{a['id']}", headers=headers)).json()
    after_b = (await client.get(f"{URL}/customers/{b['id']}", headers=headers)).json()
    assert [t["code"] for t in after_b["tags"]] == ["vip"]  # back to the card it was set on
    assert [t["code"] for t in after_a["tags"]] == ["local"]  # set on the merged card: stays
    assert after_a["counters"]["forms"] == 0 and after_b["counters"]["forms"] == 4
    assert {i["value"] for i in after_b["identifiers"]} == {bo, "+32471223344"}
    assert {i["value"] for i in after_a["identifiers"]} == {AN}
    assert after_a["merged_from"] == []
    again = await client.post(f"{URL}/merges/{merge_id}/undo", headers=headers)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    types = [a["type"] for a in await outbox(owner)]
    assert types.count("customer.unmerged") <= 1  # produced after commit, or queued


async def test_merge_refusals_are_problems(
    client: httpx.AsyncClient, seed: Seed, headers: dict[str, str], make_token: MakeToken
) -> None:
    await seed(event(phone=None), event(email="bo@example.be", phone=None))
    a, b = (
        await card_of(client, headers, email=AN),
        await card_of(client, headers, email="bo@example.be"),
    )
    url = f"{URL}/customers/{a['id']}/merge"

    itself = await client.post(url, json={"customer_id": a["id"]}, headers=headers)
    unknown = await client.post(url, json={"customer_id": str(uuid.uuid4())}, headers=headers)
    reader = bearer(await make_token(T, "read"))
    forbidden = await client.post(url, json={"customer_id": b["id"]}, headers=reader)
    other_tenant = bearer(await make_token("other-venue", "read", "write"))
    elsewhere = await client.post(
        f"/v1/tenants/other-venue/customers/{a['id']}/merge",
        json={"customer_id": b["id"]},
        headers=other_tenant,
    )
    no_merge = await client.post(f"{URL}/merges/{uuid.uuid4()}/undo", headers=headers)

    assert [r.status_code for r in (itself, unknown, forbidden, elsewhere, no_merge)] == [
        422,
        404,
        403,
        404,
        404,
    ]


async def test_erasing_a_merged_card_erases_and_suppresses_every_identifier(
    client: httpx.AsyncClient, seed: Seed, headers: dict[str, str], owner: asyncpg.Connection
) -> None:
    await seed(event("form.submitted", phone=None, at=0))
    await seed(event("reservation.created", email=None, phone="0479 88 77 66", at=10))
    await seed(event("reservation.created", phone="0479 88 77 66", at=20))  # links: a merge
    card = await card_of(client, headers, email=AN)
    assert len(card["merged_from"]) == 1

    erased = await client.post(f"{URL}/customers/{card['id']}/anonymize", headers=headers)

    assert erased.status_code == 200, erased.text
    for secret in (AN, "+32479887766", "479887766", "Peeters"):
        assert await scan(owner, secret) == [], secret
    # an older event about the absorbed card's phone alone is dropped, not a new card
    late = await seed(event("reservation.cancelled", email=None, phone="0479 88 77 66", at=15))
    assert (late.applied, late.suppressed) == (0, 1)
    undo = await client.post(
        f"{URL}/merges/{card['merged_from'][0]['merge_id']}/undo", headers=headers
    )
    assert undo.status_code == 409


async def test_a_family_phone_makes_a_suggestion_never_a_merge(
    client: httpx.AsyncClient, seed: Seed, headers: dict[str, str], owner: asyncpg.Connection
) -> None:
    await seed(event(at=0))
    await seed(event(email="jan.peeters@example.be", contact={"first_name": "Jan"}, at=10))

    assert await customers_of(owner) == 2
    page = (await client.get(f"{URL}/duplicates", headers=headers)).json()
    a = await card_of(client, headers, email=AN)
    b = await card_of(client, headers, email="jan.peeters@example.be")
    assert [(sorted(i["customers"]), i["reason"]) for i in page["items"]] == [
        (sorted([a["id"], b["id"]]), "shared_phone")
    ]
    # the phone alone leads to the card whose tie is the oldest (rule 2)
    assert (await card_of(client, headers, phone=PHONE))["id"] == a["id"]

    dismissed = await client.post(
        f"{URL}/duplicates/dismiss", json={"customers": [a["id"], b["id"]]}, headers=headers
    )

    assert dismissed.status_code == 204, dismissed.text
    assert (await client.get(f"{URL}/duplicates", headers=headers)).json()["items"] == []


async def test_junk_and_blocked_identifiers_never_link(
    client: httpx.AsyncClient, seed: Seed, headers: dict[str, str], owner: asyncpg.Connection
) -> None:
    settings = await client.get(f"{URL}/settings", headers=headers)
    assert settings.json() == {"region": "BE", "regular_threshold": 3, "blocked_identifiers": []}
    put = await client.put(
        f"{URL}/settings",
        json={"region": "BE", "regular_threshold": 3, "blocked_identifiers": ["02 512 34 56"]},
        headers=headers,
    )
    assert put.status_code == 200, put.text
    assert put.json()["blocked_identifiers"] == ["+3225123456"]
    bad = await client.put(
        f"{URL}/settings",
        json={"region": "BE", "regular_threshold": 3, "blocked_identifiers": ["hello"]},
        headers=headers,
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "blocked_identifiers.0"

    # two guests who booked through the reception's phone: two cards, no suggestion
    await seed(event(phone="02 512 34 56", at=0))
    await seed(event(email="bo@example.be", phone="02 512 34 56", at=5))
    # a junk address with a real phone goes to that phone's card
    await seed(event(email=None, phone="0478 00 11 22", at=10))
    report = await seed(event(email="noemail@gmail.com", phone="0478 00 11 22", at=20))
    # only blocked / junk identifiers: unidentifiable
    nobody = await seed(event(email="test@test.com", phone="02 512 34 56", at=30))

    assert report.created == 0
    assert nobody.unidentifiable == [0]
    assert await customers_of(owner) == 3
    assert (await client.get(f"{URL}/duplicates", headers=headers)).json()["items"] == []
    junk = await owner.fetchval(
        "SELECT count(*) FROM identifiers WHERE value IN ('noemail@gmail.com', '+3225123456')"
    )
    assert junk == 0


async def test_a_phone_on_more_than_five_cards_stops_linking(
    client: httpx.AsyncClient, seed: Seed, headers: dict[str, str], owner: asyncpg.Connection
) -> None:
    for i in range(6):
        await seed(event(email=f"guest{i}@example.be", at=i))
    report = await seed(event(email=None, at=100))  # the shared phone alone

    assert report.created == 1  # rule 5: the phone identifies nobody any more
    assert await customers_of(owner) == 7


async def test_the_import_dry_run_counts_the_merges_it_would_cause(
    client: httpx.AsyncClient, seed: Seed, headers: dict[str, str]
) -> None:
    await seed(event(phone=None, at=0))
    await seed(event(email=None, at=10))
    body = f"email,phone,first_name\n{AN},{PHONE},An\nnew@example.be,,New\n"

    r = await client.post(
        f"{URL}/imports?dry_run=true",
        content=body.encode(),
        headers={**headers, "content-type": "text/csv"},
    )

    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["would_merge"], report["would_create"], report["would_update"]) == (1, 1, 1)
