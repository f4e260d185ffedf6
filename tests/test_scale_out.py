"""Madina scaled out on PostgreSQL, as operators run it: real processes, real ports, one database.

Two `madina serve` processes on one schema are exactly N workers behind a load balancer: what
one writes the other must read, their caches (tenants, @contexts) must agree, a killed worker
must lose no acknowledged write, and a database outage must answer 503 and heal by itself.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.conformance.conftest import ContextServer
from tests.services import postgres_schema

MADINA = [sys.executable, "-m", "madina.cli"]
API = "/ngsi-ld/v1"
LINK_REL = 'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def link(url: str) -> dict[str, str]:
    return {"Link": f"<{url}>; {LINK_REL}"}


def eventually(check: Callable[[], bool], within: float) -> bool:
    """Whether `check` holds within `within` seconds (polled): cross-worker notices are
    asynchronous, but must arrive in a bounded time."""
    deadline = time.monotonic() + within
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


class Server:
    """One `madina serve` process on its own port; its log goes to a file, shown on failure."""

    def __init__(self, db: str, log: Path, workers: int = 1, env: dict[str, str] | None = None):
        self.db = db
        self.log = log
        self.workers = workers
        # Open mode: these tests are about workers and failover, not signing in.
        self.env = {**os.environ, "MADINA_AUTH": "off", **(env or {})}
        self.env.pop("MADINA_DATABASE_URL", None)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.api = self.base + API
        self.proc: subprocess.Popen | None = None

    def start(self) -> Server:
        self.launch()
        return self.wait_ready()

    def launch(self) -> None:
        command = [*MADINA, "serve", "--port", str(self.port), "--db", self.db]
        if self.workers > 1:
            command += ["--workers", str(self.workers)]
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                         env=self.env)

    def wait_ready(self) -> Server:
        assert self.proc is not None
        for _ in range(300):
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited:\n{self.log.read_text()}")
            try:
                if httpx.get(self.base + "/health").status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError(f"the server did not start:\n{self.log.read_text()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)


@contextmanager
def serving(*servers: Server) -> Iterator[None]:
    try:
        for server in servers:
            server.launch()
        for server in servers:
            server.wait_ready()
        yield
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def db_url() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


# -- 1. two workers, one database ------------------------------------------------------------
@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """Two `madina serve` processes on the same schema (A, B), started together on it empty.
    The tests of this section share them (starting two servers is seconds on a loaded
    machine); each test keeps to a tenant of its own (`pair`)."""
    logs = tmp_path_factory.mktemp("pair")
    with postgres_schema() as url:
        a = Server(url, logs / "a.log")
        b = Server(url, logs / "b.log")
        with serving(a, b):
            yield a, b


@pytest.fixture
def pair(servers: tuple[Server, Server]) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Clients of A and B, both in a tenant no other test uses."""
    a, b = servers
    tenant = {"NGSILD-Tenant": f"t{uuid.uuid4().hex[:12]}"}
    with (httpx.Client(base_url=a.api, headers=tenant) as ca,
          httpx.Client(base_url=b.api, headers=tenant) as cb):
        yield ca, cb


def road(n: int, **attrs: Any) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Road:{n}", "type": "Road", **attrs}


def test_a_tenant_created_through_one_worker_is_queryable_through_the_other(pair):
    a, b = pair
    espoo = {"NGSILD-Tenant": "espoo"}
    before = b.get("/entities", params={"type": "Road"}, headers=espoo)
    assert before.status_code == 404, before.text  # B asks the database, caches nothing
    assert a.post("/entities", json=road(1, speed=50), headers=espoo).status_code == 201
    after = b.get("/entities", params={"type": "Road"}, headers=espoo)
    assert after.status_code == 200, after.text
    assert [e["id"] for e in after.json()] == ["urn:ngsi-ld:Road:1"]


def test_a_hosted_context_resolves_everywhere_and_its_deletion_reaches_every_worker(pair):
    a, b = pair
    hosted = a.post("/jsonldContexts", json={"@context": {"speed": "https://city.example/speed"}})
    assert hosted.status_code == 201, hosted.text
    path = hosted.headers["Location"]
    url = str(a.base_url.copy_with(path=path))

    assert b.get(path.removeprefix(API)).status_code == 200
    created = b.post("/entities", json=road(1, speed=50), headers=link(url))
    assert created.status_code == 201, created.text
    assert b.get("/entities/urn:ngsi-ld:Road:1").json()["https://city.example/speed"]["value"] == 50

    assert a.delete(path.removeprefix(API)).status_code == 204

    def b_refuses_it() -> bool:
        answer = b.get("/entities", params={"type": "Road"}, headers=link(url))
        assert answer.status_code in (200, 503), answer.text
        if answer.status_code == 200:  # still the stale expansion: not yet noticed
            assert answer.json()[0]["speed"]["value"] == 50
            return False
        assert answer.json()["type"].endswith("/LdContextNotAvailable")
        return True

    assert eventually(b_refuses_it, within=3)
    assert b.get(path.removeprefix(API)).status_code == 404


