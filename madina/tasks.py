"""Background tasks of the app's long-lived parts (feed, notifier pieces, gateway, outbox)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancel(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background task and wait until it has ended, so what it held is released
    before the caller goes on (its CancelledError is the expected end, not an error)."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
