"""The temporal API (clauses 5.6.11–5.6.16, 5.7.3, 5.7.4): an entity's attribute history read
back, aggregated or paged, and written to directly.

Reads select entities the way /entities does (current entities; a deleted one is found by id
alone, from its history), then ask the store for each attribute's rows. Every attribute gets at
most `max_instances` instances (or periods) per answer; more, and the answer is cut to a common
time range and named in `Content-Range` for the client to ask for the next part (clause 6.3.10).

Writes keep one rule: an entity's current state shows, per attribute and datasetId, its most
recent observation. Creating a temporal entity creates the entity (as Stellio and Orion-LD do)
with the newest instance of each attribute; instances older than what the entity holds go to
the history alone, newer ones update it (and notify like any update). Deleting a temporal
entity or attribute deletes the history and the current entity or attribute with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from madina.context.broker import Broker, now_iso
from madina.context.entity_model import (
    CONTENT_MEMBER,
    ENTITY_MEMBERS,
    RESERVED_ATTRIBUTE_NAMES,
    TermMap,
    bad,
    check_name,
    check_scope,
    display_datetime,
    is_uri,
)
from madina.context.entity_parse import is_null, parse_attribute, parse_types
from madina.context.errors import BadRequestData, ResourceNotFound
from madina.context.query import check_uri
from madina.context.temporal_query import TemporalQuery, period_boundaries
from madina.context.temporal_render import render_buckets, render_rows, temporal_entity
from madina.store.base import Document, EntityQuery, InstanceRow
from madina.store.filters import PatternError, UnqueryableName
from madina.store.history import CONTENT_MEMBERS, HistoryStore, Series, row_id_of

T = TypeVar("T")
Instances = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class TemporalRequest:
    """Everything a read needs besides the entities: the temporal query and how to render."""

    query: TemporalQuery
    terms: TermMap
    form: str = "normalized"
    sys_attrs: bool = False
    lang: str | None = None
    attrs: frozenset[str] | None = None
    """Expanded names of the attributes to return; None: all."""
    dataset_ids: frozenset[str] | None = None
    """"" names the default instance."""
    pick: set[str] | None = None
    omit: set[str] | None = None


@dataclass(frozen=True)
class ContentRange:
    """The part of the requested time range an answer covers (clause 6.3.10): forwards from
    `first` to `last`, or backwards (lastN) from `first` down to `last`."""

    first: str
    last: str
    size: int | None = None
    """lastN when paging backwards; None (`*`) forwards."""

    def header(self) -> str:
        size = "*" if self.size is None else str(self.size)
        return f"date-time {display_datetime(self.first)}-{display_datetime(self.last)}/{size}"


@dataclass
class _Entity:
    entity_id: str
    types: list[str]
    doc: Document | None
    series: list[Series] = field(default_factory=list)


class Temporal:
    """Temporal reads and writes for every tenant of the broker's store."""

    def __init__(self, broker: Broker, max_instances: int) -> None:
        self.broker = broker
        self.history: HistoryStore = broker.store.history
        self.max_instances = max_instances

    # -- reads -----------------------------------------------------------------------------
    def retrieve(
        self, tenant: str, entity_id: str, request: TemporalRequest
    ) -> tuple[dict[str, Any], ContentRange | None]:
        """GET /temporal/entities/{id}: the entity, or a deleted one's history."""
        self.broker.check_tenant(tenant)
        check_uri(entity_id, "entity id")
        doc = self.broker.store.get(tenant, entity_id)
        if doc is not None:
            entity = _Entity(entity_id, list(doc["type"]), doc)
        else:
            recorded_type = self.history.entity_type(tenant, entity_id)
            if recorded_type is None:
                raise ResourceNotFound(f"entity {entity_id} not found")
            entity = _Entity(entity_id, [recorded_type], None)
        rendered, content_range = self._render(tenant, [entity], request)
        return rendered[0], content_range

    def query(
        self, tenant: str, query: EntityQuery, request: TemporalRequest
    ) -> tuple[list[dict[str, Any]], int | None, ContentRange | None]:
        """GET /temporal/entities and POST /temporal/entityOperations/query: the page of
        current entities the query selects, each with its history."""
        self.broker.check_tenant(tenant)
        try:
            docs, total = self.broker.store.query(tenant, query)
        except (UnqueryableName, PatternError) as exc:
            raise BadRequestData(str(exc)) from None
        entities = [_Entity(doc["id"], list(doc["type"]), doc) for doc in docs]
        rendered, content_range = self._render(tenant, entities, request)
        return rendered, total, content_range

    def _render(
        self, tenant: str, entities: list[_Entity], request: TemporalRequest
    ) -> tuple[list[dict[str, Any]], ContentRange | None]:
        for entity in entities:
            names = (
                sorted(request.attrs) if request.attrs is not None
                else self.history.attributes(tenant, entity.entity_id)
            )
            entity.series = [(entity.entity_id, name) for name in names]
        series = [key for entity in entities for key in entity.series]
        query = request.query
        window = query.window(request.dataset_ids)
        limit, newest_first, pageable = self._limits(query)
        fetch = limit + 1 if pageable else limit
        rendered: dict[Series, Any] = {}
        if query.aggr_methods is not None:
            boundaries, last_edge = self._periods(tenant, series, request)
            buckets = (
                self.history.aggregate(tenant, series, window, boundaries, query.aggr_methods,
                                       fetch, newest_first)
                if boundaries else {key: [] for key in series}
            )
            kept, content_range = _page(buckets, lambda b: boundaries[b.index], limit, pageable,
                                        newest_first, query)
            for key, items in kept.items():
                if items or key in _truncated_or_trimmed(buckets, kept):
                    rendered[key] = render_buckets(items, boundaries, query.aggr_methods,
                                                   last_edge) if items else []
        else:
            rows = self.history.instances(tenant, series, window, fetch, newest_first)
            kept, content_range = _page(rows, lambda r: r.at, limit, pageable, newest_first,
                                        query)
            for key, items in kept.items():
                if items or key in _truncated_or_trimmed(rows, kept):
                    rendered[key] = render_rows(
                        items, request.terms, form=request.form,
                        timeproperty=query.timeproperty, sys_attrs=request.sys_attrs,
                        lang=request.lang,
                    )
        out = []
        for entity in entities:
            attributes = {key[1]: rendered[key] for key in entity.series if key in rendered}
            out.append(temporal_entity(
                entity.entity_id, entity.types, attributes, request.terms, doc=entity.doc,
                sys_attrs=request.sys_attrs, pick=request.pick, omit=request.omit,
            ))
        return out, content_range

    def _limits(self, query: TemporalQuery) -> tuple[int, bool, bool]:
        """(instances per attribute, newest first, whether more may exist than are sent).
        lastN within the limit is a complete answer; beyond it, paging goes backwards."""
        if query.last_n is not None:
            if query.last_n <= self.max_instances:
                return query.last_n, True, False
            return self.max_instances, True, True
        return self.max_instances, False, True

    def _periods(
        self, tenant: str, series: list[Series], request: TemporalRequest
    ) -> tuple[list[str], str | None]:
        """The period edges, from timeAt (else the oldest instance) to endTimeAt or the
        before-timeAt (else the newest instance); and, for one period spanning the whole range
        up to the newest instance, where that period ends."""
        query = request.query
        window = query.window(request.dataset_ids)
        origin, end = window.start, window.end
        if origin is None or end is None:
            oldest, newest = self.history.bounds(tenant, series, window)
            if oldest is None or newest is None:
                return [], None
            origin = origin or oldest
            if end is None:
                edges = period_boundaries(query.aggr_period, origin, newest, last_included=True)
                return edges, newest if query.aggr_period.zero else None
        return period_boundaries(query.aggr_period, origin, end, last_included=False), None

    # -- writes ----------------------------------------------------------------------------
    def upsert(self, tenant: str, body: Any, terms: TermMap) -> bool:
        """POST /temporal/entities; True when the entity was created."""
        now = now_iso()
        entity_id, types, scope, instances = parse_temporal_entity(body, terms, now)
        with self.broker.transaction(tenant) as tx:
            doc = tx.get(entity_id)
            if doc is None:
                current, older = _split_newest(instances)
                new: Document = {"id": entity_id, "type": types}
                if scope is not None:
                    new["scope"] = scope
                new.update({"createdAt": now, "modifiedAt": now, **current})
                tx.insert(new)
                tx.record(_rows(entity_id, types[0], older), [])
                return True
            self._merge(tx, doc, instances, now, types)
            return False

    def append(self, tenant: str, entity_id: str, body: Any, terms: TermMap) -> None:
        """POST /temporal/entities/{id}/attrs: to an entity, or to a deleted one's history."""
        check_uri(entity_id, "entity id")
        if not isinstance(body, dict):
            raise BadRequestData("the request body must be a JSON object")
        if "id" in body and body["id"] != entity_id:
            raise BadRequestData("the id in the body differs from the id in the path")
        self.broker.check_tenant(tenant)
        now = now_iso()
        instances = parse_temporal_attributes(body, terms, now, f"entity {entity_id}")
        recorded_type = self.history.entity_type(tenant, entity_id)
        with self.broker.transaction(tenant) as tx:
            doc = tx.get(entity_id)
            if doc is not None:
                self._merge(tx, doc, instances, now)
            elif recorded_type is not None:
                tx.record(_rows(entity_id, recorded_type, instances), [])
            else:
                raise ResourceNotFound(f"entity {entity_id} not found")

    @staticmethod
    def _merge(
        tx: Any, doc: Document, instances: Instances, now: str, types: list[str] | None = None
    ) -> None:
        """Newer observations update the entity; the others go to its history alone."""
        new = dict(doc)
        history: Instances = {}
        for name, given in instances.items():
            held = list(new.get(name, []))
            for dataset, group in _by_dataset(given).items():
                newest = group[-1]
                index = next((i for i, inst in enumerate(held)
                              if inst.get("datasetId", "") == dataset), None)
                current = held[index] if index is not None else None
                if current is None or newest["observedAt"] > _observed(current):
                    if current is not None:
                        newest = {**newest, "createdAt": current.get("createdAt", now)}
                    if index is None:
                        held.append(newest)
                    else:
                        held[index] = newest
                    group = group[:-1]
                history.setdefault(name, []).extend(group)
            if held != doc.get(name):
                new[name] = held
        extra = [t for t in types or () if t not in new["type"]]
        if extra:
            new["type"] = [*new["type"], *extra]
        if new != doc:
            new["modifiedAt"] = now
            tx.update(new, doc)
        tx.record(_rows(doc["id"], new["type"][0], history), [])

    def delete_entity(self, tenant: str, entity_id: str) -> None:
        """DELETE /temporal/entities/{id}: the history and the entity, in one transaction."""
        check_uri(entity_id, "entity id")
        self.broker.check_tenant(tenant)
        with self.broker.transaction(tenant) as tx:
            existed = tx.delete(entity_id)
            tx.skip_history(entity_id)
            removed = self.history.delete_rows(tx.tx, entity_id)
            if not existed and not removed:
                raise ResourceNotFound(f"entity {entity_id} not found")

    def delete_attribute(
        self, tenant: str, entity_id: str, attr: str, terms: TermMap, dataset_id: str | None,
        delete_all: bool,
    ) -> None:
        """DELETE /temporal/entities/{id}/attrs/{attr}: the default instance's history (or one
        datasetId's, or with deleteAll every instance's), and the instance from the entity."""
        check_uri(entity_id, "entity id")
        if dataset_id is not None:
            check_uri(dataset_id, "datasetId")
        self.broker.check_tenant(tenant)
        name = terms.expand(attr)
        datasets = None if delete_all else frozenset({dataset_id or ""})
        with self.broker.transaction(tenant) as tx:
            doc = tx.get(entity_id)
            changed = False
            if doc is not None and name in doc:
                kept = [i for i in doc[name]
                        if datasets is not None and i.get("datasetId", "") not in datasets]
                if len(kept) != len(doc[name]):
                    new = {k: v for k, v in doc.items() if k != name}
                    if kept:
                        new[name] = kept
                    new["modifiedAt"] = now_iso()
                    tx.update(new, doc)
                    changed = True
            tx.skip_history(entity_id, {name})
            removed = self.history.delete_rows(tx.tx, entity_id, name, datasets)
            if not changed and not removed:
                raise ResourceNotFound(f"entity {entity_id} has no attribute {attr} to delete")

    def modify_instance(
        self, tenant: str, entity_id: str, attr: str, instance_uri: str, body: Any,
        terms: TermMap,
    ) -> None:
        """PATCH .../attrs/{attr}/{instanceId}: the instance's members given replace its own
        (clause 5.6.14); it stays where it is in the history unless observedAt changes."""
        series, row_id = self._instance_key(tenant, entity_id, attr, instance_uri, terms)
        row = self.history.instance(tenant, series, row_id)
        if row is None:
            raise ResourceNotFound(f"no instance {instance_uri} of {attr} of {entity_id}")
        if row.instance is None:
            raise BadRequestData(f"instance {instance_uri} records a deletion; it cannot change")
        if isinstance(body, dict) and set(body) == {attr} and isinstance(body[attr], dict):
            body = body[attr]
        if not isinstance(body, dict):
            raise BadRequestData("the request body must be an attribute instance object")
        now = now_iso()
        (fragment,) = parse_attribute(attr, body, terms, now, partial=True)
        if any(is_null(fragment[member]) for member in CONTENT_MEMBERS if member in fragment):
            raise BadRequestData("urn:ngsi-ld:null is no instance content; DELETE the instance")
        if fragment.get("datasetId", row.dataset_id or None) != (row.dataset_id or None):
            raise BadRequestData("an instance's datasetId cannot change")
        new = dict(row.instance)
        if any(member in fragment for member in CONTENT_MEMBERS):
            for member in CONTENT_MEMBERS:
                new.pop(member, None)
        new.update((k, v) for k, v in fragment.items() if k != "createdAt")
        member = CONTENT_MEMBER[new["type"]]
        if member not in new:
            raise BadRequestData(f"a {new['type']} instance needs '{member}'")
        new["modifiedAt"] = now
        observed = new.get("observedAt", row.at)
        if not self.history.replace_instance(tenant, series, row_id, new, observed):
            raise ResourceNotFound(f"no instance {instance_uri} of {attr} of {entity_id}")

    def delete_instance(
        self, tenant: str, entity_id: str, attr: str, instance_uri: str, terms: TermMap
    ) -> None:
        series, row_id = self._instance_key(tenant, entity_id, attr, instance_uri, terms)
        if not self.history.delete_instance(tenant, series, row_id):
            raise ResourceNotFound(f"no instance {instance_uri} of {attr} of {entity_id}")

    def _instance_key(
        self, tenant: str, entity_id: str, attr: str, instance_uri: str, terms: TermMap
    ) -> tuple[Series, int]:
        check_uri(entity_id, "entity id")
        check_uri(instance_uri, "instanceId")
        self.broker.check_tenant(tenant)
        row_id = row_id_of(instance_uri)
        if row_id is None:
            raise ResourceNotFound(f"no instance {instance_uri} of {attr} of {entity_id}")
        return (entity_id, terms.expand(attr)), row_id


