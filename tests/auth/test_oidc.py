"""Bearer tokens of an external OpenID Connect provider, against a local provider stand-in
serving discovery and JWKS for keys made in the test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import ValidationError
from starlette.testclient import TestClient

from madina.app import create_app
from madina.auth.oidc import DISCOVERY_PATH, OidcVerifier, claim, parse_role_map
from madina.auth.principal import Role, Via
from madina.auth.tokens import InvalidToken
from madina.config import Settings
from tests.conformance.conftest import ContextServer

AUDIENCE = "madina-api"
JWKS_PATH = "/realms/city/protocol/openid-connect/certs"
ROLE_MAP = "city-admin=admin,city-operator=operator"


class Provider:
    """A Keycloak stand-in: a realm issuer, its discovery document and its signing keys."""

    def __init__(self, server: ContextServer) -> None:
        self.server = server
        self.issuer = server.base + "/realms/city"
        self.keys: dict[str, Any] = {}
        server.documents["/realms/city" + DISCOVERY_PATH] = {
            "issuer": self.issuer, "jwks_uri": server.base + JWKS_PATH,
        }
        self.kid = self.add_key()

    def add_key(self, key: Any = None) -> str:
        """A new signing key published in the JWKS (the provider rotating keys)."""
        key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = uuid.uuid4().hex
        self.keys[kid] = key
        self.publish()
        return kid

    def publish(self, kids: list[str] | None = None) -> None:
        published = []
        for kid in kids if kids is not None else list(self.keys):
            key = self.keys[kid]
            algorithm = jwt.algorithms.ECAlgorithm if isinstance(
                key, ec.EllipticCurvePrivateKey) else jwt.algorithms.RSAAlgorithm
            jwk = json.loads(algorithm.to_jwk(key.public_key()))
            published.append({**jwk, "kid": kid, "use": "sig"})
        self.server.documents[JWKS_PATH] = {"keys": published}

    def jwks_fetches(self) -> int:
        return self.server.hits.get(JWKS_PATH, 0)

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.issuer, "aud": AUDIENCE, "sub": "f3b1c2d4-city-user", "iat": now,
            "exp": now + 300, "realm_access": {"roles": ["city-operator", "offline_access"]},
        }
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, kid: str | None = None, algorithm: str = "RS256", **changes: Any) -> str:
        kid = kid or self.kid
        return jwt.encode(self.claims(**changes), self.keys[kid], algorithm=algorithm,
                          headers={"kid": kid})


@pytest.fixture
def provider(context_server: ContextServer) -> Provider:
    return Provider(context_server)


def verifier(provider: Provider, **options: Any) -> OidcVerifier:
    return OidcVerifier(provider.issuer, AUDIENCE, role_map=parse_role_map(ROLE_MAP), **options)


@pytest.fixture
def api(provider: Provider, tmp_path) -> Iterator[TestClient]:
    """The app trusting the provider (storage plays no part: SQLite only)."""
    settings = Settings(
        database=str(tmp_path / "madina.db"), database_url=None, rate_limit_per_ip="0",
        rate_limit_per_client="0", admin_token="test-admin-token",
        oidc_issuer=provider.issuer, oidc_audience=AUDIENCE, oidc_role_map=ROLE_MAP,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def status(client: TestClient, token: str) -> int:
    return client.get("/health", headers={"Authorization": f"Bearer {token}"}).status_code


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())


# -- configuration ---------------------------------------------------------------------------
def test_role_map_parsing():
    assert parse_role_map(" city-admin = admin, x=device ,") == {
        "city-admin": Role.ADMIN, "x": Role.DEVICE}
    assert parse_role_map("") == {}
    for bad in ("city-admin", "=admin", "city-admin=superuser"):
        with pytest.raises(ValueError):
            parse_role_map(bad)


def test_settings_refuse_an_issuer_without_audience_or_a_bad_role_map():
    with pytest.raises(ValidationError, match="AUDIENCE"):
        Settings(oidc_issuer="https://sso.example.org/realms/city")
    with pytest.raises(ValidationError, match="differ"):
        Settings(oidc_issuer="madina", oidc_audience="x")
    with pytest.raises(ValidationError):
        Settings(oidc_role_map="a=root")


def test_claim_paths():
    claims = {"realm_access": {"roles": ["a"]}, "tenant": "city", "x": "flat"}
    assert claim(claims, "realm_access.roles") == ["a"]
    assert claim(claims, "tenant") == "city"
    assert claim(claims, "x.y") is None and claim(claims, "missing.roles") is None


# -- verification ----------------------------------------------------------------------------
def test_valid_token_maps_roles_and_discovers_the_keys(provider):
    oidc = verifier(provider)
    principal = oidc.verify(provider.token(realm_access={"roles": ["city-admin", "other"]}))
    assert principal.subject == "f3b1c2d4-city-user" and principal.tenant == ""
    assert principal.roles == {Role.ADMIN} and principal.via is Via.OIDC
    assert provider.server.hits["/realms/city" + DISCOVERY_PATH] == 1
    # Unmapped provider roles grant nothing; the keys are cached, not fetched per token.
    assert oidc.verify(provider.token()).roles == {Role.OPERATOR}
    assert oidc.verify(provider.token(realm_access=None)).roles == frozenset()
    assert provider.jwks_fetches() == 1


def test_es256_keys_and_a_configured_jwks_url(provider):
    kid = provider.add_key(ec.generate_private_key(ec.SECP256R1()))
    oidc = verifier(provider, jwks_url=provider.server.base + JWKS_PATH)
    assert oidc.verify(provider.token(kid, "ES256")).roles == {Role.OPERATOR}
    assert "/realms/city" + DISCOVERY_PATH not in provider.server.hits


def test_tenant_claim(provider):
    oidc = verifier(provider, tenant_claim="madina.tenant")
    assert oidc.verify(provider.token(madina={"tenant": "city"})).tenant == "city"
    with pytest.raises(InvalidToken, match="tenant"):
        oidc.verify(provider.token())


def test_discovery_naming_another_issuer_is_refused(provider):
    provider.server.documents["/realms/city" + DISCOVERY_PATH]["issuer"] = "https://evil"
    with pytest.raises(InvalidToken):
        verifier(provider).verify(provider.token())


def test_key_rotation_is_picked_up_and_unknown_kids_refetch_at_most_once_per_interval(provider):
    oidc = verifier(provider)
    clock = [0.0]
    oidc.keys.clock = lambda: clock[0]
    assert oidc.verify(provider.token()).roles == {Role.OPERATOR}
    new_kid = provider.add_key()
    provider.publish([new_kid])  # the old key retired
    assert oidc.verify(provider.token(new_kid)).roles == {Role.OPERATOR}
    assert provider.jwks_fetches() == 2
    for _ in range(5):  # made-up key ids: one refetch per interval, not one per token
        with pytest.raises(InvalidToken, match="unknown signing key"):
            oidc.verify(provider.token(kid=provider.add_key()))
    assert provider.jwks_fetches() == 2
    clock[0] += oidc.keys.refresh_interval
    assert oidc.verify(provider.token(kid=provider.add_key())).subject
    assert provider.jwks_fetches() == 3


# -- through the app -------------------------------------------------------------------------
def test_app_accepts_the_providers_tokens(api, provider):
    assert status(api, provider.token()) == 200


def test_app_refuses_bad_tokens(api, provider):
    now = int(time.time())
    public_pem = provider.keys[provider.kid].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    hs256 = _unsigned({"alg": "HS256", "typ": "JWT", "kid": provider.kid}, provider.claims())
    hs256 += "." + _b64(hmac.new(public_pem, hs256.encode(), hashlib.sha256).digest())
    header, _, signature = provider.token().split(".")
    tampered_claims = provider.claims(realm_access={"roles": ["city-admin"]})
    tampered = f"{header}.{_b64(json.dumps(tampered_claims).encode())}.{signature}"
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = {
        "wrong issuer": provider.token(iss=provider.issuer + "-other"),
        "wrong audience": provider.token(aud="someone-else"),
        "expired": provider.token(iat=now - 7200, exp=now - 3600),
        "not yet valid": provider.token(nbf=now + 3600),
        "no subject": provider.token(sub=None),
        "unknown kid": jwt.encode(provider.claims(), stranger, "RS256", headers={"kid": "x"}),
        "known kid, other key": jwt.encode(provider.claims(), stranger, "RS256",
                                           headers={"kid": provider.kid}),
        "alg none": _unsigned({"alg": "none", "kid": provider.kid}, provider.claims()) + ".",
        "HS256 with the public key": hs256,
        "tampered": tampered,
    }
    answers = {name: status(api, token) for name, token in bad.items()}
    assert answers == dict.fromkeys(bad, 401)
    assert status(api, provider.token()) == 200  # and nothing above broke the key cache


def test_leeway_tolerates_small_clock_skew(api, provider):
    now = int(time.time())
    assert status(api, provider.token(exp=now - 5, nbf=now + 5)) == 200
