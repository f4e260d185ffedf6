"""Attribute history kept only as long as its entity type's retention says
(MADINA_HISTORY_RETENTION), checked when the app starts and once a day after.

Every worker runs it; the deletions are idempotent. PostgreSQL drops whole month partitions for
the longest retention in its own daily maintenance; what is left here are the rows of types
with shorter ones (and, on SQLite, every expired row, deleted a chunk at a time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from madina.store.base import Store
from madina.store.history import Retention

log = structlog.get_logger("madina.history")
DAY_S = 24 * 3600
Runner = Callable[..., Awaitable[Any]]
"""Runs a store call where the engine wants it (madina.auth.setup.runner)."""


async def expire_daily(
    store: Store,
    retention: Retention,
    run: Runner,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """For the life of the app; a failed run is retried the next day."""
    if not retention.per_type and retention.default is None:
        return
    while True:
        try:
            removed = await run(store.history.expire, retention, clock())
            if removed:
                log.info("history expired", rows=removed)
        except Exception:
            log.exception("history retention failed; retrying tomorrow")
        await asyncio.sleep(DAY_S)
