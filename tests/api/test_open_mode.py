"""Open mode (MADINA_AUTH=off) through the real `madina serve`: loopback only, loudly."""

from __future__ import annotations

import os
import subprocess
import time

import httpx
import pytest

from madina.cli import is_loopback
from tests.test_cli import MADINA, free_port


def serve_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADINA_")}
    env.update(values)
    return env


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "broker.example.org"])
def test_open_mode_refuses_a_non_loopback_address(tmp_path, host):
    done = subprocess.run(
        [*MADINA, "serve", "--host", host, "--port", str(free_port()),
         "--db", str(tmp_path / "city.db")],
        env=serve_env(MADINA_AUTH="off"), capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 1
    assert "MADINA_AUTH=off" in done.stderr and host in done.stderr
    assert not (tmp_path / "city.db").exists()  # refused before touching anything


def test_loopback_addresses():
    assert all(map(is_loopback, ["127.0.0.1", "127.0.0.53", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.1", "example.org", ""]))


def run_until_healthy(tmp_path, env: dict[str, str], headers: dict[str, str] | None = None):
    """Start `madina serve` on loopback, make the requests given, stop it; its output and the
    statuses answered."""
    port = free_port()
    proc = subprocess.Popen(
        [*MADINA, "serve", "--port", str(port), "--db", str(tmp_path / "city.db")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    statuses = []
    try:
        for _ in range(100):
            try:
                statuses.append(httpx.get(base + "/health", headers=headers).status_code)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not start")
        statuses.append(httpx.get(base + "/health", headers=headers).status_code)
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=10)
    return output, statuses


def test_open_mode_on_loopback_starts_with_a_loud_warning(tmp_path):
    output, statuses = run_until_healthy(tmp_path, serve_env(MADINA_AUTH="off"))
    assert statuses == [200, 200]
    assert "OPEN MODE" in output and "access control is DISABLED" in output


def test_no_warning_when_auth_is_on(tmp_path):
    output, statuses = run_until_healthy(tmp_path, serve_env())
    assert statuses == [200, 200]
    assert "OPEN MODE" not in output


def test_the_server_does_not_take_forwarded_for_from_an_untrusted_local_peer(tmp_path):
    """uvicorn by default believes X-Forwarded-For from 127.0.0.1; Madina decides itself."""
    env = serve_env(MADINA_RATE_LIMIT_PER_IP="0.01,1")
    # Believed, the header would turn the exempt loopback peer into a limited 203.0.113.5.
    _, statuses = run_until_healthy(tmp_path, env, {"X-Forwarded-For": "203.0.113.5"})
    assert statuses == [200, 200]
