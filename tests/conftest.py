"""Shared fixtures: a broker app on a fresh store for every test, on every storage engine.

`settings` is parametrized by engine, so every test that takes `client` (the whole black-box
conformance suite) runs on SQLite and on PostgreSQL/PostGIS (MADINA_TEST_DATABASE_URL, default
the local server; skipped when unreachable, failed when MADINA_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings as hypothesis_settings
from starlette.testclient import TestClient

from madina.app import create_app
from madina.config import Settings
from madina.store.base import Store
from tests.conformance.conftest import ContextServer
from tests.services.migrated import drop_idle, migrated_schema

ENGINES = ("sqlite", "postgres")

# CI runs the property tests on fixed examples (a red CI run must be reproducible, and a new
# counterexample should come from a developer's run, not fail an unrelated change) and without
# per-example deadlines, which a loaded 2-core machine would miss.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None)
hypothesis_settings.register_profile("dev", deadline=None)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    return request.param


@pytest.fixture
def settings(engine: str, tmp_path) -> Iterator[Settings]:
    """Settings for a broker on a fresh, empty database of the engine under test (PostgreSQL's
    already migrated: the migrations' own tests start from nothing)."""
    # The suite's requests all come from one TestClient address: no rate limit in the way;
    # an admin token spares every app start hashing a first admin's password (argon2).
    # Domain services would add derived attributes to the suite's observed entities behind its
    # back: the tests that want them turn them on.
    test_defaults = {"rate_limit_per_ip": "0", "rate_limit_per_client": "0",
                 "admin_token": "test-admin-token", "domains": ""}
    if engine == "sqlite":
        yield Settings(database=str(tmp_path / "madina.db"), database_url=None, **test_defaults)
        return
    with migrated_schema() as url:
        yield Settings(database_url=url, db_pool_size=4, **test_defaults)


def pytest_sessionfinish(session: pytest.Session) -> None:
    drop_idle()


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """The engine under test's store on its fresh database, open for the test."""
    store = settings.store()
    store.open()
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """An HTTP client talking to a running broker app (lifespan started), signed in with the
    admin token: the suite runs with access control on, as an admin of whichever tenant."""
    headers = {"Authorization": f"Bearer {settings.admin_token}"}
    with TestClient(create_app(settings), headers=headers) as test_client:
        yield test_client


@pytest.fixture
def context_server() -> Iterator[ContextServer]:
    """A running ContextServer on a free local port."""
    server = ContextServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
