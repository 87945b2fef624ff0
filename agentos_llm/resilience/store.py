"""One small state-store interface for breakers, limiters, budget counters and route health.

Every operation is atomic and takes `now` (seconds, the caller's clock) so that tests drive time and
every process of a deployment agrees on what "now" means (wall-clock seconds; machines running NTP
differ by milliseconds, which a per-minute bucket or a 30-second cooldown does not notice).

The operations, each one round trip on a shared store:

- token buckets: `take_tokens` takes from one or several buckets at once, all or nothing, refilling
  them first; a take that must wait up to `max_wait` is *reserved* (the bucket goes negative and the
  caller sleeps `wait`), so callers queue in the order they asked and two workers never both take the
  last token. `adjust_tokens` gives tokens back or takes more without waiting (a settled estimate) and
  lowers a bucket to what the vendor says remains.
- windowed counters: `hit` counts events in the last `window` seconds (failures for a breaker).
- versioned records: `get_states` reads several at once; `put_state` writes one only if its version is
  still the one read (compare-and-set), which is how one worker, and only one, moves a breaker.
- counters (`add_counter`, budgets) and scores (`set_score` / `get_scores`, route health).

`MemoryStore` (the default) keeps them in this process, thread-safe. `RedisStore`
(`agentos_llm.resilience.redis_store`, the `redis` extra) shares them between processes and machines.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, NamedTuple, Protocol, runtime_checkable

__all__ = ["Adjust", "MemoryStore", "StateStore", "Take", "TakeResult", "Versioned"]

UNBOUNDED = -1.0
"""`max_wait` for a take that may wait as long as it needs."""


class Take(NamedTuple):
    """Take `amount` from the bucket `key`, which holds at most `capacity` and refills `per_second`.

    An amount larger than the capacity waits for a full bucket, then takes it all and more (the bucket
    goes negative), so a single huge request is slowed, never refused for ever.
    """

    key: str
    amount: float
    capacity: float
    per_second: float


class TakeResult(NamedTuple):
    """Whether a take was granted, and the seconds to wait before using it (granted: the reservation's
    wait; refused: how long it would have had to wait)."""

    granted: bool
    wait: float


class Adjust(NamedTuple):
    """Change the bucket `key` without waiting: add `delta` (negative takes more), then lower it to
    `ceiling` when given (what the vendor says remains)."""

    key: str
    capacity: float
    per_second: float
    delta: float = 0.0
    ceiling: float | None = None


class Versioned(NamedTuple):
    """A record and the version `put_state` must be given to replace it."""

    version: int
    value: dict[str, Any]


@runtime_checkable
class StateStore(Protocol):
    """The atomic operations breakers, limiters, budgets and route health need. See the module docstring."""

    @property
    def shared(self) -> bool:
        """True when other processes see the same state."""

    def take_tokens(self, takes: tuple[Take, ...], now: float, max_wait: float = 0.0) -> TakeResult:
        """Takes from every bucket or from none; `max_wait` < 0 waits as long as needed."""

    def adjust_tokens(self, adjusts: tuple[Adjust, ...], now: float) -> None:
        """Applies each `Adjust` (refilling first)."""

    def hit(self, key: str, window: float, now: float, *, add: bool = True) -> int:
        """Records one event (unless `add` is false) and returns the events of the last `window` seconds."""

    def clear_hits(self, key: str) -> None:
        """Forgets the events of a counter."""

    def get_states(self, keys: tuple[str, ...]) -> list[Versioned | None]:
        """The records of `keys` (None for an absent one)."""

    def put_state(self, key: str, version: int, value: dict[str, Any] | None, ttl: float) -> bool:
        """Replaces the record if its version is still `version` (0: absent); `value` None deletes it.
        The record expires after `ttl` seconds. False when someone else changed it first."""

    def add_counter(self, key: str, amount: float, now: float, ttl: float | None = None) -> float:
        """Adds to a counter and returns its new value; `ttl` sets its expiry when it is created."""

    def get_counter(self, key: str, now: float) -> float:
        """A counter's value (0 when absent or expired)."""

    def set_score(self, key: str, member: str, score: float, now: float, ttl: float | None = None) -> None:
        """Sets one member's score in a scored set."""

    def get_scores(self, key: str, now: float) -> dict[str, float]:
        """Every member of a scored set with its score."""

    def close(self) -> None:
        """Releases connections."""


