"""The profile API under load, against the same SQL run directly (issue #5).

One big tenant (1,000,000 customers by default) and 1,000 small ones are seeded server-side
(bench/seed.py). `contacts profile` runs as a subprocess, as in production; an aiohttp load
generator in this process keeps N clients in a closed loop on one kind of request at a time.
The reference for each figure is the same SQL (the query functions of
services/profile/data/, in the same tenant transaction of services/profile/db.py) through
an asyncpg pool of N connections as ``contacts_api``, at the same concurrency, for as long.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import asyncpg

from bench.cpu import cpu_seconds, postmaster, tree_seconds
from bench.infra import BenchStack, fresh_database
from bench.process import spawn
from bench.report import Row, Section
from bench.seed import Seeded, seed
from services.common.db import role_dsn
from services.common.infra import free_port, terminate
from services.common.segments import SegmentFilters
from services.common.settings import DEFAULT_REGION, Settings
from services.profile.cursor import decode_cursor
from services.profile.data import cards, identity
from services.profile.data import customers as customer_rows
from services.profile.db import Database

SECRET = "bench-secret"
CONCURRENCY = (16, 64)
DEPTH = 50  # the deep page: page 50 of a filtered list
LIMIT = 50  # the list's default page size
SORT = "-last_contact_at"  # the list's default sort
SCENARIOS = ("card", "lookup", "list, first page", "list, page 50", "fuzzy q")
P99_TARGET_MS = {
    "card": 10.0,
    "lookup": 10.0,
    "list, first page": 30.0,
    "list, page 50": 30.0,
    "fuzzy q": 100.0,
}
# language x tag, newsletter=true: 1.5 % to 3 % of the big tenant per filter
LIST_FILTERS = (("nl", "regular"), ("fr", "regular"), ("nl", "local"), ("fr", "local"))
NO_MATCH = "vandenbroucke"  # a Belgian surname the generator never uses
NO_MATCH_FIGURE = "fuzzy q matching nobody: one request alone"
KEEP_LOG = Path(tempfile.gettempdir()) / "contacts-bench-api.log"
DEEP_RATIO = "list page 50 / first page: p99 at 16 clients"


def _api_sql_figure(scenario: str) -> str:
    return f"{scenario}: API / SQL p99 at 16 clients"


FIGURES: tuple[str, ...] = (
    *(
        f"{s}: {what}, {c} clients"
        for s in SCENARIOS
        for c in CONCURRENCY
        for what in ("p50", "p99", "requests/s")
    ),
    DEEP_RATIO,
    *(_api_sql_figure(s) for s in SCENARIOS),
    NO_MATCH_FIGURE,
)

SqlCall = Callable[[asyncpg.Connection], Awaitable[object]]


@dataclass(frozen=True)
class Request:
    """One request of a scenario: its HTTP path and the SQL the route runs for it."""

    path: str
    sql: SqlCall


@dataclass
class Sample:
    """One closed-loop run: latencies (s) of the successful requests after the warm-up, errors,
    measured duration, all requests including the warm-up, and CPU ms per request by process."""

    latencies: list[float]
    errors: int
    seconds: float
    total: int
    cpu: dict[str, float] = field(default_factory=dict)

    def ms(self, q: float) -> float:
        """The q-quantile latency in ms (nearest rank)."""
        xs = sorted(self.latencies)
        if not xs:
            return math.nan
        return 1000 * xs[min(len(xs) - 1, max(math.ceil(q * len(xs)) - 1, 0))]

    @property
    def rate(self) -> float:
        """Successful requests per second."""
        return len(self.latencies) / self.seconds if self.seconds > 0 else 0.0


async def closed_loop(
    clients: int, call: Callable[[], Awaitable[bool]], *, warmup: float, seconds: float
) -> Sample:
    """``clients`` coroutines each calling ``call`` back to back for ``warmup`` + ``seconds``.

    Measured: the requests that complete after the warm-up. The run goes on past ``seconds``
    until at least ``clients`` requests are measured (short smoke runs of slow requests).
    """
    begin = time.perf_counter() + warmup
    end = begin + seconds
    latencies: list[float] = []
    errors = total = 0
    last = begin

    async def client() -> None:
        nonlocal errors, last, total
        while (t0 := time.perf_counter()) < end or len(latencies) + errors < clients:
            ok = await call()
            t1 = time.perf_counter()
            total += 1
            if t1 >= begin:
                last = max(last, t1)
                if ok:
                    latencies.append(t1 - t0)
                else:
                    errors += 1

    await asyncio.gather(*(client() for _ in range(clients)))
    return Sample(latencies, errors, last - begin, total)


class CpuMeter:
    """CPU used by the API process, the PostgreSQL server (postmaster and all its children)
    and this bench process, read before and after a run."""

    def __init__(self, admin_url: str) -> None:
        self.postmaster = postmaster(admin_url)
        self.api: int | None = None

    def _postgres(self) -> float:
        return 0.0 if self.postmaster is None else tree_seconds(self.postmaster)

    def read(self) -> dict[str, float]:
        """CPU seconds so far, by process."""
        out = {"load generator / bench": time.process_time(), "PostgreSQL": self._postgres()}
        if self.api is not None:
            out["API process"] = cpu_seconds(self.api)
        return out

    async def measure(self, run: Awaitable[Sample]) -> Sample:
        """Run; attach the CPU ms per request (warm-up included) each process used."""
        before = self.read()
        sample = await run
        after = self.read()
        sample.cpu = {k: 1000 * (after[k] - before[k]) / max(sample.total, 1) for k in after}
        return sample


class ApiProcess:
    """`python -m services.cli profile` on a free port, stderr and stdout to a log file."""

    def __init__(self, url: str, bootstrap: str, log_path: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "CONTACTS_DATABASE_URL": url,
            "CONTACTS_KAFKA_BOOTSTRAP": bootstrap,
            "CONTACTS_HTTP_HOST": "127.0.0.1",
            "CONTACTS_HTTP_PORT": str(self.port),
            "CONTACTS_SECRET": SECRET,
            "CONTACTS_LOG_LEVEL": "WARNING",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The API's process id."""
        assert self.proc is not None
        return self.proc.pid

    def launch(self) -> None:
        """Start the process."""
        self.proc = spawn("profile", self.env, self.log_path)

    async def ready(self, timeout: float = 60.0) -> None:
        """Wait until /readyz answers 200."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    tail = self.log_path.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"profile API exited with {self.proc.returncode}:\n{tail}")
                try:
                    async with session.get(f"{self.base}/readyz") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"profile API not ready within {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL when it does not exit within 10 s."""
        terminate(self.proc, timeout=10)


