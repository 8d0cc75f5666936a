"""Authentication and authorisation: 401, 403, dev token, revoked/expired, the token cache and
its revocation delay, failure limit."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from services.common.settings import Settings
from services.profile.auth import TokenCache
from services.profile.data import tokens
from services.profile.tokens import create_token, revoke_token, token_hash
from tests.support.api import MakeToken, bearer, build_app

pytestmark = pytest.mark.asyncio(loop_scope="session")
T = "brasserie-leopold"
LIST = f"/v1/tenants/{T}/customers"


def _is_problem(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["title"] and body["type"] == "about:blank"


async def test_no_token_is_401_with_a_challenge(client: httpx.AsyncClient) -> None:
    r = await client.get(LIST)
    _is_problem(r, 401)
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer ct_nope", "Bearer ", "Basic dXNlcjpwYXNz", "ct_x"])
async def test_bad_token_is_401(client: httpx.AsyncClient, header: str) -> None:
    r = await client.get(LIST, headers={"Authorization": header})
    _is_problem(r, 401)


async def test_401_comes_before_validation(client: httpx.AsyncClient) -> None:
    r = await client.get(LIST, params={"limit": 0})
    _is_problem(r, 401)


async def test_revoked_and_expired_tokens_are_401(
    client: httpx.AsyncClient, owner: object, make_token: MakeToken
) -> None:
    token_id, token = await create_token(owner, T, ["read"])  # type: ignore[arg-type]
    assert await revoke_token(owner, token_id)  # type: ignore[arg-type]
    _is_problem(await client.get(LIST, headers=bearer(token)), 401)
    expired = await make_token(T, "read", expires_days=-1)
    _is_problem(await client.get(LIST, headers=bearer(expired)), 401)
    live = await make_token(T, "read", expires_days=1)
    assert (await client.get(LIST, headers=bearer(live))).status_code == 200


class _Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_revocation_made_elsewhere_is_seen_within_the_cache_time(
    settings: Settings, db_url: str, owner: object
) -> None:
    # the owner's connection stands for `contacts token revoke` or another replica: this
    # process keeps trusting the token it resolved until its cache time is over, not longer
    clock = _Clock()
    app = build_app(settings, db_url)
    app.state.authenticator.cache = TokenCache(5.0, clock=clock)
    token_id, token = await create_token(owner, T, ["read"])  # type: ignore[arg-type]
    async with app.router.lifespan_context(app), _client(app) as c:
        assert (await c.get(LIST, headers=bearer(token))).status_code == 200
        assert await revoke_token(owner, token_id)  # type: ignore[arg-type]
        clock.now += 4.9
        assert (await c.get(LIST, headers=bearer(token))).status_code == 200
        clock.now += 0.2
        _is_problem(await c.get(LIST, headers=bearer(token)), 401)


async def test_with_a_cache_time_of_0_a_revocation_is_seen_at_once(
    settings: Settings, db_url: str, owner: object
) -> None:
    app = build_app(settings.model_copy(update={"token_cache_seconds": 0}), db_url)
    token_id, token = await create_token(owner, T, ["read"])  # type: ignore[arg-type]
    async with app.router.lifespan_context(app), _client(app) as c:
        assert (await c.get(LIST, headers=bearer(token))).status_code == 200
        assert await revoke_token(owner, token_id)  # type: ignore[arg-type]
        _is_problem(await c.get(LIST, headers=bearer(token)), 401)


async def test_an_unknown_token_is_not_remembered_as_refused(
    client: httpx.AsyncClient, owner: object
) -> None:
    token = "ct_issued-after-a-first-try"
    _is_problem(await client.get(LIST, headers=bearer(token)), 401)
    await tokens.insert(
        owner,  # type: ignore[arg-type]
        uuid.uuid4(),
        T,
        ["read"],
        token_hash(token),
        name=None,
        expires_at=None,
    )
    assert (await client.get(LIST, headers=bearer(token))).status_code == 200


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")


async def test_wrong_tenant_and_missing_scope_are_403(
    client: httpx.AsyncClient, make_token: MakeToken
) -> None:
    other = await make_token("chez-other", "read", "write", "gdpr")
    _is_problem(await client.get(LIST, headers=bearer(other)), 403)
    reader = await make_token(T, "read")
    some_id = "00000000-0000-0000-0000-000000000001"
    r = await client.put(f"{LIST}/{some_id}/tags", json={"tags": []}, headers=bearer(reader))
    _is_problem(r, 403)
    r = await client.post(f"{LIST}/{some_id}/anonymize", headers=bearer(reader))
    _is_problem(r, 403)
    writer = await make_token(T, "write")
    _is_problem(await client.get(LIST, headers=bearer(writer)), 403)


async def test_ops_token_reaches_every_tenant(
    client: httpx.AsyncClient, make_token: MakeToken
) -> None:
    ops = await make_token("*", "read")
    for tenant in (T, "chez-other"):
        r = await client.get(f"/v1/tenants/{tenant}/customers", headers=bearer(ops))
        assert r.status_code == 200


async def test_dev_token_is_an_ops_token_with_every_scope(
    settings: Settings, db_url: str, owner: object
) -> None:
    app = build_app(settings.model_copy(update={"dev_token": "dev-secret-token"}), db_url)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test") as c,
    ):
        r = await c.get(LIST, headers=bearer("dev-secret-token"))
        assert r.status_code == 200
        r = await c.get("/v1/tenants/any-venue/tags", headers=bearer("dev-secret-token"))
        assert r.status_code == 200
        _is_problem(await c.get(LIST, headers=bearer("dev-secret-tokeN")), 401)


async def test_repeated_failures_from_one_client_are_429(
    settings: Settings, db_url: str, owner: object
) -> None:
    app: FastAPI = build_app(settings.model_copy(update={"auth_failures_per_minute": 3}), db_url)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("10.0.0.7", 1234)),
            base_url="http://api.test",
        ) as c,
    ):
        for _ in range(3):
            _is_problem(await c.get(LIST, headers=bearer("ct_wrong")), 401)
        r = await c.get(LIST, headers=bearer("ct_wrong"))
        _is_problem(r, 429)
        assert int(r.headers["retry-after"]) >= 1
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("10.0.0.8", 1234)),
            base_url="http://api.test",
        ) as c,
    ):
        _is_problem(await c.get(LIST, headers=bearer("ct_wrong")), 401)  # another client


async def test_tokens_are_stored_hashed_only(owner: object, make_token: MakeToken) -> None:
    token = await make_token(T, "read")
    assert token.startswith("ct_") and len(token) >= 40
    rows = await owner.fetch("SELECT * FROM api_tokens")  # type: ignore[attr-defined]
    assert all(token not in str(dict(r)) for r in rows)
