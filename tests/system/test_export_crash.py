"""SIGKILL the export worker mid-job: the export still completes, correctly."""

from __future__ import annotations

import csv
import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from services.common import exportjobs as jobs
from services.common.db import connect
from services.export.runner import export_path
from tests.support.processes import ROOT, create_topics, produce, wait_for
from tests.support.stack import Stack

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]
TENANT = "big-venue"
ROWS = 400_000

SEED = """
INSERT INTO tenants (tenant_id) VALUES ($1);
"""
SEED_CUSTOMERS = """
INSERT INTO customers (tenant_id, id, identity_key, email, first_name, last_name, language,
                       first_contact_at, last_contact_at, reservations)
SELECT $1, gen_random_uuid(), 'email:guest' || i || '@example.be', 'guest' || i || '@example.be',
       'Guest', 'Number ' || i, CASE WHEN i % 2 = 0 THEN 'nl' ELSE 'fr' END,
       now() - interval '1 day' * (i % 365), now(), i % 7
FROM generate_series(1, $2) AS i
"""


def _worker(
    db_url: str, bootstrap: str, prefix: str, out: Path, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CONTACTS_DATABASE_URL": db_url,
        "CONTACTS_KAFKA_BOOTSTRAP": bootstrap,
        "CONTACTS_TOPIC_PREFIX": prefix,
        "CONTACTS_INGEST_GROUP": f"{prefix}ingest",
        "CONTACTS_EXPORT_DIR": str(out),
        "CONTACTS_KAFKA_SESSION_TIMEOUT": "6",
        "CONTACTS_EXPORT_STALE_SECONDS": "3",
    }
    handle = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "export-worker"],
        env=env,
        cwd=ROOT,
        stdout=handle,
        stderr=handle,
    )


async def test_export_worker_killed_mid_job_still_completes(
    stack: Stack, db_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    conn = await connect(db_url)
    try:
        await conn.execute(SEED, TENANT)
        await conn.execute(SEED_CUSTOMERS, TENANT, ROWS)
        export_id = await jobs.create(conn, TENANT, {"language": ["nl"]}, delimiter=";")
        topics = await create_topics(stack.bootstrap, topic_prefix)
        out, log = tmp_path / "exports", tmp_path / "worker.log"
        worker = _worker(db_url, stack.bootstrap, topic_prefix, out, log)
        await produce(
            stack.bootstrap,
            topics.export_requests,
            [(TENANT.encode(), orjson.dumps({"export_id": str(export_id)}))],
        )

        async def state_is(*states: str) -> bool:
            return (
                await conn.fetchval("SELECT state FROM exports WHERE id = $1", export_id) in states
            )

        await wait_for(lambda: state_is("running", "done"), timeout=120, every=0.01)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        killed_while = await conn.fetchval("SELECT state FROM exports WHERE id = $1", export_id)
        worker = _worker(db_url, stack.bootstrap, topic_prefix, out, log)
        try:
            await wait_for(lambda: state_is("done", "failed"), timeout=180, every=0.2)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
        job = await conn.fetchrow("SELECT * FROM exports WHERE id = $1", export_id)
    finally:
        await conn.close()

    assert killed_while == "running"  # the kill landed mid-job
    assert job["state"] == "done", log.read_text()[-2000:]
    assert job["attempts"] == 2
    path = export_path(out, TENANT, export_id)
    data = path.read_bytes()
    assert job["sha256"] == hashlib.sha256(data).hexdigest() and job["bytes"] == len(data)
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    assert len(rows) == job["rows"] == ROWS // 2
    assert {r["language"] for r in rows} == {"nl"}
    assert len({r["customer_id"] for r in rows}) == ROWS // 2
    assert not list(out.rglob("*.part"))
