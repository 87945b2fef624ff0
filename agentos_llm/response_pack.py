"""Compact storage of a retained `CompletionResponse` (what an agent's long history keeps per turn).

After a provider finishes a response (`pack`), the parts a caller rarely reads are kept in a small record
instead of as pydantic models: the usage, the metadata (its selected headers as one string of values next to
a shared tuple of names), the rate limits (parsed again from those headers, at the instant they were first
read), the assistant `message` (derived from `text`, `tool_calls` and `reasoning` when it says nothing else)
and the empty lists. `CompletionResponse` builds each part on its first read and keeps it, so every field
reads the same value, and its serializer, equality, repr and pickling see the full data.
"""

from __future__ import annotations

import json
import operator
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .model_construction import construct
from .rate_limits import _PREFIXES, BUCKETS, RateLimits, parse_rate_limit_headers
from .types_messages import Message, VendorBlock
from .types_metadata import ResponseMetadata
from .types_usage import Usage

if TYPE_CHECKING:
    from .types_responses import CompletionResponse


__all__ = ["BUILDERS", "EMPTY", "STORED", "Packed", "PackedMessage", "is_stored", "pack"]


class _Marker:
    """A shared stand-in for a field value built on first read (immutable; copies are itself)."""

    __slots__ = ("fields", "name")

    def __init__(self, name: str, fields: frozenset[str] = frozenset()) -> None:
        self.name = name
        self.fields = fields  # for a derived message: the fields its maker stated

    def __repr__(self) -> str:
        return f"<{self.name}>"

    def __copy__(self) -> _Marker:
        return self

    def __deepcopy__(self, memo: Any) -> _Marker:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_marker, (self.name, self.fields))


def _marker(name: str, fields: frozenset[str] = frozenset()) -> _Marker:
    """The shared marker: EMPTY, or the derived message stating `fields`."""
    if name == "EMPTY":
        return EMPTY
    found = _DERIVED.get(fields)
    if found is None:
        found = _DERIVED[fields] = _Marker(name, fields)
    return found


EMPTY = _Marker("EMPTY")
"""An empty list not made yet (one is made, and kept, on first read)."""
_DERIVED: dict[frozenset[str], _Marker] = {}  # the assistant message to derive, per set of fields its maker stated
_TURN = frozenset({"role", "content", "tool_calls", "reasoning"})


def assistant_turn(text: str, calls: list[Any], reasoning: str | None,
                   blocks: list[Any] | None = None) -> Message:
    """A response's `message`, as a converter states it: `Message(role="assistant", content=text or None,
    tool_calls=calls, reasoning=reasoning[, vendor_blocks=blocks])`. Without vendor blocks it is not built:
    the response builds it from its own text, tool calls and reasoning on first read (the same message)."""
    if blocks:
        return Message(role="assistant", content=text or None, tool_calls=calls, reasoning=reasoning,
                       vendor_blocks=blocks)
    marker = _marker("DERIVED", shared(_TURN if blocks is None else _TURN | {"vendor_blocks"}))
    return marker  # type: ignore[return-value]  # CompletionResponse.message takes the stand-in as it is


class Packed(tuple):  # type: ignore[type-arg]
    """One response's usage, metadata and rate-limit headers, compactly (a tuple: no per-instance dict)."""

    __slots__ = ()

    # usage: 0-5 token counts, 6 cost_usd, 7 cost_source, 8 usage fields set
    # metadata: 9 status, 10 header names (shared), 11 header values ("\n"-joined), 12 request_id,
    # 13 service_tier, 14 upstream, 15 api, 16 host, 17 base_url, 18 metadata fields set
    # rate limits: 19 observed_at (None: no rate limits packed)

    def __copy__(self) -> Packed:
        return self

    def __deepcopy__(self, memo: Any) -> Packed:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Packed, (tuple(self),))


