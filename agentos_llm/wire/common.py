"""Small pieces several wire converters share (pure, standard library only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import MalformedResponseError

__all__ = ["merge_extra", "token_count_field"]


def merge_extra(body: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """Merges a caller's `extra` into a request body; a mapping merges one level into the body's own."""
    for key, value in extra.items():
        current = body.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            body[key] = {**current, **value}
        else:
            body[key] = value


def token_count_field(payload: Mapping[str, Any], field: str, *, provider: str, default: int | None = None) -> int:
    """The integer `field` of a token-count answer; `MalformedResponseError` when it is missing or not one."""
    count = payload.get(field, default)
    if not isinstance(count, int) or isinstance(count, bool):
        raise MalformedResponseError(f"the token-count answer has no {field}", provider=provider)
    return count
