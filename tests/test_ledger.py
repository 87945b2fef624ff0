"""The usage ledger: one row per call (generate, stream, embed, rerank, errors), the background writer
(store down, bounded queue, flush and close), SQLite durability and many processes."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ledger_helpers import FlakyStore, calls_worker, run_forked, shared_ledger_worker

from agentos_llm.errors import ConfigurationError, RateLimitError
from agentos_llm.ledger import (
    MemoryStore,
    SQLiteStore,
    UsageLedger,
    UsageRecord,
    default_sqlite_path,
    fallback_hop,
    open_store,
    usage_tags,
)
from agentos_llm.manager import AIModelProviderManager
from agentos_llm.registry import create_provider
from agentos_llm.testing import FakeProvider, FakeReply, Fault, Reply, WireEmulator
from agentos_llm.types import Usage


@pytest.fixture
def ledger() -> Iterator[UsageLedger]:
    led = UsageLedger(MemoryStore(), flush_interval=0.02)
    yield led
    led.close()


@pytest.fixture
def emulator() -> Iterator[WireEmulator]:
    with WireEmulator() as emu:
        yield emu


def rows_of(led: UsageLedger) -> list[UsageRecord]:
    assert led.flush(10)
    return led.store.rows()


# ---------------------------------------------------------------------- one row per call


def test_one_row_per_call_kind(ledger: UsageLedger) -> None:
    provider = FakeProvider([FakeReply(text="hi", usage=Usage(input_tokens=7, output_tokens=3, cached_input_tokens=2,
                                                              reasoning_tokens=1, cost_usd=0.25))])
    provider.usage_ledger = ledger
    provider.generate_sync("fake-model", "one")
    events = list(provider.stream_sync("fake-model", "two words"))
    provider.embed_sync(None, ["a b c", "d"])
    provider.rerank_sync(None, "a", ["a b", "c"])
    rows = rows_of(ledger)
    assert [r.operation for r in rows] == ["chat", "stream", "embed", "rerank"]
    chat, stream, embed, rerank = rows
    assert (chat.input_tokens, chat.output_tokens, chat.cached_input_tokens, chat.reasoning_tokens) == (7, 3, 2, 1)
    assert chat.cost_usd == 0.25 and chat.cost_source == "provider"
    assert chat.status == "ok" and chat.provider == "fake" and chat.model == "fake-model"
    assert chat.latency_ms is not None and chat.latency_ms >= 0 and chat.ttft_ms is None
    done = events[-1]
    assert done.type == "done"
    assert stream.output_tokens == done.response.usage.output_tokens and stream.ttft_ms is not None
    assert stream.ttft_ms <= (stream.latency_ms or 0)
    assert embed.input_tokens == 4 and embed.model == "fake-embedding"
    assert rerank.model == "fake-rerank" and rerank.input_tokens == 3
    assert len({r.id for r in rows}) == 4 and all(r.writer_id for r in rows)


async def test_async_calls_are_recorded(ledger: UsageLedger) -> None:
    provider = FakeProvider()
    provider.usage_ledger = ledger
    await provider.generate("fake-model", "hello there")
    async with provider.stream("fake-model", "streamed") as events:
        async for _ in events:
            pass
    await provider.embed(None, ["x"])
    await provider.rerank(None, "q", ["q"])
    assert [r.operation for r in rows_of(ledger)] == ["chat", "stream", "embed", "rerank"]


def test_errors_record_the_error_class(ledger: UsageLedger) -> None:
    provider = FakeProvider([RateLimitError("slow down", provider="fake", request_id="req-9")])
    provider.usage_ledger = ledger
    with pytest.raises(RateLimitError):
        provider.generate_sync("fake-model", "x")
    provider.add(RuntimeError("stream broke"))
    with pytest.raises(Exception):  # noqa: B017 - whatever the base class maps it to
        list(provider.stream_sync("fake-model", "y"))
    first, second = rows_of(ledger)
    assert first.status == "RateLimitError" and first.request_id == "req-9" and first.total_tokens == 0
    assert second.operation == "stream" and second.status not in ("ok", "cancelled")


def test_stream_left_early_is_cancelled_with_the_usage_seen(ledger: UsageLedger) -> None:
    provider = FakeProvider(["one two three four"])
    provider.usage_ledger = ledger
    with provider.stream_sync("fake-model", "x") as events:
        next(events)
    never_started = provider.stream_sync("fake-model", "y")
    never_started.close()
    rows = rows_of(ledger)
    assert [r.status for r in rows] == ["cancelled", "cancelled"]


def test_structured_output_records_each_attempt(ledger: UsageLedger) -> None:
    provider = FakeProvider(["not json", '{"x": 1}'])
    provider.usage_ledger = ledger
    from pydantic import BaseModel

    class X(BaseModel):
        x: int

    assert provider.generate_structured_sync("fake-model", "give x", X).value.x == 1
    assert [r.operation for r in rows_of(ledger)] == ["chat", "chat"]


def test_tags_and_fallback_hop(ledger: UsageLedger) -> None:
    tagged = UsageLedger(MemoryStore(), tags={"service": "api"}, flush_interval=0.02)
    provider = FakeProvider()
    provider.usage_ledger = tagged
    with usage_tags(team="search"):
        with usage_tags(job=7):
            provider.generate_sync("fake-model", "a")
        with fallback_hop(2):
            provider.generate_sync("fake-model", "b")
    provider.generate_sync("fake-model", "c")
    rows = rows_of(tagged)
    tagged.close()
    assert [r.tags for r in rows] == [{"service": "api", "team": "search", "job": "7"},
                                      {"service": "api", "team": "search"}, {"service": "api"}]
    assert [r.fallback_hop for r in rows] == [0, 2, 0]
    with pytest.raises(ValueError), usage_tags(**{"bad name": 1}):
        pass


def test_real_provider_over_the_wire(emulator: WireEmulator) -> None:
    led = UsageLedger(MemoryStore(), flush_interval=0.02)
    provider = create_provider("openai", api_key="sk-test-not-a-real-key-000", base_url=emulator.openai_base_url,
                               max_retries=0)
    provider.usage_ledger = led
    emulator.script(Reply(text="hello there", prompt_tokens=11, completion_tokens=2, cached_tokens=4),
                    Reply(text="a streamed answer", prompt_tokens=5, completion_tokens=3),
                    Fault(status=429, body={"error": {"message": "slow down", "type": "rate_limit_error"}}))
    with provider:
        r = provider.generate_sync("gpt-4o-mini", "hi")
        for _ in provider.stream_sync("gpt-4o-mini", "stream it"):
            pass
        with pytest.raises(RateLimitError):
            provider.generate_sync("gpt-4o-mini", "again")
    chat, stream, error = rows_of(led)
    led.close()
    assert (chat.provider, chat.host, chat.api, chat.model) == ("openai", "openai", "openai-chat", "gpt-4o-mini")
    assert (chat.input_tokens, chat.cached_input_tokens, chat.output_tokens) == (11, 4, 2)
    assert chat.cost_usd == r.usage.cost_usd and chat.cost_usd is not None and chat.cost_source == r.usage.cost_source
    assert chat.request_id == r.request_id
    assert stream.operation == "stream" and stream.output_tokens == 3 and stream.ttft_ms is not None
    assert error.status == "RateLimitError" and error.cost_usd is None


def test_manager_attaches_to_current_and_future_providers() -> None:
    led = UsageLedger(MemoryStore(), flush_interval=0.02)
    first, second = FakeProvider(), FakeProvider(provider_id="other")
    manager = AIModelProviderManager([first], ledger=led)
    manager.register(second)
    assert first.usage_ledger is led and second.usage_ledger is led
    manager.generate_sync("fake/fake-model", "a")
    manager.generate_sync("other/fake-model", "b")
    assert sorted(r.provider for r in rows_of(led)) == ["fake", "other"]
    manager.attach_ledger(None)
    assert first.usage_ledger is None and second.usage_ledger is None
    with pytest.raises(ConfigurationError):
        manager.attach_ledger(None, budgets=[])
    led.close()


def test_no_ledger_records_nothing_and_costs_one_attribute() -> None:
    provider = FakeProvider()
    assert provider.usage_ledger is None
    assert provider.generate_sync("fake-model", "x").text == "Echo: x"


# ---------------------------------------------------------------------- the writer


def test_store_down_calls_succeed_rows_wait_and_overflow_is_counted(caplog: pytest.LogCaptureFixture) -> None:
    flaky = FlakyStore(MemoryStore())
    flaky.down.set()
    led = UsageLedger(flaky, queue_size=10, batch_size=4, flush_interval=0.01)
    provider = FakeProvider()
    provider.usage_ledger = led
    with caplog.at_level(logging.WARNING, logger="agentos_llm.ledger"):
        for i in range(25):
            assert provider.generate_sync("fake-model", f"call {i}").text == f"Echo: call {i}"
        assert not led.flush(0.2)  # the store refuses: flush gives up, never raises
    assert led.pending == 10 and led.dropped == 15
    assert flaky.refused >= 1
    dropped_warnings = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped_warnings) == 1  # rate-limited: one warning for 15 drops
    flaky.down.clear()
    assert led.flush(10)
    rows = flaky.inner.rows()
    assert [r.status for r in rows] == ["ok"] * 10 and led.pending == 0 and led.written == 10
    led.close()


def test_close_drains_and_counts_what_the_store_still_refuses() -> None:
    flaky = FlakyStore(MemoryStore())
    led = UsageLedger(flaky, flush_interval=30)  # nothing is written before close
    for i in range(5):
        led.record(UsageRecord(time=time.time(), provider="p", model="m", input_tokens=i))
    led.close()
    assert len(flaky.inner.rows()) == 5 and led.dropped == 0
    flaky.down.set()
    led.record(UsageRecord(time=time.time(), provider="p", model="m"))
    led.close(timeout=0.1)
    assert led.dropped == 1 and led.pending == 0


def test_record_never_raises_on_a_bad_store() -> None:
    class Broken:
        def write(self, records: object) -> None:
            raise MemoryError("no")  # even odd exceptions stay in the writer

        def close(self) -> None:
            raise OSError("no")

    led = UsageLedger(Broken(), queue_size=2, flush_interval=0.01)  # type: ignore[arg-type]
    for _ in range(5):
        led.record(UsageRecord(time=0.0, provider="p", model="m"))
    assert led.pending == 2 and led.dropped == 3
    led.close(timeout=0.05)


# ---------------------------------------------------------------------- SQLite


def test_sqlite_store_wal_schema_and_summaries(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "usage.sqlite3"
    store = SQLiteStore(path)
    day = 86400.0
    base = 1_767_225_600.0  # 2026-01-01T00:00:00Z
    rows = [UsageRecord(time=base + 10, provider="openai", model="gpt-4o", input_tokens=10, output_tokens=5,
                        cost_usd=0.5, tags={"team": "a"}, id="1"),
            UsageRecord(time=base + day + 5, provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1,
                        cost_usd=None, status="RateLimitError", id="2"),
            UsageRecord(time=base + day + 9, provider="anthropic", model="claude", input_tokens=3, output_tokens=4,
                        cost_usd=1.25, tags={"team": "b"}, id="3")]
    store.write(rows)
    store.write(rows[:1])  # a re-sent batch adds nothing
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert [r.id for r in store.rows()] == ["1", "2", "3"]
    assert store.rows(since=base + day)[0].tags == {}
    by_day = store.summary(by=["day", "provider"])
    assert [(r["day"], r["provider"], r["calls"], r["cost_usd"]) for r in by_day] == [
        ("2026-01-01", "openai", 1, 0.5), ("2026-01-02", "anthropic", 1, 1.25), ("2026-01-02", "openai", 1, None)]
    assert by_day[2]["errors"] == 1 and by_day[2]["unpriced_calls"] == 1
    by_tag = {r["tag:team"]: r["calls"] for r in store.summary(by=["tag:team"])}
    assert by_tag == {None: 1, "a": 1, "b": 1}
    assert store.totals().tokens == 24 and store.totals(provider="openai").usd == 0.5
    assert store.totals(tags={"team": "b"}).calls == 1 and store.totals(since=base + day).calls == 2
    assert store.summary(by=[]) == MemoryStore_summary(rows, [])
    assert by_day == MemoryStore_summary(rows, ["day", "provider"])
    with pytest.raises(ValueError):
        store.summary(by=["nope"])
    with pytest.raises(ValueError):
        store.totals(tags={"x'; drop table": "1"})
    store.close()


def MemoryStore_summary(rows: list[UsageRecord], by: list[str]) -> list[dict[str, object]]:
    mem = MemoryStore()
    mem.write(rows)
    return mem.summary(by=by)


def test_default_path_and_open_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("AGENTOS_LLM_LEDGER", raising=False)
    assert default_sqlite_path() == tmp_path / "xdg" / "agentos-llm" / "usage.sqlite3"
    store = open_store()
    assert isinstance(store, SQLiteStore) and store.path == default_sqlite_path()
    assert default_sqlite_path({"HOME": "/h"}).name == "usage.sqlite3"
    monkeypatch.setenv("AGENTOS_LLM_LEDGER", str(tmp_path / "env.sqlite3"))
    assert open_store().path == tmp_path / "env.sqlite3"  # type: ignore[attr-defined]
    assert open_store(f"sqlite:///{tmp_path}/u.db").path == tmp_path / "u.db"  # type: ignore[attr-defined]
    mem = MemoryStore()
    assert open_store(mem) is mem
    with pytest.raises(ConfigurationError):
        open_store("mysql://x")
    with pytest.raises(ConfigurationError):
        SQLiteStore(":memory:")
    with pytest.raises(ConfigurationError):
        SQLiteStore(tmp_path / "x.db", table="bad-name")


_KILLED_SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[3])
    from ledger_helpers import LoggingStore
    from pathlib import Path
    from agentos_llm.ledger import SQLiteStore, UsageLedger
    from agentos_llm.testing import FakeProvider

    ledger = UsageLedger(LoggingStore(SQLiteStore(sys.argv[1]), Path(sys.argv[2])), flush_interval=0.005,
                         batch_size=50)
    provider = FakeProvider()
    provider.usage_ledger = ledger
    while True:
        provider.generate_sync("fake-model", "keep going")
""")


