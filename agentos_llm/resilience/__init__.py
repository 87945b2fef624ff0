"""Resilience engine: circuit breakers, client-side limits, credential rotation, and the state they share.

See docs/routing-and-resilience.md. The pieces, each usable alone:

- `CallKey(host, credential, model, label)`: what breakers and limits are keyed by;
  `CallKey.for_provider(provider, model)` hashes the provider's credential (never stores it).
- `Breakers(policy, store=...)`: `check(key) -> Permit` (raises `errors.CircuitOpenError`), then one of
  `record_success(permit)`, `record_failure(permit, exc) -> opened?`, `release(permit)`; `snapshot()`.
- `Limiter(limits, store=...)`: `acquire(key, estimated_tokens, max_wait=...) -> Lease` (or `aacquire`; raises
  `errors.RateLimitError`, code "client_rate_limit", before anything is sent), then
  `lease.settle(actual_tokens, rate_limits=...)` or `lease.cancel()`; `learn(key, rate_limits)`; `snapshot()`.
- `CredentialPool(host, keys | profiles=...)`: `pick()`, `report(credential, exc) -> rotate?`, `snapshot()`.
- `MemoryStore` (default) / `RedisStore(url)` (the `redis` extra): the `StateStore` all of them share.

Integration API (what the manager uses)::

    guard = Guard(Breakers(store=store), Limiter(limits, store=store))
    result = guard.call(key, lambda: provider.generate_sync(...), estimated_tokens=n, max_wait=left)
    result = await guard.acall(key, lambda: provider.generate(...), estimated_tokens=n, max_wait=left)

    ticket = guard.enter(key, estimated_tokens=n, max_wait=left)   # or: await guard.aenter(...)
    ...  # the call, e.g. a stream up to its first event
    ticket.finish(response) | ticket.succeeded(tokens=..., rate_limits=...) | ticket.failed(exc) | ticket.abandon()

`ticket.waited` (seconds spent in the limiter) is to be subtracted from what the call's deadline leaves.
A `CircuitOpenError` or a client-side `RateLimitError` from `enter` means the hop was not tried: the
fallback moves to the next hop. Every `check` reads the breaker's state from the store (one round trip
on Redis), so a breaker one process opens is open for every other process on its next call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import CircuitOpenError
from .breaker import DEFAULT_RULES, BreakerPolicy, BreakerRule, Breakers, BreakerStatus, Permit
from .concurrency import FairSlots
from .guard import Guard, Ticket, tokens_used
from .keys import CallKey, credential_id
from .limits import Lease, Limiter, Limits, learned_window
from .pool import CredentialPool, PooledCredential
from .store import Adjust, MemoryStore, StateStore, Take, TakeResult, Versioned

if TYPE_CHECKING:
    from .redis_store import RedisStore

__all__ = [
    "DEFAULT_RULES",
    "Adjust",
    "BreakerPolicy",
    "BreakerRule",
    "BreakerStatus",
    "Breakers",
    "CallKey",
    "CircuitOpenError",
    "CredentialPool",
    "FairSlots",
    "Guard",
    "Lease",
    "Limiter",
    "Limits",
    "MemoryStore",
    "Permit",
    "PooledCredential",
    "RedisStore",
    "StateStore",
    "Take",
    "TakeResult",
    "Ticket",
    "Versioned",
    "credential_id",
    "learned_window",
    "tokens_used",
]


def __getattr__(name: str) -> object:
    if name == "RedisStore":  # redis-py is optional (the `redis` extra): imported only when asked for
        from .redis_store import RedisStore

        return RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
