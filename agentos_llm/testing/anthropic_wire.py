"""The Anthropic dialect of the wire emulator: `POST /v1/messages` (whole and SSE), `POST
/v1/messages/count_tokens` and `GET /v1/models`.

The ``render_*`` / ``message_events`` helpers are pure functions turning a :class:`Reply` (plus the
ids the handler allocated) into Messages API JSON; the handlers glue them to the emulator core
through :func:`routes`. Standard library only.

How a :class:`Reply` maps: ``text`` is a text block, ``reasoning`` a thinking block (with a
deterministic signature), ``tool_calls`` are ``tool_use`` blocks; ``finish_reason`` is the raw
``stop_reason`` (OpenAI names such as ``"stop"`` are translated). ``prompt_tokens`` is the whole
prompt, cache included, as in the OpenAI dialect, so one script gives the same usage in both:
the wire's ``input_tokens`` is what is left after ``cached_tokens`` (cache reads) and
``cache_write_tokens`` (cache writes).

``GET /v1/models`` is shared with the OpenAI dialect: requests carrying an ``anthropic-version``
header get Anthropic's shape.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
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
from agentos_llm.testing.openai_wire import schema_instance
from agentos_llm.testing.schema_instances import minimal_call

__all__ = [
    "count_input_tokens",
    "count_tokens",
    "default_reply",
    "error_body",
    "fault_response",
    "list_models",
    "message_events",
    "messages",
    "rate_limit_headers",
    "render_message",
    "render_usage",
    "retrieve_model",
    "routes",
    "signature_for",
]

MODEL_CREATED = 1_700_000_000
RATE_LIMITS = {"requests": 4_000, "input-tokens": 2_000_000, "output-tokens": 400_000, "tokens": 2_400_000}
"""The per-minute limits the emulated Anthropic states on every answer (`anthropic-ratelimit-*`)."""
_JSON = (",", ":")
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                 "content_filter": "refusal"}
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
                403: "permission_error", 404: "not_found_error", 413: "request_too_large",
                429: "rate_limit_error", 500: "api_error", 504: "timeout_error", 529: "overloaded_error"}



def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for block in content:
            if isinstance(block, dict):
                if block.get("type") == "text":
                    out.append(str(block.get("text", "")))
                elif block.get("type") == "tool_result":
                    out.append(_text_of(block.get("content")))
        return " ".join(o for o in out if o)
    return ""


def count_prompt_tokens(body: dict[str, Any]) -> int:
    """A rough prompt token count: words of the system prompt and of every message (min 1)."""
    total = word_count(_text_of(body.get("system")))
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict):
                total += word_count(_text_of(message.get("content")))
    return max(1, total)


def count_input_tokens(body: dict[str, Any]) -> int:
    """What `count_tokens` answers: `count_prompt_tokens` plus the words of the tool definitions (their
    compact JSON), so a request without tools counts what `messages` reports."""
    tools = body.get("tools")
    words = sum(word_count(json.dumps(t, separators=_JSON)) for t in tools) if isinstance(tools, list) else 0
    return count_prompt_tokens(body) + words


def signature_for(thinking: str) -> str:
    """A deterministic stand-in for the signature Anthropic puts on a thinking block."""
    return base64.b64encode(hashlib.sha256(thinking.encode()).digest()).decode("ascii")


# --------------------------------------------------------------------------------------------
# Default replies (pure)
# --------------------------------------------------------------------------------------------


def _forced_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool a request forces: `tool_choice` naming one, or "any" with exactly one tool."""
    choice = body.get("tool_choice")
    tools = [t for t in body.get("tools") or () if isinstance(t, dict) and "name" in t]
    if isinstance(choice, dict) and choice.get("type") == "any" and len(tools) == 1:
        return tools[0]
    if not isinstance(choice, dict) or choice.get("type") != "tool":
        return None
    for tool in tools:
        if isinstance(tool, dict) and tool.get("name") == choice.get("name"):
            return tool
    return None


