"""Helpers for the black-box NGSI-LD conformance suite.

Everything here talks HTTP only, so the same tests run against any storage engine
(and, in principle, against any NGSI-LD broker).
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.serving import serving_thread

BASE = "/ngsi-ld/v1"
CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
LINK_REL = 'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
SYSTEM_MEMBERS = {"createdAt", "modifiedAt", "deletedAt"}


def link_header(context_url: str) -> dict[str, str]:
    """The Link header that carries a user @context with application/json bodies."""
    return {"Link": f"<{context_url}>; {LINK_REL}"}


def prop(value: Any, **extra: Any) -> dict[str, Any]:
    """A normalized Property."""
    return {"type": "Property", "value": value, **extra}


def rel(obj: str | list[str], **extra: Any) -> dict[str, Any]:
    """A normalized Relationship."""
    return {"type": "Relationship", "object": obj, **extra}


def geo(geometry_type: str, coordinates: Any, **extra: Any) -> dict[str, Any]:
    """A normalized GeoProperty."""
    value = {"type": geometry_type, "coordinates": coordinates}
    return {"type": "GeoProperty", "value": value, **extra}


def entity(entity_id: str, entity_type: str | list[str] = "Thing", **attrs: Any) -> dict[str, Any]:
    """An entity body in normalized form."""
    return {"id": entity_id, "type": entity_type, **attrs}


def create(client: httpx.Client, body: dict[str, Any], headers: dict[str, str] | None = None,
           **params: Any) -> httpx.Response:
    """POST /entities and insist on 201, since every other test depends on setup succeeding."""
    response = client.post(f"{BASE}/entities", json=body, headers=headers, params=params)
    assert response.status_code == 201, response.text
    return response


def retrieve(client: httpx.Client, entity_id: str, headers: dict[str, str] | None = None,
             **params: Any) -> dict[str, Any]:
    """GET /entities/{id}, insisting on 200, and return the body."""
    response = client.get(f"{BASE}/entities/{entity_id}", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def query(client: httpx.Client, headers: dict[str, str] | None = None,
          **params: Any) -> httpx.Response:
    """GET /entities with query parameters."""
    return client.get(f"{BASE}/entities", params=params, headers=headers)


def ids_of(response: httpx.Response) -> set[str]:
    """The entity ids in a 200 entity-list response."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, list), body
    return {item["id"] for item in body}


def exists(client: httpx.Client, entity_id: str, headers: dict[str, str] | None = None) -> bool:
    """Whether the entity can be retrieved (used to prove failed writes left nothing behind)."""
    response = client.get(f"{BASE}/entities/{entity_id}", headers=headers)
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200


def assert_problem(response: httpx.Response, status: int, *names: str) -> dict[str, Any]:
    """Check an RFC 7807 ProblemDetails answer: status, spec error type, title and detail."""
    got = response.status_code
    assert got == status, f"expected {status}, got {got}: {response.text}"
    assert response.headers["Content-Type"].split(";")[0] == "application/json"  # clause 5.5.3
    body = response.json()
    allowed = {ERRORS + name for name in names}
    assert body.get("type") in allowed, f"expected one of {sorted(allowed)}, got {body}"
    assert isinstance(body.get("title"), str) and body["title"], body
    if "status" in body:
        assert body["status"] == status, body
    return body


def strip_system(value: Any) -> Any:
    """Drop createdAt/modifiedAt/deletedAt recursively, for comparing with what was sent."""
    if isinstance(value, dict):
        return {k: strip_system(v) for k, v in value.items() if k not in SYSTEM_MEMBERS}
    if isinstance(value, list):
        return [strip_system(v) for v in value]
    return value


class ContextServer:
    """A local HTTP server serving JSON-LD @context documents, so no test touches the internet."""

    def __init__(self) -> None:
        self.documents: dict[str, Any] = {}
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                document = server.documents.get(self.path)
                if document is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                payload = json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/ld+json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = serving_thread(self.httpd)

    def add(self, path: str, context: dict[str, Any] | list[Any]) -> str:
        """Serve `{"@context": context}` at path and return its URL."""
        self.documents[path] = {"@context": context}
        return self.base + path

    def missing_url(self) -> str:
        """A URL on this server that answers 404."""
        return self.base + "/nothing-here.jsonld"
