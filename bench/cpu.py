"""CPU seconds of the processes a figure involves, read from Linux's /proc before and after."""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 when unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_seconds(pid: int) -> float:
    """CPU seconds of a process and its live children (PostgreSQL's backends, a worker's
    helpers)."""
    total = cpu_seconds(pid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            total += cpu_seconds(int(stat.parent.name))
    return total


def postmaster(admin_url: str) -> int | None:
    """The embedded server's postmaster pid (its socket directory is its data directory)."""
    host = parse_qs(urlsplit(admin_url).query).get("host", [""])[0]
    pid_file = Path(host) / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


class Meter:
    """CPU seconds of named process trees (and of this process as "bench"), by difference."""

    def __init__(self, **pids: int | None) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid is not None}
        self._start = self.read()

    def read(self) -> dict[str, float]:
        """CPU seconds so far, by name."""
        out = {name: tree_seconds(pid) for name, pid in self.pids.items()}
        out["bench"] = time.process_time()
        return out

    def restart(self) -> None:
        """Count from now."""
        self._start = self.read()

    def used(self) -> dict[str, float]:
        """CPU seconds by name since the start (or the last restart)."""
        now = self.read()
        return {name: now[name] - self._start[name] for name in now}
