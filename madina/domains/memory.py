"""Bounded memory for the domain services: what a service keeps per entity (a station's recent
readings, a road segment's state) stays within a configured number of entities, so a city that
keeps adding devices cannot grow a worker without end."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def recently_used(items: OrderedDict[K, V], key: K, make: Callable[[], V], capacity: int) -> V:
    """`items[key]`, made by `make` when missing; past `capacity` items the one used least
    recently is forgotten."""
    item = items.get(key)
    if item is None:
        item = items[key] = make()
        if len(items) > capacity:
            items.popitem(last=False)
    else:
        items.move_to_end(key)
    return item
