"""Local servers the tests run in a thread: @context documents, notification receivers."""

from __future__ import annotations

import socketserver
import threading

SHUTDOWN_POLL_S = 0.02
"""How often a serving thread looks for `shutdown()`. socketserver's default, 0.5 s, made every
test that stops a server up to half a second longer (7.6 s of test_jsonld's 22 s)."""


def serving_thread(server: socketserver.BaseServer) -> threading.Thread:
    """A daemon thread, not yet started, that serves until `server.shutdown()`."""
    return threading.Thread(target=server.serve_forever, args=(SHUTDOWN_POLL_S,), daemon=True)