def test_a_killed_process_loses_no_committed_row(tmp_path: Path) -> None:
    db, log, err = tmp_path / "usage.sqlite3", tmp_path / "committed.log", tmp_path / "stderr.txt"
    with open(err, "w") as stderr:
        proc = subprocess.Popen([sys.executable, "-c", _KILLED_SCRIPT, str(db), str(log), str(Path(__file__).parent)],
                                stderr=stderr)
    try:
        deadline = time.monotonic() + 60  # a wait, not a timing assertion: a busy machine just takes longer
        while time.monotonic() < deadline and proc.poll() is None:
            if log.exists() and log.read_text().count("\n") >= 2000:
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"the writing process ended early: {err.read_text()[-2000:]}"
        os.kill(proc.pid, signal.SIGKILL)  # mid-run: the writer commits every few milliseconds
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    committed = {line.split()[0] for line in log.read_text().splitlines() if line.strip()}
    assert len(committed) >= 2000, f"only {len(committed)} rows committed in 60 s: {err.read_text()[-2000:]}"
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {row[0] for row in conn.execute("SELECT id FROM agentos_llm_usage")}
    conn.close()
    assert committed <= stored  # the log is written after each commit: every logged row is there


def test_eight_processes_into_one_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "usage.sqlite3"
    run_forked(calls_worker, [(("sqlite", str(db)), 500, i) for i in range(8)])
    store = SQLiteStore(db)
    rows = store.rows()
    store.close()
    assert len(rows) == 4000
    assert len({r.id for r in rows}) == 4000
    seen = {(r.tags["worker"], r.tags["n"]) for r in rows}
    assert seen == {(str(w), str(n)) for w in range(8) for n in range(500)}
    assert len({r.writer_id for r in rows}) == 8


def test_fork_children_start_empty_and_drain_at_exit(tmp_path: Path) -> None:
    db = tmp_path / "usage.sqlite3"
    led = UsageLedger(SQLiteStore(db), flush_interval=60)  # the parent's rows stay queued across the fork
    for i in range(5):
        led.record(UsageRecord(time=time.time(), provider="parent", model="m", input_tokens=i))
    assert led.pending == 5
    run_forked(shared_ledger_worker, [(led, 100, i) for i in range(4)])
    run_forked(calls_worker, [(("sqlite", str(db)), 50, 10 + i, False) for i in range(2)])  # no close()
    led.close()
    rows = SQLiteStore(db).rows()
    assert sum(r.provider == "parent" for r in rows) == 5  # written once, by the parent only
    assert sum(r.provider == "fake" for r in rows) == 4 * 100 + 2 * 50
    assert len({r.id for r in rows}) == len(rows) == 505