class PackedMessage(tuple):  # type: ignore[type-arg]
    """A derived message with vendor blocks: (marker, the blocks as JSON, each block's fields set, whether they
    are the response's own provider's, kept as `[type, data]` pairs)."""

    __slots__ = ()

    def __copy__(self) -> PackedMessage:
        return self

    def __deepcopy__(self, memo: Any) -> PackedMessage:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (PackedMessage, (tuple(self),))


_USAGE_FIELDS = ("input_tokens", "output_tokens", "total_tokens", "cached_input_tokens", "cache_write_input_tokens",
                 "reasoning_tokens")
_SHARED: dict[Any, Any] = {}  # interned header-name tuples and fields sets (a handful of distinct ones)
_SHARED_MAX = 4096


def shared(value: Any) -> Any:
    """One instance per distinct value (tuples of header names, frozen fields sets)."""
    found = _SHARED.get(value)
    if found is None:
        if len(_SHARED) >= _SHARED_MAX:
            return value
        found = _SHARED[value] = value
    return found


def _intern(text: Any) -> Any:
    """Interns a short string repeated across responses (model, provider, API, finish reason)."""
    return sys.intern(text) if type(text) is str and len(text) <= 64 else text


_COUNTS = operator.itemgetter(*_USAGE_FIELDS)
_INT = frozenset({int})


def _usage_part(usage: Any) -> tuple[Any, ...] | None:
    if type(usage) is not Usage or usage.__pydantic_extra__ or usage.__pydantic_private__:
        return None
    d = usage.__dict__
    counts = _COUNTS(d)
    if set(map(type, counts)) != _INT:
        return None
    return (*counts, d["cost_usd"], d["cost_source"], shared(frozenset(usage.__pydantic_fields_set__)))


def _meta_part(meta: Any) -> tuple[Any, ...] | None:
    if (type(meta) is not ResponseMetadata or meta.__pydantic_extra__
            or (meta.__pydantic_private__ and any(v is not None for v in meta.__pydantic_private__.values()))):
        return None
    return _meta_values_part(meta.__dict__, meta.__pydantic_fields_set__)


def _meta_values_part(d: dict[str, Any], fields_set: Any) -> tuple[Any, ...] | None:
    headers = d["headers"]
    if d["extra"] or type(headers) is not dict:
        return None
    values = tuple(headers.values())
    if not all(type(v) is str for v in values) or not all(type(k) is str for k in headers):
        return None
    joined = "\n".join(values)
    if joined.count("\n") != max(len(values) - 1, 0):
        return None  # a value with a line break would not split back as it was
    return (d["status_code"], shared(tuple(headers)), joined, d["request_id"], _intern(d["service_tier"]),
            _intern(d["upstream"]), d["api"], d["host"], d["base_url"], shared(frozenset(fields_set)))


def _limits_packable(limits: Any, meta: tuple[Any, ...]) -> bool:
    """True when parsing the packed headers again, at the same instant, gives these limits (they are what
    `parse_rate_limit_headers` made of the same headers, untouched since)."""
    if type(limits) is not RateLimits or limits.__pydantic_extra__:
        return False
    names, values = meta[1], meta[2]
    stated = {k: v for k, v in zip(names, values.split("\n") if names else (), strict=False) if k.startswith(_PREFIXES)}
    if stated != limits.raw:
        return False
    d = limits.__dict__
    parsed = {"retry_after", "observed_at", "style", "raw", *(b for b in BUCKETS if d[b] is not None)}
    return limits.__pydantic_fields_set__ == parsed


