"""A loopback HTTP server that speaks vendor LLM wire formats with scripted answers and faults.

The core in this module is dialect-agnostic: it owns the socket server, the script queue, the
request log, delays, connection drops, chunked SSE framing and the common fault headers.  It
routes every request by ``(method, path)`` to a :class:`Route` whose handler (a "dialect", e.g.
:mod:`agentos_llm.testing.openai_wire`) turns the request plus the scripted item into a
:class:`WireResponse`.

Only the standard library is imported here so that the module stays cheap to import.

Example::

    with WireEmulator() as emu:
        emu.script(Reply("hi"), Fault(429, retry_after="1"))
        client = openai.OpenAI(base_url=emu.openai_base_url, api_key="sk-test")
        ...
"""

from __future__ import annotations

import collections
import contextlib
import http
import json
import re
import select
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast

from agentos_llm.testing.emulator_faults import faulty_answer, send_slowly, transforms

__all__ = [
    "Fault",
    "RecordedRequest",
    "Reply",
    "Route",
    "WireEmulator",
    "WireRequest",
    "WireResponse",
    "argument_pieces",
    "sse_event",
    "text_pieces",
    "word_count",
]

#: How many requests :attr:`WireEmulator.requests` keeps.
MAX_RECORDED_REQUESTS = 1000

_DISCONNECT_ERRORS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


# --------------------------------------------------------------------------------------------
# Script items
# --------------------------------------------------------------------------------------------


@dataclass
class Reply:
    """A scripted successful answer.

    ``None`` token counts are computed from the request / reply text (roughly one token per
    word).  When a ``Reply`` is popped by an endpoint that does not produce text (embeddings),
    only its ``delay`` is honoured.
    """

    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    reasoning: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    model: str | None = None
    delay: float = 0.0
    quirk: str | tuple[str, ...] = ()
    """Host quirks to answer with, one name or several (see ``openai_wire.QUIRKS``)."""

    @classmethod
    def tool_call(cls, name: str, arguments: dict[str, Any], **kw: Any) -> Reply:
        """A reply that calls one tool ``name`` with ``arguments``."""
        return cls(tool_calls=[(name, arguments)], **kw)


@dataclass
class Fault:
    """A scripted failure.

    Precedence when several kinds are set: ``drop_after_events`` > ``malformed`` >
    ``stream_error`` > plain ``status`` error.  ``drop_after_events`` on a whole (non-stream)
    response: ``0`` closes the socket without any response, ``N > 0`` sends the headers and
    half of the body, then closes.  ``stream_error`` on a non-stream request becomes a plain
    ``status`` error whose body is ``{"error": stream_error}``.
    """

    status: int = 500
    body: str | dict[str, Any] | None = None
    code: str | None = None
    retry_after: str | None = None
    retry_after_ms: str | None = None
    malformed: bool = False
    drop_after_events: int | None = None
    delay: float = 0.0
    stream_error: dict[str, Any] | None = None
    # Faults of a server that misbehaves around a correct answer (see agentos_llm.testing.emulator_faults);
    # any of them takes precedence over the kinds above.
    reply: Reply | None = None
    """The answer the faults below send, transformed (None: the endpoint's default answer)."""
    raw_body: bytes | None = None
    """Exactly these bytes, with ``status`` and ``content_type`` (guessed when None)."""
    content_type: str | None = None
    """The content type to send instead of the right one."""
    pad_bytes: int = 0
    """That many bytes of JSON whitespace added to the answer (a huge body)."""
    invalid_utf8: bool = False
    """The answer's text carries bytes that are not UTF-8."""
    trickle: float | None = None
    """The answer's bytes sent in small pieces spread over this many seconds."""
    cut_after_events: int | None = None
    """An event stream that ends cleanly after this many events; a whole body cut in half."""
    reset: bool = False
    """The connection closed before any byte of an answer (streams too)."""


# --------------------------------------------------------------------------------------------
# Dialect interface
# --------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One request received by the emulator."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    query: str = ""


@dataclass
class WireRequest:
    """A parsed request handed to a dialect handler."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    params: dict[str, str]
    number: int
    emulator: WireEmulator


@dataclass
class WireResponse:
    """What a dialect handler answers; the core frames and sends it.

    ``events`` set means a streamed response: each item is one complete encoded event (see
    :func:`sse_event`) sent as one HTTP/1.1 chunk.  Otherwise ``body`` is sent with a
    ``Content-Length``.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    events: list[bytes] | None = None
    drop_after_events: int | None = None
    close_without_response: bool = False
    trickle: float | None = None
    cut_after_events: int | None = None

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> WireResponse:
        """A whole ``application/json`` response."""
        return cls(
            status=status,
            headers={"content-type": "application/json", **(headers or {})},
            body=json.dumps(data, separators=(",", ":")).encode(),
        )

    @classmethod
    def stream(cls, events: list[bytes], status: int = 200) -> WireResponse:
        """A chunked ``text/event-stream`` response."""
        return cls(
            status=status,
            headers={"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"},
            events=events,
        )


