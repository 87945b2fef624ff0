"""The manager's fallbacks mark each attempt's ledger row with its hop: 0 for the route asked for, then 1, 2..."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentos_llm.errors import RateLimitError
from agentos_llm.ledger import MemoryStore, UsageLedger
from agentos_llm.manager import AIModelProviderManager
from agentos_llm.testing import FakeProvider
from agentos_llm.types import DoneEvent


@pytest.fixture
def ledger() -> Iterator[UsageLedger]:
    led = UsageLedger(MemoryStore(), flush_interval=0.02)
    yield led
    led.close()


def _manager(ledger: UsageLedger | None) -> AIModelProviderManager:
    busy = FakeProvider([RateLimitError("slow down", provider="busy")], provider_id="busy")
    also_busy = FakeProvider([RateLimitError("slow down too", provider="also-busy")], provider_id="also-busy")
    return AIModelProviderManager([busy, also_busy, FakeProvider(provider_id="spare")], ledger=ledger)


@pytest.mark.parametrize("mode", ["generate_sync", "generate", "stream_sync", "stream"])
async def test_each_fallback_attempt_carries_its_hop(ledger: UsageLedger, mode: str) -> None:
    manager = _manager(ledger)
    routes = {"fallback": ["also-busy/m", "spare/m"]}
    if mode == "generate_sync":
        text = manager.generate_sync("busy/m", "hi", **routes).text
    elif mode == "generate":
        text = (await manager.generate("busy/m", "hi", **routes)).text
    elif mode == "stream_sync":
        with manager.stream_sync("busy/m", "hi", **routes) as events:
            done = list(events)[-1]
        assert isinstance(done, DoneEvent)
        text = done.response.text
    else:
        async with manager.stream("busy/m", "hi", **routes) as aevents:
            last = [e async for e in aevents][-1]
        assert isinstance(last, DoneEvent)
        text = last.response.text
    assert text == "Echo: hi"
    assert ledger.flush(10)
    rows = sorted(ledger.store.rows(), key=lambda r: r.fallback_hop)
    assert [(r.provider, r.status, r.fallback_hop) for r in rows] == [
        ("busy", "RateLimitError", 0), ("also-busy", "RateLimitError", 1), ("spare", "ok", 2)]


def test_a_call_without_fallback_is_hop_0_and_no_ledger_needs_no_hop(ledger: UsageLedger) -> None:
    manager = _manager(ledger)
    manager.generate_sync("spare/m", "hi")
    assert ledger.flush(10)
    assert [r.fallback_hop for r in ledger.store.rows()] == [0]
    # Without a ledger the fallback works the same (and nothing imports the ledger for it).
    assert _manager(None).generate_sync("busy/m", "hi", fallback=["spare/m"]).text == "Echo: hi"
