"""A loopback HTTP server that speaks vendor LLM wire formats with scripted answers and faults.

The core is dialect-agnostic: it owns the socket server, the script queue, the request log, delays,
connection drops, chunked SSE framing and the common fault headers.  It routes every request by
``(method, path)`` to a :class:`Route` whose handler (a "dialect", e.g.
:mod:`agentos_llm.testing.openai_wire`) turns the request plus the scripted item into a
:class:`WireResponse`.  By concern: the script items and dialect interface are in
:mod:`agentos_llm.testing.emulator_types`, the HTTP server and framing in
:mod:`agentos_llm.testing.emulator_http`, the faults around a correct answer in
:mod:`agentos_llm.testing.emulator_faults`; this module keeps the emulator itself and re-exports the
public names, so ``from agentos_llm.testing.emulator import Reply`` keeps working.

The server holds hundreds of concurrent connections (streams included); only the standard library is
imported here so that the module stays cheap to import.

Example::

    with WireEmulator() as emu:
        emu.script(Reply("hi"), Fault(429, retry_after="1"))
        client = openai.OpenAI(base_url=emu.openai_base_url, api_key="sk-test")
        ...
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from agentos_llm.testing.emulator_faults import faulty_answer, transforms
from agentos_llm.testing.emulator_http import EmulatorServer
from agentos_llm.testing.emulator_types import (
    Fault,
    Handler,
    RecordedRequest,
    Reply,
    Route,
    WireRequest,
    WireResponse,
    argument_pieces,
    not_found,
    sse_event,
    text_pieces,
    word_count,
)

__all__ = [
    "Fault",
    "Handler",
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
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None
        self._running = False

    # lifecycle ------------------------------------------------------------------------------

    def start(self) -> WireEmulator:
        """Bind and serve in a daemon thread (idempotent); returns ``self``."""
        with self._lock:
            if self._server is not None:
                return self
            server = EmulatorServer((self.host, self.port), self)
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
            response = not_found(path)
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
