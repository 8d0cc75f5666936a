"""Files through the console with the real workers: export a segment and read the downloaded
file; import a messy file (cp1252, `;`, Dutch headers, one bad row) by drag and drop, through
the dry-run report, to the confirmed import that ingest applies, and its undo."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.async_api import Page, expect

from tests.support.api import MakeToken, Seed
from tests.support.browser import Served, Workers, shoot, sign_in
from tests.support.venues import T, venue_events

pytestmark = pytest.mark.asyncio(loop_scope="session")
MESSY = (
    "Voornaam;Achternaam;E-mail;GSM;Taal;Nieuwsbrief;Klant sinds;Opmerking\r\n"
    "Hélène;Dupré;Helene.Dupre@Example.be ;0470 55 66 77;Frans;ja;03/02/2024;vaste klant\r\n"
    "Jan;Van den Berg;;+32 486 12 34 56;nl;nee;15/08/2023;\r\n"
    "Piet;Fout;piet@@example;;nl;misschien;31/02/2024;\r\n"
    "Ann;Zeeman;ann.zeeman@example.be;;nl;ja;;\r\n"
).encode("cp1252")


@pytest.fixture
async def staff(seed: Seed, make_token: MakeToken) -> str:
    """The venue's customers and a token that may import and export."""
    await seed(*venue_events())
    return await make_token(T, "read", "write", "import", "export")


async def test_export_a_segment_and_read_the_file(
    page: Page, served: Served, staff: str, workers: Workers
) -> None:
    await sign_in(page, served, staff)
    await page.check("input[name=language][value=nl]")
    await page.click("#filters button[type=submit]")
    await expect(page.locator("#count")).to_have_text("2 klanten")
    await page.click("#export")
    await expect(page.locator("#export-count")).to_have_text("2 klanten")
    await expect(page.locator("input[name=preset][value=excel_semicolon]")).to_be_checked()
    await page.click("form[action='/console/exports'] button[type=submit]")
    await expect(page.locator("#download")).to_be_visible(timeout=180_000)
    async with page.expect_download() as info:
        await page.click("#download")
    download = await info.value
    data = (await download.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), workers.tail()  # the BOM Excel needs
    rows = list(csv.DictReader(io.StringIO(data[3:].decode(), newline=""), delimiter=";"))
    assert sorted(r["last_name"] for r in rows) == ["Aerts", "Zeeman"]
    assert {r["language"] for r in rows} == {"nl"}


async def test_import_a_messy_file_through_the_dry_run(
    page: Page, served: Served, staff: str, workers: Workers
) -> None:
    await sign_in(page, served, staff)
    await page.click("nav >> text=Importeren")
    await page.wait_for_selector("html[data-enhanced]", state="attached")  # the drop handler
    dropped = await page.evaluate_handle(
        """(bytes) => {
            const data = new DataTransfer();
            data.items.add(new File([new Uint8Array(bytes)], "klanten.csv", {type: "text/csv"}));
            return data;
        }""",
        list(MESSY),
    )
    await page.dispatch_event("[data-dropzone]", "drop", {"dataTransfer": dropped})
    await expect(page.locator("[data-filename]")).to_have_text("klanten.csv")
    await page.click("form[action='/console/import'] button[type=submit]")
    await expect(page.locator("#r-rows")).to_have_text("4")
    await expect(page.locator("#r-invalid")).to_have_text("1")
    await expect(page.locator("#r-create")).to_have_text("2")
    errors = page.locator("#import-errors tbody tr")
    await expect(errors).to_have_count(3)
    texts = sorted(" ".join(t.split()[:3]) for t in await errors.all_inner_texts())
    assert texts == [
        "4 email email.invalid",
        "4 first_contact_at date.invalid",
        "4 newsletter_opt_in newsletter.invalid",
    ]
    await shoot(page, "import-report")
    await page.click("form[action='/console/import/confirm'] button[type=submit]")
    await expect(page.locator("#import-state")).to_contain_text(
        "Klaar: 2 rijen verwerkt.", timeout=180_000
    )
    await page.goto(served.url("/console/customers?q=dupr%C3%A9"))
    await expect(page.locator("#customers tbody tr")).to_have_count(1)
    await expect(page.locator("#customers")).to_contain_text("Hélène Dupré")
    # the past imports, each with an undo that takes every change back
    await page.click("nav >> text=Importeren")
    await expect(page.locator("#past-imports tbody tr")).to_have_count(1)
    await expect(page.locator("#past-imports")).to_contain_text("Klaar")
    await page.click("#past-imports button")
    await expect(page.locator(".flash")).to_have_text("De import is ongedaan gemaakt.")
    await expect(page.locator("#past-imports")).to_contain_text("Ongedaan gemaakt")
    await page.goto(served.url("/console/customers?q=dupr%C3%A9"))
    await expect(page.locator("#customers tbody tr")).to_have_count(0)


async def test_unrecognised_columns_are_mapped_by_staff(
    page: Page, served: Served, staff: str
) -> None:
    odd = "Gast;Nummer;Sinds\r\nLotte Peeters;0470 99 88 77;05-03-2024\r\n".encode("cp1252")
    await sign_in(page, served, staff)
    await page.goto(served.url("/console/import"))
    await page.set_input_files(
        "#file", files=[{"name": "gasten.csv", "mimeType": "text/csv", "buffer": odd}]
    )
    await page.click("form[action='/console/import'] button[type=submit]")
    await expect(page.locator("h1")).to_have_text("Welke kolom is wat?")
    await page.wait_for_selector("html[data-enhanced]", state="attached")
    # the file's first rows, under a field chooser per column
    await expect(page.locator("#mapping tbody tr")).to_have_count(1)
    await expect(page.locator("#mapping tbody")).to_contain_text("Lotte Peeters")
    await page.fill("#date_format", "DD-MM-YYYY")
    # each choice runs the dry run again (the page comes back with the choices so far)
    for column, field in (("#col-1", "phone"), ("#col-0", "name"), ("#col-2", "first_contact_at")):
        async with page.expect_navigation():
            await page.select_option(column, field)
        await page.wait_for_selector("html[data-enhanced]", state="attached")
    await expect(page.locator("#r-rows")).to_have_text("1")
    await expect(page.locator("#r-invalid")).to_have_text("0")
    await expect(page.locator("#r-create")).to_have_text("1")
    await expect(page.locator("body")).to_contain_text("indeling van de zaak")
