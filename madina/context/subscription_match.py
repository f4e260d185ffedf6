"""Which subscriptions a committed change notifies, and why (clause 7.2 notification behaviour).

The notifier compiles each stored subscription once (`Compiled`): type expressions, patterns,
`q`, `scopeQ` and `geoQ` parsed, names resolved with the @context they were written in. An
event then meets only the subscriptions that can match its entity's types (`SubscriptionIndex`),
and each of those answers with the triggers the change fires for it, in this order:

1. the subscription is active, not expired, and older than the change;
2. one of its EntitySelectors matches the entity (id, idPattern, type expression);
3. the change fires one of its `notificationTrigger`s: an attribute created, updated or deleted
   among `watchedAttributes` (any attribute when none are watched), or the entity created,
   updated or deleted (an entity-level trigger with watched attributes needs the entity to
   have one of them); a deleted entity also deletes each of its attributes;
4. the entity as it is now (as it was, once deleted) satisfies `q`, `scopeQ` and `geoQ`.

Throttling is the notifier's business (it depends on what was sent), not a matching rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from madina.context import geo, qlang
from madina.context.jsonld import TermMap
from madina.context.query import parse_type_expression
from madina.context.subscriptions import (
    ATTRIBUTE_CREATED,
    ATTRIBUTE_DELETED,
    ATTRIBUTE_UPDATED,
    DEFAULT_TRIGGERS,
    ENTITY_CREATED,
    ENTITY_DELETED,
    ENTITY_UPDATED,
    geo_query,
)
from madina.events.model import CREATED, DELETED, UPDATED, ChangeEvent
from madina.store.base import TypeExpr
from madina.store.filters import Node, compiled_pattern

ATTRIBUTE_TRIGGER = {CREATED: ATTRIBUTE_CREATED, UPDATED: ATTRIBUTE_UPDATED,
                     DELETED: ATTRIBUTE_DELETED}
ENTITY_TRIGGER = {CREATED: ENTITY_CREATED, UPDATED: ENTITY_UPDATED, DELETED: ENTITY_DELETED}


@dataclass(frozen=True)
class Selector:
    ids: str | None
    pattern: Any
    types: TypeExpr

    def matches(self, entity_id: str, types: set[str]) -> bool:
        if self.ids is not None and entity_id != self.ids:
            return False
        if self.ids is None and self.pattern is not None and not self.pattern.search(entity_id):
            return False
        return type_matches(self.types, types)


def type_matches(expr: TypeExpr, types: set[str]) -> bool:
    if isinstance(expr, str):
        return expr in types
    op, operands = expr
    combine = all if op == "and" else any
    return combine(type_matches(operand, types) for operand in operands)


def index_types(expr: TypeExpr) -> set[str]:
    """Types of which an entity must have at least one to match `expr`."""
    if isinstance(expr, str):
        return {expr}
    op, operands = expr
    if op == "and":
        return index_types(operands[0])
    return set().union(*(index_types(operand) for operand in operands))


@dataclass
class Compiled:
    """One subscription ready to judge events."""

    tenant: str
    id: str
    doc: dict[str, Any]
    created_at: str
    terms: TermMap
    """The @context notifications are compacted with."""
    selectors: list[Selector] = field(default_factory=list)
    watched: frozenset[str] | None = None
    triggers: frozenset[str] = frozenset(DEFAULT_TRIGGERS)
    q: Node | None = None
    scope_q: Node | None = None
    geo: geo.GeoQuery | None = None
    geo_attribute: str = ""

    @property
    def periodic(self) -> float | None:
        return self.doc.get("timeInterval")

    def live(self, now: str) -> bool:
        return self.doc.get("isActive", True) and self.doc.get("expiresAt", "~") > now

    def fired(self, event: ChangeEvent) -> list[str]:
        """The triggers `event` fires for this subscription (empty: no notification)."""
        if self.periodic is not None or event.at < self.created_at:
            return []
        types = set(event.types)
        if self.selectors and not any(s.matches(event.entity_id, types) for s in self.selectors):
            return []
        fired = self._triggers(event)
        if fired and not self._filters_pass(event):
            return []
        return fired

    def _triggers(self, event: ChangeEvent) -> list[str]:
        watched = self.watched
        changes = [(name, change) for name, change in event.attributes.items()
                   if watched is None or name in watched]
        fired = []
        entity_trigger = ENTITY_TRIGGER[event.kind]
        if entity_trigger in self.triggers:
            if event.kind == UPDATED:
                # Only attribute changes when attributes are watched; without, any change
                # (scope, types) updates the entity.
                if changes or (watched is None and not event.attributes):
                    fired.append(entity_trigger)
            elif watched is None or any(name in watched for name in event.attributes):
                fired.append(entity_trigger)
        for change in (CREATED, UPDATED, DELETED):
            trigger = ATTRIBUTE_TRIGGER[change]
            if trigger in self.triggers and any(c == change for _, c in changes):
                fired.append(trigger)
        return fired

    def _filters_pass(self, event: ChangeEvent) -> bool:
        doc = state(event)
        if self.q is not None and not qlang.evaluate(self.q, doc):
            return False
        if self.scope_q is not None and not qlang.evaluate_scope(self.scope_q,
                                                                 doc.get("scope", [])):
            return False
        if self.geo is not None:
            return any(self.geo.matches(instance.get("value"))
                       for instance in qlang.instances(doc, self.geo_attribute))
        return True


def state(event: ChangeEvent) -> dict[str, Any]:
    """The entity the filters judge: as it is after the change, or as it was before its
    deletion (its last state, rebuilt from the previous instances the event carries)."""
    if event.entity is not None:
        return event.entity
    return {"id": event.entity_id, "type": event.types, **event.previous}


def compile_subscription(
    tenant: str, doc: dict[str, Any], created_at: str, terms: TermMap, q_terms: TermMap
) -> Compiled:
    """`terms`: the subscription's notification @context; `q_terms`: the one its q was
    written in. Names other than q's are stored expanded already."""
    compiled = Compiled(tenant, doc["id"], doc, created_at, terms)
    for selector in doc.get("entities", ()):
        pattern = selector.get("idPattern")
        compiled.selectors.append(Selector(
            selector.get("id"),
            compiled_pattern(pattern) if pattern is not None else None,
            parse_type_expression(selector["type"], _EXPANDED),
        ))
    if "watchedAttributes" in doc:
        compiled.watched = frozenset(doc["watchedAttributes"])
    if "notificationTrigger" in doc:
        compiled.triggers = frozenset(doc["notificationTrigger"])
    if "q" in doc:
        compiled.q = qlang.resolve(qlang.parse_q(doc["q"]), q_terms.expand)
    if "scopeQ" in doc:
        compiled.scope_q = qlang.parse_scope_q(doc["scopeQ"])
    if "geoQ" in doc:
        compiled.geo = geo_query(doc["geoQ"])
        compiled.geo_attribute = doc["geoQ"]["geoproperty"]
    return compiled


