"""Rate-limit headers: what a response says about the key's remaining requests and tokens.

Pure parsing (`parse_rate_limit_headers`) for the header families vendors send on every response, and a
small per-credential store (`RATE_LIMITS`) keeping the latest reading, so `get_quota()` can report the
limits without asking the vendor again. The families:

- OpenAI, Groq and most OpenAI-compatible hosts: `x-ratelimit-limit-requests`, `x-ratelimit-limit-tokens`,
  `x-ratelimit-remaining-{requests,tokens}`, `x-ratelimit-reset-{requests,tokens}`; the resets are
  durations until the bucket is full again, Go style (`6m0s`, `1.5s`, `20ms`, `2m59.56s`).
  https://platform.openai.com/docs/guides/rate-limits#rate-limits-in-headers,
  https://console.groq.com/docs/rate-limits#handling-rate-limits
- Anthropic: `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`;
  the resets are RFC 3339 instants. https://docs.anthropic.com/en/api/rate-limits#response-headers
- OpenRouter (and gateways in the same style): `X-RateLimit-Limit`, `X-RateLimit-Remaining`,
  `X-RateLimit-Reset` for requests, the reset in epoch milliseconds. https://openrouter.ai/docs/api-reference/limits
- `retry-after` / `retry-after-ms` (seconds, or an HTTP date), on 429 answers mostly.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .errors import parse_retry_after, request_id_of

__all__ = [
    "RATE_LIMITS",
    "RateLimitBucket",
    "RateLimitStore",
    "RateLimits",
    "parse_duration",
    "parse_rate_limit_headers",
    "remember",
    "request_id_of",
]

BucketName = Literal["requests", "tokens", "input_tokens", "output_tokens"]
BUCKETS: tuple[BucketName, ...] = ("requests", "tokens", "input_tokens", "output_tokens")


class RateLimitBucket(BaseModel):
    """One limit the vendor enforces (requests, or tokens of some kind) in its current window."""

    model_config = ConfigDict(extra="forbid")
    limit: int | None = None
    remaining: int | None = None
    resets_at: datetime | None = None
    """When the bucket is full again (absolute, UTC), however the vendor wrote it."""


class RateLimits(BaseModel):
    """The rate-limit headers of one response, normalized; `raw` keeps them verbatim."""

    model_config = ConfigDict(extra="forbid")
    requests: RateLimitBucket | None = None
    tokens: RateLimitBucket | None = None
    input_tokens: RateLimitBucket | None = None
    output_tokens: RateLimitBucket | None = None
    retry_after: float | None = None
    """Seconds the vendor asks to wait (`retry-after`), where it says so."""
    observed_at: datetime
    """When the response carrying these headers was read (UTC)."""
    style: Literal["openai", "anthropic", "openrouter", "retry-after"]
    """Which header family they came in."""
    raw: dict[str, str] = Field(default_factory=dict)

    def buckets(self) -> list[tuple[BucketName, RateLimitBucket]]:
        """The buckets present, in a fixed order."""
        return [(name, b) for name in BUCKETS if (b := getattr(self, name)) is not None]

    def merged_over(self, older: RateLimits) -> RateLimits:
        """These limits, keeping `older`'s buckets that this response did not mention."""
        update: dict[str, Any] = {name: getattr(older, name) for name in BUCKETS
                  if getattr(self, name) is None and getattr(older, name) is not None}
        return self.model_copy(update=update) if update else self


# ---------------------------------------------------------------------- values

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|us|µs|ns|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


@lru_cache(maxsize=1024)  # the same few resets ("6ms", "0s", "1m0s") come back on every response
def parse_duration(text: str) -> float | None:
    """Seconds in a Go-style duration (`6m0s`, `1h2m3.5s`, `20ms`) or a bare number of seconds; None if neither."""
    text = text.strip()
    if not text:
        return None
    if text[-1].isdigit() or text[-1] == ".":  # a bare number; a unit-less Go duration ends in a letter
        try:
            return max(0.0, float(text))
        except ValueError:
            return None
    pos = 0
    total = 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    return total if pos == len(text) and pos > 0 else None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)  # the usual case, without the float round trip
    except ValueError:
        pass
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return int(value) if value == value and abs(value) != float("inf") else None


