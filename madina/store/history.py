"""Attribute history for the temporal API: instances read back in time order, aggregated per
period in SQL, edited one by one, and expired per entity type.

The rows are the ones `Transaction.record` appends (change_log_sqlite / change_log_postgres): one
per attribute instance written or deleted, keyed by (tenant, entity, attribute, time). Both
engines answer the same questions; what they share — the shapes of questions and answers, the
statements both run alike (`HistorySQL`), the retention rules — is here, and each engine's
module (`history_sqlite`, `history_postgres`) holds only its own SQL: how it reads many series
at once, aggregates, stores times and JSON.

Times are canonical UTC strings (`change_log.canonical`) in and out: string order is time order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

import orjson

from madina.store.base import Transaction
from madina.store.change_log import canonical

TIME_PROPERTIES = ("observedAt", "createdAt", "modifiedAt", "deletedAt")
"""What `timerel` compares (clause 4.11): observedAt (else modifiedAt, as recorded) by default;
deletedAt selects the deletions, every other property the instances written."""
AGGREGATION_METHODS = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev",
                       "sumsq")
"""Clause 4.5.19. The counts apply to every value; the others to numbers only (null otherwise)."""
NUMERIC_METHODS = frozenset({"sum", "avg", "min", "max", "stddev", "sumsq"})
INSTANCE_ID_PREFIX = "urn:ngsi-ld:Instance:"
"""An instanceId is this prefix and the history row's number: unique per database."""
CONTENT_MEMBERS = ("value", "object", "languageMap", "vocab", "json", "valueList", "objectList")
"""The member holding an instance's content, one per attribute kind (entity_model.CONTENT_MEMBER);
distinctCount compares these."""
RETENTION_CHUNK = 5000
"""SQLite expires rows this many at a time, each chunk its own short write transaction."""

Series = tuple[str, str]
"""(entity id, expanded attribute name): one attribute's history."""


def instance_id(row_id: int) -> str:
    return f"{INSTANCE_ID_PREFIX}{row_id}"


def row_id_of(instance_uri: str) -> int | None:
    """The row number an instanceId names, None when it is not one of ours."""
    number = instance_uri.removeprefix(INSTANCE_ID_PREFIX)
    if number == instance_uri or not number.isdigit() or len(number) > 18:
        return None
    return int(number)


@dataclass(frozen=True)
class Window:
    """Which rows of a series: those whose `timeproperty` lies in [start, end)."""

    timeproperty: str = "observedAt"
    start: str | None = None
    """Inclusive; None: from the oldest."""
    end: str | None = None
    """Exclusive; None: to the newest."""
    dataset_ids: frozenset[str] | None = None
    """Only these instances ("" is the default instance); None: all."""


class HistoryRow(NamedTuple):
    """One instance of a series (a tuple: series are read thousands of rows at a time)."""

    series: Series
    row_id: int
    dataset_id: str
    instance: dict[str, Any] | None
    """As stored in the entity document; None for a deletion."""
    at: str
    """The window's time property of this row."""
    kind: str
    """Property, Relationship, ...: for a deletion, the kind of the instance it removed."""


class Bucket(NamedTuple):
    """One period's aggregates of one series and dataset."""

    series: Series
    dataset_id: str
    index: int
    """The period: boundaries[index] <= time < boundaries[index + 1]."""
    values: tuple[Any, ...]
    """One value per aggregation method asked for, in that order (None where the method does
    not apply)."""
    kind: str


class HistoryStore(Protocol):
    """The history questions the temporal API asks; both engines answer them alike."""

    def attributes(self, tenant: str, entity_id: str) -> list[str]:
        """Every attribute with history rows, sorted."""
    def entity_type(self, tenant: str, entity_id: str) -> str | None:
        """The (first, expanded) type recorded for the entity, None without history."""
    def bounds(
        self, tenant: str, series: list[Series], window: Window
    ) -> tuple[str | None, str | None]:
        """Oldest and newest time of the rows in the window, over all the series."""
    def instances(
        self, tenant: str, series: list[Series], window: Window, limit: int, newest_first: bool
    ) -> dict[Series, list[HistoryRow]]:
        """Up to `limit` rows per series in time order (newest first when asked)."""
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
        """Per series and dataset, the `methods` over each period holding rows, up to `limit`
        periods per series, computed by the database."""
    def instance(self, tenant: str, series: Series, row_id: int) -> HistoryRow | None: ...
    def replace_instance(
        self, tenant: str, series: Series, row_id: int, instance: dict[str, Any], observed_at: str
    ) -> bool:
        """Overwrite one written instance (not a deletion); False when there is none."""
    def delete_instance(self, tenant: str, series: Series, row_id: int) -> bool: ...
    def delete_rows(
        self,
        tx: Transaction,
        entity_id: str,
        attr: str | None = None,
        dataset_ids: frozenset[str] | None = None,
    ) -> int:
        """Inside the write transaction `tx`: remove the entity's history (one attribute's,
        only some of its instances); returns how many rows went."""
    def expire(self, retention: Retention, now: datetime) -> int:
        """Delete rows past their type's retention; returns how many."""


