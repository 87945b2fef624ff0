"""Client-side limits: a concurrency cap and token buckets for requests and tokens per minute.

Limits are set per host (and optionally per credential) in `Limits`, and learned per model from the
rate-limit headers of responses (`agentos_llm.rate_limits.RateLimits`): a learned limit is a bucket of
the vendor's `limit`, refilled over the window the headers imply, and lowered to the vendor's `remaining`
whenever a response states it. A call passes every bucket that applies (configured and learned).

`Limiter.acquire(key, estimated_tokens, max_wait=...)` takes a concurrency slot, then one request and
the estimated tokens from the buckets, all or nothing, in one store operation. When a bucket is short it
*reserves* what it needs and sleeps until then, provided that wait fits in `max_wait` (what the call's
deadline leaves); otherwise nothing is taken and it raises `RateLimitError` (code "client_rate_limit"),
before anything is sent. The `Lease` it returns settles the estimate with the tokens actually used and
gives the slot back: `lease.settle(actual_tokens, rate_limits=response.rate_limits)`.

The buckets live in the limiter's `StateStore` (Redis shares them between workers: 8 processes with one
limit of N requests per minute send at most N + N*(t + max_wait)/60 in t seconds). The concurrency cap is
per process (a cross-process cap would need leases a dead worker could leave held).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import RateLimitError
from ..rate_limits import RateLimitBucket, RateLimits
from .concurrency import FairSlots
from .keys import CallKey
from .store import UNBOUNDED, Adjust, MemoryStore, StateStore, Take

__all__ = ["Lease", "Limiter", "Limits", "learned_window"]

_WINDOWS = (1.0, 60.0, 3600.0, 86_400.0)
_MAX_KEYS = 20_000


@dataclass(frozen=True)
class Limits:
    """Client-side limits for one host (or one credential of it). None: no such limit.

    `learn` also applies the limits the vendor's rate-limit headers state (per model).
    """

    concurrency: int | None = None
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    learn: bool = True


def learned_window(bucket: RateLimitBucket, observed_at: Any) -> float:
    """The window (seconds) a vendor's limit is counted over, read from its headers.

    A bucket with `limit` L, `remaining` R and full again `reset` seconds later refills (L - R) / reset per
    second, so its window is reset * L / (L - R): OpenAI and Anthropic state per-minute limits, Groq a
    per-day request limit beside per-minute tokens. Snapped to a second, minute, hour or day; a minute
    when the headers cannot tell (nothing used yet, or no reset).
    """
    if (bucket.limit and bucket.remaining is not None and bucket.resets_at is not None
            and 0 <= bucket.remaining < bucket.limit):
        reset = (bucket.resets_at - observed_at).total_seconds()
        if reset > 0:
            estimate = reset * bucket.limit / (bucket.limit - bucket.remaining)
            return min(_WINDOWS, key=lambda w: abs(math.log(w / estimate)))
    return 60.0


@dataclass(frozen=True)
class _Bucket:
    key: str
    capacity: float
    per_second: float
    tokens: bool  # counts tokens (else requests)
    learned: str | None = None  # the RateLimits bucket it was learned from


@dataclass(frozen=True)
class _Plan:
    slots: FairSlots | None
    buckets: tuple[_Bucket, ...]
    learn: bool


class Lease:
    """A call's slot and tokens, from `Limiter.acquire`. Settle it exactly once (further calls do nothing)."""

    __slots__ = ("_done", "_limiter", "_plan", "_taken", "key", "waited")

    def __init__(self, limiter: Limiter, key: CallKey, plan: _Plan, taken: tuple[tuple[_Bucket, float], ...],
                 waited: float) -> None:
        self._limiter = limiter
        self.key = key
        self._plan = plan
        self._taken = taken
        self.waited = waited
        """Seconds `acquire` waited (subtract it from what the call's deadline leaves)."""
        self._done = False

    def __repr__(self) -> str:
        return f"Lease({self.key.describe()}, waited={self.waited:.3f}s, settled={self._done})"

    @property
    def estimated_tokens(self) -> float:
        """The tokens taken on account."""
        return max((amount for b, amount in self._taken if b.tokens), default=0.0)

    def settle(self, actual_tokens: int | None = None, *, rate_limits: RateLimits | None = None) -> None:
        """The call is over: corrects the token estimate with `actual_tokens` (None keeps it), learns the
        vendor's `rate_limits`, and frees the slot. One store operation at most."""
        if self._done:
            return
        self._done = True
        try:
            adjusts: list[Adjust] = []
            if actual_tokens is not None:
                adjusts += [Adjust(b.key, b.capacity, b.per_second, delta=amount - actual_tokens)
                            for b, amount in self._taken if b.tokens and amount != actual_tokens]
                if not any(b.tokens for b, _ in self._taken) and actual_tokens:
                    # Nothing was estimated: charge what was used to every token bucket of the call.
                    adjusts += [Adjust(b.key, b.capacity, b.per_second, delta=-float(actual_tokens))
                                for b in self._plan.buckets if b.tokens]
            if rate_limits is not None and self._plan.learn:
                adjusts += self._limiter.learn(self.key, rate_limits, apply=False)
            if adjusts:
                self._limiter.store.adjust_tokens(tuple(adjusts), self._limiter.clock())
        finally:
            if self._plan.slots is not None:
                self._plan.slots.release()

    def cancel(self) -> None:
        """Nothing was sent: gives the request and the tokens back, and frees the slot."""
        if self._done:
            return
        self._done = True
        try:
            if self._taken:
                self._limiter.store.adjust_tokens(
                    tuple(Adjust(b.key, b.capacity, b.per_second, delta=amount) for b, amount in self._taken),
                    self._limiter.clock())
        finally:
            if self._plan.slots is not None:
                self._plan.slots.release()


