"""The storage interface every engine implements, and the query model engines execute.

The context layer speaks only to this interface. It hands the store fully expanded names and
parsed filters; the store decides how to run them (SQL, indexes, prefilters). A second engine
(PostgreSQL) implements the same `Store` protocol without any change above it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import orjson

if TYPE_CHECKING:
    from madina.store.audit import AuditSQL
    from madina.store.cap_messages import CapMessageSQL
    from madina.store.history import HistoryStore
    from madina.store.identities import IdentityStore
    from madina.store.iot import IotStore
    from madina.store.open311_tables import Open311Tables
    from madina.store.subscriptions import SubscriptionStore

Document = dict[str, Any]
"""A stored entity: see docs/internals.md."""

TypeExpr = str | tuple[str, tuple["TypeExpr", ...]]
"""An expanded type name, or ("and" | "or", operands) from an NGSI-LD type expression."""


@dataclass(frozen=True)
class GeoFilter:
    """A geo-query the store can run: a cheap box prefilter, then the exact predicate.

    Engines with a spatial database (PostGIS) run the relation itself from `georel`,
    `geometry` and the distances; the embedded engine calls `matches`."""

    attribute: str
    """Expanded name of the GeoProperty to test."""
    bbox: tuple[float, float, float, float] | None
    """(min lon, min lat, max lon, max lat) every match must intersect; None when no box helps."""
    matches: Callable[[dict[str, Any]], bool]
    """Exact predicate on one GeoJSON value."""
    georel: str
    """near, within, contains, intersects, equals, disjoint or overlaps (clause 4.10)."""
    geometry: dict[str, Any]
    """The query geometry (GeoJSON, WGS84)."""
    max_distance: float | None = None
    """near: metres (geodesic)."""
    min_distance: float | None = None


@dataclass(frozen=True)
class EntitySelector:
    """One EntitySelector (clause 5.2.33): its members must all match."""

    ids: list[str] | None = None
    id_pattern: str | None = None
    types: TypeExpr | None = None


@dataclass
class EntityQuery:
    """What to select; `None` members do not restrict."""

    selectors: list[EntitySelector] = field(default_factory=list)
    """An entity matches when any selector matches; no selector means no restriction."""
    attrs: list[str] | None = None
    """Entities having at least one of these (expanded) attributes."""
    q: Any = None
    """A resolved `q` syntax tree (madina.store.filters nodes)."""
    scope_q: Any = None
    geo: GeoFilter | None = None
    order_by: list[tuple[str, bool]] = field(default_factory=list)
    """(expanded attribute or "id"/"type"/…, descending) pairs, applied before the default order."""
    limit: int = 20
    offset: int = 0
    count: bool = False


@dataclass
class AttributeSummary:
    """Discovery data for one attribute name (expanded)."""

    name: str
    attribute_types: set[str]
    type_names: set[str]
    count: int


def attribute_summaries(
    kinds: Iterable[tuple[str, str, str]], counts: Iterable[tuple[str, int]]
) -> list[AttributeSummary]:
    """Discovery data from an engine's two answers: (attribute, kind, entity type) triples and
    (attribute, number of entities) pairs; sorted by name."""
    out: dict[str, AttributeSummary] = {}
    for name, kind, type_name in kinds:
        summary = out.setdefault(name, AttributeSummary(name, set(), set(), 0))
        summary.attribute_types.add(kind)
        summary.type_names.add(type_name)
    for name, count in counts:
        out[name].count = count
    return [out[name] for name in sorted(out)]


@dataclass
class TypeSummary:
    """Discovery data for one entity type (expanded)."""

    name: str
    count: int
    attributes: dict[str, set[str]]
    """Expanded attribute name -> attribute kinds seen (Property, Relationship, …)."""


class StoreUnavailable(RuntimeError):
    """The database cannot be reached now; the request may be retried (HTTP 503)."""


class WriteConflict(RuntimeError):
    """A concurrent transaction wrote what this one needed to write first (HTTP 409)."""


class InstanceRow(NamedTuple):
    """One attribute instance of the history (clause 4.5.6 temporal representation), written in
    the same transaction as the change it records. A named tuple: every write makes a few per
    entity, and a frozen dataclass costs several times more to build."""

    entity_id: str
    entity_type: str
    """The entity's first type (expanded): retention rules are per type."""
    attr: str
    dataset_id: str
    """"" for the default instance."""
    instance: dict[str, Any] | None
    """The instance as stored in the entity document; None when it was deleted."""
    observed_at: str
    """Canonical UTC timestamp (`observedAt`, else `modifiedAt`; the deletion time for a
    deletion): string order is time order."""


