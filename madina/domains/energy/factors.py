"""Emission factors as versioned data: `data/emission_factors.csv`, one cited row per region,
year, carrier and unit (see `data/SOURCES.md`). Nothing numeric about carbon lives in code.

Grid factors change every year and differ by region (location-based method, GHG Protocol Scope 2
Guidance, 2015), so a consumption is matched with the factor of its own year; when the table has
no row for that year the nearest earlier one serves (factors are published a year or more late),
else the nearest later one, and the row used is reported with the result so a reader can see
which published number produced an emission.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

COLUMNS = ("region", "year", "carrier", "unit", "value", "source", "citation", "notes")


@dataclass(frozen=True)
class EmissionFactor:
    """kg CO2e (or CO2, see `notes`) per `unit` of `carrier` in `region` for `year`."""

    region: str
    year: int
    carrier: str
    unit: str
    value: float
    source: str
    citation: str
    notes: str = ""


class FactorTable:
    """Factors indexed by (region, carrier, unit), each list sorted by year."""

    def __init__(self, factors: list[EmissionFactor]) -> None:
        index: dict[tuple[str, str, str], list[EmissionFactor]] = {}
        for factor in factors:
            index.setdefault((factor.region, factor.carrier, factor.unit), []).append(factor)
        for rows in index.values():
            rows.sort(key=lambda row: row.year)
            years = [row.year for row in rows]
            if len(set(years)) != len(years):
                first = rows[0]
                raise ValueError(
                    f"two factors for {first.region} {first.carrier} per {first.unit} in one year"
                )
        self._index = index

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._index.values())

    def lookup(self, region: str, carrier: str, unit: str, year: int) -> EmissionFactor | None:
        """The factor for `year`, else the latest earlier one, else the earliest later one."""
        rows = self._index.get((region, carrier, unit))
        if not rows:
            return None
        chosen = rows[0]
        for row in rows:
            if row.year <= year:
                chosen = row
            else:
                break
        return chosen


def parse_factors(text: str) -> list[EmissionFactor]:
    """Rows of a factor CSV; a missing column, an empty required cell or a bad number is a
    ValueError naming the line."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in COLUMNS[:-1] if column not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"emission factor table lacks column(s) {', '.join(missing)}")
    factors = []
    for line, row in enumerate(reader, start=2):
        try:
            value = float(row["value"])
            year = int(row["year"])
        except (TypeError, ValueError):
            raise ValueError(f"emission factors line {line}: bad year or value") from None
        cells = {key: (row.get(key) or "").strip() for key in COLUMNS}
        if not all(cells[key] for key in ("region", "carrier", "unit", "source", "citation")):
            raise ValueError(f"emission factors line {line}: empty required cell")
        if value < 0:
            raise ValueError(f"emission factors line {line}: negative factor")
        factors.append(
            EmissionFactor(
                region=cells["region"],
                year=year,
                carrier=cells["carrier"],
                unit=cells["unit"],
                value=value,
                source=cells["source"],
                citation=cells["citation"],
                notes=cells["notes"],
            )
        )
    return factors


def load_factors(path: str | Path | None = None) -> FactorTable:
    """The shipped table, or a city's own CSV of the same columns."""
    if path is None:
        text = resources.files("madina.domains.energy").joinpath(
            "data/emission_factors.csv"
        ).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return FactorTable(parse_factors(text))
