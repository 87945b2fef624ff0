"""Declarative quota mappings: where in a JSON answer each number of a `QuotaSnapshot` is, and how to read it.

A mapping is data (the presets of `agentos_llm.quota_presets`, or a `[providers.<id>.quota.mapping]`
table of the config file), read by one small interpreter, `apply_mapping`:

- a JSON path per field: dotted keys, list indexes as numbers (`data.usage`, `balance_infos.0.currency`),
  `$` for the whole answer, `a|b` for `a` else `b`; a missing field is None, never an error;
- numbers as JSON numbers or numeric strings (DeepSeek writes `"110.00"`), divided by `divisor` (100 for
  cents, 1000000 for micro-units);
- timestamps as ISO 8601 (`iso`), epoch seconds (`epoch_s`) or milliseconds (`epoch_ms`), seconds from now
  (`seconds_from_now`), a period name (`period`: daily / weekly / monthly, reset at the next UTC boundary),
  or `auto` (ISO for strings; for numbers, milliseconds above 1e11, epoch seconds above 1e9, else seconds
  from now);
- `each`: a path to a list, one window or balance per item, the other paths read inside the item.

A field of the wrong type (a string where a number belongs) is a `MappingError`: a mapping that does not
fit its answer says so rather than reporting zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .quota import Balance, QuotaWindow, Unit

__all__ = [
    "BalanceMap",
    "MappedQuota",
    "MappingError",
    "QuotaEndpoint",
    "QuotaMapping",
    "QuotaPreset",
    "TimeFormat",
    "WindowMap",
    "apply_mapping",
    "check_path",
    "next_period_start",
]

TimeFormat = Literal["auto", "iso", "epoch_s", "epoch_ms", "seconds_from_now", "period"]
Period = Literal["day", "week", "month"]


class MappingError(ValueError):
    """The answer does not fit the mapping (a field of the wrong type)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowMap(_Strict):
    """Where one window's numbers are (`used`, `limit`, `remaining`: give any two, or one)."""

    name: str
    unit: Unit = "usd"
    used: str | None = None
    limit: str | None = None
    remaining: str | None = None
    resets_at: str | None = None
    time_format: TimeFormat = "auto"
    """How `resets_at` is written."""
    period: Period | None = None
    """A UTC calendar window (the day from midnight, the week from Monday, the month from the 1st): it
    resets at the next boundary. For counters like OpenRouter's `usage_daily`."""
    divisor: float = Field(default=1.0, gt=0)
    each: str | None = None
    name_path: str | None = None
    """With `each`: the item's field appended to `name`."""


class BalanceMap(_Strict):
    """Where one balance's amounts are."""

    currency: str = "USD"
    currency_path: str | None = None
    """A field naming the currency (wins over `currency` when present)."""
    limit: str | None = None
    used: str | None = None
    remaining: str | None = None
    granted: str | None = None
    topped_up: str | None = None
    divisor: float = Field(default=1.0, gt=0)
    each: str | None = None


class QuotaMapping(_Strict):
    """How one quota answer becomes windows, balances, a plan and a key name."""

    windows: tuple[WindowMap, ...] = ()
    balances: tuple[BalanceMap, ...] = ()
    plan: str | None = None
    plan_values: dict[str, str] = Field(default_factory=dict)
    """Labels for the plan field's values (JSON booleans as "true" / "false"); others are shown as they are."""
    key: str | None = None
    """The field naming the key (a label or a masked form)."""
    available: str | None = None
    """A boolean field; false means the vendor says the key cannot make calls now."""


def check_path(value: str) -> str:
    """A path on the host itself: empty, or `/...` without a scheme, a host or blanks."""
    if value and (not value.startswith("/") or value.startswith("//") or "://" in value
                  or any(c.isspace() for c in value)):
        raise ValueError(f"{value!r} is not a path on the host (write it as /path, e.g. /quota)")
    return value


class QuotaEndpoint(_Strict):
    """One GET request of a preset and the mapping of its answer."""

    path: str = ""
    """Appended to the host's base URL; empty means the configured `path` (the neutral contract)."""
    from_root: bool = False
    """Relative to the server root (the base URL without a trailing `/v1`) instead of the base URL."""
    required: bool = True
    """When an optional endpoint fails, the snapshot keeps the others' numbers and says why in `message`."""
    mapping: QuotaMapping

    _check_path = field_validator("path")(check_path)


class QuotaPreset(_Strict):
    """A vendor's quota endpoints as data."""

    name: str
    docs: str
    """Where the vendor documents the shape."""
    endpoints: tuple[QuotaEndpoint, ...]
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    """Prefix of the key in `auth_header` ("" sends the key alone)."""


@dataclass
class MappedQuota:
    """What one answer says, mapped."""

    windows: list[QuotaWindow] = field(default_factory=list)
    balances: list[Balance] = field(default_factory=list)
    plan: str | None = None
    key: str | None = None
    notes: list[str] = field(default_factory=list)
    matched: bool = False
    """Whether any field of the mapping was found (False: the answer has another shape altogether)."""


# ---------------------------------------------------------------------- reading values


