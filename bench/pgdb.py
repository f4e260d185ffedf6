"""The PostgreSQL side of the benchmark: throwaway databases, server settings, direct seeding.

Every scenario gets a database of its own (`madina_bench_<pid>_<label>`), created from the
server named by MADINA_BENCH_DATABASE_URL and dropped afterwards, so one scenario never reads
another's tables, indexes or dead tuples, and two concurrent runs never meet.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from bench.fleet import fleet_batches
from madina.context.broker import Broker
from madina.context.jsonld import ContextResolver
from madina.store.postgres import PostgresStore

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
SETTINGS = ("shared_buffers", "synchronous_commit", "fsync", "max_wal_size", "work_mem")
"""What decides write and query cost most, reported with every run."""
SEED_BATCH = 1000


def server_url() -> str:
    return os.environ.get("MADINA_BENCH_DATABASE_URL") or DEFAULT_URL


def problem(url: str) -> str | None:
    """Why the benchmark cannot create PostGIS databases on `url`, or None."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
            row = conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'"
            ).fetchone()
            if row is None:
                return "PostGIS is not installed on the server"
            can_create = conn.execute(
                "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
            ).fetchone()[0]
            if not can_create:
                return "the role may not create databases"
    except psycopg.Error as exc:
        return " ".join(str(exc).split()) or type(exc).__name__
    return None


@contextmanager
def throwaway_database(url: str, label: str) -> Iterator[str]:
    """A URL of a new, empty database on the server of `url`; dropped (connections and all)
    when the block ends."""
    name = f"madina_bench_{os.getpid()}_{label}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlsplit(url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def describe_server(url: str) -> str:
    with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        postgis = conn.execute(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'postgis'"
        ).fetchone()
        values = [f"{name}={conn.execute(f'SHOW {name}').fetchone()[0]}" for name in SETTINGS]
    return (
        f"PostgreSQL {version.split()[0]}, PostGIS {postgis[0] if postgis else '?'}, "
        f"same machine as the server, {', '.join(values)}"
    )


def seed_fleet(url: str, count: int, processes: int) -> float:
    """Seed `count` fleet sensors through the broker into the (Madina-initialised) database at
    `url`, `processes` writers side by side; returns entities/s.

    This is the batch-upsert code path without HTTP (parse, lock, insert with one statement per
    table per batch of 1,000), so a million entities take a minute rather than many. The
    planner statistics are brought up to date afterwards, as autovacuum would soon after a bulk
    load, so the queries are not measured against an empty-table plan."""
    started = time.monotonic()
    with ProcessPoolExecutor(processes) as pool:
        parts = [pool.submit(_seed_part, url, count, part, processes) for part in range(processes)]
        for part in parts:
            part.result()
    rate = count / (time.monotonic() - started)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) entities, geo_shapes")
    return rate


def _seed_part(url: str, count: int, part: int, parts: int) -> None:
    """Every `parts`-th batch of the fleet, starting at `part` (the fleet is seeded, so all
    parts together are exactly `fleet_batches(count)`)."""
    store = PostgresStore(url, pool_size=1)
    store.open()
    try:
        broker = Broker(store)
        terms = ContextResolver().core()
        for index, batch in enumerate(fleet_batches(count, SEED_BATCH)):
            if index % parts != part:
                continue
            result = broker.batch_upsert("", [(body, terms) for body in batch], replace=True)
            if result.errors:
                raise RuntimeError(f"seeding: {result.errors[0]}")
    finally:
        store.close()
