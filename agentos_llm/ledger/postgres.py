"""`PostgresStore`: one ledger for many workers on many machines (psycopg 3, the `ledger-postgres` extra)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from typing import Any

from ..errors import MissingDependencyError
from .records import COLUMNS, UsageRecord
from .stores import _FORK_ORPHANS, SQLStore, _check_table

__all__ = ["PostgresStore", "safe_url"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS {t} (
    id TEXT PRIMARY KEY,
    ts TIMESTAMPTZ NOT NULL,
    writer_id TEXT NOT NULL DEFAULT '',
    provider TEXT NOT NULL,
    host TEXT NOT NULL DEFAULT '',
    api TEXT NOT NULL DEFAULT '',
    operation TEXT NOT NULL DEFAULT 'chat',
    model TEXT NOT NULL,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    cached_input_tokens BIGINT NOT NULL DEFAULT 0,
    cache_write_input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION,
    cost_source TEXT,
    latency_ms DOUBLE PRECISION,
    ttft_ms DOUBLE PRECISION,
    status TEXT NOT NULL DEFAULT 'ok',
    request_id TEXT,
    fallback_hop INTEGER NOT NULL DEFAULT 0,
    tags JSONB NOT NULL DEFAULT '{{}}'::jsonb
);
CREATE INDEX IF NOT EXISTS {t}_ts ON {t} (ts);
CREATE INDEX IF NOT EXISTS {t}_provider_ts ON {t} (provider, ts);
CREATE INDEX IF NOT EXISTS {t}_model_ts ON {t} (model, ts)
"""
def safe_url(url: str) -> str:
    """The URL with its password masked (for reprs and logs)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))


# Serializes schema creation: concurrent CREATE TABLE IF NOT EXISTS can still collide in PostgreSQL's catalogs.
_SCHEMA_LOCK = 0x61676C6564676572  # "agledger"


class PostgresStore(SQLStore):
    """Rows in a PostgreSQL table (created with its indexes if absent), reached by URL.

    `ts` is a `timestamptz` and `tags` a `jsonb`, so the table reads naturally in SQL. A batch is
    one transaction; a connection that fails is dropped and reopened on the next use.
    """

    ts_since = "ts >= to_timestamp(?)"
    day_expr = "to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    month_expr = "to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM')"
    tag_expr = "(tags ->> ?)"
    nulls_first = " NULLS FIRST"

    def __init__(self, url: str, *, table: str = "agentos_llm_usage", connect_timeout: float = 5.0) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise MissingDependencyError("ledger-postgres", "psycopg") from None
        self.url = url
        self.table = _check_table(table)
        self.connect_timeout = connect_timeout
        self._conns: dict[str, Any] = {}
        self._locks = {"write": threading.Lock(), "read": threading.Lock()}
        self._pid = os.getpid()
        self._schema_ready = False

    def __repr__(self) -> str:
        return f"PostgresStore({safe_url(self.url)!r}, table={self.table!r})"

    def _sql(self, query: str) -> str:
        return query.replace("?", "%s")

    def _select_time(self) -> str:
        return "EXTRACT(EPOCH FROM ts)"

    def _row_values(self, rec: UsageRecord) -> tuple[Any, ...]:
        from psycopg.types.json import Jsonb

        values = list(super()._row_values(rec))
        values[COLUMNS.index("time")] = datetime.fromtimestamp(rec.time, timezone.utc)
        values[COLUMNS.index("tags")] = Jsonb(rec.tags)
        return tuple(values)

    def _after_fork(self) -> None:
        _FORK_ORPHANS.extend(self._conns.values())
        self._conns = {}
        self._locks = {"write": threading.Lock(), "read": threading.Lock()}
        self._pid = os.getpid()

    def _open(self, role: str) -> Any:
        import psycopg

        conn = psycopg.connect(self.url, connect_timeout=max(1, int(self.connect_timeout)),
                               autocommit=role == "read")
        try:
            if not self._schema_ready:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                    for statement in _SCHEMA.format(t=self.table).split(";"):
                        conn.execute(statement)
                self._schema_ready = True
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def _connection(self, role: str) -> Iterator[Any]:
        if os.getpid() != self._pid:
            self._after_fork()
        with self._locks[role]:
            conn = self._conns.get(role)
            if conn is None or conn.closed:
                conn = self._conns[role] = self._open(role)
            try:
                yield conn
            except BaseException:
                self._conns.pop(role, None)
                with suppress(Exception):
                    conn.close()
                raise

    def _insert(self, conn: Any, rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join(["%s"] * len(COLUMNS))
        cols = ", ".join("ts" if c == "time" else c for c in COLUMNS)
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {self.table} ({cols}) VALUES ({marks}) ON CONFLICT (id) DO NOTHING", rows)

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
