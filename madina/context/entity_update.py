"""Update semantics on stored documents (clauses 5.6.2-5.6.5, 5.6.17-5.6.19).

Pure functions: they take the stored document and already-parsed input and return the new
document plus what changed, so the broker can answer 204/207 and emit change events without
comparing documents itself. The input document is never mutated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from madina.context.entity_model import (
    ATTRIBUTE_MEMBERS,
    CONTENT_MEMBER,
    NONE_DATASET,
    TermMap,
    attribute_names,
    bad,
    is_expanded,
)
from madina.context.entity_parse import is_null, parse_attribute
from madina.context.errors import ResourceNotFound

Instances = list[dict[str, Any]]


@dataclass
class Result:
    """The new document and the expanded names of the attributes each way touched.

    `previous` holds the instances of changed attributes as they were (for showChanges);
    `not_updated` entries are `{"attributeName": <expanded>, "reason": str}` (207 bodies)."""

    doc: dict[str, Any]
    """A shallow copy of the input: attribute lists and instances are shared with it until
    `_own` copies a list this operation changes (instances are replaced, never edited)."""
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    not_updated: list[dict[str, str]] = field(default_factory=list)
    previous: dict[str, Instances] = field(default_factory=dict)
    _owned: set[str] = field(default_factory=set, repr=False)

    def _own(self, name: str) -> Instances | None:
        """The attribute's instance list, copied from the input's on first use here, so it
        may be changed in place; None when the document lacks the attribute."""
        instances = self.doc.get(name)
        if instances is not None and name not in self._owned:
            instances = self.doc[name] = list(instances)
            self._owned.add(name)
        return instances

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)

    def _touch(self, bucket: list[str], name: str, old_doc: dict[str, Any]) -> None:
        if name not in bucket:
            bucket.append(name)
        if name in old_doc and name not in self.previous:
            self.previous[name] = old_doc[name]  # never mutated: changed lists are copies


def append_attributes(
    doc: dict[str, Any], attrs: dict[str, Instances], now: str, no_overwrite: bool = False
) -> Result:
    """POST .../attrs (5.6.3): add new attributes and instances; replace matching instances
    (same datasetId) unless `no_overwrite`, in which case they are reported as notUpdated."""
    result = Result(dict(doc))
    for name in attribute_names(attrs):
        existing = result._own(name)
        if existing is None:
            result.doc[name] = [_fresh(i) for i in attrs[name]]
            result._owned.add(name)
            result._touch(result.created, name, doc)
            continue
        for instance in attrs[name]:
            index = _find(existing, instance.get("datasetId"))
            if index is None:
                existing.append(_fresh(instance))
            elif no_overwrite:
                result.not_updated.append(_reason(name, instance, "already exists (noOverwrite)"))
                continue
            else:
                existing[index] = _replaced(existing[index], instance, now)
            result._touch(result.updated, name, doc)
    return _stamp(result, now)


def update_attributes(doc: dict[str, Any], attrs: dict[str, Instances], now: str) -> Result:
    """PATCH .../attrs (5.6.2): replace only attributes/instances that exist already."""
    result = Result(dict(doc))
    for name in attribute_names(attrs):
        existing = result._own(name)
        for instance in attrs[name]:
            index = None if existing is None else _find(existing, instance.get("datasetId"))
            if existing is None or index is None:
                result.not_updated.append(_reason(name, instance, "attribute does not exist"))
                continue
            existing[index] = _replaced(existing[index], instance, now)
            result._touch(result.updated, name, doc)
    return _stamp(result, now)


def partial_update_attribute(
    doc: dict[str, Any], name: str, body: Any, terms: TermMap, now: str
) -> Result:
    """PATCH .../attrs/{attrId} (5.6.4): merge the given members into one existing instance,
    chosen by the body's datasetId; members and sub-attributes not given are kept."""
    if name not in doc:
        raise ResourceNotFound(f"attribute {terms.compact(name)} not found in {doc['id']}")
    fragments = parse_attribute(terms.compact(name), body, terms, now, partial=True)
    if len(fragments) != 1:
        raise bad(f"attribute {terms.compact(name)}", "a partial update takes one instance")
    if _holds_null(fragments[0].get("value")):
        # Clause 5.5.4: only a merge reads a null inside a value as "remove this key".
        raise bad(f"attribute {terms.compact(name)}",
                  "urn:ngsi-ld:null cannot stand inside a compound value here")
    return _merge_attribute(Result(dict(doc)), doc, name, fragments[0], now, True)


