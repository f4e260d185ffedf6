"""Client JSON (normalized or concise, clause 4.5) → the stored document of docs/internals.md.

All validation happens here, once, so the store and the renderers can trust every document.
"""

from __future__ import annotations

from typing import Any

from madina.context import geo
from madina.context.entity_model import (
    ATTRIBUTE_MEMBERS,
    CONTENT_MEMBER,
    ENTITY_MEMBERS,
    GEO_NAMES,
    GEO_PROPERTY,
    JSON_PROPERTY,
    KIND_OF_CONTENT,
    KINDS,
    LANGUAGE_PROPERTY,
    LIST_PROPERTY,
    LIST_RELATIONSHIP,
    MAX_DEPTH,
    NGSI_LD_NULL,
    OUTPUT_ONLY_MEMBERS,
    PROPERTY,
    RELATIONSHIP,
    RESERVED_ATTRIBUTE_NAMES,
    VOCAB_PROPERTY,
    TermMap,
    bad,
    canonical_datetime,
    check_name,
    check_scope,
    is_geojson_geometry,
    is_uri,
)
from madina.context.errors import BadRequestData

#: JSON scalars: a Property holding one needs no depth, geometry or null check.
_SCALARS = frozenset({str, int, float, bool})
#: Members of the attribute shapes `_plain_instance` builds without the general walk.
_PLAIN_MEMBERS = frozenset({"type", "value", "observedAt", "unitCode"})
#: Per kind, the content members of the other kinds, which it must not carry.
_FOREIGN_CONTENT = {
    kind: frozenset(CONTENT_MEMBER.values()) - {member} for kind, member in CONTENT_MEMBER.items()
}


def parse_entity(
    body: dict[str, Any], terms: TermMap, now: str, *, partial: bool = False
) -> dict[str, Any]:
    """Validate a whole entity and build its stored document, stamped with `now`.

    `partial` parses a merge patch (clause 5.6.17): `type` may be an empty list and the
    attributes are fragments as `parse_attributes(..., partial=True)` describes."""
    if not isinstance(body, dict):
        raise bad("entity", "must be a JSON object")
    entity_id = body.get("id")
    if entity_id is None:
        raise bad("entity", "'id' is missing")
    if not is_uri(entity_id) or entity_id == NGSI_LD_NULL:
        raise bad("entity", f"id {entity_id!r} is not a URI naming an entity")
    where = f"entity {entity_id}"
    types = body.get("type")
    doc: dict[str, Any] = {
        "id": entity_id,
        "type": [] if partial and types == [] else parse_types(types, terms, where),
    }
    if "scope" in body:
        doc["scope"] = check_scope(body["scope"], where)
    doc["createdAt"] = now
    doc["modifiedAt"] = now
    doc.update(_parse_members(body, terms, now, where, partial))
    return doc


def parse_types(value: Any, terms: TermMap, where: str) -> list[str]:
    """Entity types: one name or a non-empty list of names, stored expanded and deduplicated."""
    if value is None:
        raise bad(where, "'type' is missing")
    if isinstance(value, str):  # the usual single type: nothing to deduplicate
        check_name(value, f"{where}, type")
        return [terms.expand(value)]
    names = value
    if not isinstance(names, list) or not names:
        raise bad(where, "'type' must be a string or a non-empty list of strings")
    for name in names:
        if not isinstance(name, str):
            raise bad(where, f"type {name!r} is not a string")
        check_name(name, f"{where}, type")
    return list(dict.fromkeys(terms.expand(name) for name in names))


def parse_attributes(
    body: dict[str, Any], terms: TermMap, now: str, *, partial: bool = False
) -> dict[str, list[dict]]:
    """An attribute fragment (append, update, merge): entity members other than attributes
    are ignored as the spec asks (`id`/`type` in a fragment do not change the entity).

    `partial` is for merge and partial updates (clauses 5.6.4, 5.6.17): it admits
    urn:ngsi-ld:null, which there means "delete this" (clause 5.2.1), and attribute
    fragments without content (e.g. only a new sub-attribute), which keep the stored kind."""
    if not isinstance(body, dict):
        raise bad("attributes", "must be a JSON object")
    return _parse_members(body, terms, now, "attributes", partial)


