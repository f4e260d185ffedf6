"""The gateway's MQTT client across a broker restart: it reconnects and subscribes again on its
own, measures flow again, and a command sent while the broker was away reaches the device
once it is back. A Mosquitto of the test's own (the `mosquitto` binary CI installs), so it can
be stopped and started."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from madina.app import create_app
from madina.config import Settings
from tests.iot.mqtt_helpers import Device, eventually
from tests.iot.test_mqtt import CITY, provision, value
from tests.services import unavailable


class Broker:
    def __init__(self, workdir: Path, password: str | None = None) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            unavailable("the mosquitto binary is not installed (apt-get install mosquitto)")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.config = workdir / "mosquitto.conf"
        access = "allow_anonymous true\n"
        if password is not None:  # one user, "gateway"
            passwords = workdir / "passwords"
            passwords.touch(mode=0o600)
            tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
            subprocess.run([tool, "-b", str(passwords), "gateway", password], check=True)
            # Run as this user: Mosquitto started by root would switch to its own user, which
            # cannot read a file in the test's private directory.
            access = (f"allow_anonymous false\npassword_file {passwords}\n"
                      f"user {getpass.getuser()}\n")
        self.config.write_text(f"listener {self.port} 127.0.0.1\n{access}"
                               "persistence false\nlog_dest none\n")
        self.binary = binary
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen([self.binary, "-c", str(self.config)])
        eventually(self._listening, timeout=10)

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    broker = Broker(tmp_path)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def client(settings: Settings, broker: Broker) -> Iterator[TestClient]:
    settings = settings.model_copy(update={
        "mqtt_url": broker.url, "mqtt_client_id": f"madina-test-{uuid.uuid4().hex[:8]}",
        "mqtt_session_expiry_s": 60})
    headers = {"Authorization": f"Bearer {settings.admin_token}"}
    with TestClient(create_app(settings), headers=headers) as client:
        assert client.app.state.iot.mqtt.connected.wait(10), "the gateway did not connect"
        yield client


def stop(broker: Broker, client: TestClient) -> None:
    """Stop the broker and wait until the gateway has noticed (it then waits a second or
    more before it tries again, so what a test does right after a start comes first)."""
    broker.stop()
    eventually(lambda: not client.app.state.iot.mqtt.connected.is_set(), timeout=10)


def test_measures_flow_again_after_the_broker_restarts(client: TestClient,
                                                       broker: Broker) -> None:
    provision(client, "k1")
    device = Device(broker.url)
    device.publish("/ul/k1/s1/attrs", "t|1")
    eventually(lambda: value(client, "urn:ngsi-ld:Sensor:s1", "temperature") == 1)
    device.close()

    stop(broker, client)
    broker.start()
    assert client.app.state.iot.mqtt.connected.wait(40), "the gateway did not reconnect"
    device = Device(broker.url)
    try:
        device.publish("/ul/k1/s1/attrs", "t|2")
        eventually(lambda: value(client, "urn:ngsi-ld:Sensor:s1", "temperature") == 2)
    finally:
        device.close()


def test_a_command_sent_while_the_broker_is_away_arrives_after_it_returns(
        client: TestClient, broker: Broker) -> None:
    provision(client, "k2", commands=[{"name": "ping"}])
    lamp = [{"device_id": "lamp", "entity_type": "Sensor", "transport": "MQTT"}]
    assert client.post("/iot/devices", json={"devices": lamp}, headers=CITY).status_code == 201
    stop(broker, client)
    assert client.post("/iot/devices/lamp/commands", json={"ping": "hello"},
                       headers=CITY).status_code == 204
    assert value(client, "urn:ngsi-ld:Sensor:lamp", "ping_status") == "PENDING"

    broker.start()
    device = Device(broker.url)  # subscribed before the gateway is back (it waits ≥ 1 s)
    try:
        device.subscribe("/k2/+/cmd")
        assert device.next_message(timeout=40) == ("/k2/lamp/cmd", b"lamp@ping|hello")
    finally:
        device.close()


@pytest.mark.parametrize("password, connects", [("s3cret/:@", True), ("wrong", False)])
def test_the_gateway_signs_in_with_the_url_credentials(settings: Settings, tmp_path: Path,
                                                       password: str, connects: bool) -> None:
    broker = Broker(tmp_path, password="s3cret/:@")
    broker.start()
    try:
        url = f"mqtt://gateway:{quote(password, safe='')}@127.0.0.1:{broker.port}"
        settings = settings.model_copy(update={"mqtt_url": url, "mqtt_client_id": "signed"})
        with TestClient(create_app(settings)) as client:
            assert client.app.state.iot.mqtt.connected.wait(5) is connects
    finally:
        broker.stop()