def default_reply(body: dict[str, Any]) -> Reply:
    """The answer when nothing is scripted: for `output_config.format` a minimal valid JSON document, for
    a forced tool a call with a minimal valid input, else an echo of the last user message's text."""
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return Reply(text=json.dumps(schema_instance(fmt.get("schema", {}))))
    tool = _forced_tool(body)
    if tool is not None:
        return minimal_call(tool["name"], tool.get("input_schema"))
    last = ""
    for message in reversed(body.get("messages") or ()):
        if isinstance(message, dict) and message.get("role") == "user":
            last = _text_of(message.get("content"))
            break
    return Reply(text=f"Echo: {last}")


# --------------------------------------------------------------------------------------------
# Rendering (pure)
# --------------------------------------------------------------------------------------------


def _stop_reason(reply: Reply) -> str:
    if reply.finish_reason is not None:
        return _STOP_REASONS.get(reply.finish_reason, reply.finish_reason)
    return "tool_use" if reply.tool_calls else "end_turn"


def render_usage(reply: Reply, prompt_tokens: int, *, final: bool = True) -> dict[str, Any]:
    """The `usage` object; `final=False` gives `message_start`'s (output so far: 1 token)."""
    completion = reply.completion_tokens
    if completion is None:
        words = word_count(reply.text) + word_count(reply.reasoning or "")
        words += sum(word_count(json.dumps(args, separators=_JSON)) for _, args in reply.tool_calls)
        completion = max(1, words + reply.reasoning_tokens)
    cached, written = reply.cached_tokens, reply.cache_write_tokens
    return {
        "input_tokens": max(0, prompt_tokens - cached - written),
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
        "cache_creation": {"ephemeral_5m_input_tokens": written, "ephemeral_1h_input_tokens": 0},
        "output_tokens": completion if final else 1,
        "service_tier": "standard",
    }


