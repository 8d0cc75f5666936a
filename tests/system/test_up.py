"""`make run` leaves nothing behind (contract §7): whatever signal arrives, at any moment, and
even when `contacts up` itself is killed, its services, the broker and PostgreSQL stop with it,
and the next start works with the data intact."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.up import Up, cli, stack_processes, wait_no_processes

pytestmark = pytest.mark.slow


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[list[Up]]:
    """The `up` runs of a test, all stopped (and their leftovers killed) at the end."""
    started: list[Up] = []
    yield started
    for up in started:
        up.stop()


def new_up(runs: list[Up], data_dir: Path, **kwargs: object) -> Up:
    """A `contacts up` on ``data_dir`` (same ports as an earlier run on it, if any)."""
    up = Up(data_dir, **kwargs)  # type: ignore[arg-type]
    earlier = [r for r in runs if r.data_dir == data_dir]
    if earlier:
        up.ports = earlier[-1].ports
        up.env.update(earlier[-1].env)
    runs.append(up)
    return up


def create_token(up: Up) -> str:
    """`contacts token create` beside the running stack."""
    out = cli(up.data_dir, "token", "create", "--tenant", "brasserie-leopold", "--scope", "read")
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def token_works(up: Up, token: str) -> bool:
    """The API accepts ``token`` (the database kept it)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{up.api}/v1/tenants/brasserie-leopold/customers",
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as r:  # noqa: S310
            return bool(r.status == 200)
    except urllib.error.HTTPError:
        return False


def running_with_a_token(runs: list[Up], data: Path) -> tuple[Up, str]:
    """A started `up` on ``data`` and a token stored in its database."""
    first = new_up(runs, data).start()
    first.wait_up()
    return first, create_token(first)


def test_sigkill_of_up_leaves_nothing_and_the_next_start_works(
    runs: list[Up], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first, token = running_with_a_token(runs, data)
    assert len(stack_processes(data, first.ports["broker"])) >= 6  # up, watchdog, 3, broker, pg

    first.signal(signal.SIGKILL)
    first.wait()
    assert wait_no_processes(data, first.ports["broker"], timeout=20) == []

    second = new_up(runs, data).start()
    second.wait_up()
    assert token_works(second, token)
    second.signal(signal.SIGTERM)
    assert second.wait() == 0
    assert wait_no_processes(data, second.ports["broker"], timeout=10) == []


def test_sigkill_of_every_process_at_once_then_a_start_with_the_data_intact(
    runs: list[Up], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first, token = running_with_a_token(runs, data)
    everything = stack_processes(data, first.ports["broker"])
    assert any(p.name() == "postgres" for p in everything)
    for proc in everything:  # as after a power loss: nobody gets to clean up
        proc.kill()
    psutil.wait_procs(everything, timeout=10)
    assert (data / "pg" / "postmaster.pid").exists()  # the stale lock a killed server leaves

    second = new_up(runs, data).start()
    second.wait_up()
    assert token_works(second, token)


def test_sigterm_twice_during_shutdown(runs: list[Up], tmp_path: Path) -> None:
    up = new_up(runs, tmp_path / "data").start()
    up.wait_up()
    up.signal(signal.SIGTERM)
    time.sleep(0.3)
    up.signal(signal.SIGTERM)  # a supervisor that repeats itself, or Ctrl-C pressed again
    time.sleep(0.3)
    up.signal(signal.SIGINT)
    assert up.wait() == 0
    assert wait_no_processes(up.data_dir, up.ports["broker"], timeout=10) == []
    assert "already stopping" in up.output()


@pytest.mark.parametrize("delay", [0.2, 0.5, 2.5])
def test_sigterm_during_start_up(runs: list[Up], tmp_path: Path, delay: float) -> None:
    up = new_up(runs, tmp_path / "data").start()
    time.sleep(delay)  # while Python imports, PostgreSQL is created, or the services start
    up.signal(signal.SIGTERM)
    assert up.wait() == 0
    assert wait_no_processes(up.data_dir, up.ports["broker"], timeout=10) == []
    again = new_up(runs, tmp_path / "data").start()
    again.wait_up()


def test_a_failed_service_stops_everything_with_a_non_zero_exit_and_one_line(
    runs: list[Up], tmp_path: Path
) -> None:
    up = new_up(runs, tmp_path / "data").start()
    stack = up.wait_up()
    ingest = next(p for p in stack["procs"] if p["name"] == "ingest")
    psutil.Process(ingest["pid"]).kill()
    assert up.wait() == 1
    lines = [line for line in up.output().splitlines() if line.startswith("contacts: the ")]
    assert lines == [
        "contacts: the ingest service stopped (killed by SIGKILL); stopping everything"
    ]
    assert wait_no_processes(up.data_dir, up.ports["broker"], timeout=10) == []


def test_a_port_in_use_is_named_in_one_line(runs: list[Up], tmp_path: Path) -> None:
    up = new_up(runs, tmp_path / "data")
    with socket.socket() as other:
        other.bind(("127.0.0.1", up.ports["http"]))
        other.listen()
        up.start()
        assert up.wait() == 1
    lines = [line for line in up.output().splitlines() if line.startswith("contacts: ")]
    assert lines[0].startswith(f"contacts: cannot start: port {up.ports['http']} (API) is in use")
    assert "Traceback" not in up.output()


def test_a_second_up_on_the_same_data_dir_says_so(runs: list[Up], tmp_path: Path) -> None:
    first = new_up(runs, tmp_path / "data").start()
    first.wait_up()
    second = Up(tmp_path / "data")
    second.log = tmp_path / "second.log"
    runs.append(second)
    second.start()
    assert second.wait() == 1
    assert "contacts up is already running on" in second.output()
    assert first.healthy()  # the second did not disturb the first
