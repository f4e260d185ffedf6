"""Emission factors as versioned data: the shipped table, lookups by year, bad tables refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from madina.domains.energy.factors import (
    COLUMNS,
    EmissionFactor,
    FactorTable,
    load_factors,
    parse_factors,
)

HEADER = ",".join(COLUMNS)


def test_shipped_table_is_cited_row_by_row() -> None:
    table = load_factors()
    assert len(table) >= 6
    for key in (("GB", "electricity", "kWh"), ("GB", "natural_gas", "m3"),
                ("EU27", "electricity", "kWh"), ("US", "electricity", "kWh")):
        factor = table.lookup(*key, 2025)
        assert factor is not None
        assert factor.source and len(factor.citation) > 40
    # The values checked against their sources (data/SOURCES.md).
    assert table.lookup("GB", "electricity", "kWh", 2025).value == 0.177
    assert table.lookup("GB", "natural_gas", "kWh", 2025).value == 0.18231
    assert table.lookup("GB", "natural_gas", "m3", 2025).value == 2.02633
    assert table.lookup("EU27", "electricity", "kWh", 2018).value == 0.281
    assert table.lookup("US", "electricity", "kWh", 2023).value == pytest.approx(
        0.81 * 0.45359237, abs=5e-4
    )


def test_lookup_prefers_the_year_then_earlier_then_later() -> None:
    rows = [
        EmissionFactor("XX", year, "electricity", "kWh", value, "s", "c")
        for year, value in ((2020, 0.3), (2022, 0.25), (2024, 0.2))
    ]
    table = FactorTable(rows)
    assert table.lookup("XX", "electricity", "kWh", 2022).value == 0.25
    assert table.lookup("XX", "electricity", "kWh", 2023).value == 0.25
    assert table.lookup("XX", "electricity", "kWh", 2030).value == 0.2
    assert table.lookup("XX", "electricity", "kWh", 2010).value == 0.3
    assert table.lookup("XX", "electricity", "m3", 2022) is None
    assert table.lookup("YY", "electricity", "kWh", 2022) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("region,year,value\nGB,2025,0.1\n", "lacks column"),
        (HEADER + "\nGB,year,electricity,kWh,0.1,s,c,\n", "line 2: bad year"),
        (HEADER + "\nGB,2025,electricity,kWh,lots,s,c,\n", "line 2: bad year or value"),
        (HEADER + "\nGB,2025,electricity,kWh,0.1,,c,\n", "empty required cell"),
        (HEADER + "\nGB,2025,electricity,kWh,-0.1,s,c,\n", "negative"),
    ],
)
def test_bad_tables_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_factors(text)


def test_two_values_for_one_year_are_refused() -> None:
    text = HEADER + "\nGB,2025,electricity,kWh,0.1,s,c,\nGB,2025,electricity,kWh,0.2,t,d,\n"
    with pytest.raises(ValueError, match="two factors"):
        FactorTable(parse_factors(text))


def test_a_city_table_replaces_the_shipped_one(tmp_path: Path) -> None:
    path = tmp_path / "factors.csv"
    path.write_text(HEADER + "\nFI,2024,district_heat,kWh,0.15,Helen,Helen Oy 2024 report,\n")
    table = load_factors(path)
    assert len(table) == 1
    assert table.lookup("FI", "district_heat", "kWh", 2025).source == "Helen"
