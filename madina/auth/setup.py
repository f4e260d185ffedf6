"""Sign-in at start-up: the signing secret every worker shares, and the first admin."""

from __future__ import annotations

import secrets
from typing import Any

import anyio
import structlog

from madina.auth.identities import Authenticator, Runner
from madina.auth.passwords import hash_password
from madina.auth.tokens import TokenSigner, new_secret
from madina.config import Settings
from madina.store.identities import IdentityStore, User

log = structlog.get_logger("madina.auth")


def runner(store: Any, limiter: anyio.CapacityLimiter) -> Runner:
    """Run identity-store calls where the engine wants them (see madina.api.http.call)."""

    async def run(function: Any, *args: Any) -> Any:
        if store.runs_on_loop:
            return function(*args)
        return await anyio.to_thread.run_sync(lambda: function(*args), limiter=limiter)

    return run


def authenticator(settings: Settings, store: Any, limiter: anyio.CapacityLimiter) -> Authenticator:
    """Called once per worker after the store opened (blocking calls are fine there)."""
    identities: IdentityStore = store.identities
    secret = settings.auth_secret or identities.signing_secret(new_secret())
    bootstrap_admin(settings, identities)
    return Authenticator(
        identities,
        TokenSigner(secret, settings.token_issuer, settings.access_token_ttl),
        runner(store, limiter),
        refresh_ttl=settings.refresh_token_ttl,
        admin_token=settings.admin_token,
    )


def bootstrap_admin(settings: Settings, identities: IdentityStore) -> str | None:
    """With no admin token and no admin user, create `admin` with a random password and log it
    once: the only time it is ever shown. Returns the password when one was created. Workers
    starting together race on the insert; only the winner logs."""
    if settings.admin_token or identities.has_admin():
        return None
    password = secrets.token_urlsafe(18)
    if not identities.add_user(User("", "admin", hash_password(password), ("admin",))):
        return None
    log.warning(
        "FIRST START: created admin user 'admin'; this password is shown only once, "
        "store it now and change it",
        user="admin",
        password=password,
    )
    return password
