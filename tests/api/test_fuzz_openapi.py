"""Schemathesis against the app's own OpenAPI description, in process over ASGI.

Every operation gets a bounded, derandomized batch of generated requests (so CI sees the same
ones each run) sent with the suite's admin token, so writes get past authorization and reach
the broker. A response must not be a 5xx, and its status, media type, headers and body must be
the ones the description lists: an undocumented answer is either a bug or a gap in the document.
Runs on SQLite: it checks the HTTP contract, which the conformance suite checks per engine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.applications import Starlette
from starlette.testclient import TestClient

from madina.api.openapi import document
from madina.api.openapi.paths import EXAMPLE_ENTITY
from madina.app import create_app
from madina.config import Settings

EXAMPLES = int(os.environ.get("MADINA_FUZZ_EXAMPLES", "20"))
"""Per operation: enough for CI to stay near half a minute; raise it locally to dig deeper."""
MODES = os.environ.get("MADINA_FUZZ_MODES", "positive").split(",")
"""`positive,negative` also sends requests the description says are invalid."""
ADMIN = {"Authorization": "Bearer test-admin-token"}


def no_server_error(ctx, response, case) -> bool | None:
    """A 5xx is a bug, except the 503 for a remote @context this broker may not fetch."""
    if response.status_code == 503 and response.json().get("type", "").endswith(
        "/LdContextNotAvailable"
    ):
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [no_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


# GET /live streams until its client leaves, and an in-process call waits for the end of the
# response: tests/api/test_live.py reads it over a socket instead, errors included.
schema = schemathesis.openapi.from_dict(document()).exclude(path="/live")
schema.config.generation.update(modes=MODES, with_security_parameters=False)


@pytest.fixture
def app(tmp_path) -> Starlette:
    """A fresh broker per operation, holding the entity the description's examples name, so
    reads and writes of it get past 404. Remote @contexts are never fetched: generated Link
    headers name arbitrary URLs (an unknown one is a documented 503)."""
    app = create_app(Settings(
        database=str(tmp_path / "madina.db"), database_url=None,
        rate_limit_per_ip="0", rate_limit_per_client="0",
        admin_token="test-admin-token", fetch_remote_contexts=False,
    ))
    with TestClient(app, headers=ADMIN) as client:
        assert client.post("/ngsi-ld/v1/entities", json=EXAMPLE_ENTITY).status_code == 201
    return app


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_answers_are_documented(app: Starlette, case) -> None:
    case.call_and_validate(app=app, headers=ADMIN, checks=CHECKS)


# -- what the fuzzer found, as plain regression cases -------------------------------------------
@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, headers=ADMIN) as test_client:
        yield test_client


def test_a_context_that_is_no_url_is_bad_request_not_unavailable(client: TestClient) -> None:
    """`"@context": ""` answered 503 LdContextNotAvailable: a value that can never be fetched
    is the client's error, and a 503 would have it retry forever."""
    answer = client.post("/ngsi-ld/v1/entities", content=b'{"id": "urn:a", "type": "T", '
                         b'"@context": ""}', headers={"Content-Type": "application/ld+json"})
    assert answer.status_code == 400, answer.text
    answer = client.post("/ngsi-ld/v1/jsonldContexts", json={"@context": "not-a-url"})
    assert answer.status_code == 400, answer.text


@pytest.mark.parametrize("operation", ["create", "upsert"])
@pytest.mark.parametrize("bad_id", [{}, None, 7])
def test_a_batch_error_names_a_non_string_id_as_a_string(
    client: TestClient, operation: str, bad_id
) -> None:
    """A batch item with `"id": {}` was reported with `"entityId": {}`: BatchEntityError's
    entityId is a string (clause 5.2.17), so clients parsing it choked."""
    answer = client.post(f"/ngsi-ld/v1/entityOperations/{operation}",
                         json=[{"id": bad_id, "type": "T"}])
    assert answer.status_code == 207, answer.text
    error = answer.json()["errors"][0]
    assert error["entityId"] == orjson.dumps(bad_id).decode()
    assert error["error"]["status"] == 400
