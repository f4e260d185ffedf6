"""The OpenAPI document describes exactly the routes the app serves, and is itself valid.

The route table is walked from the app (through Mounts), so a route added without a description,
or a description left behind by a removed route, fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import TestClient

from madina.api.openapi import document
from madina.app import create_app
from madina.config import Settings

METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


def served(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(OpenAPI path, method) of every endpoint; `{id:path}` converters become `{id}`."""
    for route in routes:
        if isinstance(route, Mount):
            yield from served(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", prefix + route.path)
            for method in route.methods or ():
                if method != "HEAD":  # Starlette adds HEAD to every GET
                    yield path, method.lower()


def described() -> set[tuple[str, str]]:
    return {(path, method) for path, operations in document()["paths"].items()
            for method in operations if method in METHODS}


@pytest.fixture
def sqlite_settings(tmp_path) -> Settings:
    return Settings(database=str(tmp_path / "madina.db"), database_url=None,
                    rate_limit_per_ip="0", rate_limit_per_client="0",
                    admin_token="test-admin-token")


def test_every_route_is_described(sqlite_settings: Settings) -> None:
    routes = set(served(create_app(sqlite_settings).routes))
    assert routes - described() == set(), "routes without an OpenAPI description"
    assert described() - routes == set(), "descriptions of routes the app does not serve"


def test_the_route_walk_sees_mounted_routes(sqlite_settings: Settings) -> None:
    routes = set(served(create_app(sqlite_settings).routes))
    assert ("/ngsi-ld/v1/entities/{entityId}/attrs/{attrId}", "patch") in routes
    assert ("/auth/token", "post") in routes


def test_every_operation_documents_its_errors_and_a_success() -> None:
    for path, operations in document()["paths"].items():
        for method, operation in operations.items():
            statuses = {int(status) for status in operation["responses"]}
            assert any(200 <= s < 300 for s in statuses), (path, method)
            assert 429 in statuses, (path, method)  # every route is rate limited
            assert 401 in statuses, (path, method)  # an invalid credential is always refused
            if "requestBody" in operation and "/auth/token" not in path:
                assert 400 in statuses, (path, method)


def test_operation_ids_are_unique() -> None:
    ids = [operation["operationId"] for operations in document()["paths"].values()
           for operation in operations.values()]
    assert len(ids) == len(set(ids))


def test_every_reference_resolves() -> None:
    spec = document()

    def refs(node) -> Iterator[str]:
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for reference in refs(spec):
        section, kind, name = reference.removeprefix("#/").split("/")
        assert name in spec[section][kind], reference


def test_served_at_openapi_json_without_a_credential(sqlite_settings: Settings) -> None:
    with TestClient(create_app(sqlite_settings)) as client:
        answer = client.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["openapi"] == "3.1.0"
    assert answer.json()["paths"].keys() == document()["paths"].keys()
