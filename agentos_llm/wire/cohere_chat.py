"""Pure converters for Cohere's v2 Chat API (`POST /v2/chat`): requests, whole responses and errors.

Our types become a v2 chat body; a response body becomes our types (stream events: `cohere_stream`;
embeddings, reranking, token counting and model listing: `cohere_endpoints`). No I/O and no SDK import here.

Conventions worth knowing:

- `tool_plan` (the model's plan before calling tools) is not answer text and not reasoning: it is kept on
  the assistant message as `VendorBlock(provider="cohere", type="tool_plan")` and goes back in that turn.
- `thinking` content parts are reasoning (`response.reasoning`); each is also kept as
  `VendorBlock(provider="cohere", type="thinking")` and sent back, as Cohere documents, in its turn.
- Text documents (`DocumentPart(text=...)`) travel as the request's `documents` (ids `doc_0`, `doc_1` ...,
  in order), and the citations into them come back as `response.citations` with `document_index`.
- Usage: `usage.tokens` (what the model processed; `cached_tokens` is part of `input_tokens`), falling
  back to `usage.billed_units`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import (
    InvalidRequestError,
    MalformedResponseError,
    ProviderError,
    QuotaExceededError,
    UnsupportedCapabilityError,
    error_from_response,
)
from ..request_rules import (
    adapted,
    check_tool_names,
    limit_stop,
    plan_reasoning,
    reconcile_sampling,
    tool_choice_for,
)
from ..response_pack import assistant_turn
from ..types import (
    Citation,
    CompletionResponse,
    DocumentPart,
    FinishReason,
    ImagePart,
    Message,
    TextPart,
    ToolCall,
    Usage,
    VendorBlock,
    parse_tool_arguments,
)
from .common import arguments_object, compact_json, merge_extra

if TYPE_CHECKING:  # annotations only: the pure converters do not load the I/O policy layer
    from ..provider import Call

__all__ = [
    "PROVIDER",
    "assistant_response",
    "build_chat_request",
    "citations_from_wire",
    "error_from_cohere",
    "finish_reason",
    "messages_to_wire",
    "parse_chat_response",
    "raise_error_body",
    "response_schema",
    "structured_tool_name",
    "thinking_config",
    "usage_from_wire",
]

PROVIDER = "cohere"
_API = "the Cohere v2 Chat API"
_P_RANGE = (0.01, 0.99)  # `p`: "min value of 0.01, max value of 0.99" (v2 chat reference)
_K_MAX = 500  # `k`: "min value of 0, max value of 500"

_FINISH = {
    "COMPLETE": FinishReason.STOP,
    "STOP_SEQUENCE": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.LENGTH,
    "ERROR_LIMIT": FinishReason.LENGTH,
    "TOOL_CALL": FinishReason.TOOL_CALLS,
    "ERROR": FinishReason.ERROR,
    "TIMEOUT": FinishReason.ERROR,
    "ERROR_TOXIC": FinishReason.CONTENT_FILTER,
    "USER_CANCEL": FinishReason.OTHER,
}
_DOC_ID = re.compile(r"^doc_(\d+)$")
# Monthly trial-key limits come back as 429 too, but waiting a minute does not lift them.
_MONTHLY = re.compile(r"(/\s*|per\s+)month|monthly", re.IGNORECASE)


def finish_reason(raw: str | None, has_tool_calls: bool) -> FinishReason | None:
    """The normalized finish reason for Cohere's `finish_reason`; unknown values are `other`."""
    if not raw:
        return FinishReason.TOOL_CALLS if has_tool_calls else None
    reason = _FINISH.get(raw, FinishReason.OTHER)
    if has_tool_calls and reason is FinishReason.STOP:
        return FinishReason.TOOL_CALLS
    return reason


# ---------------------------------------------------------------------- request


