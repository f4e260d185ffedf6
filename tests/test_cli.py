"""The `madina` command as an operator uses it: a real process, a real port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from madina import __version__
from madina.app import create_app
from madina.config import Settings

MADINA = [sys.executable, "-m", "madina.cli"]
OPEN_MODE = {**os.environ, "MADINA_AUTH": "off"}
"""For servers whose tests write without a credential: they are about serving, not signing in."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_version():
    out = subprocess.run([*MADINA, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"madina {__version__}"


@pytest.fixture
def served(tmp_path):
    """`madina serve` on a fresh file; yields (base URL, db path)."""
    db = tmp_path / "city.db"
    port = free_port()
    proc = subprocess.Popen(
        [*MADINA, "serve", "--port", str(port), "--db", str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(base + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not start")
        yield base, db
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_creates_the_database_and_answers(served):
    base, db = served
    assert db.exists()
    body = httpx.get(base + "/health").json()
    assert body["status"] == "ok" and body["version"] == __version__


@contextmanager
def offline_broker(db: Path) -> Iterator[TestClient]:
    """The app on `db` with remote @context fetching off, as in an air-gapped city."""
    settings = Settings(database=str(db), fetch_remote_contexts=False, auth="off")
    with TestClient(create_app(settings)) as c:
        yield c


def assert_context_expands(client: TestClient, context_url: str) -> None:
    """An entity created under `context_url` is stored with that context's expansion."""
    link = f'<{context_url}>; rel="http://www.w3.org/ns/json-ld#context"'
    created = client.post(
        "/ngsi-ld/v1/entities",
        json={"id": "urn:ngsi-ld:Road:1", "type": "Road", "speed": 50},
        headers={"Link": link},
    )
    assert created.status_code == 201, created.text
    full = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Road:1").json()
    assert full["https://city.example/speed"]["value"] == 50


def test_a_preloaded_context_resolves_without_the_network(tmp_path):
    """Air-gapped cities pre-load their contexts; the broker then never fetches them."""
    db = tmp_path / "city.db"
    context_file = tmp_path / "city-context.jsonld"
    context_file.write_text(json.dumps({"@context": {"speed": "https://city.example/speed"}}))
    out = subprocess.run(
        [*MADINA, "contexts", "add", str(context_file), "--db", str(db)],
        capture_output=True, text=True, check=True,
    )
    context_id = out.stdout.strip()
    assert context_id

    with offline_broker(db) as client:
        listed = client.get("/ngsi-ld/v1/jsonldContexts").json()
        assert_context_expands(client, next(url for url in listed if context_id in url))


def test_workers_share_tenants_contexts_and_names(tmp_path):
    """Two worker processes on one SQLite file: whatever one creates, the other sees."""
    port = free_port()
    proc = subprocess.Popen(
        [*MADINA, "serve", "--port", str(port), "--db", str(tmp_path / "w.db"), "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=OPEN_MODE,
    )
    base = f"http://127.0.0.1:{port}/ngsi-ld/v1"
    try:
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/health")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        hosted = httpx.post(f"{base}/jsonldContexts",
                            json={"@context": {"speed": "https://city.example/speed"}})
        assert hosted.status_code == 201, hosted.text
        link = {"Link": f'<{hosted.headers["Location"]}>; '
                        'rel="http://www.w3.org/ns/json-ld#context"',
                "NGSILD-Tenant": "espoo"}
        link["Link"] = link["Link"].replace("<", f"<http://127.0.0.1:{port}", 1)
        created = httpx.post(f"{base}/entities", headers=link,
                             json={"id": "urn:ngsi-ld:Road:1", "type": "Road", "speed": 50})
        assert created.status_code == 201, created.text
        # Fresh connections spread over both workers; every answer must agree.
        for _ in range(20):
            with httpx.Client() as fresh:
                got = fresh.get(f"{base}/entities", headers=link,
                                params={"type": "Road", "q": "speed==50"})
                assert got.status_code == 200, got.text
                assert [e["id"] for e in got.json()] == ["urn:ngsi-ld:Road:1"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_every_acknowledged_write_survives_a_kill(tmp_path):
    """A 2xx means committed: SIGKILL the server mid-load, restart, every acknowledged entity
    (and its whole batch) is there, and nothing half-written is."""
    import signal
    import threading

    db = tmp_path / "crash.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def start() -> subprocess.Popen:
        proc = subprocess.Popen([*MADINA, "serve", "--port", str(port), "--db", str(db)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=OPEN_MODE)
        for _ in range(100):
            try:
                httpx.get(base + "/health")
                return proc
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("the server did not start")

    proc = start()
    acknowledged: list[list[str]] = []
    stop = threading.Event()

    def load() -> None:
        n = 0
        with httpx.Client(base_url=base + "/ngsi-ld/v1") as client:
            while not stop.is_set():
                batch = [{"id": f"urn:ngsi-ld:Meter:{n}-{i}", "type": "Meter",
                          "reading": {"type": "Property", "value": i}} for i in range(20)]
                n += 1
                try:
                    answer = client.post("/entityOperations/create", json=batch)
                except httpx.TransportError:
                    return
                if answer.status_code == 201:
                    acknowledged.append([e["id"] for e in batch])

    writer = threading.Thread(target=load)
    writer.start()
    time.sleep(1.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    stop.set()
    writer.join(timeout=10)
    assert len(acknowledged) > 5

    proc = start()
    try:
        with httpx.Client(base_url=base + "/ngsi-ld/v1") as client:
            total = int(client.get("/entities", params={"type": "Meter", "count": "true",
                                                        "limit": "0"})
                        .headers["NGSILD-Results-Count"])
            for ids in acknowledged[::3]:
                got = client.get("/entities", params={"id": ",".join(ids), "limit": "100"})
                assert len(got.json()) == len(ids)
        # Batches are atomic: whatever got in, got in whole (acknowledged or not).
        assert total % 20 == 0 and total >= 20 * len(acknowledged)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_copied_context_answers_for_its_published_url_offline(tmp_path):
    """`contexts add FILE --url URL`: clients keep naming the public URL, no network needed."""
    db = tmp_path / "city.db"
    url = "https://contexts.example.org/city.jsonld"  # never reachable from tests
    context_file = tmp_path / "city.jsonld"
    context_file.write_text(json.dumps({"@context": {"speed": "https://city.example/speed"}}))
    subprocess.run([*MADINA, "contexts", "add", str(context_file), "--url", url, "--db", str(db)],
                   capture_output=True, text=True, check=True)

    with offline_broker(db) as client:
        assert_context_expands(client, url)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_refuses_to_start_on_an_unreachable_database(workers):
    """A service manager must see a failed start: exit status 1 and the reason, whatever the
    number of workers (uvicorn's supervisor alone would exit 0 when every worker fails)."""
    out = subprocess.run(
        [*MADINA, "serve", "--port", str(free_port()), "--workers", workers,
         "--db", "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 1
    assert "cannot serve" in out.stderr and "127.0.0.1" in out.stderr


def test_health_says_ok_when_the_database_answers(served):
    base, _ = served
    body = httpx.get(base + "/health").json()
    assert body["status"] == "ok" and body["database"] == "ok"
