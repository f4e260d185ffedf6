"""ETSI NGSI-LD test suite, Consumption: retrieve, query, batch query, GeoJSON, languages.

Each test names the ETSI test purpose it mirrors (TP/NGSI-LD/ContextInformation/Consumption/...).
Tests marked xfail are behaviours where the broker disagrees with the spec text the TP cites.
"""

from __future__ import annotations

import pytest

from .conftest import (
    BASE,
    assert_problem,
    create,
    entity,
    geo,
    ids_of,
    prop,
    query,
    retrieve,
)

B1 = "urn:ngsi-ld:Building:etsi-1"
B2 = "urn:ngsi-ld:Building:etsi-2"
V_A = "urn:ngsi-ld:Vehicle:52330-A"
V_B = "urn:ngsi-ld:Vehicle:52330-B"
GEOJSON = "application/geo+json"
PARQUE = "/Madrid/Gardens/ParqueNorte"
UNIT = "/CompanyA/OrganizationB/UnitC"


@pytest.fixture
def buildings(client):
    """Two buildings: B1 with two scopes and a fr/nl street, B2 with one scope and de/en-US."""
    create(client, entity(
        B1, "Building", scope=[PARQUE, UNIT],
        name=prop("Town hall"), airQualityLevel=prop("good"), subCategory=prop("public"),
        street={"type": "LanguageProperty", "languageMap": {"fr": "Grand Place",
                                                            "nl": "Grote Markt"}}))
    create(client, entity(
        B2, "Building", scope=PARQUE,
        street={"type": "LanguageProperty", "languageMap": {"de": "Hauptplatz",
                                                            "en-US": "Main Square"}}))
    return client


# --- 421_01: projection or-operator spellings (clause 4.21) -------------------------------


def test_pick_with_pipe_equals_pick_with_comma(buildings):
    # 421_01_01
    comma = retrieve(buildings, B1, pick="name,airQualityLevel")
    assert retrieve(buildings, B1, pick="name|airQualityLevel") == comma


def test_pick_with_comma_keeps_exactly_the_picked_attributes(buildings):
    # 421_01_01 (comma half)
    assert set(retrieve(buildings, B1, pick="name,airQualityLevel")) == {"name",
                                                                         "airQualityLevel"}


def test_pick_with_empty_member_is_400(buildings):
    # 421_01_02
    response = buildings.get(f"{BASE}/entities/{B1}", params={"pick": "name||airQualityLevel"})
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")


# --- 019_34: scopeQ grouping and or spellings (clause 4.19) -------------------------------


@pytest.mark.parametrize(
    ("scope_q", "expected"),
    [
        (f"({PARQUE};{UNIT})", {B1}),  # 019_34_01
        (f"({PARQUE};{UNIT})|{PARQUE}", {B1, B2}),  # 019_34_02
        (f"{UNIT}|/Nowhere/AtAll", {B1}),  # 019_34_03
        (f"({PARQUE};/Nowhere/AtAll)", set()),  # 019_34_04
        ("/Madrid/#", {B1, B2}),  # 019_01_06
        ("/Madrid/+/ParqueNorte", {B1, B2}),
    ],
)
def test_scope_query(buildings, scope_q, expected):
    assert ids_of(query(buildings, type="Building", scopeQ=scope_q)) == expected


# --- 415_01: language filter matching (clause 4.15) ---------------------------------------


@pytest.mark.parametrize(
    ("entity_id", "lang", "code", "value"),
    [
        (B1, "fr;q=0.2,nl;q=0.9", "nl", "Grote Markt"),  # 415_01_01
        (B1, "FR", "fr", "Grand Place"),  # 415_01_02
        (B2, "en", "en-US", "Main Square"),  # 415_01_04
    ],
)
def test_lang_filter_matching(buildings, entity_id, lang, code, value):
    street = retrieve(buildings, entity_id, lang=lang, pick="street")["street"]
    assert street == {"type": "Property", "value": value, "lang": code}


