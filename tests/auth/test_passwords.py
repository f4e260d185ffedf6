"""Password hashes and the first-start admin."""

from __future__ import annotations

from argon2 import PasswordHasher

from madina.auth.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from madina.auth.setup import bootstrap_admin


def test_hash_verifies_only_the_right_password():
    hashed = hash_password("s3cret password")
    assert hashed.startswith("$argon2id$") and "s3cret" not in hashed
    assert verify_password(hashed, "s3cret password")
    assert not verify_password(hashed, "s3cret passwore")
    assert not verify_password("not a hash", "s3cret password")
    assert hash_password("same") != hash_password("same")  # salted


def test_weaker_parameters_need_a_rehash():
    old = PasswordHasher(time_cost=1, memory_cost=8 * 1024).hash("pw")
    assert needs_rehash(old)
    assert not needs_rehash(hash_password("pw"))


def test_unknown_users_are_verified_against_one_hash_of_todays_parameters():
    assert dummy_hash() is dummy_hash()
    assert dummy_hash().startswith("$argon2id$") and not needs_rehash(dummy_hash())
    assert not verify_password(dummy_hash(), "")


def test_first_start_creates_one_admin(settings):
    settings = settings.model_copy(update={"admin_token": None})
    store = settings.store()
    store.open()
    try:
        password = bootstrap_admin(settings, store.identities)
        admin = store.identities.get_user("", "admin")
        assert admin.roles == ("admin",)
        assert verify_password(admin.password_hash, password)
        assert bootstrap_admin(settings, store.identities) is None  # only once
        with_token = settings.model_copy(update={"admin_token": "t" * 32})
        store.identities.set_user_disabled("", "admin", True)
        assert bootstrap_admin(with_token, store.identities) is None
    finally:
        store.close()


def test_password_grant_upgrades_an_old_hash(settings):
    from starlette.testclient import TestClient

    from madina.app import create_app
    from madina.store.identities import User

    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024).hash("a long password")
    with TestClient(create_app(settings)) as client:
        identities = client.app.state.store.identities
        identities.add_user(User("", "ana", weak, ("citizen",)))
        answer = client.post("/auth/token", data={"grant_type": "password", "username": "ana",
                                                  "password": "a long password"})
        assert answer.status_code == 200
        upgraded = identities.get_user("", "ana").password_hash
        assert upgraded != weak and not needs_rehash(upgraded)
