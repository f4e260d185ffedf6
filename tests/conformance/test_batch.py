"""Batch entity operations (clauses 5.6.7-5.6.10, 5.6.20, 5.7.5; 6.14-6.18, 6.23)."""

from __future__ import annotations

import pytest

from .conftest import BASE, ERRORS, assert_problem, create, entity, exists, prop, retrieve

OPS = f"{BASE}/entityOperations"
A, B, C = (f"urn:ngsi-ld:Thing:{n}" for n in "ABC")


def assert_batch_errors(response, success: set[str], failed: set[str]) -> dict:
    """A 207 BatchOperationResult: success ids and errors with ProblemDetails."""
    assert response.status_code == 207, response.text
    body = response.json()
    assert set(body["success"]) == success
    assert {e["entityId"] for e in body["errors"]} == failed
    for error in body["errors"]:
        assert error["error"]["type"].startswith(ERRORS), error
        assert error["error"]["title"], error
    return body


# --- create ------------------------------------------------------------------------------


def test_batch_create_all_good_is_201_with_ids(client):
    response = client.post(f"{OPS}/create", json=[entity(A, a=prop(1)), entity(B, a=prop(2))])
    assert response.status_code == 201, response.text
    assert sorted(response.json()) == [A, B]
    assert retrieve(client, A)["a"]["value"] == 1 and retrieve(client, B)["a"]["value"] == 2


def test_batch_create_partial_is_207_and_commits_good_ones(client):
    create(client, entity(A))
    response = client.post(f"{OPS}/create", json=[entity(A, x=prop(9)), entity(B, a=prop(2))])
    body = assert_batch_errors(response, {B}, {A})
    assert body["errors"][0]["error"]["type"] == ERRORS + "AlreadyExists"
    assert "x" not in retrieve(client, A)
    assert exists(client, B)


def test_batch_create_invalid_entity_is_reported(client):
    response = client.post(f"{OPS}/create", json=[
        entity(A, a=prop(1)), {"id": B, "type": "Thing", "bad": {"type": "Property"}}])
    body = assert_batch_errors(response, {A}, {B})
    assert body["errors"][0]["error"]["type"] == ERRORS + "BadRequestData"
    assert not exists(client, B)


def test_batch_create_duplicate_in_same_request(client):
    response = client.post(f"{OPS}/create", json=[entity(A, a=prop(1)), entity(A, a=prop(2))])
    assert response.status_code in (207, 400), response.text
    if response.status_code == 207:
        body = response.json()
        assert body["success"] == [A] and [e["entityId"] for e in body["errors"]] == [A]


@pytest.mark.parametrize(("op", "query"), [
    ("upsert", "?options=update"), ("update", ""), ("merge", "")])
def test_batch_items_with_one_id_apply_in_order(client, op, query):
    """Each item applies over what the earlier ones left: none of their attributes is lost."""
    create(client, entity(A, a=prop(0)))
    response = client.post(f"{OPS}/{op}{query}", json=[
        entity(A, a=prop(1)), entity(A, b=prop(2)), entity(A, c=prop(3))])
    assert response.status_code in (201, 204), response.text
    got = retrieve(client, A)
    assert (got["a"]["value"], got["b"]["value"], got["c"]["value"]) == (1, 2, 3)


def test_batch_upsert_creates_then_updates_one_id(client):
    response = client.post(f"{OPS}/upsert?options=update", json=[
        entity(B, a=prop(1)), entity(B, b=prop(2))])
    assert response.status_code == 201, response.text
    assert response.json() == [B]
    got = retrieve(client, B)
    assert (got["a"]["value"], got["b"]["value"]) == (1, 2)


@pytest.mark.parametrize("op", ["create", "upsert", "update", "delete", "merge"])
@pytest.mark.parametrize("payload", [{}, "text", 5], ids=["object", "string", "number"])
def test_batch_body_must_be_an_array(client, op, payload):
    response = client.post(f"{OPS}/{op}", json=payload)
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")


@pytest.mark.parametrize("op", ["create", "upsert", "update", "delete", "merge"])
def test_batch_empty_array_is_400(client, op):
    assert_problem(client.post(f"{OPS}/{op}", json=[]), 400, "BadRequestData", "InvalidRequest")


@pytest.mark.parametrize("op", ["create", "upsert", "update", "merge"])
def test_batch_entity_without_id_is_rejected(client, op):
    response = client.post(f"{OPS}/{op}", json=[{"type": "Thing", "a": prop(1)}])
    assert response.status_code in (400, 207), response.text
    if response.status_code == 400:
        assert_problem(response, 400, "BadRequestData", "InvalidRequest")
    else:
        assert response.json()["success"] == []


