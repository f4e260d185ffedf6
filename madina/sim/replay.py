"""The demo city at work: set it up through Madina's public interfaces, then replay its day.

Set-up, as a city's integrators would do it: the sensors' service groups and devices through
the IoT Agent provisioning API (`/iot/services`, `/iot/devices`), the road segments and public
buildings through NGSI-LD (`entityOperations/upsert`), the Open311 catalogue and an app's
api_key through the Open311 admin API. Then every tick: each sensor publishes the readings that
fell due since the last tick as UltraLight over MQTT (several timestamped groups in one message
when the replay runs fast), citizens file the reports of that time through `POST
/open311/v2/requests.json`, and the districts' staff move earlier reports along (acknowledged,
in progress, fixed) through the admin API. Nothing is written to the store directly.
"""

from __future__ import annotations

import contextlib
import heapq
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion

from madina.sim import city, recording, reports, sensors
from madina.sim.clock import SimClock, default_start

log = structlog.get_logger("madina.sim")

NGSI_LD = "/ngsi-ld/v1"
TICK_S = 0.25
MAX_GROUPS_PER_MESSAGE = 120
"""Readings one message may carry; a replay further behind skips the oldest (and says so)."""
PROVISION_CHUNK = 50
APP_NAME = "Madina demo citizens' app"


@dataclass
class Stats:
    messages: int = 0
    readings: int = 0
    skipped: int = 0
    reports_filed: int = 0
    reports_refused: int = 0
    status_changes: int = 0
    sim_time: datetime | None = None


@dataclass(order=True)
class _Step:
    at: datetime
    request_id: str = field(compare=False)
    state: str = field(compare=False)
    note: str | None = field(compare=False, default=None)


