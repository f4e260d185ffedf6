"""Device lookups of the ingest pipeline: devices autoprovisioned while a batch is prepared are
saved together, once, and a save that fails leaves nothing believed saved."""

from __future__ import annotations

import pytest

from madina.iot.registry import Registry
from madina.store.base import Store, StoreUnavailable
from madina.store.iot import ProvisionedRecord

GROUP = ProvisionedRecord("city", "/", "k", "/iot/d", {"apikey": "k", "resource": "/iot/d",
                                                       "entity_type": "Meter"})


def saved(store: Store) -> list[str]:
    return [d.key for d in store.iot.devices("city", None)[0]]


def test_a_batch_of_new_devices_is_saved_at_once(store: Store) -> None:
    store.iot.add_group(GROUP)
    revision = store.iot.revision()
    registry = Registry(store.iot)
    profiles = [registry.lookup("k", f"m{n:02}", "/iot/d", defer=True) for n in range(40)]
    assert [p.entity_id for p in profiles] == [f"urn:ngsi-ld:Meter:m{n:02}" for n in range(40)]
    assert saved(store) == []
    registry.save_autoprovisioned()
    assert saved(store) == [f"m{n:02}" for n in range(40)]
    registry.save_autoprovisioned()  # nothing new: nothing written
    # Another worker's caches stay valid: the new rows change nothing they looked up.
    assert store.iot.revision() == revision


def test_a_device_provisioned_meanwhile_keeps_its_record(store: Store) -> None:
    store.iot.add_group(GROUP)
    registry = Registry(store.iot)
    registry.lookup("k", "m1", "/iot/d", defer=True)
    store.iot.add_device(ProvisionedRecord("city", "/", "k", "m1",
                                           {"device_id": "m1", "entity_name": "urn:x:own"}))
    registry.save_autoprovisioned()
    assert store.iot.device("k", "m1").doc["entity_name"] == "urn:x:own"


def test_a_failed_save_autoprovisions_again_on_the_retry(store: Store) -> None:
    store.iot.add_group(GROUP)
    registry = Registry(store.iot)
    real = store.iot.add_autoprovisioned

    def unavailable(devices):
        raise StoreUnavailable("database away")

    registry.lookup("k", "m1", "/iot/d", defer=True)
    store.iot.add_autoprovisioned = unavailable
    with pytest.raises(StoreUnavailable):
        registry.save_autoprovisioned()
    store.iot.add_autoprovisioned = real
    registry.lookup("k", "m1", "/iot/d", defer=True)  # the retried batch
    registry.save_autoprovisioned()
    assert saved(store) == ["m1"]


def test_a_lookup_outside_a_batch_saves_at_once(store: Store) -> None:
    store.iot.add_group(GROUP)
    Registry(store.iot).lookup("k", "m1", "/iot/d")
    assert saved(store) == ["m1"]
