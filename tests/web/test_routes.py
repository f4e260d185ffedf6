"""The dashboards' routes without a browser: pages and their Content-Security-Policy, assets
and their media types, the settings the pages read, the basemap layers."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from madina.api.web import WEB_DIR, layer_role, page_policy
from madina.app import create_app
from madina.config import Settings

FEATURES = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"name": "Quay"},
     "geometry": {"type": "LineString", "coordinates": [[24.95, 60.16], [24.96, 60.17]]}}]}


@pytest.fixture
def basemap(tmp_path) -> Path:
    directory = tmp_path / "basemap"
    directory.mkdir()
    (directory / "town-streets.geojson").write_text(json.dumps(FEATURES))
    (directory / "town-water.geojson.gz").write_bytes(gzip.compress(json.dumps(FEATURES).encode()))
    (directory / "notes.txt").write_text("not a layer")
    return directory


@contextmanager
def serving(tmp_path: Path, **settings) -> Iterator[TestClient]:
    app = create_app(Settings(database=str(tmp_path / "web.db"), database_url=None,
                              rate_limit_per_ip="0", rate_limit_per_client="0",
                              admin_token="test-admin-token", domains="", **settings))
    with TestClient(app) as client:
        yield client


@pytest.fixture
def client(tmp_path, basemap) -> Iterator[TestClient]:
    with serving(tmp_path, web_basemap=str(basemap)) as client:
        yield client


@pytest.mark.parametrize("path", ["/", "/citizen"])
def test_pages_carry_a_strict_policy_of_their_own(client: TestClient, path: str):
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "unsafe" not in policy  # no inline script or eval, no inline style
    assert "worker-src 'self'" in policy  # MapLibre's worker, from this origin
    assert "frame-ancestors 'none'" in policy
    assert answer.headers["x-content-type-options"] == "nosniff"  # the middleware's, kept
    assert answer.headers["cache-control"] == "no-cache"


def test_the_pages_have_no_inline_script_or_style():
    """Everything the pages run or style comes from files, as their policy demands."""
    for page in ("index.html", "citizen.html"):
        html = (WEB_DIR / page).read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), page
        assert "<style" not in html and " style=" not in html and "javascript:" not in html
        assert not re.search(r"\son[a-z]+=", html), page  # no inline event handlers
        for url in re.findall(r'(?:src|href)="(/[^"]*)"', html):
            assert (WEB_DIR / url.removeprefix("/web/")).is_file(), url


def test_an_online_tile_server_joins_images_and_connections_only():
    policy = page_policy("https://tiles.example.org/{z}/{x}/{y}.png")
    assert "img-src 'self' data: blob: https://tiles.example.org;" in policy
    assert "connect-src 'self' https://tiles.example.org;" in policy
    assert "script-src 'self';" in policy


@pytest.mark.parametrize(("path", "media_type"), [
    ("/web/js/control-room.js", "text/javascript"),
    ("/web/vendor/maplibre-gl/maplibre-gl.mjs", "text/javascript"),
    ("/web/vendor/maplibre-gl/maplibre-gl-worker.mjs", "text/javascript"),
    ("/web/vendor/uplot/uPlot.min.css", "text/css"),
    ("/web/i18n/fa.json", "application/json"),
])
def test_assets_have_fixed_media_types_and_revalidate(client: TestClient, path: str,
                                                      media_type: str):
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"].split(";")[0] == media_type
    assert answer.headers["cache-control"] == "no-cache"
    again = client.get(path, headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("path", ["/web/nothing.js", "/web/js", "/web/../api/web.py",
                                  "/web/%2e%2e/api/web.py", "/web/..%2fapi%2fweb.py"])
def test_missing_assets_and_paths_outside_are_not_found(client: TestClient, path: str):
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.json()["type"].endswith("/ResourceNotFound")


def test_vendored_libraries_ship_with_their_licences():
    assert "BSD" in (WEB_DIR / "vendor/maplibre-gl/LICENSE.txt").read_text()
    assert "MIT" in (WEB_DIR / "vendor/uplot/LICENSE").read_text()


def test_config_lists_the_basemap_layers_and_the_portal_key(tmp_path, basemap):
    with serving(tmp_path, web_basemap=str(basemap), web_open311_api_key="portal-key",
                 web_tile_url="https://tiles.example.org/{z}/{x}/{y}.png",
                 web_tile_attribution="© Tiles Example") as client:
        body = client.get("/web/config").json()
        policy = client.get("/").headers["content-security-policy"]
    assert body["basemap"] == [
        {"name": "town-streets", "role": "streets", "url": "/web/basemap/town-streets"},
        {"name": "town-water", "role": "water", "url": "/web/basemap/town-water"}]
    assert body["attribution"] == "© OpenStreetMap contributors, ODbL"
    assert body["tiles"] == {"url": "https://tiles.example.org/{z}/{x}/{y}.png",
                             "attribution": "© Tiles Example"}
    assert body["open311ApiKey"] == "portal-key"
    assert "https://tiles.example.org" in policy


def test_without_a_key_or_layers_the_config_says_so(tmp_path):
    with serving(tmp_path, web_basemap=str(tmp_path / "nowhere")) as client:
        body = client.get("/web/config").json()
    assert body == {
        "basemap": [], "attribution": "", "tiles": None, "open311ApiKey": None}


def test_basemap_layers_plain_and_gzipped(client: TestClient):
    plain = client.get("/web/basemap/town-streets")
    assert plain.headers["content-type"] == "application/geo+json"
    assert plain.json() == FEATURES
    zipped = client.get("/web/basemap/town-water", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.json() == FEATURES  # the client unzips
    unzipped = client.get("/web/basemap/town-water", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in unzipped.headers
    assert unzipped.json() == FEATURES
    missing = client.get("/web/basemap/notes")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no basemap layer 'notes'"


def test_layer_roles_by_name():
    assert [layer_role(n) for n in ("helsinki-streets", "water", "city-districts", "parks",
                                    "bigstreets")] == ["streets", "water", "districts",
                                                       "other", "other"]


def keys(table: dict, prefix: str = "") -> set[str]:
    return {key for name, value in table.items()
            for key in (keys(value, f"{prefix}{name}.") if isinstance(value, dict)
                        else {f"{prefix}{name}"})}


def test_every_language_has_every_text_and_placeholder():
    english = json.loads((WEB_DIR / "i18n/en.json").read_text())
    for language in ("ar", "fa"):
        table = json.loads((WEB_DIR / f"i18n/{language}.json").read_text())
        assert keys(table) == keys(english), language
        for key in keys(english):
            path = key.split(".")
            text, theirs = english, table
            for part in path:
                text, theirs = text[part], theirs[part]
            assert set(re.findall(r"\{\w+\}", theirs)) == set(re.findall(r"\{\w+\}", text)), key


def test_every_text_the_portal_names_exists():
    """Keys in the page (data-i18n…) and the script (t("…")) are all in English."""
    english = keys(json.loads((WEB_DIR / "i18n/en.json").read_text()))
    html = (WEB_DIR / "citizen.html").read_text()
    script = (WEB_DIR / "js/citizen.js").read_text()
    named = set(re.findall(r'data-i18n(?:-\w+)?="([\w.]+)"', html))
    named |= set(re.findall(r'\bt\("([\w.]+)"', script))
    assert named and named <= english, named - english
