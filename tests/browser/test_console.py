"""The staff console in a real Chromium: sign in, the list and its filters, the card, tags,
anonymisation, languages, escaping and the security of the session."""

from __future__ import annotations

import asyncio
import re

import asyncpg
import httpx
import pytest
from playwright.async_api import Page, expect

from services.profile.console import pages_customers
from services.profile.tokens import create_token, revoke_token
from tests.support.api import TOKEN_CACHE_SECONDS, MakeToken, Seed
from tests.support.browser import Served, shoot, sign_in
from tests.support.builders import event
from tests.support.venues import OTHER, T, venue_events

pytestmark = pytest.mark.asyncio(loop_scope="session")
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
async def staff(seed: Seed, make_token: MakeToken) -> str:
    """The venue's customers (with a guest whose name is markup) and a full staff token."""
    await seed(
        *venue_events(),
        event(
            email="mallory@example.be",
            phone=None,
            at=400,
            contact={"first_name": XSS, "last_name": "Mallory", "language": "en"},
        ),
    )
    return await make_token(T, "read", "write", "gdpr", "import", "export")


async def test_sign_in_lists_the_venue_and_sends_strict_headers(
    page: Page, served: Served, staff: str
) -> None:
    await page.goto(served.url("/console/"))
    assert page.url.endswith("/console/sign-in")
    await expect(page.locator("h1")).to_have_text("Aanmelden")  # Dutch by default
    await sign_in(page, served, staff)
    assert page.url.endswith("/console/customers")
    await expect(page.locator("#count")).to_have_text("5 klanten")
    await expect(page.locator("#customers tbody tr")).to_have_count(5)
    response = await page.goto(served.url("/console/customers"))
    assert response is not None
    headers = response.headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    cookie = next(c for c in await page.context.cookies() if c["name"] == "contacts_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    assert staff not in cookie["value"] and staff not in page.url
    await shoot(page, "list")


async def test_a_costly_count_is_estimated_and_counted_on_request(
    page: Page, served: Served, staff: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as on a venue of a million guests: any count costs more than the page may spend
    monkeypatch.setattr(pages_customers, "EXACT_COUNT_COST", -1.0)
    await sign_in(page, served, staff)
    await expect(page.locator("#count")).to_have_text(re.compile(r"^Ongeveer \d+ klant"))
    await page.click("#count-link")
    await expect(page.locator("#count")).to_have_text("5 klanten")
    assert "count=1" in page.url


async def test_filters_and_the_card(page: Page, served: Served, staff: str) -> None:
    await sign_in(page, served, staff)
    await page.check("input[name=language][value=fr]")
    await page.click("#filters button[type=submit]")
    await expect(page.locator("#customers tbody tr")).to_have_count(1)
    await expect(page.locator("#customers")).to_contain_text("Benoit Dubois")
    assert "language=fr" in page.url
    await page.goto(served.url("/console/customers?min_reservations=2"))
    await expect(page.locator("#customers tbody tr")).to_have_count(1)
    await page.fill("#q", "zeeman")
    await page.click("#filters button[type=submit]")
    await expect(page.locator("#customers tbody tr")).to_have_count(1)
    await page.click("#count-link")  # a free text is counted on request
    await expect(page.locator("#count")).to_have_text("1 klant")
    # a click on the row (not the link) opens the card
    await page.locator("#customers tbody tr td:last-child").first.click()
    await expect(page.locator("#name")).to_have_text("Ann Zeeman")
    await expect(page.locator("#consent")).to_contain_text("Ja")
    await expect(page.locator("body")).to_contain_text("ann.zeeman@example.be")
    await shoot(page, "card")
    # one history entry in full
    await page.locator("#history a").first.click()
    await expect(page.locator("#entry")).to_contain_text("contact.imported")


async def test_the_flagged_guest_shows_a_banner_and_tags_are_edited(
    page: Page, served: Served, staff: str
) -> None:
    await sign_in(page, served, staff)
    await page.goto(served.url("/console/customers?q=benoit"))
    await page.click("#customers tbody a")
    await expect(page.locator("#flag-banner")).to_be_visible()
    await page.check("#tag-form input[value=vip]")
    await page.check("#tag-form input[value=regular]")
    await page.click("#tag-form button[type=submit]")
    await expect(page.locator(".flash")).to_have_text("Tags bewaard.")
    await expect(page.locator(".tags")).to_contain_text("VIP")
    await expect(page.locator(".tags")).to_contain_text("Regelmatig")
    await shoot(page, "card-flagged")


async def test_anonymise_needs_an_explicit_confirmation(
    page: Page, served: Served, staff: str
) -> None:
    await sign_in(page, served, staff)
    await page.goto(served.url("/console/customers?q=chris"))
    await page.click("#customers tbody a")
    card_url = page.url
    await page.click("text=Deze klant anonimiseren")
    await page.fill("#confirm", "iets anders")
    await page.check("input[name=understood]")
    await page.click("form button.danger")
    await expect(page.locator(".error-summary")).to_be_visible()
    await page.fill("#confirm", "ANONIMISEREN")
    await page.check("input[name=understood]")
    await page.click("form button.danger")
    assert page.url == card_url
    await expect(page.locator(".flash")).to_have_text("De klant is geanonimiseerd.")
    await expect(page.locator("body")).not_to_contain_text("chris.evans@example.com")


async def test_language_switch_is_remembered(page: Page, served: Served, staff: str) -> None:
    await sign_in(page, served, staff)
    await expect(page.locator("#list-title")).to_have_text("Klanten")
    await page.select_option("#lang-switch", "fr")
    await expect(page.locator("#list-title")).to_have_text("Clients")
    await expect(page.locator("#count")).to_have_text("5 clients")
    await page.goto(served.url("/console/customers"))
    await expect(page.locator("#list-title")).to_have_text("Clients")
    await page.select_option("#lang-switch", "en")
    await expect(page.locator("#list-title")).to_have_text("Customers")
    await expect(page.locator("label[for=q]")).to_have_text("Search (name, email or phone)")


async def test_a_guest_named_with_markup_is_text(page: Page, served: Served, staff: str) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    await sign_in(page, served, staff)
    await page.goto(served.url("/console/customers?q=mallory"))
    await expect(page.locator("#customers")).to_contain_text(XSS)
    await page.click("#customers tbody a")
    await expect(page.locator("#name")).to_contain_text(XSS)
    assert await page.locator("img[src=x]").count() == 0
    assert dialogs == []


async def test_a_post_without_the_csrf_token_is_refused(
    page: Page, served: Served, staff: str
) -> None:
    await sign_in(page, served, staff)
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    async with httpx.AsyncClient(base_url=served.base, cookies=cookies) as client:
        r = await client.post("/console/sign-out", data={})
        assert r.status_code == 403
        r = await client.post("/console/sign-out", data={"csrf": "forged"})
        assert r.status_code == 403
    await page.goto(served.url("/console/customers"))
    await expect(page.locator("#list-title")).to_be_visible()  # still signed in


async def test_a_revoked_token_ends_the_session(
    page: Page, served: Served, seed: Seed, owner: asyncpg.Connection
) -> None:
    await seed(*venue_events())
    token_id, token = await create_token(owner, T, ["read"])
    await sign_in(page, served, token)
    await expect(page.locator("#list-title")).to_be_visible()
    await revoke_token(owner, token_id)
    await asyncio.sleep(TOKEN_CACHE_SECONDS)  # revoked elsewhere: seen once the cache time is over
    await page.goto(served.url("/console/customers"))
    assert re.search(r"/console/sign-in$", page.url)
    await expect(page.locator(".flash")).to_contain_text("Uw sessie is beëindigd")


async def test_sign_out(page: Page, served: Served, staff: str) -> None:
    await sign_in(page, served, staff)
    await page.click("text=Afmelden")
    await expect(page.locator(".flash")).to_have_text("U bent afgemeld.")
    await page.goto(served.url("/console/customers"))
    assert page.url.endswith("/console/sign-in")


async def test_an_ops_token_picks_a_venue(
    page: Page, served: Served, seed: Seed, make_token: MakeToken
) -> None:
    await seed(*venue_events())
    await sign_in(page, served, await make_token("*", "read"))
    assert page.url.endswith("/console/venues")
    # each venue with its customer count (the function behind GET /v1/tenants)
    await expect(page.locator(f"#tenant option[value='{OTHER}']")).to_have_text(f"{OTHER} (1)")
    await page.select_option("#tenant", OTHER)
    await page.click("form[action='/console/venues'] button[type=submit]")
    await expect(page.locator(".venue")).to_have_text(OTHER)
    await expect(page.locator("#customers tbody tr")).to_have_count(1)
    await expect(page.locator("#customers")).to_contain_text("eva.other@example.be")


async def test_a_venue_token_cannot_pick_another_venue(
    page: Page, served: Served, staff: str
) -> None:
    await sign_in(page, served, staff)
    await page.goto(served.url("/console/venues"))
    assert page.url.endswith("/console/customers")
    csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    async with httpx.AsyncClient(base_url=served.base, cookies=cookies) as client:
        r = await client.post("/console/venues", data={"csrf": csrf, "tenant": OTHER})
        assert r.status_code == 303
    await page.goto(served.url("/console/customers"))
    await expect(page.locator(".venue")).to_have_text(T)


async def test_the_keyboard_opens_a_card(page: Page, served: Served, staff: str) -> None:
    await sign_in(page, served, staff)
    await page.goto(served.url("/console/customers?q=dirk"))
    await page.focus("#customers tbody a")
    await page.keyboard.press("Enter")
    await expect(page.locator("#name")).to_have_text("Dirk Aerts")
