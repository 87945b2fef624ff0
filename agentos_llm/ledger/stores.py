"""Where ledger rows live: the `LedgerStore` protocol, SQLite (the default), and an in-memory store.

Every store writes a batch in one transaction and makes a re-sent batch harmless (rows carry a
unique id; duplicates are ignored), answers the totals budgets need, and summarizes by provider,
model, day, tag and so on. PostgreSQL lives in `agentos_llm.ledger.postgres`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import ConfigurationError
from .records import COLUMNS, UsageRecord, check_group_keys, check_tag_name

if TYPE_CHECKING:
    import sqlite3

__all__ = [
    "LEDGER_ENV",
    "LedgerStore",
    "MemoryStore",
    "SQLStore",
    "SQLiteStore",
    "Totals",
    "default_sqlite_path",
    "open_store",
]

LEDGER_ENV = "AGENTOS_LLM_LEDGER"
"""Env var naming the default store: a SQLite file path or a `postgresql://` URL."""

METRICS = ("calls", "errors", "input_tokens", "cached_input_tokens", "cache_write_input_tokens", "output_tokens",
           "reasoning_tokens", "cost_usd", "unpriced_calls", "avg_latency_ms")
"""The figures every summary row carries, after its group keys."""

_TABLE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
# Kept alive, never closed: connections a forked child inherited belong to the parent (closing one
# in the child would end the parent's session or disturb its file locks).
_FORK_ORPHANS: list[Any] = []


@dataclass(frozen=True)
class Totals:
    """Spend and tokens (input + output) of the rows matching a budget's scope."""

    usd: float = 0.0
    tokens: int = 0
    calls: int = 0


@runtime_checkable
class LedgerStore(Protocol):
    """What `UsageLedger` and budgets need from a store."""

    def write(self, records: Sequence[UsageRecord]) -> None:
        """Stores a batch in one transaction (all or nothing); rows whose id exists are skipped."""
        ...

    def totals(self, *, since: float | None = None, provider: str | None = None, model: str | None = None,
               tags: Mapping[str, str] | None = None, exclude_writer: str | None = None) -> Totals:
        """Spend and tokens since `since` (epoch seconds), in a scope, leaving out one writer's rows."""
        ...

    def summary(self, *, since: float | None = None, by: Sequence[str] = ()) -> list[dict[str, Any]]:
        """One dict per group (`by` keys first, then `METRICS`), ordered by the keys."""
        ...

    def rows(self, *, since: float | None = None, limit: int | None = None) -> list[UsageRecord]:
        """The rows since `since`, oldest first."""
        ...

    def close(self) -> None:
        """Releases connections (the store reopens them if used again)."""
        ...


def default_sqlite_path(env: Mapping[str, str] | None = None) -> Path:
    """`$XDG_DATA_HOME/agentos-llm/usage.sqlite3` (`~/.local/share/...` when XDG_DATA_HOME is unset)."""
    environ = os.environ if env is None else env
    base = environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "agentos-llm" / "usage.sqlite3"


def open_store(target: LedgerStore | str | os.PathLike[str] | None = None,
               env: Mapping[str, str] | None = None) -> LedgerStore:
    """A store from a store object, a `postgresql://` URL, a SQLite path (or `sqlite:///path`), or None:
    `$AGENTOS_LLM_LEDGER` when set, else SQLite in the user data directory."""
    if target is not None and not isinstance(target, (str, os.PathLike)):
        return target
    if target is None:
        target = (os.environ if env is None else env).get(LEDGER_ENV) or None
    if target is None:
        return SQLiteStore()
    text = os.fspath(target)
    if text.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return PostgresStore(text)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///"):]  # as SQLAlchemy: sqlite:///relative, sqlite:////absolute
    elif "://" in text:
        raise ConfigurationError(f"unknown ledger store {text.split('://')[0]!r}: give a SQLite path or a "
                                 "postgresql:// URL")
    return SQLiteStore(text)


def _check_table(name: str) -> str:
    if not name or not set(name) <= _TABLE_CHARS or name[0].isdigit() or len(name) > 63:
        raise ConfigurationError(f"bad ledger table name {name!r}: lower-case letters, digits and '_'")
    return name


def _utc(ts: float, fmt: str) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime(fmt)


# ---------------------------------------------------------------------- SQL stores


