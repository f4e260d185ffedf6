"""Attribute history on the embedded engine.

Series are read one at a time: each is an index range on (tenant, entity, attribute, time), and
SQLite calls cost microseconds, so a loop is as cheap as one big statement and keeps every plan
simple. Aggregation joins the periods (a JSON array of boundaries) to that range, so every
period is one index seek and the values come from the index itself: the `num` column (the value
when it is a number) is in it, so no row's JSON is parsed for sum/avg/min/max/stddev/sumsq.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from madina.store.history import (
    CONTENT_MEMBERS,
    ONE_SERIES,
    RETENTION_CHUNK,
    Bucket,
    HistoryRow,
    HistorySQL,
    Retention,
    Series,
    Window,
    history_row,
)

if TYPE_CHECKING:
    from madina.store.sqlite import SQLiteStore, SQLiteTransaction

CONTENT = "coalesce(h.num, " + ", ".join(
    f"json_type(h.instance, '$.{m}') || ':' || json_extract(h.instance, '$.{m}')"
    for m in CONTENT_MEMBERS
) + ")"
"""What distinctCount tells apart: numbers by value (1 and 1.0 alike, as in PostgreSQL's jsonb),
anything else by its JSON type and text."""


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


class SQLiteHistory(HistorySQL):
    DELETED = "h.deleted = 1"
    WRITTEN = "h.deleted = 0"
    INSTANCE = "h.instance"
    DELETED_KIND = (
        "(SELECT json_extract(p.instance, '$.type') FROM attribute_instances p"
        " WHERE p.tenant = h.tenant AND p.entity_id = h.entity_id AND p.attr = h.attr"
        " AND p.dataset_id = h.dataset_id AND p.deleted = 0 AND p.observed_at <= h.observed_at"
        " ORDER BY p.observed_at DESC LIMIT 1)"
    )

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self.store._lock:
            return self.store.conn.execute(sql, params).fetchall()

    def _write(self, sql: str, params: Sequence[Any]) -> int:
        store = self.store
        with store._lock, store._writer_turn():
            conn = store.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                count = conn.execute(sql, params).rowcount
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return count

    def _in(self, column: str, values: frozenset[str]) -> tuple[str, list[Any]]:
        return f"{column} IN ({','.join('?' * len(values))})", sorted(values)

    def _instance_time(self, name: str) -> str:
        return f"json_extract(h.instance, '$.{name}')"

    # -- reads -----------------------------------------------------------------------------
    def bounds(
        self, tenant: str, series: list[Series], window: Window
    ) -> tuple[str | None, str | None]:
        at, deleted = self._time(window)
        where, params = self._filters(window, at)
        oldest, newest = None, None
        for entity_id, attr in series:
            (low, high), = self._rows(
                f"SELECT min({at}), max({at}) FROM attribute_instances h"
                f" WHERE {ONE_SERIES} AND {deleted}{where}",
                [tenant, entity_id, attr, *params],
            )
            if low is not None:
                oldest = low if oldest is None else min(oldest, low)
                newest = high if newest is None else max(newest, high)
        return oldest, newest

    def instances(
        self, tenant: str, series: list[Series], window: Window, limit: int, newest_first: bool
    ) -> dict[Series, list[HistoryRow]]:
        at, deleted = self._time(window)
        where, params = self._filters(window, at)
        order = "DESC" if newest_first else "ASC"
        kind = self.DELETED_KIND if window.timeproperty == "deletedAt" else "NULL"
        sql = (
            f"SELECT h.id, h.dataset_id, h.instance, {at}, {kind} FROM attribute_instances h"
            f" WHERE {ONE_SERIES} AND {deleted}{where} ORDER BY {at} {order}, h.id {order}"
            " LIMIT ?"
        )
        out = {}
        for key in series:
            rows = self._rows(sql, [tenant, *key, *params, limit])
            out[key] = [history_row(key, *row) for row in rows]
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
        at, deleted = self._time(window)
        # `+at` keeps the window's time conditions from picking the index range: aggregation
        # seeks per period, and SQLite would otherwise scan the whole window for each.
        where, params = self._filters(window, f"+{at}")
        columns, shifts = _aggregates(methods)
        order = "DESC" if newest_first else "ASC"
        sql = (
            f"SELECT b.key, h.dataset_id, {', '.join(columns)}"
            " FROM (SELECT key, value AS s, lead(value) OVER (ORDER BY key) AS e"
            " FROM json_each(?)) b CROSS JOIN attribute_instances h"
            f" WHERE b.e IS NOT NULL AND {ONE_SERIES} AND {deleted}"
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
            f" WHERE {ONE_SERIES} AND h.deleted = 0 ORDER BY h.observed_at DESC LIMIT 1",
            [tenant, *key],
        )
        if not rows:
            return "Property", 0.0
        return rows[0][0] or "Property", rows[0][1] or 0.0

    # -- writes ----------------------------------------------------------------------------
    def replace_instance(
        self, tenant: str, series: Series, row_id: int, instance: dict[str, Any], observed_at: str
    ) -> bool:
        return self._write(
            "UPDATE attribute_instances AS h SET instance = ?, observed_at = ?"
            f" WHERE h.id = ? AND {ONE_SERIES} AND h.deleted = 0",
            [orjson.dumps(instance).decode(), observed_at, row_id, tenant, *series],
        ) > 0

    def delete_rows(
        self,
        tx: SQLiteTransaction,
        entity_id: str,
        attr: str | None = None,
        dataset_ids: frozenset[str] | None = None,
    ) -> int:
        where, params = self._entity_rows(tx.tenant, entity_id, attr, dataset_ids)
        return tx.conn.execute(f"DELETE FROM attribute_instances WHERE {where}", params).rowcount

    def expire(self, retention: Retention, now: datetime) -> int:
        """Chunk by chunk, each its own write transaction, so writers never wait long; rows
        are found through the index on time."""
        removed = 0
        rules = retention.deletions(now, drops_partitions=False)
        for condition, params, before in rules:
            while True:
                count = self._write(
                    "DELETE FROM attribute_instances WHERE id IN (SELECT id FROM"
                    f" attribute_instances WHERE observed_at < ? AND {condition} LIMIT ?)",
                    [before, *params, RETENTION_CHUNK],
                )
                removed += count
                if count < RETENTION_CHUNK:
                    break
        return removed

