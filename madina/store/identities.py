"""Who may sign in, and the sign-in state every worker process must agree on.

Users, API keys, refresh tokens, revoked access tokens, failed-login counters and the token
signing secret all live in the database, never in a worker's memory: with several workers (or
several machines) a token revoked by one must be refused by all, and a guesser must not get a
fresh allowance of attempts by landing on another worker.

Both engines run the same SQL through `IdentitySQL`; they differ only in how a statement reaches
the database (placeholders, connections, write locks), which each engine's module supplies.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson


@dataclass(frozen=True)
class User:
    tenant: str
    name: str
    password_hash: str
    roles: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    disabled: bool = False
    created_at: str = ""


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant: str
    name: str
    secret_hash: str
    """SHA-256 of the secret: the secret itself is shown once and never stored."""
    roles: tuple[str, ...] = ()
    entity_ids: tuple[str, ...] = ()
    """For device keys: the entities the key may write."""
    disabled: bool = False
    created_at: str = ""


@dataclass(frozen=True)
class RefreshToken:
    token_hash: str
    family: str
    """Every token rotated from one sign-in shares its family: reuse of a rotated token
    revokes the family, since either the client or a thief holds a stolen copy."""
    subject: str
    tenant: str
    via: str
    expires_at: float
    used: bool = False
    revoked: bool = False


class IdentityStore(Protocol):
    """The identity tables of one database (both engines implement it with `IdentitySQL`)."""

    def add_user(self, user: User) -> bool:
        """False when the tenant already has a user of that name (nothing written)."""
    def get_user(self, tenant: str, name: str) -> User | None: ...
    def list_users(self, tenant: str | None = None) -> list[User]: ...
    def set_user_disabled(self, tenant: str, name: str, disabled: bool) -> bool: ...
    def set_password_hash(self, tenant: str, name: str, password_hash: str) -> None: ...
    def set_user_roles(self, tenant: str, name: str, roles: tuple[str, ...],
                       departments: tuple[str, ...]) -> bool: ...
    def tenants(self) -> list[str]:
        """Every tenant that holds entities, users or API keys ("" when the default does)."""
    def has_admin(self) -> bool:
        """Whether any tenant has an enabled user holding the admin role."""

    def add_api_key(self, key: ApiKey) -> None: ...
    def get_api_key(self, key_id: str) -> ApiKey | None: ...
    def api_key_by_secret(self, secret_hash: str) -> ApiKey | None: ...
    def list_api_keys(self, tenant: str | None = None) -> list[ApiKey]: ...
    def set_api_key_disabled(self, key_id: str, disabled: bool) -> bool: ...

    def add_refresh_token(self, token: RefreshToken) -> None: ...
    def use_refresh_token(self, token_hash: str, now: float) -> tuple[RefreshToken | None, bool]:
        """Mark a live refresh token used, exactly once across all workers: (the token, False).
        A token already used revokes its whole family: (the token, True). Unknown, expired or
        revoked: (None, False)."""
    def refresh_token(self, token_hash: str) -> RefreshToken | None: ...
    def revoke_family(self, family: str) -> None: ...
    def revoke_subject(self, tenant: str, subject: str) -> None:
        """Revoke every refresh token of one user or key (it was disabled)."""

    def revoke_access(self, jti: str, expires_at: float, now: float) -> None:
        """Remember a revoked access token until it would expire anyway."""
    def access_refused(self, jti: str, tenant: str, subject: str) -> bool:
        """Whether an access token must be refused although its signature is good: revoked,
        or its user or API key disabled since it was issued (disabling takes effect at once)."""

    def record_login_failure(self, key: str, now: float, window: float) -> int:
        """Count one failed sign-in for `key`; failures older than `window` seconds are
        forgotten first. Returns the count now."""
    def login_failures(self, key: str) -> tuple[int, float]:
        """(failures, time of the last one) for `key`; (0, 0.0) when none."""
    def clear_login_failures(self, key: str) -> None: ...

    def signing_secret(self, candidate: str) -> str:
        """The token signing secret: `candidate` if none was stored yet, else the stored one,
        so every worker starting at once settles on the same secret."""


Executor = Any
"""A callable (sql, params) -> rows for one engine, inside or outside a transaction."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = orjson.loads(value)
    return tuple(value)


def _json(values: tuple[str, ...]) -> str:
    return orjson.dumps(list(values)).decode()


USER_COLUMNS = "tenant, name, password_hash, roles, departments, disabled, created_at"
KEY_COLUMNS = "id, tenant, name, secret_hash, roles, entity_ids, disabled, created_at"
REFRESH_COLUMNS = "token_hash, family, subject, tenant, via, expires_at, used, revoked"


