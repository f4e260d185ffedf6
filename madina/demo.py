"""`madina demo`: a broker with something in it, one command after cloning.

The demo runs the real server (uvicorn, as `madina serve` does) and fills it the way a city would:
through the public NGSI-LD HTTP API, never by writing to the store. That keeps the demo honest — if
it loads, the API a client would use works — and lets it double as a smoke test.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import tempfile
import threading
import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from madina.app import create_app
from madina.config import Settings
from madina.context.broker import Broker
from madina.iot.demo_devices import start_devices
from madina.iot.embedded_broker import EmbeddedBroker
from madina.services.open311.service import Open311Service
from madina.store.engines import is_postgres

NGSI_LD = "/ngsi-ld/v1"
HELSINKI = (24.9384, 60.1699)
"""Lon/lat of Helsinki's centre (Senate Square area): generated entities cluster around it."""
EXAMPLE_MODELS = (
    "AirQualityObserved",
    "TrafficFlowObserved",
    "ParkingSpot",
    "Streetlight",
    "WeatherObserved",
    "Open311_ServiceRequest",
)
STARTUP_TIMEOUT_S = 30.0
BATCH_SIZE = 100


def run_demo(host: str, port: int, db: str, speed: float = 60.0, seed: int = 1026) -> None:
    """Serve a broker on `host:port` backed by `db` and load the demo city into it, then replay
    the simulated city (`madina.sim`) at `speed` with `seed` until the server stops.

    Blocks until the server stops (Ctrl-C). The loader runs in a side thread so that uvicorn keeps
    the main thread and with it the signal handling that makes Ctrl-C a clean shutdown. Access
    control stays on: the demo writes with an admin token (MADINA_ADMIN_TOKEN, else a random one
    for this run) and prints it, so trying a write shows what a real deployment asks for.
    """
    settings = Settings(database=db, host=host, port=port)
    token = settings.admin_token or secrets.token_urlsafe(24)
    settings = settings.model_copy(update={"admin_token": token})
    if not settings.web_open311_api_key:  # the citizen portal reports as an app of its own
        settings = settings.model_copy(update={"web_open311_api_key": _portal_key(settings)})
    settings = _demo_city_settings(settings)
    embedded = None
    if not settings.mqtt_url:  # no broker of the city's: one in the process, for devices
        embedded = EmbeddedBroker()
        embedded.start()
        settings = settings.model_copy(update={
            "mqtt_url": embedded.url, "mqtt_version": "3.1.1", "mqtt_share_group": ""})
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
    )  # the same uvicorn settings as `madina serve`; logging is configured by the CLI
    server = uvicorn.Server(config)
    base_url = f"http://{_client_host(host)}:{port}"
    stop = threading.Event()
    loader = threading.Thread(target=_load_when_ready,
                              args=(server, base_url, token, settings.mqtt_url, stop, speed,
                                    seed), daemon=True)
    loader.start()
    try:
        server.run()
    finally:
        stop.set()
        loader.join(timeout=10)
        if embedded is not None:
            embedded.stop()


def _portal_key(settings: Settings) -> str:
    """A new Open311 api_key for the citizen portal (/citizen) in the demo's database: the
    server must know it at start, before the loader could ask the admin API for one."""
    store = settings.store()
    store.open()
    try:
        _, secret = Open311Service(store, Broker(store)).create_key("", "Citizen portal")
    finally:
        store.close()
    return secret


DEMO_CHANGE_LOG_HOURS = 2.0
"""The demo keeps two hours of change log (for live streams resuming), not a city's day: at the
replay's speed a day of changes would be most of its database."""


def _demo_city_settings(settings: Settings) -> Settings:
    """The demo city's domain settings (time zone, speed limits, floor areas: `madina.sim.city`)
    unless MADINA_DOMAINS_CONFIG names a file, and a short change log. The settings file goes
    beside an SQLite database (the demo's data directory), else to the temporary directory."""
    update: dict[str, Any] = {"change_log_retention_hours": DEMO_CHANGE_LOG_HOURS}
    if not settings.domains_config:
        from madina.sim.city import domains_config

        database = settings.store_database
        folder = Path(tempfile.gettempdir()) if is_postgres(database) else Path(database).parent
        path = folder / "madina-demo-domains.toml"
        path.write_text(domains_config(), encoding="utf-8")
        update["domains_config"] = str(path)
    return settings.model_copy(update=update)


