"""The operator control room at `/`, in a real browser against a real server."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.web.city import (
    ADMIN_TOKEN,
    ALERT,
    AQ_EAST,
    AQ_WEST,
    FLOOD_STATION,
    GAUGE,
    ROAD,
    City,
    point,
    prop,
)
from tests.web.conftest import click_map, open_page, rendered, screenshot

DOMAIN_LAYERS = [f"{layer}-{kind}" for layer in ("traffic", "air", "water", "requests",
                                                  "alerts", "sensors")
                 for kind in ("area", "line", "point")]


def wait_rendered(page, entity_id: str, state: str) -> None:
    page.wait_for_function(
        """([layers, id, state]) => madina.map.queryRenderedFeatures({layers})
              .some((f) => f.properties.id === id && f.properties.state === state)""",
        arg=[DOMAIN_LAYERS, entity_id, state])


def test_the_map_draws_the_basemap_and_every_domain_layer_by_state(context, city: City):
    page = open_page(context, "/")
    wait_rendered(page, FLOOD_STATION, "warning")  # derived by the safety domain, live
    drawn = rendered(page, *DOMAIN_LAYERS)
    assert drawn[AQ_WEST] == "good"
    assert drawn[AQ_EAST] == "unhealthyForSensitiveGroups"
    assert drawn[ROAD] == "congested"  # a LineString, drawn as a line
    assert drawn[GAUGE] == "normal"
    assert drawn[ALERT] == "high"
    basemap = page.evaluate("""() => madina.map.queryRenderedFeatures({layers: madina.map
        .getStyle().layers.filter((l) => l.id.startsWith('basemap-')).map((l) => l.id)})
        .map((f) => f.properties.name)""")
    assert {"Main Street", "West", "East", "Bay"} <= set(basemap)
    assert page.locator("#ind-aqi span").all_inner_texts() == ["East 120", "West 42"]
    assert page.locator("#ind-congestion").inner_text() == "50 %"
    # Today's sums from the temporal API: 80.5 + 120 kWh, 20 + 30 kg CO2e.
    page.wait_for_function("() => document.getElementById('ind-energy').innerText !== '—'")
    assert page.locator("#ind-energy").inner_text() == "200.5 kWh"
    assert page.locator("#ind-co2").inner_text() == "50 kg"
    assert page.locator(".maplibregl-ctrl-attrib").inner_text().find("OpenStreetMap") >= 0
    screenshot(page, "control-room")


def test_a_live_update_appears_without_reload(context, city: City):
    page = open_page(context, "/")
    wait_rendered(page, AQ_WEST, "good")
    page.evaluate("window.notReloaded = true")
    now = datetime.now(UTC)
    city.patch(AQ_WEST, {"airQualityIndex": prop(163, now),
                         "airQualityLevel": prop("unhealthy", now)})
    city.upsert({"id": "urn:ngsi-ld:WaterObserved:new-gauge", "type": "WaterObserved",
                 "location": point(24.959, 60.172), "height": prop(1.2, now, "MTR"),
                 "floodWarningLevel": prop("watch", now)})
    wait_rendered(page, AQ_WEST, "unhealthy")
    wait_rendered(page, "urn:ngsi-ld:WaterObserved:new-gauge", "watch")
    page.wait_for_function(
        "() => document.getElementById('ind-aqi').innerText.includes('West 163')")
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("#live-status").inner_text() == "Live"
    screenshot(page, "control-room-live")
    city.patch(AQ_WEST, {"airQualityIndex": prop(42, now), "airQualityLevel": prop("good", now)})
    city.ok(city.http.delete("/ngsi-ld/v1/entities/urn:ngsi-ld:WaterObserved:new-gauge"))
    page.wait_for_function(
        """(layers) => !madina.map.queryRenderedFeatures({layers})
              .some((f) => f.properties.id === 'urn:ngsi-ld:WaterObserved:new-gauge')""",
        arg=DOMAIN_LAYERS)


def test_clicking_a_sensor_shows_its_attributes_and_history_chart(context, city: City):
    page = open_page(context, "/")
    wait_rendered(page, AQ_WEST, "good")
    click_map(page, 24.937, 60.165)
    page.wait_for_selector("#details:not([hidden])")
    assert page.locator("#details-title").inner_text() == AQ_WEST
    assert page.locator("#details-type").inner_text() == "AirQualityObserved"
    page.wait_for_selector("#details-charts .uplot canvas")
    assert "no2" in page.locator("#details-table").inner_text()
    captions = page.locator("#details-charts figcaption").all_inner_texts()
    assert "no2 (GQ)" in captions
    # The chart holds the seeded hour of NO2 from the temporal API, oldest first.
    series = page.evaluate("""() => { const chart = madina.state.charts.find(
        (c) => c.series[1].label === 'no2'); return chart.data[1]; }""")
    assert series[:6] == [21.0, 24.5, 30.0, 27.5, 33.0, 29.0]
    assert len(series) >= 7
    screenshot(page, "control-room-details")
    page.locator("#details-close").click()
    assert page.locator("#details").is_hidden()


def test_alerts_panel_shows_domain_alerts_and_cap_warnings_live(context, city: City):
    page = open_page(context, "/")
    alerts = page.locator("#alert-list")
    page.wait_for_function(
        "() => document.querySelectorAll('#alert-list li.alert').length >= 2")
    assert "Flood warning for the bay" in alerts.inner_text()
    assert f"Flood warning: {FLOOD_STATION}" in alerts.inner_text()
    page.wait_for_selector("#cap-list li.cap")
    assert f"Flood warning: {FLOOD_STATION}" in page.locator("#cap-list").inner_text()
    city.upsert({"id": "urn:ngsi-ld:Alert:heat", "type": "Alert", "category": prop("weather"),
                 "subCategory": prop("highTemperature"), "severity": prop("critical"),
                 "name": prop("Extreme heat downtown"), "location": point(24.94, 60.17)})
    page.wait_for_function(
        "() => document.querySelector('#alert-list li.alert').innerText"
        ".includes('Extreme heat')")
    city.patch("urn:ngsi-ld:Alert:heat", {"validTo": prop(
        {"@type": "DateTime", "@value": "2020-01-01T00:00:00Z"})})
    page.wait_for_function(
        "() => !document.getElementById('alert-list').innerText.includes('Extreme heat')")
    screenshot(page, "control-room-alerts")


def test_staff_sign_in_refuses_a_bad_credential_and_keeps_a_good_one(context, city: City):
    page = open_page(context, "/")
    page.locator("#sign-in").click()
    page.locator("#sign-in-form input[name=username]").fill("nobody")
    page.locator("#sign-in-form input[name=password]").fill("wrong")
    page.locator("#sign-in-form button[type=submit]").click()
    page.wait_for_selector("#sign-in-error:not(:empty)")
    page.locator("#sign-in-form input[name=token]").fill("not-a-valid-token")
    page.locator("#sign-in-form button[type=submit]").click()
    page.wait_for_function(
        "() => document.getElementById('sign-in-error').innerText"
        ".startsWith('The token was refused')")
    assert page.locator("#session-user").inner_text() == "Not signed in"
    page.locator("#sign-in-form input[name=token]").fill(ADMIN_TOKEN)
    page.locator("#sign-in-form button[type=submit]").click()
    page.wait_for_function(
        "() => document.getElementById('session-user').innerText === 'Signed in'")
    assert page.locator("#sign-in-dialog").is_hidden()
    # Kept for this tab only (sessionStorage): a new tab starts signed out.
    other = open_page(context, "/")
    assert other.locator("#session-user").inner_text() == "Not signed in"
    page.locator("#sign-out").click()
    assert page.locator("#session-user").inner_text() == "Not signed in"


INDICATORS = """async () => {
    const m = await import('/web/js/indicators.js');
    const square = (x) => ({type: 'Polygon', coordinates: [[[x, 0], [x + 1, 0], [x + 1, 1],
                                                            [x, 1], [x, 0]]]});
    const districts = {features: [{properties: {name: 'A'}, geometry: square(0)},
                                  {properties: {name: 'B'}, geometry: square(1)}]};
    const at = (x, aqi, level) => ({location: {type: 'Point', coordinates: [x, 0.5]},
                                    airQualityIndex: aqi, airQualityLevel: level});
    return {
        byDistrict: m.aqiByDistrict([at(0.5, 40, 'good'), at(0.7, 130, 'x'), at(1.5, 60, 'm'),
                                     at(5, 10, 'good'), {airQualityIndex: 'n/a'}], districts),
        share: [m.congestionShare([{congested: true}, {congested: false}, {}]),
                m.congestionShare([{}])],
        median: [m.median([3, 1, 2]), m.median([4, 1, 3, 2]), m.median([])],
        hours: m.medianHoursToClose([
            {requested_datetime: '2026-01-01T00:00:00Z', updated_datetime: '2026-01-01T02:00:00Z'},
            {requested_datetime: '2026-01-01T00:00:00Z', updated_datetime: '2026-01-01T06:00:00Z'},
            {requested_datetime: '2026-01-01T00:00:00Z', updated_datetime: 'not a time'}]),
    };
}"""


def test_indicators_are_computed_as_documented(context, city: City):
    page = open_page(context, "/")
    result = page.evaluate(INDICATORS)
    assert result["byDistrict"] == {"A": {"aqi": 130, "level": "x"},
                                    "B": {"aqi": 60, "level": "m"},
                                    "elsewhere": {"aqi": 10, "level": "good"}}
    assert result["share"] == [0.5, None]
    assert result["median"] == [2, 2.5, None]
    assert result["hours"] == 4
