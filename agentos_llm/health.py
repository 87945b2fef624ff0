"""Health checks: what state a provider is in (`HealthStatus.state`), and every provider checked at once
(`AIModelProviderManager.check_health`)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from .errors import (
    AgentOSLLMError,
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    PermissionDeniedError,
    RateLimitError,
    UnsupportedCapabilityError,
)
from .types import HealthStatus

if TYPE_CHECKING:
    from .provider import IProvider

__all__ = ["HealthState", "check_all", "check_all_sync", "state_of"]

HealthState = Literal["ok", "unauthorized", "rate_limited", "timeout", "unreachable", "unsupported", "error"]


_STATES: tuple[tuple[type[AgentOSLLMError], HealthState], ...] = (
    (AuthenticationError, "unauthorized"), (PermissionDeniedError, "unauthorized"), (RateLimitError, "rate_limited"),
    (APITimeoutError, "timeout"), (APIConnectionError, "unreachable"), (UnsupportedCapabilityError, "unsupported"))


def state_of(error: AgentOSLLMError | None) -> HealthState:
    """The `HealthStatus.state` an error (None: no error) means."""
    if error is None:
        return "ok"
    for kind, state in _STATES:
        if isinstance(error, kind):
            return state
    return "error"


def _timed_out(provider: IProvider, timeout: float) -> HealthStatus:
    return HealthStatus(provider=provider.provider_id, ok=False, state="timeout", latency_ms=timeout * 1000,
                        error=f"no answer within {timeout:g} s")


def _failed(provider: IProvider, exc: BaseException, started: float) -> HealthStatus:
    # `check_health` never raises for the errors it knows; anything else still becomes a row, not an exception.
    return HealthStatus(provider=provider.provider_id, ok=False, state="error",
                        error=f"{type(exc).__name__}: {exc}", latency_ms=(time.perf_counter() - started) * 1000)


async def check_all(providers: Sequence[IProvider], timeout: float) -> list[HealthStatus]:
    """Every provider's `check_health`, concurrently, each within `timeout` seconds; one row per provider in
    order, never an exception."""

    async def one(p: IProvider) -> HealthStatus:
        started = time.perf_counter()
        try:
            return await asyncio.wait_for(p.check_health(), timeout)
        except asyncio.TimeoutError:
            return _timed_out(p, timeout)
        except Exception as exc:
            return _failed(p, exc, started)

    return list(await asyncio.gather(*(one(p) for p in providers)))


def check_all_sync(providers: Sequence[IProvider], timeout: float) -> list[HealthStatus]:
    """`check_all` on the providers' sync transports, in threads; a provider still checking after `timeout`
    is reported as timed out (its thread finishes on its own, bounded by the request's timeout)."""
    if not providers:
        return []
    pool = concurrent.futures.ThreadPoolExecutor(min(16, len(providers)), thread_name_prefix="agentos-llm-health")
    started = time.perf_counter()
    try:
        futures = [pool.submit(p.check_health_sync) for p in providers]
        concurrent.futures.wait(futures, timeout=timeout)
        rows = []
        for p, future in zip(providers, futures, strict=True):
            if not future.done():
                rows.append(_timed_out(p, timeout))
            elif future.exception() is not None:
                rows.append(_failed(p, future.exception() or RuntimeError(), started))
            else:
                rows.append(future.result())
        return rows
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
