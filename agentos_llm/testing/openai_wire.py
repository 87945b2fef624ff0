"""The OpenAI dialect of the wire emulator: chat completions, embeddings and models.

The ``render_*`` / ``*_chunks`` helpers are pure functions turning a :class:`Reply` (plus the
ids the handler allocated) into OpenAI wire JSON; the handlers at the bottom glue them to the
emulator core through :func:`routes`.  Standard library only.

Compatible hosts' quirks are scripted per reply with ``Reply(..., quirk=...)`` (names in
:data:`QUIRKS`), and two hosts are recognised by path: under ``/api/v1/`` the emulator answers as
OpenRouter (the ``provider`` that served the call, ``usage.cost`` when the request asks for usage
accounting, keep-alive comments, priced model listing), and ``/api/tags`` / ``/api/show`` are
Ollama's native model listing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
import time
from typing import Any

from agentos_llm.testing.emulator import (
    Fault,
    Reply,
    Route,
    WireRequest,
    WireResponse,
    argument_pieces,
    sse_event,
    text_pieces,
    word_count,
)

__all__ = [
    "OPENROUTER_PRICING",
    "OPENROUTER_UPSTREAM",
    "QUIRKS",
    "RATE_LIMIT_REQUESTS",
    "RATE_LIMIT_TOKENS",
    "chat_completions",
    "chunk",
    "completion_chunks",
    "count_prompt_tokens",
    "default_reply",
    "embedding_vector",
    "embeddings",
    "error_body",
    "fault_response",
    "list_models",
    "ollama_show",
    "ollama_tags",
    "openrouter_cost",
    "openrouter_models",
    "rate_limit_headers",
    "render_completion",
    "render_embeddings",
    "render_usage",
    "retrieve_model",
    "routes",
    "schema_instance",
]

SYSTEM_FINGERPRINT = "fp_emulator"
DEFAULT_EMBEDDING_DIMS = 8
MODEL_CREATED = 1_700_000_000
_JSON = (",", ":")

QUIRKS = frozenset({
    "x_groq_usage",  # usage under `x_groq.usage` (Groq), not at the top level
    "think_tags",  # reasoning inline in the content as `<think>...</think>`; streamed, the tags split across chunks
    "reasoning_content",  # reasoning as `reasoning_content` (DeepSeek; the default)
    "reasoning",  # reasoning as `reasoning` (OpenRouter, Groq's parsed format)
    "reasoning_details",  # reasoning as OpenRouter's `reasoning_details` list only
    "mistral_thinking_parts",  # content as a list with `thinking` parts (Mistral's Magistral)
    "no_finish_reason",  # no finish_reason anywhere
    "keepalive_comments",  # SSE comment lines between chunks (OpenRouter's `: OPENROUTER PROCESSING`)
    "no_tool_ids",  # tool calls without ids
    "no_done",  # a stream that ends without `data: [DONE]`
    "openrouter",  # OpenRouter: `provider` field, `usage.cost` when asked, keep-alive comments
})
"""Quirk names ``Reply(quirk=...)`` takes."""

OPENROUTER_UPSTREAM = "EmulatedUpstream"
"""The ``provider`` the emulated OpenRouter says served a call."""
OPENROUTER_PRICING = {"prompt": "0.0000025", "completion": "0.00001"}
"""Per-token USD prices of every model the emulated OpenRouter lists (and charges)."""
_KEEPALIVE = b": OPENROUTER PROCESSING\n\n"


def openrouter_cost(prompt_tokens: int, completion_tokens: int) -> float:
    """The ``usage.cost`` the emulated OpenRouter reports for a call."""
    return round(prompt_tokens * float(OPENROUTER_PRICING["prompt"])
                 + completion_tokens * float(OPENROUTER_PRICING["completion"]), 12)


RATE_LIMIT_REQUESTS = 10_000
"""The requests-per-minute limit the emulated OpenAI states on every answer."""
RATE_LIMIT_TOKENS = 30_000_000
"""The tokens-per-minute limit it states."""


def rate_limit_headers(request: WireRequest, tokens: int) -> dict[str, str]:
    """OpenAI's `x-ratelimit-*` headers as every answer carries them: each request to this emulator spends
    one request of the bucket, and the token bucket is down by this request's `tokens`."""
    return {
        "x-ratelimit-limit-requests": str(RATE_LIMIT_REQUESTS),
        "x-ratelimit-limit-tokens": str(RATE_LIMIT_TOKENS),
        "x-ratelimit-remaining-requests": str(max(0, RATE_LIMIT_REQUESTS - request.number)),
        "x-ratelimit-remaining-tokens": str(max(0, RATE_LIMIT_TOKENS - tokens)),
        "x-ratelimit-reset-requests": "6ms",
        "x-ratelimit-reset-tokens": "1m0s",
    }


