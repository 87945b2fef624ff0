"""`FairSlots`: a concurrency cap shared by threads and by coroutines of any event loop, first come first served.

`threading.Semaphore` wakes an arbitrary waiter and `asyncio.Semaphore` belongs to one event loop (a
second `asyncio.run` cannot use it); a cap on calls to one host must hold across both. Here every waiter,
a thread or a coroutine, queues in one FIFO; a released slot is handed directly to the first waiter, so
a newcomer never overtakes someone already waiting.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque

__all__ = ["FairSlots"]


class _ThreadWaiter:
    __slots__ = ("event", "granted")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.granted = False

    def grant(self) -> bool:
        self.granted = True
        self.event.set()
        return True


class _TaskWaiter:
    __slots__ = ("future", "granted", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.granted = False

    def _wake(self) -> None:
        if not self.future.done():
            self.future.set_result(None)

    def grant(self) -> bool:
        try:
            self.loop.call_soon_threadsafe(self._wake)
        except RuntimeError:  # its event loop is closed: the waiter is gone
            return False
        self.granted = True
        return True


class FairSlots:
    """At most `limit` holders at once; waiters served in arrival order."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a concurrency cap must be at least 1")
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()
        self._waiters: deque[_ThreadWaiter | _TaskWaiter] = deque()

    @property
    def in_use(self) -> int:
        """Slots held now."""
        return self._used

    @property
    def waiting(self) -> int:
        """Callers queued for a slot."""
        return len(self._waiters)

    def __repr__(self) -> str:
        return f"FairSlots({self._used}/{self.limit}, waiting={len(self._waiters)})"

    def _try(self) -> bool:
        if self._used < self.limit and not self._waiters:
            self._used += 1
            return True
        return False

    def acquire(self, timeout: float | None = None) -> bool:
        """Takes a slot, waiting up to `timeout` seconds (None: as long as needed); False if none came."""
        with self._lock:
            if self._try():
                return True
            if timeout is not None and timeout <= 0:
                return False
            waiter = _ThreadWaiter()
            self._waiters.append(waiter)
        waiter.event.wait(timeout)
        with self._lock:
            if waiter.granted:
                return True
            self._waiters.remove(waiter)
            return False

    async def aacquire(self, timeout: float | None = None) -> bool:
        """`acquire` for coroutines (any event loop); cancelling the waiting task gives nothing away."""
        with self._lock:
            if self._try():
                return True
            if timeout is not None and timeout <= 0:
                return False
            waiter = _TaskWaiter(asyncio.get_running_loop())
            self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter.future, timeout)
        except asyncio.TimeoutError:
            with self._lock:
                if waiter.granted:  # handed a slot just as the wait ended
                    return True
                self._waiters.remove(waiter)
                return False
        except asyncio.CancelledError:
            with self._lock:
                owned = waiter.granted
                if not owned:
                    self._waiters.remove(waiter)
            if owned:
                self.release()  # handed a slot while being cancelled: pass it on
            raise
        return True

    def release(self) -> None:
        """Gives a slot back: to the first waiter still there, else to the pool."""
        with self._lock:
            while self._waiters:
                if self._waiters.popleft().grant():
                    return
            self._used -= 1

