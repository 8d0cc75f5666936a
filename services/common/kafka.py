"""Topic names (with the configured prefix) and topic creation."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Topics:
    """The contract's topic names under one prefix."""

    prefix: str = ""

    @property
    def site_events(self) -> str:
        """Incoming site events."""
        return f"{self.prefix}contacts.site-events"

    @property
    def dlq(self) -> str:
        """Rejected site events, bytes unchanged."""
        return f"{self.prefix}contacts.site-events.dlq"

    @property
    def alerts(self) -> str:
        """Alerts for staff tools."""
        return f"{self.prefix}contacts.alerts"

    @property
    def export_requests(self) -> str:
        """Export commands for the export worker."""
        return f"{self.prefix}contacts.export-requests"

    def all(self) -> list[str]:
        """Every topic the system uses."""
        return [self.site_events, self.dlq, self.alerts, self.export_requests]


def broker_url(bootstrap: str) -> str:
    """faust's broker URL for a comma-separated bootstrap list."""
    return ";".join(f"kafka://{h.strip()}" for h in bootstrap.split(",") if h.strip())


async def ensure_topics(bootstrap: str, names: list[str], partitions: int) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # created concurrently: fine
                await admin.create_topics(
                    [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in missing]
                )
            log.info("topics.created", topics=missing, partitions=partitions)
        return missing
    finally:
        await admin.close()
