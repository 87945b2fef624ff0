"""Circuit breakers per host, credential and model, with cooldowns by error class.

A breaker is closed until failures of one class reach its rule's threshold within the rule's window;
then it is open for the rule's cooldown and every call fails at once with `CircuitOpenError` (nothing is
sent). When the cooldown is over, one call (and only one, across every process sharing the store) is let
through as a trial: its success closes the breaker, its failure opens it again for the cooldown. The
default rules (`DEFAULT_RULES`, AgentOS's table; cooldowns the table does not give are ours):

| errors | opens after | for | scope |
|---|---|---|---|
| 402 `QuotaExceededError` | 1 | 5 minutes (or its Retry-After) | credential |
| 401 `AuthenticationError` | 1 | 30 minutes | credential |
| 403 `PermissionDeniedError` | 1 | 30 minutes | model |
| 429 `RateLimitError` | 3 in 30 s | 30 s; at once for its Retry-After when it has one | model |
| 5xx `ServerError`, `APIConnectionError`, `APITimeoutError` | 5 in 60 s | 30 s | model |

Scope "credential" opens the breaker for every model of that key (an exhausted or revoked key is so for
all of them); "model" for that model only. Invalid requests (and context-length or content-filter
errors), unknown models, budget refusals and every error raised locally (an open breaker, a client-side
rate limit) never count. Breaker states live in a `StateStore` (in memory, or Redis for many workers),
read on every `check`: a breaker one worker opens is open for the others on their next call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BudgetExceededError,
    CircuitOpenError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from .keys import CallKey
from .store import MemoryStore, StateStore, Versioned

__all__ = ["DEFAULT_RULES", "LOCAL_ERROR_CODES", "BreakerPolicy", "BreakerRule", "BreakerStatus", "Breakers",
           "Permit"]

log = logging.getLogger("agentos_llm.resilience")

Scope = Literal["credential", "model"]
State = Literal["closed", "open", "half_open"]

LOCAL_ERROR_CODES = frozenset({"client_rate_limit", "circuit_open", "budget_exceeded"})
"""`ProviderError.code`s of errors this library raises before sending anything: never a breaker failure."""

RECORD_SLACK = 3600.0
"""How long an open breaker's record outlives its cooldown: within it the next call is a trial call; after
it (no call for an hour) the breaker is simply closed."""


@dataclass(frozen=True)
class BreakerRule:
    """When errors of some classes open a breaker, and for how long.

    `threshold` failures within `window` seconds open it for `cooldown` seconds. With `retry_after`, a
    failure carrying the vendor's Retry-After opens it at once for that long (at most `max_retry_after`).
    """

    name: str
    errors: tuple[type[BaseException], ...]
    threshold: int = 1
    window: float = 60.0
    cooldown: float = 60.0
    scope: Scope = "model"
    retry_after: bool = False
    max_retry_after: float = 3600.0


DEFAULT_RULES: tuple[BreakerRule, ...] = (
    BreakerRule("quota", (QuotaExceededError,), threshold=1, window=300.0, cooldown=300.0, scope="credential",
                retry_after=True),
    BreakerRule("auth", (AuthenticationError,), threshold=1, window=1800.0, cooldown=1800.0, scope="credential"),
    BreakerRule("permission", (PermissionDeniedError,), threshold=1, window=1800.0, cooldown=1800.0),
    BreakerRule("rate_limit", (RateLimitError,), threshold=3, window=30.0, cooldown=30.0, retry_after=True),
    BreakerRule("server", (ServerError, APIConnectionError, APITimeoutError), threshold=5, window=60.0,
                cooldown=30.0),
)

NEVER_COUNTED: tuple[type[BaseException], ...] = (InvalidRequestError, NotFoundError, BudgetExceededError,
                                                  CircuitOpenError)


@dataclass(frozen=True)
class BreakerPolicy:
    """The rules (first match wins), the errors that never count, and how long a trial call may hold the
    half-open breaker before another caller may try (`probe_lease`, in case the trial's process dies)."""

    rules: tuple[BreakerRule, ...] = DEFAULT_RULES
    never: tuple[type[BaseException], ...] = NEVER_COUNTED
    probe_lease: float = 60.0

    def rule_for(self, exc: BaseException) -> BreakerRule | None:
        """The rule `exc` counts for, or None when it does not count."""
        if isinstance(exc, self.never) or getattr(exc, "code", None) in LOCAL_ERROR_CODES:
            return None
        for rule in self.rules:
            if isinstance(exc, rule.errors):
                return rule
        return None


class Permit:
    """What `Breakers.check` grants one call: its key, and the half-open breakers it is the trial call of."""

    __slots__ = ("key", "probes")

    def __init__(self, key: CallKey, probes: tuple[tuple[str, int, dict[str, Any]], ...] = ()) -> None:
        self.key = key
        self.probes = probes
        """(record key, version after our claim, record) of each breaker this call is the trial of."""

    @property
    def is_trial(self) -> bool:
        """Whether this call decides whether a half-open breaker closes."""
        return bool(self.probes)

    def __repr__(self) -> str:
        return f"Permit({self.key.describe()}, trial={self.is_trial})"


@dataclass(frozen=True)
class BreakerStatus:
    """One breaker's state, for `health()` and `describe()`."""

    breaker: str
    host: str
    credential: str
    model: str | None
    state: State
    retry_after: float | None = None
    """Seconds until a trial call is let through (open), or until the trial call's lease ends (half-open)."""
    closes_at: float | None = None
    opened_by: str | None = None
    rule: str | None = None
    trips: int = 0
    """How many times it opened in a row without closing."""
    recent_failures: dict[str, int] = field(default_factory=dict)
    """Failures counted per rule within each rule's window."""

    def __str__(self) -> str:
        text = f"{self.breaker}: {self.state.replace('_', '-')}"
        if self.state == "open":
            text += f" after {self.opened_by} (rule {self.rule}); a trial call in {self.retry_after or 0:.1f}s"
        elif self.state == "half_open":
            text += " (a trial call is in flight)"
        if self.recent_failures:
            text += "; recent failures: " + ", ".join(f"{k} {v}" for k, v in self.recent_failures.items())
        return text

    def as_dict(self) -> dict[str, Any]:
        """Plain data (JSON-able)."""
        return {"breaker": self.breaker, "host": self.host, "credential": self.credential, "model": self.model,
                "state": self.state, "retry_after": self.retry_after, "closes_at": self.closes_at,
                "opened_by": self.opened_by, "rule": self.rule, "trips": self.trips,
                "recent_failures": dict(self.recent_failures)}


def _record_key(key: CallKey, scope: Scope) -> str:
    return f"brk|{key.host_credential}|*" if scope == "credential" else f"brk|{key.model_part}"


def _hits_key(rule: BreakerRule, record_key: str) -> str:
    return f"hits|{rule.name}|{record_key}"


class Breakers:
    """Every circuit breaker of a manager (or of a deployment, with a shared store).

    `check(key)` before a call (raises `CircuitOpenError`), then exactly one of `record_success`,
    `record_failure` or `release` with the `Permit` it returned. `clock` gives wall-clock seconds (shared
    between processes); `on_change(status)` is called when this process opens or closes a breaker.
    """

    def __init__(self, policy: BreakerPolicy | None = None, *, store: StateStore | None = None,
                 clock: Callable[[], float] = time.time, max_tracked: int = 10_000,
                 on_change: Callable[[BreakerStatus], None] | None = None) -> None:
        self.policy = policy or BreakerPolicy()
        self.store: StateStore = store if store is not None else MemoryStore()
        self.clock = clock
        self.on_change = on_change
        self.max_tracked = max_tracked
        self._tracked: OrderedDict[CallKey, None] = OrderedDict()
        self._lock = threading.Lock()
        self._scopes = tuple(dict.fromkeys(r.scope for r in self.policy.rules))

    def __repr__(self) -> str:
        return f"Breakers(rules={[r.name for r in self.policy.rules]}, store={self.store!r})"

    def _track(self, key: CallKey) -> None:
        if key in self._tracked:
            return
        with self._lock:
            self._tracked[key] = None
            while len(self._tracked) > self.max_tracked:
                self._tracked.popitem(last=False)

    def _record_keys(self, key: CallKey) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_record_key(key, s) for s in self._scopes))

    # ------------------------------------------------------------------ before a call

    def check(self, key: CallKey) -> Permit:
        """Lets a call through (a `Permit`), or raises `CircuitOpenError` at once. One store read."""
        self._track(key)
        record_keys = self._record_keys(key)
        records = self.store.get_states(record_keys)
        if not any(records):
            return Permit(key)
        now = self.clock()
        probes: list[tuple[str, int, dict[str, Any]]] = []
        try:
            for rk, rec in zip(record_keys, records, strict=True):
                if rec is not None:
                    claimed = self._claim(key, rk, rec, now)
                    if claimed is not None:
                        probes.append(claimed)
        except CircuitOpenError:
            self._release_probes(probes, now)
            raise
        return Permit(key, tuple(probes))

    def _claim(self, key: CallKey, rk: str, rec: Versioned, now: float) -> tuple[str, int, dict[str, Any]] | None:
        """Raises while `rec` is open; once its cooldown is over, makes this call its trial call."""
        value = rec.value
        state = value.get("state")
        if state == "open" and now < float(value.get("until", 0.0)):
            raise self._open_error(key, value, now)
        if state == "half_open" and now < float(value.get("probe_until", 0.0)):
            raise self._open_error(key, value, now)
        if state not in ("open", "half_open"):
            return None
        claim = {**value, "state": "half_open", "probe_until": now + self.policy.probe_lease}
        if self.store.put_state(rk, rec.version, claim, self.policy.probe_lease + RECORD_SLACK):
            log.info("circuit breaker %s is half-open: one trial call goes through", value.get("name", rk))
            return rk, rec.version + 1, claim
        fresh = self.store.get_states((rk,))[0]  # another caller moved it first: what is it now?
        if fresh is not None and fresh.value.get("state") in ("open", "half_open"):
            raise self._open_error(key, fresh.value, now)
        return None

    def _open_error(self, key: CallKey, value: dict[str, Any], now: float) -> CircuitOpenError:
        name = str(value.get("name") or key.describe())
        if value.get("state") == "half_open":
            until = float(value.get("probe_until", now))
            why = "half-open: its trial call is in flight"
        else:
            until = float(value.get("until", now))
            why = f"open after {value.get('error')} (rule {value.get('rule')})"
        wait = max(0.0, until - now)
        return CircuitOpenError(
            f"circuit breaker {name} is {why}; nothing was sent; it lets a trial call through in {wait:.1f}s",
            provider=key.host, breaker=name, credential=str(value.get("label") or key.label),
            model=value.get("model") or None, retry_after=wait, closes_at=until,
            opened_by=value.get("error"))

    # ------------------------------------------------------------------ after a call

    def record_success(self, permit: Permit) -> None:
        """The call succeeded: a trial call closes its breakers. Costs nothing otherwise."""
        if not permit.probes:
            return
        for rk, version, value in permit.probes:
            if self.store.put_state(rk, version, None, 1.0):
                for rule in self.policy.rules:
                    self.store.clear_hits(_hits_key(rule, rk))
                log.info("circuit breaker %s closed: its trial call succeeded", value.get("name", rk))
                self._notify(permit.key, value, "closed")

    def record_failure(self, permit: Permit, exc: BaseException) -> bool:
        """The call failed with `exc`: counts it under its rule, opening the breaker when the rule says so.
        Returns True when this failure opened (or re-opened) a breaker."""
        rule = self.policy.rule_for(exc)
        now = self.clock()
        if rule is None:
            self._release_probes(permit.probes, now)
            return False
        rk = _record_key(permit.key, rule.scope)
        cooldown = rule.cooldown
        at_once = rule.threshold <= 1
        retry_after = getattr(exc, "retry_after", None)
        if rule.retry_after and isinstance(retry_after, (int, float)) and retry_after > 0:
            cooldown, at_once = min(float(retry_after), rule.max_retry_after), True
        probe = next((p for p in permit.probes if p[0] == rk), None)
        self._release_probes(tuple(p for p in permit.probes if p[0] != rk), now)
        if probe is not None:
            return self._open(permit.key, rk, rule, exc, now, cooldown, expect=(probe[1], probe[2]))
        if not at_once:
            at_once = self.store.hit(_hits_key(rule, rk), rule.window, now) >= rule.threshold
        return at_once and self._open(permit.key, rk, rule, exc, now, cooldown, expect=None)

    def release(self, permit: Permit) -> None:
        """The call was not made or was abandoned (cancelled, left early): no verdict; a trial call's
        breakers let the next caller try."""
        self._release_probes(permit.probes, self.clock())

    def _release_probes(self, probes: tuple[tuple[str, int, dict[str, Any]], ...] | list[Any], now: float) -> None:
        for rk, version, value in probes:
            self.store.put_state(rk, version, {**value, "state": "open", "until": now, "probe_until": 0.0},
                                 RECORD_SLACK)

    def _open(self, key: CallKey, rk: str, rule: BreakerRule, exc: BaseException, now: float, cooldown: float,
              expect: tuple[int, dict[str, Any]] | None) -> bool:
        until = now + cooldown
        prev: dict[str, Any] | None
        for _ in range(4):  # compare-and-set: another worker may move the same breaker at the same moment
            if expect is not None:
                version, prev = expect
            else:
                cur = self.store.get_states((rk,))[0]
                version, prev = (cur.version, cur.value) if cur is not None else (0, None)
                if prev is not None and prev.get("state") == "half_open" and now < float(prev.get("probe_until", 0)):
                    return False  # its trial call decides
                if prev is not None and prev.get("state") == "open" and float(prev.get("until", 0)) >= until:
                    return False  # already open at least that long
            scope_key = key if rule.scope == "model" else CallKey(key.host, key.credential, "", key.label)
            record = {
                "state": "open", "until": until, "since": now, "rule": rule.name, "error": type(exc).__name__,
                "status": getattr(exc, "status_code", None), "host": key.host, "label": key.label,
                "model": key.model if rule.scope == "model" else "", "name": scope_key.describe(),
                "trips": int((prev or {}).get("trips", 0)) + 1, "probe_until": 0.0, "cooldown": cooldown,
            }
            if self.store.put_state(rk, version, record, cooldown + RECORD_SLACK):
                log.warning("circuit breaker %s opened for %.0f s after %s (rule %s)%s", record["name"], cooldown,
                            record["error"], rule.name, "; its trial call failed" if expect is not None else "")
                self._notify(key, record, "open")
                return True
            if expect is not None:
                return False  # the trial's lease lapsed and someone else holds the breaker now
        return False

    def _notify(self, key: CallKey, record: dict[str, Any], state: State) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(self._status(key, record if state == "open" else None, str(record.get("name", "")),
                                        scope_model=record.get("model") or None, now=self.clock()))
        except Exception:  # a hook must never break the call that reported
            log.exception("breaker on_change hook failed")

    # ------------------------------------------------------------------ health

    def _status(self, key: CallKey, value: dict[str, Any] | None, name: str, *, scope_model: str | None,
                now: float, failures: dict[str, int] | None = None) -> BreakerStatus:
        if value is None or value.get("state") not in ("open", "half_open"):
            return BreakerStatus(name, key.host, key.label, scope_model, "closed", recent_failures=failures or {})
        half = value["state"] == "half_open" or float(value.get("until", 0)) <= now
        until = float(value.get("probe_until" if value["state"] == "half_open" else "until", now))
        return BreakerStatus(name, key.host, str(value.get("label") or key.label), scope_model,
                             "half_open" if half else "open", retry_after=max(0.0, until - now), closes_at=until,
                             opened_by=value.get("error"), rule=value.get("rule"), trips=int(value.get("trips", 0)),
                             recent_failures=failures or {})

    def status(self, key: CallKey) -> list[BreakerStatus]:
        """The breakers a call to `key` passes (credential-wide, then the model's), with recent failures."""
        now = self.clock()
        out = []
        for scope in self._scopes:
            rk = _record_key(key, scope)
            scoped = key if scope == "model" else CallKey(key.host, key.credential, "", key.label)
            failures = {r.name: n for r in self.policy.rules if r.scope == scope
                        if (n := self.store.hit(_hits_key(r, rk), r.window, now, add=False))}
            rec = self.store.get_states((rk,))[0]
            out.append(self._status(key, rec.value if rec else None, scoped.describe(),
                                    scope_model=(key.model or None) if scope == "model" else None, now=now,
                                    failures=failures))
        return out

    def snapshot(self) -> list[BreakerStatus]:
        """Every breaker this process has checked, each once (one store read per breaker and rule)."""
        with self._lock:
            keys = list(self._tracked)
        seen: dict[str, BreakerStatus] = {}
        for key in keys:
            for st in self.status(key):
                seen.setdefault(st.breaker, st)
        return list(seen.values())

    def reset(self, key: CallKey | None = None) -> None:
        """Closes the breakers of `key` (every tracked one when None) and forgets their failures."""
        with self._lock:
            keys = [key] if key is not None else list(self._tracked)
        for k in keys:
            for rk in self._record_keys(k):
                for _ in range(4):
                    cur = self.store.get_states((rk,))[0]
                    if cur is None or self.store.put_state(rk, cur.version, None, 1.0):
                        break
                for rule in self.policy.rules:
                    self.store.clear_hits(_hits_key(rule, rk))