@asynccontextmanager
async def running_api(url: str, stack: BenchStack) -> AsyncIterator[ApiProcess]:
    """The API process for the duration of the block."""
    api = ApiProcess(url, stack.bootstrap, stack.workdir / "api.log")
    try:
        api.launch()
        await api.ready()
        yield api
    finally:
        api.stop()
        if api.log_path.exists():  # the workdir goes with the stack
            KEEP_LOG.write_bytes(api.log_path.read_bytes())


def _list_path(tenant: str, params: list[tuple[str, str]]) -> str:
    return f"/v1/tenants/{tenant}/customers?{urlencode(params)}"


def _list_sql(
    tenant: str, filters: SegmentFilters, after: tuple[Any, uuid.UUID] | None = None
) -> SqlCall:
    async def call(conn: asyncpg.Connection) -> object:
        return await customer_rows.list_page(
            conn,
            tenant,
            filters,
            region=DEFAULT_REGION,
            sort="last_contact_at",
            descending=True,
            after=after,
            limit=LIMIT + 1,
        )

    return call


def _card(tenant: str, customer_id: uuid.UUID) -> Request:
    async def call(conn: asyncpg.Connection) -> object:
        return await cards.card(conn, tenant, customer_id)

    return Request(f"/v1/tenants/{tenant}/customers/{customer_id}", call)


