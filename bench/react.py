"""What the domain micro-benchmarks (`environment_react`, `safety_react`, `traffic_energy_react`)
measure alike: one `react` call on its own, as the best of several runs over the same updates,
in process CPU time (what a worker spends per call, not how long other processes on the shared
machine kept the core)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

Updates = list[tuple[dict[str, Any], datetime]]
"""(entity, the time it arrives) in arrival order."""


def calls_per_second(
    make_service: Callable[[], Any], updates: Updates, repeats: int
) -> tuple[float, int, Any]:
    """Best rate over `repeats` fresh services fed the same updates, the writes made, and the
    last service (what it kept, such as CAP messages, is the same in every run)."""
    best = 0.0
    writes = 0
    service = None
    for _ in range(repeats):
        service = make_service()
        react = service.react
        writes = 0
        start = time.process_time()
        for entity, now in updates:
            writes += len(react(entity, now))
        best = max(best, len(updates) / (time.process_time() - start))
    return best, writes, service
