"""The front door: shipped examples, the demo loader, and the benchmark's own arithmetic."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bench.fleet import BBOX, fleet_batches
from bench.report import Row, render_table
from bench.scenarios import CEILING, SCENARIOS
from bench.wrk import WrkResult, parse_result

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "madina" / "data" / "examples"
MODELS = [
    "AirQualityObserved",
    "TrafficFlowObserved",
    "ParkingSpot",
    "Streetlight",
    "WeatherObserved",
    "Open311_ServiceRequest",
]
ATTRIBUTE_KINDS = {"Property", "Relationship", "GeoProperty"}


@pytest.mark.parametrize("model", MODELS)
def test_normalized_example_has_typed_attributes_only(model: str) -> None:
    entity = json.loads((EXAMPLES / f"{model}.normalized.json").read_text())
    attributes = {k: v for k, v in entity.items() if k not in ("id", "type", "@context")}
    assert attributes
    assert {value["type"] for value in attributes.values()} <= ATTRIBUTE_KINDS
    assert "@context" in entity


@pytest.mark.parametrize("model", MODELS)
def test_key_values_example_has_no_attribute_wrappers(model: str) -> None:
    entity = json.loads((EXAMPLES / f"{model}.keyValues.json").read_text())
    normalized = json.loads((EXAMPLES / f"{model}.normalized.json").read_text())
    assert entity["type"] == normalized["type"]
    for name, value in entity.items():
        if isinstance(value, dict) and name != "location":
            assert value.get("type") not in ATTRIBUTE_KINDS, name


def test_demo_entities_are_unique_and_located() -> None:
    from madina.demo import example_entities, generated_entities

    entities = example_entities() + generated_entities()
    ids = [entity["id"] for entity in entities]
    assert len(ids) == len(set(ids))
    assert all("@context" not in entity for entity in entities)
    generated = generated_entities()
    assert generated == generated_entities()  # seeded: the printed URLs always find something
    for entity in generated:
        lon, lat = entity["location"]["value"]["coordinates"]
        assert 24.8 < lon < 25.1 and 60.1 < lat < 60.25


def test_demo_loads_through_the_api(client) -> None:
    from madina.demo import EXAMPLE_MODELS, generated_entities, load_demo_entities

    loaded = load_demo_entities(client)
    assert loaded == len(EXAMPLE_MODELS) + len(generated_entities())
    response = client.get(
        "/ngsi-ld/v1/entities",
        params={"type": "ParkingSpot", "count": "true", "limit": "1"},
    )
    assert response.status_code == 200
    assert response.headers["NGSILD-Results-Count"] == "41"  # 40 generated + the example
    assert load_demo_entities(client) == loaded  # upsert: a second run refreshes, no conflicts


WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:18026/ceiling
  2 threads and 64 connections
BENCH_RESULT requests=30000 duration_us=10000000 p50_us=1500 p95_us=4200 p99_us=9100 \
connect=0 read=1 write=0 status=2 timeout=3
"""


def test_wrk_result_line_is_parsed() -> None:
    result = parse_result(WRK_OUTPUT)
    assert result == WrkResult(
        requests=30000, duration_s=10.0, p50_ms=1.5, p95_ms=4.2, p99_ms=9.1, errors=6
    )
    assert result.requests_per_s == 3000


def test_wrk_output_without_result_line_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_result("Running 10s test\n")


def test_report_judges_targets_and_ceiling_share() -> None:
    by_script = {scenario.script: scenario for scenario in SCENARIOS}
    ceiling = WrkResult(100_000, 10.0, 1.0, 2.0, 3.0, 0)
    batch = WrkResult(600, 10.0, 900.0, 1500.0, 2000.0, 0)  # 60 req/s x 1,000 = 60,000 entities/s
    slow_query = WrkResult(5_000, 10.0, 40.0, 80.0, 120.0, 0)
    rows = [
        Row(CEILING, ceiling),
        Row(by_script["batch_upsert"], batch, peak_rss_bytes=200 * 2**20),
        Row(by_script["query_q"], slow_query),
        Row(by_script["patch"], None, failure="probe answered 404"),
    ]
    lines = render_table(rows, ceiling_per_s=10_000).splitlines()
    assert "| 60,000 |" in lines[3] and lines[3].endswith("| yes |") and "| 200 |" in lines[3]
    assert "| 0.6% |" in lines[3]
    assert lines[4].endswith("| **no** |")
    assert "not run: probe answered 404" in lines[5] and lines[5].endswith("| no |")
    assert all(line.count("|") == lines[0].count("|") for line in lines)


def test_fleet_fills_its_box_in_batches() -> None:
    batches = list(fleet_batches(2500, 1000))
    assert [len(batch) for batch in batches] == [1000, 1000, 500]
    entities = [entity for batch in batches for entity in batch]
    assert len({entity["id"] for entity in entities}) == 2500
    for entity in entities:
        lon, lat = entity["location"]["value"]["coordinates"]
        assert BBOX[0] <= lon <= BBOX[2] and BBOX[1] <= lat <= BBOX[3]
        assert 0 <= entity["temperature"]["value"] < 100


def test_makefile_targets_are_declared() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "-f", str(REPO / "Makefile"), "demo", "test", "serve", "lint"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "madina demo" in dry_run and "pytest" in dry_run and "ruff check" in dry_run
