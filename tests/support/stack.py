"""Real PostgreSQL and broker for the test session: explicit URLs, testcontainers or embedded."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Stack:
    """Where the session's PostgreSQL (admin URL) and broker are."""

    admin_url: str
    bootstrap: str
    pg: object | None = None  # the EmbeddedPostgres, when the session started one


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:  # noqa: BLE001 - any failure means: no engine here
        return False
    return True


@contextlib.contextmanager
def start_stack() -> Iterator[Stack]:
    """Pick, in order: CONTACTS_TEST_* URLs; testcontainers; embedded PostgreSQL and Tansu."""
    admin_url = os.environ.get("CONTACTS_TEST_DATABASE_URL")
    bootstrap = os.environ.get("CONTACTS_TEST_KAFKA_BOOTSTRAP")
    with contextlib.ExitStack() as stack:
        pg = None
        if (admin_url is None or bootstrap is None) and _docker_answers():
            from testcontainers.kafka import KafkaContainer
            from testcontainers.postgres import PostgresContainer

            if admin_url is None:
                c = stack.enter_context(PostgresContainer("postgres:17", driver=None))
                admin_url = c.get_connection_url()
            if bootstrap is None:
                k = stack.enter_context(KafkaContainer().with_kraft())
                bootstrap = k.get_bootstrap_server()
        if admin_url is None:
            from services.common.infra import EmbeddedPostgres

            tmp = Path(tempfile.mkdtemp(prefix="contacts-test-pg-"))
            os.chmod(tmp, 0o777)
            pg = EmbeddedPostgres(tmp / "data", database="postgres")
            admin_url = pg.start()
            stack.callback(shutil.rmtree, tmp, True)
            stack.callback(pg.stop)
        if bootstrap is None:
            from services.common.infra import TansuBroker, free_port

            broker = TansuBroker(port=free_port())
            bootstrap = broker.start()
            stack.callback(broker.stop)
        yield Stack(admin_url=admin_url, bootstrap=bootstrap, pg=pg)
