"""The bench's own stack: embedded PostgreSQL, a Tansu broker, fresh databases, the machine."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from services.common.db import fetch_once, migrate, with_database
from services.common.infra import EmbeddedPostgres, TansuBroker, free_port


@dataclass(frozen=True)
class BenchStack:
    """Where the bench's PostgreSQL (admin URL), broker and scratch directory are."""

    admin_url: str
    bootstrap: str
    workdir: Path
    broker_pid: int | None = None


@contextlib.contextmanager
def start_stack() -> Iterator[BenchStack]:
    """Start a private PostgreSQL and broker; stop and delete both on exit."""
    tmp = Path(tempfile.mkdtemp(prefix="contacts-bench-"))
    os.chmod(tmp, 0o777)  # as root the server runs as another system user
    pg = EmbeddedPostgres(tmp / "pg", database="postgres")
    broker = TansuBroker(port=free_port())
    try:
        admin_url = pg.start()
        bootstrap = broker.start()
        (tmp / "work").mkdir()
        yield BenchStack(admin_url, bootstrap, tmp / "work", broker.pid)
    finally:
        broker.stop()
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


async def fresh_database(admin_url: str, name: str, *, migrated: bool = True) -> str:
    """Create an empty database (built from the migrations unless told not to); return its URL."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = with_database(admin_url, name)
    if migrated:
        await migrate(url)
    return url


async def server_version(url: str) -> str:
    """PostgreSQL's version string, short form."""
    row = await fetch_once(url, "SHOW server_version")
    return str(row[0]) if row else "unknown"


def machine(pg_version: str) -> dict[str, str]:
    """CPU model, cores, memory, Python and PostgreSQL versions of this machine."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "python": platform.python_version(),
        "postgresql": pg_version,
        "os": platform.platform(terse=True),
    }
