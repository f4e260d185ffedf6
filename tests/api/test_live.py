"""GET /live: filtered entity changes as Server-Sent Events, on both engines.

Streams are read from a real uvicorn server in a thread over real sockets (an in-process test
client waits for a response to end, and a stream only ends with its client); the error answers,
which do end, go through the in-process client.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.testclient import TestClient

from madina.api import live_stream
from madina.app import create_app
from madina.auth.identities import user_principal
from madina.cli import SHUTDOWN_GRACE_S
from madina.config import Settings
from madina.store.identities import User

ADMIN = {"Authorization": "Bearer test-admin-token"}
STREAM_TIMEOUT = httpx.Timeout(10.0, read=10.0)
HELSINKI = [24.94, 60.17]
TURKU = [22.27, 60.45]
BOX = "24.5,60.0,25.5,60.5"  # around Helsinki, not Turku


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(check: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class Server:
    """The app on a real uvicorn server in a thread."""

    def __init__(self, settings: Settings) -> None:
        self.app: Starlette = create_app(settings)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_config=None,
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        until(lambda: self.server.started, within=20)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)

    @property
    def hub(self) -> live_stream.LiveHub:
        return self.app.state.live

    def client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers=headers if headers is not None
                            else ADMIN, timeout=STREAM_TIMEOUT)


@dataclass
class Event:
    event: str = "message"
    id: str | None = None
    data: Any = None
    comments: list[str] = field(default_factory=list)


class Stream:
    """An SSE reader over an httpx streaming response (HTML Living Standard 9.2.6 parsing)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.iter_lines()

    def next(self) -> Event | None:
        """The next block (message, reset, or comments/id only); None at the end."""
        block = Event()
        seen = False
        for line in self.lines:
            if line == "":
                if seen:
                    return block
                continue
            seen = True
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                block.comments.append(value)
            elif name == "event":
                block.event = value
            elif name == "id":
                block.id = value
            elif name == "data":
                block.data = orjson.loads(value)
        return None

    def message(self) -> Event:
        """The next dispatched event (skipping heartbeats and the preamble)."""
        while True:
            block = self.next()
            assert block is not None, "the stream ended"
            if block.data is not None:
                return block


@contextmanager
def stream(client: httpx.Client, params: dict[str, str] | None = None,
           headers: dict[str, str] | None = None) -> Iterator[Stream]:
    with client.stream("GET", "/live", params=params,
                       headers={"Accept": "text/event-stream", **(headers or {})}) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = Stream(response)
        preamble = reader.next()  # sent once the stream is registered with the hub
        assert preamble is not None and "madina live" in preamble.comments
        yield reader


def sensor(n: int, temperature: float, where: list[float] = HELSINKI,
           kind: str = "Sensor", **extra: Any) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:{kind}:{n}", "type": kind,
            "temperature": {"type": "Property", "value": temperature},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": where}},
            **extra}


def create(client: httpx.Client, entity: dict[str, Any], tenant: str | None = None) -> None:
    headers = {"NGSILD-Tenant": tenant} if tenant else {}
    answer = client.post("/ngsi-ld/v1/entities", json=entity, headers=headers)
    assert answer.status_code == 201, answer.text


def patch(client: httpx.Client, entity_id: str, attrs: dict[str, Any]) -> None:
    answer = client.patch(f"/ngsi-ld/v1/entities/{entity_id}/attrs", json=attrs)
    assert answer.status_code == 204, answer.text


def delete(client: httpx.Client, entity_id: str) -> None:
    assert client.delete(f"/ngsi-ld/v1/entities/{entity_id}").status_code == 204


def seen(event: Event) -> tuple[str, str, bool]:
    return event.data["kind"], event.data["id"].rsplit(":", 1)[1], event.data["matches"]


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    with Server(settings) as running:
        yield running


