"""Browser fixtures: the profile app served by uvicorn in a thread on a free port (its own
event loop, on the test's fresh database), Debian's Chromium driven by Playwright, and the
real ingest and export workers for the import and export pages."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from services.common.infra import terminate
from services.common.settings import Settings
from tests.support.api import build_app
from tests.support.processes import IngestProcess, create_topics, spawn
from tests.support.stack import Stack

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 780}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """The app under test at ``base``; every request the browser made, by URL."""

    base: str
    requests: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        """An absolute URL of the app."""
        return self.base + path

    def foreign(self) -> list[str]:
        """Requests that left the app's origin (there must be none)."""
        origin = urlsplit(self.base)
        return [
            u
            for u in self.requests
            if not u.startswith(("data:", "blob:"))
            and (urlsplit(u).scheme, urlsplit(u).netloc) != (origin.scheme, origin.netloc)
        ]


@pytest.fixture
def served(settings: Settings, db_url: str, owner: asyncpg.Connection) -> Iterator[Served]:
    """The profile app (API and console) served over HTTP in a thread."""
    port = _free_port()
    config = uvicorn.Config(
        build_app(settings, db_url), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    yield Served(f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium (Playwright's own download cannot reach its host here)."""
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--lang=nl-BE"]
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (no cookies) at desktop size."""
    ctx = await browser.new_context(viewport=DESKTOP, accept_downloads=True, locale="nl-BE")
    yield ctx
    await ctx.close()


@pytest.fixture
async def page(context: BrowserContext, served: Served) -> AsyncIterator[Page]:
    """A tab that records every request and every dialog; none may leave the origin."""
    tab = await context.new_page()
    tab.on("request", lambda request: served.requests.append(request.url))
    yield tab
    assert served.foreign() == []


async def sign_in(page: Page, served: Served, token: str) -> None:
    """Sign in through the form, as staff do."""
    await page.goto(served.url("/console/"))
    await page.fill("#token", token)
    await page.click("form[action='/console/sign-in'] button[type=submit]")
    await page.wait_for_load_state()


async def shoot(page: Page, name: str) -> None:
    """Screenshots of the page at 1280 px and 360 px wide, to docs/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for size, suffix in ((DESKTOP, "1280"), (PHONE, "360")):
        await page.set_viewport_size(size)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}-{suffix}.png"), full_page=True)
    await page.set_viewport_size(DESKTOP)


@dataclass
class Workers:
    """The real ingest and export workers on the test's database and topics."""

    ingest: IngestProcess
    export: subprocess.Popen[bytes]
    logs: Path

    def tail(self) -> str:
        """The end of both logs (for a failing assertion)."""
        return "\n".join(p.read_text()[-3000:] for p in sorted(self.logs.glob("*.log")))


@pytest.fixture
async def workers(
    stack: Stack, settings: Settings, db_url: str, tmp_path: Path
) -> AsyncIterator[Workers]:
    """`contacts ingest` and `contacts export-worker` as subprocesses, as production runs them."""
    await create_topics(stack.bootstrap, settings.topic_prefix)
    logs = tmp_path / "logs"
    logs.mkdir()
    ingest = IngestProcess(db_url, stack.bootstrap, settings.topic_prefix, logs / "ingest.log")
    ingest.start()
    env = {
        **ingest.env,
        "CONTACTS_EXPORT_DIR": str(settings.export_dir),
        "CONTACTS_EXPORT_STALE_SECONDS": "5",
    }
    export = spawn("export-worker", env, logs / "export.log")
    try:
        yield Workers(ingest, export, logs)
    finally:
        ingest.stop()
        terminate(export, timeout=60)
