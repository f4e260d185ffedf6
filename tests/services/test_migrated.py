"""A reused migrated schema is, to the next test, what a freshly migrated one would be."""

from __future__ import annotations

import psycopg

from madina.store.postgres_schema import SCHEMA_VERSION
from tests.services.migrated import migrated_schema


def namespace(conn: psycopg.Connection) -> tuple[int, str]:
    return conn.execute(
        "SELECT oid::int, nspname FROM pg_namespace WHERE nspname = current_schema()"
    ).fetchone()


def test_what_a_test_leaves_is_gone_from_the_next_one() -> None:
    with migrated_schema() as url, psycopg.connect(url, autocommit=True) as conn:
        first = namespace(conn)
        conn.execute("INSERT INTO tenants (name) VALUES ('espoo')")
        conn.execute("UPDATE iot_revision SET revision = 7")
        conn.execute("DELETE FROM madina_schema")
        assert conn.execute("SELECT nextval('changes_seq_seq')").fetchone()[0] == 1
        conn.execute("CREATE TABLE attribute_instances_1999_01 PARTITION OF attribute_instances"
                     " FOR VALUES FROM ('1999-01-01') TO ('1999-02-01')")
    with migrated_schema() as url, psycopg.connect(url, autocommit=True) as conn:
        oid, name = namespace(conn)
        assert oid == first[0] and name != first[1]  # the same schema, under a new name
        assert conn.execute("SELECT count(*) FROM tenants").fetchone()[0] == 0
        assert conn.execute("SELECT revision FROM iot_revision").fetchone()[0] == 0
        assert conn.execute("SELECT version FROM madina_schema").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("SELECT nextval('changes_seq_seq')").fetchone()[0] == 1
        old_month = conn.execute("SELECT to_regclass('attribute_instances_1999_01')")
        assert old_month.fetchone()[0] is None


def test_a_schema_a_test_altered_is_dropped_not_reused() -> None:
    with migrated_schema() as url, psycopg.connect(url, autocommit=True) as conn:
        altered, _ = namespace(conn)
        conn.execute("ALTER TABLE tenants ADD COLUMN mayor text")
    with migrated_schema() as url, psycopg.connect(url, autocommit=True) as conn:
        assert namespace(conn)[0] != altered
        gone = conn.execute("SELECT count(*) FROM pg_namespace WHERE oid = %s", (altered,))
        assert gone.fetchone()[0] == 0