# --- upsert ------------------------------------------------------------------------------


def test_upsert_all_new_is_201_with_ids(client):
    response = client.post(f"{OPS}/upsert", json=[entity(A, a=prop(1)), entity(B, a=prop(1))])
    assert response.status_code == 201, response.text
    assert sorted(response.json()) == [A, B]


def test_upsert_mixed_is_201_with_created_ids_only(client):
    create(client, entity(A, a=prop(1)))
    response = client.post(f"{OPS}/upsert", json=[entity(A, b=prop(2)), entity(B, a=prop(1))])
    assert response.status_code == 201, response.text
    assert response.json() == [B]


def test_upsert_all_existing_is_204(client):
    create(client, entity(A, a=prop(1)))
    response = client.post(f"{OPS}/upsert", json=[entity(A, b=prop(2))])
    assert response.status_code == 204, response.text
    assert response.content == b""


def test_upsert_default_replaces_entity(client):
    create(client, entity(A, a=prop(1)))
    client.post(f"{OPS}/upsert", json=[entity(A, b=prop(2))])
    body = retrieve(client, A)
    assert "a" not in body and body["b"]["value"] == 2


def test_upsert_option_replace(client):
    create(client, entity(A, a=prop(1)))
    response = client.post(f"{OPS}/upsert", params={"options": "replace"},
                           json=[entity(A, b=prop(2))])
    assert response.status_code == 204, response.text
    body = retrieve(client, A)
    assert "a" not in body and body["b"]["value"] == 2


def test_upsert_option_update_keeps_other_attributes(client):
    create(client, entity(A, a=prop(1), b=prop(1)))
    response = client.post(f"{OPS}/upsert", params={"options": "update"},
                           json=[entity(A, b=prop(2), c=prop(3))])
    assert response.status_code == 204, response.text
    body = retrieve(client, A)
    assert body["a"]["value"] == 1 and body["b"]["value"] == 2 and body["c"]["value"] == 3


def test_upsert_partial_failure_is_207(client):
    response = client.post(f"{OPS}/upsert", json=[
        entity(A, a=prop(1)), {"id": "not a uri", "type": "Thing"}])
    assert response.status_code == 207, response.text
    body = response.json()
    assert body["success"] == [A] and len(body["errors"]) == 1
    assert exists(client, A)


def test_upsert_invalid_option_is_400(client):
    response = client.post(f"{OPS}/upsert", params={"options": "sideways"}, json=[entity(A)])
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")
    assert not exists(client, A)


# --- update ------------------------------------------------------------------------------


def test_batch_update_all_good_is_204(client):
    create(client, entity(A, a=prop(1)))
    create(client, entity(B, a=prop(1)))
    response = client.post(f"{OPS}/update", json=[entity(A, a=prop(5)), entity(B, b=prop(6))])
    assert response.status_code == 204, response.text
    assert retrieve(client, A)["a"]["value"] == 5
    body_b = retrieve(client, B)
    assert body_b["a"]["value"] == 1 and body_b["b"]["value"] == 6


def test_batch_update_missing_entity_is_207(client):
    create(client, entity(A, a=prop(1)))
    response = client.post(f"{OPS}/update", json=[entity(A, a=prop(5)), entity(B, a=prop(1))])
    body = assert_batch_errors(response, {A}, {B})
    assert body["errors"][0]["error"]["type"] == ERRORS + "ResourceNotFound"
    assert retrieve(client, A)["a"]["value"] == 5
    assert not exists(client, B)


def test_batch_update_no_overwrite(client):
    create(client, entity(A, a=prop(1)))
    response = client.post(f"{OPS}/update", params={"options": "noOverwrite"},
                           json=[entity(A, a=prop(5), b=prop(6))])
    assert response.status_code in (204, 207), response.text
    body = retrieve(client, A)
    assert body["a"]["value"] == 1 and body["b"]["value"] == 6


# --- delete ------------------------------------------------------------------------------


def test_batch_delete_all_good_is_204(client):
    create(client, entity(A))
    create(client, entity(B))
    response = client.post(f"{OPS}/delete", json=[A, B])
    assert response.status_code == 204, response.text
    assert not exists(client, A) and not exists(client, B)


