"""The usage ledger: one row per provider call (tokens, cost, latency, status, tags) in SQLite or
PostgreSQL, and budgets checked before each call.

    from agentos_llm.ledger import Budget, UsageLedger

    ledger = UsageLedger(budgets=[Budget(usd=5, per="day")])   # ~/.local/share/agentos-llm/usage.sqlite3
    manager.attach_ledger(ledger)

See docs/quota-and-cost.md ("Usage ledger and budgets").
"""

from __future__ import annotations

from ..errors import BudgetExceededError
from .budgets import Budget
from .context import fallback_hop, usage_tags
from .records import UsageRecord
from .stores import LedgerStore, MemoryStore, SQLiteStore, Totals, default_sqlite_path, open_store
from .writer import UsageLedger

__all__ = [
    "Budget",
    "BudgetExceededError",
    "LedgerStore",
    "MemoryStore",
    "PostgresStore",
    "SQLiteStore",
    "Totals",
    "UsageLedger",
    "UsageRecord",
    "default_sqlite_path",
    "fallback_hop",
    "open_store",
    "usage_tags",
]


def __getattr__(name: str) -> object:
    if name == "PostgresStore":  # psycopg is optional: imported only when asked for
        from .postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
