"""The faults of the matrix, and what each must produce on each wire API, whole and streamed.

An `Outcome` says which error comes out (None: the call succeeds), how many requests reach the server
(retryable faults are scripted three times: `max_retries=2` means three attempts), and which waits the retry
policy must have asked for between them.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agentos_llm.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ContentFilterError,
    ContextLengthExceededError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from agentos_llm.testing import Fault, Reply

from .wires import MAX_RETRIES, REPLY, Wire

ATTEMPTS = MAX_RETRIES + 1
HTML = b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"
BIG = 50_000_000
SLOW = Reply(" ".join(f"w{i}" for i in range(60)))


@dataclass(frozen=True)
class Outcome:
    """What one fault must produce."""

    error: type[ProviderError] | None
    hits: int
    sleeps: Callable[[list[float]], bool] = field(default=lambda asked: asked == [])
    finish: str | None = None
    """The finish reason of a successful answer, when the fault is about it."""


def waits(expected: float, *, low: float | None = None) -> Callable[[list[float]], bool]:
    """Two waits, each `expected` seconds (or within [`low`, `expected`] for an HTTP date's rounding)."""
    floor = expected if low is None else low
    return lambda asked: len(asked) == MAX_RETRIES and all(floor - 1e-6 <= a <= expected + 1e-6 for a in asked)


def backoff(asked: list[float]) -> bool:
    """Two jittered backoffs within the (tuned) policy's bound."""
    return len(asked) == MAX_RETRIES and all(0.0 <= a <= 0.02 for a in asked)


RETRIED_SERVER = Outcome(ServerError, ATTEMPTS, backoff)


def _http_date(seconds: int) -> str:
    return email.utils.formatdate(time.time() + seconds, usegmt=True)


@dataclass(frozen=True)
class Case:
    """One fault: the items to script for a wire, the call's options, and its outcome per mode."""

    name: str
    fault: Callable[[Wire, bool], Fault | Reply]
    """The answer for (wire, stream), scripted as many times as the outcome expects requests."""
    outcome: Callable[[Wire, bool], Outcome]
    options: Callable[[bool], dict[str, Any]] = field(default=lambda stream: {})
    modes: tuple[bool, ...] = (False, True)
    """Which of whole (False) and streamed (True) it applies to."""


def _same(fault: Fault | Reply) -> Callable[[Wire, bool], Fault | Reply]:
    return lambda wire, stream: fault


def _fixed(outcome: Outcome) -> Callable[[Wire, bool], Outcome]:
    return lambda wire, stream: outcome


def _filter_outcome(wire: Wire, stream: bool) -> Outcome:
    if wire.content_filter_error:
        return Outcome(ContentFilterError, 1)
    return Outcome(None, 1, finish="content_filter")


def _mid_body(wire: Wire, stream: bool) -> Fault:
    # Whole: the headers and half the body; streamed: the connection drops right after the first event.
    return Fault(drop_after_events=wire.first_event_at + 1 if stream else 1, reply=REPLY)


def _mid_body_outcome(wire: Wire, stream: bool) -> Outcome:
    if stream:
        return Outcome(APIConnectionError, 1)  # events were out: never retried
    if wire.api == "bedrock-converse":
        # botocore reads a body without enforcing its Content-Length: the cut body arrives as a short JSON.
        return Outcome(MalformedResponseError, 1)
    return Outcome(APIConnectionError, ATTEMPTS, backoff)


def _truncated(wire: Wire, stream: bool) -> Fault:
    return Fault(cut_after_events=wire.first_event_at + 1 if stream else 1, reply=REPLY)


def _truncated_outcome(wire: Wire, stream: bool) -> Outcome:
    return Outcome(APIConnectionError if stream else MalformedResponseError, 1)


def _error_event_outcome(wire: Wire, stream: bool) -> Outcome:
    if stream and not wire.error_event_first:
        return Outcome(ServerError, 1)  # after the first event: the caller is told, nothing is retried
    return RETRIED_SERVER


CASES: list[Case] = [
    Case("429-retry-after-seconds", _same(Fault(429, retry_after="1")),
         _fixed(Outcome(RateLimitError, ATTEMPTS, waits(1.0)))),
    Case("429-retry-after-http-date", lambda wire, stream: Fault(429, retry_after=_http_date(3)),
         _fixed(Outcome(RateLimitError, ATTEMPTS, waits(3.0, low=1.0)))),
    Case("429-retry-after-ms", _same(Fault(429, retry_after_ms="1500")),
         _fixed(Outcome(RateLimitError, ATTEMPTS, waits(1.5)))),
    Case("429-no-retry-after", _same(Fault(429)), _fixed(Outcome(RateLimitError, ATTEMPTS, backoff))),
    Case("500", _same(Fault(500)), _fixed(RETRIED_SERVER)),
    Case("502-html", _same(Fault(502, raw_body=HTML)), _fixed(RETRIED_SERVER)),
    Case("503", _same(Fault(503)), _fixed(RETRIED_SERVER)),
    Case("529", _same(Fault(529)), _fixed(RETRIED_SERVER)),
    Case("401", _same(Fault(401)), _fixed(Outcome(AuthenticationError, 1))),
    Case("403", _same(Fault(403)), _fixed(Outcome(PermissionDeniedError, 1))),
    Case("404", _same(Fault(404)), _fixed(Outcome(NotFoundError, 1))),
    Case("402-out-of-credit", lambda wire, stream: wire.quota, _fixed(Outcome(QuotaExceededError, 1))),
    Case("context-length", lambda wire, stream: wire.context_length,
         _fixed(Outcome(ContextLengthExceededError, 1))),
    Case("content-filter", lambda wire, stream: wire.content_filter, _filter_outcome),
    Case("reset-before-headers", _same(Fault(reset=True)),
         _fixed(Outcome(APIConnectionError, ATTEMPTS, backoff))),
    Case("reset-mid-body", _mid_body, _mid_body_outcome),
    Case("stream-dropped-before-first-event",
         lambda wire, stream: Fault(drop_after_events=wire.first_event_at - 1, reply=REPLY),
         _fixed(Outcome(APIConnectionError, ATTEMPTS, backoff)), modes=(True,)),
    Case("truncated-sse", _truncated, _truncated_outcome),
    Case("malformed-json-200", _same(Fault(malformed=True)), _fixed(Outcome(MalformedResponseError, 1))),
    Case("empty-200", _same(Fault(200, raw_body=b"")), _fixed(Outcome(MalformedResponseError, 1))),
    Case("html-200", _same(Fault(200, raw_body=HTML)), _fixed(Outcome(MalformedResponseError, 1))),
    Case("wrong-content-type", _same(Fault(content_type="text/plain; charset=utf-8")), _fixed(Outcome(None, 1))),
    Case("headers-never-sent", _same(Reply("late", delay=5.0)),
         _fixed(Outcome(APITimeoutError, ATTEMPTS, backoff)), options=lambda stream: {"timeout": 0.25}),
    Case("trickle", _same(Fault(trickle=2.0, reply=SLOW)), _fixed(Outcome(APITimeoutError, 1)),
         # 1 s, not less: the first call of a process may import its async transport (aiohttp) inside the attempt
         options=lambda stream: {"max_retries": 0, **({"deadline": 1.0} if stream else {"timeout": 1.0})}),
    Case("50mb-body", _same(Fault(pad_bytes=BIG)), _fixed(Outcome(None, 1))),
    Case("invalid-utf8", _same(Fault(invalid_utf8=True)), _fixed(Outcome(MalformedResponseError, 1))),
    Case("error-event-mid-stream", lambda wire, stream: wire.error_event, _error_event_outcome),
]
