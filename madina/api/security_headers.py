"""Secure default headers on every answer, and CORS for browser clients of other origins.

API answers are data, never pages: the browser must not sniff them into HTML, frame them or
send the URL on as a referrer. The dashboards (madina/web, served later) are pages and need a
policy of their own, so the Content-Security-Policy is chosen per path prefix. A header an
answer already carries wins over the default: a route that knows better says so itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'"
"""Nothing an API answer could load or run, and no page may frame it."""
HSTS = "max-age=31536000; includeSubDomains"
EXPOSED_HEADERS = ("Link", "Location", "NGSILD-Results-Count", "NGSILD-Tenant", "Retry-After")
"""Headers a browser script of another origin needs to read to use NGSI-LD answers."""
CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
CORS_REQUEST_HEADERS = ("Accept", "Authorization", "Content-Type", "Link", "NGSILD-Tenant")


class SecurityHeaders:
    """ASGI middleware adding the default headers to each response that lacks them."""

    def __init__(
        self,
        app: ASGIApp,
        csp: Mapping[str, str] | None = None,
        hsts: bool = False,
    ) -> None:
        self.app = app
        policies = {"/": API_CSP, **(csp or {})}
        self._csp = sorted(
            ((prefix, value.encode()) for prefix, value in policies.items()),
            key=lambda item: len(item[0]),
            reverse=True,
        )
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]
        if hsts:
            common.append((b"strict-transport-security", HSTS.encode()))
        # Per policy, the headers of a success and of an error answer, built once: this runs
        # on every request of the hot path.
        self._defaults = {
            value: (
                [*common, (b"content-security-policy", value)],
                [*common, (b"content-security-policy", value), (b"cache-control", b"no-store")],
            )
            for _, value in self._csp
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        success, error = self._defaults[self._policy(scope["path"])]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # An error describes one moment (a limit, an outage): never cache it.
                defaults = error if message["status"] >= 400 else success
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in defaults if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _policy(self, path: str) -> bytes:
        for prefix, value in self._csp:
            if path.startswith(prefix):
                return value
        raise AssertionError("the policy for / matches every path")


def cors_middleware(origins: str) -> list[Middleware]:
    """Starlette's CORS middleware for the comma-separated `origins`; none when empty, so a
    broker answers no cross-origin browser request unless the city decided it should."""
    allowed = [origin.strip() for origin in origins.split(",") if origin.strip()]
    if not allowed:
        return []
    options: dict[str, Any] = {
        "allow_origins": allowed,
        "allow_methods": CORS_METHODS,
        "allow_headers": CORS_REQUEST_HEADERS,
        "expose_headers": EXPOSED_HEADERS,
        # Credentials travel in the Authorization header, not cookies: no allow_credentials.
        "max_age": 600,
    }
    return [Middleware(CORSMiddleware, **options)]
