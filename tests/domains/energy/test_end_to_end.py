"""Energy end to end on both storage engines: ACMeasurement readings into the broker, the domain
runtime running the energy service, Building figures and district KPIs stored."""

from __future__ import annotations

import asyncio

from madina.config import Settings
from madina.domains.energy.service import EnergyService
from madina.domains.energy.settings import BuildingSettings, EnergySettings
from tests.context.entity_helpers import DEFAULT, Terms
from tests.domains.end_to_end import Counting, reacted, running
from tests.domains.energy.test_service import BUILDING, METER, MONDAY, QUARTER, ac_meter


class CountingEnergy(Counting, EnergyService):
    pass


def test_readings_in_building_figures_and_kpis_out(settings: Settings) -> None:
    async def scenario() -> None:
        service = CountingEnergy(EnergySettings(
            region="GB", buildings={BUILDING: BuildingSettings(district="Kallio")},
        ))
        async with running(settings, [service]) as (store, broker, feed):
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

    asyncio.run(scenario())
