"""Pure converters for the Anthropic Messages API (`POST /v1/messages`, `GET /v1/models`).

Our types become a Messages request body; a response body or its stream events become our types.
No I/O and no SDK import here: the provider sends what these functions build.

Conventions worth knowing:

- Usage is inclusive: `input_tokens = input_tokens + cache_read_input_tokens + cache_creation_input_tokens`.
- Blocks that must go back verbatim (thinking, redacted thinking, server tool use and results, and any
  block type we do not model) are kept on the assistant `Message` as `VendorBlock(provider="anthropic")`.
- In "tool" structured mode the forced tool's input is the answer: it becomes the response text.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import (
    APIConnectionError,
    InvalidRequestError,
    MalformedResponseError,
    UnsupportedCapabilityError,
    error_from_response,
)
from ..request_rules import EFFORT_BUDGETS as DEFAULT_EFFORT_BUDGETS
from ..request_rules import (
    Sampling,
    check_tool_names,
    limit_stop,
    plan_reasoning,
    reconcile_sampling,
    tool_choice_for,
)
from ..types import (
    AudioPart,
    Citation,
    CompletionResponse,
    DocumentPart,
    FinishReason,
    ImagePart,
    Message,
    ModelInfo,
    ReasoningDeltaEvent,
    StreamEvent,
    TextDeltaEvent,
    TextPart,
    ToolCall,
    ToolCallDeltaEvent,
    ToolCallEvent,
    Usage,
    UsageEvent,
    VendorBlock,
    parse_tool_arguments,
)
from .anthropic_documents import FILES_BETA, citation_from_wire, document_block, needs_files_beta
from .common import merge_extra, token_count_field

if TYPE_CHECKING:  # annotations only: the pure converters do not load the I/O policy layer
    from ..provider import Call

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "FILES_BETA",
    "MIN_THINKING_BUDGET",
    "PROVIDER",
    "MessagesStreamAssembler",
    "build_messages_request",
    "decode_event",
    "finish_reason",
    "messages_to_wire",
    "needs_files_beta",
    "output_schema",
    "parse_message",
    "parse_model_list",
    "structured_tool_name",
    "thinking_budget",
    "thinking_config",
    "tool_id",
    "usage_from_wire",
]

PROVIDER = "anthropic"
DEFAULT_MAX_TOKENS = 4096
"""`max_tokens` for a model the catalog does not know (the API requires one)."""
MIN_THINKING_BUDGET = 1024
"""The smallest `budget_tokens` the API accepts."""
# Thinking budgets for the effort levels, on models with manual thinking (adaptive ones take the effort).
EFFORT_BUDGETS: Mapping[str, int] = DEFAULT_EFFORT_BUDGETS
_API = "the Anthropic Messages API"

_FINISH = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "model_context_window_exceeded": FinishReason.LENGTH,
    "tool_use": FinishReason.TOOL_CALLS,
    "refusal": FinishReason.CONTENT_FILTER,
    "pause_turn": FinishReason.OTHER,
}
_TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_NOT_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
# Assistant blocks that must open the turn when sent back (the API checks their position).
_THINKING_TYPES = frozenset({"thinking", "redacted_thinking"})


def finish_reason(raw: str | None, has_tool_calls: bool) -> FinishReason | None:
    """The normalized finish reason for a `stop_reason`; unknown values are `other`."""
    if not raw:
        return FinishReason.TOOL_CALLS if has_tool_calls else None
    reason = _FINISH.get(raw, FinishReason.OTHER)
    if has_tool_calls and reason is FinishReason.STOP:
        return FinishReason.TOOL_CALLS
    return reason


def tool_id(raw: str | None) -> str:
    """A tool-use id Anthropic accepts (`^[a-zA-Z0-9_-]+$`), stable for the same input.

    Ids made elsewhere (OpenAI `call_...`, Gemini, hand-written) pass unchanged when already valid;
    others get their invalid characters replaced plus a short hash, so two ids never collide.
    """
    if raw and _TOOL_ID.match(raw):
        return raw
    digest = hashlib.sha256((raw or "").encode()).hexdigest()[:10]
    cleaned = _NOT_ID_CHARS.sub("_", raw or "")[:48]
    return f"{cleaned}_{digest}" if cleaned else f"toolu_{digest}"


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
        args: Any = call.arguments
        if not args and call.arguments_raw is not None:
            parsed, _ = parse_tool_arguments(call.arguments_raw)
            args = parsed
        blocks.append({"type": "tool_use", "id": tool_id(call.id), "name": call.name, "input": args or {}})
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


# ---------------------------------------------------------------------- response


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_from_wire(u: Mapping[str, Any] | None) -> Usage:
    """Usage in our inclusive convention: input counts cache reads and writes.

    Thinking tokens are billed inside `output_tokens`, which is what `output_tokens` reports;
    `reasoning_tokens` stays 0 (Anthropic gives no split the other vendors' counts compare with).
    """
    if not u:
        return Usage()
    read = _int(u.get("cache_read_input_tokens"))
    written = _int(u.get("cache_creation_input_tokens"))
    return Usage(
        input_tokens=_int(u.get("input_tokens")) + read + written,
        output_tokens=_int(u.get("output_tokens")),
        cached_input_tokens=read,
        cache_write_input_tokens=written,
    )


def _response(blocks: Sequence[Mapping[str, Any]], *, message_id: str | None, model: str, stop_reason: Any,
              usage: Mapping[str, Any] | None, provider: str, structured_tool: str | None,
              raw: Any = None) -> CompletionResponse:
    """The whole response from finished content blocks (shared by the whole and streamed paths)."""
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCall] = []
    vendor: list[VendorBlock] = []
    citations: list[Citation] = []
    answer: str | None = None
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text") or "")
            cited = block.get("citations")
            if isinstance(cited, list):
                citations.extend(citation_from_wire(c) for c in cited if isinstance(c, Mapping))
        elif kind == "tool_use":
            args, args_raw = parse_tool_arguments(block.get("input"))
            if structured_tool is not None and block.get("name") == structured_tool:
                answer = args_raw if args_raw is not None else json.dumps(args)
                continue
            calls.append(ToolCall(id=block.get("id") or tool_id(None), name=block.get("name") or "",
                                  arguments=args, arguments_raw=args_raw))
        else:
            if kind == "thinking":
                reasoning.append(block.get("thinking") or "")
            vendor.append(VendorBlock(provider=PROVIDER, type=str(kind), data=dict(block)))
    text = answer if answer is not None else "".join(texts)
    thought = "".join(reasoning) or None
    raw_finish = stop_reason if isinstance(stop_reason, str) else None
    reason = finish_reason(raw_finish, bool(calls))
    if answer is not None and raw_finish == "tool_use" and not calls:
        reason = FinishReason.STOP  # the forced tool carried the answer; nothing is left to call
    return CompletionResponse(
        id=message_id,
        provider=provider,
        model=model,
        text=text,
        reasoning=thought,
        tool_calls=calls,
        finish_reason=reason,
        raw_finish_reason=raw_finish,
        usage=usage_from_wire(usage),
        message=Message(role="assistant", content=text or None, tool_calls=calls, reasoning=thought,
                        vendor_blocks=vendor),
        citations=citations,
        raw=raw,
    )


def _raise_error_body(payload: Mapping[str, Any], provider: str, status: int | None = None) -> None:
    if payload.get("type") == "error" or isinstance(payload.get("error"), Mapping):
        raise error_from_response(status, payload, provider=provider)


def parse_message(payload: Any, *, provider: str = PROVIDER, model: str,
                  structured_tool: str | None = None) -> CompletionResponse:
    """A whole Messages response as our response (`model` is the requested one, used when none is served)."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError(f"expected a JSON object, got {type(payload).__name__}", provider=provider)
    _raise_error_body(payload, provider)
    content = payload.get("content")
    if not isinstance(content, list):
        raise MalformedResponseError("the response has no content list", provider=provider)
    return _response([b for b in content if isinstance(b, Mapping)], message_id=payload.get("id"),
                     model=payload.get("model") or model, stop_reason=payload.get("stop_reason"),
                     usage=payload.get("usage"), provider=provider, structured_tool=structured_tool, raw=payload)


# ---------------------------------------------------------------------- streaming


def decode_event(data: str, provider: str = PROVIDER) -> Any:
    """One SSE data payload as JSON (None for an empty keep-alive)."""
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        raise MalformedResponseError(f"a stream event is not JSON: {data[:200]!r}", provider=provider) from None


class _Block:
    """One content block as it streams: its start, then its deltas appended to its fields."""

    __slots__ = ("data", "json", "ordinal", "parts")

    def __init__(self, start: Mapping[str, Any], ordinal: int | None) -> None:
        self.data = dict(start)
        self.ordinal = ordinal  # the tool-call index, for client tool_use blocks
        self.parts: dict[str, list[str]] = {}
        self.json: list[str] = []

    def add(self, key: str, piece: str) -> None:
        parts = self.parts.get(key)
        if parts is None:
            start = self.data.get(key)
            parts = self.parts[key] = [start] if isinstance(start, str) and start else []
        parts.append(piece)

    def finish(self) -> dict[str, Any]:
        for key, parts in self.parts.items():
            self.data[key] = "".join(parts)
        self.parts = {}
        if self.json:
            text = "".join(self.json)
            self.json = []
            if text.strip():
                try:
                    self.data["input"] = json.loads(text)
                except ValueError:
                    self.data["input"] = text  # kept as text; the tool call carries it as arguments_raw
        return self.data


class MessagesStreamAssembler:
    """Assembles Messages stream events: deltas out as events, the whole response at the end.

    Usage comes from `message_start`, and fields present in `message_delta` (cumulative counts)
    replace it; one `UsageEvent` is emitted at `message_delta`.
    """

    def __init__(self, *, provider: str = PROVIDER, model: str, structured_tool: str | None = None) -> None:
        self.provider = provider
        self.model = model
        self.structured_tool = structured_tool
        self._id: str | None = None
        self._served_model: str | None = None
        self._usage: dict[str, Any] = {}
        self._stop_reason: str | None = None
        self._blocks: dict[int, _Block] = {}
        self._done: dict[int, dict[str, Any]] = {}
        self._tools = 0
        self._started = False
        self._stopped = False

    def feed(self, event: Any) -> Sequence[StreamEvent]:
        """Events for one decoded stream event."""
        if event is None:
            return ()
        if not isinstance(event, Mapping):
            raise MalformedResponseError("a stream event is not a JSON object", provider=self.provider)
        kind = event.get("type")
        if kind == "content_block_delta":
            return self._delta(event)
        if kind == "content_block_start":
            return self._start(event)
        if kind == "content_block_stop":
            return self._stop(event)
        if kind == "message_start":
            message = event.get("message") or {}
            self._started = True
            self._id = message.get("id")
            self._served_model = message.get("model")
            self._usage = dict(message.get("usage") or {})
            return ()
        if kind == "message_delta":
            delta = event.get("delta") or {}
            if delta.get("stop_reason"):
                self._stop_reason = delta["stop_reason"]
            usage = event.get("usage")
            if isinstance(usage, Mapping):
                self._usage.update({k: v for k, v in usage.items() if v is not None})
                return (UsageEvent(usage=usage_from_wire(self._usage)),)
            return ()
        if kind == "message_stop":
            self._stopped = True
            return ()
        if kind == "error":
            _raise_error_body(event, self.provider)
        return ()  # ping and event types added later

    def _index(self, event: Mapping[str, Any]) -> int:
        index = event.get("index")
        if not isinstance(index, int):
            raise MalformedResponseError("a content block event has no index", provider=self.provider)
        return index

    def _start(self, event: Mapping[str, Any]) -> Sequence[StreamEvent]:
        index = self._index(event)
        start = event.get("content_block") or {}
        kind = start.get("type")
        client_tool = kind == "tool_use" and start.get("name") != self.structured_tool
        block = self._blocks[index] = _Block(start, self._tools if client_tool else None)
        if client_tool:
            self._tools += 1
            return (ToolCallDeltaEvent(index=block.ordinal or 0, id=start.get("id"), name=start.get("name")),)
        if kind == "text" and start.get("text"):
            return (TextDeltaEvent(delta=start["text"]),)
        if kind == "thinking" and start.get("thinking"):
            return (ReasoningDeltaEvent(delta=start["thinking"]),)
        return ()

    def _delta(self, event: Mapping[str, Any]) -> Sequence[StreamEvent]:
        block = self._blocks.get(self._index(event))
        if block is None:
            raise MalformedResponseError("a delta for a content block that never started", provider=self.provider)
        delta = event.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text") or ""
            block.add("text", text)
            return (TextDeltaEvent(delta=text),) if text else ()
        if kind == "thinking_delta":
            text = delta.get("thinking") or ""
            block.add("thinking", text)
            return (ReasoningDeltaEvent(delta=text),) if text else ()
        if kind == "input_json_delta":
            piece = delta.get("partial_json") or ""
            block.json.append(piece)
            if block.ordinal is not None and piece:
                return (ToolCallDeltaEvent(index=block.ordinal, arguments_delta=piece),)
            return ()
        if kind == "signature_delta":
            block.add("signature", delta.get("signature") or "")
        elif kind == "citations_delta":
            citation = delta.get("citation")
            if citation is not None:
                citations = block.data.get("citations")
                block.data["citations"] = [*(citations if isinstance(citations, list) else ()), citation]
        else:
            # A delta type we do not model: append its text fields to the block's fields of the same name.
            for key, value in delta.items():
                if key != "type" and isinstance(value, str):
                    block.add(key, value)
        return ()

    def _stop(self, event: Mapping[str, Any]) -> Sequence[StreamEvent]:
        index = self._index(event)
        block = self._blocks.pop(index, None)
        if block is None:
            return ()
        data = self._done[index] = block.finish()
        if block.ordinal is None:
            return ()
        args, raw = parse_tool_arguments(data.get("input"))
        call = ToolCall(id=data.get("id") or tool_id(None), name=data.get("name") or "", arguments=args,
                        arguments_raw=raw)
        return (ToolCallEvent(index=block.ordinal, tool_call=call),)

    def finish(self) -> tuple[Sequence[StreamEvent], CompletionResponse]:
        """Trailing tool-call events (blocks never stopped) and the whole response."""
        if not self._stopped and self._stop_reason is None:  # a cut stream must not pass for a whole answer
            raise APIConnectionError("the stream ended before its end marker (no message_stop, no stop_reason)",
                                     provider=self.provider)
        tail: list[StreamEvent] = []
        for index in sorted(self._blocks):
            tail.extend(self._stop({"index": index}))
        blocks = [self._done[i] for i in sorted(self._done)]
        response = _response(blocks, message_id=self._id, model=self._served_model or self.model,
                             stop_reason=self._stop_reason, usage=self._usage, provider=self.provider,
                             structured_tool=self.structured_tool)
        return tail, response


# ---------------------------------------------------------------------- models


def _unix(value: Any) -> int | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value:
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            return None
    return None


def parse_model_list(payload: Any, *, provider: str = PROVIDER) -> list[ModelInfo]:
    """`GET /v1/models` (one page, or pages merged into one `data` list) as ModelInfo."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    _raise_error_body(payload, provider)
    out = []
    for item in payload.get("data") or ():
        if not isinstance(item, Mapping) or not item.get("id"):
            continue
        window = item.get("max_input_tokens")
        limit = item.get("max_tokens")
        out.append(ModelInfo(
            id=item["id"], provider=provider, display_name=item.get("display_name"),
            created=_unix(item.get("created_at")),
            context_window=window if isinstance(window, int) else None,
            max_output_tokens=limit if isinstance(limit, int) else None,
        ))
    return out


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


def parse_token_count(payload: Any, *, provider: str = PROVIDER) -> int:
    """`input_tokens` of a `count_tokens` answer."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    _raise_error_body(payload, provider)
    return token_count_field(payload, "input_tokens", provider=provider)
