"""The notifications' HTTP/1.1 client against a scripted server: answer framings, kept-alive
connections, connections the endpoint closed, timeouts, and what goes over the wire."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable

import pytest

from madina.events.http_sender import Http11Sender, HttpError


def run(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """An async test run on a fresh event loop (the suite has no async test plugin)."""

    @functools.wraps(test)
    def sync(*args, **kwargs) -> None:
        asyncio.run(test(*args, **kwargs))

    return sync


Script = Callable[[int], bytes | None]
"""The raw answer to the n-th request (None: close the connection without answering)."""


async def serve(script: Script) -> tuple[asyncio.Server, list[bytes], list[int]]:
    requests: list[bytes] = []
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(len(connections))
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                requests.append(head + await reader.readexactly(length))
                answer = script(len(requests))
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, requests, connections


def url(server: asyncio.Server, path: str = "/notify?x=1") -> str:
    return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}{path}"


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
FRAMINGS = {
    "length": OK,
    "no content": b"HTTP/1.1 204 No Content\r\n\r\n",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nTrailer: t\r\n\r\n",
    "continue first": b"HTTP/1.1 100 Continue\r\n\r\n" + OK,
}


@pytest.mark.parametrize("answer", FRAMINGS.values(), ids=FRAMINGS.keys())
@run
async def test_framings_keep_the_connection(answer: bytes) -> None:
    server, requests, connections = await serve(lambda n: answer)
    sender = Http11Sender(4)
    for _ in range(3):
        assert 200 <= await sender.post(url(server), {"X-A": "b"}, {"n": 1}, 2.0) < 300
    assert len(requests) == 3 and len(connections) == 1
    await sender.close()
    server.close()


@run
async def test_the_request_on_the_wire() -> None:
    server, requests, _ = await serve(lambda n: OK)
    sender = Http11Sender(1)
    target = url(server).replace("http://", "http://user:pw@")
    await sender.post(target, {"Content-Type": "application/json", "X-Token": "t"}, {"a": 1}, 2.0)
    head, body = requests[0].split(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /notify?x=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.sockets[0].getsockname()[1]}" in lines
    assert "Authorization: Basic dXNlcjpwdw==" in lines
    assert {"Content-Type: application/json", "X-Token: t", "Content-Length: 7"} <= set(lines)
    assert body == b'{"a":1}'
    await sender.close()
    server.close()


@run
async def test_errors_and_closed_connections() -> None:
    answers = {1: b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n",
               2: b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
               3: b"HTTP/1.1 200 OK\r\n\r\nbody until the end",
               4: None}
    server, requests, connections = await serve(lambda n: answers.get(n, OK))
    sender = Http11Sender(2)
    with pytest.raises(HttpError, match="500"):
        await sender.post(url(server), {}, {}, 2.0)
    await sender.post(url(server), {}, {}, 2.0)  # kept alive after the 500, closed after this
    await sender.post(url(server), {}, {}, 2.0)  # no length: read no further, close
    with pytest.raises(HttpError):
        await sender.post(url(server), {}, {}, 2.0)  # closed without an answer
    await sender.post(url(server), {}, {}, 2.0)
    assert len(requests) == 5 and len(connections) == 4
    await sender.close()
    server.close()


@run
async def test_an_idle_connection_the_endpoint_closed_is_replaced() -> None:
    """Endpoints drop idle kept-alive connections without saying so: the next notification
    finds the connection dead and goes over a new one."""
    connections = []

    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        await reader.readexactly(length)
        writer.write(OK)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
    sender = Http11Sender(1)
    for _ in range(3):
        assert await sender.post(url(server), {}, {}, 2.0) == 200
        await asyncio.sleep(0.05)
    assert len(connections) == 3
    await sender.close()
    server.close()


@run
async def test_a_silent_endpoint_times_out() -> None:
    async def never(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)

    server = await asyncio.start_server(never, "127.0.0.1", 0)
    sender = Http11Sender(1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(HttpError, match=r"no answer within 0\.2 s"):
        await sender.post(url(server), {}, {}, 0.2)
    assert loop.time() - start < 1.0
    with pytest.raises(HttpError):
        await sender.post("http://127.0.0.1:9/", {}, {}, 2.0)  # nobody listens on port 9
    server.close()
