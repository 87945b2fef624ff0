"""Helpers for the resilience tests: a fake clock, a loopback HTTP server that counts requests, and a
way to run workers in forked processes."""

from __future__ import annotations

import http.client
import json
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agentos_llm.errors import error_from_response


class FakeClock:
    """Wall-clock seconds that move only when told to (or when something sleeps on it)."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


class CountingServer:
    """A loopback HTTP server answering every POST with `status` (200: `{"ok": true}`), counting them."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self._count = multiprocessing.get_context("fork").Value("i", 0)  # readable after forks too
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                with server._count.get_lock():
                    server._count.value += 1
                body = (json.dumps({"ok": True}) if server.status == 200 else
                        json.dumps({"error": {"message": "You exceeded your current quota",
                                              "type": "insufficient_quota", "code": "insufficient_quota"}}))
                data = body.encode()
                self.send_response(server.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def count(self) -> int:
        return int(self._count.value)

    def __enter__(self) -> CountingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def post(port: int) -> dict[str, Any]:
    """One POST to the counting server; a non-2xx answer raises the library's typed error."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/v1/chat", body=b"{}", headers={"content-type": "application/json"})
        resp = conn.getresponse()
        body = json.loads(resp.read() or b"{}")
        if resp.status >= 300:
            raise error_from_response(resp.status, body, provider="loopback", headers=dict(resp.getheaders()))
        return dict(body)
    finally:
        conn.close()


def run_forked(fn: Callable[..., None], args: Sequence[tuple[Any, ...]], timeout: float = 60.0) -> None:
    """Runs `fn(*a)` in one forked process per `a`; fails unless every process exits 0."""
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=fn, args=a) for a in args]
    for p in procs:
        p.start()
    deadline = time.monotonic() + timeout
    for p in procs:
        p.join(max(0.1, deadline - time.monotonic()))
    stuck = [p for p in procs if p.is_alive()]
    for p in stuck:
        p.kill()
        p.join()
    assert not stuck, f"{len(stuck)} worker(s) did not finish within {timeout} s"
    assert [p.exitcode for p in procs] == [0] * len(procs)


@contextmanager
def captured(logger: str) -> Iterator[list[Any]]:
    """The log records `logger` emits (any level) inside the block."""
    import logging

    records: list[logging.LogRecord] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    log = logging.getLogger(logger)
    handler = _Keep(logging.DEBUG)
    old = log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        log.removeHandler(handler)
        log.setLevel(old)
