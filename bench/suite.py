"""`python -m bench.suite`: every capability benchmark after the HTTP broker suite (`bench.run`),
one module at a time on a quiet machine, their tables gathered into one dated report in
bench/results/.

Each module is a program of its own (`python -m bench.<name>`) that prints its markdown table;
running them in turn, never together, keeps one from stealing the cores another measures.
`--only` picks some; a module that fails is reported as failed and the rest still run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
MODULES = (
    ("temporal", "Aggregated temporal retrieve (issue 4)"),
    ("notifications", "Notification latency and a dead endpoint (issue 4)"),
    ("live", "Live stream to many dashboards (issue 4)"),
    ("iot", "Device ingestion over MQTT (issue 5)"),
    ("batch_write", "Batch updates of existing entities, the store's write path (issues 5, 6)"),
    ("domains", "Domain services keeping pace with ingestion (issue 6)"),
    ("environment_react", "Environment services, react calls/s (issue 6)"),
    ("traffic_energy_react", "Traffic and energy services, react calls/s (issue 6)"),
    ("safety_react", "Safety services, react calls/s (issue 6)"),
    ("open311", "Open311 submissions and listings (issue 7)"),
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", help="module names (default: all)")
    parser.add_argument("--no-write", dest="write", action="store_false")
    args = parser.parse_args(argv)
    chosen = [(m, title) for m, title in MODULES if not args.only or m in args.only]
    sections = []
    for module, title in chosen:
        print(f"\n### {title}: python -m bench.{module}", flush=True)
        started = time.monotonic()
        run = subprocess.run([sys.executable, "-m", f"bench.{module}"], capture_output=True,
                             text=True, check=False)
        took = time.monotonic() - started
        print(run.stdout)
        outcome = run.stdout.strip() if run.returncode == 0 else (
            f"**failed** (exit {run.returncode}):\n\n```\n{run.stderr.strip()[-2000:]}\n```")
        sections.append(f"## {title}\n\n`python -m bench.{module}` ({took:.0f} s)\n\n{outcome}\n")
        if run.returncode != 0:
            print(run.stderr[-2000:], file=sys.stderr)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    report = (f"# Capability benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
              f"Load average at the end (1, 5, 15 min): {load}.\n\n" + "\n".join(sections))
    if args.write:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{datetime.now(UTC):%Y-%m-%d}-capabilities.md"
        path.write_text(report)
        print(f"written to {path}")


if __name__ == "__main__":
    main()
