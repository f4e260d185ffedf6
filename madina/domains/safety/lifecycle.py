"""Raise → update → clear: one source's warning level, turned into Alert entity writes and CAP
messages.

A source's level going from none to some level raises a warning (a new Alert entity, a CAP
Alert); another level, or the renewal time coming while it stays, updates it (the same entity
merged, a CAP Update); back to none clears it (the entity's `validTo` set to the clearing time
and its level to "cleared", a CAP Cancel). A warning raised again later is a new one, with a new
Alert entity.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, TypeVar

from madina.domains.safety.config import LevelPolicy
from madina.domains.safety.issuer import Issuer
from madina.domains.safety.levels import LevelState
from madina.domains.safety.model import Area
from madina.domains.safety.public_warning import (
    CLEARED,
    Hazard,
    PublicWarning,
    alert_attributes,
    iso,
)
from madina.domains.writes import Write

ALERT_TYPE = "Alert"
Describe = Callable[[str], tuple[str, str]]
"""level name → (headline, description), called only when a message is issued."""


@dataclass(slots=True)
class Source:
    """What a service remembers about one observed entity."""

    state: LevelState
    warning: PublicWarning | None = None
    last_alert_id: str = ""
    memory: Any = None
    """Service-specific (the flood service: recent readings and the gauge's levels)."""


S = TypeVar("S", bound=Source)


class Sources(Generic[S]):
    """Per-source memory, bounded: past `capacity` the source heard from least recently goes
    (one without an active warning first, so no warning is left without its Cancel)."""

    def __init__(self, capacity: int, make: Callable[[], S]) -> None:
        self.capacity = capacity
        self._make = make
        self._items: OrderedDict[str, S] = OrderedDict()

    def get(self, source_id: str) -> S:
        item = self._items.get(source_id)
        if item is not None:
            self._items.move_to_end(source_id)
            return item
        item = self._items[source_id] = self._make()
        if len(self._items) > self.capacity:
            victim = next((key for key, s in self._items.items()
                           if s.warning is None and key != source_id), next(iter(self._items)))
            del self._items[victim]
        return item

    def __len__(self) -> int:
        return len(self._items)


class WarningLifecycle:
    def __init__(self, hazard: Hazard, policies: dict[str, LevelPolicy] | Any,
                 issuer: Issuer, prefix: str) -> None:
        self.hazard = hazard
        self.policies = policies
        self.issuer = issuer
        self.prefix = prefix

    def _alert_id(self, source: Source, source_id: str, now: datetime) -> str:
        digest = hashlib.sha1(source_id.encode()).hexdigest()[:8]
        alert_id = (f"urn:ngsi-ld:Alert:{self.prefix}-{self.hazard.key}-{digest}-"
                    f"{now:%Y%m%dT%H%M%SZ}")
        if alert_id == source.last_alert_id:  # raised, cleared and raised within one second
            alert_id += f".{now.microsecond}"
        return alert_id

    def advance(self, source: Source, source_id: str, level: str | None, now: datetime,
                describe: Describe, area: Callable[[], Area | None],
                location: dict[str, Any] | None) -> list[Write]:
        """The writes (and, through the issuer, the CAP messages) for `source` being at
        `level` (None: no warning level) at `now`."""
        active = source.warning
        if level is None:
            if active is None:
                return []
            headline, description = describe(CLEARED)
            cleared = replace(active, level=CLEARED, headline=headline, description=description,
                              valid_to=self.issuer.validity(now, cancel=True))
            self.issuer.issue(cleared, now)
            source.warning = None
            attributes = alert_attributes(cleared)
            attributes["validTo"] = {"type": "Property",
                                     "value": {"@type": "DateTime", "@value": iso(now)}}
            return [Write(cleared.alert_id, ALERT_TYPE, attributes)]
        if active is not None and active.level == level and not self.issuer.due_for_renewal(
            active.alert_id, now
        ):
            return []
        headline, description = describe(level)
        if active is None:
            alert_id = self._alert_id(source, source_id, now)
            source.last_alert_id = alert_id
            warning = PublicWarning(
                alert_id=alert_id, source_id=source_id, hazard=self.hazard, level=level,
                policy=self.policies[level], headline=headline, description=description,
                issued=now, valid_to=self.issuer.validity(now), area=area(),
                location=location,
            )
        else:
            warning = replace(active, level=level, policy=self.policies[level],
                              headline=headline, description=description,
                              valid_to=self.issuer.validity(now), location=location)
        self.issuer.issue(warning, now)
        source.warning = warning
        return [Write(warning.alert_id, ALERT_TYPE, alert_attributes(warning))]
