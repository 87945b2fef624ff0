"""Pure converters for the OpenAI Responses API (`POST /responses`, `POST /responses/input_tokens`).

Our types become a Responses body; a whole response body becomes our types (the stream assembler in
`agentos_llm.wire.openai_responses_stream` ends in the same item parsing, so both paths agree).
No I/O and no SDK import here.

Conventions worth knowing:

- System messages go to `instructions`; every other turn becomes `input` items.
- Output items that must go back verbatim on the next stateless turn (reasoning with its encrypted
  content, hosted tool calls, compaction, and the message / function-call items those must be
  followed by, with their ids) are kept on the assistant `Message` as `VendorBlock`s of the host's
  provider id, in output order. They go back only to that provider id; others drop them.
- Usage is already inclusive: `input_tokens` counts cached reads, `output_tokens` reasoning.
"""

from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequestError, MalformedResponseError, UnsupportedCapabilityError, error_from_response
from ..request_rules import check_tool_names, fold_system, plan_reasoning, reconcile_sampling, tool_choice_for
from ..response_pack import assistant_turn
from ..server_tools import CodeInterpreter, FileSearch, ImageGeneration, RemoteMCP, ServerTool, WebSearch
from ..types import (
    AudioPart,
    Citation,
    CompletionResponse,
    DocumentPart,
    FinishReason,
    ImagePart,
    Message,
    ServerToolCall,
    TextPart,
    ToolCall,
    ToolDefinition,
    Usage,
    VendorBlock,
    parse_tool_arguments,
)
from .common import arguments_json, merge_extra, token_count_field

if TYPE_CHECKING:  # annotations only: the pure converters do not load the I/O policy layer
    from ..provider import Call

_API = "the Responses API"

__all__ = [
    "COUNT_FIELDS",
    "build_count_request",
    "build_responses_request",
    "finish_reason",
    "input_items",
    "new_call_id",
    "parse_response",
    "parse_token_count",
    "response_from_items",
    "response_of",
    "server_tool_to_wire",
    "tool_call_of",
    "usage_from_wire",
]

COUNT_FIELDS = frozenset({
    "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "reasoning", "text",
    "previous_response_id", "conversation", "truncation", "personality",
})
"""The body fields `/responses/input_tokens` takes (the openai SDK's `input_tokens.count` parameters)."""

# Output items that are ours to parse into text and tool calls; every other item goes back verbatim.
_CALL_TYPES = frozenset({"function_call", "custom_tool_call"})
_NOT_SERVER_TOOLS = frozenset({"message", "reasoning", "compaction", *_CALL_TYPES})


def new_call_id() -> str:
    """An id for a tool call the host gave none (both the events and the response then quote it)."""
    return f"call_{uuid.uuid4().hex[:24]}"


def _drop(option: str, why: str, stacklevel: int = 6) -> None:
    warnings.warn(f"{option} left out of the request: {why}", UserWarning, stacklevel=stacklevel)


# ---------------------------------------------------------------------- request: input items


def _document_item(part: DocumentPart) -> dict[str, Any]:
    if part.text is not None:
        head = [f"{label}: {value}" for label, value in (("Document", part.title), ("Context", part.context))
                if value]
        return {"type": "input_text", "text": "\n".join([*head, part.text]) if head else part.text}
    item: dict[str, Any] = {"type": "input_file"}
    if part.data is not None:
        item["file_data"] = part.data_url
        # The API wants a file name beside inline data; it also tells the model what the file is.
        item["filename"] = part.filename or part.title or ("document.pdf" if part.mime == "application/pdf"
                                                           else "document.txt")
    elif part.url is not None:
        item["file_url"] = part.url
    else:
        item["file_id"] = part.file_id
    if part.filename and "filename" not in item:
        item["filename"] = part.filename
    return item


