"""Hedged requests: the next hop starts when the first is slow; the first answer wins and the other
request is cancelled, its connection closed (the emulator sees the client leave)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from agentos_llm.errors import InvalidRequestError, ServerError
from agentos_llm.hedging import DEFAULT_HEDGE_AFTER, hedge_delay
from agentos_llm.ledger import MemoryStore as LedgerStore
from agentos_llm.ledger import UsageLedger
from agentos_llm.manager import AIModelProviderManager
from agentos_llm.registry import create_provider
from agentos_llm.testing import FakeProvider, Fault, Reply, WireEmulator

MSGS = "hi"


@pytest.fixture
def two() -> Iterator[tuple[WireEmulator, WireEmulator]]:
    """A slow server for the first hop (groq) and another for the second (openai)."""
    with WireEmulator() as slow, WireEmulator() as fast:
        yield slow, fast


def _manager(slow: WireEmulator, fast: WireEmulator, **kw: Any) -> AIModelProviderManager:
    return AIModelProviderManager([
        create_provider("groq", api_key="gsk-test", base_url=slow.openai_base_url, max_retries=0),
        create_provider("openai", api_key="sk-test", base_url=fast.openai_base_url, max_retries=0),
    ], routes={"fast": ["groq/llama-3.3-70b-versatile", "openai/gpt-4.1-mini"]}, **kw)


def _wait_for(check: Any, what: str, limit: float = 10.0) -> None:
    """Polls `check()` until true (a bound on waiting, not a timing assertion)."""
    end = time.monotonic() + limit
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"never saw {what}")
        time.sleep(0.01)


async def test_the_faster_hop_wins_and_the_slower_connection_is_closed(two: tuple[WireEmulator, WireEmulator]
                                                                       ) -> None:
    slow, fast = two
    ledger = UsageLedger(LedgerStore(), flush_interval=0.02)
    m = _manager(slow, fast, ledger=ledger)
    slow.script(Reply("slow answer", delay=5))
    fast.script(Reply("fast answer"))
    r = await m.generate("fast", MSGS, hedge_after=0.1)
    assert (r.text, r.provider) == ("fast answer", "openai")
    assert [(h.provider, h.outcome) for h in r.hops] == [("groq", "cancelled"), ("openai", "served")]
    assert "hedged after 0.10s" in (r.hops[0].note or "") and "openai/gpt-4.1-mini answered first" in (
        r.hops[0].note or "")
    assert r.hops[1].usage == r.usage and r.hops[0].usage is None
    assert slow.hits() == 1 and fast.hits() == 1
    _wait_for(lambda: slow.disconnects == 1, "the slow hop's connection closed")
    # Both costs are in the ledger: the cancelled row with its hop index, and the served one.
    assert ledger.flush(10)
    assert sorted((row.provider, row.status, row.fallback_hop) for row in ledger.store.rows()) == [
        ("groq", "CancelledError", 0), ("openai", "ok", 1)]
    await m.aclose()
    ledger.close()


def test_a_sync_call_is_hedged_too(two: tuple[WireEmulator, WireEmulator]) -> None:
    slow, fast = two
    m = _manager(slow, fast)
    slow.script(Reply("slow answer", delay=5))
    r = m.generate_sync("fast", MSGS, hedge_after=0.1)
    assert r.provider == "openai"
    _wait_for(lambda: slow.disconnects == 1, "the slow hop's connection closed")
    m.close()


async def test_no_hedge_when_the_first_hop_answers_in_time(two: tuple[WireEmulator, WireEmulator]) -> None:
    slow, fast = two
    m = _manager(slow, fast)
    r = await m.generate("fast", MSGS, hedge_after=5)
    assert r.provider == "groq" and [h.outcome for h in r.hops] == ["served"]
    assert fast.hits() == 0
    await m.aclose()


async def test_a_fast_failure_falls_back_as_usual(two: tuple[WireEmulator, WireEmulator]) -> None:
    slow, fast = two
    m = _manager(slow, fast)
    slow.script(Fault(503))
    r = await m.generate("fast", MSGS, hedge_after=5)
    assert [(h.provider, h.outcome) for h in r.hops] == [("groq", "failed"), ("openai", "served")]
    await m.aclose()


async def test_the_hedge_failing_leaves_the_first_hop_to_answer(two: tuple[WireEmulator, WireEmulator]) -> None:
    slow, fast = two
    m = _manager(slow, fast)
    slow.script(Reply("slow but sure", delay=0.5))
    fast.script(Fault(503))
    r = await m.generate("fast", MSGS, hedge_after=0.05)
    assert r.text == "slow but sure"
    assert [(h.provider, h.outcome, h.error) for h in r.hops] == [("openai", "failed", "ServerError"),
                                                                  ("groq", "served", None)]
    await m.aclose()


async def test_both_failing_goes_on_along_the_route() -> None:
    with WireEmulator() as a, WireEmulator() as b, WireEmulator() as c:
        m = AIModelProviderManager([
            create_provider(pid, api_key="sk-test", base_url=e.openai_base_url, max_retries=0)
            for pid, e in (("groq", a), ("openai", b), ("mistral", c))],
            routes={"r": ["groq/m1", "openai/m2", "mistral/m3"]})
        a.script(Fault(503, delay=0.3))
        b.script(Fault(503))
        r = await m.generate("r", MSGS, hedge_after=0.05)
        assert r.provider == "mistral"
        assert sorted(h.outcome for h in r.hops) == ["failed", "failed", "served"]
        await m.aclose()


async def test_a_single_hop_is_hedged_with_a_second_request_to_it() -> None:
    with WireEmulator() as emu:
        m = AIModelProviderManager([create_provider("openai", api_key="sk-test", base_url=emu.openai_base_url,
                                                    max_retries=0)])
        emu.script(Reply("first, slow", delay=5), Reply("second, fast"))
        r = await m.generate("openai/gpt-4.1-mini", MSGS, hedge_after=0.1)
        assert r.text == "second, fast"
        assert [h.outcome for h in r.hops] == ["cancelled", "served"]
        _wait_for(lambda: emu.disconnects == 1, "the first request's connection closed")
        await m.aclose()


async def test_an_invalid_request_during_a_race_is_raised_and_stops_the_other(
        two: tuple[WireEmulator, WireEmulator]) -> None:
    slow, fast = two
    m = _manager(slow, fast)
    slow.script(Reply("slow", delay=5))
    fast.script(Fault(400, body={"error": {"message": "bad", "type": "invalid_request_error"}}))
    with pytest.raises(InvalidRequestError):
        await m.generate("fast", MSGS, hedge_after=0.05)
    _wait_for(lambda: slow.disconnects == 1, "the slow hop's connection closed")
    await m.aclose()


def test_streams_are_not_hedged_and_bad_values_are_refused() -> None:
    m = AIModelProviderManager([FakeProvider(provider_id="a")])
    with pytest.raises(InvalidRequestError, match="streams are not hedged"):
        m.stream_sync("a/m", MSGS, hedge=True)
    with pytest.raises(InvalidRequestError, match="hedge_after takes seconds"):
        m.generate_sync("a/m", MSGS, hedge_after=-1)
    with pytest.raises(InvalidRequestError, match="hedge takes True or False"):
        m.generate_sync("a/m", MSGS, hedge="yes")


async def test_hedge_true_waits_for_the_observed_p95() -> None:
    fake = FakeProvider(provider_id="a")
    m = AIModelProviderManager([fake])
    route = m.resolve("a/m")
    assert hedge_delay(m._router, "chat", route, True, None) == DEFAULT_HEDGE_AFTER
    for _ in range(20):
        await m.generate("a/m", MSGS, hedge=True)  # answers at once: never hedged
    p95 = hedge_delay(m._router, "chat", route, True, None)
    assert p95 is not None and 0 < p95 < DEFAULT_HEDGE_AFTER
    assert hedge_delay(m._router, "chat", route, None, "p95") == p95
    assert len(fake.calls) == 20
    # The whole-call twins take it too.
    assert m.embed_sync("a/e", ["x"], hedge_after=1).provider == "a"
    assert m.rerank_sync("a/r", "q", ["q"], hedge=True).provider == "a"
    assert m.count_tokens_sync("a/m", MSGS, hedge_after=1).provider == "a"
    with pytest.raises(ServerError):
        fake.add(ServerError("down"))
        await m.generate("a/m", MSGS, hedge_after=1)