ONE_SERIES = "h.tenant = ? AND h.entity_id = ? AND h.attr = ?"
"""The rows of one series in attribute_instances `h`."""


class HistorySQL:
    """What both engines' history stores run alike, in SQL both understand (`?` placeholders;
    the PostgreSQL engine translates them), and the window and row handling around each
    engine's own statements. An engine supplies its dialect: `_rows` (one read, its rows),
    `_write` (one statement in a write transaction of its own, how many rows it touched),
    `_in`, `_instance_time`, `_bind_time` and the SQL fragments below."""

    DELETED: str
    """Selects the deletion rows of attribute_instances `h`."""
    WRITTEN: str
    """Selects the written instances of `h`."""
    INSTANCE: str
    """`h`'s instance as JSON text."""
    DELETED_KIND: str
    """A deletion row has no instance: the kind is the one of the last instance before it."""

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        raise NotImplementedError

    def _write(self, sql: str, params: Sequence[Any]) -> int:
        raise NotImplementedError

    def _in(self, column: str, values: frozenset[str]) -> tuple[str, list[Any]]:
        """The condition that `column` holds one of `values`, and its parameters."""
        raise NotImplementedError

    def _instance_time(self, name: str) -> str:
        """The SQL of a system time (createdAt, modifiedAt) kept in `h`'s instance."""
        raise NotImplementedError

    def _bind_time(self, moment: str) -> Any:
        """A canonical time as the engine compares it with its time columns."""
        return moment

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

    def instance(self, tenant: str, series: Series, row_id: int) -> HistoryRow | None:
        rows = self._rows(
            f"SELECT h.id, h.dataset_id, {self.INSTANCE}, h.observed_at, {self.DELETED_KIND}"
            f" FROM attribute_instances h WHERE h.id = ? AND {ONE_SERIES}",
            [row_id, tenant, *series],
        )
        return history_row(series, *rows[0]) if rows else None

    # -- writes ----------------------------------------------------------------------------
    def delete_instance(self, tenant: str, series: Series, row_id: int) -> bool:
        return self._write(
            f"DELETE FROM attribute_instances AS h WHERE h.id = ? AND {ONE_SERIES}",
            [row_id, tenant, *series],
        ) > 0

    # -- pieces of the engines' statements -------------------------------------------------
    def _time(self, window: Window) -> tuple[str, str]:
        """(the SQL of the row's time, the condition on `deleted`) for the window's property."""
        if window.timeproperty == "deletedAt":
            return "h.observed_at", self.DELETED
        if window.timeproperty in ("createdAt", "modifiedAt"):
            return self._instance_time(window.timeproperty), self.WRITTEN
        return "h.observed_at", self.WRITTEN

    def _filters(self, window: Window, at: str) -> tuple[str, list[Any]]:
        """The window's conditions on the rows whose time is `at`, each after an AND."""
        clauses, params = [], []
        if window.start is not None:
            clauses.append(f"{at} >= ?")
            params.append(self._bind_time(window.start))
        if window.end is not None:
            clauses.append(f"{at} < ?")
            params.append(self._bind_time(window.end))
        if window.dataset_ids is not None:
            clause, values = self._in("h.dataset_id", window.dataset_ids)
            clauses.append(clause)
            params.extend(values)
        return "".join(f" AND {c}" for c in clauses), params

    def _entity_rows(
        self, tenant: str, entity_id: str, attr: str | None, dataset_ids: frozenset[str] | None
    ) -> tuple[str, list[Any]]:
        """The condition selecting an entity's history for `delete_rows` (one attribute's, only
        some of its instances), and its parameters."""
        where = "tenant = ? AND entity_id = ?"
        params: list[Any] = [tenant, entity_id]
        if attr is not None:
            where += " AND attr = ?"
            params.append(attr)
        if dataset_ids is not None:
            clause, values = self._in("dataset_id", dataset_ids)
            where += f" AND {clause}"
            params.extend(values)
        return where, params


