"""Pure converters for what AWS Bedrock's Converse API sends back: whole answers, ConverseStream events, errors.

The request side is `agentos_llm.wire.bedrock_converse` (which re-exports everything here). No I/O and no SDK
import: payloads are what boto3 returns (`client.converse(...)`, the events of `converse_stream(...)["stream"]`)
or the same JSON decoded from the HTTP body.

Conventions worth knowing:

- Usage is inclusive: `input_tokens = inputTokens + cacheReadInputTokens + cacheWriteInputTokens` (Bedrock's
  `inputTokens` leaves the cache out: its `totalTokens` adds all four counts).
- `reasoningContent` blocks (readable with a signature, or `redactedContent`), and the blocks of a tool Bedrock
  ran itself (`toolUse` of type `server_tool_use` with its `toolResult`), are kept on the assistant `Message` as
  `VendorBlock(provider="bedrock")` so they go back verbatim. A blob (`redactedContent`) is kept as base64 text:
  boto3 hands it over as bytes, the JSON body as base64. A reasoning block also notes the model that made it
  (`MADE_BY`, left out of the request): its signature is valid for that model only.
- In "tool" structured mode the forced tool's input is the answer: it becomes the response text.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ContextLengthExceededError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    error_from_response,
)
from ..response_pack import assistant_turn
from ..types import (
    Citation,
    CompletionResponse,
    FinishReason,
    ReasoningDeltaEvent,
    ServerToolCall,
    StreamEvent,
    ToolCall,
    ToolCallDeltaEvent,
    ToolCallEvent,
    Usage,
    UsageEvent,
    VendorBlock,
    parse_tool_arguments,
)
from ..types_events import text_delta
from .common import token_count_field

__all__ = [
    "MADE_BY",
    "PROVIDER",
    "ConverseStreamAssembler",
    "error_for",
    "finish_reason",
    "parse_converse",
    "parse_token_count",
    "response_from_blocks",
    "stored_block",
    "usage_from_wire",
]

PROVIDER = "bedrock"
MADE_BY = "madeBy"
"""The key of a kept reasoning block that names the model which made it (not a Converse field)."""

_FINISH = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "tool_use": FinishReason.TOOL_CALLS,
    "max_tokens": FinishReason.LENGTH,
    "model_context_window_exceeded": FinishReason.LENGTH,
    "guardrail_intervened": FinishReason.CONTENT_FILTER,
    "content_filtered": FinishReason.CONTENT_FILTER,
    "malformed_model_output": FinishReason.ERROR,
    "malformed_tool_use": FinishReason.ERROR,
}
_SERVER_TOOL_USE = "server_tool_use"


def finish_reason(raw: str | None, has_tool_calls: bool) -> FinishReason | None:
    """The normalized finish reason for a `stopReason`; unknown values are `other`."""
    if not raw:
        return FinishReason.TOOL_CALLS if has_tool_calls else None
    reason = _FINISH.get(raw, FinishReason.OTHER)
    if has_tool_calls and reason is FinishReason.STOP:
        return FinishReason.TOOL_CALLS
    return reason


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_from_wire(u: Mapping[str, Any] | None) -> Usage:
    """`usage` (TokenUsage) in our inclusive convention: input counts cache reads and writes.

    Reasoning is billed inside `outputTokens`; Bedrock gives no split, so `reasoning_tokens` stays 0.
    """
    if not u:
        return Usage()
    read = _int(u.get("cacheReadInputTokens"))
    written = _int(u.get("cacheWriteInputTokens"))
    return Usage(input_tokens=_int(u.get("inputTokens")) + read + written, output_tokens=_int(u.get("outputTokens")),
                 cached_input_tokens=read, cache_write_input_tokens=written)


def _b64(value: Any) -> Any:
    """A blob as base64 text (boto3 gives bytes; the JSON body already has base64)."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def stored_block(block: Mapping[str, Any]) -> dict[str, Any]:
    """A content block as kept in a `VendorBlock`: JSON-safe (blobs as base64 text), otherwise verbatim."""
    out = dict(block)
    reasoning = out.get("reasoningContent")
    if isinstance(reasoning, Mapping) and "redactedContent" in reasoning:
        out["reasoningContent"] = {**reasoning, "redactedContent": _b64(reasoning["redactedContent"])}
    return out


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _index(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _citation(raw: Mapping[str, Any]) -> Citation:
    location = raw.get("location")
    kind: Any = "citation"
    spot: Mapping[str, Any] = {}
    if isinstance(location, Mapping) and location:
        kind, found = next(iter(location.items()))
        spot = found if isinstance(found, Mapping) else {}
    quoted = [s.get("text") for s in raw.get("sourceContent") or () if isinstance(s, Mapping)]
    return Citation(
        type=str(kind), cited_text="".join(t for t in quoted if isinstance(t, str)) or None,
        url=_str(spot.get("url")) or _str(raw.get("source")), title=_str(raw.get("title")),
        document_index=_index(spot.get("documentIndex", spot.get("searchResultIndex"))),
        start=_index(spot.get("start")), end=_index(spot.get("end")),
    )


def response_from_blocks(blocks: Sequence[Mapping[str, Any]], *, stop_reason: Any, usage: Mapping[str, Any] | None,
                         provider: str, model: str, structured_tool: str | None = None, response_id: str | None = None,
                         upstream: str | None = None, raw: Any = None) -> CompletionResponse:
    """The whole response from finished Converse content blocks, in order (shared by whole and streamed answers)."""
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCall] = []
    server: dict[str, ServerToolCall] = {}
    vendor: list[VendorBlock] = []
    citations: list[Citation] = []
    answer: str | None = None
    for block in blocks:
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif isinstance(block.get("citationsContent"), Mapping):
            cited = block["citationsContent"]
            texts.extend(p["text"] for p in cited.get("content") or () if isinstance(p, Mapping)
                         and isinstance(p.get("text"), str))
            citations.extend(_citation(c) for c in cited.get("citations") or () if isinstance(c, Mapping))
        elif isinstance(block.get("toolUse"), Mapping):
            use = block["toolUse"]
            args, args_raw = parse_tool_arguments(use.get("input"))
            name = str(use.get("name") or "")
            if use.get("type") == _SERVER_TOOL_USE:
                call_id = _str(use.get("toolUseId"))
                server[call_id or str(len(server))] = ServerToolCall(id=call_id, type=_SERVER_TOOL_USE, name=name,
                                                                     arguments=args)
                vendor.append(VendorBlock(provider=PROVIDER, type="toolUse", data=stored_block(block)))
            elif structured_tool is not None and name == structured_tool:
                answer = args_raw if args_raw is not None else json.dumps(args)
            else:
                calls.append(ToolCall(id=str(use.get("toolUseId") or ""), name=name, arguments=args,
                                      arguments_raw=args_raw))
        elif isinstance(block.get("toolResult"), Mapping):
            # The result of a tool Bedrock ran itself: it belongs to its call, and goes back verbatim.
            result = block["toolResult"]
            ran = server.get(str(result.get("toolUseId")))
            if ran is not None:
                ran.result = result.get("content")
                ran.status = _str(result.get("status"))
            vendor.append(VendorBlock(provider=PROVIDER, type="toolResult", data=stored_block(block)))
        elif isinstance(block.get("reasoningContent"), Mapping):
            readable = block["reasoningContent"].get("reasoningText")
            if isinstance(readable, Mapping) and isinstance(readable.get("text"), str):
                reasoning.append(readable["text"])
            vendor.append(VendorBlock(provider=PROVIDER, type="reasoningContent",
                                      data={**stored_block(block), MADE_BY: model}))
    text = answer if answer is not None else "".join(texts)
    thought = "".join(reasoning) or None
    raw_finish = stop_reason if isinstance(stop_reason, str) else None
    reason = finish_reason(raw_finish, bool(calls))
    if answer is not None and raw_finish == "tool_use" and not calls:
        reason = FinishReason.STOP  # the forced tool carried the answer; nothing is left to call
    return CompletionResponse(
        id=response_id, provider=provider, model=model, text=text, reasoning=thought, tool_calls=calls,
        finish_reason=reason, raw_finish_reason=raw_finish, usage=usage_from_wire(usage),
        message=assistant_turn(text, calls, thought, vendor),
        upstream=upstream, server_tool_calls=list(server.values()), citations=citations, raw=raw,
    )


