"""The one retry policy of the library, on tenacity; vendor SDK retries are always off.

A call's first attempt runs directly, so a success costs nothing extra; only after a retryable
failure does tenacity take over the remaining attempts. Waits honour the vendor's Retry-After
(capped), else back off exponentially with full jitter, and never run past the call's deadline.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import (
    APIConnectionError,
    APITimeoutError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)

if TYPE_CHECKING:
    from tenacity import RetryCallState

__all__ = ["RetryPolicy", "is_retryable"]

T = TypeVar("T")
_RETRYABLE_STATUS = frozenset({408, 409, 429})


def is_retryable(exc: BaseException) -> bool:
    """408, 409, 429 (not quota), 5xx, timeouts and dropped connections are worth another try."""
    if isinstance(exc, QuotaExceededError) or not isinstance(exc, ProviderError):
        return False
    if isinstance(exc, (RateLimitError, ServerError, APITimeoutError, APIConnectionError)):
        return True
    status = exc.status_code
    return status is not None and (status in _RETRYABLE_STATUS or status >= 500)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a call may be retried.

    `deadline` bounds the whole call in seconds, retries and waits included; `timeout` bounds
    one attempt. `max_retry_after` caps how long a vendor's Retry-After may make us wait.
    """

    max_retries: int = 2
    timeout: float | None = 600.0
    deadline: float | None = None
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0

    def attempt_timeout(self, started: float) -> float | None:
        """The time one attempt may take: its timeout, shortened to what the deadline leaves."""
        if self.deadline is None:
            return self.timeout
        left = self.deadline - (time.monotonic() - started)
        if left <= 0:
            raise APITimeoutError(f"deadline of {self.deadline:g}s passed before the request was sent")
        return left if self.timeout is None else min(left, self.timeout)

    def delay_for(self, exc: BaseException | None, failures: int) -> float:
        """Seconds to wait after `failures` failed attempts, the last one raising `exc`."""
        after = getattr(exc, "retry_after", None)
        if after is not None:
            return float(min(after, self.max_retry_after))
        return random.uniform(0.0, min(self.max_backoff, self.initial_backoff * 2 ** (failures - 1)))

    def _retrying_kwargs(self, started: float) -> dict[str, Any]:
        # tenacity is imported only once a retryable failure happened: loading the library, and any
        # call that succeeds at once, never pays for importing it (~8 ms).
        from tenacity import retry_if_exception

        # tenacity counts from the second attempt: the first ran before it took over.
        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            return self.delay_for(exc, state.attempt_number + 1)

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number >= self.max_retries:
                return True
            return self._past_deadline(started, state.upcoming_sleep)

        return {"stop": stop, "wait": wait, "retry": retry_if_exception(is_retryable), "reraise": True}

    def _past_deadline(self, started: float, sleep: float) -> bool:
        return self.deadline is not None and time.monotonic() - started + sleep >= self.deadline

    def _first_wait(self, first: ProviderError, started: float) -> float:
        """The wait before the second attempt; re-raises `first` when none fits the deadline."""
        delay = self.delay_for(first, 1)
        if self._past_deadline(started, delay):
            raise first
        return delay

    def call(self, attempt: Callable[[float | None], T]) -> T:
        """Runs `attempt(timeout)` with retries, synchronously."""
        started = time.monotonic()
        try:
            return attempt(self.attempt_timeout(started))
        except ProviderError as exc:
            if self.max_retries <= 0 or not is_retryable(exc):
                raise
            first = exc
        time.sleep(self._first_wait(first, started))
        from tenacity import Retrying

        for try_ in Retrying(sleep=time.sleep, **self._retrying_kwargs(started)):
            with try_:
                return attempt(self.attempt_timeout(started))
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    async def acall(self, attempt: Callable[[float | None], Awaitable[T]]) -> T:
        """Runs `await attempt(timeout)` with retries."""
        started = time.monotonic()
        try:
            return await attempt(self.attempt_timeout(started))
        except ProviderError as exc:
            if self.max_retries <= 0 or not is_retryable(exc):
                raise
            first = exc
        await asyncio.sleep(self._first_wait(first, started))
        from tenacity import AsyncRetrying

        async for try_ in AsyncRetrying(sleep=asyncio.sleep, **self._retrying_kwargs(started)):
            with try_:
                return await attempt(self.attempt_timeout(started))
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover
