"""Every committed change leaves its trace: attribute instances in the history (temporal API)
and one event per entity in the change log (notifications, domain services, live streams).

`RecordingTransaction` wraps a store transaction, remembers each entity's state before its
first write and after its last, and at the end hands the store the rows that describe the
difference, to be written in the same transaction. Recording here rather than in each broker
operation means no write path can forget it.
"""

from __future__ import annotations

from typing import Any

from madina.context.entity_model import is_expanded
from madina.events.model import CREATED, DELETED, UPDATED, ChangeEvent
from madina.store.base import ChangeRow, Document, InstanceRow, Transaction

Instances = list[dict[str, Any]]
_NOTHING: Document = {}


class RecordingTransaction:
    """The `Transaction` protocol, recording what changed; `finish` before the commit."""

    def __init__(self, tx: Transaction, tenant: str) -> None:
        self.tx = tx
        self.tenant = tenant
        self._before: dict[str, Document | None] = {}
        """Entity id -> its state before this transaction first wrote it (None: absent)."""
        self._after: dict[str, Document | None] = {}
        self.events: list[ChangeEvent] = []
        """The events of the finished transaction, in write order."""
        self._unrecorded: dict[str, set[str] | None] = {}
        """Entity id -> attributes whose history rows are not written (None: all of them)."""

    def get(self, entity_id: str) -> Document | None:
        return self.tx.get(entity_id)

    def get_many(self, entity_ids: list[str]) -> dict[str, Document]:
        return self.tx.get_many(entity_ids)

    def insert(self, doc: Document) -> bool:
        if not self.tx.insert(doc):
            return False
        self._note(doc["id"], None, doc)
        return True

    def update(self, doc: Document, previous: Document | None = None) -> None:
        if previous is None and doc["id"] not in self._before:
            previous = self.tx.get(doc["id"])
        self.tx.update(doc, previous)
        self._note(doc["id"], previous, doc)

    def delete(self, entity_id: str) -> bool:
        before = self._after[entity_id] if entity_id in self._after else self.tx.get(entity_id)
        if not self.tx.delete(entity_id):
            return False
        self._note(entity_id, before, None)
        return True

    def record(self, instances: list[InstanceRow], changes: list[ChangeRow]) -> None:
        self.tx.record(instances, changes)

    def _note(self, entity_id: str, before: Document | None, after: Document | None) -> None:
        self._before.setdefault(entity_id, before)
        self._after[entity_id] = after

    def skip_history(self, entity_id: str, attrs: set[str] | None = None) -> None:
        """Write no history rows for these attributes of the entity (None: any): the temporal
        API deletes their history in this transaction, deletion rows included. The change
        events are recorded as always."""
        known = self._unrecorded.get(entity_id, set())
        self._unrecorded[entity_id] = None if attrs is None or known is None else known | attrs

    def finish(self, now: str) -> None:
        """Compute and record the history rows and change events of everything written."""
        instances: list[InstanceRow] = []
        for entity_id, after in self._after.items():
            event = entity_change(self.tenant, self._before[entity_id], after, now, instances)
            if event is not None:
                self.events.append(event)
        if self._unrecorded:
            instances = [row for row in instances if not self._skipped(row)]
        self.tx.record(instances, [event.row() for event in self.events])

    def _skipped(self, row: InstanceRow) -> bool:
        if row.entity_id not in self._unrecorded:
            return False
        attrs = self._unrecorded[row.entity_id]
        return attrs is None or row.attr in attrs


def entity_change(
    tenant: str,
    before: Document | None,
    after: Document | None,
    now: str,
    instances: list[InstanceRow],
) -> ChangeEvent | None:
    """The event for one entity (None when nothing changed), appending its history rows.

    Attributes are visited in one pass over each document, those of `before` first. An
    update shares the lists of the attributes it left alone with the old document
    (entity_update), so those are recognised by identity before any instance is compared."""
    if before is None and after is None:
        return None  # created and deleted in one transaction
    doc = after if after is not None else before
    assert doc is not None
    entity_id, entity_type = doc["id"], doc["type"][0]
    attributes: dict[str, str] = {}
    previous: dict[str, Instances] = {}
    old_doc = before or _NOTHING
    new_doc = after or _NOTHING
    for name, old in old_doc.items():
        if ":" in name:
            new = new_doc.get(name)
            if new is not old and _instance_rows(
                instances, entity_id, entity_type, name, old, new, now
            ):
                attributes[name] = DELETED if new is None else UPDATED
                previous[name] = old
    for name, new in new_doc.items():
        if ":" in name and name not in old_doc and _instance_rows(
            instances, entity_id, entity_type, name, None, new, now
        ):
            attributes[name] = CREATED
    if before is None:
        kind = CREATED
    elif after is None:
        kind = DELETED
    elif attributes or _other_members(before) != _other_members(after):
        kind = UPDATED
    else:
        return None
    return ChangeEvent(
        tenant=tenant,
        entity_id=entity_id,
        kind=kind,
        at=now,
        types=list(doc["type"]),
        entity=after,
        attributes=attributes,
        previous=previous,
    )


def _instance_rows(
    rows: list[InstanceRow],
    entity_id: str,
    entity_type: str,
    name: str,
    old: Instances | None,
    new: Instances | None,
    now: str,
) -> bool:
    """Append one row per instance (datasetId) written or deleted, an unchanged instance
    having none; whether any was appended."""
    count = len(rows)
    if old is not None and new is not None and len(old) == 1 and len(new) == 1:
        # One instance each, as nearly every attribute has: no dataset map to build.
        was, instance = old[0], new[0]
        dataset = instance.get("datasetId", "")
        if was.get("datasetId", "") == dataset:
            if was is not instance and was != instance:
                rows.append(_row(entity_id, entity_type, name, dataset, instance, now))
            return len(rows) > count
    remaining = {instance.get("datasetId", ""): instance for instance in old or ()}
    for instance in new or ():
        dataset = instance.get("datasetId", "")
        was = remaining.pop(dataset, None)
        if was is not instance and was != instance:
            rows.append(_row(entity_id, entity_type, name, dataset, instance, now))
    for dataset in remaining:
        rows.append(InstanceRow(entity_id, entity_type, name, dataset, None, now))
    return len(rows) > count


def _row(
    entity_id: str, entity_type: str, name: str, dataset: str, instance: dict[str, Any],
    now: str,
) -> InstanceRow:
    observed = instance.get("observedAt") or instance.get("modifiedAt") or now
    return InstanceRow(entity_id, entity_type, name, dataset, instance, observed)


def _other_members(doc: Document) -> dict[str, Any]:
    """What changes an entity besides its attributes (type, scope, ...), without timestamps."""
    return {
        k: v for k, v in doc.items() if not is_expanded(k) and k not in ("modifiedAt", "createdAt")
    }
