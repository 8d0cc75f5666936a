"""Customer card, history (paginated), one entry in full, and lookup by email or phone."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import MakeToken, Seed, bearer
from tests.support.builders import event
from tests.support.venues import T, venue_events

pytestmark = pytest.mark.asyncio(loop_scope="session")
BASE_URL = f"/v1/tenants/{T}"


@pytest.fixture
async def ctx(client: httpx.AsyncClient, seed: Seed, make_token: MakeToken) -> dict[str, Any]:
    await seed(*venue_events())
    headers = bearer(await make_token(T, "read"))
    r = await client.get(f"{BASE_URL}/customers", headers=headers)
    ids = {i["first_name"]: i["id"] for i in r.json()["items"]}
    return {"headers": headers, "ids": ids}


async def test_card_has_every_documented_field(
    client: httpx.AsyncClient, ctx: dict[str, Any]
) -> None:
    r = await client.get(f"{BASE_URL}/customers/{ctx['ids']['Benoit']}", headers=ctx["headers"])
    assert r.status_code == 200
    card = r.json()
    assert card["first_name"] == "Benoit" and card["last_name"] == "Dubois"
    assert card["email"] == "benoit.dubois@example.be" and card["phone"] is None
    assert card["language"] == "fr"
    assert card["newsletter"]["opt_in"] is False
    assert card["newsletter"]["source"] == "booking-widget"
    assert card["newsletter"]["updated_at"].startswith("2026-11-01T18:40")
    assert card["counters"] == {
        "reservations": 1,
        "completed": 0,
        "no_shows": 2,
        "cancellations": 0,
        "forms": 0,
    }
    assert card["flags"] == ["no_show"]
    (tag,) = card["tags"]
    assert tag["code"] == "no_show" and tag["origin"] == "auto" and tag["label"] == "No-show"
    assert tag["added_at"].startswith("2026-11-01T18:50")
    assert card["first_contact_at"] < card["last_contact_at"]
    assert card["anonymized"] is False


@pytest.mark.parametrize(
    ("params", "headers", "label"),
    [
        ({}, {}, "Problem case"),
        ({"lang": "nl"}, {}, "Probleemgeval"),
        ({"lang": "fr"}, {"Accept-Language": "nl"}, "Cas problématique"),
        ({}, {"Accept-Language": "de-DE, fr-BE;q=0.8, nl;q=0.5"}, "Cas problématique"),
        ({"lang": "de"}, {}, "Problem case"),
    ],
)
async def test_tag_labels_follow_the_requested_language(
    client: httpx.AsyncClient,
    ctx: dict[str, Any],
    owner: Any,
    params: dict[str, str],
    headers: dict[str, str],
    label: str,
) -> None:
    writer = {"Authorization": ctx["headers"]["Authorization"]}
    await owner.execute(
        "UPDATE customers SET tags = '{problem}', tag_meta = $1 WHERE id = $2::uuid",
        {"problem": {"origin": "manual", "added_at": "2026-11-01T00:00:00+00:00"}},
        ctx["ids"]["Chris"],
    )
    r = await client.get(
        f"{BASE_URL}/customers/{ctx['ids']['Chris']}", params=params, headers={**writer, **headers}
    )
    assert r.json()["tags"][0]["label"] == label


async def test_the_card_labels_the_venues_own_tags_and_lists_its_identifiers(
    client: httpx.AsyncClient, ctx: dict[str, Any], owner: Any
) -> None:
    # the card is one statement: the row, the custom vocabulary, identifiers and merged_from
    labels = {"nl": "Wijnclub", "fr": "Club du vin", "en": "Wine club"}
    await owner.execute(
        "INSERT INTO tenant_tags (tenant_id, code, labels) VALUES ($1, 'wine_club', $2)", T, labels
    )
    await owner.execute(
        "UPDATE customers SET tags = '{wine_club}', tag_meta = '{}' WHERE id = $1::uuid",
        ctx["ids"]["Benoit"],
    )
    r = await client.get(
        f"{BASE_URL}/customers/{ctx['ids']['Benoit']}",
        params={"lang": "fr"},
        headers=ctx["headers"],
    )
    assert r.status_code == 200, r.text
    card = r.json()
    assert card["tags"] == [
        {"code": "wine_club", "label": "Club du vin", "origin": "manual", "added_at": None}
    ]
    assert [(i["kind"], i["value"]) for i in card["identifiers"]] == [
        ("email", "benoit.dubois@example.be")
    ]
    assert card["identifiers"][0]["since"].endswith("Z")
    assert card["merged_from"] == []


async def test_unknown_and_malformed_customer_ids(
    client: httpx.AsyncClient, ctx: dict[str, Any]
) -> None:
    r = await client.get(
        f"{BASE_URL}/customers/00000000-0000-0000-0000-000000000000", headers=ctx["headers"]
    )
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = await client.get(f"{BASE_URL}/customers/not-a-uuid", headers=ctx["headers"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "customer_id"


async def test_history_newest_first_and_paginated(
    client: httpx.AsyncClient, ctx: dict[str, Any]
) -> None:
    url = f"{BASE_URL}/customers/{ctx['ids']['Ann']}/history"
    full = (await client.get(url, headers=ctx["headers"])).json()
    assert [e["type"] for e in full["items"]] == [
        "contact.imported",
        "reservation.created",
        "reservation.created",
        "reservation.created",
    ]
    assert full["next_cursor"] is None
    assert set(full["items"][0]) == {"id", "type", "occurred_at", "source", "summary"}
    times = [e["occurred_at"] for e in full["items"]]
    assert times == sorted(times, reverse=True)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(url, params=params, headers=ctx["headers"])).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [e["id"] for e in full["items"]]
    # A history cursor of one customer is refused for another.
    page = (await client.get(url, params={"limit": 1}, headers=ctx["headers"])).json()
    other = f"{BASE_URL}/customers/{ctx['ids']['Benoit']}/history"
    r = await client.get(other, params={"cursor": page["next_cursor"]}, headers=ctx["headers"])
    assert r.status_code == 422


async def test_history_entry_in_full(client: httpx.AsyncClient, ctx: dict[str, Any]) -> None:
    url = f"{BASE_URL}/customers/{ctx['ids']['Chris']}/history"
    (entry,) = (await client.get(url, headers=ctx["headers"])).json()["items"]
    assert entry["summary"] == "Form contact submitted"
    r = await client.get(f"{url}/{entry['id']}", headers=ctx["headers"])
    assert r.status_code == 200
    assert r.json()["data"]["message"] == "My son Chris is allergic to nuts"
    # The entry exists, but not under another customer.
    other = f"{BASE_URL}/customers/{ctx['ids']['Ann']}/history/{entry['id']}"
    assert (await client.get(other, headers=ctx["headers"])).status_code == 404
    r = await client.get(
        f"{BASE_URL}/customers/00000000-0000-0000-0000-000000000000/history", headers=ctx["headers"]
    )
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("params", "who"),
    [
        ({"email": "ann.zeeman@example.be"}, "Ann"),
        ({"email": "  Ann.Zeeman@EXAMPLE.be "}, "Ann"),
        ({"phone": "0470 11 11 11"}, "Ann"),  # a phone that is not the identity
        ({"phone": "0471 22 22 22"}, "Dirk"),
        ({"phone": "+32 471 22 22 22"}, "Dirk"),
        ({"phone": "0032471222222"}, "Dirk"),
        ({"phone": "+32 (0)471/22.22.22"}, "Dirk"),
        ({"phone": "0471-222-222"}, "Dirk"),
        ({"email": "nobody@example.be", "phone": "0471222222"}, "Dirk"),
        ({"email": "benoit.dubois@example.be", "phone": "0471222222"}, "Benoit"),  # email first
    ],
)
async def test_lookup_by_email_or_any_phone_format(
    client: httpx.AsyncClient, ctx: dict[str, Any], params: dict[str, str], who: str
) -> None:
    r = await client.get(f"{BASE_URL}/customer-lookup", params=params, headers=ctx["headers"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == ctx["ids"][who]
    assert set(body) == {"id", "tags", "flags", "counters"}


async def test_lookup_answers_flags_and_counters(
    client: httpx.AsyncClient, ctx: dict[str, Any]
) -> None:
    r = await client.get(
        f"{BASE_URL}/customer-lookup",
        params={"email": "benoit.dubois@example.be"},
        headers=ctx["headers"],
    )
    body = r.json()
    assert body["flags"] == ["no_show"] and body["counters"]["no_shows"] == 2


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"email": "nobody@example.be"}, 404),
        ({"phone": "0499 99 99 99"}, 404),
        ({"email": "eva.other@example.be"}, 404),  # another tenant's guest
        ({}, 422),
        ({"email": "not-an-email"}, 422),
        ({"phone": "12"}, 422),
    ],
)
async def test_lookup_errors(
    client: httpx.AsyncClient, ctx: dict[str, Any], params: dict[str, str], status: int
) -> None:
    r = await client.get(f"{BASE_URL}/customer-lookup", params=params, headers=ctx["headers"])
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"


async def test_lookup_reads_national_numbers_in_the_tenant_region(
    client: httpx.AsyncClient, seed: Seed, make_token: MakeToken, owner: Any
) -> None:
    await owner.execute("INSERT INTO tenants (tenant_id, region) VALUES ('le-bistrot', 'FR')")
    await seed(event(tenant="le-bistrot", email=None, phone="06 12 34 56 78"))
    headers = bearer(await make_token("le-bistrot", "read"))
    r = await client.get(
        "/v1/tenants/le-bistrot/customer-lookup",
        params={"phone": "06.12.34.56.78"},
        headers=headers,
    )
    assert r.status_code == 200
    r = await client.get(
        "/v1/tenants/le-bistrot/customer-lookup",
        params={"phone": "+33 6 12 34 56 78"},
        headers=headers,
    )
    assert r.status_code == 200
