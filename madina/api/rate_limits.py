"""Rate limits: token buckets per client address (anonymous callers) and per principal.

A caller who signed in is accountable under its own name, so it gets its own bucket keyed by
tenant and subject, however many of them share one address (a city gateway, a NAT); anonymous
callers can only be told apart by address. Loopback is exempt by default: local tools and the
benchmarks (64 connections at tens of thousands of requests a second) must never meet a limit.

Buckets live in the worker process, in a bounded LRU map: with N workers behind one port a
client gets up to N times the configured rate. That is the price of keeping shared state (a
database or Redis round trip) off the path of every request; a city that needs one exact
cluster-wide limit sets it at its reverse proxy. The limiter runs after authentication (it reads
`request.state.principal`), so a request refused there is not counted: guessing credentials is
throttled by the login throttling of madina/auth instead.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from madina.auth.answers import send_json
from madina.context.errors import NgsiError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_BUCKETS = 100_000
"""Buckets kept per worker (about 100 bytes each); the least recently used goes first."""


@dataclass(frozen=True)
class Limit:
    rate: float
    """Tokens added per second: the sustained requests per second."""
    burst: float
    """Bucket size: how many requests may arrive at once after a quiet spell."""


def parse_limit(text: str) -> Limit | None:
    """"RATE,BURST" (burst defaults to twice the rate) as a Limit; "0" or "" means no limit."""
    parts = [p.strip() for p in text.split(",")] if text.strip() else ["0"]
    if len(parts) > 2:
        raise ValueError(f"rate limit {text!r} is not RATE or RATE,BURST")
    try:
        rate = float(parts[0])
        burst = float(parts[1]) if len(parts) == 2 else 2 * rate
    except ValueError:
        raise ValueError(f"rate limit {text!r} is not RATE or RATE,BURST") from None
    if rate < 0 or burst < 0 or not math.isfinite(rate + burst):
        raise ValueError(f"rate limit {text!r} must be finite and not negative")
    if rate == 0:
        return None
    if burst < 1:
        raise ValueError(f"rate limit {text!r} needs a burst of at least one request")
    return Limit(rate, burst)


def parse_networks(text: str) -> tuple[Network, ...]:
    """Comma-separated addresses or CIDR networks (a bare address is a /32 or /128)."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    )


class TokenBuckets:
    """One token bucket per key; a request takes a token, tokens flow back at `limit.rate`.

    A bucket idle for burst/rate seconds is full again, exactly like a missing one, so evicting
    the least recently used bucket when the map is full never takes anything from a client
    that has been quiet; only an attacker cycling through more keys than MAX_BUCKETS can refresh
    its own buckets, and the per-key bound still holds for every key it keeps busy.
    """

    def __init__(
        self,
        limit: Limit,
        max_buckets: int = MAX_BUCKETS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.max_buckets = max_buckets
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """0 if a request for `key` may pass now (a token is taken), else seconds to wait."""
        now = self.clock()
        rate, burst = self.limit.rate, self.limit.burst
        found = self._buckets.pop(key, None)
        tokens = burst if found is None else min(burst, found[0] + (now - found[1]) * rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (1 - tokens) / rate
        if len(self._buckets) > self.max_buckets:
            self._buckets.popitem(last=False)
        return wait


class TooManyRequests(NgsiError):
    """The spec names no error for 429; as for 503 (ServiceUnavailable), the type is one clients
    already handle and the status says what to do: retry after Retry-After seconds."""

    name = "InternalError"
    status = 429
    title = "Too many requests; retry after the number of seconds in Retry-After"


def ngsild_problem(detail: str) -> bytes:
    return orjson.dumps(TooManyRequests(detail).problem())


def plain_error(detail: str) -> bytes:
    return orjson.dumps({"error": "TooManyRequests", "description": detail})


ERROR_BODIES: dict[str, Callable[[str], bytes]] = {
    "/ngsi-ld/": ngsild_problem,
}
"""Each API answers a 429 in its own error format, chosen by the longest matching path prefix;
anything else gets `plain_error`."""


def error_body(path: str) -> bytes:
    detail = "rate limit exceeded"
    for prefix in sorted(ERROR_BODIES, key=len, reverse=True):
        if path.startswith(prefix):
            return ERROR_BODIES[prefix](detail)
    return plain_error(detail)


class RateLimits:
    """ASGI middleware answering 429 with Retry-After once a caller's bucket is empty."""

    def __init__(
        self,
        app: ASGIApp,
        per_ip: Limit | None,
        per_client: Limit | None,
        exempt: Iterable[Network] = (),
        trusted_proxies: Iterable[Network] = (),
        max_buckets: int = MAX_BUCKETS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.per_ip = per_ip and TokenBuckets(per_ip, max_buckets, clock)
        self.per_client = per_client and TokenBuckets(per_client, max_buckets, clock)
        self._is_exempt = _membership(tuple(exempt))
        self._is_trusted = _membership(tuple(trusted_proxies))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.per_ip is None and self.per_client is None):
            await self.app(scope, receive, send)
            return
        wait = self._wait(scope)
        if wait == 0:
            await self.app(scope, receive, send)
            return
        retry_after = str(max(1, math.ceil(wait))).encode()
        await send_json(send, 429, error_body(scope["path"]), [(b"retry-after", retry_after)])

    def _wait(self, scope: Scope) -> float:
        principal = scope.get("state", {}).get("principal")
        if principal is not None and principal.authenticated:
            if self.per_client is None:
                return 0.0
            return self.per_client.take(f"{principal.tenant}\x00{principal.subject}")
        address = client_address(scope, self._is_trusted)
        if self.per_ip is None or self._is_exempt(address):
            return 0.0
        return self.per_ip.take(address)


def client_address(scope: Scope, is_trusted: Callable[[str], bool]) -> str:
    """The socket peer, unless it is a trusted proxy: then the last X-Forwarded-For entry not
    added by a trusted proxy (entries further left are whatever the client claimed)."""
    client = scope.get("client")
    peer = client[0] if client else ""
    if not is_trusted(peer):
        return peer
    forwarded = b",".join(v for k, v in scope["headers"] if k == b"x-forwarded-for")
    for entry in reversed(forwarded.decode("latin-1").split(",")):
        address = entry.strip()
        if address and not is_trusted(address):
            return address
    return peer


def _membership(networks: tuple[Network, ...]) -> Callable[[str], bool]:
    """A cached test of whether an address is in `networks` (parsing each request's address
    would cost more than the whole bucket arithmetic)."""

    @functools.lru_cache(maxsize=4096)
    def contains(address: str) -> bool:
        if not networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in networks)

    return contains
