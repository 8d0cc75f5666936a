"""/docs and /redoc work with no internet access: every asset they name is served by the
service itself (contract §7), and every one of them answers."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest

# Anything that names a place to load from: attributes, CSS url(), and JS string literals.
URLS = re.compile(
    r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)|["'](https?://[^"']+|//[^"']+)["']"""
)


def named_urls(html: str) -> set[str]:
    """Every URL the page names."""
    return {next(g for g in m.groups() if g) for m in URLS.finditer(html)}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_page_names_no_other_host(client: httpx.AsyncClient, page: str) -> None:
    r = await client.get(page)
    assert r.status_code == 200
    urls = named_urls(r.text)
    assert urls, "the page loads no asset at all: the check would be empty"
    foreign = {u for u in urls if urlsplit(u).netloc or u.startswith("//")}
    assert foreign == set(), f"{page} loads from another site: {foreign}"
    for url in urls | {"/openapi.json"}:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url


async def test_swagger_ui_has_no_validator_badge(client: httpx.AsyncClient) -> None:
    r = await client.get("/docs")
    assert '"validatorUrl": null' in r.text  # else the page loads a badge from swagger.io
