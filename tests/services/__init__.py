"""External services the tests talk to for real, found or skipped the same way everywhere.

On a laptop without a service its tests skip and `-ra` lists why; in CI
(`MADINA_REQUIRE_SERVICES=1`) a missing service fails the run instead, so a broken CI machine
can never pass by skipping.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def required() -> bool:
    return os.environ.get("MADINA_REQUIRE_SERVICES", "") not in ("", "0")


def unavailable(reason: str) -> None:
    """Skip the test, or fail it when services are required."""
    if required():
        pytest.fail(f"{reason} (MADINA_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def postgres_url() -> str:
    """The database tests may create schemas in: MADINA_TEST_DATABASE_URL or the local default."""
    return os.environ.get("MADINA_TEST_DATABASE_URL") or DEFAULT_POSTGRES_URL


@functools.cache
def _postgres_problem() -> str | None:
    """Why PostgreSQL with PostGIS cannot be used, or None; asked once per test process."""
    import psycopg

    try:
        with psycopg.connect(postgres_url(), connect_timeout=3, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.Error as exc:
        return f"PostgreSQL with PostGIS not usable at {postgres_url()}: {exc}".strip()
    return None


def require_postgres() -> str:
    problem = _postgres_problem()
    if problem is not None:
        unavailable(problem)
    return postgres_url()


def schema_name() -> str:
    """A new schema name, unique across test processes."""
    return f"t_{uuid.uuid4().hex[:16]}"


def schema_url(base: str, schema: str) -> str:
    """`base` with its tables landing in `schema`."""
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options={quote(f'-csearch_path={schema},public')}"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A database URL whose tables land in a fresh schema, dropped afterwards.

    Schemas isolate tests (and xdist workers) in one database at the cost of a CREATE SCHEMA;
    PostGIS stays in `public`, which follows on the search path.
    """
    import psycopg

    base = require_postgres()
    schema = schema_name()
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema_url(base, schema)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"


def mqtt_url() -> str:
    """The MQTT broker tests publish to: MADINA_TEST_MQTT_URL or the local Mosquitto."""
    return os.environ.get("MADINA_TEST_MQTT_URL") or DEFAULT_MQTT_URL


@functools.cache
def _mqtt_problem() -> str | None:
    """Why the MQTT broker cannot be used, or None; asked once per test process."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(mqtt_url())
    try:
        with socket.create_connection((parts.hostname, parts.port or 1883), timeout=3):
            return None
    except OSError as exc:
        return f"MQTT broker not reachable at {mqtt_url()}: {exc}"


def require_mqtt() -> str:
    """The MQTT broker's URL; skips the test (fails it in CI) when none answers."""
    problem = _mqtt_problem()
    if problem is not None:
        unavailable(problem)
    return mqtt_url()


DEFAULT_CHROMIUM = "/usr/bin/chromium"


def chromium_path() -> str:
    """The browser the dashboard tests drive: MADINA_TEST_CHROMIUM or Debian's Chromium."""
    return os.environ.get("MADINA_TEST_CHROMIUM") or DEFAULT_CHROMIUM


def require_chromium() -> str:
    """Chromium's path, with Playwright importable; skips the test (fails it in CI) when
    either is missing (`apt-get install chromium`, `pip install -e '.[test]'`)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        unavailable(f"Playwright not installed: {exc}")
    if not os.access(chromium_path(), os.X_OK):
        unavailable(f"Chromium not found at {chromium_path()}")
    return chromium_path()
