"""Shared fixtures: a broker app on a fresh store for every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from madina.app import create_app
from madina.config import Settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Settings for a broker on a fresh, empty SQLite file."""
    return Settings(database=str(tmp_path / "madina.db"))


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """An HTTP client talking to a running broker app (lifespan started)."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client