# -- parsing ---------------------------------------------------------------------------------
def parse_temporal_entity(
    body: Any, terms: TermMap, now: str
) -> tuple[str, list[str], list[str] | None, Instances]:
    """A temporal representation to create or add to (clause 5.6.11): id, types, scope, and
    per attribute its instances, each with the observedAt that places it in time."""
    if not isinstance(body, dict):
        raise bad("entity", "must be a JSON object")
    entity_id = body.get("id")
    if not is_uri(entity_id):
        raise bad("entity", f"id {entity_id!r} is not a URI naming an entity")
    where = f"entity {entity_id}"
    types = parse_types(body.get("type"), terms, where)
    scope = check_scope(body["scope"], where) if "scope" in body else None
    return entity_id, types, scope, parse_temporal_attributes(body, terms, now, where)


def parse_temporal_attributes(body: dict[str, Any], terms: TermMap, now: str,
                              where: str) -> Instances:
    out: Instances = {}
    for name, value in body.items():
        if name in ENTITY_MEMBERS:
            continue
        if name in RESERVED_ATTRIBUTE_NAMES:
            raise bad(where, f"'{name}' is an NGSI-LD member name, not an attribute name")
        check_name(name, where)
        elements = value if isinstance(value, list) else [value]
        if not elements or not all(isinstance(element, dict) for element in elements):
            raise bad(f"attribute {name}", "a temporal attribute is an instance object or a "
                                           "non-empty array of them")
        instances = []
        for position, element in enumerate(elements):
            (instance,) = parse_attribute(name, element, terms, now)
            if "observedAt" not in instance:
                raise bad(f"attribute {name}[{position}]",
                          "a temporal instance needs observedAt to place it in time")
            instances.append(instance)
        out[terms.expand(name)] = instances
    return out


