"""Rate limits: token buckets per address and per principal, 429 in each API's own format."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from madina.api import rate_limits
from madina.api.rate_limits import (
    Limit,
    RateLimits,
    TokenBuckets,
    client_address,
    parse_limit,
    parse_networks,
)
from madina.app import create_app
from madina.auth.principal import ANONYMOUS, Principal, Role, Via
from madina.config import Settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limits_parse_rate_and_burst():
    assert parse_limit("10,30") == Limit(10, 30)
    assert parse_limit("5") == Limit(5, 10)
    assert parse_limit("0") is None and parse_limit("") is None
    for bad in ("x", "1,2,3", "-1", "1,0.5", "inf"):
        with pytest.raises(ValueError):
            parse_limit(bad)


def test_settings_refuse_a_malformed_limit():
    with pytest.raises(ValueError, match="RATE,BURST"):
        Settings(rate_limit_per_ip="fast")
    with pytest.raises(ValueError):
        Settings(trusted_proxies="10.0.0.1,not-an-address")


def test_bucket_allows_the_burst_then_refills_at_the_rate():
    clock = FakeClock()
    buckets = TokenBuckets(Limit(rate=2, burst=3), clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == pytest.approx(0.5)  # one token comes back in 1/rate s
    clock.now += 0.5
    assert buckets.take("a") == 0
    assert buckets.take("a") > 0
    clock.now += 60  # a long quiet spell refills to the burst, never beyond
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") > 0
    assert buckets.take("b") == 0  # keys do not share a bucket


def test_buckets_are_bounded_and_evict_the_least_recently_used():
    clock = FakeClock()
    buckets = TokenBuckets(Limit(rate=1, burst=1), max_buckets=3, clock=clock)
    buckets.take("busy")
    for n in range(10):
        buckets.take(f"passer-by-{n}")
        assert buckets.take("busy") > 0  # the busy key stays recent, so stays limited
    assert len(buckets) == 3


def scope_of(peer: str, forwarded: str | None = None) -> Scope:
    headers = [] if forwarded is None else [(b"x-forwarded-for", forwarded.encode())]
    return {"type": "http", "client": (peer, 5000), "headers": headers}


def test_forwarded_for_is_believed_only_from_a_trusted_proxy():
    limiter = RateLimits(None, None, None, trusted_proxies=parse_networks("10.0.0.0/30"))
    check = limiter._is_trusted
    assert client_address(scope_of("10.0.0.1", "203.0.113.9"), check) == "203.0.113.9"
    # The client may prepend anything; only the entry our proxies appended counts.
    assert client_address(scope_of("10.0.0.1", "1.1.1.1, 203.0.113.9"), check) == "203.0.113.9"
    # A chain of trusted proxies is walked back to the first address they did not add.
    assert client_address(scope_of("10.0.0.1", "203.0.113.9, 10.0.0.2"), check) == "203.0.113.9"
    assert client_address(scope_of("198.51.100.4", "203.0.113.9"), check) == "198.51.100.4"
    assert client_address(scope_of("10.0.0.1"), check) == "10.0.0.1"


def broker(tmp_path, client: tuple[str, int] = ("203.0.113.7", 4000), **settings) -> TestClient:
    app = create_app(Settings(database=str(tmp_path / "madina.db"), database_url=None, **settings))
    return TestClient(app, client=client)


def test_over_the_limit_ngsild_answers_429_problem_details(tmp_path):
    with broker(tmp_path, rate_limit_per_ip="0.01,2") as client:
        for _ in range(2):
            assert client.get("/ngsi-ld/v1/entities?type=Road").status_code == 200
        answer = client.get("/ngsi-ld/v1/entities?type=Road")
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "100"  # one token at 0.01/s
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["status"] == 429 and body["type"].startswith("https://uri.etsi.org/ngsi-ld/")
    assert {"title", "detail"} <= body.keys()


def test_other_paths_answer_a_plain_json_error(tmp_path):
    with broker(tmp_path, rate_limit_per_ip="1,1") as client:
        assert client.get("/health").status_code == 200
        answer = client.get("/health")
    assert answer.status_code == 429 and answer.headers["retry-after"] == "1"
    assert answer.json() == {"error": "TooManyRequests", "description": "rate limit exceeded"}


def test_an_api_plugs_its_own_error_format_by_prefix(tmp_path, monkeypatch):
    monkeypatch.setitem(
        rate_limits.ERROR_BODIES, "/open311/", lambda detail: b'[{"code":429,"description":"x"}]'
    )
    with broker(tmp_path, rate_limit_per_ip="1,1") as client:
        client.get("/open311/v2/requests.json")
        answer = client.get("/open311/v2/requests.json")
    assert answer.status_code == 429 and answer.json() == [{"code": 429, "description": "x"}]


def test_loopback_is_exempt_by_default_and_configurably(tmp_path):
    with broker(tmp_path, client=("127.0.0.1", 1), rate_limit_per_ip="1,1") as client:
        assert all(client.get("/health").status_code == 200 for _ in range(20))
    with broker(
        tmp_path, client=("127.0.0.1", 1), rate_limit_per_ip="1,1", rate_limit_exempt=""
    ) as client:
        assert [client.get("/health").status_code for _ in range(2)] == [200, 429]


def test_zero_disables_the_limit(tmp_path):
    with broker(tmp_path, rate_limit_per_ip="0") as client:
        assert all(client.get("/health").status_code == 200 for _ in range(50))


def test_addresses_behind_a_trusted_proxy_get_their_own_buckets(tmp_path):
    with broker(
        tmp_path, client=("10.0.0.1", 1), rate_limit_per_ip="1,1", trusted_proxies="10.0.0.1"
    ) as client:
        first = {"X-Forwarded-For": "203.0.113.1"}
        assert client.get("/health", headers=first).status_code == 200
        assert client.get("/health", headers=first).status_code == 429
        assert client.get("/health", headers={"X-Forwarded-For": "203.0.113.2"}).status_code == 200


def test_forwarded_for_from_an_untrusted_peer_cannot_dodge_the_limit(tmp_path):
    with broker(tmp_path, rate_limit_per_ip="1,1", trusted_proxies="10.0.0.1") as client:
        statuses = [
            client.get("/health", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
            for n in range(3)
        ]
    assert statuses == [200, 429, 429]


class SignedIn:
    """Stands in for the authentication middleware: the principal named by a test header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        names = dict(scope["headers"])
        principal = ANONYMOUS
        if b"x-test-subject" in names:
            principal = Principal(
                subject=names[b"x-test-subject"].decode(),
                tenant=names.get(b"x-test-tenant", b"").decode(),
                roles=frozenset({Role.DEVICE}),
                via=Via.API_KEY,
            )
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def signed_in_app(per_ip: str, per_client: str) -> TestClient:
    async def ok(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    inner = Starlette(routes=[Route("/things", ok)])
    limited = RateLimits(inner, per_ip=parse_limit(per_ip), per_client=parse_limit(per_client))
    return TestClient(SignedIn(limited), client=("198.51.100.20", 1))


def test_authenticated_principals_are_limited_per_tenant_and_subject():
    client = signed_in_app(per_ip="1,1", per_client="2,2")
    sensor = {"X-Test-Subject": "sensor-1", "X-Test-Tenant": "espoo"}
    assert [client.get("/things", headers=sensor).status_code for _ in range(3)] == [
        200, 200, 429,
    ]
    # Same subject in another tenant, another subject, and anonymous: separate buckets.
    other_tenant = {"X-Test-Subject": "sensor-1", "X-Test-Tenant": "vantaa"}
    assert client.get("/things", headers=other_tenant).status_code == 200
    assert client.get("/things", headers={"X-Test-Subject": "sensor-2"}).status_code == 200
    assert client.get("/things").status_code == 200
    assert client.get("/things").status_code == 429  # anonymous: the per-address bucket


def test_per_client_zero_leaves_principals_unlimited():
    client = signed_in_app(per_ip="1,1", per_client="0")
    sensor = {"X-Test-Subject": "sensor-1"}
    assert all(client.get("/things", headers=sensor).status_code == 200 for _ in range(10))