def test_a_reloaded_remote_context_reaches_every_worker(pair, context_server: ContextServer):
    a, b = pair
    url = context_server.add("/city.jsonld", {"speed": "https://city.example/v1/speed"})
    assert a.post("/entities", json=road(1, speed=1), headers=link(url)).status_code == 201
    assert b.post("/entities", json=road(2, speed=2), headers=link(url)).status_code == 201
    assert context_server.hits["/city.jsonld"] == 1  # B read A's copy from the database
    listed = a.get("/jsonldContexts", params={"details": "true"}).json()
    local_id = next(c["localId"] for c in listed if c["URL"] == url)

    context_server.add("/city.jsonld", {"speed": "https://city.example/v2/speed"})
    assert a.delete(f"/jsonldContexts/{local_id}", params={"reload": "true"}).status_code == 204
    assert context_server.hits["/city.jsonld"] == 2

    def b_has_the_new_body() -> bool:
        body = b.get(f"/jsonldContexts/{local_id}").json()
        return body["@context"]["speed"].endswith("/v2/speed")

    assert eventually(b_has_the_new_body, within=3)
    assert b.post("/entities", json=road(3, speed=3), headers=link(url)).status_code == 201
    assert "https://city.example/v2/speed" in b.get("/entities/urn:ngsi-ld:Road:3").json()
    assert context_server.hits["/city.jsonld"] == 2


