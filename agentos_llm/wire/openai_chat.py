"""Pure converters for the OpenAI chat-completions wire (OpenAI and every compatible host).

Our types become a request body; a response body or stream chunk becomes our types. Host quirks
arrive as data (`wire`, a provider row's mapping), never as checks on the host's name.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import sys
import uuid
import warnings
from array import array
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import (
    APIConnectionError,
    InvalidRequestError,
    MalformedResponseError,
    UnsupportedCapabilityError,
    error_from_response,
)
from ..request_rules import (
    check_tool_names,
    effort_for_budget,
    fold_system,
    limit_stop,
    plan_reasoning,
    reconcile_sampling,
    tool_choice_for,
)
from ..types import (
    AudioPart,
    CompletionResponse,
    DocumentPart,
    EmbeddingResponse,
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
    parse_tool_arguments,
)

if TYPE_CHECKING:  # annotations only: the pure converters do not load the I/O policy layer
    from ..provider import Call

__all__ = [
    "STREAM_END",
    "ChatStreamAssembler",
    "ThinkTagSplitter",
    "build_chat_request",
    "build_embeddings_request",
    "finish_reason",
    "message_to_wire",
    "parse_chat_completion",
    "parse_embeddings",
    "parse_model_list",
    "parse_ollama_models",
    "split_think_tags",
    "usage_from_wire",
]

_FINISH = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
    "content_filter": FinishReason.CONTENT_FILTER,
    "error": FinishReason.ERROR,
}
_API = "the chat-completions API"
# Reasoning text arrives under any of these message/delta keys, depending on the host.
_REASONING_KEYS = ("reasoning_content", "reasoning")


def new_tool_call_id() -> str:
    """An id for a tool call the vendor gave none (some hosts omit them)."""
    return f"call_{uuid.uuid4().hex[:24]}"


def finish_reason(raw: str | None, has_tool_calls: bool) -> FinishReason | None:
    """The normalized finish reason; a "stop" that carries tool calls is `tool_calls`."""
    if raw is None or raw == "":
        return FinishReason.TOOL_CALLS if has_tool_calls else None
    reason = _FINISH.get(raw, FinishReason.OTHER)
    if has_tool_calls and reason is FinishReason.STOP:
        return FinishReason.TOOL_CALLS
    return reason


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
             "function": {"name": tc.name,
                          "arguments": tc.arguments_raw if tc.arguments_raw is not None and not tc.arguments
                          else json.dumps(tc.arguments, separators=(",", ":"))}}
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


# ---------------------------------------------------------------------- response


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def usage_from_wire(u: Mapping[str, Any] | None) -> Usage:
    """Usage from an OpenAI usage object: prompt tokens already count cached ones, completion reasoning."""
    if not u:
        return Usage()
    prompt = u.get("prompt_tokens")
    if prompt is None:
        prompt = u.get("total_tokens")  # embeddings on some hosts report only the total
    completion = _int(u.get("completion_tokens"))
    pd = u.get("prompt_tokens_details") or {}
    cd = u.get("completion_tokens_details") or {}
    cost = u.get("cost")
    return Usage(
        input_tokens=_int(prompt),
        output_tokens=completion,
        total_tokens=_int(u.get("total_tokens")),
        cached_input_tokens=_int(pd.get("cached_tokens") if isinstance(pd, Mapping) else 0),
        reasoning_tokens=_int(cd.get("reasoning_tokens") if isinstance(cd, Mapping) else 0),
        cost_usd=float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None,
    )


def _content_text(content: Any) -> str:
    """Text of a message's content: a string, or the text parts of a list (thinking parts excluded)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict) and p.get("type") == "text")
    return str(content)


def _reasoning_of(container: Mapping[str, Any]) -> str | None:
    for key in _REASONING_KEYS:
        value = container.get(key)
        if isinstance(value, str) and value:
            return value
    details = container.get("reasoning_details")
    if isinstance(details, list):
        text = "".join(d.get("text") or d.get("summary") or "" for d in details if isinstance(d, dict))
        if text:
            return text
    content = container.get("content")
    if isinstance(content, list):
        parts: list[str] = []
        for p in content:
            if isinstance(p, dict) and p.get("type") == "thinking":
                thinking = p.get("thinking")
                if isinstance(thinking, list):
                    parts.extend(t.get("text") or "" for t in thinking if isinstance(t, dict))
                elif isinstance(thinking, str):
                    parts.append(thinking)
        if parts:
            return "".join(parts)
    return None


