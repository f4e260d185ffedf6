"""Traffic end to end on both storage engines: TrafficFlowObserved updates into the broker, the
domain runtime running the traffic service, derived attributes and the incident Alert stored."""

from __future__ import annotations

import asyncio
from datetime import time

from madina.config import Settings
from madina.domains.traffic.reliability import ReliabilityPeriod
from madina.domains.traffic.service import TrafficService
from madina.domains.traffic.settings import TrafficSettings
from tests.context.entity_helpers import DEFAULT, Terms
from tests.domains.end_to_end import Counting, reacted, running
from tests.domains.traffic.test_service import DETECTOR, STEP, T0, normal, queued


class CountingTraffic(Counting, TrafficService):
    pass


def test_measures_in_attributes_and_alert_out(settings: Settings) -> None:
    async def scenario() -> None:
        period = ReliabilityPeriod("early", time(6), time(7))
        service = CountingTraffic(TrafficSettings(reliability_periods=(period,),
                                                  reliability_min_samples=1))
        async with running(settings, [service]) as (store, broker, feed):
            for i in range(14):
                entity = queued(i) if i >= 12 else normal(i)
                result = broker.batch_upsert("t", [(entity, Terms())], replace=False)
                assert not result.errors
                await reacted(feed, service, i + 1)
            doc = store.get("t", DETECTOR)
            assert doc[DEFAULT + "congested"][0]["value"] is True
            # Last interval: 30 vehicles in 5 minutes at 25 km/h = 14.4 veh/km = 23.2 veh/mi.
            assert doc[DEFAULT + "density"][0]["value"] == 14.4
            assert doc[DEFAULT + "density"][0]["observedAt"].startswith("2025-03-03T07:05:00")
            assert doc[DEFAULT + "levelOfService"][0]["value"] == "C"
            assert doc[DEFAULT + "freeFlowSpeed"][0]["unitCode"] == "KMH"
            # The 06:00-07:00 period closed with the 07:00 interval: one instance per period.
            [tti] = doc[DEFAULT + "travelTimeIndex"]
            assert tti["datasetId"] == "urn:ngsi-ld:ReliabilityPeriod:early"
            onset = int((T0 + 12 * STEP).timestamp())
            alert = store.get("t", f"urn:ngsi-ld:Alert:traffic-incident:{DETECTOR}:{onset}")
            assert alert is not None
            assert alert[DEFAULT + "category"][0]["value"] == "traffic"
            assert alert[DEFAULT + "severity"][0]["value"] == "high"
            assert alert[DEFAULT + "alertSource"][0]["object"] == DETECTOR

    asyncio.run(scenario())
