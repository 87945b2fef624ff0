"""A real HTTP server on 127.0.0.1 that records every request and answers by the path (for the fast-path tests:
tests/test_sdk_fast_post.py, tests/test_genai_fast_send.py).

Every request (POST, GET or PATCH) is recorded as it arrived: method, target (with its query string), headers in order,
body bytes and the client's port (one port across calls means one reused connection). The answer is the first
`Route` whose key is a substring of the target: 200 with a small JSON body by default, or a configured status,
body, content type (`text/event-stream` for streams), extra headers (a `Set-Cookie`), or a delay before answering.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Record", "RecordingServer", "Route", "closed_port", "serving", "wire"]


@dataclass
class Record:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    port: int


@dataclass
class Route:
    status: int = 200
    body: bytes = b'{"ok":true}'
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_type: str = "application/json"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # the body, written after the headers, goes at once (no 40 ms delayed-ACK wait)
    server: RecordingServer

    def do_POST(self) -> None:
        self._record_and_answer()

    def do_GET(self) -> None:
        self._record_and_answer()

    def do_PATCH(self) -> None:
        self._record_and_answer()

    def _record_and_answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.records.append(Record(self.command, self.path, list(self.headers.items()), body,
                                          self.client_address[1]))
        route = next((r for key, r in self.server.routes.items() if key in self.path), Route())
        if route.delay:
            time.sleep(route.delay)
        try:
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            for name, value in route.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)
        except OSError:  # the client gave up (the timeout tests)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class RecordingServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # many clients connecting at once wait for no SYN retransmit (socketserver's is 5)

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.records: list[Record] = []
        self.routes: dict[str, Route] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def serving() -> Iterator[RecordingServer]:
    """A `RecordingServer` answering in a thread of its own; shut down and closed on leaving."""
    srv = RecordingServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def wire(record: Record, drop: tuple[str, ...] = ()) -> tuple[str, str, list[tuple[str, str]], bytes]:
    """A request as the server saw it: headers lower-cased and sorted (so duplicates would show), `drop`ped."""
    headers = sorted((k.lower(), v) for k, v in record.headers if k.lower() not in drop)
    return record.method, record.target, headers, record.body


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
