"""Stored document → what clients read: normalized, concise or keyValues (clause 4.5).

Rendering never fails: documents were validated on the way in, so every branch here is
about presentation (compaction, filters, language selection), not about checking.
"""

from __future__ import annotations

from typing import Any

from madina.context.entity_model import (
    CONTENT_MEMBER,
    GEO_PROPERTY,
    LANGUAGE_PROPERTY,
    LIST_RELATIONSHIP,
    NONE_DATASET,
    PROPERTY,
    RELATIONSHIP,
    SYS_ATTRS,
    VOCAB_PROPERTY,
    TermMap,
    display_datetime,
    is_geojson_geometry,
)

FORMS = ("normalized", "concise", "keyValues")
_COMMON = ("observedAt", "unitCode", "datasetId", "expiresAt")
_DATETIMES = frozenset({"observedAt", "expiresAt"})


def render_entity(
    doc: dict[str, Any],
    terms: TermMap,
    *,
    form: str = "normalized",
    sys_attrs: bool = False,
    attrs: set[str] | None = None,
    pick: set[str] | None = None,
    omit: set[str] | None = None,
    lang: str | None = None,
    dataset_ids: set[str] | None = None,
    now: str | None = None,
) -> dict[str, Any]:
    """Render one entity; `attrs` holds expanded names, `pick`/`omit` compact member names."""
    if form not in FORMS:
        raise ValueError(f"unknown representation {form!r}")
    types = [terms.compact(t) for t in doc["type"]]
    out: dict[str, Any] = {"id": doc["id"], "type": types[0] if len(types) == 1 else types}
    if "scope" in doc:
        scope = doc["scope"]
        out["scope"] = scope[0] if len(scope) == 1 else scope
    if sys_attrs and form != "keyValues":
        out["createdAt"] = doc["createdAt"]
        out["modifiedAt"] = doc["modifiedAt"]
    for name, instances in doc.items():
        # `":" in name` is is_expanded(name), inlined: this loop runs for every member.
        if ":" not in name or (attrs is not None and name not in attrs):
            continue
        rendered = _attribute(instances, terms, form, sys_attrs, lang, dataset_ids, now)
        if rendered is not None:
            out[terms.compact(name)] = rendered
    if pick is not None:
        out = {k: v for k, v in out.items() if k in pick}
    if omit:
        out = {k: v for k, v in out.items() if k not in omit}
    return out


def render_attribute(
    instances: list[dict[str, Any]],
    terms: TermMap,
    *,
    form: str = "normalized",
    sys_attrs: bool = False,
    lang: str | None = None,
    dataset_ids: set[str] | None = None,
    now: str | None = None,
) -> Any:
    """One attribute's instances as the client sees them, or None when all are filtered out."""
    return _attribute(instances, terms, form, sys_attrs, lang, dataset_ids, now)


def render_instance(
    instance: dict[str, Any],
    terms: TermMap,
    *,
    form: str = "normalized",
    sys_attrs: bool = False,
    lang: str | None = None,
) -> dict[str, Any]:
    """One instance as an element of an instance array (the temporal representation): always
    an object, so members such as `instanceId` can be added to it."""
    return _instance(instance, terms, form, sys_attrs, lang, True)


def _attribute(
    instances: list[dict[str, Any]],
    terms: TermMap,
    form: str,
    sys_attrs: bool,
    lang: str | None,
    dataset_ids: set[str] | None,
    now: str | None,
) -> Any:
    """`render_attribute` with positional arguments: it runs once per attribute rendered."""
    if len(instances) == 1:  # the usual case: no list to filter
        visible = instances if _visible(instances[0], dataset_ids, now) else []
    else:
        visible = [i for i in instances if _visible(i, dataset_ids, now)]
    if not visible:
        return None
    if form == "keyValues":
        if len(visible) == 1:
            return _simplified(visible[0], terms, lang)
        return {"dataset": {
            i.get("datasetId", NONE_DATASET): _simplified(i, terms, lang) for i in visible
        }}
    if len(visible) == 1:
        return _instance(visible[0], terms, form, sys_attrs, lang, False)
    return [_instance(i, terms, form, sys_attrs, lang, True) for i in visible]


def _visible(instance: dict[str, Any], dataset_ids: set[str] | None, now: str | None) -> bool:
    """Selected by the `datasetId` parameter and not expired at `now`."""
    if dataset_ids is not None and instance.get("datasetId", NONE_DATASET) not in dataset_ids:
        return False
    return not (now and instance.get("expiresAt", "~") < now)


