"""Login throttling: exponential back-off after a few failed sign-ins, per account and per
client address, counted in the database so every worker process sees the same counts.

Per account stops a slow guesser spread over many addresses; per address stops one address
spraying many accounts. An address gets a larger allowance, since a city office behind one NAT
shares it.
"""

from __future__ import annotations

import json

ACCOUNT_FREE_FAILURES = 5
ADDRESS_FREE_FAILURES = 20
WINDOW = 15 * 60.0
"""Failures older than this are forgotten."""
MAX_DELAY = 15 * 60.0


def account_key(tenant: str, name: str) -> str:
    """Unambiguous for any tenant and name (JSON-quoted; PostgreSQL text holds no NUL)."""
    return "account:" + json.dumps([tenant, name])


def address_key(address: str) -> str:
    return f"address:{address}"


def delay(failures: int, free: int) -> float:
    """Seconds to wait after `failures` failures: none within the allowance, then 1, 2, 4…"""
    if failures < free:
        return 0.0
    return min(2.0 ** (failures - free), MAX_DELAY)


def retry_after(failures: int, last_failure: float, free: int, now: float) -> float:
    """Seconds until the next attempt is allowed (0: now)."""
    if failures == 0 or now - last_failure > WINDOW:
        return 0.0
    return max(0.0, last_failure + delay(failures, free) - now)
