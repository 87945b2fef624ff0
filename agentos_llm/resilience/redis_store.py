"""`RedisStore`: the state store shared by every process and machine of a deployment (the `redis` extra).

Each operation is one round trip, atomic on the server: buckets, windowed counters and the
compare-and-set of records are Lua scripts (EVALSHA), so two workers never both take the last token and
only one of them moves a breaker. Times come from the callers (see `store.py`).

Redis is an aid, never a dependency of a call: the client uses short socket timeouts (100 ms by default)
and no retries. When Redis cannot be reached (refused, timed out, or any other Redis error) the store
logs ONE warning and serves every operation from `local`, a `MemoryStore` of this process; it tries Redis
again after `reconnect_after` seconds (doubling up to `max_reconnect_after`), from one caller at a time,
and logs at INFO when Redis answers again. `degraded` says which state is in use, `outages` counts the
times Redis went away. State written locally during an outage stays local.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import MissingDependencyError
from .store import Adjust, MemoryStore, Take, TakeResult, Versioned

__all__ = ["RedisStore"]

log = logging.getLogger("agentos_llm.resilience")
T = TypeVar("T")

_G = "string.format('%.17g', "  # full precision for floats written back

_REFILL = """
  local t = tonumber(v[1])
  local s = tonumber(v[2])
  if t == nil or s == nil then t = cap; s = now
  elseif now > s then t = math.min(cap, t + (now - s) * rate); s = now
  else t = math.min(cap, t) end
"""

_KEEP = f"""
  redis.call('HSET', KEYS[i], 't', {_G}t), 's', {_G}s))
  local ttl = 86400
  if rate > 0 then ttl = math.max(0, cap - t) / rate + 1 end
  redis.call('PEXPIRE', KEYS[i], math.ceil(ttl * 1000))
"""

# KEYS: buckets. ARGV: now, max_wait, then (amount, capacity, per_second) per bucket.
_TAKE = f"""
local now = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local toks, stamps = {{}}, {{}}
local wait = 0
for i = 1, #KEYS do
  local amount, cap, rate = tonumber(ARGV[3*i]), tonumber(ARGV[3*i+1]), tonumber(ARGV[3*i+2])
  local v = redis.call('HMGET', KEYS[i], 't', 's')
  {_REFILL}
  toks[i] = t
  stamps[i] = s
  local deficit = math.min(amount, cap) - t
  if deficit > 0 then
    local w = math.huge
    if rate > 0 then w = deficit / rate end
    if w > wait then wait = w end
  end
end
local granted = 0
if wait <= 0 or max_wait < 0 or wait <= max_wait then granted = 1 end
for i = 1, #KEYS do
  local amount, cap, rate = tonumber(ARGV[3*i]), tonumber(ARGV[3*i+1]), tonumber(ARGV[3*i+2])
  local t, s = toks[i], stamps[i]
  if granted == 1 then t = t - amount end
  {_KEEP}
end
return {{granted, {_G}wait)}}
"""

# KEYS: buckets. ARGV: now, then (capacity, per_second, delta, ceiling or "") per bucket.
_ADJUST = f"""
local now = tonumber(ARGV[1])
for i = 1, #KEYS do
  local b = 4 * i - 2
  local cap, rate, delta, ceiling = tonumber(ARGV[b]), tonumber(ARGV[b+1]), tonumber(ARGV[b+2]), tonumber(ARGV[b+3])
  local v = redis.call('HMGET', KEYS[i], 't', 's')
  {_REFILL}
  t = math.min(cap, t + delta)
  if ceiling ~= nil then t = math.min(t, ceiling) end
  {_KEEP}
