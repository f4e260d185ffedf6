"""Which change events a live stream shows: its tenant, type expression, `q`, bounding box and
watched attributes, judged on the entity as the event left it and, for entities that stop
matching, as it was before.

A dashboard drawing a map needs to hear about a vehicle that drove out of its box or a sensor
whose reading no longer satisfies its `q`, or it keeps a stale marker forever. So an update is
shown when the entity matches after it *or* matched before it, and says which (`matches`); a
deletion is shown when the entity matched before it. Judging is pure and cheap: it runs once
per event for every connected stream of the event's tenant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from madina.context import qlang
from madina.context.entity_model import is_expanded
from madina.context.geo import GeoQuery
from madina.events.model import CREATED, UPDATED, ChangeEvent
from madina.store.base import Document, TypeExpr
from madina.store.filters import Node


def type_matches(expr: TypeExpr, types: list[str]) -> bool:
    """Does an entity with these (expanded) types satisfy a parsed type expression?"""
    if isinstance(expr, str):
        return expr in types
    operator, operands = expr
    if operator == "and":
        return all(type_matches(operand, types) for operand in operands)
    return any(type_matches(operand, types) for operand in operands)


def state_before(event: ChangeEvent) -> Document | None:
    """The entity as it was before the event, as far as the event tells: the instances every
    changed attribute had (`previous`), the unchanged ones from after. None when created."""
    if event.kind == CREATED:
        return None
    after = event.entity or {"id": event.entity_id, "type": event.types}
    before = {
        name: value for name, value in after.items()
        if not is_expanded(name) or event.attributes.get(name) != CREATED
    }
    before.update(event.previous)
    return before


@dataclass(frozen=True)
class LiveFilter:
    """What one stream asked for, with every name already expanded."""

    tenant: str
    types: TypeExpr | None = None
    q: Node | None = None
    """A resolved `q` (qlang.resolve)."""
    area: GeoQuery | None = None
    """The bounding box, as an `intersects` geo-query."""
    geoproperty: str = ""
    """Expanded name of the GeoProperty the box applies to."""
    watched: frozenset[str] | None = None
    """`attrs`: an update that changes none of these is not shown (the client would see no
    difference in its projection)."""

    def decide(self, event: ChangeEvent, before: Callable[[], Document | None]) -> bool | None:
        """None: not shown; else whether the entity matches after the event. `before` gives
        `state_before(event)`, computed only when needed and shared by every stream."""
        if event.tenant != self.tenant:
            return None
        if self.types is not None and not type_matches(self.types, event.types):
            return None
        if (
            self.watched is not None
            and event.kind == UPDATED
            and self.watched.isdisjoint(event.attributes)
        ):
            return None
        if event.entity is not None and self._selects(event.entity):
            return True
        if event.kind == CREATED:
            return None
        if self.q is None and self.area is None:
            return False  # a deletion: every entity of the stream's types was shown
        previous = before()
        return False if previous is not None and self._selects(previous) else None

    def _selects(self, doc: Document) -> bool:
        if self.q is not None and not qlang.evaluate(self.q, doc):
            return False
        return self.area is None or any(
            self.area.matches(instance.get("value"))
            for instance in qlang.instances(doc, self.geoproperty)
        )
