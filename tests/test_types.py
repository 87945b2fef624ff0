"""The provider-neutral data model: messages, tools, usage, responses and stream events."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from agentos_llm.types import (
    CompletionResponse,
    DoneEvent,
    FinishReason,
    ImagePart,
    Message,
    ReasoningDeltaEvent,
    StreamEvent,
    TextDeltaEvent,
    TextPart,
    ToolCall,
    ToolCallDeltaEvent,
    ToolCallEvent,
    ToolDefinition,
    Usage,
    UsageEvent,
    assistant,
    coerce_messages,
    system,
    tool_result,
    user,
)

# ---------------------------------------------------------------- messages in OpenAI chat shape


def test_message_from_openai_dict_with_string_content() -> None:
    m = Message.model_validate({"role": "user", "content": "hello"})
    assert m.role == "user"
    assert m.content == "hello"
    assert m.text == "hello"
    assert m.tool_calls == []


def test_message_from_openai_dict_with_text_and_image_parts() -> None:
    m = Message.model_validate(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is "},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
                {"type": "text", "text": "this?"},
            ],
        }
    )
    assert isinstance(m.content, list)
    assert [type(p) for p in m.content] == [TextPart, ImagePart, TextPart]
    image = m.content[1]
    assert isinstance(image, ImagePart)
    assert image.url == "https://example.com/cat.png"
    assert image.data is None
    assert image.detail == "low"
    assert m.text == "what is this?"


def test_message_image_url_as_plain_string() -> None:
    m = Message.model_validate(
        {"role": "user", "content": [{"type": "image_url", "image_url": "https://example.com/a.jpg"}]}
    )
    assert isinstance(m.content, list)
    part = m.content[0]
    assert isinstance(part, ImagePart)
    assert part.url == "https://example.com/a.jpg"


def test_message_data_url_becomes_base64_image_part() -> None:
    m = Message.model_validate(
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}],
        }
    )
    assert isinstance(m.content, list)
    part = m.content[0]
    assert isinstance(part, ImagePart)
    assert part.url is None
    assert part.data == "iVBORw0KGgo="
    assert part.media_type == "image/png"
    # and it round-trips back to the same data URL
    assert part.data_url == "data:image/png;base64,iVBORw0KGgo="


def test_assistant_tool_calls_with_json_string_arguments_are_parsed() -> None:
    m = Message.model_validate(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris", "days": 2}'},
                },
                {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": ""}},
            ],
        }
    )
    assert [c.name for c in m.tool_calls] == ["get_weather", "now"]
    assert m.tool_calls[0].id == "call_1"
    assert m.tool_calls[0].arguments == {"city": "Paris", "days": 2}
    assert m.tool_calls[0].arguments_raw is None
    assert m.tool_calls[1].arguments == {}
    assert m.tool_calls[1].arguments_raw is None


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"a string"'])
def test_unparsable_or_non_object_arguments_are_kept_raw(raw: str) -> None:
    m = Message.model_validate(
        {
            "role": "assistant",
            "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": raw}}],
        }
    )
    call = m.tool_calls[0]
    assert call.arguments == {}
    assert call.arguments_raw == raw


def test_openai_only_keys_are_dropped() -> None:
    m = Message.model_validate(
        {
            "role": "assistant",
            "content": "hi",
            "refusal": None,
            "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        }
    )
    assert m.text == "hi"
    assert m.tool_calls[0].name == "f"


def test_coerce_messages_accepts_strings_dicts_and_messages() -> None:
    assert coerce_messages("hi") == [Message(role="user", content="hi")]
    out = coerce_messages([{"role": "system", "content": "s"}, user("u")])
    assert [m.role for m in out] == ["system", "user"]
    assert all(isinstance(m, Message) for m in out)


# ---------------------------------------------------------------- helpers


def test_helpers_build_the_expected_messages() -> None:
    assert system("be brief") == Message(role="system", content="be brief")
    assert user("hello") == Message(role="user", content="hello")

    parts = user(["look at", ImagePart(url="https://x/y.png")])
    assert isinstance(parts.content, list)
    assert parts.content[0] == TextPart(text="look at")
    assert isinstance(parts.content[1], ImagePart)

    call = ToolCall(id="c1", name="f", arguments={"a": 1})
    a = assistant("calling", tool_calls=[call])
    assert a.role == "assistant"
    assert a.text == "calling"
    assert a.tool_calls == [call]
    assert assistant().content is None


def test_tool_result_serializes_non_string_content_as_json() -> None:
    m = tool_result("c1", {"temp": 21, "ok": True}, name="weather")
    assert m.role == "tool"
    assert m.tool_call_id == "c1"
    assert m.name == "weather"
    assert m.content == '{"temp": 21, "ok": true}'
    assert tool_result("c2", "plain").content == "plain"


# ---------------------------------------------------------------- validation


def test_tool_message_needs_tool_call_id() -> None:
    with pytest.raises(ValidationError, match="tool_call_id"):
        Message(role="tool", content="42")
    with pytest.raises(ValidationError, match="tool_call_id"):
        Message.model_validate({"role": "tool", "content": "42"})


def test_only_assistant_messages_carry_tool_calls() -> None:
    with pytest.raises(ValidationError, match="only assistant"):
        Message(role="user", content="x", tool_calls=[ToolCall(id="c", name="f")])
    with pytest.raises(ValidationError, match="only assistant"):
        Message.model_validate(
            {"role": "user", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]}
        )


def test_image_needs_exactly_one_source() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        ImagePart()
    with pytest.raises(ValidationError, match="exactly one"):
        ImagePart(url="https://x/y.png", data="AAAA", media_type="image/png")
    with pytest.raises(ValidationError, match="media_type"):
        ImagePart(data="AAAA")
    assert ImagePart(data="AAAA", media_type="image/jpeg").data_url == "data:image/jpeg;base64,AAAA"


def test_unknown_message_fields_are_rejected() -> None:
    with pytest.raises(ValidationError):
        Message.model_validate({"role": "user", "content": "x", "bogus": 1})
    with pytest.raises(ValidationError):
        Message.model_validate({"role": "robot", "content": "x"})


# ---------------------------------------------------------------- tools


class WeatherArgs(BaseModel):
    """Weather for a city."""

    city: str = Field(description="the city name")
    days: int = 1


def test_tool_from_model() -> None:
    tool = ToolDefinition.from_model(WeatherArgs)
    assert tool.name == "WeatherArgs"
    assert tool.description == "Weather for a city."
    params = tool.parameters
    assert params["type"] == "object"
    assert "title" not in params
    assert "description" not in params
    assert set(params["properties"]) == {"city", "days"}
    assert params["required"] == ["city"]
    assert params["properties"]["city"]["description"] == "the city name"

    named = ToolDefinition.from_model(WeatherArgs, name="weather", description="custom")
    assert named.name == "weather"
    assert named.description == "custom"


def get_forecast(city: str, days: int = 3, metric: bool = True) -> str:
    """Forecast for a city.

    Returns a short text.
    """
    return f"{city}:{days}:{metric}"


def test_tool_from_function() -> None:
    tool = ToolDefinition.from_function(get_forecast)
    assert tool.name == "get_forecast"
    assert tool.description == "Forecast for a city.\n\nReturns a short text."
    params = tool.parameters
    assert params["type"] == "object"
    assert params["required"] == ["city"]
    assert params["properties"]["city"] == {"type": "string"}
    assert params["properties"]["days"] == {"type": "integer", "default": 3}
    assert params["properties"]["metric"] == {"type": "boolean", "default": True}
    assert "title" not in params


def test_tool_from_function_skips_varargs() -> None:
    def f(a: int, *args: Any, **kwargs: Any) -> None:
        pass

    tool = ToolDefinition.from_function(f)
    assert set(tool.parameters["properties"]) == {"a"}
    assert tool.description == ""


def test_tool_coerce() -> None:
    openai_tool = {
        "type": "function",
        "function": {
            "name": "search",
            "description": "web search",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
            "strict": True,
        },
    }
    tool = ToolDefinition.coerce(openai_tool)
    assert tool.name == "search"
    assert tool.description == "web search"
    assert tool.parameters["required"] == ["q"]
    assert tool.strict is True

    bare = ToolDefinition.coerce({"type": "function", "function": {"name": "ping"}})
    assert bare.parameters == {"type": "object", "properties": {}}
    assert bare.description == ""

    assert ToolDefinition.coerce(tool) is tool
    assert ToolDefinition.coerce(WeatherArgs).name == "WeatherArgs"
    assert ToolDefinition.coerce(get_forecast).name == "get_forecast"
    assert ToolDefinition.coerce({"name": "plain", "description": "d"}).name == "plain"
    with pytest.raises(TypeError):
        ToolDefinition.coerce(42)


def test_tool_name_is_validated() -> None:
    with pytest.raises(ValidationError):
        ToolDefinition(name="has spaces")


# ---------------------------------------------------------------- usage and finish reasons


def test_usage_total_defaults_to_input_plus_output() -> None:
    assert Usage(input_tokens=10, output_tokens=5).total_tokens == 15
    assert Usage(input_tokens=10, output_tokens=5, total_tokens=20).total_tokens == 20


def test_usage_add() -> None:
    a = Usage(input_tokens=10, output_tokens=5, cached_input_tokens=4, reasoning_tokens=1, cost_usd=0.5)
    b = Usage(input_tokens=3, output_tokens=2, cache_write_input_tokens=2, reasoning_tokens=2)
    s = a + b
    assert s.input_tokens == 13
    assert s.output_tokens == 7
    assert s.total_tokens == 20
    assert s.cached_input_tokens == 4
    assert s.cache_write_input_tokens == 2
    assert s.reasoning_tokens == 3
    assert s.cost_usd == pytest.approx(0.5)
    assert (Usage() + Usage()).cost_usd is None
    assert (Usage() + Usage(cost_usd=0.25)).cost_usd == pytest.approx(0.25)


def test_finish_reason_values() -> None:
    assert {r.value for r in FinishReason} == {"stop", "length", "tool_calls", "content_filter", "error", "other"}
    assert str(FinishReason.TOOL_CALLS) == "tool_calls"
    assert FinishReason.STOP == "stop"
    assert FinishReason("content_filter") is FinishReason.CONTENT_FILTER


# ---------------------------------------------------------------- responses and stream events


def _response(**kw: Any) -> CompletionResponse:
    return CompletionResponse(provider="p", model="m", text="hi", message=assistant("hi"), **kw)


def test_stream_events_form_a_discriminated_union() -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(StreamEvent)
    cases = [
        ({"type": "text_delta", "delta": "a"}, TextDeltaEvent),
        ({"type": "reasoning_delta", "delta": "b"}, ReasoningDeltaEvent),
        ({"type": "tool_call_delta", "index": 0, "id": "c", "name": "f"}, ToolCallDeltaEvent),
        (
            {"type": "tool_call", "index": 1, "tool_call": {"id": "c", "name": "f", "arguments": {"x": 1}}},
            ToolCallEvent,
        ),
        ({"type": "usage", "usage": {"input_tokens": 1, "output_tokens": 2}}, UsageEvent),
    ]
    for raw, cls in cases:
        event = adapter.validate_python(raw)
        assert type(event) is cls, raw
    tool_event = adapter.validate_python(cases[3][0])
    assert tool_event.tool_call.arguments == {"x": 1}
    usage_event = adapter.validate_python(cases[4][0])
    assert usage_event.usage.total_tokens == 3

    done = DoneEvent(response=_response())
    again = adapter.validate_json(adapter.dump_json(done))
    assert isinstance(again, DoneEvent)
    assert again.response.text == "hi"

    with pytest.raises(ValidationError):
        adapter.validate_python({"type": "nope", "delta": "x"})
    with pytest.raises(ValidationError):
        adapter.validate_python({"type": "text_delta"})


def test_completion_response_repr_leaves_out_raw() -> None:
    r = _response(raw={"secret_payload": "RAW-SENTINEL-123"})
    assert r.raw == {"secret_payload": "RAW-SENTINEL-123"}
    assert "RAW-SENTINEL-123" not in repr(r)
    assert "RAW-SENTINEL-123" not in str(r)
    assert "RAW-SENTINEL-123" not in r.model_dump_json()
    assert "raw" not in r.model_dump()


def test_tool_call_repr_leaves_out_arguments_raw() -> None:
    call = ToolCall(id="c", name="f", arguments_raw="RAW-ARGS-SENTINEL")
    assert "RAW-ARGS-SENTINEL" not in repr(call)
