"""Bad temporal input is a 400 ProblemDetails (or the spec's TooManyResults), never a 500,
and writes nothing."""

from __future__ import annotations

import pytest

from .conftest import BASE, assert_problem, create, entity, exists, prop

CAR = "urn:ngsi-ld:Vehicle:errors"
NOW = "2020-08-01T12:00:00Z"


@pytest.fixture
def car(client):
    body = {"id": CAR, "type": "Vehicle", "speed": [
        {"type": "Property", "value": 1, "observedAt": NOW}]}
    assert client.post(f"{BASE}/temporal/entities", json=body).status_code == 201
    return client


BAD_PARAMETERS = [
    ({"timerel": "before"}, "timeAt"),
    ({"timeAt": NOW}, "timerel"),
    ({"timerel": "between", "timeAt": NOW}, "endTimeAt"),
    ({"timerel": "after", "timeAt": NOW, "endTimeAt": NOW}, "endTimeAt"),
    ({"timerel": "between", "timeAt": NOW, "endTimeAt": "2020-08-01T11:00:00Z"}, "endTimeAt"),
    ({"timerel": "during", "timeAt": NOW}, "timerel"),
    ({"timerel": "after", "timeAt": "yesterday"}, "timeAt"),
    ({"timerel": "after", "timeAt": "2020-13-01T00:00:00Z"}, "timeAt"),
    ({"timerel": "after", "timeAt": "0001-01-01T00:00:00+01:00"}, "timeAt"),
    ({"timerel": "before", "timeAt": "9999-12-31T23:00:00-05:00"}, "timeAt"),
    ({"timeproperty": "expiresAt"}, "timeproperty"),
    ({"lastN": "0"}, "lastN"),
    ({"lastN": "-1"}, "lastN"),
    ({"lastN": "2.5"}, "lastN"),
    ({"lastN": "many"}, "lastN"),
    ({"aggrMethods": "mean"}, "aggregation method"),
    ({"aggrMethods": "avg,"}, "aggrMethods"),
    ({"options": "aggregatedValues"}, "aggrMethods"),
    ({"aggrPeriodDuration": "PT1H"}, "aggrMethods"),
    ({"aggrMethods": "avg", "aggrPeriodDuration": "1H"}, "aggrPeriodDuration"),
    ({"aggrMethods": "avg", "aggrPeriodDuration": "P"}, "aggrPeriodDuration"),
    ({"aggrMethods": "avg", "aggrPeriodDuration": "PT"}, "aggrPeriodDuration"),
    ({"aggrMethods": "avg", "aggrPeriodDuration": "-P1D"}, "aggrPeriodDuration"),
    ({"aggrMethods": "avg", "aggrPeriodDuration": "P1H"}, "aggrPeriodDuration"),
    ({"aggrMethods": "avg", "aggrPeriodDuration": "P99999Y"}, "aggrPeriodDuration"),
    ({"aggrMethods": "avg", "aggrPeriodDuration": "PT1S", "timerel": "between",
      "timeAt": "2000-01-01T00:00:00Z", "endTimeAt": "2020-01-01T00:00:00Z"}, "periods"),
    ({"aggrMethods": "avg", "options": "temporalValues"}, "aggregated"),
    ({"options": "temporalValues,concise"}, "conflicting"),
    ({"options": "noOverwrite"}, "option"),
    ({"format": "geojson"}, "format"),
    ({"pick": "speed", "omit": "type"}, "pick"),
    ({"datasetId": "not a uri"}, "datasetId"),
]


def test_bad_parameters_are_400(car) -> None:
    """One broker for the whole table: each case is a read, and reads change nothing."""
    for params, named in BAD_PARAMETERS:
        for url, extra in ((f"{BASE}/temporal/entities/{CAR}", {}),
                           (f"{BASE}/temporal/entities", {"type": "Vehicle"})):
            answer = car.get(url, params={**params, **extra})
            assert answer.status_code == 400, (params, answer.text)
            body = assert_problem(answer, 400, "BadRequestData", "InvalidRequest")
            assert named in body["detail"], (params, body)