def _client_host(host: str) -> str:
    """Where a local client reaches a server bound to `host` (a wildcard bind is not an address)."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _load_when_ready(server: uvicorn.Server, base_url: str, token: str, mqtt_url: str,
                     stop: threading.Event, speed: float, seed: int) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the loader's requests are not news
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, timeout=30.0, headers=headers) as client:
        if not _wait_for_health(client):
            print(f"madina demo: broker did not answer {base_url}/health; stopping")
            server.should_exit = True
            return
        try:
            loaded = load_demo_entities(client)
            devices = start_devices(client, mqtt_url)
        except (httpx.HTTPError, RuntimeError, OSError) as error:
            print(f"madina demo: loading the demo city failed: {error}")
            server.should_exit = True
            return
    print(_welcome(base_url, loaded, token))
    print("\n".join([*devices, ""]))
    _simulate(server, base_url, token, mqtt_url, stop, speed, seed)


def _simulate(server: uvicorn.Server, base_url: str, token: str, mqtt_url: str,
              stop: threading.Event, speed: float, seed: int) -> None:
    """Replay the demo city until the server stops; a failure stops the demo, loudly."""
    from madina.sim.replay import run_simulation

    print(f"Simulated Helsinki: {speed:g} simulated seconds per second, seed {seed} "
          "(docs/demo.md tells what happens when)")
    try:
        run_simulation(base_url, token, mqtt_url, speed=speed, seed=seed, stop=stop)
    except (httpx.HTTPError, RuntimeError, OSError) as error:
        print(f"madina demo: the city simulation failed: {error}")
        server.should_exit = True


def _wait_for_health(client: httpx.Client) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if client.get("/health").status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


def load_demo_entities(client: httpx.Client) -> int:
    """Upsert the example and generated entities through the batch API; return how many.

    Upsert, not create, so that running the demo twice on the same database just refreshes it.
    """
    entities = example_entities() + generated_entities()
    for start in range(0, len(entities), BATCH_SIZE):
        batch = entities[start : start + BATCH_SIZE]
        response = client.post(f"{NGSI_LD}/entityOperations/upsert", json=batch)
        if response.status_code not in (200, 201, 204):
            raise RuntimeError(f"upsert answered {response.status_code}: {response.text[:500]}")
    return len(entities)


def example_entities() -> list[dict[str, Any]]:
    """The shipped Smart Data Models examples (normalized form), under the core context.

    Their own `@context` URLs are dropped: the demo must behave the same on an air-gapped laptop,
    and under the core context the curl tour works without a Link header. The conformance tests are
    where the examples' own contexts are exercised.
    """
    folder = resources.files("madina") / "data" / "examples"
    entities = []
    for model in EXAMPLE_MODELS:
        entity = json.loads((folder / f"{model}.normalized.json").read_text(encoding="utf-8"))
        entity.pop("@context", None)
        entities.append(entity)
    return entities


def generated_entities(seed: int = 1026) -> list[dict[str, Any]]:
    """A few dozen air-quality stations and parking spots scattered around central Helsinki.

    Seeded, so every demo shows the same city and the URLs printed at start-up find something.
    """
    rng = random.Random(seed)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    stations = [_air_quality_station(i, rng, now) for i in range(1, 25)]
    spots = [_parking_spot(i, rng, now) for i in range(1, 41)]
    return stations + spots


def _point_near_centre(rng: random.Random, spread_deg: float) -> dict[str, Any]:
    lon = HELSINKI[0] + rng.uniform(-2 * spread_deg, 2 * spread_deg)
    lat = HELSINKI[1] + rng.uniform(-spread_deg, spread_deg)
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def _measure(value: float, unit: str, observed_at: str) -> dict[str, Any]:
    return {"type": "Property", "value": value, "unitCode": unit, "observedAt": observed_at}


def _air_quality_station(number: int, rng: random.Random, now: str) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:AirQualityObserved:helsinki-{number:03d}",
        "type": "AirQualityObserved",
        "name": {"type": "Property", "value": f"Helsinki air quality station {number}"},
        "location": _point_near_centre(rng, 0.03),
        "NO2": _measure(round(rng.uniform(5, 80), 1), "GQ", now),
        "PM2_5": _measure(round(rng.uniform(1, 30), 1), "GQ", now),
        "PM10": _measure(round(rng.uniform(3, 60), 1), "GQ", now),
        "O3": _measure(round(rng.uniform(20, 110), 1), "GQ", now),
        "temperature": _measure(round(rng.uniform(-10, 25), 1), "CEL", now),
    }


def _parking_spot(number: int, rng: random.Random, now: str) -> dict[str, Any]:
    status = rng.choice(["free", "free", "occupied", "occupied", "occupied", "closed"])
    return {
        "id": f"urn:ngsi-ld:ParkingSpot:helsinki-{number:03d}",
        "type": "ParkingSpot",
        "name": {"type": "Property", "value": f"P-{number:03d}"},
        "category": {"type": "Property", "value": ["onStreet"]},
        "status": {"type": "Property", "value": status, "observedAt": now},
        "location": _point_near_centre(rng, 0.01),
    }


def _welcome(base_url: str, loaded: int, token: str) -> str:
    api = f"{base_url}{NGSI_LD}"
    lon, lat = HELSINKI
    near = f"georel=near;maxDistance==1000&geometry=Point&coordinates=%5B{lon},{lat}%5D"
    return "\n".join(
        [
            "",
            f"Madina demo is up: {loaded} entities loaded through {api}",
            f"In a browser: the control room at {base_url}/ (staff sign-in: paste the admin "
            f"token below), the citizen portal at {base_url}/citizen",
            "Try:",
            f"  curl '{api}/entities?type=AirQualityObserved&limit=5'",
            f"  curl '{api}/entities?type=AirQualityObserved&q=NO2%3E40&options=keyValues'",
            f"  curl '{api}/entities?type=ParkingSpot&q=status==%22free%22&{near}'",
            f"  curl '{api}/entities/urn:ngsi-ld:ParkingSpot:helsinki-001'",
            f"  curl '{base_url}/health'",
            "Reads are open; writes need a credential. This run's admin token:",
            f"  TOKEN={token}",
            f"  curl -X PATCH '{api}/entities/urn:ngsi-ld:ParkingSpot:helsinki-001/attrs' "
            "-H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' "
            "-d '{\"status\": {\"type\": \"Property\", \"value\": \"free\"}}'",
            "Ctrl-C stops the demo; its data stays only with --data-dir or --db.",
            "",
        ]
    )
