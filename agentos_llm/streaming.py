"""How a stream runs under the retry policy, and how long an attempt may take.

A stream is one attempt until its first event: it is opened and read up to that event within the
attempt's `timeout` (and retried before it like a whole call). After it, every read is bounded by the
HTTP client's per-read timeout and by `stream_idle_timeout` (a sync stream's by the watchdog thread of
`agentos_llm.stream_watchdog`), and the whole stream by the call's `deadline`, checked between chunks.
Whatever happens (an error, a timeout, a caller that leaves early or cancels), the HTTP response is closed.

A stream that ends without any event at all is not a stream (`MalformedResponseError`); one that ends
before its end marker is reported by the converter's assembler (`APIConnectionError`, see docs/errors.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from . import stream_watchdog
from .errors import APITimeoutError, MalformedResponseError
from .pricing import prefetch as prefetch_prices
from .received import Heard, Received
from .response_metadata import heard_into, observed
from .types import CompletionResponse, DoneEvent, StreamEvent, UsageEvent

if TYPE_CHECKING:
    from .provider import Call, IProvider, StreamAssembler
    from .retry import RetryPolicy

__all__ = ["DEFAULT_STREAM_IDLE_TIMEOUT", "arun_stream", "noted", "run_stream", "within"]

T = TypeVar("T")
_TIMEOUTS = (TimeoutError, asyncio.TimeoutError)
DEFAULT_STREAM_IDLE_TIMEOUT = 60.0
"""Seconds a stream may go without a chunk after its first event (`IProvider.stream_idle_timeout`).
Vendors send keep-alive pings far more often; a connection that falls silent this long is dead, and waiting
for the HTTP read timeout (600 s by default) would hold the caller for ten minutes."""


async def within(aw: Awaitable[T], seconds: float | None) -> T:
    """`await aw`, cancelled after `seconds` (then `TimeoutError`); None waits as long as it takes."""
    if seconds is None:
        return await aw
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await aw
    return await asyncio.wait_for(aw, seconds)  # pragma: no cover - Python 3.10


def noted(response: CompletionResponse, heard: Heard | None) -> CompletionResponse:
    """The response with the request id and rate limits its headers stated."""
    if heard is not None:
        response.request_id = heard.request_id or response.request_id
        response.rate_limits = heard.rate_limits()
        heard_into(response, heard)  # status and selected headers, for `response.metadata`
    return response


class _Opened:
    """A stream read up to its first event (or to its end, when it had none)."""

    __slots__ = ("assembler", "ended", "events", "fed", "heard", "sent")

    def __init__(self, assembler: StreamAssembler, sent: Any = None) -> None:
        self.assembler: StreamAssembler = observed(assembler)  # notes the service tier events name
        self.sent = sent  # the request's own headers: whose rate limits the response's are (a per-request key)
        self.heard: Heard | None = None
        self.events: Sequence[StreamEvent] = ()
        self.fed = False
        self.ended: tuple[Sequence[StreamEvent], CompletionResponse] | None = None

    def take(self, p: IProvider, chunk: Any) -> bool:
        """Feeds one chunk; True once it gave the first events."""
        if type(chunk) is Received:  # the response's headers, before any chunk
            self.heard = p._hear(chunk.headers, self.sent, chunk.status)
            return False
        self.fed = True
        self.events = self.assembler.feed(chunk)
        return bool(self.events)

    def end(self, p: IProvider) -> tuple[Sequence[StreamEvent], CompletionResponse]:
        """The assembler's tail and response; a body that carried no stream chunk at all is malformed."""
        if not self.fed:
            raise MalformedResponseError("the answer to a stream request carried no stream events",
                                         provider=p.provider_id)
        return p._parse(self.assembler.finish)


def _deadline_end(policy: RetryPolicy, started: float) -> float | None:
    return None if policy.deadline is None else started + policy.deadline


def _deadline_passed(p: IProvider, policy: RetryPolicy) -> APITimeoutError:
    return APITimeoutError(f"the deadline of {policy.deadline:g}s passed while the stream was being read",
                           provider=p.provider_id)


def _idle_too_long(p: IProvider, idle: float) -> APITimeoutError:
    return APITimeoutError(f"the stream received nothing for {idle:g}s (stream_idle_timeout)", provider=p.provider_id)


