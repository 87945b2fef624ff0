"""The stream objects `stream` / `stream_sync` return, and the assembler protocol a provider's stream uses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Protocol

from .errors import MalformedResponseError
from .types import CompletionResponse, DoneEvent, StreamEvent

__all__ = ["AsyncEventStream", "EventStream", "StreamAssembler"]


class StreamAssembler(Protocol):
    """Turns a vendor's stream chunks into events, and at the end into the whole response."""

    def feed(self, chunk: Any) -> Sequence[StreamEvent]:
        """Events for one chunk (often one, sometimes none)."""
        ...

    def finish(self) -> tuple[Sequence[StreamEvent], CompletionResponse]:
        """Trailing events and the whole response, once the stream has ended."""
        ...


class EventStream(Iterator[StreamEvent]):
    """A sync stream of events; leaving it early (or `close()`) closes the HTTP response."""

    def __init__(self, events: Iterator[StreamEvent]) -> None:
        self._events = events

    def __iter__(self) -> Iterator[StreamEvent]:
        # A `for` loop reads the events themselves: no call of ours per event (`__next__` serves `next()`).
        return self._events

    def __next__(self) -> StreamEvent:
        return next(self._events)

    def close(self) -> None:
        """Stops the stream and releases its connection."""
        close = getattr(self._events, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncEventStream(AsyncIterator[StreamEvent]):
    """An async stream of events; `async with` (or `aclose()`) closes the HTTP response when left early."""

    def __init__(self, events: AsyncIterator[StreamEvent]) -> None:
        self._events = events

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        # An `async for` reads the events themselves: no coroutine of ours per event (`__anext__` serves `anext()`).
        return self._events

    async def __anext__(self) -> StreamEvent:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        """Stops the stream and releases its connection."""
        close = getattr(self._events, "aclose", None)
        if close is not None:
            await close()

    async def __aenter__(self) -> AsyncEventStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _done_response(events: Iterator[StreamEvent]) -> CompletionResponse:
    """The response a stream's `done` event carries (the stream is closed either way)."""
    try:
        for event in events:
            if isinstance(event, DoneEvent):
                return event.response
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
    raise MalformedResponseError("the stream ended without a response")


async def _aclose(it: AsyncIterator[Any]) -> None:
    close = getattr(it, "aclose", None)
    if close is not None:
        await close()

