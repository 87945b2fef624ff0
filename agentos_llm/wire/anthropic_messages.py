"""Pure converters for the Anthropic Messages API (`POST /v1/messages`, `GET /v1/models`).

Our types become a Messages request body; a response body or its stream events become our types.
No I/O and no SDK import here: the provider sends what these functions build.

Conventions worth knowing:

- Usage is inclusive: `input_tokens = input_tokens + cache_read_input_tokens + cache_creation_input_tokens`.
- Blocks that must go back verbatim (thinking, redacted thinking, server tool use and results, and any
  block type we do not model) are kept on the assistant `Message` as `VendorBlock(provider="anthropic")`.
- In "tool" structured mode the forced tool's input is the answer: it becomes the response text.

This module builds the requests and is the API's converter module (`apis.py`): it re-exports the rest, split
by concern into `anthropic_response` (whole responses, usage, model listings, token counts),
`anthropic_stream` (stream events) and `anthropic_documents` (documents and citations).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequestError, UnsupportedCapabilityError
from ..request_rules import Sampling, check_tool_names, limit_stop, plan_reasoning, reconcile_sampling, tool_choice_for
from ..types import AudioPart, DocumentPart, ImagePart, Message, TextPart
from .anthropic_documents import FILES_BETA, document_block, needs_files_beta
from .anthropic_response import (
    _API,
    _THINKING_TYPES,
    DEFAULT_MAX_TOKENS,
    EFFORT_BUDGETS,
    MIN_THINKING_BUDGET,
    PROVIDER,
    finish_reason,
    parse_message,
    parse_model_list,
    parse_token_count,
    tool_id,
    usage_from_wire,
)
from .anthropic_stream import MessagesStreamAssembler, decode_event
from .common import arguments_object, merge_extra

if TYPE_CHECKING:  # annotations only: the pure converters do not load the I/O policy layer
    from ..provider import Call


__all__ = [
    "DEFAULT_MAX_TOKENS",
    "EFFORT_BUDGETS",
    "FILES_BETA",
    "MIN_THINKING_BUDGET",
    "PROVIDER",
    "MessagesStreamAssembler",
    "build_count_request",
    "build_messages_request",
    "decode_event",
    "finish_reason",
    "messages_to_wire",
    "needs_files_beta",
    "output_schema",
    "parse_message",
    "parse_model_list",
    "parse_token_count",
    "structured_tool_name",
    "thinking_budget",
    "thinking_config",
    "tool_id",
    "usage_from_wire",
]

# ---------------------------------------------------------------------- request


def _image_block(part: ImagePart) -> dict[str, Any]:
    block: dict[str, Any]
    if part.data is not None:
        block = {"type": "image", "source": {"type": "base64", "media_type": part.media_type, "data": part.data}}
    elif part.url is not None and part.url.startswith("data:") and ";base64," in part.url:
        media_type, data = part.url[5:].split(";base64,", 1)
        block = {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    else:
        block = {"type": "image", "source": {"type": "url", "url": part.url}}
    if part.cache_control:
        block["cache_control"] = part.cache_control
    return block


def _content_blocks(content: str | list[Any] | None) -> list[dict[str, Any]]:
    """Text, image and document blocks of a message's content; empty text is left out (the API rejects it)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            if part.text or part.cache_control:
                block: dict[str, Any] = {"type": "text", "text": part.text}
                if part.cache_control:
                    block["cache_control"] = part.cache_control
                blocks.append(block)
        elif isinstance(part, ImagePart):
            blocks.append(_image_block(part))
        elif isinstance(part, DocumentPart):
            blocks.append(document_block(part))
        elif isinstance(part, AudioPart):
            raise UnsupportedCapabilityError(PROVIDER, "audio", "Claude takes no audio input")
    return blocks


