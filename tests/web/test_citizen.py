"""The citizen portal at `/citizen`, in a real browser against a real server."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

from tests.web.city import ADMIN_TOKEN, City
from tests.web.conftest import click_map, open_page, screenshot

WEST_SPOT = (24.9405, 60.1665)
"""A spot in the West district, where `roads-west` handles potholes."""


def report_a_pothole(page, description: str, photo: Path | None = None) -> str:
    click_map(page, *WEST_SPOT)
    page.wait_for_selector("#nearby:not([hidden])")
    page.locator("#service").select_option("pothole")
    page.wait_for_selector("#attributes select")
    page.get_by_label("How big is it?").select_option("l")
    page.get_by_label("Describe the problem").fill(description)
    page.get_by_label("E-mail").fill("resident@example.org")
    if photo is not None:
        page.get_by_label("Photo (optional)").set_input_files(photo)
    page.get_by_role("button", name="Send the report").click()
    page.wait_for_selector("#report-result:not(:empty)")
    number = re.search(r"report number is (\d+)", page.locator("#report-result").inner_text())
    assert number, page.locator("#report-result").inner_text()
    return number.group(1)


def test_a_citizen_reports_a_problem_and_staff_fix_it(context, city: City, tmp_path):
    photo = tmp_path / "pothole.png"
    Image.new("RGB", (64, 48), (90, 90, 90)).save(photo)
    citizen = open_page(context, "/citizen")
    request_id = report_a_pothole(citizen, "Deep hole by the tram stop", photo)
    screenshot(citizen, "citizen-reported")
    stored = city.http.get(f"/open311/v2/requests/{request_id}.json").json()[0]
    assert stored["agency_responsible"] == "Roads, west"
    # Where the click landed, to the pixel (a few metres at this zoom).
    assert abs(stored["lat"] - WEST_SPOT[1]) < 1e-4
    assert abs(stored["long"] - WEST_SPOT[0]) < 1e-4
    assert stored["description"] == "Deep hole by the tram stop"
    assert city.http.get(stored["media_url"]).headers["content-type"] == "image/png"

    # The citizen follows the report from the list of their own, live.
    citizen.get_by_role("tab", name="Follow a report").click()
    citizen.locator("#my-reports").get_by_role("button", name=f"#{request_id}").click()
    citizen.wait_for_selector("#follow-result article[data-status=open]")

    # Staff see it in their department's queue and mark it fixed.
    staff = open_page(context, "/")
    staff.locator("#sign-in").click()
    staff.locator("#sign-in-form input[name=token]").fill(ADMIN_TOKEN)
    staff.locator("#sign-in-form button[type=submit]").click()
    item = staff.locator(f"li.request[data-request='{request_id}']")
    item.wait_for()
    assert "Roads, west" in staff.locator("li.department", has=item).locator("h3").inner_text()
    item.locator("input[name=notes]").fill("Filled with asphalt.")
    item.get_by_role("button", name="Mark fixed").click()
    item.wait_for(state="detached")
    screenshot(staff, "control-room-fixed")

    # Without reloading, the citizen's page shows it closed, with the staff's note.
    citizen.wait_for_selector("#follow-result article[data-status=closed][data-state=fixed]")
    follow = citizen.locator("#follow-result").inner_text()
    assert "Status: Fixed" in follow
    assert "Filled with asphalt." in follow
    screenshot(citizen, "citizen-followed")


def test_reports_nearby_are_shown_before_reporting_again(context, city: City):
    answer = city.http.post("/open311/v2/requests.json", data={
        "api_key": city.api_key, "service_code": "pothole", "lat": WEST_SPOT[1],
        "long": WEST_SPOT[0], "attribute[size]": "s", "description": "Cracked kerb"})
    request_id = city.ok(answer).json()[0]["service_request_id"]
    second = open_page(context, "/citizen")
    click_map(second, WEST_SPOT[0] + 0.0003, WEST_SPOT[1])  # ~17 m east
    # Open reports in view are dots on the map, before any place is chosen.
    second.wait_for_function("""(id) => madina.map.queryRenderedFeatures({layers: ['reports']})
        .some((f) => f.properties.id === id)""", arg=request_id)
    nearby = second.locator("#nearby-list li", has_text=f"#{request_id} Pothole")
    nearby.wait_for()
    nearby.get_by_role("button", name="Follow this report").click()
    second.wait_for_selector("#follow-result article[data-status]")
    assert second.locator("#follow-id").input_value() == request_id


def test_a_report_without_a_place_or_required_answer_is_not_sent(context, city: City):
    page = open_page(context, "/citizen")
    page.locator("#service").select_option("pothole")
    page.wait_for_selector("#attributes select")
    page.get_by_role("button", name="Send the report").click()
    assert page.locator("#report-error").inner_text() == "Choose the place on the map first."
    before = city.http.get("/open311/v2/requests.json").json()
    click_map(page, *WEST_SPOT)
    page.get_by_role("button", name="Send the report").click()  # the size is required
    assert page.locator("#report-result").inner_text() == ""
    assert city.http.get("/open311/v2/requests.json").json() == before


def test_the_portal_in_arabic_and_persian_is_mirrored(context, city: City):
    page = open_page(context, "/citizen?lang=en")
    ltr = layout(page)
    screenshot(page, "citizen-en")
    page.locator("#language").select_option("ar")
    page.wait_for_function("() => document.documentElement.dir === 'rtl'")
    rtl = layout(page)
    assert (ltr["dir"], rtl["dir"]) == ("ltr", "rtl")
    assert rtl["lang"] == "ar"
    # The panel sits at the inline start: left of the map in English, right of it in Arabic.
    assert ltr["panel"] < ltr["map"]
    assert rtl["panel"] > rtl["map"]
    # Tabs run right to left, and the texts are Arabic.
    assert rtl["tabs"] == sorted(rtl["tabs"], reverse=True)
    assert page.get_by_role("tab", name="الإبلاغ عن مشكلة").is_visible()
    screenshot(page, "citizen-ar")
    page.locator("#language").select_option("fa")
    page.wait_for_function("() => document.documentElement.lang === 'fa'")
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.get_by_role("tab", name="گزارش مشکل").is_visible()
    screenshot(page, "citizen-fa")
    # The choice is remembered: the next visit opens in Persian.
    again = open_page(context, "/citizen")
    assert again.evaluate("document.documentElement.lang") == "fa"


def layout(page) -> dict:
    return page.evaluate("""() => ({
        dir: document.documentElement.dir, lang: document.documentElement.lang,
        panel: document.getElementById('panel').getBoundingClientRect().x,
        map: document.getElementById('map').getBoundingClientRect().x,
        tabs: [...document.querySelectorAll('[role=tab]')].map((t) => t.getBoundingClientRect().x),
    })""")


def test_air_quality_and_warnings_near_me_in_plain_language(context, city: City):
    page = open_page(context, "/citizen?lang=ar")
    click_map(page, 24.951, 60.1635)  # beside the east station (AQI 120)
    page.get_by_role("tab", name="الهواء والتحذيرات").click()
    page.wait_for_selector("#air-now article[data-level=unhealthyForSensitiveGroups]")
    air = page.locator("#air-now").inner_text()
    assert "غير صحية للفئات الحساسة" in air  # the level, in Arabic
    assert "الفئات الحساسة: اجعلوا النشاط" in air  # and its health advice
    assert re.search("120|١٢٠", air)  # the index, in the digits the locale uses
    page.wait_for_selector("#warnings li.warning")
    assert "تحذير من الفيضان" in page.locator("#warnings").inner_text()
    screenshot(page, "citizen-air-ar")


def test_a_phone_sized_screen_keyboard_and_labels(context, city: City):
    page = context.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/citizen")
    page.wait_for_selector("body[data-ready=true]")
    size = page.evaluate("""() => ({width: document.documentElement.scrollWidth,
        map: document.getElementById('map').getBoundingClientRect(),
        panel: document.getElementById('panel').getBoundingClientRect()})""")
    assert size["width"] <= 390  # nothing wider than the phone
    assert size["map"]["bottom"] <= size["panel"]["top"] + 1  # the map above the form
    # Tabs by keyboard (arrow keys), the place by keyboard (the map's centre).
    page.get_by_role("tab", name="Report a problem").focus()
    page.keyboard.press("ArrowRight")
    assert page.get_by_role("tab", name="Follow a report").get_attribute("aria-selected") == "true"
    assert page.locator("#follow").is_visible()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Tab")
    page.get_by_role("button", name="Use the centre of the map").focus()
    page.keyboard.press("Enter")
    assert page.locator("#spot").inner_text().startswith("Chosen place: ")
    # Every form control has a name a screen reader can say.
    unnamed = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter((c) => c.type !== 'hidden' && !(c.labels?.length || c.getAttribute('aria-label')))
        .map((c) => c.name || c.id)""")
    assert unnamed == []
    screenshot(page, "citizen-phone")
