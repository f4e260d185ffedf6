"""JSON-LD @context handling (clauses 5.5.7, 6.3.5-6.3.6) and the context cache (5.13)."""

from __future__ import annotations

import json

import pytest

from .conftest import (
    BASE,
    CORE_CONTEXT,
    DEFAULT_VOCAB,
    assert_problem,
    create,
    entity,
    exists,
    ids_of,
    link_header,
    prop,
    query,
    rel,
    retrieve,
)

E1 = "urn:ngsi-ld:Vehicle:1"
EX = "https://example.org/city#"
LD = {"Content-Type": "application/ld+json"}


@pytest.fixture
def ctx(context_server):
    """A user context where Vehicle/speed/owner live in the example.org vocabulary."""
    return context_server.add("/city.jsonld", {
        "Vehicle": EX + "Vehicle", "speed": EX + "speed", "owner": {"@id": EX + "owner",
                                                                     "@type": "@id"}})


@pytest.fixture
def other_ctx(context_server):
    """The same IRIs under other short names."""
    return context_server.add("/other.jsonld", {"Car": EX + "Vehicle", "velocity": EX + "speed"})


def test_create_with_link_header_and_read_back_with_it(client, ctx):
    create(client, entity(E1, "Vehicle", speed=prop(50)), headers=link_header(ctx))
    body = retrieve(client, E1, headers=link_header(ctx))
    assert body["type"] == "Vehicle" and body["speed"]["value"] == 50


def test_read_without_context_gives_full_iris(client, ctx):
    create(client, entity(E1, "Vehicle", speed=prop(50)), headers=link_header(ctx))
    body = retrieve(client, E1)
    assert body["type"] == EX + "Vehicle"
    assert body[EX + "speed"]["value"] == 50


def test_read_with_another_context_uses_its_terms(client, ctx, other_ctx):
    create(client, entity(E1, "Vehicle", speed=prop(50)), headers=link_header(ctx))
    body = retrieve(client, E1, headers=link_header(other_ctx))
    assert body["type"] == "Car" and body["velocity"]["value"] == 50


def test_query_terms_are_expanded_with_request_context(client, ctx, other_ctx):
    create(client, entity(E1, "Vehicle", speed=prop(50)), headers=link_header(ctx))
    assert ids_of(query(client, type="Vehicle", headers=link_header(ctx))) == {E1}
    assert ids_of(query(client, type="Car", q="velocity==50",
                        headers=link_header(other_ctx))) == {E1}
    assert ids_of(query(client, type=EX + "Vehicle")) == {E1}
    assert ids_of(query(client, type="Vehicle")) == set()


def test_default_vocabulary_without_context(client):
    create(client, entity(E1, "Vehicle", speed=prop(50)))
    assert retrieve(client, E1)["speed"]["value"] == 50
    assert ids_of(query(client, type=DEFAULT_VOCAB + "Vehicle")) == {E1}


def test_create_with_body_context(client, ctx):
    body = entity(E1, "Vehicle", speed=prop(50))
    body["@context"] = [ctx, CORE_CONTEXT]
    response = client.post(f"{BASE}/entities", content=json.dumps(body), headers=LD)
    assert response.status_code == 201, response.text
    assert retrieve(client, E1)["type"] == EX + "Vehicle"


def test_inline_context_object_in_body(client):
    body = entity(E1, "Vehicle", speed=prop(50))
    body["@context"] = {"Vehicle": EX + "Vehicle", "speed": EX + "speed"}
    response = client.post(f"{BASE}/entities", content=json.dumps(body), headers=LD)
    assert response.status_code == 201, response.text
    assert EX + "speed" in retrieve(client, E1)


def test_ld_json_without_context_is_400(client):
    response = client.post(f"{BASE}/entities", content=json.dumps(entity(E1, "V")), headers=LD)
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")
    assert not exists(client, E1)


def test_context_in_plain_json_body_is_400(client, ctx):
    body = entity(E1, "Vehicle")
    body["@context"] = ctx
    response = client.post(f"{BASE}/entities", json=body)
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")
    assert not exists(client, E1)


def test_link_header_with_ld_json_body_is_400(client, ctx):
    body = entity(E1, "Vehicle")
    body["@context"] = ctx
    response = client.post(f"{BASE}/entities", content=json.dumps(body),
                           headers={**LD, **link_header(ctx)})
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")
    assert not exists(client, E1)


def test_unreachable_context_is_503(client, context_server):
    response = client.post(f"{BASE}/entities", json=entity(E1, "Vehicle"),
                           headers=link_header(context_server.missing_url()))
    assert_problem(response, 503, "LdContextNotAvailable")
    assert not exists(client, E1)


