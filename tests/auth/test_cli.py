"""`madina user` and `madina key` as an operator runs them, on both engines."""

from __future__ import annotations

import subprocess
import sys

from madina.auth.passwords import verify_password
from madina.auth.tokens import secret_hash
from madina.config import Settings

MADINA = [sys.executable, "-m", "madina.cli"]


def madina(settings: Settings, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([*MADINA, *args, "--db", settings.store_database], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_users(settings):
    added = madina(settings, "user", "add", "ana", "--role", "department", "--tenant", "city",
                   "--department", "roads", "--password-stdin", stdin="a long password\n")
    assert added.returncode == 0, added.stderr
    again = madina(settings, "user", "add", "ana", "--role", "citizen", "--tenant", "city",
                   "--password-stdin", stdin="a long password\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    short = madina(settings, "user", "add", "bo", "--role", "citizen", "--password-stdin",
                   stdin="short\n")
    assert short.returncode == 1
    listed = madina(settings, "user", "list").stdout
    assert "city\tana\tdepartment\troads\tactive" in listed
    assert madina(settings, "user", "disable", "ana", "--tenant", "city").returncode == 0
    assert "city\tana\tdepartment\troads\tdisabled" in madina(settings, "user", "list").stdout
    assert madina(settings, "user", "disable", "nobody").returncode == 1
    store = settings.store()
    store.open()
    try:
        user = store.identities.get_user("city", "ana")
        assert verify_password(user.password_hash, "a long password")
    finally:
        store.close()


def test_keys(settings):
    added = madina(settings, "key", "add", "sensor 1", "--role", "device",
                   "--entity", "urn:ngsi-ld:Sensor:1", "--entity", "urn:ngsi-ld:Sensor:2")
    assert added.returncode == 0, added.stderr
    lines = dict(line.split(": ", 1) for line in added.stdout.splitlines() if ": " in line)
    key_id, secret = lines["id"], lines["secret"]
    listed = madina(settings, "key", "list").stdout
    assert key_id in listed and secret not in listed
    assert "urn:ngsi-ld:Sensor:1,urn:ngsi-ld:Sensor:2" in listed
    store = settings.store()
    store.open()
    try:
        key = store.identities.api_key_by_secret(secret_hash(secret))
        assert key.id == key_id and key.roles == ("device",)
    finally:
        store.close()
    assert madina(settings, "key", "disable", key_id).returncode == 0
    assert "disabled" in madina(settings, "key", "list").stdout
    assert madina(settings, "key", "disable", "nope").returncode == 1