class _QuietGuard:
    """Cancels the task reading an async stream once the stream has been silent for `idle` seconds, or its
    deadline (`end`, monotonic) has passed, while it waits for a chunk (never while the consumer holds an event:
    `paused`). One timer checks; it is moved only when it fires, so a chunk costs a clock read."""

    __slots__ = ("cancelling", "end", "fired", "handle", "idle", "last", "loop", "paused", "task")

    def __init__(self, idle: float | None, end: float | None) -> None:
        self.loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self.task = task
        self.cancelling: int = cast(Any, task).cancelling()  # Python 3.11+
        self.idle = idle
        self.end = end
        self.last = time.monotonic()
        self.paused = False
        self.fired: str | None = None
        self.handle = self.loop.call_later(self._wait(self.last), self._check)

    def _wait(self, now: float) -> float:
        due = float("inf") if self.idle is None else self.last + self.idle
        if self.end is not None:
            due = min(due, self.end)
        return max(due - now, 0.0)

    def _check(self) -> None:
        now = time.monotonic()
        if self.paused:  # the consumer holds an event: look again later (its next read checks the deadline)
            delay = self.idle if self.idle is not None else float("inf")
            if self.end is not None and self.end > now:
                delay = min(delay, self.end - now)
            if delay != float("inf"):
                self.handle = self.loop.call_later(delay, self._check)
            return
        if self.end is not None and now >= self.end:
            self.fired = "deadline"
        elif self.idle is not None and now - self.last >= self.idle:
            self.fired = "idle"
        if self.fired:
            self.task.cancel()
        else:
            self.handle = self.loop.call_later(max(self._wait(now), 0.001), self._check)

    def stand_down(self) -> bool:
        """After the cancel it caused: takes it back; False when the task was cancelled from outside as well."""
        remaining: int = cast(Any, self.task).uncancel()
        return remaining <= self.cancelling

    def close(self) -> None:
        """Stops the timer."""
        self.handle.cancel()


def _first_event_late(p: IProvider, timeout: float) -> APITimeoutError:
    return APITimeoutError(f"no stream event within the attempt's timeout of {timeout:g}s", provider=p.provider_id)


def _close_quietly(chunks: Any) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):  # a broken connection may fail to close, and is gone either way
            close()