# -- filters -----------------------------------------------------------------------------------
def test_type_q_and_bbox_select_the_events(server: Server) -> None:
    writer = server.client()
    params = {"type": "Sensor", "q": "temperature>20", "bbox": BOX}
    with server.client() as reader, stream(reader, params) as events:
        create(writer, sensor(1, 25))                            # shown
        create(writer, sensor(2, 25, TURKU))                     # outside the box
        create(writer, sensor(3, 10))                            # q fails
        create(writer, sensor(4, 25, kind="Camera"))             # other type
        patch(writer, "urn:ngsi-ld:Sensor:1", {"temperature": {"type": "Property", "value": 30}})
        patch(writer, "urn:ngsi-ld:Sensor:1", {"location": {
            "type": "GeoProperty", "value": {"type": "Point", "coordinates": TURKU}}})
        patch(writer, "urn:ngsi-ld:Sensor:1", {"temperature": {"type": "Property", "value": 31}})
        delete(writer, "urn:ngsi-ld:Sensor:1")                   # matched nothing any more
        patch(writer, "urn:ngsi-ld:Sensor:3", {"temperature": {"type": "Property", "value": 21}})
        delete(writer, "urn:ngsi-ld:Sensor:3")
        got = [seen(events.message()) for _ in range(5)]
    assert got == [
        ("created", "1", True),
        ("updated", "1", True),
        ("updated", "1", False),   # left the box: the map removes its marker
        ("updated", "3", True),    # now satisfies q
        ("deleted", "3", False),
    ]


def test_events_are_rendered_like_the_entities_api(server: Server) -> None:
    writer = server.client()
    params = {"options": "keyValues", "attrs": "temperature"}
    with server.client() as reader, stream(reader, params) as events:
        create(writer, sensor(1, 25))
        patch(writer, "urn:ngsi-ld:Sensor:1", {"location": {
            "type": "GeoProperty", "value": {"type": "Point", "coordinates": TURKU}}})
        patch(writer, "urn:ngsi-ld:Sensor:1", {"temperature": {"type": "Property", "value": 30}})
        created, updated = events.message(), events.message()
    assert created.data["entity"] == {"id": "urn:ngsi-ld:Sensor:1", "type": "Sensor",
                                      "temperature": 25}
    assert created.data["type"] == "Sensor"
    # The location-only update changed nothing in the projection: not sent.
    assert updated.data["attributes"] == {"temperature": "updated"}
    assert updated.data["entity"]["temperature"] == 30
    assert updated.id is not None and updated.id != created.id
    normalized = server.client().get("/ngsi-ld/v1/entities/urn:ngsi-ld:Sensor:1",
                                     params={"options": "keyValues", "attrs": "temperature"})
    assert normalized.json() == updated.data["entity"]


def test_the_request_context_compacts_names(server: Server) -> None:
    writer = server.client()
    context = {"Link": '<https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld>; '
                       'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'}
    with server.client() as reader, stream(reader, {"type": "https://city.example/Sensor"},
                                           headers=context) as events:
        create(writer, {"id": "urn:ngsi-ld:Sensor:1", "type": "https://city.example/Sensor",
                        "https://city.example/speed": {"type": "Property", "value": 3}})
        event = events.message()
    assert event.data["type"] == "https://city.example/Sensor"
    assert event.data["entity"]["https://city.example/speed"]["value"] == 3


# -- resuming ----------------------------------------------------------------------------------
def caught_up(server: Server) -> None:
    """Wait until the feed's position is the newest change (with no stream open it follows
    the log without reading it)."""
    until(lambda: server.app.state.changes.cursor
          == server.app.state.store.latest_change_cursor())


@pytest.mark.parametrize("how", ["header", "parameter", "from the log"])
def test_resuming_misses_nothing(server: Server, how: str) -> None:
    writer = server.client()
    with server.client() as reader, stream(reader, {"type": "Sensor"}) as events:
        for n in range(2):
            create(writer, sensor(n, 20))
        last = [events.message() for _ in range(2)][-1].id
    until(lambda: server.hub.clients == 0)
    for n in range(2, 5):
        create(writer, sensor(n, 20))
    create(writer, sensor(9, 20, kind="Camera"))
    if how == "from the log":
        caught_up(server)
        server.app.state.changes.recent.clear()  # as on a worker that never read them
    resume = ({"params": {"type": "Sensor", "lastEventId": last}} if how == "parameter" else
              {"params": {"type": "Sensor"}, "headers": {"Last-Event-ID": last}})
    with server.client() as reader, stream(reader, **resume) as events:
        replayed = [events.message() for _ in range(3)]
        create(writer, sensor(5, 20))
        live = events.message()
    assert [e.data["id"][-1] for e in replayed] == ["2", "3", "4"]
    assert live.data["id"][-1] == "5"


