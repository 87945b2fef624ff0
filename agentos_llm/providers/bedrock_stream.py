"""botocore's ConverseStream EventStream, sync and async, with the connection closed whenever the reader leaves.

boto3 is synchronous. The async side reads the stream in the provider's bounded thread pool in *hops*: one
pool task reads items while they are already there (buffered frames), hands each to the event loop at once,
and gives its thread back after the first read that had to wait on the network, or after `HOP_ITEMS` items
(the next task starts when the consumer has taken them all). So a fast stream costs a few pool tasks, not
one per event, and many slow streams share the pool fairly instead of each holding a thread until it ends.
A cancelled or closed consumer closes the connection, also while a pool thread is blocked reading it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from .bedrock_frames import iter_items

__all__ = ["HOP_ITEMS", "SyncEvents", "aiter_events"]

log = logging.getLogger("agentos_llm")

HOP_ITEMS = 64
"""The most items one pool task reads before its thread goes back (and so the most the consumer has queued)."""
_WAITED = 0.001
"""A read slower than this (seconds) waited on the network rather than on buffered frames."""
_END = object()


class SyncEvents(Iterator[Any]):
    """botocore's parsed stream items ({"contentBlockDelta": {...}}, ...); `close()` (also before the first
    item) closes the connection, and so does the end of the stream."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._items = iter_items(stream)

    def __next__(self) -> Any:
        try:
            return next(self._items)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Closes the HTTP response."""
        self._stream.close()

    def sever(self) -> None:
        """Cuts the connection from another thread (the sync stream watchdog): a read blocked on it returns."""
        shut_down(self._stream)


class _Failed:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def close_quietly(stream: Any) -> None:
    """Closes an EventStream; a broken connection may fail to close, and is gone either way."""
    try:
        stream.close()
    except Exception:
        log.debug("bedrock: closing a stream failed", exc_info=True)


def _close_opened(opening: concurrent.futures.Future[Any]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        close_quietly(opening.result())


def _abort(stream: Any, hop: concurrent.futures.Future[Any] | None) -> None:
    """Closes a stream from the event loop, also while a pool thread is blocked reading it.

    Closing a socket does not wake a thread blocked in `recv`; shutting down its read side does (urllib3's
    `HTTPResponse.shutdown`). The close itself then runs when that read has returned, in its thread, so two
    threads never close one response at once.
    """
    if hop is None or hop.done():
        close_quietly(stream)
        return
    with contextlib.suppress(OSError, ValueError, RuntimeError):  # already closed or released
        shut_down(stream)
    hop.add_done_callback(lambda _: close_quietly(stream))


def shut_down(stream: Any) -> None:
    """Shuts down the read side of an EventStream's socket, waking a thread blocked reading it (urllib3 2.3+;
    older ones have no way: nothing happens). urllib3 refuses once the connection went back to its pool."""
    raw = getattr(stream, "_raw_stream", None)  # botocore keeps the urllib3 response there, and nowhere public
    shutdown = getattr(raw, "shutdown", None)
    if shutdown is not None:
        shutdown()


class _Reader:
    """One stream's hops and the queue they fill.

    A hop appends to the queue from its thread (a deque: appends and pops are atomic) and wakes the event loop
    only when the consumer is waiting, and once per wait (a wake-up is a write to the loop's self-pipe: the
    items that come before the consumer runs ride on the first), so a consumer kept busy costs no wake-up per item.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, stream: Any) -> None:
        self.loop = loop
        self.items = iter_items(stream)
        self.queue: deque[Any] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.signalled = False
        """The current waiter has a wake-up on its way."""
        self.hop: concurrent.futures.Future[None] | None = None
        self.stopped = False

    def _wake(self) -> None:  # on the loop
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _signal(self) -> None:  # in a pool thread
        # Read `waiter` before `signalled`: the consumer resets `signalled` before it sets a new waiter, so a
        # stale True can only skip the wake-up of a waiter that is already being woken.
        if self.waiter is not None and not self.signalled:
            self.signalled = True
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
                self.loop.call_soon_threadsafe(self._wake)

    def read(self) -> None:  # in a pool thread: one hop
        for _ in range(HOP_ITEMS):
            if self.stopped:
                return
            started = time.perf_counter()
            try:
                item = next(self.items, _END)
            except BaseException as exc:
                item = _Failed(exc)
            self.queue.append(item)
            self._signal()
            if item is _END or type(item) is _Failed or time.perf_counter() - started > _WAITED:
                return

    async def next(self, pool: concurrent.futures.ThreadPoolExecutor) -> Any:
        while not self.queue:
            if self.hop is None or self.hop.done():
                self.hop = pool.submit(self.read)
                # A hop that ends with nothing new must still wake a waiting consumer (to start the next one).
                self.hop.add_done_callback(lambda _: self._signal())
            self.signalled = False
            self.waiter = self.loop.create_future()
            # Checked again once `waiter` is set: an item or an end that came before it sent no wake-up.
            if not self.queue and not self.hop.done():
                await self.waiter
            self.waiter = None
        return self.queue.popleft()


async def aiter_events(pool: concurrent.futures.ThreadPoolExecutor, start: Callable[[], Any]) -> AsyncIterator[Any]:
    """The items of a stream that `start` opens, opened and read in `pool` (see the module docstring)."""
    opening = pool.submit(start)
    try:
        stream = await asyncio.wrap_future(opening)
    except asyncio.CancelledError:
        opening.add_done_callback(_close_opened)  # it may still open after the caller left: close it then
        raise
    reader = _Reader(asyncio.get_running_loop(), stream)
    try:
        while True:
            item = await reader.next(pool)
            if item is _END:
                return
            if type(item) is _Failed:
                raise item.exc
            yield item
    finally:
        reader.stopped = True
        _abort(stream, reader.hop)
