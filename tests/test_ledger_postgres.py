"""The ledger on a real PostgreSQL server (tests/pg_server.py starts one; CI installs Debian's package)."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from ledger_helpers import calls_worker, run_forked
from test_budgets import run_budget_processes

from agentos_llm.ledger import MemoryStore, UsageLedger, UsageRecord, open_store
from agentos_llm.ledger.postgres import PostgresStore
from agentos_llm.testing import FakeProvider

if TYPE_CHECKING:
    from pg_server import PgServer

pytest_plugins = ("pg_server",)  # its fixtures: postgres_server, postgres_url, pg_table


def _rows() -> list[UsageRecord]:
    base = 1_767_225_600.0  # 2026-01-01T00:00:00Z
    return [UsageRecord(time=base + 10, provider="openai", model="gpt-4o", input_tokens=10, output_tokens=5,
                        cached_input_tokens=3, cost_usd=0.5, cost_source="genai-prices", tags={"team": "a"}, id="1",
                        writer_id="w1", latency_ms=12.5),
            UsageRecord(time=base + 86400 + 5, provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1,
                        status="RateLimitError", id="2", writer_id="w2"),
            UsageRecord(time=base + 86400 + 9, provider="anthropic", model="claude", input_tokens=3, output_tokens=4,
                        cost_usd=1.25, tags={"team": "b"}, id="3", writer_id="w2", ttft_ms=3.0)]


def test_postgres_store_matches_the_memory_store(postgres_url: str, pg_table: str) -> None:
    store = open_store(postgres_url)
    assert isinstance(store, PostgresStore)
    store.close()
    store = PostgresStore(postgres_url, table=pg_table)
    rows = _rows()
    store.write(rows)
    store.write(rows[:2])  # a re-sent batch adds nothing
    mem = MemoryStore()
    mem.write(rows)
    back = store.rows()
    assert [r.as_dict() for r in back] == [r.as_dict() for r in rows]
    for by in ([], ["day", "provider"], ["provider", "model", "status"], ["tag:team"], ["month", "operation"]):
        assert store.summary(by=by) == mem.summary(by=by), by
    since = rows[1].time
    assert store.summary(since=since, by=["provider"]) == mem.summary(since=since, by=["provider"])
    for kw in ({}, {"provider": "openai"}, {"model": "claude"}, {"tags": {"team": "a"}}, {"exclude_writer": "w2"},
               {"since": since}):
        assert store.totals(**kw) == mem.totals(**kw), kw  # type: ignore[arg-type]
    assert "***" not in repr(store) and "agentos@127.0.0.1" in repr(store)
    store.close()


def test_eight_processes_into_postgres(postgres_url: str, pg_table: str) -> None:
    target = ("pg", postgres_url, pg_table)
    run_forked(calls_worker, [(target, 500, i) for i in range(8)])
    store = PostgresStore(postgres_url, table=pg_table)
    rows = store.rows()
    store.close()
    assert len(rows) == 4000 and len({r.id for r in rows}) == 4000
    assert {(r.tags["worker"], r.tags["n"]) for r in rows} == {(str(w), str(n)) for w in range(8) for n in range(500)}


def test_processes_sharing_a_budget_in_postgres(postgres_url: str, pg_table: str, tmp_path: Path) -> None:
    run_budget_processes(tmp_path, ("pg", postgres_url, pg_table))


def test_a_dropped_connection_is_reopened(postgres_server: PgServer, pg_table: str) -> None:
    import psycopg

    led = UsageLedger(PostgresStore(postgres_server.url, table=pg_table), flush_interval=0.02)
    provider = FakeProvider()
    provider.usage_ledger = led
    provider.generate_sync("fake-model", "before")
    assert led.flush(10)
    with psycopg.connect(postgres_server.url, autocommit=True) as admin:
        killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE pid <> pg_backend_pid() AND datname = current_database()").fetchone()
    assert killed is not None and killed[0] >= 1
    for i in range(3):
        provider.generate_sync("fake-model", f"after {i}")
    assert led.flush(20)
    assert len(led.store.rows()) == 4
    led.close()


def test_server_unreachable_calls_succeed_and_rows_wait(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    led = UsageLedger(PostgresStore(f"postgresql://nobody:secret-pw@127.0.0.1:{port}/x", connect_timeout=1),
                      flush_interval=0.01, queue_size=5)
    provider = FakeProvider()
    provider.usage_ledger = led
    with caplog.at_level(logging.WARNING, logger="agentos_llm.ledger"):
        for i in range(8):
            assert provider.generate_sync("fake-model", f"x{i}").text == f"Echo: x{i}"
        assert not led.flush(0.3)
    assert led.pending == 5 and led.dropped == 3
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "cannot write" in messages and "secret-pw" not in messages
    led.close(timeout=0.1)
    assert led.dropped == 8