Handler = Callable[[WireRequest, Reply | Fault | None], WireResponse]


@dataclass(frozen=True)
class Route:
    """Maps ``method`` + a path regex (matched with ``search``, so any prefix) to a handler.

    ``scripted`` routes pop the next script item for every request; ``accepts`` can further
    restrict the route (e.g. by a vendor header) so dialects sharing a path can coexist.
    """

    method: str
    pattern: re.Pattern[str]
    handler: Handler
    scripted: bool = True
    accepts: Callable[[WireRequest], bool] | None = None


_PIECE = re.compile(r"\s*\S+|\s+$")


def word_count(text: str) -> int:
    """The emulator's token count: one token per word."""
    return len(text.split())


def text_pieces(text: str) -> list[str]:
    """``text`` as streamed deltas: word pieces that keep their leading whitespace (joined they give ``text``)."""
    return _PIECE.findall(text)


def argument_pieces(arguments: str) -> list[str]:
    """Tool-call argument JSON as streamed fragments: three pieces (one when it is too short to split)."""
    if len(arguments) < 3:
        return [arguments]
    third = len(arguments) // 3
    return [arguments[:third], arguments[third : 2 * third], arguments[2 * third :]]


def sse_event(data: Any, event: str | None = None) -> bytes:
    """Encode one server-sent event; ``data`` is JSON-encoded unless it is already a ``str``."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    if event is None:
        return b"data: " + payload.encode() + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + payload.encode() + b"\n\n"


def _not_found(path: str) -> WireResponse:
    return WireResponse.json(
        {
            "error": {
                "message": f"Unknown request URL: {path}",
                "type": "invalid_request_error",
                "code": "unknown_url",
                "param": None,
            }
        },
        status=404,
    )


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: WireEmulator) -> None:
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

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
        if isinstance(exc, (*_DISCONNECT_ERRORS, TimeoutError)) or not self.emulator._running:
            return
        super().handle_error(request, client_address)  # pragma: no cover - emulator bug

    def close_connections(self) -> None:
        with self.connections_lock:
            conns = list(self.connections)
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "agentos-emulator"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request logging."""

    def _dispatch(self) -> None:
        emulator = cast(_Server, self.server).emulator
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
        except _DISCONNECT_ERRORS:
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


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------


