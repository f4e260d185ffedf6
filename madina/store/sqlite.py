"""The embedded engine: one SQLite file in WAL mode.

One connection serves the whole process. Calls are short and run on the event loop thread, which
costs less than hopping to a thread pool for every request and keeps writes serialised the way
SQLite wants them. A transaction commits before the HTTP answer is sent, so a 2xx means the change
is in the WAL and survives a crash of the process.
"""

from __future__ import annotations

import fcntl
import itertools
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from madina.store import change_log_sqlite, sqlite_filters, sqlite_values
from madina.store.audit_sqlite import SQLiteAudit
from madina.store.base import (
    AttributeSummary,
    ChangeRow,
    Document,
    EntityQuery,
    EntitySelector,
    GeoFilter,
    InstanceRow,
    StoredChange,
    TypeExpr,
    TypeSummary,
    attribute_summaries,
)
from madina.store.cap_messages_sqlite import SQLiteCapMessages
from madina.store.geometry import bbox_of, geo_changed
from madina.store.history_sqlite import SQLiteHistory
from madina.store.open311_sqlite import SQLiteOpen311
from madina.store.sqlite_identities import SQLiteIdentities
from madina.store.sqlite_iot import SQLiteIot
from madina.store.sqlite_schema import migrate
from madina.store.sqlite_subscriptions import SQLiteSubscriptions