def _lookup(tenant: str, email: str) -> Request:
    async def call(conn: asyncpg.Connection) -> object:
        return await identity.holder(conn, tenant, email)

    return Request(f"/v1/tenants/{tenant}/customer-lookup?{urlencode({'email': email})}", call)


def no_match(tenant: str) -> Request:
    """The list with a ``q`` no customer matches (a surname absent from the data)."""
    filters = SegmentFilters(q=NO_MATCH)
    return Request(
        _list_path(tenant, [("q", NO_MATCH), ("sort", SORT)]), _list_sql(tenant, filters)
    )


async def _deep(
    session: aiohttp.ClientSession, base: str, tenant: str, params: list[tuple[str, str]]
) -> tuple[str | None, int]:
    """The cursor of page ``DEPTH`` (or of the deepest page there is) and that page's number."""
    cursor: str | None = None
    page = 1
    while page < DEPTH:
        extra = [("cursor", cursor)] if cursor else []
        async with session.get(base + _list_path(tenant, params + extra)) as r:
            r.raise_for_status()
            body = await r.json()
        if body["next_cursor"] is None:
            break
        cursor, page = body["next_cursor"], page + 1
    return cursor, page


async def workloads(
    s: Seeded, session: aiohttp.ClientSession, base: str
) -> tuple[dict[str, list[Request]], int]:
    """The requests of each scenario, and the page number the deep list reached."""
    t = s.tenant
    firsts, deeps, depth = [], [], DEPTH
    for language, tag in LIST_FILTERS:
        params = [("language", language), ("newsletter", "true"), ("tag", tag), ("sort", SORT)]
        filters = SegmentFilters(language=[language], newsletter="true", tag=[tag])
        firsts.append(Request(_list_path(t, params), _list_sql(t, filters)))
        cursor, page = await _deep(session, base, t, params)
        depth = min(depth, page)
        after = None
        if cursor is not None:
            value, raw_id = decode_cursor(SECRET, f"customers\x00{t}\x00{SORT}", cursor, 2)
            after = (datetime.fromisoformat(value), uuid.UUID(raw_id))
            params = [*params, ("cursor", cursor)]
        deeps.append(Request(_list_path(t, params), _list_sql(t, filters, after)))
    fuzzy = []
    for q in s.fuzzy:
        filters = SegmentFilters(q=q)
        fuzzy.append(Request(_list_path(t, [("q", q), ("sort", SORT)]), _list_sql(t, filters)))
    return {
        "card": [_card(t, i) for i in s.ids],
        "lookup": [_lookup(t, e) for e in s.emails],
        "list, first page": firsts,
        "list, page 50": deeps,
        "fuzzy q": fuzzy,
    }, depth


async def run_api(
    base: str,
    token: str,
    requests: list[Request],
    clients: int,
    *,
    warmup: float,
    seconds: float,
    meter: CpuMeter | None = None,
) -> Sample:
    """HTTP GETs of random requests of a scenario, ``clients`` at a time."""
    rng = random.Random(1)  # noqa: S311
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=300)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(
        base, connector=connector, timeout=timeout, headers=headers
    ) as session:

        async def call() -> bool:
            try:
                async with session.get(rng.choice(requests).path) as r:
                    await r.read()
                    return r.status < 300
            except (aiohttp.ClientError, TimeoutError):
                return False

        loop = closed_loop(clients, call, warmup=warmup, seconds=seconds)
        return await (meter.measure(loop) if meter else loop)


async def _fill(db: Database, connections: int) -> None:
    """Open all of the pool's connections before measuring (it connects lazily)."""
    barrier = asyncio.Barrier(connections)

    async def hold() -> None:
        async with db.connection():
            await barrier.wait()

    await asyncio.gather(*(hold() for _ in range(connections)))