class _Expanded:
    """Names already expanded: stored type expressions need no @context to parse."""

    @staticmethod
    def expand(term: str) -> str:
        return term


_EXPANDED: Any = _Expanded()


class SubscriptionIndex:
    """The compiled subscriptions of every tenant, found by the entity ids they name (when
    every selector names one) or else by the types they can match: a change meets only the
    subscriptions that might select its entity, however many a city has."""

    def __init__(self, subscriptions: Iterable[Compiled]) -> None:
        self.all: list[Compiled] = list(subscriptions)
        self._by_id: dict[tuple[str, str], list[Compiled]] = {}
        self._by_type: dict[tuple[str, str], list[Compiled]] = {}
        self._any: dict[str, list[Compiled]] = {}
        for sub in self.all:
            if sub.periodic is not None:
                continue
            if not sub.selectors:
                self._any.setdefault(sub.tenant, []).append(sub)
            elif all(s.ids is not None for s in sub.selectors):
                for entity_id in {s.ids for s in sub.selectors}:
                    self._by_id.setdefault((sub.tenant, entity_id), []).append(sub)
            else:
                keys = set().union(*(index_types(s.types) for s in sub.selectors))
                for type_name in keys:
                    self._by_type.setdefault((sub.tenant, type_name), []).append(sub)

    def candidates(self, event: ChangeEvent) -> Iterator[Compiled]:
        """Every subscription that might match the event, each once, in a stable order."""
        seen: set[int] = set()
        tenant = event.tenant
        lists = [self._any.get(tenant, ()), self._by_id.get((tenant, event.entity_id), ()),
                 *(self._by_type.get((tenant, t), ()) for t in event.types)]
        for subs in lists:
            for sub in subs:
                if id(sub) not in seen:
                    seen.add(id(sub))
                    yield sub

    def matches(self, event: ChangeEvent, now: str) -> Iterator[tuple[Compiled, list[str]]]:
        for sub in self.candidates(event):
            if sub.live(now):
                fired = sub.fired(event)
                if fired:
                    yield sub, fired
