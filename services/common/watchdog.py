"""The watchdog of `contacts up`: stops its stack when `up` ends, however it ends.

`up` starts it first, in its own session, and keeps the write end of its stdin. Each line
registers something to stop: ``proc <pid> <create_time> <name>`` or ``pg <data dir>``. End of
input means `up` is gone (a clean stop, a crash, SIGKILL, an OOM kill, a closed terminal): the
watchdog then stops whatever registered process still runs, then PostgreSQL, and exits. After a
clean stop there is nothing left to stop and it exits at once.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from services.common.infra import stop_postgres
from services.common.stack import Proc, stop_procs


def main() -> int:
    """Read registrations until end of input, then stop what still runs."""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)  # only the end of `up` stops the watchdog
    procs: list[Proc] = []
    pgdata: Path | None = None
    for line in sys.stdin:
        kind, _, rest = line.strip().partition(" ")
        if kind == "proc":
            pid, created, name = rest.split(" ", 2)
            procs.append(Proc(name, int(pid), float(created)))
        elif kind == "pg":
            pgdata = Path(rest)
    left = [proc for p in procs if (proc := p.alive()) is not None and proc.pid != os.getpid()]
    if left:
        print(f"contacts watchdog: `up` is gone; stopping {len(left)} processes", file=sys.stderr)
        stop_procs(left, timeout=10)
    if pgdata is not None and stop_postgres(pgdata):
        print("contacts watchdog: stopped PostgreSQL", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
