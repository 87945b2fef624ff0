"""Async clients kept per event loop, each closed on the loop that owns it.

Pooled connections belong to the loop that opened them, so a provider used from several loops (a notebook,
repeated `asyncio.run`, the sync bridge) keeps one async client per loop. Each is closed:

- when its loop shuts its async generators down (the end of `asyncio.run`, of an `asyncio.Runner`, of a
  pytest-asyncio test): a guard started on that loop closes it there, while the loop can still run the close;
- by `aclose()` / `close()`, whichever loop it belongs to: the running loop's is awaited, one of a loop running
  in another thread is closed there, one of an idle loop is closed by running that loop (sync `close()` only);
- one of a loop closed without that shutdown is dropped: its sockets are released at once and the dead
  loop's transports' ResourceWarnings are not shown (nothing can close them the normal way any more).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import warnings
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Generic, TypeVar

__all__ = ["LoopClients", "at_loop_shutdown", "drop_quietly", "finish_guard"]

A = TypeVar("A")
_CLOSE_WAIT = 5.0
"""Seconds `close()` waits for a close running on another thread's loop."""


def at_loop_shutdown(close: Callable[[], Awaitable[Any]]) -> AsyncGenerator[None, None]:
    """A guard that awaits `close()` on the running loop when that loop shuts its async generators down.

    Keep the guard; `finish_guard` (or `await guard.aclose()`) retires it. Must be called on the running loop.
    """

    async def guard() -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            await close()

    agen = guard()
    # Started here, synchronously: its first iteration registers it with the running loop's async generator
    # hooks (asyncio.run closes such generators before it closes the loop).
    with contextlib.suppress(StopIteration):
        agen.asend(None).send(None)
    return agen


def finish_guard(guard: AsyncGenerator[None, None]) -> None:
    """Retires a guard whose `close` has nothing left to do (it must not await), from any thread or loop."""
    closing = guard.aclose()
    try:
        closing.send(None)
    except (StopIteration, RuntimeError):  # finished; or already closing
        pass
    else:  # pragma: no cover - the close awaited something: give up on it quietly
        closing.close()


def drop_quietly(objects: list[Any]) -> None:
    """Releases clients of loops that are gone: collected now, their sockets closed by their finalizers, and
    the ResourceWarnings of transports that can no longer be closed the normal way not shown.

    The collection runs in a thread of its own, where no loop runs: an SDK client's finalizer would otherwise
    schedule its close on the caller's loop, which cannot close another (dead) loop's transports.
    """
    def release() -> None:
        objects.clear()  # here, so that finalizers run in this thread (the list holds the last references)
        gc.collect()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        collector = threading.Thread(target=release, name="agentos-llm-drop-clients")
        collector.start()
        collector.join()


class LoopClients(Generic[A]):
    """One async client per event loop (made on first use there), closed as the module docstring says."""

    def __init__(self, make: Callable[[], A], close: Callable[[A], Awaitable[Any]]) -> None:
        self._make = make
        self._close = close
        self._lock = threading.Lock()
        self._clients: dict[asyncio.AbstractEventLoop, tuple[A, AsyncGenerator[None, None]]] = {}

    def __len__(self) -> int:
        return len(self._clients)

    def get(self) -> A:
        """The running loop's client."""
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is not None:
            return entry[0]
        stale: list[Any] = []
        with self._lock:
            for dead in [lp for lp in self._clients if lp.is_closed()]:  # loops closed without a shutdown
                stale.append(self._clients.pop(dead))
            entry = self._clients.get(loop)
            if entry is None:
                client = self._make()
                entry = self._clients[loop] = (client, at_loop_shutdown(lambda: self._closing(loop, client)))
        if stale:
            self._drop(stale)
        return entry[0]

    async def _closing(self, loop: asyncio.AbstractEventLoop, client: A) -> None:
        """The guard's close: this loop is shutting down; close its client unless that is done already."""
        with self._lock:
            entry = self._clients.get(loop)
            if entry is None or entry[0] is not client:
                return
            del self._clients[loop]
        await self._close(client)

    async def _close_here(self, client: A, guard: AsyncGenerator[None, None]) -> None:
        try:
            await self._close(client)
        finally:
            finish_guard(guard)

    def _take_all(self) -> list[tuple[asyncio.AbstractEventLoop, tuple[A, AsyncGenerator[None, None]]]]:
        with self._lock:
            entries = list(self._clients.items())
            self._clients.clear()
        return entries

    @staticmethod
    def _drop(stale: list[Any]) -> None:
        for guard in [entry[1] for entry in stale]:  # no loop variable may keep a client alive past the drop
            finish_guard(guard)
        del guard
        drop_quietly(stale)

    async def aclose(self) -> None:
        """Closes every loop's client (awaiting those of this loop and of loops running elsewhere)."""
        running = asyncio.get_running_loop()
        stale: list[Any] = []
        for loop, (client, guard) in self._take_all():
            if loop is running:
                await self._close_here(client, guard)
            elif loop.is_running():
                try:
                    there = asyncio.run_coroutine_threadsafe(self._close_here(client, guard), loop)
                    await asyncio.wait_for(asyncio.wrap_future(there), _CLOSE_WAIT)
                except (RuntimeError, asyncio.TimeoutError):  # that loop stopped or is stuck
                    stale.append((client, guard))
            else:
                stale.append((client, guard))
        client = guard = None  # type: ignore[assignment]  # no reference may outlive the drop
        if stale:
            self._drop(stale)

    def close(self) -> None:
        """Closes every loop's client from sync code (a close due on this thread's running loop is scheduled)."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        stale: list[Any] = []
        for loop, (client, guard) in self._take_all():
            try:
                if loop is running:
                    task = loop.create_task(self._close_here(client, guard))
                    _PENDING.add(task)
                    task.add_done_callback(_PENDING.discard)
                elif loop.is_running():
                    asyncio.run_coroutine_threadsafe(self._close_here(client, guard), loop).result(_CLOSE_WAIT)
                elif not loop.is_closed() and running is None:
                    loop.run_until_complete(self._close_here(client, guard))
                else:
                    stale.append((client, guard))
            except Exception:  # that loop stopped, is stuck, or was started meanwhile
                stale.append((client, guard))
        client = guard = None  # type: ignore[assignment]
        if stale:
            self._drop(stale)


_PENDING: set[asyncio.Task[None]] = set()
"""Closes scheduled by `close()` on a running loop, kept until they finish."""
