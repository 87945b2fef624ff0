"""What the emulator's dialects and scripts are made of: script items (`Reply`, `Fault`), the request a dialect
handler gets and the response it gives, routes, and the text helpers every dialect streams with.

Split from :mod:`agentos_llm.testing.emulator`, which re-exports every public name here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentos_llm.testing.emulator import WireEmulator

__all__ = [
    "Fault",
    "Handler",
    "RecordedRequest",
    "Reply",
    "Route",
    "WireRequest",
    "WireResponse",
    "argument_pieces",
    "not_found",
    "sse_event",
    "text_pieces",
    "word_count",
]


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


def not_found(path: str) -> WireResponse:
    """The 404 an unknown path gets (OpenAI's shape, which every SDK reads as not found)."""
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