def test_unknown_parameters_are_400(car) -> None:
    answer = car.get(f"{BASE}/temporal/entities/{CAR}", params={"timeRel": "after"})
    assert_problem(answer, 400, "InvalidRequest")


def test_a_query_needs_a_selection_and_a_sane_limit(car) -> None:
    assert_problem(car.get(f"{BASE}/temporal/entities"), 400, "BadRequestData")
    too_many = car.get(f"{BASE}/temporal/entities", params={"type": "Vehicle", "limit": "5000"})
    assert_problem(too_many, 403, "TooManyResults")


def test_unknown_entity_and_tenant(car) -> None:
    assert_problem(car.get(f"{BASE}/temporal/entities/urn:ngsi-ld:Vehicle:none"), 404,
                   "ResourceNotFound")
    assert_problem(car.get(f"{BASE}/temporal/entities/not-a-uri"), 400, "BadRequestData")
    other = car.get(f"{BASE}/temporal/entities", params={"type": "Vehicle"},
                    headers={"NGSILD-Tenant": "nowhere"})
    assert_problem(other, 404, "NonexistentTenant")


@pytest.mark.parametrize("body", [
    [],
    {"type": "Vehicle", "speed": {"type": "Property", "value": 1, "observedAt": NOW}},
    {"id": "not a uri", "type": "Vehicle"},
    {"id": CAR + "x", "speed": {"type": "Property", "value": 1, "observedAt": NOW}},
    {"id": CAR + "x", "type": "Vehicle", "speed": {"type": "Property", "value": 1}},
    {"id": CAR + "x", "type": "Vehicle", "speed": 5},
    {"id": CAR + "x", "type": "Vehicle", "speed": []},
    {"id": CAR + "x", "type": "Vehicle", "speed": [{"type": "Property", "value": 1,
                                                    "observedAt": NOW}, 5]},
    {"id": CAR + "x", "type": "Vehicle", "speed": {"type": "Property", "value": 1,
                                                   "observedAt": "noon"}},
    {"id": CAR + "x", "type": "Vehicle", "speed": {"type": "Property", "value": 1,
                                                   "observedAt": "0001-01-01T00:00:00+01:00"}},
    {"id": CAR + "x", "type": "Vehicle", "observedAt": {"type": "Property", "value": 1,
                                                        "observedAt": NOW}},
])
def test_bad_temporal_bodies_are_400_and_write_nothing(client, body) -> None:
    answer = client.post(f"{BASE}/temporal/entities", json=body)
    assert_problem(answer, 400, "BadRequestData", "InvalidRequest")
    assert not exists(client, CAR + "x")


BAD_QUERIES = [
    ({"type": "Query", "entities": [{"type": "Vehicle"}], "temporalQ": []}, "temporalQ"),
    ({"type": "Query", "entities": [{"type": "Vehicle"}], "temporalQ": {"lastN": 0}}, "lastN"),
    ({"type": "Query", "entities": [{"type": "Vehicle"}], "temporalQ": {"lastN": 2.5}}, "lastN"),
    ({"type": "Query", "entities": [{"type": "Vehicle"}], "temporalQ": {"lastN": True}}, "lastN"),
    ({"type": "Query", "entities": [{"type": "Vehicle"}],
      "temporalQ": {"timerel": "between", "timeAt": NOW}}, "endTimeAt"),
    ({"type": "Query", "entities": [{"type": "Vehicle"}],
      "temporalQ": {"aggrMethods": ["avg", 3]}}, "aggrMethods"),
    ({"type": "Query", "entities": [{"type": "Vehicle"}],
      "temporalQ": {"aggrMethods": "avg", "aggrPeriodDuration": "hourly"}}, "aggrPeriodDuration"),
    ({"type": "Query", "entities": [{"type": [None]}]}, "type"),
    ({"type": "Query", "entities": [{"type": "Vehicle", "idPattern": 3}]}, "idPattern"),
    ({"type": "Query", "q": 5}, "q"),
    ({"type": "Query", "attrs": "speed"}, "attrs"),
    ({"type": "Query", "geoQ": {"georel": ["near"], "geometry": "Point",
                                "coordinates": [24.9, 60.2]}}, "georel"),
    ({"type": "Subscription", "entities": [{"type": "Vehicle"}]}, "Query"),
]


