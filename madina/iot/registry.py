"""Which device a message is from: the provisioning a message's (apikey, device id) names, with
its group's settings filled in, cached per worker process.

A lookup that finds nothing is cached too (a flood from an unknown device must not become a
flood of queries). Everything cached is forgotten when the provisioning revision moves, which
`refresh` reads once per batch of measures: a device provisioned through any worker is used by
every worker from its next batch on.
"""

from __future__ import annotations

from dataclasses import dataclass

from madina.iot import provisioning
from madina.iot.provisioning import DeviceProfile
from madina.store.iot import IotStore, ProvisionedRecord

UNKNOWN_APIKEY = "unknown_apikey"
UNKNOWN_DEVICE = "unknown_device"


@dataclass(frozen=True)
class Unknown:
    """Why a message has no device: a metric label, and for HTTP the agents' error name."""

    reason: str


class Registry:
    def __init__(self, store: IotStore) -> None:
        self.store = store
        self._revision: int | None = None
        self._devices: dict[tuple[str, str, str], DeviceProfile | Unknown] = {}

    def refresh(self) -> None:
        """Forget everything if provisioning changed anywhere since the last look."""
        revision = self.store.revision()
        if revision != self._revision:
            self._devices.clear()
            self._revision = revision

    def forget(self) -> None:
        """Provisioning changed in this process: look again on the next lookup."""
        self._devices.clear()
        self._revision = None

    def lookup(self, apikey: str, device_id: str, resource: str) -> DeviceProfile | Unknown:
        """The device, autoprovisioned into its group when the group allows it. `resource` is
        the HTTP path or the protocol's (`/iot/d`, `/iot/json`), preferred when one apikey has
        groups for several resources."""
        key = (apikey, device_id, resource)
        found = self._devices.get(key)
        if found is None:
            if len(self._devices) > 100_000:  # bounded: a scan of random device ids
                self._devices.clear()
            found = self._devices[key] = self._find(apikey, device_id, resource)
        return found

    def _find(self, apikey: str, device_id: str, resource: str) -> DeviceProfile | Unknown:
        record = self.store.device(apikey, device_id)
        if record is not None:
            group = _pick(self.store.groups_by_apikey(apikey), resource, record)
            return provisioning.profile(record.tenant, record.service_path, apikey, record.doc,
                                        group.doc if group else None)
        group = _pick(self.store.groups_by_apikey(apikey), resource, None)
        if group is None:
            return Unknown(UNKNOWN_APIKEY)
        if group.doc.get("autoprovision") is False:
            return Unknown(UNKNOWN_DEVICE)
        doc = {"device_id": device_id}
        record = ProvisionedRecord(group.tenant, group.service_path, apikey, device_id, doc)
        if not self.store.add_device(record):  # another worker was first: use its record
            record = self.store.device(apikey, device_id) or record
        return provisioning.profile(record.tenant, record.service_path, apikey, record.doc,
                                    group.doc, autoprovisioned=True)


def _pick(
    groups: list[ProvisionedRecord], resource: str, device: ProvisionedRecord | None
) -> ProvisionedRecord | None:
    """The group of the device's scope (any scope for a new device), its resource preferred."""
    if device is not None:
        groups = [g for g in groups
                  if (g.tenant, g.service_path) == (device.tenant, device.service_path)]
    return next((g for g in groups if g.key == resource), groups[0] if groups else None)
