"""Options and tools are validated once per distinct value, and a change is never missed (issue 15 hot spots)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import BaseModel

from agentos_llm.errors import InvalidRequestError
from agentos_llm.options import coerce_tool, parse_options
from agentos_llm.types import ToolDefinition
from agentos_llm.wire.openai_chat import ChatStreamAssembler

WEATHER: dict[str, Any] = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def get_time(tz: str = "UTC") -> str:
    """The time in a zone."""
    return tz


class Lookup(BaseModel):
    """Looks a word up."""

    word: str


def test_a_function_tool_is_made_once() -> None:
    first = coerce_tool(get_time)
    assert first.name == "get_time" and first.parameters["properties"]["tz"]["default"] == "UTC"
    assert coerce_tool(get_time) is first
    assert coerce_tool(Lookup) is coerce_tool(Lookup)
    assert coerce_tool(Lookup).description == "Looks a word up."


def test_a_dict_tool_is_made_once_while_it_does_not_change() -> None:
    tool = copy.deepcopy(WEATHER)
    first = coerce_tool(tool)
    assert coerce_tool(tool) is first
    tool["function"]["description"] = "Changed in place."
    second = coerce_tool(tool)
    assert second is not first and second.description == "Changed in place."
    tool["function"]["parameters"]["properties"]["unit"] = {"type": "string"}  # a nested change counts too
    assert set(coerce_tool(tool).parameters["properties"]) == {"city", "unit"}
    equal_copy = copy.deepcopy(tool)
    assert coerce_tool(equal_copy).parameters == coerce_tool(tool).parameters


def test_a_tool_definition_is_taken_as_is() -> None:
    tool = ToolDefinition(name="f")
    assert coerce_tool(tool) is tool


def test_the_same_options_parse_to_the_same_object() -> None:
    options = {"tools": [copy.deepcopy(WEATHER)], "temperature": 0.2, "max_tokens": 300, "stop": ["END"]}
    first = parse_options(options)
    assert parse_options(dict(options)) is first
    assert parse_options({**options, "temperature": 0.3}).temperature == 0.3
    assert parse_options({**options, "max_tokens": 301}) is not first


def test_values_that_compare_equal_but_differ_in_type_are_not_confused() -> None:
    assert parse_options({"parallel_tool_calls": True}).parallel_tool_calls is True
    assert parse_options({"seed": 1}).seed == 1
    assert parse_options({"temperature": 1}).temperature == 1.0
    assert parse_options({"temperature": True}).temperature == 1.0  # pydantic's own coercion, unchanged


def test_a_changed_tool_list_is_seen() -> None:
    tools = [copy.deepcopy(WEATHER)]
    first = parse_options({"tools": tools})
    assert first.tools is not None and [t.name for t in first.tools] == ["get_weather"]
    tools.append(get_time)
    second = parse_options({"tools": tools})
    assert second.tools is not None and [t.name for t in second.tools] == ["get_weather", "get_time"]
    tools[0]["function"]["name"] = "get_forecast"
    third = parse_options({"tools": tools})
    assert third.tools is not None and [t.name for t in third.tools] == ["get_forecast", "get_time"]


def test_invalid_options_still_fail_every_time() -> None:
    for _ in range(2):
        with pytest.raises(InvalidRequestError, match="tool_choice 'nope' names no tool"):
            parse_options({"tools": [copy.deepcopy(WEATHER)], "tool_choice": "nope"})
        with pytest.raises(InvalidRequestError, match="unknown option"):
            parse_options({"temprature": 0.2})


def test_a_per_call_key_is_never_kept() -> None:
    from agentos_llm import options as module

    parse_options({"api_key": "test-key-for-this-call", "temperature": 0.1})
    assert not any("test-key-for-this-call" in repr(key) for key in module._PARSED)


def test_a_stream_tool_call_reused_for_the_response_sees_late_fragments() -> None:
    assembler = ChatStreamAssembler(provider="openai", model="m")
    assembler.feed({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": '{"a": '}}]}}]})
    events = assembler.feed({"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "function": {"arguments": "1}"}}]}, "finish_reason": "tool_calls"}]})
    emitted = [e for e in events if e.type == "tool_call"]
    assert emitted and emitted[0].tool_call.arguments == {"a": 1}
    assembler.feed({"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "function": {"arguments": ""}}]}}]})
    _, response = assembler.finish()
    assert response.tool_calls[0] is emitted[0].tool_call  # built once
    late = ChatStreamAssembler(provider="openai", model="m")
    late.feed({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": '{"a": 1'}}]}, "finish_reason": "stop"}]})
    late.feed({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "}"}}]}}]})
    _, response = late.finish()
    assert response.tool_calls[0].arguments == {"a": 1}  # a fragment after the finish reason still counts
