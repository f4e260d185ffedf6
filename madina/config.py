"""Settings, read from `MADINA_*` environment variables (or given in code by tests and the CLI)."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from madina.store.base import Store
from madina.store.engines import store_for


class Settings(BaseSettings):
    """Everything an operator can tune; defaults run a laptop broker with no configuration."""

    model_config = SettingsConfigDict(env_prefix="MADINA_", extra="ignore")

    database: str = "madina.db"
    """SQLite file path (created on first start), or a postgresql:// URL."""
    database_url: str | None = None
    """postgresql://user:pass@host:port/db — selects the PostgreSQL/PostGIS engine (wins over
    `database`)."""
    db_pool_size: int = 10
    """PostgreSQL connections per worker process (and at most that many requests in the
    database at once per worker)."""
    db_timeout: float = 5.0
    """Seconds to wait for a PostgreSQL connection before answering 503."""
    history_retention_days: int | None = None
    """PostgreSQL: drop attribute history older than this, a month partition at a time
    (None: keep everything)."""
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    """NORMAL: a 2xx survives any crash of the process; FULL: also a power cut or OS crash,
    at the price of an fsync per write transaction."""
    host: str = "127.0.0.1"
    port: int = 1026
    max_body_bytes: int = 8 * 1024 * 1024
    """Request bodies above this size are refused before they are parsed."""
    default_limit: int = 20
    max_limit: int = 1000
    fetch_remote_contexts: bool = True
    """Off for air-gapped cities: only shipped and pre-loaded contexts resolve."""
    context_fetch_timeout: float = 5.0
    log_level: str = "info"
    log_json: bool = False
    """JSON lines for log shippers; key=value lines for humans otherwise."""

    @property
    def store_database(self) -> str:
        """What the store opens: the PostgreSQL URL if one is set, else the SQLite path."""
        return self.database_url or self.database

    def store(self) -> Store:
        """An unopened store for these settings."""
        return store_for(self.store_database, self.sqlite_synchronous, self.db_pool_size,
                         self.db_timeout, self.history_retention_days)