end
return 1
"""

# KEYS[1]: a sorted set of event times. ARGV: now, window, add ("1"/"0"), a unique member.
_HIT = f"""
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', {_G}now - window))
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
end
return redis.call('ZCARD', KEYS[1])
"""

# KEYS[1]: "version:json". ARGV: expected version, new json ("" deletes), ttl in ms.
_PUT = """
local cur = redis.call('GET', KEYS[1])
local v = 0
if cur then v = tonumber(string.match(cur, '^(%d+):')) or 0 end
if v ~= tonumber(ARGV[1]) then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], (v + 1) .. ':' .. ARGV[2], 'PX', ARGV[3])
end
return 1
"""

# KEYS[1]: a counter. ARGV: amount, ttl in ms (0: none), set only when the counter has no expiry yet.
_COUNTER = """
local v = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 and redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return v
"""


def _num(x: float) -> str:
    return repr(float(x))


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000 + 0.999))


class RedisStore:
    """The state store on Redis, degrading to this process's memory when Redis is away.

    `url` is a redis-py URL (`redis://[:password@]host:port/db`, `rediss://` for TLS, `unix://`); or pass a
    ready `client` (a `redis.Redis`; give it short timeouts and no retries yourself). Keys start with
    `prefix`. `timeout` bounds connecting and each round trip (seconds).
    """

    shared = True

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, client: Any = None,
                 prefix: str = "agentos-llm:", timeout: float = 0.1, reconnect_after: float = 1.0,
                 max_reconnect_after: float = 30.0, local: MemoryStore | None = None) -> None:
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError:
            raise MissingDependencyError("redis", "redis") from None
        if client is None:
            # No retries inside redis-py: a failed round trip falls back to local state at once.
            client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                          retry=Retry(NoBackoff(), 0), health_check_interval=0)
        self._client: Any = client
        self.prefix = prefix
        self.timeout = timeout
        self.reconnect_after = reconnect_after
        self.max_reconnect_after = max_reconnect_after
        self.local = local if local is not None else MemoryStore()
        self.degraded = False
        """True while operations are served from `local` because Redis could not be reached."""
        self.outages = 0
        """How many times Redis became unreachable (each logged once)."""
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self._backoff = reconnect_after
        self._reconnecting = False
        self._take = client.register_script(_TAKE)
        self._adjust = client.register_script(_ADJUST)
        self._hit = client.register_script(_HIT)
        self._put = client.register_script(_PUT)
        self._counter = client.register_script(_COUNTER)

    @property
    def where(self) -> str:
        """host:port/db of the server (no password), for messages."""
        kw = getattr(getattr(self._client, "connection_pool", None), "connection_kwargs", {}) or {}
        if "path" in kw:
            return f"unix:{kw['path']}"
        return f"{kw.get('host', '?')}:{kw.get('port', '?')}/{kw.get('db', 0)}"

    def __repr__(self) -> str:
        return f"RedisStore({self.where}, prefix={self.prefix!r}, degraded={self.degraded})"

    # ------------------------------------------------------------------ falling back

    def _run(self, remote: Callable[[], T], local: Callable[[], T]) -> T:
        if self.degraded and not self._claim_reconnect():
            return local()
        try:
            result = remote()
        except self._errors as exc:
            self._went_away(exc)
            return local()
        if self.degraded:
            self._came_back()
        return result

    def _claim_reconnect(self) -> bool:
        # One caller at a time tries Redis again once the backoff has passed; the others stay local.
        with self._lock:
            if self._reconnecting or time.monotonic() < self._retry_at:
                return False
            self._reconnecting = True
            return True

    def _went_away(self, exc: BaseException) -> None:
        with self._lock:
            first = not self.degraded
            self.degraded = True
            self._reconnecting = False
            if first:
                self.outages += 1
                self._backoff = self.reconnect_after
            else:
                self._backoff = min(self._backoff * 2, self.max_reconnect_after)
            self._retry_at = time.monotonic() + self._backoff
        if first:
            log.warning("Redis at %s is unreachable (%s: %s): circuit breakers and rate limits use this "
                        "process's own state until it is back (retrying every %g-%g s)", self.where,
                        type(exc).__name__, exc, self.reconnect_after, self.max_reconnect_after)
        else:
            log.debug("Redis at %s still unreachable: %s", self.where, exc)

    def _came_back(self) -> None:
        with self._lock:
            self.degraded = False
            self._reconnecting = False
            self._backoff = self.reconnect_after
        log.info("Redis at %s is reachable again: shared state resumed", self.where)

    def _k(self, key: str) -> str:
        return self.prefix + key

    # ------------------------------------------------------------------ buckets

    def take_tokens(self, takes: tuple[Take, ...], now: float, max_wait: float = 0.0) -> TakeResult:
        """See `StateStore.take_tokens`."""
        def remote() -> TakeResult:
            args: list[str] = [_num(now), _num(max_wait)]
            for t in takes:
                args += [_num(t.amount), _num(t.capacity), _num(t.per_second)]
            granted, wait = self._take(keys=[self._k(t.key) for t in takes], args=args)
            return TakeResult(int(granted) == 1, float(wait))

        return self._run(remote, lambda: self.local.take_tokens(takes, now, max_wait))

    def adjust_tokens(self, adjusts: tuple[Adjust, ...], now: float) -> None:
        """See `StateStore.adjust_tokens`."""
        if not adjusts:
            return

        def remote() -> None:
            args: list[str] = [_num(now)]
            for a in adjusts:
                args += [_num(a.capacity), _num(a.per_second), _num(a.delta),
                         "" if a.ceiling is None else _num(a.ceiling)]
            self._adjust(keys=[self._k(a.key) for a in adjusts], args=args)

        self._run(remote, lambda: self.local.adjust_tokens(adjusts, now))

    # ------------------------------------------------------------------ windowed counters

    def hit(self, key: str, window: float, now: float, *, add: bool = True) -> int:
        """See `StateStore.hit`."""
        member = f"{now!r}:{os.urandom(6).hex()}"

        def remote() -> int:
            return int(self._hit(keys=[self._k(key)], args=[_num(now), _num(window), "1" if add else "0", member]))

        return self._run(remote, lambda: self.local.hit(key, window, now, add=add))

    def clear_hits(self, key: str) -> None:
        """See `StateStore.clear_hits`."""
        self._run(lambda: self._client.delete(self._k(key)), lambda: self.local.clear_hits(key))

    # ------------------------------------------------------------------ versioned records

    def get_states(self, keys: tuple[str, ...]) -> list[Versioned | None]:
        """See `StateStore.get_states`."""
        def remote() -> list[Versioned | None]:
            raw = self._client.mget([self._k(k) for k in keys])
            return [_versioned(r) for r in raw]

        return self._run(remote, lambda: self.local.get_states(keys))

    def put_state(self, key: str, version: int, value: dict[str, Any] | None, ttl: float) -> bool:
        """See `StateStore.put_state`."""
        body = "" if value is None else json.dumps(value, separators=(",", ":"))

        def remote() -> bool:
            return int(self._put(keys=[self._k(key)], args=[str(version), body, str(_ms(ttl))])) == 1

        return self._run(remote, lambda: self.local.put_state(key, version, value, ttl))

    # ------------------------------------------------------------------ counters and scores

    def add_counter(self, key: str, amount: float, now: float, ttl: float | None = None) -> float:
        """See `StateStore.add_counter`."""
        def remote() -> float:
            return float(self._counter(keys=[self._k(key)], args=[_num(amount), str(_ms(ttl) if ttl else 0)]))

        return self._run(remote, lambda: self.local.add_counter(key, amount, now, ttl))

    def get_counter(self, key: str, now: float) -> float:
        """See `StateStore.get_counter`."""
        def remote() -> float:
            got = self._client.get(self._k(key))
            return 0.0 if got is None else float(got)

        return self._run(remote, lambda: self.local.get_counter(key, now))

    def set_score(self, key: str, member: str, score: float, now: float, ttl: float | None = None) -> None:
        """See `StateStore.set_score`."""
        def remote() -> None:
            pipe = self._client.pipeline(transaction=True)
            pipe.zadd(self._k(key), {member: score})
            if ttl:
                pipe.pexpire(self._k(key), _ms(ttl))
            pipe.execute()

        self._run(remote, lambda: self.local.set_score(key, member, score, now, ttl))

    def get_scores(self, key: str, now: float) -> dict[str, float]:
        """See `StateStore.get_scores`."""
        def remote() -> dict[str, float]:
            pairs = self._client.zrange(self._k(key), 0, -1, withscores=True)
            return {(m.decode() if isinstance(m, bytes) else str(m)): float(s) for m, s in pairs}

        return self._run(remote, lambda: self.local.get_scores(key, now))

    def ping(self) -> bool:
        """Whether Redis answers now (not counted as an outage when it does not)."""
        try:
            return bool(self._client.ping())
        except self._errors:
            return False

    def close(self) -> None:
        """Closes the connections."""
        with contextlib.suppress(*self._errors):
            self._client.close()


def _versioned(raw: Any) -> Versioned | None:
    if raw is None:
        return None
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    version, _, body = text.partition(":")
    try:
        value = json.loads(body)
        return Versioned(int(version), value if isinstance(value, dict) else {})
    except ValueError:
        return None
