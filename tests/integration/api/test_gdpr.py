"""GDPR erasure (nothing of the person remains; later events suppressed) and data export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support.api import MakeToken, Seed, bearer
from tests.support.builders import event
from tests.support.gdpr import EMAIL, PHONE, SECRETS, person_events, pg_dump, scan

pytestmark = pytest.mark.asyncio(loop_scope="session")
T = "brasserie-leopold"
URL = f"/v1/tenants/{T}"


@pytest.fixture
async def person(client: httpx.AsyncClient, seed: Seed, make_token: MakeToken) -> dict[str, Any]:
    await seed(*person_events())
    headers = bearer(await make_token(T, "read", "gdpr"))
    found = await client.get(f"{URL}/customer-lookup", params={"email": EMAIL}, headers=headers)
    return {"id": found.json()["id"], "headers": headers}


async def test_before_erasure_the_person_is_in_the_dump(
    person: dict[str, Any], db_url: str
) -> None:
    dump = pg_dump(db_url)
    assert all(s in dump for s in SECRETS if s != "478987654")


async def test_erasure_leaves_nothing_of_the_person(
    client: httpx.AsyncClient, person: dict[str, Any], db_url: str, owner: asyncpg.Connection
) -> None:
    url = f"{URL}/customers/{person['id']}"
    r = await client.post(f"{url}/anonymize", headers=person["headers"])
    assert r.status_code == 200, r.text
    assert r.json()["anonymized"] is True

    dump = pg_dump(db_url)
    for secret in SECRETS:
        assert secret.lower() not in dump.lower(), secret
        assert await scan(owner, secret) == [], secret

    card = (await client.get(url, headers=person["headers"])).json()
    assert card["anonymized"] is True and card["anonymized_at"]
    assert [card[k] for k in ("first_name", "last_name", "email", "phone", "language")] == [
        None
    ] * 5
    assert card["counters"] == {
        "reservations": 1,
        "completed": 1,
        "no_shows": 0,
        "cancellations": 1,
        "forms": 1,
    }
    assert card["first_contact_at"] and card["last_contact_at"]
    history = (await client.get(f"{url}/history", headers=person["headers"])).json()["items"]
    assert len(history) == 5  # entries and dates stay, free text goes
    for entry in history:
        full = await client.get(f"{url}/history/{entry['id']}", headers=person["headers"])
        data = full.json()["data"]
        assert not {"notes", "message", "subject", "reason", "note", "external_id"} & set(data)
    listed = (await client.get(f"{URL}/customers", headers=person["headers"])).json()["items"]
    assert [i["email"] for i in listed] == ["someone.else@example.be"]
    r = await client.get(
        f"{URL}/customer-lookup", params={"email": EMAIL}, headers=person["headers"]
    )
    assert r.status_code == 404


async def test_erasure_is_idempotent(client: httpx.AsyncClient, person: dict[str, Any]) -> None:
    url = f"{URL}/customers/{person['id']}/anonymize"
    first = (await client.post(url, headers=person["headers"])).json()
    again = await client.post(url, headers=person["headers"])
    assert again.status_code == 200 and again.json() == first


async def test_older_events_are_suppressed_and_newer_ones_start_afresh(
    client: httpx.AsyncClient, person: dict[str, Any], seed: Seed, owner: asyncpg.Connection
) -> None:
    await client.post(f"{URL}/customers/{person['id']}/anonymize", headers=person["headers"])
    late_but_older = event(email=None, phone=PHONE, at=60)  # happened before the erasure
    assert (await seed(late_but_older)).suppressed == 1
    by_email = event(email=EMAIL, phone=None, at=61)
    assert (await seed(by_email)).suppressed == 1
    after = event(email=EMAIL, phone=None, at=datetime.now(UTC) + timedelta(minutes=5))
    report = await seed(after)
    assert (report.suppressed, report.created) == (0, 1)
    count = await owner.fetchval(
        "SELECT count(*) FROM customers WHERE email = $1", "zorglub.vdv@example.be"
    )
    assert count == 1


async def test_erasure_needs_the_gdpr_scope_and_a_known_customer(
    client: httpx.AsyncClient, person: dict[str, Any], make_token: MakeToken
) -> None:
    rw = bearer(await make_token(T, "read", "write"))
    url = f"{URL}/customers/{person['id']}"
    assert (await client.post(f"{url}/anonymize", headers=rw)).status_code == 403
    assert (await client.get(f"{url}/data-export", headers=rw)).status_code == 403
    missing = f"{URL}/customers/00000000-0000-0000-0000-00000000000a"
    r = await client.post(f"{missing}/anonymize", headers=person["headers"])
    assert r.status_code == 404
    r = await client.get(f"{missing}/data-export", headers=person["headers"])
    assert r.status_code == 404


async def test_data_export_holds_everything(
    client: httpx.AsyncClient, person: dict[str, Any]
) -> None:
    r = await client.get(f"{URL}/customers/{person['id']}/data-export", headers=person["headers"])
    assert r.status_code == 200
    body = r.json()
    assert body["tenant_id"] == T
    assert body["customer"]["email"] == "zorglub.vdv@example.be"
    assert body["customer"]["first_name"] == "Zorglub"
    assert len(body["history"]) == 5
    messages = [h["data"].get("message") for h in body["history"]]
    assert "Call Zorglub on 0478 98 76 54" in messages
    assert len(body["consent"]) == 5 and all(c["opt_in"] for c in body["consent"])
    assert set(body["tags"]) == {"tags", "tag_meta", "removed_tags"}
