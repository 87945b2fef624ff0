"""Per-call context for ledger rows: user tags and the manager's fallback hop (context variables,
so they follow a call through threads' own contexts and asyncio tasks alike)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from .records import check_tag_name

__all__ = ["current_hop", "current_tags", "fallback_hop", "usage_tags"]

_TAGS: ContextVar[Mapping[str, str] | None] = ContextVar("agentos_llm_usage_tags", default=None)
_HOP: ContextVar[int] = ContextVar("agentos_llm_fallback_hop", default=0)


@contextmanager
def usage_tags(**tags: object) -> Iterator[Mapping[str, str]]:
    """Tags for every ledger row recorded inside the block (merged over outer blocks' tags).

        with usage_tags(team="search", job="nightly"):
            manager.generate_sync(...)

    Budgets scoped by tag count the calls made here. Values become strings.
    """
    outer = _TAGS.get()
    merged = {**(outer or {}), **{check_tag_name(k): str(v) for k, v in tags.items()}}
    token = _TAGS.set(merged)
    try:
        yield merged
    finally:
        _TAGS.reset(token)


def current_tags() -> Mapping[str, str] | None:
    """The tags of the innermost `usage_tags` block, or None."""
    return _TAGS.get()


@contextmanager
def fallback_hop(hop: int) -> Iterator[None]:
    """Marks the calls made inside as fallback hop `hop` (0 = the first route)."""
    token = _HOP.set(hop)
    try:
        yield
    finally:
        _HOP.reset(token)


def current_hop() -> int:
    """The fallback hop of the current call (0 outside a manager's fallback)."""
    return _HOP.get()
