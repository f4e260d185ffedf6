"""Settings, read from `MADINA_*` environment variables (or given in code by tests and the CLI)."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator can tune; defaults run a laptop broker with no configuration."""

    model_config = SettingsConfigDict(env_prefix="MADINA_", extra="ignore")

    database: str = "madina.db"
    """SQLite file path (created on first start)."""
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
