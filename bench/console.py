"""The staff console's list page against the API call behind it (issue 15), same venue, same
filters, one page of rows, 16 clients: the page renders in about the time of the call.

On a big venue the page no longer counts the segment (it shows the planner's estimate and
counts on request, issue 16), so the call behind it is the page of rows alone; the page's
extra work is the estimate (one EXPLAIN), the venue's tags and the template."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

import aiohttp

from bench.api import Sample, closed_loop
from bench.report import Row

CLIENTS = 16
TARGET = 1.3  # console page p99 / API call p99 (issue 16's table)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def signed_in(base: str, token: str) -> aiohttp.ClientSession:
    """A browser-like session signed in to the console (cookie jar, CSRF of the form)."""
    session = aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.get("/console/sign-in") as r:
        page = await r.text()
    found = _CSRF.search(page)
    if found is None:
        await session.close()
        raise RuntimeError("the console's sign-in form has no CSRF token")
    async with session.post(
        "/console/sign-in", data={"token": token, "csrf": found.group(1)}, allow_redirects=False
    ) as r:
        if r.status not in (302, 303):
            await session.close()
            raise RuntimeError(f"console sign-in answered {r.status}")
    return session


async def _loop(
    session: aiohttp.ClientSession,
    paths: Sequence[str],
    *,
    headers: dict[str, str] | None,
    warmup: float,
    seconds: float,
) -> Sample:
    rng = random.Random(2)  # noqa: S311

    async def call() -> bool:
        try:
            async with session.get(rng.choice(paths), headers=headers) as r:
                await r.read()
                return r.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    return await closed_loop(CLIENTS, call, warmup=warmup, seconds=seconds)


async def compare(
    base: str, token: str, tenant: str, *, warmup: float, seconds: float
) -> tuple[Sample, Sample]:
    """The console list page and the API's list call for the same filters, alternately."""
    queries = ["", "sort=name", "language=nl", "newsletter=true", "min_reservations=2"]
    console_paths = [f"/console/customers?{q}" for q in queries]
    api_paths = [f"/v1/tenants/{tenant}/customers?limit=50&{q}" for q in queries]
    session = await signed_in(base, token)
    api = aiohttp.ClientSession(base)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        await _loop(session, console_paths, headers=None, warmup=0, seconds=warmup)
        page = await _loop(session, console_paths, headers=None, warmup=warmup, seconds=seconds)
        call = await _loop(api, api_paths, headers=headers, warmup=warmup, seconds=seconds)
    finally:
        await session.close()
        await api.close()
    return page, call


def rows(page: Sample, call: Sample) -> list[Row]:
    """p50 and p99 of the page against the API call, and the target ratio at p99."""
    out = []
    for q, name in ((0.5, "p50"), (0.99, "p99")):
        a, b = page.ms(q), call.ms(q)
        target, met = ("—", None)
        if name == "p99":
            target, met = f"≤ {TARGET}\u00d7", a / b <= TARGET
        out.append(
            Row(
                f"console list page: {name}, {CLIENTS} clients",
                a,
                "ms",
                f"API list call {b:.1f} ms",
                a / b,
                target,
                met,
            )
        )
    out.append(
        Row(
            f"console list pages/s, {CLIENTS} clients",
            page.rate,
            "req/s",
            f"API {call.rate:,.0f} req/s",
            page.rate / call.rate if call.rate else None,
        )
    )
    return out
