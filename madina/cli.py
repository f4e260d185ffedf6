"""The `madina` command: serve the broker, run the demo, manage pre-loaded @contexts."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import shutil
import sys
import tempfile
from pathlib import Path

import orjson
import structlog

from madina import __version__
from madina.config import Settings
from madina.logging import configure_logging

DB_HELP = (
    "SQLite database file (created on first start) or postgresql://user@host/db "
    "(default: MADINA_DATABASE_URL, else MADINA_DATABASE, else madina.db)"
)
SHUTDOWN_GRACE_S = 5
"""Seconds a stopping server waits for requests still running before it cancels them."""


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    for key in ("host", "port", "db"):
        value = getattr(args, key, None)
        if value is not None:
            overrides["database" if key == "db" else key] = value
    if "database" in overrides:  # an explicit --db wins over MADINA_DATABASE_URL
        overrides["database_url"] = None
    return Settings(**overrides)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from madina.app import create_app

    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_json)
    if settings.auth == "off":
        if not is_loopback(settings.host):
            print(
                f"madina: cannot serve: MADINA_AUTH=off (open mode, no access control) is only "
                f"allowed on a loopback address such as 127.0.0.1, not on {settings.host!r}",
                file=sys.stderr,
            )
            return 1
        structlog.get_logger("madina").warning(
            "OPEN MODE: MADINA_AUTH=off, access control is DISABLED; anyone who reaches "
            "this port may read and write everything. For local development only.",
            host=settings.host,
        )
    problem = _database_problem(settings)
    if problem is not None:
        print(f"madina: cannot serve: {problem}", file=sys.stderr)
        return 1
    options = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "server_header": False,
        # Client addresses are Madina's business (MADINA_TRUSTED_PROXIES): uvicorn's default
        # would believe X-Forwarded-For from any local peer.
        "proxy_headers": False,
        # A stop waits for answers in progress, and a live stream (GET /live) never ends by
        # itself: it is cut after this many seconds (its EventSource reconnects elsewhere).
        "timeout_graceful_shutdown": SHUTDOWN_GRACE_S,
    }
    if args.workers > 1:
        # Worker processes build their own app from the environment, so pass the settings there.
        os.environ.update(
            {"MADINA_DATABASE": settings.store_database, "MADINA_HOST": settings.host,
             "MADINA_PORT": str(settings.port)}
        )
        os.environ.pop("MADINA_DATABASE_URL", None)  # MADINA_DATABASE now names the same
        created = _metrics_directory()
        try:
            uvicorn.run("madina.app:create_worker_app", factory=True, workers=args.workers,
                        **options)
        finally:
            if created is not None:
                shutil.rmtree(created, ignore_errors=True)
    else:
        uvicorn.run(create_app(settings), **options)
    return 0


def _metrics_directory() -> str | None:
    """Give the workers a PROMETHEUS_MULTIPROC_DIR, so /metrics sums them all (they are spawned
    processes: they read it before importing prometheus_client). The operator's own directory
    is emptied, as values left by an earlier run would be added to this one's; otherwise a fresh
    temporary one is made, and its path returned for removal at exit."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not given:
        created = tempfile.mkdtemp(prefix="madina-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = created
        return created
    directory = Path(given)
    directory.mkdir(parents=True, exist_ok=True)
    for leftover in directory.glob("*.db"):
        leftover.unlink()
    return None


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine (a name other than localhost
    might resolve anywhere, so it does not count)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _database_problem(settings: Settings) -> str | None:
    """Why the database cannot be served (unreachable, schema too old or too new), checked
    once before any worker starts: worker processes failing one by one would leave uvicorn's
    supervisor exiting 0, and a service manager would not know the start failed."""
    store = settings.store()
    try:
        store.open()
    except Exception as exc:
        return str(exc).strip() or type(exc).__name__
    store.close()
    return None


def demo(args: argparse.Namespace) -> int:
    from madina.demo import run_demo

    if args.data_dir and args.db:
        print("madina demo: give --db or --data-dir, not both", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="madina-demo-") as scratch:
        configured = os.environ.get("MADINA_DATABASE_URL") or os.environ.get("MADINA_DATABASE")
        if args.db is None and (args.data_dir or not configured):
            # The demo's data in the given directory, else in a temporary one.
            data_dir = Path(args.data_dir or scratch)
            data_dir.mkdir(parents=True, exist_ok=True)
            args.db = str(data_dir / "madina.db")
        settings = _settings(args)
        configure_logging(settings.log_level, settings.log_json)
        run_demo(settings.host, settings.port, settings.store_database, speed=args.speed,
                 seed=args.seed)
    return 0


def contexts_add(args: argparse.Namespace) -> int:
    """Pre-load a context into the store's cache, so an air-gapped broker can resolve it."""
    from madina.context.jsonld import ContextResolver

    settings = _settings(args)
    store = settings.store()
    store.open()
    try:
        resolver = ContextResolver(store=store, fetch_timeout=settings.context_fetch_timeout)
        source = args.source
        if source.startswith(("http://", "https://")):
            context_id = asyncio.run(resolver.add_cached(source))
        else:
            body = orjson.loads(Path(source).read_bytes())
            if args.url:
                context_id = asyncio.run(resolver.add_cached_copy(args.url, body))
            else:
                context_id = asyncio.run(resolver.add_hosted(body))
    finally:
        store.close()
    print(context_id)
    return 0


def db_upgrade(args: argparse.Namespace) -> int:
    """Apply pending schema migrations (after a backup); servers refuse an old schema."""
    from madina.store.engines import describe

    settings = _settings(args)
    database = settings.store_database
    found, now = upgrade(database)
    where = describe(database)
    if found == now:
        print(f"{where}: schema version {now}, up to date")
    else:
        print(f"{where}: schema upgraded from version {found} to {now}")
    return 0


def upgrade(database: str) -> tuple[int, int]:
    """(version found, version now) after migrating the database to this Madina's schema."""
    from madina.store.engines import is_postgres

    if is_postgres(database):
        import psycopg

        from madina.store import postgres_schema

        with psycopg.connect(database, autocommit=True) as conn:
            return postgres_schema.migrate(conn), postgres_schema.SCHEMA_VERSION
    import sqlite3

    from madina.store import sqlite_schema

    conn = sqlite3.connect(database, isolation_level=None)
    try:
        return sqlite_schema.migrate(conn), sqlite_schema.SCHEMA_VERSION
    finally:
        conn.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="madina", description=__doc__)
    parser.add_argument("--version", action="version", version=f"madina {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def server_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
        p.add_argument("--port", type=int, help="TCP port (default 1026)")
        p.add_argument("--db", help=DB_HELP)

    p = commands.add_parser("serve", help="run the NGSI-LD broker")
    server_options(p)
    p.add_argument(
        "--workers", type=int, default=1,
        help="worker processes sharing the database (SQLite: readers run in parallel)",
    )
    p.set_defaults(func=serve)

    p = commands.add_parser("demo", help="run the broker with the demo city replayed into it")
    server_options(p)
    p.add_argument("--data-dir", help="directory for the demo's database (default: a "
                                      "temporary one, removed at exit)")
    from madina.sim.cli import add_commands as add_sim_commands
    from madina.sim.cli import add_replay_options

    add_replay_options(p)
    p.set_defaults(func=demo)

    contexts = commands.add_parser("contexts", help="manage the JSON-LD @context cache")
    contexts_commands = contexts.add_subparsers(dest="contexts_command", required=True)
    p = contexts_commands.add_parser("add", help="pre-load a context from a FILE or URL")
    p.add_argument("source", help="path of a JSON-LD context file, or its http(s) URL")
    p.add_argument(
        "--url",
        help="with a FILE: the URL clients use for it, so it resolves without the network",
    )
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=contexts_add)

    db = commands.add_parser("db", help="manage the database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    p = db_commands.add_parser("upgrade", help="apply pending schema migrations (back up first)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=db_upgrade)

    from madina.auth.cli import add_commands

    add_commands(commands, lambda args: _settings(args).store(), DB_HELP)
    from madina.services.open311.cli import add_commands as add_open311_commands

    add_open311_commands(commands, lambda args: _settings(args).store(), DB_HELP)
    add_sim_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