def replace_attribute(doc: dict[str, Any], name: str, instances: Instances, now: str) -> Result:
    """PUT .../attrs/{attrId} (5.6.19): the matching instances are replaced whole (the kind
    may change); other datasets of the attribute stay."""
    if name not in doc:
        raise ResourceNotFound(f"attribute {name} not found in {doc['id']}")
    result = Result(dict(doc))
    existing = result._own(name)
    assert existing is not None
    for instance in instances:
        index = _find(existing, instance.get("datasetId"))
        if index is None:
            existing.append(_fresh(instance))
        else:
            existing[index] = _replaced(existing[index], instance, now)
    result._touch(result.updated, name, doc)
    return _stamp(result, now)


def delete_attribute(
    doc: dict[str, Any], name: str, dataset_id: str | None, delete_all: bool, now: str
) -> Result:
    """DELETE .../attrs/{attrId} (5.6.5): the default instance, one dataset, or all."""
    if name not in doc:
        raise ResourceNotFound(f"attribute {name} not found in {doc['id']}")
    result = Result(dict(doc))
    if delete_all:
        del result.doc[name]
    else:
        existing = result._own(name)
        assert existing is not None
        index = _find(existing, dataset_id)
        if index is None:
            which = "default instance" if dataset_id is None else f"datasetId {dataset_id}"
            raise ResourceNotFound(f"attribute {name} has no {which}")
        del existing[index]
        if not existing:
            del result.doc[name]
    result._touch(result.deleted, name, doc)
    return _stamp(result, now)


def merge_entity(doc: dict[str, Any], patch_doc: dict[str, Any], now: str) -> Result:
    """PATCH /entities/{id} (5.6.17): JSON merge-patch over attributes and sub-attributes.

    Types are added, a given scope replaces the old one, urn:ngsi-ld:null deletes the
    attribute instance or sub-attribute it stands for; Property values (even JSON objects)
    are replaced whole, as they are opaque to NGSI-LD."""
    result = Result(dict(doc))
    new_types = [t for t in patch_doc.get("type", []) if t not in result.doc["type"]]
    entity_changed = bool(new_types)
    result.doc["type"] = result.doc["type"] + new_types
    if "scope" in patch_doc and patch_doc["scope"] != result.doc.get("scope"):
        result.doc["scope"] = list(patch_doc["scope"])
        entity_changed = True
    for name in attribute_names(patch_doc):
        for fragment in patch_doc[name]:
            _merge_attribute(result, doc, name, fragment, now, False)
    if entity_changed:
        result.doc["modifiedAt"] = now
    return _stamp(result, now)


def replace_entity(doc: dict[str, Any], new_doc: dict[str, Any], now: str) -> Result:
    """PUT /entities/{id} (5.6.18): everything replaced; id and createdAt kept."""
    result = Result(dict(new_doc))
    result.doc["id"] = doc["id"]
    result.doc["createdAt"] = doc["createdAt"]
    result.doc["modifiedAt"] = now
    for name in attribute_names(doc):
        bucket = result.updated if name in new_doc else result.deleted
        result._touch(bucket, name, doc)
    for name in attribute_names(new_doc):
        if name not in doc:
            result.created.append(name)
    return result


