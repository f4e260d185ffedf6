"""`python -m bench.live`: GET /live with many dashboards connected, per storage engine.

A fresh `madina serve` per engine, N Server-Sent Events clients on `/live?type=BenchSensor`
(raw asyncio sockets in this process, so the clients cost as little CPU as they can), and two
measurements:

1. delivery: batch upserts of `--batch` entities as fast as one writer goes for `--duration`
   seconds; events/s delivered = SSE messages received by all clients together over the time
   from the first write to the last message (every client must get every event: the count is
   checked, and a `reset` would be reported);
2. latency: a PATCH of one entity every `1/--rate` seconds; each message carries the written
   value, and write→event latency is the time from sending the PATCH to a client reading the
   message, over every (client, event) pair: p50 and p99.

Clients, writer and server share the machine's cores, so the figures are lower bounds. First,
without any server, the hub's own CPU cost: judging and queueing 1,000 changes for 100 streams
in one process, with one representation shared by all and with one each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from bench import pgdb, server
from madina.api.live_stream import LiveHub, Representation
from madina.context.jsonld import ContextResolver
from madina.context.live_filter import LiveFilter
from madina.context.query import parse_type_expression
from madina.events.model import UPDATED, ChangeEvent

TYPE = "BenchSensor"
HOT = f"urn:ngsi-ld:{TYPE}:hot"


@dataclass
class Client:
    """One SSE connection: counts messages, notes when each latency probe arrived."""

    messages: int = 0
    resets: int = 0
    arrivals: dict[int, float] = field(default_factory=dict)
    last_at: float = 0.0


@dataclass
class Result:
    engine: str
    clients: int
    events: int = 0
    delivered_per_s: float = 0.0
    written_per_s: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    resets: int = 0
    note: str = ""


async def listen(port: int, client: Client, ready: asyncio.Event, stop: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /live?type={TYPE}&options=keyValues HTTP/1.1\r\nHost: bench\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    try:
        while not stop.is_set():
            line = await reader.readline()
            if not line:
                return
            if line.startswith(b": madina live"):
                ready.set()
            elif line.startswith(b"data: "):
                now = time.perf_counter()
                client.messages += 1
                client.last_at = now
                if b'"hot"' in line or HOT.encode() in line:
                    payload = orjson.loads(line[6:])
                    client.arrivals[payload["entity"]["seq"]] = now
            elif line.startswith(b"event: reset"):
                client.resets += 1
    finally:
        writer.close()


def sensor(n: int, value: float) -> dict:
    return {"id": f"urn:ngsi-ld:{TYPE}:{n}", "type": TYPE,
            "temperature": {"type": "Property", "value": value}}


async def measure(engine: str, port: int, args: argparse.Namespace) -> Result:
    result = Result(engine, args.clients)
    clients = [Client() for _ in range(args.clients)]
    stop = asyncio.Event()
    readies = [asyncio.Event() for _ in clients]
    tasks = [asyncio.create_task(listen(port, c, r, stop)) for c, r in zip(clients, readies,
                                                                         strict=True)]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/ngsi-ld/v1",
                                 timeout=30) as http:
        # 1. delivery
        started = time.perf_counter()
        written = n = 0
        while time.perf_counter() - started < args.duration:
            batch = [sensor(n + i, float(i)) for i in range(args.batch)]
            answer = await http.post("/entityOperations/upsert", json=batch)
            assert answer.status_code in (201, 204), answer.text
            n += args.batch
            written += args.batch
        write_time = time.perf_counter() - started
        expected = written * args.clients
        deadline = time.perf_counter() + 60
        while sum(c.messages for c in clients) < expected and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        received = sum(c.messages for c in clients)
        last = max(c.last_at for c in clients)
        result.events = received
        result.delivered_per_s = received / (last - started)
        result.written_per_s = written / write_time
        if received < expected:
            result.note = f"only {received:,} of {expected:,} messages arrived"
    # 2. latency, on a fresh connection (the server closed the idle one meanwhile)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/ngsi-ld/v1",
                                 timeout=30) as http:
        create = await http.post("/entities", json={"id": HOT, "type": TYPE,
                                                    "seq": {"type": "Property", "value": -1}})
        assert create.status_code == 201, create.text
        sent: dict[int, float] = {}
        interval = 1 / args.rate
        next_at = time.perf_counter()
        for seq in range(int(args.rate * args.latency_duration)):
            sent[seq] = time.perf_counter()
            answer = await http.patch(f"/entities/{HOT}/attrs",
                                      json={"seq": {"type": "Property", "value": seq}})
            assert answer.status_code == 204, answer.text
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        await asyncio.sleep(1.0)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies = sorted(
        (client.arrivals[seq] - at) * 1000
        for client in clients for seq, at in sent.items() if seq in client.arrivals
    )
    missing = len(sent) * len(clients) - len(latencies)
    if missing:
        result.note += f" {missing} latency probes never arrived"
    if latencies:
        result.p50_ms = statistics.median(latencies)
        result.p99_ms = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    result.resets = sum(c.resets for c in clients)
    return result


def run(engine: str, workdir: Path, args: argparse.Namespace) -> Result:
    if engine == "sqlite":
        database: str | None = str(workdir / "live.db")
        return _serve_and_measure(engine, database, workdir, args)
    url = pgdb.server_url()
    problem = pgdb.problem(url)
    if problem is not None:
        return Result(engine, args.clients, note=f"not run: {problem}")
    with pgdb.throwaway_database(url, "live") as database:
        return _serve_and_measure(engine, database, workdir, args)


def _serve_and_measure(engine: str, database: str, workdir: Path,
                       args: argparse.Namespace) -> Result:
    command = server.broker_command(args.port, database, args.workers)
    with server.running(command, args.port, workdir / f"{engine}.log"):
        return asyncio.run(measure(engine, args.port, args))


class _NoFeed:
    """The hub's feed, for the ceiling: nothing to subscribe to, the changes are handed in."""

    cursor = "0"

    def subscribe(self, reader: object) -> None:
        pass

    def unsubscribe(self, reader: object) -> None:
        pass


