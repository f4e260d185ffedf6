"""Which device a message is from: the provisioning a message's (apikey, device id) names, with
its group's settings filled in, cached per worker process.

A lookup that finds nothing is cached too (a flood from an unknown device must not become a
flood of queries). Everything cached is forgotten when the provisioning revision moves, which
`refresh` reads once per batch of measures: a device provisioned through any worker is used by
every worker from its next batch on. Devices autoprovisioned while a batch is prepared are
saved together by `save_autoprovisioned`, in one transaction.
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
        self._new: dict[tuple[str, str, str], ProvisionedRecord] = {}
        """Autoprovisioned in the batch being prepared, not yet saved."""

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

    def lookup(self, apikey: str, device_id: str, resource: str,
               defer: bool = False) -> DeviceProfile | Unknown:
        """The device, autoprovisioned into its group when the group allows it. `resource` is
        the HTTP path or the protocol's (`/iot/d`, `/iot/json`), preferred when one apikey has
        groups for several resources. `defer`: an autoprovisioned device is saved by the next
        `save_autoprovisioned` (the ingest pipeline's, once per batch), not at once."""
        key = (apikey, device_id, resource)
        found = self._devices.get(key)
        if found is None:
            if len(self._devices) > 100_000:  # bounded: a scan of random device ids
                self._devices.clear()
            found = self._devices[key] = self._find(apikey, device_id, resource, defer)
        return found

    def _find(self, apikey: str, device_id: str, resource: str,
              defer: bool) -> DeviceProfile | Unknown:
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
        if defer:
            self._new[(apikey, device_id, resource)] = record
        else:
            self.store.add_autoprovisioned([record])
        return provisioning.profile(record.tenant, record.service_path, apikey, record.doc,
                                    group.doc, autoprovisioned=True)

    def save_autoprovisioned(self) -> None:
        """Save the devices autoprovisioned since the last call; if that fails, forget their
        profiles too, so the batch's retry autoprovisions them again."""
        new, self._new = self._new, {}
        if not new:
            return
        try:
            self.store.add_autoprovisioned(list(new.values()))
        except BaseException:
            for key in new:
                self._devices.pop(key, None)
            raise


def _pick(
    groups: list[ProvisionedRecord], resource: str, device: ProvisionedRecord | None
) -> ProvisionedRecord | None:
    """The group of the device's scope (any scope for a new device), its resource preferred."""
    if device is not None:
        groups = [g for g in groups
                  if (g.tenant, g.service_path) == (device.tenant, device.service_path)]
    return next((g for g in groups if g.key == resource), groups[0] if groups else None)
