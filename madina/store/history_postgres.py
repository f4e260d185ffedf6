"""Attribute history on PostgreSQL.

Every read is one statement whatever the number of series: the series go in as two arrays and a
LATERAL subquery runs once per series, an index range on (tenant, entity, attribute, time) with
its own LIMIT. Aggregation groups by `width_bucket` over the period boundaries (any duration,
months and years included) and reads values from the index (`num` is INCLUDEd), so the rows'
JSON is not parsed for the numeric methods. The history is partitioned by month: a time window
touches only its months.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import psycopg

from madina.store.change_log import canonical, parse_canonical
from madina.store.history import (
    CONTENT_MEMBERS,
    Bucket,
    HistoryRow,
    Retention,
    Series,
    Window,
)
from madina.store.postgres_partitions import HISTORY, add_months

if TYPE_CHECKING:
    from madina.store.postgres import PostgresStore, PostgresTransaction

SERIES = "h.tenant = %s AND h.entity_id = s.e AND h.attr = s.a"
ONE_SERIES = "h.tenant = %s AND h.entity_id = %s AND h.attr = %s"
UNNEST = "unnest(%s::text[], %s::text[]) AS s(e, a)"
DELETED_KIND = (
    "(SELECT p.instance->>'type' FROM attribute_instances p"
    " WHERE p.tenant = h.tenant AND p.entity_id = h.entity_id AND p.attr = h.attr"
    " AND p.dataset_id = h.dataset_id AND NOT p.deleted AND p.observed_at <= h.observed_at"
    " ORDER BY p.observed_at DESC LIMIT 1)"
)
"""A deletion row has no instance: the kind is the one of the last instance before it."""
LATEST_KIND = (
    "LEFT JOIN LATERAL (SELECT l.instance->>'type' AS kind FROM attribute_instances l"
    " WHERE l.tenant = %s AND l.entity_id = s.e AND l.attr = s.a AND NOT l.deleted"
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


def _time(window: Window) -> tuple[str, str]:
    """(the SQL of the row's time as timestamptz, the condition on `deleted`)."""
    if window.timeproperty == "deletedAt":
        return "h.observed_at", "h.deleted"
    if window.timeproperty in ("createdAt", "modifiedAt"):
        return f"(h.instance->>'{window.timeproperty}')::timestamptz", "NOT h.deleted"
    return "h.observed_at", "NOT h.deleted"


def _filters(window: Window, at: str) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if window.start is not None:
        clauses.append(f"{at} >= %s")
        params.append(parse_canonical(window.start))
    if window.end is not None:
        clauses.append(f"{at} < %s")
        params.append(parse_canonical(window.end))
    if window.dataset_ids is not None:
        clauses.append("h.dataset_id = ANY(%s::text[])")
        params.append(sorted(window.dataset_ids))
    return "".join(f" AND {c}" for c in clauses), params


def _arrays(series: list[Series]) -> list[list[str]]:
    return [[e for e, _ in series], [a for _, a in series]]


class PostgresHistory:
    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    def _rows(self, sql: str, params: list[Any] | tuple) -> list[tuple]:
        return self.store._read(sql, params, planned=False)

    # -- reads -----------------------------------------------------------------------------
    def attributes(self, tenant: str, entity_id: str) -> list[str]:
        """A loose index scan: one seek per distinct attribute, however long each history."""
        rows = self._rows(
            "WITH RECURSIVE a(attr) AS ("
            " SELECT min(attr) FROM attribute_instances WHERE tenant = %s AND entity_id = %s"
            " UNION ALL SELECT (SELECT min(attr) FROM attribute_instances"
            " WHERE tenant = %s AND entity_id = %s AND attr > a.attr) FROM a"
            " WHERE a.attr IS NOT NULL)"
            " SELECT attr FROM a WHERE attr IS NOT NULL",
            (tenant, entity_id, tenant, entity_id),
        )
        return [attr for (attr,) in rows]

    def entity_type(self, tenant: str, entity_id: str) -> str | None:
        rows = self._rows(
            "SELECT entity_type FROM attribute_instances WHERE tenant = %s AND entity_id = %s"
            " ORDER BY attr, observed_at DESC LIMIT 1",
            (tenant, entity_id),
        )
        return rows[0][0] if rows else None

    def has_rows(self, tenant: str, entity_id: str, attr: str | None = None) -> bool:
        sql = "SELECT 1 FROM attribute_instances WHERE tenant = %s AND entity_id = %s"
        params: list[Any] = [tenant, entity_id]
        if attr is not None:
            sql += " AND attr = %s"
            params.append(attr)
        return bool(self._rows(sql + " LIMIT 1", params))

    def bounds(
        self, tenant: str, series: list[Series], window: Window
    ) -> tuple[str | None, str | None]:
        if not series:
            return None, None
        at, deleted = _time(window)
        where, params = _filters(window, at)
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
        at, deleted = _time(window)
        where, params = _filters(window, at)
        order = "DESC" if newest_first else "ASC"
        kind = DELETED_KIND if window.timeproperty == "deletedAt" else "NULL"
        rows = self._rows(
            f"SELECT s.e, s.a, x.* FROM {UNNEST} CROSS JOIN LATERAL"
            f" (SELECT h.id, h.dataset_id, h.instance::text, {at}, {kind}"
            f" FROM attribute_instances h WHERE {SERIES} AND {deleted}{where}"
            f" ORDER BY {at} {order}, h.id {order} LIMIT %s) x",
            [*_arrays(series), tenant, *params, limit],
        )
        for entity_id, attr, *row in rows:
            key = (entity_id, attr)
            out[key].append(_history_row(key, *row))
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
        at, deleted = _time(window)
        where, params = _filters(window, at)
        edges = [datetime.fromisoformat(b) for b in boundaries]  # strptime: 8 µs an edge
        columns = ", ".join(AGGREGATES[m] for m in methods)
        order = "DESC" if newest_first else "ASC"
        rows = self._rows(
            f"SELECT s.e, s.a, k.kind, x.* FROM {UNNEST} {LATEST_KIND} CROSS JOIN LATERAL"
            f" (SELECT width_bucket({at}, %s::timestamptz[]) AS period, h.dataset_id,"
            f" {columns} FROM attribute_instances h WHERE {SERIES} AND {deleted}"
            f" AND {at} >= %s AND {at} < %s{where}"
            f" GROUP BY 1, 2 ORDER BY 1 {order}, 2 LIMIT %s) x",
            [*_arrays(series), tenant, edges, tenant, edges[0], edges[-1], *params, limit],
        )
        for row in rows:
            key = (row[0], row[1])
            out[key].append(Bucket(key, row[4], row[3] - 1, row[5:], row[2] or "Property"))
        return out

    def instance(self, tenant: str, series: Series, row_id: int) -> HistoryRow | None:
        rows = self._rows(
            f"SELECT h.id, h.dataset_id, h.instance::text, h.observed_at, {DELETED_KIND}"
            f" FROM attribute_instances h WHERE h.id = %s AND {ONE_SERIES}",
            [row_id, tenant, *series],
        )
        return _history_row(series, *rows[0]) if rows else None

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
                    "UPDATE attribute_instances AS h SET instance = %s::jsonb, observed_at = %s"
                    f" WHERE h.id = %s AND {ONE_SERIES} AND NOT h.deleted",
                    [orjson.dumps(instance).decode(), moment, row_id, tenant, *series],
                )
                return cursor.rowcount > 0

    def delete_instance(self, tenant: str, series: Series, row_id: int) -> bool:
        with self.store.connection() as conn:
            cursor = conn.execute(
                f"DELETE FROM attribute_instances AS h WHERE h.id = %s AND {ONE_SERIES}",
                [row_id, tenant, *series],
            )
            return cursor.rowcount > 0

    def delete_rows(
        self,
        tx: PostgresTransaction,
        entity_id: str,
        attr: str | None = None,
        dataset_ids: frozenset[str] | None = None,
    ) -> int:
        sql = "DELETE FROM attribute_instances WHERE tenant = %s AND entity_id = %s"
        params: list[Any] = [tx.tenant, entity_id]
        if attr is not None:
            sql += " AND attr = %s"
            params.append(attr)
        if dataset_ids is not None:
            sql += " AND dataset_id = ANY(%s::text[])"
            params.append(sorted(dataset_ids))
        # The write transaction runs in pipeline mode, where a rowcount is not known yet:
        # fetching the count makes it arrive.
        return tx.conn.execute(f"WITH d AS ({sql} RETURNING 1) SELECT count(*) FROM d",
                               params).fetchone()[0]

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
                sql_condition = condition.replace("?", "%s")
                for name, start in HISTORY.partitions(conn):
                    if start >= cutoff:
                        continue
                    ends = add_months(start, 1)
                    try:
                        removed += conn.execute(
                            f"DELETE FROM {name} WHERE observed_at < %s AND {sql_condition}",
                            [min(cutoff, ends), *params],
                        ).rowcount
                    except psycopg.errors.UndefinedTable:
                        continue  # dropped meanwhile by another worker's maintenance
        return removed


def _history_row(
    series: Series, row_id: int, dataset_id: str, instance: str | None, at: datetime,
    kind: str | None,
) -> HistoryRow:
    parsed = orjson.loads(instance) if instance is not None else None
    if parsed is not None:
        kind = parsed.get("type")
    return HistoryRow(series, row_id, dataset_id, parsed, canonical(at), kind or "Property")
