"""What one committed entity change tells its consumers, and how it is kept in the change log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from madina.store.base import ChangeRow, Document, StoredChange

CREATED = "created"
UPDATED = "updated"
DELETED = "deleted"


@dataclass(frozen=True)
class ChangeEvent:
    """One entity's change in one transaction. Names are expanded IRIs, as stored."""

    tenant: str
    entity_id: str
    kind: str
    """CREATED, UPDATED or DELETED (the entity)."""
    at: str
    """Canonical UTC timestamp of the change."""
    types: list[str]
    entity: Document | None
    """The entity after the change; None once deleted."""
    attributes: dict[str, str] = field(default_factory=dict)
    """Changed attribute -> CREATED, UPDATED or DELETED."""
    previous: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """The instances an updated or deleted attribute had before (for `showChanges`)."""
    cursor: str | None = None
    """Position in the change log after this event (None until committed and read back)."""

    def row(self) -> ChangeRow:
        return ChangeRow(
            self.entity_id,
            self.kind,
            self.at,
            {
                "types": self.types,
                "entity": self.entity,
                "attributes": self.attributes,
                "previous": self.previous,
            },
        )

    @classmethod
    def from_stored(cls, stored: StoredChange) -> ChangeEvent:
        row, payload = stored.row, stored.row.payload
        return cls(
            tenant=stored.tenant,
            entity_id=row.entity_id,
            kind=row.kind,
            at=row.at,
            types=payload["types"],
            entity=payload["entity"],
            attributes=payload["attributes"],
            previous=payload["previous"],
            cursor=stored.cursor,
        )
