"""Stream events: text and reasoning deltas, tool calls as they stream, usage, and the final `done`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from .model_construction import set_extra, set_fields_set, set_private
from .types_messages import ToolCall
from .types_responses import CompletionResponse
from .types_usage import Usage

_DEFERRED = ConfigDict(defer_build=True)  # built on first use: not on a first call's path
_new = object.__new__
_set = object.__setattr__

__all__ = [
    "DoneEvent",
    "ReasoningDeltaEvent",
    "StreamEvent",
    "TextDeltaEvent",
    "ToolCallDeltaEvent",
    "ToolCallEvent",
    "UsageEvent",
    "text_delta",
]

class TextDeltaEvent(BaseModel):
    """A piece of the answer's text."""

    type: Literal["text_delta"] = "text_delta"
    delta: str


def text_delta(text: str) -> TextDeltaEvent:
    """`TextDeltaEvent(delta=text)` for a `text` known to be a `str`, made without validation (a stream makes one
    per event)."""
    event = _new(TextDeltaEvent)  # what `model_construction.construct` makes, without its plan lookup
    _set(event, "__dict__", {"type": "text_delta", "delta": text})
    set_fields_set(event, {"delta"})
    set_extra(event, None)
    set_private(event, None)
    return event


class ReasoningDeltaEvent(BaseModel):
    """A piece of the model's reasoning text."""

    type: Literal["reasoning_delta"] = "reasoning_delta"
    delta: str


class ToolCallDeltaEvent(BaseModel):
    """A fragment of a tool call as it streams: id and name come first, then argument text."""

    type: Literal["tool_call_delta"] = "tool_call_delta"
    index: int
    id: str | None = None
    name: str | None = None
    arguments_delta: str = ""


class ToolCallEvent(BaseModel):
    """A tool call, complete with parsed arguments."""

    type: Literal["tool_call"] = "tool_call"
    index: int
    tool_call: ToolCall


class UsageEvent(BaseModel):
    """Token usage as the vendor reported it during the stream."""

    type: Literal["usage"] = "usage"
    usage: Usage


class DoneEvent(BaseModel):
    """The last event of every stream: the whole response, as `generate` would have returned it."""

    model_config = _DEFERRED

    type: Literal["done"] = "done"
    response: CompletionResponse


StreamEvent = Annotated[
    TextDeltaEvent | ReasoningDeltaEvent | ToolCallDeltaEvent | ToolCallEvent | UsageEvent | DoneEvent,
    Field(discriminator="type"),
]