async def run_sql(
    url: str,
    tenant: str,
    requests: list[Request],
    clients: int,
    *,
    warmup: float,
    seconds: float,
    meter: CpuMeter | None = None,
) -> Sample:
    """The same SQL in the API's tenant transaction, as contacts_api, ``clients`` at a time."""
    rng = random.Random(1)  # noqa: S311
    db = Database(role_dsn(url), max_size=clients)
    await db.open()
    try:
        await _fill(db, clients)

        async def call() -> bool:
            try:
                async with db.tenant(tenant) as conn:
                    await rng.choice(requests).sql(conn)
            except (asyncpg.PostgresError, OSError, TimeoutError):
                return False
            return True

        loop = closed_loop(clients, call, warmup=warmup, seconds=seconds)
        return await (meter.measure(loop) if meter else loop)
    finally:
        await db.close()


def _say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] api: {message}", flush=True)


async def run(stack: BenchStack, *, customers: int, small_tenants: int, seconds: float) -> Section:
    """Seed, start the API, load each scenario at each concurrency, API then direct SQL."""
    url = await fresh_database(stack.admin_url, "b_api")
    seeded = await seed(url, customers=customers, small_tenants=small_tenants)
    _say(f"seeded {seeded.rows:,} customers in {seeded.seconds:.0f} s")
    warmup = min(1.0, seconds / 5)
    meter = CpuMeter(stack.admin_url)
    results: dict[tuple[str, int], tuple[Sample, Sample]] = {}
    async with running_api(url, stack) as api:
        meter.api = api.pid
        async with aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {seeded.token}"}
        ) as session:
            work, depth = await workloads(seeded, session, api.base)
        # unmeasured: fills the API's pool and warms both processes on every kind of request
        everything = [r for scenario in SCENARIOS for r in work[scenario]]
        await run_api(
            api.base, seeded.token, everything, max(CONCURRENCY), warmup=0, seconds=2 * warmup
        )
        for scenario in SCENARIOS:
            for clients in CONCURRENCY:
                http = await run_api(
                    api.base,
                    seeded.token,
                    work[scenario],
                    clients,
                    warmup=warmup,
                    seconds=seconds,
                    meter=meter,
                )
                sql = await run_sql(
                    url,
                    seeded.tenant,
                    work[scenario],
                    clients,
                    warmup=warmup,
                    seconds=seconds,
                    meter=meter,
                )
                results[scenario, clients] = (http, sql)
                _say(
                    f"{scenario}, {clients} clients: API p99 {http.ms(0.99):.1f} ms"
                    f" {http.rate:,.0f} req/s, SQL p99 {sql.ms(0.99):.1f} ms"
                    f" {sql.rate:,.0f} req/s, errors {http.errors}/{sql.errors}"
                )
        # the staff console's list page against the API call behind it (issue 15); imported
        # here: bench.console measures with this module's closed loop
        from bench import console

        page, call = await console.compare(
            api.base, seeded.token, seeded.tenant, warmup=warmup, seconds=seconds
        )
        _say(
            f"console list page, 16 clients: p99 {page.ms(0.99):.1f} ms against the API call's"
            f" {call.ms(0.99):.1f} ms"
        )
        # one request alone: a q that matches nobody reads the whole tenant (see the notes)
        alone = [no_match(seeded.tenant)]
        http = await run_api(api.base, seeded.token, alone, 1, warmup=0, seconds=0)
        sql = await run_sql(url, seeded.tenant, alone, 1, warmup=0, seconds=0)
        results[NO_MATCH_FIGURE, 1] = (http, sql)
        _say(f"{NO_MATCH_FIGURE}: API {http.ms(0.5):,.0f} ms, SQL {sql.ms(0.5):,.0f} ms")
    return Section(
        "Profile API",
        rows(results) + console_rows(page, call),
        notes(seeded, customers, small_tenants, seconds, warmup, depth, results),
        cpu_table(results),
    )


def console_rows(page: Sample, call: Sample) -> list[Row]:
    """The console's rows of the table (bench.console)."""
    from bench import console

    return console.rows(page, call)


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 10 else f"{value:,.0f} ms"


