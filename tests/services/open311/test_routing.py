"""Routing: a request goes to the department whose service area for its service holds its
location; inside the city but outside every area, or outside the city, is refused naming the
city's boundary; without coordinates, the service's only department takes it."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.services.open311.conftest import (
    ADMIN_API,
    API,
    EAST,
    INSIDE_EAST,
    INSIDE_WEST,
    pothole,
    submit,
)


def agency(client: TestClient, answer) -> str | None:
    assert answer.status_code == 201, answer.text
    created = answer.json()[0]
    if "token" in created:
        request_id = client.get(f"{API}/tokens/{created['token']}.json").json()[0][
            "service_request_id"]
    else:
        request_id = created["service_request_id"]
    return client.get(f"{API}/requests/{request_id}.json").json()[0]["agency_responsible"]


@pytest.mark.parametrize(("location", "department"), [
    (INSIDE_WEST, "Roads West"),
    (INSIDE_EAST, "Roads East"),
    ({"lat": "60.15", "long": "24.92"}, "Roads West"),  # on the edge counts as inside
])
def test_by_location(city: TestClient, api_key: str, location, department: str) -> None:
    assert agency(city, submit(city, pothole(api_key, **location))) == department


def test_by_service(city: TestClient, api_key: str) -> None:
    graffiti = {"api_key": api_key, "service_code": "graffiti", **INSIDE_WEST}
    assert agency(city, submit(city, graffiti)) == "Parks Department"


def test_inside_the_city_but_outside_every_area(city: TestClient, api_key: str) -> None:
    city.put(f"{ADMIN_API}/departments/roads-west", json={"name": "Roads West"})
    answer = submit(city, pothole(api_key, **INSIDE_WEST))
    assert answer.status_code == 400
    assert answer.json() == [{"code": "400", "description":
        "no department of City of Example handles service 'pothole' (Pothole) at lat 60.17, "
        "long 24.92: the location is inside the boundary of City of Example (jurisdiction "
        "city.example) but outside every service area for that service"}]
    assert agency(city, submit(city, pothole(api_key, **INSIDE_EAST))) == "Roads East"


def test_outside_the_city(city: TestClient, api_key: str) -> None:
    # An area reaching beyond the boundary does not widen the city.
    wide = {"type": "Polygon", "coordinates": [[[24.9, 60.1], [25.1, 60.1], [25.1, 60.4],
                                                [24.9, 60.4], [24.9, 60.1]]]}
    city.put(f"{ADMIN_API}/departments/roads-east",
             json={"name": "Roads East", "service_areas": [
                 {"service_code": "pothole", "area": wide}]})
    answer = submit(city, pothole(api_key, lat="60.3", long="25.05"))
    assert answer.status_code == 400
    assert "outside the boundary of City of Example (jurisdiction city.example)" in \
        answer.json()[0]["description"]


def test_without_coordinates(city: TestClient, api_key: str) -> None:
    address_only = pothole(api_key, lat="", long="", address_string="Mannerheimintie 1")
    assert agency(city, submit(city, address_only)) is None, "two departments: staff decide"
    graffiti = {"api_key": api_key, "service_code": "graffiti", "address_id": "A-17"}
    assert agency(city, submit(city, graffiti)) == "Parks Department"


def test_the_first_of_overlapping_departments(city: TestClient, api_key: str) -> None:
    city.put(f"{ADMIN_API}/departments/aa-roads",
             json={"name": "All Roads", "service_areas": [
                 {"service_code": "pothole", "area": EAST}]})
    assert agency(city, submit(city, pothole(api_key, **INSIDE_EAST))) == "All Roads"
