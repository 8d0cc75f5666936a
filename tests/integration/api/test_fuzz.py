"""Schemathesis over /openapi.json, in-process: no generated request gets a 5xx."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from tests.support.api import MakeToken, Seed, bearer
from tests.support.venues import venue_events

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_no_generated_request_gets_a_server_error(
    client: httpx.AsyncClient, seed: Seed, make_token: MakeToken
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import schemathesis

    await seed(*venue_events())
    auth = bearer(await make_token("*", "read", "write", "gdpr"))
    spec = (await client.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(spec)
    loop = asyncio.get_running_loop()
    failures: list[str] = []
    statuses: dict[int, int] = {}

    def send(kwargs: dict[str, Any]) -> httpx.Response:
        request = client.request(
            kwargs["method"],
            kwargs["url"],
            params=kwargs.get("params"),
            headers={**(kwargs.get("headers") or {}), **auth},
            json=kwargs.get("json"),
            content=kwargs.get("data"),
        )
        return asyncio.run_coroutine_threadsafe(request, loop).result(timeout=30)

    def run_all() -> None:
        for result in schema.get_all_operations():
            operation = result.ok()  # type: ignore[union-attr]  # an Err fails the test

            @settings(
                max_examples=30,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy())
            def check(case: Any) -> None:
                kwargs = case.as_transport_kwargs(base_url="http://api.test")
                response = send(kwargs)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code >= 500:
                    failures.append(f"{kwargs['method']} {kwargs['url']}: {response.text}")
                elif response.status_code >= 400:
                    assert response.headers["content-type"] == "application/problem+json"

            check()

    await asyncio.to_thread(run_all)
    assert failures == []
    assert sum(statuses.values()) > 100 and 200 in statuses, statuses
