"""Which change events a live stream shows, judged on hand-made events (no broker needed)."""

from __future__ import annotations

from typing import Any

import pytest

from madina.context import qlang
from madina.context.geo import GeoQuery
from madina.context.live_filter import LiveFilter, state_before, type_matches
from madina.events.model import CREATED, DELETED, UPDATED, ChangeEvent

T = "https://city.example/"
BOX = GeoQuery(georel="intersects", geometry={"type": "Polygon", "coordinates": [
    [[24.5, 60.0], [25.5, 60.0], [25.5, 60.5], [24.5, 60.5], [24.5, 60.0]]]})
IN, OUT = [24.9, 60.2], [22.3, 60.4]


def doc(speed: float, where: list[float] = IN, types: tuple[str, ...] = (T + "Car",)) -> dict:
    return {"id": "urn:car:1", "type": list(types),
            T + "speed": [{"type": "Property", "value": speed}],
            T + "location": [{"type": "GeoProperty",
                              "value": {"type": "Point", "coordinates": where}}]}


def event(kind: str, before: dict | None, after: dict | None,
          tenant: str = "", changed: tuple[str, ...] = ("speed",)) -> ChangeEvent:
    source = after or before
    assert source is not None
    attributes: dict[str, str] = {}
    previous: dict[str, Any] = {}
    for name in changed:
        key = T + name
        old = before.get(key) if before else None
        new = after.get(key) if after else None
        attributes[key] = CREATED if old is None else DELETED if new is None else UPDATED
        if old is not None:
            previous[key] = old
    return ChangeEvent(tenant, source["id"], kind, "2026-11-21T09:00:00.000000Z",
                       source["type"], after, attributes, previous)


def fast(tenant: str = "", **kw: Any) -> LiveFilter:
    node = qlang.resolve(qlang.parse_q("speed>50"), lambda name: T + name)
    return LiveFilter(tenant=tenant, q=node, area=BOX, geoproperty=T + "location", **kw)


def decide(live_filter: LiveFilter, change: ChangeEvent) -> bool | None:
    return live_filter.decide(change, lambda: state_before(change))


@pytest.mark.parametrize(("expr", "types", "expected"), [
    (T + "Car", [T + "Car"], True),
    (T + "Car", [T + "Bus"], False),
    (("or", (T + "Car", T + "Bus")), [T + "Bus"], True),
    (("and", (T + "Car", T + "Electric")), [T + "Car"], False),
    (("and", (T + "Car", T + "Electric")), [T + "Electric", T + "Car"], True),
    (("or", (("and", (T + "A", T + "B")), T + "C")), [T + "A", T + "B"], True),
])
def test_type_expressions(expr, types, expected) -> None:
    assert type_matches(expr, types) is expected


@pytest.mark.parametrize(("kind", "before", "after", "expected"), [
    (CREATED, None, doc(60), True),
    (CREATED, None, doc(40), None),                   # fails q
    (CREATED, None, doc(60, OUT), None),              # outside the box
    (UPDATED, doc(40), doc(60), True),                # enters
    (UPDATED, doc(60), doc(40), False),               # leaves through q
    (UPDATED, doc(60), doc(60, OUT), False),          # leaves the box
    (UPDATED, doc(40), doc(30), None),                # never matched
    (DELETED, doc(60), None, False),                  # a matching entity goes
    (DELETED, doc(40), None, None),                   # a non-matching one goes unseen
])
def test_entering_leaving_and_staying_out(kind, before, after, expected) -> None:
    changed = ("speed", "location")
    assert decide(fast(), event(kind, before, after, changed=changed)) is expected


def test_other_tenants_and_types_are_never_shown() -> None:
    change = event(CREATED, None, doc(60), tenant="espoo")
    assert decide(fast(), change) is None
    assert decide(fast("espoo"), change) is True
    assert decide(fast("espoo", types=T + "Bus"), change) is None


def test_watched_attributes_skip_updates_that_change_none_of_them() -> None:
    watching = LiveFilter(tenant="", watched=frozenset({T + "location"}))
    assert decide(watching, event(UPDATED, doc(40), doc(60), changed=("speed",))) is None
    assert decide(watching, event(UPDATED, doc(40), doc(40, OUT), changed=("location",)))
    assert decide(watching, event(CREATED, None, doc(60))) is True


def test_a_deletion_is_shown_to_an_unfiltered_stream() -> None:
    assert decide(LiveFilter(tenant=""), event(DELETED, doc(1), None)) is False


def test_the_state_before_restores_changed_and_drops_created_attributes() -> None:
    before = doc(40)
    after = {**doc(60), T + "colour": [{"type": "Property", "value": "red"}]}
    change = event(UPDATED, before, after, changed=("speed", "colour"))
    assert state_before(change) == before
    assert state_before(event(DELETED, before, None, changed=("speed", "location"))) == before
    assert state_before(event(CREATED, None, after)) is None