def test_concurrent_appends_through_both_workers_lose_no_update(pair):
    a, b = pair
    assert a.post("/entities", json=road(1)).status_code == 201

    def append(client: httpx.Client, prefix: str) -> None:
        for i in range(100):
            answer = client.post("/entities/urn:ngsi-ld:Road:1/attrs",
                                 json={f"{prefix}{i}": {"type": "Property", "value": i}})
            assert answer.status_code == 204, answer.text

    errors: list[BaseException] = []

    def run(client: httpx.Client, prefix: str) -> None:
        try:
            append(client, prefix)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c, p)) for c, p in ((a, "a"), (b, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    got = b.get("/entities/urn:ngsi-ld:Road:1", params={"options": "keyValues"}).json()
    expected = {f"{p}{i}": i for p in "ab" for i in range(100)}
    assert {k: v for k, v in got.items() if k not in ("id", "type")} == expected


# -- 2. uvicorn's own workers ----------------------------------------------------------------
def test_serve_with_two_worker_processes(db_url: str, tmp_path: Path):
    server = Server(db_url, tmp_path / "w.log", workers=2)
    with serving(server):
        with httpx.Client(base_url=server.api) as client:
            batch = [road(n, speed=n) for n in range(10)]
            assert client.post("/entityOperations/create", json=batch).status_code == 201
        # Fresh connections spread over both workers; every answer must agree.
        for _ in range(20):
            with httpx.Client(base_url=server.api) as fresh:
                got = fresh.get("/entities", params={"type": "Road", "q": "speed>=5"})
                assert got.status_code == 200, got.text
                assert sorted(e["speed"]["value"] for e in got.json()) == [5, 6, 7, 8, 9]


# -- 3. a worker killed under load -----------------------------------------------------------
class Load:
    """Writes through one worker until stopped, recording what each answer acknowledged.

    Every writer owns its ids, so what it expects is exact: acknowledged entities with their
    content, and for its counters the sequence number of the last acknowledged batch update
    (plus the ones whose answer was lost, which may or may not have committed)."""

    COUNTERS = 3

    def __init__(self, name: str, api: str) -> None:
        self.name = name
        self.api = api
        self.created: dict[str, dict[str, Any]] = {}
        """Acknowledged entity id -> its keyValues content."""
        self.batches: list[tuple[list[str], bool]] = []
        """Every batch create attempted: its ids and whether it was acknowledged."""
        self.counter_seq = 0
        self.unknown_seqs: list[int] = []
        """Counter updates after the last acknowledged one whose answer never came."""
        self.failures: list[str] = []
        """Answers that were neither 2xx nor a lost connection: none are expected."""
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name=f"load-{name}")

    def counters(self) -> list[str]:
        return [f"urn:ngsi-ld:Counter:{self.name}-{k}" for k in range(self.COUNTERS)]

    def setup(self) -> None:
        batch = [{"id": c, "type": "Counter", **self._seq(0)} for c in self.counters()]
        assert httpx.post(self.api + "/entityOperations/create", json=batch).status_code == 201

    @staticmethod
    def _seq(seq: int) -> dict[str, Any]:
        return {attr: {"type": "Property", "value": seq} for attr in ("a", "b", "c")}

    def run(self) -> None:
        n = 0
        with httpx.Client(base_url=self.api, timeout=10) as client:
            while not self.stop.is_set():
                n += 1
                for step in (self._single, self._batch, self._update):
                    try:
                        step(client, n)
                    except httpx.TransportError:
                        time.sleep(0.05)  # the worker is gone: keep trying until stopped

    def _single(self, client: httpx.Client, n: int) -> None:
        entity = {"id": f"urn:ngsi-ld:Meter:{self.name}-s{n}", "type": "Meter",
                  "reading": n, "label": f"single {n}"}
        answer = client.post("/entities", json=entity)
        if answer.status_code == 201:
            self.created[entity["id"]] = entity
        else:
            self.failures.append(answer.text)

    def _batch(self, client: httpx.Client, n: int) -> None:
        batch = [{"id": f"urn:ngsi-ld:Meter:{self.name}-b{n}-{i}", "type": "Meter",
                  "reading": i, "label": f"batch {n}"} for i in range(20)]
        ids = [e["id"] for e in batch]
        self.batches.append((ids, False))
        answer = client.post("/entityOperations/create", json=batch)
        if answer.status_code == 201:
            self.batches[-1] = (ids, True)
            self.created.update((e["id"], e) for e in batch)
        else:
            self.failures.append(answer.text)

    def _update(self, client: httpx.Client, n: int) -> None:
        seq = self.counter_seq + len(self.unknown_seqs) + 1
        self.unknown_seqs.append(seq)
        batch = [{"id": c, "type": "Counter", **self._seq(seq)} for c in self.counters()]
        answer = client.post("/entityOperations/update", json=batch)
        if answer.status_code == 204:
            self.counter_seq = seq
            self.unknown_seqs = []
        else:
            self.failures.append(answer.text)


def keyvalues(client: httpx.Client, ids: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 100):
        chunk = ids[start:start + 100]
        answer = client.get("/entities", params={"id": ",".join(chunk), "limit": "100",
                                                 "options": "keyValues"})
        assert answer.status_code == 200, answer.text
        found.update((e["id"], e) for e in answer.json())
    return found


def test_a_killed_worker_loses_no_acknowledged_write(db_url: str, tmp_path: Path):
    """SIGKILL one of two workers under load, restart it: every write that got a 2xx is there
    with exactly its content, and every batch is there whole or not at all."""
    a = Server(db_url, tmp_path / "a.log")
    b = Server(db_url, tmp_path / "b.log")
    with serving(a, b):
        loads = [Load(f"{server_name}{k}", server.api)
                 for server_name, server in (("a", a), ("b", b)) for k in range(2)]
        for load in loads:
            load.setup()
            load.thread.start()
        try:
            time.sleep(1.5)
            a.kill()
            survivors = sum(len(load.created) for load in loads if load.name.startswith("b"))
            time.sleep(1.0)
            assert sum(len(ld.created) for ld in loads if ld.name.startswith("b")) > survivors
            a.start()
            time.sleep(1.0)
        finally:
            for load in loads:
                load.stop.set()
            for load in loads:
                load.thread.join(timeout=30)

        with httpx.Client(base_url=a.api, timeout=30) as client:
            for load in loads:
                assert not load.failures, load.failures[:3]
                assert len(load.created) > 40
                stored = keyvalues(client, list(load.created))
                assert stored == load.created
                for ids, acknowledged in load.batches:
                    present = len(keyvalues(client, ids))
                    assert present in ((20,) if acknowledged else (0, 20)), (ids[0], present)
                counters = keyvalues(client, load.counters()).values()
                values = {(e["a"], e["b"], e["c"]) for e in counters}
                assert len(values) == 1, values  # one batch update, applied to all or none
                ((seq, b_seq, c_seq),) = values
                assert seq == b_seq == c_seq
                assert seq in (load.counter_seq, *load.unknown_seqs)
            meters = client.get("/entities", params={"type": "Meter", "count": "true",
                                                     "limit": "0"})
            total = int(meters.headers["NGSILD-Results-Count"])
            acknowledged = sum(len(load.created) for load in loads)
            unacknowledged = sum(20 for load in loads for ids, ok in load.batches if not ok)
            assert acknowledged <= total <= acknowledged + unacknowledged + 2 * len(loads)


# -- 4. the database goes away and comes back ------------------------------------------------
class TcpProxy:
    """Forwards TCP connections to PostgreSQL until cut: then every connection is closed and
    new ones are refused, as when the database host or the network in between goes down."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._up = threading.Event()
        self._acceptor: threading.Thread | None = None

    def restore(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(0.05)
        self._up.set()
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._acceptor.start()

    def cut(self) -> None:
        self._up.clear()
        if self._acceptor is not None:
            self._acceptor.join()
        with self._lock:
            for sock in self._sockets:
                _close(sock)
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        with listener:
            while self._up.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                client.settimeout(None)
                upstream = socket.create_connection(self.target)
                with self._lock:
                    self._sockets.update((client, upstream))
                for src, dst in ((client, upstream), (upstream, client)):
                    threading.Thread(target=_pump, args=(src, dst), daemon=True).start()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        _close(src)
        _close(dst)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture
def proxy(db_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """A proxy in front of the test database, and the schema's URL through it."""
    parts = urlsplit(db_url)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    proxy.restore()
    userinfo, at, _ = parts.netloc.rpartition("@")
    netloc = f"{userinfo}{at}127.0.0.1:{proxy.port}"
    try:
        yield proxy, urlunsplit(parts._replace(netloc=netloc))
    finally:
        proxy.cut()


OUTAGE_S = 9.0
"""Long enough for a pool reconnecting with an uncapped exponential backoff (after 1, 2, 4, 8 s)
to be asleep when the database comes back, and for each request to be tried during it."""


def test_a_database_outage_answers_503_and_heals(proxy, db_url: str, tmp_path: Path):
    """Worker M reaches PostgreSQL through a proxy that is cut for OUTAGE_S; worker D keeps
    its direct connection. M answers 503 quickly throughout, applies nothing, and heals by
    itself: its pool and its cache notices are back within a few seconds of the database."""
    proxy_, url = proxy
    assert f":{proxy_.port}/" in url
    m = Server(url, tmp_path / "m.log", env={"MADINA_DB_TIMEOUT": "2"})
    d = Server(db_url, tmp_path / "d.log")
    with (
        serving(m, d),
        httpx.Client(base_url=m.api, timeout=20) as client,
        httpx.Client(base_url=d.api) as direct,
    ):
        assert client.post("/entities", json=road(1, speed=50)).status_code == 201
        hosted = direct.post("/jsonldContexts",
                             json={"@context": {"speed": "https://city.example/speed"}})
        context_path = hosted.headers["Location"].removeprefix(API)
        context = link(m.api + context_path)
        assert client.get("/entities/urn:ngsi-ld:Road:1", headers=context).status_code == 200

        proxy_.cut()
        cut = time.monotonic()
        requests = [
            lambda: client.get("/entities/urn:ngsi-ld:Road:1"),
            lambda: client.get("/entities", params={"type": "Road"}),
            lambda: client.post("/entities", json=road(2, speed=60)),
            lambda: client.patch("/entities/urn:ngsi-ld:Road:1/attrs",
                                 json={"speed": {"type": "Property", "value": 99}}),
        ]
        for send in requests:
            started = time.monotonic()
            answer = send()
            assert time.monotonic() - started < 3, answer.request.url  # MADINA_DB_TIMEOUT
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"].isdigit()
            problem = answer.json()
            assert problem["type"] == "https://uri.etsi.org/ngsi-ld/errors/InternalError"
            assert problem["status"] == 503
        assert time.monotonic() - cut < OUTAGE_S

        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - cut)))
        proxy_.restore()

        def answers() -> bool:
            return client.get("/entities/urn:ngsi-ld:Road:1").status_code == 200

        assert eventually(answers, within=3)
        got = client.get("/entities/urn:ngsi-ld:Road:1", params={"options": "keyValues"})
        assert got.json()["speed"] == 50  # the PATCH during the outage did not happen
        assert client.get("/entities/urn:ngsi-ld:Road:2").status_code == 404
        created = client.post("/entities", json=road(3, speed=70))
        assert created.status_code == 201, created.text

        # M listens for cache notices again: a context deleted through D stops resolving.
        assert direct.delete(context_path).status_code == 204

        def m_refuses_it() -> bool:
            answer = client.get("/entities/urn:ngsi-ld:Road:1", headers=context)
            return answer.json().get("type", "").endswith("/LdContextNotAvailable")

        assert eventually(m_refuses_it, within=3)
