"""Password hashes: argon2id (RFC 9106) with argon2-cffi's current default parameters.

A hash records its own parameters, so raising them later costs nothing up front: a user's hash
is upgraded the next time they sign in (`needs_rehash`), when the password is at hand.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

DUMMY_HASH = _hasher.hash("madina: no such user")
"""Verified against when the user does not exist, so a wrong name takes as long as a wrong
password and response times do not tell which user names exist."""


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
