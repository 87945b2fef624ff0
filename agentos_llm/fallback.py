"""`Router`: runs one manager call along its route, hop by hop, each hop guarded.

For each hop (see `agentos_llm.routing` for the rules that skip one or move past one): the credential to use
(the provider's own, or the first of its pool not resting), then `Guard.enter` (the breaker: `CircuitOpenError`
at once; the client-side limits: a wait bounded by what the call's deadline leaves, else a local
`RateLimitError`), then the provider call with the ledger's fallback hop set, then the outcome to the breaker
and the limiter. A 429 or quota error on a pooled credential puts it to rest and the hop goes on with the next
credential. Whole calls only; streams are in `agentos_llm.fallback_streams`, races in `agentos_llm.hedging`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import CircuitOpenError
from .resilience import PooledCredential, Ticket, tokens_used
from .routing import EMBEDDING_DIMENSIONS, CallPlan, Route, Walk, _inner

if TYPE_CHECKING:
    from .provider import IProvider
    from .routing_guard import HopGuard

__all__ = ["Latencies", "Router"]

T = TypeVar("T")
Attempt = Callable[["IProvider", str, dict[str, Any]], T]
AsyncAttempt = Callable[["IProvider", str, dict[str, Any]], Awaitable[T]]


def hop_marker(i: int, provider: IProvider) -> AbstractContextManager[None]:
    """Marks the ledger row of fallback hop `i` (the ledger is imported only when one is attached)."""
    if i == 0 or provider.usage_ledger is None:
        return nullcontext()
    from .ledger.context import fallback_hop

    return fallback_hop(i)


class Latencies:
    """Recent elapsed times of successful calls per (kind, provider, model), for hedging after the p95."""

    def __init__(self, keep: int = 200, max_keys: int = 2048) -> None:
        self.keep = keep
        self.max_keys = max_keys
        self._seen: dict[tuple[str, str, str], deque[float]] = {}

    def add(self, kind: str, target: Route, seconds: float) -> None:
        key = (kind, target.provider.provider_id, target.model)
        got = self._seen.get(key)
        if got is None:
            if len(self._seen) >= self.max_keys:
                self._seen.clear()
            got = self._seen[key] = deque(maxlen=self.keep)
        got.append(seconds)

    def quantile(self, kind: str, target: Route, q: float = 0.95, *, min_samples: int = 20) -> float | None:
        """The `q` quantile of the recent times (None with fewer than `min_samples`)."""
        got = self._seen.get((kind, target.provider.provider_id, target.model))
        if got is None or len(got) < min_samples:
            return None
        ordered = sorted(got.copy())  # a copy: other threads append meanwhile
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Router:
    """Runs calls along routes for one manager: its `HopGuard`, and what it learned (latencies, vector sizes)."""

    def __init__(self, hop_guard: HopGuard) -> None:
        self.hop_guard = hop_guard
        self.latencies = Latencies()
        self._dims: dict[tuple[str, str, int | None], int] = {}

    # ------------------------------------------------------------------ what the router learned

    def known_dims(self, target: Route, dimensions: int | None = None) -> int | None:
        """The vector size `target` answers with: seen in this manager, else the library's table."""
        seen = self._dims.get((target.provider.provider_id, target.model, dimensions))
        if seen is not None:
            return seen
        return dimensions or EMBEDDING_DIMENSIONS.get(target.model)

    def walk(self, plan: CallPlan) -> Walk:
        """A fresh walk along `plan`'s targets."""
        dims = (lambda t: self.known_dims(t, plan.dimensions)) if plan.kind == "embed" else None
        return Walk(plan, dims)

    def _learn(self, walk: Walk, target: Route, result: Any, started: float) -> None:
        self.latencies.add(walk.plan.kind, target, time.perf_counter() - started)
        if walk.plan.kind == "embed":
            vectors = getattr(result, "vectors", None)
            if vectors:
                if len(self._dims) > 4096:
                    self._dims.clear()
                self._dims[(target.provider.provider_id, target.model, walk.plan.dimensions)] = len(vectors[0])

    def _served(self, walk: Walk, i: int, target: Route, result: Any, started: float, notes: list[str]) -> bool:
        """Learns from an answer; False when the route's rules reject it (the next hop is tried)."""
        if walk.rejects(i, target, result, started, notes):
            return False
        self._learn(walk, target, result, started)
        return True

    # ------------------------------------------------------------------ whole calls, blocking

    def run(self, plan: CallPlan, attempt: Attempt[T]) -> T:
        """Runs `attempt(provider, model, options)` on each hop until one serves."""
        walk = self.walk(plan)
        for i, target in enumerate(plan.targets):
            reason = walk.skip_reason(i, target)
            if reason is not None:
                walk.skipped(i, target, reason)
                continue
            opts, notes = walk.options_for(i, target)
            started = time.perf_counter()
            try:
                result = self._hop(walk, i, target, opts, attempt, notes)
            except Exception as exc:
                if not walk.failed(i, target, exc, started, notes):
                    raise
                continue
            if self._served(walk, i, target, result, started, notes):
                return walk.served(target, result, started, notes)  # type: ignore[no-any-return]
        raise walk.exhausted()

    def _hop(self, walk: Walk, i: int, target: Route, opts: dict[str, Any], attempt: Attempt[T],
             notes: list[str]) -> T:
        candidates = self.hop_guard.candidates(target.provider) if self.hop_guard.rotate else None
        if candidates is None:
            return self._guarded(walk, i, target.provider, target.model, opts, attempt, None, notes)
        last: BaseException | None = None
        for provider, cred in candidates:
            try:
                return self._guarded(walk, i, provider, target.model, opts, attempt, cred.label, notes)
            except Exception as exc:
                if not self._next_credential(target, cred, exc, notes):
                    raise
                last = exc
        raise last if last is not None else self.hop_guard.all_resting(target.provider)

    def _next_credential(self, target: Route, cred: PooledCredential, exc: Exception, notes: list[str]) -> bool:
        if isinstance(exc, CircuitOpenError):
            notes.append(f"{cred.label}: its breaker is open")
            return True
        if self.hop_guard.rest(target.provider, cred, exc):
            notes.append(f"{cred.label} rests after {type(exc).__name__}")
            return True
        return False

    def _guarded(self, walk: Walk, i: int, provider: IProvider, model: str, opts: dict[str, Any],
                 attempt: Attempt[T], label: str | None, notes: list[str]) -> T:
        hg = self.hop_guard
        if not hg.active:
            with hop_marker(i, provider):
                return attempt(provider, model, opts)
        ticket = hg.guard.enter(hg.key(provider, model, label), estimated_tokens=walk.plan.estimated_tokens,
                                max_wait=walk.max_wait(provider, opts))
        opts = _after_wait(ticket, opts, notes)
        try:
            with hop_marker(i, provider):
                result = attempt(provider, model, opts)
        except BaseException as exc:
            _close_ticket(ticket, exc)
            raise
        _finish(ticket, result)
        return result

    # ------------------------------------------------------------------ whole calls, async

    async def arun(self, plan: CallPlan, attempt: AsyncAttempt[T], hedge_after: float | None = None) -> T:
        """`run` for coroutines; with `hedge_after`, the first hop tried is raced (see `agentos_llm.hedging`)."""
        walk = self.walk(plan)
        i = 0
        while i < len(plan.targets):
            target = plan.targets[i]
            reason = walk.skip_reason(i, target)
            if reason is not None:
                walk.skipped(i, target, reason)
                i += 1
                continue
            if hedge_after is not None and not walk.hedged:
                from .hedging import race

                walk.hedged = True
                done, result, i = await race(self, walk, i, attempt, hedge_after)
                if done:
                    return result  # type: ignore[no-any-return]
                continue
            opts, notes = walk.options_for(i, target)
            started = time.perf_counter()
            try:
                result = await self._ahop(walk, i, target, opts, attempt, notes)
            except Exception as exc:
                if not walk.failed(i, target, exc, started, notes):
                    raise
                i += 1
                continue
            if self._served(walk, i, target, result, started, notes):
                return walk.served(target, result, started, notes)  # type: ignore[no-any-return]
            i += 1
        raise walk.exhausted()

    async def _ahop(self, walk: Walk, i: int, target: Route, opts: dict[str, Any], attempt: AsyncAttempt[T],
                    notes: list[str]) -> T:
        candidates = self.hop_guard.candidates(target.provider) if self.hop_guard.rotate else None
        if candidates is None:
            return await self._aguarded(walk, i, target.provider, target.model, opts, attempt, None, notes)
        last: BaseException | None = None
        for provider, cred in candidates:
            try:
                return await self._aguarded(walk, i, provider, target.model, opts, attempt, cred.label, notes)
            except Exception as exc:
                if not self._next_credential(target, cred, exc, notes):
                    raise
                last = exc
        raise last if last is not None else self.hop_guard.all_resting(target.provider)

    async def _aguarded(self, walk: Walk, i: int, provider: IProvider, model: str, opts: dict[str, Any],
                        attempt: AsyncAttempt[T], label: str | None, notes: list[str]) -> T:
        hg = self.hop_guard
        if not hg.active:
            with hop_marker(i, provider):
                return await attempt(provider, model, opts)
        ticket = await hg.guard.aenter(hg.key(provider, model, label), estimated_tokens=walk.plan.estimated_tokens,
                                       max_wait=walk.max_wait(provider, opts))
        opts = _after_wait(ticket, opts, notes)
        try:
            with hop_marker(i, provider):
                result = await attempt(provider, model, opts)
        except BaseException as exc:
            _close_ticket(ticket, exc)
            raise
        _finish(ticket, result)
        return result


def _after_wait(ticket: Ticket, opts: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """Notes a client-side wait, and takes it off the deadline the hop is sent."""
    waited = ticket.waited
    if waited < 0.001:
        return opts
    notes.append(f"waited {waited:.2f}s for the client-side limits")
    deadline = opts.get("deadline")
    if isinstance(deadline, (int, float)):
        return {**opts, "deadline": max(0.001, deadline - waited)}
    return opts


def _close_ticket(ticket: Ticket, exc: BaseException) -> None:
    if isinstance(exc, Exception):
        ticket.failed(exc)
    else:
        ticket.abandon()  # cancelled (a hedge's loser, the caller's timeout): no verdict for the breaker


def _finish(ticket: Ticket, result: Any) -> None:
    inner = _inner(result)
    ticket.succeeded(tokens=tokens_used(result), rate_limits=getattr(inner, "rate_limits", None))
