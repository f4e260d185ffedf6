"""What one committed entity change tells its consumers, and how it is kept in the change log."""

from __future__ import annotations

from typing import Any

import orjson

from madina.store.base import ChangeRow, Document, StoredChange

CREATED = "created"
UPDATED = "updated"
DELETED = "deleted"


class ChangeEvent:
    """One entity's change in one transaction. Names are expanded IRIs, as stored.

    An event read back from the change log keeps its payload as the stored JSON text until
    `entity`, `attributes` or `previous` is first read: a consumer that passes an event by on
    its kind, id and types (most of them, at every change) never pays for decoding it."""

    __slots__ = (
        "_attributes",
        "_entity",
        "_previous",
        "_raw",
        "at",
        "cursor",
        "entity_id",
        "kind",
        "tenant",
        "types",
    )

    def __init__(
        self,
        tenant: str,
        entity_id: str,
        kind: str,
        at: str,
        types: list[str],
        entity: Document | None,
        attributes: dict[str, str] | None = None,
        previous: dict[str, list[dict[str, Any]]] | None = None,
        cursor: str | None = None,
    ) -> None:
        self.tenant = tenant
        self.entity_id = entity_id
        self.kind = kind
        """CREATED, UPDATED or DELETED (the entity)."""
        self.at = at
        """Canonical UTC timestamp of the change."""
        self.types = types
        self.cursor = cursor
        """Position in the change log after this event (None until committed and read
        back)."""
        self._entity = entity
        self._attributes = {} if attributes is None else attributes
        self._previous = {} if previous is None else previous
        self._raw: str | bytes | None = None

    @property
    def entity(self) -> Document | None:
        """The entity after the change; None once deleted."""
        if self._raw is not None:
            self._decode()
        return self._entity

    @property
    def attributes(self) -> dict[str, str]:
        """Changed attribute -> CREATED, UPDATED or DELETED."""
        if self._raw is not None:
            self._decode()
        return self._attributes

    @property
    def previous(self) -> dict[str, list[dict[str, Any]]]:
        """The instances an updated or deleted attribute had before (for `showChanges`)."""
        if self._raw is not None:
            self._decode()
        return self._previous

    def _decode(self) -> None:
        # Set before `_raw` is cleared: another thread reading meanwhile decodes again, to
        # the same values, and never sees a field half set.
        payload = orjson.loads(self._raw)  # type: ignore[arg-type]
        self._entity = payload["entity"]
        self._attributes = payload["attributes"]
        self._previous = payload["previous"]
        self._raw = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChangeEvent):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"ChangeEvent({self.tenant!r}, {self.entity_id!r}, {self.kind!r}, {self.at!r},"
                f" types={self.types!r}, cursor={self.cursor!r})")

    def _fields(self) -> tuple[Any, ...]:
        return (self.tenant, self.entity_id, self.kind, self.at, self.types, self.entity,
                self.attributes, self.previous, self.cursor)

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
            self.types,
        )

    @classmethod
    def from_stored(cls, stored: StoredChange) -> ChangeEvent:
        if stored.types is None:  # logged before the types were kept apart
            row, payload = stored.row, stored.row.payload
            return cls(stored.tenant, row.entity_id, row.kind, row.at, payload["types"],
                       payload["entity"], payload["attributes"], payload["previous"],
                       stored.cursor)
        event = cls(stored.tenant, stored.entity_id, stored.kind, stored.at, stored.types,
                    None, cursor=stored.cursor)
        event._raw = stored.raw
        return event
