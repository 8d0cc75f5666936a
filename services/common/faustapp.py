"""The faust app every contacts service runs on, and raw-bytes topics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.common.settings import Settings

if TYPE_CHECKING:
    import faust


def faust_app(settings: Settings, app_id: str, **overrides: Any) -> faust.App:
    """A faust app set up the way every contacts service runs: no web server, no leader
    topic, in-memory tables, offsets from the start, the configured session timeout."""

    from services.common.kafka import broker_url

    options: dict[str, Any] = {
        "broker": broker_url(settings.kafka_bootstrap),
        "store": "memory://",
        "autodiscover": False,
        "web_enabled": False,
        "topic_disable_leader": True,
        "consumer_auto_offset_reset": "earliest",
        "broker_session_timeout": settings.kafka_session_timeout,
        "broker_heartbeat_interval": max(settings.kafka_session_timeout / 5, 0.5),
        "topic_partitions": settings.ingest_partitions,
    }
    app_class = _app_class(settings.kafka_fetch_max_wait_ms)
    return app_class(app_id, **{**options, **overrides})


def _app_class(fetch_max_wait_ms: int) -> type[faust.App]:
    """faust.App whose consumer waits at most ``fetch_max_wait_ms`` for a fetch to fill.

    faust 0.15 hard-codes aiokafka's ``fetch_max_wait_ms=1500`` for workers. A broker that
    holds a fetch until that wait ends when data arrives meanwhile (Tansu does; measured:
    p50 364 ms from produce to consume at 1,500 ms, 25 ms at 100 ms) adds it to every event's
    latency. Apache Kafka answers as soon as data arrives; there the setting only sets how
    often an idle consumer asks.
    """
    import faust
    from faust.transport.drivers import aiokafka as driver

    class ConsumerThread(driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: driver.Transport) -> Any:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = fetch_max_wait_ms  # read by start() for its Fetcher
            return consumer

    class WorkerConsumer(driver.Consumer):
        def _new_consumer_thread(self) -> ConsumerThread:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    class Transport(driver.Transport):
        Consumer = WorkerConsumer

    class App(faust.App):
        def _new_transport(self) -> Transport:
            return Transport(self.conf.broker_consumer, self)

    return App


def raw_topic(app: faust.App, name: str) -> faust.TopicT:
    """A topic whose keys and values stay bytes (decoding is the service's own job)."""
    return app.topic(
        name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
