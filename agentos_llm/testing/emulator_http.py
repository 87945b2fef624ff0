"""The emulator's HTTP plumbing: a threading server that keeps hundreds of connections waiting to be accepted
(the listen backlog), tracks the open ones, and a handler that frames whole answers, chunked event streams and
the connection-level faults.

Split from :mod:`agentos_llm.testing.emulator`; nothing here is public.
"""

from __future__ import annotations

import contextlib
import http
import json
import select
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast

from agentos_llm.testing.emulator_faults import send_slowly
from agentos_llm.testing.emulator_types import WireResponse

if TYPE_CHECKING:
    from agentos_llm.testing.emulator import WireEmulator

DISCONNECT_ERRORS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    # socketserver's default backlog is 5: a burst of connections beyond it overflows the accept queue, and the
    # kernel drops or resets them (clients saw ReadError from 20 concurrent calls). The kernel caps it at somaxconn.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], emulator: WireEmulator) -> None:
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, EmulatorHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        with contextlib.suppress(OSError):  # a platform without TCP_NODELAY
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, addr

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (*DISCONNECT_ERRORS, TimeoutError)) or not self.emulator._running:
            return
        super().handle_error(request, client_address)  # pragma: no cover - emulator bug

    def close_connections(self) -> None:
        with self.connections_lock:
            conns = list(self.connections)
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class EmulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "agentos-emulator"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request logging."""

    def _dispatch(self) -> None:
        emulator = cast(EmulatorServer, self.server).emulator
        try:
            raw = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        response = emulator._handle(self.command, path, query, headers, body, gone=self._client_gone)
        try:
            self._send(response)
        except DISCONNECT_ERRORS:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def _client_gone(self) -> bool:
        """Whether the client closed its connection (or reset it) while its answer was being prepared."""
        try:
            if not select.select([self.connection], [], [], 0)[0]:
                return False
            return bool(self.connection.recv(1, socket.MSG_PEEK) == b"")
        except (OSError, ValueError):
            return True

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _head(self, response: WireResponse, extra: str) -> bytes:
        try:
            phrase = http.HTTPStatus(response.status).phrase
        except ValueError:
            phrase = "Unknown"
        lines = [f"HTTP/1.1 {response.status} {phrase}\r\nserver: agentos-emulator\r\n"]
        lines.extend(f"{k}: {v}\r\n" for k, v in response.headers.items())
        if self.close_connection:
            lines.append("connection: close\r\n")
        lines.append(extra)
        lines.append("\r\n")
        return "".join(lines).encode("latin-1")

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, response: WireResponse) -> None:
        if response.close_without_response:
            self._drop()
            return
        if response.trickle is not None or response.cut_after_events is not None:
            self._send_faulty(response)
            return
        write = self.wfile.write
        drop = response.drop_after_events
        if response.events is None:
            body = response.body
            head = self._head(response, f"content-length: {len(body)}\r\n")
            if drop:
                write(head + body[: len(body) // 2])
                self._drop()
            else:
                write(head + body)
            return
        events = response.events
        if drop is not None:
            # Never send the final event ([DONE] or the like): the stream must end mid-way.
            events = events[: max(0, min(drop, len(events) - 1))]
        write(self._head(response, "transfer-encoding: chunked\r\n"))
        for event in events:
            write(b"%x\r\n%s\r\n" % (len(event), event))
        if drop is not None:
            self._drop()
        else:
            write(b"0\r\n\r\n")


    def _send_faulty(self, response: WireResponse) -> None:
        """An answer cut short cleanly (``cut_after_events``) and/or sent slowly (``trickle``)."""
        cut = response.cut_after_events
        if response.events is None:
            body = response.body if cut is None else response.body[: len(response.body) // 2]
            head = self._head(response, f"content-length: {len(body)}\r\n")
        else:
            events = response.events if cut is None else response.events[:cut]
            head = self._head(response, "transfer-encoding: chunked\r\n")
            body = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events) + b"0\r\n\r\n"
        if response.trickle:
            send_slowly(self.wfile.write, head, body, response.trickle)
        else:
            self.wfile.write(head + body)
