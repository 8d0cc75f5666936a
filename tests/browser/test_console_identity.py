"""Duplicates in the console: side by side, merge into the chosen card, the old card's address
leads to the survivor, undo from the merge history; "not the same person"; alerts."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.support.api import MakeToken, Seed
from tests.support.browser import Served, shoot, sign_in
from tests.support.builders import event
from tests.support.venues import T, venue_events

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def staff(seed: Seed, make_token: MakeToken) -> str:
    """Two cards sharing a family phone (a suggestion, never a merge) and a full token."""
    await seed(event(at=0))
    await seed(event(email="jan.peeters@example.be", contact={"first_name": "Jan"}, at=10))
    return await make_token(T, "read", "write")


async def test_merge_two_duplicates_and_undo(page: Page, served: Served, staff: str) -> None:
    await sign_in(page, served, staff)
    await page.click("nav >> text=Dubbels")
    pair = page.locator(".pair-box")
    await expect(pair).to_have_count(1)
    await expect(pair).to_contain_text("An Peeters")
    await expect(pair).to_contain_text("Jan Peeters")
    await shoot(page, "duplicates")
    first = await pair.locator("input[name=first]").get_attribute("value")
    second = await pair.locator("input[name=second]").get_attribute("value")
    await pair.locator("input[name=keep][value=second]").check()
    await pair.locator("text=Samenvoegen in de gekozen fiche").click()
    await expect(page.locator(".flash")).to_have_text("De twee fiches zijn samengevoegd.")
    await expect(page.locator("#no-duplicates")).to_be_visible()
    await expect(page.locator("#merges tbody tr")).to_have_count(1)
    # the absorbed card's address leads to the card that lives on
    await page.goto(served.url(f"/console/customers/{first}"))
    assert page.url.endswith(f"/console/customers/{second}")
    await expect(page.locator("body")).to_contain_text("an.peeters@example.be")
    await page.goto(served.url("/console/duplicates"))
    await page.locator("#merges button").click()
    await expect(page.locator(".flash")).to_have_text("De samenvoeging is ongedaan gemaakt.")
    await expect(page.locator("#merges")).to_contain_text("ongedaan gemaakt op")
    await page.goto(served.url(f"/console/customers/{first}"))
    assert page.url.endswith(f"/console/customers/{first}")


async def test_not_the_same_person(page: Page, served: Served, staff: str) -> None:
    await sign_in(page, served, staff)
    await page.goto(served.url("/console/duplicates"))
    await page.click("text=Niet dezelfde persoon")
    await expect(page.locator(".flash")).to_have_text("Gemarkeerd als twee verschillende personen.")
    await expect(page.locator("#no-duplicates")).to_be_visible()


async def test_alerts_list_recent_bookings_of_flagged_guests(
    page: Page, served: Served, seed: Seed, make_token: MakeToken
) -> None:
    await seed(*venue_events())
    await sign_in(page, served, await make_token(T, "read"))
    await page.click("nav >> text=Meldingen")
    await expect(page.locator("#alerts tbody tr")).to_have_count(1)
    await expect(page.locator("#alerts")).to_contain_text("Benoit Dubois")
    await expect(page.locator("#alerts")).to_contain_text("No-show")
