"""Turn measurements into the markdown table kept in bench/results/ and docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

from bench.scenarios import Scenario
from bench.wrk import WrkResult, WrkSettings


@dataclass(frozen=True)
class Row:
    scenario: Scenario
    result: WrkResult | None
    peak_rss_bytes: int = 0
    failure: str = ""
    """Why the scenario did not run (server would not start, probe answered an error)."""


def render_table(rows: list[Row], ceiling_per_s: float | None) -> str:
    lines = [
        "| scenario | req/s | entities/s | p50 ms | p95 ms | p99 ms | errors | peak RSS MB "
        "| of ceiling | target | met |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    for row in rows:
        lines.append(_render_row(row, ceiling_per_s))
    return "\n".join(lines)


def _render_row(row: Row, ceiling_per_s: float | None) -> str:
    scenario, result = row.scenario, row.result
    if result is None:
        empty = " |" * 7
        return f"| {scenario.name} | not run: {row.failure} |{empty} {scenario.target()} | no |"
    per_s = result.requests_per_s
    entities = per_s * scenario.entities_per_request
    share = f"{per_s / ceiling_per_s:.1%}" if ceiling_per_s else "—"
    met = scenario.met(entities if scenario.entities_per_request else per_s, result.p95_ms)
    verdict = {True: "yes", False: "**no**", None: "—"}[met]
    return (
        f"| {scenario.name} | {per_s:,.0f} | {f'{entities:,.0f}' if entities else '—'} "
        f"| {result.p50_ms:.1f} | {result.p95_ms:.1f} | {result.p99_ms:.1f} | {result.errors} "
        f"| {row.peak_rss_bytes / 2**20:.0f} | {share} | {scenario.target()} | {verdict} |"
    )


def render_environment(wrk: WrkSettings, workers: int, notes: list[str]) -> str:
    lines = [
        f"- machine: {_cpu_model()}, {_cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        f"- load: `wrk -t{wrk.threads} -c{wrk.connections} -d{wrk.duration_s}s --latency "
        f"--timeout {wrk.timeout_s}s` on loopback, same machine as the server",
        f"- server: `madina serve` (SQLite engine), {workers} uvicorn worker(s), log level warning",
    ]
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0))
