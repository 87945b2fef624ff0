"""Pure converters for Cohere's v2 chat stream (`POST /v2/chat` with `stream: true`, server-sent events).

Each event's JSON names its `type` (`message-start`, `content-start`, `content-delta`, `content-end`,
`tool-plan-delta`, `tool-call-start`, `tool-call-delta`, `tool-call-end`, `citation-start`,
`citation-end`, `message-end`, `debug`); the SSE `event:` line repeats it. The assembler turns them into
our stream events and, at the end, into the same `CompletionResponse` a whole answer gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import APIConnectionError, MalformedResponseError, ProviderError, ServerError
from ..types import (
    CompletionResponse,
    ReasoningDeltaEvent,
    StreamEvent,
    TextDeltaEvent,
    ToolCall,
    ToolCallDeltaEvent,
    ToolCallEvent,
    UsageEvent,
    parse_tool_arguments,
)
from .cohere_chat import PROVIDER, assistant_response, error_from_cohere, usage_from_wire
from .common import stream_json

__all__ = ["ChatStreamAssembler", "decode_event"]


def decode_event(event: str | None, data: str, provider: str = PROVIDER) -> Any:
    """One SSE event as JSON, its type taken from the `event:` line when the data does not name it
    (None for an empty keep-alive or a `[DONE]` marker)."""
    if not data or data == "[DONE]":
        return None
    payload = stream_json(data, provider)
    if isinstance(payload, dict) and "type" not in payload and event:
        payload["type"] = event
    return payload


def _message(event: Mapping[str, Any]) -> Mapping[str, Any]:
    delta = event.get("delta")
    message = delta.get("message") if isinstance(delta, Mapping) else None
    return message if isinstance(message, Mapping) else {}


class _ToolCall:
    __slots__ = ("args", "id", "name", "ordinal")

    def __init__(self, ordinal: int, call_id: str, name: str) -> None:
        self.ordinal = ordinal
        self.id = call_id
        self.name = name
        self.args: list[str] = []


class ChatStreamAssembler:
    """Assembles v2 chat stream events: deltas out as events, the whole response at the end.

    Content parts are kept by their `index`, tool calls by theirs (numbered in order of arrival for our
    events); usage arrives once, in `message-end`, and gives one `UsageEvent`.
    """

    def __init__(self, *, provider: str = PROVIDER, model: str, structured_tool: str | None = None) -> None:
        self.provider = provider
        self.model = model
        self.structured_tool = structured_tool
        self._id: str | None = None
        self._parts: dict[int, dict[str, Any]] = {}
        self._plan: list[str] = []
        self._calls: dict[int, _ToolCall] = {}
        self._done_calls: dict[int, dict[str, Any]] = {}
        self._tools = 0
        self._citations: list[Any] = []
        self._finish: str | None = None
        self._usage: Any = None
        self._started = False
        self._ended = False

    def feed(self, event: Any) -> Sequence[StreamEvent]:
        """Events for one decoded stream event."""
        if event is None:
            return ()
        if not isinstance(event, Mapping):
            raise MalformedResponseError("a stream event is not a JSON object", provider=self.provider)
        kind = event.get("type")
        if kind == "content-delta":
            return self._content_delta(event)
        if kind == "tool-call-delta":
            return self._call_delta(event)
        if kind == "content-start":
            return self._content_start(event)
        if kind == "tool-plan-delta":
            plan = _message(event).get("tool_plan")
            if isinstance(plan, str):
                self._plan.append(plan)
            return ()
        if kind == "tool-call-start":
            return self._call_start(event)
        if kind == "tool-call-end":
            return self._call_end(self._index(event))
        if kind == "citation-start":
            citation = _message(event).get("citations")
            if isinstance(citation, Mapping):
                self._citations.append(citation)
            return ()
        if kind == "message-start":
            self._started = True
            self._id = event.get("id") if isinstance(event.get("id"), str) else None
            return ()
        if kind == "message-end":
            return self._message_end(event)
        return ()  # content-end, citation-end, debug and event types added later

    def _index(self, event: Mapping[str, Any]) -> int:
        index = event.get("index", 0)
        if not isinstance(index, int):
            raise MalformedResponseError("a stream event has no index", provider=self.provider)
        return index

    def _content_start(self, event: Mapping[str, Any]) -> Sequence[StreamEvent]:
        content = _message(event).get("content")
        content = dict(content) if isinstance(content, Mapping) else {}
        kind = "thinking" if content.get("type") == "thinking" or "thinking" in content else "text"
        start = content.get(kind)
        part = self._parts[self._index(event)] = {"type": kind, "pieces": [start] if isinstance(start, str) else []}
        return self._piece(kind, part["pieces"][0] if part["pieces"] else "")

    def _piece(self, kind: str, text: str) -> Sequence[StreamEvent]:
        if not text:
            return ()
        return (ReasoningDeltaEvent(delta=text),) if kind == "thinking" else (TextDeltaEvent(delta=text),)

    def _content_delta(self, event: Mapping[str, Any]) -> Sequence[StreamEvent]:
        content = _message(event).get("content")
        content = content if isinstance(content, Mapping) else {}
        index = self._index(event)
        part = self._parts.get(index)
        if part is None:  # a delta without its start: its own field says what it is
            kind = "thinking" if "thinking" in content else "text"
            part = self._parts[index] = {"type": kind, "pieces": []}
        piece = content.get(part["type"])
        if not isinstance(piece, str):
            return ()
        part["pieces"].append(piece)
        return self._piece(part["type"], piece)

    def _call_start(self, event: Mapping[str, Any]) -> Sequence[StreamEvent]:
        start = _message(event).get("tool_calls")
        start = start if isinstance(start, Mapping) else {}
        function = start.get("function")
        function = function if isinstance(function, Mapping) else {}
        name = str(function.get("name") or "")
        # The answer tool of structured output is not a tool call: it gets no index and no events.
        ordinal = -1
        if name != self.structured_tool:
            ordinal, self._tools = self._tools, self._tools + 1
        call = _ToolCall(ordinal, str(start.get("id") or ""), name)
        self._calls[self._index(event)] = call
        first = function.get("arguments")
        if isinstance(first, str) and first:
            call.args.append(first)
        if call.ordinal < 0:
            return ()
        return (ToolCallDeltaEvent(index=call.ordinal, id=call.id, name=name, arguments_delta=first or ""),)

    def _call_delta(self, event: Mapping[str, Any]) -> Sequence[StreamEvent]:
        call = self._calls.get(self._index(event))
        if call is None:
            raise MalformedResponseError("a tool-call delta for a call that never started", provider=self.provider)
        delta = _message(event).get("tool_calls")
        function = delta.get("function") if isinstance(delta, Mapping) else None
        piece = function.get("arguments") if isinstance(function, Mapping) else None
        if not isinstance(piece, str) or not piece:
            return ()
        call.args.append(piece)
        return (ToolCallDeltaEvent(index=call.ordinal, arguments_delta=piece),) if call.ordinal >= 0 else ()

    def _call_end(self, index: int) -> Sequence[StreamEvent]:
        call = self._calls.pop(index, None)
        if call is None:
            return ()
        arguments = "".join(call.args)
        self._done_calls[index] = {"id": call.id, "type": "function", "ordinal": call.ordinal,
                                   "function": {"name": call.name, "arguments": arguments}}
        if call.ordinal < 0:
            return ()
        args, raw = parse_tool_arguments(arguments)
        return (ToolCallEvent(index=call.ordinal, tool_call=ToolCall(id=call.id, name=call.name, arguments=args,
                                                                      arguments_raw=raw)),)

    def _message_end(self, event: Mapping[str, Any]) -> Sequence[StreamEvent]:
        delta = event.get("delta")
        delta = delta if isinstance(delta, Mapping) else {}
        error = delta.get("error")
        if isinstance(error, str) and error:
            err = error_from_cohere(None, {"message": error}, provider=self.provider)
            if type(err) is ProviderError:  # nothing more specific said: the server failed mid-answer
                err = ServerError(err.message, provider=self.provider, code=err.code, body=err.body)
            raise err
        self._ended = True
        if isinstance(delta.get("finish_reason"), str):
            self._finish = delta["finish_reason"]
        usage = delta.get("usage")
        if isinstance(usage, Mapping):
            self._usage = usage
            return (UsageEvent(usage=usage_from_wire(usage)),)
        return ()

    def finish(self) -> tuple[Sequence[StreamEvent], CompletionResponse]:
        """Trailing tool-call events (calls never ended) and the whole response."""
        if not self._ended:  # a cut stream must not pass for a whole answer
            raise APIConnectionError("the stream ended before its end marker (no message-end)", provider=self.provider)
        tail: list[StreamEvent] = []
        for index in sorted(self._calls):
            tail.extend(self._call_end(index))
        content = [{"type": p["type"], p["type"]: "".join(p["pieces"])} for _, p in sorted(self._parts.items())]
        calls = [self._done_calls[i] for i in sorted(self._done_calls)]
        response = assistant_response(
            content=content, tool_calls=calls, tool_plan="".join(self._plan) or None, citations=self._citations,
            response_id=self._id, raw_finish=self._finish, usage=self._usage, provider=self.provider,
            model=self.model, structured_tool=self.structured_tool)
        return tail, response
