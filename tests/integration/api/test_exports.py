"""Exports through the API: create, follow, download; the CSV equals the list's segment."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from services.common.db import role_dsn
from services.common.settings import Settings
from services.export.runner import ExportRunner
from tests.support.api import MakeToken, Seed, bearer
from tests.support.processes import consume_all, create_topics
from tests.support.stack import Stack
from tests.support.venues import OTHER, T, venue_events

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def headers(seed: Seed, make_token: MakeToken) -> dict[str, str]:
    await seed(*venue_events())
    return bearer(await make_token(T, "read", "export"))


async def _worker_runs(settings: Settings, db_url: str, export_id: str) -> None:
    """What the export worker does on a request, in-process."""
    runner = ExportRunner(db_url, role_dsn(db_url), Path(settings.exports_path))
    assert await runner.run(uuid.UUID(export_id)) == "done"


async def _list_ids(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> set[str]:
    r = await client.get(
        f"/v1/tenants/{T}/customers", params={**params, "limit": 200}, headers={**headers}
    )
    assert r.status_code == 200, r.text
    return {item["id"] for item in r.json()["items"]}


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"language": ["nl"]},
        {"newsletter": "true"},
        {"tag": ["no_show"]},
        {"min_reservations": 2},
        {"q": "ann"},
    ],
    ids=["all", "dutch", "subscribers", "no-shows", "regulars", "fuzzy"],
)
async def test_export_has_exactly_the_rows_of_the_list(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    settings: Settings,
    db_url: str,
    filters: dict[str, Any],
) -> None:
    r = await client.post(f"/v1/tenants/{T}/exports", json={"filters": filters}, headers=headers)
    assert r.status_code == 202, r.text
    export_id = r.json()["export_id"]
    pending = await client.get(f"/v1/tenants/{T}/exports/{export_id}/download", headers=headers)
    assert pending.status_code == 409
    assert pending.headers["content-type"].startswith("application/problem+json")

    await _worker_runs(settings, db_url, export_id)
    state = (await client.get(f"/v1/tenants/{T}/exports/{export_id}", headers=headers)).json()
    download = await client.get(f"/v1/tenants/{T}/exports/{export_id}/download", headers=headers)

    assert state["state"] == "done"
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text, newline="")))
    assert state["rows"] == len(rows) and state["bytes"] == len(download.content)
    params = {k: v for k, v in filters.items()}
    assert {r["customer_id"] for r in rows} == await _list_ids(client, headers, **params)


async def test_create_puts_a_request_on_the_export_topic(
    client: httpx.AsyncClient, headers: dict[str, str], settings: Settings, stack: Stack
) -> None:
    topics = await create_topics(stack.bootstrap, settings.topic_prefix)
    r = await client.post(
        f"/v1/tenants/{T}/exports", json={"delimiter": ";", "bom": True}, headers=headers
    )
    export_id = r.json()["export_id"]
    messages = await consume_all(stack.bootstrap, topics.export_requests, expect=1, timeout=20)
    assert [orjson.loads(m.value)["export_id"] for m in messages] == [export_id]
    assert messages[0].key == T.encode()


async def test_export_errors(
    client: httpx.AsyncClient, headers: dict[str, str], make_token: MakeToken
) -> None:
    bad = await client.post(
        f"/v1/tenants/{T}/exports", json={"filters": {"language": ["dutch"]}}, headers=headers
    )
    unknown_field = await client.post(
        f"/v1/tenants/{T}/exports", json={"filters": {"colour": "red"}}, headers=headers
    )
    reader = bearer(await make_token(T, "read"))
    no_scope = await client.post(f"/v1/tenants/{T}/exports", json={}, headers=reader)
    other = bearer(await make_token(OTHER, "export"))
    wrong_tenant = await client.post(f"/v1/tenants/{T}/exports", json={}, headers=other)
    missing = await client.get(f"/v1/tenants/{T}/exports/{uuid.uuid4()}", headers=headers)

    assert (bad.status_code, unknown_field.status_code) == (422, 422)
    assert no_scope.status_code == 403 and wrong_tenant.status_code == 403
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


async def test_another_tenants_export_is_not_found(
    client: httpx.AsyncClient, headers: dict[str, str], seed: Seed, make_token: MakeToken
) -> None:
    r = await client.post(f"/v1/tenants/{T}/exports", json={}, headers=headers)
    export_id = r.json()["export_id"]
    other = bearer(await make_token(OTHER, "export", "read"))
    for path in (
        f"/v1/tenants/{OTHER}/exports/{export_id}",
        f"/v1/tenants/{OTHER}/exports/{export_id}/download",
    ):
        assert (await client.get(path, headers=other)).status_code == 404


async def test_ops_export_for_all_tenants(
    client: httpx.AsyncClient, headers: dict[str, str], make_token: MakeToken
) -> None:
    ops = bearer(await make_token("*", "export", "read"))
    venue = bearer(await make_token(T, "export"))
    r = await client.post(
        "/v1/exports", json={"tenants": "*", "filters": {"language": ["fr"]}}, headers=ops
    )
    refused = await client.post("/v1/exports", json={"tenants": "*"}, headers=venue)

    assert r.status_code == 202, r.text
    exports = r.json()["exports"]
    assert set(exports) >= {T, OTHER}
    assert refused.status_code == 403
    state = await client.get(f"/v1/tenants/{T}/exports/{exports[T]}", headers=ops)
    assert state.json()["state"] == "queued"