def _user_content(content: str | list[Any] | None, provider: str) -> str | list[dict[str, Any]]:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            parts.append({"type": "input_text", "text": part.text})
        elif isinstance(part, ImagePart):
            parts.append({"type": "input_image", "image_url": part.data_url, "detail": part.detail or "auto"})
        elif isinstance(part, DocumentPart):
            parts.append(_document_item(part))
        elif isinstance(part, AudioPart):
            raise UnsupportedCapabilityError(provider, "audio", "the Responses API takes no audio input")
    return parts


def _arguments_text(call: ToolCall) -> str:
    return arguments_json(call)


def _call_item(call: ToolCall, recorded: Mapping[str, Any] | None) -> dict[str, Any]:
    """A tool call as an input item; with the recorded output item, its item id (and kind) too."""
    if recorded is not None and recorded.get("type") == "custom_tool_call":
        item: dict[str, Any] = {"type": "custom_tool_call", "call_id": call.id, "name": call.name,
                                "input": call.arguments_raw if call.arguments_raw is not None
                                else _arguments_text(call)}
    else:
        item = {"type": "function_call", "call_id": call.id, "name": call.name, "arguments": _arguments_text(call)}
    if recorded is not None and isinstance(recorded.get("id"), str):
        item["id"] = recorded["id"]
    return item


def _message_text(item: Mapping[str, Any]) -> str:
    content = item.get("content")
    if not isinstance(content, list):
        return ""
    return "".join(p.get("text") or "" for p in content if isinstance(p, Mapping) and p.get("type") == "output_text")


def _assistant_items(msg: Message, vendor: str) -> list[dict[str, Any]]:
    """One assistant turn as input items.

    Our own vendor blocks go back in their output order, the recorded message and call items with
    their ids (a reasoning item must be followed by the item it led to). Text or calls the blocks do
    not carry (an edited turn, or a turn made elsewhere) follow as a plain assistant message and
    `function_call` items; a reasoning item whose following item can no longer be sent is dropped.
    """
    ours = [b for b in msg.vendor_blocks if b.provider == vendor and b.data]
    text = msg.text
    recorded_messages = [b.data for b in ours if b.type == "message"]
    messages_fit = bool(recorded_messages) and "".join(_message_text(m) for m in recorded_messages) == text
    calls = {c.id: c for c in msg.tool_calls}
    sent_calls: set[str] = set()
    slots: list[dict[str, Any] | None] = []  # one per block; None where a block is not sent
    for block in ours:
        item: dict[str, Any] | None
        if block.type == "message":
            item = dict(block.data) if messages_fit else None
        elif block.type in _CALL_TYPES:
            call = calls.get(str(block.data.get("call_id")))
            item = None
            if call is not None and call.id not in sent_calls:
                sent_calls.add(call.id)
                item = _call_item(call, block.data)
        else:
            item = dict(block.data)
        slots.append(item)
    kept: list[dict[str, Any]] = []
    followed = False
    for item in reversed(slots):
        if item is None:
            followed = False
        elif item.get("type") != "reasoning" or followed:
            kept.append(item)
            followed = True
        # else: the item it led to is gone (or never came), and the API refuses a reasoning item alone
    items = kept[::-1]
    if text and not messages_fit:
        items.append({"role": "assistant", "content": text})
    items.extend(_call_item(c, None) for c in msg.tool_calls if c.id not in sent_calls)
    return items


def input_items(messages: Sequence[Message], vendor: str) -> tuple[list[str], list[dict[str, Any]]]:
    """(system texts, input items) for a history; `vendor` is the provider id whose blocks go back."""
    system: list[str] = []
    items: list[dict[str, Any]] = []
    custom_calls: set[str] = set()
    for msg in messages:
        if msg.role == "system":
            if msg.text:
                system.append(msg.text)
        elif msg.role == "user":
            items.append({"role": "user", "content": _user_content(msg.content, vendor)})
        elif msg.role == "assistant":
            turn = _assistant_items(msg, vendor)
            custom_calls.update(str(i.get("call_id")) for i in turn if i.get("type") == "custom_tool_call")
            items.extend(turn)
        else:
            kind = "custom_tool_call_output" if msg.tool_call_id in custom_calls else "function_call_output"
            items.append({"type": kind, "call_id": msg.tool_call_id, "output": msg.text})
    return system, items


