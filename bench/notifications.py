"""`python -m bench.notifications`: notification latency under a sustained update rate, and a
dead endpoint among live ones, per storage engine.

A fresh `madina serve` per engine and scenario; receivers in a process of their own (raw
asyncio HTTP servers on loopback, one port per endpoint, answering 200 at once); the updates
sent from this process over raw kept-alive connections, open loop: update n leaves at
start + n/rate whether or not earlier ones were answered, so a server that falls behind shows
as latency and a lower achieved rate rather than as politely slower sending.

Each update is a PATCH of one entity's `temperature` to a unique number n, and the
notification carries it, so every notification is matched to its update. Latency = the
receiver got the notification − this process got the update's 204 (both CLOCK_MONOTONIC of
one machine). A notification arriving before its 204 counts as 0. Beside it, the time from the
update leaving this process: an upper bound that includes the server's request queue.

0. `baseline`: the `rate` scenario's entities and updates without any subscription: what
   the updates cost the server (CPU ms per update) without notifying.
1. `rate`: `--subscriptions` entities, one subscription each (keyValues, one attribute),
   updates spread over them at `--rate`/s for `--duration` s: p50/p99, the p99 of each fifth of
   the run (a growing backlog shows as a rising p99) and what never arrived.
2. `dead`: 100 entities with a subscription each to 100 receivers, at `--dead-rate`/s; run once
   as is, once with one more subscription to every entity whose endpoint accepts connections
   and never answers. The live endpoints' p99 should not move.

Receivers, load and server share the machine's cores: the figures are lower bounds.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
import orjson

from bench import pgdb, server

TYPE = "BenchSensor"
API = "/ngsi-ld/v1"


# -- receivers (their own process) ------------------------------------------------------------
def receive(ports: list[int], dead_port: int | None, pipe: Connection) -> None:
    """Serve `ports` until the parent asks for the arrivals: {(entity id, value): time}."""
    asyncio.run(_receive(ports, dead_port, pipe))


async def _receive(ports: list[int], dead_port: int | None, pipe: Connection) -> None:
    arrivals: dict[tuple[str, int], float] = {}
    requests = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length)
                now = time.monotonic()
                requests += 1
                for entity in orjson.loads(body)["data"]:
                    arrivals.setdefault((entity["id"], entity["temperature"]), now)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        writer.close()

    servers = [await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
               for port in ports]
    hole = None
    if dead_port is not None:  # accepts (the kernel does) and never reads nor answers
        hole = socket.socket()
        hole.bind(("127.0.0.1", dead_port))
        hole.listen(4096)
    pipe.send("ready")
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, pipe.recv)
    pipe.send((list(arrivals.items()), requests))
    for srv in servers:
        srv.close()
    if hole is not None:
        hole.close()


# -- load --------------------------------------------------------------------------------------
@dataclass
class Load:
    acks: dict[int, float] = field(default_factory=dict)
    """Update number -> when its 204 came back."""
    sent: dict[int, float] = field(default_factory=dict)
    """Update number -> when it was written to the connection."""
    first_sent: float = 0.0
    errors: int = 0


async def send_updates(port: int, ids: list[str], rate: float, duration: float,
                       connections: int = 48) -> Load:
    load = Load()
    total = int(rate * duration)
    start = time.monotonic() + 0.2
    load.first_sent = start
    counter = iter(range(total))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for n in counter:
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            body = b'{"type":"Property","value":%d}' % n
            load.sent[n] = time.monotonic()
            writer.write(
                f"PATCH {API}/entities/{ids[n % len(ids)]}/attrs/temperature HTTP/1.1\r\n"
                f"Host: bench\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            if head.startswith(b"HTTP/1.1 204"):
                load.acks[n] = time.monotonic()
            else:
                load.errors += 1
        writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return load


# -- scenario ----------------------------------------------------------------------------------
@dataclass
class Result:
    engine: str
    scenario: str
    subscriptions: int
    target_rate: float
    achieved_rate: float = 0.0
    notified: int = 0
    missing: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    p99_by_fifth: list[float] = field(default_factory=list)
    send_p50_ms: float | None = None
    """From the update leaving this process to its notification arriving: the server's
    request queue included (an upper bound)."""
    send_p99_ms: float | None = None
    requests: int = 0
    cpu_ms_per_update: float | None = None
    """Server CPU time (all its processes) per update, notifying included."""
    note: str = ""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def setup(port: int, ids: list[str], endpoints: list[str], dead: str | None) -> None:
    """The entities, one subscription per entity to its endpoint (none without endpoints),
    and the dead one."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}{API}", timeout=60) as client:
        entities = [{"id": i, "type": TYPE, "temperature": {"type": "Property", "value": -1}}
                    for i in ids]
        for start in range(0, len(entities), 500):
            answer = client.post("/entityOperations/upsert", json=entities[start:start + 500])
            assert answer.status_code in (201, 204), answer.text
        for entity_id, uri in zip(ids, endpoints, strict=False):
            subscription(client, [{"type": TYPE, "id": entity_id}], uri)
        if dead is not None:
            subscription(client, [{"type": TYPE}], dead)


