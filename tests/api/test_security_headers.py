"""Secure default headers on every answer (2xx, 4xx, 5xx, 429) and CORS for allowed origins."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from madina.api.security_headers import API_CSP, SecurityHeaders
from madina.app import create_app
from madina.config import Settings

DASHBOARD = "https://dashboard.example.org"


def broker(tmp_path, **settings) -> TestClient:
    app = create_app(Settings(database=str(tmp_path / "madina.db"), database_url=None, **settings))

    async def bug(request: Request) -> PlainTextResponse:
        raise RuntimeError("a bug")

    app.add_route("/bug", bug)
    return TestClient(app, raise_server_exceptions=False)


def assert_secure(headers) -> None:
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert headers["content-security-policy"] == API_CSP


def test_every_answer_carries_the_secure_defaults(tmp_path):
    with broker(tmp_path) as client:
        ok = client.get("/health")
        missing = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Road:none")
        bug = client.get("/bug")
    assert (ok.status_code, missing.status_code, bug.status_code) == (200, 404, 500)
    for answer in (ok, missing, bug):
        assert_secure(answer.headers)
        assert "strict-transport-security" not in answer.headers
    assert "cache-control" not in ok.headers
    assert missing.headers["cache-control"] == bug.headers["cache-control"] == "no-store"
    assert bug.json()["type"].endswith("InternalError")  # still the broker's own 500


def test_rate_limited_answers_carry_them_too(tmp_path):
    with broker(tmp_path, rate_limit_per_ip="1,1") as client:
        client.get("/health")
        limited = client.get("/health")
    assert limited.status_code == 429
    assert_secure(limited.headers)
    assert limited.headers["cache-control"] == "no-store"


def test_hsts_only_when_asked(tmp_path):
    with broker(tmp_path, hsts=True) as client:
        answer = client.get("/health")
    assert answer.headers["strict-transport-security"].startswith("max-age=31536000")


def test_policy_per_path_and_headers_set_by_a_route_win():
    async def page(request: Request) -> PlainTextResponse:
        return PlainTextResponse("<html>", headers={"Cache-Control": "max-age=60"})

    async def missing(request: Request) -> PlainTextResponse:
        return PlainTextResponse("gone", status_code=404, headers={"Cache-Control": "max-age=5"})

    dashboard_csp = "default-src 'self'; frame-ancestors 'none'"
    inner = Starlette(routes=[Route("/web/control-room", page), Route("/data", missing)])
    client = TestClient(SecurityHeaders(inner, csp={"/web/": dashboard_csp}))
    page_answer = client.get("/web/control-room")
    assert page_answer.headers["content-security-policy"] == dashboard_csp
    assert page_answer.headers["x-content-type-options"] == "nosniff"
    error = client.get("/data")
    assert error.headers["content-security-policy"] == API_CSP
    assert error.headers.get_list("cache-control") == ["max-age=5"]


def preflight(client: TestClient, origin: str):
    return client.options(
        "/ngsi-ld/v1/entities",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, link, ngsild-tenant",
        },
    )


def test_cors_preflight_from_an_allowed_origin(tmp_path):
    with broker(tmp_path, cors_origins=f"{DASHBOARD}, https://other.example.org") as client:
        allowed = preflight(client, DASHBOARD)
        answer = client.get("/ngsi-ld/v1/entities?type=Road", headers={"Origin": DASHBOARD})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == DASHBOARD
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "ngsild-tenant" in allowed.headers["access-control-allow-headers"].lower()
    assert answer.headers["access-control-allow-origin"] == DASHBOARD
    exposed_header = answer.headers["access-control-expose-headers"]
    exposed = {name.strip().lower() for name in exposed_header.split(",")}
    assert {"link", "location", "ngsild-results-count", "ngsild-tenant", "retry-after"} <= exposed


def test_cors_preflight_from_another_origin_is_refused(tmp_path):
    with broker(tmp_path, cors_origins=DASHBOARD) as client:
        refused = preflight(client, "https://evil.example.net")
        answer = client.get("/health", headers={"Origin": "https://evil.example.net"})
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    assert "access-control-allow-origin" not in answer.headers


def test_no_cors_unless_configured(tmp_path):
    with broker(tmp_path) as client:
        answer = client.get("/health", headers={"Origin": DASHBOARD})
        refused = preflight(client, DASHBOARD)
    assert "access-control-allow-origin" not in answer.headers
    assert "access-control-allow-origin" not in refused.headers


def test_a_rate_limited_browser_can_read_the_429(tmp_path):
    with broker(tmp_path, cors_origins=DASHBOARD, rate_limit_per_ip="1,1") as client:
        client.get("/health", headers={"Origin": DASHBOARD})
        limited = client.get("/health", headers={"Origin": DASHBOARD})
    assert limited.status_code == 429
    assert limited.headers["access-control-allow-origin"] == DASHBOARD
