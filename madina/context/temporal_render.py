"""History rows and aggregation buckets → the temporal representations clients read:
normalized or concise (clause 4.5.6, every instance with its instanceId), simplified
(`temporalValues`, clause 4.5.7) and aggregated (`aggregatedValues`, clause 4.5.19).

Like `representation`, rendering never fails: the rows hold instances validated when written.
"""

from __future__ import annotations

from typing import Any

from madina.context.entity_model import (
    CONTENT_MEMBER,
    LANGUAGE_PROPERTY,
    LIST_PROPERTY,
    LIST_RELATIONSHIP,
    NGSI_LD_NULL,
    NONE_DATASET,
    PROPERTY,
    VOCAB_PROPERTY,
    TermMap,
    display_datetime,
)
from madina.context.representation import best_language, render_instance
from madina.store.history import Bucket, HistoryRow, instance_id

TEMPORAL_VALUES = "temporalValues"
AGGREGATED_VALUES = "aggregatedValues"
FORMS = ("normalized", "concise", TEMPORAL_VALUES, AGGREGATED_VALUES)
SIMPLIFIED_MEMBER = {
    "Property": "values",
    "GeoProperty": "values",
    "Relationship": "objects",
    "LanguageProperty": "languageMaps",
    "VocabProperty": "vocabs",
    "JsonProperty": "jsons",
    "ListProperty": "valueLists",
    "ListRelationship": "objectLists",
}
"""Clause 4.5.7: the member listing [content, time] pairs, per attribute kind."""


def render_rows(
    rows: list[HistoryRow],
    terms: TermMap,
    *,
    form: str,
    timeproperty: str,
    sys_attrs: bool = False,
    lang: str | None = None,
) -> Any:
    """One attribute's rows in time order, in the asked-for form."""
    if form == TEMPORAL_VALUES:
        return _simplified(rows, terms, timeproperty, lang)
    return [_instance(row, terms, form, timeproperty, sys_attrs, lang) for row in rows]


def _instance(
    row: HistoryRow, terms: TermMap, form: str, timeproperty: str, sys_attrs: bool,
    lang: str | None,
) -> dict[str, Any]:
    if row.instance is None:
        out = {"type": row.kind, **_null_content(row.kind)}
        if form == "concise" and row.kind == PROPERTY:
            del out["type"]
        if row.dataset_id:
            out["datasetId"] = row.dataset_id
        out["instanceId"] = instance_id(row.row_id)
        out["deletedAt"] = display_datetime(row.at)
        return out
    out = render_instance(row.instance, terms, form=form, sys_attrs=sys_attrs, lang=lang)
    out["instanceId"] = instance_id(row.row_id)
    if timeproperty in ("createdAt", "modifiedAt"):
        out[timeproperty] = row.at
    return out


def _null_content(kind: str) -> dict[str, Any]:
    """NGSI-LD Null in the member of the deleted instance's kind (clause 5.2.1)."""
    member = CONTENT_MEMBER.get(kind, "value")
    if kind == LANGUAGE_PROPERTY:
        return {member: {NONE_DATASET: NGSI_LD_NULL}}
    if kind == LIST_RELATIONSHIP:
        return {member: [{"object": NGSI_LD_NULL}]}
    if kind == LIST_PROPERTY:
        return {member: [NGSI_LD_NULL]}
    return {member: NGSI_LD_NULL}


def _simplified(
    rows: list[HistoryRow], terms: TermMap, timeproperty: str, lang: str | None
) -> Any:
    """One object per dataset (and kind, should an attribute have changed kind): the
    datasets' objects form an array when there are several."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        kind = row.kind
        if kind == LANGUAGE_PROPERTY and lang is not None:
            kind = PROPERTY
        group = groups.get((row.dataset_id, kind))
        if group is None:
            group = groups[(row.dataset_id, kind)] = {"type": kind, SIMPLIFIED_MEMBER[kind]: []}
            if row.dataset_id:
                group["datasetId"] = row.dataset_id
        time = display_datetime(row.at)
        group[SIMPLIFIED_MEMBER[kind]].append([_content(row, terms, lang), time])
    objects = list(groups.values())
    return objects[0] if len(objects) == 1 else objects


def _content(row: HistoryRow, terms: TermMap, lang: str | None) -> Any:
    instance = row.instance
    if instance is None:
        return next(iter(_null_content(row.kind).values()))
    kind = instance["type"]
    if kind == LANGUAGE_PROPERTY and lang is not None:
        language_map = instance["languageMap"]
        return language_map[best_language(language_map, lang)]
    content = instance[CONTENT_MEMBER[kind]]
    if kind == VOCAB_PROPERTY:
        return [terms.compact_vocab(v) for v in content] if isinstance(content, list) else (
            terms.compact_vocab(content))
    return content


def render_buckets(
    buckets: list[Bucket], boundaries: list[str], methods: tuple[str, ...],
    last_edge: str | None = None,
) -> Any:
    """Clause 4.5.19: per method, [value, period start, period end] triples; one object per
    dataset. `last_edge` replaces the end of the final period (PT0S over a range whose end is
    the newest instance: the period ends there, not a microsecond after)."""
    groups: dict[str, dict[str, Any]] = {}
    labels: dict[int, str] = {}
    """Edge index -> its text, each edge formatted once (it ends one period, starts the next)."""

    def label(index: int) -> str:
        text = labels.get(index)
        if text is None:
            edge = last_edge if last_edge is not None and index == len(boundaries) - 1 else (
                boundaries[index])
            text = labels[index] = display_datetime(edge)
        return text

    for bucket in buckets:
        group = groups.get(bucket.dataset_id)
        if group is None:
            group = groups[bucket.dataset_id] = {"type": bucket.kind}
            if bucket.dataset_id:
                group["datasetId"] = bucket.dataset_id
            for method in methods:
                group[method] = []
        start, end = label(bucket.index), label(bucket.index + 1)
        for method, value in zip(methods, bucket.values, strict=True):
            group[method].append([value, start, end])
    objects = list(groups.values())
    return objects[0] if len(objects) == 1 else objects


def temporal_entity(
    entity_id: str,
    types: list[str],
    attributes: dict[str, Any],
    terms: TermMap,
    *,
    doc: dict[str, Any] | None = None,
    sys_attrs: bool = False,
    pick: set[str] | None = None,
    omit: set[str] | None = None,
) -> dict[str, Any]:
    """The entity around its attributes' histories (expanded names → compact)."""
    compact_types = [terms.compact(t) for t in types]
    out: dict[str, Any] = {
        "id": entity_id,
        "type": compact_types[0] if len(compact_types) == 1 else compact_types,
    }
    if doc is not None and "scope" in doc:
        scope = doc["scope"]
        out["scope"] = scope[0] if len(scope) == 1 else scope
    if sys_attrs and doc is not None:
        out["createdAt"] = doc["createdAt"]
        out["modifiedAt"] = doc["modifiedAt"]
    for name, rendered in attributes.items():
        out[terms.compact(name)] = rendered
    if pick is not None:
        out = {k: v for k, v in out.items() if k in pick}
    if omit:
        out = {k: v for k, v in out.items() if k not in omit}
    return out