def _invoked_model(trace: Any) -> str | None:
    """The model a prompt router picked (`trace.promptRouter.invokedModelId`), if any."""
    router = trace.get("promptRouter") if isinstance(trace, Mapping) else None
    return _str(router.get("invokedModelId")) if isinstance(router, Mapping) else None


def _raise_error_body(payload: Mapping[str, Any], provider: str) -> None:
    # An AWS error decoded as if it were the answer: `{"message": ...}` and nothing else (the type travels in the
    # `x-amzn-errortype` header, which the I/O layer maps with `error_for`).
    if "output" not in payload and isinstance(payload.get("message"), str):
        raise error_for(_str(payload.get("__type")), payload["message"], None, provider=provider)


def parse_converse(payload: dict[str, Any], *, provider: str, model: str,
                   structured_tool: str | None = None) -> CompletionResponse:
    """A whole Converse response as ours; `model` is the requested id (Converse names no served model).

    The id is boto3's `ResponseMetadata.RequestId` when present; `metrics` (latency) is not kept.
    """
    if not isinstance(payload, Mapping):
        raise MalformedResponseError(f"expected a JSON object, got {type(payload).__name__}", provider=provider)
    _raise_error_body(payload, provider)
    output = payload.get("output")
    message = output.get("message") if isinstance(output, Mapping) else None
    content = message.get("content") if isinstance(message, Mapping) else None
    if not isinstance(content, list):
        raise MalformedResponseError("the response has no output.message.content list", provider=provider)
    meta = payload.get("ResponseMetadata")
    request_id = _str(meta.get("RequestId")) if isinstance(meta, Mapping) else None
    return response_from_blocks([b for b in content if isinstance(b, Mapping)], stop_reason=payload.get("stopReason"),
                                usage=payload.get("usage"), provider=provider, model=model,
                                structured_tool=structured_tool, response_id=request_id,
                                upstream=_invoked_model(payload.get("trace")), raw=payload)


