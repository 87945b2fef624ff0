"""Runs async code from sync code, also from inside a running event loop (a notebook cell).

Used only where a provider has no native sync path (custom overrides, async-only hooks): the
built-in providers' sync twins call their vendor's sync client directly.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

__all__ = ["iterate_sync", "run_sync"]

T = TypeVar("T")
_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    """One daemon thread with its own loop, shared, so async clients stay bound to one loop."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="agentos-llm-sync-bridge", daemon=True).start()
            _loop = loop
        return _loop


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine to completion and returns its result, whatever loop the caller is in."""
    loop = _background_loop()
    if _running_loop() is loop:
        coro.close()
        raise RuntimeError("run_sync called from the sync bridge's own loop; await the async method instead")
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


def iterate_sync(agen: AsyncIterator[T]) -> Iterator[T]:
    """Iterates an async iterator from sync code, closing it if the caller stops early."""
    loop = _background_loop()
    try:
        while True:
            try:
                yield asyncio.run_coroutine_threadsafe(_next(agen), loop).result()
            except StopAsyncIteration:
                return
    finally:
        close = getattr(agen, "aclose", None)
        if close is not None:
            asyncio.run_coroutine_threadsafe(close(), loop).result()


async def _next(agen: AsyncIterator[T]) -> T:
    return await agen.__anext__()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
