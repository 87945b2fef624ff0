"""Gemini responses and stream chunks as our types, and Google's error bodies as our errors (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ContentFilterError,
    ContextLengthExceededError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    describe_error_body,
    error_class_for,
    parse_retry_after,
)
from ..response_pack import assistant_turn
from ..types import (
    CompletionResponse,
    Message,
    ReasoningDeltaEvent,
    StreamEvent,
    ToolCall,
    ToolCallDeltaEvent,
    ToolCallEvent,
    Usage,
    UsageEvent,
    VendorBlock,
)
from ..types_events import text_delta
from .common import compact_json, stream_json
from .gemini_common import PROVIDER, bare_model_name, finish_reason, new_tool_call_id

# ---------------------------------------------------------------------- response


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_from_wire(u: Mapping[str, Any] | None) -> Usage:
    """Usage from `usageMetadata`: thoughts are output (Gemini reports them apart from candidates)."""
    if not u:
        return Usage()
    thoughts = _int(u.get("thoughtsTokenCount"))
    prompt = _int(u.get("promptTokenCount"))
    output = _int(u.get("candidatesTokenCount")) + thoughts
    total = _int(u.get("totalTokenCount"))
    return Usage(input_tokens=prompt, output_tokens=output, total_tokens=max(total, prompt + output),
                 cached_input_tokens=_int(u.get("cachedContentTokenCount")), reasoning_tokens=thoughts)


def error_from_google(status: int | None, body: Any, *, provider: str = PROVIDER,
                      headers: Mapping[str, str] | None = None, fallback_message: str | None = None) -> ProviderError:
    """The typed error for a Google error body (`{"error": {"code", "message", "status", "details"}}`).

    Goes by Google's status string as well as the HTTP status: RESOURCE_EXHAUSTED is a quota error when
    its details say a daily limit or a zero limit was hit, a rate limit otherwise; a 429 that Google
    wrapped in a 500 body is still a 429; an invalid API key (a 400) is an authentication error.
    """
    error = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(error, Mapping):
        error = body if isinstance(body, Mapping) else {}
    message, _, _ = describe_error_body(body)
    message = message or fallback_message
    gstatus = error.get("status") if isinstance(error.get("status"), str) else None
    code = error.get("code")
    if status is None and isinstance(code, int) and not isinstance(code, bool):
        status = code
    details = [d for d in error.get("details") or () if isinstance(d, Mapping)]
    inner = _wrapped_error(message)
    if inner is not None and (status is None or status >= 500):
        wrapped = error_from_google(None, inner, provider=provider, headers=headers)
        if isinstance(wrapped, (RateLimitError, QuotaExceededError)):
            wrapped.status_code = 429
            wrapped.body = body
            return wrapped
    cls = _google_class(status, gstatus, message or "", details)
    retry_after = parse_retry_after(headers) if headers else None
    if retry_after is None:
        retry_after = _retry_delay(details)
    request_id = None
    if headers:
        lowered = {k.lower(): v for k, v in headers.items()}
        request_id = lowered.get("x-request-id") or lowered.get("x-goog-request-id")
    text = message or (f"HTTP {status}" if status else "provider error")
    return cls(text, provider=provider, status_code=status, retry_after=retry_after, request_id=request_id,
               body=body, code=gstatus or (str(code) if code is not None else None))


_GOOGLE_STATUS: dict[str, type[ProviderError]] = {
    "INVALID_ARGUMENT": InvalidRequestError,
    "FAILED_PRECONDITION": InvalidRequestError,
    "OUT_OF_RANGE": InvalidRequestError,
    "ALREADY_EXISTS": InvalidRequestError,
    "UNAUTHENTICATED": AuthenticationError,
    "PERMISSION_DENIED": PermissionDeniedError,
    "NOT_FOUND": NotFoundError,
    "RESOURCE_EXHAUSTED": RateLimitError,
    "UNAVAILABLE": ServerError,
    "INTERNAL": ServerError,
    "UNKNOWN": ServerError,
    "DATA_LOSS": ServerError,
    "ABORTED": ServerError,
    "CANCELLED": ServerError,
    "DEADLINE_EXCEEDED": APITimeoutError,
}
_AUTH_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED", "ACCESS_TOKEN_EXPIRED", "CREDENTIALS_MISSING"})


def _google_class(status: int | None, gstatus: str | None, message: str,
                  details: list[Mapping[str, Any]]) -> type[ProviderError]:
    text = message.lower()
    reasons = {d.get("reason") for d in details if isinstance(d.get("reason"), str)}
    if reasons & _AUTH_REASONS or "api key not valid" in text or "api key expired" in text:
        return AuthenticationError
    if gstatus == "RESOURCE_EXHAUSTED" or status == 429:
        return QuotaExceededError if _is_quota(text, details) else RateLimitError
    if status in (None, 400) and "token count" in text and "exceeds the maximum" in text:
        return ContextLengthExceededError
    if status == 402:
        return QuotaExceededError  # out of credit (a proxy's answer, or Google's billing): never retried
    if gstatus in _GOOGLE_STATUS and not (gstatus == "UNKNOWN" and status is not None and status < 500):
        return _GOOGLE_STATUS[gstatus]
    # No Google status (a proxy's or a load balancer's body): the HTTP status, then the message.
    return error_class_for(status, None, gstatus, message)


def _is_quota(text: str, details: list[Mapping[str, Any]]) -> bool:
    """A 429 that waiting will not fix: a daily limit, or a limit of zero (no free tier for the model)."""
    if "limit: 0" in text or ("billing" in text and "enable" in text):
        return True
    for d in details:
        if str(d.get("@type", "")).endswith("QuotaFailure"):
            for v in d.get("violations") or ():
                if not isinstance(v, Mapping):
                    continue
                ident = f"{v.get('quotaId', '')} {v.get('quotaMetric', '')}".lower()
                if "perday" in ident or "per_day" in ident or "daily" in ident:
                    return True
                if str(v.get("quotaValue", "")) == "0":
                    return True
    return False


def _retry_delay(details: list[Mapping[str, Any]]) -> float | None:
    for d in details:
        if str(d.get("@type", "")).endswith("RetryInfo"):
            delay = d.get("retryDelay")
            if isinstance(delay, str) and delay.endswith("s"):
                try:
                    return max(0.0, float(delay[:-1]))
                except ValueError:
                    return None
    return None


def _wrapped_error(message: str | None) -> Mapping[str, Any] | None:
    """The error object Google sometimes embeds as JSON text in a 500's message (a 429 underneath)."""
    if not message:
        return None
    start = message.find("{")
    if start < 0:
        if "resource has been exhausted" in message.lower() or "resource_exhausted" in message.lower():
            return {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": message}}
        return None
    try:
        inner = json.loads(message[start:message.rfind("}") + 1])
    except ValueError:
        if "resource_exhausted" in message.lower():
            return {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": message}}
        return None
    return inner if isinstance(inner, Mapping) and isinstance(inner.get("error"), Mapping) else None


def _raise_for_body(payload: Mapping[str, Any], provider: str) -> None:
    if payload.get("error"):
        raise error_from_google(None, payload, provider=provider)


def _blocked(payload: Mapping[str, Any], provider: str) -> None:
    feedback = payload.get("promptFeedback")
    reason = feedback.get("blockReason") if isinstance(feedback, Mapping) else None
    if reason and isinstance(feedback, Mapping):
        message = feedback.get("blockReasonMessage") or f"the prompt was blocked ({reason})"
        raise ContentFilterError(str(message), provider=provider, code=str(reason), body=payload)


def _first_candidate(payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    candidates = payload.get("candidates")
    if not candidates:
        return None
    if len(candidates) == 1 and type(candidates[0]) is dict:  # the usual case: one candidate
        return candidates[0]
    for c in candidates:
        if isinstance(c, Mapping) and c.get("index", 0) == 0:
            return c
    first = candidates[0]
    return first if isinstance(first, Mapping) else None


class _Turn:
    """What one model turn is made of, part by part (whole responses and streams alike)."""

    __slots__ = ("blocks", "calls", "reasoning", "text")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.calls: list[ToolCall] = []
        self.blocks: list[VendorBlock] = []

    def add_call(self, fc: Mapping[str, Any], signature: Any) -> ToolCall:
        api_id = fc.get("id")
        args = fc.get("args")
        call = ToolCall(id=api_id if isinstance(api_id, str) and api_id else new_tool_call_id(),
                        name=str(fc.get("name") or ""), arguments=args if isinstance(args, dict) else {})
        self.calls.append(call)
        if isinstance(signature, str) or call.id == api_id:
            data: dict[str, Any] = {"tool_call_id": call.id}
            if isinstance(signature, str):
                data["signature"] = signature
            if call.id == api_id:
                data["api_id"] = True
            self.blocks.append(VendorBlock(provider=PROVIDER, type="function_call", data=data))
        return call

    def add_signature(self, signature: str, part: str) -> None:
        if part == "text":
            # One text part goes back; a later signature (streams sign the last piece) replaces an earlier.
            self.blocks = [b for b in self.blocks if not (b.type == "thought_signature" and b.data["part"] == "text")]
        self.blocks.append(VendorBlock(provider=PROVIDER, type="thought_signature",
                                       data={"signature": signature, "part": part}))

    def message(self) -> tuple[str, str | None, Message]:
        text = "".join(self.text)
        reasoning = "".join(self.reasoning) or None
        return text, reasoning, assistant_turn(text, self.calls, reasoning, self.blocks)


def decode_stream_event(data: str, provider: str = PROVIDER) -> Any:
    """One `streamGenerateContent?alt=sse` event's data as JSON (None for an empty one)."""
    return stream_json(data, provider)


_GENERATE_KEYS = frozenset({"candidates", "promptFeedback", "usageMetadata", "modelVersion", "responseId"})


def parse_generate_response(payload: Any, *, provider: str = PROVIDER, model: str) -> CompletionResponse:
    """A whole `generateContent` response; a blocked prompt raises `ContentFilterError`."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError(f"expected a JSON object, got {type(payload).__name__}", provider=provider)
    _raise_for_body(payload, provider)
    candidate = _first_candidate(payload)
    if candidate is None:
        _blocked(payload, provider)
        if not _GENERATE_KEYS.intersection(payload):  # nothing of a generateContent answer: not an empty success
            raise MalformedResponseError("the response is not a generateContent answer", provider=provider)
    turn = _Turn()
    raw_finish = None
    if candidate is not None:
        raw_finish = candidate.get("finishReason")
        content = candidate.get("content")
        for part in (content.get("parts") or ()) if isinstance(content, Mapping) else ():
            _take_part(turn, part, False)
    text, reasoning, message = turn.message()
    served = payload.get("modelVersion")
    return CompletionResponse(
        id=payload.get("responseId"),
        provider=provider,
        model=bare_model_name(served) if isinstance(served, str) and served else model,
        text=text,
        reasoning=reasoning,
        tool_calls=turn.calls,
        finish_reason=finish_reason(raw_finish, bool(turn.calls)),
        raw_finish_reason=raw_finish,
        usage=usage_from_wire(payload.get("usageMetadata")),
        message=message,
        raw=payload,
    )


def _take_part(turn: _Turn, part: Any, events: bool = True) -> list[StreamEvent]:
    """Adds one part to the turn; returns the stream events it makes (none made for a whole response: `events`
    False)."""
    if type(part) is not dict and not isinstance(part, Mapping):
        return []
    signature = part.get("thoughtSignature")
    fc = part.get("functionCall")
    if fc is not None and isinstance(fc, Mapping):
        index = len(turn.calls)
        call = turn.add_call(fc, signature)
        if not events:
            return []
        args = compact_json(call.arguments)
        return [ToolCallDeltaEvent(index=index, id=call.id, name=call.name, arguments_delta=args),
                ToolCallEvent(index=index, tool_call=call)]
    text = part.get("text")
    thought = part.get("thought") is True
    if signature is not None and isinstance(signature, str):
        turn.add_signature(signature, "thought" if thought else "text")
    if not isinstance(text, str) or not text:
        return []
    if thought:
        turn.reasoning.append(text)
        return [ReasoningDeltaEvent(delta=text)] if events else []
    turn.text.append(text)
    return [text_delta(text)] if events else []


class GenerateStreamAssembler:
    """Assembles `streamGenerateContent` chunks: parts out as events, the whole response at the end.

    Gemini sends each function call whole in one chunk, so its delta and complete events come together;
    usage is taken from the last chunk that carries it, and reported once at the end.
    """

    service_tier: str | None = None
    """Gemini's chunks name no service tier: nothing to look for in them (`response_metadata.observed`)."""

    def __init__(self, *, provider: str = PROVIDER, model: str) -> None:
        self.provider = provider
        self.model = model
        self._turn = _Turn()
        self._id: str | None = None
        self._served: str | None = None
        self._raw_finish: str | None = None
        self._usage: Mapping[str, Any] | None = None

    def feed(self, chunk: Any) -> Sequence[StreamEvent]:
        """Events for one decoded chunk."""
        if type(chunk) is not dict and not isinstance(chunk, Mapping):
            raise MalformedResponseError("a stream chunk is not a JSON object", provider=self.provider)
        if "error" in chunk:
            _raise_for_body(chunk, self.provider)
        if self._id is None:
            self._id = chunk.get("responseId")
        served = chunk.get("modelVersion")
        if served:
            self._served = served
        usage = chunk.get("usageMetadata")
        if usage:
            self._usage = usage
        candidates = chunk.get("candidates")
        if type(candidates) is list and len(candidates) == 1 and type(candidates[0]) is dict:  # nearly every chunk
            candidate: Mapping[str, Any] | None = candidates[0]
        else:
            candidate = _first_candidate(chunk)
        if candidate is None:
            _blocked(chunk, self.provider)
            return ()
        raw = candidate.get("finishReason")
        if raw:
            self._raw_finish = raw
        content = candidate.get("content")
        parts = content.get("parts") if type(content) is dict or isinstance(content, Mapping) else None
        if not parts:
            return ()
        if len(parts) == 1:
            return _take_part(self._turn, parts[0])
        events: list[StreamEvent] = []
        for part in parts:
            events.extend(_take_part(self._turn, part))
        return events

    def finish(self) -> tuple[Sequence[StreamEvent], CompletionResponse]:
        """The usage event and the whole response."""
        if self._raw_finish is None:  # a cut stream must not pass for a whole answer
            raise APIConnectionError("the stream ended before its end marker (no finishReason)", provider=self.provider)
        text, reasoning, message = self._turn.message()
        calls = self._turn.calls
        usage = usage_from_wire(self._usage)
        response = CompletionResponse(
            id=self._id,
            provider=self.provider,
            model=bare_model_name(self._served) if self._served else self.model,
            text=text,
            reasoning=reasoning,
            tool_calls=calls,
            finish_reason=finish_reason(self._raw_finish, bool(calls)),
            raw_finish_reason=self._raw_finish,
            usage=usage,
            message=message,
        )
        return ([UsageEvent(usage=usage)] if self._usage else []), response
