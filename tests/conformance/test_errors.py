"""Error reporting (clause 5.5.2, 6.3.2): ProblemDetails shape and refused input."""

from __future__ import annotations

import json

import pytest

from madina.config import Settings

from .conftest import BASE, ERRORS, assert_problem, create, entity, exists, prop, query, retrieve

E1 = "urn:ngsi-ld:Room:1"


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200, response.text


def test_problem_details_shape(client):
    response = client.get(f"{BASE}/entities/urn:ngsi-ld:Nope:1")
    assert response.status_code == 404
    # Clause 5.5.3: plain application/json, not RFC 7807's application/problem+json.
    assert response.headers["Content-Type"].split(";")[0] == "application/json"
    body = response.json()
    assert body["type"] == ERRORS + "ResourceNotFound"
    assert isinstance(body["title"], str) and body["title"]
    assert body["status"] == 404
    assert isinstance(body["detail"], str) and body["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/entities/urn:ngsi-ld:X:1"),
        ("PUT", "/entities/urn:ngsi-ld:X:1"),
        ("PATCH", "/entities/urn:ngsi-ld:X:1"),
        ("DELETE", "/entities/urn:ngsi-ld:X:1"),
        ("POST", "/entities/urn:ngsi-ld:X:1/attrs"),
        ("PATCH", "/entities/urn:ngsi-ld:X:1/attrs"),
        ("PATCH", "/entities/urn:ngsi-ld:X:1/attrs/a"),
        ("PUT", "/entities/urn:ngsi-ld:X:1/attrs/a"),
        ("DELETE", "/entities/urn:ngsi-ld:X:1/attrs/a"),
        ("GET", "/types/Nothing"),
        ("GET", "/attributes/nothing"),
        ("GET", "/jsonldContexts/nothing"),
    ],
)
def test_resource_not_found_everywhere(client, method, path):
    body = None if method in ("GET", "DELETE") else {"a": prop(1)}
    if method == "PUT" and path.endswith("X:1"):
        body = {"type": "X", "a": prop(1)}
    if path.endswith("/attrs/a") and method == "PATCH":
        body = {"value": 1}
    response = client.request(method, BASE + path, json=body)
    assert_problem(response, 404, "ResourceNotFound")


@pytest.mark.parametrize(
    "payload",
    [b"{", b"", b"nul", b'{"id": "urn:a:b", "type": "T",}', b"\xff\xfe", b'{"id": "urn:a:b"']
)
def test_malformed_json_is_400(client, payload):
    response = client.post(f"{BASE}/entities", content=payload,
                           headers={"Content-Type": "application/json"})
    assert_problem(response, 400, "InvalidRequest", "BadRequestData")


@pytest.mark.parametrize("payload", [b"{", b"[1,"])
def test_malformed_json_in_patch_is_400(client, payload):
    create(client, entity(E1, "Room", a=prop(1)))
    response = client.patch(f"{BASE}/entities/{E1}/attrs", content=payload,
                            headers={"Content-Type": "application/json"})
    assert_problem(response, 400, "InvalidRequest", "BadRequestData")
    assert retrieve(client, E1)["a"]["value"] == 1


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/entities", {"type": "Room", "colour": "blue"}),
        ("/entities", {"type": "Room", "Type": "Room"}),
        ("/entities/urn:ngsi-ld:Room:1", {"foo": "bar"}),
        ("/types", {"verbose": "1"}),
        ("/attributes", {"x": "1"}),
    ],
)
def test_unknown_query_parameter_is_400(client, path, params):
    create(client, entity(E1, "Room", a=prop(1)))
    response = client.get(BASE + path, params=params)
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")


def test_unknown_query_parameter_on_write_writes_nothing(client):
    response = client.post(f"{BASE}/entities", params={"foo": "bar"},
                           json=entity(E1, "Room"))
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")
    assert not exists(client, E1)


@pytest.mark.parametrize(
    "attr",
    [
        "just a string with no type",
        {"type": "Property", "value": 1, "observedAt": 12},
        {"type": "Property", "value": 1, "unitCode": 5},
        {"type": "Relationship", "object": "not a uri"},
        {"type": "Relationship", "object": ["urn:a:b", 3]},
        {"type": "LanguageProperty", "languageMap": "en"},
        {"type": "LanguageProperty", "languageMap": {"en": 5}},
        {"type": "VocabProperty", "vocab": 5},
        {"type": "ListProperty", "valueList": "not a list"},
        {"type": "ListRelationship", "objectList": "urn:a:b"},
        {"type": "GeoProperty", "value": "POINT(1 2)"},
        {"type": "Property", "value": 1, "sub": {"type": "Property"}},
        {"type": "Property", "value": 1, "datasetId": 3},
    ],
    ids=["bare-string", "observedAt-number", "unitCode-number", "object-not-uri",
         "object-list-with-number", "languageMap-string", "languageMap-number",
         "vocab-number", "valueList-string", "objectList-string", "geo-wkt",
         "bad-sub-attribute", "datasetId-number"],
)
def test_wrong_attribute_shapes_are_400(client, attr):
    response = client.post(f"{BASE}/entities", json={"id": E1, "type": "Room", "attr": attr,
                                                     "ok": prop(1)})
    if attr == "just a string with no type":
        # In concise form a bare string is a Property value: accepted, not an error.
        assert response.status_code == 201, response.text
        assert retrieve(client, E1)["attr"] == prop(attr)
        return
    assert_problem(response, 400, "BadRequestData")
    assert not exists(client, E1)


