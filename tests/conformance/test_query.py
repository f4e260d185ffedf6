"""Query entities (clause 5.7.2, 6.4.3.2): selectors, projection, pagination, options."""

from __future__ import annotations

import pytest

from .conftest import assert_problem, create, entity, ids_of, prop, query, rel

R1, R2, R3 = (f"urn:ngsi-ld:Room:{n}" for n in (1, 2, 3))
O1 = "urn:ngsi-ld:Office:1"
C1 = "urn:ngsi-ld:Car:1"


@pytest.fixture
def data(client):
    create(client, entity(R1, "Room", temperature=prop(18), name=prop("a"),
                          scope="/Helsinki/Kallio"))
    create(client, entity(R2, "Room", temperature=prop(25), scope=["/Helsinki/Pasila", "/Ops"]))
    create(client, entity(R3, "Room", humidity=prop(50)))
    create(client, entity(O1, ["Room", "Office"], temperature=prop(21),
                          scope="/Espoo"))
    create(client, entity(C1, "Car", speed=prop(40), owner=rel(O1)))
    return client


ALL = {R1, R2, R3, O1, C1}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"type": "Room"}, {R1, R2, R3, O1}),
        ({"type": "Car"}, {C1}),
        ({"type": "Office"}, {O1}),
        ({"type": "Room,Car"}, ALL),
        ({"type": "Room|Car"}, ALL),
        ({"type": "Room;Office"}, {O1}),
        ({"type": "(Room;Office)|Car"}, {O1, C1}),
        ({"type": "Bicycle"}, set()),
        ({"id": R1}, {R1}),
        ({"id": f"{R1},{C1}"}, {R1, C1}),
        ({"id": f"{R1},{C1}", "type": "Room"}, {R1}),
        ({"idPattern": "^urn:ngsi-ld:Room:[12]$"}, {R1, R2}),
        ({"idPattern": ".*Office.*"}, {O1}),
        ({"idPattern": "urn:ngsi-ld:Room:.*", "type": "Room"}, {R1, R2, R3}),
        ({"attrs": "temperature"}, {R1, R2, O1}),
        ({"attrs": "humidity,speed"}, {R3, C1}),
        ({"type": "Room", "attrs": "speed"}, set()),
        ({"q": "temperature>20"}, {R2, O1}),
        ({"type": "Room", "q": "temperature<20"}, {R1}),
        ({"type": "Room", "scopeQ": "/Helsinki/Kallio"}, {R1}),
        ({"type": "Room", "scopeQ": "/Helsinki/#"}, {R1, R2}),
        ({"type": "Room", "scopeQ": "/Helsinki/+"}, {R1, R2}),
        ({"type": "Room", "scopeQ": "/Helsinki"}, set()),
        ({"type": "Room", "scopeQ": "/Espoo,/Ops"}, {R2, O1}),
        ({"type": "Room", "scopeQ": "/Espoo;/Ops"}, set()),
        ({"type": "Room", "scopeQ": "/Helsinki/Pasila;/Ops"}, {R2}),
        ({"type": "Room", "scopeQ": "/#"}, {R1, R2, O1}),
    ],
)
def test_query_selectors(data, params, expected):
    assert ids_of(query(data, **params)) == expected


def test_query_without_any_selector_is_400(data):
    assert_problem(query(data), 400, "BadRequestData")


def test_query_local_true_alone_is_allowed(data):
    assert ids_of(query(data, local="true", limit=100)) == ALL


def test_query_attrs_projects_attributes(data):
    response = query(data, type="Room", attrs="temperature")
    for item in response.json():
        assert set(item) <= {"id", "type", "scope", "temperature"}, item


def test_query_pick_and_omit(data):
    picked = query(data, id=R1, pick="id,name").json()
    assert picked == [{"id": R1, "name": {"type": "Property", "value": "a"}}]
    omitted = query(data, id=R1, omit="type,temperature,scope").json()
    assert omitted == [{"id": R1, "name": {"type": "Property", "value": "a"}}]


@pytest.mark.parametrize("bad", ["-1", "abc", "1.5"])
def test_query_invalid_limit_is_400(data, bad):
    assert_problem(query(data, type="Room", limit=bad), 400, "BadRequestData", "InvalidRequest")


@pytest.mark.parametrize("bad", ["-1", "abc"])
def test_query_invalid_offset_is_400(data, bad):
    assert_problem(query(data, type="Room", offset=bad), 400, "BadRequestData", "InvalidRequest")


def test_query_too_big_limit_is_too_many_results(data):
    assert_problem(query(data, type="Room", limit=10**9), 403, "TooManyResults")


def test_pagination_walks_all_results_once(data):
    seen = []
    for offset in range(0, 4, 2):
        response = query(data, type="Room", limit=2, offset=offset)
        assert response.status_code == 200
        page = [e["id"] for e in response.json()]
        assert len(page) == 2
        seen += page
    assert sorted(seen) == sorted([R1, R2, R3, O1])
    assert query(data, type="Room", limit=2, offset=4).json() == []


def test_pagination_is_stable(data):
    first = [e["id"] for e in query(data, type="Room", limit=3).json()]
    again = [e["id"] for e in query(data, type="Room", limit=3).json()]
    assert first == again


