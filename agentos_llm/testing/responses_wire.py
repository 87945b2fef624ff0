"""The OpenAI Responses dialect of the wire emulator: ``POST /v1/responses`` (whole and SSE) and
``POST /v1/responses/input_tokens``.

The ``render_*`` / ``response_events`` helpers are pure functions turning a :class:`Reply` (plus the
ids the handler allocated) into Responses API JSON; the handlers glue them to the emulator core
through :func:`routes`. Standard library only.

How a :class:`Reply` maps: ``reasoning`` is a ``reasoning`` item first (its text as the summary;
``encrypted_content`` when the request includes ``reasoning.encrypted_content``), ``text`` a
``message`` item, ``tool_calls`` are ``function_call`` items. ``finish_reason`` ``"length"`` (or
``"max_output_tokens"``) and ``"content_filter"`` make the response ``incomplete``. ``prompt_tokens``
is the whole input, cache included; ``reasoning_tokens`` are counted inside ``output_tokens``.

Like the real API, the dialect refuses input it could not have produced: a ``function_call_output``
whose ``call_id`` no ``function_call`` of the input carries, an ``encrypted_content`` it did not
seal, and (with ``store: false``) a reasoning item sent back without its ``encrypted_content``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass, field, replace
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
from agentos_llm.testing.openai_wire import fault_response as openai_fault_response
from agentos_llm.testing.openai_wire import rate_limit_headers, schema_instance
from agentos_llm.testing.openai_wire_chat import forced_function
from agentos_llm.testing.schema_instances import minimal_call

__all__ = [
    "ENCRYPTED_INCLUDE",
    "ItemIds",
    "count_input_tokens",
    "count_prompt_tokens",
    "default_reply",
    "fault_response",
    "input_tokens",
    "open_reasoning",
    "render_items",
    "render_response",
    "render_usage",
    "response_events",
    "responses",
    "routes",
    "seal_reasoning",
]

#: The ``include`` entry that asks for reasoning items' ``encrypted_content``.
ENCRYPTED_INCLUDE = "reasoning.encrypted_content"
_JSON = (",", ":")
_INCOMPLETE = {"length": "max_output_tokens", "max_output_tokens": "max_output_tokens",
               "content_filter": "content_filter"}
# Real encrypted reasoning is a Fernet token ("gAAAAA..."); ours is sealed with a fixed key, so the
# dialect can tell its own tokens from anything else and refuse the latter as the API does.
_SEAL_PREFIX = "gAAAAAemu"
_SEAL_KEY = b"agentos-llm wire emulator reasoning seal"
_TEXT_PARTS = ("input_text", "output_text", "text")


# --------------------------------------------------------------------------------------------
# Counting and sealing (pure)
# --------------------------------------------------------------------------------------------


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content
                        if isinstance(p, dict) and p.get("type") in _TEXT_PARTS)
    return ""


def _input_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("input")
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    return [item for item in raw if isinstance(item, dict)] if isinstance(raw, list) else []


def _is_message(item: dict[str, Any]) -> bool:
    return item.get("type", "message") == "message" and "role" in item


def _prompt_words(body: dict[str, Any]) -> int:
    total = word_count(_text_of(body.get("instructions")))
    for item in _input_items(body):
        if _is_message(item):
            total += word_count(_text_of(item.get("content")))
        elif item.get("type") == "function_call_output":
            total += word_count(_text_of(item.get("output")))
    return total


def count_prompt_tokens(body: dict[str, Any]) -> int:
    """A rough input token count: the words of the instructions, the messages and the tool outputs (min 1)."""
    return max(1, _prompt_words(body))


def count_input_tokens(body: dict[str, Any]) -> int:
    """What ``/responses/input_tokens`` answers: :func:`count_prompt_tokens` plus the words of the tool
    definitions (their compact JSON), so a request without tools counts what ``generate`` reports."""
    tools = body.get("tools")
    words = sum(word_count(json.dumps(t, separators=_JSON)) for t in tools) if isinstance(tools, list) else 0
    return max(1, _prompt_words(body) + words)


def _mac(data: bytes) -> bytes:
    return hmac.new(_SEAL_KEY, data, hashlib.sha256).digest()[:16]


def _keystream(mac: bytes, size: int) -> bytes:
    blocks = (hashlib.sha256(_SEAL_KEY + mac + n.to_bytes(4, "big")).digest() for n in range(size // 32 + 1))
    return b"".join(blocks)[:size]


def seal_reasoning(text: str) -> str:
    """The deterministic opaque ``encrypted_content`` the emulator puts on a reasoning item for ``text``."""
    data = text.encode()
    mac = _mac(data)
    hidden = bytes(a ^ b for a, b in zip(data, _keystream(mac, len(data)), strict=True))
    return _SEAL_PREFIX + base64.urlsafe_b64encode(mac + hidden).decode("ascii")


def open_reasoning(token: str) -> str | None:
    """The reasoning text sealed in ``token`` by :func:`seal_reasoning`, or None if the emulator did not seal it."""
    if not token.startswith(_SEAL_PREFIX):
        return None
    try:
        raw = base64.urlsafe_b64decode(token[len(_SEAL_PREFIX):].encode("ascii"))
    except ValueError:
        return None
    mac, hidden = raw[:16], raw[16:]
    data = bytes(a ^ b for a, b in zip(hidden, _keystream(mac, len(hidden)), strict=True))
    if len(mac) != 16 or not hmac.compare_digest(mac, _mac(data)):
        return None
    return data.decode(errors="replace")


# --------------------------------------------------------------------------------------------
# Default replies (pure)
# --------------------------------------------------------------------------------------------


def _text_format(body: dict[str, Any]) -> dict[str, Any] | None:
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    return fmt if isinstance(fmt, dict) else None


def _formatted_text(body: dict[str, Any]) -> str | None:
    fmt = _text_format(body)
    if fmt is None:
        return None
    if fmt.get("type") == "json_schema":
        return json.dumps(schema_instance(fmt.get("schema", {})))
    if fmt.get("type") == "json_object":
        return "{}"
    return None


def default_reply(body: dict[str, Any]) -> Reply:
    """The answer when nothing is scripted: for a JSON ``text.format`` a minimal valid document, for a forced
    tool a call with minimal valid arguments, else an echo of the last user message's text."""
    function = forced_function(body, flat=True)
    if function is not None:
        return minimal_call(function.get("name"), function.get("parameters"))
    formatted = _formatted_text(body)
    if formatted is not None:
        return Reply(text=formatted)
    last = ""
    for item in reversed(_input_items(body)):
        if _is_message(item) and item.get("role") == "user":
            last = _text_of(item.get("content"))
            break
    return Reply(text=f"Echo: {last}")


