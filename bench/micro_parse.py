"""Micro-benchmark of the entity hot path: `python -m bench.micro_parse`.

The load benchmarks (`bench.run`) measure the whole stack; this one isolates what the context
layer itself costs per entity — validation/expansion on the way in, rendering on the way out —
so a change to either can be judged in seconds, without wrk, SQLite or the other engineers'
load on the shared machine blurring it. Entities have the bench fleet's shape (`bench.fleet`).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from bench.fleet import sensor
from madina.context.entity_parse import parse_entity
from madina.context.jsonld import ContextResolver
from madina.context.representation import render_entity

NOW = "2026-11-21T05:00:00.000000Z"


def _per_entity_us(work: Callable[[], object], entities: int, repeats: int) -> float:
    """Best of `repeats` runs: the minimum is the least disturbed by other processes."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best / entities * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    terms = ContextResolver().core()
    rng = random.Random(7)
    bodies = [sensor(f"urn:ngsi-ld:BenchSensor:{i}", rng) for i in range(args.entities)]
    docs = [parse_entity(body, terms, NOW) for body in bodies]

    cases: dict[str, Callable[[], object]] = {
        "parse_entity": lambda: [parse_entity(b, terms, NOW) for b in bodies],
    }
    for form in ("normalized", "concise", "keyValues"):
        cases[f"render_entity {form}"] = lambda form=form: [
            render_entity(doc, terms, form=form, now=NOW) for doc in docs
        ]
    for name, work in cases.items():
        print(f"{name:<28} {_per_entity_us(work, len(bodies), args.repeats):6.2f} µs/entity")


if __name__ == "__main__":
    main()
