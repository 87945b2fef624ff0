"""Watching one manager call: its hooks in force for every hop, and its span as the hops' parent.

The manager's hooks reach the provider calls through a context variable set around the call (so a provider
answers the hooks of the manager that called it, and a provider called directly answers none). A stream sets
it, and makes the route's span current, around each step of the relay: a generator cannot hold a context
across the caller's code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from ..types import DoneEvent, StreamEvent
from .watch import _HOOKS, state

if TYPE_CHECKING:
    from ..routing import CallPlan
    from .hooks import Hooks
    from .watch import Sink

__all__ = ["RouteWatch", "route_watch"]

T = TypeVar("T")


class RouteWatch:
    """One manager call: the hooks to hand down and the route's span (either may be absent)."""

    __slots__ = ("closed", "hooks", "sink", "span")

    def __init__(self, plan: CallPlan, hooks: Hooks | None, sink: Sink | None) -> None:
        self.hooks = hooks
        self.sink = sink
        self.closed = False
        self.span = None
        if sink is not None:
            targets = [plan.label(i) for i in range(len(plan.targets))]
            label = plan.route or (targets[0] if targets else "default")
            self.span = sink.start_route(plan.kind, label, plan.route, targets)

    def _enter(self) -> tuple[Any, Any]:
        hooks_token = _HOOKS.set(self.hooks)
        span_token = self.sink.activate(self.span) if self.sink is not None else None
        return hooks_token, span_token

    def _exit(self, tokens: tuple[Any, Any]) -> None:
        if tokens[1] is not None and self.sink is not None:
            self.sink.deactivate(tokens[1])
        _HOOKS.reset(tokens[0])

    def _end(self, result: Any, error: BaseException | None) -> None:
        if self.closed:
            return
        self.closed = True
        if self.sink is not None and self.span is not None:
            try:
                self.sink.end_route(self.span, result, error)
            except Exception:  # telemetry never fails a call
                import logging

                logging.getLogger("agentos_llm.telemetry").exception("could not end the route's span")

    def run(self, fn: Callable[[], T]) -> T:
        """Runs a whole manager call under this watch."""
        tokens = self._enter()
        try:
            result = fn()
        except BaseException as exc:
            self._end(None, exc)
            raise
        finally:
            self._exit(tokens)
        self._end(result, None)
        return result

    async def arun(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Awaits a whole manager call under this watch."""
        tokens = self._enter()
        try:
            result = await fn()
        except BaseException as exc:
            self._end(None, exc)
            raise
        finally:
            self._exit(tokens)
        self._end(result, None)
        return result

    def stream(self, events: Iterator[StreamEvent]) -> Iterator[StreamEvent]:
        """The manager's stream relay, each step under this watch."""
        try:
            while True:
                tokens = self._enter()
                try:
                    event = next(events)
                except StopIteration:
                    return
                except BaseException as exc:
                    self._end(None, exc)
                    raise
                finally:
                    self._exit(tokens)
                if isinstance(event, DoneEvent):
                    self._end(event.response, None)
                yield event
        finally:
            tokens = self._enter()
            try:
                close = getattr(events, "close", None)
                if close is not None:
                    close()
            finally:
                self._exit(tokens)
                self._end(None, None)

    async def astream(self, events: AsyncIterator[StreamEvent]) -> AsyncIterator[StreamEvent]:
        """`stream` for the async relay."""
        try:
            while True:
                tokens = self._enter()
                try:
                    event = await events.__anext__()
                except StopAsyncIteration:
                    return
                except BaseException as exc:
                    self._end(None, exc)
                    raise
                finally:
                    self._exit(tokens)
                if isinstance(event, DoneEvent):
                    self._end(event.response, None)
                yield event
        finally:
            tokens = self._enter()
            try:
                close = getattr(events, "aclose", None)
                if close is not None:
                    await close()
            finally:
                self._exit(tokens)
                self._end(None, None)


def route_watch(plan: CallPlan, hooks: Hooks | None) -> RouteWatch | None:
    """A watch over one manager call, or None when neither hooks nor OpenTelemetry observe it."""
    sink = state.sink
    if hooks is None and sink is None:
        return None
    return RouteWatch(plan, hooks, sink)
