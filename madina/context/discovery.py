"""Discovery payloads (clause 5.7.5–5.7.10): EntityTypeList, EntityType, EntityTypeInfo,
AttributeList, Attribute — built from the store's summaries, compacted for the reader."""

from __future__ import annotations

import uuid
from typing import Any

from madina.context.errors import ResourceNotFound
from madina.context.jsonld import TermMap
from madina.store.base import AttributeSummary, TypeSummary


def type_list(types: list[TypeSummary], terms: TermMap, details: bool) -> Any:
    if details:
        return [
            {
                "id": t.name,
                "type": "EntityType",
                "typeName": terms.compact(t.name),
                "attributeNames": sorted(terms.compact(a) for a in t.attributes),
            }
            for t in types
        ]
    return {
        "id": f"urn:ngsi-ld:EntityTypeList:{uuid.uuid4()}",
        "type": "EntityTypeList",
        "typeList": [terms.compact(t.name) for t in types],
    }


def type_info(types: list[TypeSummary], name: str, terms: TermMap) -> dict[str, Any]:
    for t in types:
        if t.name == name:
            return {
                "id": t.name,
                "type": "EntityTypeInfo",
                "typeName": terms.compact(t.name),
                "entityCount": t.count,
                "attributeDetails": [
                    {
                        "id": attr,
                        "type": "Attribute",
                        "attributeName": terms.compact(attr),
                        "attributeTypes": sorted(kinds),
                    }
                    for attr, kinds in sorted(t.attributes.items())
                ],
            }
    raise ResourceNotFound(f"no entity of type {terms.compact(name)} exists")


def _attribute(a: AttributeSummary, terms: TermMap) -> dict[str, Any]:
    return {
        "id": a.name,
        "type": "Attribute",
        "attributeName": terms.compact(a.name),
        "attributeCount": a.count,
        "attributeTypes": sorted(a.attribute_types),
        "typeNames": sorted(terms.compact(t) for t in a.type_names),
    }


def attribute_list(attrs: list[AttributeSummary], terms: TermMap, details: bool) -> Any:
    if details:
        return [_attribute(a, terms) for a in attrs]
    return {
        "id": f"urn:ngsi-ld:AttributeList:{uuid.uuid4()}",
        "type": "AttributeList",
        "attributeList": [terms.compact(a.name) for a in attrs],
    }


def attribute_info(attrs: list[AttributeSummary], name: str, terms: TermMap) -> dict[str, Any]:
    for a in attrs:
        if a.name == name:
            return _attribute(a, terms)
    raise ResourceNotFound(f"no entity has an attribute {terms.compact(name)}")
