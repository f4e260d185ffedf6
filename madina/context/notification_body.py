"""What a notification says (clause 5.3.1, notification behaviour of clause 7.2).

An entity is notified in the subscription's format and @context, restricted to
`notification.attributes`, with system attributes on `sysAttrs`. Changes show as the ETSI test
suite expects them:

- a deleted attribute is listed with its content set to `urn:ngsi-ld:null`;
- a deleted entity is `{id, type, deletedAt}`, plus its attributes as nulls when
  `notification.attributes` names them, `showChanges` asks for them, or an attribute trigger
  fired for them;
- with `showChanges`, each updated or deleted instance carries its previous content
  (`previousValue`, `previousObject`, `previousLanguageMap`, ...).
"""

from __future__ import annotations

import uuid
from typing import Any

from madina.context.entity_model import (
    CONTENT_MEMBER,
    NGSI_LD_NULL,
    PROPERTY,
    display_datetime,
)
from madina.context.jsonld import TermMap
from madina.context.representation import render_attribute, render_entity
from madina.context.subscriptions import ATTRIBUTE_DELETED
from madina.events.model import CREATED, DELETED, ChangeEvent

PREVIOUS_MEMBER = {member: "previous" + member[0].upper() + member[1:]
                   for member in set(CONTENT_MEMBER.values())}
"""value -> previousValue, object -> previousObject, languageMap -> previousLanguageMap, ..."""


def notified_entity(
    event: ChangeEvent, notification: dict[str, Any], terms: TermMap, fired: list[str],
    lang: str | None, watched: frozenset[str] | None, now: str,
) -> dict[str, Any]:
    """One entity of a notification's `data`, as the subscription's `notification` asks."""
    form = notification.get("format", "normalized")
    sys_attrs = notification.get("sysAttrs", False)
    show_changes = notification.get("showChanges", False)
    wanted = set(notification["attributes"]) if "attributes" in notification else None
    if event.entity is None:
        return _deleted_entity(event, terms, form, wanted, show_changes, fired, watched)
    out = render_entity(event.entity, terms, form=form, sys_attrs=sys_attrs, attrs=wanted,
                        lang=lang, now=now)
    for name, change in event.attributes.items():
        if wanted is not None and name not in wanted:
            continue
        previous = event.previous.get(name)
        if change == DELETED and previous:
            out[terms.compact(name)] = _nulls(previous, terms, form, show_changes)
        elif show_changes and previous and change != CREATED and form != "keyValues":
            key = terms.compact(name)
            if key in out:
                out[key] = _with_previous(out[key], previous, terms)
    return out


def _deleted_entity(
    event: ChangeEvent, terms: TermMap, form: str, wanted: set[str] | None,
    show_changes: bool, fired: list[str], watched: frozenset[str] | None,
) -> dict[str, Any]:
    types = [terms.compact(t) for t in event.types]
    out: dict[str, Any] = {"id": event.entity_id, "type": types[0] if len(types) == 1 else types,
                           "deletedAt": display_datetime(event.at)}
    if wanted is not None:
        names = [n for n in event.previous if n in wanted]
    elif show_changes:
        names = list(event.previous)
    elif ATTRIBUTE_DELETED in fired:
        names = [n for n in event.previous if watched is None or n in watched]
    else:
        names = []
    for name in names:
        out[terms.compact(name)] = _nulls(event.previous[name], terms, form, show_changes)
    return out


def _nulls(previous: list[dict[str, Any]], terms: TermMap, form: str, show_changes: bool) -> Any:
    """A deleted attribute: each instance it had, its content replaced by urn:ngsi-ld:null."""
    if form == "keyValues":
        return NGSI_LD_NULL
    rendered = []
    for instance in previous:
        kind = instance.get("type", PROPERTY)
        member = CONTENT_MEMBER.get(kind, "value")
        null: dict[str, Any] = {member: NGSI_LD_NULL}
        if form == "normalized":
            null = {"type": kind, **null}
        if "datasetId" in instance:
            null["datasetId"] = instance["datasetId"]
        if show_changes:
            null[PREVIOUS_MEMBER[member]] = _content(instance, terms)
        rendered.append(null)
    return rendered[0] if len(rendered) == 1 else rendered


def _with_previous(rendered: Any, previous: list[dict[str, Any]], terms: TermMap) -> Any:
    """Add the previous content to each rendered instance that had one (same datasetId)."""
    by_dataset = {instance.get("datasetId"): instance for instance in previous}
    instances = rendered if isinstance(rendered, list) else [rendered]
    out = []
    for instance in instances:
        if not isinstance(instance, dict):  # concise: a bare value
            instance = {"value": instance}
        old = by_dataset.get(instance.get("datasetId"))
        if old is not None:
            member = CONTENT_MEMBER.get(old.get("type", PROPERTY), "value")
            instance = {**instance, PREVIOUS_MEMBER[member]: _content(old, terms)}
        out.append(instance)
    return out if isinstance(rendered, list) else out[0]


def _content(instance: dict[str, Any], terms: TermMap) -> Any:
    """An instance's content as the normalized form shows it (vocab terms compacted)."""
    rendered = render_attribute([instance], terms)
    member = CONTENT_MEMBER.get(instance.get("type", PROPERTY), "value")
    return rendered.get(member) if isinstance(rendered, dict) else None


def notification(subscription_id: str, data: list[dict[str, Any]], now: str) -> dict[str, Any]:
    """The Notification (clause 5.3.1); its id stays the same through every retry, so a
    receiver can drop a duplicate of an at-least-once delivery."""
    return {
        "id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
        "type": "Notification",
        "subscriptionId": subscription_id,
        "notifiedAt": display_datetime(now),
        "data": data,
    }


def features(
    entities: list[dict[str, Any]], geometry_property: str, form: str
) -> dict[str, Any]:
    """`data` for an application/geo+json endpoint: a FeatureCollection (clause 4.5.16)."""
    collection = []
    for entity in entities:
        geometry = entity.get(geometry_property)
        if isinstance(geometry, list):
            geometry = geometry[0]
        if isinstance(geometry, dict) and form != "keyValues" and "value" in geometry:
            geometry = geometry["value"]
        if not (isinstance(geometry, dict) and "type" in geometry):
            geometry = None
        collection.append({"id": entity.get("id"), "type": "Feature", "geometry": geometry,
                           "properties": {k: v for k, v in entity.items() if k != "id"}})
    return {"type": "FeatureCollection", "features": collection}
