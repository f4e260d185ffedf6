"""Subscriptions over HTTP (clause 5.8, 6.10-6.11) on both engines: create, read, list, update,
delete, tenants, and every refusal of bad input as a 400 ProblemDetails."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.conformance.conftest import link_header

API = "/ngsi-ld/v1/subscriptions"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
EX = "https://example.org/city#"
ENDPOINT = {"uri": "http://127.0.0.1:9/notify", "accept": "application/json"}


def subscription(**members) -> dict:
    body = {"type": "Subscription", "entities": [{"type": "Sensor"}],
            "notification": {"endpoint": ENDPOINT}}
    body.update(members)
    return body


def create(client: TestClient, body: dict, **kw) -> str:
    answer = client.post(API, json=body, **kw)
    assert answer.status_code == 201, answer.text
    location = answer.headers["location"]
    assert location.startswith(API + "/")
    return location.removeprefix(API + "/")


def test_create_and_retrieve_round_trip(client: TestClient) -> None:
    body = subscription(
        id="urn:ngsi-ld:Subscription:s1", subscriptionName="hot sensors",
        description="temperature above 30", watchedAttributes=["temperature"],
        q="temperature>30", notificationTrigger=["attributeUpdated", "entityCreated"],
        scopeQ="/Helsinki/#", throttling=5, expiresAt="2099-01-01T00:00:00Z",
        geoQ={"georel": "near;maxDistance==1000", "geometry": "Point",
              "coordinates": [24.94, 60.17]},
        notification={"endpoint": {**ENDPOINT, "receiverInfo": [{"key": "X-Token",
                                                                 "value": "secret"}]},
                      "format": "keyValues", "attributes": ["temperature"],
                      "sysAttrs": True, "showChanges": True},
    )
    assert create(client, body) == "urn:ngsi-ld:Subscription:s1"
    got = client.get(f"{API}/urn:ngsi-ld:Subscription:s1").json()
    assert got["status"] == "active" and got["isActive"] is True
    assert got["notification"]["timesSent"] == 0
    expected = {k: v for k, v in body.items() if k != "notification"}
    expected["geoQ"] = {**expected["geoQ"], "geoproperty": "location"}  # the default, shown
    assert {k: got[k] for k in expected} == expected
    assert got["notification"] == {**body["notification"], "timesSent": 0}


def test_names_follow_the_context_of_each_request(client: TestClient, context_server) -> None:
    """Stored expanded: a reader with another @context sees the names its context gives the
    same IRIs, and one without sees the IRIs."""
    city = context_server.add("/city.jsonld", {"Vehicle": EX + "Vehicle", "speed": EX + "speed"})
    other = context_server.add("/other.jsonld", {"Car": EX + "Vehicle", "velocity": EX + "speed"})
    sid = create(client, subscription(entities=[{"type": "Vehicle"}], watchedAttributes=["speed"],
                                      notification={"endpoint": ENDPOINT,
                                                    "attributes": ["speed"]}),
                 headers=link_header(city))
    got = client.get(f"{API}/{sid}", headers=link_header(other)).json()
    assert got["entities"] == [{"type": "Car"}]
    assert got["watchedAttributes"] == ["velocity"]
    assert got["notification"]["attributes"] == ["velocity"]
    core = client.get(f"{API}/{sid}").json()
    assert core["entities"] == [{"type": EX + "Vehicle"}]


def test_generated_id_and_json_ld(client: TestClient) -> None:
    body = {**subscription(), "@context": "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"}
    sid = create(client, body, headers={"Content-Type": "application/ld+json"})
    assert sid.startswith("urn:ngsi-ld:Subscription:")
    got = client.get(f"{API}/{sid}", headers={"Accept": "application/ld+json"})
    assert got.headers["content-type"] == "application/ld+json"
    assert "@context" in got.json()


def test_list_pages_and_counts(client: TestClient) -> None:
    ids = [create(client, subscription(id=f"urn:ngsi-ld:Subscription:{n}")) for n in range(5)]
    answer = client.get(API, params={"limit": 2, "offset": 1, "count": "true"})
    assert answer.status_code == 200
    assert answer.headers["ngsild-results-count"] == "5"
    assert [s["id"] for s in answer.json()] == ids[1:3]
    assert [s["id"] for s in client.get(API).json()] == ids
    sys_attrs = client.get(API, params={"options": "sysAttrs", "limit": 1}).json()[0]
    assert sys_attrs["createdAt"].endswith("Z") and "modifiedAt" in sys_attrs


def test_update_merges_and_null_removes(client: TestClient) -> None:
    sid = create(client, subscription(q="temperature>30", throttling=10,
                                      notification={"endpoint": ENDPOINT,
                                                    "format": "keyValues"}))
    answer = client.patch(f"{API}/{sid}", json={
        "isActive": False, "throttling": None, "q": "temperature>40",
        "notification": {"attributes": ["temperature"]},
    })
    assert answer.status_code == 204, answer.text
    got = client.get(f"{API}/{sid}").json()
    assert got["status"] == "paused" and got["isActive"] is False
    assert "throttling" not in got
    assert got["q"] == "temperature>40"
    assert got["notification"]["format"] == "keyValues"  # kept: notification members merge
    assert got["notification"]["attributes"] == ["temperature"]
    expire = {"isActive": True, "expiresAt": "2000-01-01T00:00:00Z"}
    assert client.patch(f"{API}/{sid}", json=expire).status_code == 204
    assert client.get(f"{API}/{sid}").json()["status"] == "expired"


def test_delete(client: TestClient) -> None:
    sid = create(client, subscription())
    assert client.delete(f"{API}/{sid}").status_code == 204
    for answer in (client.get(f"{API}/{sid}"), client.delete(f"{API}/{sid}"),
                   client.patch(f"{API}/{sid}", json={"isActive": False})):
        assert answer.status_code == 404
        assert answer.json()["type"] == ERRORS + "ResourceNotFound"


def test_tenants_are_isolated(client: TestClient) -> None:
    sid = create(client, subscription(), headers={"NGSILD-Tenant": "espoo"})
    assert client.get(f"{API}/{sid}").status_code == 404
    assert client.get(f"{API}/{sid}", headers={"NGSILD-Tenant": "espoo"}).status_code == 200
    assert client.get(API).json() == []
    assert client.delete(f"{API}/{sid}").status_code == 404
    unknown = client.get(API, headers={"NGSILD-Tenant": "vantaa"})
    assert unknown.status_code == 404
    assert unknown.json()["type"] == ERRORS + "NonexistentTenant"


def test_a_duplicate_id_conflicts(client: TestClient) -> None:
    create(client, subscription(id="urn:ngsi-ld:Subscription:same"))
    again = client.post(API, json=subscription(id="urn:ngsi-ld:Subscription:same"))
    assert again.status_code == 409
    assert again.json()["type"] == ERRORS + "AlreadyExists"


def test_subscriptions_need_an_operator(client: TestClient) -> None:
    anonymous = client.get(API, headers={"Authorization": ""})
    assert anonymous.status_code == 401


BAD = {
    "not an object": [],
    "no type": {k: v for k, v in subscription().items() if k != "type"},
    "wrong type": subscription(type="Entity"),
    "id not a URI": subscription(id="not a uri"),
    "no notification": {"type": "Subscription", "entities": [{"type": "Sensor"}]},
    "neither entities nor watchedAttributes": {"type": "Subscription",
                                               "notification": {"endpoint": ENDPOINT}},
    "selector without type": subscription(entities=[{"id": "urn:a:b"}]),
    "selector id not a URI": subscription(entities=[{"type": "T", "id": "no uri"}]),
    "bad idPattern": subscription(entities=[{"type": "T", "idPattern": "(["}]),
    "bad type expression": subscription(entities=[{"type": "A;;B"}]),
    "bad q": subscription(q="temperature>>3"),
    "q not a string": subscription(q=5),
    "bad scopeQ": subscription(scopeQ="no-slash"),
    "bad geoQ georel": subscription(geoQ={"georel": "nearby", "geometry": "Point",
                                          "coordinates": [1, 2]}),
    "bad geoQ coordinates": subscription(geoQ={"georel": "within", "geometry": "Polygon",
                                               "coordinates": [1, 2]}),
    "geoQ without geometry": subscription(geoQ={"georel": "within", "coordinates": [1, 2]}),
    "unknown trigger": subscription(notificationTrigger=["entityTouched"]),
    "empty triggers": subscription(notificationTrigger=[]),
    "timeInterval with watchedAttributes": subscription(timeInterval=10,
                                                        watchedAttributes=["a"]),
    "timeInterval with throttling": subscription(timeInterval=10, throttling=1),
    "timeInterval zero": subscription(timeInterval=0),
    "negative throttling": subscription(throttling=-1),
    "throttling not a number": subscription(throttling="5"),
    "expiresAt in the past": subscription(expiresAt="2001-01-01T00:00:00Z"),
    "expiresAt not a DateTime": subscription(expiresAt="tomorrow"),
    "isActive not boolean": subscription(isActive="yes"),
    "unknown member": subscription(colour="blue"),
    "bad endpoint scheme": subscription(notification={"endpoint": {"uri": "ftp://h/x"}}),
    "endpoint not a URI": subscription(notification={"endpoint": {"uri": "not a uri"}}),
    "endpoint without host": subscription(notification={"endpoint": {"uri": "http:///x"}}),
    "MQTT endpoint without topic": subscription(
        notification={"endpoint": {"uri": "mqtt://127.0.0.1:1883"}}),
    "bad MQTT QoS": subscription(notification={"endpoint": {
        "uri": "mqtt://127.0.0.1/t", "notifierInfo": [{"key": "MQTT-QoS", "value": "3"}]}}),
    "bad accept": subscription(notification={"endpoint": {**ENDPOINT, "accept": "text/xml"}}),
    "receiverInfo not pairs": subscription(notification={"endpoint": {
        **ENDPOINT, "receiverInfo": [{"key": "X-A"}]}}),
    "receiverInfo header injection": subscription(notification={"endpoint": {
        **ENDPOINT, "receiverInfo": [{"key": "X-A", "value": "a\r\nHost: evil"}]}}),
    "receiverInfo not ASCII": subscription(notification={"endpoint": {
        **ENDPOINT, "receiverInfo": [{"key": "X-A", "value": "€"}]}}),
    "endpoint not ASCII": subscription(notification={"endpoint": {"uri": "http://h/€"}}),
    "no endpoint": subscription(notification={"format": "normalized"}),
    "bad format": subscription(notification={"endpoint": ENDPOINT, "format": "compact"}),
    "empty attributes": subscription(notification={"endpoint": ENDPOINT, "attributes": []}),
    "negative timeout": subscription(notification={"endpoint": {**ENDPOINT, "timeout": -1}}),
}


def test_bad_subscriptions_are_refused(client: TestClient) -> None:
    """One app for the whole table: every case is refused before the store is touched."""
    for case, body in BAD.items():
        answer = client.post(API, json=body)
        assert answer.status_code == 400, (case, answer.text)
        problem = answer.json()
        assert problem["type"] in (ERRORS + "BadRequestData", ERRORS + "InvalidRequest"), case
        assert problem["status"] == 400 and problem["detail"], case
    assert client.get(API, headers={"NGSILD-Tenant": ""}).status_code in (200, 404)
    assert client.app.state.store.subscriptions.every() == []


def test_bad_updates_are_refused_and_change_nothing(client: TestClient) -> None:
    sid = create(client, subscription(watchedAttributes=["temperature"]))
    before = client.get(f"{API}/{sid}").json()
    for fragment in ({"timeInterval": 10}, {"id": "urn:ngsi-ld:Subscription:other"},
                     {"notification": {"endpoint": {"uri": "gopher://x/y"}}},
                     {"entities": None, "watchedAttributes": None}, {}, {"q": "(("},
                     {"notification": None}):
        answer = client.patch(f"{API}/{sid}", json=fragment)
        assert answer.status_code == 400, (fragment, answer.text)
    assert client.get(f"{API}/{sid}").json() == before


def test_bad_paths_and_parameters(client: TestClient) -> None:
    assert client.get(f"{API}/not-a-uri").status_code == 400
    assert client.get(API, params={"limit": -1}).status_code == 400
    assert client.get(API, params={"colour": "blue"}).status_code == 400
    assert client.get(API, params={"options": "keyValues"}).status_code == 400
    unsupported = client.post(API, json=subscription(temporalQ={"timerel": "after"}))
    assert unsupported.status_code == 422
    assert unsupported.json()["type"] == ERRORS + "OperationNotSupported"