def _quirks(reply: Reply, request: WireRequest | None = None) -> frozenset[str]:
    raw = reply.quirk
    names = frozenset((raw,) if isinstance(raw, str) else raw)
    unknown = names - QUIRKS
    if unknown:
        raise ValueError(f"unknown quirk(s) {sorted(unknown)}; known: {sorted(QUIRKS)}")
    if request is not None and "/api/v1/" in request.path:
        names |= {"openrouter"}
    return names


def _reasoning_fields(reasoning: str, quirks: frozenset[str]) -> dict[str, Any]:
    if "reasoning_details" in quirks:
        return {"reasoning_details": [{"type": "reasoning.text", "text": reasoning, "format": "unknown", "index": 0}]}
    if "reasoning" in quirks:
        return {"reasoning": reasoning}
    return {"reasoning_content": reasoning}


def _thinking_part(reasoning: str) -> dict[str, Any]:
    return {"type": "thinking", "thinking": [{"type": "text", "text": reasoning}]}



def _args_json(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments, separators=_JSON)


def _message_text(content: Any) -> str:
    """The text of a message ``content``: a string or the concatenated text parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") in ("text", "input_text")
        )
    return ""


def count_prompt_tokens(messages: Any) -> int:
    """A rough prompt token count: the number of words in all message contents (min 1)."""
    total = 0
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict):
                total += word_count(_message_text(message.get("content")))
    return max(1, total)


# --------------------------------------------------------------------------------------------
# Default replies and structured output
# --------------------------------------------------------------------------------------------

_STRING_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "duration": "P1D",
    "email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "hostname": "example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
}
_MAX_DEPTH = 12


def _resolve_ref(root: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        return {}
    node = root
    for raw in ref[1:].split("/"):
        if not raw:
            continue
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return {}
    return node


def _is_null_schema(schema: Any) -> bool:
    return isinstance(schema, dict) and (schema.get("type") == "null" or schema.get("const", 0) is None)


def _bound(schema: dict[str, Any], key: str) -> float | None:
    value = schema.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _integer(schema: dict[str, Any]) -> int:
    lows = [math.ceil(v) for v in (_bound(schema, "minimum"),) if v is not None]
    lows += [math.floor(v) + 1 for v in (_bound(schema, "exclusiveMinimum"),) if v is not None]
    highs = [math.floor(v) for v in (_bound(schema, "maximum"),) if v is not None]
    highs += [math.ceil(v) - 1 for v in (_bound(schema, "exclusiveMaximum"),) if v is not None]
    value = 1
    if lows:
        value = max(value, *lows)
    if highs:
        value = min(value, *highs)
    return value


def _float(schema: dict[str, Any]) -> float:
    minimum, maximum = _bound(schema, "minimum"), _bound(schema, "maximum")
    ex_min, ex_max = _bound(schema, "exclusiveMinimum"), _bound(schema, "exclusiveMaximum")
    lo = max((v for v in (minimum, ex_min) if v is not None), default=None)
    hi = min((v for v in (maximum, ex_max) if v is not None), default=None)
    value = 1.0
    if minimum is not None and value < minimum:
        value = minimum
    if ex_min is not None and value <= ex_min:
        value = ex_min + 1.0
    if maximum is not None and value > maximum:
        value = maximum
    if ex_max is not None and value >= ex_max:
        value = ex_max - 1.0
    if lo is not None and hi is not None and not lo <= value <= hi:
        value = (lo + hi) / 2
    return value


def schema_instance(schema: Any) -> Any:
    """A minimal instance valid against a JSON schema (the subset used by structured outputs).

    Objects get all required properties, strings ``"example"`` (or a sample of their
    ``format``), integers ``1``, numbers ``1.0``, booleans ``true``, arrays one item, enums their
    first value, ``anyOf``/``oneOf`` their first non-null branch; ``$ref`` is resolved against
    the root schema (``$defs`` / ``definitions``).  Recursive schemas are cut off by preferring
    ``null`` branches and empty arrays where a ``$ref`` would recurse (or when nested deeply).
    """
    return _instance(schema, schema, 0, frozenset({"#"}))


def _recurses(schema: Any, seen: frozenset[str]) -> bool:
    return isinstance(schema, dict) and schema.get("$ref") in seen


def _instance(schema: Any, root: Any, depth: int, seen: frozenset[str]) -> Any:
    if schema is True or schema is None:
        return "example"
    if not isinstance(schema, dict):
        return None
    deep = depth >= _MAX_DEPTH
    if isinstance(schema.get("$ref"), str):
        ref = schema["$ref"]
        return _instance(_resolve_ref(root, ref), root, depth + 1, seen | {ref})
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            non_null = [b for b in branches if not _is_null_schema(b)]
            cut = deep or _recurses(non_null[0] if non_null else None, seen)
            if not non_null or (cut and len(non_null) < len(branches)):
                return None
            return _instance(non_null[0], root, depth + 1, seen)
    if isinstance(schema.get("allOf"), list) and schema["allOf"]:
        merged: dict[str, Any] = {}
        for branch in schema["allOf"]:
            value = _instance(branch, root, depth + 1, seen)
            if not isinstance(value, dict):
                return value
            merged.update(value)
        if "properties" not in schema and "type" not in schema:
            return merged
        own = _instance({k: v for k, v in schema.items() if k != "allOf"}, root, depth + 1, seen)
        return {**merged, **own} if isinstance(own, dict) else merged
    kind = schema.get("type")
    if isinstance(kind, list):
        non_null_types = [t for t in kind if t != "null"]
        if not non_null_types or (deep and "null" in kind):
            return None
        kind = non_null_types[0]
    if kind is None:
        if "properties" in schema or "required" in schema:
            kind = "object"
        elif "items" in schema or "prefixItems" in schema:
            kind = "array"
        else:
            return "example"
    if kind == "object":
        properties: dict[str, Any] = schema.get("properties") or {}
        required: list[str] = schema.get("required") or []
        if not isinstance(properties, dict) or not isinstance(required, list):
            return {}
        return {name: _instance(properties.get(name, {}), root, depth + 1, seen) for name in required}
    if kind == "array":
        min_items: int = schema.get("minItems") or 0
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list) and prefix:
            return [_instance(p, root, depth + 1, seen) for p in prefix]
        items = schema.get("items", {})
        count = min_items if deep or _recurses(items, seen) else max(1, min_items)
        max_items: int | None = schema.get("maxItems")
        if max_items is not None:
            count = min(count, max_items)
        return [_instance(items, root, depth + 1, seen) for _ in range(count)]
    if kind == "string":
        text = _STRING_FORMATS.get(str(schema.get("format")), "example")
        if isinstance(schema.get("minLength"), int) and len(text) < schema["minLength"]:
            text += "x" * (schema["minLength"] - len(text))
        if isinstance(schema.get("maxLength"), int):
            text = text[: schema["maxLength"]]
        return text
    if kind == "integer":
        return _integer(schema)
    if kind == "number":
        return _float(schema)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "example"


def default_reply(body: dict[str, Any]) -> Reply:
    """The answer when nothing is scripted: an echo of the last user message, or for a
    ``response_format`` a minimal valid JSON document (``{}`` for ``json_object``)."""
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        if response_format.get("type") == "json_schema":
            spec = response_format.get("json_schema")
            schema = spec.get("schema", {}) if isinstance(spec, dict) else {}
            return Reply(text=json.dumps(schema_instance(schema)))
        if response_format.get("type") == "json_object":
            return Reply(text="{}")
    last = ""
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                last = _message_text(message.get("content"))
                break
    return Reply(text=f"Echo: {last}")


# --------------------------------------------------------------------------------------------
# Chat completions rendering (pure)
# --------------------------------------------------------------------------------------------


def _finish_reason(reply: Reply) -> str:
    if reply.finish_reason is not None:
        return reply.finish_reason
    return "tool_calls" if reply.tool_calls else "stop"


def render_usage(reply: Reply, prompt_tokens: int) -> dict[str, Any]:
    """The ``usage`` object for ``reply`` (auto completion tokens: words of text + tool args)."""
    completion = reply.completion_tokens
    if completion is None:
        words = word_count(reply.text) + sum(word_count(_args_json(args)) for _, args in reply.tool_calls)
        completion = max(1, words + reply.reasoning_tokens)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reply.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def render_completion(
    reply: Reply,
    *,
    completion_id: str,
    model: str,
    created: int,
    call_ids: list[list[str]],
    prompt_tokens: int,
    quirks: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """A whole ``chat.completion`` object; one choice per entry of ``call_ids``, shaped by ``quirks``."""
    choices = []
    for index, ids in enumerate(call_ids):
        content: Any = None if not reply.text and reply.tool_calls else reply.text
        reasoning = reply.reasoning
        if reasoning is not None and "think_tags" in quirks:
            content, reasoning = f"<think>{reasoning}</think>{reply.text}", None
        elif reasoning is not None and "mistral_thinking_parts" in quirks:
            content, reasoning = [_thinking_part(reasoning), {"type": "text", "text": reply.text}], None
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": _args_json(args)}}
                for call_id, (name, args) in zip(ids, reply.tool_calls, strict=True)
            ]
            if "no_tool_ids" in quirks:
                for call in message["tool_calls"]:
                    del call["id"]
        if reasoning is not None:
            message.update(_reasoning_fields(reasoning, quirks))
        finish = None if "no_finish_reason" in quirks else _finish_reason(reply)
        choices.append({"index": index, "message": message, "finish_reason": finish, "logprobs": None})
    payload: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": render_usage(reply, prompt_tokens),
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }
    if "x_groq_usage" in quirks:
        payload["x_groq"] = {"id": f"req_{completion_id}", "usage": payload.pop("usage")}
    return payload




def chunk(
    completion_id: str,
    model: str,
    created: int,
    delta: dict[str, Any],
    finish_reason: str | None = None,
    index: int = 0,
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` object with a single choice."""
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "choices": [{"index": index, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        "usage": None,
    }


def completion_chunks(
    reply: Reply,
    *,
    completion_id: str,
    model: str,
    created: int,
    call_ids: list[list[str]],
    prompt_tokens: int,
    include_usage: bool,
    quirks: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a streamed ``reply`` (without ``[DONE]``), shaped by ``quirks``."""
    chunks: list[dict[str, Any]] = []

    def add(delta: dict[str, Any], finish_reason: str | None = None, index: int = 0) -> None:
        chunks.append(chunk(completion_id, model, created, delta, finish_reason, index))

    for index, ids in enumerate(call_ids):
        add({"role": "assistant", "content": "", "refusal": None}, index=index)
        if reply.reasoning and "think_tags" in quirks:
            # Five characters a chunk: both tags arrive cut in pieces.
            inline = f"<think>{reply.reasoning}</think>{reply.text}"
            for at in range(0, len(inline), 5):
                add({"content": inline[at : at + 5]}, index=index)
        else:
            if reply.reasoning:
                for piece in text_pieces(reply.reasoning):
                    if "mistral_thinking_parts" in quirks:
                        add({"content": [_thinking_part(piece)]}, index=index)
                    else:
                        add(_reasoning_fields(piece, quirks), index=index)
            for piece in text_pieces(reply.text):
                add({"content": piece}, index=index)
        for k, (call_id, (name, args)) in enumerate(zip(ids, reply.tool_calls, strict=True)):
            first: dict[str, Any] = {"index": k, "id": call_id, "type": "function",
                                     "function": {"name": name, "arguments": ""}}
            if "no_tool_ids" in quirks:
                del first["id"]
            add({"tool_calls": [first]}, index=index)
            for fragment in argument_pieces(_args_json(args)):
                add({"tool_calls": [{"index": k, "function": {"arguments": fragment}}]}, index=index)
        add({}, None if "no_finish_reason" in quirks else _finish_reason(reply), index=index)
    if "x_groq_usage" in quirks:
        # Groq: usage rides on the last chunk under `x_groq`, asked for or not.
        chunks[-1]["x_groq"] = {"id": f"req_{completion_id}", "usage": render_usage(reply, prompt_tokens)}
    elif include_usage:
        chunks.append(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": SYSTEM_FINGERPRINT,
                "choices": [],
                "usage": render_usage(reply, prompt_tokens),
            }
        )
    return chunks


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def error_body(status: int, code: str | None = None, message: str | None = None) -> dict[str, Any]:
    """An OpenAI-style ``{"error": {...}}`` body for ``status``."""
    default_code: str | None = None
    if status == 401:
        kind, default_code = "authentication_error", "invalid_api_key"
    elif status == 403:
        kind = "permission_denied"
    elif status == 404:
        kind, default_code = "not_found_error", "model_not_found"
    elif status == 429:
        kind = "insufficient_quota" if code == "insufficient_quota" else "rate_limit_exceeded"
        default_code = "rate_limit_exceeded"
    elif status >= 500:
        kind = "server_error"
    else:
        kind = "invalid_request_error"
    code = code if code is not None else default_code
    if message is None:
        message = f"Emulated {status} error"
        if code == "context_length_exceeded":
            message = (
                "This model's maximum context length is 128000 tokens. However, your messages "
                f"resulted in 200000 tokens. ({message})"
            )
        elif code is not None:
            message = f"{message} ({code})"
    return {"error": {"message": message, "type": kind, "code": code, "param": None}}


def _custom_body(body: str | dict[str, Any], status: int) -> WireResponse:
    if isinstance(body, dict):
        return WireResponse.json(body, status)
    stripped = body.lstrip()
    if stripped.startswith("<"):
        content_type = "text/html; charset=utf-8"
    else:
        try:
            json.loads(body)
            content_type = "application/json"
        except ValueError:
            content_type = "text/plain; charset=utf-8"
    return WireResponse(status=status, headers={"content-type": content_type}, body=body.encode())


def fault_response(fault: Fault, *, stream: bool, first_chunk: dict[str, Any] | None = None) -> WireResponse:
    """Render ``fault`` (``malformed``, ``stream_error`` or a status error) for OpenAI clients.

    ``first_chunk`` is the valid chunk sent before the broken / error event of a stream.
    ``drop_after_events`` is handled by the emulator core.
    """
    if fault.malformed:
        if stream:
            events = [sse_event(first_chunk)] if first_chunk is not None else []
            return WireResponse.stream([*events, b"data: {not json\n\n"])
        return WireResponse(status=200, headers={"content-type": "application/json"}, body=b'{"id": "broken')
    if fault.stream_error is not None:
        if stream:
            events = [sse_event(first_chunk)] if first_chunk is not None else []
            return WireResponse.stream([*events, sse_event({"error": fault.stream_error})])
        return WireResponse.json({"error": fault.stream_error}, fault.status)
    if fault.body is not None:
        return _custom_body(fault.body, fault.status)
    return WireResponse.json(error_body(fault.status, fault.code), fault.status)


# --------------------------------------------------------------------------------------------
# Embeddings and models (pure)
# --------------------------------------------------------------------------------------------


def embedding_vector(text: str, dims: int) -> list[float]:
    """A deterministic unit-length vector for ``text``, derived from sha256 of the text."""
    values: list[float] = []
    seed = text.encode()
    block = 0
    while len(values) < dims:
        digest = hashlib.sha256(seed if block == 0 else seed + block.to_bytes(4, "little")).digest()
        values.extend(u / 2147483647.5 - 1.0 for u in struct.unpack("<8I", digest))
        block += 1
    del values[dims:]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def render_embeddings(texts: list[str], *, model: str, dims: int, encoding_format: str) -> dict[str, Any]:
    """A ``list`` of embeddings; ``encoding_format="base64"`` packs little-endian float32."""
    data = []
    for index, text in enumerate(texts):
        vector = embedding_vector(text, dims)
        embedding: list[float] | str = vector
        if encoding_format == "base64":
            embedding = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode("ascii")
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(max(1, word_count(text)) for text in texts)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _model_object(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": MODEL_CREATED, "owned_by": "emulator"}


# --------------------------------------------------------------------------------------------
# Handlers
# --------------------------------------------------------------------------------------------


def _body(request: WireRequest) -> dict[str, Any]:
    return request.body if isinstance(request.body, dict) else {}


def chat_completions(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``POST .../chat/completions``: the scripted item, or the default reply."""
    body = _body(request)
    stream = body.get("stream") is True
    model = str(body.get("model") or "unknown")
    created = int(time.time())
    completion_id = f"chatcmpl-emu-{request.emulator.next_id('chatcmpl')}"
    if isinstance(item, Fault):
        first = chunk(completion_id, model, created, {"role": "assistant", "content": "", "refusal": None})
        return fault_response(item, stream=stream, first_chunk=first)
    reply = item if isinstance(item, Reply) else default_reply(body)
    model = reply.model or model
    n = body.get("n")
    choices = n if isinstance(n, int) and n > 1 else 1
    call_ids = [
        [f"call_emu_{request.emulator.next_id('call')}" for _ in reply.tool_calls] for _ in range(choices)
    ]
    prompt_tokens = (
        reply.prompt_tokens if reply.prompt_tokens is not None else count_prompt_tokens(body.get("messages"))
    )
    quirks = _quirks(reply, request)
    accounting = isinstance(body.get("usage"), dict) and body["usage"].get("include") is True
    if not stream:
        payload = render_completion(
            reply,
            completion_id=completion_id,
            model=model,
            created=created,
            call_ids=call_ids,
            prompt_tokens=prompt_tokens,
            quirks=quirks,
        )
        if "openrouter" in quirks:
            _as_openrouter(payload, accounting)
            return WireResponse.json(payload)
        return WireResponse.json(payload, headers=rate_limit_headers(request, prompt_tokens))
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    chunks = completion_chunks(
        reply,
        completion_id=completion_id,
        model=model,
        created=created,
        call_ids=call_ids,
        prompt_tokens=prompt_tokens,
        include_usage=include_usage or ("openrouter" in quirks and accounting),
        quirks=quirks,
    )
    if "openrouter" in quirks:
        for c in chunks:
            _as_openrouter(c, accounting)
    events = [sse_event(c) for c in chunks]
    if quirks & {"keepalive_comments", "openrouter"}:
        events = [_KEEPALIVE, *(e for event in events for e in (event, _KEEPALIVE))]
    if "no_done" not in quirks:
        events.append(b"data: [DONE]\n\n")
    response = WireResponse.stream(events)
    if "openrouter" not in quirks:
        response.headers.update(rate_limit_headers(request, prompt_tokens))
    return response


def _as_openrouter(payload: dict[str, Any], accounting: bool) -> None:
    """OpenRouter's additions: the upstream that served the call, and the cost when usage accounting is on."""
    payload["provider"] = OPENROUTER_UPSTREAM
    usage = payload.get("usage")
    if accounting and isinstance(usage, dict):
        usage["cost"] = openrouter_cost(usage["prompt_tokens"], usage["completion_tokens"])
        usage["is_byok"] = False


def _embedding_inputs(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, int) for v in value):  # one token array
            return [" ".join(str(v) for v in value)]
        texts: list[str] = []
        for v in value:
            if isinstance(v, str):
                texts.append(v)
            elif isinstance(v, list) and all(isinstance(t, int) for t in v):
                texts.append(" ".join(str(t) for t in v))
            else:
                return None
        return texts
    return None


def embeddings(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``POST .../embeddings``: deterministic vectors; a popped ``Reply`` only adds its delay."""
    if isinstance(item, Fault):
        return fault_response(item, stream=False)
    body = _body(request)
    texts = _embedding_inputs(body.get("input"))
    if texts is None:
        return WireResponse.json(
            error_body(400, "invalid_input", "'input' must be a non-empty string or list of strings"), 400
        )
    dims = body.get("dimensions")
    return WireResponse.json(
        render_embeddings(
            texts,
            model=str(body.get("model") or "unknown"),
            dims=dims if isinstance(dims, int) and dims > 0 else DEFAULT_EMBEDDING_DIMS,
            encoding_format=str(body.get("encoding_format") or "float"),
        ),
        headers=rate_limit_headers(request, sum(word_count(t) for t in texts)),
    )


def list_models(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``GET .../models``: the emulator's ``models``."""
    return WireResponse.json({"object": "list", "data": [_model_object(m) for m in request.emulator.models]})


def retrieve_model(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``GET .../models/{id}``: one model or a 404."""
    model_id = request.params.get("model_id", "")
    if model_id in request.emulator.models:
        return WireResponse.json(_model_object(model_id))
    message = f"The model '{model_id}' does not exist or you do not have access to it."
    return WireResponse.json(error_body(404, "model_not_found", message), 404)


def openrouter_models(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``GET /api/v1/models``: OpenRouter's listing, with names, context lengths, prices and parameters."""
    data = []
    for model_id in request.emulator.models:
        embedding = "embed" in model_id
        data.append({
            "id": model_id,
            "canonical_slug": model_id,
            "name": f"Emulated: {model_id}",
            "created": MODEL_CREATED,
            "context_length": 8192 if embedding else 128000,
            "architecture": {
                "modality": "text->text" if embedding else "text+image->text",
                "input_modalities": ["text"] if embedding else ["text", "image"],
                "output_modalities": ["text"],
            },
            "pricing": {**OPENROUTER_PRICING, "request": "0", "image": "0"},
            "top_provider": {"context_length": 128000, "max_completion_tokens": 16384, "is_moderated": False},
            "supported_parameters": [] if embedding else [
                "max_tokens", "temperature", "tools", "tool_choice", "response_format", "structured_outputs"],
        })
    return WireResponse.json({"data": data})


def _ollama_name(model_id: str) -> str:
    return model_id if ":" in model_id else f"{model_id}:latest"


def ollama_tags(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``GET /api/tags``: Ollama's local models (the emulator's ``models``, tagged ``:latest``)."""
    models = []
    for model_id in request.emulator.models:
        name = _ollama_name(model_id)
        family = "nomic-bert" if "embed" in model_id else "llama"
        digest = hashlib.sha256(name.encode()).hexdigest()
        models.append({
            "name": name, "model": name, "modified_at": "2025-01-01T00:00:00Z", "size": 2019393189,
            "digest": digest,
            "details": {"parent_model": "", "format": "gguf", "family": family, "families": [family],
                        "parameter_size": "3.2B", "quantization_level": "Q4_K_M"},
        })
    return WireResponse.json({"models": models})


def ollama_show(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``POST /api/show``: one model's details: ``model_info`` (with ``<arch>.context_length``) and ``capabilities``."""
    name = str(_body(request).get("model") or _body(request).get("name") or "")
    known = {_ollama_name(m): m for m in request.emulator.models}
    model_id = known.get(_ollama_name(name)) if name else None
    if model_id is None:
        return WireResponse.json({"error": f"model '{name}' not found"}, 404)
    if "embed" in model_id:
        arch, context, capabilities = "nomic-bert", 2048, ["embedding"]
    else:
        arch, context, capabilities = "llama", 131072, ["completion", "tools"]
        if any(word in model_id for word in ("vision", "llava")):
            capabilities.append("vision")
        if any(word in model_id for word in ("r1", "qwen3", "think")):
            capabilities.append("thinking")
    return WireResponse.json({
        "license": "", "modelfile": f"FROM {name}", "parameters": "", "template": "{{ .Prompt }}",
        "details": {"parent_model": "", "format": "gguf", "family": arch, "families": [arch],
                    "parameter_size": "3.2B", "quantization_level": "Q4_K_M"},
        "model_info": {"general.architecture": arch, "general.parameter_count": 3212749888,
                       f"{arch}.context_length": context, f"{arch}.embedding_length": 3072},
        "capabilities": capabilities,
        "modified_at": "2025-01-01T00:00:00Z",
    })


def routes() -> list[Route]:
    """The OpenAI routes (any path prefix, e.g. ``/v1`` or an Azure deployment path), OpenRouter's
    listing under ``/api/v1`` and Ollama's native listing."""
    return [
        Route("POST", re.compile(r"/chat/completions$"), chat_completions),
        Route("POST", re.compile(r"/embeddings$"), embeddings),
        Route("GET", re.compile(r"/api/v1/models$"), openrouter_models, scripted=False),
        Route("GET", re.compile(r"^/api/tags$"), ollama_tags, scripted=False),
        Route("POST", re.compile(r"^/api/show$"), ollama_show, scripted=False),
        Route("GET", re.compile(r"/models$"), list_models, scripted=False),
        Route("GET", re.compile(r"/models/(?P<model_id>.+)$"), retrieve_model, scripted=False),
    ]
