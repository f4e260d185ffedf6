"""A small city for the dashboard tests, served by a real `madina serve` and filled through the
public APIs only: two districts (the stand-in basemap in `basemap/`), sensors of every domain
layer with some history, an active Alert, and an Open311 catalogue with a department per
district."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.test_scale_out import free_port

BASEMAP = Path(__file__).parent / "basemap"
ADMIN_TOKEN = "web-test-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NGSI = "/ngsi-ld/v1"
MADINA = [sys.executable, "-m", "madina.cli"]

WEST = [[[24.930, 60.160], [24.945, 60.160], [24.945, 60.175], [24.930, 60.175],
         [24.930, 60.160]]]
EAST = [[[24.945, 60.160], [24.960, 60.160], [24.960, 60.175], [24.945, 60.175],
         [24.945, 60.160]]]
CITY = [[[24.930, 60.160], [24.960, 60.160], [24.960, 60.175], [24.930, 60.175],
         [24.930, 60.160]]]
CATALOGUE = {
    "jurisdiction": {"jurisdiction_id": "web.example", "name": "Web Test City",
                     "boundary": {"type": "Polygon", "coordinates": CITY},
                     "contact": "open311@web.example"},
    "groups": [{"code": "streets", "name": "Streets"}],
    "services": [{
        "service_code": "pothole", "service_name": "Pothole", "description": "A hole in a road",
        "type": "realtime", "keywords": ["road"], "group": "streets",
        "attributes": [{"code": "size", "datatype": "singlevaluelist", "required": True,
                        "order": 1, "description": "How big is it?",
                        "values": [{"key": "s", "name": "Small"},
                                   {"key": "l", "name": "Large"}]}],
    }],
    "departments": [
        {"code": "roads-west", "name": "Roads, west",
         "service_areas": [{"service_code": "pothole",
                            "area": {"type": "Polygon", "coordinates": WEST}}]},
        {"code": "roads-east", "name": "Roads, east",
         "service_areas": [{"service_code": "pothole",
                            "area": {"type": "Polygon", "coordinates": EAST}}]},
    ],
}
AQ_WEST = "urn:ngsi-ld:AirQualityObserved:west-1"
AQ_EAST = "urn:ngsi-ld:AirQualityObserved:east-1"
ROAD = "urn:ngsi-ld:TrafficFlowObserved:main-street"
GAUGE = "urn:ngsi-ld:WaterObserved:bay"
FLOOD_STATION = "urn:ngsi-ld:FloodMonitoring:harbour"
ALERT = "urn:ngsi-ld:Alert:bay-flood"
BUILDING = "urn:ngsi-ld:Building:town-hall"


def prop(value: Any, at: datetime | None = None, unit: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "Property", "value": value}
    if at is not None:
        out["observedAt"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if unit is not None:
        out["unitCode"] = unit
    return out


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


class City:
    """`madina serve` on a free port with a temporary SQLite database and the stand-in
    basemap. Of the domains only safety runs (it turns the seeded flood gauge's reading into
    an Alert and a CAP warning); the other domains would recompute the seeded indices."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.db = str(directory / "city.db")
        self.log = directory / "server.log"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.api_key = ""
        self.proc: subprocess.Popen | None = None
        self.http = httpx.Client(base_url=self.base, headers=ADMIN, timeout=10)

    def env(self) -> dict[str, str]:
        env = {**os.environ, "MADINA_ADMIN_TOKEN": ADMIN_TOKEN, "MADINA_DOMAINS": "safety",
               "MADINA_WEB_BASEMAP": str(BASEMAP), "MADINA_WEB_OPEN311_API_KEY": self.api_key,
               "MADINA_RATE_LIMIT_PER_IP": "0", "MADINA_RATE_LIMIT_PER_CLIENT": "0"}
        env.pop("MADINA_DATABASE_URL", None)
        return env

    def start(self) -> City:
        key = subprocess.run([*MADINA, "open311", "key", "add", "Citizen portal", "--db", self.db],
                             capture_output=True, text=True, check=True, env=self.env())
        self.api_key = next(line.split(": ", 1)[1] for line in key.stdout.splitlines()
                            if line.startswith("api_key: "))
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [*MADINA, "serve", "--port", str(self.port), "--db", self.db],
                stdout=out, stderr=subprocess.STDOUT, env=self.env())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited:\n{self.log.read_text()}")
            try:
                if self.http.get("/health").status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError(f"the server did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        self.http.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)

    def ok(self, answer: httpx.Response) -> httpx.Response:
        assert answer.status_code < 300, f"{answer.request.url}: {answer.text}"
        return answer

    def upsert(self, *entities: dict[str, Any]) -> None:
        self.ok(self.http.post(f"{NGSI}/entityOperations/upsert", json=list(entities)))

    def patch(self, entity_id: str, attributes: dict[str, Any]) -> None:
        """Set attributes of an entity, adding those it lacks (append, overwriting)."""
        answer = self.ok(self.http.post(f"{NGSI}/entities/{entity_id}/attrs", json=attributes))
        assert answer.status_code == 204, answer.text

    def seed(self) -> None:
        """The city as the tests find it."""
        self.ok(self.http.put("/open311/v2/admin/catalogue", json=CATALOGUE))
        now = datetime.now(UTC).replace(microsecond=0)
        # An hour of NO2 at the west station, every 10 minutes: the history the chart draws.
        for minutes, no2 in ((60, 21.0), (50, 24.5), (40, 30.0), (30, 27.5), (20, 33.0),
                             (10, 29.0)):
            self.upsert({"id": AQ_WEST, "type": "AirQualityObserved",
                         "no2": prop(no2, now - timedelta(minutes=minutes), "GQ")})
        self.upsert({"id": BUILDING, "type": "Building",
                     "energyConsumption": prop(80.5, now - timedelta(seconds=3), "KWH"),
                     "emissionsScope2": prop(20.0, now - timedelta(seconds=3), "KGM")})
        self.upsert(
            {"id": AQ_WEST, "type": "AirQualityObserved", "location": point(24.937, 60.165),
             "no2": prop(26.0, now, "GQ"), "airQualityIndex": prop(42, now),
             "airQualityLevel": prop("good", now)},
            {"id": AQ_EAST, "type": "AirQualityObserved", "location": point(24.950, 60.163),
             "no2": prop(88.0, now, "GQ"), "airQualityIndex": prop(120, now),
             "airQualityLevel": prop("unhealthyForSensitiveGroups", now)},
            {"id": ROAD, "type": "TrafficFlowObserved",
             "location": {"type": "GeoProperty", "value": {
                 "type": "LineString", "coordinates": [[24.932, 60.1675], [24.944, 60.1675]]}},
             "averageVehicleSpeed": prop(12.0, now, "KMH"), "congested": prop(True, now)},
            {"id": "urn:ngsi-ld:TrafficFlowObserved:west-avenue", "type": "TrafficFlowObserved",
             "location": point(24.938, 60.171), "averageVehicleSpeed": prop(41.0, now, "KMH"),
             "congested": prop(False, now)},
            {"id": GAUGE, "type": "WaterObserved", "location": point(24.957, 60.1705),
             "height": prop(0.42, now, "MTR"), "floodWarningLevel": prop("normal", now)},
            {"id": BUILDING, "type": "Building", "location": point(24.941, 60.169),
             "energyConsumption": prop(120.0, now - timedelta(seconds=2), "KWH"),
             "emissionsScope2": prop(30.0, now - timedelta(seconds=2), "KGM")},
            {"id": FLOOD_STATION, "type": "FloodMonitoring", "location": point(24.958, 60.173),
             "alertLevel": prop(1.0, unit="MTR"), "dangerLevel": prop(2.0, unit="MTR"),
             "currentLevel": prop(1.4, now, "MTR")},
            {"id": ALERT, "type": "Alert", "location": point(24.956, 60.171),
             "category": prop("weather"), "subCategory": prop("flood"),
             "severity": prop("high"), "name": prop("Flood warning for the bay"),
             "description": prop("Water at the bay gauge is rising towards the warning level."),
             "dateIssued": prop({"@type": "DateTime",
                                 "@value": now.strftime("%Y-%m-%dT%H:%M:%SZ")})},
        )
