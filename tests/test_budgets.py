"""Budgets: checked before each call against the ledger plus calls in flight; refused calls send nothing;
concurrent checks (threads, processes) overshoot no more than the documented bound."""

from __future__ import annotations

import logging
import pickle
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ledger_helpers import (
    CALL_TOKENS,
    FlakyStore,
    budget_reply,
    budget_worker,
    check_overshoot_bound,
    read_commit_log,
    run_forked,
)

from agentos_llm.errors import BudgetExceededError, ConfigurationError, QuotaExceededError
from agentos_llm.ledger import Budget, MemoryStore, SQLiteStore, UsageLedger, UsageRecord, usage_tags
from agentos_llm.manager import AIModelProviderManager
from agentos_llm.registry import create_provider
from agentos_llm.testing import FakeProvider, FakeReply, WireEmulator
from agentos_llm.types import Usage

RESERVED = 13  # what a "hi" call with max_tokens=6 reserves: 3 + (3 + 1) input estimate + 6 output


@pytest.fixture
def emulator() -> Iterator[WireEmulator]:
    with WireEmulator() as emu:
        yield emu


def test_budget_validation_and_periods() -> None:
    with pytest.raises(ConfigurationError):
        Budget()
    with pytest.raises(ConfigurationError):
        Budget(usd=-1)
    with pytest.raises(ConfigurationError):
        Budget(tokens=1.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Budget(usd=1, per="week")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Budget(usd=1, tags={"no spaces": "x"})
    dec = 1_797_000_000.0  # 2026-12-11T...Z
    day, month = Budget(usd=1, per="day"), Budget(usd=1, per="month")
    assert time.strftime("%Y-%m-%dT%H:%M", time.gmtime(day.period_start(dec) or 0)) == "2026-12-11T00:00"
    assert time.strftime("%Y-%m-%d", time.gmtime(month.period_start(dec) or 0)) == "2026-12-01"
    assert time.strftime("%Y-%m-%d", time.gmtime(month.period_end(dec) or 0)) == "2027-01-01"
    assert Budget(tokens=5).period_start(dec) is None
    scoped = Budget(usd=2, provider="openai", model="gpt-4o", tags={"team": "a"})
    assert scoped.applies("openai", "gpt-4o", {"team": "a", "x": "y"})
    assert not scoped.applies("openai", "gpt-4o", {"team": "b"})
    assert not scoped.applies("anthropic", "gpt-4o", {"team": "a"})
    assert not scoped.applies("openai", "gpt-4o", None)
    assert "per day" in repr(day) and "provider 'openai'" in scoped.describe()


def test_budget_error_is_a_quota_error_and_pickles() -> None:
    err = BudgetExceededError("over", provider="fake", budget="$1 per day", unit="usd", limit=1.0, spent=0.9,
                              resets_at=123.0)
    back = pickle.loads(pickle.dumps(err))
    assert isinstance(back, BudgetExceededError) and isinstance(back, QuotaExceededError)
    assert (back.budget, back.unit, back.limit, back.spent, back.resets_at, back.code) == (
        "$1 per day", "usd", 1.0, 0.9, 123.0, "budget_exceeded")
    assert str(back) == str(err)


def test_refused_before_anything_is_sent(emulator: WireEmulator) -> None:
    led = UsageLedger(MemoryStore(), budgets=[Budget(usd=1e-9)], flush_interval=0.02)
    provider = create_provider("openai", api_key="sk-test-not-a-real-key-000", base_url=emulator.openai_base_url,
                               max_retries=0)
    provider.usage_ledger = led
    with provider:
        with pytest.raises(BudgetExceededError) as info:
            provider.generate_sync("gpt-4o-mini", "hello")
        with pytest.raises(BudgetExceededError):
            provider.stream_sync("gpt-4o-mini", "hello")  # refused when the stream is asked for, not iterated
        with pytest.raises(BudgetExceededError):
            provider.embed_sync("text-embedding-3-small", ["a"] * 10_000)
    assert emulator.requests == []
    assert info.value.unit == "usd" and info.value.limit == 1e-9
    assert led.flush(5) and led.store.rows() == []  # a refused call leaves no row: it cost nothing
    led.close()


async def test_refused_before_anything_is_sent_async(emulator: WireEmulator) -> None:
    led = UsageLedger(MemoryStore(), budgets=[Budget(tokens=5)])
    provider = create_provider("openai", api_key="sk-test-not-a-real-key-000", base_url=emulator.openai_base_url,
                               max_retries=0)
    provider.usage_ledger = led
    async with provider:
        with pytest.raises(BudgetExceededError):
            await provider.generate("gpt-4o-mini", "hello", max_tokens=100)
        with pytest.raises(BudgetExceededError):
            provider.stream("gpt-4o-mini", "hello", max_tokens=100)
    assert emulator.requests == []
    led.close()


def test_spend_is_counted_until_the_limit() -> None:
    led = UsageLedger(MemoryStore(), budgets=[Budget(tokens=100)], flush_interval=0.02)
    provider = FakeProvider()
    provider.usage_ledger = led
    done = 0
    with pytest.raises(BudgetExceededError) as info:
        for _ in range(100):
            provider.add(FakeReply(text="ok", usage=Usage(input_tokens=4, output_tokens=6)))
            provider.generate_sync("fake-model", "hi", max_tokens=6)
            done += 1
    assert done * CALL_TOKENS <= 100 < done * CALL_TOKENS + RESERVED
    assert info.value.spent == done * CALL_TOKENS and info.value.unit == "tokens"
    assert len(provider.calls) == done
    led.close()


def test_usd_budget_per_provider_moves_the_manager_to_its_fallback() -> None:
    led = UsageLedger(MemoryStore(), flush_interval=0.02)
    paid, spare = FakeProvider(provider_id="paid"), FakeProvider(provider_id="spare")
    manager = AIModelProviderManager([paid, spare], ledger=led, budgets=[Budget(usd=0.5, provider="paid")])
    paid.add(FakeReply(text="a", usage=Usage(input_tokens=1, output_tokens=1, cost_usd=0.5)))
    manager.generate_sync("paid/fake-model", "one")
    answer = manager.generate_sync("paid/fake-model", "two", fallback=["spare/fake-model"])
    assert answer.provider == "spare" and len(paid.calls) == 1
    led.close()


def test_calls_in_flight_count() -> None:
    led = UsageLedger(MemoryStore(), budgets=[Budget(tokens=25)], flush_interval=0.02)
    provider = FakeProvider()
    provider.usage_ledger = led
    entered, release = threading.Event(), threading.Event()

    def slow(call: object) -> FakeReply:
        entered.set()
        release.wait(10)
        return FakeReply(text="ok", usage=Usage(input_tokens=1, output_tokens=2))

    provider.add(slow)
    first = threading.Thread(target=provider.generate_sync, args=("fake-model", "hi"), kwargs={"max_tokens": 6})
    first.start()
    assert entered.wait(10)
    with pytest.raises(BudgetExceededError):  # 13 reserved in flight + 13 > 25
        provider.generate_sync("fake-model", "hi", max_tokens=6)
    release.set()
    first.join()
    provider.generate_sync("fake-model", "hi", max_tokens=6)  # 3 settled + 13 <= 25
    led.close()


def test_threads_never_overshoot_within_a_process() -> None:
    limit = 400
    led = UsageLedger(MemoryStore(), budgets=[Budget(tokens=limit)], flush_interval=0.01)
    provider = FakeProvider()
    provider.usage_ledger = led
    refused = []

    def loop() -> None:
        while True:
            provider.add(budget_reply)
            try:
                provider.generate_sync("fake-model", "hi", max_tokens=6)
            except BudgetExceededError:
                refused.append(1)
                return

    pool = [threading.Thread(target=loop) for _ in range(8)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert led.flush(10)
    used = sum(r.total_tokens for r in led.store.rows())
    assert len(refused) == 8
    assert limit - RESERVED < used <= limit  # exact: estimates are never below what calls use
    led.close()


def test_other_writers_committed_rows_count(tmp_path: Path) -> None:
    db = tmp_path / "usage.sqlite3"
    first = UsageLedger(SQLiteStore(db))
    first.record(UsageRecord(time=time.time(), provider="fake", model="fake-model", input_tokens=60,
                             output_tokens=0))
    first.close()
    second = UsageLedger(SQLiteStore(db), budgets=[Budget(tokens=100)])
    provider = FakeProvider()
    provider.usage_ledger = second
    for _ in range(3):  # 60 + 13, 70 + 13, 80 + 13 <= 100
        provider.add(FakeReply(text="ok", usage=Usage(input_tokens=4, output_tokens=6)))
        provider.generate_sync("fake-model", "hi", max_tokens=6)
    with pytest.raises(BudgetExceededError) as info:
        provider.generate_sync("fake-model", "hi", max_tokens=6)  # 90 + 13 > 100
    assert info.value.spent == 90
    second.close()


def test_periods_and_scopes(tmp_path: Path) -> None:
    store = MemoryStore()
    yesterday = time.time() - 86400 * 1.5
    store.write([UsageRecord(time=yesterday, provider="fake", model="fake-model", input_tokens=50, id="old",
                             tags={"team": "a"})])
    led = UsageLedger(store, budgets=[Budget(tokens=60, per="day"), Budget(tokens=60, tags={"team": "a"})])
    provider = FakeProvider()
    provider.usage_ledger = led
    provider.generate_sync("fake-model", "hi", max_tokens=6)  # yesterday's 50 are not today's
    with usage_tags(team="b"):
        provider.generate_sync("fake-model", "hi", max_tokens=6)
    with usage_tags(team="a"), pytest.raises(BudgetExceededError) as info:
        provider.generate_sync("fake-model", "hi", max_tokens=6)  # all-time team a: 50 + 13 > 60
    assert "team='a'" in (info.value.budget or "") and info.value.resets_at is None
    led.close()


def test_budgets_fail_open_when_the_store_cannot_be_read(caplog: pytest.LogCaptureFixture) -> None:
    class Unreadable(FlakyStore):
        def totals(self, **kw: object) -> object:
            raise ConnectionError("down")

    led = UsageLedger(Unreadable(MemoryStore()), budgets=[Budget(tokens=30)], refresh_interval=0)
    provider = FakeProvider()
    provider.usage_ledger = led
    with caplog.at_level(logging.WARNING, logger="agentos_llm.ledger"):
        provider.generate_sync("fake-model", "hi", max_tokens=6)
        provider.generate_sync("fake-model", "hi", max_tokens=6)
    assert any("cannot read budget totals" in r.getMessage() for r in caplog.records)
    provider.add(FakeReply(text="x", usage=Usage(input_tokens=20)))
    provider.generate_sync("fake-model", "hi", max_tokens=6)
    with pytest.raises(BudgetExceededError):  # this process's own spend still counts
        provider.generate_sync("fake-model", "hi", max_tokens=6)
    led.close()


def test_processes_sharing_a_budget_overshoot_within_the_bound(tmp_path: Path) -> None:
    run_budget_processes(tmp_path, ("sqlite", str(tmp_path / "usage.sqlite3")))


def run_budget_processes(tmp_path: Path, target: tuple[str, ...], processes: int = 4, threads: int = 2,
                         limit: int = 1500) -> None:
    """`processes` x `threads` callers share one token budget through one store (shared by the PostgreSQL
    test): what they spend in all exceeds the limit by no more than the documented bound."""
    logs = [tmp_path / f"commits-{i}.log" for i in range(processes)]
    stats = [tmp_path / f"stats-{i}.txt" for i in range(processes)]
    run_forked(budget_worker, [(target, logs[i], threads, limit, stats[i]) for i in range(processes)])
    from ledger_helpers import open_target

    store = open_target(target)
    rows = store.rows()
    store.close()
    commits = read_commit_log(logs)
    delta = max(float(p.read_text()) for p in stats) + 0.005
    overshoot, bound = check_overshoot_bound(rows, commits, limit, delta)
    assert len({r.writer_id for r in rows}) == processes
    assert sum(r.total_tokens for r in rows) > limit - RESERVED  # the budget was reached
    assert overshoot <= bound, f"overshoot {overshoot} tokens beyond the documented bound {bound}"
    # Sanity: without counting other processes each would spend the whole limit.
    assert overshoot < (processes - 1) * limit
