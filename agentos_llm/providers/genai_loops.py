"""google-genai's per-loop async resources, closed on the loop that owns them (see `loop_clients`).

The SDK keeps one aiohttp session (or one httpx pool) per event loop, but closes only those of loops still
running: the ones of loops that `asyncio.run` has closed are left to the garbage collector, with
ResourceWarnings. Here a guard started on each loop the provider is used on closes that loop's session
when the loop shuts down, and `aclose()` / `close()` release the rest. Only the SDK's per-loop dicts are
touched, each read defensively: an SDK that keeps them elsewhere just keeps its own behaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator
from typing import Any

from .loop_clients import at_loop_shutdown, drop_quietly, finish_guard

__all__ = ["GenaiLoops"]

_CLOSE_WAIT = 5.0


def _per_loop(api: Any) -> list[tuple[dict[Any, Any], Any]]:
    """The SDK's loop-keyed dicts of async resources, each with the lock that guards it (or None)."""
    found: list[tuple[dict[Any, Any], Any]] = []
    sessions = getattr(api, "_aiohttp_sessions", None)
    if isinstance(sessions, dict):
        found.append((sessions, None))
    pools = getattr(api, "_async_httpx_client", None)
    clients = getattr(pools, "_loop_clients", None)
    if isinstance(clients, dict):
        found.append((clients, getattr(pools, "_loop_clients_lock", None)))
    return found


def _pop(store: dict[Any, Any], lock: Any, loop: asyncio.AbstractEventLoop) -> Any:
    with lock if lock is not None else contextlib.nullcontext():
        return store.pop(loop, None)


async def _close(resource: Any) -> None:
    close = getattr(resource, "aclose", None) or getattr(resource, "close", None)
    if close is not None:
        done = close()
        if asyncio.iscoroutine(done) or isinstance(done, asyncio.Future):
            await done


class GenaiLoops:
    """Guards, one per loop the provider's async side has run on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._guards: dict[asyncio.AbstractEventLoop, AsyncGenerator[None, None]] = {}

    def enter(self, api: Any) -> None:
        """Called on the running loop before the SDK's async side is used."""
        loop = asyncio.get_running_loop()
        if loop in self._guards:
            return
        with self._lock:
            for dead in [lp for lp in self._guards if lp.is_closed()]:
                finish_guard(self._guards.pop(dead))
            if loop not in self._guards:
                self._guards[loop] = at_loop_shutdown(lambda: self._shutdown(api, loop))

    async def _shutdown(self, api: Any, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            if self._guards.pop(loop, None) is None:
                return  # retired by aclose()/close()
        for store, lock in _per_loop(api):
            resource = _pop(store, lock, loop)
            if resource is not None:
                await _close(resource)

    def _retire(self) -> None:
        with self._lock:
            guards = list(self._guards.values())
            self._guards.clear()
        for guard in guards:
            finish_guard(guard)

    async def aclose(self, api: Any) -> None:
        """After the SDK's own `aclose()` (this loop's and running loops' resources): drops what is left, the
        resources of loops that are gone."""
        self._retire()
        self._drop_rest(api)

    def close(self, api: Any) -> None:
        """From sync code: closes every loop's resources (on their loops where they still run)."""
        self._retire()
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for store, lock in _per_loop(api):
            for loop in list(store):
                if loop is running or loop.is_closed():
                    continue
                resource = _pop(store, lock, loop)
                with contextlib.suppress(Exception):
                    if loop.is_running():
                        asyncio.run_coroutine_threadsafe(_close(resource), loop).result(_CLOSE_WAIT)
                    elif running is None:
                        loop.run_until_complete(_close(resource))
        self._drop_rest(api, keep=running)

    @staticmethod
    def _drop_rest(api: Any, keep: asyncio.AbstractEventLoop | None = None) -> None:
        stale: list[Any] = []
        for store, lock in _per_loop(api):
            for loop in list(store):
                if loop is not keep and (loop.is_closed() or not loop.is_running()):
                    stale.append(_pop(store, lock, loop))
        if stale:
            drop_quietly(stale)