def subscription(client: httpx.Client, entities: list[dict], uri: str) -> None:
    answer = client.post("/subscriptions", json={
        "type": "Subscription", "entities": entities,
        "notification": {"format": "keyValues", "attributes": ["temperature"],
                         "endpoint": {"uri": uri, "accept": "application/json"}},
    })
    assert answer.status_code == 201, answer.text


def server_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the server and its worker processes so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def measure(engine: str, scenario: str, port: int, pid: int, subscriptions: int,
            receivers: int, rate: float, duration: float, dead: bool,
            subscribe: bool = True) -> Result:
    """`subscribe` False: the same entities and updates with no subscription at all (what
    the updates cost without notifications)."""
    ids = [f"urn:ngsi-ld:{TYPE}:{n}" for n in range(subscriptions)]
    ports = free_ports(receivers + 1)
    live_ports, dead_port = ports[:receivers], ports[receivers]
    endpoints = [f"http://127.0.0.1:{live_ports[n % receivers]}/notify"
                 for n in range(subscriptions)]
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=receive, args=(live_ports, dead_port, child))
    process.start()
    try:
        assert parent.recv() == "ready"
        setup(port, ids, endpoints if subscribe else [],
              f"http://127.0.0.1:{dead_port}/notify" if dead else None)
        time.sleep(1.0)  # the notifier compiles the new subscriptions
        cpu = server_cpu_seconds(pid)
        load = asyncio.run(send_updates(port, ids, rate, duration))
        time.sleep(3.0)  # stragglers
        cpu = server_cpu_seconds(pid) - cpu
        parent.send("dump")
        arrivals_list, requests = parent.recv()
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
    arrivals = dict(arrivals_list)
    result = Result(engine, scenario, (subscriptions if subscribe else 0) + (1 if dead else 0),
                    rate, requests=requests)
    if load.acks:
        result.achieved_rate = len(load.acks) / (max(load.acks.values()) - load.first_sent)
    latencies: list[tuple[float, float]] = []  # (ack time, latency)
    from_send: list[float] = []
    for n, acked in load.acks.items():
        arrived = arrivals.get((ids[n % len(ids)], n))
        if arrived is None:
            result.missing += subscribe
        else:
            latencies.append((acked, max(0.0, arrived - acked) * 1000))
            from_send.append((arrived - load.sent[n]) * 1000)
    result.notified = len(latencies)
    if from_send:
        result.send_p50_ms = statistics.median(from_send)
        result.send_p99_ms = percentile(from_send, 0.99)
    if latencies:
        values = [latency for _, latency in latencies]
        result.p50_ms = statistics.median(values)
        result.p99_ms = percentile(values, 0.99)
        latencies.sort()
        fifth = max(1, len(latencies) // 5)
        result.p99_by_fifth = [percentile([v for _, v in latencies[i:i + fifth]], 0.99)
                               for i in range(0, fifth * 5, fifth)]
    if load.acks:
        result.cpu_ms_per_update = cpu * 1000 / len(load.acks)
    if load.errors:
        result.note = f"{load.errors} updates refused"
    return result


def run(engine: str, workdir: Path, args: argparse.Namespace) -> list[Result]:
    plans = []
    if "baseline" in args.scenarios:
        plans.append(("no subscriptions", args.subscriptions, 1, args.rate, False, False))
    if "rate" in args.scenarios:
        plans.append(("rate", args.subscriptions, 1, args.rate, False, True))
    if "dead" in args.scenarios:
        plans.append(("100 live", 100, 100, args.dead_rate, False, True))
        plans.append(("100 live + 1 dead", 100, 100, args.dead_rate, True, True))
    results = []
    for scenario, subscriptions, receivers, rate, dead, subscribe in plans:
        results.append(_fresh_server(engine, workdir, args, lambda port, pid, s=scenario,
                                     n=subscriptions, r=receivers, x=rate, d=dead,
                                     y=subscribe: measure(engine, s, port, pid, n, r, x,
                                                          args.duration, d, y)))
    return results


def _fresh_server(engine: str, workdir: Path, args: argparse.Namespace, body) -> Result:
    if engine == "sqlite":
        database = workdir / f"notifications-{time.monotonic_ns()}.db"
        return _serve(engine, str(database), workdir, args, body)
    url = pgdb.server_url()
    problem = pgdb.problem(url)
    if problem is not None:
        raise SystemExit(f"postgres: {problem}")
    with pgdb.throwaway_database(url, "notify") as database:
        return _serve(engine, database, workdir, args, body)


def _serve(engine: str, database: str, workdir: Path, args: argparse.Namespace, body) -> Result:
    command = server.broker_command(args.port, database, args.workers)
    with server.running(command, args.port, workdir / f"{engine}.log") as pid:
        return body(args.port, pid)


def render(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        "| engine | scenario | subscriptions | updates/s asked | achieved | notified | missing "
        "| p50 ms | p99 ms | p99 per fifth of the run (ms) | from send p50 / p99 ms "
        "| notifications sent | server CPU ms/update |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|",
    ]
    for r in results:
        p50 = f"{r.p50_ms:.1f}" if r.p50_ms is not None else "—"
        p99 = f"{r.p99_ms:.1f}" if r.p99_ms is not None else "—"
        fifths = " / ".join(f"{v:.0f}" for v in r.p99_by_fifth)
        cpu = f"{r.cpu_ms_per_update:.2f}" if r.cpu_ms_per_update is not None else "—"
        sent = (f"{r.send_p50_ms:.1f} / {r.send_p99_ms:.1f}" if r.send_p50_ms is not None
                else "—")
        lines.append(f"| {r.engine} | {r.scenario} | {r.subscriptions:,} | {r.target_rate:,.0f} "
                     f"| {r.achieved_rate:,.0f} | {r.notified:,} | {r.missing:,} | {p50} | {p99} "
                     f"| {fifths} | {sent} | {r.requests:,} | {cpu} |"
                     + (f" {r.note}" if r.note else ""))
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    lines += ["", f"{args.duration:.0f} s of updates per scenario; `madina serve --workers "
              f"{args.workers}`; {os.cpu_count()} cores; load average after: {load}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=2000.0, help="updates per second")
    parser.add_argument("--dead-rate", type=float, default=500.0)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of updates")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--scenarios", default="baseline,rate,dead",
                        help="baseline (the updates without subscriptions), rate, dead")
    parser.add_argument("--port", type=int, default=18026)
    args = parser.parse_args(argv)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="madina-notify-bench-") as tmp:
        for engine in args.engines.split(","):
            results += run(engine.strip(), Path(tmp), args)
            print(render(results, args), flush=True)


if __name__ == "__main__":
    main()