def test_lang_longer_range_truncates_to_shorter_tag(buildings):
    # 415_01_03
    street = retrieve(buildings, B1, lang="nl-BE", pick="street")["street"]
    assert street == {"type": "Property", "value": "Grote Markt", "lang": "nl"}


def test_lang_without_match_falls_back_and_names_the_language(buildings):
    # 415_01_05
    street = retrieve(buildings, B1, lang="pt", pick="street")["street"]
    assert street["type"] == "Property" and "languageMap" not in street
    assert street["lang"] in ("fr", "nl")
    assert street["value"] == {"fr": "Grand Place", "nl": "Grote Markt"}[street["lang"]]


# --- 4516_01: GeoJSON representation (clause 4.5.16) --------------------------------------


@pytest.fixture
def gps_vehicle(client):
    """A vehicle whose location has a datasetId instance and a default instance."""
    location = [geo("Point", [9.0, 9.0], datasetId="urn:ngsi-ld:Dataset:gps"),
                geo("Point", [1.0, 2.0])]
    create(client, entity(V_A, "Vehicle", location=location, speed=prop(5)))
    return client


def test_geojson_feature_shape(gps_vehicle):
    # 4516_01_01 (4.5.16.2: id, fixed type, geometry, properties without id)
    response = gps_vehicle.get(f"{BASE}/entities/{V_A}", headers={"Accept": GEOJSON})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith(GEOJSON)
    feature = response.json()
    assert feature["type"] == "Feature" and feature["id"] == V_A
    assert feature["properties"]["type"] == "Vehicle"
    assert "id" not in feature["properties"]
    assert feature["properties"]["speed"]["value"] == 5


def test_geojson_geometry_is_the_default_instance(gps_vehicle):
    # 4516_01_01
    response = gps_vehicle.get(f"{BASE}/entities/{V_A}", headers={"Accept": GEOJSON})
    assert response.json()["geometry"] == {"type": "Point", "coordinates": [1.0, 2.0]}


def test_geojson_geometry_property_that_is_no_geometry_gives_null(gps_vehicle):
    # 4516_01_02
    response = gps_vehicle.get(f"{BASE}/entities/{V_A}", params={"geometryProperty": "speed"},
                               headers={"Accept": GEOJSON})
    assert response.status_code == 200, response.text
    assert response.json()["geometry"] is None


def test_geojson_feature_collection_has_no_context_per_feature(gps_vehicle):
    # 4516_01_03
    response = gps_vehicle.get(f"{BASE}/entities", params={"type": "Vehicle", "id": V_A},
                               headers={"Accept": GEOJSON})
    assert response.status_code == 200, response.text
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    assert [f["type"] for f in collection["features"]] == ["Feature"]
    assert "@context" not in collection["features"][0]


# --- 6311_01: expiresAt is a system temporal attribute (clause 6.3.11) --------------------


@pytest.fixture
def expiring(client):
    speed = prop(7, observedAt="2026-08-13T00:00:00Z", expiresAt="2100-01-01T00:00:00Z")
    create(client, entity(V_A, "Vehicle", speed=speed, expiresAt="2100-01-01T00:00:00Z"))
    return client


@pytest.mark.xfail(reason="6.3.11: expiresAt is returned only with options=sysAttrs, like "
                   "createdAt and modifiedAt", strict=True)
def test_expires_at_is_absent_without_sys_attrs(expiring):
    # 6311_01_01
    response = expiring.get(f"{BASE}/entities/{V_A}")
    assert response.status_code == 200
    assert "speed" in response.text and "expiresAt" not in response.text


@pytest.mark.xfail(reason="6.3.11: with sysAttrs the entity's expiresAt is a timestamp "
                   "member, not a Property built from it", strict=True)
