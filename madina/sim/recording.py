"""The recorded day of loop-detector data shipped in `madina/sim/data/` (made by `madina sim
record` with SUMO): where each loop is, and per minute of the day its vehicle count, occupancy
and mean speed. Reading it needs only the standard library."""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from madina.sim.geodata import DATA_DIR

MINUTES_PER_DAY = 1440


@dataclass(frozen=True)
class LoopDetector:
    id: str
    segment: str
    street: str
    lane: int
    lanes: int
    speed_limit_kmh: float
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class LoopMinute:
    vehicles: int
    occupancy: float
    """Fraction of the minute a vehicle was over the loop (0–1)."""
    speed_kmh: float | None
    """Mean speed of the vehicles that passed; None when none did."""


@dataclass(frozen=True)
class Recording:
    detectors: tuple[LoopDetector, ...]
    minutes: dict[str, tuple[LoopMinute | None, ...]]
    """Per detector id, MINUTES_PER_DAY entries (None where the recording has no row)."""
    incident: dict[str, Any]
    source: str

    def segments(self) -> dict[str, list[LoopDetector]]:
        """Detectors by road segment, in segment order."""
        found: dict[str, list[LoopDetector]] = {}
        for detector in self.detectors:
            found.setdefault(detector.segment, []).append(detector)
        return found


@cache
def load() -> Recording:
    meta = json.loads((DATA_DIR / "traffic-detectors.json").read_text(encoding="utf-8"))
    detectors = tuple(
        LoopDetector(d["id"], d["segment"], d["street"], d["lane"], d["lanes"],
                     d["speed_limit_kmh"], d["lon"], d["lat"])
        for d in meta["detectors"]
    )
    table: dict[str, list[LoopMinute | None]] = {d.id: [None] * MINUTES_PER_DAY
                                                 for d in detectors}
    text = gzip.decompress((DATA_DIR / "traffic-day.csv.gz").read_bytes()).decode()
    for row in csv.DictReader(io.StringIO(text)):
        series = table.get(row["detector"])
        minute = int(row["minute"])
        if series is None or not 0 <= minute < MINUTES_PER_DAY:
            continue
        speed = float(row["speed_kmh"])
        series[minute] = LoopMinute(int(row["vehicles"]), float(row["occupancy_pct"]) / 100,
                                    speed if speed >= 0 else None)
    return Recording(detectors, {k: tuple(v) for k, v in table.items()}, meta["incident"],
                     meta["source"])