# -- helpers ---------------------------------------------------------------------------------
def _observed(instance: dict[str, Any]) -> str:
    return instance.get("observedAt") or instance.get("modifiedAt") or ""


def _by_dataset(instances: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per datasetId, the instances oldest first (the last is the newest observation)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for instance in sorted(instances, key=lambda i: i["observedAt"]):
        groups.setdefault(instance.get("datasetId", ""), []).append(instance)
    return groups


def _split_newest(instances: Instances) -> tuple[Instances, Instances]:
    """(the newest instance per attribute and datasetId, every other instance)."""
    current: Instances = {}
    older: Instances = {}
    for name, given in instances.items():
        for group in _by_dataset(given).values():
            current.setdefault(name, []).append(group[-1])
            older.setdefault(name, []).extend(group[:-1])
    return current, older


def _rows(entity_id: str, entity_type: str, instances: Instances) -> list[InstanceRow]:
    return [
        InstanceRow(entity_id, entity_type, name, instance.get("datasetId", ""), instance,
                    instance["observedAt"])
        for name, given in instances.items() for instance in given
    ]


def _page(
    found: dict[Series, list[T]],
    at: Callable[[T], str],
    limit: int,
    pageable: bool,
    newest_first: bool,
    query: TemporalQuery,
) -> tuple[dict[Series, list[T]], ContentRange | None]:
    """Cut every series to `limit` items; if any had more, cut all of them to the time range
    the shortest-reaching one covers, so the answer is complete within that range, and say
    which range it is. Items come back oldest first."""
    truncated = [key for key, items in found.items() if pageable and len(items) > limit]
    kept = {key: items[:limit] for key, items in found.items()}
    content_range = None
    if truncated:
        if newest_first:
            last = max(at(kept[key][-1]) for key in truncated)
            kept = {key: [i for i in items if at(i) >= last] for key, items in kept.items()}
            first = {"between": query.end_time_at, "before": query.time_at}.get(
                query.timerel or "") or max(_times(kept, at))
            content_range = ContentRange(first, last, query.last_n)
        else:
            last = min(at(kept[key][-1]) for key in truncated)
            kept = {key: [i for i in items if at(i) <= last] for key, items in kept.items()}
            first = (query.time_at if query.timerel in ("after", "between")
                     else min(_times(kept, at)))
            content_range = ContentRange(first, last)
    if newest_first:
        kept = {key: items[::-1] for key, items in kept.items()}
    return kept, content_range


def _times(kept: dict[Series, list[T]], at: Callable[[T], str]) -> Iterable[str]:
    return (at(item) for items in kept.values() for item in items)


def _truncated_or_trimmed(found: dict[Series, list[Any]], kept: dict[Series, list[Any]]) -> set:
    """Series that had items in the window but none in the answer's range: they stay in the
    answer as an empty list, so the client knows to ask for the rest (clause 6.3.10)."""
    return {key for key, items in found.items() if items and not kept.get(key)}

