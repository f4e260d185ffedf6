"""The NGSI-LD operations (clause 5.6–5.7): parse, apply the spec's update rules, persist.

Each operation is one store transaction, so a failed request writes nothing and a 2xx answer
means committed. Batch operations commit every entity that succeeded and report the others, as
the spec's 207 multi-status asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from madina.context import entity_update as updates
from madina.context.entity_model import is_expanded
from madina.context.entity_parse import parse_attribute, parse_attributes, parse_entity
from madina.context.errors import (
    AlreadyExists,
    BadRequestData,
    NgsiError,
    NonexistentTenant,
    ResourceNotFound,
)
from madina.context.jsonld import TermMap
from madina.context.query import check_uri
from madina.context.recording import RecordingTransaction
from madina.events.model import ChangeEvent
from madina.store.base import Document, EntityQuery, Store
from madina.store.filters import PatternError, UnqueryableName


def now_iso() -> str:
    """The canonical timestamp of docs/internals.md: string order is time order."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class BatchResult:
    """The outcome of a batch operation, per entity."""

    success: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    _succeeded: set[str] = field(default_factory=set, repr=False)

    def succeed(self, entity_id: str) -> None:
        """An id written by several items of the batch is listed once."""
        if entity_id not in self._succeeded:
            self._succeeded.add(entity_id)
            self.success.append(entity_id)

    def fail(self, entity_id: Any, error: NgsiError) -> None:
        """BatchEntityError.entityId is a string (clause 5.2.17): an item whose id is missing or
        no string is named by the JSON text of that id (`null`, `{}`), which is still findable."""
        if not isinstance(entity_id, str):
            entity_id = orjson.dumps(entity_id).decode()
        self.errors.append({"entityId": entity_id, "error": error.problem()})