def fanout_ceiling(streams: int = 100, changes: int = 1000) -> list[str]:
    """µs of one core per change and stream, as `LiveHub` spends them on the event loop."""

    async def measure_hub(shared: bool) -> float:
        terms = ContextResolver(allow_remote=False).core()
        sensor_type, temperature = terms.expand(TYPE), terms.expand("temperature")
        batch = [ChangeEvent("", f"urn:ngsi-ld:{TYPE}:{n}", UPDATED, "2026-11-21T09:00:00Z",
                             [sensor_type], {"id": f"urn:ngsi-ld:{TYPE}:{n}", "type": [sensor_type],
                                             temperature: [{"type": "Property", "value": 20.5}]},
                             {temperature: UPDATED}, {}, str(n)) for n in range(changes)]
        hub = LiveHub(_NoFeed(), queue_frames=changes + 1)  # type: ignore[arg-type]
        for n in range(streams):
            hub.connect(LiveFilter("", types=parse_type_expression(TYPE, terms)),
                        Representation(terms, "keyValues", lang=None if shared else str(n)))
        started = time.perf_counter()
        hub._read(batch)
        return (time.perf_counter() - started) / (changes * streams) * 1e6

    return [f"hub alone, {streams} streams, {label}: "
            f"{asyncio.run(measure_hub(shared)):.1f} µs per change and stream"
            for label, shared in (("one representation", True), ("one each", False))]


def render(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        "| engine | SSE clients | entities written/s | events delivered/s | write→event p50 ms "
        "| p99 ms | resets | note |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        p50 = f"{r.p50_ms:.1f}" if r.p50_ms is not None else "—"
        p99 = f"{r.p99_ms:.1f}" if r.p99_ms is not None else "—"
        lines.append(f"| {r.engine} | {r.clients} | {r.written_per_s:,.0f} | "
                     f"{r.delivered_per_s:,.0f} | {p50} | {p99} | {r.resets} | {r.note} |")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    lines += ["", f"batch {args.batch} entities, {args.duration:.0f} s of writes; latency: "
              f"{args.rate:.0f} PATCH/s for {args.latency_duration:.0f} s; workers "
              f"{args.workers}; load average after: {load}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--batch", type=int, default=100, help="entities per upsert")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of writes")
    parser.add_argument("--rate", type=float, default=50.0, help="latency probes per second")
    parser.add_argument("--latency-duration", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--port", type=int, default=18026)
    args = parser.parse_args(argv)
    print("\n".join(fanout_ceiling()), end="\n\n")
    with tempfile.TemporaryDirectory(prefix="madina-live-bench-") as tmp:
        results = [run(engine.strip(), Path(tmp), args) for engine in args.engines.split(",")]
    print(render(results, args))


if __name__ == "__main__":
    main()
