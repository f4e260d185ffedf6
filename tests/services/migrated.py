"""Migrated PostgreSQL schemas for tests: migrated once per test process, reset between tests.

Migrating a fresh schema costs PostgreSQL 0.3-0.6 s (several seconds on a loaded machine),
which was most of every PostgreSQL test's setup. So a test process (one per xdist worker)
migrates a schema the first time a test needs one, and when that test is done brings it back
to the state the migration left: tables the test added (history months of old observations)
dropped, every row deleted, the rows the migrations wrote put back, sequences rewound. Then the
schema is compared with the catalogue it had just after migrating, and renamed: the next test
sees a new name, as a fresh schema would have (notices and leader locks are keyed by it), and
any connection the last test left behind no longer finds its tables. A schema whose catalogue
differs (a test altered a table) or that cannot be reset is dropped, never reused.

The tests of the migrations themselves take `postgres_schema()`, which starts from nothing.
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg import sql
from psycopg.types.json import Json

from madina.store.postgres_partitions import AUDIT, HISTORY
from madina.store.postgres_schema import migrate
from tests.services import postgres_url, require_postgres, schema_name, schema_url

# Everything a migration can declare in a schema, one line per object, names unqualified (the
# connection's search path starts with the schema; `_catalogue` strips the name where PostgreSQL
# writes it anyway), so that a renamed schema compares equal to itself. Objects are found through
# their dependency on the schema, then by oid, on indexes: the suite's server runs without
# autovacuum, and a scan of its bloated catalogue tables would cost as much as a migration.
CATALOGUE = """
WITH objects AS (
    SELECT classid, objid FROM pg_depend
    WHERE refclassid = 'pg_namespace'::regclass AND refobjid = %(schema)s::regnamespace
), relations AS (
    SELECT c.oid, c.relname FROM objects o JOIN pg_class c ON c.oid = o.objid
    WHERE o.classid = 'pg_class'::regclass
), indexes AS (
    SELECT i.indexrelid AS oid FROM relations r JOIN pg_index i ON i.indrelid = r.oid
), lines (line) AS (
    SELECT format('relation %%s %%s %%s %%s %%s %%s', c.relname, c.relkind, c.relpersistence,
                  c.reloptions, pg_get_expr(c.relpartbound, c.oid),
                  CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END)
    FROM relations r JOIN pg_class c ON c.oid = r.oid
    UNION ALL
    SELECT format('column %%s %%s %%s %%s %%s %%s %%s %%s', r.relname, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity,
                  a.attgenerated, a.attcompression, pg_get_expr(d.adbin, d.adrelid))
    FROM relations r JOIN pg_attribute a ON a.attrelid = r.oid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT format('index %%s %%s', pg_get_indexdef(i.oid), c.reloptions)
    FROM indexes i JOIN pg_class c ON c.oid = i.oid
    UNION ALL
    SELECT format('constraint %%s %%s %%s', r.relname, k.conname, pg_get_constraintdef(k.oid))
    FROM relations r JOIN pg_constraint k ON k.conrelid = r.oid
    UNION ALL
    SELECT format('trigger %%s', pg_get_triggerdef(t.oid))
    FROM relations r JOIN pg_trigger t ON t.tgrelid = r.oid WHERE NOT t.tgisinternal
    UNION ALL
    SELECT format('sequence %%s %%s %%s %%s %%s %%s %%s', r.relname, s.seqtypid::regtype,
                  s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcycle)
    FROM relations r JOIN pg_sequence s ON s.seqrelid = r.oid
    UNION ALL
    SELECT format('function %%s %%s', p.oid::regprocedure, md5(p.prosrc))
    FROM objects o JOIN pg_proc p ON p.oid = o.objid WHERE o.classid = 'pg_proc'::regclass
    UNION ALL
    SELECT format('type %%s %%s %%s %%s', t.typname, t.typtype, format_type(t.typbasetype, NULL),
                  (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                   FROM pg_enum e WHERE e.enumtypid = t.oid))
    FROM objects o JOIN pg_type t ON t.oid = o.objid WHERE o.classid = 'pg_type'::regclass
)
SELECT string_agg(line, E'\\n' ORDER BY line) FROM lines
"""


@dataclass
class MigratedSchema:
    """A migrated schema, and what it takes to bring it back to its just-migrated state."""

    name: str
    tables: frozenset[str]
    """Its tables and partitions as migrated; any other is a test's, dropped on reset."""
    reset: sql.Composed
    """Deletes every row, puts back the migrations' rows and rewinds the sequences."""
    catalogue: str
    """CATALOGUE as migrated: a schema that no longer matches it is not reused."""


_idle: list[MigratedSchema] = []


@contextmanager
def migrated_schema() -> Iterator[str]:
    """A database URL whose tables land in a schema just as the migrations left it, with the
    history and audit months a store creates as it opens."""
    base = require_postgres()
    schema = _idle.pop() if _idle else _migrate(base)
    try:
        yield schema_url(base, schema.name)
    finally:
        if _reset(base, schema):
            _idle.append(schema)
        else:
            _drop(base, schema.name)


