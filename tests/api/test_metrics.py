"""Prometheus `/metrics`: the text format, requests labelled by route template, 429s, audit group
commits, the PostgreSQL pool, who may scrape, and one sum over the workers of `serve --workers`.

The metric objects are process-wide, so in-process tests compare values before and after.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.registry import REGISTRY
from starlette.testclient import TestClient

from madina.app import create_app
from madina.config import Settings
from tests.services import postgres_schema

ADMIN = {"Authorization": "Bearer test-admin-token"}
ENTITY_ROUTE = "/ngsi-ld/v1/entities/{entityId}"
ENTITY_404_SAMPLE = ('madina_http_requests_total{method="GET",route="' + ENTITY_ROUTE
                     + '",status="4xx"}')


def broker(database: str, client: tuple[str, int] = ("203.0.113.7", 4000),
           **settings) -> TestClient:
    app = create_app(Settings(database=database, database_url=None,
                              admin_token="test-admin-token", **settings))
    return TestClient(app, client=client)


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_answer_the_prometheus_text_format(tmp_path):
    with broker(str(tmp_path / "m.db")) as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE madina_http_requests_total counter" in answer.text
    assert "# TYPE madina_http_request_duration_seconds histogram" in answer.text


def test_a_request_is_counted_under_its_route_template_not_its_path(tmp_path):
    labels = {"method": "GET", "route": ENTITY_ROUTE}
    before = value("madina_http_requests_total", status="4xx", **labels)
    timed = value("madina_http_request_duration_seconds_count", **labels)
    with broker(str(tmp_path / "m.db")) as client:
        assert client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Road:r1").status_code == 404
        text = client.get("/metrics").text
    assert value("madina_http_requests_total", status="4xx", **labels) == before + 1
    assert value("madina_http_request_duration_seconds_count", **labels) == timed + 1
    assert "urn:ngsi-ld:Road:r1" not in text
    assert value("madina_http_requests_in_flight") == 0


def test_paths_matching_no_route_share_one_label(tmp_path):
    labels = {"method": "GET", "route": "unmatched", "status": "4xx"}
    before = value("madina_http_requests_total", **labels)
    with broker(str(tmp_path / "m.db")) as client:
        assert client.get("/no/such/place").status_code == 404
        assert client.get("/ngsi-ld/v1/no-such-thing").status_code == 404
    assert value("madina_http_requests_total", **labels) == before + 2


def test_a_made_up_method_is_labelled_other(tmp_path):
    before = value("madina_http_requests_total", method="OTHER", route="/health", status="4xx")
    with broker(str(tmp_path / "m.db")) as client:
        assert client.request("BREW", "/health").status_code == 405
    after = value("madina_http_requests_total", method="OTHER", route="/health", status="4xx")
    assert after == before + 1


def test_rate_limit_refusals_are_counted_under_the_route_they_were_meant_for(tmp_path):
    route = "/ngsi-ld/v1/entities"
    before = value("madina_http_rate_limited_total", route=route)
    with broker(str(tmp_path / "m.db"), rate_limit_per_ip="0.01,1") as client:
        assert client.get(route + "?type=Road").status_code == 200
        assert client.get(route + "?type=Road").status_code == 429
    assert value("madina_http_rate_limited_total", route=route) == before + 1


def test_audit_entries_and_group_commit_batches_are_counted(tmp_path):
    entries = value("madina_audit_entries_written_total")
    batches = value("madina_audit_batch_size_count")
    with broker(str(tmp_path / "m.db")) as client:
        created = client.post("/ngsi-ld/v1/entities", headers=ADMIN,
                              json={"id": "urn:ngsi-ld:Road:r1", "type": "Road"})
        assert created.status_code == 201
    assert value("madina_audit_entries_written_total") == entries + 1
    assert value("madina_audit_batch_size_count") == batches + 1


def test_metrics_are_open_by_default(tmp_path):
    with broker(str(tmp_path / "m.db")) as client:
        assert client.get("/metrics").status_code == 200


def test_metrics_can_be_restricted_to_administrators(tmp_path):
    with broker(str(tmp_path / "m.db"), metrics_public=False) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=ADMIN).status_code == 200


def test_the_postgresql_pool_is_shown():
    with postgres_schema() as url, broker(url, db_pool_size=3) as client:
        text = client.get("/metrics").text
    assert value("madina_db_pool_connections") >= 1
    assert "madina_db_pool_available" in text and "madina_db_pool_waiting" in text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_workers_are_summed_by_whichever_worker_is_scraped(tmp_path):
    """Each request on its own connection, so the kernel spreads them over both workers; every
    scrape, answered by either, must show them all. The directory the operator named is emptied
    of an earlier run's values first."""
    directory = tmp_path / "prometheus"
    directory.mkdir()
    (directory / "counter_999999.db").write_bytes(b"left over from an earlier run")
    port = free_port()
    env = {**os.environ, "MADINA_AUTH": "off", "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    env.pop("MADINA_DATABASE_URL", None)
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "madina.cli", "serve", "--port", str(port), "--db",
             str(tmp_path / "m.db"), "--workers", "2"], stdout=out, stderr=subprocess.STDOUT,
            env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, server, log)
        hits = 60
        for i in range(hits):
            assert httpx.get(f"{base}/ngsi-ld/v1/entities/urn:ngsi-ld:Road:{i}").status_code == 404
        pids = {path.stem.rsplit("_", 1)[1] for path in directory.glob("counter_*.db")}
        assert len(pids) == 2 and "999999" not in pids, "both workers answered"
        for _ in range(6):
            text = httpx.get(f"{base}/metrics").text
            assert f"{ENTITY_404_SAMPLE} {float(hits)}" in text.splitlines(), text
    finally:
        server.terminate()
        server.wait(timeout=15)


def wait_ready(base: str, server: subprocess.Popen, log: Path) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise AssertionError(f"the server exited:\n{log.read_text()}")
        try:
            if httpx.get(base + "/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    pytest.fail(f"the server did not start:\n{log.read_text()}")