def _user(row: tuple) -> User:
    return User(row[0], row[1], row[2], _list(row[3]), _list(row[4]), bool(row[5]), row[6])


def _key(row: tuple) -> ApiKey:
    return ApiKey(row[0], row[1], row[2], row[3], _list(row[4]), _list(row[5]), bool(row[6]),
                  row[7])


def _refresh(row: tuple) -> RefreshToken:
    return RefreshToken(row[0], row[1], row[2], row[3], row[4], float(row[5]), bool(row[6]),
                        bool(row[7]))


class IdentitySQL:
    """`IdentityStore` in SQL both engines understand (`?` placeholders; the PostgreSQL engine
    translates them). Engines supply `_read` (one statement, its rows) and `_atomic` (a write
    transaction yielding an executor)."""

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        raise NotImplementedError

    def _atomic(self) -> AbstractContextManager[Executor]:
        raise NotImplementedError

    def _write(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._atomic() as run:
            return run(sql, params)

    # -- users -------------------------------------------------------------------------------
    def add_user(self, user: User) -> bool:
        rows = self._write(
            f"INSERT INTO auth_users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (tenant, name) DO NOTHING RETURNING name",
            (user.tenant, user.name, user.password_hash, _json(user.roles),
             _json(user.departments), user.disabled, user.created_at or _now()),
        )
        return bool(rows)

    def get_user(self, tenant: str, name: str) -> User | None:
        rows = self._read(
            f"SELECT {USER_COLUMNS} FROM auth_users WHERE tenant = ? AND name = ?", (tenant, name)
        )
        return _user(rows[0]) if rows else None

    def list_users(self, tenant: str | None = None) -> list[User]:
        rows = self._read(
            f"SELECT {USER_COLUMNS} FROM auth_users WHERE CAST(? AS TEXT) IS NULL OR tenant = ?"
            " ORDER BY tenant, name",
            (tenant, tenant),
        )
        return [_user(row) for row in rows]

    def set_user_disabled(self, tenant: str, name: str, disabled: bool) -> bool:
        rows = self._write(
            "UPDATE auth_users SET disabled = ? WHERE tenant = ? AND name = ? RETURNING name",
            (disabled, tenant, name),
        )
        return bool(rows)

    def set_password_hash(self, tenant: str, name: str, password_hash: str) -> None:
        self._write(
            "UPDATE auth_users SET password_hash = ? WHERE tenant = ? AND name = ?",
            (password_hash, tenant, name),
        )

    def set_user_roles(self, tenant: str, name: str, roles: tuple[str, ...],
                       departments: tuple[str, ...]) -> bool:
        rows = self._write(
            "UPDATE auth_users SET roles = ?, departments = ? WHERE tenant = ? AND name = ?"
            " RETURNING name",
            (_json(roles), _json(departments), tenant, name),
        )
        return bool(rows)

    def tenants(self) -> list[str]:
        rows = self._read(
            "SELECT name FROM tenants UNION SELECT tenant FROM auth_users"
            " UNION SELECT tenant FROM auth_api_keys ORDER BY 1"
        )
        return [row[0] for row in rows]

    def has_admin(self) -> bool:
        return any(
            "admin" in user.roles for user in self.list_users() if not user.disabled
        )

    # -- API keys ----------------------------------------------------------------------------
    def add_api_key(self, key: ApiKey) -> None:
        self._write(
            f"INSERT INTO auth_api_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (key.id, key.tenant, key.name, key.secret_hash, _json(key.roles),
             _json(key.entity_ids), key.disabled, key.created_at or _now()),
        )

    def get_api_key(self, key_id: str) -> ApiKey | None:
        rows = self._read(f"SELECT {KEY_COLUMNS} FROM auth_api_keys WHERE id = ?", (key_id,))
        return _key(rows[0]) if rows else None

    def api_key_by_secret(self, secret_hash: str) -> ApiKey | None:
        rows = self._read(
            f"SELECT {KEY_COLUMNS} FROM auth_api_keys WHERE secret_hash = ?", (secret_hash,)
        )
        return _key(rows[0]) if rows else None

    def list_api_keys(self, tenant: str | None = None) -> list[ApiKey]:
        rows = self._read(
            f"SELECT {KEY_COLUMNS} FROM auth_api_keys WHERE CAST(? AS TEXT) IS NULL OR tenant = ?"
            " ORDER BY tenant, created_at, id",
            (tenant, tenant),
        )
        return [_key(row) for row in rows]

    def set_api_key_disabled(self, key_id: str, disabled: bool) -> bool:
        rows = self._write(
            "UPDATE auth_api_keys SET disabled = ? WHERE id = ? RETURNING id", (disabled, key_id)
        )
        return bool(rows)

    # -- refresh tokens ----------------------------------------------------------------------
    def add_refresh_token(self, token: RefreshToken) -> None:
        self._write(
            f"INSERT INTO auth_refresh_tokens ({REFRESH_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (token.token_hash, token.family, token.subject, token.tenant, token.via,
             token.expires_at, token.used, token.revoked),
        )

    def refresh_token(self, token_hash: str) -> RefreshToken | None:
        rows = self._read(
            f"SELECT {REFRESH_COLUMNS} FROM auth_refresh_tokens WHERE token_hash = ?",
            (token_hash,),
        )
        return _refresh(rows[0]) if rows else None

    def use_refresh_token(self, token_hash: str, now: float) -> tuple[RefreshToken | None, bool]:
        with self._atomic() as run:
            claimed = run(
                f"UPDATE auth_refresh_tokens SET used = ? WHERE token_hash = ? AND NOT used"
                f" AND NOT revoked AND expires_at > ? RETURNING {REFRESH_COLUMNS}",
                (True, token_hash, now),
            )
            if claimed:
                return _refresh(claimed[0]), False
            rows = run(
                f"SELECT {REFRESH_COLUMNS} FROM auth_refresh_tokens WHERE token_hash = ?",
                (token_hash,),
            )
            if not rows or not rows[0][6]:
                return None, False
            token = _refresh(rows[0])
            run("UPDATE auth_refresh_tokens SET revoked = ? WHERE family = ?",
                (True, token.family))
            return token, True

    def revoke_family(self, family: str) -> None:
        self._write("UPDATE auth_refresh_tokens SET revoked = ? WHERE family = ?", (True, family))

    def revoke_subject(self, tenant: str, subject: str) -> None:
        self._write(
            "UPDATE auth_refresh_tokens SET revoked = ? WHERE tenant = ? AND subject = ?",
            (True, tenant, subject),
        )

    # -- revoked access tokens ---------------------------------------------------------------
    def revoke_access(self, jti: str, expires_at: float, now: float) -> None:
        with self._atomic() as run:
            run("DELETE FROM auth_revoked_access WHERE expires_at < ?", (now,))
            run(
                "INSERT INTO auth_revoked_access (jti, expires_at) VALUES (?, ?)"
                " ON CONFLICT (jti) DO NOTHING",
                (jti, expires_at),
            )

    def access_refused(self, jti: str, tenant: str, subject: str) -> bool:
        return bool(self._read(
            "SELECT 1 FROM auth_revoked_access WHERE jti = ?"
            " UNION ALL SELECT 1 FROM auth_users WHERE tenant = ? AND name = ? AND disabled = ?"
            " UNION ALL SELECT 1 FROM auth_api_keys WHERE id = ? AND disabled = ?",
            (jti, tenant, subject, True, subject, True),
        ))

    # -- login throttling --------------------------------------------------------------------
    def record_login_failure(self, key: str, now: float, window: float) -> int:
        rows = self._write(
            "INSERT INTO auth_login_failures (key, failures, last_failure) VALUES (?, 1, ?)"
            " ON CONFLICT (key) DO UPDATE SET failures = CASE"
            " WHEN auth_login_failures.last_failure < ? THEN 1"
            " ELSE auth_login_failures.failures + 1 END, last_failure = excluded.last_failure"
            " RETURNING failures",
            (key, now, now - window),
        )
        return int(rows[0][0])

    def login_failures(self, key: str) -> tuple[int, float]:
        rows = self._read(
            "SELECT failures, last_failure FROM auth_login_failures WHERE key = ?", (key,)
        )
        return (int(rows[0][0]), float(rows[0][1])) if rows else (0, 0.0)

    def clear_login_failures(self, key: str) -> None:
        self._write("DELETE FROM auth_login_failures WHERE key = ?", (key,))

    # -- signing secret ----------------------------------------------------------------------
    def signing_secret(self, candidate: str) -> str:
        with self._atomic() as run:
            run(
                "INSERT INTO auth_secrets (name, value) VALUES ('token_signing', ?)"
                " ON CONFLICT (name) DO NOTHING",
                (candidate,),
            )
            return run("SELECT value FROM auth_secrets WHERE name = 'token_signing'", ())[0][0]
