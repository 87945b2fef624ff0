"""Watching one provider call: the span, the manager's hooks and the DEBUG record, opened and closed once.

`IProvider` asks `watch(...)` at the start of each call; with OpenTelemetry not instrumented, no manager hooks
in force and DEBUG off for `agentos_llm.calls`, it answers None after three checks and the call runs as
before. Nothing here imports OpenTelemetry: the sink that does (`agentos_llm.telemetry.otel`) is installed by
`instrument()`.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..types import DoneEvent, StreamEvent, Usage, UsageEvent

if TYPE_CHECKING:
    from ..provider import IProvider
    from .hooks import Hooks

__all__ = ["CALL_LOG", "Sink", "Watch", "active_hooks", "state", "watch"]

T = TypeVar("T")
CALL_LOG = logging.getLogger("agentos_llm.calls")
"""One DEBUG record per provider call (a child of the `agentos_llm` logger)."""
_DEBUG = logging.DEBUG
_ids = itertools.count(1)

_HOOKS: ContextVar[Hooks | None] = ContextVar("agentos_llm_call_hooks", default=None)


class Sink(Protocol):
    """Where spans and metrics go (the OpenTelemetry sink, once `instrument()` ran)."""

    def start(self, w: Watch) -> Any:
        """Opens the call's span (or None)."""
        ...

    def activate(self, span: Any) -> Any:
        """Makes the span current; returns a token for `deactivate`."""
        ...

    def deactivate(self, token: Any) -> None:
        """Undoes `activate`."""
        ...

    def end(self, w: Watch, result: Any, error: BaseException | None) -> None:
        """Ends the call's span and records its metrics."""
        ...

    def start_route(self, kind: str, label: str, route: str | None, targets: list[str]) -> Any:
        """Opens the span of a manager call."""
        ...

    def end_route(self, span: Any, result: Any, error: BaseException | None) -> None:
        """Ends the span of a manager call."""
        ...


class _State:
    __slots__ = ("sink",)

    def __init__(self) -> None:
        self.sink: Sink | None = None


state = _State()
"""The process-wide telemetry state: `state.sink` is set by `instrument()` and cleared by `uninstrument()`."""


def active_hooks() -> Hooks | None:
    """The manager hooks in force for the current call (set by the manager around its calls)."""
    return _HOOKS.get()


