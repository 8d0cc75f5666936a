"""`contacts up` as a person runs it: a subprocess on private ports and a private data dir."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from services.common.infra import free_port
from tests.support.processes import ROOT


class Up:
    """One `contacts up` on ``data_dir``; output (stdout and stderr) in ``log``."""

    def __init__(self, data_dir: Path, *, demo_events: int = 0, **env: str) -> None:
        self.data_dir = data_dir
        self.ports = {"broker": free_port(), "http": free_port(), "metrics": free_port()}
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CONTACTS_")},
            "CONTACTS_DATA_DIR": str(data_dir),
            "CONTACTS_KAFKA_BOOTSTRAP": f"127.0.0.1:{self.ports['broker']}",
            "CONTACTS_HTTP_PORT": str(self.ports["http"]),
            "CONTACTS_INGEST_METRICS_PORT": str(self.ports["metrics"]),
            "CONTACTS_DEMO": "1" if demo_events else "0",
            "CONTACTS_DEV_TOKEN": "ct_dev_system_tests_token",
            **env,
        }
        self.demo_events = demo_events
        self.log = data_dir.parent / f"{data_dir.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        """The API's base URL."""
        return f"http://127.0.0.1:{self.ports['http']}"

    def start(self) -> Up:
        """Start `contacts up` (returns at once)."""
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "up", "--events", str(self.demo_events)],
            env=self.env,
            cwd=ROOT,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
        return self

    def output(self) -> str:
        """Everything `up` and its services printed so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_up(self, timeout: float = 90) -> dict[str, Any]:
        """Wait until the API answers /healthz and stack.json is written; return stack.json."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"up exited {self.proc.returncode}:\n{self.output()[-3000:]}")
            stack = self.data_dir / "stack.json"
            if stack.exists() and self.healthy():
                return dict(json.loads(stack.read_text()))
            time.sleep(0.3)
        raise AssertionError(f"up not ready in {timeout}s:\n{self.output()[-3000:]}")

    def healthy(self) -> bool:
        """The API answers /healthz."""
        try:
            with urllib.request.urlopen(f"{self.api}/healthz", timeout=1) as r:  # noqa: S310
                return bool(r.status == 200)
        except OSError:
            return False

    def signal(self, sig: int) -> None:
        """Send ``sig`` to `up` alone (not its group)."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 90) -> int:
        """Wait for `up` to exit; its exit code."""
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        """Stop it (if it still runs) and whatever is left, so a failed test leaks nothing."""
        if self.proc is not None and self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        for proc in stack_processes(self.data_dir, self.ports["broker"]):
            proc.kill()


def cli(data_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """A `contacts` command as a person types it beside `make run`: nothing set but the data
    dir (no database URL, no broker address)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTS_")}
    env["CONTACTS_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def stack_processes(data_dir: Path, broker_port: int) -> list[psutil.Process]:
    """Every process of the stack on ``data_dir``, found from the outside: `contacts up`, its
    watchdog and services (their environment names the data dir or the broker), the broker
    (its port) and PostgreSQL (its working directory is the data dir)."""
    pgdata = str((data_dir / "pg").resolve())
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "cwd"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            if proc.pid == os.getpid():
                continue
            is_pg = proc.info["name"] == "postgres" and proc.info["cwd"] == pgdata
            if is_pg or f"127.0.0.1:{broker_port}" in cmdline:
                found.append(proc)
            elif "services.cli" in cmdline or "services.common.watchdog" in cmdline:
                env = proc.environ()
                if env.get("CONTACTS_DATA_DIR") == str(data_dir):
                    found.append(proc)
        except psutil.Error:
            continue
    return found


def wait_no_processes(data_dir: Path, broker_port: int, timeout: float) -> list[str]:
    """Wait until no process of the stack is left; those still there after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        left = stack_processes(data_dir, broker_port)
        if not left or time.monotonic() > deadline:
            return [" ".join(p.cmdline()[:3]) for p in left if p.is_running()]
        time.sleep(0.2)
