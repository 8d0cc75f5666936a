"""Beside a running `make run`, every `contacts` command the README names finds the embedded
stack from the data dir alone (contract §7): nothing is copied from the banner."""

from __future__ import annotations

import csv
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.up import Up, cli

pytestmark = pytest.mark.slow
TENANT = "brasserie-leopold"
TOKEN_CACHE_SECONDS = 1.0  # the API trusts a token it resolved this long (a CLI revoke waits)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """One `contacts up` (no demo) for the module."""
    running = Up(
        tmp_path_factory.mktemp("beside") / "data",
        CONTACTS_TOKEN_CACHE_SECONDS=str(TOKEN_CACHE_SECONDS),
    ).start()
    running.wait_up()
    yield running
    running.stop()


def customers(up: Up, token: str) -> list[dict[str, object]]:
    """The venue's list through the API."""
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{up.api}/v1/tenants/{TENANT}/customers?limit=200",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=5) as r:  # noqa: S310
        return list(json.loads(r.read())["items"])


def test_migrate(up: Up) -> None:
    out = cli(up.data_dir, "migrate")
    assert out.returncode == 0, out.stderr
    assert "migrate.done" in out.stderr


def test_demo_then_token_then_export_then_revoke(up: Up, tmp_path: Path) -> None:
    sent = cli(up.data_dir, "demo", "--events", "300", "--venues", "2")
    assert sent.returncode == 0, sent.stderr
    assert '"events": 300' in sent.stderr  # produced to the running broker

    created = cli(up.data_dir, "token", "create", "--tenant", TENANT, "--scope", "read")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    deadline = time.monotonic() + 60
    listed: list[dict[str, object]] = []
    while time.monotonic() < deadline:  # the running ingest worker applies the demo
        time.sleep(1.0)
        again = customers(up, token)
        # applied once the list stops changing (an event that links two cards merges them:
        # a card listed half-way may be gone by the end)
        if again and again == listed:
            break
        listed = again
    assert listed, "the demo sent by `contacts demo` never reached the running stack"

    out_dir = tmp_path / "out"
    exported = cli(up.data_dir, "export", "--tenant", TENANT, "--out", str(out_dir))
    assert exported.returncode == 0, exported.stderr
    (path,) = out_dir.glob("*.csv")
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {r["customer_id"] for r in rows} >= {str(c["id"]) for c in listed}

    token_id = created.stderr.split("token id: ", 1)[1].split()[0]
    revoked = cli(up.data_dir, "token", "revoke", token_id)
    assert revoked.returncode == 0, revoked.stderr
    time.sleep(
        TOKEN_CACHE_SECONDS
    )  # revoked by another process: refused once the cache time is over
    with pytest.raises(urllib.error.HTTPError) as refused:
        customers(up, token)
    assert refused.value.code == 401


def test_without_a_running_stack_one_clear_line(tmp_path: Path) -> None:
    out = cli(tmp_path / "nothing-here", "token", "create", "--tenant", TENANT, "--scope", "read")
    assert out.returncode != 0
    assert "no `contacts up` runs on" in out.stderr
    assert "Traceback" not in out.stderr