def _parse_members(
    body: dict[str, Any], terms: TermMap, now: str, where: str, partial: bool = False
) -> dict[str, list[dict]]:
    attrs: dict[str, list[dict]] = {}
    for name, value in body.items():
        if name in ENTITY_MEMBERS:
            continue
        if name in RESERVED_ATTRIBUTE_NAMES:
            raise bad(where, f"'{name}' is an NGSI-LD member name, not an attribute name")
        check_name(name, where)
        expanded = terms.expand(name)
        attrs[expanded] = _parse_attribute(name, expanded, value, terms, now, partial)
    return attrs


def parse_attribute(
    name: str, value: Any, terms: TermMap, now: str, *, partial: bool = False
) -> list[dict]:
    """One attribute (compact `name`) → its list of stored instances.

    An array is a multi-attribute only when every element is itself an attribute; otherwise
    it is the array value of a concise Property (clause 4.5.2)."""
    check_name(name, "attribute")
    return _parse_attribute(name, terms.expand(name), value, terms, now, partial)


def _parse_attribute(
    name: str, expanded: str, value: Any, terms: TermMap, now: str, partial: bool
) -> list[dict]:
    """`parse_attribute` once `name` is checked and expanded (entities do both themselves)."""
    plain = _plain_instance(name, expanded, value)
    if plain is not None:
        plain["createdAt"] = now
        plain["modifiedAt"] = now
        return [plain]
    where = f"attribute {name}"
    if isinstance(value, list) and value and all(_looks_like_attribute(v) for v in value):
        instances = [
            _parse_instance(expanded, v, terms, f"{where}[{i}]", 1, partial)
            for i, v in enumerate(value)
        ]
        seen: set[str | None] = set()
        for instance in instances:
            dataset = instance.get("datasetId")
            if dataset in seen:
                label = "the default instance" if dataset is None else f"datasetId {dataset}"
                raise bad(where, f"{label} appears more than once")
            seen.add(dataset)
    else:
        instances = [_parse_instance(expanded, value, terms, where, 1, partial)]
    for instance in instances:
        instance["createdAt"] = now
        instance["modifiedAt"] = now
    return instances


def _plain_instance(name: str, expanded: str, value: Any) -> dict[str, Any] | None:
    """The instance for the shapes almost every device sends — `{"type": "Property", "value":
    <scalar>}`, a bare concise scalar, `{"type": "GeoProperty", "value": <geometry>}`, each
    possibly with observedAt and unitCode — or None for anything else.

    These shapes need no more checks than the ones made here, so they skip the general walk
    below, which would build the very same instance (or raise the same error), only slower."""
    if value.__class__ is not dict:
        kind, content = PROPERTY, value
    elif "value" in value and _PLAIN_MEMBERS.issuperset(value):
        kind, content = value.get("type", PROPERTY), value["value"]
    else:
        return None
    if kind == PROPERTY:
        if content.__class__ not in _SCALARS or content == NGSI_LD_NULL or expanded in GEO_NAMES:
            return None
    elif kind == GEO_PROPERTY:
        if content.__class__ is not dict or is_null(content):
            return None
        try:
            geo.validate_geometry(content)
        except BadRequestData as error:
            raise bad(f"attribute {name}", error.detail) from None
    else:
        return None
    instance = {"type": kind, "value": content}
    if value.__class__ is dict:
        for key, member in value.items():  # in input order, as `_parse_instance` keeps them
            if key == "observedAt":
                instance[key] = canonical_datetime(member, f"attribute {name}.observedAt")
            elif key == "unitCode":
                if not isinstance(member, str) or not member:
                    raise bad(f"attribute {name}", "'unitCode' must be a non-empty string")
                instance[key] = member
    return instance


