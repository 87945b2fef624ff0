"""Quota snapshots: what a key may still spend, in one shape for every provider.

`await provider.get_quota()` (and `manager.quotas()` for every provider) returns a `QuotaSnapshot`:
windows (a budget or a rate limit that resets: tokens, requests or money used of a limit), balances
(money or credits left on the account), the plan where the vendor names it, and a status. Errors are
data, never exceptions: a dashboard of ten providers always shows ten rows.

Where the numbers come from is `agentos_llm.quota_fetch` (the vendor's quota endpoint, through the presets
of `agentos_llm.quota_presets`) and `agentos_llm.rate_limits` (the rate-limit headers of the latest
responses).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .rate_limits import RateLimits

__all__ = ["Balance", "QuotaSnapshot", "QuotaStatus", "QuotaWindow", "Unit", "header_windows"]

Unit = Literal["tokens", "requests", "usd", "credits"]
QuotaStatus = Literal["ok", "unsupported", "unauthorized", "error"]


def _rounded(value: float) -> float:
    # Subtracting money in floats leaves tails like 74.50000000000001; no vendor counts that finely.
    return round(value, 9)


class QuotaWindow(BaseModel):
    """A limit over a window that resets (a budget, a rate limit), and how much of it is used.

    Of `used`, `limit` and `remaining`, any one the vendor leaves out is derived from the other two;
    `used_percent` is derived whenever the limit and the use are known.
    """

    model_config = ConfigDict(extra="forbid")
    name: str
    unit: Unit
    used: float | None = None
    limit: float | None = None
    remaining: float | None = None
    used_percent: float | None = None
    resets_at: datetime | None = None
    source: Literal["endpoint", "headers"] = "endpoint"
    """A quota endpoint's answer, or the rate-limit headers of a recent response."""

    @model_validator(mode="after")
    def _derive(self) -> QuotaWindow:
        if self.limit is not None:
            if self.used is None and self.remaining is not None:
                self.used = _rounded(self.limit - self.remaining)
            elif self.remaining is None and self.used is not None:
                self.remaining = _rounded(self.limit - self.used)
            if self.used_percent is None and self.used is not None and self.limit > 0:
                self.used_percent = round(100.0 * self.used / self.limit, 4)
        return self


class Balance(BaseModel):
    """Money or credits on the account; `granted` and `topped_up` where the vendor splits the balance."""

    model_config = ConfigDict(extra="forbid")
    currency: str
    """An ISO currency code ("USD", "CNY"), or "credits"."""
    limit: float | None = None
    used: float | None = None
    remaining: float | None = None
    granted: float | None = None
    topped_up: float | None = None

    @model_validator(mode="after")
    def _derive(self) -> Balance:
        if self.limit is not None:
            if self.remaining is None and self.used is not None:
                self.remaining = _rounded(self.limit - self.used)
            elif self.used is None and self.remaining is not None:
                self.used = _rounded(self.limit - self.remaining)
        return self


class QuotaSnapshot(BaseModel):
    """One provider's quota as of `fetched_at`: one row of a quota dashboard."""

    model_config = ConfigDict(extra="forbid")
    provider: str
    label: str
    credential_source: str | None = None
    """Where the key came from ("env:NAME", "config:<path>", "argument"), as the provider resolved it."""
    fetched_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    windows: list[QuotaWindow] = Field(default_factory=list)
    balances: list[Balance] = Field(default_factory=list)
    plan: str | None = None
    """The plan or tier, where the vendor names it (e.g. "free tier")."""
    key: str | None = None
    """The key's name as the server reports it (a label or a masked form), never the key itself."""
    status: QuotaStatus = "ok"
    message: str | None = None
    """Why the status is not "ok", or what else is worth knowing (an optional endpoint that failed)."""
    source: Literal["endpoint", "headers", "endpoint+headers"] | None = None
    """Where the numbers came from; None when there are none."""
    url: str | None = None
    """The quota endpoint asked, if any."""

    @property
    def ok(self) -> bool:
        """Whether the snapshot holds a current answer."""
        return self.status == "ok"


_BUCKET_UNITS: dict[str, Unit] = {
    "requests": "requests", "tokens": "tokens", "input_tokens": "tokens", "output_tokens": "tokens",
}


def header_windows(limits: RateLimits | None) -> list[QuotaWindow]:
    """The buckets of remembered rate-limit headers as windows (source "headers")."""
    if limits is None:
        return []
    return [QuotaWindow(name=name, unit=_BUCKET_UNITS[name],
                        limit=None if b.limit is None else float(b.limit),
                        remaining=None if b.remaining is None else float(b.remaining),
                        resets_at=b.resets_at, source="headers")
            for name, b in limits.buckets()]
