"""The OAuth2 endpoints end to end on both engines: sign in, use, refresh, revoke, log out."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator

import jwt
import pytest
from starlette.testclient import TestClient

from madina.app import create_app
from madina.auth.passwords import hash_password
from madina.auth.throttle import account_key
from madina.auth.tokens import AUDIENCE, secret_hash
from madina.config import Settings
from madina.store.identities import ApiKey, User

PASSWORD = "correct horse battery staple"


@functools.cache
def password_hash() -> str:
    """PASSWORD hashed once for the module: argon2 is slow on purpose (0.1-0.2 s a hash), and
    hashing it twice for every test made the tests' setup half a second."""
    return hash_password(PASSWORD)


def _users(app) -> None:
    identities = app.state.store.identities
    identities.add_user(User("", "ana", password_hash(), ("operator",)))
    identities.add_user(User("city", "bo", password_hash(), ("department",), ("roads",)))
    identities.add_api_key(ApiKey("key1", "", "sensor", secret_hash("s3cret"), ("device",),
                                  ("urn:ngsi-ld:Sensor:1",)))


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    settings = settings.model_copy(update={"rate_limit_per_ip": "0",
                                           "rate_limit_per_client": "0"})
    with TestClient(create_app(settings)) as client:
        _users(client.app)
        yield client


def login(client: TestClient, username="ana", password=PASSWORD, **extra):
    return client.post("/auth/token", data={"grant_type": "password", "username": username,
                                            "password": password, **extra})


def whoami(client: TestClient, token: str):
    """A request through the authentication middleware; 401 when the token is refused."""
    return client.get("/health", headers={"Authorization": f"Bearer {token}"})


def test_password_grant_issues_bearer_tokens(api):
    answer = login(api, scope="ignored")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["refresh_token"]
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == "ana" and claims["roles"] == ["operator"]
    assert claims["aud"] == AUDIENCE and claims["iss"] == "madina"
    assert {"exp", "iat", "jti"} <= claims.keys()
    assert whoami(api, body["access_token"]).status_code == 200


def test_tenant_from_header_or_form(api):
    assert login(api, "bo").status_code == 400  # bo lives in tenant "city"
    answer = login(api, "bo", tenant="city")
    assert answer.status_code == 200
    claims = jwt.decode(answer.json()["access_token"], options={"verify_signature": False})
    assert claims["tenant"] == "city" and claims["departments"] == ["roads"]
    header = api.post("/auth/token", headers={"NGSILD-Tenant": "city"},
                      data={"grant_type": "password", "username": "bo", "password": PASSWORD})
    assert header.status_code == 200


def test_wrong_password_and_unknown_user_are_invalid_grant(api):
    for answer in (login(api, password="nope"), login(api, username="nobody")):
        assert answer.status_code == 400
        assert answer.json()["error"] == "invalid_grant"
        assert answer.headers["cache-control"] == "no-store"