class WireEmulator:
    """Loopback server speaking vendor wire formats with scripted answers and faults.

    Every request to a scripted endpoint (chat completions, embeddings, ...) pops the next
    item of one shared FIFO queue filled by :meth:`script`; when the queue is empty the
    endpoint answers with its default reply (an echo of the last user message).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        models: list[str] | None = None,
        delay: float = 0.0,
    ) -> None:
        from agentos_llm.testing import (
            anthropic_wire,
            bedrock_wire,
            cohere_wire,
            gemini_wire,
            openai_wire,
            responses_wire,
            voyage_wire,
        )

        self.host = host
        self.port = port
        #: Model ids served by ``GET /v1/models``.
        self.models: list[str] = (
            list(models) if models is not None else ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small"]
        )
        #: Seconds every answer waits before being sent (a slow server).
        self.delay: float = delay
        self._lock = threading.Lock()
        self._queue: collections.deque[Reply | Fault] = collections.deque()
        self._log: collections.deque[RecordedRequest] = collections.deque(maxlen=MAX_RECORDED_REQUESTS)
        self._path_hits: collections.Counter[str] = collections.Counter()
        self._counters: dict[str, int] = {}
        # Vendor dialects that share a path (GET /v1/models) tell their requests apart by header.
        self._routes: list[Route] = [*anthropic_wire.routes(), *gemini_wire.routes(), *bedrock_wire.routes(),
                                     *cohere_wire.routes(), *voyage_wire.routes(), *responses_wire.routes(),
                                     *openai_wire.routes()]
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._running = False

    # lifecycle ------------------------------------------------------------------------------

    def start(self) -> WireEmulator:
        """Bind and serve in a daemon thread (idempotent); returns ``self``."""
        with self._lock:
            if self._server is not None:
                return self
            server = _Server((self.host, self.port), self)
            self._server = server
            self._running = True
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"WireEmulator:{server.server_address[1]}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket and any open client connections."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
            self._running = False
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> WireEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        server = self._server
        if server is None:
            raise RuntimeError("WireEmulator is not started; call start() or use it as a context manager")
        return f"http://{self.host}:{server.server_address[1]}"

    @property
    def openai_base_url(self) -> str:
        """Base URL for the OpenAI SDK (``url + "/v1"``)."""
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        """Base URL for the Anthropic SDK (the server root)."""
        return self.url

    @property
    def gemini_base_url(self) -> str:
        """Base URL for google-genai's `HttpOptions(base_url=...)` (the server root)."""
        return self.url

    @property
    def bedrock_base_url(self) -> str:
        """Endpoint URL for boto3's `bedrock-runtime` and `bedrock` clients (the server root)."""
        return self.url

    @property
    def cohere_base_url(self) -> str:
        """Base URL for the Cohere SDK (the server root)."""
        return self.url

    @property
    def voyage_base_url(self) -> str:
        """Base URL for Voyage AI (`url + "/voyage/v1"`: apart from OpenAI's `/v1/embeddings`)."""
        return self.url + "/voyage/v1"

    # scripting ------------------------------------------------------------------------------

    def script(self, *items: Reply | Fault) -> None:
        """Append answers to the FIFO queue; each scripted-endpoint request pops one."""
        for item in items:
            if not isinstance(item, (Reply, Fault)):
                raise TypeError(f"script() takes Reply or Fault items, not {type(item).__name__}")
        with self._lock:
            self._queue.extend(items)

    def reset(self) -> None:
        """Clear the script queue, the request log and the hit counters."""
        with self._lock:
            self._queue.clear()
            self._log.clear()
            self._path_hits.clear()

    @property
    def pending(self) -> int:
        """How many scripted items are still queued."""
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the last :data:`MAX_RECORDED_REQUESTS` requests received, oldest first."""
        with self._lock:
            return list(self._log)

    @property
    def disconnects(self) -> int:
        """How many clients closed their connection while a delayed answer was pending (then nothing is sent)."""
        with self._lock:
            return self._counters.get("disconnect", 0)

    def _sleep_unless_gone(self, delay: float, gone: Callable[[], bool] | None) -> bool:
        """Waits `delay` seconds, watching the client: True (and counted) as soon as it has gone."""
        end = time.monotonic() + delay
        while (left := end - time.monotonic()) > 0:
            if gone is not None and gone():
                with self._lock:
                    self._counters["disconnect"] = self._counters.get("disconnect", 0) + 1
                return True
            time.sleep(min(0.01, left))
        return False

    @property
    def open_connections(self) -> int:
        """How many client connections the server holds open now (0 once every client has closed its own)."""
        server = self._server
        if server is None:
            return 0
        with server.connections_lock:
            return len(server.connections)

    def hits(self, path_suffix: str = "/chat/completions") -> int:
        """How many requests (since start or :meth:`reset`) had a path ending with ``path_suffix``."""
        with self._lock:
            return sum(n for path, n in self._path_hits.items() if path.endswith(path_suffix))

    def add_routes(self, routes: Iterable[Route]) -> None:
        """Register more routes (e.g. another dialect); they are tried before existing ones."""
        with self._lock:
            self._routes = [*routes, *self._routes]  # copy-on-write: handlers iterate without the lock

    def next_id(self, kind: str) -> int:
        """Next value (1, 2, ...) of the per-emulator counter ``kind``, used to build ids."""
        with self._lock:
            value = self._counters.get(kind, 0) + 1
            self._counters[kind] = value
            return value

    # request handling -----------------------------------------------------------------------

    def _handle(self, method: str, path: str, query: str, headers: dict[str, str], body: Any,
                gone: Callable[[], bool] | None = None) -> WireResponse:
        with self._lock:
            number = self._counters.get("request", 0) + 1
            self._counters["request"] = number
            self._log.append(RecordedRequest(method, path, headers, body, query))
            self._path_hits[path] += 1
            routes = self._routes
        request = WireRequest(method, path, query, headers, body, {}, number, self)
        route: Route | None = None
        for candidate in routes:
            if candidate.method != method:
                continue
            match = candidate.pattern.search(path)
            if match is None:
                continue
            request.params = {k: v for k, v in match.groupdict().items() if v is not None}
            if candidate.accepts is None or candidate.accepts(request):
                route = candidate
                break
        item: Reply | Fault | None = None
        if route is None:
            response = _not_found(path)
        else:
            if route.scripted:
                with self._lock:
                    item = self._queue.popleft() if self._queue else None
            delay = self.delay + (item.delay if item is not None else 0.0)
            if delay > 0 and self._sleep_unless_gone(delay, gone):
                return WireResponse(close_without_response=True)
            try:
                if isinstance(item, Fault) and transforms(item):
                    response = faulty_answer(route.handler, request, item)
                elif isinstance(item, Fault) and item.drop_after_events is not None:
                    response = route.handler(request, item.reply)
                    response.drop_after_events = item.drop_after_events
                    if item.drop_after_events == 0 and response.events is None:
                        response.close_without_response = True
                else:
                    response = route.handler(request, item)
            except Exception as exc:  # an emulator bug or an unexpected request shape
                response = WireResponse.json(
                    {"error": {"message": f"emulator error: {exc!r}", "type": "server_error"}}, 500
                )
        if isinstance(item, Fault):
            if item.retry_after is not None:
                response.headers["retry-after"] = item.retry_after
            if item.retry_after_ms is not None:
                response.headers["retry-after-ms"] = item.retry_after_ms
        response.headers.setdefault("x-request-id", f"req_emu_{number}")
        return response