def test_a_quiet_stream_keeps_its_resume_point_fresh(server: Server) -> None:
    server.hub.heartbeat = 0.2
    writer = server.client()
    with server.client() as reader, stream(reader, {"type": "Sensor"}) as events:
        create(writer, sensor(9, 20, kind="Camera"))  # moves the log on, not shown here
        until(lambda: server.app.state.changes.cursor is not None)
        heartbeat = events.next()
        while heartbeat is not None and heartbeat.id != server.app.state.changes.cursor:
            heartbeat = events.next()
    assert heartbeat is not None and heartbeat.comments == ["heartbeat"]
    assert heartbeat.data is None


@pytest.mark.parametrize("cursor", ["not-a-cursor", "²", "-1", "9" * 20, "expired"])
def test_an_unusable_cursor_resets_the_stream(server: Server, cursor: str) -> None:
    writer = server.client()
    create(writer, sensor(1, 20))
    caught_up(server)
    if cursor == "expired":
        cursor = server.app.state.changes.cursor
        create(writer, sensor(2, 20))
        server.app.state.store.prune_changes("9999-01-01T00:00:00.000000Z")
        create(writer, sensor(3, 20))
        caught_up(server)
        server.app.state.changes.recent.clear()
    with server.client() as reader, stream(reader, {"lastEventId": cursor}) as events:
        reset = events.next()
        assert events.next() is None  # a reset ends the stream
    assert reset is not None and reset.event == "reset"
    assert "Last-Event-ID" in reset.data["reason"]
    assert reset.id == server.app.state.changes.cursor  # where to resume after reloading
    until(lambda: server.hub.clients == 0)


# -- tenants -----------------------------------------------------------------------------------
def test_a_stream_shows_only_its_tenant(server: Server) -> None:
    identities = server.app.state.store.identities
    identities.add_user(User("espoo", "viewer", "unused-hash", ("citizen",)))
    principal = user_principal(identities.get_user("espoo", "viewer"))
    token = server.app.state.auth.signer.issue(principal, None)
    viewer = server.client({"Authorization": f"Bearer {token}"})
    writer = server.client()
    create(writer, sensor(0, 1), tenant="espoo")
    foreign = viewer.get("/live", headers={"NGSILD-Tenant": "vantaa"})
    assert foreign.status_code == 403, foreign.text
    with stream(viewer, headers={"NGSILD-Tenant": "espoo"}) as events:
        create(writer, sensor(1, 20), tenant="vantaa")
        create(writer, sensor(2, 20))  # the default tenant is another tenant too
        create(writer, sensor(3, 20), tenant="espoo")
        event = events.message()
    assert event.data["id"] == "urn:ngsi-ld:Sensor:3"


# -- slow and departed clients ------------------------------------------------------------------
BIG = "x" * 200_000


def test_a_client_too_slow_is_reset_and_dropped(server: Server) -> None:
    server.hub.queue_frames = 4
    writer = server.client()
    with server.client() as reader, stream(reader) as events:
        n = 0
        while server.hub.resets == 0:  # the client reads nothing: socket buffers fill up
            n += 1
            assert n < 500, "never reset"
            create(writer, sensor(n, 20, note={"type": "Property", "value": BIG}))
        assert server.hub.clients == 0  # unsubscribed at once: no more frames queue up
        blocks = []
        while (block := events.next()) is not None:
            blocks.append(block)
    assert blocks[-1].event == "reset"
    assert "fell behind" in blocks[-1].data["reason"]
    delivered = [b for b in blocks if b.event == "message"]
    assert len(delivered) < n
    assert [int(b.data["id"].rsplit(":", 1)[1]) for b in delivered] == list(
        range(1, len(delivered) + 1))


