"""`contacts export` for ops: one tenant or every tenant into a folder, no broker needed."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from schemas.events import site_event_adapter
from services.common.db import connect
from services.common.kafka import Topics
from services.ingest.handlers import process_batch
from services.ingest.store import PostgresIngestStore
from tests.support.builders import event
from tests.support.processes import ROOT

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _export(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTACTS_DATABASE_URL": db_url}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "export", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_export_command_writes_one_file_per_tenant(db_url: str, tmp_path: Path) -> None:
    conn = await connect(db_url)
    docs = [
        event(tenant="venue-a", email="a1@example.be", contact={"language": "nl"}),
        event(tenant="venue-a", email="a2@example.be", contact={"language": "fr"}),
        event(tenant="venue-b", email="b1@example.be", contact={"language": "nl"}),
    ]
    await process_batch(
        PostgresIngestStore(conn, Topics()),
        [site_event_adapter.validate_python(d) for d in docs],
        secret="s",
    )
    await conn.close()

    every = _export(db_url, "--all-tenants", "--language", "nl", "--out", str(tmp_path / "all"))
    one = _export(db_url, "--tenant", "venue-a", "--delimiter", ";", "--out", str(tmp_path / "a"))
    missing_target = _export(db_url, "--out", str(tmp_path / "x"))

    assert every.returncode == 0, every.stderr
    files = sorted(p.name for p in (tmp_path / "all").glob("*.csv"))
    assert files == ["venue-a.csv", "venue-b.csv"]
    with (tmp_path / "all" / "venue-a.csv").open(newline="") as f:
        assert [r["email"] for r in csv.DictReader(f)] == ["a1@example.be"]
    assert one.returncode == 0, one.stderr
    with (tmp_path / "a" / "venue-a.csv").open(newline="") as f:
        assert len(list(csv.DictReader(f, delimiter=";"))) == 2
    assert missing_target.returncode != 0
