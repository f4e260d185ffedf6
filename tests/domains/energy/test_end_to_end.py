"""Energy end to end on both storage engines: ACMeasurement readings into the broker, the domain
runtime running the energy service, Building figures and district KPIs stored."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from madina.config import Settings
from madina.context.broker import Broker
from madina.domains.energy.service import EnergyService
from madina.domains.energy.settings import BuildingSettings, EnergySettings
from madina.domains.runtime import DomainRuntime
from madina.domains.writes import Write
from madina.events.feed import ChangeFeed
from tests.context.entity_helpers import DEFAULT, Terms
from tests.domains.energy.test_service import BUILDING, METER, MONDAY, QUARTER, ac_meter


class Counting(EnergyService):
    """The real service, counting the changes it was given."""

    calls = 0

    def react(self, entity: dict[str, Any], now: datetime) -> list[Write]:
        self.calls += 1
        return super().react(entity, now)


async def reacted(feed: ChangeFeed, service: Counting, calls: int) -> None:
    """Wait until the service has seen `calls` changes and the runtime has committed them (one
    change per runtime batch; see tests/domains/traffic/test_end_to_end.py)."""
    for _ in range(500):
        await feed.read()
        if service.calls >= calls:
            break
        await asyncio.sleep(0.01)
    for _ in range(3):
        await feed.read()
        await asyncio.sleep(0.01)


def test_readings_in_building_figures_and_kpis_out(settings: Settings) -> None:
    async def scenario() -> None:
        store = settings.store()
        store.open()
        broker = Broker(store)
        feed = ChangeFeed(store, poll_interval=3600)
        await feed.start()
        service = Counting(EnergySettings(
            region="GB", buildings={BUILDING: BuildingSettings(district="Kallio")},
        ))
        runtime = DomainRuntime(broker, feed, [service])
        broker.committed.append(feed.wake)
        await runtime.start()
        try:
            while runtime.leading is None:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.01)
            register = 1000.0
            for k in range(5):  # quarters of 10, 11, 12, 13 kWh: the 00:00 hour closes at 01:00
                result = broker.batch_upsert(
                    "t", [(ac_meter(register, MONDAY + k * QUARTER), Terms())], replace=False
                )
                assert not result.errors
                register += 10 + k
                await reacted(feed, service, k + 1)
            building = store.get("t", BUILDING)
            assert building is not None and building["type"] == [DEFAULT + "Building"]
            [energy] = building[DEFAULT + "energyConsumption"]
            assert energy["value"] == 46.0 and energy["unitCode"] == "KWH"
            [scope2] = building[DEFAULT + "emissionsScope2"]
            assert scope2["value"] == 8.142  # 46 kWh × 0.177 kg CO2e/kWh (DESNZ 2025)
            assert DEFAULT + "emissionFactors" in scope2
            assert building[DEFAULT + "peakDemand"][0]["value"] == 52.0
            kpi = store.get("t", "urn:ngsi-ld:KeyPerformanceIndicator:energy-consumption:Kallio")
            assert kpi is not None
            assert kpi[DEFAULT + "kpiValue"][0]["value"] == 46.0
            assert store.get("t", METER) is not None
        finally:
            await runtime.stop()
            await feed.stop()
            store.close()

    asyncio.run(scenario())
