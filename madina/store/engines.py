"""Which storage engine a database name selects."""

from __future__ import annotations

from madina.store.base import Store

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(database: str) -> bool:
    return database.startswith(POSTGRES_SCHEMES)


def store_for(
    database: str,
    sqlite_synchronous: str = "NORMAL",
    pool_size: int = 10,
    timeout: float = 5.0,
    history_retention_days: int | None = None,
) -> Store:
    """An unopened store: PostgreSQL for a postgresql:// URL, else an SQLite file path."""
    if is_postgres(database):
        from madina.store.postgres import PostgresStore

        return PostgresStore(database, pool_size=pool_size, connect_timeout=timeout,
                             history_retention_days=history_retention_days)
    from madina.store.sqlite import SQLiteStore

    return SQLiteStore(database, sqlite_synchronous)


def describe(database: str) -> str:
    """The database for logs and messages, never with a password."""
    if not is_postgres(database):
        return database
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(database)
    host = info.get("host", "localhost")
    return f"postgresql://{info.get('user', '')}@{host}:{info.get('port', 5432)}/" + str(
        info.get("dbname", "")
    )