_OPEN_THINK, _CLOSE_THINK = "<think>", "</think>"


def _partial_tag(text: str, tag: str) -> int:
    """How many trailing characters of `text` could begin `tag` (so must wait for the next piece)."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


class ThinkTagSplitter:
    """Splits `<think>...</think>` spans (reasoning inlined in the content) out of text fed piece by piece.

    Tags may be cut anywhere between pieces: a trailing fragment that could start a tag is held back
    until the next piece (or `flush`). A `<think>` never closed makes the rest reasoning.
    """

    __slots__ = ("_held", "inside")

    def __init__(self) -> None:
        self.inside = False
        self._held = ""

    def feed(self, piece: str) -> tuple[str, str]:
        """The (text, reasoning) a piece releases."""
        buf = self._held + piece
        self._held = ""
        text: list[str] = []
        reasoning: list[str] = []
        while buf:
            tag = _CLOSE_THINK if self.inside else _OPEN_THINK
            out = reasoning if self.inside else text
            at = buf.find(tag)
            if at >= 0:
                out.append(buf[:at])
                buf = buf[at + len(tag):]
                self.inside = not self.inside
                continue
            keep = _partial_tag(buf, tag)
            if keep:
                self._held = buf[-keep:]
                buf = buf[:-keep]
            out.append(buf)
            break
        return "".join(text), "".join(reasoning)

    def flush(self) -> tuple[str, str]:
        """What is still held back, once no more text will come."""
        held, self._held = self._held, ""
        return ("", held) if self.inside else (held, "")


def split_think_tags(text: str) -> tuple[str, str | None]:
    """A whole content as (text outside `<think>` spans, the spans' reasoning or None); no trimming."""
    if _OPEN_THINK not in text:
        return text, None
    splitter = ThinkTagSplitter()
    outside, inside = splitter.feed(text)
    tail_text, tail_reasoning = splitter.flush()
    return outside + tail_text, (inside + tail_reasoning) or None


def _join_reasoning(*parts: str | None) -> str | None:
    return "".join(p for p in parts if p) or None


def _tool_calls_of(message: Mapping[str, Any]) -> list[ToolCall]:
    calls = []
    for raw in message.get("tool_calls") or ():
        fn = raw.get("function") or {}
        args, args_raw = parse_tool_arguments(fn.get("arguments"))
        calls.append(ToolCall(id=raw.get("id") or new_tool_call_id(), name=fn.get("name") or "",
                              arguments=args, arguments_raw=args_raw))
    return calls


def _raise_error_body(payload: Mapping[str, Any], provider: str) -> None:
    error = payload.get("error")
    if error:
        # The HTTP status the host would have sent: an integer `code`, or `status_code` (Groq in-stream errors).
        candidates = (error.get("code"), error.get("status_code")) if isinstance(error, Mapping) else ()
        status = next((v for v in candidates if isinstance(v, int) and not isinstance(v, bool)), None)
        raise error_from_response(status, payload, provider=provider)


def _first_choice(choices: Sequence[Any]) -> Mapping[str, Any] | None:
    for c in choices:
        if c.get("index", 0) == 0:
            return c  # type: ignore[no-any-return]
    return choices[0] if choices else None


def _upstream(payload: Mapping[str, Any]) -> str | None:
    value = payload.get("provider")
    return value if isinstance(value, str) else None


def parse_chat_completion(payload: Any, *, provider: str, model: str,
                          wire: Mapping[str, Any] | None = None) -> CompletionResponse:
    """A whole chat completion as our response (`model` is the requested one, used when none is served).

    `wire` is the host's quirks (`think_tags`: reasoning inlined in the content as `<think>` spans).
    """
    if not isinstance(payload, Mapping):
        raise MalformedResponseError(f"expected a JSON object, got {type(payload).__name__}", provider=provider)
    _raise_error_body(payload, provider)
    choices = payload.get("choices")
    if not isinstance(choices, list):  # e.g. another API's answer: not an empty success
        raise MalformedResponseError("the response has no choices list", provider=provider)
    choice = _first_choice(choices)
    message: Mapping[str, Any] = (choice or {}).get("message") or {}
    text = _content_text(message.get("content"))
    calls = _tool_calls_of(message)
    reasoning = _reasoning_of(message)
    if wire and wire.get("think_tags"):
        text, inline = split_think_tags(text)
        reasoning = _join_reasoning(reasoning, inline)
    raw_finish = (choice or {}).get("finish_reason")
    return CompletionResponse(
        id=payload.get("id"),
        provider=provider,
        model=payload.get("model") or model,
        text=text,
        reasoning=reasoning,
        tool_calls=calls,
        finish_reason=finish_reason(raw_finish, bool(calls)),
        raw_finish_reason=raw_finish,
        usage=usage_from_wire(payload.get("usage") or _nested_usage(payload)),
        message=Message(role="assistant", content=text or None, tool_calls=calls, reasoning=reasoning),
        upstream=_upstream(payload),
        raw=payload,
    )


def _nested_usage(payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    x = payload.get("x_groq")
    return x.get("usage") if isinstance(x, Mapping) else None


class _ToolBuilder:
    __slots__ = ("args", "emitted", "id", "name", "synthetic")

    def __init__(self, id: str | None, name: str | None) -> None:
        # A call the host sent without an id gets one now, so every event and the response agree on it.
        self.synthetic = not id
        self.id = id or new_tool_call_id()
        self.name = name
        self.args: list[str] = []
        self.emitted = False

    def build(self) -> ToolCall:
        args, raw = parse_tool_arguments("".join(self.args))
        return ToolCall(id=self.id, name=self.name or "", arguments=args, arguments_raw=raw)


class ChatStreamAssembler:
    """Assembles chat-completion chunks: deltas out as events, the whole response at the end."""

    def __init__(self, *, provider: str, model: str, wire: Mapping[str, Any] | None = None) -> None:
        self.provider = provider
        self.model = model
        self._think = ThinkTagSplitter() if wire and wire.get("think_tags") else None
        self._served_model: str | None = None
        self._id: str | None = None
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._tools: dict[int, _ToolBuilder] = {}
        self._by_id: dict[str, int] = {}
        self._last_tool: int | None = None
        self._raw_finish: str | None = None
        self._usage: Mapping[str, Any] | None = None
        self._upstream: str | None = None
        self._ended = False

    def feed(self, chunk: Any) -> Sequence[StreamEvent]:
        """Events for one decoded chunk (`STREAM_END` for the `[DONE]` marker)."""
        if chunk is STREAM_END:
            self._ended = True
            return ()
        if not isinstance(chunk, Mapping):
            raise MalformedResponseError("a stream chunk is not a JSON object", provider=self.provider)
        if chunk.get("error"):
            _raise_error_body(chunk, self.provider)
        if self._id is None:
            self._id = chunk.get("id")
            self._served_model = chunk.get("model")
            self._upstream = _upstream(chunk)
        events: list[StreamEvent] = []
        choices = chunk.get("choices")
        if choices:
            choice = _first_choice(choices)
            if choice is not None:
                delta = choice.get("delta") or {}
                reasoning = _reasoning_of(delta)
                if reasoning:
                    events.extend(self._reason(reasoning))
                content = delta.get("content")
                if content:
                    text = _content_text(content)
                    if text and self._think is not None:
                        text, inline = self._think.feed(text)
                        events.extend(self._reason(inline))
                    if text:
                        self._text.append(text)
                        events.append(TextDeltaEvent(delta=text))
                fragments = delta.get("tool_calls")
                if fragments:
                    for frag in fragments:
                        events.append(self._tool_fragment(frag))
                raw_finish = choice.get("finish_reason")
                if raw_finish:
                    self._raw_finish = raw_finish
                    events.extend(self._complete_tools())
        usage = chunk.get("usage") or _nested_usage(chunk)
        if usage:
            self._usage = usage
            events.append(UsageEvent(usage=usage_from_wire(usage)))
        return events

    def _reason(self, text: str) -> list[StreamEvent]:
        if not text:
            return []
        self._reasoning.append(text)
        return [ReasoningDeltaEvent(delta=text)]

    def _tool_fragment(self, frag: Mapping[str, Any]) -> ToolCallDeltaEvent:
        index = frag.get("index")
        call_id = frag.get("id")
        if not isinstance(index, int):
            # Some hosts omit the index: match by id, else continue the previous call.
            if call_id and call_id in self._by_id:
                index = self._by_id[call_id]
            elif call_id or self._last_tool is None:
                index = len(self._tools)
            else:
                index = self._last_tool
        fn = frag.get("function") or {}
        name = fn.get("name")
        builder = self._tools.get(index)
        if builder is None:
            builder = self._tools[index] = _ToolBuilder(call_id, name)
            call_id = builder.id  # the first fragment carries the id, a synthesized one too
        else:
            if call_id and builder.synthetic and not builder.emitted:
                builder.id, builder.synthetic = call_id, False
            builder.name = builder.name or name
        if call_id:
            self._by_id[call_id] = index
        self._last_tool = index
        piece = fn.get("arguments")
        if isinstance(piece, dict):
            piece = json.dumps(piece)
        if piece:
            builder.args.append(piece)
        return ToolCallDeltaEvent(index=index, id=call_id, name=name, arguments_delta=piece or "")

    def _complete_tools(self) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for index in sorted(self._tools):
            builder = self._tools[index]
            if not builder.emitted:
                builder.emitted = True
                call = builder.build()
                builder.id = call.id  # keep a synthesized id stable for the final response
                events.append(ToolCallEvent(index=index, tool_call=call))
        return events

    def _flush_think(self) -> list[StreamEvent]:
        if self._think is None:
            return []
        text, reasoning = self._think.flush()
        events = self._reason(reasoning)
        if text:
            self._text.append(text)
            events.append(TextDeltaEvent(delta=text))
        return events

    def finish(self) -> tuple[Sequence[StreamEvent], CompletionResponse]:
        """Trailing tool-call events and the whole response."""
        if self._raw_finish is None and not self._ended:  # a cut stream must not pass for a whole answer
            raise APIConnectionError("the stream ended before its end marker (no finish_reason, no [DONE])",
                                     provider=self.provider)
        tail = [*self._flush_think(), *self._complete_tools()]
        calls = [self._tools[i].build() for i in sorted(self._tools)]
        text = "".join(self._text)
        reasoning = "".join(self._reasoning) or None
        response = CompletionResponse(
            id=self._id,
            provider=self.provider,
            model=self._served_model or self.model,
            text=text,
            reasoning=reasoning,
            tool_calls=calls,
            finish_reason=finish_reason(self._raw_finish, bool(calls)),
            raw_finish_reason=self._raw_finish,
            usage=usage_from_wire(self._usage),
            message=Message(role="assistant", content=text or None, tool_calls=calls, reasoning=reasoning),
            upstream=self._upstream,
        )
        return tail, response


STREAM_END: Any = object()
"""What `ChunkDecoder` gives for `[DONE]`: the assembler's sign that the stream ended where it should."""


class ChunkDecoder:
    """SSE data payloads to chunks: JSON until `[DONE]` (given as `STREAM_END`), nothing after it.

    The caller keeps reading past `[DONE]` to the end of the body, so the connection can go back
    to the pool.
    """

    __slots__ = ("done", "provider")

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.done = False

    def decode(self, data: str) -> Any:
        """The chunk an event carries, `STREAM_END` for `[DONE]`, or None (keep-alives, what follows `[DONE]`)."""
        if self.done or not data:
            return None
        if data.startswith("[DONE]"):
            self.done = True
            return STREAM_END
        return decode_chunk(data, self.provider)


def decode_chunk(data: str, provider: str) -> Any:
    """One SSE data payload as JSON."""
    try:
        return json.loads(data)
    except ValueError:
        raise MalformedResponseError(f"a stream event is not JSON: {data[:200]!r}", provider=provider) from None


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


def _vector(value: Any) -> list[float]:
    if isinstance(value, str):
        floats = array("f")
        floats.frombytes(base64.b64decode(value))
        if sys.byteorder != "little":  # pragma: no cover - the wire is little-endian
            floats.byteswap()
        return floats.tolist()
    return [float(x) for x in value]


def parse_embeddings(payload: Any, *, provider: str, model: str, count: int) -> EmbeddingResponse:
    """Vectors in input order (by each item's `index`), however the host ordered them."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    _raise_error_body(payload, provider)
    items = payload.get("data")
    if not isinstance(items, list):
        raise MalformedResponseError("the embeddings response has no data list", provider=provider)
    ordered = sorted(items, key=lambda d: d.get("index", 0)) if any("index" in d for d in items) else items
    vectors = [_vector(d.get("embedding")) for d in ordered]
    if len(vectors) != count:
        raise MalformedResponseError(f"{len(vectors)} vectors for {count} inputs", provider=provider)
    return EmbeddingResponse(vectors=vectors, model=payload.get("model") or model, provider=provider,
                             usage=usage_from_wire(payload.get("usage")))


# OpenRouter's `supported_parameters` and Ollama's `capabilities`, as our capability names.
_LISTED_CAPABILITIES = {
    "tools": "tools", "reasoning": "reasoning", "structured_outputs": "json_schema",
    "vision": "vision", "thinking": "reasoning", "embedding": "embeddings",
}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _listed_capabilities(names: Any) -> frozenset[str]:
    if not isinstance(names, list):
        return frozenset()
    return frozenset(_LISTED_CAPABILITIES[n] for n in names if isinstance(n, str) and n in _LISTED_CAPABILITIES)


def parse_model_list(payload: Any, *, provider: str) -> list[ModelInfo]:
    """`GET /models` as ModelInfo: context windows, prices (per-token strings become USD per 1M tokens) and
    capabilities where the host lists them (OpenRouter: `pricing`, `context_length`, `top_provider`,
    `supported_parameters`, `architecture.input_modalities`; vLLM: `max_model_len`)."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    out = []
    for item in payload.get("data") or ():
        if not isinstance(item, Mapping) or not item.get("id"):
            continue
        pricing = _mapping(item.get("pricing"))
        top = _mapping(item.get("top_provider"))
        capabilities = _listed_capabilities(item.get("supported_parameters"))
        modalities = _mapping(item.get("architecture")).get("input_modalities")
        if isinstance(modalities, list) and "image" in modalities:
            capabilities |= {"vision"}
        out.append(ModelInfo(
            id=item["id"], provider=provider, display_name=item.get("name"),
            context_window=_positive_int(item.get("context_length")) or _positive_int(item.get("context_window"))
            or _positive_int(item.get("max_model_len")) or _positive_int(top.get("context_length")),
            max_output_tokens=_positive_int(top.get("max_completion_tokens")),
            capabilities=capabilities,
            input_price=_per_million(pricing.get("prompt")),
            output_price=_per_million(pricing.get("completion")),
            cached_input_price=_per_million(pricing.get("input_cache_read")),
            cache_write_price=_per_million(pricing.get("input_cache_write")),
        ))
    return out


def _per_million(per_token: Any) -> float | None:
    """USD per 1M tokens from a per-token price; None when absent or not a price (OpenRouter's "-1": variable)."""
    if per_token is None or isinstance(per_token, bool):
        return None
    try:
        price = float(per_token)
    except (TypeError, ValueError):
        return None
    return round(price * 1_000_000, 9) if price >= 0 else None


def _context_length(model_info: Mapping[str, Any]) -> int | None:
    """`<arch>.context_length` of an Ollama `model_info` (any `*.context_length` if the arch is unnamed)."""
    arch = model_info.get("general.architecture")
    if isinstance(arch, str):
        found = _positive_int(model_info.get(f"{arch}.context_length"))
        if found:
            return found
    return next((_positive_int(v) for k, v in model_info.items()
                 if k.endswith(".context_length") and _positive_int(v)), None)


def parse_ollama_models(payload: Any, *, provider: str) -> list[ModelInfo]:
    """Ollama's `/api/tags` with each model's `/api/show`, as ModelInfo.

    `payload` is `{"tags": <the /api/tags body>, "show": {model name: <its /api/show body>}}`; a model
    without a `show` entry is listed with its name only.
    """
    if not isinstance(payload, Mapping) or not isinstance(payload.get("tags"), Mapping):
        raise MalformedResponseError("expected the /api/tags object", provider=provider)
    shows = _mapping(payload.get("show"))
    out = []
    for item in payload["tags"].get("models") or ():
        if not isinstance(item, Mapping):
            continue
        name = item.get("model") or item.get("name")
        if not isinstance(name, str) or not name:
            continue
        show = _mapping(shows.get(name))
        out.append(ModelInfo(
            id=name, provider=provider, display_name=item.get("name") if isinstance(item.get("name"), str) else None,
            context_window=_context_length(_mapping(show.get("model_info"))),
            capabilities=_listed_capabilities(show.get("capabilities")),
        ))
    return out