def history_row(
    series: Series, row_id: int, dataset_id: str, instance: str | None, at: str | datetime,
    kind: str | None,
) -> HistoryRow:
    """A row as read: `instance` is JSON text, `at` a canonical time (SQLite) or a datetime
    (PostgreSQL's timestamptz)."""
    parsed = orjson.loads(instance) if instance is not None else None
    if parsed is not None:
        kind = parsed.get("type")
    moment = canonical(at) if isinstance(at, datetime) else at
    return HistoryRow(series, row_id, dataset_id, parsed, moment, kind or "Property")


# -- retention -----------------------------------------------------------------------------
_RULE = re.compile(r"^\s*([^=\s]+)\s*=\s*(\d{1,6})d\s*$")
_TYPE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$|^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")


@dataclass(frozen=True)
class Retention:
    """How long history is kept: per entity type, and for every other type (`default`).

    A type given as a short name matches every expanded type ending in `/name` or `#name`
    (`AirQualityObserved` is the Smart Data Models type and the default-context one alike); a
    type with a `:` is matched exactly as an IRI."""

    per_type: tuple[tuple[str, int], ...] = ()
    default: int | None = None
    """Days; None: kept forever."""

    @classmethod
    def parse(cls, text: str, default_days: int | None = None) -> Retention:
        """`AirQualityObserved=90d,*=365d`; without a `*` rule other types keep
        `default_days` (MADINA_HISTORY_RETENTION_DAYS). ValueError says what is wrong."""
        per_type: dict[str, int] = {}
        default = default_days
        for item in filter(str.strip, text.split(",")):
            match = _RULE.match(item)
            if match is None:
                raise ValueError(f"history retention rule {item.strip()!r} is not TYPE=<days>d")
            name, days = match[1], int(match[2])
            if days < 1:
                raise ValueError(f"history retention rule {item.strip()!r}: days must be ≥ 1")
            if name == "*":
                default = days
            elif _TYPE_NAME.match(name):
                per_type[name] = days
            else:
                raise ValueError(f"history retention rule {item.strip()!r}: bad type name")
        return cls(tuple(sorted(per_type.items())), default)

    @property
    def partition_days(self) -> int | None:
        """The age past which every row may go whatever its type: PostgreSQL drops whole
        month partitions older than this (None: some history is kept forever)."""
        if self.default is None:
            return None
        return max([self.default, *(days for _, days in self.per_type)])

    def deletions(
        self, now: datetime, drops_partitions: bool
    ) -> list[tuple[str, list[Any], str]]:
        """(type condition, its parameters, cutoff) of every row deletion retention needs;
        with `drops_partitions`, only those whole-partition drops (`partition_days`) do not
        already make. Conditions use `?` and the column `entity_type`."""
        longest = self.partition_days if drops_partitions else None
        out = []
        for name, days in self.per_type:
            if longest is None or days < longest:
                condition, params = type_condition(name)
                out.append((condition, params, _cutoff(now, days)))
        if self.default is not None and (longest is None or self.default < longest):
            others = [type_condition(name) for name, _ in self.per_type]
            if others:
                condition = "NOT (" + " OR ".join(c for c, _ in others) + ")"
                params = [p for _, ps in others for p in ps]
            else:
                condition, params = "1 = 1", []
            out.append((condition, params, _cutoff(now, self.default)))
        return out


def type_condition(name: str) -> tuple[str, list[Any]]:
    if ":" in name:
        return "entity_type = ?", [name]
    escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return (
        "(entity_type = ? OR entity_type LIKE ? ESCAPE '\\' OR entity_type LIKE ? ESCAPE '\\')",
        [name, f"%/{escaped}", f"%#{escaped}"],
    )


def _cutoff(now: datetime, days: int) -> str:
    return canonical(now - timedelta(days=days))
