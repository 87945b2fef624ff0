"""Small pieces several wire converters share (pure, standard library only)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequestError, MalformedResponseError

if TYPE_CHECKING:
    from ..types import ToolCall

__all__ = ["arguments_json", "arguments_object", "compact_json", "json_loads", "merge_extra", "stream_json",
           "token_count_field"]

# Values that need no check before they go on the wire: the flat arguments most tool calls carry.
_PLAIN = frozenset({str, int, float, bool, type(None)})
# Made once: `json.dumps` with separators builds a new encoder on every call.
_COMPACT = json.JSONEncoder(separators=(",", ":"))
_COMPACT_UTF8 = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


_SCAN: Any = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # the C scanner json.loads ends in


def json_loads(text: str | bytes) -> Any:
    """`json.loads`, a microsecond faster for a bare JSON value (every stream event, most bodies): the scanner is
    called directly. Anything else (surrounding whitespace, more after the value, a malformed text, bytes
    that are not UTF-8) goes to `json.loads`, which answers or raises exactly as it would have."""
    try:
        decoded = text.decode() if type(text) is bytes else text
        value, end = _SCAN(decoded, 0)
    except (StopIteration, ValueError):
        return json.loads(text)  # the original: json.loads detects UTF-16/32 and a BOM in bytes
    if end != len(decoded):
        return json.loads(text)
    return value


def stream_json(data: str, provider: str | None) -> Any:
    """One stream event's JSON payload (None for an empty one, a keep-alive); `MalformedResponseError` quoting it
    when it is not JSON."""
    if not data:
        return None
    try:
        return json_loads(data)
    except ValueError:
        raise MalformedResponseError(f"a stream event is not JSON: {data[:200]!r}", provider=provider) from None


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


def _not_serializable(call: ToolCall, exc: Exception, provider: str | None) -> InvalidRequestError:
    return InvalidRequestError(
        f"the arguments of tool call {call.id!r} ({call.name}) in the history cannot be sent as JSON: {exc}; "
        "give them as JSON data (str, int, float, bool, None, lists and dicts with string keys)", provider=provider)


def arguments_object(call: ToolCall, *, provider: str | None = None) -> dict[str, Any]:
    """A history tool call's arguments as the object the wire carries (`arguments_raw` parsed when they are
    empty); `InvalidRequestError` when they are not JSON data, instead of a TypeError when the body is encoded."""
    args = call.arguments
    if not args:
        if call.arguments_raw is None:
            return {}
        try:
            value = json.loads(call.arguments_raw)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    if all(type(k) is str and type(v) in _PLAIN for k, v in args.items()):
        return args
    try:
        json.dumps(args, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise _not_serializable(call, exc, provider) from None
    return args


def arguments_json(call: ToolCall, *, provider: str | None = None, raw_first: bool = True,
                   ensure_ascii: bool = True) -> str:
    """A history tool call's arguments as JSON text (`arguments_raw` as is when the parsed arguments are empty);
    `InvalidRequestError` when they are not JSON data."""
    if raw_first and call.arguments_raw is not None and not call.arguments:
        return call.arguments_raw
    try:
        return (_COMPACT if ensure_ascii else _COMPACT_UTF8).encode(call.arguments)
    except (TypeError, ValueError) as exc:
        raise _not_serializable(call, exc, provider) from None


def compact_json(value: Any, *, ensure_ascii: bool = True) -> str:
    """`json.dumps(value, separators=(",", ":"))` without building an encoder each time."""
    return (_COMPACT if ensure_ascii else _COMPACT_UTF8).encode(value)
