"""Anthropic Messages streams: SSE data payloads to events, and the whole response at the end (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import APIConnectionError, MalformedResponseError
from ..response_metadata import service_tier_of, with_service_tier
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
from ..types_events import text_delta
from .anthropic_response import PROVIDER, _raise_error_body, _response, tool_id, usage_from_wire
from .common import stream_json

# ---------------------------------------------------------------------- streaming


def decode_event(data: str, provider: str = PROVIDER) -> Any:
    """One SSE data payload as JSON (None for an empty keep-alive)."""
    return stream_json(data, provider)


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
        self.service_tier: str | None = None
        """The tier that served the stream: `usage.service_tier` of `message_start` or a later `message_delta`."""

    def feed(self, event: Any) -> Sequence[StreamEvent]:
        """Events for one decoded stream event."""
        if event is None:
            return ()
        if type(event) is not dict and not isinstance(event, Mapping):
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
            self.service_tier = service_tier_of(event) or self.service_tier
            return ()
        if kind == "message_delta":
            delta = event.get("delta") or {}
            if delta.get("stop_reason"):
                self._stop_reason = delta["stop_reason"]
            usage = event.get("usage")
            if isinstance(usage, Mapping):
                self.service_tier = service_tier_of(event) or self.service_tier
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
        index = event.get("index")
        block = self._blocks.get(index if type(index) is int else self._index(event))
        if block is None:
            raise MalformedResponseError("a delta for a content block that never started", provider=self.provider)
        delta = event.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text") or ""
            block.add("text", text)
            if type(text) is str:  # what the stream says, nearly always: no need to validate it
                return (text_delta(text),) if text else ()
            return (TextDeltaEvent(delta=text),)
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
        return tail, with_service_tier(response, self.service_tier)
