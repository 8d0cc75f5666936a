"""GDPR erasure end to end: events through Kafka and the real `contacts ingest`, the API, exports.

After anonymisation nothing of the person is in the database (pg_dump and a scan of every text
column), in a new export, in the ingest worker's log or in the API's logs captured during the
whole flow; an older event about the same person arriving afterwards is suppressed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import structlog

from services.common.settings import Settings
from tests.support.api import MakeToken, bearer
from tests.support.exports import export_via_api
from tests.support.gdpr import EMAIL, PHONE, SECRETS, person_event, person_events, pg_dump, scan
from tests.support.processes import IngestProcess, create_topics, event_bytes, produce, wait_for
from tests.support.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="session")
T = "brasserie-leopold"
BASE = f"/v1/tenants/{T}"
TEST_SIDE = ("httpx", "httpcore", "aiokafka")


@pytest.fixture
def api_logs(caplog: pytest.LogCaptureFixture) -> Iterator[list[dict[str, Any]]]:
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        yield logs


def _person_events() -> list[dict[str, Any]]:
    return [*person_events(), person_event(type_="reservation.no_show", at=25)]


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s.lower() in text.lower()]


async def test_after_erasure_nothing_of_the_person_remains_anywhere(
    client: httpx.AsyncClient,
    make_token: MakeToken,
    owner: asyncpg.Connection,
    settings: Settings,
    stack: Stack,
    db_url: str,
    topic_prefix: str,
    tmp_path: Path,
    api_logs: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    topics = await create_topics(stack.bootstrap, topic_prefix)
    log_path = tmp_path / "ingest.log"
    worker = IngestProcess(
        db_url, stack.bootstrap, topic_prefix, log_path, CONTACTS_LOG_LEVEL="DEBUG"
    )
    worker.start()
    try:
        docs = _person_events()
        await produce(stack.bootstrap, topics.site_events, [event_bytes(d) for d in docs])

        async def applied(n: int = len(docs)) -> bool:
            return int(await owner.fetchval("SELECT count(*) FROM history")) >= n

        await wait_for(applied, timeout=90)
        headers = bearer(await make_token(T, "read", "write", "export", "gdpr"))
        found = await client.get(
            f"{BASE}/customer-lookup", params={"email": EMAIL, "phone": PHONE}, headers=headers
        )
        assert found.status_code == 200, found.text
        person = found.json()["id"]
        card = await client.get(f"{BASE}/customers/{person}", headers=headers)
        assert card.json()["first_name"] == "Zorglub"
        assert (
            await client.get(f"{BASE}/customers/{person}/data-export", headers=headers)
        ).status_code == 200
        await client.get(f"{BASE}/customers", params={"q": "Zorglub"}, headers=headers)
        before = await export_via_api(client, headers, settings, db_url)
        assert _leaks(before.decode())  # the check below can see the person

        r = await client.post(f"{BASE}/customers/{person}/anonymize", headers=headers)
        assert r.status_code == 200, r.text

        # An older event about the person arrives after the erasure: suppressed, stored nowhere.
        late = person_event(type_="form.submitted", at=30, message="Zorglub again, 0478 98 76 54")
        await produce(stack.bootstrap, topics.site_events, [event_bytes(late)])

        async def suppressed() -> bool:
            return bool(
                await owner.fetchval(
                    "SELECT count(*) FROM processed_events WHERE event_id = $1::uuid",
                    late["event_id"],
                )
            )

        await wait_for(suppressed, timeout=60)
        after = await export_via_api(client, headers, settings, db_url)
        assert b"someone.else@example.be" in after
        assert _leaks(after.decode()) == []
        lookup = await client.get(
            f"{BASE}/customer-lookup", params={"email": EMAIL}, headers=headers
        )
        assert lookup.status_code == 404
        listed = await client.get(f"{BASE}/customers", params={"q": "Zorglub"}, headers=headers)
        assert listed.json()["items"] == []
    finally:
        assert worker.stop() == 0, log_path.read_text()[-3000:]

    assert _leaks(pg_dump(db_url)) == []
    for secret in SECRETS:
        assert await scan(owner, secret) == [], secret
    ingest_log = log_path.read_text()
    assert '"ingest.batch"' in ingest_log  # the log is really there
    assert _leaks(ingest_log) == [], "the ingest log names the person"
    out, err = capfd.readouterr()
    # The test's own HTTP client and Kafka producer log URLs and payloads: not the API's logs.
    api_records = [r for r in caplog.records if not r.name.startswith(TEST_SIDE)]
    api_text = "\n".join([repr(api_logs), *(r.getMessage() for r in api_records), out, err])
    assert api_logs  # the API did log during the flow
    assert _leaks(api_text) == [], "the API logs name the person"