def _document_text(part: DocumentPart) -> str:
    """The text of a document Cohere can take (inline text, or base64 plain text); others are refused."""
    if part.text is not None:
        return part.text
    if part.data is not None and part.mime.startswith("text/"):
        try:
            return base64.b64decode(part.data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise UnsupportedCapabilityError(PROVIDER, "documents",
                                             "the document's data is not base64 UTF-8 text") from None
    raise UnsupportedCapabilityError(
        PROVIDER, "documents",
        f"{_API} takes text documents only (DocumentPart(text=...) or base64 text/plain data), not "
        f"{'a URL' if part.url else 'a file id' if part.file_id else part.mime}")


def _document(part: DocumentPart, index: int) -> dict[str, Any]:
    data: dict[str, Any] = {"text": _document_text(part)}
    title = part.title or part.filename
    if title:
        data["title"] = title
    if part.context:
        data["context"] = part.context
    return {"id": f"doc_{index}", "data": data}


def _user_content(msg: Message, documents: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """A user turn's content; its documents go to the request's `documents`."""
    content = msg.content
    if content is None or isinstance(content, str):
        return content or ""
    items: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            if part.text:
                items.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            image: dict[str, Any] = {"url": part.data_url}
            if part.detail:
                image["detail"] = part.detail
            items.append({"type": "image_url", "image_url": image})
        elif isinstance(part, DocumentPart):
            documents.append(_document(part, len(documents)))
        else:
            raise UnsupportedCapabilityError(PROVIDER, "audio", f"{_API} takes no audio")
    if all(i["type"] == "text" for i in items):
        return "".join(i["text"] for i in items) if len(items) <= 1 else items
    return items


def _arguments_json(call: ToolCall) -> str:
    return compact_json(arguments_object(call, provider=PROVIDER), ensure_ascii=False)


def _assistant_message(msg: Message) -> dict[str, Any] | None:
    # Our own thinking and tool plan go back in their turn; other vendors' reasoning does not.
    own = [b for b in msg.vendor_blocks if b.provider == PROVIDER]
    items: list[dict[str, Any]] = [
        {"type": "thinking", "thinking": str(b.data.get("thinking") or "")} for b in own if b.type == "thinking"]
    plan = next((str(b.data.get("tool_plan") or "") for b in own if b.type == "tool_plan"), "")
    text = msg.text
    out: dict[str, Any] = {"role": "assistant"}
    if msg.tool_calls:
        # Text beside tool calls is what Cohere calls the tool plan (a history made elsewhere has it as text).
        if not plan and text:
            plan, text = text, ""
        out["tool_calls"] = [{"id": c.id, "type": "function",
                              "function": {"name": c.name, "arguments": _arguments_json(c)}}
                             for c in msg.tool_calls]
        if plan:
            out["tool_plan"] = plan
    if text:
        items.append({"type": "text", "text": text})
    if items:
        out["content"] = items
    return out if len(out) > 1 else None


def _tool_message(msg: Message) -> dict[str, Any]:
    content = msg.content
    wire: str | list[dict[str, Any]]
    if isinstance(content, list):
        wire = []
        for part in content:
            if isinstance(part, TextPart):
                wire.append({"type": "text", "text": part.text})
            elif isinstance(part, DocumentPart):
                wire.append({"type": "document", "document": {"data": _document(part, 0)["data"]}})
            else:
                raise UnsupportedCapabilityError(PROVIDER, "tool results", f"{_API} takes text tool results")
    else:
        wire = content or ""
    return {"role": "tool", "tool_call_id": msg.tool_call_id, "content": wire}


def messages_to_wire(messages: Sequence[Message]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(messages, documents) in v2 chat shape.

    System messages, wherever they are, become one system message first (their texts joined by blank
    lines); a turn left with nothing to send is skipped.
    """
    system = [m.text for m in messages if m.role == "system" and m.text]
    out: list[dict[str, Any]] = [{"role": "system", "content": "\n\n".join(system)}] if system else []
    documents: list[dict[str, Any]] = []
    for msg in messages:
        if msg.role == "user":
            content = _user_content(msg, documents)
            if content:
                out.append({"role": "user", "content": content})
        elif msg.role == "assistant":
            turn = _assistant_message(msg)
            if turn is not None:
                out.append(turn)
        elif msg.role == "tool":
            out.append(_tool_message(msg))
    return out, documents


def _tool_to_wire(name: str, description: str, parameters: dict[str, Any] | None) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name, "parameters": parameters or {"type": "object"}}
    if description:
        function["description"] = description
    return {"type": "function", "function": function}


# The JSON schema subset `response_format.json_schema` takes (Structured Outputs, "Schema constraints" and
# "Unsupported schema features", https://docs.cohere.com/docs/structured-outputs): the top level is an object,
# every object names at least one required field; no anyOf/allOf/oneOf/not, no numeric ranges, no array or
# string length limits, no uniqueItems, no additionalProperties, formats date-time/uuid/date/time only.
_DESCRIBED = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems",
              "minLength", "maxLength", "uniqueItems", "pattern", "minProperties", "maxProperties")
_FORMATS = frozenset({"date-time", "uuid", "date", "time"})


class _Unsupported(Exception):
    pass


def _non_null(node: dict[str, Any]) -> dict[str, Any]:
    """`X | None` (an optional field's schema) as X: the field is left out rather than sent as null."""
    for key in ("anyOf", "oneOf"):
        if key in node:
            rest = {k: v for k, v in node.items() if k != key}
            arms = [a for a in node[key] if not (isinstance(a, dict) and a.get("type") == "null")]
            if len(arms) != 1 or not isinstance(arms[0], dict):
                raise _Unsupported
            node = {**arms[0], **rest}
    if isinstance(node.get("allOf"), list):
        arms = node["allOf"]
        if len(arms) != 1 or not isinstance(arms[0], dict):
            raise _Unsupported
        node = {**arms[0], **{k: v for k, v in node.items() if k != "allOf"}}
    kind = node.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        if len(kinds) != 1:
            raise _Unsupported
        node = {**node, "type": kinds[0]}
    return node


def _schema_node(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    node = _non_null(node)
    if "not" in node or isinstance(node.get("additionalProperties"), dict) or node.get("additionalProperties"):
        raise _Unsupported
    out: dict[str, Any] = {}
    described: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {k: _schema_node(v) for k, v in value.items()}
        elif key == "items":
            out[key] = _schema_node(value)
        elif key in _DESCRIBED or (key == "format" and value not in _FORMATS):
            described[key] = value
        elif key not in ("additionalProperties", "default"):
            out[key] = value
    if described:
        note = "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in described.items()) + "}"
        out["description"] = f"{out['description']}\n\n{note}" if out.get("description") else note
    if out.get("type") == "object" and not out.get("required"):
        raise _Unsupported
    return out


def response_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The schema as `response_format.json_schema` takes it, or None when it cannot be expressed there.

    Optional fields lose their `null` branch (they are left out instead); constraints Cohere does not
    enforce move into the description, so the model still sees them (our validation checks them).
    """
    try:
        out = _schema_node(schema)
    except _Unsupported:
        return None
    return out if isinstance(out, dict) and out.get("type") == "object" else None


def structured_tool_name(call: Call) -> str | None:
    """The name of the tool that carries a structured answer ("tool" mode), else None."""
    plan = call.structured
    if plan is None or call.structured_mode != "tool":
        return None
    name: str = plan.format.name
    taken = {t.name for t in call.options.tools or ()}
    while name in taken:
        name = f"{name}_output"[:64]
    return name


def thinking_config(call: Call) -> dict[str, Any] | None:
    """The `thinking` object for a call (None: leave it out, the model's default)."""
    plan = plan_reasoning(call.options, call.traits, model=call.model)
    if plan is None:
        return None
    if plan.off:
        return {"type": "disabled"}
    if plan.budget is not None:
        return {"type": "enabled", "token_budget": plan.budget}
    return {"type": "enabled"}


def _sampling(call: Call, body: dict[str, Any], thinks: bool) -> None:
    opts = call.options
    sampling = reconcile_sampling(call.traits, model=call.model, temperature=opts.temperature, top_p=opts.top_p,
                                  top_k=opts.top_k, thinking=thinks)
    if sampling.temperature is not None:
        body["temperature"] = sampling.temperature
    if sampling.top_p is not None:
        low, high = _P_RANGE
        p = min(max(sampling.top_p, low), high)
        if p != sampling.top_p:
            adapted(f"top_p {sampling.top_p} sent as p={p}: Cohere takes p from {low} to {high}")
        body["p"] = p
    if sampling.top_k is not None:
        if sampling.top_k > _K_MAX:
            adapted(f"top_k {sampling.top_k} sent as k={_K_MAX}: Cohere takes k up to {_K_MAX}")
        body["k"] = min(sampling.top_k, _K_MAX)


def _tools_and_choice(call: Call, body: dict[str, Any], answer_tool: str | None) -> None:
    opts = call.options
    check_tool_names(opts.tools, call.traits.tool_name, _API, provider=PROVIDER)
    tools = list(opts.tools or ())
    choice = tool_choice_for(opts.tool_choice, bool(tools), _API)
    if choice not in (None, "auto", "none") and not call.traits.tool_choice:
        raise InvalidRequestError(f"model {call.model!r} takes no tool_choice on {_API} ({choice!r}); use "
                                  "tool_choice='auto' or leave it out", provider=PROVIDER)
    if choice == "none" and not call.traits.tool_choice:
        # The model cannot be told not to call tools: without any declared it cannot, unless the history needs them.
        if any(m.tool_calls or m.role == "tool" for m in call.messages):
            adapted(f"tool_choice 'none' left out of the request: model {call.model!r} takes no tool_choice, and "
                    "the history has tool calls, so the tools stay declared")
        else:
            tools = []
        choice = None
    if choice not in (None, "auto", "none", "required"):
        # Cohere cannot name the tool to call: offering only that tool, with a call required, does the same.
        tools = [t for t in tools if t.name == choice]
        choice = "required"
    wire = [_tool_to_wire(t.name, t.description, t.parameters) for t in tools]
    strict = bool(tools) and all(t.strict for t in tools)
    plan = call.structured
    if answer_tool is not None and plan is not None:
        # The answer is the arguments of a tool only it may call, as for a named tool choice.
        fmt = plan.format
        wire = [_tool_to_wire(answer_tool, fmt.description or "Give your answer by calling this tool: its "
                              "arguments are the answer.", fmt.schema)]
        choice, strict = ("required" if call.traits.tool_choice else None), False
    if wire:
        body["tools"] = wire
        if strict:
            body["strict_tools"] = True
    if choice == "required":
        body["tool_choice"] = "REQUIRED"
    elif choice == "none" and wire:
        body["tool_choice"] = "NONE"
    if opts.parallel_tool_calls is False and wire:
        adapted("parallel_tool_calls=False left out of the request: Cohere has no such setting")


def _structured(call: Call, body: dict[str, Any], messages: list[dict[str, Any]]) -> None:
    plan = call.structured
    if plan is None or call.structured_mode == "tool":
        return
    fmt = plan.format
    mode = call.structured_mode
    if mode in ("json_schema", "json_object") and ("tools" in body or "documents" in body):
        adapted(f"structured output asked in the prompt instead of response_format ({mode}): Cohere takes no "
                "response_format together with tools or documents")
        mode = "prompt"
    if mode == "json_schema":
        schema = response_schema(fmt.schema)
        if schema is not None:
            body["response_format"] = {"type": "json_object", "json_schema": schema}
            return
        adapted(f"the schema of {fmt.name} cannot be a Cohere response_format schema (unions, free-form "
                "objects or objects without required fields): JSON output is asked for with the schema in the prompt")
        mode = "json_object"
    if mode == "json_object":
        body["response_format"] = {"type": "json_object"}
    # "json_object" and "prompt": the schema is spelled out in the system message.
    if messages and messages[0]["role"] == "system":
        messages[0]["content"] = f"{messages[0]['content']}\n\n{fmt.instructions()}"
    else:
        messages.insert(0, {"role": "system", "content": fmt.instructions()})


def build_chat_request(call: Call) -> dict[str, Any]:
    """The v2 chat body for a `Call` (see `agentos_llm.provider.Call`)."""
    opts = call.options
    messages, documents = messages_to_wire(call.messages)
    body: dict[str, Any] = {"model": call.model, "messages": messages, "stream": call.stream}
    if documents:
        body["documents"] = documents
    _tools_and_choice(call, body, structured_tool_name(call))
    _structured(call, body, messages)
    thinking = thinking_config(call)
    if thinking is not None:
        body["thinking"] = thinking
    _sampling(call, body, thinking is not None and thinking["type"] == "enabled")
    if opts.max_tokens is not None:
        body["max_tokens"] = opts.max_tokens
    stop = limit_stop(opts.stop, call.traits.max_stop, model=call.model, api=_API, provider=PROVIDER)
    if stop:
        body["stop_sequences"] = stop
    if opts.seed is not None:
        body["seed"] = opts.seed
    if opts.user is not None:
        adapted("user left out of the request: Cohere has no end-user field")
    if opts.extra:
        merge_extra(body, opts.extra)
    return body


# ---------------------------------------------------------------------- response


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: Any) -> int:
    # The API documents its counts as numbers: 12 and 12.0 both occur.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return int(value)


def usage_from_wire(u: Any) -> Usage:
    """Usage from `usage.tokens` (else `usage.billed_units`); `cached_tokens` is part of the input."""
    if not isinstance(u, Mapping):
        return Usage()
    counts = u.get("tokens")
    if not isinstance(counts, Mapping):
        counts = u.get("billed_units")
    if not isinstance(counts, Mapping):
        counts = {}
    return Usage(input_tokens=_int(counts.get("input_tokens")), output_tokens=_int(counts.get("output_tokens")),
                 cached_input_tokens=_int(u.get("cached_tokens")))


def citations_from_wire(items: Any) -> list[Citation]:
    """Citations of the answer text, one per cited source (`type` is the source's: "document" or "tool")."""
    out: list[Citation] = []
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, Mapping) or item.get("type") not in (None, "TEXT_CONTENT"):
            continue  # citations of the thinking or of the tool plan are not about the answer
        where = {"cited_text": item.get("text") if isinstance(item.get("text"), str) else None,
                 "start": item.get("start") if isinstance(item.get("start"), int) else None,
                 "end": item.get("end") if isinstance(item.get("end"), int) else None}
        sources = [s for s in item.get("sources") or () if isinstance(s, Mapping)]
        if not sources:
            out.append(Citation(type="citation", **where))
        for source in sources:
            doc = _mapping(source.get("document"))
            match = _DOC_ID.match(str(source.get("id") or doc.get("id") or ""))
            out.append(Citation(
                type=str(source.get("type") or "document"), **where,
                title=doc.get("title") if isinstance(doc.get("title"), str) else None,
                url=doc.get("url") if isinstance(doc.get("url"), str) else None,
                document_index=int(match.group(1)) if match else None))
    return out


def assistant_response(*, content: Sequence[Mapping[str, Any]], tool_calls: Sequence[Mapping[str, Any]],
                       tool_plan: str | None, citations: Any, response_id: str | None, raw_finish: Any,
                       usage: Any, provider: str, model: str, structured_tool: str | None,
                       raw: Any = None) -> CompletionResponse:
    """The whole response from an assistant message's parts (shared by the whole and streamed paths)."""
    texts: list[str] = []
    thinking: list[str] = []
    blocks: list[VendorBlock] = []
    for part in content:
        if part.get("type") == "thinking":
            piece = str(part.get("thinking") or "")
            thinking.append(piece)
            blocks.append(VendorBlock(provider=PROVIDER, type="thinking", data={"type": "thinking",
                                                                               "thinking": piece}))
        elif part.get("type") in ("text", None) and isinstance(part.get("text"), str):
            texts.append(part["text"])
    if tool_plan:
        blocks.append(VendorBlock(provider=PROVIDER, type="tool_plan", data={"tool_plan": tool_plan}))
    calls: list[ToolCall] = []
    answer: str | None = None
    for call in tool_calls:
        function = _mapping(call.get("function"))
        name = str(function.get("name") or "")
        arguments = function.get("arguments")
        args, args_raw = parse_tool_arguments(arguments)
        if structured_tool is not None and name == structured_tool:
            answer = arguments if isinstance(arguments, str) else json.dumps(args)  # the answer as the model wrote it
            continue
        calls.append(ToolCall(id=str(call.get("id") or ""), name=name, arguments=args, arguments_raw=args_raw))
    text = answer if answer is not None else "".join(texts)
    raw_reason = raw_finish if isinstance(raw_finish, str) else None
    reason = finish_reason(raw_reason, bool(calls))
    if answer is not None and not calls and reason is FinishReason.TOOL_CALLS:
        reason = FinishReason.STOP  # the answer tool carried the answer: nothing is left to call
    thought = "".join(thinking) or None
    return CompletionResponse(
        id=response_id, provider=provider, model=model, text=text, reasoning=thought, tool_calls=calls,
        finish_reason=reason, raw_finish_reason=raw_reason, usage=usage_from_wire(usage),
        message=assistant_turn(text, calls, thought, blocks),
        citations=citations_from_wire(citations), raw=raw)


def error_from_cohere(status: int | None, body: Any, *, provider: str = PROVIDER,
                      headers: Mapping[str, str] | None = None, fallback_message: str | None = None) -> ProviderError:
    """The typed error for a Cohere error body (a top-level `{"message": ...}`).

    A 429 that names a monthly limit (trial keys) is `QuotaExceededError`: retrying soon will not help.
    An invalid token (Cohere's 498) is an authentication error.
    """
    err = error_from_response(401 if status == 498 else status, body, provider=provider, headers=headers,
                              fallback_message=fallback_message)
    err.status_code = status
    if status == 429 and _MONTHLY.search(err.message) and not isinstance(err, QuotaExceededError):
        quota = QuotaExceededError(err.message, provider=provider, status_code=status, retry_after=err.retry_after,
                                   request_id=err.request_id, body=err.body, code=err.code)
        return quota
    return err


def raise_error_body(payload: Mapping[str, Any], provider: str = PROVIDER) -> None:
    """Raises the typed error when a 2xx body is an error (`{"message": "..."}` and nothing else)."""
    if isinstance(payload.get("message"), str) and "id" not in payload:
        raise error_from_cohere(None, payload, provider=provider)


def parse_chat_response(payload: Any, *, provider: str = PROVIDER, model: str,
                        structured_tool: str | None = None) -> CompletionResponse:
    """A whole v2 chat response as our response (Cohere does not echo the model: `model` is the requested one)."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError(f"expected a JSON object, got {type(payload).__name__}", provider=provider)
    raise_error_body(payload, provider)
    message = payload.get("message")
    if not isinstance(message, Mapping):
        raise MalformedResponseError("the response has no message", provider=provider)
    content = message.get("content")
    parts = [p for p in content if isinstance(p, Mapping)] if isinstance(content, list) else (
        [{"type": "text", "text": content}] if isinstance(content, str) else [])
    calls = [c for c in message.get("tool_calls") or () if isinstance(c, Mapping)]
    plan = message.get("tool_plan")
    return assistant_response(
        content=parts, tool_calls=calls, tool_plan=plan if isinstance(plan, str) else None,
        citations=message.get("citations"), response_id=payload.get("id"), raw_finish=payload.get("finish_reason"),
        usage=payload.get("usage"), provider=provider, model=model, structured_tool=structured_tool, raw=payload)
