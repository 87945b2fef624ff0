"""Budgets: spend and token limits checked before each call, against the ledger plus calls in flight.

How a check counts, per budget and period (UTC day, UTC month, or all time):

    spent = other writers' committed rows (from the store, refreshed every `refresh_interval` s;
            `refresh_interval=0` queries at every check)
          + this ledger's own rows, finished calls (kept exactly, in memory, committed or not)
          + this process's calls in flight (each reserved an estimate before it was sent)

A call is refused (`BudgetExceededError`, before anything is sent) when `spent >= limit` or
`spent + estimate > limit`. Within one process checks and reservations happen under one lock, so
the limit holds exactly as long as estimates are not below what calls really use (for tokens: set
`max_tokens`; the input estimate leans high for English text).

Across processes, what one process cannot see when it admits a call is what other processes have
not yet made visible: their calls in flight, their finished rows not yet committed (at most
`flush_interval` plus one batch write old, while the store is up), and rows committed after this
process's last refresh began (at most `refresh_interval` plus one query old). So the overshoot of
a budget is at most the cost of those calls (see docs/quota-and-cost.md for the bound in numbers).
"""

from __future__ import annotations

import calendar
import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ..errors import BudgetExceededError, ConfigurationError
from .records import UsageRecord, check_tag_name

if TYPE_CHECKING:
    from .stores import LedgerStore

__all__ = ["Budget", "BudgetGuard", "Reservation"]

log = logging.getLogger("agentos_llm.ledger")
Period = Literal["day", "month"]


@dataclass(frozen=True, eq=False)
class Budget:
    """A spend (`usd`) and/or token (`tokens`, input + output) limit, per UTC `day`, `month` or in all
    (`per=None`), for every call or only those of one `provider`, `model` or set of `tags`
    (all given scopes must match)."""

    usd: float | None = None
    tokens: int | None = None
    per: Period | None = None
    provider: str | None = None
    model: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    name: str | None = None
    """Shown in errors and logs (default: a description of the budget)."""

    def __post_init__(self) -> None:
        if self.usd is None and self.tokens is None:
            raise ConfigurationError("a Budget needs usd= and/or tokens=")
        if self.usd is not None and (not isinstance(self.usd, (int, float)) or not math.isfinite(self.usd)
                                     or self.usd < 0):
            raise ConfigurationError(f"Budget usd must be a finite number >= 0, not {self.usd!r}")
        if self.tokens is not None and (isinstance(self.tokens, bool) or not isinstance(self.tokens, int)
                                        or self.tokens < 0):
            raise ConfigurationError(f"Budget tokens must be an integer >= 0, not {self.tokens!r}")
        if self.per not in (None, "day", "month"):
            raise ConfigurationError(f"Budget per must be 'day', 'month' or None, not {self.per!r}")
        try:
            tags = {check_tag_name(k): str(v) for k, v in dict(self.tags or {}).items()}
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        object.__setattr__(self, "tags", tags)

    def applies(self, provider: str, model: str, tags: Mapping[str, str] | None) -> bool:
        """Whether a call of `provider` / `model` with `tags` counts against this budget."""
        if self.provider is not None and provider != self.provider:
            return False
        if self.model is not None and model != self.model:
            return False
        if self.tags:
            if not tags:
                return False
            return all(tags.get(k) == v for k, v in self.tags.items())
        return True

    def period_start(self, now: float) -> float | None:
        """Epoch seconds when the current period began (None: no period)."""
        if self.per is None:
            return None
        t = time.gmtime(now)
        day = 1 if self.per == "month" else t.tm_mday
        return float(calendar.timegm((t.tm_year, t.tm_mon, day, 0, 0, 0)))

    def period_end(self, now: float) -> float | None:
        """Epoch seconds when the current period ends (None: no period)."""
        if self.per is None:
            return None
        if self.per == "day":
            return (self.period_start(now) or 0.0) + 86400.0
        t = time.gmtime(now)
        year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
        return float(calendar.timegm((year, month, 1, 0, 0, 0)))

    def describe(self) -> str:
        """E.g. "$5.00 per day for provider 'openai'"."""
        if self.name:
            return self.name
        limits = " and ".join(x for x in (f"${self.usd:g}" if self.usd is not None else "",
                                          f"{self.tokens} tokens" if self.tokens is not None else "") if x)
        scope = [f"{k} {v!r}" for k, v in (("provider", self.provider), ("model", self.model)) if v is not None]
        scope += [f"tag {k}={v!r}" for k, v in self.tags.items()]
        when = f" per {self.per}" if self.per else ""
        return f"{limits}{when}" + (f" for {', '.join(scope)}" if scope else "")

    def __repr__(self) -> str:
        return f"Budget({self.describe()})"


class _State:
    """What a guard knows about one budget in its current period."""

    __slots__ = ("budget", "loaded", "others_tokens", "others_usd", "own_tokens", "own_usd", "period_end",
                 "period_start", "refreshed_at", "reserved_tokens", "reserved_usd")

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.period_start: float | None = None
        self.period_end = math.inf
        self.loaded = False
        self.refreshed_at = 0.0  # monotonic time the last refresh query began
        self.others_usd = 0.0
        self.others_tokens = 0
        self.own_usd = 0.0
        self.own_tokens = 0
        self.reserved_usd = 0.0
        self.reserved_tokens = 0


@dataclass
class Reservation:
    """What one admitted call holds against its budgets until it finishes."""

    states: list[_State]
    usd: float
    tokens: int