# ---------------------------------------------------------------------- request: tools and options


def _function_tool(tool: ToolDefinition) -> dict[str, Any]:
    # The Responses API makes tools strict by default, which refuses ordinary schemas: off unless asked.
    out: dict[str, Any] = {"type": "function", "name": tool.name}
    if tool.description:
        out["description"] = tool.description
    out["parameters"] = tool.parameters
    out["strict"] = tool.strict is True
    return out


def _present(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def server_tool_to_wire(tool: ServerTool, provider: str = "openai") -> dict[str, Any]:
    """One server tool as a Responses tool (`provider` is named in errors)."""
    if isinstance(tool, WebSearch):
        if tool.max_uses is not None:
            _drop("web search max_uses", "the Responses API has no per-tool cap", stacklevel=7)
        location = {"type": "approximate", **tool.user_location} if tool.user_location else None
        filters = {"allowed_domains": tool.allowed_domains} if tool.allowed_domains else None
        return _present(type="web_search", search_context_size=tool.search_context_size, filters=filters,
                        user_location=location)
    if isinstance(tool, FileSearch):
        return _present(type="file_search", vector_store_ids=tool.vector_store_ids,
                        max_num_results=tool.max_num_results, filters=tool.filters)
    if isinstance(tool, CodeInterpreter):
        return {"type": "code_interpreter", "container": tool.container}
    if isinstance(tool, ImageGeneration):
        return _present(type="image_generation", size=tool.size, quality=tool.quality,
                        output_format=tool.output_format, background=tool.background)
    if isinstance(tool, RemoteMCP):
        if not (tool.server_url or tool.connector_id):
            raise InvalidRequestError(f"MCP server {tool.server_label!r} needs a server_url or a connector_id",
                                      provider=provider)
        return _present(type="mcp", server_label=tool.server_label, server_url=tool.server_url,
                        connector_id=tool.connector_id, allowed_tools=tool.allowed_tools,
                        require_approval=tool.require_approval, headers=tool.headers,
                        server_description=tool.server_description)
    raise UnsupportedCapabilityError(provider, "server tools", f"unknown server tool {tool!r}")


def _reasoning(call: Call) -> dict[str, Any] | None:
    opts = call.options
    out: dict[str, Any] = {}
    # Efforts the model takes, off where it can be turned off: the profile's rules (request_rules).
    plan = plan_reasoning(opts, call.traits, model=call.model)
    if plan is not None and plan.effort is not None:
        out["effort"] = plan.effort
    if opts.reasoning_summary is not None:
        if call.traits.reasoning:
            out["summary"] = opts.reasoning_summary
        else:
            _drop("reasoning_summary", f"model {call.model!r} is not a reasoning model", stacklevel=7)
    return out or None


def build_responses_request(call: Call, wire: Mapping[str, Any], *, provider: str, stream: bool,
                            host_fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Responses body for a `Call` (see `agentos_llm.provider.Call`).

    `provider` is the host's provider id (whose vendor blocks go back), `wire` its quirks, and
    `host_fields` body fields the host's row configuration adds (e.g. OpenRouter's provider routing).
    """
    opts = call.options
    traits = call.traits
    model = call.model
    if opts.stop:
        raise InvalidRequestError("the Responses API has no stop sequences; leave `stop` out or use the chat API",
                                  provider=provider)
    check_tool_names(opts.tools, traits.tool_name, _API, provider=provider)
    system, items = input_items(fold_system(call.messages, traits, model=model), provider)
    body: dict[str, Any] = {"model": model, "input": items}
    if host_fields:
        body.update(host_fields)
    plan = call.structured
    if plan is not None:
        fmt = plan.format
        if call.structured_mode == "json_schema" and fmt.strict_schema is not None:
            spec: dict[str, Any] = {"type": "json_schema", "name": fmt.name, "schema": fmt.strict_schema,
                                    "strict": True}
            if fmt.description:
                spec["description"] = fmt.description
            body["text"] = {"format": spec}
        else:
            if call.structured_mode == "json_object":
                body["text"] = {"format": {"type": "json_object"}}
            system.append(fmt.instructions())
    if system:
        body["instructions"] = "\n\n".join(system)
    if stream:
        body["stream"] = True
    body["store"] = opts.store is True
    if opts.store is not True and traits.reasoning:
        # Not stored: the reasoning can only go back to the next turn as its encrypted content.
        body["include"] = ["reasoning.encrypted_content"]
    if opts.previous_response_id is not None:
        body["previous_response_id"] = opts.previous_response_id
    sampling = reconcile_sampling(traits, model=model, temperature=opts.temperature, top_p=opts.top_p)
    if sampling.temperature is not None:
        body["temperature"] = sampling.temperature
    if sampling.top_p is not None:
        body["top_p"] = sampling.top_p
    if opts.seed is not None:
        _drop("seed", "the Responses API has no seed")
    if opts.top_k is not None:
        _drop("top_k", "the Responses API has no top_k")
    if opts.max_tokens is not None:
        body["max_output_tokens"] = opts.max_tokens
    if opts.user is not None:
        body["user"] = opts.user
    tools = [_function_tool(t) for t in opts.tools or ()]
    for server_tool in opts.server_tools or ():  # a loop, not a comprehension: warnings point at the caller
        tools.append(server_tool_to_wire(server_tool, provider))
    if tools:
        body["tools"] = tools
        if opts.parallel_tool_calls is not None and traits.parallel_tool_calls:
            if wire.get("parallel_tool_calls", True):
                body["parallel_tool_calls"] = opts.parallel_tool_calls
            else:
                _drop("parallel_tool_calls", "this host does not accept it")
    choice = tool_choice_for(opts.tool_choice, bool(tools), _API)
    if choice is not None:
        if choice in ("auto", "none", "required"):
            body["tool_choice"] = choice
        else:
            body["tool_choice"] = {"type": "function", "name": choice}
    reasoning = _reasoning(call)
    if reasoning:
        body["reasoning"] = reasoning
    if opts.extra:
        merge_extra(body, opts.extra)
    return body


def build_count_request(call: Call, wire: Mapping[str, Any], *, provider: str,
                        host_fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The `/responses/input_tokens` body: the request `generate` would send, minus what only shapes the answer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # options dropped from a count are not the caller's concern here
        body = build_responses_request(call, wire, provider=provider, stream=False, host_fields=host_fields)
    return {k: v for k, v in body.items() if k in COUNT_FIELDS}


def parse_token_count(payload: Any, *, provider: str) -> int:
    """The `input_tokens` of a `/responses/input_tokens` answer."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    if payload.get("error"):
        raise error_from_response(None, payload, provider=provider)
    return token_count_field(payload, "input_tokens", provider=provider)


# ---------------------------------------------------------------------- response


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_from_wire(u: Any) -> Usage:
    """Usage of a response: input already counts cached tokens, output reasoning tokens."""
    if not isinstance(u, Mapping):
        return Usage()
    inp = u.get("input_tokens_details")
    out = u.get("output_tokens_details")
    cost = u.get("cost")
    return Usage(
        input_tokens=_int(u.get("input_tokens")),
        output_tokens=_int(u.get("output_tokens")),
        total_tokens=_int(u.get("total_tokens")),
        cached_input_tokens=_int(inp.get("cached_tokens")) if isinstance(inp, Mapping) else 0,
        reasoning_tokens=_int(out.get("reasoning_tokens")) if isinstance(out, Mapping) else 0,
        cost_usd=float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None,
    )


def finish_reason(status: Any, incomplete_reason: Any, has_tool_calls: bool) -> tuple[FinishReason | None, str | None]:
    """(normalized, raw) finish reason of a response status; raw is the incomplete reason when incomplete."""
    if not isinstance(status, str) or not status:
        return (FinishReason.TOOL_CALLS if has_tool_calls else None), None
    if status == "incomplete":
        reason = incomplete_reason if isinstance(incomplete_reason, str) and incomplete_reason else "incomplete"
        if reason == "max_output_tokens":
            return FinishReason.LENGTH, reason
        if reason == "content_filter":
            return FinishReason.CONTENT_FILTER, reason
        return FinishReason.OTHER, reason
    if status == "completed":
        return (FinishReason.TOOL_CALLS if has_tool_calls else FinishReason.STOP), status
    if status == "failed":
        return FinishReason.ERROR, status
    return FinishReason.OTHER, status  # cancelled, and whatever a host sends besides


def _citation(annotation: Mapping[str, Any], offset: int) -> Citation:
    def at(key: str) -> int | None:
        value = annotation.get(key)
        return value + offset if isinstance(value, int) and not isinstance(value, bool) else None

    title = annotation.get("title") or annotation.get("filename")
    start = at("start_index")
    return Citation(
        type=str(annotation.get("type") or "citation"),
        url=annotation.get("url") if isinstance(annotation.get("url"), str) else None,
        title=title if isinstance(title, str) else None,
        file_id=annotation.get("file_id") if isinstance(annotation.get("file_id"), str) else None,
        start=start if start is not None else at("index"),
        end=at("end_index"),
    )


def _reasoning_texts(item: Mapping[str, Any]) -> list[str]:
    texts = [p.get("text") for p in item.get("summary") or () if isinstance(p, Mapping)]
    texts += [p.get("text") for p in item.get("content") or ()
              if isinstance(p, Mapping) and p.get("type") == "reasoning_text"]
    return [t for t in texts if isinstance(t, str) and t]


def tool_call_of(item: Mapping[str, Any]) -> ToolCall:
    """The tool call of a `function_call` or `custom_tool_call` item (its id is the `call_id`)."""
    call_id = item.get("call_id") or item.get("id") or new_call_id()
    if item.get("type") == "custom_tool_call":
        raw = item.get("input")
        return ToolCall(id=str(call_id), name=str(item.get("name") or ""), arguments={},
                        arguments_raw=raw if isinstance(raw, str) else json.dumps(raw))
    args, args_raw = parse_tool_arguments(item.get("arguments"))
    return ToolCall(id=str(call_id), name=str(item.get("name") or ""), arguments=args, arguments_raw=args_raw)


def _server_tool_call(item: Mapping[str, Any]) -> ServerToolCall:
    kind = str(item.get("type"))
    name = item.get("name") if isinstance(item.get("name"), str) else None
    if name is None and kind == "mcp_list_tools":
        name = item.get("server_label") if isinstance(item.get("server_label"), str) else None
    arguments: dict[str, Any] = {}
    if "arguments" in item:
        arguments, raw = parse_tool_arguments(item.get("arguments"))
        if raw is not None:
            arguments = {"input": raw}
    elif isinstance(item.get("action"), Mapping):
        arguments = {k: v for k, v in item["action"].items() if k != "sources"}
    elif "code" in item:
        arguments = _present(code=item.get("code"), container_id=item.get("container_id"))
    elif "queries" in item:
        arguments = {"queries": item.get("queries")}
    if kind.startswith("mcp_") and isinstance(item.get("server_label"), str):
        arguments.setdefault("server_label", item["server_label"])
    result: Any = None
    for key in ("results", "outputs", "output", "result", "tools"):
        if item.get(key) is not None:
            result = item[key]
            break
    else:
        action = item.get("action")
        if isinstance(action, Mapping) and action.get("sources") is not None:
            result = action["sources"]
        elif item.get("error") is not None:
            result = {"error": item["error"]}
    status = item.get("status")
    return ServerToolCall(id=item.get("id") if isinstance(item.get("id"), str) else None, type=kind,
                          name=name or kind, status=status if isinstance(status, str) else None,
                          arguments=arguments, result=result)


def response_from_items(items: Iterable[Mapping[str, Any]], *, response_id: Any, model: str, status: Any,
                        incomplete_reason: Any, usage: Any, provider: str, vendor: str, raw: Any = None,
                        upstream: Any = None) -> CompletionResponse:
    """The whole response from finished output items (shared by the whole and streamed paths)."""
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCall] = []
    server: list[ServerToolCall] = []
    citations: list[Citation] = []
    blocks: list[VendorBlock] = []
    offset = 0
    for item in items:
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or ():
                if not isinstance(part, Mapping) or part.get("type") != "output_text":
                    continue  # a refusal is not answer text
                text = part.get("text") or ""
                citations.extend(_citation(a, offset) for a in part.get("annotations") or ()
                                 if isinstance(a, Mapping))
                texts.append(text)
                offset += len(text)
        elif kind in _CALL_TYPES:
            calls.append(tool_call_of(item))
        elif kind == "reasoning":
            reasoning.extend(_reasoning_texts(item))
        elif kind not in _NOT_SERVER_TOOLS:
            server.append(_server_tool_call(item))
        blocks.append(VendorBlock(provider=vendor, type=str(kind), data=dict(item)))
    text = "".join(texts)
    thought = "\n\n".join(reasoning) or None
    reason, raw_finish = finish_reason(status, incomplete_reason, bool(calls))
    return CompletionResponse(
        id=response_id if isinstance(response_id, str) else None,
        provider=provider,
        model=model,
        text=text,
        reasoning=thought,
        tool_calls=calls,
        finish_reason=reason,
        raw_finish_reason=raw_finish,
        usage=usage_from_wire(usage),
        message=assistant_turn(text, calls, thought, blocks),
        upstream=upstream if isinstance(upstream, str) else None,
        server_tool_calls=server,
        citations=citations,
        raw=raw,
    )


