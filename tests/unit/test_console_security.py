"""The console's security headers: on every console response, not on the API's."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from services.profile.console.security import ConsoleHeaders


async def _ok(_: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


def _app() -> ConsoleHeaders:
    routes = [Route(p, _ok) for p in ("/console/x", "/console/static/a.css", "/v1/y")]
    return ConsoleHeaders(Starlette(routes=routes))


async def test_console_pages_get_a_strict_policy_and_no_framing() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        page = await client.get("/console/x")
        static = await client.get("/console/static/a.css")
        api = await client.get("/v1/y")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "cache-control" not in static.headers and "x-frame-options" in static.headers
    assert "content-security-policy" not in api.headers
