"""`Guard`: circuit breakers and client-side limits around one provider call.

    guard = Guard(Breakers(), Limiter(Limits(concurrency=8, requests_per_minute=500)))
    key = CallKey.for_provider(provider, model)
    response = guard.call(key, lambda: provider.generate_sync(model, messages), estimated_tokens=1200)

or, where the call is not one function (a stream, a fallback loop), the same steps by hand:

    with guard.enter(key, estimated_tokens=1200, max_wait=left) as ticket:   # CircuitOpenError / RateLimitError
        response = provider.generate_sync(model, messages)
        ticket.finish(response)                                               # usage and rate limits

Leaving the block with an exception records it as the call's failure (the breaker counts it if its rule
says so); leaving it with a cancellation, `GeneratorExit` or `KeyboardInterrupt` records nothing (a trial
call gives its turn to the next caller); leaving it normally without `finish` is a success without usage.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

from .breaker import LOCAL_ERROR_CODES, Breakers, Permit
from .keys import CallKey
from .limits import Lease, Limiter

__all__ = ["Guard", "Ticket", "tokens_used"]

T = TypeVar("T")


def tokens_used(result: Any) -> int | None:
    """The total tokens a response reports (`result.usage.total_tokens`), or None."""
    total = getattr(getattr(result, "usage", None), "total_tokens", None)
    return total if isinstance(total, int) and total > 0 else None


class Ticket:
    """One guarded call in progress: report its outcome once (`finish` / `succeeded`, `failed`, `abandon`)."""

    __slots__ = ("_done", "breakers", "key", "lease", "permit")

    def __init__(self, key: CallKey, breakers: Breakers | None, permit: Permit | None, lease: Lease | None) -> None:
        self.key = key
        self.breakers = breakers
        self.permit = permit
        self.lease = lease
        self._done = False

    def __repr__(self) -> str:
        return f"Ticket({self.key.describe()}, trial={self.is_trial}, waited={self.waited:.3f}s)"

    @property
    def waited(self) -> float:
        """Seconds the limiter made the call wait before it could be sent."""
        return self.lease.waited if self.lease is not None else 0.0

    @property
    def is_trial(self) -> bool:
        """Whether this call is a half-open breaker's trial call."""
        return self.permit is not None and self.permit.is_trial

    def finish(self, result: Any) -> None:
        """The call succeeded with `result`: its usage settles the token estimate, its rate limits are learned."""
        self.succeeded(tokens=tokens_used(result), rate_limits=getattr(result, "rate_limits", None))

    def succeeded(self, *, tokens: int | None = None, rate_limits: Any = None) -> None:
        """The call succeeded (closes a half-open breaker it was the trial of)."""
        if self._done:
            return
        self._done = True
        try:
            if self.breakers is not None and self.permit is not None:
                self.breakers.record_success(self.permit)
        finally:
            if self.lease is not None:
                self.lease.settle(tokens, rate_limits=rate_limits)

    def failed(self, exc: BaseException) -> None:
        """The call failed with `exc` (counted by its breaker rule, if any)."""
        if self._done:
            return
        self._done = True
        try:
            if self.breakers is not None and self.permit is not None:
                self.breakers.record_failure(self.permit, exc)
        finally:
            if self.lease is not None:
                if getattr(exc, "code", None) in LOCAL_ERROR_CODES:
                    self.lease.cancel()  # refused before sending: it cost the vendor nothing
                else:
                    self.lease.settle(None)

    def abandon(self) -> None:
        """The call was cancelled or left early: no verdict for the breakers; the slot is freed."""
        if self._done:
            return
        self._done = True
        try:
            if self.breakers is not None and self.permit is not None:
                self.breakers.release(self.permit)
        finally:
            if self.lease is not None:
                self.lease.settle(None)

    def _exit(self, exc: BaseException | None) -> None:
        if exc is None:
            self.succeeded()
        elif isinstance(exc, Exception):
            self.failed(exc)
        else:
            self.abandon()

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._exit(exc)

    async def __aenter__(self) -> Ticket:
        return self

    async def __aexit__(self, et: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._exit(exc)


class Guard:
    """Breakers then limits before a call, and the outcome to both after it. Either may be None (off)."""

    def __init__(self, breakers: Breakers | None = None, limiter: Limiter | None = None) -> None:
        self.breakers = breakers
        self.limiter = limiter

    def __repr__(self) -> str:
        return f"Guard(breakers={self.breakers!r}, limiter={self.limiter!r})"

    def enter(self, key: CallKey, *, estimated_tokens: float = 0, max_wait: float | None = None) -> Ticket:
        """Lets a call to `key` start (a `Ticket`), or raises `CircuitOpenError` / `RateLimitError` at once or
        within `max_wait` seconds (what the call's deadline leaves; None: as long as the limits need)."""
        breakers, limiter = self.breakers, self.limiter
        permit = breakers.check(key) if breakers is not None else None
        if limiter is None:
            return Ticket(key, breakers, permit, None)
        try:
            lease = limiter.acquire(key, estimated_tokens, max_wait=max_wait)
        except BaseException:
            if breakers is not None and permit is not None:
                breakers.release(permit)
            raise
        if lease.waited > 0 and breakers is not None and permit is not None and not permit.is_trial:
            try:  # it may have opened while this call waited for its turn
                permit = breakers.check(key)
            except BaseException:
                lease.cancel()
                raise
        return Ticket(key, breakers, permit, lease)

    async def aenter(self, key: CallKey, *, estimated_tokens: float = 0, max_wait: float | None = None) -> Ticket:
        """`enter` for coroutines: limiter waits do not block the event loop."""
        breakers, limiter = self.breakers, self.limiter
        permit = breakers.check(key) if breakers is not None else None
        if limiter is None:
            return Ticket(key, breakers, permit, None)
        try:
            lease = await limiter.aacquire(key, estimated_tokens, max_wait=max_wait)
        except BaseException:
            if breakers is not None and permit is not None:
                breakers.release(permit)
            raise
        if lease.waited > 0 and breakers is not None and permit is not None and not permit.is_trial:
            try:
                permit = breakers.check(key)
            except BaseException:
                lease.cancel()
                raise
        return Ticket(key, breakers, permit, lease)

    def call(self, key: CallKey, fn: Callable[[], T], *, estimated_tokens: float = 0,
             max_wait: float | None = None) -> T:
        """Runs `fn()` under the breakers and limits of `key`; its result's usage and rate limits are read."""
        ticket = self.enter(key, estimated_tokens=estimated_tokens, max_wait=max_wait)
        try:
            result = fn()
        except BaseException as exc:
            ticket._exit(exc)
            raise
        ticket.finish(result)
        return result

    async def acall(self, key: CallKey, fn: Callable[[], Awaitable[T]], *, estimated_tokens: float = 0,
                    max_wait: float | None = None) -> T:
        """`call` for coroutines: `fn()` returns the awaitable to run."""
        ticket = await self.aenter(key, estimated_tokens=estimated_tokens, max_wait=max_wait)
        try:
            result = await fn()
        except BaseException as exc:
            ticket._exit(exc)
            raise
        ticket.finish(result)
        return result

    def snapshot(self) -> dict[str, Any]:
        """Every breaker's state and every limit in use (for `health()` / `describe()`)."""
        return {"breakers": [s.as_dict() for s in self.breakers.snapshot()] if self.breakers else [],
                "limits": self.limiter.snapshot() if self.limiter else []}