def pack(response: CompletionResponse, metadata: tuple[dict[str, Any], frozenset[str]] | None = None,
         limits_at: datetime | None = None) -> CompletionResponse:
    """Stores the response's rarely read parts compactly (in place); returns it.

    `metadata`: the field values and fields set of the response's metadata when they were computed without
    building it (`response_metadata.completed_values`): packed straight away, or built only when they cannot
    be packed. `limits_at`: with `metadata`, when the rate-limit headers among them were read (the response's
    `rate_limits` are those headers, parsed as of then, on read)."""
    d = response.__dict__
    for name in ("tool_calls", "server_tool_calls", "citations", "hops"):
        value = d[name]
        if type(value) is list and not value:
            d[name] = EMPTY
    # The model and finish reason are new strings of every body; provider and API are the library's own.
    d["model"] = _intern(d["model"])
    d["raw_finish_reason"] = _intern(d["raw_finish_reason"])
    message = d["message"]
    if _derivable(response, message):
        marker = _marker("DERIVED", shared(frozenset(message.__pydantic_fields_set__)))
        blocks = message.__dict__["vendor_blocks"]
        if not blocks:
            d["message"] = marker
        else:
            packed_blocks = _blocks_part(blocks, d["text"], d["provider"])
            if packed_blocks is not None:
                d["message"] = PackedMessage((marker, *packed_blocks))
    usage = _usage_part(d["usage"])
    if metadata is None:
        meta = _meta_part(d["metadata"])
    else:
        meta = _meta_values_part(*metadata) if usage is not None else None
        if meta is None:
            d["metadata"] = construct(ResponseMetadata, set(metadata[1]), metadata[0])
            if limits_at is not None:
                d["rate_limits"] = parse_rate_limit_headers(metadata[0]["headers"], now=limits_at)
    if usage is not None and meta is not None:
        limits = d["rate_limits"]
        observed: datetime | None = None
        if limits_at is not None and metadata is not None:
            observed = limits_at
        elif limits is not None and _limits_packable(limits, meta):
            observed = limits.observed_at
        record = Packed((*usage, *meta, observed))
        d["usage"] = record
        d["metadata"] = record
        if observed is not None:
            d["rate_limits"] = record
    found = _keys_template(type(response))
    if found is not None and found[1] == tuple(d):
        compact = found[0].copy()  # shares the template's key table (CPython): a third smaller than a dict of its own
        compact.update(d)
        object.__setattr__(response, "__dict__", compact)
    fields_set = response.__pydantic_fields_set__
    if type(fields_set) is set:
        object.__setattr__(response, "__pydantic_fields_set__", shared(frozenset(fields_set)))
    return response


_TEMPLATES: dict[type, tuple[dict[str, Any], tuple[str, ...]] | None] = {}


def _keys_template(cls: type) -> tuple[dict[str, Any], tuple[str, ...]] | None:
    """A dict with the model's field names in order, whose copies share one key table, and those names."""
    try:
        return _TEMPLATES[cls]
    except KeyError:
        pass
    names = [sys.intern(n) for n in cls.model_fields]  # type: ignore[attr-defined]

    class _Keys:
        def __init__(self) -> None:
            for name in names:
                setattr(self, name, None)

    template = _Keys().__dict__
    found = (template, tuple(names)) if template is not None and list(template) == names else None
    _TEMPLATES[cls] = found
    return found


def _derivable(response: CompletionResponse, message: Any) -> bool:
    """True when `message` is exactly what `derived_message` builds from the response."""
    if type(message) is not Message or message.__pydantic_extra__:
        return False
    m = message.__dict__
    d = response.__dict__
    text = d["text"]
    content = m["content"]
    return (m["role"] == "assistant" and m["name"] is None and m["tool_call_id"] is None
            and type(m["vendor_blocks"]) is list and content == (text or None) and type(content) is type(text or None)
            and m["reasoning"] == d["reasoning"] and _same_calls(m["tool_calls"], d["tool_calls"])
            and message.__pydantic_fields_set__ <= _MESSAGE_FIELDS)


_TEXT = "\x00"  # stands for the response's text in packed blocks (JSON never holds a raw control character)