class Watch:
    """One observed provider call: opened before it is sent, closed once (ok, error or cancelled)."""

    __slots__ = ("call_id", "closed", "hooks", "log", "model", "op", "provider", "sink", "source", "span", "t0",
                 "ttft", "usage", "wall")

    def __init__(self, provider: IProvider, op: str, model: str, source: Any, sink: Sink | None,
                 hooks: Hooks | None, log: bool) -> None:
        self.provider = provider
        self.op = op
        self.model = model
        self.source = source
        self.sink = sink
        self.hooks = hooks
        self.log = log
        self.call_id = next(_ids)
        self.ttft: float | None = None
        self.usage: Usage | None = None
        self.closed = False
        self.wall = time.time()
        self.t0 = time.perf_counter()
        if hooks is not None:
            hooks.request(self)
        self.span = sink.start(self) if sink is not None else None

    # ------------------------------------------------------------------ closing

    def elapsed(self) -> float:
        """Seconds since the call started."""
        return time.perf_counter() - self.t0

    def done(self, result: Any) -> None:
        """Closes a call that answered."""
        self._close(result, None, "ok")

    def fail(self, exc: BaseException) -> None:
        """Closes a call that failed."""
        self._close(None, exc, "error")

    def cancel(self) -> None:
        """Closes a stream left before its end."""
        self._close(None, None, "cancelled")

    def _close(self, result: Any, error: BaseException | None, status: str) -> None:
        if self.closed:
            return
        self.closed = True
        latency = time.perf_counter() - self.t0
        if self.sink is not None:
            try:
                self.sink.end(self, result, error)
            except Exception:  # telemetry never fails a call
                logging.getLogger("agentos_llm.telemetry").exception("could not end the call's span")
        if self.log:
            from .calllog import log_call

            log_call(self, result, error, status, latency)
        if self.hooks is not None:
            self.hooks.outcome(self, result, error, status, latency)

    # ------------------------------------------------------------------ whole calls

    def run(self, fn: Callable[[], T]) -> T:
        """Runs a whole call under this watch (its span current meanwhile)."""
        sink, token = self.sink, None
        if sink is not None and self.span is not None:
            token = sink.activate(self.span)
        try:
            result = fn()
        except BaseException as exc:
            self.fail(exc)
            raise
        finally:
            if token is not None and sink is not None:
                sink.deactivate(token)
        self.done(result)
        return result

    async def arun(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Awaits a whole call under this watch (its span current meanwhile)."""
        sink, token = self.sink, None
        if sink is not None and self.span is not None:
            token = sink.activate(self.span)
        try:
            result = await fn()
        except BaseException as exc:
            self.fail(exc)
            raise
        finally:
            if token is not None and sink is not None:
                sink.deactivate(token)
        self.done(result)
        return result

    # ------------------------------------------------------------------ streams

    def stream(self, make: Callable[[], Iterator[StreamEvent]]) -> WatchedStream:
        """The events `make()` gives, watched; a failure to make them (a budget) closes the watch."""
        try:
            events = make()
        except BaseException as exc:
            self.fail(exc)
            raise
        return WatchedStream(self, events)

    def astream(self, make: Callable[[], AsyncIterator[StreamEvent]]) -> AsyncWatchedStream:
        """`stream` for an async stream."""
        try:
            events = make()
        except BaseException as exc:
            self.fail(exc)
            raise
        return AsyncWatchedStream(self, events)

    def observe(self, event: StreamEvent) -> None:
        """Notes one stream event: the first one's time, the usage, the end."""
        if self.ttft is None:
            self.ttft = time.perf_counter() - self.t0
        if isinstance(event, UsageEvent):
            self.usage = event.usage
        elif isinstance(event, DoneEvent):
            self.done(event.response)


def watch(provider: IProvider, op: str, model: str, source: Any) -> Watch | None:
    """A watch over one call, or None when nothing observes calls (the common, free case)."""
    sink = state.sink
    hooks = _HOOKS.get()
    log = CALL_LOG.isEnabledFor(_DEBUG)
    if sink is None and hooks is None and not log:
        return None
    return Watch(provider, op, model, source, sink, hooks, log)


def watch_span(provider: IProvider, op: str, model: str, source: Any) -> Watch | None:
    """A watch that only spans (a call made of other watched calls: structured output's attempts)."""
    sink = state.sink
    if sink is None:
        return None
    return Watch(provider, op, model, source, sink, None, False)


class WatchedStream(Iterator[StreamEvent]):
    """A sync event stream whose watch closes at `done`, on an error, or when the stream is closed early."""

    def __init__(self, w: Watch, events: Iterator[StreamEvent]) -> None:
        self._watch = w
        self._events = events

    def __iter__(self) -> WatchedStream:
        return self

    def __next__(self) -> StreamEvent:
        w = self._watch
        token = None
        if w.ttft is None and w.sink is not None and w.span is not None:
            token = w.sink.activate(w.span)  # the request goes out now: HTTP spans nest under this one
        try:
            event = next(self._events)
        except StopIteration:
            w.cancel()  # ended without `done`: only if the provider broke its contract
            raise
        except BaseException as exc:
            w.fail(exc)
            raise
        finally:
            if token is not None and w.sink is not None:
                w.sink.deactivate(token)
        w.observe(event)
        return event

    def close(self) -> None:
        """Closes the underlying stream; a stream left before `done` ends its span as cancelled."""
        try:
            close = getattr(self._events, "close", None)
            if close is not None:
                close()
        finally:
            self._watch.cancel()

    def __del__(self) -> None:
        if not self._watch.closed:
            self._watch.cancel()


class AsyncWatchedStream(AsyncIterator[StreamEvent]):
    """An async event stream whose watch closes at `done`, on an error, or when the stream is closed early."""

    def __init__(self, w: Watch, events: AsyncIterator[StreamEvent]) -> None:
        self._watch = w
        self._events = events

    def __aiter__(self) -> AsyncWatchedStream:
        return self

    async def __anext__(self) -> StreamEvent:
        w = self._watch
        token = None
        if w.ttft is None and w.sink is not None and w.span is not None:
            token = w.sink.activate(w.span)
        try:
            event = await self._events.__anext__()
        except StopAsyncIteration:
            w.cancel()
            raise
        except BaseException as exc:
            w.fail(exc)
            raise
        finally:
            if token is not None and w.sink is not None:
                w.sink.deactivate(token)
        w.observe(event)
        return event

    async def aclose(self) -> None:
        """Closes the underlying stream; a stream left before `done` ends its span as cancelled."""
        try:
            close = getattr(self._events, "aclose", None)
            if close is not None:
                await close()
        finally:
            self._watch.cancel()

    def __del__(self) -> None:
        if not self._watch.closed:
            self._watch.cancel()
