"""Answers written by ASGI middlewares, before any route runs (bad credential, audit log down,
rate limit): JSON bodies with their status and headers, sent in the two ASGI messages."""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from starlette.types import Send


async def send_json(
    send: Send, status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
    })
    await send({"type": "http.response.body", "body": body})


def problem(status: int, title: str, detail: str) -> bytes:
    """RFC 7807 with `about:blank`: NGSI-LD defines no error types for these statuses."""
    return orjson.dumps({"type": "about:blank", "title": title, "status": status,
                         "detail": detail})