def test_entity_expires_at_is_a_system_member(expiring):
    # 6311_01_02
    body = retrieve(expiring, V_A, options="sysAttrs")
    assert body["expiresAt"] == "2100-01-01T00:00:00Z"
    assert body["speed"]["expiresAt"] == "2100-01-01T00:00:00Z"


# --- 5722_01: query validation edges (clause 5.7.2.4) --------------------------------------


def test_query_with_only_system_attrs_is_400(buildings):
    # 5722_01_01
    assert_problem(query(buildings, attrs="createdAt"), 400, "BadRequestData")


def test_linked_entity_q_without_join_is_400(buildings):
    # 5722_01_03
    assert_problem(query(buildings, type="Building", q='owner{name}=="x"'), 400,
                   "BadRequestData")


def test_invalid_csf_is_400(buildings):
    # 5722_01_05
    assert_problem(query(buildings, type="Building", csf="))bad(("), 400, "BadRequestData")


# --- 5233_01: EntitySelector on POST /entityOperations/query (clause 5.2.33) ---------------


@pytest.fixture
def vehicles(client):
    for vehicle in (V_A, V_B):
        create(client, entity(vehicle, "Vehicle", speed=prop(1)))
    return client


def batch_query(client, selector):
    return client.post(f"{BASE}/entityOperations/query",
                       json={"type": "Query", "entities": [selector]})


def test_selector_with_id_array_selects_all_named(vehicles):
    # 5233_01_01
    assert ids_of(batch_query(vehicles, {"type": "Vehicle", "id": [V_A, V_B]})) == {V_A, V_B}


def test_selector_id_takes_precedence_over_id_pattern(vehicles):
    # 5233_01_02
    selector = {"type": "Vehicle", "id": V_A, "idPattern": f"^{V_B}$"}
    assert ids_of(batch_query(vehicles, selector)) == {V_A}


def test_selector_without_type_is_400(vehicles):
    # 5233_01_03
    assert_problem(batch_query(vehicles, {"id": V_A}), 400, "BadRequestData")


@pytest.mark.parametrize("selector_id", ["not a uri", [V_A, 5]], ids=["not-uri", "mixed"])
def test_selector_with_invalid_id_is_400(vehicles, selector_id):
    # 5233_01_04, 5233_01_05
    assert_problem(batch_query(vehicles, {"type": "Vehicle", "id": selector_id}), 400,
                   "BadRequestData")


def test_selector_with_id_pattern_alone_filters(vehicles):
    # 5233_01_06
    assert ids_of(batch_query(vehicles, {"type": "Vehicle", "idPattern": f"^{V_B}$"})) == {V_B}


# --- 019: query entities headers ------------------------------------------------------------


def test_count_header_with_type_disjunction(buildings):
    # 019_15 (type=A|B) with count=true
    create(buildings, entity(V_A, "Vehicle"))
    response = query(buildings, type="Building|Vehicle", count="true")
    assert ids_of(response) == {B1, B2, V_A}
    assert response.headers["NGSILD-Results-Count"] == "3"


def test_query_json_answer_carries_link_and_no_context(buildings):
    # 019_01 / 6.3.6: application/json answers name the @context in a Link header
    response = query(buildings, type="Building")
    assert response.headers["Content-Type"].split(";")[0] == "application/json"
    assert 'rel="http://www.w3.org/ns/json-ld#context"' in response.headers["Link"]
    assert all("@context" not in item for item in response.json())


# --- tenants (clause 4.14): unknown tenant on discovery -------------------------------------


@pytest.mark.parametrize("path", ["/types", "/attributes", "/entities?type=Building"])
def test_read_from_unknown_tenant_is_nonexistent_tenant(buildings, path):
    # 022/025/019 with NGSILD-Tenant naming no tenant
    response = buildings.get(f"{BASE}{path}", headers={"NGSILD-Tenant": "nowhere"})
    assert_problem(response, 404, "NonexistentTenant")