def test_count_header(data):
    response = query(data, type="Room", count="true", limit=1)
    assert response.status_code == 200
    assert response.headers["NGSILD-Results-Count"] == "4"
    assert len(response.json()) == 1


def test_count_with_limit_zero(data):
    response = query(data, type="Room", count="true", limit=0)
    assert response.status_code == 200, response.text
    assert response.json() == []
    assert response.headers["NGSILD-Results-Count"] == "4"


def test_limit_zero_without_count_is_400(data):
    assert_problem(query(data, type="Room", limit=0), 400, "BadRequestData", "InvalidRequest")


def test_no_count_header_unless_asked(data):
    assert "NGSILD-Results-Count" not in query(data, type="Room").headers


def test_count_zero_when_nothing_matches(data):
    response = query(data, type="Bicycle", count="true")
    assert response.json() == [] and response.headers["NGSILD-Results-Count"] == "0"


def test_order_by_attribute(data):
    response = query(data, type="Room", q="temperature", orderBy="temperature")
    assert [e["id"] for e in response.json()] == [R1, O1, R2]


def test_order_by_attribute_descending(data):
    response = query(data, type="Room", q="temperature", orderBy="temperature;desc")
    assert [e["id"] for e in response.json()] == [R2, O1, R1]


def test_key_values_option(data):
    body = query(data, id=C1, options="keyValues").json()
    assert body == [{"id": C1, "type": "Car", "speed": 40, "owner": O1}]


def test_format_parameter_simplified(data):
    body = query(data, id=C1, format="simplified").json()
    assert body == [{"id": C1, "type": "Car", "speed": 40, "owner": O1}]


def test_concise_option(data):
    body = query(data, id=C1, options="concise").json()
    assert body == [{"id": C1, "type": "Car", "speed": 40, "owner": {"object": O1}}]


def test_normalized_option(data):
    body = query(data, id=C1, options="normalized").json()
    assert body == [{"id": C1, "type": "Car", "speed": prop(40), "owner": rel(O1)}]


def test_sys_attrs_option_in_query(data):
    body = query(data, id=C1, options="sysAttrs").json()[0]
    assert body["createdAt"].endswith("Z") and body["modifiedAt"].endswith("Z")
    assert body["speed"]["createdAt"].endswith("Z")


def test_no_sys_attrs_by_default(data):
    body = query(data, id=C1).json()[0]
    assert "createdAt" not in body and "createdAt" not in body["speed"]


@pytest.mark.parametrize("options", ["keyValues,concise", "nonsense"])
def test_bad_options_are_400(data, options):
    assert_problem(query(data, id=C1, options=options), 400, "BadRequestData", "InvalidRequest")


def test_unknown_query_parameter_is_400(data):
    assert_problem(query(data, type="Room", colour="blue"), 400, "BadRequestData",
                   "InvalidRequest")


def test_query_with_invalid_id_pattern_is_400(data):
    assert_problem(query(data, idPattern="([a-"), 400, "BadRequestData")


def test_query_with_invalid_id_is_400(data):
    assert_problem(query(data, id="not a uri"), 400, "BadRequestData")


# --- languages (clause 4.15) ---------------------------------------------------------------


@pytest.fixture
def square(client):
    create(client, entity("urn:ngsi-ld:Square:1", "Square", name={
        "type": "LanguageProperty", "languageMap": {"en": "Market", "fi": "Tori", "sv": "Torg"}}))
    return client


@pytest.mark.parametrize(
    ("lang", "value", "code"),
    [("fi", "Tori", "fi"), ("sv", "Torg", "sv"), ("en", "Market", "en"),
     ("fi,en", "Tori", "fi"), ("de,sv", "Torg", "sv")],
)
def test_lang_reduces_language_property(square, lang, value, code):
    body = query(square, type="Square", lang=lang).json()[0]["name"]
    assert body == {"type": "Property", "value": value, "lang": code}


def test_lang_with_key_values(square):
    body = query(square, type="Square", lang="fi", options="keyValues").json()[0]
    assert body["name"] == "Tori"


def test_without_lang_key_values_gives_language_map(square):
    body = query(square, type="Square", options="keyValues").json()[0]
    assert body["name"] == {"languageMap": {"en": "Market", "fi": "Tori", "sv": "Torg"}}


def test_q_on_language_property(square):
    assert ids_of(query(square, type="Square", q='name[fi]=="Tori"')) == {"urn:ngsi-ld:Square:1"}
    assert ids_of(query(square, type="Square", q='name[fi]=="Torg"')) == set()


# --- datasetId and expiresAt ---------------------------------------------------------------


def test_query_dataset_id_filters_instances(client):
    create(client, entity(R1, "Room", t=[prop(1), prop(2, datasetId="urn:ngsi-ld:ds:x")]))
    body = query(client, type="Room", datasetId="urn:ngsi-ld:ds:x").json()[0]
    instances = body["t"] if isinstance(body["t"], list) else [body["t"]]
    assert [i["value"] for i in instances] == [2]


def test_expired_attribute_is_not_returned(client):
    create(client, entity(R1, "Room", t=prop(1), old=prop(2, expiresAt="2000-01-01T00:00:00Z"),
                          new=prop(3, expiresAt="2999-01-01T00:00:00Z")))
    body = query(client, type="Room").json()[0]
    assert "old" not in body and body["new"]["value"] == 3
