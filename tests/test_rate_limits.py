"""Rate-limit headers: each vendor's real header names and value formats, and the per-credential store.

Header references: OpenAI https://platform.openai.com/docs/guides/rate-limits, Groq
https://console.groq.com/docs/rate-limits, Anthropic https://docs.anthropic.com/en/api/rate-limits,
OpenRouter https://openrouter.ai/docs/api-reference/limits.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from agentos_llm.quota import header_windows
from agentos_llm.rate_limits import (
    RATE_LIMITS,
    RateLimitStore,
    parse_duration,
    parse_rate_limit_headers,
    remember,
    request_id_of,
)
from agentos_llm.types import CompletionResponse, Message

NOW = datetime(2025, 10, 25, 11, 59, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(("text", "seconds"), [
    ("6m0s", 360.0), ("1s", 1.0), ("1.5s", 1.5), ("20ms", 0.02), ("2m59.56s", 179.56), ("7.66s", 7.66),
    ("1h2m3s", 3723.0), ("0s", 0.0), ("250us", 0.00025), ("5", 5.0), ("0.25", 0.25),
])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "6x", "m5s", "5s junk", "1.2.3s"])
def test_not_durations(text: str) -> None:
    assert parse_duration(text) is None


def test_openai_headers() -> None:
    headers = {
        "x-ratelimit-limit-requests": "5000", "x-ratelimit-limit-tokens": "160000",
        "x-ratelimit-remaining-requests": "4999", "x-ratelimit-remaining-tokens": "159976",
        "x-ratelimit-reset-requests": "12ms", "x-ratelimit-reset-tokens": "6m0s",
        "x-request-id": "req_123", "content-type": "application/json",
    }
    limits = parse_rate_limit_headers(headers, now=NOW)
    assert limits is not None and limits.style == "openai"
    assert limits.requests is not None and limits.tokens is not None
    assert (limits.requests.limit, limits.requests.remaining) == (5000, 4999)
    assert limits.requests.resets_at == NOW + timedelta(milliseconds=12)
    assert (limits.tokens.limit, limits.tokens.remaining) == (160000, 159976)
    assert limits.tokens.resets_at == NOW + timedelta(minutes=6)
    assert limits.input_tokens is None and limits.retry_after is None
    assert "content-type" not in limits.raw and limits.raw["x-ratelimit-reset-tokens"] == "6m0s"
    assert request_id_of(headers) == "req_123"


def test_groq_headers_with_retry_after_on_a_429() -> None:
    headers = httpx.Headers({
        "X-Ratelimit-Limit-Requests": "14400", "X-Ratelimit-Remaining-Requests": "0",
        "X-Ratelimit-Reset-Requests": "2m59.56s", "X-Ratelimit-Limit-Tokens": "18000",
        "X-Ratelimit-Remaining-Tokens": "17997", "X-Ratelimit-Reset-Tokens": "7.66s", "Retry-After": "2",
    })
    limits = parse_rate_limit_headers(headers, now=NOW)
    assert limits is not None and limits.style == "openai" and limits.retry_after == 2.0
    assert limits.requests is not None and limits.requests.remaining == 0
    assert limits.requests.resets_at == NOW + timedelta(seconds=179.56)
    assert limits.tokens is not None and limits.tokens.resets_at == NOW + timedelta(seconds=7.66)


def test_anthropic_headers() -> None:
    headers = {
        "anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": "49",
        "anthropic-ratelimit-requests-reset": "2025-10-25T12:00:00Z",
        "anthropic-ratelimit-tokens-limit": "48000", "anthropic-ratelimit-tokens-remaining": "47500",
        "anthropic-ratelimit-tokens-reset": "2025-10-25T12:00:01Z",
        "anthropic-ratelimit-input-tokens-limit": "40000", "anthropic-ratelimit-input-tokens-remaining": "39600",
        "anthropic-ratelimit-input-tokens-reset": "2025-10-25T12:00:01Z",
        "anthropic-ratelimit-output-tokens-limit": "8000", "anthropic-ratelimit-output-tokens-remaining": "7900",
        "anthropic-ratelimit-output-tokens-reset": "2025-10-25T12:00:02.5+00:00",
        "request-id": "req_011CSHoEeqs5C35K2UUqR7Fy",
    }
    limits = parse_rate_limit_headers(headers, now=NOW)
    assert limits is not None and limits.style == "anthropic"
    assert [name for name, _ in limits.buckets()] == ["requests", "tokens", "input_tokens", "output_tokens"]
    assert limits.requests is not None and limits.requests.resets_at == datetime(2025, 10, 25, 12, tzinfo=timezone.utc)
    assert limits.input_tokens is not None and (limits.input_tokens.limit, limits.input_tokens.remaining) == (
        40000, 39600)
    assert limits.output_tokens is not None
    assert limits.output_tokens.resets_at == datetime(2025, 10, 25, 12, 0, 2, 500000, tzinfo=timezone.utc)
    assert request_id_of(headers) == "req_011CSHoEeqs5C35K2UUqR7Fy"


def test_openrouter_headers_reset_in_epoch_milliseconds() -> None:
    headers = {"X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1735689600000"}
    limits = parse_rate_limit_headers(headers, now=NOW)
    assert limits is not None and limits.style == "openrouter"
    assert limits.requests is not None and (limits.requests.limit, limits.requests.remaining) == (20, 0)
    assert limits.requests.resets_at == datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert limits.tokens is None


def test_a_plain_reset_in_seconds_from_now() -> None:
    limits = parse_rate_limit_headers({"x-ratelimit-limit": "60", "x-ratelimit-reset": "30"}, now=NOW)
    assert limits is not None and limits.requests is not None
    assert limits.requests.resets_at == NOW + timedelta(seconds=30)


def test_no_rate_limit_headers_and_unreadable_values() -> None:
    assert parse_rate_limit_headers({"content-type": "application/json"}) is None
    assert parse_rate_limit_headers({}) is None and parse_rate_limit_headers(None) is None
    limits = parse_rate_limit_headers({"x-ratelimit-limit-requests": "lots", "x-ratelimit-remaining-requests": "3",
                                       "x-ratelimit-reset-requests": "soon"}, now=NOW)
    assert limits is not None and limits.requests is not None
    assert (limits.requests.limit, limits.requests.remaining, limits.requests.resets_at) == (None, 3, None)
    retry_only = parse_rate_limit_headers({"retry-after": "7"}, now=NOW)
    assert retry_only is not None and retry_only.retry_after == 7.0 and retry_only.buckets() == []


def test_header_windows_derive_use() -> None:
    limits = parse_rate_limit_headers({"x-ratelimit-limit-tokens": "1000", "x-ratelimit-remaining-tokens": "250",
                                       "x-ratelimit-reset-tokens": "1s"}, now=NOW)
    [window] = header_windows(limits)
    assert (window.name, window.unit, window.used, window.used_percent, window.source) == (
        "tokens", "tokens", 750.0, 75.0, "headers")
    assert window.resets_at == NOW + timedelta(seconds=1)


# ---------------------------------------------------------------------- the store


def test_remember_keeps_the_latest_per_credential_and_merges_buckets() -> None:
    RATE_LIMITS.clear()
    try:
        first = remember("anthropic", ("anthropic", "", "key-a"), {
            "anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": "49",
            "anthropic-ratelimit-tokens-limit": "1000", "anthropic-ratelimit-tokens-remaining": "900"})
        assert first is not None
        remember("anthropic", ("anthropic", "", "key-a"), {"anthropic-ratelimit-requests-remaining": "48",
                                                           "anthropic-ratelimit-requests-limit": "50"})
        kept = RATE_LIMITS.get("anthropic", ("anthropic", "", "key-a"))
        assert kept is not None and kept.requests is not None and kept.requests.remaining == 48
        assert kept.tokens is not None and kept.tokens.remaining == 900  # not mentioned: the last reading stays
        assert RATE_LIMITS.get("anthropic", ("anthropic", "", "key-b")) is None
        assert remember("anthropic", ("anthropic", "", "key-b"), {"content-type": "text/plain"}) is None
        assert RATE_LIMITS.get("anthropic", ("anthropic", "", "key-b")) is None
    finally:
        RATE_LIMITS.clear()


def test_the_store_is_bounded_and_forgets_the_oldest() -> None:
    store = RateLimitStore(max_entries=2)
    limits = parse_rate_limit_headers({"x-ratelimit-limit": "1"}, now=NOW)
    assert limits is not None
    for key in ("a", "b", "c"):
        store.put("p", key, limits)
    assert len(store) == 2 and store.get("p", "a") is None and store.get("p", "c") is not None


def test_the_store_is_thread_safe() -> None:
    store = RateLimitStore(max_entries=64)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(300):
                limits = parse_rate_limit_headers({"x-ratelimit-limit-requests": str(i),
                                                   "x-ratelimit-remaining-requests": str(i)}, now=NOW)
                assert limits is not None
                store.put("p", f"key-{(n * 300 + i) % 100}", limits)
                store.get("p", f"key-{i % 100}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(store) == 64


def test_responses_carry_rate_limits_and_request_id() -> None:
    limits = parse_rate_limit_headers({"x-ratelimit-limit-requests": "10"}, now=NOW)
    response = CompletionResponse(provider="openai", model="m", message=Message(role="assistant", content="hi"),
                                  rate_limits=limits, request_id="req_1")
    dumped = response.model_dump()
    assert dumped["request_id"] == "req_1" and dumped["rate_limits"]["requests"]["limit"] == 10
    assert CompletionResponse(provider="openai", model="m",
                              message=Message(role="assistant", content="")).rate_limits is None


# ---------------------------------------------------------------------- headers kept unparsed until read

_A = ("anthropic", "", "key-a")
_BOTH = {"anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": "49",
         "anthropic-ratelimit-tokens-limit": "1000", "anthropic-ratelimit-tokens-remaining": "900"}


def test_headers_kept_unparsed_read_as_the_same_limits_as_parsed_ones() -> None:
    lazy, eager = RateLimitStore(), RateLimitStore()
    readings = [_BOTH, {"anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": "48"},
                {"anthropic-ratelimit-tokens-limit": "1000", "anthropic-ratelimit-tokens-remaining": "700",
                 "anthropic-ratelimit-tokens-reset": "2025-10-25T12:00:00Z"}]
    for i, headers in enumerate(readings):
        at = NOW + timedelta(seconds=i)
        lazy.put_headers("anthropic", _A, headers, at)
        parsed = parse_rate_limit_headers(headers, now=at)
        assert parsed is not None
        eager.put("anthropic", _A, parsed)
    got = lazy.get("anthropic", _A)
    assert got is not None and got == eager.get("anthropic", _A)
    assert got.requests is not None and got.requests.remaining == 48  # the second reading's
    assert got.tokens is not None and got.tokens.remaining == 700  # the third's
    assert lazy.get("anthropic", _A) is got  # parsed once, then kept parsed


def test_a_reading_with_every_name_of_the_last_supersedes_it_and_the_chain_is_bounded() -> None:
    store = RateLimitStore()
    for i in range(50):
        store.put_headers("anthropic", _A, {**_BOTH, "anthropic-ratelimit-requests-remaining": str(49 - i)}, NOW)
    entry = store._entries[("anthropic", _A)]
    assert getattr(entry, "depth", None) == 1  # each reading replaced the one before
    for i in range(50):  # alternating partial readings cannot be superseded: merged, at most 8 deep unparsed
        name = "requests" if i % 2 else "tokens"
        store.put_headers("anthropic", _A, {f"anthropic-ratelimit-{name}-limit": "50",
                                            f"anthropic-ratelimit-{name}-remaining": str(i)}, NOW)
        assert getattr(store._entries[("anthropic", _A)], "depth", 0) <= RateLimitStore.max_unparsed
    got = store.get("anthropic", _A)
    assert got is not None and got.requests is not None and got.tokens is not None
    assert (got.requests.remaining, got.tokens.remaining) == (49, 48)


def test_headers_that_state_no_limits_are_forgotten_when_read() -> None:
    store = RateLimitStore()
    store.put_headers("openai", _A, {"retry-after": "soon, maybe"}, NOW)
    assert store.get("openai", _A) is None
    assert len(store) == 0
