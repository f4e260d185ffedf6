"""A real server killed during ingestion loses no measure the MQTT broker acknowledged to the
device: what the gateway had not acknowledged (not yet committed) is delivered again when it
comes back, and what was published while it was down waits in its session."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from tests.iot.mqtt_helpers import Device, eventually
from tests.services import require_mqtt

DEVICES = 20
MEASURES = 400
KILL_AT = 150


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(env: dict[str, str], port: int, db: Path, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "madina.cli", "serve", "--port", str(port), "--db", str(db)]
    with log.open("ab") as sink:
        server = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    eventually(lambda: _healthy(port, server, log), timeout=30)
    return server


def _healthy(port: int, server: subprocess.Popen, log: Path) -> bool:
    assert server.poll() is None, log.read_text()[-2000:]
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_a_killed_server_loses_no_acknowledged_measure(tmp_path) -> None:
    url = require_mqtt()
    tag = uuid.uuid4().hex[:8]
    key, port = f"restart-{tag}", free_port()
    env = {**os.environ, "MADINA_MQTT_URL": url, "MADINA_MQTT_CLIENT_ID": f"madina-{key}",
           "MADINA_MQTT_SHARE_GROUP": tag, "MADINA_MQTT_SESSION_EXPIRY_S": "120",
           "MADINA_ADMIN_TOKEN": "restart-token", "MADINA_LOG_LEVEL": "warning",
           "MADINA_DATABASE_URL": ""}
    db, log = tmp_path / "madina.db", tmp_path / "server.log"
    api = f"http://127.0.0.1:{port}"
    admin = {"Authorization": "Bearer restart-token"}
    server = start(env, port, db, log)
    device = Device(url)
    try:
        group = {"apikey": key, "resource": "/iot/d", "entity_type": "Meter"}
        assert httpx.post(f"{api}/iot/services", json={"services": [group]},
                          headers=admin).status_code == 201
        device.publish(f"/ul/{key}/probe/attrs", "x|1")  # the gateway is subscribed
        eventually(lambda: httpx.get(f"{api}/ngsi-ld/v1/entities/urn:ngsi-ld:Meter:probe")
                   .status_code == 200, timeout=20)
        for i in range(MEASURES):
            device.publish(f"/ul/{key}/d{i % DEVICES}/attrs", f"s{i}|{i}")  # PUBACKed
            if i == KILL_AT:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        server = start(env, port, db, log)

        def all_landed() -> bool:
            for d in range(DEVICES):
                answer = httpx.get(f"{api}/ngsi-ld/v1/entities/urn:ngsi-ld:Meter:d{d}",
                                   params={"options": "keyValues"})
                if answer.status_code != 200:
                    return False
                entity = answer.json()
                wanted = {f"s{i}": str(i) for i in range(d, MEASURES, DEVICES)}
                if any(entity.get(name) != text for name, text in wanted.items()):
                    return False
            return True

        eventually(all_landed, timeout=60)
    finally:
        device.close()
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGINT)
            server.wait(timeout=15)
