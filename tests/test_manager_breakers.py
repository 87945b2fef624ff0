"""The manager's circuit breakers, client-side limits and credential rotation, against the loopback
WireEmulator: what reaches the server is counted there."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis_server import redis_prefix, redis_server, redis_url  # noqa: F401 - fixtures
from resilience_helpers import FakeClock

from agentos_llm.errors import (
    CircuitOpenError,
    QuotaExceededError,
    RateLimitError,
    RouteExhaustedError,
    ServerError,
)
from agentos_llm.manager import AIModelProviderManager
from agentos_llm.registry import create_provider
from agentos_llm.resilience import Breakers, Limiter, Limits
from agentos_llm.testing import FakeProvider, Fault, Reply, WireEmulator

MSGS = "hi"


@pytest.fixture
def emu() -> Iterator[WireEmulator]:
    with WireEmulator() as e:
        yield e


def _openai(emu: WireEmulator, key: str = "sk-test-main", pid: str = "openai", **kw: Any) -> Any:
    return create_provider(pid, api_key=key, base_url=emu.openai_base_url, max_retries=0, **kw)


def _sent(emu: WireEmulator, model: str) -> int:
    return sum(1 for r in emu.requests if isinstance(r.body, dict) and r.body.get("model") == model)


# ====================================================================== breakers, on by default


def test_a_402_opens_the_breaker_and_the_next_call_fails_at_once_without_a_request(emu: WireEmulator) -> None:
    m = AIModelProviderManager([_openai(emu)])
    emu.script(Fault(402))
    with pytest.raises(QuotaExceededError):
        m.generate_sync("openai/gpt-4o-mini", MSGS)
    with pytest.raises(CircuitOpenError) as info:
        m.generate_sync("openai/gpt-4.1", MSGS)  # scope "credential": every model of the key
    assert emu.hits() == 1
    assert info.value.opened_by == "QuotaExceededError"
    assert 299 < (info.value.retry_after or 0) <= 300
    m.close()


async def test_five_server_errors_open_the_model_breaker(emu: WireEmulator) -> None:
    m = AIModelProviderManager([_openai(emu)])
    emu.script(*[Fault(503)] * 5)
    for _ in range(5):
        with pytest.raises(ServerError):
            await m.generate("openai/gpt-4o-mini", MSGS)
    with pytest.raises(CircuitOpenError):
        await m.generate("openai/gpt-4o-mini", MSGS)
    assert emu.hits() == 5
    assert (await m.generate("openai/gpt-4.1", MSGS)).text  # scope "model": other models still go
    await m.aclose()


def test_a_429_with_retry_after_opens_at_once_for_that_long(emu: WireEmulator) -> None:
    m = AIModelProviderManager([_openai(emu)])
    emu.script(Fault(429, retry_after="20"))
    with pytest.raises(RateLimitError):
        m.generate_sync("openai/gpt-4o-mini", MSGS)
    with pytest.raises(CircuitOpenError) as info:
        m.generate_sync("openai/gpt-4o-mini", MSGS)
    assert 19 < (info.value.retry_after or 0) <= 20
    assert emu.hits() == 1
    m.close()


def test_with_more_hops_an_open_breaker_is_skipped_without_a_request(emu: WireEmulator) -> None:
    m = AIModelProviderManager([_openai(emu), _openai(emu, "gsk-test-main", pid="groq")],
                               routes={"fast": ["groq/llama-3.3-70b-versatile", "openai/gpt-4.1-mini"]})
    emu.script(Fault(402))
    assert m.generate_sync("fast", MSGS).provider == "openai"
    r = m.generate_sync("fast", MSGS)
    assert _sent(emu, "llama-3.3-70b-versatile") == 1
    assert _sent(emu, "gpt-4.1-mini") == 2
    assert (r.hops[0].outcome, r.hops[0].error) == ("skipped", "CircuitOpenError")
    assert "nothing was sent" in (r.hops[0].note or "")
    # Every hop open: RouteExhaustedError of CircuitOpenErrors, no request at all.
    emu.script(Fault(402))
    with pytest.raises(RouteExhaustedError):  # opens openai's breaker; groq's is open already
        m.generate_sync("openai/gpt-4.1-mini", MSGS, fallback=["groq/llama-3.3-70b-versatile"])
    before = emu.hits()
    with pytest.raises(RouteExhaustedError) as info:
        m.generate_sync("fast", MSGS)
    assert [type(e) for e in info.value.errors] == [CircuitOpenError, CircuitOpenError]
    assert emu.hits() == before
    m.close()


def test_health_and_describe_show_every_breaker(emu: WireEmulator) -> None:
    m = AIModelProviderManager([_openai(emu)])
    emu.script(Fault(402))
    with pytest.raises(QuotaExceededError):
        m.generate_sync("openai/gpt-4o-mini", MSGS)
    rows = m.health()["breakers"]
    assert [(r["host"], r["model"], r["state"], r["opened_by"]) for r in rows] == [
        ("openai", None, "open", "QuotaExceededError"), ("openai", "gpt-4o-mini", "closed", None)]
    assert 299 < rows[0]["retry_after"] <= 300
    text = m.describe()
    assert "circuit breaker openai/key" in text and ": open after QuotaExceededError (rule quota)" in text
    m.close()


def test_breakers_are_off_for_a_bare_provider_and_when_turned_off(emu: WireEmulator) -> None:
    provider = _openai(emu)
    emu.script(*[Fault(402)] * 4)
    for _ in range(2):
        with pytest.raises(QuotaExceededError):
            provider.generate_sync("gpt-4o-mini", MSGS)
    m = AIModelProviderManager([_openai(emu)], breakers=False)
    for _ in range(2):
        with pytest.raises(QuotaExceededError):
            m.generate_sync("openai/gpt-4o-mini", MSGS)
    assert emu.hits() == 4
    assert "circuit breakers: off" in m.describe()
    provider.close()
    m.close()


def test_an_open_breaker_lets_a_trial_through_after_its_cooldown(emu: WireEmulator) -> None:
    clock = FakeClock()
    m = AIModelProviderManager([_openai(emu)], breakers=Breakers(clock=clock))
    emu.script(Fault(402))
    with pytest.raises(QuotaExceededError):
        m.generate_sync("openai/gpt-4o-mini", MSGS)
    clock.advance(301)
    assert m.generate_sync("openai/gpt-4o-mini", MSGS).text  # the trial call closes it
    assert [b["state"] for b in m.health()["breakers"]] == ["closed", "closed"]
    m.close()


def test_a_redis_breaker_is_shared_by_two_managers(emu: WireEmulator, redis_url: str,  # noqa: F811
                                                   redis_prefix: str) -> None:  # noqa: F811
    from agentos_llm.resilience import RedisStore

    one = AIModelProviderManager([_openai(emu)], state_store=RedisStore(redis_url, prefix=redis_prefix))
    two = AIModelProviderManager([_openai(emu)], state_store=RedisStore(redis_url, prefix=redis_prefix))
    emu.script(Fault(402))
    with pytest.raises(QuotaExceededError):
        one.generate_sync("openai/gpt-4o-mini", MSGS)
    with pytest.raises(CircuitOpenError):
        two.generate_sync("openai/gpt-4o-mini", MSGS)
    assert emu.hits() == 1
    assert "RedisStore" in two.health()["state_store"]
    one.close()
    two.close()


def test_the_config_file_chooses_the_store_and_the_limits(emu: WireEmulator, tmp_path: Path,
                                                          redis_url: str) -> None:  # noqa: F811
    path = tmp_path / "config.toml"
    path.write_text(f"""
