"""Pure stream assembly for the OpenAI Responses API: SSE events in, our stream events out.

Output items are keyed by `output_index`. Deltas go out as events as they arrive; at the end the
finished items (from `response.output_item.done`, else the terminal event's `output`, else assembled
from the deltas) go through the same item parsing as a whole response, so `generate` and `stream`
agree exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import APIConnectionError, MalformedResponseError, ProviderError, error_from_response
from ..types import (
    CompletionResponse,
    ReasoningDeltaEvent,
    StreamEvent,
    TextDeltaEvent,
    ToolCallDeltaEvent,
    ToolCallEvent,
    UsageEvent,
)
from .common import stream_json
from .openai_responses import new_call_id, response_of, tool_call_of, usage_from_wire

__all__ = ["EventDecoder", "ResponsesStreamAssembler", "stream_error"]

_CALL_TYPES = frozenset({"function_call", "custom_tool_call"})
_HEAD = frozenset({"response.created", "response.in_progress", "response.queued"})
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
_ARGUMENT_DELTAS = {"response.function_call_arguments.delta": "function_call",
                    "response.custom_tool_call_input.delta": "custom_tool_call"}
_REASONING_DELTAS = {"response.reasoning_summary_text.delta": "summary_index",
                     "response.reasoning_text.delta": "content_index"}


class EventDecoder:
    """SSE events to chunks: the data's JSON, its `type` taken from the `event:` line when the JSON has none.

    `[DONE]` (OpenRouter ends its streams with it) and everything after it are ignored.
    """

    __slots__ = ("done", "provider")

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.done = False

    def decode(self, event: str | None, data: str) -> Any:
        """The chunk an SSE event carries, or None (keep-alives, `[DONE]` and what follows it)."""
        if self.done or not data:
            return None
        if data.startswith("[DONE]"):
            self.done = True
            return None
        chunk = stream_json(data, self.provider)
        if isinstance(chunk, dict) and "type" not in chunk and event:
            chunk["type"] = event
        return chunk


def stream_error(chunk: Mapping[str, Any], provider: str) -> ProviderError:
    """The typed error of an `error` stream event (its fields at the top level, or under `error`)."""
    nested = chunk.get("error")
    if isinstance(nested, Mapping):
        error = dict(nested)
    else:
        error = {k: chunk[k] for k in ("message", "code", "param") if chunk.get(k) is not None}
    status = error.get("status_code", error.get("status"))
    return error_from_response(status if isinstance(status, int) and not isinstance(status, bool) else None,
                               {"error": error}, provider=provider)


class _Part:
    __slots__ = ("annotations", "kind", "pieces")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.pieces: list[str] = []
        self.annotations: list[Any] = []

    def data(self) -> dict[str, Any]:
        text = "".join(self.pieces)
        if self.kind == "refusal":
            return {"type": "refusal", "refusal": text}
        return {"type": self.kind, "text": text, "annotations": list(self.annotations)}


class _Item:
    """One output item as it streams: what `output_item.added` said, its deltas, and its `done` copy."""

    __slots__ = ("added", "args", "content", "done", "parts", "summary", "tool_emitted", "tool_index")

    def __init__(self, added: Mapping[str, Any]) -> None:
        self.added = dict(added)
        self.done: dict[str, Any] | None = None
        self.parts: dict[int, _Part] = {}
        self.args: list[str] = []
        self.summary: dict[int, list[str]] = {}
        self.content: dict[int, list[str]] = {}
        self.tool_index: int | None = None
        self.tool_emitted = False

    def part(self, index: int, kind: str) -> _Part:
        part = self.parts.get(index)
        if part is None:
            part = self.parts[index] = _Part(kind)
        return part

    def assembled(self) -> dict[str, Any]:
        """The item as its deltas built it (for hosts that send no `output_item.done`)."""
        data = dict(self.added)
        kind = data.get("type")
        if kind == "message" and self.parts:
            data["content"] = [self.parts[i].data() for i in sorted(self.parts)]
        elif kind == "function_call" and self.args:
            data["arguments"] = "".join(self.args)
        elif kind == "custom_tool_call" and self.args:
            data["input"] = "".join(self.args)
        elif kind == "reasoning":
            if self.summary:
                data["summary"] = [{"type": "summary_text", "text": "".join(self.summary[i])}
                                   for i in sorted(self.summary)]
            if self.content:
                data["content"] = [{"type": "reasoning_text", "text": "".join(self.content[i])}
                                   for i in sorted(self.content)]
        return data

    def final(self) -> dict[str, Any]:
        return self.done if self.done is not None else self.assembled()


def _int(value: Any) -> int | None:
    if type(value) is int:
        return value
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class ResponsesStreamAssembler:
    """Assembles Responses stream events: deltas out as events, the whole response at the end.

    `provider` names the provider in the response, `vendor` the provider id its vendor blocks belong to.
    """

    def __init__(self, *, provider: str, model: str, vendor: str | None = None) -> None:
        self.provider = provider
        self.vendor = vendor or provider
        self.model = model
        self._head: dict[str, Any] = {}
        self._terminal: Mapping[str, Any] | None = None
        self._items: dict[int, _Item] = {}
        self._by_id: dict[str, int] = {}
        self._tools = 0
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._segment: tuple[int, str, int] | None = None

    # ------------------------------------------------------------------ feeding

    def feed(self, chunk: Any) -> Sequence[StreamEvent]:
        """Events for one decoded stream event."""
        if chunk is None:
            return ()
        if type(chunk) is not dict and not isinstance(chunk, Mapping):
            raise MalformedResponseError("a stream event is not a JSON object", provider=self.provider)
        kind = chunk.get("type")
        if type(kind) is not str and not isinstance(kind, str):
            raise MalformedResponseError("a stream event has no type", provider=self.provider)
        if kind == "response.output_text.delta":
            item = self._find(chunk, "message")
            piece = self._piece(chunk)
            item.part(_int(chunk.get("content_index")) or 0, "output_text").pieces.append(piece)
            if not piece:
                return ()
            self._text.append(piece)
            return (TextDeltaEvent(delta=piece),)
        if kind in _ARGUMENT_DELTAS:
            item = self._find(chunk, _ARGUMENT_DELTAS[kind])
            piece = self._piece(chunk)
            item.args.append(piece)
            index = self._tool_index(item)
            return (ToolCallDeltaEvent(index=index, arguments_delta=piece),) if piece else ()
        if kind in _REASONING_DELTAS:
            return self._reason(chunk, _REASONING_DELTAS[kind])
        if kind == "response.output_item.added":
            return self._added(chunk)
        if kind == "response.output_item.done":
            return self._done(chunk)
        if kind == "response.content_part.added":
            part = chunk.get("part")
            item = self._find(chunk, "message")
            item.part(_int(chunk.get("content_index")) or 0,
                      str(part.get("type") or "output_text") if isinstance(part, Mapping) else "output_text")
            return ()
        if kind == "response.output_text.annotation.added":
            item = self._find(chunk, "message")
            part = item.part(_int(chunk.get("content_index")) or 0, "output_text")
            if isinstance(chunk.get("annotation"), Mapping):
                part.annotations.append(dict(chunk["annotation"]))
            return ()
        if kind == "response.refusal.delta":
            item = self._find(chunk, "message")
            item.part(_int(chunk.get("content_index")) or 0, "refusal").pieces.append(self._piece(chunk))
            return ()
        if kind in _HEAD:
            response = chunk.get("response")
            if isinstance(response, Mapping):
                self._head.update({k: v for k, v in response.items() if v is not None})
            return ()
        if kind in _TERMINAL:
            return self._end(chunk)
        if kind == "error":
            raise stream_error(chunk, self.provider)
        return ()  # progress events of hosted tools, `.done` twins of deltas, and event types added later

    def _piece(self, chunk: Mapping[str, Any]) -> str:
        piece = chunk.get("delta")
        if type(piece) is str:
            return piece
        if piece is None:
            return ""
        if not isinstance(piece, str):
            raise MalformedResponseError(f"a {chunk.get('type')} event's delta is not text", provider=self.provider)
        return piece

    def _find(self, chunk: Mapping[str, Any], kind: str) -> _Item:
        """The item an event is about: by `output_index`, else `item_id`; opened here if never announced."""
        index = _int(chunk.get("output_index"))
        item_id = chunk.get("item_id")
        if index is None and isinstance(item_id, str):
            index = self._by_id.get(item_id)
        if index is None:
            if not isinstance(item_id, str):
                raise MalformedResponseError(f"a {chunk.get('type')} event names no output item",
                                             provider=self.provider)
            index = max(self._items, default=-1) + 1
        item = self._items.get(index)
        if item is None:
            added: dict[str, Any] = {"type": kind}
            if isinstance(item_id, str):
                added["id"] = item_id
                self._by_id[item_id] = index
            item = self._items[index] = _Item(added)
        return item

    def _tool_index(self, item: _Item) -> int:
        if item.tool_index is None:
            item.tool_index = self._tools
            self._tools += 1
        return item.tool_index

    def _ensure_call_id(self, data: dict[str, Any], known: Mapping[str, Any] | None) -> None:
        # Every event and the final response must quote one id, even for a host that sends none.
        if not data.get("call_id"):
            fallback = known.get("call_id") if known is not None else None
            data["call_id"] = fallback or data.get("id") or new_call_id()

    def _item_of(self, chunk: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        item = chunk.get("item")
        if not isinstance(item, Mapping):
            raise MalformedResponseError(f"a {chunk.get('type')} event has no item", provider=self.provider)
        index = _int(chunk.get("output_index"))
        if index is None:
            found = self._by_id.get(item["id"]) if isinstance(item.get("id"), str) else None
            index = found if found is not None else max(self._items, default=-1) + 1
        return index, dict(item)

    def _added(self, chunk: Mapping[str, Any]) -> Sequence[StreamEvent]:
        index, data = self._item_of(chunk)
        existing = self._items.get(index)
        if existing is not None:
            existing.added.update(data)
            item = existing
        else:
            item = self._items[index] = _Item(data)
        if isinstance(data.get("id"), str):
            self._by_id[data["id"]] = index
        if data.get("type") not in _CALL_TYPES:
            return ()
        self._ensure_call_id(item.added, None)
        return (ToolCallDeltaEvent(index=self._tool_index(item), id=item.added["call_id"],
                                   name=item.added.get("name")),)

    def _done(self, chunk: Mapping[str, Any]) -> Sequence[StreamEvent]:
        index, data = self._item_of(chunk)
        item = self._items.get(index)
        if item is None:
            item = self._items[index] = _Item(data)
        if isinstance(data.get("id"), str):
            self._by_id[data["id"]] = index
        if data.get("type") in _CALL_TYPES:
            self._ensure_call_id(data, item.added)
        item.done = data
        return self._emit_call(item)

    def _emit_call(self, item: _Item) -> Sequence[StreamEvent]:
        data = item.final()
        if data.get("type") not in _CALL_TYPES or item.tool_emitted:
            return ()
        item.tool_emitted = True
        return (ToolCallEvent(index=self._tool_index(item), tool_call=tool_call_of(data)),)

    def _reason(self, chunk: Mapping[str, Any], index_key: str) -> Sequence[StreamEvent]:
        item = self._find(chunk, "reasoning")
        piece = self._piece(chunk)
        at = _int(chunk.get(index_key)) or 0
        store = item.summary if index_key == "summary_index" else item.content
        store.setdefault(at, []).append(piece)
        if not piece:
            return ()
        # Parts of reasoning are joined by a blank line, in the whole response as here.
        segment = (_int(chunk.get("output_index")) or -1, index_key, at)
        if segment != self._segment and self._reasoning:
            piece = "\n\n" + piece
        self._segment = segment
        self._reasoning.append(piece)
        return (ReasoningDeltaEvent(delta=piece),)

    def _end(self, chunk: Mapping[str, Any]) -> Sequence[StreamEvent]:
        response = chunk.get("response")
        if not isinstance(response, Mapping):
            raise MalformedResponseError(f"a {chunk.get('type')} event has no response", provider=self.provider)
        self._terminal = response
        usage = response.get("usage")
        return (UsageEvent(usage=usage_from_wire(usage)),) if isinstance(usage, Mapping) else ()

    # ------------------------------------------------------------------ the end

    def finish(self) -> tuple[Sequence[StreamEvent], CompletionResponse]:
        """Trailing events (text, reasoning and calls no event carried yet) and the whole response."""
        terminal = self._terminal
        if terminal is None:
            raise APIConnectionError("the stream ended before its end marker (no response.completed, "
                                     "response.incomplete or response.failed)", provider=self.provider)
        output = terminal.get("output")
        recorded = [i for i in output if isinstance(i, Mapping)] if isinstance(output, list) else []
        tail: list[StreamEvent] = []
        items: list[dict[str, Any]] = []
        for index in sorted(set(self._items) | set(range(len(recorded)))):
            item = self._items.get(index)
            if item is None or (item.done is None and index < len(recorded)):
                known = item.added if item is not None else None
                data = dict(recorded[index])
                if data.get("type") in _CALL_TYPES:
                    self._ensure_call_id(data, known)
                if item is None:
                    item = self._items[index] = _Item(data)
                item.done = data
            items.append(item.final())
        facts = {**self._head, **{k: v for k, v in terminal.items() if v is not None}}
        response = response_of(facts, items, provider=self.provider, vendor=self.vendor, model=self.model)
        tail.extend(self._catch_up(response))
        for index in sorted(self._items):
            tail.extend(self._emit_call(self._items[index]))
        return tail, response

    def _catch_up(self, response: CompletionResponse) -> list[StreamEvent]:
        """Text and reasoning the response has but no delta carried (hosts that send whole items only)."""
        events: list[StreamEvent] = []
        sent = "".join(self._text)
        if len(response.text) > len(sent) and response.text.startswith(sent):
            events.append(TextDeltaEvent(delta=response.text[len(sent):]))
        thought = response.reasoning or ""
        sent = "".join(self._reasoning)
        if len(thought) > len(sent) and thought.startswith(sent):
            events.append(ReasoningDeltaEvent(delta=thought[len(sent):]))
        return events