def rows(results: dict[tuple[str, int], tuple[Sample, Sample]]) -> list[Row]:
    """The table, in the order of FIGURES."""
    out: list[Row] = []
    for scenario in SCENARIOS:
        for clients in CONCURRENCY:
            http, sql = results[scenario, clients]
            for q, name in ((0.5, "p50"), (0.99, "p99")):
                a, b = http.ms(q), sql.ms(q)
                target, met = "—", None
                if name == "p99" and clients == 16:
                    limit = P99_TARGET_MS[scenario]
                    target, met = f"≤ {limit:.0f} ms", a <= limit
                out.append(
                    Row(
                        f"{scenario}: {name}, {clients} clients",
                        a,
                        "ms",
                        f"SQL {_ms(b)}",
                        a / b,
                        target,
                        met,
                    )
                )
            out.append(
                Row(
                    f"{scenario}: requests/s, {clients} clients",
                    http.rate,
                    "req/s",
                    f"SQL {sql.rate:,.0f} req/s",
                    http.rate / max(sql.rate, 1e-9),
                )
            )
    first, deep = results["list, first page", 16][0], results["list, page 50", 16][0]
    ratio = deep.ms(0.99) / first.ms(0.99)
    out.append(
        Row(
            DEEP_RATIO,
            ratio,
            "x",
            f"first page {_ms(first.ms(0.99))}",
            ratio,
            "≤ 1.5\u00d7",
            ratio <= 1.5,
        )
    )
    for scenario in SCENARIOS:
        http, sql = results[scenario, 16]
        ratio = http.ms(0.99) / sql.ms(0.99)
        out.append(
            Row(
                _api_sql_figure(scenario),
                ratio,
                "x",
                f"SQL {_ms(sql.ms(0.99))}",
                ratio,
                "≤ 3\u00d7",
                ratio <= 3,
            )
        )
    http, sql = results[NO_MATCH_FIGURE, 1]
    a, b = http.ms(0.5), sql.ms(0.5)
    out.append(Row(NO_MATCH_FIGURE, a, "ms", f"SQL {_ms(b)}", a / b, "≤ 100 ms", a <= 100))
    return out


