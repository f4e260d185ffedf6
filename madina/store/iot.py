"""The IoT gateway's provisioning tables: service groups, devices, and the commands waiting for
devices that poll (madina.iot).

A group is found by its (apikey, resource), a device by (apikey, device_id): that is what a
device's message names, whatever tenant it belongs to. Both keys are unique across tenants, so
one apikey never leads into two tenants. Each record keeps its provisioning document as JSON;
the gateway validates it (madina.iot.provisioning) and reads it back.

Every write bumps one revision number in the same transaction: worker processes cache what
they looked up and forget it when the revision moves, which one indexed read per batch of
measures tells them.

Both engines run the same SQL through `IotSQL` (`?` placeholders, translated for PostgreSQL);
they differ only in how a statement reaches the database.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from madina.store.identities import Executor


@dataclass(frozen=True)
class ProvisionedRecord:
    """A service group (`key` is its resource) or a device (`key` is its device id)."""

    tenant: str
    service_path: str
    apikey: str
    key: str
    doc: dict[str, Any]


class IotStore(Protocol):
    """The provisioning tables of one database (both engines implement it with `IotSQL`)."""

    def revision(self) -> int:
        """A number that changes whenever any provisioning changes (in any worker)."""

    def add_group(self, group: ProvisionedRecord) -> bool:
        """False when a group with this (apikey, resource) exists (nothing written)."""
    def group(self, apikey: str, resource: str) -> ProvisionedRecord | None: ...
    def groups_by_apikey(self, apikey: str) -> list[ProvisionedRecord]: ...
    def groups(self, tenant: str, service_path: str | None) -> list[ProvisionedRecord]:
        """The tenant's groups of one service path, or of all (None)."""
    def replace_group(self, group: ProvisionedRecord) -> bool:
        """Store a changed document of an existing group; False when it is gone."""
    def delete_group(self, tenant: str, service_path: str, apikey: str, resource: str) -> bool: ...

    def add_device(self, device: ProvisionedRecord) -> bool:
        """False when a device with this (apikey, device id) exists (nothing written)."""
    def add_autoprovisioned(self, devices: list[ProvisionedRecord]) -> None: ...
    def device(self, apikey: str, device_id: str) -> ProvisionedRecord | None: ...
    def devices(
        self, tenant: str, service_path: str | None, device_id: str | None = None,
        limit: int | None = None, offset: int = 0,
    ) -> tuple[list[ProvisionedRecord], int]:
        """A page of the tenant's devices (of one service path, or all) and how many match."""
    def replace_device(self, device: ProvisionedRecord) -> bool: ...
    def delete_device(self, tenant: str, service_path: str, apikey: str, device_id: str) -> bool:
        """Also forgets the device's queued commands."""

    def queue_command(self, apikey: str, device_id: str, name: str, value: Any) -> None:
        """Keep a command for a device that polls; a newer one of the same name replaces it."""
    def take_commands(self, apikey: str, device_id: str) -> list[tuple[str, Any]]:
        """The device's queued commands, oldest first, removed in the same transaction."""


GROUP_COLUMNS = "tenant, service_path, apikey, resource, doc"
DEVICE_COLUMNS = "tenant, service_path, apikey, device_id, doc"
NO_LIMIT = 1 << 62
"""A LIMIT both engines read as none."""


