"""`UsageRecord`: one row of the usage ledger, one per provider call."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["COLUMNS", "GROUP_KEYS", "UsageRecord", "check_group_keys"]


@dataclass(slots=True)
class UsageRecord:
    """What one call used and cost, and how it went.

    Token counts follow the library's convention: `input_tokens` includes cached reads and cache
    writes, `output_tokens` includes reasoning tokens. `time` is when the call started (epoch
    seconds, UTC); `status` is "ok", "cancelled" (a stream left early) or the error class name.
    """

    time: float
    provider: str
    model: str
    host: str = ""
    api: str = ""
    operation: str = "chat"
    """chat, stream, embed or rerank."""
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None
    cost_source: str | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    """Time to the first stream event (streams only)."""
    status: str = "ok"
    request_id: str | None = None
    fallback_hop: int = 0
    """0 for the first route of a manager call, 1 for the first fallback, and so on."""
    tags: dict[str, str] = field(default_factory=dict)
    id: str = ""
    """Unique row id (set by the ledger's writer; makes a retried batch idempotent)."""
    writer_id: str = ""
    """Which ledger instance wrote the row (one per process): budgets count their own rows in memory."""

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens (what token budgets count)."""
        return self.input_tokens + self.output_tokens

    def as_dict(self) -> dict[str, Any]:
        """The record as a plain dict (column name to value)."""
        return {name: getattr(self, name) for name in COLUMNS}


COLUMNS: tuple[str, ...] = (
    "id", "time", "writer_id", "provider", "host", "api", "operation", "model", "input_tokens",
    "cached_input_tokens", "cache_write_input_tokens", "output_tokens", "reasoning_tokens", "cost_usd",
    "cost_source", "latency_ms", "ttft_ms", "status", "request_id", "fallback_hop", "tags",
)
"""Store columns, in the order stores insert them."""

GROUP_KEYS = frozenset({"provider", "host", "api", "operation", "model", "status", "day", "month"})
"""What summaries group by, besides `tag:NAME`."""

_TAG_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def check_group_keys(by: list[str] | tuple[str, ...]) -> list[str]:
    """Validates summary group keys (`provider`, `model`, `day`, `tag:team`, ...); raises ValueError."""
    out = []
    for key in by:
        key = key.strip()
        if not key:
            continue
        if key.startswith("tag:"):
            if not _TAG_NAME.match(key[4:]):
                raise ValueError(f"bad tag name in {key!r}: letters, digits, '_', '.', '-' only")
        elif key not in GROUP_KEYS:
            raise ValueError(f"cannot group by {key!r}; choose from {', '.join(sorted(GROUP_KEYS))} or tag:NAME")
        out.append(key)
    return out


def check_tag_name(name: str) -> str:
    """A tag name usable in queries; raises ValueError otherwise."""
    if not _TAG_NAME.match(name):
        raise ValueError(f"bad tag name {name!r}: letters, digits, '_', '.', '-' only (at most 64)")
    return name
