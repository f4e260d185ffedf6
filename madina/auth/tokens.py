"""Access tokens (signed JWTs) and refresh tokens (opaque random strings).

Access tokens are short-lived and checked without a database read except the revocation list;
refresh tokens are long-lived, stored only as hashes, and rotated on every use. Only HS256 is
ever accepted: the algorithm list is fixed here, never taken from the token, so `alg=none` and
algorithm-confusion tokens fail verification.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from typing import Any

import jwt

from madina.auth.principal import Principal, Role, Via

ALGORITHM = "HS256"
AUDIENCE = "madina"
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti", "sub"]


class InvalidToken(Exception):
    """The token is malformed, forged, expired, revoked or meant for someone else."""


def new_secret() -> str:
    """A signing secret: 256 random bits, as RFC 7518 §3.2 asks for HS256."""
    return secrets.token_urlsafe(32)


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """SHA-256 of a random secret (refresh token, API key). A fast hash suffices for 256-bit
    random values, unlike passwords: there is nothing to guess."""
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenSigner:
    """Issues and verifies this deployment's access tokens."""

    def __init__(self, secret: str, issuer: str, ttl: float) -> None:
        self._key = secret.encode()
        self.issuer = issuer
        self.ttl = ttl

    def issue(self, principal: Principal, family: str | None, now: float | None = None) -> str:
        """An access token for `principal`; `family` ties it to its refresh token family so
        a logout can end both."""
        now = time.time() if now is None else now
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "iat": int(now),
            "exp": int(now + self.ttl),
            "jti": uuid.uuid4().hex,
            "sub": principal.subject,
            "tenant": principal.tenant,
            "roles": sorted(principal.roles),
            "via": principal.via.value,
        }
        if principal.departments:
            claims["departments"] = sorted(principal.departments)
        if principal.entity_ids:
            claims["entities"] = sorted(principal.entity_ids)
        if family:
            claims["fam"] = family
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims once signature, issuer, audience and expiry check out."""
        try:
            return jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=self.issuer,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None


def principal_of(claims: dict[str, Any]) -> Principal:
    """The principal a verified token speaks for; unknown roles are dropped, not trusted."""
    known = {role.value for role in Role}
    try:
        via = Via(claims.get("via", Via.PASSWORD))
    except ValueError:
        raise InvalidToken("unknown sign-in method") from None
    return Principal(
        subject=str(claims["sub"]),
        tenant=str(claims.get("tenant", "")),
        roles=frozenset(Role(r) for r in claims.get("roles", []) if r in known),
        via=via,
        departments=frozenset(claims.get("departments", [])),
        entity_ids=frozenset(claims.get("entities", [])),
    )
