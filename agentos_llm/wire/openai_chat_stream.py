"""Chat-completion streams: SSE data payloads to chunks, chunks to events and the whole response (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import APIConnectionError, MalformedResponseError
from ..response_metadata import service_tier_of, with_service_tier
from ..response_pack import assistant_turn
from ..types import (
    CompletionResponse,
    ReasoningDeltaEvent,
    StreamEvent,
    ToolCall,
    ToolCallDeltaEvent,
    ToolCallEvent,
    UsageEvent,
    parse_tool_arguments,
)
from ..types_events import text_delta
from .common import stream_json
from .openai_chat_response import (
    ThinkTagSplitter,
    _content_text,
    _first_choice,
    _nested_usage,
    _raise_error_body,
    _reasoning_of,
    _upstream,
    finish_reason,
    new_tool_call_id,
    usage_from_wire,
)

_NO_DELTA: Mapping[str, Any] = {}


class _ToolBuilder:
    __slots__ = ("args", "built", "emitted", "id", "name", "synthetic")

    def __init__(self, id: str | None, name: str | None) -> None:
        # A call the host sent without an id gets one now, so every event and the response agree on it.
        self.synthetic = not id
        self.id = id or new_tool_call_id()
        self.name = name
        self.args: list[str] = []
        self.emitted = False
        self.built: tuple[int, str | None, ToolCall] | None = None

    def build(self) -> ToolCall:
        # The call made for its ToolCallEvent serves the final response too, unless a fragment came since.
        if self.built is not None and self.built[0] == len(self.args) and self.built[1] == self.name:
            call = self.built[2]
            if call.id == self.id:
                return call
        args, raw = parse_tool_arguments("".join(self.args))
        call = ToolCall(id=self.id, name=self.name or "", arguments=args, arguments_raw=raw)
        self.built = (len(self.args), self.name, call)
        return call


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
        self.service_tier: str | None = None
        """The tier that served the stream, as its chunks name it (the last one wins)."""

    def feed(self, chunk: Any) -> Sequence[StreamEvent]:
        """Events for one decoded chunk (`STREAM_END` for the `[DONE]` marker)."""
        if chunk is STREAM_END:
            self._ended = True
            return ()
        if type(chunk) is not dict and not isinstance(chunk, Mapping):
            raise MalformedResponseError("a stream chunk is not a JSON object", provider=self.provider)
        if chunk.get("error"):
            _raise_error_body(chunk, self.provider)
        if self._id is None:
            self._id = chunk.get("id")
            self._served_model = chunk.get("model")
            self._upstream = _upstream(chunk)
        tier = chunk.get("service_tier")  # on every chunk, in OpenAI's own streams
        if tier and type(tier) is str:
            self.service_tier = tier
        events: list[StreamEvent] = []
        choices = chunk.get("choices")
        if choices:
            choice = choices[0] if len(choices) == 1 else _first_choice(choices)
            if choice is not None:
                delta = choice.get("delta") or _NO_DELTA
                content = delta.get("content")
                if len(delta) == 1 and type(content) is str and self._think is None:  # plain text: most chunks
                    if content:
                        self._text.append(content)
                        events.append(text_delta(content))
                elif delta:
                    self._delta(delta, content, events)
                raw_finish = choice.get("finish_reason")
                if raw_finish:
                    self._raw_finish = raw_finish
                    events.extend(self._complete_tools())
        usage = chunk.get("usage")
        if not usage and "x_groq" in chunk:
            usage = _nested_usage(chunk)
        if usage:
            self._usage = usage
            self.service_tier = service_tier_of(chunk) or self.service_tier
            events.append(UsageEvent(usage=usage_from_wire(usage)))
        return events

    def _delta(self, delta: Mapping[str, Any], content: Any, events: list[StreamEvent]) -> None:
        # Look for reasoning only where a host may have put some.
        if (delta.get("reasoning_content") or delta.get("reasoning") or delta.get("reasoning_details")
                or (content is not None and type(content) is not str)):
            reasoning = _reasoning_of(delta)
            if reasoning:
                events.extend(self._reason(reasoning))
        if content:
            text = content if type(content) is str else _content_text(content)
            if text and self._think is not None:
                text, inline = self._think.feed(text)
                events.extend(self._reason(inline))
            if text:
                self._text.append(text)
                events.append(text_delta(text))
        fragments = delta.get("tool_calls")
        if fragments:
            for frag in fragments:
                events.append(self._tool_fragment(frag))

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
            events.append(text_delta(text))
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
            message=assistant_turn(text, calls, reasoning),
            upstream=self._upstream,
        )
        return tail, with_service_tier(response, self.service_tier)


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
        if self.done:
            return None
        if data.startswith("[DONE]"):
            self.done = True
            return STREAM_END
        return stream_json(data, self.provider)


def decode_chunk(data: str, provider: str) -> Any:
    """One SSE data payload as JSON."""
    return stream_json(data, provider)
