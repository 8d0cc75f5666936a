"""Prometheus metrics of the ingest worker."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "contacts_ingest_events_total",
    "Site events consumed, by outcome (applied, duplicate, suppressed, dead_lettered)",
    ["outcome"],
)
DLQ = Counter("contacts_ingest_dlq_total", "Events sent to the dead-letter topic", ["code"])
ALERTS = Counter("contacts_ingest_alerts_total", "Alerts published")
RETRIES = Counter("contacts_ingest_db_retries_total", "Transient database errors retried in place")
BATCH_SECONDS = Histogram(
    "contacts_ingest_batch_seconds",
    "Time to apply one batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LAG = Gauge(
    "contacts_ingest_lag",
    "Records in a partition not yet applied (high-water mark minus next offset)",
    ["partition"],
)
UNREADABLE = Counter(
    "contacts_ingest_unreadable_batches_total",
    "Fetched record batches that could not be read (codec missing, corrupt, CRC mismatch), by"
    " error; each goes to the dead-letter topic as one event.unreadable record",
    ["error"],
)
