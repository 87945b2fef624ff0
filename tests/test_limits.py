"""Client-side limits: token buckets bounded by the call's deadline, estimates settled, limits learned from
headers, a fair concurrency cap for threads and coroutines, and credential rotation. Fake clock throughout
(the concurrency cap's waits are real, asserted on order, never on time)."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from resilience_helpers import FakeClock

from agentos_llm.errors import AuthenticationError, QuotaExceededError, RateLimitError
from agentos_llm.rate_limits import RateLimitBucket, parse_rate_limit_headers
from agentos_llm.resilience import (
    CallKey,
    CredentialPool,
    FairSlots,
    Guard,
    Limiter,
    Limits,
    MemoryStore,
    PooledCredential,
    learned_window,
)
from agentos_llm.testing import FakeProvider, FakeReply
from agentos_llm.types import Usage

KEY = CallKey("openai", "c0ffee0000000001", "gpt-4o", "OPENAI_API_KEY")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def limiter(clock: FakeClock, limits: Limits | dict[str, Limits], **kw: object) -> Limiter:
    return Limiter(limits, store=MemoryStore(), clock=clock, sleep=clock.sleep, asleep=clock.asleep, **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- requests and tokens per minute


def test_requests_per_minute_refuse_locally_beyond_the_deadline(clock: FakeClock) -> None:
    lim = limiter(clock, Limits(requests_per_minute=6))
    for _ in range(6):
        lim.acquire(KEY, max_wait=0).settle()
    with pytest.raises(RateLimitError) as info:
        lim.acquire(KEY, max_wait=5)  # the next request is 10 s away
    err = info.value
    assert err.code == "client_rate_limit" and err.status_code is None and err.provider == "openai"
    assert err.retry_after == pytest.approx(10.0)
    assert "nothing was sent" in str(err) and "openai/OPENAI_API_KEY" in str(err)
    assert clock.slept == []


def test_a_wait_that_fits_the_deadline_is_slept_and_later_calls_queue(clock: FakeClock) -> None:
    lim = limiter(clock, Limits(requests_per_minute=60))
    for _ in range(60):
        lim.acquire(KEY).settle()
    first = lim.acquire(KEY, max_wait=1.5)
    assert first.waited == pytest.approx(1.0) and clock.slept == [pytest.approx(1.0)]
    # Two callers arriving together: the second reserves after the first.
    a = lim.acquire(KEY, max_wait=10)
    clock.now -= a.waited  # as if both had asked at the same moment
    b = lim.acquire(KEY, max_wait=10)
    assert (a.waited, b.waited) == (pytest.approx(1.0), pytest.approx(2.0))


def test_tokens_per_minute_take_the_estimate_and_settle_the_actual(clock: FakeClock) -> None:
    lim = limiter(clock, Limits(tokens_per_minute=6000))  # 100 tokens a second
    lease = lim.acquire(KEY, estimated_tokens=5000, max_wait=0)
    with pytest.raises(RateLimitError):
        lim.acquire(KEY, estimated_tokens=2000, max_wait=0)  # 1000 left
    lease.settle(1000)  # the call used far less: 4000 come back
    lim.acquire(KEY, estimated_tokens=2000, max_wait=0).settle(2000)
    over = lim.acquire(KEY, estimated_tokens=100, max_wait=0)
    over.settle(3000)  # used far more than estimated: the rest of the bucket is gone
    with pytest.raises(RateLimitError) as info:
        lim.acquire(KEY, estimated_tokens=100, max_wait=0)
    assert info.value.retry_after == pytest.approx(1.0)


def test_usage_is_charged_when_nothing_was_estimated(clock: FakeClock) -> None:
    lim = limiter(clock, Limits(tokens_per_minute=600))
    lim.acquire(KEY).settle(600)
    with pytest.raises(RateLimitError):
        lim.acquire(KEY, estimated_tokens=10, max_wait=0)


def test_an_estimate_larger_than_the_bucket_waits_for_a_full_bucket_not_for_ever(clock: FakeClock) -> None:
    lim = limiter(clock, Limits(tokens_per_minute=600))
    lim.acquire(KEY, estimated_tokens=300).settle(300)
    lease = lim.acquire(KEY, estimated_tokens=10_000, max_wait=60)
    assert lease.waited == pytest.approx(30.0)


def test_cancel_gives_the_request_and_tokens_back(clock: FakeClock) -> None:
    lim = limiter(clock, Limits(requests_per_minute=1, tokens_per_minute=100))
    lim.acquire(KEY, estimated_tokens=100, max_wait=0).cancel()
    lim.acquire(KEY, estimated_tokens=100, max_wait=0).settle()
    with pytest.raises(RateLimitError):
        lim.acquire(KEY, estimated_tokens=1, max_wait=0)


def test_limits_are_per_credential_and_configurable_per_host_and_key(clock: FakeClock) -> None:
    lim = limiter(clock, {"openai": Limits(requests_per_minute=1), "*": Limits(requests_per_minute=2)})
    lim.set_limits("openai", Limits(requests_per_minute=3), credential="c0ffee0000000002")
    other_key = CallKey("openai", "c0ffee0000000002", "gpt-4o", "key #2")
    groq = CallKey("groq", "c0ffee0000000003", "llama", "GROQ_API_KEY")
    got = {name: sum(1 for _ in range(5) if _try(lim, k)) for name, k in
           (("openai key 1", KEY), ("openai key 2", other_key), ("groq", groq))}
    assert got == {"openai key 1": 1, "openai key 2": 3, "groq": 2}
    assert _try(lim, KEY.with_model("gpt-4o-mini")) is False  # configured limits hold for every model of a key


def _try(lim: Limiter, key: CallKey) -> bool:
    try:
        lim.acquire(key, max_wait=0).settle()
    except RateLimitError:
        return False
    return True


async def test_async_acquire_sleeps_on_the_event_loop_and_a_cancel_gives_back(clock: FakeClock) -> None:
    lim = limiter(clock, Limits(requests_per_minute=60))
    for _ in range(60):
        (await lim.aacquire(KEY)).settle()
    lease = await lim.aacquire(KEY, max_wait=2)
    assert lease.waited == pytest.approx(1.0)
    lease.settle()

    async def never(_: float) -> None:
        raise asyncio.CancelledError

    lim.asleep = never
    with pytest.raises(asyncio.CancelledError):
        await lim.aacquire(KEY, max_wait=5)
    lim.asleep = clock.asleep
    assert (await lim.aacquire(KEY, max_wait=5)).waited == pytest.approx(1.0)  # the cancelled one gave its turn


# ---------------------------------------------------------------------- learned from headers

NOW = datetime(2025, 1, 1, tzinfo=timezone.utc)


def test_a_limit_learned_from_headers_applies_to_that_model(clock: FakeClock) -> None:
    lim = limiter(clock, {})
    headers = {"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "0",
               "x-ratelimit-reset-requests": "60s", "x-ratelimit-limit-tokens": "90000",
               "x-ratelimit-remaining-tokens": "89000", "x-ratelimit-reset-tokens": "666ms"}
    lim.acquire(KEY).settle(rate_limits=parse_rate_limit_headers(headers, now=NOW))
    with pytest.raises(RateLimitError) as info:
        lim.acquire(KEY, max_wait=0)  # the vendor said none remain
    assert "learned" in str(info.value) and info.value.retry_after == pytest.approx(1.0)
    lim.acquire(KEY.with_model("gpt-4o-mini"), max_wait=0).settle()  # another model's limits are its own
    snap = {(s["model"]): s for s in lim.snapshot()}
    assert {b["kind"]: b["per_minute"] for b in snap["gpt-4o"]["buckets"]} == {"requests": 60, "tokens": 90000}


def test_learning_can_be_switched_off(clock: FakeClock) -> None:
    lim = limiter(clock, Limits(learn=False))
    headers = {"x-ratelimit-limit-requests": "1", "x-ratelimit-remaining-requests": "0",
               "x-ratelimit-reset-requests": "60s"}
    lim.learn(KEY, parse_rate_limit_headers(headers, now=NOW))
    lim.acquire(KEY, max_wait=0).settle()


@pytest.mark.parametrize(("limit", "remaining", "reset", "window"), [
    (500, 499, timedelta(milliseconds=120), 60.0),  # OpenAI requests per minute
    (14400, 14370, timedelta(seconds=179.56), 86_400.0),  # Groq: requests per day
    (50, 40, timedelta(seconds=12), 60.0),  # Anthropic
    (100, 100, timedelta(seconds=0), 60.0),  # nothing used yet: a minute
    (10, 5, timedelta(seconds=1800), 3600.0),
])
def test_the_window_is_read_from_limit_remaining_and_reset(limit: int, remaining: int, reset: timedelta,
                                                           window: float) -> None:
    bucket = RateLimitBucket(limit=limit, remaining=remaining, resets_at=NOW + reset)
    assert learned_window(bucket, NOW) == window


# ---------------------------------------------------------------------- concurrency


def test_the_concurrency_cap_refuses_when_full_and_no_wait_is_left(clock: FakeClock) -> None:
    lim = limiter(clock, Limits(concurrency=2))
    a, b = lim.acquire(KEY), lim.acquire(KEY)
    with pytest.raises(RateLimitError) as info:
        lim.acquire(KEY, max_wait=0)
    assert "2 concurrent calls" in str(info.value)
    a.settle()
    b.settle()
    a.settle()  # settling twice gives back once
    lim.acquire(KEY, max_wait=0)
    lim.acquire(KEY, max_wait=0)
    with pytest.raises(RateLimitError):
        lim.acquire(KEY, max_wait=0)


def test_threads_get_slots_in_the_order_they_asked() -> None:
    slots = FairSlots(1)
    assert slots.acquire()
    order: list[int] = []
    threads = []
    for i in range(6):
        t = threading.Thread(target=lambda i=i: (slots.acquire(), order.append(i), slots.release()))
        t.start()
        threads.append(t)
        while slots.waiting < i + 1:  # each one queued before the next starts
            time.sleep(0.001)
    slots.release()
    for t in threads:
        t.join(10)
    assert order == list(range(6))
    assert slots.in_use == 0


def test_a_thread_that_times_out_leaves_no_slot_behind() -> None:
    slots = FairSlots(1)
    assert slots.acquire()
    assert not slots.acquire(timeout=0.01)
    assert slots.waiting == 0
    slots.release()
    assert slots.in_use == 0 and slots.acquire(timeout=0)


def test_one_cap_serves_coroutines_of_successive_event_loops_and_threads_alike() -> None:
    slots = FairSlots(2)

    async def use(order: list[str], name: str) -> None:
        assert await slots.aacquire()
        await asyncio.sleep(0)
        order.append(name)
        slots.release()

    async def main() -> list[str]:
        order: list[str] = []
        await asyncio.gather(*(use(order, f"t{i}") for i in range(10)))
        return order

    for _ in range(3):  # a fresh loop each time: nothing is bound to the first one
        assert sorted(asyncio.run(main())) == sorted(f"t{i}" for i in range(10))
    assert slots.in_use == 0
    assert slots.acquire(timeout=0)
    assert slots.acquire(timeout=0)

    async def blocked() -> bool:
        return await slots.aacquire(timeout=0.01)

    assert asyncio.run(blocked()) is False
    slots.release()
    slots.release()
    assert slots.in_use == 0 and slots.waiting == 0


def test_a_cancelled_coroutine_gives_nothing_away() -> None:
    slots = FairSlots(1)

    async def main() -> None:
        assert await slots.aacquire()
        waiter = asyncio.ensure_future(slots.aacquire())
        await asyncio.sleep(0)
        assert slots.waiting == 1
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert slots.waiting == 0
        slots.release()

    asyncio.run(main())
    assert slots.in_use == 0


# ---------------------------------------------------------------------- around a provider


def test_the_guard_refuses_before_the_provider_is_called(clock: FakeClock) -> None:
    provider = FakeProvider([FakeReply("one", usage=Usage(input_tokens=10, output_tokens=5)), "two"])
    key = CallKey.for_provider(provider, "fake-model")
    guard = Guard(limiter=limiter(clock, Limits(requests_per_minute=1, tokens_per_minute=1000)))
    assert guard.call(key, lambda: provider.generate_sync("fake-model", "hi"), estimated_tokens=500).text == "one"
    with pytest.raises(RateLimitError):
        guard.call(key, lambda: provider.generate_sync("fake-model", "hi"), max_wait=0)
    assert len(provider.calls) == 1
    snap = guard.snapshot()["limits"][0]
    assert snap["host"] == "fake" and {b["kind"] for b in snap["buckets"]} == {"requests", "tokens"}


# ---------------------------------------------------------------------- credential rotation

KEYS = ["sk-pool-aaaaaaaaaaaaaaaaaaaaaaaa", "sk-pool-bbbbbbbbbbbbbbbbbbbbbbbb"]


def test_a_pool_rotates_on_429_and_quota_errors_and_comes_back(clock: FakeClock) -> None:
    pool = CredentialPool("openai", KEYS, clock=clock)
    first, second = pool.credentials
    assert pool.pick() is first
    assert pool.report(first, RateLimitError("slow down", status_code=429, retry_after=20))
    assert pool.pick() is second
    assert pool.report(second, QuotaExceededError("no credit", status_code=402))
    with pytest.raises(RateLimitError) as info:
        pool.pick()
    assert info.value.retry_after == pytest.approx(20.0) and info.value.code == "client_rate_limit"
    assert "key #1" in str(info.value) and "key #2" in str(info.value)
    clock.advance(20.5)
    assert pool.pick() is first
    assert [s["resting"] for s in pool.snapshot()] == [False, True]
    assert pool.snapshot()[1]["retry_after"] == pytest.approx(279.5)  # quota: five minutes


def test_a_pool_ignores_other_errors_and_local_refusals(clock: FakeClock) -> None:
    pool = CredentialPool("openai", KEYS, clock=clock)
    first = pool.credentials[0]
    assert not pool.report(first, AuthenticationError("bad key", status_code=401))
    assert not pool.report(first, RateLimitError("client-side", code="client_rate_limit"))
    assert pool.pick() is first
    rotating_auth = CredentialPool("openai", KEYS, rotate_on=(AuthenticationError,), clock=clock)
    assert rotating_auth.report(rotating_auth.credentials[0], AuthenticationError("bad key", status_code=401))
    assert rotating_auth.pick() is rotating_auth.credentials[1]


def test_a_pool_never_shows_a_key() -> None:
    pool = CredentialPool("openai", KEYS, profiles=["work"])
    shown = repr(pool) + repr(list(pool)) + repr(pool.snapshot()) + repr(pool.credentials[0].call_key("openai"))
    assert all(k not in shown and k[-12:] not in shown for k in KEYS)
    assert [c.label for c in pool] == ["key #1", "key #2", "work"]
    assert pool.credentials[0].api_key is not None and pool.credentials[0].api_key.get_secret_value() == KEYS[0]
    assert pool.credentials[2].profile == "work" and pool.credentials[2].api_key is None


def test_a_pool_refuses_duplicates_and_emptiness() -> None:
    with pytest.raises(ValueError):
        CredentialPool("openai", [KEYS[0], KEYS[0]])
    with pytest.raises(ValueError):
        CredentialPool("openai", [])
    with pytest.raises(ValueError):
        PooledCredential()