# --------------------------------------------------------------------------------------------
# Rendering (pure)
# --------------------------------------------------------------------------------------------


@dataclass
class ItemIds:
    """The ids of one response's output items: reasoning, message, and ``(fc_..., call_...)`` per tool call."""

    reasoning: str = "rs_emu_0"
    message: str = "msg_emu_0"
    calls: list[tuple[str, str]] = field(default_factory=list)


def _incomplete_reason(reply: Reply) -> str | None:
    return _INCOMPLETE.get(reply.finish_reason) if reply.finish_reason is not None else None


def render_usage(reply: Reply, prompt_tokens: int) -> dict[str, Any]:
    """The ``usage`` object: ``input_tokens`` includes cached ones, ``output_tokens`` reasoning ones."""
    output = reply.completion_tokens
    if output is None:
        words = word_count(reply.text) + sum(word_count(json.dumps(a, separators=_JSON)) for _, a in reply.tool_calls)
        output = max(1, words + reply.reasoning_tokens)
    return {
        "input_tokens": prompt_tokens,
        "input_tokens_details": {"cached_tokens": reply.cached_tokens, "cache_write_tokens": reply.cache_write_tokens},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
        "total_tokens": prompt_tokens + output,
    }


def render_items(reply: Reply, ids: ItemIds, *, encrypted: bool) -> list[dict[str, Any]]:
    """The whole output items of ``reply``: reasoning, message, function calls, in that order."""
    items: list[dict[str, Any]] = []
    if reply.reasoning is not None:
        items.append({
            "id": ids.reasoning, "type": "reasoning",
            "summary": [{"type": "summary_text", "text": reply.reasoning}] if reply.reasoning else [],
            "encrypted_content": seal_reasoning(reply.reasoning) if encrypted else None,
        })
    if reply.text or not reply.tool_calls:
        status = "incomplete" if _incomplete_reason(reply) else "completed"
        items.append({"id": ids.message, "type": "message", "status": status, "role": "assistant",
                      "content": [{"type": "output_text", "text": reply.text, "annotations": [], "logprobs": []}]})
    for (item_id, call_id), (name, args) in zip(ids.calls, reply.tool_calls, strict=True):
        items.append({"id": item_id, "type": "function_call", "status": "completed", "call_id": call_id,
                      "name": name, "arguments": json.dumps(args, separators=_JSON)})
    return items


def _envelope(body: dict[str, Any], *, response_id: str, model: str, created_at: int) -> dict[str, Any]:
    """A response object with what the request asked echoed back, before any output."""
    found = body.get("reasoning")
    reasoning: dict[str, Any] = found if isinstance(found, dict) else {}
    return {
        "id": response_id, "object": "response", "created_at": created_at, "status": "in_progress",
        "background": False, "error": None, "incomplete_details": None,
        "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None, "model": model, "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "service_tier": "default", "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0), "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"), "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0), "truncation": body.get("truncation", "disabled"),
        "usage": None, "user": body.get("user"), "metadata": body.get("metadata") or {},
    }


