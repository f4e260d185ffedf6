"""Playwright driving Chromium (Debian's, `/usr/bin/chromium`) against a real `madina serve`.

One server and one browser per test process; each test gets a fresh browser context (its own
storage, so no signed-in session or remembered report leaks between tests). Every test leaves
screenshots in tests/web/artifacts/ (gitignored; CI keeps them), and fails on a script error
or a Content-Security-Policy violation in the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services import require_chromium
from tests.web.city import City

ARTIFACTS = Path(__file__).parent / "artifacts"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # No GPU on servers: WebGL (MapLibre) runs on SwiftShader, which Chromium only
        # enables on request.
        browser = playwright.chromium.launch(executable_path=executable,
                                             args=["--enable-unsafe-swiftshader"])
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def city(browser, tmp_path_factory) -> Iterator[City]:
    city = City(tmp_path_factory.mktemp("web-city")).start()
    try:
        city.seed()
        yield city
    finally:
        city.stop()


class Problems:
    """Script errors and CSP violations a page reported."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def watch(self, page: Any) -> None:
        page.on("pageerror", lambda error: self.items.append(f"page error: {error}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if message.type == "error" and re.search(r"Content.Security.Policy|Refused to",
                                                 message.text):
            self.items.append(f"CSP: {message.text}")


@pytest.fixture
def context(browser, city, request) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US",
                                  base_url=city.base)
    context.set_default_timeout(TIMEOUT_MS)
    problems = Problems()
    context.on("page", problems.watch)
    yield context
    ARTIFACTS.mkdir(exist_ok=True)
    for number, page in enumerate(context.pages):
        page.screenshot(path=ARTIFACTS / f"{request.node.name}-{number}-last.png")
    context.close()
    assert problems.items == []


def open_page(context: Any, path: str) -> Any:
    page = context.new_page()
    page.goto(path)
    page.wait_for_selector("body[data-ready=true]")
    return page


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png")


def click_map(page: Any, lon: float, lat: float) -> None:
    """Centre the map on (lon, lat), as a user pans to it, and click there."""
    page.evaluate("""([lon, lat]) => new Promise((resolve) => {
        madina.map.jumpTo({center: [lon, lat]});
        requestAnimationFrame(() => requestAnimationFrame(resolve)); })""", [lon, lat])
    point = page.evaluate("([lon, lat]) => madina.map.project([lon, lat])", [lon, lat])
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])


RENDERED = """(layers) => madina.map.queryRenderedFeatures({layers})
    .map((f) => [f.properties.id, f.properties.state])"""


def rendered(page: Any, *layers: str) -> dict[str, str]:
    """{entity id: state} of the features the map draws in `layers`."""
    return dict(page.evaluate(RENDERED, list(layers)))
