"""Signing in: passwords, API keys and tokens in, a `Principal` (and tokens) out.

Every database call goes through `run`, which puts it where the engine wants it (the event loop
for SQLite, a worker thread for PostgreSQL); argon2, deliberately slow, always runs on a thread.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from madina.auth import throttle
from madina.auth.oidc import OidcVerifier
from madina.auth.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from madina.auth.principal import Principal, Role, Via
from madina.auth.tokens import (
    InvalidToken,
    TokenSigner,
    new_refresh_token,
    principal_of,
    secret_hash,
)
from madina.store.identities import ApiKey, IdentityStore, RefreshToken, User

Runner = Callable[..., Awaitable[Any]]


class InvalidGrant(Exception):
    """Wrong credentials, or a refresh token that is unknown, expired, revoked or reused."""


class InvalidClient(Exception):
    """Client authentication failed (unknown or disabled API key, wrong secret)."""


class Throttled(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed sign-ins; retry in {retry_after:.0f} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Grant:
    """What the token endpoint answers (RFC 6749 §5.1)."""

    access_token: str
    expires_in: int
    refresh_token: str | None = None


def _roles(names: tuple[str, ...]) -> frozenset[Role]:
    known = {role.value for role in Role}
    return frozenset(Role(name) for name in names if name in known)


def user_principal(user: User) -> Principal:
    return Principal(user.name, user.tenant, _roles(user.roles), Via.PASSWORD,
                     departments=frozenset(user.departments))


def key_principal(key: ApiKey, via: Via) -> Principal:
    return Principal(key.id, key.tenant, _roles(key.roles), via,
                     entity_ids=frozenset(key.entity_ids))


class Authenticator:
    def __init__(
        self,
        store: IdentityStore,
        signer: TokenSigner,
        run: Runner,
        refresh_ttl: float,
        admin_token: str | None = None,
        clock: Callable[[], float] = time.time,
        oidc: OidcVerifier | None = None,
    ) -> None:
        self.store = store
        self.signer = signer
        self.run = run
        self._dummy_hash = dummy_hash()
        self.refresh_ttl = refresh_ttl
        self._admin_token = admin_token.encode() if admin_token else None
        self.clock = clock
        self.oidc = oidc
        """An external OpenID Connect provider whose tokens are accepted too (None: none)."""

    # -- token endpoint grants ---------------------------------------------------------------
    async def password_grant(self, tenant: str, name: str, password: str, address: str) -> Grant:
        keys = [(throttle.account_key(tenant, name), throttle.ACCOUNT_FREE_FAILURES),
                (throttle.address_key(address), throttle.ADDRESS_FREE_FAILURES)]
        await self._check_throttle(keys)
        user = await self.run(self.store.get_user, tenant, name)
        stored = user.password_hash if user else self._dummy_hash
        valid = await anyio.to_thread.run_sync(verify_password, stored, password)
        if user is None or not valid or user.disabled:
            for key, _ in keys:
                await self.run(self.store.record_login_failure, key, self.clock(), throttle.WINDOW)
            raise InvalidGrant("wrong user name or password, or the user is disabled")
        await self.run(self.store.clear_login_failures, keys[0][0])
        if needs_rehash(user.password_hash):
            rehashed = await anyio.to_thread.run_sync(hash_password, password)
            await self.run(self.store.set_password_hash, tenant, name, rehashed)
        return await self._grant(user_principal(user), family=secrets.token_hex(16))

    async def client_credentials_grant(self, key_id: str, secret: str, address: str) -> Grant:
        principal = await self.client(key_id, secret, address)
        return await self._grant(principal, family=None)

    async def client(self, key_id: str, secret: str, address: str) -> Principal:
        """The API key's principal once its id and secret match (client authentication)."""
        keys = [(throttle.account_key("api key", key_id), throttle.ACCOUNT_FREE_FAILURES),
                (throttle.address_key(address), throttle.ADDRESS_FREE_FAILURES)]
        await self._check_throttle(keys)
        key = await self.run(self.store.get_api_key, key_id)
        expected = key.secret_hash if key else secret_hash(secrets.token_hex(16))
        if not hmac.compare_digest(expected, secret_hash(secret)) or key is None or key.disabled:
            for throttle_key, _ in keys:
                await self.run(self.store.record_login_failure, throttle_key, self.clock(),
                               throttle.WINDOW)
            raise InvalidClient("unknown client, wrong secret, or the key is disabled")
        return key_principal(key, Via.CLIENT_CREDENTIALS)

    async def refresh_grant(self, refresh_token: str) -> Grant:
        token, reused = await self.run(
            self.store.use_refresh_token, secret_hash(refresh_token), self.clock()
        )
        if token is None or reused:
            raise InvalidGrant("the refresh token is invalid, expired or revoked")
        user = await self.run(self.store.get_user, token.tenant, token.subject)
        if user is None or user.disabled:
            raise InvalidGrant("the user is disabled")
        return await self._grant(user_principal(user), family=token.family)

    async def _check_throttle(self, keys: list[tuple[str, int]]) -> None:
        now = self.clock()
        wait = 0.0
        for key, free in keys:
            failures, last = await self.run(self.store.login_failures, key)
            wait = max(wait, throttle.retry_after(failures, last, free, now))
        if wait > 0:
            raise Throttled(wait)

    async def _grant(self, principal: Principal, family: str | None) -> Grant:
        now = self.clock()
        access = self.signer.issue(principal, family, now)
        refresh = None
        if family is not None:
            refresh = new_refresh_token()
            await self.run(self.store.add_refresh_token, RefreshToken(
                secret_hash(refresh), family, principal.subject, principal.tenant,
                principal.via.value, now + self.refresh_ttl,
            ))
        return Grant(access, int(self.signer.ttl), refresh)

    # -- revocation --------------------------------------------------------------------------
    async def revoke(self, token: str) -> None:
        """RFC 7009: a refresh token ends its family, an access token is refused from now on;
        anything else is silently ignored (the spec answers 200 either way)."""
        stored = await self.run(self.store.refresh_token, secret_hash(token))
        if stored is not None:
            await self.run(self.store.revoke_family, stored.family)
            return
        try:
            claims = self.signer.verify(token)
        except InvalidToken:
            return
        await self.revoke_claims(claims)

    async def revoke_claims(self, claims: dict[str, Any]) -> None:
        """End an access token and, when it came with one, its refresh token family."""
        await self.run(self.store.revoke_access, claims["jti"], float(claims["exp"]),
                       self.clock())
        if claims.get("fam"):
            await self.run(self.store.revoke_family, claims["fam"])

    # -- per-request credentials -------------------------------------------------------------
    async def bearer(self, token: str, tenant: str) -> tuple[Principal, dict[str, Any] | None]:
        """The principal of a bearer token, and our JWT's claims (None for the admin token and
        for an OIDC provider's token, which we can neither revoke nor log out)."""
        if self._admin_token is not None and hmac.compare_digest(
            token.encode(), self._admin_token
        ):
            return Principal("admin", tenant, frozenset({Role.ADMIN}), Via.ADMIN_TOKEN), None
        if self.oidc is not None and self.oidc.issued(token):
            # May fetch the provider's keys: off the event loop.
            return await anyio.to_thread.run_sync(self.oidc.verify, token), None
        claims = self.signer.verify(token)
        principal = principal_of(claims)
        if await self.run(
            self.store.access_refused, claims["jti"], principal.tenant, principal.subject
        ):
            raise InvalidToken("the token was revoked, or its user or key disabled")
        return principal, claims

    async def api_key(self, secret: str) -> Principal:
        key = await self.run(self.store.api_key_by_secret, secret_hash(secret))
        if key is None or key.disabled:
            raise InvalidToken("unknown or disabled API key")
        return key_principal(key, Via.API_KEY)
