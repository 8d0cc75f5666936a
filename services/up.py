"""`contacts up`: the whole system on embedded defaults, with a live demo and a status line.

Nothing outlives it: a watchdog process (services/common/watchdog.py) stops the stack when
`up` ends however it ends; the data dir's lock and ``stack.json`` let the next start clear what
a killed run left and let every other `contacts` command find the running stack.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import structlog

from services.common.db import fetch_once, migrate
from services.common.infra import EmbeddedPostgres, TansuBroker, start_service, stop_postgres
from services.common.kafka import Topics, ensure_topics
from services.common.retry import TRANSIENT
from services.common.settings import Settings
from services.common.stack import (
    AlreadyRunningError,
    Proc,
    StackInfo,
    clear_leftovers,
    lock_data_dir,
    port_holder,
)

log = structlog.get_logger("contacts.up")

_STATUS = """
SELECT (SELECT count(*) FROM tenants) AS venues,
       (SELECT count(*) FROM customers WHERE anonymized_at IS NULL) AS customers,
       (SELECT count(*) FROM history) AS history,
       (SELECT count(*) FROM processed_events WHERE outcome = 'suppressed') AS suppressed
"""

SERVICES = ("ingest", "profile", "export-worker")
METRICS_PORT = 9101


class StartError(RuntimeError):
    """`up` cannot start; the message says why in one line."""


class _Interrupted(Exception):
    """A stop signal arrived during start-up."""


def say(message: str) -> None:
    """One line for the person at the terminal."""
    print(f"contacts: {message}", file=sys.stderr, flush=True)


@dataclass
class _Signals:
    """SIGINT, SIGTERM and SIGHUP: the first one stops, later ones are noted and ignored."""

    requested: bool = False
    stopping: bool = False
    loop: asyncio.AbstractEventLoop | None = None
    stop: asyncio.Event | None = None

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _: FrameType | None) -> None:
        if self.requested or self.stopping:
            say(f"{signal.Signals(signum).name}: already stopping, please wait")
            return
        self.requested = True
        if self.loop is not None and self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)

    def check(self) -> None:
        """Between start-up steps: give up if a stop was asked for."""
        if self.requested:
            raise _Interrupted


@dataclass
class _Child:
    """A service process; its stderr is echoed, its last lines kept to say why it failed."""

    name: str
    proc: subprocess.Popen[bytes]
    tail: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=20))

    def echo(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace")
            sys.stderr.write(line)
            if line.strip():
                self.tail.append(line.strip())
        sys.stderr.flush()

    def why(self) -> str:
        """How it ended, and the last error it printed (a log record or a traceback's end)."""
        code = self.proc.returncode
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        reason = next((r for line in reversed(self.tail) if (r := _error_in(line))), "")
        return f"exit code {code}: {reason[:300]}" if reason else f"exit code {code}"


def _error_in(line: str) -> str | None:
    """The error a service's stderr line reports, if it reports one."""
    if line.startswith("{"):
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if record.get("level") in ("error", "critical"):
                detail = record.get("error") or record.get("exception", "").strip().split("\n")[-1]
                return f"{record.get('event')}: {detail}" if detail else str(record.get("event"))
        return None
    return line if not line.startswith((" ", "Traceback")) else None


@dataclass
class _Stack:
    """What `up` started, in order, so that it stops in reverse order."""

    settings: Settings
    data_dir: Path
    watchdog: subprocess.Popen[bytes] | None = None
    pg: EmbeddedPostgres | None = None
    broker: TansuBroker | None = None
    children: list[_Child] = field(default_factory=list)
    procs: list[Proc] = field(default_factory=list)

    def register(self, line: str) -> None:
        """Tell the watchdog what to stop if `up` dies."""
        assert self.watchdog is not None and self.watchdog.stdin is not None
        self.watchdog.stdin.write(f"{line}\n".encode())
        self.watchdog.stdin.flush()

    def track(self, name: str, pid: int) -> None:
        proc = Proc.of(name, pid)
        self.procs.append(proc)
        self.register(f"proc {proc.pid} {proc.create_time} {name}")

    def start_watchdog(self) -> None:
        self.watchdog = subprocess.Popen(
            [sys.executable, "-m", "services.common.watchdog"],
            stdin=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C in the terminal does not reach it
        )
        self.track("watchdog", self.watchdog.pid)

    def start_postgres(self) -> str:
        self.pg = EmbeddedPostgres(self.data_dir / "pg")
        self.register(f"pg {(self.data_dir / 'pg').resolve()}")
        return self.pg.start()

    def start_broker(self) -> None:
        host, _, port = self.settings.kafka_bootstrap.partition(",")[0].rpartition(":")
        self.broker = TansuBroker(host or "127.0.0.1", int(port or 9092))
        self.broker.start()
        if self.broker.pid is not None:
            self.track("broker", self.broker.pid)

    def start_services(self, env: dict[str, str]) -> None:
        for name in SERVICES:
            # In their own sessions: `up` stops them in order, Ctrl-C reaches `up` only.
            proc = start_service(name, env, new_session=True)
            child = _Child(name, proc)
            self.children.append(child)
            self.track(name, proc.pid)
            threading.Thread(target=child.echo, daemon=True, name=f"echo-{name}").start()

    def failed(self) -> _Child | None:
        return next((c for c in self.children if c.proc.poll() is not None), None)

    def stop(self) -> None:
        """Services, broker, PostgreSQL, then the watchdog (which then has nothing to do)."""
        for child in self.children:
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        for child in self.children:
            try:
                child.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()
        if self.broker is not None:
            self.broker.stop()
        if self.pg is not None:
            self.pg.stop()
            stop_postgres((self.data_dir / "pg").resolve())  # also one interrupted mid-start
        (self.data_dir / "stack.json").unlink(missing_ok=True)
        if self.watchdog is not None:
            assert self.watchdog.stdin is not None
            self.watchdog.stdin.close()
            self.watchdog.wait(timeout=60)


def run_up(settings: Settings, *, demo_events: int, early_stops: Sequence[int] = ()) -> int:
    """Start PostgreSQL, the broker and the services; block until Ctrl-C / SIGTERM / SIGHUP or
    until a service fails (exit code 1, with one line that says which and why).
    ``early_stops``: signals received before the handlers were installed (services/cli.py)."""
    signals = _Signals()
    signals.install()
    if early_stops:
        signals.requested = True
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        lock = lock_data_dir(data_dir)
    except AlreadyRunningError as exc:
        say(str(exc))
        return 1
    stack = _Stack(settings, data_dir)
    code = 0
    try:
        left = clear_leftovers(data_dir)
        if left:
            say(f"stopped what a killed run left behind: {', '.join(left)}")
        _check_ports(settings)
        signals.check()
        stack.start_watchdog()
        dsn = settings.database_url or stack.start_postgres()
        signals.check()
        stack.start_broker()
        signals.check()
        code = asyncio.run(_serve(settings, stack, dsn, demo_events, signals))
    except _Interrupted:
        say("stop requested during start-up")
    except StartError as exc:
        say(f"cannot start: {exc}")
        code = 1
    except Exception as exc:  # one clear line instead of a traceback
        log.debug("up.start_failed", exc_info=True)
        if signals.requested:  # Ctrl-C also reaches what `up` runs in the foreground
            say("stop requested during start-up")
        else:
            say(f"cannot start: {type(exc).__name__}: {exc}")
            code = 1
    finally:
        signals.stopping = True
        stack.stop()
        lock.close()
        say(f"stopped; data kept in {data_dir}")
    return code


def _check_ports(settings: Settings) -> None:
    """Fail in one line when a port `up` needs belongs to another program."""
    host, _, port = settings.kafka_bootstrap.partition(",")[0].rpartition(":")
    wanted = [
        ("broker", host or "127.0.0.1", int(port or 9092), "CONTACTS_KAFKA_BOOTSTRAP"),
        ("API", settings.http_host, settings.http_port, "CONTACTS_HTTP_PORT"),
        (
            "ingest metrics",
            settings.http_host,
            _metrics_port(settings),
            "CONTACTS_INGEST_METRICS_PORT",
        ),
    ]
    for what, h, p, setting in wanted:
        holder = port_holder(h, p)
        if holder is not None:
            raise StartError(f"port {p} ({what}) is in use by {holder}; free it or set {setting}")


def _metrics_port(settings: Settings) -> int:
    return settings.ingest_metrics_port or METRICS_PORT


async def _serve(
    settings: Settings, stack: _Stack, dsn: str, demo_events: int, signals: _Signals
) -> int:
    stop = asyncio.Event()
    signals.loop, signals.stop = asyncio.get_running_loop(), stop
    signals.check()
    await migrate(dsn)
    topics = Topics(settings.topic_prefix)
    await ensure_topics(settings.kafka_bootstrap, topics.all(), settings.ingest_partitions)
    signals.check()
    token = settings.dev_token or f"ct_dev_{secrets.token_urlsafe(24)}"
    stack.start_services(
        {
            **os.environ,
            "CONTACTS_INGEST_METRICS_PORT": str(_metrics_port(settings)),
            "CONTACTS_EXPORT_DIR": str(settings.exports_path.resolve()),
            "CONTACTS_DEV_TOKEN": token,
            "CONTACTS_DATABASE_URL": dsn,
            "CONTACTS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        }
    )
    api = f"http://{settings.http_host}:{settings.http_port}"
    StackInfo(
        pid=os.getpid(),
        database_url=dsn,
        kafka_bootstrap=settings.kafka_bootstrap,
        topic_prefix=settings.topic_prefix,
        api_url=api,
        export_dir=str(settings.exports_path.resolve()),
        procs=stack.procs,
    ).write(stack.data_dir)
    _banner(settings, dsn, token, api)
    tasks = [asyncio.create_task(_status(dsn, stop))]
    if settings.demo:
        tasks.append(asyncio.create_task(_demo(settings, topics, demo_events)))
    code = 0
    while not stop.is_set():
        failed = stack.failed()
        if failed is not None:
            await asyncio.sleep(0.2)  # let its last lines reach the echo thread
            say(f"the {failed.name} service stopped ({failed.why()}); stopping everything")
            code = 1
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.5)
    signals.stopping = True
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return code


def _banner(settings: Settings, dsn: str, token: str, api: str) -> None:
    print(
        "\ncontacts is up\n"
        f"  API         {api}   (docs: {api}/docs)\n"
        f"  ops token   {token}\n"
        f"  try         curl -H 'Authorization: Bearer {token}' "
        f"{api}/v1/tenants/brasserie-leopold/customers\n"
        f"  metrics     {api}/metrics   ingest: http://{settings.http_host}:{_metrics_port(settings)}"
        "/metrics\n"
        f"  broker      {settings.kafka_bootstrap}\n"
        f"  database    {dsn}\n"
        f"  data        {settings.data_dir.resolve()}  (other `contacts` commands find the "
        "stack from here)\n"
        f"  demo        {'streaming' if settings.demo else 'off (CONTACTS_DEMO=0)'}\n"
        "  Ctrl-C stops everything; the database persists.\n",
        flush=True,
    )


async def _status(dsn: str, stop: asyncio.Event) -> None:
    """Print a one-line status every few seconds: profiles being built, live."""
    last = None
    while not stop.is_set():
        await asyncio.sleep(3)
        try:
            row = await fetch_once(dsn, _STATUS)
        except TRANSIENT as exc:
            print(f"status: database unreachable ({type(exc).__name__})", flush=True)
            continue
        assert row is not None
        line = (
            f"status: {row['venues']} venues, {row['customers']} customers, "
            f"{row['history']} history entries, {row['suppressed']} suppressed"
        )
        if line != last:
            print(line, flush=True)
            last = line


async def _demo(settings: Settings, topics: Topics, events: int) -> None:
    """Stream the demo at a pace a person can watch, the first part in a burst."""
    from services import demo

    # A new seed each run: the venues keep trading, new guests and visits arrive.
    now = datetime.now(UTC)
    records = demo.generate(seed=int(now.timestamp()), events=events, start=now)
    burst = len(records) // 2
    sent = await demo.stream(settings.kafka_bootstrap, topics.site_events, records[:burst])
    log.info("demo.burst_sent", events=sent)
    sent = await demo.stream(
        settings.kafka_bootstrap, topics.site_events, records[burst:], rate=20.0
    )
    log.info("demo.done", events=sent)
