"""GET /customers: every filter, sorts, keyset pagination, cursors and totals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.common.db import connect
from services.common.segments import SegmentFilters
from services.common.settings import Settings
from services.profile import models
from services.profile.data import customers
from services.profile.db import Database
from services.profile.listing import customer_page
from tests.support.api import MakeToken, Seed, api_url, bearer
from tests.support.builders import BASE, event
from tests.support.venues import OTHER, T, venue_events

pytestmark = pytest.mark.asyncio(loop_scope="session")
URL = f"/v1/tenants/{T}/customers"


@pytest.fixture
async def headers(seed: Seed, make_token: MakeToken) -> dict[str, str]:
    await seed(*venue_events())
    return bearer(await make_token(T, "read"))


async def _firsts(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[str]:
    r = await client.get(URL, params=params, headers=headers)
    assert r.status_code == 200, r.text
    return [item["first_name"] for item in r.json()["items"]]


def _at(minutes: int) -> str:
    return (BASE + timedelta(minutes=minutes)).isoformat()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["Dirk", "Chris", "Benoit", "Ann"]),
        ({"language": "nl"}, ["Dirk", "Ann"]),
        ({"language": ["nl", "fr"]}, ["Dirk", "Benoit", "Ann"]),
        ({"newsletter": "true"}, ["Ann"]),
        ({"newsletter": "false"}, ["Benoit"]),
        ({"newsletter": "unknown"}, ["Dirk", "Chris"]),
        ({"first_contact_from": _at(150)}, ["Dirk", "Chris"]),
        ({"first_contact_to": _at(100)}, ["Benoit", "Ann"]),
        ({"first_contact_from": _at(100), "first_contact_to": _at(200)}, ["Chris", "Benoit"]),
        ({"last_contact_from": _at(120)}, ["Dirk", "Chris", "Benoit"]),
        ({"last_contact_to": _at(3)}, ["Ann"]),
        ({"last_contact_from": _at(4), "last_contact_to": _at(250)}, ["Chris", "Benoit"]),
        ({"tag": "vip"}, ["Ann"]),
        ({"tag": "no_show"}, ["Benoit"]),
        ({"tag": ["vip", "no_show"]}, []),
        ({"min_reservations": 2}, ["Ann"]),
        ({"min_reservations": 1}, ["Dirk", "Benoit", "Ann"]),
        ({"min_no_shows": 1}, ["Benoit"]),
        ({"min_no_shows": 3}, []),
        ({"q": "zeeman"}, ["Ann"]),
        ({"q": "ZEEMAN"}, ["Ann"]),
        ({"q": "Zeman"}, ["Ann"]),  # a typo still finds her (trigram similarity)
        ({"q": "example.be"}, ["Chris", "Benoit", "Ann"]),  # fuzzy: example.com is close
        ({"q": "0471 22 22 22"}, ["Dirk"]),  # a national phone number, read in the region
        ({"q": "+32471222222"}, ["Dirk"]),
        ({"q": "47122"}, ["Dirk"]),
        ({"q": "eva other"}, []),  # another tenant's customer
        ({"q": "100%_"}, []),  # LIKE wildcards are literal
        ({"language": "nl", "newsletter": "unknown"}, ["Dirk"]),
        ({"language": ["nl", "fr"], "min_reservations": 1, "tag": "no_show"}, ["Benoit"]),
    ],
)
async def test_each_filter_returns_exactly_the_matching_customers(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    params: dict[str, Any],
    expected: list[str],
) -> None:
    assert await _firsts(client, headers, **params) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-last_contact_at", ["Dirk", "Chris", "Benoit", "Ann"]),
        ("last_contact_at", ["Ann", "Benoit", "Chris", "Dirk"]),
        ("first_contact_at", ["Ann", "Benoit", "Chris", "Dirk"]),
        ("-first_contact_at", ["Dirk", "Chris", "Benoit", "Ann"]),
        ("name", ["Dirk", "Benoit", "Chris", "Ann"]),  # Aerts, Dubois, Evans, Zeeman
        ("-name", ["Ann", "Chris", "Benoit", "Dirk"]),
    ],
)
async def test_sorts(
    client: httpx.AsyncClient, headers: dict[str, str], sort: str, expected: list[str]
) -> None:
    assert await _firsts(client, headers, sort=sort) == expected


async def test_list_items_carry_the_summary_fields(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    r = await client.get(URL, params={"tag": "no_show"}, headers=headers)
    body = r.json()
    assert set(body) == {"items", "next_cursor"}  # no total unless asked
    (benoit,) = body["items"]
    assert benoit["email"] == "benoit.dubois@example.be"
    assert benoit["language"] == "fr" and benoit["newsletter"] is False
    assert benoit["tags"] == ["no_show"] and benoit["flags"] == ["no_show"]
    assert (benoit["reservations"], benoit["no_shows"]) == (1, 2)


async def test_include_total_counts_every_match_not_the_page(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    r = await client.get(
        URL, params={"include_total": "true", "limit": 1, "language": ["nl", "fr"]}, headers=headers
    )
    body = r.json()
    assert body["total"] == 3 and len(body["items"]) == 1 and body["next_cursor"]


@pytest.mark.parametrize("params", [{}, {"include_total": "true", "limit": 2}])
async def test_the_page_is_encoded_as_its_model_would_encode_it(
    client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, str]
) -> None:
    # the route encodes rows straight to JSON (views.customer_page): the same bytes as the
    # documented model, dates in UTC with Z, total only when asked
    r = await client.get(URL, params=params, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    model = models.CustomerPage.model_validate_json(r.content)
    assert model.model_dump_json(exclude_unset=True).encode() == r.content
    assert model.items and all(item.last_contact_at for item in model.items)


async def test_anonymised_customers_are_not_listed(
    client: httpx.AsyncClient, headers: dict[str, str], owner: Any
) -> None:
    await owner.execute("UPDATE customers SET anonymized_at = now() WHERE first_name = 'Chris'")
    assert await _firsts(client, headers) == ["Dirk", "Benoit", "Ann"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": "x"},
        {"newsletter": "maybe"},
        {"sort": "email"},
        {"first_contact_from": "yesterday"},
        {"min_reservations": -1},
        {"language": "dutch"},
        {"tag": "Not A Tag"},
        {"q": ""},
        {"include_total": "perhaps"},
    ],
)
async def test_bad_filters_are_422_problems_naming_the_field(
    client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, Any]
) -> None:
    r = await client.get(URL, params=params, headers=headers)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 422
    assert {e["field"] for e in body["errors"]} == set(params)


async def _walk(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sort: str,
    limit: int,
    between_pages: Any = None,
) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"sort": sort, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        r = await client.get(URL, params=params, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= limit
        ids += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids
        if between_pages is not None:
            await between_pages()


@pytest.fixture
async def many(seed: Seed, make_token: MakeToken) -> dict[str, str]:
    # 23 customers; several share the same contact time, so the id must break ties.
    await seed(
        *(
            event(
                email=f"guest{i:02d}@example.be",
                phone=None,
                at=i // 4,
                contact={"first_name": f"G{i % 5}", "last_name": "Same" if i % 3 else f"N{i}"},
            )
            for i in range(23)
        )
    )
    return bearer(await make_token(T, "read"))


@pytest.mark.parametrize(
    "sort",
    [
        "-last_contact_at",
        "last_contact_at",
        "first_contact_at",
        "-first_contact_at",
        "name",
        "-name",
    ],
)
async def test_pages_cover_the_list_once_in_order(
    client: httpx.AsyncClient, many: dict[str, str], sort: str
) -> None:
    full = await client.get(URL, params={"sort": sort, "limit": 200}, headers=many)
    expected = [i["id"] for i in full.json()["items"]]
    assert len(expected) == 23
    for limit in (1, 4, 7, 23):
        assert await _walk(client, many, sort, limit) == expected


async def test_pagination_is_stable_under_inserts(
    client: httpx.AsyncClient, many: dict[str, str], seed: Seed
) -> None:
    before = await client.get(URL, params={"limit": 200}, headers=many)
    original = [i["id"] for i in before.json()["items"]]
    counter = iter(range(100))

    async def insert_newer() -> None:
        n = next(counter)
        await seed(event(email=f"late{n}@example.be", phone=None, at=1000 + n))

    walked = await _walk(client, many, "-last_contact_at", 5, between_pages=insert_newer)
    assert walked == original  # newer customers land before the cursor: no duplicates, no gaps


async def test_tampered_or_foreign_cursors_are_422(
    client: httpx.AsyncClient, many: dict[str, str], make_token: MakeToken, seed: Seed
) -> None:
    r = await client.get(URL, params={"limit": 3}, headers=many)
    cursor = r.json()["next_cursor"]
    head, _, sig = cursor.partition(".")
    forged = head[:-2] + ("AA" if head[-2:] != "AA" else "BB") + "." + sig
    for bad in (forged, cursor + "x", "garbage", "", "a.b"):
        r = await client.get(URL, params={"cursor": bad}, headers=many)
        assert r.status_code == 422, bad
        assert r.headers["content-type"] == "application/problem+json"
    # The same cursor under another sort is refused.
    r = await client.get(URL, params={"cursor": cursor, "sort": "name"}, headers=many)
    assert r.status_code == 422
    # Another tenant's cursor is refused, even with a token good for both (ops).
    await seed(
        event(tenant=OTHER, email="x@example.be", at=1),
        event(tenant=OTHER, email="y@example.be", at=2),
    )
    ops = bearer(await make_token("*", "read"))
    r = await client.get(f"/v1/tenants/{OTHER}/customers", params={"cursor": cursor}, headers=ops)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize("sort", ["-last_contact_at", "first_contact_at", "name"])
@pytest.mark.parametrize("walk", [1, 5, 10_000])
async def test_q_pages_are_the_same_whether_the_walk_or_the_index_finds_them(
    client: httpx.AsyncClient,
    many: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    sort: str,
    walk: int,
) -> None:
    """q walks the first Q_WALK rows in sort order and keeps a full page; otherwise the trigram
    index answers. Whichever answers, the pages are the list's own order, filtered."""
    full = await client.get(URL, params={"sort": sort, "limit": 200}, headers=many)
    expected = [i["id"] for i in full.json()["items"] if i["last_name"] == "Same"]
    assert len(expected) == 15
    monkeypatch.setattr(customers, "Q_WALK", walk)
    for limit in (1, 4, 15, 200):
        ids: list[str] = []
        params: dict[str, Any] = {"sort": sort, "limit": limit, "q": "same"}
        while True:
            r = await client.get(URL, params=params, headers=many)
            assert r.status_code == 200, r.text
            ids += [i["id"] for i in r.json()["items"]]
            if not (cursor := r.json()["next_cursor"]):
                break
            params["cursor"] = cursor
        assert ids == expected, (walk, limit)


