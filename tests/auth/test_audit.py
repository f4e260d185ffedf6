"""The audit log on both engines: writes and refused writes recorded before the answer, reads
of personal data recorded, nothing secret stored, queried by admins of their own tenant only,
expired after the retention period."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from starlette.testclient import TestClient

from madina.app import create_app
from madina.auth.passwords import hash_password
from madina.auth.tokens import secret_hash
from madina.config import Settings
from madina.store.audit import AuditEntry
from madina.store.identities import ApiKey, User

ADMIN = {"Authorization": "Bearer test-admin-token"}
CITY_ADMIN = {"X-API-Key": "city-admin-secret", "NGSILD-Tenant": "city"}
OPERATOR = {"X-API-Key": "operator-secret"}
PASSWORD = "correct horse battery staple"
ENTITIES = "/ngsi-ld/v1/entities"


def thing(number: int) -> dict:
    return {"id": f"urn:ngsi-ld:Thing:{number}", "type": "Thing",
            "name": {"type": "Property", "value": "x"}}


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    settings = settings.model_copy(update={"trusted_proxies": "10.0.0.0/8"})
    with TestClient(create_app(settings), client=("10.0.0.2", 40000)) as client:
        identities = client.app.state.store.identities
        identities.add_api_key(ApiKey("k-city", "city", "city admin",
                                      secret_hash("city-admin-secret"), ("admin",)))
        identities.add_api_key(ApiKey("k-op", "", "operator", secret_hash("operator-secret"),
                                      ("operator",)))
        yield client


def entries(client: TestClient, headers=ADMIN, reads: bool = False, **params) -> list[dict]:
    """The log as the admin API answers it; without `reads`, minus the entries that earlier
    reads of the log itself left."""
    answer = client.get("/auth/audit", headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    return [e for e in answer.json() if reads or e["action"] != "personal_data"]


def test_a_write_is_recorded_with_who_what_when_and_where(api):
    before = datetime.now(UTC)
    answer = api.post(ENTITIES, json=thing(1), headers={
        **OPERATOR, "X-Request-ID": "req-42", "X-Forwarded-For": "198.51.100.7, 10.0.0.9"})
    assert answer.status_code == 201, answer.text
    assert answer.headers["x-request-id"] == "req-42"
    [entry] = entries(api)
    assert entry == {
        "at": entry["at"], "tenant": "", "subject": "k-op", "subjectTenant": "", "via": "api_key",
        "roles": ["operator"], "action": "write", "method": "POST", "path": ENTITIES,
        "entityIds": ["urn:ngsi-ld:Thing:1"], "status": 201, "detail": "",
        # The proxy at 10.0.0.9 is trusted: the address it saw is the client's.
        "client": "198.51.100.7", "requestId": "req-42",
    }
    at = datetime.fromisoformat(entry["at"])
    assert before - timedelta(seconds=1) <= at <= datetime.now(UTC)


def test_entity_ids_from_the_path_and_reads_not_recorded(api):
    api.post(ENTITIES, json=thing(1), headers=ADMIN)
    patch = {"name": {"type": "Property", "value": "y"}}
    assert api.patch(f"{ENTITIES}/urn:ngsi-ld:Thing:1/attrs", json=patch,
                     headers=OPERATOR).status_code == 204
    assert api.get(f"{ENTITIES}/urn:ngsi-ld:Thing:1", headers=OPERATOR).status_code == 200
    recorded = entries(api)
    assert [(e["method"], e["status"], e["entityIds"], e["subject"]) for e in recorded] == [
        ("PATCH", 204, ["urn:ngsi-ld:Thing:1"], "k-op"),
        ("POST", 201, ["urn:ngsi-ld:Thing:1"], "admin"),
    ]
    assert api.get("/health").headers["x-request-id"]  # every answer names its request


def test_refused_writes_are_recorded_and_failed_ones_are_not(api):
    assert api.post(ENTITIES, json=thing(1)).status_code == 401  # no credential
    assert api.post(ENTITIES, json=thing(2),
                    headers={"Authorization": "Bearer forged"}).status_code == 401
    assert api.post(ENTITIES, json=thing(3),
                    headers={**CITY_ADMIN, "NGSILD-Tenant": "other"}).status_code == 403
    assert api.post(ENTITIES, content=b"{", headers={
        **OPERATOR, "Content-Type": "application/json"}).status_code == 400
    recorded = entries(api)
    assert [(e["action"], e["status"], e["subject"], e["tenant"]) for e in recorded] == [
        ("refused", 403, "k-city", "other"),
        ("refused", 401, "anonymous", ""),
        ("refused", 401, "anonymous", ""),
    ]


def test_no_secret_is_ever_stored(api):
    api.app.state.store.identities.add_user(User("", "ana", hash_password(PASSWORD),
                                                 ("operator",)))
    grant = api.post("/auth/token", data={"grant_type": "password", "username": "ana",
                                          "password": PASSWORD})
    assert grant.status_code == 200
    tokens = grant.json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert api.post(ENTITIES, json=thing(1), headers=bearer).status_code == 201
    assert api.post("/auth/revoke", data={"token": tokens["refresh_token"]}).status_code == 200
    assert api.post(ENTITIES, json=thing(2), headers=OPERATOR).status_code == 201
    assert api.post("/auth/revoke?hint=query-secret", data={"token": "x"}).status_code == 200
    recorded = entries(api, reads=True)
    assert {e["path"] for e in recorded} >= {"/auth/token", "/auth/revoke", ENTITIES}
    assert any(e["subject"] == "ana" and e["via"] == "password" for e in recorded)
    stored = orjson.dumps(recorded).decode()
    for secret in (PASSWORD, tokens["access_token"], tokens["refresh_token"], "operator-secret",
                   "test-admin-token", "query-secret"):
        assert secret not in stored


def test_no_2xx_without_its_audit_entry(api):
    def broken(entries):
        raise RuntimeError("disk full")

    api.app.state.audit.table.append = broken
    answer = api.post(ENTITIES, json=thing(1), headers=OPERATOR)
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert answer.json()["detail"] == "the audit log cannot be written; retry later"
    assert api.get("/health").status_code == 200  # reads need no audit entry


def test_reading_the_log_is_personal_data_access_and_recorded(api):
    api.get("/auth/audit", headers=CITY_ADMIN)
    [entry] = entries(api, reads=True)
    assert entry["action"] == "personal_data" and entry["status"] is None
    assert entry["detail"] == "audit log of 'city'" and entry["subject"] == "k-city"
    assert entry["method"] == "GET" and entry["path"] == "/auth/audit"


def test_admins_read_their_own_tenant_and_the_admin_token_any(api):
    api.post(ENTITIES, json=thing(1), headers=OPERATOR)
    api.post(ENTITIES, json=thing(2), headers=CITY_ADMIN)
    city = entries(api, CITY_ADMIN)
    assert [(e["tenant"], e["entityIds"]) for e in city] == [("city", ["urn:ngsi-ld:Thing:2"])]
    assert {e["tenant"] for e in entries(api)} == {"", "city"}
    assert [e["tenant"] for e in entries(api, tenant="")] == [""]
    answer = api.get("/auth/audit", headers=CITY_ADMIN, params={"tenant": ""})
    assert answer.status_code == 400
    assert api.get("/auth/audit", headers=OPERATOR).status_code == 403
    assert api.get("/auth/audit").status_code == 401


def test_filters_since_until_subject_limit(api):
    table = api.app.state.audit.table
    start = datetime(2030, 1, 1, tzinfo=UTC)
    for minute in range(5):
        table.append([AuditEntry(start + timedelta(minutes=minute), "", f"s{minute % 2}", "",
                                 "api_key", (), "write", "POST", ENTITIES, status=201)])

    def subjects(**params) -> list[str]:
        return [e["subject"] + e["at"][14:16] for e in entries(api, **params)]

    assert subjects(since="2030-01-01T00:01:00Z", until="2030-01-01T00:03:00+00:00") == [
        "s002", "s101"]
    assert subjects(subject="s0", since="2030-01-01T00:00:00Z") == ["s004", "s002", "s000"]
    assert subjects(limit="2", since="2030-01-01T00:00:00Z") == ["s004", "s103"]
    for bad in ({"since": "yesterday"}, {"until": "2030-01-01T00:00:00"}, {"limit": "0"},
                {"limit": "x"}, {"limit": "100000"}, {"order": "asc"}):
        assert api.get("/auth/audit", headers=ADMIN, params=bad).status_code == 400, bad


def test_retention_forgets_old_entries(api):
    audit = api.app.state.audit
    now = datetime.now(UTC)
    for age in (800, 400, 10):
        audit.table.append([AuditEntry(now - timedelta(days=age), "", f"{age}-days-ago", "",
                                       "api_key", (), "write", "POST", ENTITIES, status=201)])
    api.portal.call(audit.maintain, 365)
    assert [e["subject"] for e in entries(api)] == ["10-days-ago"]


def test_concurrent_writes_share_audit_commits_and_each_is_recorded(api):
    """Group commit: entries arriving while a write is in flight go in the next transaction
    together, and every answered write still has its own entry."""
    table = api.app.state.audit.table
    batches: list[int] = []
    append = table.append

    def counting(entries):
        batches.append(len(entries))
        append(entries)

    table.append = counting

    async def burst() -> None:
        log = api.app.state.audit
        await asyncio.gather(*(
            log.record(AuditEntry(datetime.now(UTC), "", f"burst-{n}", "", "api_key", (),
                                  "write", "POST", ENTITIES, status=201))
            for n in range(10)
        ))

    api.portal.call(burst)
    assert sum(batches) == 10 and len(batches) < 10
    recorded = {e["subject"] for e in entries(api, limit="100")}
    assert {f"burst-{n}" for n in range(10)} <= recorded
