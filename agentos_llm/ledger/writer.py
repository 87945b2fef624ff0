"""`UsageLedger`: records one row per call without ever slowing or failing the call.

`record()` appends to a bounded in-memory queue and returns; a background thread writes the queue
to the store in batches, one transaction each. While the store is down, rows wait (up to
`queue_size`); a row that finds the queue full is dropped, counted in `dropped` and logged (a
warning at most once a minute), never raised. `flush()` waits for what was recorded so far;
`close()` drains; the interpreter's exit drains too (atexit, and in `multiprocessing` workers,
which leave through `os._exit`, the worker's own exit hook). After `fork()` the child starts
empty, with a writer thread of its own started on its first row.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import secrets
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .budgets import Budget, BudgetGuard
from .meter import AsyncMeteredStream, MeteredStream, Ticket, arun, run
from .records import UsageRecord, check_tag_name
from .stores import LedgerStore, open_store

if TYPE_CHECKING:
    from ..provider import Call, IProvider
    from ..types import StreamEvent

__all__ = ["UsageLedger"]

log = logging.getLogger("agentos_llm.ledger")
T = TypeVar("T")
_LEDGERS: weakref.WeakSet[UsageLedger] = weakref.WeakSet()
_WARN_EVERY = 60.0


class UsageLedger:
    """An opt-in record of every call: attach it to a manager (`manager.attach_ledger(ledger)`) or a
    provider (`provider.usage_ledger = ledger`).

    `store`: a `LedgerStore`, a SQLite path, a `postgresql://` URL, or None (`$AGENTOS_LLM_LEDGER`,
    else `~/.local/share/agentos-llm/usage.sqlite3`). `budgets` are checked before each call
    (see `agentos_llm.ledger.budgets`). `tags` go on every row (`usage_tags(...)` adds per-call tags).
    """

    def __init__(self, store: LedgerStore | str | os.PathLike[str] | None = None, *,
                 budgets: Iterable[Budget] = (), tags: Mapping[str, object] | None = None,
                 queue_size: int = 10_000, batch_size: int = 500, flush_interval: float = 1.0,
                 refresh_interval: float = 1.0, reserve_output_tokens: int = 1024,
                 close_timeout: float = 5.0) -> None:
        self.store: LedgerStore = open_store(store)
        self.tags: dict[str, str] = {check_tag_name(k): str(v) for k, v in (tags or {}).items()}
        self.queue_size = max(1, int(queue_size))
        self.batch_size = max(1, int(batch_size))
        self.flush_interval = float(flush_interval)
        self.refresh_interval = float(refresh_interval)
        self.reserve_output_tokens = int(reserve_output_tokens)
        self.close_timeout = float(close_timeout)
        self.dropped = 0
        """Rows lost: the queue was full (store down for long), or the store was still down at close."""
        self.written = 0
        """Rows committed by this process."""
        self._writer_id = _new_writer_id()
        self._guard: BudgetGuard | None = None
        self._init_runtime()
        if budgets:
            self.set_budgets(budgets)
        _LEDGERS.add(self)

    def _init_runtime(self) -> None:
        self._lock = threading.Lock()
        self._committed = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._queue: deque[UsageRecord] = deque()
        self._accepted = 0
        self._done = 0
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._last_warning: dict[str, float] = {}
        self._failures = 0
        self._worker_hook = 0

    def __repr__(self) -> str:
        return (f"UsageLedger(store={self.store!r}, pending={self.pending}, written={self.written}, "
                f"dropped={self.dropped})")

    # ------------------------------------------------------------------ budgets

    @property
    def budgets(self) -> tuple[Budget, ...]:
        """The budgets checked before each call."""
        return self._guard.budgets if self._guard is not None else ()

    def set_budgets(self, budgets: Iterable[Budget]) -> None:
        """Replaces the budgets (an empty list removes them)."""
        items = tuple(budgets)
        for b in items:
            if not isinstance(b, Budget):
                raise TypeError(f"budgets take Budget objects, not {type(b).__name__}")
        if self.pending:
            self.flush(self.close_timeout)
        # A new writer id: rows recorded before the guard existed are then read back from the store
        # like any other writer's, instead of being left out of both the store query and the memory count.
        self._writer_id = _new_writer_id()
        self._guard = BudgetGuard(items, self.store, self._writer_id, refresh_interval=self.refresh_interval
                                  ) if items else None
        if self._guard is not None and self.refresh_interval > 0:
            with self._lock:
                self._ensure_thread()

    # ------------------------------------------------------------------ recording

    def record(self, rec: UsageRecord) -> None:
        """Queues one row for the writer; never blocks on the store and never raises."""
        try:
            if not rec.writer_id:
                rec.writer_id = self._writer_id
            guard = self._guard
            if guard is not None:
                guard.add(rec)
            with self._lock:
                if len(self._queue) >= self.queue_size:
                    self.dropped += 1
                    full = True
                else:
                    self._queue.append(rec)
                    self._accepted += 1
                    full = False
                    if self._thread is None:
                        self._ensure_thread()
                    if len(self._queue) >= self.batch_size:
                        self._wake.set()
            if full:
                self._warn("dropped", "usage ledger: queue full (%d rows waiting for %r); %d rows dropped so far",
                           self.queue_size, self.store, self.dropped)
        except Exception:
            log.exception("usage ledger: could not queue a row")

    @property
    def pending(self) -> int:
        """Rows recorded but not yet committed."""
        return len(self._queue)

    def flush(self, timeout: float | None = None) -> bool:
        """Waits until every row recorded before this call is committed; False if `timeout` passed first
        (the store is down, say)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._committed:
            target = self._accepted
            if self._done >= target:
                return True
            self._ensure_thread()
        self._wake.set()
        with self._committed:
            while self._done < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._committed.wait(0.2 if remaining is None else min(remaining, 0.2))
        return True

    def close(self, timeout: float | None = None) -> None:
        """Drains the queue (waiting up to `timeout`, default `close_timeout`), stops the writer and closes
        the store. Rows the store still refuses are counted in `dropped` and logged. Recording again
        afterwards starts a new writer."""
        self.flush(self.close_timeout if timeout is None else timeout)
        with self._lock:
            self._stopping = True
            thread = self._thread
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)
        with self._lock:
            lost = len(self._queue)
            self._queue.clear()
            self.dropped += lost
            self._done = self._accepted
            self._thread = None
            self._stopping = False
            self._committed.notify_all()
        if lost:
            log.warning("usage ledger: %d rows not written at close (%r unavailable); %d dropped in all",
                        lost, self.store, self.dropped)
        try:
            self.store.close()
        except Exception as exc:
            log.warning("usage ledger: closing %r failed: %s: %s", self.store, type(exc).__name__, exc)

    def __enter__(self) -> UsageLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    def summary(self, *, since: float | None = None, by: Sequence[str] = ()) -> list[dict[str, Any]]:
        """The store's summary (committed rows; `flush()` first to include the latest)."""
        return self.store.summary(since=since, by=by)

    # ------------------------------------------------------------------ attaching and metering

    def attach(self, *targets: Any, budgets: Iterable[Budget] | None = None) -> UsageLedger:
        """Attaches to providers and managers (a manager passes it on to later registrations too)."""
        if budgets is not None:
            self.set_budgets(budgets)
        for target in targets:
            attach = getattr(target, "attach_ledger", None)
            if attach is not None:
                attach(self)
            else:
                target.usage_ledger = self
        return self

    def run(self, provider: IProvider, op: str, model: str, source: Any, fn: Callable[[], T]) -> T:
        """Runs a whole call (`fn`) with the budget check before and its row after."""
        return run(self, provider, op, model, source, fn)

    async def arun(self, provider: IProvider, op: str, model: str, source: Any,
                   fn: Callable[[], Awaitable[T]]) -> T:
        """`run` for a coroutine."""
        return await arun(self, provider, op, model, source, fn)

    def meter_stream(self, provider: IProvider, call: Call, events: Iterator[StreamEvent]) -> MeteredStream:
        """Checks budgets now (before anything is sent) and records the stream's row as it ends."""
        return MeteredStream(Ticket(self, provider, "stream", call.model, call), events)

    def ameter_stream(self, provider: IProvider, call: Call, events: AsyncIterator[StreamEvent]
                      ) -> AsyncMeteredStream:
        """`meter_stream` for an async stream."""
        return AsyncMeteredStream(Ticket(self, provider, "stream", call.model, call), events)

    # ------------------------------------------------------------------ the writer thread

    def _ensure_thread(self) -> None:
        """Starts the writer (the caller holds `_lock`)."""
        if self._thread is not None:
            return
        self._stopping = False
        thread = threading.Thread(target=self._run, name="agentos-llm-ledger", daemon=True)
        self._thread = thread
        thread.start()
        _register_worker_exit(self)

    def _run(self) -> None:
        delay = self.flush_interval
        while True:
            self._wake.wait(delay)
            self._wake.clear()
            guard = self._guard
            try:
                ok = self._drain()
                if guard is not None:
                    guard.refresh_due()
            except Exception:  # a bug here must not end the writer: rows would pile up unseen
                log.exception("usage ledger: writer error")
                ok = False
            with self._lock:
                if self._stopping or self._thread is not threading.current_thread():
                    return
            if ok:
                self._failures = 0
                delay = self.flush_interval
                if guard is not None and guard.refresh_interval > 0:
                    delay = min(delay, guard.refresh_interval)
            else:
                self._failures += 1
                delay = min(30.0, 0.25 * 2 ** min(self._failures, 7))

    def _drain(self) -> bool:
        """Writes the queue in batches; False when the store refused one (the batch stays queued)."""
        while True:
            with self._lock:
                batch = list(itertools.islice(self._queue, self.batch_size))
            if not batch:
                return True
            for rec in batch:
                if not rec.id:
                    rec.id = f"{rec.writer_id}-{next(self._ids)}"
            try:
                self.store.write(batch)
            except Exception as exc:
                self._warn("write", "usage ledger: cannot write to %r (%s: %s); %d rows waiting, retrying",
                           self.store, type(exc).__name__, exc, len(self._queue))
                return False
            with self._committed:
                for _ in batch:
                    self._queue.popleft()
                self._done += len(batch)
                self.written += len(batch)
                self._committed.notify_all()

    def _warn(self, kind: str, msg: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last_warning.get(kind, -_WARN_EVERY) >= _WARN_EVERY:
            self._last_warning[kind] = now
            log.warning(msg, *args)

    def _after_fork_in_child(self) -> None:
        # The parent's queue, thread and connections are the parent's: the child starts empty.
        self._init_runtime()
        self.dropped = 0
        self.written = 0
        self._writer_id = _new_writer_id()
        if self._guard is not None:
            self._guard.reset(self._writer_id)


def _new_writer_id() -> str:
    return secrets.token_hex(8)


def _after_fork_in_child() -> None:
    for ledger in list(_LEDGERS):
        ledger._after_fork_in_child()


def _close_all_at_exit() -> None:
    for ledger in list(_LEDGERS):
        if ledger._thread is not None or ledger.pending:
            ledger.close()


def _register_worker_exit(ledger: UsageLedger) -> None:
    """In a `multiprocessing` worker (which exits with `os._exit`, skipping atexit), drain at its exit."""
    mp = sys.modules.get("multiprocessing")
    if mp is None or mp.parent_process() is None or ledger._worker_hook == os.getpid():
        return
    from multiprocessing import util

    ref = weakref.ref(ledger)

    def drain() -> None:
        target = ref()
        if target is not None:
            target.close()

    util.Finalize(None, drain, exitpriority=100)
    ledger._worker_hook = os.getpid()


atexit.register(_close_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