class _Reader:
    """Reads paths from one JSON value, remembering whether anything was found."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.found = False

    def get(self, item: Any, path: str | None) -> Any:
        if path is None:
            return None
        for alternative in path.split("|"):
            value = self._one(item, alternative.strip())
            if value is not None:
                self.found = True
                return value
        return None

    @staticmethod
    def _one(item: Any, path: str) -> Any:
        value = item
        if path not in ("", "$"):
            for name in path.removeprefix("$.").split("."):
                if isinstance(value, dict):
                    value = value.get(name)
                elif isinstance(value, list) and name.isdigit() and int(name) < len(value):
                    value = value[int(name)]
                else:
                    return None
        return value

    def number(self, item: Any, path: str | None, divisor: float = 1.0) -> float | None:
        value = self.get(item, path)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise MappingError(f"{path} is not a number: {value!r}")
        try:
            number = float(value)
        except ValueError:
            raise MappingError(f"{path} is not a number: {value!r}") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise MappingError(f"{path} is not a finite number: {value!r}")
        return number / divisor

    def text(self, item: Any, path: str | None) -> str | None:
        value = self.get(item, path)
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value)
        raise MappingError(f"{path} is not a string: {value!r}")

    def items(self, item: Any, path: str | None) -> list[Any]:
        if path is None:
            return [item]
        value = self.get(item, path)
        if value is None:
            return []
        if not isinstance(value, list):
            raise MappingError(f"{path} is not a list: {type(value).__name__}")
        return value

    def instant(self, item: Any, path: str | None, fmt: TimeFormat) -> datetime | None:
        value = self.get(item, path)
        if value is None:
            return None
        try:
            return _to_instant(value, fmt, self.now)
        except (ValueError, OverflowError, OSError):
            raise MappingError(f"{path} is not a {fmt} timestamp: {value!r}") from None


_PERIODS = {"day": "day", "daily": "day", "week": "week", "weekly": "week", "month": "month", "monthly": "month"}


def next_period_start(period: str, now: datetime) -> datetime | None:
    """The next UTC day, week (Monday) or month boundary after `now`; None for an unknown period name."""
    name = _PERIODS.get(period.strip().lower())
    today = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    if name == "day":
        return today + timedelta(days=1)
    if name == "week":
        return today + timedelta(days=7 - today.weekday())
    if name == "month":
        return today.replace(year=today.year + 1, month=1, day=1) if today.month == 12 else \
            today.replace(month=today.month + 1, day=1)
    return None


def _to_instant(value: Any, fmt: TimeFormat, now: datetime) -> datetime | None:
    if isinstance(value, bool):
        raise ValueError("a boolean is no time")
    if fmt == "period":
        if not isinstance(value, str):
            raise ValueError("a period is a name")
        return next_period_start(value, now)
    if isinstance(value, str) and fmt in ("iso", "auto"):
        try:
            number: float | None = float(value)
        except ValueError:
            number = None
        if number is None or fmt == "iso":
            when = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
            return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
        value = number
    seconds = float(value)
    if fmt == "auto":
        fmt = "epoch_ms" if seconds >= 1e11 else "epoch_s" if seconds >= 1e9 else "seconds_from_now"
    if fmt == "epoch_ms":
        return datetime.fromtimestamp(seconds / 1000.0, timezone.utc)
    if fmt == "epoch_s":
        return datetime.fromtimestamp(seconds, timezone.utc)
    return now + timedelta(seconds=seconds)


# ---------------------------------------------------------------------- applying a mapping


def _windows(reader: _Reader, payload: Any, wm: WindowMap) -> list[QuotaWindow]:
    out: list[QuotaWindow] = []
    for item in reader.items(payload, wm.each):
        used = reader.number(item, wm.used, wm.divisor)
        limit = reader.number(item, wm.limit, wm.divisor)
        remaining = reader.number(item, wm.remaining, wm.divisor)
        if used is None and limit is None and remaining is None:
            continue  # the vendor states nothing for this window (e.g. a key without a limit)
        resets = reader.instant(item, wm.resets_at, wm.time_format)
        if resets is None and wm.period is not None:
            resets = next_period_start(wm.period, reader.now)
        suffix = reader.text(item, wm.name_path) if wm.name_path else None
        out.append(QuotaWindow(name=f"{wm.name} {suffix}".strip() if suffix else wm.name, unit=wm.unit,
                               used=used, limit=limit, remaining=remaining, resets_at=resets))
    return out


def _balances(reader: _Reader, payload: Any, bm: BalanceMap) -> list[Balance]:
    out: list[Balance] = []
    for item in reader.items(payload, bm.each):
        amounts = {name: reader.number(item, getattr(bm, name), bm.divisor)
                   for name in ("limit", "used", "remaining", "granted", "topped_up")}
        if all(v is None for v in amounts.values()):
            continue
        currency = reader.text(item, bm.currency_path) or bm.currency
        out.append(Balance(currency=currency, **amounts))
    return out


def apply_mapping(mapping: QuotaMapping, payload: Any, *, now: datetime | None = None) -> MappedQuota:
    """Reads one JSON answer through a mapping (pure: `now` anchors relative times). Raises `MappingError`."""
    reader = _Reader(now or datetime.now(timezone.utc))
    result = MappedQuota()
    for wm in mapping.windows:
        result.windows.extend(_windows(reader, payload, wm))
    for bm in mapping.balances:
        result.balances.extend(_balances(reader, payload, bm))
    plan = reader.text(payload, mapping.plan)
    if plan is not None:
        result.plan = mapping.plan_values.get(plan, plan)
    result.key = reader.text(payload, mapping.key)
    available = reader.get(payload, mapping.available)
    if available is False:
        result.notes.append(f"{mapping.available} is false: the vendor says this key cannot make calls now")
    result.matched = reader.found
    return result