def test_oversized_body_is_refused(client, settings: Settings):
    big = "x" * (settings.max_body_bytes + 10)
    response = client.post(f"{BASE}/entities", json=entity(E1, "Room", blob=prop(big)))
    assert response.status_code in (400, 413), response.text
    assert response.json()["type"].startswith(ERRORS)
    assert not exists(client, E1)


def test_body_just_under_limit_is_fine(client):
    response = client.post(f"{BASE}/entities", json=entity(E1, "Room", blob=prop("x" * 10000)))
    assert response.status_code == 201, response.text


def test_very_deep_nesting_is_400(client, settings: Settings):
    depth = 100
    value: object = 1
    for _ in range(depth):
        value = {"n": value}
    response = client.post(f"{BASE}/entities", content=json.dumps(
        entity(E1, "Room", deep=prop(value))).encode(),
        headers={"Content-Type": "application/json"})
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")
    assert not exists(client, E1)


def test_extremely_deep_nesting_does_not_crash(client):
    payload = b'{"id":"urn:a:b","type":"T","x":' + b"[" * 100000 + b"]" * 100000 + b"}"
    response = client.post(f"{BASE}/entities", content=payload,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text[:200]
    assert client.get("/health").status_code == 200


def test_invalid_q_writes_nothing_and_answers_400(client):
    create(client, entity(E1, "Room", a=prop(1)))
    response = client.get(f"{BASE}/entities", params={"type": "Room", "q": "a=="})
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")
    assert retrieve(client, E1)["a"]["value"] == 1


def test_unknown_entity_type_in_batch_delete_body(client):
    response = client.post(f"{BASE}/entityOperations/delete", json=[{"id": E1}])
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")


def test_method_not_allowed(client):
    response = client.put(f"{BASE}/entities", json=[])
    assert response.status_code == 405, response.text


def test_id_in_path_must_be_uri_for_writes(client):
    response = client.patch(f"{BASE}/entities/notauri/attrs", json={"a": prop(1)})
    assert_problem(response, 400, "BadRequestData")


def test_attribute_with_reserved_name_is_400(client):
    for name in ("@id", "@type"):
        response = client.post(f"{BASE}/entities", json={"id": E1, "type": "Room",
                                                         name: prop(1)})
        assert response.status_code == 400, response.text
    assert not exists(client, E1)


@pytest.mark.parametrize("param", ["join=flat", "joinLevel=2", "containedBy=urn:x:1"])
def test_linked_entity_retrieval_is_refused_not_ignored(client, param):
    create(client, entity(E1, "Room"))
    response = client.get(f"{BASE}/entities?type=Room&{param}")
    assert_problem(response, 422, "OperationNotSupported")


@pytest.mark.parametrize("attr", [{"type": {}}, {"type": []}, {"type": None}, {"type": 5}])
def test_attribute_type_that_is_not_a_string_is_400_not_500(client, attr):
    response = client.post(f"{BASE}/entities", json=entity(E1, "Room", x=attr))
    assert_problem(response, 400, "BadRequestData")
    assert not exists(client, E1)


def test_the_nul_character_is_bad_request_data_on_every_engine(client):
    """U+0000 is valid JSON, but PostgreSQL's jsonb cannot hold it: both engines refuse it
    alike (400) in bodies, query parameters and identifiers, instead of one answering 500."""
    body = entity("urn:ngsi-ld:Thing:nul", name=prop("a\u0000b"))
    assert_problem(client.post(f"{BASE}/entities", json=body), 400, "BadRequestData")
    nested = entity("urn:ngsi-ld:Thing:nul", name=prop({"k\u0000": 1}))
    assert_problem(client.post(f"{BASE}/entities", json=nested), 400, "BadRequestData")
    escaped = entity("urn:ngsi-ld:Thing:ok", name=prop("backslash \\u0000 is text"))
    assert client.post(f"{BASE}/entities", json=escaped).status_code == 201
    answer = query(client, type="Thing", q='name=="a\u0000"')
    assert_problem(answer, 400, "BadRequestData")
    assert_problem(client.get(f"{BASE}/entities/urn:x%00y"), 400, "BadRequestData")