class ChangeRow(NamedTuple):
    """One entity's change, appended to the change log in the same transaction as the change
    (transactional outbox): consumers (notifications, domain services, live streams) read it
    at least once, in commit order, from a cursor of their own. A named tuple, one per entity
    written, as cheap to build as InstanceRow."""

    entity_id: str
    kind: str
    """created, updated or deleted."""
    at: str
    """Canonical UTC timestamp of the change."""
    payload: dict[str, Any]
    """madina.events.changes.Change fields: types, the entity after the change, the changed
    attributes and their previous instances."""
    types: list[str] | None = None
    """The entity's types, kept beside the payload too: consumers choose by type, and most
    changes concern no consumer, so they are read without decoding the payload."""


@dataclass(frozen=True)
class StoredChange:
    """A committed ChangeRow as a consumer reads it back: the payload still as the JSON text
    it was stored as, decoded only when `row` is first read."""

    cursor: str
    """Opaque position after this change: give it to `changes_after` to read on."""
    tenant: str
    entity_id: str
    kind: str
    at: str
    types: list[str] | None
    """None for changes logged before the types were kept apart (schema 13 on SQLite, 15 on
    PostgreSQL): they are in the payload."""
    raw: str | bytes

    @cached_property
    def row(self) -> ChangeRow:
        return ChangeRow(self.entity_id, self.kind, self.at, orjson.loads(self.raw), self.types)


class Transaction(Protocol):
    """Writes inside one atomic unit; nothing is visible or durable before the unit commits."""

    def get(self, entity_id: str) -> Document | None: ...
    def get_many(self, entity_ids: list[str]) -> dict[str, Document]: ...
    def insert(self, doc: Document) -> bool:
        """False when an entity with that id already exists (nothing written)."""
    def update(self, doc: Document, previous: Document | None = None) -> None:
        """Replace the stored document; `previous` (if the caller has it) saves a read."""
    def delete(self, entity_id: str) -> bool: ...
    def record(self, instances: list[InstanceRow], changes: list[ChangeRow]) -> None:
        """Append history instances and change-log rows; written with the transaction's
        other rows, so they commit or vanish with the change they describe."""


class Store(Protocol):
    """One storage engine: entities per tenant, plus the broker's own small tables."""

    identities: IdentityStore
    """Users, API keys, tokens and login throttling (madina.auth)."""
    audit: AuditSQL
    """The audit log's table (madina.auth.audit)."""
    iot: IotStore
    """The IoT gateway's service groups, devices and queued commands (madina.iot)."""
    open311: Open311Tables
    """Open311's catalogue, app keys, requests, reporters and status history
    (madina.services.open311)."""
    cap_messages: CapMessageSQL
    """The CAP messages each tenant published (madina.api.alerts serves them)."""
    subscriptions: SubscriptionStore
    """NGSI-LD subscriptions, their notification outbox and the notifier's cursor
    (madina.events.notifier)."""
    history: HistoryStore
    """Attribute history reads, instance edits and retention (madina.context.temporal)."""
    runs_on_loop: bool
    """True when calls are so short that the event loop thread makes them (embedded SQLite);
    False when they wait on a network server and belong on a worker thread (PostgreSQL)."""

    def open(self) -> None: ...
    def close(self) -> None: ...
    def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers now (health checks)."""

    def tenant_exists(self, tenant: str) -> bool: ...
    def transaction(self, tenant: str) -> AbstractContextManager[Transaction]:
        """Creates the tenant on first write; commits on success, rolls back on error."""

    def get(self, tenant: str, entity_id: str) -> Document | None: ...
    def query(self, tenant: str, query: EntityQuery) -> tuple[list[Document], int | None]: ...
    def matching_ids(self, tenant: str, query: EntityQuery) -> list[str]:
        """Every id the query selects, ignoring paging."""
    def types(self, tenant: str) -> list[TypeSummary]: ...
    def attributes(self, tenant: str) -> list[AttributeSummary]: ...

    # JSON-LD context cache persistence (madina.context.jsonld.ContextStore)
    def load_contexts(self) -> list[dict[str, Any]]: ...
    def save_context(self, entry: dict[str, Any]) -> None: ...
    def delete_context(self, context_id: str) -> None: ...

    # Change log (madina.events)
    def changes_after(self, cursor: str | None, limit: int) -> list[StoredChange]:
        """Committed changes after `cursor` (None: from the oldest kept), in commit order.
        A change committed later never appears before one already returned, so a consumer that
        remembers the last cursor it handled misses nothing."""
    def latest_change_cursor(self) -> str | None:
        """The cursor after the newest committed change (None: the log is empty)."""
    def prune_changes(self, before: str) -> int:
        """Delete changes older than the canonical timestamp `before`; returns how many."""

    def try_lead(self, role: str) -> Callable[[], bool] | None:
        """Become the one process of all sharing the database that plays `role` (e.g. running
        the domain services), or None when another process does. The function returned tells
        whether the lead is still held (False once lost, e.g. with the database connection);
        the lead ends with the process or `close()`."""

    def listen(self, topic: str, callback: Callable[[str], None]) -> None:
        """Call `callback(key)` whenever any worker process sharing the database announces a
        change of `topic` (e.g. "jsonld_contexts", with the context id), so per-process caches
        stay coherent. Callbacks run on a background thread."""