def _assistant_blocks(msg: Message) -> list[dict[str, Any]]:
    # Our own vendor blocks go back verbatim, thinking first as the API requires; blocks of other
    # vendors, and reasoning text without a signature (it cannot be verified), are dropped.
    ours = [dict(b.data) for b in msg.vendor_blocks if b.provider == PROVIDER and b.data]
    blocks = [b for b in ours if b.get("type") in _THINKING_TYPES]
    blocks += [b for b in ours if b.get("type") not in _THINKING_TYPES]
    blocks += _content_blocks(msg.content)
    for call in msg.tool_calls:
        blocks.append({"type": "tool_use", "id": tool_id(call.id), "name": call.name,
                       "input": arguments_object(call, provider=PROVIDER)})
    return blocks


def _tool_result_block(msg: Message) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_id(msg.tool_call_id)}
    content = msg.content
    if isinstance(content, list):
        parts = _content_blocks(content)
        if parts:
            block["content"] = parts
    elif content:
        block["content"] = content
    return block


def _system_blocks(msg: Message) -> list[dict[str, Any]]:
    return [b for b in _content_blocks(msg.content) if b["type"] == "text"]


def messages_to_wire(messages: Sequence[Message]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system blocks, messages) in Anthropic shape.

    System messages (wherever they are) go to `system`; tool results become `tool_result` blocks of a
    user turn; consecutive turns of one role merge into one, tool results first within a user turn.
    """
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for msg in messages:
        if msg.role == "system":
            system.extend(_system_blocks(msg))
            continue
        if msg.role == "tool":
            role, blocks = "user", [_tool_result_block(msg)]
        elif msg.role == "assistant":
            role, blocks = "assistant", _assistant_blocks(msg)
        else:
            role, blocks = "user", _content_blocks(msg.content)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        content = turn["content"]
        if turn["role"] == "user" and len(content) > 1:
            content.sort(key=lambda b: b["type"] != "tool_result")  # stable: results first, in order
        if len(content) == 1 and content[0]["type"] == "text" and "cache_control" not in content[0]:
            turn["content"] = content[0]["text"]
    return system, turns


def _tool_to_wire(tool: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tool.name, "input_schema": tool.parameters or {"type": "object"}}
    if tool.description:
        out["description"] = tool.description
    if tool.strict:
        out["strict"] = True
    if tool.cache_control:
        out["cache_control"] = tool.cache_control
    return out


def _drop(option: str, why: str) -> None:
    warnings.warn(f"{option} left out of the request: {why}", UserWarning, stacklevel=6)


def thinking_config(call: Call, max_tokens: int, *, explicit_max: bool) -> tuple[dict[str, Any] | None, str | None]:
    """The `thinking` object and the `output_config.effort` for a call (None: leave it out).

    The model's rules (`request_rules.plan_reasoning`) pick manual thinking with a budget, adaptive
    thinking with an effort, or thinking off; a budget must then also fit under `max_tokens`
    (`thinking_budget`).
    """
    plan = plan_reasoning(call.options, call.traits, model=call.model, effort_budgets=EFFORT_BUDGETS)
    if plan is None:
        return None, None
    adaptive = call.traits.reasoning_control == "adaptive"
    if plan.off:
        # Off is the default where thinking is manual; adaptive models may think unless told not to.
        return ({"type": "disabled"} if adaptive else None), None
    if plan.budget is not None:
        budget = thinking_budget(plan.budget, max_tokens, explicit=plan.explicit, explicit_max=explicit_max)
        return {"type": "enabled", "budget_tokens": budget}, None
    return {"type": "adaptive"}, plan.effort


def thinking_budget(requested: int, max_tokens: int, *, explicit: bool, explicit_max: bool) -> int:
    """A thinking `budget_tokens` that fits under `max_tokens`, as the API requires.

    An explicit budget must already fit (an error otherwise); one derived from an effort is capped just
    under `max_tokens`.
    """
    budget = max(requested, MIN_THINKING_BUDGET)
    if budget >= max_tokens:
        if explicit:
            origin = "max_tokens" if explicit_max else "the model's default max_tokens"
            raise InvalidRequestError(
                f"reasoning_budget ({budget}) must be less than {origin} ({max_tokens}): Anthropic counts "
                "thinking inside max_tokens; raise max_tokens or lower the budget", provider=PROVIDER)
        budget = max_tokens - 1
        if budget < MIN_THINKING_BUDGET:
            raise InvalidRequestError(
                f"max_tokens ({max_tokens}) leaves no room for extended thinking (at least "
                f"{MIN_THINKING_BUDGET} tokens); raise max_tokens or drop reasoning_effort", provider=PROVIDER)
    return budget


def structured_tool_name(call: Call) -> str | None:
    """The name of the forced tool that carries a structured answer ("tool" mode), else None."""
    plan = call.structured
    if plan is None or call.structured_mode != "tool":
        return None
    name: str = plan.format.name
    taken = {t.name for t in call.options.tools or ()}
    while name in taken:
        name = f"{name}_output"[:64]
    return name


_SCHEMA_KEYS = frozenset({"type", "properties", "required", "additionalProperties", "items", "anyOf", "allOf",
                          "enum", "const", "$ref", "$defs", "definitions", "description", "title"})
_STRING_FORMATS = frozenset({"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6",
                             "uuid"})


def output_schema(schema: Any) -> Any:
    """A strict JSON schema as Anthropic's structured outputs take it.

    Keywords the API does not enforce (numeric bounds, lengths, patterns...) move into the
    description, so the model still sees them; our own validation checks them on the answer.
    """
    if isinstance(schema, list):
        return [output_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    moved: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {k: output_schema(v) for k, v in value.items()}
        elif key in ("items", "anyOf", "allOf"):
            out[key] = output_schema(value)
        elif (key in _SCHEMA_KEYS or (key == "format" and value in _STRING_FORMATS)
              or (key == "minItems" and value in (0, 1))):
            out[key] = value
        else:
            moved[key] = value
    if moved:
        note = "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in moved.items()) + "}"
        out["description"] = f"{out['description']}\n\n{note}" if out.get("description") else note
    return out


def _unsigned_tool_loop(turns: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the request continues a tool loop whose assistant turn does not open with thinking.

    With thinking on, the API requires that turn to start with its (signed) thinking block.
    """
    for turn in reversed(turns):
        content = turn["content"]
        if turn["role"] == "user":
            if isinstance(content, str) or not any(b.get("type") == "tool_result" for b in content):
                return False  # a new user turn: no tool loop in progress
            continue
        if isinstance(content, str) or not any(b.get("type") == "tool_use" for b in content):
            return False
        return content[0].get("type") not in _THINKING_TYPES
    return False


