"""What a response's headers say, handed from a provider's I/O layer to the base class.

The seam: an I/O hook passes the headers on and reads nothing in them.

- `_send` / `_asend` may return `Received(payload, headers, status)` instead of the bare payload;
- a stream (`_open_stream` / `_aopen_stream`) may yield `Received(None, headers, status)` as its first item.

`IProvider` then reads them once (`hear`): the vendor's request id (`response.request_id`), the rate
limits (`response.rate_limits`, also kept per credential in `agentos_llm.rate_limits.RATE_LIMITS` so
`get_quota()` reports them without another request; both parsed only when read), a cost the gateway
reported (LiteLLM's `x-litellm-response-cost`, `usage.cost_source = "provider"`; whole responses only: a
stream's headers leave before its cost is known), and the HTTP status and selected headers (`response.metadata`, see
`agentos_llm.response_metadata`). A hook that returns the bare payload still works; its responses carry
none of these.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Mapping
from datetime import datetime, timezone
from typing import Any, NamedTuple

from .errors import _REQUEST_ID_HEADERS
from .pricing import LITELLM_COST_HEADER, cost_from_headers
from .rate_limits import _PREFIXES as _LIMIT_PREFIXES
from .rate_limits import RATE_LIMITS, RateLimits, parse_rate_limit_headers

__all__ = ["Heard", "Received", "hear"]

log = logging.getLogger("agentos_llm")


class Received:
    """A decoded payload with the headers (and HTTP status, where the I/O layer knows it) of its response."""

    __slots__ = ("headers", "payload", "status")

    def __init__(self, payload: Any, headers: Mapping[str, str] | None, status: int | None = None) -> None:
        self.payload = payload
        self.headers = headers
        self.status = status

    def __repr__(self) -> str:
        return (f"Received(payload={type(self.payload).__name__}, headers={len(self.headers or ())}, "
                f"status={self.status})")


class Heard(NamedTuple):
    """What one response's headers said; `headers` are the selected ones (lower-cased), `status` the HTTP status,
    `source` the headers as received (for a `get_response_metadata` override)."""

    request_id: str | None = None
    limits_at: datetime | None = None
    """When the rate-limit headers among `headers` were read (None: there were none); they are parsed only
    when asked (`rate_limits()`): most responses' limits are never read."""
    cost_usd: float | None = None
    status: int | None = None
    headers: Mapping[str, str] | None = None
    source: Mapping[str, str] | None = None

    def rate_limits(self) -> RateLimits | None:
        """The rate limits the headers stated, as they stood when read (None: they stated none)."""
        if self.limits_at is None:
            return None
        return parse_rate_limit_headers(self.headers, now=self.limits_at)


NOTHING = Heard()


def hear(provider_id: str, credential: Callable[[], Hashable], headers: Mapping[str, str] | None,
         status: int | None = None) -> Heard:
    """Reads a response's headers (any mapping, any case) and keeps its rate limits for the credential
    (`credential()` is asked only when there are limits to keep). Never raises: the call was made."""
    if not headers:
        return NOTHING if status is None else Heard(status=status)
    try:
        wanted = _wanted(headers)
        request_id = next((v for h in _REQUEST_ID_HEADERS if (v := wanted.get(h))), None)
        limits_at = None
        if any(k.startswith(_LIMIT_PREFIXES) for k in wanted):
            limits_at = datetime.now(timezone.utc)
            RATE_LIMITS.put_headers(provider_id, credential(), wanted, limits_at)
        raw_cost = wanted.get(LITELLM_COST_HEADER)
        cost = None if raw_cost is None else cost_from_headers({LITELLM_COST_HEADER: raw_cost})
        return Heard(request_id, limits_at, cost, status, wanted, headers)
    except Exception as exc:  # pragma: no cover - defensive: odd header values must not fail a paid call
        log.debug("could not read the response headers: %s: %s", type(exc).__name__, exc)
        return NOTHING if status is None else Heard(status=status)


# What `response.metadata.headers` keeps: request ids, rate limits, and what says how the call was served.
_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-", "retry-after", LITELLM_COST_HEADER, *_REQUEST_ID_HEADERS,
             "openai-processing-ms", "openai-version", "x-envoy-upstream-service-time", "x-amzn-bedrock-",
             "x-litellm-", "server-timing")
_BYTE_PREFIXES = tuple(p.encode() for p in _PREFIXES)


def _wanted(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers read here, lower-cased; the others (two dozen on a typical answer) are skipped unread."""
    raw = getattr(headers, "raw", None)  # httpx / httpx2: the bytes as received, decoded only when wanted
    if isinstance(raw, list):
        return {k.lower().decode("latin-1"): v.decode("latin-1") for k, v in raw
                if k.lower().startswith(_BYTE_PREFIXES)}
    return {key: str(v) for k, v in headers.items() if (key := k.lower()).startswith(_PREFIXES)}