async def _aclose_quietly(chunks: Any) -> None:
    close = getattr(chunks, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


def _finish(p: IProvider, opened: _Opened, call: Call,
            ended: tuple[Sequence[StreamEvent], CompletionResponse]) -> Iterator[StreamEvent]:
    tail, response = ended
    yield from p._priced(tail, response.model)
    yield DoneEvent(response=p._finish(response, opened.heard))


# ---------------------------------------------------------------------- sync


def _read_to_first(p: IProvider, call: Call, chunks: Iterator[Any], opened: _Opened, timeout: float | None
                   ) -> _Opened:
    end = None if timeout is None else time.monotonic() + timeout
    for chunk in chunks:
        if opened.take(p, chunk):
            opened.events = p._priced(opened.events, call.model)
            return opened
        if end is not None and time.monotonic() > end:
            raise _first_event_late(p, timeout or 0.0)
    opened.ended = opened.end(p)  # ended before its first event: still within the attempt (retried if it may be)
    return opened


def run_stream(p: IProvider, call: Call) -> Iterator[StreamEvent]:
    """`p`'s events for a stream call, its connection closed at the end, on error, or when left early."""
    request, headers = p._wire_request(call)
    prefetch_prices()  # the first stream's price is ready when its usage is
    policy = p._policy(call.options)
    started = time.monotonic()

    def open_first(timeout: float | None) -> tuple[Iterator[Any], _Opened]:
        # A stream is retried only until its first event: open it and read up to that event.
        opened = _Opened(p._stream_assembler(call), headers)
        chunks: Iterator[Any] | None = None
        try:
            chunks = p._open_stream(request, timeout, headers)
            return chunks, _read_to_first(p, call, chunks, opened, timeout)
        except BaseException as exc:
            if chunks is not None:  # e.g. an error event before the first delta: the response is still open
                _close_quietly(chunks)
            if isinstance(exc, Exception):
                p._reraise(exc)
            raise

    chunks, opened = policy.call(open_first)
    try:
        yield from opened.events
        ended = opened.ended
        if ended is None:
            end = _deadline_end(policy, started)
            assembler = opened.assembler
            idle: float | None = getattr(p, "stream_idle_timeout", None)
            if idle is None:
                for chunk in chunks:
                    if end is not None and time.monotonic() > end:
                        raise _deadline_passed(p, policy)
                    yield from p._priced(assembler.feed(chunk), call.model)
            else:
                # A read blocked in this thread cannot time out here: the watchdog thread cuts the connection of
                # a stream silent for `idle` (agentos_llm.stream_watchdog). This loop only notes its waits.
                watch = stream_watchdog.watch(idle, getattr(chunks, "sever", None))
                monotonic, paused = time.monotonic, stream_watchdog.PAUSED
                feed, price, model = assembler.feed, p._price, call.model
                try:
                    for chunk in chunks:
                        if watch.fired:  # not cut (its transport has no way), but silent for too long all the same
                            break
                        if end is not None and monotonic() > end:
                            raise _deadline_passed(p, policy)
                        events = feed(chunk)
                        if events:
                            watch.since = paused  # the consumer's time between events is not silence
                            for event in events:  # `_priced`, without a call per chunk
                                if type(event) is UsageEvent:
                                    price(event.usage, model)
                                yield event
                        watch.since = monotonic()
                except Exception:
                    if watch.fired:  # the cut connection's error stands for the silence that caused it
                        raise _idle_too_long(p, idle) from None
                    raise
                finally:
                    stream_watchdog.unwatch(watch)  # before the response is closed (and its connection pooled)
                if watch.fired:
                    raise _idle_too_long(p, idle)
            ended = opened.end(p)
        yield from _finish(p, opened, call, ended)
    except Exception as exc:
        p._reraise(exc)
    finally:
        _close_quietly(chunks)


# ---------------------------------------------------------------------- async


async def _aread_to_first(p: IProvider, call: Call, chunks: AsyncIterator[Any], opened: _Opened) -> _Opened:
    async for chunk in chunks:
        if opened.take(p, chunk):
            opened.events = p._priced(opened.events, call.model)
            return opened
    opened.ended = opened.end(p)
    return opened


def _earliest(a: float | None, b: float | None) -> float:
    if a is None:
        return b if b is not None else float("inf")
    return a if b is None else min(a, b)


async def _anext_within(chunks: AsyncIterator[Any], end: float) -> Any:
    """The next chunk, or a `TimeoutError` once `end` (monotonic) has passed."""
    left = end - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return await within(chunks.__anext__(), left)


async def arun_stream(p: IProvider, call: Call) -> AsyncIterator[StreamEvent]:
    """`run_stream`, async; cancelling the consumer closes the connection."""
    request, headers = p._wire_request(call)
    prefetch_prices()  # the first stream's price is ready when its usage is
    policy = p._policy(call.options)
    started = time.monotonic()

    async def open_first(timeout: float | None) -> tuple[AsyncIterator[Any], _Opened]:
        opened = _Opened(p._stream_assembler(call), headers)
        chunks: AsyncIterator[Any] | None = None
        try:
            chunks = p._aopen_stream(request, timeout, headers)
            return chunks, await within(_aread_to_first(p, call, chunks, opened), timeout)
        except BaseException as exc:
            if chunks is not None:
                await _aclose_quietly(chunks)
            if isinstance(exc, _TIMEOUTS) and timeout is not None:
                raise _first_event_late(p, timeout) from None
            if isinstance(exc, Exception):
                p._reraise(exc)
            raise

    chunks, opened = await policy.acall(open_first)
    try:
        for event in opened.events:
            yield event
        ended = opened.ended
        if ended is None:
            end = _deadline_end(policy, started)
            idle: float | None = getattr(p, "stream_idle_timeout", None)
            assembler = opened.assembler
            if end is None and idle is None:
                async for chunk in chunks:
                    for event in p._priced(assembler.feed(chunk), call.model):
                        yield event
            elif sys.version_info >= (3, 11):
                # One timer per stream, moved only when it fires (a timeout around every read would cost
                # microseconds per event): it cancels the read of a stream silent for `idle`, or past its deadline.
                guard = _QuietGuard(idle, end)
                monotonic, feed, price, model = time.monotonic, assembler.feed, p._price, call.model
                try:
                    async for chunk in chunks:
                        guard.paused = True  # the consumer's time between events is not silence
                        for event in feed(chunk):  # `_priced`, without a call per chunk
                            if type(event) is UsageEvent:
                                price(event.usage, model)
                            yield event
                        if end is not None and monotonic() >= end:
                            raise _deadline_passed(p, policy)
                        guard.last = monotonic()
                        guard.paused = False
                except asyncio.CancelledError:
                    if not guard.fired or not guard.stand_down():
                        raise
                    if guard.fired == "deadline":
                        raise _deadline_passed(p, policy) from None
                    raise _idle_too_long(p, idle or 0.0) from None
                finally:
                    guard.close()
            else:  # pragma: no cover - Python 3.10: no Task.uncancel, a timeout around each read
                while True:
                    quiet_end = None if idle is None else time.monotonic() + idle
                    try:
                        chunk = await _anext_within(chunks, _earliest(end, quiet_end))
                    except StopAsyncIteration:
                        break
                    except _TIMEOUTS:
                        now = time.monotonic()
                        if end is not None and now >= end:
                            raise _deadline_passed(p, policy) from None
                        if idle is not None and quiet_end is not None and now >= quiet_end:
                            raise _idle_too_long(p, idle) from None
                        raise  # the transport's own timeout (a read), typed by `_reraise` below
                    for event in p._priced(assembler.feed(chunk), call.model):
                        yield event
            ended = opened.end(p)
        for event in _finish(p, opened, call, ended):
            yield event
    except Exception as exc:
        p._reraise(exc)
    finally:
        await _aclose_quietly(chunks)
