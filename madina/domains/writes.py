"""What domain services hand back to the broker: plain merges, so the services stay free of I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Write:
    """What a domain service asks the broker to do: merge `attributes` (normalized NGSI-LD, compact
    names) into entity `entity_id` of `entity_type`, creating the entity when absent."""

    entity_id: str
    entity_type: str
    attributes: dict[str, Any]