# ---------------------------------------------------------------------- bucket arithmetic (also in Lua)


def refill(tokens: float | None, stamp: float, capacity: float, per_second: float, now: float) -> tuple[float, float]:
    """A bucket's tokens and stamp at `now`: full when new; never refilled backwards when clocks differ."""
    if tokens is None:
        return capacity, now
    if now > stamp:
        return min(capacity, tokens + (now - stamp) * per_second), now
    return min(capacity, tokens), stamp


def wait_for(tokens: float, amount: float, capacity: float, per_second: float) -> float:
    """Seconds until `amount` (at most a full bucket) is there."""
    deficit = min(amount, capacity) - tokens
    if deficit <= 0:
        return 0.0
    return deficit / per_second if per_second > 0 else float("inf")


def idle_ttl(tokens: float, capacity: float, per_second: float) -> float:
    """How long a bucket must be kept: once full again it is the same as an absent one."""
    if per_second <= 0:
        return 86_400.0
    return max(0.0, capacity - tokens) / per_second + 1.0


# ---------------------------------------------------------------------- in memory


class MemoryStore:
    """The state of this process, behind one lock. Entries expire on the callers' clock; at most
    `max_keys` of each kind are kept (expired ones go first, then the oldest)."""

    shared = False

    def __init__(self, *, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float, float]] = {}  # tokens, stamp, expires
        self._hits: dict[str, deque[float]] = {}
        self._states: dict[str, tuple[int, dict[str, Any], float]] = {}  # version, value, expires
        self._counters: dict[str, tuple[float, float]] = {}  # value, expires
        self._scores: dict[str, tuple[dict[str, float], float]] = {}

    def __repr__(self) -> str:
        return f"MemoryStore(buckets={len(self._buckets)}, states={len(self._states)})"

    # -- buckets

    def _bucket(self, key: str, capacity: float, per_second: float, now: float) -> tuple[float, float]:
        got = self._buckets.get(key)
        if got is None or got[2] <= now:
            return refill(None, now, capacity, per_second, now)
        return refill(got[0], got[1], capacity, per_second, now)

    def _keep_bucket(self, key: str, tokens: float, stamp: float, capacity: float, per_second: float) -> None:
        self._buckets[key] = (tokens, stamp, stamp + idle_ttl(tokens, capacity, per_second))
        if len(self._buckets) > self.max_keys:
            _evict(self._buckets, lambda v: v[2], stamp, self.max_keys)

    def take_tokens(self, takes: tuple[Take, ...], now: float, max_wait: float = 0.0) -> TakeResult:
        """See `StateStore.take_tokens`."""
        with self._lock:
            state = [self._bucket(t.key, t.capacity, t.per_second, now) for t in takes]
            wait = max((wait_for(s[0], t.amount, t.capacity, t.per_second) for s, t in zip(state, takes, strict=True)),
                       default=0.0)
            granted = wait <= 0.0 or max_wait < 0 or wait <= max_wait
            for (tokens, stamp), t in zip(state, takes, strict=True):
                self._keep_bucket(t.key, tokens - t.amount if granted else tokens, stamp, t.capacity, t.per_second)
            return TakeResult(granted, wait)

    def adjust_tokens(self, adjusts: tuple[Adjust, ...], now: float) -> None:
        """See `StateStore.adjust_tokens`."""
        with self._lock:
            for a in adjusts:
                tokens, stamp = self._bucket(a.key, a.capacity, a.per_second, now)
                tokens = min(a.capacity, tokens + a.delta)
                if a.ceiling is not None:
                    tokens = min(tokens, a.ceiling)
                self._keep_bucket(a.key, tokens, stamp, a.capacity, a.per_second)

    # -- windowed counters

    def hit(self, key: str, window: float, now: float, *, add: bool = True) -> int:
        """See `StateStore.hit`."""
        with self._lock:
            events = self._hits.get(key)
            if events is None:
                if not add:
                    return 0
                if len(self._hits) >= self.max_keys:
                    self._drop_stale_hits(now, window)
                events = self._hits[key] = deque()
            while events and events[0] <= now - window:
                events.popleft()
            if add:
                events.append(now)
            elif not events:
                del self._hits[key]
            return len(events)

    def _drop_stale_hits(self, now: float, window: float) -> None:
        for k in [k for k, ev in self._hits.items() if not ev or ev[-1] <= now - window]:
            del self._hits[k]
        while len(self._hits) >= self.max_keys:
            del self._hits[next(iter(self._hits))]

    def clear_hits(self, key: str) -> None:
        """See `StateStore.clear_hits`."""
        with self._lock:
            self._hits.pop(key, None)

    # -- versioned records

    def get_states(self, keys: tuple[str, ...]) -> list[Versioned | None]:
        """See `StateStore.get_states`."""
        with self._lock:
            out: list[Versioned | None] = []
            expired = time.monotonic()
            for key in keys:
                got = self._states.get(key)
                if got is None or got[2] <= expired:
                    out.append(None)
                else:
                    out.append(Versioned(got[0], dict(got[1])))
            return out

    def put_state(self, key: str, version: int, value: dict[str, Any] | None, ttl: float) -> bool:
        """See `StateStore.put_state`."""
        # A record's TTL is a duration on this process's monotonic clock: it only collects garbage; the
        # times that matter (a breaker's "until") are inside the record, on the callers' clock.
        with self._lock:
            mono = time.monotonic()
            got = self._states.get(key)
            current = got[0] if got is not None and got[2] > mono else 0
            if current != version:
                return False
            if value is None:
                if got is not None:
                    del self._states[key]
                return True
            if got is None and len(self._states) >= self.max_keys:
                _evict(self._states, lambda v: v[2], mono, self.max_keys - 1)
            self._states[key] = (version + 1, dict(value), mono + ttl)
            return True

    # -- counters and scores

    def add_counter(self, key: str, amount: float, now: float, ttl: float | None = None) -> float:
        """See `StateStore.add_counter`."""
        with self._lock:
            got = self._counters.get(key)
            if got is None or got[1] <= now:
                got = (0.0, now + ttl if ttl else float("inf"))
                if len(self._counters) >= self.max_keys:
                    _evict(self._counters, lambda v: v[1], now, self.max_keys - 1)
            value = got[0] + amount
            self._counters[key] = (value, got[1])
            return value

    def get_counter(self, key: str, now: float) -> float:
        """See `StateStore.get_counter`."""
        with self._lock:
            got = self._counters.get(key)
            return 0.0 if got is None or got[1] <= now else got[0]

    def set_score(self, key: str, member: str, score: float, now: float, ttl: float | None = None) -> None:
        """See `StateStore.set_score`."""
        with self._lock:
            got = self._scores.get(key)
            if got is None or got[1] <= now:
                if len(self._scores) >= self.max_keys:
                    _evict(self._scores, lambda v: v[1], now, self.max_keys - 1)
                got = ({}, float("inf"))
            members = got[0]
            members[member] = score
            self._scores[key] = (members, now + ttl if ttl else got[1])

    def get_scores(self, key: str, now: float) -> dict[str, float]:
        """See `StateStore.get_scores`."""
        with self._lock:
            got = self._scores.get(key)
            return {} if got is None or got[1] <= now else dict(got[0])

    def clear(self) -> None:
        """Forgets everything (tests)."""
        with self._lock:
            for table in (self._buckets, self._hits, self._states, self._counters, self._scores):
                table.clear()

    def close(self) -> None:
        """Nothing to release."""


def _evict(table: dict[str, Any], expires: Any, now: float, keep: int) -> None:
    """Drops expired entries, then the oldest, until at most `keep` remain."""
    for k in [k for k, v in table.items() if expires(v) <= now]:
        del table[k]
    while len(table) > keep:
        del table[next(iter(table))]