class CitySimulation:
    """One replay of the demo city against a running Madina (`base_url`, admin `token`) and
    the MQTT broker its gateway listens to (`mqtt_url`)."""

    def __init__(self, base_url: str, token: str, mqtt_url: str, *, speed: float = 60.0,
                 seed: int = 1026, start: datetime | None = None) -> None:
        self.base_url = base_url
        self.token = token
        self.mqtt_url = mqtt_url
        self.seed = seed
        self.clock = SimClock(start or default_start(), speed)
        self.recording = recording.load()
        self.sensors = sensors.build(self.recording, seed)
        self.stats = Stats()
        self._last: dict[str, datetime] = {}
        self._reports_until: datetime | None = None
        self._steps: list[_Step] = []
        self._api_key: str | None = None
        self._mqtt: mqtt.Client | None = None

    # -- set-up -------------------------------------------------------------------------------
    def setup(self, client: httpx.Client) -> dict[str, int]:
        """Provision devices, publish static entities, load the Open311 catalogue; counts."""
        groups = [kind.group() for kind in sensors.KINDS]
        self._post_each(client, "/iot/services", "services", groups)
        devices = [sensor.device() for sensor in self.sensors]
        for first in range(0, len(devices), PROVISION_CHUNK):
            self._post_each(client, "/iot/devices", "devices",
                            devices[first:first + PROVISION_CHUNK])
        entities = city.static_entities(self.recording)
        answer = client.post(f"{NGSI_LD}/entityOperations/upsert", json=entities)
        _check(answer, "static entities upsert", (200, 201, 204))
        answer = client.put("/open311/v2/admin/catalogue", json=city.catalogue())
        _check(answer, "Open311 catalogue", (200, 201, 204))
        answer = client.post("/open311/v2/admin/keys", json={"name": APP_NAME})
        _check(answer, "Open311 api_key", (201,))
        self._api_key = answer.json()["secret"]
        return {"devices": len(devices), "static_entities": len(entities),
                "departments": len(city.catalogue()["departments"])}

    @staticmethod
    def _post_each(client: httpx.Client, path: str, member: str,
                   items: list[dict[str, Any]]) -> None:
        """Create them all at once; on a database that has some already (a second demo run),
        one by one, leaving the existing ones."""
        answer = client.post(path, json={member: items})
        if answer.status_code == 201:
            return
        if answer.status_code != 409:
            _check(answer, f"POST {path}", (201,))
        for item in items:
            answer = client.post(path, json={member: [item]})
            if answer.status_code not in (201, 409):
                _check(answer, f"POST {path}", (201,))

    # -- replay -------------------------------------------------------------------------------
    def connect(self) -> None:
        parts = urlsplit(self.mqtt_url)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"madina-sim-{self.seed}",
                             clean_session=True)
        if parts.username:
            client.username_pw_set(parts.username, parts.password)
        if parts.scheme == "mqtts":
            client.tls_set()
        client.max_queued_messages_set(0)
        client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        client.loop_start()
        self._mqtt = client

    def close(self) -> None:
        if self._mqtt is not None:
            self._mqtt.disconnect()
            self._mqtt.loop_stop()
            self._mqtt = None

    def run(self, client: httpx.Client, stop: threading.Event,
            duration_s: float | None = None) -> Stats:
        """Tick until `stop` is set (or `duration_s` of wall time has passed)."""
        self.connect()
        self.clock.begin()
        deadline = None if duration_s is None else time.monotonic() + duration_s
        try:
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                began = time.monotonic()
                self.tick(client, self.clock.now())
                stop.wait(max(0.0, TICK_S - (time.monotonic() - began)))
        finally:
            self.close()
        return self.stats

    def tick(self, client: httpx.Client, now: datetime) -> None:
        self.stats.sim_time = now
        self.publish_due(now)
        self.file_reports(client, now)
        self.move_reports(client, now)

    def publish_due(self, now: datetime) -> None:
        assert self._mqtt is not None, "connect() first"
        for sensor in self.sensors:
            groups = []
            for at in self.due(sensor, now):
                values = sensor.read(at)
                if values:
                    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
                    groups.append("|".join([stamp, *(f"{k}|{v}" for k, v in values.items())]))
            if groups:
                topic = f"/ul/{sensor.kind.apikey}/{sensor.device_id}/attrs"
                self._mqtt.publish(topic, "#".join(groups), qos=1)
                self.stats.messages += 1
                self.stats.readings += len(groups)

    def due(self, sensor: sensors.Sensor, now: datetime) -> list[datetime]:
        """The sensor's reading times in (last published, now], on its period's grid; at
        first only the latest, so the city starts from its present state."""
        period = sensor.kind.period_s
        latest = datetime.fromtimestamp(int(now.timestamp()) // period * period, UTC)
        last = self._last.get(sensor.device_id)
        if last is None:
            last = latest - timedelta(seconds=period)
        count = int((latest - last).total_seconds() // period)
        if count <= 0:
            return []
        if count > MAX_GROUPS_PER_MESSAGE:
            self.stats.skipped += count - MAX_GROUPS_PER_MESSAGE
            count = MAX_GROUPS_PER_MESSAGE
        self._last[sensor.device_id] = latest
        return [latest - timedelta(seconds=period * n) for n in range(count - 1, -1, -1)]

    def file_reports(self, client: httpx.Client, now: datetime) -> None:
        since = self._reports_until or now
        self._reports_until = now
        for report in reports.reports_between(self.seed, since, now):
            form = {**report.form(), "api_key": self._api_key or ""}
            answer = client.post("/open311/v2/requests.json", data=form)
            if answer.status_code != 201:
                self.stats.reports_refused += 1
                log.warning("simulated report refused", status=answer.status_code,
                            answer=answer.text[:300])
                continue
            self.stats.reports_filed += 1
            request_id = answer.json()[0].get("service_request_id")
            if request_id:
                self._plan(report, str(request_id))

    def _plan(self, report: reports.Report, request_id: str) -> None:
        """The department's answer: acknowledged within the hour, worked on, fixed."""
        taken = report.at + (report.close_at - report.at) * 0.15
        working = report.at + (report.close_at - report.at) * 0.5
        heapq.heappush(self._steps, _Step(taken, request_id, "acknowledged"))
        heapq.heappush(self._steps, _Step(working, request_id, "in_progress"))
        heapq.heappush(self._steps, _Step(report.close_at, request_id, "fixed",
                                          reports.CLOSING_NOTES[report.service_code]))

    def move_reports(self, client: httpx.Client, now: datetime) -> None:
        while self._steps and self._steps[0].at <= now:
            step = heapq.heappop(self._steps)
            body: dict[str, Any] = {"state": step.state}
            if step.note:
                body["status_notes"] = step.note
            answer = client.patch(f"/open311/v2/admin/requests/{step.request_id}", json=body)
            if answer.status_code == 200:
                self.stats.status_changes += 1
            else:
                log.warning("simulated status change refused", request=step.request_id,
                            status=answer.status_code, answer=answer.text[:300])


def _check(answer: httpx.Response, what: str, ok: tuple[int, ...]) -> None:
    if answer.status_code not in ok:
        raise RuntimeError(f"{what} answered {answer.status_code}: {answer.text[:300]}")


def run_simulation(base_url: str, token: str, mqtt_url: str, *, speed: float, seed: int,
                   stop: threading.Event, start: datetime | None = None,
                   duration_s: float | None = None) -> Stats:
    """Set up the demo city and replay it until `stop` (what `madina sim run` and `madina demo`
    call; blocks)."""
    simulation = CitySimulation(base_url, token, mqtt_url, speed=speed, seed=seed, start=start)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30.0) as client:
        counts = simulation.setup(client)
        log.info("demo city set up", **counts, speed=speed, seed=seed,
                 start=simulation.clock.start.isoformat())
        with contextlib.suppress(KeyboardInterrupt):
            return simulation.run(client, stop, duration_s)
    return simulation.stats
