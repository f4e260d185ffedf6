"""Level of service of a basic freeway segment from its density.

Highway Capacity Manual, 7th Edition (TRB 2022), Chapter 12 "Basic Freeway and Multilane Highway
Segments", Exhibit 12-15 (unchanged from the 6th Edition, 2016): the service measure is density in
passenger cars per mile per lane —

| LOS | density (pc/mi/ln) |
|---|---|
| A | ≤ 11 |
| B | > 11–18 |
| C | > 18–26 |
| D | > 26–35 |
| E | > 35–45 |
| F | > 45, or demand exceeds capacity |

A loop detector counts vehicles, not passenger-car equivalents, so without a heavy-vehicle share
the density is taken as pc/mi/ln as it is (trucks make the real LOS somewhat worse). The bands are
city configuration: urban streets or another manual's table go in `TrafficSettings.los_bands`.
"""

from __future__ import annotations

from collections.abc import Sequence

HCM7_FREEWAY_BANDS: tuple[tuple[str, float], ...] = (
    ("A", 11.0),
    ("B", 18.0),
    ("C", 26.0),
    ("D", 35.0),
    ("E", 45.0),
)
"""Upper density bound (inclusive, pc/mi/ln) of each LOS; anything above the last is "F"."""

WORST_LEVEL = "F"


def level_of_service(
    density_pc_mi_ln: float, bands: Sequence[tuple[str, float]] = HCM7_FREEWAY_BANDS
) -> str:
    """The letter whose band holds the density (bounds inclusive, as the HCM's "≤" and "> x–y")."""
    for letter, upper in bands:
        if density_pc_mi_ln <= upper:
            return letter
    return WORST_LEVEL