def _blocks(reply: Reply, tool_ids: list[str]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.reasoning is not None:
        blocks.append({"type": "thinking", "thinking": reply.reasoning, "signature": signature_for(reply.reasoning)})
    if reply.text or not (reply.tool_calls or reply.reasoning is not None):
        blocks.append({"type": "text", "text": reply.text})
    for call_id, (name, args) in zip(tool_ids, reply.tool_calls, strict=True):
        blocks.append({"type": "tool_use", "id": call_id, "name": name, "input": args})
    return blocks


def render_message(reply: Reply, *, message_id: str, model: str, tool_ids: list[str],
                   prompt_tokens: int) -> dict[str, Any]:
    """A whole `message` object."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _blocks(reply, tool_ids),
        "stop_reason": _stop_reason(reply),
        "stop_sequence": None,
        "usage": render_usage(reply, prompt_tokens),
    }




def _message_start(message_id: str, model: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message_start", "message": {
        "id": message_id, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": usage}}


def message_events(reply: Reply, *, message_id: str, model: str, tool_ids: list[str],
                   prompt_tokens: int) -> list[tuple[str, dict[str, Any]]]:
    """The `(event name, data)` pairs of a streamed `reply`, `message_start` to `message_stop`."""
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", _message_start(message_id, model, render_usage(reply, prompt_tokens, final=False))),
        ("ping", {"type": "ping"}),
    ]

    def block(index: int, start: dict[str, Any], deltas: list[dict[str, Any]]) -> None:
        events.append(("content_block_start", {"type": "content_block_start", "index": index,
                                               "content_block": start}))
        events.extend(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
                      for d in deltas)
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))

    for index, whole in enumerate(_blocks(reply, tool_ids)):
        kind = whole["type"]
        if kind == "thinking":
            deltas = [{"type": "thinking_delta", "thinking": p} for p in text_pieces(whole["thinking"])]
            deltas.append({"type": "signature_delta", "signature": whole["signature"]})
            block(index, {"type": "thinking", "thinking": "", "signature": ""}, deltas)
        elif kind == "text":
            block(index, {"type": "text", "text": ""},
                  [{"type": "text_delta", "text": p} for p in text_pieces(whole["text"])])
        else:
            args = json.dumps(whole["input"], separators=_JSON)
            block(index, {**whole, "input": {}},
                  [{"type": "input_json_delta", "partial_json": p} for p in argument_pieces(args)])
    usage = render_usage(reply, prompt_tokens)
    events.append(("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": _stop_reason(reply), "stop_sequence": None},
                                     "usage": {k: usage[k] for k in ("input_tokens", "cache_creation_input_tokens",
                                                                     "cache_read_input_tokens", "output_tokens")}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def error_body(status: int, error_type: str | None = None, message: str | None = None,
               request_id: str | None = None) -> dict[str, Any]:
    """An Anthropic `{"type": "error", "error": {...}}` body for `status` (`error_type` overrides the type)."""
    kind = error_type or _ERROR_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")
    if message is None:
        message = "Overloaded" if kind == "overloaded_error" else f"Emulated {status} error ({kind})"
    body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return body


def fault_response(fault: Fault, *, stream: bool, first_event: dict[str, Any] | None = None,
                   request_id: str | None = None) -> WireResponse:
    """Render `fault` (`malformed`, `stream_error` or a status error) for Anthropic clients.

    `first_event` is the valid `message_start` sent before the broken / error event of a stream;
    `Fault.code` names the error type. `drop_after_events` is handled by the emulator core.
    """
    started = [sse_event(first_event, "message_start")] if first_event is not None else []
    if fault.malformed:
        if stream:
            return WireResponse.stream([*started, b"event: content_block_start\ndata: {not json\n\n"])
        return WireResponse(status=200, headers={"content-type": "application/json"}, body=b'{"id": "broken')
    if fault.stream_error is not None:
        payload = {"type": "error", "error": fault.stream_error}
        if stream:
            return WireResponse.stream([*started, sse_event(payload, "error")])
        return WireResponse.json(payload, fault.status)
    if fault.body is not None:
        if isinstance(fault.body, dict):
            return WireResponse.json(fault.body, fault.status)
        return WireResponse(status=fault.status, headers={"content-type": "text/plain; charset=utf-8"},
                            body=fault.body.encode())
    return WireResponse.json(error_body(fault.status, fault.code, request_id=request_id), fault.status)


# --------------------------------------------------------------------------------------------
# Handlers
# --------------------------------------------------------------------------------------------


def rate_limit_headers(request: WireRequest, input_tokens: int, output_tokens: int) -> dict[str, str]:
    """Anthropic's `anthropic-ratelimit-*` headers as every answer carries them: each request to this emulator
    spends one request; the token buckets are down by this request's tokens; each resets at the next minute
    (an RFC 3339 instant)."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    reset = (now + timedelta(seconds=60 - now.second)).strftime("%Y-%m-%dT%H:%M:%SZ")
    spent = {"requests": request.number, "input-tokens": input_tokens, "output-tokens": output_tokens,
             "tokens": input_tokens + output_tokens}
    headers: dict[str, str] = {}
    for bucket, limit in RATE_LIMITS.items():
        headers[f"anthropic-ratelimit-{bucket}-limit"] = str(limit)
        headers[f"anthropic-ratelimit-{bucket}-remaining"] = str(max(0, limit - spent[bucket]))
        headers[f"anthropic-ratelimit-{bucket}-reset"] = reset
    return headers


def messages(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """`POST /v1/messages`: the scripted item, or the default reply; whole or SSE as asked."""
    body = request.body if isinstance(request.body, dict) else {}
    stream = body.get("stream") is True
    model = str(body.get("model") or "unknown")
    message_id = f"msg_emu_{request.emulator.next_id('msg')}"
    request_id = f"req_emu_{request.number}"
    headers = {"request-id": request_id}
    if isinstance(item, Fault):
        usage = render_usage(Reply(), count_prompt_tokens(body), final=False)
        response = fault_response(item, stream=stream, first_event=_message_start(message_id, model, usage),
                                  request_id=request_id)
        response.headers.update(headers)
        return response
    reply = item if isinstance(item, Reply) else default_reply(body)
    model = reply.model or model
    tool_ids = [f"toolu_emu_{request.emulator.next_id('toolu')}" for _ in reply.tool_calls]
    prompt_tokens = reply.prompt_tokens if reply.prompt_tokens is not None else count_prompt_tokens(body)
    max_tokens = body.get("max_tokens")  # what the API reserves against the output bucket up front
    headers.update(rate_limit_headers(request, prompt_tokens, max_tokens if isinstance(max_tokens, int) else 0))
    if not stream:
        rendered = render_message(reply, message_id=message_id, model=model, tool_ids=tool_ids,
                                  prompt_tokens=prompt_tokens)
        return WireResponse.json(rendered, headers=headers)
    events = message_events(reply, message_id=message_id, model=model, tool_ids=tool_ids,
                            prompt_tokens=prompt_tokens)
    response = WireResponse.stream([sse_event(data, name) for name, data in events])
    response.headers.update(headers)
    return response


def count_tokens(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """`POST /v1/messages/count_tokens`: `{"input_tokens": N}` (a scripted `Reply.prompt_tokens` sets N)."""
    request_id = f"req_emu_{request.number}"
    if isinstance(item, Fault):
        response = fault_response(item, stream=False, request_id=request_id)
    else:
        body = request.body if isinstance(request.body, dict) else {}
        scripted = item.prompt_tokens if isinstance(item, Reply) else None
        response = WireResponse.json({"input_tokens": scripted if scripted is not None else count_input_tokens(body)})
    response.headers["request-id"] = request_id
    return response


def _created_at() -> str:
    return datetime.fromtimestamp(MODEL_CREATED, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _model_object(model_id: str) -> dict[str, Any]:
    return {"type": "model", "id": model_id, "display_name": model_id.replace("-", " ").title(),
            "created_at": _created_at()}


def _query(request: WireRequest) -> dict[str, str]:
    out = {}
    for pair in request.query.split("&"):
        key, _, value = pair.partition("=")
        if key:
            out[key] = value
    return out


def list_models(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """`GET /v1/models`: the emulator's `models`, paged by `limit` and `after_id` as Anthropic does."""
    query = _query(request)
    ids = list(request.emulator.models)
    if query.get("after_id") in ids:
        ids = ids[ids.index(query["after_id"]) + 1:]
    limit = int(query["limit"]) if query.get("limit", "").isdigit() else 20
    page, more = ids[:limit], len(ids) > limit
    return WireResponse.json({"data": [_model_object(m) for m in page], "has_more": more,
                              "first_id": page[0] if page else None, "last_id": page[-1] if page else None})


def retrieve_model(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """`GET /v1/models/{id}`: one model or a 404."""
    model_id = request.params.get("model_id", "")
    if model_id in request.emulator.models:
        return WireResponse.json(_model_object(model_id))
    return WireResponse.json(error_body(404, message=f"model: {model_id}"), 404)


def _is_anthropic(request: WireRequest) -> bool:
    return "anthropic-version" in request.headers


def routes() -> list[Route]:
    """The Anthropic routes."""
    return [
        Route("POST", re.compile(r"^/v1/messages$"), messages),
        Route("POST", re.compile(r"^/v1/messages/count_tokens$"), count_tokens),
        Route("GET", re.compile(r"^/v1/models$"), list_models, scripted=False, accepts=_is_anthropic),
        Route("GET", re.compile(r"^/v1/models/(?P<model_id>[^/]+)$"), retrieve_model, scripted=False,
              accepts=_is_anthropic),
    ]