def render_response(reply: Reply, body: dict[str, Any], *, response_id: str, model: str, created_at: int,
                    ids: ItemIds, prompt_tokens: int) -> dict[str, Any]:
    """A whole, finished ``response`` object (``completed``, or ``incomplete`` with its reason)."""
    response = _envelope(body, response_id=response_id, model=model, created_at=created_at)
    reason = _incomplete_reason(reply)
    response.update(
        status="incomplete" if reason else "completed",
        incomplete_details={"reason": reason} if reason else None,
        completed_at=None if reason else created_at,
        output=render_items(reply, ids, encrypted=_wants_encrypted(body)),
        usage=render_usage(reply, prompt_tokens),
    )
    return response


def _wants_encrypted(body: dict[str, Any]) -> bool:
    include = body.get("include")
    return isinstance(include, list) and ENCRYPTED_INCLUDE in include


def _opening(item: dict[str, Any]) -> dict[str, Any]:
    """An output item as ``response.output_item.added`` shows it: in progress, nothing generated yet."""
    kind = item["type"]
    if kind == "reasoning":
        return {**item, "summary": [], "encrypted_content": None}
    if kind == "message":
        return {**item, "status": "in_progress", "content": []}
    return {**item, "status": "in_progress", "arguments": ""}


def _item_events(index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of one output item, ``response.output_item.added`` to ``response.output_item.done``."""
    at = {"item_id": item["id"], "output_index": index}
    events: list[dict[str, Any]] = [{"type": "response.output_item.added", "output_index": index,
                                     "item": _opening(item)}]
    kind = item["type"]
    if kind == "reasoning":
        for number, part in enumerate(item["summary"]):
            where = {**at, "summary_index": number}
            events.append({"type": "response.reasoning_summary_part.added", **where,
                           "part": {"type": "summary_text", "text": ""}})
            events.extend({"type": "response.reasoning_summary_text.delta", **where, "delta": piece}
                          for piece in text_pieces(part["text"]))
            events.append({"type": "response.reasoning_summary_text.done", **where, "text": part["text"]})
            events.append({"type": "response.reasoning_summary_part.done", **where, "part": part})
    elif kind == "message":
        for number, part in enumerate(item["content"]):
            where = {**at, "content_index": number}
            events.append({"type": "response.content_part.added", **where,
                           "part": {**part, "text": "", "annotations": []}})
            events.extend({"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []}
                          for piece in text_pieces(part["text"]))
            events.append({"type": "response.output_text.done", **where, "text": part["text"], "logprobs": []})
            events.append({"type": "response.content_part.done", **where, "part": part})
    else:
        events.extend({"type": "response.function_call_arguments.delta", **at, "delta": piece}
                      for piece in argument_pieces(item["arguments"]))
        events.append({"type": "response.function_call_arguments.done", **at, "name": item["name"],
                       "arguments": item["arguments"]})
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events


def _numbered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**event, "sequence_number": number} for number, event in enumerate(events)]


def _started(response: dict[str, Any]) -> list[dict[str, Any]]:
    opening = {**response, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None,
               "completed_at": None}
    return [{"type": "response.created", "response": opening}, {"type": "response.in_progress", "response": opening}]


def response_events(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The numbered events of a streamed ``response`` (a whole object from :func:`render_response`),
    ``response.created`` to ``response.completed`` (or ``response.incomplete``)."""
    events = _started(response)
    for index, item in enumerate(response["output"]):
        events.extend(_item_events(index, item))
    final = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
    events.append({"type": final, "response": response})
    return _numbered(events)


def _encode(events: list[dict[str, Any]]) -> list[bytes]:
    return [sse_event(event, event["type"]) for event in events]


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def fault_response(fault: Fault, *, stream: bool, started: dict[str, Any] | None = None) -> WireResponse:
    """Render ``fault`` for Responses clients.

    Streamed, ``malformed`` and ``stream_error`` come after a partial answer (the response opened, a
    message begun, one text delta: ``started`` is the opening response object); the error arrives as
    an ``error`` event ``{type, code, message, param, sequence_number}`` (the code is the fault's
    ``code``, else ``type``). Whole, and for status errors, the OpenAI error bodies apply.
    """
    if not stream or (not fault.malformed and fault.stream_error is None):
        return openai_fault_response(fault, stream=False)
    partial: list[dict[str, Any]] = []
    if started is not None:
        message = {"id": "msg_emu_partial", "type": "message", "status": "completed", "role": "assistant",
                   "content": [{"type": "output_text", "text": "Partial", "annotations": [], "logprobs": []}]}
        partial = _started(started) + _item_events(0, message)[:3]
    events = _encode(_numbered(partial))
    if fault.malformed:
        return WireResponse.stream([*events, b"event: response.output_text.delta\ndata: {not json\n\n"])
    error = fault.stream_error or {}
    payload = {"type": "error", "code": error.get("code") or error.get("type"),
               "message": str(error.get("message") or "An error occurred during streaming"),
               "param": error.get("param"), "sequence_number": len(partial)}
    return WireResponse.stream([*events, sse_event(payload, "error")])


def _invalid(message: str, *, code: str | None = None, param: str | None = "input", status: int = 400
             ) -> WireResponse:
    return WireResponse.json({"error": {"message": message, "type": "invalid_request_error", "param": param,
                                        "code": code}}, status)


def _check_input(body: dict[str, Any], *, needs_model: bool = True) -> WireResponse | None:
    """The API's refusal of input it could not have produced, or None."""
    if needs_model and not body.get("model"):
        return _invalid("Missing required parameter: 'model'.", code="missing_required_parameter", param="model")
    items = _input_items(body)
    call_ids = {item.get("call_id") for item in items if item.get("type") == "function_call"}
    for item in items:
        kind = item.get("type")
        if kind == "function_call_output" and not body.get("previous_response_id"):
            if item.get("call_id") not in call_ids:
                return _invalid(f"No tool call found for function call output with call_id {item.get('call_id')}.")
        elif kind == "reasoning":
            sealed = item.get("encrypted_content")
            if isinstance(sealed, str):
                if open_reasoning(sealed) is None:
                    return _invalid(f"The encrypted content for item {item.get('id')} could not be verified.",
                                    code="invalid_encrypted_content")
            elif body.get("store") is False:
                return _invalid(f"Item with id '{item.get('id')}' not found. Items are not persisted when `store` "
                                "is set to false. Try again with `store` set to true, or remove this item from "
                                "your input.", status=404, code=None)
    return None


# --------------------------------------------------------------------------------------------
# Handlers
# --------------------------------------------------------------------------------------------


def _body(request: WireRequest) -> dict[str, Any]:
    return request.body if isinstance(request.body, dict) else {}


def responses(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``POST .../responses``: the scripted item, or the default reply; whole or SSE as asked."""
    body = _body(request)
    stream = body.get("stream") is True
    emulator = request.emulator
    response_id = f"resp_emu_{emulator.next_id('resp')}"
    created_at = int(time.time())
    model = str(body.get("model") or "unknown")
    if isinstance(item, Fault):
        opening = _envelope(body, response_id=response_id, model=model, created_at=created_at)
        return fault_response(item, stream=stream, started=opening)
    refused = _check_input(body)
    if refused is not None:
        return refused
    reply = item if isinstance(item, Reply) else default_reply(body)
    if not reply.text and not reply.tool_calls:
        formatted = _formatted_text(body)
        if formatted is not None:  # a scripted answer left empty still honours the requested format
            reply = replace(reply, text=formatted)
    ids = ItemIds(
        reasoning=f"rs_emu_{emulator.next_id('rs')}", message=f"msg_emu_{emulator.next_id('resp_msg')}",
        calls=[(f"fc_emu_{emulator.next_id('fc')}", f"call_emu_{emulator.next_id('call')}")
               for _ in reply.tool_calls])
    prompt = reply.prompt_tokens if reply.prompt_tokens is not None else count_prompt_tokens(body)
    rendered = render_response(reply, body, response_id=response_id, model=reply.model or model,
                               created_at=created_at, ids=ids, prompt_tokens=prompt)
    if not stream:
        return WireResponse.json(rendered, headers=rate_limit_headers(request, prompt))
    response = WireResponse.stream(_encode(response_events(rendered)))
    response.headers.update(rate_limit_headers(request, prompt))
    return response


def input_tokens(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``POST .../responses/input_tokens``: the input's token count (a scripted ``Reply.prompt_tokens`` wins)."""
    if isinstance(item, Fault):
        return openai_fault_response(item, stream=False)
    body = _body(request)
    refused = _check_input(body, needs_model=False)  # the model is optional here
    if refused is not None:
        return refused
    count = item.prompt_tokens if isinstance(item, Reply) and item.prompt_tokens is not None else None
    return WireResponse.json({"object": "response.input_tokens",
                              "input_tokens": count if count is not None else count_input_tokens(body)})


def routes() -> list[Route]:
    """The Responses routes (any path prefix, as for the chat dialect)."""
    return [
        Route("POST", re.compile(r"/responses/input_tokens$"), input_tokens),
        Route("POST", re.compile(r"/responses$"), responses),
    ]