def test_unreachable_context_on_query_is_503(client, context_server):
    response = query(client, type="Vehicle", headers=link_header(context_server.missing_url()))
    assert_problem(response, 503, "LdContextNotAvailable")


def test_context_that_is_not_json_is_rejected(client, context_server):
    context_server.documents["/broken.jsonld"] = "this is not a context"
    response = client.post(f"{BASE}/entities", json=entity(E1, "Vehicle"),
                           headers=link_header(context_server.base + "/broken.jsonld"))
    assert response.status_code in (400, 503), response.text
    assert not exists(client, E1)


def test_remote_context_is_cached(client, ctx, context_server):
    for n in range(3):
        create(client, entity(f"{E1}{n}", "Vehicle"), headers=link_header(ctx))
    assert context_server.hits["/city.jsonld"] == 1


def test_core_terms_cannot_be_redefined(client, context_server):
    url = context_server.add("/evil.jsonld", {"location": EX + "location"})
    create(client, entity(E1, "Vehicle", location={
        "type": "GeoProperty", "value": {"type": "Point", "coordinates": [24.9, 60.1]}}),
        headers=link_header(url))
    assert "location" in retrieve(client, E1)


def test_relationship_object_is_not_compacted(client, ctx):
    create(client, entity(E1, "Vehicle", owner=rel("urn:ngsi-ld:Person:1")),
           headers=link_header(ctx))
    assert retrieve(client, E1, headers=link_header(ctx))["owner"]["object"] == \
        "urn:ngsi-ld:Person:1"


def test_attrs_parameter_uses_context(client, ctx):
    create(client, entity(E1, "Vehicle", speed=prop(1), other=prop(2)), headers=link_header(ctx))
    body = retrieve(client, E1, headers=link_header(ctx), attrs="speed")
    assert set(body) == {"id", "type", "speed"}


def test_bad_link_header_is_400(client):
    response = client.post(f"{BASE}/entities", json=entity(E1, "Vehicle"),
                           headers={"Link": "this is not a link"})
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")


# --- /jsonldContexts -----------------------------------------------------------------------


def test_jsonld_contexts_list_includes_used_remote_context(client, ctx):
    create(client, entity(E1, "Vehicle"), headers=link_header(ctx))
    response = client.get(f"{BASE}/jsonldContexts")
    assert response.status_code == 200, response.text
    assert ctx in response.json()


def test_jsonld_contexts_details(client, ctx):
    create(client, entity(E1, "Vehicle"), headers=link_header(ctx))
    response = client.get(f"{BASE}/jsonldContexts", params={"details": "true"})
    assert response.status_code == 200, response.text
    entries = [e for e in response.json() if e.get("URL") == ctx]
    assert len(entries) == 1
    assert entries[0]["kind"] == "Cached" and entries[0]["localId"]


def test_add_hosted_context_and_use_it(client):
    response = client.post(f"{BASE}/jsonldContexts",
                           json={"@context": {"Bus": EX + "Bus"}})
    assert response.status_code == 201, response.text
    location = response.headers["Location"]
    assert location
    url = location if location.startswith("http") else str(client.base_url) + location
    served = client.get(url)
    assert served.status_code == 200
    assert served.json()["@context"]["Bus"] == EX + "Bus"
    context_id = location.rstrip("/").rsplit("/", 1)[-1]
    listed = client.get(f"{BASE}/jsonldContexts", params={"details": "true"}).json()
    assert any(e.get("localId") == context_id and e.get("kind") == "Hosted" for e in listed)


def test_add_context_without_context_member_is_400(client):
    response = client.post(f"{BASE}/jsonldContexts", json={"Bus": EX + "Bus"})
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")


def test_delete_hosted_context(client):
    response = client.post(f"{BASE}/jsonldContexts", json={"@context": {"Bus": EX + "Bus"}})
    context_id = response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    assert client.delete(f"{BASE}/jsonldContexts/{context_id}").status_code == 204
    assert_problem(client.get(f"{BASE}/jsonldContexts/{context_id}"), 404, "ResourceNotFound")


def test_unknown_context_id_is_404(client):
    assert_problem(client.get(f"{BASE}/jsonldContexts/nope"), 404, "ResourceNotFound")
    assert_problem(client.delete(f"{BASE}/jsonldContexts/nope"), 404, "ResourceNotFound")


def test_core_context_cannot_be_deleted(client):
    listed = client.get(f"{BASE}/jsonldContexts", params={"details": "true"}).json()
    core = [e for e in listed if "ngsi-ld-core-context" in e.get("url", "")]
    for entry in core:
        response = client.delete(f"{BASE}/jsonldContexts/{entry['localId']}")
        assert response.status_code in (400, 422), response.text
