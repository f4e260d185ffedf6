"""The dashboards' HTTP side: the operator control room at `/`, the citizen portal at
`/citizen`, their static assets under `/web/`, the settings the pages need (`/web/config`) and
the city's basemap layers (`/web/basemap/{name}`).

The pages are plain ES modules with vendored MapLibre GL and uPlot (madina/web): nothing is
built, nothing comes from a CDN, so a city without internet still sees its map. Everything they
show they read from the public APIs like any other client; these routes serve files only, so
they admit anyone (OPEN). Pages get their own Content-Security-Policy — scripts and styles
only from this origin, no inline script, workers from this origin (MapLibre's), images and
connections also from the online tile server when one is configured — set on the answer, which
the SecurityHeaders middleware leaves in place.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from madina.api.openapi.components import errors
from madina.auth.rules import OPEN, allow
from madina.config import Settings
from madina.context.errors import ResourceNotFound

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
DEMO_BASEMAP = Path(__file__).resolve().parent.parent / "sim" / "data"
"""The demo city's layers (madina/sim), used when MADINA_WEB_BASEMAP names no directory."""
OSM_ATTRIBUTION = "© OpenStreetMap contributors, ODbL"
MEDIA_TYPES = {
    ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
    ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png",
    ".txt": "text/plain", ".md": "text/plain", ".html": "text/html",
}
"""Fixed here rather than guessed from the host's mime.types: a module script served as
anything but JavaScript is refused by the browser."""
GEO_JSON = "application/geo+json"
REVALIDATE = {"Cache-Control": "no-cache"}
"""Assets change with Madina's version: a browser revalidates (a 304 by ETag), never runs
yesterday's script against today's API."""
LAYER_ROLES = ("streets", "buildings", "water", "districts")
"""Layer names the pages style specially (by a file name ending in `-<role>` or equal to it);
any other layer is drawn plainly by its geometry."""


def page_policy(tile_url: str) -> str:
    """The pages' Content-Security-Policy; an online tile server's origin is added to images
    and connections (MapLibre fetches tiles), nothing else ever is."""
    tiles = ""
    if tile_url:
        parts = urlsplit(tile_url.replace("{", "").replace("}", ""))
        tiles = f" {parts.scheme}://{parts.netloc}"
    return ("default-src 'none'; script-src 'self'; style-src 'self'; "
            f"img-src 'self' data: blob:{tiles}; connect-src 'self'{tiles}; "
            "worker-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")