def _merge_attribute(
    result: Result, old_doc: dict[str, Any], name: str, fragment: dict[str, Any], now: str,
    must_exist: bool,
) -> Result:
    dataset = fragment.get("datasetId")
    existing = result._own(name)
    index = None if existing is None else _find(existing, dataset)
    if index is None:
        if must_exist:
            which = "default instance" if dataset is None else f"datasetId {dataset}"
            raise ResourceNotFound(f"attribute {name} has no {which}")
        if _is_deletion(fragment):
            return result  # deleting what is not there changes nothing
        if "type" not in fragment:
            raise bad(f"attribute {name}", "a new attribute needs its content")
        bucket = result.updated
        if existing is None:
            bucket, existing = result.created, []
            result.doc[name] = existing
            result._owned.add(name)
        existing.append(_fresh(fragment))
        result._touch(bucket, name, old_doc)
        return _stamp(result, now)
    assert existing is not None
    if _is_deletion(fragment):
        del existing[index]
        if not existing:
            del result.doc[name]
        result._touch(result.deleted, name, old_doc)
        return _stamp(result, now)
    existing[index] = _merged(existing[index], fragment, now, merge_values=not must_exist)
    result._touch(result.updated, name, old_doc)
    return _stamp(result, now)


def _merged(
    old: dict[str, Any], fragment: dict[str, Any], now: str, merge_values: bool = False
) -> dict[str, Any]:
    """Merge-patch one instance: given members win, null sub-attributes go, others stay.

    With `merge_values` (merge entity, clause 5.5.12) a Property's JSON object value is itself
    merge-patched (RFC 7396), urn:ngsi-ld:null removing a key, as in the NGSI-LD Primer's
    address example; otherwise a given value replaces the old one whole."""
    merged = dict(old)
    if "type" in fragment and fragment["type"] != old["type"]:
        merged.pop(CONTENT_MEMBER[old["type"]], None)
        if old["type"] not in ("Relationship", "ListRelationship"):
            merged.pop("objectType", None)
    for key, value in fragment.items():
        if key in ("createdAt", "modifiedAt"):
            continue
        if is_expanded(key) and key not in ATTRIBUTE_MEMBERS and _is_deletion(value):
            merged.pop(key, None)
        elif is_expanded(key) and isinstance(merged.get(key), dict) and "type" not in value:
            merged[key] = _merged(merged[key], value, now, merge_values)
        elif key == "value" and merge_values and merged.get("type") == "Property":
            merged[key] = _merge_patch(merged.get(key), value)
        else:
            merged[key] = value
    merged["createdAt"] = old.get("createdAt", now)
    merged["modifiedAt"] = now
    return merged


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 with urn:ngsi-ld:null standing for JSON null (which NGSI-LD values never hold)."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if is_null(value):
            merged.pop(key, None)
        else:
            merged[key] = _merge_patch(merged.get(key), value)
    return merged


def _holds_null(value: Any) -> bool:
    """Whether a compound value hides an NGSI-LD Null somewhere inside."""
    if isinstance(value, dict):
        return any(is_null(v) or _holds_null(v) for v in value.values())
    if isinstance(value, list):
        return any(is_null(v) or _holds_null(v) for v in value)
    return False


def _is_deletion(fragment: dict[str, Any]) -> bool:
    member = CONTENT_MEMBER.get(fragment.get("type", ""))
    return member is not None and is_null(fragment.get(member))


def _replaced(old: dict[str, Any], new: dict[str, Any], now: str) -> dict[str, Any]:
    """A replaced instance keeps its createdAt (the attribute lives on), or is merged when
    the input was a content-less fragment (batch update with partial parsing)."""
    if "type" not in new:
        return _merged(old, new, now)
    instance = dict(new)
    instance["createdAt"] = old.get("createdAt", now)
    instance["modifiedAt"] = now
    return instance


def _fresh(instance: dict[str, Any]) -> dict[str, Any]:
    if "type" not in instance:
        raise bad("attribute", "a new attribute needs its content (value, object, ...)")
    return dict(instance)


def _find(instances: Instances, dataset_id: str | None) -> int | None:
    if dataset_id == NONE_DATASET:
        dataset_id = None
    for index, instance in enumerate(instances):
        if instance.get("datasetId") == dataset_id:
            return index
    return None


def _reason(name: str, instance: dict[str, Any], why: str) -> dict[str, str]:
    dataset = instance.get("datasetId")
    where = "" if dataset is None else f" (datasetId {dataset})"
    return {"attributeName": name, "reason": f"{why}{where}"}


def _stamp(result: Result, now: str) -> Result:
    if result.changed:
        result.doc["modifiedAt"] = now
    return result