def test_bad_query_bodies_are_400(car) -> None:
    for query, named in BAD_QUERIES:
        answer = car.post(f"{BASE}/temporal/entityOperations/query", json=query)
        assert answer.status_code == 400, (query, answer.text)
        body = assert_problem(answer, 400, "BadRequestData", "InvalidRequest")
        assert named in body["detail"], (query, body)


@pytest.mark.parametrize("query", [
    {"type": "Query", "entities": [{"type": [None]}]},
    {"type": "Query", "q": 5},
    {"type": "Query", "geoQ": {"georel": ["near"], "geometry": "Point", "coordinates": [1, 2]}},
])
def test_entity_query_bodies_of_the_wrong_json_type_are_400_not_500(client, query) -> None:
    """Found by fuzzing the temporal query: the shared Query body parser passed a list or a
    number on to parsers expecting text."""
    answer = client.post(f"{BASE}/entityOperations/query", json=query)
    assert_problem(answer, 400, "BadRequestData")


def test_an_observed_at_out_of_the_utc_calendar_is_400_not_500(client) -> None:
    """0001-01-01T00:00:00+01:00 is year 0 in UTC, which no DateTime holds."""
    body = entity("urn:ngsi-ld:Room:old", "Room",
                  temperature=prop(1, observedAt="0001-01-01T00:00:00+01:00"))
    assert_problem(client.post(f"{BASE}/entities", json=body), 400, "BadRequestData")


def test_years_before_1000_sort_before_later_ones(client) -> None:
    """Stored DateTimes keep four year digits, so string order stays time order."""
    body = {"id": "urn:ngsi-ld:Sundial:1", "type": "Sundial", "shadow": [
        {"type": "Property", "value": "old", "observedAt": "0999-06-01T00:00:00Z"},
        {"type": "Property", "value": "new", "observedAt": "2020-06-01T00:00:00Z"}]}
    assert client.post(f"{BASE}/temporal/entities", json=body).status_code == 201
    answer = client.get(f"{BASE}/temporal/entities/urn:ngsi-ld:Sundial:1", params={
        "timerel": "before", "timeAt": "1000-01-01T00:00:00Z"}).json()
    assert [i["value"] for i in answer["shadow"]] == ["old"]
    assert answer["shadow"][0]["observedAt"] == "0999-06-01T00:00:00Z"
    create(client, entity("urn:ngsi-ld:Room:ancient", "Room",
                          temperature=prop(1, observedAt="0500-01-01T00:00:00Z")))
    current = client.get(f"{BASE}/entities/urn:ngsi-ld:Room:ancient").json()
    assert current["temperature"]["observedAt"] == "0500-01-01T00:00:00Z"


def test_instance_edits_check_their_input(car) -> None:
    (instance,) = car.get(f"{BASE}/temporal/entities/{CAR}").json()["speed"]
    url = f"{BASE}/temporal/entities/{CAR}/attrs/speed/{instance['instanceId']}"
    for body in ([1], {"value": None}, {"observedAt": "noon"}, {"type": "Unknown"},
                 {"value": "urn:ngsi-ld:null"}):
        assert_problem(car.patch(url, json=body), 400, "BadRequestData", "InvalidRequest")
    bad_id = f"{BASE}/temporal/entities/{CAR}/attrs/speed/not%20a%20uri"
    assert_problem(car.patch(bad_id, json={"value": 2}), 400, "BadRequestData")
    unknown = f"{BASE}/temporal/entities/{CAR}/attrs/speed/urn:ngsi-ld:Instance:999999"
    assert_problem(car.patch(unknown, json={"value": 2}), 404, "ResourceNotFound")
    assert_problem(car.delete(f"{BASE}/temporal/entities/{CAR}/attrs/speed",
                              params={"deleteAll": "maybe"}), 400, "BadRequestData")