def _instant(text: str) -> datetime | None:
    """An RFC 3339 instant (a trailing `Z` included), as aware UTC."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def _epoch_or_delay(text: str, now: datetime) -> datetime | None:
    """A reset written as a number: epoch milliseconds (OpenRouter), epoch seconds, or seconds from now."""
    seconds = parse_duration(text)
    if seconds is None:
        return _instant(text)
    try:
        if seconds >= 1e11:  # later than 5138 in seconds: it is milliseconds
            return datetime.fromtimestamp(seconds / 1000.0, timezone.utc)
        if seconds >= 1e9:  # after 2001 in epoch seconds; no window is 30 years long
            return datetime.fromtimestamp(seconds, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return now + timedelta(seconds=seconds)


def _bucket(limit: str | None, remaining: str | None, reset: datetime | None) -> RateLimitBucket | None:
    bucket = RateLimitBucket(limit=_int(limit), remaining=_int(remaining), resets_at=reset)
    return None if bucket.limit is None and bucket.remaining is None and reset is None else bucket


# ---------------------------------------------------------------------- header families

_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-", "retry-after")


def parse_rate_limit_headers(headers: Mapping[str, str] | None, *, now: datetime | None = None
                             ) -> RateLimits | None:
    """The rate limits a response's headers state, or None when they state none.

    `headers` may be any mapping (a plain dict, or an HTTP client's case-insensitive headers); `now`
    (UTC) anchors relative resets, for tests.
    """
    if not headers:
        return None
    raw: dict[str, str] = {}
    for key, value in headers.items():
        key = key.lower()
        if key.startswith(_PREFIXES):
            raw[key] = value if type(value) is str else str(value)
    if not raw:
        return None
    now = now or datetime.now(timezone.utc)
    get = raw.get
    found: dict[str, RateLimitBucket] = {}
    style: Literal["openai", "anthropic", "openrouter", "retry-after"] = "retry-after"
    if any(k.startswith("anthropic-ratelimit-") for k in raw):
        style = "anthropic"
        for name in BUCKETS:
            prefix = f"anthropic-ratelimit-{name.replace('_', '-')}-"
            reset = get(prefix + "reset")
            bucket = _bucket(get(prefix + "limit"), get(prefix + "remaining"),
                             _instant(reset) if reset else None)
            if bucket is not None:
                found[name] = bucket
    elif any(k.endswith(("-requests", "-tokens")) for k in raw):
        style = "openai"
        for name in ("requests", "tokens"):
            reset = get(f"x-ratelimit-reset-{name}")
            delay = parse_duration(reset) if reset else None
            bucket = _bucket(get(f"x-ratelimit-limit-{name}"), get(f"x-ratelimit-remaining-{name}"),
                             None if delay is None else now + timedelta(seconds=delay))
            if bucket is not None:
                found[name] = bucket
    elif "x-ratelimit-limit" in raw or "x-ratelimit-remaining" in raw:
        style = "openrouter"
        reset = get("x-ratelimit-reset")
        bucket = _bucket(get("x-ratelimit-limit"), get("x-ratelimit-remaining"),
                         _epoch_or_delay(reset, now) if reset else None)
        if bucket is not None:
            found["requests"] = bucket
    retry_after = (parse_retry_after(raw, now=now.timestamp())
                   if "retry-after" in raw or "retry-after-ms" in raw else None)
    if not found and retry_after is None:
        return None
    return RateLimits(**found, retry_after=retry_after, observed_at=now, style=style, raw=raw)


# ---------------------------------------------------------------------- the store


class _Heard:
    """A response's rate-limit headers, kept unparsed until the store is read (most never are); `older` is the
    reading it was merged over."""

    __slots__ = ("depth", "headers", "observed_at", "older")

    def __init__(self, headers: Mapping[str, str], observed_at: datetime, older: RateLimits | _Heard | None) -> None:
        self.headers = headers
        self.observed_at = observed_at
        self.older = older
        self.depth: int = older.depth + 1 if isinstance(older, _Heard) else 1


def _resolved(entry: RateLimits | _Heard | None) -> RateLimits | None:
    """The limits an entry stands for: its readings parsed, oldest first, each merged over the one before."""
    chain: list[_Heard] = []
    while type(entry) is _Heard:
        chain.append(entry)
        entry = entry.older
    kept = entry if isinstance(entry, RateLimits) else None
    for heard in reversed(chain):
        limits = parse_rate_limit_headers(heard.headers, now=heard.observed_at)
        if limits is not None:
            kept = limits if kept is None else limits.merged_over(kept)
    return kept


class RateLimitStore:
    """The latest rate limits per (provider, credential), thread-safe, at most `max_entries` credentials.

    Headers kept with `put_headers` are parsed when read: a reading whose header names include all of the
    previous unparsed reading's replaces it (it states every bucket that one did); others are merged, oldest
    first, at most 8 deep before they are parsed."""

    max_unparsed = 8

    def __init__(self, max_entries: int = 512) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, Hashable], RateLimits | _Heard] = OrderedDict()
        self._lock = threading.Lock()

    def _keep(self, key: tuple[str, Hashable], entry: RateLimits | _Heard) -> None:
        self._entries[key] = entry
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)  # the credential heard from longest ago

    def put(self, provider_id: str, credential: Hashable, limits: RateLimits) -> RateLimits:
        """Keeps `limits` as the latest for this credential (buckets it does not mention keep their last
        reading) and returns what is now kept."""
        key = (provider_id, credential)
        with self._lock:
            older = _resolved(self._entries.pop(key, None))
            kept = limits if older is None else limits.merged_over(older)
            self._keep(key, kept)
            return kept

    def put_headers(self, provider_id: str, credential: Hashable, headers: Mapping[str, str],
                    observed_at: datetime) -> None:
        """Keeps a response's rate-limit `headers` (lower-cased names), read at `observed_at`, for this
        credential; they are parsed when the store is read."""
        key = (provider_id, credential)
        with self._lock:
            older = self._entries.pop(key, None)
            if type(older) is _Heard and older.headers.keys() <= headers.keys():
                older = older.older  # superseded: this reading states every bucket that one did
            heard = _Heard(headers, observed_at, older)
            if heard.depth <= self.max_unparsed:
                self._keep(key, heard)
            elif (limits := _resolved(heard)) is not None:
                self._keep(key, limits)

    def get(self, provider_id: str, credential: Hashable) -> RateLimits | None:
        """The latest limits seen for this credential, or None."""
        key = (provider_id, credential)
        with self._lock:
            entry = self._entries.get(key)
            if not isinstance(entry, _Heard):
                return entry
            limits = _resolved(entry)
            if limits is None:
                del self._entries[key]
            else:
                self._entries[key] = limits
            return limits

    def clear(self) -> None:
        """Forgets everything (tests)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


RATE_LIMITS = RateLimitStore()
"""The process-wide store `remember` writes and `get_quota()` reads."""


def remember(provider_id: str, listing_key: Hashable, headers: Mapping[str, str] | None) -> RateLimits | None:
    """Parses one response's headers and keeps the limits for this credential; returns this response's
    limits (for `response.rate_limits`), or None when the headers state none.

    `listing_key` is the provider's credential key (`IProvider._listing_key()`): limits belong to a key,
    not to a provider id.
    """
    limits = parse_rate_limit_headers(headers)
    if limits is not None:
        RATE_LIMITS.put(provider_id, listing_key, limits)
    return limits
