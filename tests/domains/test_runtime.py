"""The domain runtime: watched changes in, derived attributes and alerts out through the broker,
once per change however many processes run, and never reacting to its own writes."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest

from madina.config import Settings
from madina.context.broker import Broker
from madina.domains.runtime import DomainRuntime, local_name, namespace
from madina.domains.writes import Write
from madina.events.feed import ChangeFeed
from tests.context.entity_helpers import DEFAULT, Terms


class Doubler:
    """A tiny real service: derives `doubled` and raises an Alert above 10."""

    watched_types = frozenset({"Sensor"})

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def react(self, entity: dict[str, Any], now: datetime) -> list[Write]:
        self.seen.append(entity)
        value = entity["temperature"]["value"]
        writes = [Write(entity["id"], "Sensor",
                        {"doubled": {"type": "Property", "value": 2 * value}})]
        if value > 10:
            writes.append(Write(f"urn:ngsi-ld:Alert:{entity['id']}", "Alert", {
                "severity": {"type": "Property", "value": "high"},
                "alertSource": {"type": "Relationship", "object": entity["id"]},
            }))
        return writes


def sensor(value: float) -> dict:
    return {"id": "urn:ngsi-ld:Sensor:1", "type": "Sensor",
            "temperature": {"type": "Property", "value": value}}


async def settle(feed: ChangeFeed, runtime: DomainRuntime, rounds: int = 20) -> None:
    for _ in range(rounds):
        await feed.read()
        await asyncio.sleep(0.01)


def test_names() -> None:
    iri = "https://smartdatamodels.org/dataModel.Environment/pm25"
    assert local_name(iri) == "pm25"
    assert namespace(iri) == "https://smartdatamodels.org/dataModel.Environment/"
    assert local_name("urn:x#y") == "y"


@pytest.mark.parametrize("engine", ["sqlite", "postgres"], indirect=True)
def test_derives_once_and_ignores_its_own_echo(settings: Settings) -> None:
    async def scenario() -> None:
        store = settings.store()
        store.open()
        broker = Broker(store)
        feed = ChangeFeed(store, poll_interval=3600)
        await feed.start()
        service = Doubler()
        runtime = DomainRuntime(broker, feed, [service])
        broker.committed.append(feed.wake)
        await runtime.start()
        standby_store = settings.store()
        standby_store.open()
        standby = DomainRuntime(Broker(standby_store), feed, [Doubler()])
        try:
            await asyncio.sleep(0.05)
            assert runtime.leading is not None
            await standby.start()
            await asyncio.sleep(0.05)
            assert standby.leading is None  # one process leads

            broker.create("t", sensor(4), Terms())
            await settle(feed, runtime)
            doc = store.get("t", "urn:ngsi-ld:Sensor:1")
            assert doc[DEFAULT + "doubled"][0]["value"] == 8
            broker.update_attrs("t", "urn:ngsi-ld:Sensor:1",
                                {"temperature": {"type": "Property", "value": 12}}, Terms())
            await settle(feed, runtime)
            assert store.get("t", "urn:ngsi-ld:Sensor:1")[DEFAULT + "doubled"][0]["value"] == 24
            alert = store.get("t", "urn:ngsi-ld:Alert:urn:ngsi-ld:Sensor:1")
            assert alert["type"] == [DEFAULT + "Alert"]
            assert alert[DEFAULT + "alertSource"][0]["object"] == "urn:ngsi-ld:Sensor:1"
            # Two real changes, two reactions: its own writes did not come back as news.
            assert [e["temperature"]["value"] for e in service.seen] == [4, 12]
        finally:
            await runtime.stop()
            await standby.stop()
            await feed.stop()
            standby_store.close()
            store.close()

    asyncio.run(scenario())