class Assets(StaticFiles):
    """StaticFiles (path checks, ETag and 304s) with fixed media types and revalidation."""

    def file_response(self, full_path: str | os.PathLike[str], stat_result: os.stat_result,
                      scope: Scope, status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        media_type = MEDIA_TYPES.get(Path(full_path).suffix)
        if media_type is not None and "content-type" in response.headers:
            charset = "; charset=utf-8" if media_type.startswith("text/") else ""
            response.headers["content-type"] = media_type + charset
        response.headers.update(REVALIDATE)
        return response


ASSETS = Assets(directory=WEB_DIR)


def _page(request: Request, name: str) -> Response:
    settings: Settings = request.app.state.settings
    headers = {**REVALIDATE, "Content-Security-Policy": page_policy(settings.web_tile_url)}
    return FileResponse(WEB_DIR / name, headers=headers, media_type="text/html")


@allow(OPEN)
async def control_room(request: Request) -> Response:
    return _page(request, "index.html")


@allow(OPEN)
async def citizen_portal(request: Request) -> Response:
    return _page(request, "citizen.html")


@allow(OPEN)
async def asset(request: Request) -> Response:
    return await ASSETS.get_response(request.path_params["name"], request.scope)


def basemap_dir(settings: Settings) -> Path:
    return Path(settings.web_basemap) if settings.web_basemap else DEMO_BASEMAP


def basemap_layers(directory: Path) -> dict[str, Path]:
    """The directory's GeoJSON files by layer name (the file name without its extension)."""
    if not directory.is_dir():
        return {}
    layers = {}
    for path in sorted(directory.iterdir()):
        for extension in (".geojson", ".geojson.gz"):
            if path.name.endswith(extension) and path.is_file():
                layers[path.name.removesuffix(extension)] = path
    return layers


def layer_role(name: str) -> str:
    return next((role for role in LAYER_ROLES if name == role or name.endswith(f"-{role}")),
                "other")


@allow(OPEN)
async def config(request: Request) -> Response:
    """What the pages cannot know by themselves: the basemap's layers, the online tiles, and
    the api_key the portal submits reports with (an app identifier, as Open311 apps publish
    them; a city that does not want anonymous reports leaves it unset)."""
    settings: Settings = request.app.state.settings
    layers = [{"name": name, "role": layer_role(name), "url": f"/web/basemap/{name}"}
              for name in basemap_layers(basemap_dir(settings))]
    body: dict[str, Any] = {
        "basemap": layers,
        "attribution": OSM_ATTRIBUTION if layers else "",
        "tiles": ({"url": settings.web_tile_url, "attribution": settings.web_tile_attribution}
                  if settings.web_tile_url else None),
        "open311ApiKey": settings.web_open311_api_key or None,
    }
    return Response(orjson.dumps(body), 200, REVALIDATE, media_type="application/json")


@allow(OPEN)
async def basemap(request: Request) -> Response:
    """One layer; a gzipped file goes out as stored to clients that take gzip."""
    name = request.path_params["name"]
    path = basemap_layers(basemap_dir(request.app.state.settings)).get(name)
    if path is None:
        raise ResourceNotFound(f"no basemap layer {name!r}")
    headers = {"Cache-Control": "public, max-age=3600", "Vary": "Accept-Encoding"}
    if not path.name.endswith(".gz"):
        return FileResponse(path, headers=headers, media_type=GEO_JSON)
    data = path.read_bytes()
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(data, 200, {**headers, "Content-Encoding": "gzip"}, media_type=GEO_JSON)
    return Response(gzip.decompress(data), 200, headers, media_type=GEO_JSON)


routes = [
    Route("/", control_room, methods=["GET"]),
    Route("/citizen", citizen_portal, methods=["GET"]),
    Route("/web/config", config, methods=["GET"]),
    Route("/web/basemap/{name}", basemap, methods=["GET"]),
    Route("/web/{name:path}", asset, methods=["GET"]),
]
"""Order matters: the asset route takes every other path under /web/."""


def _html(summary: str, operation_id: str) -> dict[str, Any]:
    return {
        "operationId": operation_id, "summary": summary, "tags": ["Dashboards"],
        "security": [{}],
        "responses": {"200": {"description": "an HTML page (its own Content-Security-Policy)",
                              "content": {"text/html": {"schema": {"type": "string"}}}},
                      "304": {"description": "not modified (ETag)"},
                      **errors(401, 429)},
    }


_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
OPENAPI: dict[str, dict[str, Any]] = {
    "/": {"get": _html("the operator control room", "controlRoom")},
    "/citizen": {"get": _html("the citizen portal", "citizenPortal")},
    "/web/config": {"get": {
        "operationId": "webConfig", "summary": "the dashboards' settings: basemap layers, "
        "online tiles, the portal's Open311 api_key", "tags": ["Dashboards"], "security": [{}],
        "responses": {"200": {"description": "settings",
                              "content": {"application/json": {"schema": {"type": "object"}}}},
                      **errors(401, 429)},
    }},
    "/web/basemap/{name}": {"get": {
        "operationId": "webBasemap", "summary": "one basemap layer of the city (GeoJSON)",
        "tags": ["Dashboards"], "security": [{}],
        "parameters": [{**_NAME, "description": "the layer's name, as /web/config lists it"}],
        "responses": {"200": {"description": "a GeoJSON FeatureCollection",
                              "content": {GEO_JSON: {"schema": {"type": "object"}}}},
                      **errors(401, 404, 429)},
    }},
    "/web/{name}": {"get": {
        "operationId": "webAsset", "summary": "a static file of the dashboards (scripts, "
        "styles, translations, vendored libraries and their licences)", "tags": ["Dashboards"],
        "security": [{}],
        "parameters": [{**_NAME, "description": "the file's path under madina/web"}],
        "responses": {"200": {"description": "the file",
                              "content": {media_type: {"schema": {"type": "string"}}
                                          for media_type in sorted(set(MEDIA_TYPES.values()))}},
                      "304": {"description": "not modified (ETag)"},
                      **errors(401, 404, 429)},
    }},
}
"""These routes in the app's OpenAPI description (madina.api.openapi merges it)."""
