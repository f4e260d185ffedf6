"""The change log and attribute history on SQLite: one writer at a time, so AUTOINCREMENT
order is commit order and a cursor is the last sequence number read."""

from __future__ import annotations

import itertools
import sqlite3

import orjson

from madina.store.base import ChangeRow, InstanceRow, StoredChange
from madina.store.change_log import cursor_seq, to_json


def record(
    conn: sqlite3.Connection,
    tenant: str,
    instances: list[InstanceRow],
    changes: list[ChangeRow],
    now: str,
) -> None:
    """Deletion rows go with a statement of their own (runs of them, so rows keep their
    order), so no parameter is None or a bool: Python's sqlite3 sends those through its
    adapter lookup (~3,000 instructions each)."""
    for deleted, rows in itertools.groupby(instances, key=lambda r: r.instance is None):
        if deleted:
            conn.executemany(
                "INSERT INTO attribute_instances(tenant, entity_id, entity_type, attr,"
                " dataset_id, observed_at, recorded_at, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
                [(tenant, r.entity_id, r.entity_type, r.attr, r.dataset_id, r.observed_at, now)
                 for r in rows],
            )
        else:
            conn.executemany(
                "INSERT INTO attribute_instances(tenant, entity_id, entity_type, attr,"
                " dataset_id, instance, observed_at, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(tenant, r.entity_id, r.entity_type, r.attr, r.dataset_id, to_json(r.instance),
                  r.observed_at, now) for r in rows],
            )
    if changes:
        conn.executemany(
            "INSERT INTO changes(tenant, entity_id, kind, at, types, payload)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(tenant, c.entity_id, c.kind, c.at, None if c.types is None else to_json(c.types),
              to_json(c.payload)) for c in changes],
        )


def changes_after(
    conn: sqlite3.Connection, cursor: str | None, limit: int
) -> list[StoredChange]:
    rows = conn.execute(
        "SELECT seq, tenant, entity_id, kind, at, types, payload FROM changes WHERE seq > ?"
        " ORDER BY seq LIMIT ?",
        (cursor_seq(cursor), limit),
    )
    return [
        StoredChange(str(seq), tenant, entity_id, kind, at,
                     None if types is None else orjson.loads(types), payload)
        for seq, tenant, entity_id, kind, at, types, payload in rows
    ]


def latest_cursor(conn: sqlite3.Connection) -> str | None:
    seq = conn.execute("SELECT max(seq) FROM changes").fetchone()[0]
    return None if seq is None else str(seq)


def prune(conn: sqlite3.Connection, before: str) -> int:
    return conn.execute("DELETE FROM changes WHERE at < ?", (before,)).rowcount

