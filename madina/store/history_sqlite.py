"""Attribute history on the embedded engine.

Series are read one at a time: each is an index range on (tenant, entity, attribute, time), and
SQLite calls cost microseconds, so a loop is as cheap as one big statement and keeps every plan
simple. Aggregation joins the periods (a JSON array of boundaries) to that range, so every
period is one index seek and the values come from the index itself: the `num` column (the value
when it is a number) is in it, so no row's JSON is parsed for sum/avg/min/max/stddev/sumsq.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from madina.store.history import (
    CONTENT_MEMBERS,
    RETENTION_CHUNK,
    Bucket,
    HistoryRow,
    Retention,
    Series,
    Window,
)

if TYPE_CHECKING:
    from madina.store.sqlite import SQLiteStore, SQLiteTransaction

SERIES = "h.tenant = ? AND h.entity_id = ? AND h.attr = ?"
DELETED_KIND = (
    "(SELECT json_extract(p.instance, '$.type') FROM attribute_instances p"
    " WHERE p.tenant = h.tenant AND p.entity_id = h.entity_id AND p.attr = h.attr"
    " AND p.dataset_id = h.dataset_id AND p.deleted = 0 AND p.observed_at <= h.observed_at"
    " ORDER BY p.observed_at DESC LIMIT 1)"
)
"""A deletion row has no instance: the kind is the one of the last instance before it."""
CONTENT = "coalesce(h.num, " + ", ".join(
    f"json_type(h.instance, '$.{m}') || ':' || json_extract(h.instance, '$.{m}')"
    for m in CONTENT_MEMBERS
) + ")"
"""What distinctCount tells apart: numbers by value (1 and 1.0 alike, as in PostgreSQL's jsonb),
anything else by its JSON type and text."""


def _time(window: Window) -> tuple[str, str]:
    """(the SQL of the row's time, the condition on `deleted`) for the window's property."""
    if window.timeproperty == "deletedAt":
        return "h.observed_at", "h.deleted = 1"
    if window.timeproperty in ("createdAt", "modifiedAt"):
        return f"json_extract(h.instance, '$.{window.timeproperty}')", "h.deleted = 0"
    return "h.observed_at", "h.deleted = 0"


def _filters(window: Window, at: str, indexed: bool = True) -> tuple[str, list[Any]]:
    """The window's conditions; not `indexed`: the time conditions must not pick the index
    range (aggregation seeks per period, and SQLite would otherwise scan the whole window
    for every period)."""
    clauses, params = [], []
    if not indexed:
        at = f"+{at}"
    if window.start is not None:
        clauses.append(f"{at} >= ?")
        params.append(window.start)
    if window.end is not None:
        clauses.append(f"{at} < ?")
        params.append(window.end)
    if window.dataset_ids is not None:
        clauses.append(f"h.dataset_id IN ({','.join('?' * len(window.dataset_ids))})")
        params.extend(sorted(window.dataset_ids))
    return "".join(f" AND {c}" for c in clauses), params


def _aggregates(methods: tuple[str, ...]) -> tuple[list[str], int]:
    """The select list for `methods`, and how many shift parameters (stddev) it takes."""
    columns, shifts = [], 0
    for method in methods:
        if method == "totalCount":
            columns.append("count(*)")
        elif method == "distinctCount":
            columns.append(f"count(DISTINCT {CONTENT})")
        elif method == "sumsq":
            columns.append("sum(h.num * h.num)")
        elif method == "stddev":
            # Sample standard deviation from sums of values shifted by one of them, which keeps
            # the subtraction of two large sums from eating the digits (values ~1e6 apart by
            # ~1 would otherwise lose them all).
            columns.append(
                "CASE WHEN count(h.num) > 1 THEN sqrt(max(0.0, (sum((h.num - ?) * (h.num - ?))"
                " - sum(h.num - ?) * sum(h.num - ?) / count(h.num)) / (count(h.num) - 1))) END"
            )
            shifts += 4
        else:
            columns.append(f"{method}(h.num)")
    return columns, shifts


class SQLiteHistory:
    def __init__(self, store: SQLiteStore) -> None:
        self.store = store

    def _rows(self, sql: str, params: list[Any] | tuple = ()) -> list[tuple]:
        with self.store._lock:
            return self.store.conn.execute(sql, params).fetchall()

    @contextmanager
    def _atomic(self) -> Iterator[Any]:
        store = self.store
        with store._lock, store._writer_turn():
            conn = store.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    # -- reads -----------------------------------------------------------------------------
    def attributes(self, tenant: str, entity_id: str) -> list[str]:
        """A loose index scan: one seek per distinct attribute, however long each history."""
        rows = self._rows(
            "WITH RECURSIVE a(attr) AS ("
            " SELECT min(attr) FROM attribute_instances WHERE tenant = ? AND entity_id = ?"
            " UNION ALL SELECT (SELECT min(attr) FROM attribute_instances"
            " WHERE tenant = ? AND entity_id = ? AND attr > a.attr) FROM a"
            " WHERE a.attr IS NOT NULL)"
            " SELECT attr FROM a WHERE attr IS NOT NULL",
            (tenant, entity_id, tenant, entity_id),
        )
        return [attr for (attr,) in rows]

    def entity_type(self, tenant: str, entity_id: str) -> str | None:
        rows = self._rows(
            "SELECT entity_type FROM attribute_instances WHERE tenant = ? AND entity_id = ?"
            " ORDER BY attr, observed_at DESC LIMIT 1",
            (tenant, entity_id),
        )
        return rows[0][0] if rows else None

    def has_rows(self, tenant: str, entity_id: str, attr: str | None = None) -> bool:
        sql = "SELECT 1 FROM attribute_instances WHERE tenant = ? AND entity_id = ?"
        params: list[Any] = [tenant, entity_id]
        if attr is not None:
            sql += " AND attr = ?"
            params.append(attr)
        return bool(self._rows(sql + " LIMIT 1", params))

    def bounds(
        self, tenant: str, series: list[Series], window: Window
    ) -> tuple[str | None, str | None]:
        at, deleted = _time(window)
        where, params = _filters(window, at)
        oldest, newest = None, None
        for entity_id, attr in series:
            (low, high), = self._rows(
                f"SELECT min({at}), max({at}) FROM attribute_instances h"
                f" WHERE {SERIES} AND {deleted}{where}",
                [tenant, entity_id, attr, *params],
            )
            if low is not None:
                oldest = low if oldest is None else min(oldest, low)
                newest = high if newest is None else max(newest, high)
        return oldest, newest

    def instances(
        self, tenant: str, series: list[Series], window: Window, limit: int, newest_first: bool
    ) -> dict[Series, list[HistoryRow]]:
        at, deleted = _time(window)
        where, params = _filters(window, at)
        order = "DESC" if newest_first else "ASC"
        kind = DELETED_KIND if window.timeproperty == "deletedAt" else "NULL"
        sql = (
            f"SELECT h.id, h.dataset_id, h.instance, {at}, {kind} FROM attribute_instances h"
            f" WHERE {SERIES} AND {deleted}{where} ORDER BY {at} {order}, h.id {order} LIMIT ?"
        )
        out = {}
        for key in series:
            rows = self._rows(sql, [tenant, *key, *params, limit])
            out[key] = [_history_row(key, *row) for row in rows]
        return out

    def aggregate(
        self,
        tenant: str,
        series: list[Series],
        window: Window,
        boundaries: list[str],
        methods: tuple[str, ...],
        limit: int,
        newest_first: bool,
    ) -> dict[Series, list[Bucket]]:
        at, deleted = _time(window)
        where, params = _filters(window, at, indexed=False)
        columns, shifts = _aggregates(methods)
        order = "DESC" if newest_first else "ASC"
        sql = (
            f"SELECT b.key, h.dataset_id, {', '.join(columns)}"
            " FROM (SELECT key, value AS s, lead(value) OVER (ORDER BY key) AS e"
            " FROM json_each(?)) b CROSS JOIN attribute_instances h"
            f" WHERE b.e IS NOT NULL AND {SERIES} AND {deleted}"
            f" AND {at} >= b.s AND {at} < b.e{where}"
            f" GROUP BY b.key, h.dataset_id ORDER BY b.key {order}, h.dataset_id LIMIT ?"
        )
        edges = orjson.dumps(boundaries).decode()
        out = {}
        for key in series:
            kind, shift = self._latest(tenant, key)
            rows = self._rows(
                sql, [*[shift] * shifts, edges, tenant, *key, *params, limit]
            )
            out[key] = [
                Bucket(key, row[1], row[0], row[2:], kind) for row in rows
            ]
        return out

    def _latest(self, tenant: str, key: Series) -> tuple[str, float]:
        """The series' kind and a recent numeric value (stddev's shift), from its newest row."""
        rows = self._rows(
            "SELECT json_extract(h.instance, '$.type'), h.num FROM attribute_instances h"
            f" WHERE {SERIES} AND h.deleted = 0 ORDER BY h.observed_at DESC LIMIT 1",
            [tenant, *key],
        )
        if not rows:
            return "Property", 0.0
        return rows[0][0] or "Property", rows[0][1] or 0.0

    def instance(self, tenant: str, series: Series, row_id: int) -> HistoryRow | None:
        rows = self._rows(
            f"SELECT h.id, h.dataset_id, h.instance, h.observed_at, {DELETED_KIND}"
            f" FROM attribute_instances h WHERE h.id = ? AND {SERIES}",
            [row_id, tenant, *series],
        )
        return _history_row(series, *rows[0]) if rows else None

    # -- writes ----------------------------------------------------------------------------
    def replace_instance(
        self, tenant: str, series: Series, row_id: int, instance: dict[str, Any], observed_at: str
    ) -> bool:
        with self._atomic() as conn:
            cursor = conn.execute(
                "UPDATE attribute_instances AS h SET instance = ?, observed_at = ?"
                f" WHERE h.id = ? AND {SERIES} AND h.deleted = 0",
                [orjson.dumps(instance).decode(), observed_at, row_id, tenant, *series],
            )
            return cursor.rowcount > 0

    def delete_instance(self, tenant: str, series: Series, row_id: int) -> bool:
        with self._atomic() as conn:
            cursor = conn.execute(
                f"DELETE FROM attribute_instances AS h WHERE h.id = ? AND {SERIES}",
                [row_id, tenant, *series],
            )
            return cursor.rowcount > 0

    def delete_rows(
        self,
        tx: SQLiteTransaction,
        entity_id: str,
        attr: str | None = None,
        dataset_ids: frozenset[str] | None = None,
    ) -> int:
        sql = "DELETE FROM attribute_instances WHERE tenant = ? AND entity_id = ?"
        params: list[Any] = [tx.tenant, entity_id]
        if attr is not None:
            sql += " AND attr = ?"
            params.append(attr)
        if dataset_ids is not None:
            sql += f" AND dataset_id IN ({','.join('?' * len(dataset_ids))})"
            params.extend(sorted(dataset_ids))
        return tx.conn.execute(sql, params).rowcount

    def expire(self, retention: Retention, now: datetime) -> int:
        """Chunk by chunk, each its own write transaction, so writers never wait long; rows
        are found through the index on time."""
        removed = 0
        rules = retention.deletions(now, drops_partitions=False)
        for condition, params, before in rules:
            while True:
                with self._atomic() as conn:
                    count = conn.execute(
                        "DELETE FROM attribute_instances WHERE id IN (SELECT id FROM"
                        f" attribute_instances WHERE observed_at < ? AND {condition} LIMIT ?)",
                        [before, *params, RETENTION_CHUNK],
                    ).rowcount
                removed += count
                if count < RETENTION_CHUNK:
                    break
        return removed


def _history_row(
    series: Series, row_id: int, dataset_id: str, instance: str | None, at: str, kind: str | None
) -> HistoryRow:
    parsed = orjson.loads(instance) if instance is not None else None
    if parsed is not None:
        kind = parsed.get("type")
    return HistoryRow(series, row_id, dataset_id, parsed, at, kind or "Property")
