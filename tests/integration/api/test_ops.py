"""Health, readiness, metrics, OpenAPI, and problem+json for every error, 503 without database."""

from __future__ import annotations

import httpx
import pytest

from services.common.infra import free_port
from services.common.settings import Settings
from services.profile.app import create_app
from tests.support.api import MakeToken, Seed, bearer, build_app
from tests.support.venues import OTHER, T, venue_events

pytestmark = pytest.mark.asyncio(loop_scope="session")
DOWN_DSN = f"postgresql://contacts_api:@127.0.0.1:{free_port()}/nowhere"


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://api.test",
    )


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"database": "ok", "broker": "ok"}


async def test_readyz_is_503_when_the_broker_is_down(settings: Settings, db_url: str) -> None:
    app = build_app(
        settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"}), db_url
    )
    async with app.router.lifespan_context(app), _client(app) as c:
        r = await c.get("/readyz")
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    assert "broker" in r.json()["detail"]


async def test_without_database_routes_answer_503_never_500(settings: Settings) -> None:
    app = create_app(
        settings.model_copy(update={"dev_token": "dev"}), dsn=DOWN_DSN, api_dsn=DOWN_DSN
    )
    async with app.router.lifespan_context(app), _client(app) as c:
        assert (await c.get("/healthz")).status_code == 200
        r = await c.get("/readyz")
        assert r.status_code == 503 and "database" in r.json()["detail"]
        r = await c.get(f"/v1/tenants/{T}/customers", headers=bearer("dev"))
        assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
        r = await c.get(f"/v1/tenants/{T}/customers", headers=bearer("ct_token_lookup_needs_db"))
        assert r.status_code == 503


async def test_unknown_route_and_wrong_method_are_problems(client: httpx.AsyncClient) -> None:
    r = await client.get("/nope")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["instance"] == "/nope"
    r = await client.delete("/healthz")
    assert r.status_code == 405 and r.headers["content-type"] == "application/problem+json"


async def test_metrics_count_requests_by_route_template(
    client: httpx.AsyncClient, make_token: MakeToken
) -> None:
    token = bearer(await make_token(T, "read"))
    await client.get(
        f"/v1/tenants/{T}/customers/00000000-0000-0000-0000-000000000001", headers=token
    )
    await client.get("/nope")
    r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert (
        'contacts_http_requests_total{method="GET",'
        'route="/v1/tenants/{tenant}/customers/{customer_id}",status="404"} 1.0'
    ) in text
    assert 'route="unmatched"' in text
    assert "contacts_http_request_duration_seconds_bucket" in text
    assert "00000000-0000-0000-0000-000000000001" not in text


async def test_openapi_documents_every_route_with_its_errors(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    expected = {
        ("get", "/v1/tenants/{tenant}/customers"),
        ("get", "/v1/tenants/{tenant}/customers/{customer_id}"),
        ("get", "/v1/tenants/{tenant}/customers/{customer_id}/history"),
        ("get", "/v1/tenants/{tenant}/customers/{customer_id}/history/{entry_id}"),
        ("get", "/v1/tenants/{tenant}/customer-lookup"),
        ("put", "/v1/tenants/{tenant}/customers/{customer_id}/tags"),
        ("post", "/v1/tenants/{tenant}/customers/{customer_id}/anonymize"),
        ("get", "/v1/tenants/{tenant}/customers/{customer_id}/data-export"),
        ("get", "/v1/tenants/{tenant}/tags"),
        ("post", "/v1/tenants/{tenant}/tags"),
        ("post", "/v1/tenants/{tenant}/exports"),
        ("get", "/v1/tenants/{tenant}/exports/{export_id}"),
        ("get", "/v1/tenants/{tenant}/exports/{export_id}/download"),
        ("post", "/v1/exports"),
        ("get", "/v1/tenants/{tenant}/imports/template.csv"),
        ("post", "/v1/tenants/{tenant}/imports"),
        ("get", "/v1/tenants/{tenant}/imports/{import_id}"),
        ("get", "/v1/tenants/{tenant}/imports"),
        ("post", "/v1/tenants/{tenant}/imports/{import_id}/undo"),
        ("get", "/v1/tenants/{tenant}/duplicates"),
        ("post", "/v1/tenants/{tenant}/duplicates/dismiss"),
        ("post", "/v1/tenants/{tenant}/customers/{customer_id}/merge"),
        ("get", "/v1/tenants/{tenant}/merges"),
        ("post", "/v1/tenants/{tenant}/merges/{merge_id}/undo"),
        ("get", "/v1/tenants/{tenant}/settings"),
        ("put", "/v1/tenants/{tenant}/settings"),
        ("get", "/v1/tenants"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
    }
    assert {(m, p) for p, ops in paths.items() for m in ops} == expected
    for path, ops in paths.items():
        for method, op in ops.items():
            assert op.get("summary") and op.get("description"), (method, path)
            if path.startswith("/v1/"):
                assert {"401", "403", "422"} <= set(op["responses"]), (method, path)
                assert op["security"] == [{"HTTPBearer": []}]
    assert (await client.get("/docs")).status_code == 200


async def test_ops_lists_the_venues_with_their_customer_counts(
    client: httpx.AsyncClient, seed: Seed, make_token: MakeToken
) -> None:
    await seed(*venue_events())
    ops = bearer(await make_token("*", "read"))
    venue = bearer(await make_token(T, "read"))

    first = await client.get("/v1/tenants", params={"limit": 1}, headers=ops)
    rest = await client.get(
        "/v1/tenants", params={"cursor": first.json()["next_cursor"]}, headers=ops
    )
    refused = await client.get("/v1/tenants", headers=venue)

    assert first.status_code == 200, first.text
    items = [*first.json()["items"], *rest.json()["items"]]
    assert [(i["tenant_id"], i["customers"]) for i in items] == [(T, 4), (OTHER, 1)]
    assert rest.json()["next_cursor"] is None
    assert refused.status_code == 403
