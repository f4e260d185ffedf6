"""@context handling: term expansion/compaction, remote contexts, the cache and its routes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.testclient import TestClient

from madina.api.jsonld_contexts import routes
from madina.config import Settings
from madina.context.errors import BadRequestData, LdContextNotAvailable, NgsiError
from madina.context.jsonld import CORE_CONTEXT_URL, ContextResolver, parse_link_header
from madina.context.jsonld_shipped import SHIPPED_CONTEXTS, load_shipped
from tests.serving import serving_thread

NGSI = "https://uri.etsi.org/ngsi-ld/"
DEFAULT = NGSI + "default-context/"
USER = {
    "schema": "https://schema.org/",
    "name": "schema:name",
    "Street": "https://example.org/types/Street",
    "speed": {"@id": "https://example.org/speed", "@type": "xsd:float"},
    "state": {"@id": "https://example.org/state", "@type": "@vocab"},
    "location": "https://example.org/not-the-core-location",
    "ex": {"@id": "https://example.org/ns#", "@prefix": True},
}


def run(coroutine):
    return asyncio.run(coroutine)


class MemoryStore:
    """The ContextStore protocol in memory, as the SQLite store implements it on disk."""

    def __init__(self) -> None:
        self.entries: dict[str, dict] = {}

    def load_contexts(self) -> list[dict]:
        return [dict(entry) for entry in self.entries.values()]

    def save_context(self, entry: dict) -> None:
        self.entries[entry["id"]] = dict(entry)

    def delete_context(self, id: str) -> None:
        del self.entries[id]


@pytest.fixture
def server() -> Iterator[tuple[str, dict[str, int]]]:
    """A real HTTP server on a local socket serving a few @context documents."""
    hits: dict[str, int] = {}
    documents = {
        "/ctx.jsonld": {"@context": {"pressure": "https://example.org/pressure"}},
        "/nested.jsonld": {"@context": ["PLACEHOLDER", {"humidity": "https://ex.org/h"}]},
        "/loop.jsonld": {"@context": "PLACEHOLDER"},
        "/nocontext.jsonld": {"pressure": 1},
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits[self.path] = hits.get(self.path, 0) + 1
            if self.path == "/notjson.jsonld":
                body, status = b"<html>hello</html>", 200
            elif self.path in documents:
                body, status = json.dumps(documents[self.path]).encode(), 200
            else:
                body, status = b"{}", 404
            self.send_response(status)
            self.send_header("Content-Type", "application/ld+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    documents["/nested.jsonld"]["@context"][0] = base + "/ctx.jsonld"
    documents["/loop.jsonld"]["@context"] = base + "/loop.jsonld"
    serving_thread(httpd).start()
    yield base, hits
    httpd.shutdown()
    httpd.server_close()


# --- expansion and compaction ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "iri"),
    [
        ("temperature", DEFAULT + "temperature"),  # unknown -> core @vocab
        ("Property", NGSI + "Property"),
        ("observedAt", NGSI + "observedAt"),
        ("location", NGSI + "location"),  # core is protected: the user's redefinition loses
        ("name", "https://schema.org/name"),
        ("schema:alternateName", "https://schema.org/alternateName"),
        ("ex:thing", "https://example.org/ns#thing"),
        ("speed", "https://example.org/speed"),
        ("Street", "https://example.org/types/Street"),
        ("https://other.org/x", "https://other.org/x"),  # absolute IRIs pass through
        ("urn:ngsi-ld:attr:a", "urn:ngsi-ld:attr:a"),
        ("ngsi-ld:foo", NGSI + "foo"),  # core prefixes are usable from user terms
        ("id", "@id"),
    ],
)
def test_expand_with_user_context(term: str, iri: str) -> None:
    terms = run(ContextResolver(allow_remote=False).resolve(USER))
    assert terms.expand(term) == iri


@pytest.mark.parametrize(
    ("iri", "term"),
    [
        ("https://schema.org/name", "name"),  # exact term first
        ("https://schema.org/alternateName", "schema:alternateName"),  # then prefix:suffix
        ("https://example.org/ns#thing", "ex:thing"),
        (DEFAULT + "temperature", "temperature"),  # then the @vocab base stripped
        (NGSI + "location", "location"),
        (NGSI + "somethingNew", "ngsi-ld:somethingNew"),
        ("https://unrelated.org/a/b", "https://unrelated.org/a/b"),  # else the full IRI
    ],
)
def test_compact_with_user_context(iri: str, term: str) -> None:
    terms = run(ContextResolver(allow_remote=False).resolve(USER))
    assert terms.compact(iri) == term


def test_round_trip_of_names() -> None:
    terms = run(ContextResolver(allow_remote=False).resolve(USER))
    for name in ["temperature", "name", "schema:alternateName", "speed", "ex:x", "Property"]:
        assert terms.compact(terms.expand(name)) == name


def test_core_only_and_none() -> None:
    resolver = ContextResolver(allow_remote=False)
    core = resolver.core()
    assert run(resolver.resolve(None)) is core
    assert core.expand("temperature") == DEFAULT + "temperature"
    assert core.compact("https://schema.org/name") == "https://schema.org/name"
    assert core.definition("observedAt").type == NGSI + "DateTime"


def test_user_vocab_replaces_the_default_context() -> None:
    resolver = ContextResolver(allow_remote=False)
    terms = run(resolver.resolve({"@vocab": "https://example.org/vocab/"}))
    assert terms.expand("temperature") == "https://example.org/vocab/temperature"
    assert terms.compact("https://example.org/vocab/temperature") == "temperature"
    assert terms.expand("Property") == NGSI + "Property"  # core terms still win
    assert terms.compact(DEFAULT + "temperature") == "ngsi-ld:default-context/temperature"


def test_arrays_later_wins_and_null_resets() -> None:
    resolver = ContextResolver(allow_remote=False)
    first = {"speed": "https://a.org/speed", "width": "https://a.org/width"}
    second = {"speed": "https://b.org/speed"}
    terms = run(resolver.resolve([first, second]))
    assert terms.expand("speed") == "https://b.org/speed"
    assert terms.expand("width") == "https://a.org/width"
    reset = run(resolver.resolve([first, None, second]))
    assert reset.expand("width") == DEFAULT + "width"


def test_vocab_values() -> None:
    terms = run(ContextResolver(allow_remote=False).resolve(USER))
    assert terms.definition("state").type == "@vocab"
    assert terms.expand_vocab("Street") == "https://example.org/types/Street"
    assert terms.expand_vocab("open") == DEFAULT + "open"
    assert terms.compact_vocab("https://example.org/types/Street") == "Street"


def test_ignores_what_ngsi_ld_does_not_need() -> None:
    context = {
        "@version": 1.1,
        "@base": "https://example.org/",
        "@language": "en",
        "@import": "https://example.org/imported.jsonld",
        "scoped": {"@id": "https://ex.org/scoped", "@context": {"inner": "https://ex.org/i"}},
    }
    terms = run(ContextResolver(allow_remote=False).resolve(context))
    assert terms.expand("scoped") == "https://ex.org/scoped"


@pytest.mark.parametrize(
    "context",
    [
        {"a": "b:x", "b": "a:y"},  # cyclic IRI mapping
        {"speed": 42},
        {"@vocab": 7},
        42,
    ],
)
def test_invalid_contexts_are_bad_request_data(context: object) -> None:
    with pytest.raises(BadRequestData):
        run(ContextResolver(allow_remote=False).resolve(context))  # type: ignore[arg-type]


def test_expand_and_compact_compute_each_name_once() -> None:
    """Term lookups sit on every write's hot path: after a name's first use, expanding or
    compacting it is one dict lookup. (A wall-clock version of this test failed on a loaded
    machine; speed belongs in `make bench`, behaviour here.)"""
    terms = run(ContextResolver(allow_remote=False).resolve(USER))
    computed: list[str] = []
    for memo in (terms._expanded, terms._compacted):
        compute = memo._compute
        memo._compute = lambda key, compute=compute: computed.append(key) or compute(key)
    iri = terms.expand("undeclaredName")
    for _ in range(3):
        assert terms.expand("undeclaredName") == iri
        assert terms.compact(iri) == "undeclaredName"
    assert computed == ["undeclaredName", iri]


# --- shipped contexts -----------------------------------------------------------------------


def test_every_shipped_core_url_resolves_without_network() -> None:
    resolver = ContextResolver(allow_remote=False)
    assert CORE_CONTEXT_URL in SHIPPED_CONTEXTS
    present = [url for url in SHIPPED_CONTEXTS if load_shipped(url) is not None]
    assert CORE_CONTEXT_URL in present and len(present) >= 5
    for url in present:
        terms = run(resolver.resolve(url))
        assert terms.expand("Property") == NGSI + "Property", url
        assert terms.expand("temperature") == DEFAULT + "temperature", url


# --- remote contexts ------------------------------------------------------------------------


def test_remote_context_fetched_once_and_nested(server) -> None:
    base, hits = server
    resolver = ContextResolver()
    terms = run(resolver.resolve(base + "/nested.jsonld"))
    assert terms.expand("pressure") == "https://example.org/pressure"
    assert terms.expand("humidity") == "https://ex.org/h"
    run(resolver.resolve([base + "/ctx.jsonld", {"x": "https://ex.org/x"}]))
    run(resolver.resolve(base + "/nested.jsonld"))
    assert hits == {"/nested.jsonld": 1, "/ctx.jsonld": 1}


def test_concurrent_resolves_fetch_once(server) -> None:
    base, hits = server
    resolver = ContextResolver()

    async def many() -> None:
        await asyncio.gather(*(resolver.resolve(base + "/ctx.jsonld") for _ in range(10)))

    run(many())
    assert hits == {"/ctx.jsonld": 1}


@pytest.mark.parametrize("path", ["/missing.jsonld", "/notjson.jsonld", "/nocontext.jsonld"])
def test_remote_failures_are_ld_context_not_available(server, path: str) -> None:
    base, _ = server
    with pytest.raises(LdContextNotAvailable) as caught:
        run(ContextResolver().resolve(base + path))
    assert base + path in caught.value.detail


def test_unreachable_and_disabled_remote() -> None:
    with pytest.raises(LdContextNotAvailable, match=r"127\.0\.0\.1:9"):
        run(ContextResolver(fetch_timeout=1).resolve("http://127.0.0.1:9/ctx.jsonld"))
    with pytest.raises(LdContextNotAvailable, match="disabled"):
        run(ContextResolver(allow_remote=False).resolve("https://example.org/ctx.jsonld"))


def test_nested_cycle_is_bounded(server) -> None:
    base, hits = server
    with pytest.raises(BadRequestData, match="nests"):
        run(ContextResolver().resolve(base + "/loop.jsonld"))
    assert hits == {"/loop.jsonld": 1}


def test_persistence_through_the_store(server) -> None:
    base, hits = server
    store = MemoryStore()
    first = ContextResolver(store=store)
    cached_id = run(first.add_cached(base + "/ctx.jsonld"))
    hosted_id = run(first.add_hosted({"@context": {"depth": "https://ex.org/depth"}}))
    assert {e["kind"] for e in store.entries.values()} == {"Cached", "Hosted"}

    second = ContextResolver(store=store, allow_remote=False)  # a restart, offline
    terms = run(second.resolve([base + "/ctx.jsonld", hosted_id]))
    assert terms.expand("pressure") == "https://example.org/pressure"
    assert terms.expand("depth") == "https://ex.org/depth"
    assert second.get(cached_id) == {"@context": {"pressure": "https://example.org/pressure"}}
    assert hits == {"/ctx.jsonld": 1}
    second.delete(hosted_id)
    assert hosted_id not in store.entries


# --- Link header ----------------------------------------------------------------------------

REL = 'rel="http://www.w3.org/ns/json-ld#context"'


@pytest.mark.parametrize(
    ("header", "url"),
    [
        (
            f'<https://ex.org/c.jsonld>; {REL}; type="application/ld+json"',
            "https://ex.org/c.jsonld",
        ),
        (f"<https://a.org/>; rel=next, <https://ex.org/c>; {REL}", "https://ex.org/c"),
        ("<https://a.org/>; rel=next", None),
    ],
)
def test_parse_link_header(header: str, url: str | None) -> None:
    assert parse_link_header(header) == url


@pytest.mark.parametrize(
    "header",
    [
        f"https://ex.org/c; {REL}",
        f"<relative.jsonld>; {REL}",
        f"<https://a.org/1>; {REL}, <https://a.org/2>; {REL}",
        '<https://a.org/>; rel="unterminated',
    ],
)
def test_malformed_link_header(header: str) -> None:
    with pytest.raises(BadRequestData):
        parse_link_header(header)


# --- /jsonldContexts routes -----------------------------------------------------------------


@pytest.fixture
def client() -> Iterator[TestClient]:
    async def problem(request: Request, error: Exception) -> Response:
        assert isinstance(error, NgsiError)
        return Response(orjson.dumps(error.problem()), status_code=error.status)

    app = Starlette(
        routes=[Mount("/ngsi-ld/v1", routes=routes)], exception_handlers={NgsiError: problem}
    )
    app.state.contexts = ContextResolver(allow_remote=False)
    app.state.settings = Settings(auth="off")  # the routes' rules, without sign-in machinery
    with TestClient(app) as test_client:
        yield test_client


def test_routes_host_serve_list_delete(client: TestClient) -> None:
    body = {"@context": {"depth": "https://ex.org/depth"}}
    created = client.post("/ngsi-ld/v1/jsonldContexts", json=body)
    assert created.status_code == 201
    location = created.headers["Location"]
    assert location.startswith("/ngsi-ld/v1/jsonldContexts/urn:ngsi-ld:")
    served = client.get(location)
    assert served.status_code == 200 and served.json() == body
    assert served.headers["content-type"] == "application/json"

    listed = client.get("/ngsi-ld/v1/jsonldContexts", params={"kind": "Hosted"}).json()
    assert listed == [location.rsplit("/", 1)[1]]
    details = client.get("/ngsi-ld/v1/jsonldContexts", params={"details": "true"}).json()
    assert {d["kind"] for d in details} == {"Hosted", "Cached"}
    assert CORE_CONTEXT_URL in client.get("/ngsi-ld/v1/jsonldContexts").json()

    assert client.delete(location).status_code == 204
    assert client.get(location).status_code == 404


def test_routes_errors(client: TestClient) -> None:
    base = "/ngsi-ld/v1/jsonldContexts"
    core = client.get(f"{base}/{quote(CORE_CONTEXT_URL, safe='')}")
    assert core.status_code == 200 and "@context" in core.json()
    refused = client.delete(f"{base}/{quote(CORE_CONTEXT_URL, safe='')}")
    assert refused.status_code == 400
    assert refused.json()["type"].endswith("BadRequestData")
    assert client.get(base, params={"kind": "Other"}).status_code == 400
    assert client.get(base, params={"bogus": "1"}).status_code == 400
    assert client.post(base, content=b"{not json").json()["type"].endswith("InvalidRequest")
    assert client.post(base, json={"no": "context"}).status_code == 400
    assert client.get(f"{base}/urn:nothing").status_code == 404
    reload = client.delete(f"{base}/{quote(CORE_CONTEXT_URL, safe='')}?reload=true")
    assert reload.status_code == 204