@pytest.mark.parametrize(
    ("q", "others", "expected"),
    [
        ("zeeman", {}, ["Ann"]),
        ("Zeman", {}, ["Ann"]),
        ("example.be", {}, ["Chris", "Benoit", "Ann"]),
        ("example.be", {"language": ["nl"]}, ["Ann"]),
        ("0471 22 22 22", {}, ["Dirk"]),
        ("+32471222222", {}, ["Dirk"]),
        ("47122", {}, ["Dirk"]),
        ("eva other", {}, []),
        ("100%_", {}, []),
    ],
)
async def test_the_walk_tests_q_and_the_filters_as_the_index_path_does(
    headers: dict[str, str], db_url: str, q: str, others: dict[str, Any], expected: list[str]
) -> None:
    """A page the walk answers must be the page the index would answer: the same q test
    (name, typo, e-mail, phone in any format, literal wildcards), the other filters, the
    tenant. Both paths of customers._page, side by side, as contacts_api under RLS."""
    filters = SegmentFilters(q=q, **others)
    conn = await connect(api_url(db_url))
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('contacts.tenant_id', $1, true)", T)
            pages = [
                await customers._page(
                    conn, T, filters, "BE", "last_contact_at", True, None, 100, walk=walk
                )
                for walk in (10_000, None)
            ]
    finally:
        await conn.close()
    walked, indexed = ([r["first_name"] for r in page] for page in pages)
    assert walked == indexed == expected


@pytest.mark.parametrize(
    ("exact_cost", "total", "estimated"), [(None, 3, False), (1e9, 3, False), (-1.0, None, True)]
)
async def test_a_count_the_planner_costs_too_high_is_its_estimate(
    headers: dict[str, str],
    db_url: str,
    settings: Settings,
    exact_cost: float | None,
    total: int | None,
    estimated: bool,
) -> None:
    """The console's count: exact when cheap (or asked for), else the planner's estimate."""
    filters = SegmentFilters(language=["nl", "fr"])
    conn = await connect(api_url(db_url))
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('contacts.tenant_id', $1, true)", T)
            page = await customer_page(
                Database(api_url(db_url)),  # not used: the page runs on conn
                settings,
                T,
                filters,
                sort="-last_contact_at",
                limit=1,
                cursor=None,
                include_total=True,
                exact_cost=exact_cost,
                conn=conn,
            )
            guess = await customers.estimate(conn, T, filters, "BE")
    finally:
        await conn.close()
    assert len(page.rows) == 1 and page.next_cursor
    assert page.total == total
    assert (page.about is not None) is estimated
    assert guess.rows >= 1 and guess.cost > 0