GEO_KINDS = ("GeoProperty",)
SLOT_BITS = 20
SLOT_MASK = (1 << SLOT_BITS) - 1
"""Index rows (geo shapes, attribute values) have ids carrying their entity's pk above SLOT_BITS:
one entity's rows are a rowid range, so no entity_pk index has to be maintained, and reading an
R*Tree id is free where an auxiliary column would cost a B-tree lookup per hit."""
ENTITY_ROWS = f"id BETWEEN ? << {SLOT_BITS} AND (? << {SLOT_BITS}) | {SLOT_MASK}"
"""One entity's rows of an id-slotted index table (both parameters: its pk)."""
SYSTEM_ORDER_KEYS = {"id": "e.id", "createdAt": "e.created_at", "modifiedAt": "e.modified_at"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def json_label(name: str) -> str:
    """A JSON path label for SQLite; attribute names are IRIs full of `:` `/` `.`."""
    return '"' + name.replace('"', '\\"') + '"'


class SQLiteStore:
    """The `Store` protocol on one SQLite database file."""

    runs_on_loop = True

    def __init__(self, path: str, synchronous: str = "NORMAL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._conn: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        """Reads outside transactions go through a connection of their own: they see only
        what has committed, and never wait for a writer. The writer's connection is shared
        with the IoT pipeline's thread, so a read on it could see (and a change feed hand out)
        rows of a transaction that is still open, or is about to roll back."""
        self._lock = threading.RLock()
        self._leases: list[IO[bytes]] = []
        """Lock files of the roles this process leads (try_lead)."""
        self._tenants: set[str] = set()
        self._name_ids: dict[str, int] = {}
        self._geo_filters: dict[int, Callable[[dict[str, Any]], bool]] = {}
        self._geo_tokens = itertools.count(1)
        self._lock_file: IO[bytes] | None = None
        self.identities = SQLiteIdentities(self)
        self.audit = SQLiteAudit(self)
        self.iot = SQLiteIot(self)
        self.open311 = SQLiteOpen311(self)
        self.cap_messages = SQLiteCapMessages(self)
        self.subscriptions = SQLiteSubscriptions(self)
        self.history = SQLiteHistory(self)

    # -- lifecycle -------------------------------------------------------------------------
    def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self._lock_file = open(f"{self.path}-writer.lock", "ab")  # noqa: SIM115 (lifetime)
        conn = self._connect()
        migrate(conn)
        self._conn = conn
        self._reader = conn
        if self.path != ":memory:":
            self._reader = self._connect()
            self._reader.execute("PRAGMA query_only=1")
        self._tenants = {row[0] for row in conn.execute("SELECT name FROM tenants")}
        self._name_ids = dict(conn.execute("SELECT name, id FROM attr_names"))

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA cache_size=-65536")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA mmap_size=268435456")
        sqlite_filters.register_functions(conn)
        conn.create_function("geo_match", 2, self._geo_match, deterministic=False)
        return conn

    def close(self) -> None:
        if self._reader is not None and self._reader is not self._conn:
            self._reader.close()
        self._reader = None
        if self._conn is not None:
            self._conn.execute("PRAGMA optimize")
            self._conn.close()
            self._conn = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        for lease in self._leases:
            lease.close()
        self._leases.clear()

    def ping(self) -> None:
        self.conn.execute("SELECT 1")

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("store is not open")
        return self._conn

    @property
    def reader(self) -> sqlite3.Connection:
        if self._reader is None:
            raise RuntimeError("store is not open")
        return self._reader

    # -- tenants ---------------------------------------------------------------------------
    def tenant_exists(self, tenant: str) -> bool:
        if tenant == "" or tenant in self._tenants:
            return True
        # Another worker process may have created it since this one started.
        if self.conn.execute("SELECT 1 FROM tenants WHERE name = ?", (tenant,)).fetchone():
            self._tenants.add(tenant)
            return True
        return False

    def _ensure_tenant(self, tenant: str) -> None:
        if tenant and tenant not in self._tenants:
            self.conn.execute(
                "INSERT OR IGNORE INTO tenants(name, created_at) VALUES (?, ?)", (tenant, _now())
            )

    def name_id(self, name: str) -> int | None:
        """The interned id of an attribute name, None if no entity ever had it."""
        name_id = self._name_ids.get(name)
        if name_id is None:  # another worker process may have interned it
            row = self.conn.execute("SELECT id FROM attr_names WHERE name = ?", (name,)).fetchone()
            if row is not None:
                name_id = self._name_ids[name] = row[0]
        return name_id

    def _intern(self, name: str) -> int:
        name_id = self._name_ids.get(name)
        if name_id is None:
            self.conn.execute("INSERT OR IGNORE INTO attr_names(name) VALUES (?)", (name,))
            name_id = self.conn.execute(
                "SELECT id FROM attr_names WHERE name = ?", (name,)
            ).fetchone()[0]
            self._name_ids[name] = name_id
        return name_id

    # -- writes ----------------------------------------------------------------------------
    @contextmanager
    def transaction(self, tenant: str) -> Iterator[SQLiteTransaction]:
        with self._lock, self._writer_turn():
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._ensure_tenant(tenant)
                tx = SQLiteTransaction(self, tenant)
                yield tx
                tx.flush()
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                self._name_ids = dict(conn.execute("SELECT name, id FROM attr_names"))
                raise
            if tenant:
                self._tenants.add(tenant)

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        """Worker processes queue for the write lock on a lock file: the kernel wakes the next
        writer the moment the previous one commits, where SQLite's busy handler would sleep and
        poll (up to 100 ms a nap), which showed as p95 spikes with two workers."""
        if self._lock_file is None:
            yield
            return
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    # -- reads -----------------------------------------------------------------------------
    def get(self, tenant: str, entity_id: str) -> Document | None:
        row = self.reader.execute(
            "SELECT doc FROM entities WHERE tenant = ? AND id = ?", (tenant, entity_id)
        ).fetchone()
        return orjson.loads(row[0]) if row else None

    def query(self, tenant: str, query: EntityQuery) -> tuple[list[Document], int | None]:
        with self._geo_registered(query.geo) as token:
            where, params = self._where(tenant, query, token)
            total = None
            if query.count:
                total = self.reader.execute(
                    f"SELECT count(*) FROM entities e WHERE {where}", params
                ).fetchone()[0]
            if query.limit == 0:
                return [], total
            order, order_params = self._order(query)
            rows = self.reader.execute(
                f"SELECT e.doc FROM entities e WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
                [*params, *order_params, query.limit, query.offset],
            ).fetchall()
        return [orjson.loads(r[0]) for r in rows], total

    def matching_ids(self, tenant: str, query: EntityQuery) -> list[str]:
        """Every id the query selects, ignoring paging (purge, batch delete by query)."""
        with self._geo_registered(query.geo) as token:
            where, params = self._where(tenant, query, token)
            rows = self.reader.execute(
                f"SELECT e.id FROM entities e WHERE {where} ORDER BY e.pk", params
            ).fetchall()
        return [r[0] for r in rows]

    def types(self, tenant: str) -> list[TypeSummary]:
        summaries: dict[str, TypeSummary] = {}
        rows = self.reader.execute(
            """
            SELECT t.type, count(DISTINCT t.entity_pk)
            FROM entity_types t WHERE t.tenant = ? GROUP BY t.type ORDER BY t.type
            """,
            (tenant,),
        ).fetchall()
        for name, count in rows:
            summaries[name] = TypeSummary(name=name, count=count, attributes={})
        rows = self.reader.execute(
            """
            SELECT t.type, a.key, json_extract(i.value, '$.type')
            FROM entity_types t
            JOIN entities e ON e.pk = t.entity_pk
            JOIN json_each(e.doc) a ON a.type = 'array' AND instr(a.key, ':') > 0
            JOIN json_each(a.value) i
            WHERE t.tenant = ?
            GROUP BY 1, 2, 3
            """,
            (tenant,),
        ).fetchall()
        for type_name, attr, kind in rows:
            summaries[type_name].attributes.setdefault(attr, set()).add(kind)
        return list(summaries.values())

    def attributes(self, tenant: str) -> list[AttributeSummary]:
        kinds = self.reader.execute(
            """
            SELECT a.key, json_extract(i.value, '$.type'), t.type
            FROM entities e
            JOIN json_each(e.doc) a ON a.type = 'array' AND instr(a.key, ':') > 0
            JOIN json_each(a.value) i
            JOIN entity_types t ON t.entity_pk = e.pk
            WHERE e.tenant = ?
            GROUP BY 1, 2, 3
            """,
            (tenant,),
        )
        counts = self.reader.execute(
            """
            SELECT a.key, count(*) FROM entities e
            JOIN json_each(e.doc) a ON a.type = 'array' AND instr(a.key, ':') > 0
            WHERE e.tenant = ? GROUP BY a.key
            """,
            (tenant,),
        )
        return attribute_summaries(kinds, counts)

    # -- @context cache (ContextStore) -----------------------------------------------------
    def load_contexts(self) -> list[dict[str, Any]]:
        return [orjson.loads(r[0]) for r in self.conn.execute("SELECT entry FROM jsonld_contexts")]

    def save_context(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.conn.execute(
                "INSERT OR REPLACE INTO jsonld_contexts(id, entry) VALUES (?, ?)",
                (entry["id"], orjson.dumps(entry).decode()),
            )

    def delete_context(self, context_id: str) -> None:
        with self._lock:
            self.conn.execute("DELETE FROM jsonld_contexts WHERE id = ?", (context_id,))

    def try_lead(self, role: str) -> Callable[[], bool] | None:
        """A lock file per role, held for the life of the process: the kernel frees it when
        the process dies, so a restarted worker can take over."""
        if self.path == ":memory:":
            return lambda: True
        lock = open(f"{self.path}-{role}.lock", "ab")  # noqa: SIM115 (held until close)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            return None
        self._leases.append(lock)
        return lambda: not lock.closed

    # -- change log ------------------------------------------------------------------------
    def changes_after(self, cursor: str | None, limit: int) -> list[StoredChange]:
        return change_log_sqlite.changes_after(self.reader, cursor, limit)

    def latest_change_cursor(self) -> str | None:
        return change_log_sqlite.latest_cursor(self.reader)

    def prune_changes(self, before: str) -> int:
        with self._lock, self._writer_turn():
            return change_log_sqlite.prune(self.conn, before)

    def listen(self, topic: str, callback: Callable[[str], None]) -> None:
        """SQLite has no way to wake other processes; its caches read through on a miss
        instead, and a deletion reaches other local workers when they restart (the embedded
        engine is for one machine; cities scale out on PostgreSQL)."""

    # -- query compilation -----------------------------------------------------------------
    def _where(self, tenant: str, query: EntityQuery, geo_token: int | None) -> tuple[str, list]:
        # `+` keeps the planner off the (tenant, id) index: walking a whole tenant in id order
        # is never the cheap path; the rowid sets below (types, values, R*Tree) are.
        clauses = ["+e.tenant = ?"]
        params: list[Any] = [tenant]
        narrowed = None
        if query.q is not None:
            narrowed = sqlite_values.prefilter(query.q, self.name_id)
        driven = narrowed is not None or (query.geo is not None and query.geo.bbox is not None)
        if query.selectors:
            alternatives = [_selector_clause(tenant, s, driven) for s in query.selectors]
            clauses.append("(" + " OR ".join(sql for sql, _ in alternatives) + ")")
            params.extend(p for _, ps in alternatives for p in ps)
        if narrowed is not None:
            clauses.append(f"e.pk IN ({narrowed.sql})")
            params.extend(narrowed.params)
        if query.attrs:
            clauses.append(
                "(" + " OR ".join("json_type(e.doc, ?) IS NOT NULL" for _ in query.attrs) + ")"
            )
            params.extend("$." + json_label(a) for a in query.attrs)
        if query.q is not None and not (narrowed is not None and self._exact(narrowed)):
            sql, q_params = sqlite_filters.compile_q(query.q)
            clauses.append(sql)
            params.extend(q_params)
        if query.scope_q is not None:
            sql, s_params = sqlite_filters.compile_scope(query.scope_q)
            clauses.append(sql)
            params.extend(s_params)
        if query.geo is not None:
            # The box narrows through the R*Tree; the exact predicate then runs per candidate
            # entity, on its small geometry copies, so a LIMIT stops it early. An entity
            # matches when any instance of the GeoProperty does.
            geo = query.geo
            if geo.bbox is not None:
                min_lon, min_lat, max_lon, max_lat = geo.bbox
                clauses.append(
                    f"e.pk IN (SELECT g.id >> {SLOT_BITS} FROM geo_index g"
                    " WHERE g.max_lon >= ? AND g.min_lon <= ? AND g.max_lat >= ?"
                    " AND g.min_lat <= ?)"
                )
                params.extend([min_lon, max_lon, min_lat, max_lat])
            clauses.append(
                f"EXISTS (SELECT 1 FROM geo_shapes s WHERE s.id BETWEEN e.pk << {SLOT_BITS}"
                f" AND (e.pk << {SLOT_BITS}) | {SLOT_MASK} AND s.attr = ?"
                " AND geo_match(?, s.geometry))"
            )
            params.extend([geo.attribute, geo_token])
        return " AND ".join(clauses), params

    def _exact(self, narrowed: sqlite_values.Prefilter) -> bool:
        """The index alone answers when none of the attributes read has an opaque row."""
        return narrowed.exact and not any(
            self.conn.execute(
                "SELECT 1 FROM attr_values WHERE attr = ? AND opaque = 1 LIMIT 1", (attr,)
            ).fetchone()
            for attr in narrowed.attrs
        )

    def _order(self, query: EntityQuery) -> tuple[str, list]:
        terms: list[str] = []
        params: list[Any] = []
        for key, descending in query.order_by:
            direction = "DESC" if descending else "ASC"
            if key in SYSTEM_ORDER_KEYS:
                terms.append(f"{SYSTEM_ORDER_KEYS[key]} {direction}")
            else:
                terms.append(f"json_extract(e.doc, ?) {direction}")
                params.append("$." + json_label(key) + "[0].value")
        terms.append("e.pk")
        return ", ".join(terms), params

    @contextmanager
    def _geo_registered(self, geo: GeoFilter | None) -> Iterator[int | None]:
        if geo is None:
            yield None
            return
        token = next(self._geo_tokens)
        self._geo_filters[token] = geo.matches
        try:
            yield token
        finally:
            del self._geo_filters[token]

    def _geo_match(self, token: int, geometry: str) -> bool:
        return self._geo_filters[token](orjson.loads(geometry))


def _selector_clause(tenant: str, selector: EntitySelector, driven: bool) -> tuple[str, list]:
    """`driven`: another index already yields few candidates, so types are checked per
    candidate (EXISTS) instead of materialising every entity of the type (IN)."""
    clauses = []
    params: list[Any] = []
    if selector.ids is not None:
        clauses.append(f"e.id IN ({','.join('?' * len(selector.ids))})")
        params.extend(selector.ids)
    if selector.id_pattern is not None:
        clauses.append("regexp(?, e.id)")
        params.append(selector.id_pattern)
    if selector.types is not None:
        sql, type_params = _type_clause(tenant, selector.types, driven)
        clauses.append(sql)
        params.extend(type_params)
    return "(" + (" AND ".join(clauses) or "1") + ")", params


def _type_clause(tenant: str, expr: TypeExpr, driven: bool) -> tuple[str, list]:
    if isinstance(expr, str):
        if driven:
            return (
                "EXISTS (SELECT 1 FROM entity_types t"
                " WHERE t.tenant = ? AND t.type = ? AND t.entity_pk = e.pk)",
                [tenant, expr],
            )
        return (
            "e.pk IN (SELECT entity_pk FROM entity_types WHERE tenant = ? AND type = ?)",
            [tenant, expr],
        )
    op, operands = expr
    if op == "or" and not driven and all(isinstance(o, str) for o in operands):
        marks = ",".join("?" * len(operands))
        return (
            f"e.pk IN (SELECT entity_pk FROM entity_types WHERE tenant = ? AND type IN ({marks}))",
            [tenant, *operands],
        )
    parts = [_type_clause(tenant, o, driven) for o in operands]
    joiner = " AND " if op == "and" else " OR "
    return "(" + joiner.join(p[0] for p in parts) + ")", [x for p in parts for x in p[1]]


STALE_ROWS = {
    "types": ["DELETE FROM entity_types WHERE entity_pk = ?"],
    "values": [f"DELETE FROM attr_values WHERE {ENTITY_ROWS}"],
    # The R*Tree looks ids up one by one; a range on its id would scan the whole tree.
    "geo": [
        f"DELETE FROM geo_index WHERE id IN (SELECT id FROM geo_shapes WHERE {ENTITY_ROWS})",
        f"DELETE FROM geo_shapes WHERE {ENTITY_ROWS}",
    ],
}
"""How to remove one entity's rows from each index."""

GeoShape = tuple[str, str, tuple[float, float, float, float]]
"""(attribute, GeoJSON text, bbox) of one GeoProperty instance."""


def _geo_shapes(doc: Document) -> list[GeoShape]:
    """Every GeoProperty instance of the entity; the R*Tree and geo_shapes hold exactly these."""
    shapes = []
    for name, instances in doc.items():
        if ":" not in name or not isinstance(instances, list):
            continue
        for inst in instances:
            if inst.get("type") in GEO_KINDS and isinstance(inst.get("value"), dict):
                box = bbox_of(inst["value"])
                if box is not None:
                    shapes.append((name, orjson.dumps(inst["value"]).decode(), box))
    return shapes


class SQLiteTransaction:
    """The writes of one `SQLiteStore.transaction()`; only valid inside its `with` block.

    Inserts and deletes run at once (their ids must be checked). Document updates and index
    rows are collected and written with one `executemany` per statement when the transaction
    commits, which halves the cost of a batch; reads inside the transaction see the collected
    documents, and nothing reads the indexes before the commit. An update rewrites only the
    index rows that changed: types and geometry when they differ (re-inserting R*Tree entries
    is costly), and of the value index only the rows at positions whose values differ."""

    def __init__(self, store: SQLiteStore, tenant: str) -> None:
        self.store = store
        self.conn = store.conn
        self.tenant = tenant
        self._stale: dict[str, set[int]] = {kind: set() for kind in STALE_ROWS}
        """Per index: entities whose rows in the database must go."""
        self._pending: dict[str, dict[int, list]] = {kind: {} for kind in INDEXES}
        """Per index: entity pk -> the rows to write (the latest document's)."""
        self._values: dict[int, tuple[Document | None, Document]] = {}
        """Entity pk -> (the document whose value rows the database holds, None for none;
        the latest document)."""
        self._pks: dict[str, int] = {}
        """Entity id -> pk, for the entities this transaction has read or written."""
        self._updates: dict[int, Document] = {}
        """Entity pk -> the latest document, for the entities whose UPDATE is written at
        commit."""
        self._json: dict[str, tuple[Document, bytes]] = {}
        """Entity id -> the document last written and its JSON, which the change log embeds
        instead of serialising the document a second time."""
        self._instances: list[InstanceRow] = []
        self._changes: list[ChangeRow] = []

    def get(self, entity_id: str) -> Document | None:
        return self.get_many([entity_id]).get(entity_id)

    def get_many(self, entity_ids: list[str]) -> dict[str, Document]:
        """The stored documents (as this transaction left them); their pks are remembered so
        updates need no second lookup."""
        found: dict[str, Document] = {}
        unknown = []
        for entity_id in entity_ids:
            pk = self._pks.get(entity_id)
            pending = None if pk is None else self._updates.get(pk)
            if pending is not None:
                found[entity_id] = pending
            else:
                unknown.append(entity_id)
        for start in range(0, len(unknown), 500):
            chunk = unknown[start : start + 500]
            rows = self.conn.execute(
                "SELECT pk, id, doc FROM entities WHERE tenant = ? AND id IN"
                f" ({','.join('?' * len(chunk))})",
                [self.tenant, *chunk],
            )
            for pk, entity_id, doc in rows:
                self._pks[entity_id] = pk
                found[entity_id] = orjson.loads(doc)
        return found

    def insert(self, doc: Document) -> bool:
        raw = orjson.dumps(doc)
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO entities(tenant, id, doc, created_at, modified_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (self.tenant, doc["id"], raw.decode(), doc["createdAt"], doc["modifiedAt"]),
        )
        if cur.rowcount == 0:
            return False
        pk = cur.lastrowid
        self._pks[doc["id"]] = pk
        self._json[doc["id"]] = (doc, raw)
        for kind, (_, rows) in INDEXES.items():
            self._pending[kind][pk] = rows(doc)
        self._values[pk] = (None, doc)
        return True

    def update(self, doc: Document, previous: Document | None = None) -> None:
        entity_id = doc["id"]
        pk = self._pks.get(entity_id)
        if pk is None or previous is None:
            previous = self.get(entity_id)
            if previous is None:
                raise KeyError(entity_id)
            pk = self._pks[entity_id]
        self._updates[pk] = doc
        for kind, (changed, rows) in INDEXES.items():
            if pk in self._pending[kind] or changed(previous, doc):
                self._stale[kind].add(pk)
                self._pending[kind][pk] = rows(doc)
        self._values[pk] = (self._values[pk][0] if pk in self._values else previous, doc)

    def delete(self, entity_id: str) -> bool:
        row = self.conn.execute(
            "SELECT pk FROM entities WHERE tenant = ? AND id = ?", (self.tenant, entity_id)
        ).fetchone()
        if row is None:
            return False
        pk = row[0]
        self._pks.pop(entity_id, None)
        self._json.pop(entity_id, None)
        self._updates.pop(pk, None)
        self.conn.execute("DELETE FROM entities WHERE pk = ?", (pk,))
        for kind in STALE_ROWS:
            self._stale[kind].add(pk)
        for pending in self._pending.values():
            pending.pop(pk, None)
        self._values.pop(pk, None)
        return True

    def record(self, instances: list[InstanceRow], changes: list[ChangeRow]) -> None:
        self._instances.extend(instances)
        self._changes.extend(changes)

    def _value_rows(self, doc: Document) -> list[sqlite_values.Row]:
        """The value-index rows of a document, numbered (by position) in document order."""
        return self._attribute_rows(doc, {})

    def _attribute_rows(
        self, doc: Document, spans: dict[str, tuple[list, int, int]],
        known: list[sqlite_values.Row] | None = None,
        known_spans: dict[str, tuple[list, int, int]] | None = None,
    ) -> list[sqlite_values.Row]:
        """The document's value-index rows; `spans` receives each attribute's instance list
        and the slice of the rows it yields. The rows of an attribute whose list is the one
        `known_spans` names are copied from `known` instead of built again."""
        rows: list[sqlite_values.Row] = []
        name_ids = self.store._name_ids
        instance_rows = sqlite_values.instance_rows
        for name, instances in doc.items():
            if ":" not in name or instances.__class__ is not list:
                continue
            start = len(rows)
            span = known_spans.get(name) if known_spans is not None else None
            if span is not None and span[0] is instances:
                assert known is not None
                rows += known[span[1] : span[2]]
            else:
                name_id = name_ids.get(name)
                if name_id is None:
                    name_id = self.store._intern(name)
                for instance in instances:
                    rows += instance_rows(name_id, instance)
            spans[name] = (instances, start, len(rows))
        return rows

    def _value_writes(self) -> tuple[dict[str, list[tuple]], list[tuple[int, int]]]:
        """The value-index rows to (re)write, by shape, and the id ranges to delete.

        Rows are numbered in document order, so each new row is compared with the row the
        database holds at its position (the rows of the document it was written from); only
        differing rows are written, over the old ones. An attribute an update left shared
        with the old document has the same rows, which are not built twice."""
        writes: dict[str, list[tuple]] = {shape: [] for shape in VALUE_SHAPES}
        nums, txts, nones = writes["num"], writes["txt"], writes["none"]
        set_nums, set_txts = writes["set num"], writes["set txt"]
        cuts: list[tuple[int, int]] = []
        for pk, (base, doc) in self._values.items():
            spans: dict[str, tuple[list, int, int]] = {}
            new = self._attribute_rows(doc, spans)
            old = [] if base is None else self._attribute_rows(base, {}, new, spans)
            first = pk << SLOT_BITS
            kept = len(old)
            for n, row in enumerate(new):
                if n < kept:
                    was = old[n]
                    if was == row:
                        continue
                    if was[0] == row[0] and was[3:] == row[3:]:
                        # The same attribute's number or text changed, as a measure does:
                        # an UPDATE of that column touches only its index.
                        if row[1] is not None and was[1] is not None:
                            set_nums.append((row[1], first | n))
                            continue
                        if row[2] is not None and was[2] is not None:
                            set_txts.append((row[2], first | n))
                            continue
                attr, num, txt, opaque, ref = row
                if num is not None:
                    nums.append((first | n, pk, attr, num, opaque, ref))
                elif txt is not None:
                    txts.append((first | n, pk, attr, txt, opaque, ref))
                else:
                    nones.append((first | n, pk, attr, opaque, ref))
            if len(new) < kept:
                cuts.append((first | len(new), first | SLOT_MASK))
        return writes, cuts

    def flush(self) -> None:
        """Write the collected documents and index rows; called once, just before COMMIT."""
        updates = []
        for pk, doc in self._updates.items():
            raw = orjson.dumps(doc)
            self._json[doc["id"]] = (doc, raw)
            updates.append((raw.decode(), doc["modifiedAt"], pk))
        self.conn.executemany(
            "UPDATE entities SET doc = ?, modified_at = ? WHERE pk = ?", updates
        )
        for kind, statements in STALE_ROWS.items():
            for statement in statements if self._stale[kind] else ():
                self.conn.executemany(
                    statement, [(pk,) * statement.count("?") for pk in self._stale[kind]]
                )
        pending = self._pending
        self.conn.executemany(
            "INSERT OR IGNORE INTO entity_types(tenant, type, entity_pk) VALUES (?, ?, ?)",
            [(self.tenant, t, pk) for pk, types in pending["types"].items() for t in types],
        )
        values, cuts = self._value_writes()
        if cuts:
            self.conn.executemany("DELETE FROM attr_values WHERE id BETWEEN ? AND ?", cuts)
        for shape, statement in VALUE_SHAPES.items():
            if values[shape]:
                self.conn.executemany(statement, values[shape])
        shapes = [
            ((pk << SLOT_BITS) | slot, pk, attr, geometry, box)
            for pk, entity_shapes in pending["geo"].items()
            for slot, (attr, geometry, box) in enumerate(entity_shapes)
        ]
        self.conn.executemany(
            "INSERT INTO geo_shapes(id, entity_pk, attr, geometry) VALUES (?, ?, ?, ?)",
            [shape[:4] for shape in shapes],
        )
        self.conn.executemany(
            "INSERT INTO geo_index(id, min_lon, max_lon, min_lat, max_lat) VALUES (?, ?, ?, ?, ?)",
            [(shape_id, b[0], b[2], b[1], b[3]) for shape_id, _, _, _, b in shapes],
        )
        change_log_sqlite.record(
            self.conn, self.tenant, self._instances, [self._embedded(c) for c in self._changes],
            _now(),
        )

    def _embedded(self, change: ChangeRow) -> ChangeRow:
        """The change row with the JSON of the document this transaction wrote in place of
        the document, when the change carries that very document."""
        written = self._json.get(change.entity_id)
        if written is None or change.payload.get("entity") is not written[0]:
            return change
        return change._replace(payload={**change.payload, "entity": orjson.Fragment(written[1])})


VALUE_SHAPES = {
    "num": "INSERT OR REPLACE INTO attr_values(id, entity_pk, attr, num, opaque, ref)"
           " VALUES (?, ?, ?, ?, ?, ?)",
    "txt": "INSERT OR REPLACE INTO attr_values(id, entity_pk, attr, txt, opaque, ref)"
           " VALUES (?, ?, ?, ?, ?, ?)",
    "none": "INSERT OR REPLACE INTO attr_values(id, entity_pk, attr, opaque, ref)"
            " VALUES (?, ?, ?, ?, ?)",
    "set num": "UPDATE attr_values SET num = ? WHERE id = ?",
    "set txt": "UPDATE attr_values SET txt = ? WHERE id = ?",
}
"""Value-index writes by which of num and txt the row holds: the other is left out rather than
bound as None, which Python's sqlite3 sends through its adapter lookup (~3,000 instructions a
value). A row that only changes its number or text is updated in place (a quarter cheaper than
replacing it, and only that column's index is touched)."""


IndexChanged = Callable[[Document, Document], bool]
IndexRows = Callable[[Document], list]
INDEXES: dict[str, tuple[IndexChanged, IndexRows]] = {
    "types": (lambda old, new: old["type"] != new["type"], lambda doc: list(doc["type"])),
    "geo": (geo_changed, _geo_shapes),
}
"""Per index rewritten whole when it changes: whether an update changes its rows (asked before
rebuilding them), and how to build the rows. The value index is diffed instead
(`SQLiteTransaction._value_writes`)."""