def test_a_client_that_stops_reading_is_cut_off(server: Server, monkeypatch) -> None:
    monkeypatch.setattr(live_stream, "RESET_GRACE", 0.3)
    writer = server.client()
    with server.client() as reader, stream(reader) as events:
        (client,) = server.hub._by_tenant[""]
        n = 0
        while len(client.pending) < 3:  # the socket is full: frames wait for the writer
            n += 1
            assert n < 500, "the writer never blocked"
            create(writer, sensor(n, 20, note={"type": "Property", "value": BIG}))
        client.limit = 0  # the next event overflows its queue
        create(writer, sensor(n + 1, 20))
        until(lambda: server.hub.resets == 1)
        # The stream's task ends within the grace period, though this client never read...
        until(lambda: not server.server.server_state.tasks, within=5)
        assert server.hub.clients == 0
        # ...and what it finds is a response cut short, not one ended by a reset.
        with pytest.raises(httpx.RemoteProtocolError):
            while events.next() is not None:
                pass


def test_a_departed_client_is_unsubscribed(server: Server) -> None:
    with server.client() as reader, stream(reader):
        assert server.hub.clients == 1
    until(lambda: server.hub.clients == 0)
    assert server.app.state.live._read not in server.app.state.changes._readers


# -- several workers -----------------------------------------------------------------------------
def test_each_worker_streams_what_any_worker_wrote(settings: Settings) -> None:
    with Server(settings) as a, Server(settings) as b:
        writer = a.client()
        with b.client() as reader, stream(reader, {"type": "Sensor"}) as events:
            create(writer, sensor(1, 20))
            first = events.message()
        assert first.data["id"] == "urn:ngsi-ld:Sensor:1"
        create(writer, sensor(2, 20))
        # A's cursor resumes on B (both read one shared log)
        with b.client() as reader, stream(reader, {"type": "Sensor"},
                                          {"Last-Event-ID": first.id}) as events:
            assert events.message().data["id"] == "urn:ngsi-ld:Sensor:2"


# -- refusals ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("params", "headers", "status"), [
    ({"bbox": "24,60,25"}, {}, 400),
    ({"bbox": "25,60,24,61"}, {}, 400),
    ({"bbox": "24,60,25,nan"}, {}, 400),
    ({"geoproperty": "location"}, {}, 400),
    ({"q": "temperature>"}, {}, 400),
    ({"type": "(Sensor"}, {}, 400),
    ({"options": "temporalValues"}, {}, 400),
    ({"format": "keyValues", "options": "concise"}, {}, 400),
    ({"limit": "3"}, {}, 400),
    ({}, {"Accept": "application/json"}, 406),
    ({}, {"NGSILD-Tenant": "nowhere"}, 404),
])
def test_bad_requests_are_problem_details(client: TestClient, params, headers, status) -> None:
    answer = client.get("/live", params=params, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["type"].startswith("https://uri.etsi.org/ngsi-ld/errors/")


def test_head_answers_the_headers_only(client: TestClient) -> None:
    answer = client.head("/live", params={"type": "Sensor"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert client.app.state.live.clients == 0


def test_without_public_reads_a_stream_needs_a_credential(tmp_path) -> None:
    settings = Settings(database=str(tmp_path / "madina.db"), database_url=None,
                        public_reads=False, admin_token="test-admin-token")
    with TestClient(create_app(settings)) as anonymous:
        assert anonymous.get("/live").status_code == 401


def test_a_server_stops_though_streams_are_open(tmp_path) -> None:
    """uvicorn waits for answers in progress before it stops, and a stream is never done."""
    port = free_port()
    env = {**os.environ, "MADINA_AUTH": "off"}
    env.pop("MADINA_DATABASE_URL", None)
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "madina.cli", "serve", "--port", str(port),
             "--db", str(tmp_path / "madina.db")], stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        until(lambda: _answers(base + "/health"), within=30)
        with httpx.Client(base_url=base, timeout=STREAM_TIMEOUT) as reader, stream(reader):
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=SHUTDOWN_GRACE_S + 10)
        # uvicorn ends by raising the signal it stopped for again.
        assert server.returncode in (0, -signal.SIGTERM), log.read_text()
        assert "Exception in ASGI application" not in log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.TransportError:
        return False
