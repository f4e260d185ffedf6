"""Bearer tokens from an external OpenID Connect provider (Keycloak, which cities commonly run).

The provider signs with its private key and publishes the public keys (JWKS); we verify with
those, never with anything the token itself names. The algorithm list is fixed to asymmetric
ones, so a token signed with HS256 using the provider's *public* key as the secret (algorithm
confusion) or with `alg=none` is refused. Keys are cached; a token signed with a key we do not
know yet (the provider rotated) refetches the set, at most once per `refresh_interval`, so a
stream of tokens with made-up key ids cannot turn us into a load generator against the provider.

Verification may fetch from the network, so it is synchronous and meant for a worker thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import structlog

from madina.auth.principal import Principal, Role, Via
from madina.auth.tokens import InvalidToken

if TYPE_CHECKING:
    from madina.config import Settings

log = structlog.get_logger("madina.auth")

ALGORITHMS = ["RS256", "ES256"]
LEEWAY_S = 30
"""Clock skew tolerated on exp/nbf/iat between the provider and us."""
REQUIRED_CLAIMS = ["iss", "aud", "exp", "sub"]
DISCOVERY_PATH = "/.well-known/openid-configuration"


def parse_role_map(text: str) -> dict[str, Role]:
    """ "provider-role=madina-role,..." as a mapping; an unknown Madina role is an error, so a
    typo in the configuration fails at start instead of silently granting nothing."""
    mapping: dict[str, Role] = {}
    for pair in (p.strip() for p in text.split(",")):
        if not pair:
            continue
        theirs, sep, ours = (part.strip() for part in pair.partition("="))
        if not sep or not theirs:
            raise ValueError(f"role mapping {pair!r} is not PROVIDER_ROLE=ROLE")
        try:
            mapping[theirs] = Role(ours)
        except ValueError:
            known = ", ".join(role.value for role in Role)
            raise ValueError(f"role mapping {pair!r}: {ours!r} is not one of {known}") from None
    return mapping


def claim(claims: dict[str, Any], path: str) -> Any:
    """The value at a dotted claim path (`realm_access.roles`), or None."""
    value: Any = claims
    for name in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


class KeySet:
    """The provider's signing keys by key id, through PyJWT's PyJWKClient (which caches the set
    for `lifespan` seconds); forced refreshes for unknown key ids are rate-bounded here."""

    def __init__(
        self,
        jwks_url: Callable[[], str],
        refresh_interval: float = 30.0,
        lifespan: float = 300.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._jwks_url = jwks_url
        self._lifespan = lifespan
        self._timeout = timeout
        self.refresh_interval = refresh_interval
        self.clock = clock
        self._client: jwt.PyJWKClient | None = None
        self._last_refresh = self._last_discovery = -float("inf")
        self._lock = threading.Lock()

    def key(self, kid: str | None) -> Any:
        """The public key with id `kid`, refetching the set once if it is not known."""
        if not kid:
            raise InvalidToken("the token names no signing key (kid)")
        with self._lock:
            try:
                found = self._find(self._jwks().get_signing_keys(), kid)
                if found is None and self.clock() - self._last_refresh >= self.refresh_interval:
                    self._last_refresh = self.clock()
                    found = self._find(self._jwks().get_signing_keys(refresh=True), kid)
            except jwt.PyJWKClientConnectionError as exc:
                log.warning("OIDC signing keys unavailable", error=str(exc))
                raise InvalidToken("the identity provider's keys cannot be fetched") from None
            except jwt.PyJWTError as exc:
                raise InvalidToken(f"the identity provider's keys are unusable: {exc}") from None
        if found is None:
            raise InvalidToken(f"unknown signing key {kid!r}")
        return found.key

    def _jwks(self) -> jwt.PyJWKClient:
        if self._client is None:
            if self.clock() - self._last_discovery < self.refresh_interval:
                raise jwt.PyJWKClientConnectionError("the last attempt failed; retrying later")
            self._last_discovery = self.clock()
            self._client = jwt.PyJWKClient(
                self._jwks_url(), cache_keys=False, lifespan=self._lifespan,
                timeout=self._timeout,
            )
        return self._client

    @staticmethod
    def _find(keys: list[jwt.PyJWK], kid: str) -> jwt.PyJWK | None:
        return next((key for key in keys if key.key_id == kid), None)


class OidcVerifier:
    """Turns the provider's access tokens into principals (`Via.OIDC`)."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        roles_claim: str = "realm_access.roles",
        role_map: dict[str, Role] | None = None,
        tenant_claim: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.roles_claim = roles_claim
        self.role_map = role_map or {}
        self.tenant_claim = tenant_claim
        self._timeout = timeout
        self._jwks_url = jwks_url
        self.keys = KeySet(self._keys_url, timeout=timeout)

    def issued(self, token: str) -> bool:
        """Whether the token claims to come from the provider (unverified: it only picks which
        verification applies, and that one checks `iss` again)."""
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return False
        return claims.get("iss") == self.issuer

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        if header.get("alg") not in ALGORITHMS:
            raise InvalidToken(f"algorithm {header.get('alg')!r} is not accepted")
        key = self.keys.key(header.get("kid"))
        try:
            claims = jwt.decode(
                token, key, algorithms=ALGORITHMS, audience=self.audience, issuer=self.issuer,
                leeway=LEEWAY_S, options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        return self.principal(claims)

    def principal(self, claims: dict[str, Any]) -> Principal:
        theirs = claim(claims, self.roles_claim)
        if isinstance(theirs, str):
            theirs = [theirs]
        roles = frozenset(
            self.role_map[name] for name in theirs or () if isinstance(name, str)
            and name in self.role_map
        )
        tenant = ""
        if self.tenant_claim:
            tenant = claim(claims, self.tenant_claim)
            if not isinstance(tenant, str):
                # No tenant must not mean the default tenant: that may be another city's.
                raise InvalidToken(f"the token has no {self.tenant_claim!r} claim")
        return Principal(str(claims["sub"]), tenant, roles, Via.OIDC)

    def _keys_url(self) -> str:
        """The configured JWKS URL, or the one the provider's discovery document names, whose
        `issuer` must be ours (OpenID Connect Discovery 1.0 §4.3)."""
        if self._jwks_url is None:
            url = self.issuer.rstrip("/") + DISCOVERY_PATH
            try:
                answer = httpx.get(url, timeout=self._timeout)
                answer.raise_for_status()
                document = answer.json()
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("OIDC discovery failed", url=url, error=str(exc))
                raise jwt.PyJWKClientConnectionError(f"discovery at {url} failed") from None
            if not isinstance(document, dict) or document.get("issuer") != self.issuer:
                raise jwt.PyJWKClientError(f"discovery at {url} names another issuer")
            if not isinstance(document.get("jwks_uri"), str):
                raise jwt.PyJWKClientError(f"discovery at {url} names no jwks_uri")
            self._jwks_url = document["jwks_uri"]
        return self._jwks_url


def oidc_verifier(settings: Settings) -> OidcVerifier | None:
    """The verifier the settings ask for, or None when no provider is configured."""
    if not settings.oidc_issuer or not settings.oidc_audience:
        return None  # Settings refuses an issuer without an audience
    return OidcVerifier(
        settings.oidc_issuer, settings.oidc_audience, settings.oidc_jwks_url,
        settings.oidc_roles_claim, parse_role_map(settings.oidc_role_map),
        settings.oidc_tenant_claim,
    )
