"""The app's OpenAPI 3.1 description, served at GET /openapi.json.

Written as data (`paths.py`, `admin.py`, `components.py`) rather than derived from the
endpoints: they stay thin and free of schema annotations, and the description is checked against
the app's route table by tests/api/test_openapi.py and against its behaviour by the schemathesis
fuzzer (tests/api/test_fuzz_openapi.py).
"""

from __future__ import annotations

import functools

import orjson
from starlette.requests import Request
from starlette.responses import Response

from madina import __version__
from madina.api import alerts, audit, web
from madina.api.openapi import admin, components, iot, open311, paths, subscriptions, temporal
from madina.auth.rules import OPEN, allow

NGSI_LD_PREFIX = "/ngsi-ld/v1"


@functools.cache
def document() -> dict:
    """The whole description; built once per process, it never changes while the app runs."""
    routes = {**paths.APP, **paths.AUTH, **admin.ADMIN, **audit.OPENAPI, **open311.OPEN311,
              **alerts.OPENAPI}
    routes.update(iot.OPENAPI)
    routes.update(web.OPENAPI)
    ngsi_ld = {**paths.NGSI_LD, **paths.JSONLD_CONTEXTS, **subscriptions.PATHS,
               **temporal.PATHS}
    for path, operations in ngsi_ld.items():
        routes[NGSI_LD_PREFIX + path] = operations
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Madina",
            "version": __version__,
            "description": "NGSI-LD context broker (ETSI GS CIM 009 V1.9.1) and the city "
                           "services around it. See docs/api.md for limits and choices.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": routes,
        "components": {
            "schemas": {**components.SCHEMAS, **admin.SCHEMAS, **subscriptions.SCHEMAS,
                        **temporal.SCHEMAS},
            "parameters": components.PARAMETERS,
            "responses": components.RESPONSES,
            "headers": components.HEADERS,
            "securitySchemes": components.SECURITY_SCHEMES,
        },
        # A credential is optional at this level: each route's rule decides what it needs.
        "security": [{}, {"bearer": []}, {"apiKey": []}],
    }


@functools.cache
def _encoded() -> bytes:
    return orjson.dumps(document())


@allow(OPEN)
async def openapi_json(request: Request) -> Response:
    return Response(_encoded(), media_type="application/json")
