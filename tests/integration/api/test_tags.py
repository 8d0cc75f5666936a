"""Tag vocabulary, custom tags and staff replacing a customer's tags."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.support.api import MakeToken, Seed, bearer
from tests.support.builders import event

pytestmark = pytest.mark.asyncio(loop_scope="session")
T = "brasserie-leopold"
URL = f"/v1/tenants/{T}"
WINE = {"code": "wine_club", "labels": {"nl": "Wijnclub", "fr": "Club du vin", "en": "Wine club"}}
# The built-in tags of the contract (section 4), in the order the vocabulary lists them.
BUILTIN_ORDER = [
    "friends_family",
    "business",
    "influencer",
    "local",
    "no_show",
    "problem",
    "regular",
    "vip",
]


@pytest.fixture
async def h(make_token: MakeToken) -> dict[str, str]:
    return bearer(await make_token(T, "read", "write"))


async def test_vocabulary_lists_builtins_then_custom_tags(
    client: httpx.AsyncClient, h: dict[str, str], make_token: MakeToken
) -> None:
    r = await client.post(f"{URL}/tags", json=WINE, headers=h)
    assert r.status_code == 201
    assert r.json() == {**WINE, "label": "Wine club", "builtin": False}
    body = (await client.get(f"{URL}/tags", params={"lang": "nl"}, headers=h)).json()
    codes = [t["code"] for t in body["items"]]
    assert codes[:8] == BUILTIN_ORDER
    assert codes[8:] == ["wine_club"]
    assert body["items"][8]["label"] == "Wijnclub" and body["max_per_customer"] == 9
    other = bearer(await make_token("chez-other", "read"))
    assert "wine_club" not in [
        t["code"]
        for t in (await client.get("/v1/tenants/chez-other/tags", headers=other)).json()["items"]
    ]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (WINE, 409),
        ({"code": "vip", "labels": WINE["labels"]}, 409),
        ({"code": "Wine", "labels": WINE["labels"]}, 422),
        ({"code": "9lives", "labels": WINE["labels"]}, 422),
        ({"code": "a" * 33, "labels": WINE["labels"]}, 422),
        ({"code": "ok", "labels": {"nl": "x", "fr": "y"}}, 422),
        ({"code": "ok"}, 422),
    ],
)
async def test_bad_or_conflicting_custom_tags(
    client: httpx.AsyncClient, h: dict[str, str], body: dict[str, Any], status: int
) -> None:
    assert (await client.post(f"{URL}/tags", json=WINE, headers=h)).status_code == 201
    r = await client.post(f"{URL}/tags", json=body, headers=h)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"


@pytest.fixture
async def guest(client: httpx.AsyncClient, seed: Seed, h: dict[str, str]) -> str:
    await seed(event(at=0), event("reservation.no_show", at=10))
    r = await client.get(f"{URL}/customers", headers=h)
    return str(r.json()["items"][0]["id"])


async def _tags(owner: Any, guest: str) -> tuple[list[str], dict[str, Any], list[str]]:
    row = await owner.fetchrow(
        "SELECT tags, tag_meta, removed_tags FROM customers WHERE id = $1::uuid", guest
    )
    return list(row["tags"]), row["tag_meta"], list(row["removed_tags"])


async def test_put_replaces_the_set_keeping_auto_origins(
    client: httpx.AsyncClient, h: dict[str, str], guest: str, owner: Any
) -> None:
    r = await client.put(
        f"{URL}/customers/{guest}/tags", json={"tags": ["vip", "no_show", "vip"]}, headers=h
    )
    assert r.status_code == 200, r.text
    assert [(t["code"], t["origin"]) for t in r.json()["tags"]] == [
        ("vip", "manual"),
        ("no_show", "auto"),
    ]
    tags, meta, removed = await _tags(owner, guest)
    assert tags == ["vip", "no_show"] and removed == []
    assert meta["no_show"]["origin"] == "auto"


async def test_removed_auto_tag_is_not_re_added_by_ingest_until_staff_add_it(
    client: httpx.AsyncClient, h: dict[str, str], guest: str, owner: Any, seed: Seed
) -> None:
    before = datetime.now(UTC)
    r = await client.put(f"{URL}/customers/{guest}/tags", json={"tags": ["vip"]}, headers=h)
    after = datetime.now(UTC)
    assert r.json()["flags"] == []
    tags, meta, removed = await _tags(owner, guest)
    # Stated independently: only the staff tag is left, manual, dated by the PUT; the auto
    # no_show tag has no metadata any more and is remembered as removed.
    assert (tags, removed) == (["vip"], ["no_show"])
    added_at = meta.get("vip", {}).get("added_at")
    assert added_at is not None and before <= datetime.fromisoformat(added_at) <= after
    vip_meta = {"vip": {"origin": "manual", "added_at": added_at}}
    assert meta == vip_meta
    await seed(event("reservation.no_show", at=20))  # ingest would tag no_show again
    assert await _tags(owner, guest) == (["vip"], vip_meta, ["no_show"])
    r = await client.put(
        f"{URL}/customers/{guest}/tags", json={"tags": ["vip", "no_show"]}, headers=h
    )
    assert [(t["code"], t["origin"]) for t in r.json()["tags"]] == [
        ("vip", "manual"),
        ("no_show", "manual"),
    ]
    assert (await _tags(owner, guest))[2] == []


async def test_custom_tags_are_accepted_and_unknown_codes_refused(
    client: httpx.AsyncClient, h: dict[str, str], guest: str
) -> None:
    url = f"{URL}/customers/{guest}/tags"
    r = await client.put(url, json={"tags": ["wine_club"]}, headers=h)
    assert r.status_code == 422 and "wine_club" in r.json()["detail"]
    await client.post(f"{URL}/tags", json=WINE, headers=h)
    r = await client.put(url, json={"tags": ["wine_club"]}, params={"lang": "fr"}, headers=h)
    assert r.status_code == 200 and r.json()["tags"][0]["label"] == "Club du vin"


async def test_a_tenth_tag_is_422(
    client: httpx.AsyncClient, h: dict[str, str], guest: str, owner: Any
) -> None:
    url = f"{URL}/customers/{guest}/tags"
    await client.post(f"{URL}/tags", json=WINE, headers=h)
    nine = [*BUILTIN_ORDER, "wine_club"]
    assert (await client.put(url, json={"tags": nine}, headers=h)).status_code == 200
    await client.post(f"{URL}/tags", json={**WINE, "code": "tenth"}, headers=h)
    r = await client.put(url, json={"tags": [*nine, "tenth"]}, headers=h)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "tags"
    assert len((await _tags(owner, guest))[0]) == 9


@pytest.mark.parametrize("body", [{}, {"tags": "vip"}, {"tags": [1]}, {"tags": [], "x": 1}])
async def test_malformed_tag_bodies_are_422(
    client: httpx.AsyncClient, h: dict[str, str], guest: str, body: dict[str, Any]
) -> None:
    r = await client.put(f"{URL}/customers/{guest}/tags", json=body, headers=h)
    assert r.status_code == 422


async def test_put_on_unknown_customer_is_404(client: httpx.AsyncClient, h: dict[str, str]) -> None:
    r = await client.put(
        f"{URL}/customers/00000000-0000-0000-0000-000000000009/tags", json={"tags": []}, headers=h
    )
    assert r.status_code == 404
