"""All configuration, from ``CONTACTS_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "contacts-dev-secret-change-me"  # noqa: S105 - warned about at start-up
DEFAULT_EXPORT_STALE_SECONDS = 30.0
DEFAULT_REGION = "BE"  # the country of national phone numbers unless a venue says otherwise


class Settings(BaseSettings):
    """One settings object for every service; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="CONTACTS_", extra="ignore")

    database_url: str | None = Field(
        default=None, description="PostgreSQL URL; unset in `up` mode = embedded server"
    )
    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers")
    topic_prefix: str = Field(default="", description="prefix for every topic name")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    data_dir: Path = Field(default=Path(".contacts"), description="embedded data (up mode)")
    export_dir: Path | None = Field(default=None, description="default DATA_DIR/exports")
    default_region: str = Field(
        default=DEFAULT_REGION, description="country for national phone numbers"
    )
    secret: str = Field(default=DEV_SECRET, description="key for hashes of erased identities")
    dev_token: str | None = Field(default=None, description="ops token accepted in up mode")
    api_database_url: str | None = Field(
        default=None,
        description="URL of the profile API's role (contacts_api); default: DATABASE_URL as it",
    )
    auth_failures_per_minute: int = Field(
        default=20, ge=1, description="failed authentications per client IP before 429"
    )
    token_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="the API trusts a resolved token this long; a revocation made elsewhere "
        "(CLI, another replica) takes effect within it; 0 = look up every request",
    )
    api_pool_size: int = Field(
        default=20, ge=1, le=80, description="the profile API's database connections"
    )
    demo: bool = Field(default=True, description="stream the demo in `contacts up`")
    log_level: str = "INFO"
    migrations_dir: Path | None = Field(
        default=None, description="the numbered .sql migrations; default deploy/migrations"
    )
    export_stale_seconds: float = Field(
        default=DEFAULT_EXPORT_STALE_SECONDS,
        gt=0,
        description="an export job whose runner stopped beating this long is claimed again",
    )
    # Ingest tuning.
    ingest_batch_size: int = Field(default=2000, ge=1, le=50_000)
    ingest_batch_within: float = Field(
        default=0.05, gt=0, description="seconds to wait for more records before a batch runs"
    )
    ingest_partitions: int = Field(default=8, ge=1, description="partitions of created topics")
    kafka_session_timeout: float = Field(default=15.0, gt=0, description="seconds")
    kafka_fetch_max_wait_ms: int = Field(
        default=100, ge=1, le=30_000, description="longest a fetch may wait for data (ms)"
    )
    ingest_metrics_port: int = Field(default=0, ge=0, description="ingest /metrics port, 0 = off")
    ingest_group: str = Field(default="contacts-ingest", description="consumer group / app id")

    @property
    def exports_path(self) -> Path:
        """Where export files go."""
        return self.export_dir or self.data_dir / "exports"

    def beside_running_stack(self) -> Settings:
        """These settings, with the addresses of the `contacts up` running on ``data_dir``
        filled in where the environment sets none (so `contacts token create` works beside
        `make run` with nothing copied from its banner); unchanged if none runs."""
        from services.common.stack import running_stack

        if self.database_url is not None:
            return self
        stack = running_stack(self.data_dir.resolve())
        if stack is None:
            return self
        given = self.model_fields_set
        found = {
            "database_url": stack.database_url,
            "kafka_bootstrap": stack.kafka_bootstrap,
            "topic_prefix": stack.topic_prefix,
            "export_dir": Path(stack.export_dir),
        }
        return self.model_copy(update={k: v for k, v in found.items() if k not in given})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
