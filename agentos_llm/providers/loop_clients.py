"""Async clients kept per event loop, each closed on the loop that owns it.

Pooled connections belong to the loop that opened them, so a provider used from several loops (a notebook,
repeated `asyncio.run`, the sync bridge) keeps one async client per loop. Each is closed:

- when its loop shuts its async generators down (the end of `asyncio.run`, of an `asyncio.Runner`, of a
  pytest-asyncio test): a guard started on that loop closes it there, while the loop can still run the close;
- by `aclose()` / `close()`, whichever loop it belongs to: the running loop's is awaited, one of a loop running
  in another thread is closed there, one of an idle loop is closed by running that loop (sync `close()` only);
- when its owner is garbage-collected unclosed: closed on its own loop all the same, with a `ResourceWarning`
  (the garbage collector alone would close its sockets under the loop's feet);
- one of a loop closed without that shutdown is dropped: its sockets are released at once and the dead
  loop's transports' ResourceWarnings are not shown (nothing can close them the normal way any more).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import warnings
import weakref
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


class _Entries(Generic[A]):
    """The clients of a `LoopClients`, apart from it: its loop guards and its finalizer hold these, never the
    `LoopClients` itself, so dropping the owner is what lets the finalizer run."""

    def __init__(self, close: Callable[[A], Awaitable[Any]]) -> None:
        self.close = close
        self.lock = threading.Lock()
        self.clients: dict[asyncio.AbstractEventLoop, tuple[A, AsyncGenerator[None, None]]] = {}

    async def closing(self, loop: asyncio.AbstractEventLoop, client: A) -> None:
        """The guard's close: this loop is shutting down; close its client unless that is done already."""
        with self.lock:
            entry = self.clients.get(loop)
            if entry is None or entry[0] is not client:
                return
            del self.clients[loop]
        await self.close(client)

    async def close_here(self, client: A, guard: AsyncGenerator[None, None]) -> None:
        try:
            await self.close(client)
        finally:
            finish_guard(guard)

    def take_all(self) -> list[tuple[asyncio.AbstractEventLoop, tuple[A, AsyncGenerator[None, None]]]]:
        with self.lock:
            entries = list(self.clients.items())
            self.clients.clear()
        return entries


def _abandoned(entries: _Entries[Any], owner: str) -> None:
    """The finalizer of a `LoopClients` dropped unclosed: each client is closed on its own loop, soon.

    Left to the garbage collector, the clients' sockets would be closed under their loops' feet: a selector
    could keep a dead descriptor registered, or a late close unregister the new connection that reused it,
    and a stream on that connection would wait for its read timeout. Here the clients stay alive (this
    finalizer holds them) until their loops close them the normal way.
    """
    taken = entries.take_all()
    if not taken:
        return
    warnings.warn(f"{owner} was garbage-collected without aclose()/close(): its async clients are closed on their "
                  "event loops now; close providers (or use `async with`) to release connections deterministically",
                  ResourceWarning, stacklevel=2)
    stale: list[Any] = []
    for loop, (client, guard) in taken:
        if loop.is_closed():
            stale.append((client, guard))
            continue
        try:
            loop.call_soon_threadsafe(_spawn_close, loop, entries.close_here(client, guard))
        except RuntimeError:  # closed meanwhile
            stale.append((client, guard))
    client = guard = None  # type: ignore[assignment]
    if stale:
        LoopClients._drop(stale)


def _spawn_close(loop: asyncio.AbstractEventLoop, closing: Any) -> None:
    task = loop.create_task(closing)
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)


class LoopClients(Generic[A]):
    """One async client per event loop (made on first use there), closed as the module docstring says.

    One dropped without `aclose()`/`close()` still closes its clients on their loops, with a `ResourceWarning`.
    """

    def __init__(self, make: Callable[[], A], close: Callable[[A], Awaitable[Any]], *, owner: str = "a provider"
                 ) -> None:
        self._make = make
        self._entries: _Entries[A] = _Entries(close)
        self._finalizer = weakref.finalize(self, _abandoned, self._entries, owner)
        self._finalizer.atexit = False  # at interpreter exit the loops are gone; nothing to close on

    def __len__(self) -> int:
        return len(self._entries.clients)

    def get(self) -> A:
        """The running loop's client."""
        loop = asyncio.get_running_loop()
        entries = self._entries
        entry = entries.clients.get(loop)
        if entry is not None:
            return entry[0]
        stale: list[Any] = []
        with entries.lock:
            for dead in [lp for lp in entries.clients if lp.is_closed()]:  # loops closed without a shutdown
                stale.append(entries.clients.pop(dead))
            entry = entries.clients.get(loop)
            if entry is None:
                client = self._make()
                closing = entries.closing
                entry = entries.clients[loop] = (client, at_loop_shutdown(lambda: closing(loop, client)))
        if stale:
            self._drop(stale)
        return entry[0]

    @staticmethod
    def _drop(stale: list[Any]) -> None:
        for guard in [entry[1] for entry in stale]:  # no loop variable may keep a client alive past the drop
            finish_guard(guard)
        del guard
        drop_quietly(stale)

    async def aclose(self) -> None:
        """Closes every loop's client (awaiting those of this loop and of loops running elsewhere)."""
        running = asyncio.get_running_loop()
        entries = self._entries
        stale: list[Any] = []
        for loop, (client, guard) in entries.take_all():
            if loop is running:
                await entries.close_here(client, guard)
            elif loop.is_running():
                try:
                    there = asyncio.run_coroutine_threadsafe(entries.close_here(client, guard), loop)
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
        entries = self._entries
        stale: list[Any] = []
        for loop, (client, guard) in entries.take_all():
            try:
                if loop is running:
                    _spawn_close(loop, entries.close_here(client, guard))
                elif loop.is_running():
                    asyncio.run_coroutine_threadsafe(entries.close_here(client, guard), loop).result(_CLOSE_WAIT)
                elif not loop.is_closed() and running is None:
                    loop.run_until_complete(entries.close_here(client, guard))
                else:
                    stale.append((client, guard))
            except Exception:  # that loop stopped, is stuck, or was started meanwhile
                stale.append((client, guard))
        client = guard = None  # type: ignore[assignment]
        if stale:
            self._drop(stale)


_PENDING: set[asyncio.Task[None]] = set()
"""Closes scheduled by `close()` on a running loop, kept until they finish."""
