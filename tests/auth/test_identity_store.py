"""The identity tables behave the same on both engines (fixture `settings` gives each)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from madina.config import Settings
from madina.store.identities import ApiKey, IdentityStore, RefreshToken, User


@pytest.fixture
def identities(settings: Settings) -> Iterator[IdentityStore]:
    store = settings.store()
    store.open()
    try:
        yield store.identities
    finally:
        store.close()


def test_users_round_trip_per_tenant(identities):
    user = User("city", "ana", "hash", ("department",), ("roads",))
    assert identities.add_user(user)
    assert not identities.add_user(user)  # same tenant and name: nothing written
    assert identities.add_user(User("", "ana", "other", ("citizen",)))
    got = identities.get_user("city", "ana")
    assert (got.password_hash, got.roles, got.departments, got.disabled) == (
        "hash", ("department",), ("roads",), False)
    assert got.created_at.endswith("Z")
    assert [u.tenant for u in identities.list_users()] == ["", "city"]
    assert [u.name for u in identities.list_users("city")] == ["ana"]
    assert identities.get_user("other", "ana") is None


def test_disable_and_rehash(identities):
    identities.add_user(User("", "admin", "h1", ("admin",)))
    assert identities.has_admin()
    assert identities.set_user_disabled("", "admin", True)
    assert not identities.set_user_disabled("", "nobody", True)
    assert identities.get_user("", "admin").disabled
    assert not identities.has_admin()
    identities.set_password_hash("", "admin", "h2")
    assert identities.get_user("", "admin").password_hash == "h2"


def test_api_keys(identities):
    key = ApiKey("k1", "city", "sensor 1", "sha", ("device",), ("urn:ngsi-ld:X:1",))
    identities.add_api_key(key)
    assert identities.get_api_key("k1").entity_ids == ("urn:ngsi-ld:X:1",)
    assert identities.api_key_by_secret("sha").id == "k1"
    assert identities.api_key_by_secret("nope") is None
    assert [k.id for k in identities.list_api_keys("city")] == ["k1"]
    assert identities.list_api_keys("other") == []
    assert identities.set_api_key_disabled("k1", True)
    assert identities.get_api_key("k1").disabled


def test_refresh_token_used_once_and_reuse_revokes_family(identities):
    first = RefreshToken("h1", "fam", "ana", "", "password", expires_at=2000.0)
    second = RefreshToken("h2", "fam", "ana", "", "password", expires_at=2000.0)
    identities.add_refresh_token(first)
    identities.add_refresh_token(second)
    token, reused = identities.use_refresh_token("h1", now=1000.0)
    assert token.subject == "ana" and not reused
    token, reused = identities.use_refresh_token("h1", now=1000.0)
    assert reused and token.family == "fam"
    assert identities.refresh_token("h2").revoked
    assert identities.use_refresh_token("h2", now=1000.0) == (None, False)
    assert identities.use_refresh_token("unknown", now=1000.0) == (None, False)


def test_expired_refresh_token_is_refused(identities):
    identities.add_refresh_token(RefreshToken("h", "f", "ana", "", "password", 1000.0))
    assert identities.use_refresh_token("h", now=1000.5) == (None, False)


def test_revoke_subject(identities):
    identities.add_refresh_token(RefreshToken("h", "f", "ana", "t", "password", 2000.0))
    identities.revoke_subject("t", "ana")
    assert identities.refresh_token("h").revoked


def test_revoked_access_tokens_are_kept_until_expiry(identities):
    identities.revoke_access("old", expires_at=100.0, now=50.0)
    identities.revoke_access("new", expires_at=300.0, now=50.0)
    identities.revoke_access("new", expires_at=300.0, now=50.0)  # twice is harmless
    assert identities.access_refused("old", "", "nobody")
    assert identities.access_refused("new", "", "nobody")
    identities.revoke_access("later", expires_at=400.0, now=200.0)  # purges expired ones
    assert not identities.access_refused("old", "", "nobody")
    assert identities.access_refused("new", "", "nobody")


def test_login_failures_count_within_window(identities):
    assert identities.login_failures("user::ana") == (0, 0.0)
    assert identities.record_login_failure("user::ana", now=10.0, window=100.0) == 1
    assert identities.record_login_failure("user::ana", now=20.0, window=100.0) == 2
    assert identities.login_failures("user::ana") == (2, 20.0)
    assert identities.record_login_failure("user::ana", now=500.0, window=100.0) == 1
    identities.clear_login_failures("user::ana")
    assert identities.login_failures("user::ana") == (0, 0.0)


def test_signing_secret_is_chosen_once(identities):
    assert identities.signing_secret("first") == "first"
    assert identities.signing_secret("second") == "first"