def test_batch_delete_missing_is_207(client):
    create(client, entity(A))
    response = client.post(f"{OPS}/delete", json=[A, B])
    body = assert_batch_errors(response, {A}, {B})
    assert body["errors"][0]["error"]["type"] == ERRORS + "ResourceNotFound"
    assert not exists(client, A)


def test_batch_delete_invalid_id_is_reported(client):
    create(client, entity(A))
    response = client.post(f"{OPS}/delete", json=[A, "not a uri"])
    assert response.status_code in (207, 400), response.text
    if response.status_code == 207:
        assert response.json()["success"] == [A]
        assert not exists(client, A)
    else:
        assert exists(client, A)


# --- merge -------------------------------------------------------------------------------


def test_batch_merge_all_good_is_204(client):
    create(client, entity(A, a=prop(1, unitCode="CEL")))
    response = client.post(f"{OPS}/merge", json=[entity(A, a={"value": 2}, b=prop(3))])
    assert response.status_code == 204, response.text
    body = retrieve(client, A)
    assert body["a"] == prop(2, unitCode="CEL") and body["b"]["value"] == 3


def test_batch_merge_missing_entity_is_207(client):
    create(client, entity(A, a=prop(1)))
    response = client.post(f"{OPS}/merge", json=[entity(A, a=prop(2)), entity(B, a=prop(1))])
    assert_batch_errors(response, {A}, {B})
    assert retrieve(client, A)["a"]["value"] == 2
    assert not exists(client, B)


def test_batch_merge_null_deletes(client):
    create(client, entity(A, a=prop(1), b=prop(2)))
    response = client.post(f"{OPS}/merge", json=[{"id": A, "type": "Thing",
                                                  "a": "urn:ngsi-ld:null"}])
    assert response.status_code == 204, response.text
    assert "a" not in retrieve(client, A)


# --- query (POST /entityOperations/query) ------------------------------------------------


@pytest.fixture
def three(client):
    client.post(f"{OPS}/create", json=[
        entity(A, "Car", speed=prop(10)),
        entity(B, "Car", speed=prop(80)),
        entity(C, "Bike", speed=prop(20)),
    ])
    return client


def _post_query(client, body, **params):
    response = client.post(f"{OPS}/query", json={"type": "Query", **body}, params=params)
    assert response.status_code == 200, response.text
    return {e["id"] for e in response.json()}


def test_post_query_by_type(three):
    assert _post_query(three, {"entities": [{"type": "Car"}]}) == {A, B}


def test_post_query_by_id(three):
    assert _post_query(three, {"entities": [{"id": C, "type": "Bike"}]}) == {C}


def test_post_query_by_id_pattern(three):
    assert _post_query(three, {"entities": [{"idPattern": ".*:[AB]$", "type": "Car"}]}) == {A, B}


def test_post_query_with_q(three):
    assert _post_query(three, {"entities": [{"type": "Car"}], "q": "speed>50"}) == {B}


def test_post_query_several_selectors(three):
    assert _post_query(three, {"entities": [{"id": A, "type": "Car"}, {"type": "Bike"}]}) == {A, C}


def test_post_query_with_geo_q(three):
    client = three
    create(client, entity("urn:ngsi-ld:Place:1", "Place", location={
        "type": "GeoProperty", "value": {"type": "Point", "coordinates": [24.94, 60.17]}}))
    body = {"entities": [{"type": "Place"}],
            "geoQ": {"geometry": "Point", "coordinates": [24.94, 60.17],
                     "georel": "near;maxDistance==100"}}
    assert _post_query(client, body) == {"urn:ngsi-ld:Place:1"}


def test_post_query_attrs_projection(three):
    response = three.post(f"{OPS}/query", json={"type": "Query", "entities": [{"id": A,
                                                "type": "Car"}], "attrs": ["nothing"]})
    assert response.status_code == 200, response.text
    assert all("speed" not in e for e in response.json())


def test_post_query_count_and_limit(three):
    response = three.post(f"{OPS}/query", params={"limit": 1, "count": "true"},
                          json={"type": "Query", "entities": [{"type": "Car"}]})
    assert response.status_code == 200, response.text
    assert len(response.json()) == 1
    assert response.headers["NGSILD-Results-Count"] == "2"


def test_post_query_wrong_type_member_is_400(three):
    response = three.post(f"{OPS}/query", json={"type": "Nonsense",
                                                "entities": [{"type": "Car"}]})
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")


def test_post_query_invalid_q_is_400(three):
    response = three.post(f"{OPS}/query", json={"type": "Query", "entities": [{"type": "Car"}],
                                                "q": "speed>>"})
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")
