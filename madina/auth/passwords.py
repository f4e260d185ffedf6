"""Password hashes: argon2id (RFC 9106) with argon2-cffi's current default parameters.

A hash records its own parameters, so raising them later costs nothing up front: a user's hash
is upgraded the next time they sign in (`needs_rehash`), when the password is at hand.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


@functools.cache
def dummy_hash() -> str:
    """Verified against when the user does not exist, so a wrong name takes as long as a wrong
    password and response times do not tell which user names exist. Made on first call, once
    a process: hashing takes 0.1-0.2 s, which every `madina` command paid when it was made at
    import. The authenticator asks for it as the server starts, so no sign-in pays it."""
    return _hasher.hash("madina: no such user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's (time, memory, variant)."""
    return _hasher.check_needs_rehash(password_hash)