def _doc(value: Any) -> dict[str, Any]:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _record(row: tuple) -> ProvisionedRecord:
    return ProvisionedRecord(row[0], row[1], row[2], row[3], _doc(row[4]))


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class IotSQL:
    """`IotStore` in SQL both engines understand. Engines supply `_read` and `_atomic`."""

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        raise NotImplementedError

    def _atomic(self) -> AbstractContextManager[Executor]:
        raise NotImplementedError

    @staticmethod
    def _bump(run: Executor) -> None:
        run("UPDATE iot_revision SET revision = revision + 1", ())

    def revision(self) -> int:
        return int(self._read("SELECT revision FROM iot_revision")[0][0])

    # -- service groups ----------------------------------------------------------------------
    def add_group(self, group: ProvisionedRecord) -> bool:
        with self._atomic() as run:
            rows = run(
                f"INSERT INTO iot_groups ({GROUP_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (apikey, resource) DO NOTHING RETURNING apikey",
                (group.tenant, group.service_path, group.apikey, group.key, _json(group.doc)),
            )
            if rows:
                self._bump(run)
            return bool(rows)

    def group(self, apikey: str, resource: str) -> ProvisionedRecord | None:
        rows = self._read(
            f"SELECT {GROUP_COLUMNS} FROM iot_groups WHERE apikey = ? AND resource = ?",
            (apikey, resource),
        )
        return _record(rows[0]) if rows else None

    def groups_by_apikey(self, apikey: str) -> list[ProvisionedRecord]:
        rows = self._read(
            f"SELECT {GROUP_COLUMNS} FROM iot_groups WHERE apikey = ? ORDER BY resource",
            (apikey,),
        )
        return [_record(row) for row in rows]

    def groups(self, tenant: str, service_path: str | None) -> list[ProvisionedRecord]:
        rows = self._read(
            f"SELECT {GROUP_COLUMNS} FROM iot_groups WHERE tenant = ?"
            " AND (CAST(? AS TEXT) IS NULL OR service_path = ?) ORDER BY service_path, apikey,"
            " resource",
            (tenant, service_path, service_path),
        )
        return [_record(row) for row in rows]

    def replace_group(self, group: ProvisionedRecord) -> bool:
        with self._atomic() as run:
            rows = run(
                "UPDATE iot_groups SET doc = ? WHERE tenant = ? AND service_path = ?"
                " AND apikey = ? AND resource = ? RETURNING apikey",
                (_json(group.doc), group.tenant, group.service_path, group.apikey, group.key),
            )
            if rows:
                self._bump(run)
            return bool(rows)

    def delete_group(self, tenant: str, service_path: str, apikey: str, resource: str) -> bool:
        with self._atomic() as run:
            rows = run(
                "DELETE FROM iot_groups WHERE tenant = ? AND service_path = ? AND apikey = ?"
                " AND resource = ? RETURNING apikey",
                (tenant, service_path, apikey, resource),
            )
            if rows:
                self._bump(run)
            return bool(rows)

    # -- devices -----------------------------------------------------------------------------
    def add_device(self, device: ProvisionedRecord) -> bool:
        with self._atomic() as run:
            rows = run(
                f"INSERT INTO iot_devices ({DEVICE_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (apikey, device_id) DO NOTHING RETURNING apikey",
                (device.tenant, device.service_path, device.apikey, device.key,
                 _json(device.doc)),
            )
            if rows:
                self._bump(run)
            return bool(rows)

    def add_autoprovisioned(self, devices: list[ProvisionedRecord]) -> None:
        """Devices their groups provisioned on their first message, in one transaction (a
        commit each cost a PostgreSQL WAL flush: thousands of new devices took minutes).
        A device some worker added first keeps its record. The revision stays: the new rows
        change nothing another worker may have cached (it autoprovisions the same way)."""
        with self._atomic() as run:
            for device in devices:
                run(
                    f"INSERT INTO iot_devices ({DEVICE_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (apikey, device_id) DO NOTHING RETURNING apikey",
                    (device.tenant, device.service_path, device.apikey, device.key,
                     _json(device.doc)),
                )

    def device(self, apikey: str, device_id: str) -> ProvisionedRecord | None:
        rows = self._read(
            f"SELECT {DEVICE_COLUMNS} FROM iot_devices WHERE apikey = ? AND device_id = ?",
            (apikey, device_id),
        )
        return _record(rows[0]) if rows else None

    def devices(
        self, tenant: str, service_path: str | None, device_id: str | None = None,
        limit: int | None = None, offset: int = 0,
    ) -> tuple[list[ProvisionedRecord], int]:
        where = (" WHERE tenant = ? AND (CAST(? AS TEXT) IS NULL OR service_path = ?)"
                 " AND (CAST(? AS TEXT) IS NULL OR device_id = ?)")
        params = (tenant, service_path, service_path, device_id, device_id)
        count = int(self._read(f"SELECT count(*) FROM iot_devices{where}", params)[0][0])
        rows = self._read(
            f"SELECT {DEVICE_COLUMNS} FROM iot_devices{where}"
            " ORDER BY service_path, device_id, apikey LIMIT ? OFFSET ?",
            (*params, NO_LIMIT if limit is None else limit, offset),
        )
        return [_record(row) for row in rows], count

    def replace_device(self, device: ProvisionedRecord) -> bool:
        with self._atomic() as run:
            rows = run(
                "UPDATE iot_devices SET doc = ? WHERE tenant = ? AND service_path = ?"
                " AND apikey = ? AND device_id = ? RETURNING apikey",
                (_json(device.doc), device.tenant, device.service_path, device.apikey,
                 device.key),
            )
            if rows:
                self._bump(run)
            return bool(rows)

    def delete_device(self, tenant: str, service_path: str, apikey: str, device_id: str) -> bool:
        with self._atomic() as run:
            rows = run(
                "DELETE FROM iot_devices WHERE tenant = ? AND service_path = ? AND apikey = ?"
                " AND device_id = ? RETURNING apikey",
                (tenant, service_path, apikey, device_id),
            )
            if rows:
                run("DELETE FROM iot_commands WHERE apikey = ? AND device_id = ?",
                    (apikey, device_id))
                self._bump(run)
            return bool(rows)

    # -- commands for polling devices --------------------------------------------------------
    def queue_command(self, apikey: str, device_id: str, name: str, value: Any) -> None:
        with self._atomic() as run:
            run(
                "INSERT INTO iot_commands (apikey, device_id, name, value, seq)"
                " VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM iot_commands))"
                " ON CONFLICT (apikey, device_id, name) DO UPDATE SET value = excluded.value,"
                " seq = excluded.seq",
                (apikey, device_id, name, _json(value)),
            )

    def take_commands(self, apikey: str, device_id: str) -> list[tuple[str, Any]]:
        with self._atomic() as run:
            rows = run(
                "DELETE FROM iot_commands WHERE apikey = ? AND device_id = ?"
                " RETURNING name, value, seq",
                (apikey, device_id),
            )
        # values are JSON text on both engines: a JSON string must not come back parsed twice
        return [(name, orjson.loads(value)) for name, value, _ in sorted(rows, key=lambda r: r[2])]
