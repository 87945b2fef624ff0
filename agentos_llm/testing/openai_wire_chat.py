"""The OpenAI dialect's chat completions, rendered (pure): whole answers, stream chunks, usage, host quirks
(``QUIRKS``), OpenRouter's additions and the default reply. Standard library only.
"""

from __future__ import annotations

import json
from typing import Any

from agentos_llm.testing.emulator import (
    Reply,
    WireRequest,
    argument_pieces,
    text_pieces,
    word_count,
)
from agentos_llm.testing.schema_instances import minimal_call, schema_instance

SYSTEM_FINGERPRINT = "fp_emulator"
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


def forced_function(body: dict[str, Any], *, flat: bool = False) -> dict[str, Any] | None:
    """The function tool a request forces (``tool_choice`` naming one, or ``"required"`` with exactly one
    tool), or None. ``flat``: the Responses API's tool shape (``name`` and ``parameters`` at the top)."""
    choice = body.get("tool_choice")
    listed = [t if flat else t.get("function") for t in body.get("tools") or ()
              if isinstance(t, dict) and t.get("type") == "function"]
    functions: list[dict[str, Any]] = [f for f in listed if isinstance(f, dict)]
    if choice == "required" and len(functions) == 1:
        return functions[0]
    if isinstance(choice, dict):
        inner = choice if flat else choice.get("function")
        named = inner.get("name") if isinstance(inner, dict) else None
        return next((f for f in functions if f.get("name") == named), None)
    return None


def default_reply(body: dict[str, Any]) -> Reply:
    """The answer when nothing is scripted: an echo of the last user message, for a ``response_format`` a
    minimal valid JSON document (``{}`` for ``json_object``), for a forced tool a call with minimal valid
    arguments."""
    function = forced_function(body)
    if function is not None:
        return minimal_call(function.get("name"), function.get("parameters"))
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


def _body(request: WireRequest) -> dict[str, Any]:
    return request.body if isinstance(request.body, dict) else {}