def _migrate(base: str) -> MigratedSchema:
    name = schema_name()
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    with psycopg.connect(schema_url(base, name), autocommit=True) as conn:
        migrate(conn)
        now = datetime.now(UTC)
        HISTORY.ensure_ahead(conn, now)
        AUDIT.ensure_ahead(conn, now)
        return MigratedSchema(
            name, frozenset(_tables(conn, name)), _reset_script(conn, name),
            _catalogue(conn, name),
        )


def _reset(base: str, schema: MigratedSchema) -> bool:
    """Bring the schema back to its migrated state under a new name; False if it cannot be."""
    renamed = schema_name()
    try:
        with psycopg.connect(schema_url(base, schema.name), autocommit=True) as conn:
            # A connection the test left inside a transaction must not hang the suite.
            conn.execute("SET lock_timeout = '5s'")
            with conn.transaction() as tx:
                for table in sorted(set(_tables(conn, schema.name)) - schema.tables):
                    conn.execute(
                        sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(table))
                    )
                conn.execute(schema.reset)
                same = _catalogue(conn, schema.name) == schema.catalogue
                if not same:
                    raise psycopg.Rollback(tx)
                conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                    sql.Identifier(schema.name), sql.Identifier(renamed)))
    except psycopg.Error:
        return False
    if same:
        schema.name = renamed
    return same


def _drop(base: str, name: str) -> None:
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def drop_idle() -> None:
    """Drop the schemas waiting for a test: the test process is done (pytest_sessionfinish)."""
    while _idle:
        _drop(postgres_url(), _idle.pop().name)


def _relations(conn: psycopg.Connection, schema: str, kinds: str) -> list[str]:
    """The schema's relations of the given kinds (pg_class.relkind letters), partitions too."""
    return [name for (name,) in conn.execute(
        "SELECT c.relname FROM pg_depend d JOIN pg_class c ON c.oid = d.objid"
        " WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = %s::regnamespace"
        " AND d.classid = 'pg_class'::regclass AND c.relkind = ANY(%s)",
        (schema, list(kinds)),
    )]


def _tables(conn: psycopg.Connection, schema: str) -> list[str]:
    return _relations(conn, schema, "rp")


def _catalogue(conn: psycopg.Connection, schema: str) -> str:
    """CATALOGUE, without the schema's name (index definitions always carry it)."""
    return conn.execute(CATALOGUE, {"schema": schema}).fetchone()[0].replace(f"{schema}.", "")


def _reset_script(conn: psycopg.Connection, schema: str) -> sql.Composed:
    """One round trip: rows deleted (a table before the tables it references; DELETE, since
    TRUNCATE costs PostgreSQL ~0.3 s in file operations), the rows the migrations wrote put
    back, every sequence set to where the migrations left it."""
    statements = []
    for table in _deletion_order(conn, schema):
        name = sql.Identifier(table)
        statements.append(sql.SQL("DELETE FROM {}").format(name))
        rows = conn.execute(sql.SQL("SELECT json_agg(t) FROM {} t").format(name)).fetchone()[0]
        if rows:
            columns = sql.SQL(", ").join(map(sql.Identifier, _insertable(conn, table)))
            statements.append(sql.SQL(
                "INSERT INTO {table} ({columns}) OVERRIDING SYSTEM VALUE"
                " SELECT {columns} FROM json_populate_recordset(NULL::{table}, {rows})"
            ).format(table=name, columns=columns, rows=sql.Literal(Json(rows))))
    for sequence in _relations(conn, schema, "S"):
        name = sql.Identifier(sequence)
        last, called = conn.execute(
            sql.SQL("SELECT last_value, is_called FROM {}").format(name)
        ).fetchone()
        statements.append(sql.SQL("SELECT setval({}::regclass, {}, {})").format(
            sql.Literal(name.as_string(conn)), sql.Literal(last), sql.Literal(called)))
    return sql.SQL("; ").join(statements)


def _deletion_order(conn: psycopg.Connection, schema: str) -> list[str]:
    """Top-level tables (deleting from a partitioned one empties its partitions), each before
    the tables its foreign keys reference."""
    order: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for table in _tables(conn, schema):
        name = sql.Identifier(table).as_string(conn)
        partition, referenced = conn.execute(
            "SELECT relispartition, ARRAY(SELECT confrelid::regclass::text FROM pg_constraint"
            "  WHERE conrelid = c.oid AND contype = 'f' AND confrelid <> c.oid)"
            " FROM pg_class c WHERE c.oid = %s::regclass", (name,),
        ).fetchone()
        if not partition:
            order.add(table)
            for parent in referenced:
                order.add(parent, table)
    return list(order.static_order())


def _insertable(conn: psycopg.Connection, table: str) -> list[str]:
    """The table's columns but generated ones, which refuse a value."""
    return [name for (name,) in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
        " AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
        (sql.Identifier(table).as_string(conn),),
    )]