[resilience]
state_store = "{redis_url}"

[providers.openai]
api_key = "sk-test-config"
base_url = "{emu.openai_base_url}"

[providers.openai.limits]
rpm = 1
concurrency = 2
""")
    m = AIModelProviderManager.from_env(env={"AGENTOS_LLM_CONFIG": str(path)}, order=["openai"], max_retries=0)
    assert "RedisStore" in m.health()["state_store"]
    m.generate_sync("openai/gpt-4o-mini", MSGS)
    with pytest.raises(RateLimitError) as info:
        m.generate_sync("openai/gpt-4o-mini", MSGS, deadline=0.5)
    assert info.value.code == "client_rate_limit"
    assert emu.hits() == 1
    limits = next(row for row in m.health()["limits"] if row["model"] == "gpt-4o-mini")
    assert limits["concurrency"]["limit"] == 2
    off = path.read_text().replace('state_store = "' + redis_url + '"', "breakers = false")
    path.write_text(off)
    assert AIModelProviderManager.from_env(env={"AGENTOS_LLM_CONFIG": str(path)}, order=["openai"]
                                           ).health()["breakers"] == []
    m.close()


# ====================================================================== client-side limits


def test_a_limit_waits_within_the_deadline_and_fails_locally_beyond_it(emu: WireEmulator) -> None:
    clock = FakeClock()
    limiter = Limiter({"openai": Limits(requests_per_minute=1)}, clock=clock, sleep=clock.sleep, learn=False)
    m = AIModelProviderManager([_openai(emu)], limits=limiter)
    m.generate_sync("openai/gpt-4o-mini", MSGS)
    r = m.generate_sync("openai/gpt-4o-mini", MSGS, deadline=120)
    assert clock.slept and 59 < clock.slept[-1] <= 60
    assert "waited 60.00s for the client-side limits" in (r.hops[0].note or "")
    with pytest.raises(RateLimitError) as info:
        m.generate_sync("openai/gpt-4o-mini", MSGS, deadline=5)
    assert info.value.code == "client_rate_limit" and "nothing was sent" in str(info.value)
    assert emu.hits() == 2
    m.close()


async def test_a_concurrency_cap_holds_a_call_and_refuses_it_past_its_deadline(emu: WireEmulator) -> None:
    m = AIModelProviderManager([_openai(emu)], limits={"openai": Limits(concurrency=1)})
    emu.script(Reply("slow", delay=0.5))
    first = asyncio.ensure_future(m.generate("openai/gpt-4o-mini", MSGS))
    while not emu.requests:
        await asyncio.sleep(0.01)
    with pytest.raises(RateLimitError) as info:
        await m.generate("openai/gpt-4o-mini", MSGS, deadline=0.05)
    assert "concurrent calls in use" in str(info.value)
    assert (await first).text == "slow"
    assert emu.hits() == 1
    await m.aclose()


def test_limits_are_learned_from_rate_limit_headers(emu: WireEmulator) -> None:
    m = AIModelProviderManager([_openai(emu)])
    m.generate_sync("openai/gpt-4o-mini", MSGS)
    m.generate_sync("openai/gpt-4o-mini", MSGS)
    rows = [row for row in m.health()["limits"] if row["model"] == "gpt-4o-mini"]
    assert {b["kind"] for b in rows[0]["buckets"] if b["learned"]} == {"requests", "tokens"}
    m.close()


# ====================================================================== credential rotation


def _auth(emu: WireEmulator) -> list[str]:
    return [r.headers.get("authorization", "").removeprefix("Bearer ") for r in emu.requests]


def test_keys_in_code_rotate_on_429(emu: WireEmulator) -> None:
    m = AIModelProviderManager([_openai(emu, "sk-test-aaa")],
                               rotate_credentials={"openai": ["sk-test-aaa", "sk-test-bbb"]})
    emu.script(Fault(429, retry_after="30"), Reply("from b"))
    r = m.generate_sync("openai/gpt-4o-mini", MSGS)
    assert r.text == "from b"
    assert _auth(emu) == ["sk-test-aaa", "sk-test-bbb"]
    assert "key #1 rests after RateLimitError" in (r.hops[0].note or "")
    m.generate_sync("openai/gpt-4o-mini", MSGS)  # key #1 still rests: straight to key #2
    assert _auth(emu)[-1] == "sk-test-bbb"
    pool = m.health()["credentials"]["openai"]
    assert [(c["label"], c["resting"]) for c in pool] == [("key #1", True), ("key #2", False)]
    m.close()


async def test_every_credential_resting_is_a_local_rate_limit(emu: WireEmulator) -> None:
    m = AIModelProviderManager([_openai(emu, "sk-test-aaa")],
                               rotate_credentials={"openai": ["sk-test-aaa", "sk-test-bbb"]})
    emu.script(Fault(429, retry_after="30"), Fault(402))
    with pytest.raises(QuotaExceededError):
        await m.generate("openai/gpt-4o-mini", MSGS)
    with pytest.raises(RateLimitError) as info:
        await m.generate("openai/gpt-4o-mini", MSGS)
    assert info.value.code == "client_rate_limit" and "every credential of openai is resting" in str(info.value)
    assert emu.hits() == 2
    await m.aclose()


def test_config_profiles_rotate_on_a_quota_error(emu: WireEmulator, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"""
[providers.openai]
api_key = "sk-test-main"
base_url = "{emu.openai_base_url}"

