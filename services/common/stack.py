"""The running embedded stack of a data dir: its lock, its address file, its leftovers.

`contacts up` holds ``up.lock`` (an flock, released by the kernel however the process ends)
and writes ``stack.json`` (database URL, broker, API, the pids it started). Every other
`contacts` command reads that file when no URL is set, and the next `up` uses it to clear what
a killed run left behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import signal
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

import psutil

LOCK_NAME = "up.lock"
STACK_NAME = "stack.json"


@dataclass(frozen=True)
class Proc:
    """A process `up` started: name, pid and start time (a reused pid has another)."""

    name: str
    pid: int
    create_time: float

    @classmethod
    def of(cls, name: str, pid: int) -> Proc:
        """Record a live process."""
        return cls(name, pid, psutil.Process(pid).create_time())

    def alive(self) -> psutil.Process | None:
        """The process if it still runs (the same one, not a reused pid)."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) < 0.5 and proc.is_running():
                return proc
        except psutil.Error:
            pass
        return None


@dataclass
class StackInfo:
    """What `up` writes into the data dir for the other commands."""

    pid: int
    database_url: str
    kafka_bootstrap: str
    topic_prefix: str
    api_url: str
    export_dir: str
    procs: list[Proc] = field(default_factory=list)

    def write(self, data_dir: Path) -> None:
        """Write atomically (readers never see half a file)."""
        tmp = data_dir / f".{STACK_NAME}.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(data_dir / STACK_NAME)

    @classmethod
    def read(cls, data_dir: Path) -> StackInfo | None:
        """The recorded stack, or None if there is none (or it cannot be read)."""
        try:
            raw = json.loads((data_dir / STACK_NAME).read_text())
            raw["procs"] = [Proc(**p) for p in raw.get("procs", [])]
            return cls(**raw)
        except (OSError, ValueError, TypeError):
            return None


class AlreadyRunningError(RuntimeError):
    """Another `contacts up` holds the data dir."""


def lock_data_dir(data_dir: Path) -> IO[str]:
    """Take the data dir for this `up`; raise AlreadyRunningError naming the holder."""
    handle = (data_dir / LOCK_NAME).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        info = StackInfo.read(data_dir)
        holder = f"pid {info.pid}" if info else "another process"
        raise AlreadyRunningError(
            f"contacts up is already running on {data_dir} ({holder}); stop it first"
        ) from None
    return handle


def running_stack(data_dir: Path) -> StackInfo | None:
    """The stack of a live `up` on this data dir (its lock is held), else None."""
    if not (data_dir / LOCK_NAME).exists():
        return None
    with (data_dir / LOCK_NAME).open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return StackInfo.read(data_dir)  # held: `up` runs
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def stop_procs(procs: list[psutil.Process], *, timeout: float) -> list[psutil.Process]:
    """SIGTERM, wait up to ``timeout``, then SIGKILL; the processes that needed the kill."""
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)
    return alive


def clear_leftovers(data_dir: Path) -> list[str]:
    """Stop what a killed `up` on this data dir left running; the names of what was stopped.

    Call with the data dir's lock held: then no live `up` owns these processes."""
    info = StackInfo.read(data_dir)
    if info is None:
        return []
    found = [(p.name, proc) for p in info.procs if (proc := p.alive()) is not None]
    stop_procs([proc for _, proc in found], timeout=10)
    (data_dir / STACK_NAME).unlink(missing_ok=True)
    return [name for name, _ in found]


def port_holder(host: str, port: int) -> str | None:
    """Who listens on ``host:port`` ("pid N (name)"), or None if the port is free."""
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            return None
        except OSError:
            pass
    with contextlib.suppress(psutil.Error):
        for conn in psutil.net_connections(kind="tcp"):
            listens = conn.status == psutil.CONN_LISTEN
            if conn.laddr and conn.laddr.port == port and listens and conn.pid:
                return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
    return "another program"
