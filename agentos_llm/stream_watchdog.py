"""The watchdog of sync streams that fall silent (`IProvider.stream_idle_timeout` for `stream_sync`).

An async stream waits for each chunk under a timeout. A sync stream blocks its caller's thread in a socket read
that nothing in that thread can interrupt. So one shared daemon thread, started when the first sync stream passes
its first event (never at import), keeps the streams being read, each with the time it began waiting for its next
chunk: the reading loop only stores that time, once per chunk (`Watch.since`). When a stream has waited longer
than its idle timeout, the thread marks it `fired` and cuts its connection (`sever`: the socket shut down, from
this thread), so the blocked read returns or fails at once and `run_stream` raises `APITimeoutError`.

The time a consumer spends between events is not waiting: the loop marks its stream `PAUSED` while it hands
events over, as the async loop times only its reads. A stream whose transport offers no way to be cut fails
the same way as soon as its read returns. A stream is cut only while it is watched: `unwatch` returns after any
cut in progress, so a connection is never cut once its stream has left (and given it back to a pool).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

__all__ = ["PAUSED", "LateSever", "Severable", "Watch", "running", "unwatch", "watch", "watching"]

log = logging.getLogger("agentos_llm")

T = TypeVar("T")
PAUSED = float("inf")
"""`Watch.since` while the stream is not reading (its consumer has the events): it cannot go idle then."""
_SLACK = 0.1
"""The thread looks again at least every this fraction of the shortest idle timeout it watches: a stream that
resumed reading (its `since` no longer `PAUSED`) is noticed at most that late."""
_MIN_WAIT = 0.002


class Watch:
    """One sync stream past its first event, as the watchdog sees it."""

    __slots__ = ("fired", "idle", "sever", "since")

    def __init__(self, idle: float, sever: Callable[[], object] | None) -> None:
        self.idle = idle
        self.sever = sever
        """Cuts the stream's connection from another thread (None: its transport has no way to)."""
        self.since = time.monotonic()
        """When the stream began waiting for its next chunk (`time.monotonic()`), or `PAUSED`."""
        self.fired = False
        """Set (before the cut) once the stream waited longer than `idle`."""


class _Watchdog:
    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.watches: set[Watch] = set()
        self.thread: threading.Thread | None = None

    def add(self, w: Watch) -> None:
        with self.cond:
            self.watches.add(w)
            if self.thread is None:
                self.thread = threading.Thread(target=self.run, name="agentos-llm-stream-watchdog", daemon=True)
                self.thread.start()
            else:
                self.cond.notify()  # its idle timeout may be shorter than any the thread waits on

    def discard(self, w: Watch) -> None:
        with self.cond:
            self.watches.discard(w)

    def run(self) -> None:
        with self.cond:
            while True:
                if not self.watches:
                    self.cond.wait()
                    continue
                now = time.monotonic()
                wake = float("inf")
                for w in list(self.watches):
                    due = w.since + w.idle
                    if due <= now:
                        self.watches.discard(w)
                        _fire(w)  # under the lock: `discard` cannot return while a cut is under way
                    else:
                        wake = min(wake, due, now + w.idle * _SLACK)
                # None (an infinite idle timeout) waits for the next `add`.
                self.cond.wait(None if wake == float("inf") else max(wake - now, _MIN_WAIT))


def _fire(w: Watch) -> None:
    w.fired = True
    if w.sever is not None:
        try:
            w.sever()  # a socket shutdown: it does not block
        except Exception:  # already closed, or given back: the read is over either way
            log.debug("stream watchdog: cutting a silent stream failed", exc_info=True)


_dog = _Watchdog()


def _forget_after_fork() -> None:
    global _dog
    _dog = _Watchdog()  # the parent's thread does not exist in the child


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def watch(idle: float, sever: Callable[[], object] | None) -> Watch:
    """Watches a sync stream from now on, waiting for its next chunk; starts the watchdog thread on first use."""
    w = Watch(idle, sever)
    _dog.add(w)
    return w


def unwatch(w: Watch) -> None:
    """Stops watching `w`; once this returns, its connection is not cut any more."""
    _dog.discard(w)


def watching() -> int:
    """How many sync streams are watched now."""
    with _dog.cond:
        return len(_dog.watches)


def running() -> bool:
    """Whether the watchdog thread has been started (in this process)."""
    return _dog.thread is not None


class Severable(Iterator[T]):
    """A sync stream's chunks, with `sever` for the watchdog: cuts the connection from another thread.

    Iterating it iterates the chunks themselves (`__iter__` returns them), so it adds no call per chunk.
    """

    __slots__ = ("_chunks", "sever")

    def __init__(self, chunks: Iterator[T], sever: Callable[[], object] | None) -> None:
        self._chunks = chunks
        self.sever = sever

    def __iter__(self) -> Iterator[T]:
        return self._chunks

    def __next__(self) -> T:
        return next(self._chunks)

    def close(self) -> None:
        """Closes the chunks (a generator's `finally` closes its response)."""
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


class LateSever:
    """A stream's `sever` for chunks that open their response themselves, on first use: they set `fn` then."""

    __slots__ = ("fn",)

    def __init__(self) -> None:
        self.fn: Callable[[], object] | None = None

    def __call__(self) -> None:
        fn = self.fn
        if fn is not None:
            fn()