class SQLStore(ABC):
    """Shared SQL of the SQLite and PostgreSQL stores; a subclass says how its dialect differs.

    Queries are written with `?` placeholders; `_sql` turns them into the driver's.
    """

    table: str
    ts_since = "ts >= ?"
    day_expr = ""
    month_expr = ""
    tag_expr = ""
    """An expression reading one tag (its parameter comes from `_tag_param`)."""
    nulls_first = ""
    """How ORDER BY puts rows without a group value (no tag, say) first, as SQLite does by default."""

    @abstractmethod
    @contextmanager
    def _connection(self, role: str) -> Iterator[Any]:
        """A connection for `role` ("write" or "read"), used by one thread at a time."""

    @abstractmethod
    def _insert(self, conn: Any, rows: list[tuple[Any, ...]]) -> None:
        """Inserts rows in one transaction (committed on return)."""

    def _sql(self, query: str) -> str:
        return query

    def _tag_param(self, name: str) -> str:
        return name

    def _row_values(self, rec: UsageRecord) -> tuple[Any, ...]:
        return tuple(getattr(rec, c) for c in COLUMNS)

    def _read_record(self, values: Sequence[Any]) -> UsageRecord:
        data = dict(zip(COLUMNS, values, strict=True))
        tags = data["tags"]
        data["tags"] = json.loads(tags) if isinstance(tags, str) else dict(tags or {})
        data["time"] = float(data["time"])
        return UsageRecord(**data)

    def _select_time(self) -> str:
        return "ts"

    def write(self, records: Sequence[UsageRecord]) -> None:
        """Stores a batch in one transaction; rows whose id is already stored are skipped."""
        if not records:
            return
        rows = [self._row_values(r) for r in records]
        with self._connection("write") as conn:
            self._insert(conn, rows)

    def _query(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._connection("read") as conn:
            return list(conn.execute(self._sql(query), tuple(params)).fetchall())

    def totals(self, *, since: float | None = None, provider: str | None = None, model: str | None = None,
               tags: Mapping[str, str] | None = None, exclude_writer: str | None = None) -> Totals:
        """Spend and tokens since `since` in a scope, leaving out `exclude_writer`'s rows."""
        where, params = self._where(since)
        for column, value in (("provider", provider), ("model", model)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        for name, value in (tags or {}).items():
            where.append(f"{self.tag_expr} = ?")
            params.extend((self._tag_param(check_tag_name(name)), str(value)))
        if exclude_writer is not None:
            where.append("writer_id <> ?")
            params.append(exclude_writer)
        query = (f"SELECT COALESCE(SUM(cost_usd), 0), COALESCE(SUM(input_tokens + output_tokens), 0), COUNT(*) "
                 f"FROM {self.table}{_where_sql(where)}")
        usd, tokens, calls = self._query(query, params)[0]
        return Totals(usd=float(usd), tokens=int(tokens), calls=int(calls))

    def summary(self, *, since: float | None = None, by: Sequence[str] = ()) -> list[dict[str, Any]]:
        """One dict per group: the `by` keys, then calls, errors, tokens, cost, unpriced calls, latency."""
        keys = check_group_keys(list(by))
        select: list[str] = []
        params: list[Any] = []
        for key in keys:
            if key == "day":
                select.append(self.day_expr)
            elif key == "month":
                select.append(self.month_expr)
            elif key.startswith("tag:"):
                select.append(self.tag_expr)
                params.append(self._tag_param(key[4:]))
            else:
                select.append(key)
        select += ["COUNT(*)", "SUM(CASE WHEN status IN ('ok', 'cancelled') THEN 0 ELSE 1 END)",
                   *(f"SUM({c})" for c in METRICS[2:7]), "SUM(cost_usd)",
                   "SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END)", "AVG(latency_ms)"]
        where, wparams = self._where(since)
        positions = [str(i + 1) for i in range(len(keys))]
        query = f"SELECT {', '.join(select)} FROM {self.table}{_where_sql(where)}"
        if keys:
            order = ", ".join(p + self.nulls_first for p in positions)
            query += f" GROUP BY {', '.join(positions)} ORDER BY {order}"
        out = []
        for values in self._query(query, [*params, *wparams]):
            if not keys and not values[0]:
                continue  # no rows at all: no group
            row: dict[str, Any] = dict(zip(keys, values[:len(keys)], strict=True))
            figures = values[len(keys):]
            for name, value in zip(METRICS, figures, strict=True):
                row[name] = _number(name, value)
            out.append(row)
        return out

    def rows(self, *, since: float | None = None, limit: int | None = None) -> list[UsageRecord]:
        """The rows since `since`, oldest first (at most `limit`)."""
        where, params = self._where(since)
        cols = ", ".join(self._select_time() if c == "time" else c for c in COLUMNS)
        query = f"SELECT {cols} FROM {self.table}{_where_sql(where)} ORDER BY ts, id"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        return [self._read_record(v) for v in self._query(query, params)]

    def _where(self, since: float | None) -> tuple[list[str], list[Any]]:
        if since is None:
            return [], []
        return [self.ts_since], [float(since)]


def _where_sql(where: list[str]) -> str:
    return f" WHERE {' AND '.join(where)}" if where else ""


def _number(name: str, value: Any) -> Any:
    if name in ("cost_usd", "avg_latency_ms"):
        return None if value is None else float(value)
    return int(value or 0)


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS {t} (
    id TEXT PRIMARY KEY,
    ts REAL NOT NULL,
    writer_id TEXT NOT NULL DEFAULT '',
    provider TEXT NOT NULL,
    host TEXT NOT NULL DEFAULT '',
    api TEXT NOT NULL DEFAULT '',
    operation TEXT NOT NULL DEFAULT 'chat',
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    cached_input_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL,
    cost_source TEXT,
    latency_ms REAL,
    ttft_ms REAL,
    status TEXT NOT NULL DEFAULT 'ok',
    request_id TEXT,
    fallback_hop INTEGER NOT NULL DEFAULT 0,
    tags TEXT NOT NULL DEFAULT '{{}}'
);
CREATE INDEX IF NOT EXISTS {t}_ts ON {t} (ts);
CREATE INDEX IF NOT EXISTS {t}_provider_ts ON {t} (provider, ts);
CREATE INDEX IF NOT EXISTS {t}_model_ts ON {t} (model, ts);
"""


class SQLiteStore(SQLStore):
    """The default store: one SQLite file in WAL mode, shared safely by many processes on one machine.

    Each batch is one `BEGIN IMMEDIATE ... COMMIT` (with `synchronous=NORMAL`, a committed batch
    survives the process being killed); writers wait for each other up to `busy_timeout` seconds.
    Reads use their own connection, so a budget check never waits behind a batch being written.
    """

    day_expr = "strftime('%Y-%m-%d', ts, 'unixepoch')"
    month_expr = "strftime('%Y-%m', ts, 'unixepoch')"
    tag_expr = "json_extract(tags, ?)"

    def __init__(self, path: str | os.PathLike[str] | None = None, *, busy_timeout: float = 30.0,
                 table: str = "agentos_llm_usage") -> None:
        self.path = Path(path) if path is not None else default_sqlite_path()
        if str(self.path) == ":memory:":
            raise ConfigurationError("a SQLite ledger needs a file (each connection to :memory: is a separate "
                                     "database); use MemoryStore for an in-process ledger")
        self.busy_timeout = busy_timeout
        self.table = _check_table(table)
        self._conns: dict[str, sqlite3.Connection] = {}
        self._locks = {"write": threading.Lock(), "read": threading.Lock()}
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    def _tag_param(self, name: str) -> str:
        return f'$."{name}"'

    def _row_values(self, rec: UsageRecord) -> tuple[Any, ...]:
        values = super()._row_values(rec)
        return (*values[:-1], json.dumps(rec.tags, separators=(",", ":"), sort_keys=True))

    def _after_fork(self) -> None:
        _FORK_ORPHANS.extend(self._conns.values())
        self._conns = {}
        self._locks = {"write": threading.Lock(), "read": threading.Lock()}
        self._pid = os.getpid()

    def _open(self) -> sqlite3.Connection:
        import sqlite3

        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            self._retry_locked(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
            conn.execute("PRAGMA synchronous = NORMAL")
            self._retry_locked(lambda: conn.executescript(
                "BEGIN IMMEDIATE;" + _SQLITE_SCHEMA.format(t=self.table) + "COMMIT;"))
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            conn.close()
            raise
        return conn

    def _retry_locked(self, fn: Any) -> Any:
        import sqlite3

        # Switching to WAL takes an exclusive lock and does not always wait on the busy handler: when
        # several processes open a new file at once, retry until the busy timeout has passed.
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    @contextmanager
    def _connection(self, role: str) -> Iterator[sqlite3.Connection]:
        if os.getpid() != self._pid:
            self._after_fork()
        with self._locks[role]:
            conn = self._conns.get(role)
            if conn is None:
                conn = self._conns[role] = self._open()
            try:
                yield conn
            except BaseException:
                # A broken file or directory: reopen on the next use.
                self._conns.pop(role, None)
                try:
                    if conn.in_transaction:
                        conn.rollback()
                    conn.close()
                except Exception:
                    pass
                raise

    def _insert(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
        # One multi-row statement per chunk, not `executemany`: the sqlite3 module gives the GIL back
        # around every row's step, and a busy main thread (an agent's loop) then makes each row wait a
        # full switch interval (5 ms): 50 rows took 300 ms against one spinning thread.
        import sqlite3

        cols = ", ".join("ts" if c == "time" else c for c in COLUMNS)
        limit = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
        per = max(1, limit // len(COLUMNS))
        row_marks = "(" + ", ".join("?" * len(COLUMNS)) + ")"
        conn.execute("BEGIN IMMEDIATE")
        try:
            for start in range(0, len(rows), per):
                chunk = rows[start:start + per]
                conn.execute(f"INSERT INTO {self.table} ({cols}) VALUES {', '.join([row_marks] * len(chunk))} "
                             "ON CONFLICT (id) DO NOTHING", [v for row in chunk for v in row])
        except BaseException:
            conn.rollback()
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Closes the connections (reopened on the next use)."""
        if os.getpid() != self._pid:
            self._after_fork()
            return
        for role, lock in self._locks.items():
            with lock:
                conn = self._conns.pop(role, None)
                if conn is not None:
                    conn.close()


# ---------------------------------------------------------------------- memory


class MemoryStore:
    """Rows in a list: a ledger for one process (tests, short scripts); nothing survives the process."""

    def __init__(self) -> None:
        self._rows: dict[str, UsageRecord] = {}
        self._lock = threading.Lock()

    def write(self, records: Sequence[UsageRecord]) -> None:
        """Keeps the batch (rows whose id is already kept are skipped)."""
        with self._lock:
            for rec in records:
                self._rows.setdefault(rec.id or str(len(self._rows)), rec)

    def _select(self, since: float | None) -> list[UsageRecord]:
        with self._lock:
            rows = list(self._rows.values())
        return [r for r in rows if since is None or r.time >= since]

    def totals(self, *, since: float | None = None, provider: str | None = None, model: str | None = None,
               tags: Mapping[str, str] | None = None, exclude_writer: str | None = None) -> Totals:
        """Spend and tokens since `since` in a scope, leaving out `exclude_writer`'s rows."""
        usd, tokens, calls = 0.0, 0, 0
        for r in self._select(since):
            if ((provider is not None and r.provider != provider) or (model is not None and r.model != model)
                    or (exclude_writer is not None and r.writer_id == exclude_writer)
                    or any(r.tags.get(k) != str(v) for k, v in (tags or {}).items())):
                continue
            usd += r.cost_usd or 0.0
            tokens += r.total_tokens
            calls += 1
        return Totals(usd=usd, tokens=tokens, calls=calls)

    def summary(self, *, since: float | None = None, by: Sequence[str] = ()) -> list[dict[str, Any]]:
        """One dict per group, as `SQLStore.summary`."""
        keys = check_group_keys(list(by))
        groups: dict[tuple[Any, ...], list[UsageRecord]] = {}
        for r in self._select(since):
            groups.setdefault(tuple(_key_of(r, k) for k in keys), []).append(r)
        out = []
        for group in sorted(groups, key=lambda g: tuple((v is not None, v or "") for v in g)):
            rows = groups[group]
            priced = [r.cost_usd for r in rows if r.cost_usd is not None]
            latencies = [r.latency_ms for r in rows if r.latency_ms is not None]
            row: dict[str, Any] = dict(zip(keys, group, strict=True))
            row.update(calls=len(rows), errors=sum(r.status not in ("ok", "cancelled") for r in rows))
            for name in METRICS[2:7]:
                row[name] = sum(getattr(r, name) for r in rows)
            row.update(cost_usd=sum(priced) if priced else None, unpriced_calls=len(rows) - len(priced),
                       avg_latency_ms=sum(latencies) / len(latencies) if latencies else None)
            out.append(row)
        return out

    def rows(self, *, since: float | None = None, limit: int | None = None) -> list[UsageRecord]:
        """The rows since `since`, oldest first."""
        rows = sorted(self._select(since), key=lambda r: (r.time, r.id))
        return rows if limit is None else rows[:limit]

    def close(self) -> None:
        """Nothing to release."""


def _key_of(rec: UsageRecord, key: str) -> Any:
    if key == "day":
        return _utc(rec.time, "%Y-%m-%d")
    if key == "month":
        return _utc(rec.time, "%Y-%m")
    if key.startswith("tag:"):
        return rec.tags.get(key[4:])
    return getattr(rec, key)
