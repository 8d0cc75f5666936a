"""The ``contacts`` command: run the services, the embedded stack, migrations and the demo."""

from __future__ import annotations

import signal
import sys

# `up` must stop on a signal at any moment, even while Python is still importing what it needs
# (a second on a slow machine): until `up` installs its own handlers, a stop signal sent to it
# is remembered here, before any other import, and honoured as soon as they are.
EARLY_STOPS: list[int] = []


def _remember(signum: int, _: object) -> None:
    EARLY_STOPS.append(signum)


if sys.argv[1:2] == ["up"]:
    for _sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(_sig, _remember)

import argparse  # noqa: E402 - after the early handlers, on purpose
import asyncio  # noqa: E402
import os  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402

import structlog  # noqa: E402

from services.common.bootstrap import owner_dsn, run_faust, tune_gc  # noqa: E402
from services.common.logging import configure  # noqa: E402
from services.common.settings import DEV_SECRET, Settings, get_settings  # noqa: E402

log = structlog.get_logger("contacts")


def cmd_migrate(settings: Settings, _: argparse.Namespace) -> int:
    """Apply pending migrations."""
    from services.common.db import migrate

    applied = asyncio.run(migrate(owner_dsn(settings)))
    log.info("migrate.done", applied=applied)
    return 0


def cmd_ingest(settings: Settings, _: argparse.Namespace) -> int:
    """Run the ingest worker (faust) until SIGINT / SIGTERM."""
    from services.ingest.app import create_app

    if settings.secret == DEV_SECRET:
        log.warning("settings.dev_secret", hint="set CONTACTS_SECRET in production")
    if settings.ingest_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.ingest_metrics_port, addr=settings.http_host)
    log.info("ingest.starting", group=settings.ingest_group)
    return run_faust(settings, lambda dsn: create_app(settings, dsn))


def cmd_profile(settings: Settings, _: argparse.Namespace) -> int:
    """Run the profile API (uvicorn) on CONTACTS_HTTP_HOST / CONTACTS_HTTP_PORT."""
    import uvicorn

    from services.common.db import migrate
    from services.profile.app import create_app

    dsn = owner_dsn(settings)
    if settings.secret == DEV_SECRET:
        log.warning("settings.dev_secret", hint="set CONTACTS_SECRET in production")
    asyncio.run(migrate(dsn))
    app = create_app(settings, dsn=dsn)
    tune_gc()  # as the workers: far fewer collections per request (bench/ANALYSIS.md)
    log.info("profile.starting", host=settings.http_host, port=settings.http_port)
    uvicorn.run(
        app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False
    )
    return 0


def cmd_token_create(settings: Settings, args: argparse.Namespace) -> int:
    """Issue an API token and print it once (only its hash is stored)."""
    from services.common.db import connect, migrate
    from services.profile.tokens import create_token

    dsn = owner_dsn(settings)
    scopes = [s.strip() for s in args.scope.split(",") if s.strip()]

    async def run() -> tuple[object, str]:
        await migrate(dsn)
        conn = await connect(dsn)
        try:
            return await create_token(
                conn, args.tenant, scopes, name=args.name, expires_days=args.expires_days
            )
        finally:
            await conn.close()

    try:
        token_id, token = asyncio.run(run())
    except ValueError as exc:
        sys.exit(f"contacts token create: {exc}")
    log.info("token.created", token_id=str(token_id), tenant_id=args.tenant, scopes=scopes)
    print(f"token id: {token_id}", file=sys.stderr)
    print(token)
    return 0


def cmd_token_revoke(settings: Settings, args: argparse.Namespace) -> int:
    """Revoke an API token by id."""
    import uuid

    from services.common.db import connect
    from services.profile.tokens import revoke_token

    async def run() -> bool:
        conn = await connect(owner_dsn(settings))
        try:
            return await revoke_token(conn, uuid.UUID(args.id))
        finally:
            await conn.close()

    if not asyncio.run(run()):
        sys.exit(f"contacts token revoke: no token {args.id}")
    log.info("token.revoked", token_id=args.id)
    return 0


def _add_token_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = sub.add_parser("token", help="manage API tokens")
    actions = token.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="issue a token (printed once)")
    create.set_defaults(func=cmd_token_create)
    create.add_argument("--tenant", required=True, help="tenant id, or * for ops")
    create.add_argument(
        "--scope", required=True, help="comma-separated: read,write,import,export,gdpr"
    )
    create.add_argument("--name", default=None, help="what the token is for")
    create.add_argument("--expires-days", type=float, default=None, help="lifetime in days")
    revoke = actions.add_parser("revoke", help="revoke a token by id")
    revoke.set_defaults(func=cmd_token_revoke)
    revoke.add_argument("id", help="the token id printed by `token create`")


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    """Produce the demo events onto the site-events topic."""
    from services import demo
    from services.common.kafka import Topics, ensure_topics

    topics = Topics(settings.topic_prefix)
    records = demo.generate(seed=args.seed, venues=args.venues, events=args.events)

    async def run() -> int:
        await ensure_topics(settings.kafka_bootstrap, topics.all(), settings.ingest_partitions)
        return await demo.stream(
            settings.kafka_bootstrap, topics.site_events, records, rate=args.rate
        )

    sent = asyncio.run(run())
    log.info("demo.sent", events=sent, topic=topics.site_events)
    return 0


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    """Start the embedded stack and every service; Ctrl-C stops them all."""
    from services.up import run_up

    return run_up(settings, demo_events=args.events, early_stops=EARLY_STOPS)


def cmd_bench(_: Settings, args: argparse.Namespace) -> int:
    """Run the benchmarks on a private embedded stack (`contacts bench --help`): the bench is
    a tool beside the product, run as its own program, never imported by it."""
    os.execv(sys.executable, [sys.executable, "-m", "bench", *args.rest])  # noqa: S606


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(prog="contacts", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    commands: dict[str, tuple[Callable[[Settings, argparse.Namespace], int], str]] = {
        "up": (cmd_up, "embedded PostgreSQL + broker, all services, live demo"),
        "migrate": (cmd_migrate, "apply database migrations"),
        "ingest": (cmd_ingest, "run the ingest worker"),
        "profile": (cmd_profile, "run the profile API"),
        "demo": (cmd_demo, "stream demo events"),
    }
    for name, (func, help_text) in commands.items():
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(func=func)
        if name in ("demo", "up"):
            p.add_argument("--events", type=int, default=3000, help="how many demo events")
        if name == "demo":
            p.add_argument("--seed", type=int, default=7)
            p.add_argument("--venues", type=int, default=4)
            p.add_argument("--rate", type=float, default=None, help="events per second")
    _add_token_parser(sub)
    from services.export.cli import add_export_parsers

    add_export_parsers(sub)
    bench = sub.add_parser("bench", help="benchmarks (see bench/RESULTS.md)", add_help=False)
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``contacts`` console script."""
    args, rest = build_parser().parse_known_args(argv)
    if rest and args.command != "bench":
        build_parser().parse_args(argv)  # reports the unknown arguments and exits
    args.rest = rest
    settings = get_settings()
    if args.command not in ("up", "bench"):
        settings = settings.beside_running_stack()
    configure(settings.log_level)
    return int(args.func(settings, args))


if __name__ == "__main__":
    sys.exit(main())