class Limiter:
    """Client-side limits for every host and credential of a manager (or deployment, with a shared store).

    `limits`: one `Limits` for every host, or a mapping of host id (or "*" for the rest) to `Limits`;
    `set_limits` adds per-credential ones. `clock` gives wall-clock seconds (shared between processes),
    `sleep` / `asleep` wait (injectable for tests).
    """

    def __init__(self, limits: Limits | Mapping[str, Limits] | None = None, *, store: StateStore | None = None,
                 learn: bool = True, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 asleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.store: StateStore = store if store is not None else MemoryStore()
        self.clock = clock
        self.sleep = sleep
        self.asleep = asleep
        self.learn_by_default = learn
        self._config: dict[tuple[str, str | None], Limits] = {}
        if isinstance(limits, Limits):
            self._config[("*", None)] = limits
        elif limits is not None:
            for host, lim in limits.items():
                self._config[(host, None)] = lim
        self._slots: dict[str, FairSlots] = {}
        self._learned: dict[tuple[CallKey, str], tuple[float, float]] = {}  # (capacity, per_second)
        self._plans: dict[CallKey, _Plan] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Limiter(configured={len(self._config)}, learned={len(self._learned)}, store={self.store!r})"

    # ------------------------------------------------------------------ configuration

    def set_limits(self, host: str, limits: Limits, *, credential: str | None = None) -> None:
        """Sets the limits of a host ("*": every host), or of one credential of it (a `credential_id`)."""
        with self._lock:
            self._config[(host, credential)] = limits
            self._plans.clear()
            self._slots = {k: v for k, v in self._slots.items() if host != "*" and not k.startswith(f"{host}|")}

    def limits_for(self, key: CallKey) -> Limits | None:
        """The configured limits a call to `key` is under (credential's, else host's, else "*")."""
        cfg = self._config
        return cfg.get((key.host, key.credential)) or cfg.get((key.host, None)) or cfg.get(("*", None))

    def _plan(self, key: CallKey) -> _Plan:
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        with self._lock:
            lim = self.limits_for(key)
            hc = key.host_credential
            buckets: list[_Bucket] = []
            slots = None
            if lim is not None:
                if lim.concurrency:
                    slots = self._slots.get(hc)
                    if slots is None or slots.limit != lim.concurrency:
                        slots = self._slots[hc] = FairSlots(lim.concurrency)
                if lim.requests_per_minute:
                    buckets.append(_Bucket(f"lim|{hc}|rpm", lim.requests_per_minute, lim.requests_per_minute / 60,
                                           tokens=False))
                if lim.tokens_per_minute:
                    buckets.append(_Bucket(f"lim|{hc}|tpm", lim.tokens_per_minute, lim.tokens_per_minute / 60,
                                           tokens=True))
            learn = self.learn_by_default if lim is None else lim.learn
            if learn:
                for name in ("requests", "tokens"):
                    got = self._learned.get((key, name))
                    if got is not None:
                        buckets.append(_Bucket(f"lim|{key.model_part}|{name}~", got[0], got[1],
                                               tokens=name == "tokens", learned=name))
            if len(self._plans) >= _MAX_KEYS:  # plans are cheap to rebuild; a key seen once must not stay
                self._plans.clear()
            plan = self._plans[key] = _Plan(slots, tuple(buckets), learn)
            return plan

    # ------------------------------------------------------------------ learning

    def learn(self, key: CallKey, rate_limits: RateLimits | None, *, apply: bool = True) -> list[Adjust]:
        """Takes the limits a response's headers state for `key`'s model: the bucket's size and rate, and
        lowers it to what remains. Returns the store changes (applied now unless `apply` is false)."""
        if rate_limits is None:
            return []
        adjusts: list[Adjust] = []
        changed = False
        for name, bucket in (("requests", rate_limits.requests),
                             ("tokens", rate_limits.tokens or rate_limits.input_tokens)):
            if bucket is None or not bucket.limit or bucket.limit <= 0:
                continue
            capacity = float(bucket.limit)
            per_second = capacity / learned_window(bucket, rate_limits.observed_at)
            old = self._learned.get((key, name))
            if old is None or abs(old[0] - capacity) > 1e-9 or abs(old[1] - per_second) > 1e-9 * per_second:
                if old is None and len(self._learned) >= _MAX_KEYS:
                    self._learned.pop(next(iter(self._learned)))  # the longest known
                self._learned[(key, name)] = (capacity, per_second)
                changed = True
            if bucket.remaining is not None:
                adjusts.append(Adjust(f"lim|{key.model_part}|{name}~", capacity, per_second,
                                      ceiling=float(max(0, bucket.remaining))))
        if changed:
            with self._lock:
                self._plans.pop(key, None)
        if apply and adjusts:
            self.store.adjust_tokens(tuple(adjusts), self.clock())
        return adjusts

    # ------------------------------------------------------------------ acquiring

    def _takes(self, plan: _Plan, estimated_tokens: float) -> tuple[tuple[_Bucket, float], ...]:
        return tuple((b, estimated_tokens if b.tokens else 1.0) for b in plan.buckets
                     if not b.tokens or estimated_tokens > 0)

    def _refuse(self, key: CallKey, what: str, wait: float | None, max_wait: float | None) -> RateLimitError:
        waited = "" if max_wait is None else f" within the {max_wait:.2f}s its deadline leaves"
        after = f" (free in {wait:.2f}s)" if wait is not None and math.isfinite(wait) else ""
        return RateLimitError(f"client-side limit for {key.describe()}: {what}{after}{waited}; nothing was sent",
                              provider=key.host, retry_after=wait if wait is not None and math.isfinite(wait)
                              else None, code="client_rate_limit")

    def _take(self, key: CallKey, plan: _Plan, taken: tuple[tuple[_Bucket, float], ...], start: float,
              max_wait: float | None) -> float:
        """Takes from the buckets; the seconds to sleep before sending. Raises when it would be too long."""
        left = UNBOUNDED if max_wait is None else max(0.0, max_wait - (self.clock() - start))
        got = self.store.take_tokens(tuple(Take(b.key, amount, b.capacity, b.per_second) for b, amount in taken),
                                     self.clock(), left)
        if not got.granted:
            kinds = sorted({("tokens" if b.tokens else "requests") + (" (learned)" if b.learned else "")
                            for b, _ in taken})
            raise self._refuse(key, f"{' and '.join(kinds)} limit reached", got.wait, max_wait)
        return got.wait

    def acquire(self, key: CallKey, estimated_tokens: float = 0, *, max_wait: float | None = None) -> Lease:
        """A slot and the buckets' share for one call, waiting at most `max_wait` seconds (None: as long as
        needed); beyond it raises `RateLimitError` and nothing is taken."""
        plan = self._plans.get(key) or self._plan(key)
        start = self.clock()
        if plan.slots is not None and not plan.slots.acquire(max_wait):
            raise self._refuse(key, f"all {plan.slots.limit} concurrent calls in use", None, max_wait)
        taken = self._takes(plan, estimated_tokens)
        lease = Lease(self, key, plan, taken, 0.0)
        try:
            wait = self._take(key, plan, taken, start, max_wait) if taken else 0.0
        except BaseException:
            lease._taken = ()
            lease.cancel()
            raise
        if wait > 0:
            try:
                self.sleep(wait)
            except BaseException:
                lease.cancel()
                raise
        lease.waited = self.clock() - start
        return lease

    async def aacquire(self, key: CallKey, estimated_tokens: float = 0, *, max_wait: float | None = None) -> Lease:
        """`acquire` for coroutines: waits without blocking the event loop; cancelling gives everything back."""
        plan = self._plans.get(key) or self._plan(key)
        start = self.clock()
        if plan.slots is not None and not await plan.slots.aacquire(max_wait):
            raise self._refuse(key, f"all {plan.slots.limit} concurrent calls in use", None, max_wait)
        taken = self._takes(plan, estimated_tokens)
        lease = Lease(self, key, plan, taken, 0.0)
        try:
            wait = self._take(key, plan, taken, start, max_wait) if taken else 0.0
        except BaseException:
            lease._taken = ()
            lease.cancel()
            raise
        if wait > 0:
            try:
                await self.asleep(wait)
            except BaseException:
                lease.cancel()
                raise
        lease.waited = self.clock() - start
        return lease

    # ------------------------------------------------------------------ health

    def snapshot(self) -> list[dict[str, Any]]:
        """The configured and learned limits in use, with the concurrency of each credential."""
        with self._lock:
            plans = dict(self._plans)
        out = []
        for key, plan in plans.items():
            out.append({
                "host": key.host, "credential": key.label, "model": key.model or None,
                "concurrency": None if plan.slots is None else {"limit": plan.slots.limit,
                                                                "in_use": plan.slots.in_use,
                                                                "waiting": plan.slots.waiting},
                "buckets": [{"kind": "tokens" if b.tokens else "requests", "learned": b.learned is not None,
                             "capacity": b.capacity, "per_minute": b.per_second * 60} for b in plan.buckets],
            })
        return out