def cpu_table(results: dict[tuple[str, int], tuple[Sample, Sample]]) -> str:
    """CPU ms per request by process at 16 clients: what each path costs the machine."""
    if not any(results[s, 16][0].cpu.get("PostgreSQL") for s in SCENARIOS):
        return ""  # no /proc, or no PostgreSQL pid to follow
    lines = [
        "### CPU per request at 16 clients (ms, measured from /proc, warm-up included)",
        "",
        "| scenario | API process | PostgreSQL | load generator | API path total "
        "| SQL path: PostgreSQL | SQL path: bench | SQL path total |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in SCENARIOS:
        http, sql = results[scenario, 16]
        a, b = http.cpu, sql.cpu
        lines.append(
            f"| {scenario} | {a['API process']:.2f} | {a['PostgreSQL']:.2f} "
            f"| {a['load generator / bench']:.2f} | {sum(a.values()):.2f} "
            f"| {b['PostgreSQL']:.2f} | {b['load generator / bench']:.2f} "
            f"| {b['PostgreSQL'] + b['load generator / bench']:.2f} |"
        )
    return "\n".join(lines)


def notes(
    s: Seeded,
    customers: int,
    small_tenants: int,
    seconds: float,
    warmup: float,
    depth: int,
    results: dict[tuple[str, int], tuple[Sample, Sample]],
) -> list[str]:
    """What was measured, how, and any errors."""
    phases = ", ".join(f"{k} {v:.0f} s" for k, v in s.phases.items())
    out = [
        f"Data: tenant `{s.tenant}` with {customers:,} customers plus {small_tenants:,} tenants "
        f"of 50 ({s.rows:,} rows), generated server-side in {s.seconds:.0f} s ({phases}; "
        f"bench/seed.py): languages nl 45 % / fr 35 % / en 12 % / de 3 % / none 5 %, newsletter "
        f"yes 35 % / no 25 % / unknown 40 %, 88 % with an email, 55 % with a phone, tags regular "
        f"(completed ≥ 3) ~18 %, local 12 %, business 6 %, no_show 5 %, vip 2 %, ~0.3 % "
        f"anonymised; no history rows (no measured route reads history).",
        "API: `python -m services.cli profile` as a subprocess (uvicorn.run: ONE worker process, "
        "uvloop and httptools, uvicorn's automatic choice once installed; asyncpg pool of "
        f"at most {Settings().api_pool_size} connections as `contacts_api`, "
        "`CONTACTS_API_POOL_SIZE`), default PostgreSQL settings "
        "(shared_buffers 128 MB, smaller than the customers table, so heap pages come from the "
        "OS page cache). Every API request also resolves its bearer token: through the API's "
        f"token cache (`CONTACTS_TOKEN_CACHE_SECONDS` = {Settings().token_cache_seconds:g}; "
        "0 = `contacts_token_lookup` on its own pool checkout before the route's transaction, "
        "every request).",
        f"Requests: card = `GET /customers/{{id}}` of {len(s.ids):,} random customers (one "
        "statement: the customer row, the tenant's custom tags, the card's identifiers and "
        "the cards merged into it); lookup = `GET /customer-lookup?email=` of "
        "random existing emails; list = `GET /customers?language=L&newsletter=true&tag=T` "
        f"(L in nl, fr; T in regular, local; 1.5-3 % of the tenant each), default sort "
        f"`{SORT}` and page size {LIMIT}; page 50 = the same lists with the cursor of page "
        f"{depth} (fetched first by following next_cursor); fuzzy q = `GET /customers?q=` "
        f"with {len(s.fuzzy)} typo'd surnames (one inner letter replaced, e.g. `merteas`), "
        f"kept only when pg_trgm still finds the surname ({s.typos_found} of {s.typos_tried} "
        "random typos do, at the default word-similarity threshold 0.6), each then matching "
        f"1-5 % of the tenant; the row '{NO_MATCH_FIGURE}' is q=`{NO_MATCH}` (a surname "
        "nobody has), one request through the API, then the same SQL alone. A `q` first walks "
        "the list's order (at most `Q_WALK` = 10,000 rows, services/profile/data/customers.py) "
        "and keeps a full page; otherwise the trigram index answers (migration 0010): the "
        "typo'd surnames are found by the walk, the no-match q walks in vain and then takes "
        "the index.",
        f"Load: aiohttp in the bench process, N clients in a closed loop (each sends its next "
        f"request when the previous answer is read) for {seconds:g} s after a {warmup:g} s "
        "warm-up, per scenario and concurrency; measured = the requests completing after the "
        "warm-up; latency = time.perf_counter() around the request and body read, so it "
        "includes queueing in the load generator's own event loop. In a closed loop the mean "
        "latency is clients / throughput (Little's law): a p99 of 10 ms at 16 clients needs "
        "more than 1,600 requests/s.",
        "Reference (SQL): the same statements through the functions of "
        "services/profile/data/ (`customers.list_page`, `cards.card`, "
        "`identity.holder`) inside `Database.tenant()` of services/profile/db.py (BEGIN, "
        "set_config of the tenant, the queries, COMMIT; row level security as `contacts_api`), "
        "a pool of N connections, same clients, duration and warm-up; no HTTP, no token lookup, "
        "no JSON.",
        "Everything (load generator, the API's single process, PostgreSQL, and anything else "
        f"running) shares this machine's {os.cpu_count()} cores, so at 64 clients the API "
        "competes with its own load generator; targets apply at 16 clients.",
    ]
    errors = [
        f"{scenario} at {clients} clients: {http.errors} API / {sql.errors} SQL"
        for (scenario, clients), (http, sql) in results.items()
        if http.errors or sql.errors
    ]
    if errors:
        out.append(
            "**Errors** (non-2xx answers or failed requests, left out of the latencies): "
            + "; ".join(errors)
            + f". The API's log: {KEEP_LOG}."
        )
    else:
        out.append("No errors: every request answered 2xx.")
    return out