[providers.openai.profiles.spare]
api_key = "sk-test-spare"
""")
    m = AIModelProviderManager.from_env(env={"AGENTOS_LLM_CONFIG": str(path)}, order=["openai"], max_retries=0,
                                        rotate_credentials=True)
    emu.script(Fault(402))
    r = m.generate_sync("openai/gpt-4o-mini", MSGS)
    assert _auth(emu) == ["sk-test-main", "sk-test-spare"]
    assert "rests after QuotaExceededError" in (r.hops[0].note or "")
    m.close()


def test_rotation_is_off_unless_asked(emu: WireEmulator) -> None:
    m = AIModelProviderManager([_openai(emu)], rotate_credentials={"groq": ["gsk-test-1", "gsk-test-2"]})
    emu.script(Fault(429))
    with pytest.raises(RateLimitError):
        m.generate_sync("openai/gpt-4o-mini", MSGS)
    assert emu.hits() == 1
    m.close()


def test_fake_providers_rotate_too() -> None:
    fake = FakeProvider([RateLimitError("busy")], provider_id="a", api_key="k-test-1")
    m = AIModelProviderManager([fake], rotate_credentials={"a": ["k-test-1", "k-test-2"]})
    r = m.generate_sync("a/m", MSGS)
    assert r.text == "Echo: hi" and len(fake.calls) == 1


async def test_a_stream_holds_its_slot_until_it_ends_or_is_left() -> None:
    m = AIModelProviderManager([FakeProvider(provider_id="a")], limits={"a": Limits(concurrency=1)})
    with m.stream_sync("a/m", "one two three") as events:
        next(events)
        with pytest.raises(RateLimitError, match="concurrent calls in use"):
            m.generate_sync("a/m", MSGS, deadline=0.01)
    assert m.generate_sync("a/m", MSGS).text == "Echo: hi"  # left early: the slot is free again
    async with m.stream("a/m", MSGS) as aevents:
        assert [e.type async for e in aevents][-1] == "done"
    assert (await m.generate("a/m", MSGS, deadline=0.01)).text == "Echo: hi"