def build_messages_request(call: Call, *, max_tokens: int | None = None, sampling_allowed: bool = True
                           ) -> dict[str, Any]:
    """The Messages body for a `Call` (see `agentos_llm.provider.Call`).

    `max_tokens` is the default when the caller gave none (the provider passes the catalog's limit).
    `sampling_allowed` False: the API version spoken refuses temperature, top_p and top_k (2026-10-21 does).
    """
    opts = call.options
    explicit_max = opts.max_tokens is not None
    limit: int = opts.max_tokens if opts.max_tokens is not None else (max_tokens or DEFAULT_MAX_TOKENS)
    system, messages = messages_to_wire(call.messages)
    body: dict[str, Any] = {"model": call.model, "max_tokens": limit, "messages": messages}
    if call.stream:
        body["stream"] = True

    check_tool_names(opts.tools, call.traits.tool_name, _API, provider=PROVIDER)
    tools = [_tool_to_wire(t) for t in opts.tools or ()]
    tool_choice: dict[str, Any] | None = None
    choice = tool_choice_for(opts.tool_choice, bool(tools), _API)
    if choice is not None:
        if choice == "auto":
            tool_choice = {"type": "auto"}
        elif choice == "required":
            tool_choice = {"type": "any"}
        elif choice == "none":
            tool_choice = {"type": "none"}
        else:
            tool_choice = {"type": "tool", "name": choice}

    thinking, effort = thinking_config(call, limit, explicit_max=explicit_max)
    plan = call.structured
    forced = structured_tool_name(call)
    if plan is not None:
        fmt = plan.format
        if call.structured_mode == "json_schema" and fmt.strict_schema is not None:
            body["output_config"] = {"format": {"type": "json_schema", "schema": output_schema(fmt.strict_schema)}}
        elif forced is not None:
            tools.append({"name": forced, "description": fmt.description or
                          "Give your answer by calling this tool: its input is the answer.",
                          "input_schema": fmt.schema})
            tool_choice = {"type": "tool", "name": forced}
            if thinking is not None and thinking["type"] != "disabled":
                _drop("extended thinking", "structured output through a forced tool cannot think first")
                thinking = effort = None
        else:
            system.append({"type": "text", "text": fmt.instructions()})

    if thinking is not None and thinking["type"] != "disabled" and _unsigned_tool_loop(messages):
        _drop("extended thinking", "the tool loop in progress started without a signed thinking block "
              "(e.g. on another provider), and Anthropic cannot switch thinking on mid-turn")
        thinking = effort = None
    thinks = thinking is not None and thinking["type"] != "disabled"
    if thinking is not None:
        body["thinking"] = thinking
        if thinks and tool_choice is not None and tool_choice["type"] in ("any", "tool"):
            raise InvalidRequestError(
                "tool_choice 'required' or a named tool cannot be combined with extended thinking "
                "(Anthropic only allows auto or none while thinking)", provider=PROVIDER)
    if effort is not None:
        body["output_config"] = {**body.get("output_config", {}), "effort": effort}
    if not sampling_allowed:
        given = [n for n in ("temperature", "top_p", "top_k") if getattr(opts, n) is not None]
        if given:
            warnings.warn(f"{'/'.join(given)} left out of the request: Anthropic API version 2026-10-21 (the one the "
                          "anthropic SDK 2.x speaks) refuses sampling parameters, even at their defaults",
                          UserWarning, stacklevel=5)
    sampling = Sampling() if not sampling_allowed else reconcile_sampling(
        call.traits, model=call.model, temperature=opts.temperature, top_p=opts.top_p, top_k=opts.top_k,
        thinking=thinks)
    for name, value in sampling._asdict().items():
        if value is not None:
            body[name] = value
    if sampling.temperature is not None and sampling.temperature > 1.0:
        warnings.warn(f"temperature {sampling.temperature} sent as 1.0: Anthropic's range is 0 to 1", UserWarning,
                      stacklevel=5)
        body["temperature"] = 1.0

    if opts.parallel_tool_calls is False and tools:
        tool_choice = {**(tool_choice or {"type": "auto"})}
        if tool_choice["type"] != "none":
            tool_choice["disable_parallel_tool_use"] = True

    if opts.cache_prompt:
        if system and "cache_control" not in system[-1]:
            system[-1] = {**system[-1], "cache_control": {"type": "ephemeral"}}
        if tools and "cache_control" not in tools[-1]:
            tools[-1] = {**tools[-1], "cache_control": {"type": "ephemeral"}}
    if system:
        if len(system) == 1 and "cache_control" not in system[0]:
            body["system"] = system[0]["text"]
        else:
            body["system"] = system
    if tools:
        body["tools"] = tools
    if tool_choice is not None:
        body["tool_choice"] = tool_choice
    stop = limit_stop(opts.stop, call.traits.max_stop, model=call.model, api=_API, provider=PROVIDER)
    if stop:
        body["stop_sequences"] = stop
    if opts.user is not None:
        body["metadata"] = {"user_id": opts.user}
    if opts.seed is not None:
        _drop("seed", "Anthropic has no seed parameter")
    if opts.extra:
        merge_extra(body, opts.extra)
    return body


# ---------------------------------------------------------------------- token counting

# The fields `/v1/messages/count_tokens` takes; what only shapes the answer (max_tokens, sampling,
# stop sequences, stream) has no bearing on the input and is refused by the endpoint.
_COUNT_FIELDS = frozenset({"model", "messages", "system", "tools", "tool_choice", "thinking", "output_config",
                           "mcp_servers", "context_management"})


def build_count_request(call: Call, *, max_tokens: int | None = None) -> dict[str, Any]:
    """The `count_tokens` body for a `Call`: the Messages body `generate` would send, minus what the
    endpoint does not take."""
    body = build_messages_request(replace(call, stream=False), max_tokens=max_tokens)
    return {k: v for k, v in body.items() if k in _COUNT_FIELDS}


