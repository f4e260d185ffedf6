"""The admin API under /auth: users, API keys and tenants, on both engines."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from madina.app import create_app
from madina.config import Settings

ADMIN = {"Authorization": "Bearer test-admin-token", "NGSILD-Tenant": "city"}
PASSWORD = "correct horse battery"


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def sign_in(client: TestClient, name: str, password: str = PASSWORD):
    return client.post("/auth/token", data={"grant_type": "password", "username": name,
                                            "password": password},
                       headers={"NGSILD-Tenant": "city"})


def add_user(client: TestClient, name: str, roles: list[str], headers=ADMIN, **extra):
    return client.post("/auth/users", json={"name": name, "password": PASSWORD, "roles": roles,
                                            **extra}, headers=headers)


def test_users_are_created_listed_changed_and_disabled(api: TestClient) -> None:
    created = add_user(api, "ana", ["department"], departments=["roads"])
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/auth/users/ana"
    assert created.json() == {"name": "ana", "tenant": "city", "roles": ["department"],
                              "departments": ["roads"], "disabled": False,
                              "createdAt": created.json()["createdAt"]}
    assert add_user(api, "ana", ["citizen"]).status_code == 409
    assert [u["name"] for u in api.get("/auth/users", headers=ADMIN).json()] == ["ana"]
    assert sign_in(api, "ana").status_code == 200

    changed = api.patch("/auth/users/ana", json={"roles": ["operator"]}, headers=ADMIN)
    assert changed.json()["roles"] == ["operator"] and changed.json()["departments"] == ["roads"]
    refresh = sign_in(api, "ana").json()["refresh_token"]
    disabled = api.patch("/auth/users/ana", json={"disabled": True}, headers=ADMIN)
    assert disabled.json()["disabled"] is True
    assert sign_in(api, "ana").status_code == 400
    again = api.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh})
    assert again.status_code == 400  # disabling ended the user's sign-ins
    api.patch("/auth/users/ana", json={"disabled": False, "password": "another password"},
              headers=ADMIN)
    assert sign_in(api, "ana", "another password").status_code == 200


def test_answers_never_carry_secrets_or_hashes(api: TestClient) -> None:
    add_user(api, "ana", ["operator"])
    key = api.post("/auth/keys", json={"name": "s1", "roles": ["device"]}, headers=ADMIN).json()
    answers = [api.get("/auth/users", headers=ADMIN), api.get("/auth/users/ana", headers=ADMIN),
               api.get("/auth/keys", headers=ADMIN), api.get(f"/auth/keys/{key['id']}",
                                                              headers=ADMIN)]
    for answer in answers:
        assert answer.status_code == 200
        assert "argon2" not in answer.text and "hash" not in answer.text.lower()
        assert key["secret"] not in answer.text
        assert answer.headers["cache-control"] == "no-store"


def test_a_key_secret_is_shown_once_and_works_until_disabled(api: TestClient) -> None:
    entity = "urn:ngsi-ld:Thing:sensor-1"
    created = api.post("/auth/keys", json={"name": "sensor", "roles": ["device"],
                                           "entityIds": [entity]}, headers=ADMIN)
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["entityIds"] == [entity] and key["tenant"] == "city" and key["secret"]
    device = {"X-API-Key": key["secret"], "NGSILD-Tenant": "city"}
    body = {"id": entity, "type": "Thing"}
    assert api.post("/ngsi-ld/v1/entities", json=body, headers=device).status_code == 201
    assert [k["id"] for k in api.get("/auth/keys", headers=ADMIN).json()] == [key["id"]]
    disabled = api.patch(f"/auth/keys/{key['id']}", json={"disabled": True}, headers=ADMIN)
    assert disabled.json()["disabled"] is True
    assert api.get("/ngsi-ld/v1/types", headers=device).status_code == 401


def test_another_tenants_key_is_not_found(api: TestClient) -> None:
    other = {**ADMIN, "NGSILD-Tenant": "town"}
    key = api.post("/auth/keys", json={"name": "s", "roles": ["device"]}, headers=other).json()
    assert api.get(f"/auth/keys/{key['id']}", headers=ADMIN).status_code == 404
    assert api.patch(f"/auth/keys/{key['id']}", json={"disabled": True},
                     headers=ADMIN).status_code == 404
    assert api.get(f"/auth/keys/{key['id']}", headers=other).json()["disabled"] is False


@pytest.mark.parametrize("body", [
    {"name": "ana", "password": PASSWORD},
    {"name": "ana", "password": "short", "roles": ["citizen"]},
    {"name": "ana", "password": PASSWORD, "roles": ["mayor"]},
    {"name": "ana", "password": PASSWORD, "roles": []},
    {"name": "", "password": PASSWORD, "roles": ["citizen"]},
    {"name": "ana", "password": PASSWORD, "roles": ["citizen"], "departments": "roads"},
    {"name": "ana", "password": PASSWORD, "roles": ["citizen"], "email": "a@example.org"},
    ["ana"],
])
def test_bad_user_bodies_are_400(api: TestClient, body) -> None:
    answer = api.post("/auth/users", json=body, headers=ADMIN)
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"]
    assert api.get("/auth/users", headers=ADMIN).json() == []


def test_tenants_are_listed_for_the_admin_token_only_own_for_a_tenant_admin(api) -> None:
    api.post("/ngsi-ld/v1/entities", json={"id": "urn:ngsi-ld:Thing:t", "type": "Thing"},
             headers={**ADMIN, "NGSILD-Tenant": "town"})
    add_user(api, "boss", ["admin"])
    assert api.get("/auth/tenants", headers=ADMIN).json() == ["", "city", "town"]
    token = sign_in(api, "boss").json()["access_token"]
    own = {"Authorization": f"Bearer {token}", "NGSILD-Tenant": "city"}
    assert api.get("/auth/tenants", headers=own).json() == ["city"]
    assert api.get("/auth/users", headers={**own, "NGSILD-Tenant": "town"}).status_code == 403


def test_only_admins_manage_identities(api: TestClient) -> None:
    add_user(api, "op", ["operator"])
    token = sign_in(api, "op").json()["access_token"]
    operator = {"Authorization": f"Bearer {token}", "NGSILD-Tenant": "city"}
    assert add_user(api, "mallory", ["admin"], headers=operator).status_code == 403
    assert api.patch("/auth/users/op", json={"roles": ["admin"]},
                     headers=operator).status_code == 403
    assert api.get("/auth/users", headers={"NGSILD-Tenant": "city"}).status_code == 401
