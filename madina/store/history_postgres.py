"""Attribute history on PostgreSQL.

Every read is one statement whatever the number of series: the series go in as two arrays and a
LATERAL subquery runs once per series, an index range on (tenant, entity, attribute, time) with
its own LIMIT. Aggregation groups by `width_bucket` over the period boundaries (any duration,
months and years included) and reads values from the index (`num` is INCLUDEd), so the rows'
JSON is not parsed for the numeric methods. The history is partitioned by month: a time window
touches only its months.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import psycopg

from madina.store.change_log import canonical, parse_canonical
from madina.store.history import (
    CONTENT_MEMBERS,
    ONE_SERIES,
    Bucket,
    HistoryRow,
    HistorySQL,
    Retention,
    Series,
    Window,
    history_row,
)
from madina.store.postgres_identities import _pg
from madina.store.postgres_partitions import HISTORY, add_months

if TYPE_CHECKING:
    from madina.store.postgres import PostgresStore, PostgresTransaction

SERIES = "h.tenant = ? AND h.entity_id = s.e AND h.attr = s.a"
"""The rows of the series `s` (from UNNEST)."""
UNNEST = "unnest(?::text[], ?::text[]) AS s(e, a)"
LATEST_KIND = (
    "LEFT JOIN LATERAL (SELECT l.instance->>'type' AS kind FROM attribute_instances l"
    " WHERE l.tenant = ? AND l.entity_id = s.e AND l.attr = s.a AND NOT l.deleted"
    " ORDER BY l.observed_at DESC LIMIT 1) k ON true"
)
"""A series' kind, from its newest instance, once per series (aggregates read no instance's
JSON)."""
CONTENT = "coalesce(" + ", ".join(f"h.instance->'{m}'" for m in CONTENT_MEMBERS) + ")"
"""What distinctCount tells apart (jsonb equality: numbers by value)."""
AGGREGATES = {
    "totalCount": "count(*)",
    "distinctCount": f"count(DISTINCT {CONTENT})",
    "sum": "sum(h.num)",
    "avg": "avg(h.num)",
    "min": "min(h.num)",
    "max": "max(h.num)",
    "stddev": "stddev_samp(h.num)",
    # PostgreSQL raises an error when a float8 product underflows; such a square is 0 in any
    # sum that has a representable one, as IEEE arithmetic would make it.
    "sumsq": "sum(CASE WHEN abs(h.num) < 1e-154 THEN 0 ELSE h.num * h.num END)",
}


def _arrays(series: list[Series]) -> list[list[str]]:
    return [[e for e, _ in series], [a for _, a in series]]


class PostgresHistory(HistorySQL):
    DELETED = "h.deleted"
    WRITTEN = "NOT h.deleted"
    INSTANCE = "h.instance::text"
    DELETED_KIND = (
        "(SELECT p.instance->>'type' FROM attribute_instances p"
        " WHERE p.tenant = h.tenant AND p.entity_id = h.entity_id AND p.attr = h.attr"
        " AND p.dataset_id = h.dataset_id AND NOT p.deleted AND p.observed_at <= h.observed_at"
        " ORDER BY p.observed_at DESC LIMIT 1)"
    )

    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.store._read(_pg(sql), params, planned=False)

    def _write(self, sql: str, params: Sequence[Any]) -> int:
        with self.store.connection() as conn:
            return conn.execute(_pg(sql), params).rowcount

    def _in(self, column: str, values: frozenset[str]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?::text[])", [sorted(values)]

    def _instance_time(self, name: str) -> str:
        return f"(h.instance->>'{name}')::timestamptz"

    _bind_time = staticmethod(parse_canonical)

    # -- reads -----------------------------------------------------------------------------
    def bounds(
        self, tenant: str, series: list[Series], window: Window
    ) -> tuple[str | None, str | None]:
        if not series:
            return None, None
        at, deleted = self._time(window)
        where, params = self._filters(window, at)
        (low, high), = self._rows(
            f"SELECT min(x.low), max(x.high) FROM {UNNEST} CROSS JOIN LATERAL"
            f" (SELECT min({at}) AS low, max({at}) AS high FROM attribute_instances h"
            f" WHERE {SERIES} AND {deleted}{where}) x",
            [*_arrays(series), tenant, *params],
        )
        return (canonical(low) if low else None), (canonical(high) if high else None)

    def instances(
        self, tenant: str, series: list[Series], window: Window, limit: int, newest_first: bool
    ) -> dict[Series, list[HistoryRow]]:
        out: dict[Series, list[HistoryRow]] = {key: [] for key in series}
        if not series:
            return out
        at, deleted = self._time(window)
        where, params = self._filters(window, at)
        order = "DESC" if newest_first else "ASC"
        kind = self.DELETED_KIND if window.timeproperty == "deletedAt" else "NULL"
        rows = self._rows(
            f"SELECT s.e, s.a, x.* FROM {UNNEST} CROSS JOIN LATERAL"
            f" (SELECT h.id, h.dataset_id, h.instance::text, {at}, {kind}"
            f" FROM attribute_instances h WHERE {SERIES} AND {deleted}{where}"
            f" ORDER BY {at} {order}, h.id {order} LIMIT ?) x",
            [*_arrays(series), tenant, *params, limit],
        )
        for entity_id, attr, *row in rows:
            key = (entity_id, attr)
            out[key].append(history_row(key, *row))
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
        out: dict[Series, list[Bucket]] = {key: [] for key in series}
        if not series:
            return out
        at, deleted = self._time(window)
        where, params = self._filters(window, at)
        edges = [datetime.fromisoformat(b) for b in boundaries]  # strptime: 8 µs an edge
        columns = ", ".join(AGGREGATES[m] for m in methods)
        order = "DESC" if newest_first else "ASC"
        rows = self._rows(
            f"SELECT s.e, s.a, k.kind, x.* FROM {UNNEST} {LATEST_KIND} CROSS JOIN LATERAL"
            f" (SELECT width_bucket({at}, ?::timestamptz[]) AS period, h.dataset_id,"
            f" {columns} FROM attribute_instances h WHERE {SERIES} AND {deleted}"
            f" AND {at} >= ? AND {at} < ?{where}"
            f" GROUP BY 1, 2 ORDER BY 1 {order}, 2 LIMIT ?) x",
            [*_arrays(series), tenant, edges, tenant, edges[0], edges[-1], *params, limit],
        )
        for row in rows:
            key = (row[0], row[1])
            out[key].append(Bucket(key, row[4], row[3] - 1, row[5:], row[2] or "Property"))
        return out

    # -- writes ----------------------------------------------------------------------------
    def replace_instance(
        self, tenant: str, series: Series, row_id: int, instance: dict[str, Any], observed_at: str
    ) -> bool:
        """A new observedAt may move the row to another month: that month's partition is made
        first, outside the update's transaction (DDL there would lock the whole history)."""
        moment = parse_canonical(observed_at)
        with self.store.connection() as conn:
            HISTORY.ensure_month(conn, moment)
            with conn.transaction():
                cursor = conn.execute(
                    _pg("UPDATE attribute_instances AS h SET instance = ?::jsonb, observed_at = ?"
                        f" WHERE h.id = ? AND {ONE_SERIES} AND NOT h.deleted"),
                    [orjson.dumps(instance).decode(), moment, row_id, tenant, *series],
                )
                return cursor.rowcount > 0

    def delete_rows(
        self,
        tx: PostgresTransaction,
        entity_id: str,
        attr: str | None = None,
        dataset_ids: frozenset[str] | None = None,
    ) -> int:
        where, params = self._entity_rows(tx.tenant, entity_id, attr, dataset_ids)
        # The write transaction runs in pipeline mode, where a rowcount is not known yet:
        # fetching the count makes it arrive.
        return tx.conn.execute(
            _pg(f"WITH d AS (DELETE FROM attribute_instances WHERE {where} RETURNING 1)"
                " SELECT count(*) FROM d"),
            params,
        ).fetchone()[0]

    def expire(self, retention: Retention, now: datetime) -> int:
        """Whole months older than every retention are dropped (the store's daily `maintain`
        does the same with the same limit); then the rows of shorter retentions go, one month
        partition per statement, so each deletion is bounded and touches only the months it
        must. Returns the rows deleted one by one."""
        removed = 0
        rules = retention.deletions(now, drops_partitions=True)
        with self.store.connection() as conn:
            if retention.partition_days is not None:
                HISTORY.drop_expired(conn, now - timedelta(days=retention.partition_days))
            for condition, params, before in rules:
                cutoff = parse_canonical(before)
                for name, start in HISTORY.partitions(conn):
                    if start >= cutoff:
                        continue
                    ends = add_months(start, 1)
                    try:
                        removed += conn.execute(
                            _pg(f"DELETE FROM {name} WHERE observed_at < ? AND {condition}"),
                            [min(cutoff, ends), *params],
                        ).rowcount
                    except psycopg.errors.UndefinedTable:
                        continue  # dropped meanwhile by another worker's maintenance
        return removed

