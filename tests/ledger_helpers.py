"""Helpers of the ledger tests: stores that log their commits, and worker processes (fork)."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agentos_llm.errors import BudgetExceededError
from agentos_llm.ledger import Budget, LedgerStore, SQLiteStore, UsageLedger, UsageRecord, usage_tags
from agentos_llm.ledger.postgres import PostgresStore
from agentos_llm.testing import FakeProvider, FakeReply
from agentos_llm.types import Usage

Target = tuple[str, ...]
"""("sqlite", path) or ("pg", url, table): each process opens its own store from it."""


def open_target(target: Target) -> LedgerStore:
    if target[0] == "sqlite":
        return SQLiteStore(target[1])
    return PostgresStore(target[1], table=target[2])


class LoggingStore:
    """Delegates to a store; after each committed batch appends "id commit_time" lines to a file."""

    def __init__(self, inner: LedgerStore, log: Path) -> None:
        self.inner = inner
        self.log = log

    def write(self, records: Sequence[UsageRecord]) -> None:
        self.inner.write(records)
        stamp = time.time()
        with open(self.log, "a") as f:
            f.write("".join(f"{r.id} {stamp!r}\n" for r in records))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class FlakyStore:
    """Delegates to a store, refusing every write while `down` is set."""

    def __init__(self, inner: LedgerStore) -> None:
        self.inner = inner
        self.down = threading.Event()
        self.refused = 0

    def write(self, records: Sequence[UsageRecord]) -> None:
        if self.down.is_set():
            self.refused += 1
            raise ConnectionError("store is down")
        self.inner.write(records)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def read_commit_log(paths: Sequence[Path]) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in paths:
        if p.exists():
            for line in p.read_text().splitlines():
                rid, stamp = line.split()
                out[rid] = float(stamp)
    return out


def run_forked(fn: Callable[..., None], args: Sequence[tuple[Any, ...]], timeout: float = 60.0) -> None:
    """Runs `fn(*a)` in one forked process per `a`; fails unless every process exits 0."""
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=fn, args=a) for a in args]
    for p in procs:
        p.start()
    deadline = time.monotonic() + timeout
    for p in procs:
        p.join(max(0.1, deadline - time.monotonic()))
    stuck = [p for p in procs if p.is_alive()]
    for p in stuck:
        p.kill()
        p.join()
    assert not stuck, f"{len(stuck)} worker(s) did not finish within {timeout} s"
    assert [p.exitcode for p in procs] == [0] * len(procs)


def calls_worker(target: Target, calls: int, index: int, close: bool = True) -> None:
    """`calls` generate calls through a FakeProvider with its own ledger, tagged with the worker index."""
    ledger = UsageLedger(open_target(target), flush_interval=0.05, tags={"worker": index})
    provider = FakeProvider()
    provider.usage_ledger = ledger
    for i in range(calls):
        with usage_tags(n=i):
            provider.generate_sync("fake-model", "hello")
    if close:
        ledger.close()


def shared_ledger_worker(ledger: UsageLedger, calls: int, index: int) -> None:
    """Uses a ledger inherited from the parent through fork."""
    provider = FakeProvider()
    provider.usage_ledger = ledger
    for i in range(calls):
        with usage_tags(worker=index, n=i):
            provider.generate_sync("fake-model", "hello")
    ledger.close()


CALL_TOKENS = 10
"""What each budgeted call uses (4 in, 6 out); its reservation is 13 (7 estimated in + max_tokens 6)."""


def budget_reply(call: Any) -> FakeReply:
    time.sleep(0.01)
    return FakeReply(text="ok", usage=Usage(input_tokens=4, output_tokens=6))


def budget_worker(target: Target, log: Path, threads: int, limit: int, stats: Path) -> None:
    """`threads` threads calling until the token budget refuses; commit times go to `log`."""
    ledger = UsageLedger(LoggingStore(open_target(target), log), flush_interval=0.01, refresh_interval=0,
                         budgets=[Budget(tokens=limit)])
    provider = FakeProvider()
    provider.usage_ledger = ledger

    def loop() -> None:
        for _ in range(100_000):
            provider.add(budget_reply)
            try:
                provider.generate_sync("fake-model", "hi", max_tokens=6)
            except BudgetExceededError:
                return

    pool = [threading.Thread(target=loop) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    ledger.close()
    guard = ledger._guard
    assert guard is not None
    stats.write_text(repr(guard.max_query_seconds))


def check_overshoot_bound(rows: Sequence[UsageRecord], commits: dict[str, float], limit: int,
                          delta: float) -> tuple[int, int]:
    """(overshoot, bound): the bound is the documented one, computed from what really happened.

    A call admitted at `a_x` by one process could not see another process's call y when y was
    admitted before it (`a_y <= a_x`, give or take delta: the stamps are taken just after admission) and not
    yet committed when the admitting check's query began
    (`commit_y >= a_x - delta`, delta covering the query and the check). The overshoot is at most the
    tokens of those hidden calls, for the worst admission.
    """
    total = sum(r.total_tokens for r in rows)
    assert all(r.id in commits for r in rows), "a stored row has no commit time"
    bound = 0
    for x in rows:
        hidden = sum(y.total_tokens for y in rows
                     if y.writer_id != x.writer_id and y.time <= x.time + delta and commits[y.id] >= x.time - delta)
        bound = max(bound, hidden)
    return total - limit, bound