def parse_token_count(payload: Any, *, provider: str = PROVIDER) -> int:
    """`inputTokens` of a CountTokens answer."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    _raise_error_body(payload, provider)
    return token_count_field(payload, "inputTokens", provider=provider)


# ---------------------------------------------------------------------- streaming


class _Block:
    """One content block as it streams. Bedrock opens only tool blocks with `contentBlockStart`; text and
    reasoning blocks begin with their first delta."""

    __slots__ = ("citations", "input", "ordinal", "reasoning", "redacted", "results", "signature", "start", "text")

    def __init__(self, start: Mapping[str, Any] | None = None, ordinal: int | None = None) -> None:
        self.start = dict(start or {})  # {"toolUse": {...}} or {"toolResult": {...}}
        self.ordinal = ordinal  # the tool-call index, for client tool calls
        self.text: list[str] = []
        self.input: list[str] = []
        self.reasoning: list[str] = []
        self.signature: list[str] = []
        self.redacted: list[bytes] = []
        self.citations: list[Any] = []
        self.results: list[Any] = []

    def finish(self) -> dict[str, Any]:
        """The block as a whole Converse content block."""
        if "toolUse" in self.start:
            use = dict(self.start["toolUse"])
            text = "".join(self.input)
            use["input"] = {}
            if text.strip():
                try:
                    use["input"] = json.loads(text)
                except ValueError:
                    use["input"] = text  # kept as text; the tool call carries it as arguments_raw
            return {"toolUse": use}
        if "toolResult" in self.start:
            return {"toolResult": {**self.start["toolResult"], "content": self.results}}
        if self.reasoning or self.signature or self.redacted:
            if self.redacted:
                return {"reasoningContent": {"redactedContent": base64.b64encode(b"".join(self.redacted)).decode()}}
            readable: dict[str, Any] = {"text": "".join(self.reasoning)}
            if self.signature:
                readable["signature"] = "".join(self.signature)
            return {"reasoningContent": {"reasoningText": readable}}
        text = "".join(self.text)
        if self.citations:
            return {"citationsContent": {"content": [{"text": text}], "citations": self.citations}}
        return {"text": text}


def _blob(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    try:
        return base64.b64decode(str(value))
    except ValueError:
        return str(value).encode()


class ConverseStreamAssembler:
    """Assembles ConverseStream events (botocore's parsed items, one key each: `messageStart`,
    `contentBlockStart`, `contentBlockDelta`, `contentBlockStop`, `messageStop`, `metadata`, or an exception)
    into our stream events, and at the end the whole response.

    Blocks are assembled in `contentBlockIndex` order; tool input pieces are joined and parsed at the block's
    end (none means `{}`). An exception event raises its typed error (`error_for`).
    """

    def __init__(self, provider: str, model: str, structured_tool: str | None = None) -> None:
        self.provider = provider
        self.model = model
        self.structured_tool = structured_tool
        self._blocks: dict[int, _Block] = {}
        self._done: dict[int, dict[str, Any]] = {}
        self._tools = 0
        self._usage: Mapping[str, Any] | None = None
        self._stop_reason: str | None = None
        self._upstream: str | None = None
        self._started = False

    def feed(self, event: dict[str, Any]) -> Sequence[StreamEvent]:
        """Events for one ConverseStream item."""
        if type(event) is not dict and not isinstance(event, Mapping):
            raise MalformedResponseError("a stream event is not an object", provider=self.provider)
        out: list[StreamEvent] = []
        for kind, body in event.items():
            data: Mapping[str, Any] = body if type(body) is dict or isinstance(body, Mapping) else {}
            if kind == "contentBlockDelta":
                out.extend(self._delta(data))
            elif kind == "contentBlockStart":
                out.extend(self._start(data))
            elif kind == "contentBlockStop":
                out.extend(self._stop(self._index(data)))
            elif kind == "messageStart":
                self._started = True
            elif kind == "messageStop":
                self._stop_reason = _str(data.get("stopReason")) or self._stop_reason
            elif kind == "metadata":
                if isinstance(data.get("usage"), Mapping):
                    self._usage = data["usage"]
                    out.append(UsageEvent(usage=usage_from_wire(self._usage)))
                self._upstream = _invoked_model(data.get("trace")) or self._upstream
            elif kind.endswith("Exception"):
                # An error inside a 200 stream: no HTTP status of its own (`originalStatusCode` is the model's).
                message = _str(data.get("message")) or _str(data.get("originalMessage")) or ""
                raise error_for(kind, message, None, provider=self.provider)
        return out

    def _index(self, data: Mapping[str, Any]) -> int:
        index = data.get("contentBlockIndex")
        if type(index) is int:
            return index
        if not isinstance(index, int) or isinstance(index, bool):
            raise MalformedResponseError("a content block event has no contentBlockIndex", provider=self.provider)
        return index

    def _start(self, data: Mapping[str, Any]) -> Sequence[StreamEvent]:
        index = self._index(data)
        start: Mapping[str, Any] = data["start"] if isinstance(data.get("start"), Mapping) else {}
        use = start.get("toolUse")
        if isinstance(use, Mapping):
            client = use.get("type") != _SERVER_TOOL_USE and use.get("name") != self.structured_tool
            block = self._blocks[index] = _Block({"toolUse": dict(use)}, self._tools if client else None)
            if client:
                self._tools += 1
                return (ToolCallDeltaEvent(index=block.ordinal or 0, id=_str(use.get("toolUseId")),
                                           name=_str(use.get("name"))),)
            return ()
        result = start.get("toolResult")
        self._blocks[index] = _Block({"toolResult": dict(result)} if isinstance(result, Mapping) else None)
        return ()

    def _delta(self, data: Mapping[str, Any]) -> Sequence[StreamEvent]:
        index = self._index(data)
        block = self._blocks.get(index)
        if block is None:
            block = self._blocks[index] = _Block()
        delta = data.get("delta")
        if type(delta) is not dict and not isinstance(delta, Mapping):
            delta = {}
        text = delta.get("text")
        if type(text) is str or isinstance(text, str):
            block.text.append(text)
            return (text_delta(text),) if text else ()
        use = delta.get("toolUse")
        if isinstance(use, Mapping):
            piece = use.get("input")
            piece = piece if isinstance(piece, str) else json.dumps(piece)
            block.input.append(piece)
            if block.ordinal is not None and piece:
                return (ToolCallDeltaEvent(index=block.ordinal, arguments_delta=piece),)
            return ()
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, Mapping):
            if isinstance(reasoning.get("signature"), str):
                block.signature.append(reasoning["signature"])
            if reasoning.get("redactedContent") is not None:
                block.redacted.append(_blob(reasoning["redactedContent"]))
            text = reasoning.get("text")
            if isinstance(text, str):
                block.reasoning.append(text)
                return (ReasoningDeltaEvent(delta=text),) if text else ()
            return ()
        if isinstance(delta.get("citation"), Mapping):
            block.citations.append(dict(delta["citation"]))
        elif isinstance(delta.get("toolResult"), list):
            block.results.extend(delta["toolResult"])
        return ()  # an image delta or a delta type added later

    def _stop(self, index: int) -> Sequence[StreamEvent]:
        block = self._blocks.pop(index, None)
        if block is None:
            return ()
        data = self._done[index] = block.finish()
        if block.ordinal is None:
            return ()
        use = data["toolUse"]
        args, raw = parse_tool_arguments(use.get("input"))
        call = ToolCall(id=str(use.get("toolUseId") or ""), name=str(use.get("name") or ""), arguments=args,
                        arguments_raw=raw)
        return (ToolCallEvent(index=block.ordinal, tool_call=call),)

    def finish(self) -> tuple[Sequence[StreamEvent], CompletionResponse]:
        """Trailing tool-call events (blocks never stopped) and the whole response."""
        if self._stop_reason is None:  # a cut stream must not pass for a whole answer
            raise APIConnectionError("the stream ended before its end marker (no messageStop)", provider=self.provider)
        tail: list[StreamEvent] = []
        for index in sorted(self._blocks):
            tail.extend(self._stop(index))
        blocks = [self._done[i] for i in sorted(self._done)]
        response = response_from_blocks(blocks, stop_reason=self._stop_reason, usage=self._usage,
                                        provider=self.provider, model=self.model,
                                        structured_tool=self.structured_tool, upstream=self._upstream)
        return tail, response


# ---------------------------------------------------------------------- errors

# What Bedrock and the models behind it say when the prompt does not fit (ValidationException or
# ModelErrorException): "Input is too long for requested model.", "prompt is too long: 212000 tokens > 200000
# maximum" (Claude), "Input Tokens Exceeded: Number of input tokens exceeds maximum length" (Nova), "This model's
# maximum context length is 8192 tokens" (Llama, Mistral), "too many input tokens".
_TOO_LONG = ("input is too long", "prompt is too long", "too many input tokens", "input tokens exceed",
             "number of input tokens", "maximum context length", "context window", "context length",
             "too large for model")
_BY_CODE: dict[str, type[ProviderError]] = {
    "ThrottlingException": RateLimitError,
    "TooManyRequestsException": RateLimitError,
    "ServiceQuotaExceededException": QuotaExceededError,
    "AccessDeniedException": PermissionDeniedError,
    "UnrecognizedClientException": AuthenticationError,
    "ExpiredTokenException": AuthenticationError,
    "ExpiredToken": AuthenticationError,
    "InvalidSignatureException": AuthenticationError,
    "IncompleteSignature": AuthenticationError,
    "IncompleteSignatureException": AuthenticationError,
    "MissingAuthenticationTokenException": AuthenticationError,
    "InvalidClientTokenId": AuthenticationError,
    "SignatureDoesNotMatch": AuthenticationError,
    "ResourceNotFoundException": NotFoundError,
    "ModelNotReadyException": ServerError,
    "ServiceUnavailableException": ServerError,
    "InternalServerException": ServerError,
    "InternalFailure": ServerError,
    "ModelStreamErrorException": ServerError,
    "ModelTimeoutException": APITimeoutError,
    "RequestTimeoutException": APITimeoutError,
    "ConflictException": InvalidRequestError,
}


def error_for(code: str | None, message: str, status: int | None, *, provider: str,
              retry_after: float | None = None) -> ProviderError:
    """The typed error for an AWS error type (`x-amzn-errortype`, botocore's `Error.Code`, or a stream exception
    such as `throttlingException`), its message and HTTP status; unknown types go by status."""
    name = (code or "").split(":", 1)[0].strip()
    name = name[:1].upper() + name[1:]  # stream exceptions are camelCase
    text = (message or "").strip()
    too_long = any(w in text.lower() for w in _TOO_LONG)
    cls: type[ProviderError] | None
    if name == "ValidationException":
        cls = ContextLengthExceededError if too_long else InvalidRequestError
    elif name == "ModelErrorException":
        # The model itself failed (HTTP 424): worth another try, unless it refused the prompt's length.
        cls = ContextLengthExceededError if too_long else ServerError
    else:
        cls = _BY_CODE.get(name)
    if cls is None:
        fallback = error_from_response(status, {"message": text} if text else None, provider=provider,
                                       fallback_message=f"Bedrock {name or 'error'}")
        fallback.retry_after = retry_after
        fallback.code = name or fallback.code
        return fallback
    return cls(text or f"Bedrock answered {name}" + (f" (HTTP {status})" if status else ""), provider=provider,
               status_code=status, retry_after=retry_after, code=name or None)
