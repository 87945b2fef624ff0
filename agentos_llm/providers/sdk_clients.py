"""Vendor SDK clients as a provider holds them: one sync client, and one async client per event loop."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["SDKClients"]


class _Closable(Protocol):
    def close(self) -> Any: ...


S = TypeVar("S", bound=_Closable)
A = TypeVar("A")


class SDKClients(Generic[S, A]):
    """Makes each client on first use and reuses it.

    Async clients are kept per event loop: pooled connections belong to the loop that opened them, so
    a provider used from several loops (a notebook, repeated `asyncio.run`, the sync bridge) stays usable.
    """

    def __init__(self, make_sync: Callable[[], S], make_async: Callable[[], A],
                 close_async: Callable[[A], Awaitable[Any]]) -> None:
        self._make_sync = make_sync
        self._make_async = make_async
        self._close_async = close_async
        self._sync: S | None = None
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, A] = weakref.WeakKeyDictionary()

    @property
    def sync(self) -> S:
        """The sync client."""
        if self._sync is None:
            self._sync = self._make_sync()
        return self._sync

    def for_running_loop(self) -> A:
        """The async client of the running event loop."""
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            client = self._async[loop] = self._make_async()
        return client

    def close(self) -> None:
        """Closes the sync client, if one was made."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        """Closes the running loop's async client, if one was made."""
        client = self._async.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await self._close_async(client)