def test_malformed_requests(api):
    assert api.post("/auth/token", json={"grant_type": "password"}).json()["error"] == (
        "invalid_request")
    answer = api.post("/auth/token", data={"grant_type": "implicit"})
    assert answer.json()["error"] == "unsupported_grant_type"
    answer = api.post("/auth/token", data={"grant_type": "password", "username": "ana"})
    assert answer.json()["error"] == "invalid_request"
    answer = api.post("/auth/token", content="grant_type=password&grant_type=password",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.json()["error"] == "invalid_request"


def test_disabled_user_cannot_sign_in_or_refresh(api):
    tokens = login(api).json()
    refresh = tokens["refresh_token"]
    assert whoami(api, tokens["access_token"]).status_code == 200
    api.app.state.store.identities.set_user_disabled("", "ana", True)
    assert whoami(api, tokens["access_token"]).status_code == 401  # at once, not at expiry
    assert login(api).json()["error"] == "invalid_grant"
    answer = api.post("/auth/token", data={"grant_type": "refresh_token",
                                           "refresh_token": refresh})
    assert answer.json()["error"] == "invalid_grant"


def test_refresh_rotates_and_reuse_revokes_the_family(api):
    first = login(api).json()["refresh_token"]
    second = api.post("/auth/token", data={"grant_type": "refresh_token",
                                           "refresh_token": first})
    assert second.status_code == 200
    rotated = second.json()["refresh_token"]
    assert rotated != first
    assert whoami(api, second.json()["access_token"]).status_code == 200
    # The old token again: someone holds a copy, so the whole family ends.
    reuse = api.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": first})
    assert reuse.json()["error"] == "invalid_grant"
    answer = api.post("/auth/token", data={"grant_type": "refresh_token",
                                           "refresh_token": rotated})
    assert answer.json()["error"] == "invalid_grant"


def test_client_credentials_grant(api):
    answer = api.post("/auth/token", data={"grant_type": "client_credentials",
                                           "client_id": "key1", "client_secret": "s3cret"})
    assert answer.status_code == 200
    body = answer.json()
    assert "refresh_token" not in body  # RFC 6749 §4.4.3
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["entities"] == ["urn:ngsi-ld:Sensor:1"] and claims["roles"] == ["device"]
    basic = api.post("/auth/token", data={"grant_type": "client_credentials"},
                     auth=("key1", "s3cret"))
    assert basic.status_code == 200
    api.app.state.store.identities.set_api_key_disabled("key1", True)
    assert whoami(api, body["access_token"]).status_code == 401  # disabling ends its tokens
    api.app.state.store.identities.set_api_key_disabled("key1", False)
    wrong = api.post("/auth/token", data={"grant_type": "client_credentials",
                                          "client_id": "key1", "client_secret": "nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic")


def test_api_key_header(api):
    assert api.get("/health", headers={"X-API-Key": "s3cret"}).status_code == 200
    refused = api.get("/health", headers={"X-API-Key": "wrong"})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    api.app.state.store.identities.set_api_key_disabled("key1", True)
    assert api.get("/health", headers={"X-API-Key": "s3cret"}).status_code == 401


def test_revoke_refresh_and_access_tokens(api):
    body = login(api).json()
    assert api.post("/auth/revoke", data={"token": body["refresh_token"]}).status_code == 200
    answer = api.post("/auth/token", data={"grant_type": "refresh_token",
                                           "refresh_token": body["refresh_token"]})
    assert answer.json()["error"] == "invalid_grant"
    assert whoami(api, body["access_token"]).status_code == 200
    assert api.post("/auth/revoke", data={"token": body["access_token"]}).status_code == 200
    assert whoami(api, body["access_token"]).status_code == 401
    assert api.post("/auth/revoke", data={"token": "garbage"}).status_code == 200


def test_logout_ends_access_and_refresh_tokens(api):
    body = login(api).json()
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert api.post("/auth/logout", headers=headers).status_code == 204
    assert whoami(api, body["access_token"]).status_code == 401
    answer = api.post("/auth/token", data={"grant_type": "refresh_token",
                                           "refresh_token": body["refresh_token"]})
    assert answer.json()["error"] == "invalid_grant"
    assert api.post("/auth/logout").status_code == 401


def test_throttling_answers_429_with_retry_after(api):
    for _ in range(5):
        assert login(api, password="guess").status_code == 400
    answer = login(api)  # even the right password waits now
    assert answer.status_code == 429
    assert int(answer.headers["retry-after"]) >= 1
    assert answer.json()["error"] == "slow_down"
    # Counted in the database: another worker (another app on the same database) agrees.
    api.app.state.store.identities.clear_login_failures(account_key("", "ana"))
    assert login(api).status_code == 200


def _forge(claims: dict, key: str = "x" * 32, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def _claims(**changes) -> dict:
    now = int(time.time())
    base = {"iss": "madina", "aud": AUDIENCE, "iat": now, "exp": now + 60, "jti": "j",
            "sub": "ana", "tenant": "", "roles": ["admin"]}
    return {**base, **changes}


def test_forged_tokens_are_refused(api):
    secret = api.app.state.store.identities.signing_secret("unused")
    assert whoami(api, _forge(_claims(), secret)).status_code == 200  # the control
    refused = [
        _forge(_claims(), "some other secret of enough length"),  # tampered signature
        _forge(_claims(iss="evil"), secret),
        _forge(_claims(aud="other"), secret),
        _forge(_claims(exp=int(time.time()) - 10), secret),
        _forge({k: v for k, v in _claims().items() if k != "jti"}, secret),
        jwt.encode(_claims(), None, algorithm="none"),
        _forge(_claims(), secret, "HS512"),
        "not.a.token",
    ]
    for token in refused:
        answer = whoami(api, token)
        assert answer.status_code == 401, token
        assert answer.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    body = login(api).json()["access_token"]
    head, payload, signature = body.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert whoami(api, f"{head}.{payload}.{flipped}").status_code == 401


def test_access_token_expires(settings):
    settings = settings.model_copy(update={"access_token_ttl": 1.0})
    with TestClient(create_app(settings)) as client:
        _users(client.app)
        token = login(client).json()["access_token"]
        assert whoami(client, token).status_code == 200
        time.sleep(2.1)
        assert whoami(client, token).status_code == 401


def test_admin_token(settings):
    settings = settings.model_copy(update={"admin_token": "let-me-in-please"})
    with TestClient(create_app(settings)) as client:
        assert whoami(client, "let-me-in-please").status_code == 200
        assert whoami(client, "let-me-in-pleasE").status_code == 401
        # No bootstrap admin user when the admin token is set.
        assert client.app.state.store.identities.list_users() == []