def _incomplete_reason(payload: Mapping[str, Any]) -> Any:
    details = payload.get("incomplete_details")
    return details.get("reason") if isinstance(details, Mapping) else None


def response_of(payload: Mapping[str, Any], items: Iterable[Mapping[str, Any]], *, provider: str, vendor: str,
                model: str, raw: Any = None) -> CompletionResponse:
    """`response_from_items` with the facts of a response object (id, model, status, usage)."""
    return response_from_items(items, response_id=payload.get("id"), model=payload.get("model") or model,
                               status=payload.get("status"), incomplete_reason=_incomplete_reason(payload),
                               usage=payload.get("usage"), provider=provider, vendor=vendor, raw=raw,
                               upstream=payload.get("provider"))


def parse_response(payload: Any, *, provider: str, model: str, vendor: str | None = None) -> CompletionResponse:
    """A whole response as ours (`model` is the requested one, used when none is served).

    A `failed` response is returned with finish reason `error`; a body that is only an error is raised.
    `vendor` is the provider id the vendor blocks belong to (default: `provider`).
    """
    if not isinstance(payload, Mapping):
        raise MalformedResponseError(f"expected a JSON object, got {type(payload).__name__}", provider=provider)
    output = payload.get("output")
    if payload.get("error") and not isinstance(payload.get("status"), str):
        raise error_from_response(None, payload, provider=provider)
    if output is None and isinstance(payload.get("status"), str):
        output = []
    if not isinstance(output, list):
        raise MalformedResponseError("the response has no output list", provider=provider)
    items = [i for i in output if isinstance(i, Mapping)]
    return response_of(payload, items, provider=provider, vendor=vendor or provider, model=model, raw=payload)
