"""The IoT provisioning tables on both engines: keys, scopes, revision, queued commands."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from madina.store.iot import ProvisionedRecord
from tests.services.migrated import migrated_schema


@pytest.fixture(params=["sqlite", "postgres"])
def iot(request, tmp_path) -> Iterator:
    if request.param == "sqlite":
        from madina.store.sqlite import SQLiteStore

        store = SQLiteStore(str(tmp_path / "iot.db"))
        store.open()
        yield store.iot
        store.close()
        return
    from madina.store.postgres import PostgresStore

    with migrated_schema() as url:
        store = PostgresStore(url, pool_size=2)
        store.open()
        yield store.iot
        store.close()


GROUP = ProvisionedRecord("city", "/lights", "key1", "/iot/d", {"entity_type": "Lamp"})
DEVICE = ProvisionedRecord("city", "/lights", "key1", "lamp1", {"device_id": "lamp1", "n": "x"})


def test_groups(iot) -> None:
    before = iot.revision()
    assert iot.add_group(GROUP)
    assert iot.revision() != before
    assert not iot.add_group(ProvisionedRecord("other", "/", "key1", "/iot/d", {}))
    assert iot.add_group(ProvisionedRecord("city", "/", "key1", "/iot/json", {"a": 1}))
    assert iot.group("key1", "/iot/d") == GROUP
    assert [g.key for g in iot.groups_by_apikey("key1")] == ["/iot/d", "/iot/json"]
    assert [g.key for g in iot.groups("city", "/lights")] == ["/iot/d"]
    assert len(iot.groups("city", None)) == 2
    assert iot.groups("elsewhere", None) == []
    changed = ProvisionedRecord("city", "/lights", "key1", "/iot/d", {"entity_type": "Pole"})
    assert iot.replace_group(changed)
    assert iot.group("key1", "/iot/d").doc == {"entity_type": "Pole"}
    assert not iot.delete_group("city", "/", "key1", "/iot/d")  # another service path
    assert iot.delete_group("city", "/lights", "key1", "/iot/d")
    assert iot.group("key1", "/iot/d") is None


def test_devices_and_commands(iot) -> None:
    assert iot.add_device(DEVICE)
    assert not iot.add_device(DEVICE)
    assert iot.add_device(ProvisionedRecord("city", "/", "key2", "lamp1", {"device_id": "lamp1"}))
    assert iot.device("key1", "lamp1") == DEVICE
    assert iot.device("key1", "nope") is None
    page, count = iot.devices("city", None, limit=1)
    assert count == 2 and len(page) == 1
    assert iot.devices("city", "/lights")[1] == 1
    assert [d.apikey for d in iot.devices("city", None, "lamp1")[0]] == ["key2", "key1"]
    iot.queue_command("key1", "lamp1", "on", "22")
    iot.queue_command("key1", "lamp1", "dim", {"level": 3})
    iot.queue_command("key1", "lamp1", "on", "23")  # replaces the older "on"
    assert iot.take_commands("key1", "lamp1") == [("dim", {"level": 3}), ("on", "23")]
    assert iot.take_commands("key1", "lamp1") == []
    iot.queue_command("key1", "lamp1", "on", "1")
    assert iot.replace_device(ProvisionedRecord("city", "/lights", "key1", "lamp1", {"x": 1}))
    assert iot.device("key1", "lamp1").doc == {"x": 1}
    assert iot.delete_device("city", "/lights", "key1", "lamp1")
    assert iot.take_commands("key1", "lamp1") == []
    assert not iot.delete_device("city", "/lights", "key1", "lamp1")
