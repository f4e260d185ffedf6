"""The authorization matrix: every route of the app × every role, generated from the route table.

A route added without an `@allow(...)` rule fails here. Each cell's expectation is derived from
the route's declared grants by `expected()` below, an independent statement of what the grants
mean; the request then goes through the real app with a real credential (users and keys in the
store, tokens signed by the app's own signer, a fresh one per request so logout ends nothing else).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import TestClient

from madina.app import create_app
from madina.auth.identities import key_principal, user_principal
from madina.auth.principal import Principal, Role, Via
from madina.auth.rules import DEVICE_OWN_ENTITY, OPEN, PUBLIC_READ, SIGNED_IN, Rule, rule_of
from madina.auth.tokens import secret_hash
from madina.config import Settings
from madina.store.identities import ApiKey, User

ENTITY = "urn:ngsi-ld:Thing:matrix-1"
OTHER_ENTITY = "urn:ngsi-ld:Thing:not-the-device-s"
ROLES = ("admin", "operator", "department", "citizen", "device", "anonymous")
PATH_VALUES = {"entityId": ENTITY, "attrId": "temperature", "type": "Thing",
               "contextId": "urn:ngsi-ld:matrix:no-such-context", "name": "someone",
               "keyId": "no-such-key", "service_code": "no-such-service",
               "service_request_id": "424242", "token": "no-such-token",
               "department": "no-such-department"}
PATH_VALUES["deviceId"] = "no-such-device"
PATH_VALUES["identifier"] = "no-such-cap-message"
PATH_VALUES["subscriptionId"] = "urn:ngsi-ld:Subscription:no-such-subscription"
PATH_VALUES["instanceId"] = "urn:ngsi-ld:Instance:424242"
DEVICE_KEY_SECRET = "device-key-secret-for-the-matrix"


def walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str, Any]]:
    """(path template, method, endpoint) of every route, through Mounts."""
    for route in routes:
        if isinstance(route, Mount):
            yield from walk(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            for method in sorted(route.methods or ()):
                yield prefix + route.path, method, route.endpoint


ROUTE_TABLE = list(walk(create_app(Settings(database="unused.db")).routes))
CELLS = [(path, method, role) for path, method, _ in ROUTE_TABLE for role in ROLES]


def expected(rule: Rule, role: str) -> str:
    """What the grants promise a role: "allowed", "401" or "403"."""
    grants = rule.grants
    if OPEN in grants or (role == "anonymous" and PUBLIC_READ in grants):
        return "allowed"
    if role == "anonymous":
        return "401"
    if PUBLIC_READ in grants or SIGNED_IN in grants:
        return "allowed"
    if role == "device" and DEVICE_OWN_ENTITY in grants:
        return "allowed"  # the matrix's device owns every entity the requests name
    roles = {grant.role for grant in grants if grant.role is not None}
    if roles and (role == "admin" or Role(role) in roles):
        return "allowed"
    return "403"


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: PATH_VALUES[m.group(1)], path)


def body_for(path: str) -> Any:
    """A body naming the matrix entity, so a device's ownership can be judged; whether the
    endpoint then accepts it does not matter here, only that it was let in."""
    if path.endswith("/entityOperations/delete"):
        return [ENTITY]
    if path.endswith("/entityOperations/query"):
        return {"type": "Query", "entities": [{"type": "Thing"}]}
    if "/entityOperations/" in path:
        return [{"id": ENTITY, "type": "Thing"}]
    return {"id": ENTITY, "type": "Thing"}


@pytest.fixture(scope="module")
def matrix_app(tmp_path_factory) -> Iterator[tuple[TestClient, dict[str, Principal]]]:
    settings = Settings(database=str(tmp_path_factory.mktemp("matrix") / "madina.db"),
                        database_url=None, rate_limit_per_ip="0", rate_limit_per_client="0",
                        admin_token="test-admin-token")
    with TestClient(create_app(settings)) as client:
        principals = signed_up(client.app.state.store.identities)
        yield client, principals


def signed_up(identities) -> dict[str, Principal]:
    """One stored identity per role (passwords are never used: tokens are minted)."""
    principals = {}
    for role in ("admin", "operator", "department", "citizen"):
        user = User("", f"matrix-{role}", "unused-hash", (role,),
                    ("roads",) if role == "department" else ())
        identities.add_user(user)
        principals[role] = user_principal(identities.get_user("", user.name))
    key = ApiKey("matrix-device", "", "sensor", secret_hash(DEVICE_KEY_SECRET), ("device",),
                 (ENTITY,))
    identities.add_api_key(key)
    principals["device"] = key_principal(identities.get_api_key(key.id), Via.CLIENT_CREDENTIALS)
    return principals


def headers_for(path: str) -> dict[str, str]:
    """A live stream ends only with its client, and the in-process client waits for the end:
    a cursor the broker never handed out makes /live answer `event: reset` and end at once."""
    return {"Last-Event-ID": "no-such-cursor"} if path == "/live" else {}


def call(client: TestClient, principals: dict[str, Principal], role: str, method: str,
         path: str, body: Any = None, headers: dict[str, str] | None = None):
    headers = {**headers_for(path), **(headers or {})}
    if role != "anonymous":
        token = client.app.state.auth.signer.issue(principals[role], None)
        headers["Authorization"] = f"Bearer {token}"
    if method in ("POST", "PUT", "PATCH"):
        return client.request(method, path, json=body_for(path) if body is None else body,
                              headers=headers)
    return client.request(method, path, headers=headers)


def test_the_route_table_is_walked_through_mounts() -> None:
    paths = {path for path, _, _ in ROUTE_TABLE}
    assert {"/health", "/ngsi-ld/v1/entities", "/auth/token", "/auth/users"} <= paths


def test_every_route_declares_a_rule() -> None:
    undeclared = [f"{method} {path}" for path, method, endpoint in ROUTE_TABLE
                  if rule_of(endpoint) is None]
    assert undeclared == [], "routes without @allow(...) in madina.auth.rules"


@pytest.mark.parametrize(("path", "method", "role"), CELLS)
def test_cell(matrix_app, path: str, method: str, role: str) -> None:
    endpoint = next(e for p, m, e in ROUTE_TABLE if (p, m) == (path, method))
    rule = rule_of(endpoint)
    if rule is None:
        pytest.fail(f"{method} {path} declares no rule")
    client, principals = matrix_app
    answer = call(client, principals, role, method, concrete(path))
    outcome = str(answer.status_code) if answer.status_code in (401, 403) else "allowed"
    assert outcome == expected(rule, role), answer.text


def test_refusals_are_problem_details(matrix_app) -> None:
    client, principals = matrix_app
    anonymous = call(client, principals, "anonymous", "POST", "/ngsi-ld/v1/entities")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="madina"'
    assert anonymous.headers["content-type"] == "application/json"
    assert anonymous.json()["type"] == "about:blank"
    assert anonymous.json()["title"] == "Unauthorized"
    citizen = call(client, principals, "citizen", "POST", "/ngsi-ld/v1/entities")
    assert citizen.status_code == 403
    assert citizen.json() == {"type": "about:blank", "title": "Forbidden", "status": 403,
                              "detail": citizen.json()["detail"]}
    assert "operator" in citizen.json()["detail"]


@pytest.mark.parametrize("request_", [
    ("POST", "/ngsi-ld/v1/entities", {"id": OTHER_ENTITY, "type": "Thing"}),
    ("PATCH", f"/ngsi-ld/v1/entities/{OTHER_ENTITY}/attrs", {"speed": {"value": 1}}),
    ("POST", "/ngsi-ld/v1/entityOperations/upsert",
     [{"id": ENTITY, "type": "Thing"}, {"id": OTHER_ENTITY, "type": "Thing"}]),
    ("POST", "/ngsi-ld/v1/entityOperations/create", [{"type": "Thing"}]),
    ("POST", "/ngsi-ld/v1/entityOperations/delete", [ENTITY]),
    ("DELETE", f"/ngsi-ld/v1/entities/{ENTITY}", None),
], ids=["create", "update", "batch-with-one-foreign", "batch-without-id", "batch-delete",
        "delete"])
def test_a_device_writes_only_its_own_entities(matrix_app, request_) -> None:
    client, principals = matrix_app
    method, path, body = request_
    answer = call(client, principals, "device", method, path, body)
    assert answer.status_code == 403, answer.text


def test_a_device_key_writes_its_entity_and_nothing_else(matrix_app) -> None:
    client, _ = matrix_app
    key = {"X-API-Key": DEVICE_KEY_SECRET}
    entity = {"id": ENTITY, "type": "Thing", "speed": {"type": "Property", "value": 3}}
    written = client.post("/ngsi-ld/v1/entityOperations/upsert", json=[entity], headers=key)
    assert written.status_code in (201, 204), written.text
    patched = client.patch(f"/ngsi-ld/v1/entities/{ENTITY}/attrs",
                           json={"speed": {"type": "Property", "value": 4}}, headers=key)
    assert patched.status_code == 204
    foreign = client.post("/ngsi-ld/v1/entities",
                          json={"id": OTHER_ENTITY, "type": "Thing"}, headers=key)
    assert foreign.status_code == 403
    assert client.get(f"/ngsi-ld/v1/entities/{OTHER_ENTITY}").status_code == 404


def test_without_public_reads_every_read_needs_a_credential(tmp_path) -> None:
    settings = Settings(database=str(tmp_path / "madina.db"), database_url=None,
                        public_reads=False, admin_token="test-admin-token")
    reads = [(p, m) for p, m, e in ROUTE_TABLE if PUBLIC_READ in rule_of(e).grants]
    assert reads
    with TestClient(create_app(settings)) as client:
        for path, method in reads:
            answer = client.request(method, concrete(path), json=body_for(path))
            assert answer.status_code == 401, (method, path)
            assert answer.headers["www-authenticate"] == 'Bearer realm="madina"'
        signed_in = {"Authorization": "Bearer test-admin-token"}
        assert client.get("/ngsi-ld/v1/types", headers=signed_in).status_code == 200


def test_open_mode_lets_anonymous_callers_do_everything(tmp_path) -> None:
    settings = Settings(database=str(tmp_path / "madina.db"), database_url=None, auth="off",
                        admin_token="test-admin-token")
    with TestClient(create_app(settings)) as client:
        for path, method, _ in ROUTE_TABLE:
            path = concrete(path)
            body = body_for(path) if method in ("POST", "PUT", "PATCH") else None
            answer = client.request(method, path, json=body, headers=headers_for(path))
            if path == "/auth/logout":  # nothing to end without a token: the endpoint says so
                continue
            assert answer.status_code not in (401, 403), (method, path, answer.text)
