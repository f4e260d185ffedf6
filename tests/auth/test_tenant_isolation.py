"""Tenant isolation: a credential of tenant A never reads or changes tenant B, on every route.

Two tenants hold data; tenant A's principals (operator, citizen, device, a user admin) address
tenant B through NGSILD-Tenant, through FIWARE's fiware-service, or by naming no tenant at all
(the default tenant is a tenant too), on every NGSI-LD and admin route of the route table: each
is a 403, and B's data is the same afterwards. Their own tenant answers with their data only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from madina.app import create_app
from madina.auth.identities import key_principal, user_principal
from madina.auth.principal import Principal, Via
from madina.auth.rules import OPEN, SIGNED_IN, rule_of
from madina.config import Settings
from madina.store.identities import ApiKey, User
from tests.auth.test_authorization_matrix import ROUTE_TABLE, body_for, concrete

A, B = "city-a", "city-b"
ENTITY_A = "urn:ngsi-ld:Thing:in-a"
ENTITY_B = "urn:ngsi-ld:Thing:in-b"
ADMIN_TOKEN = {"Authorization": "Bearer test-admin-token"}
TENANT_ROUTES = [(path, method) for path, method, endpoint in ROUTE_TABLE
                 if not {OPEN, SIGNED_IN} & set(rule_of(endpoint).grants)]
READS = [
    ("GET", f"/ngsi-ld/v1/entities/{ENTITY_B}", None),
    ("GET", "/ngsi-ld/v1/entities?type=Thing", None),
    ("POST", "/ngsi-ld/v1/entityOperations/query",
     {"type": "Query", "entities": [{"type": "Thing"}]}),
    ("GET", "/ngsi-ld/v1/types", None),
    ("GET", "/ngsi-ld/v1/types/Thing", None),
    ("GET", "/ngsi-ld/v1/attributes", None),
    ("GET", "/ngsi-ld/v1/attributes/speed", None),
    ("GET", "/ngsi-ld/v1/jsonldContexts", None),
]


def thing(entity_id: str, speed: float) -> dict[str, Any]:
    return {"id": entity_id, "type": "Thing", "speed": {"type": "Property", "value": speed}}


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[TestClient, dict[str, Principal]]]:
    with TestClient(create_app(settings)) as client:
        for tenant, entity_id in ((A, ENTITY_A), (B, ENTITY_B)):
            answer = client.post("/ngsi-ld/v1/entities", json=thing(entity_id, 1.0),
                                 headers={**ADMIN_TOKEN, "NGSILD-Tenant": tenant})
            assert answer.status_code == 201, answer.text
        yield client, principals_of_a(client.app.state.store.identities)


def principals_of_a(identities) -> dict[str, Principal]:
    principals = {}
    for role in ("admin", "operator", "citizen"):
        identities.add_user(User(A, f"a-{role}", "unused-hash", (role,)))
        principals[role] = user_principal(identities.get_user(A, f"a-{role}"))
    identities.add_api_key(ApiKey("a-device", A, "sensor", "unused-hash", ("device",),
                                  (ENTITY_A, ENTITY_B)))
    principals["device"] = key_principal(identities.get_api_key("a-device"), Via.API_KEY)
    return principals


def bearer(client: TestClient, principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.app.state.auth.signer.issue(principal, None)}"}


def without_list_id(payload: Any) -> Any:
    """Type and attribute lists get a fresh random id on every answer."""
    return {k: v for k, v in payload.items() if k != "id"} if isinstance(payload, dict) else payload


def snapshot(client: TestClient, tenant: str) -> list[Any]:
    """Everything a tenant holds that the routes could change, read with the admin token."""
    headers = {**ADMIN_TOKEN, "NGSILD-Tenant": tenant}
    return [without_list_id(client.get(path, headers=headers).json()) for path in (
        "/ngsi-ld/v1/entities?type=Thing&options=sysAttrs", "/ngsi-ld/v1/types",
        "/ngsi-ld/v1/attributes", "/auth/users", "/auth/keys",
    )]


@pytest.mark.parametrize("role", ["admin", "operator", "citizen", "device"])
@pytest.mark.parametrize("naming", [
    {"NGSILD-Tenant": B}, {"fiware-service": B}, {"NGSILD-Tenant": A, "fiware-service": B}, {},
], ids=["ngsild-tenant", "fiware-service", "both-headers-disagree", "default-tenant"])
def test_every_tenant_route_refuses_another_tenant(api, role: str, naming: dict) -> None:
    client, principals = api
    before = snapshot(client, B), snapshot(client, "")
    for path, method in TENANT_ROUTES:
        path = concrete(path)
        headers = {**bearer(client, principals[role]), **naming}
        body = body_for(path) if method in ("POST", "PUT", "PATCH") else None
        answer = client.request(method, path, json=body, headers=headers)
        assert answer.status_code == 403, (method, path, answer.text)
        assert method == "HEAD" or "cannot act in tenant" in answer.json()["detail"]
    assert (snapshot(client, B), snapshot(client, "")) == before


@pytest.mark.parametrize(("method", "path", "body"), READS)
def test_reads_in_the_own_tenant_see_only_its_data(api, method, path, body) -> None:
    client, principals = api
    own = {**bearer(client, principals["citizen"]), "NGSILD-Tenant": A}
    answer = client.request(method, path.replace(ENTITY_B, ENTITY_A), json=body, headers=own)
    assert answer.status_code == 200, answer.text
    assert ENTITY_B not in answer.text
    foreign = {**bearer(client, principals["citizen"]), "NGSILD-Tenant": B}
    assert client.request(method, path, json=body, headers=foreign).status_code == 403


def test_writes_in_the_own_tenant_leave_the_other_alone(api) -> None:
    client, principals = api
    before = snapshot(client, B)
    own = {**bearer(client, principals["operator"]), "NGSILD-Tenant": A}
    upsert = client.post("/ngsi-ld/v1/entityOperations/upsert",
                         json=[thing(ENTITY_A, 2.0), thing(ENTITY_B, 2.0)], headers=own)
    assert upsert.status_code in (201, 204), upsert.text
    assert snapshot(client, B) == before
    mine = client.get(f"/ngsi-ld/v1/entities/{ENTITY_B}", headers=own)
    assert mine.json()["speed"]["value"] == 2.0  # a new entity of A that happens to share the id


def test_anonymous_public_reads_reach_any_tenant(api) -> None:
    client, _ = api
    answer = client.get(f"/ngsi-ld/v1/entities/{ENTITY_B}", headers={"NGSILD-Tenant": B})
    assert answer.status_code == 200
    refused = client.post("/ngsi-ld/v1/entities", json=thing("urn:ngsi-ld:Thing:x", 1.0),
                          headers={"NGSILD-Tenant": B})
    assert refused.status_code == 401


def test_the_admin_token_is_cross_tenant(api) -> None:
    client, _ = api
    for tenant, entity_id in ((A, ENTITY_A), (B, ENTITY_B)):
        answer = client.get(f"/ngsi-ld/v1/entities/{entity_id}",
                            headers={**ADMIN_TOKEN, "NGSILD-Tenant": tenant})
        assert answer.status_code == 200
    assert client.get("/auth/users", headers={**ADMIN_TOKEN, "NGSILD-Tenant": A}).json()


def test_open_mode_keeps_credentials_in_their_tenant(tmp_path) -> None:
    settings = Settings(database=str(tmp_path / "madina.db"), database_url=None, auth="off",
                        admin_token="test-admin-token")
    with TestClient(create_app(settings)) as client:
        identities = client.app.state.store.identities
        identities.add_user(User(A, "a-operator", "unused-hash", ("operator",)))
        token = bearer(client, user_principal(identities.get_user(A, "a-operator")))
        foreign = client.get("/ngsi-ld/v1/types", headers={**token, "NGSILD-Tenant": B})
        assert foreign.status_code == 403
        anonymous = client.post("/ngsi-ld/v1/entities", json=thing(ENTITY_B, 1.0),
                                headers={"NGSILD-Tenant": B})
        assert anonymous.status_code == 201
