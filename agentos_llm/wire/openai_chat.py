"""Pure converters for the OpenAI chat-completions wire (OpenAI and every compatible host).

Our types become a request body; a response body or stream chunk becomes our types. Host quirks
arrive as data (`wire`, a provider row's mapping), never as checks on the host's name.

This module builds the requests and is the API's converter module (`apis.py`): it re-exports the rest, split
by concern into `openai_chat_response` (whole responses, usage, reasoning), `openai_chat_stream` (stream
chunks) and `openai_chat_models` (embeddings and model listings).
"""

from __future__ import annotations

import mimetypes
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequestError, UnsupportedCapabilityError
from ..request_rules import (
    check_tool_names,
    effort_for_budget,
    fold_system,
    limit_stop,
    plan_reasoning,
    reconcile_sampling,
    tool_choice_for,
)
from ..types import AudioPart, DocumentPart, ImagePart, Message, TextPart
from .common import arguments_json
from .openai_chat_models import parse_embeddings, parse_model_list, parse_ollama_models
from .openai_chat_response import (
    _API,
    ThinkTagSplitter,
    finish_reason,
    new_tool_call_id,
    parse_chat_completion,
    split_think_tags,
    usage_from_wire,
)
from .openai_chat_stream import STREAM_END, ChatStreamAssembler, ChunkDecoder, decode_chunk

if TYPE_CHECKING:  # annotations only: the pure converters do not load the I/O policy layer
    from ..provider import Call

__all__ = [
    "STREAM_END",
    "ChatStreamAssembler",
    "ChunkDecoder",
    "ThinkTagSplitter",
    "build_chat_request",
    "build_embeddings_request",
    "decode_chunk",
    "finish_reason",
    "message_to_wire",
    "new_tool_call_id",
    "parse_chat_completion",
    "parse_embeddings",
    "parse_model_list",
    "parse_ollama_models",
    "split_think_tags",
    "usage_from_wire",
]

# ---------------------------------------------------------------------- request


def _document_to_wire(part: DocumentPart) -> dict[str, Any]:
    if part.text is not None:
        return {"type": "text", "text": f"{part.title}\n\n{part.text}" if part.title else part.text}
    if part.file_id is not None:
        return {"type": "file", "file": {"file_id": part.file_id}}
    if part.data is None:
        raise UnsupportedCapabilityError(
            "openai-chat", "document URLs",
            "Chat Completions cannot fetch a document from a URL; send it as base64 data, as an uploaded "
            "file id, or use the Responses API")
    filename = part.filename or f"document{mimetypes.guess_extension(part.mime) or '.pdf'}"
    return {"type": "file", "file": {"file_data": part.data_url, "filename": filename}}


def _part_to_wire(part: TextPart | ImagePart | DocumentPart | AudioPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, DocumentPart):
        return _document_to_wire(part)
    if isinstance(part, AudioPart):
        return {"type": "input_audio", "input_audio": {"data": part.data, "format": part.format}}
    image: dict[str, Any] = {"url": part.data_url}
    if part.detail:
        image["detail"] = part.detail
    return {"type": "image_url", "image_url": image}


def message_to_wire(msg: Message, system_role: str = "system") -> dict[str, Any]:
    """One of our messages in OpenAI chat shape. Vendor blocks of other vendors are dropped."""
    role = msg.role
    if role == "system":
        return {"role": system_role, "content": msg.text}
    if role == "tool":
        out: dict[str, Any] = {"role": "tool", "tool_call_id": msg.tool_call_id, "content": msg.text}
        return out
    content: Any = msg.content
    if isinstance(content, list):
        if role == "assistant" or all(isinstance(p, TextPart) for p in content):
            content = "".join(p.text for p in content if isinstance(p, TextPart))
            if role == "user":
                content = [{"type": "text", "text": content}] if content == "" else content
        else:
            content = [_part_to_wire(p) for p in content]
    out = {"role": role, "content": content}
    if msg.name:
        out["name"] = msg.name
    if msg.tool_calls:
        if not content:
            out["content"] = None
        out["tool_calls"] = [
            {"id": tc.id, "type": "function",
             "function": {"name": tc.name, "arguments": arguments_json(tc)}}
            for tc in msg.tool_calls
        ]
    return out


def _tool_to_wire(tool: Any) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters}
    if tool.description:
        fn["description"] = tool.description
    if tool.strict is not None:
        fn["strict"] = tool.strict
    return {"type": "function", "function": fn}