def _blocks_part(blocks: list[Any], answer: str, provider: str) -> tuple[str, tuple[frozenset[str], ...], bool] | None:
    """Vendor blocks as one JSON text (a fraction of their dicts' size), when it reads back to the same; the
    answer's text, which blocks often repeat (Responses' output items), is kept once, by the response. Blocks
    of the response's own provider (the usual case) are kept as `[type, data]` pairs; the flag says so."""
    if any(type(b) is not VendorBlock or b.__pydantic_extra__ for b in blocks):
        return None
    dicts = [b.__dict__ for b in blocks]
    own = all(len(d) == 3 and d["provider"] == provider for d in dicts)
    plain: list[Any] = [[d["type"], d["data"]] for d in dicts] if own else dicts
    try:
        text = json.dumps(plain, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return None
    if json.loads(text) != plain:  # e.g. a tuple or a non-string key: JSON would not give it back
        return None
    if len(answer) >= 16:  # JSON escapes a control character, so the stand-in cannot be in the text already
        text = text.replace(json.dumps(answer, ensure_ascii=False), _TEXT)
    return text, tuple(shared(frozenset(b.__pydantic_fields_set__)) for b in blocks), own


def _unpacked(text: str, answer: str) -> str:
    return text.replace(_TEXT, json.dumps(answer, ensure_ascii=False)) if _TEXT in text else text


def _same_calls(a: Any, b: Any) -> bool:
    if type(a) is not list:
        return False
    if b is EMPTY:
        return not a
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=False))


_MESSAGE_FIELDS = frozenset({"role", "content", "tool_calls", "reasoning", "vendor_blocks"})


# ---------------------------------------------------------------------- building on first read


def derived_message(response: CompletionResponse, stored: _Marker | PackedMessage) -> Message:
    """The assistant turn of a response: its text, tool calls and reasoning (and packed vendor blocks)."""
    d = response.__dict__
    calls = d["tool_calls"]
    blocks: list[VendorBlock] = []
    marker = stored
    if type(stored) is PackedMessage:
        marker = stored[0]
        plain = json.loads(_unpacked(stored[1], d["text"]))
        if len(stored) > 3 and stored[3]:  # the response's own blocks, as [type, data] pairs
            plain = [{"provider": d["provider"], "type": kind, "data": data} for kind, data in plain]
        blocks = [construct(VendorBlock, set(fields), data) for data, fields in zip(plain, stored[2], strict=False)]
    assert type(marker) is _Marker
    return construct(Message, set(marker.fields), {
        "role": "assistant", "content": d["text"] or None, "tool_calls": [] if calls is EMPTY else list(calls),
        "reasoning": d["reasoning"], "vendor_blocks": blocks})


def usage_of(record: Packed) -> Usage:
    """The usage a record packed."""
    values = dict(zip(_USAGE_FIELDS, record[:6], strict=False))
    values["cost_usd"], values["cost_source"] = record[6], record[7]
    return construct(Usage, set(record[8]), values)


def headers_of(record: Packed) -> dict[str, str]:
    """The selected headers a record packed."""
    names = record[10]
    return dict(zip(names, record[11].split("\n"), strict=False)) if names else {}


def metadata_of(record: Packed) -> ResponseMetadata:
    """The metadata a record packed."""
    return construct(ResponseMetadata, set(record[18]), {
        "status_code": record[9], "headers": headers_of(record), "request_id": record[12], "service_tier": record[13],
        "upstream": record[14], "api": record[15], "host": record[16], "base_url": record[17], "extra": {}})


def rate_limits_of(record: Packed) -> RateLimits | None:
    """The rate limits a record packed, parsed again from its headers at the instant first read."""
    return parse_rate_limit_headers(headers_of(record), now=record[19])


BUILDERS: dict[str, Callable[[CompletionResponse, Any], Any]] = {
    "message": derived_message,
    "usage": lambda r, v: usage_of(v),
    "metadata": lambda r, v: metadata_of(v),
    "rate_limits": lambda r, v: rate_limits_of(v),
    "tool_calls": lambda r, v: [],
    "server_tool_calls": lambda r, v: [],
    "citations": lambda r, v: [],
    "hops": lambda r, v: [],
}
"""How each lazily stored field is built from what is stored (`v`: a marker or the packed record)."""


def is_stored(value: Any) -> bool:
    """True when a stored field value is a stand-in, not the field's value."""
    return type(value) in STORED


STORED = frozenset({Packed, PackedMessage, _Marker})
"""The types of what stands in for a packed field's value."""