class BudgetGuard:
    """Checks and reserves against a ledger's budgets (one per `UsageLedger`)."""

    def __init__(self, budgets: Iterable[Budget], store: LedgerStore, writer_id: str, *,
                 refresh_interval: float = 1.0) -> None:
        self.budgets = tuple(budgets)
        self.store = store
        self.writer_id = writer_id
        self.refresh_interval = refresh_interval
        self._states = [_State(b) for b in self.budgets]
        self._lock = threading.Lock()
        self.max_query_seconds = 0.0
        """The longest refresh query so far (for the overshoot bound)."""
        self._warned = 0.0

    def reset(self, writer_id: str) -> None:
        """Forgets everything in memory (after a fork: the child is a new writer)."""
        self.writer_id = writer_id
        self._states = [_State(b) for b in self.budgets]
        self._lock = threading.Lock()

    def applicable(self, provider: str, model: str, tags: Mapping[str, str] | None) -> list[_State]:
        """The budgets a call counts against."""
        return [s for s in self._states if s.budget.applies(provider, model, tags)]

    def reserve(self, states: Sequence[_State], provider: str, usd: float, tokens: int) -> Reservation:
        """Admits a call estimated at `usd` / `tokens`, or raises `BudgetExceededError`."""
        now = time.time()
        with self._lock:
            for s in states:
                self._roll(s, now)
                if not s.loaded or self.refresh_interval <= 0:
                    self._load(s)
            for s in states:
                b = s.budget
                if b.usd is not None:
                    spent = s.others_usd + s.own_usd + s.reserved_usd
                    if spent >= b.usd or spent + usd > b.usd:
                        raise self._refusal(b, provider, "usd", b.usd, spent, usd, now)
                if b.tokens is not None:
                    used = s.others_tokens + s.own_tokens + s.reserved_tokens
                    if used >= b.tokens or used + tokens > b.tokens:
                        raise self._refusal(b, provider, "tokens", b.tokens, used, tokens, now)
            for s in states:
                s.reserved_usd += usd
                s.reserved_tokens += tokens
        return Reservation(list(states), usd, tokens)

    def release(self, reservation: Reservation) -> None:
        """Ends a reservation (its call finished: its row was already counted by `add`)."""
        with self._lock:
            for s in reservation.states:
                s.reserved_usd = max(0.0, s.reserved_usd - reservation.usd)
                s.reserved_tokens = max(0, s.reserved_tokens - reservation.tokens)

    def add(self, rec: UsageRecord) -> None:
        """Counts one of this ledger's own rows."""
        cost = rec.cost_usd or 0.0
        tokens = rec.total_tokens
        with self._lock:
            for s in self._states:
                if not s.budget.applies(rec.provider, rec.model, rec.tags):
                    continue
                self._roll(s, rec.time)
                if s.period_start is None or rec.time >= s.period_start:
                    s.own_usd += cost
                    s.own_tokens += tokens

    def refresh_due(self) -> None:
        """Refreshes, outside the lock, the budgets whose other-writers total is older than the interval
        (called by the ledger's writer thread)."""
        if self.refresh_interval <= 0:
            return
        now = time.monotonic()
        for s in list(self._states):
            if s.loaded and now - s.refreshed_at >= self.refresh_interval:
                self._load(s, locked=False)

    def _roll(self, s: _State, now: float) -> None:
        if s.loaded and (s.period_start is None or s.period_start <= now < s.period_end):
            return  # the usual case, without date arithmetic
        start = s.budget.period_start(now)
        if s.loaded and start == s.period_start:
            return
        if s.period_start is not None and start is not None and start < s.period_start:
            return  # a row of an earlier period arriving late: the current period stands
        if start != s.period_start:
            s.period_start = start
            s.period_end = s.budget.period_end(now) or math.inf
            s.loaded = False
            s.others_usd, s.others_tokens, s.own_usd, s.own_tokens = 0.0, 0, 0.0, 0

    def _load(self, s: _State, *, locked: bool = True) -> None:
        b = s.budget
        period = s.period_start
        started = time.monotonic()
        try:
            totals = self.store.totals(since=period, provider=b.provider, model=b.model, tags=b.tags or None,
                                       exclude_writer=self.writer_id)
        except Exception as exc:
            # Fail open: this process's own spend is still counted exactly; other writers' spend is
            # what was last read (nothing, if the store was never reachable).
            if time.monotonic() - self._warned > 60.0:
                self._warned = time.monotonic()
                log.warning("usage ledger: cannot read budget totals from %r (%s: %s); counting this "
                            "process's own calls and the last totals read", self.store, type(exc).__name__, exc)
            if locked:
                s.loaded = True
                s.refreshed_at = started
            return
        self.max_query_seconds = max(self.max_query_seconds, time.monotonic() - started)
        if locked:
            self._set(s, period, started, totals.usd, totals.tokens)
        else:
            with self._lock:
                self._set(s, period, started, totals.usd, totals.tokens)

    @staticmethod
    def _set(s: _State, period: float | None, started: float, usd: float, tokens: int) -> None:
        if s.period_start != period or started < s.refreshed_at:
            return  # the period rolled over, or a newer read landed first
        s.others_usd, s.others_tokens = usd, tokens
        s.refreshed_at = started
        s.loaded = True

    @staticmethod
    def _refusal(b: Budget, provider: str, unit: str, limit: float, spent: float, estimate: float,
                 now: float) -> BudgetExceededError:
        if unit == "usd":
            figures = f"${spent:.6g} of ${limit:.6g} spent, this call is estimated at ${estimate:.6g}"
        else:
            figures = f"{int(spent)} of {int(limit)} tokens used, this call is estimated at {int(estimate)}"
        resets = b.period_end(now)
        return BudgetExceededError(f"budget {b.describe()} would be exceeded ({figures}); nothing was sent",
                                   provider=provider, budget=b.describe(), unit=unit, limit=limit, spent=spent,
                                   resets_at=resets)