def _drop_for_host(option: str) -> None:
    warnings.warn(f"this host does not accept {option}; it was left out of the request", UserWarning, stacklevel=6)


def _host_fields(body: dict[str, Any], wire: Mapping[str, Any]) -> dict[str, Any]:
    """The body with the fields the host refuses dropped (warned) and those it spells its own way renamed."""
    for name in wire.get("unsupported") or ():
        if name in body:
            del body[name]
            _drop_for_host(name)
    renames: Mapping[str, str] = wire.get("renames") or {}
    if renames and any(name in body for name in renames):
        body = {renames.get(k, k): v for k, v in body.items()}
    return body


def build_chat_request(call: Call, wire: Mapping[str, Any], *, stream: bool) -> dict[str, Any]:
    """The chat-completions body for a `Call` (see `agentos_llm.provider.Call`)."""
    opts = call.options
    traits = call.traits
    model = call.model
    check_tool_names(opts.tools, traits.tool_name, _API)
    messages = [message_to_wire(m, traits.system_role) for m in fold_system(call.messages, traits, model=model)]
    body: dict[str, Any] = {"model": model, "messages": messages}
    chat_body: Mapping[str, Any] = wire.get("chat_body") or {}
    body.update(chat_body)
    if stream:
        body["stream"] = True
        if wire.get("stream_options", True):
            body["stream_options"] = {"include_usage": True}
    sampling = reconcile_sampling(traits, model=model, temperature=opts.temperature, top_p=opts.top_p)
    if sampling.temperature is not None:
        body["temperature"] = sampling.temperature
    if sampling.top_p is not None:
        body["top_p"] = sampling.top_p
    if opts.max_tokens is not None:
        body[str(wire.get("max_tokens_field", "max_tokens"))] = opts.max_tokens
    stop = limit_stop(opts.stop, traits.max_stop, model=model, api=_API)
    if stop:
        body["stop"] = stop
    if opts.seed is not None:
        body["seed"] = opts.seed
    if opts.user is not None:
        body["user"] = opts.user
    if opts.tools:
        body["tools"] = [_tool_to_wire(t) for t in opts.tools]
        if opts.parallel_tool_calls is not None and traits.parallel_tool_calls:
            if wire.get("parallel_tool_calls", True):
                body["parallel_tool_calls"] = opts.parallel_tool_calls
            else:
                _drop_for_host("parallel_tool_calls")
    choice = tool_choice_for(opts.tool_choice, bool(opts.tools), _API)
    if choice is not None:
        if choice in ("auto", "none", "required"):
            body["tool_choice"] = choice
        else:
            body["tool_choice"] = {"type": "function", "function": {"name": choice}}
    reasoning = plan_reasoning(opts, traits, model=model)
    if reasoning is not None and reasoning.effort is not None:
        body["reasoning_effort"] = reasoning.effort
    plan = call.structured
    if plan is not None:
        fmt = plan.format
        if call.structured_mode == "json_schema" and fmt.strict_schema is not None:
            schema: dict[str, Any] = {"name": fmt.name, "schema": fmt.strict_schema, "strict": True}
            if fmt.description:
                schema["description"] = fmt.description
            body["response_format"] = {"type": "json_schema", "json_schema": schema}
        else:
            if call.structured_mode == "json_object":
                body["response_format"] = {"type": "json_object"}
            role = traits.system_role if traits.system_prompt else "user"
            messages.insert(0, {"role": role, "content": fmt.instructions()})
    body = _host_fields(body, wire)
    if opts.extra:
        body.update(opts.extra)
    return body


def _effort_for_budget(budget: int) -> str:
    """OpenAI takes an effort, not a token budget: the nearest effort for a budget ("none" for 0).

    Whether the model takes that effort is `request_rules.plan_reasoning`'s concern."""
    return effort_for_budget(budget)


# ---------------------------------------------------------------------- embeddings and models


def build_embeddings_request(model: str, texts: list[str], dimensions: int | None,
                             wire: Mapping[str, Any]) -> dict[str, Any]:
    """The embeddings body; base64 vectors unless the host cannot send them."""
    body: dict[str, Any] = {"model": model, "input": texts}
    if wire.get("embeddings_base64", True):
        body["encoding_format"] = "base64"
    if dimensions is not None:
        if dimensions <= 0:
            raise InvalidRequestError("dimensions must be positive")
        body["dimensions"] = dimensions
    return _host_fields(body, wire)