def _instance(
    instance: dict[str, Any], terms: TermMap, form: str, sys_attrs: bool, lang: str | None,
    in_array: bool,
) -> Any:
    kind = instance["type"]
    if kind == LANGUAGE_PROPERTY and lang is not None:
        tag = best_language(instance["languageMap"], lang)
        out = {"type": PROPERTY, "value": instance["languageMap"][tag], "lang": tag}
    else:
        member = CONTENT_MEMBER[kind]
        out = {"type": kind, member: _content(kind, instance[member], terms)}
    # Most instances hold only type, content and timestamps: counting keys spares them the
    # search for optional members and sub-attributes.
    if len(instance) > 2 + ("createdAt" in instance) + ("modifiedAt" in instance):
        _add_members(instance, out, terms, form, sys_attrs, lang)
    elif sys_attrs:
        _add_sys_attrs(instance, out)
    return _concise(out, in_array) if form == "concise" else out


def _add_members(
    instance: dict[str, Any], out: dict[str, Any], terms: TermMap, form: str, sys_attrs: bool,
    lang: str | None,
) -> None:
    """The rarer members, apart so that plain instances never pay for looking for them; the
    order (optional members, system members, sub-attributes) is the one clients always saw."""
    if "objectType" in instance:
        out["objectType"] = _compact_vocab(instance["objectType"], terms)
    for key in _COMMON:
        if key in instance:
            value = instance[key]
            out[key] = display_datetime(value) if key in _DATETIMES else value
    if sys_attrs:
        _add_sys_attrs(instance, out)
    for key, sub in instance.items():
        if ":" in key:  # is_expanded(key), inlined; no member name has a ':'
            out[terms.compact(key)] = _instance(sub, terms, form, sys_attrs, lang, False)


def _add_sys_attrs(instance: dict[str, Any], out: dict[str, Any]) -> None:
    for key in SYS_ATTRS:
        if key in instance:
            out[key] = instance[key]


def _content(kind: str, content: Any, terms: TermMap) -> Any:
    if kind == VOCAB_PROPERTY:
        return _compact_vocab(content, terms)
    if kind == LIST_RELATIONSHIP:
        return [{"object": item} for item in content]
    return content


def _compact_vocab(value: str | list[str], terms: TermMap) -> str | list[str]:
    if isinstance(value, list):
        return [terms.compact_vocab(v) for v in value]
    return terms.compact_vocab(value)


def _concise(out: dict[str, Any], in_array: bool) -> Any:
    """Drop `type` wherever parsing can infer it back (clause 4.5.2); stay lossless."""
    kind = out["type"]
    if kind == PROPERTY and is_geojson_geometry(out["value"]):
        return out  # a plain Property holding GeoJSON would come back as a GeoProperty
    if kind == GEO_PROPERTY and not is_geojson_geometry(out["value"]):
        return out
    if kind in (PROPERTY, GEO_PROPERTY) and len(out) == 2 and not in_array:
        value = out["value"]
        if kind == GEO_PROPERTY or not isinstance(value, (dict, list)):
            return value
    del out["type"]  # `out` was built for this call alone
    return out


def _simplified(instance: dict[str, Any], terms: TermMap, lang: str | None) -> Any:
    """keyValues: the bare content; kinds whose content is not self-describing keep its key."""
    kind = instance["type"]
    if kind in (PROPERTY, GEO_PROPERTY):
        return instance["value"]
    if kind == RELATIONSHIP:
        return instance["object"]
    if kind == LANGUAGE_PROPERTY:
        language_map = instance["languageMap"]
        if lang is not None:
            return language_map[best_language(language_map, lang)]
        return {"languageMap": language_map}
    if kind == VOCAB_PROPERTY:
        return {"vocab": _compact_vocab(instance["vocab"], terms)}
    member = CONTENT_MEMBER[kind]
    return {member: instance[member]}


def best_language(language_map: dict[str, Any], lang: str) -> str:
    """Pick the languageMap entry for a `lang` parameter (clause 4.15, RFC 4647 lookup).

    `lang` may list several tags with q-weights (`fr,en;q=0.8`) or `*`. When nothing matches,
    the untagged `@none` entry is used, else the first tag in order, so a value is always
    returned as the spec requires."""
    ranges: list[tuple[float, int, str]] = []
    for position, part in enumerate(lang.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if tag and weight > 0:
            ranges.append((-weight, position, tag.lower()))
    tags = sorted(language_map)
    by_lower = {t.lower(): t for t in tags}
    for _, _, wanted in sorted(ranges):
        if wanted == "*":
            return next((t for t in tags if t != NONE_DATASET), tags[0])
        if wanted in by_lower:
            return by_lower[wanted]
        prefix = next((t for t in tags if t.lower().startswith(wanted + "-")), None)
        if prefix is not None:
            return prefix
        # RFC 4647 lookup: a longer range falls back to its shorter forms (nl-BE -> nl).
        while "-" in wanted:
            wanted = wanted.rsplit("-", 1)[0]
            if wanted in by_lower:
                return by_lower[wanted]
    return NONE_DATASET if NONE_DATASET in language_map else tags[0]
