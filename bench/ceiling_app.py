"""The bare ceiling: the same Starlette + uvicorn stack with no broker behind it.

Every broker scenario is reported as a fraction of what this app serves on the same machine, so a
number can be read as "how much of the stack's budget the broker spends" rather than in absolute
terms that change from laptop to laptop.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def ceiling(request: Request) -> Response:
    return JSONResponse({"id": "urn:ngsi-ld:Ceiling:1", "type": "Ceiling"})


app = Starlette(routes=[Route("/health", health), Route("/ceiling", ceiling)])