def _looks_like_attribute(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    kind = value.get("type")
    return (isinstance(kind, str) and kind in KINDS) or any(k in value for k in KIND_OF_CONTENT)


def _parse_instance(
    expanded: str, value: Any, terms: TermMap, where: str, depth: int, partial: bool
) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise bad(where, f"attributes nested deeper than {MAX_DEPTH} levels")
    kind, value = _normalize(expanded, value, where, partial)
    instance: dict[str, Any] = {}
    if kind is not None:
        if expanded in GEO_NAMES and kind != GEO_PROPERTY:
            raise bad(where, "must be a GeoProperty")
        instance["type"] = kind
        _parse_content(kind, value, instance, terms, where, partial)
    if kind == LANGUAGE_PROPERTY and value.get("valueType", "langString") != "langString":
        raise bad(where, "a LanguageProperty's valueType can only be langString (Table 5.2.32-1)")
    for key, member in value.items():
        if key in ATTRIBUTE_MEMBERS:
            _parse_common(key, member, instance, terms, where)
        elif key in OUTPUT_ONLY_MEMBERS:
            raise bad(where, f"'{key}' is produced by the broker, never sent (clause 4.5.2.2)")
        elif key.startswith("@"):
            raise bad(where, f"'{key}' is not allowed in an attribute")
        else:
            check_name(key, where)
            sub_name = terms.expand(key)
            instance[sub_name] = _parse_instance(
                sub_name, member, terms, f"{where}.{key}", depth + 1, partial
            )
    return instance


def _normalize(
    expanded: str, value: Any, where: str, partial: bool
) -> tuple[str | None, dict[str, Any]]:
    """Turn any accepted input form into (kind, normalized attribute object); the kind is
    None only for a patch fragment that carries no content."""
    if value is None:
        raise bad(where, "null is not a valid attribute value")
    if not isinstance(value, dict):
        kind = GEO_PROPERTY if expanded in GEO_NAMES else PROPERTY
        return kind, {"value": value}
    kind = value.get("type")
    if isinstance(kind, str) and kind in KINDS:
        return kind, value
    if is_geojson_geometry(value):
        return GEO_PROPERTY, {"value": value}
    if "type" in value:
        raise bad(where, f"unknown attribute type {value['type']!r}")
    contents = [k for k in KIND_OF_CONTENT if k in value]
    if len(contents) > 1:
        raise bad(where, f"ambiguous attribute: has {', '.join(contents)}")
    if not contents and partial:
        return None, value
    if not contents:
        raise bad(where, "cannot tell the attribute kind (no type, value, object, ...)")
    kind = KIND_OF_CONTENT[contents[0]]
    if kind == PROPERTY and (is_geojson_geometry(value["value"]) or expanded in GEO_NAMES):
        kind = GEO_PROPERTY
    return kind, value


def _parse_content(
    kind: str,
    value: dict[str, Any],
    instance: dict[str, Any],
    terms: TermMap,
    where: str,
    partial: bool,
) -> None:
    member = CONTENT_MEMBER[kind]
    foreign = _FOREIGN_CONTENT[kind]
    if not foreign.isdisjoint(value):
        other = next(key for key in foreign if key in value)
        raise bad(where, f"a {kind} cannot have '{other}'")
    if member not in value:
        if partial:
            return
        raise bad(where, f"a {kind} needs '{member}'")
    content = value[member]
    if content is None:
        raise bad(where, f"'{member}' cannot be null")
    if isinstance(content, (dict, list)) and kind != GEO_PROPERTY:
        _check_depth(content, where, forbid_null=kind == PROPERTY and not partial)
    if is_null(content):
        if not partial:
            raise bad(where, "urn:ngsi-ld:null is only allowed in merge and partial updates")
        instance[member] = content
    elif kind == PROPERTY:
        instance["value"] = content
    elif kind == GEO_PROPERTY:
        try:
            geo.validate_geometry(content)
        except BadRequestData as error:
            raise bad(where, error.detail) from None
        instance["value"] = content
    elif kind == RELATIONSHIP:
        instance["object"] = _objects(content, where)
    elif kind == LIST_RELATIONSHIP:
        instance["objectList"] = _object_list(content, where)
    elif kind == LANGUAGE_PROPERTY:
        instance["languageMap"] = _language_map(content, where)
    elif kind == VOCAB_PROPERTY:
        instance["vocab"] = _vocab(content, terms, where)
    elif kind == LIST_PROPERTY:
        if not isinstance(content, list):
            raise bad(where, "'valueList' must be an array")
        instance["valueList"] = content
    elif kind == JSON_PROPERTY:
        instance["json"] = content


def _check_depth(content: dict | list, where: str, forbid_null: bool) -> None:
    """Values are stored verbatim, so their nesting is bounded here: only broken or hostile
    clients nest deeper, and every later reader (renderers, q paths) would pay for it.

    An NGSI-LD Null inside a compound Property value is refused too (clauses 5.2.1, 5.5.4): it
    means "delete" and must never be stored as if it were data. Patches keep theirs for the
    update rules, which remove the key (merge) or refuse the request (partial update)."""
    stack = [(content, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise bad(where, f"value nested deeper than {MAX_DEPTH} levels")
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
            elif forbid_null and child == NGSI_LD_NULL:
                raise bad(where, "urn:ngsi-ld:null cannot stand inside a compound value")


def _parse_common(
    key: str, member: Any, instance: dict[str, Any], terms: TermMap, where: str
) -> None:
    """Members shared by all kinds; system members sent by clients are ignored (clause 4.8)."""
    if key in ("observedAt", "expiresAt"):
        instance[key] = canonical_datetime(member, f"{where}.{key}")
    elif key == "unitCode":
        if not isinstance(member, str) or not member:
            raise bad(where, "'unitCode' must be a non-empty string")
        instance[key] = member
    elif key == "datasetId":
        if not is_uri(member):
            raise bad(where, f"datasetId {member!r} is not a URI")
        instance[key] = member
    elif key == "objectType":
        if instance.get("type", RELATIONSHIP) not in (RELATIONSHIP, LIST_RELATIONSHIP):
            raise bad(where, "'objectType' is only allowed on relationships")
        instance[key] = _vocab(member, terms, f"{where}.objectType")


def is_null(content: Any) -> bool:
    """NGSI-LD Null: the URI itself, or `{"@none": null-URI}` for a languageMap (5.2.1)."""
    return content == NGSI_LD_NULL or content == {"@none": NGSI_LD_NULL}


def _objects(content: Any, where: str) -> str | list[str]:
    items = content if isinstance(content, list) else [content]
    if not items:
        raise bad(where, "'object' cannot be an empty array")
    for item in items:
        if not is_uri(item):
            raise bad(where, f"relationship object {item!r} is not a URI")
    return content


def _object_list(content: Any, where: str) -> list[str]:
    """Accepts both the spec's `[{"object": id}]` items and plain ids; stores plain ids."""
    if not isinstance(content, list):
        raise bad(where, "'objectList' must be an array")
    ids = [item.get("object") if isinstance(item, dict) else item for item in content]
    for item in ids:
        if not is_uri(item):
            raise bad(where, f"objectList entry {item!r} is not a URI")
    return ids


def _language_map(content: Any, where: str) -> dict[str, Any]:
    if not isinstance(content, dict) or not content:
        raise bad(where, "'languageMap' must be a non-empty object of language tags")
    for tag, text in content.items():
        texts = text if isinstance(text, list) else [text]
        if not tag or not all(isinstance(t, str) for t in texts) or not texts:
            raise bad(where, f"languageMap entry {tag!r} must be a string or list of strings")
    return content


def _vocab(content: Any, terms: TermMap, where: str) -> str | list[str]:
    items = content if isinstance(content, list) else [content]
    if not items or not all(isinstance(v, str) and v for v in items):
        raise bad(where, "vocabulary values must be a string or list of strings")
    expanded = [terms.expand_vocab(v) for v in items]
    return expanded if isinstance(content, list) else expanded[0]