class Broker:
    """Entity operations for every tenant of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.committed: list[Callable[[list[ChangeEvent]], None]] = []
        """Called with the events of every transaction that committed changes, on the thread
        that ran it: in-process consumers wake at once instead of polling the change log."""

    @contextmanager
    def transaction(self, tenant: str) -> Iterator[RecordingTransaction]:
        """A store transaction that also records the history and change events of its
        writes, committed with them."""
        with self.store.transaction(tenant) as tx:
            recording = RecordingTransaction(tx, tenant)
            yield recording
            recording.finish(now_iso())
        if recording.events:
            for callback in self.committed:
                callback(recording.events)

    # -- reads -----------------------------------------------------------------------------
    def check_tenant(self, tenant: str) -> None:
        if not self.store.tenant_exists(tenant):
            raise NonexistentTenant(f"tenant {tenant!r} does not exist")

    def get(self, tenant: str, entity_id: str, types: set[str] | None = None) -> Document:
        """The entity, which must have one of `types` (expanded) when they are given."""
        self.check_tenant(tenant)
        check_uri(entity_id, "entity id")
        doc = self.store.get(tenant, entity_id)
        if doc is None or not _has_type(doc, types):
            raise ResourceNotFound(f"entity {entity_id} not found")
        return doc

    def query(self, tenant: str, query: EntityQuery) -> tuple[list[Document], int | None]:
        self.check_tenant(tenant)
        try:
            return self.store.query(tenant, query)
        except (UnqueryableName, PatternError) as exc:
            raise BadRequestData(str(exc)) from None

    # -- single-entity writes ----------------------------------------------------------------
    def create(self, tenant: str, body: dict[str, Any], terms: TermMap) -> str:
        doc = parse_entity(body, terms, now_iso())
        with self.transaction(tenant) as tx:
            if not tx.insert(doc):
                raise AlreadyExists(f"entity {doc['id']} already exists")
        return doc["id"]

    def replace(self, tenant: str, entity_id: str, body: dict[str, Any], terms: TermMap) -> None:
        check_uri(entity_id, "entity id")
        now = now_iso()
        self.check_tenant(tenant)
        new = parse_entity({**body, "id": body.get("id", entity_id)}, terms, now)
        if new["id"] != entity_id:
            raise BadRequestData("the id in the body differs from the id in the path")
        with self.transaction(tenant) as tx:
            old = self._existing(tx, entity_id)
            tx.update(updates.replace_entity(old, new, now).doc, old)

    def merge(self, tenant: str, entity_id: str, body: dict[str, Any], terms: TermMap) -> None:
        check_uri(entity_id, "entity id")
        self._check_body_id(body, entity_id)
        self.check_tenant(tenant)
        now = now_iso()
        patch = parse_entity(
            {**body, "id": entity_id, "type": body.get("type", [])}, terms, now, partial=True
        )
        with self.transaction(tenant) as tx:
            old = self._existing(tx, entity_id)
            tx.update(updates.merge_entity(old, patch, now).doc, old)

    def delete(self, tenant: str, entity_id: str, types: set[str] | None = None) -> None:
        check_uri(entity_id, "entity id")
        self.check_tenant(tenant)
        with self.transaction(tenant) as tx:
            self._existing(tx, entity_id, types)
            tx.delete(entity_id)

    def purge(
        self,
        tenant: str,
        query: EntityQuery,
        keep: set[str] | None = None,
        drop: set[str] | None = None,
    ) -> int:
        """DELETE /entities (1.9): the selected entities, atomically; with `keep` or `drop`
        (expanded names) only those attributes go, or all but those, and the entities stay."""
        self.check_tenant(tenant)
        try:
            ids = self.store.matching_ids(tenant, query)
        except (UnqueryableName, PatternError) as exc:
            raise BadRequestData(str(exc)) from None
        now = now_iso()
        with self.transaction(tenant) as tx:
            for entity_id in ids:
                if keep is None and drop is None:
                    tx.delete(entity_id)
                    continue
                old = self._existing(tx, entity_id)
                doomed = [
                    name for name in old
                    if is_expanded(name)
                    and ((drop is not None and name in drop)
                         or (keep is not None and name not in keep))
                ]
                if doomed:
                    new = {k: v for k, v in old.items() if k not in doomed}
                    new["modifiedAt"] = now
                    tx.update(new, old)
        return len(ids)

    # -- attribute writes --------------------------------------------------------------------
    def append_attrs(
        self,
        tenant: str,
        entity_id: str,
        body: dict[str, Any],
        terms: TermMap,
        no_overwrite: bool,
        types: set[str] | None = None,
    ) -> list[dict[str, Any]]:
        """POST .../attrs; returns notUpdated entries (non-empty means 207)."""
        return self._apply_attrs(tenant, entity_id, body, terms, updates.append_attributes,
                                 types, no_overwrite=no_overwrite)

    def update_attrs(
        self, tenant: str, entity_id: str, body: dict[str, Any], terms: TermMap
    ) -> list[dict[str, Any]]:
        """PATCH .../attrs; attributes the entity lacks come back as notUpdated."""
        return self._apply_attrs(tenant, entity_id, body, terms, updates.update_attributes, None)

    def partial_update_attr(
        self, tenant: str, entity_id: str, attr: str, body: dict[str, Any], terms: TermMap
    ) -> None:
        check_uri(entity_id, "entity id")
        self.check_tenant(tenant)
        now = now_iso()
        name = terms.expand(attr)
        self._check_body_id(body, entity_id)
        with self.transaction(tenant) as tx:
            old = self._existing(tx, entity_id)
            result = updates.partial_update_attribute(old, name, body, terms, now)
            tx.update(result.doc, old)

    def replace_attr(
        self, tenant: str, entity_id: str, attr: str, body: Any, terms: TermMap
    ) -> None:
        check_uri(entity_id, "entity id")
        self.check_tenant(tenant)
        now = now_iso()
        name = terms.expand(attr)
        with self.transaction(tenant) as tx:
            old = self._existing(tx, entity_id)
            instances = parse_attribute(attr, body, terms, now)
            result = updates.replace_attribute(old, name, instances, now)
            tx.update(result.doc, old)

    def delete_attr(
        self,
        tenant: str,
        entity_id: str,
        attr: str,
        terms: TermMap,
        dataset_id: str | None,
        delete_all: bool,
    ) -> None:
        check_uri(entity_id, "entity id")
        if dataset_id is not None:
            check_uri(dataset_id, "datasetId")
        self.check_tenant(tenant)
        name = terms.expand(attr)
        with self.transaction(tenant) as tx:
            old = self._existing(tx, entity_id)
            result = updates.delete_attribute(old, name, dataset_id, delete_all, now_iso())
            tx.update(result.doc, old)

    # -- batch -----------------------------------------------------------------------------
    def batch_create(self, tenant: str, items: list[tuple[Any, TermMap]]) -> BatchResult:
        result = BatchResult()
        now = now_iso()
        with self.transaction(tenant) as tx:
            for body, terms in items:
                try:
                    doc = parse_entity(body, terms, now)
                    if not tx.insert(doc):
                        raise AlreadyExists(f"entity {doc['id']} already exists")
                except NgsiError as exc:
                    result.fail(_body_id(body), exc)
                else:
                    result.success.append(doc["id"])
        return result

    def batch_upsert(
        self, tenant: str, items: list[tuple[Any, TermMap]], replace: bool
    ) -> BatchResult:
        """Create the missing entities; replace (default) or update the existing ones."""
        result = BatchResult()
        now = now_iso()
        parsed = self._parse_all(items, now, result)
        with self.transaction(tenant) as tx:
            existing = tx.get_many(list(dict.fromkeys(d["id"] for d in parsed)))
            for doc in parsed:
                old = existing.get(doc["id"])
                if old is None:
                    tx.insert(doc)
                    existing[doc["id"]] = doc
                    result.created.append(doc["id"])
                else:
                    new = existing[doc["id"]] = (
                        updates.replace_entity(old, doc, now).doc
                        if replace
                        else _append_with_types(old, doc, now)
                    )
                    tx.update(new, old)
                result.succeed(doc["id"])
        return result

    def batch_update(
        self, tenant: str, items: list[tuple[Any, TermMap]], no_overwrite: bool
    ) -> BatchResult:
        """Append semantics per entity (clause 5.6.9); missing entities are reported."""

        def change(old: Document, doc: Document, now: str) -> Document:
            attrs = {k: v for k, v in doc.items() if is_expanded(k)}
            return updates.append_attributes(old, attrs, now, no_overwrite=no_overwrite).doc

        return self._batch_apply(tenant, items, change)

    def batch_merge(self, tenant: str, items: list[tuple[Any, TermMap]]) -> BatchResult:
        return self._batch_apply(
            tenant, items, lambda old, doc, now: updates.merge_entity(old, doc, now).doc
        )

    def _batch_apply(
        self,
        tenant: str,
        items: list[tuple[Any, TermMap]],
        change: Callable[[Document, Document, str], Document],
    ) -> BatchResult:
        """Apply `change` to every existing entity of a partial batch, in one transaction."""
        self.check_tenant(tenant)
        result = BatchResult()
        now = now_iso()
        parsed = self._parse_all(items, now, result, partial=True)
        with self.transaction(tenant) as tx:
            existing = tx.get_many(list(dict.fromkeys(d["id"] for d in parsed)))
            for doc in parsed:
                old = existing.get(doc["id"])
                if old is None:
                    result.fail(doc["id"], ResourceNotFound(f"entity {doc['id']} not found"))
                    continue
                new = existing[doc["id"]] = change(old, doc, now)
                tx.update(new, old)
                result.succeed(doc["id"])
        return result

    def batch_delete(self, tenant: str, ids: list[Any]) -> BatchResult:
        result = BatchResult()
        self.check_tenant(tenant)
        with self.transaction(tenant) as tx:
            for entity_id in ids:
                try:
                    check_uri(entity_id, "entity id")
                    if not tx.delete(entity_id):
                        raise ResourceNotFound(f"entity {entity_id} not found")
                except NgsiError as exc:
                    result.fail(entity_id, exc)
                else:
                    result.success.append(entity_id)
        return result

    # -- helpers ---------------------------------------------------------------------------
    def _apply_attrs(self, tenant, entity_id, body, terms, operation, types, **options):
        check_uri(entity_id, "entity id")
        self.check_tenant(tenant)
        self._check_body_id(body, entity_id)
        now = now_iso()
        attrs = parse_attributes(body, terms, now)
        with self.transaction(tenant) as tx:
            old = self._existing(tx, entity_id, types)
            result = operation(old, attrs, now, **options)
            tx.update(result.doc, old)
        return result.not_updated

    @staticmethod
    def _existing(tx, entity_id: str, types: set[str] | None = None) -> Document:
        doc = tx.get(entity_id)
        if doc is None or not _has_type(doc, types):
            raise ResourceNotFound(f"entity {entity_id} not found")
        return doc

    @staticmethod
    def _check_body_id(body: Any, entity_id: str) -> None:
        if isinstance(body, dict) and "id" in body and body["id"] != entity_id:
            raise BadRequestData("the id in the body differs from the id in the path")

    @staticmethod
    def _parse_all(
        items: list[tuple[Any, TermMap]], now: str, result: BatchResult, partial: bool = False
    ) -> list[Document]:
        """Parse every entity, in order: items with the same id apply one after the other,
        each over the entity as the ones before it left it."""
        parsed: list[Document] = []
        for body, terms in items:
            try:
                if partial:
                    doc = parse_entity(
                        {**body, "type": body.get("type", [])} if isinstance(body, dict) else body,
                        terms, now, partial=True,
                    )
                else:
                    doc = parse_entity(body, terms, now)
            except NgsiError as exc:
                result.fail(_body_id(body), exc)
                continue
            parsed.append(doc)
        return parsed


def _has_type(doc: Document, types: set[str] | None) -> bool:
    return types is None or not types.isdisjoint(doc["type"])


def _append_with_types(old: Document, doc: Document, now: str) -> Document:
    """Upsert with options=update: the new attributes and types over the old entity."""
    attrs = {k: v for k, v in doc.items() if is_expanded(k)}
    new = updates.append_attributes(old, attrs, now).doc
    extra = [t for t in doc["type"] if t not in new["type"]]
    if extra:
        new["type"] = new["type"] + extra
        new["modifiedAt"] = now
    return new


def _body_id(body: Any) -> Any:
    return body.get("id") if isinstance(body, dict) else None
