"""The pure converters of the Anthropic Messages wire: requests, responses, stream events, models."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace
from typing import Any

import pytest
from pydantic import BaseModel, Field

from agentos_llm.errors import (
    APIConnectionError,
    AuthenticationError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitError,
    ServerError,
)
from agentos_llm.model_traits import traits_for
from agentos_llm.options import parse_options
from agentos_llm.provider import Call
from agentos_llm.structured import StructuredPlan
from agentos_llm.types import (
    FinishReason,
    ImagePart,
    Message,
    ReasoningDeltaEvent,
    TextDeltaEvent,
    TextPart,
    ToolCall,
    ToolCallDeltaEvent,
    ToolCallEvent,
    UsageEvent,
    VendorBlock,
    assistant,
    coerce_messages,
    system,
    tool_result,
    user,
)
from agentos_llm.wire.anthropic_messages import (
    DEFAULT_MAX_TOKENS,
    EFFORT_BUDGETS,
    MessagesStreamAssembler,
    build_messages_request,
    decode_event,
    finish_reason,
    messages_to_wire,
    output_schema,
    parse_message,
    parse_model_list,
    structured_tool_name,
    tool_id,
    usage_from_wire,
)

MODEL = "claude-sonnet-4-5"
WEATHER = {
    "name": "get_weather",
    "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
TIME = {"name": "get_time", "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}
SIGNED = {"type": "thinking", "thinking": "Let me think.", "signature": "c2lnbmF0dXJl"}
REDACTED = {"type": "redacted_thinking", "data": "ZW5jcnlwdGVk"}


def make_call(messages: Any, model: str = MODEL, *, stream: bool = False, schema: Any = None,
              mode: str | None = None, **options: Any) -> Call:
    traits = traits_for("anthropic", model)
    call = Call(model=model, messages=coerce_messages(messages), options=parse_options(options), traits=traits,
                stream=stream)
    if schema is not None:
        plan = StructuredPlan.for_type(schema)
        if mode is None:
            mode = "json_schema" if traits.json_schema and plan.format.strict_schema is not None else "tool"
        call = replace(call, structured=plan, structured_mode=mode)  # type: ignore[arg-type]
    return call


def build(messages: Any, model: str = MODEL, *, default_max: int | None = 8000, **options: Any) -> dict[str, Any]:
    """The request body; `default_max` is the provider's default `max_tokens`, `options` the caller's."""
    return build_messages_request(make_call(messages, model, **options), max_tokens=default_max)


# ---------------------------------------------------------------------- messages


def test_plain_request() -> None:
    body = build("hello")
    assert body == {"model": MODEL, "max_tokens": 8000, "messages": [{"role": "user", "content": "hello"}]}
    assert build("hello", stream=True)["stream"] is True
    assert build("hello", default_max=None)["max_tokens"] == DEFAULT_MAX_TOKENS
    assert build("hello", max_tokens=77)["max_tokens"] == 77  # the caller's wins


def test_system_messages_go_to_system() -> None:
    body = build([system("be brief"), user("hi")])
    assert body["system"] == "be brief"
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    body = build([system("one"), user("hi"), system("two")])
    assert body["system"] == [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]
    assert [m["role"] for m in body["messages"]] == ["user"]


def test_consecutive_turns_merge_and_tool_results_lead_the_user_turn() -> None:
    call = ToolCall(id="toolu_1", name="get_weather", arguments={"city": "Oslo"})
    history = [
        user("first"), user("second"),
        Message(role="assistant", content="checking", tool_calls=[call]),
        tool_result("toolu_1", {"temp": 3}),
        user("and now?"),
    ]
    system_blocks, turns = messages_to_wire(coerce_messages(history))
    assert system_blocks == []
    assert turns == [
        {"role": "user", "content": [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "checking"},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"temp": 3}'},
            {"type": "text", "text": "and now?"},
        ]},
    ]
    # a user text before the results in the same turn still comes after them on the wire
    _, turns = messages_to_wire(coerce_messages([
        assistant(tool_calls=[call]), user("note"), tool_result("toolu_1", "ok")]))
    assert [b["type"] for b in turns[1]["content"]] == ["tool_result", "text"]


def test_parallel_tool_results_become_one_user_turn() -> None:
    calls = [ToolCall(id="a", name="get_weather", arguments={"city": "X"}),
             ToolCall(id="b", name="get_time", arguments={"tz": "UTC"})]
    _, turns = messages_to_wire(coerce_messages([user("go"), assistant(tool_calls=calls),
                                                 tool_result("a", "sunny"), tool_result("b", "noon")]))
    assert turns[-1] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "a", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "b", "content": "noon"},
    ]}
    assert [b["id"] for b in turns[1]["content"]] == ["a", "b"]


def test_images_by_url_base64_and_data_url() -> None:
    msg = user(["look", ImagePart(url="https://example.com/a.png", detail="high"),
                ImagePart(data="AAAA", media_type="image/png"),
                ImagePart(url="data:image/jpeg;base64,BBBB", cache_control={"type": "ephemeral"})])
    assert build([msg])["messages"][0]["content"] == [
        {"type": "text", "text": "look"},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "BBBB"},
         "cache_control": {"type": "ephemeral"}},
    ]


def test_tool_result_with_parts_and_empty_turns_left_out() -> None:
    result = Message(role="tool", tool_call_id="t1", content=[TextPart(text="see"), ImagePart(data="QQ==",
                                                                                              media_type="image/gif")])
    _, turns = messages_to_wire([user("x"), assistant(tool_calls=[ToolCall(id="t1", name="shot")]), result,
                                 assistant(""), user("")])
    assert turns[-1]["content"][0] == {"type": "tool_result", "tool_use_id": "t1", "content": [
        {"type": "text", "text": "see"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": "QQ=="}}]}
    assert len(turns) == 3  # the empty assistant and user messages sent nothing
    _, turns = messages_to_wire([user("x"), assistant(tool_calls=[ToolCall(id="t1", name="shot")]),
                                 tool_result("t1", "")])
    assert turns[-1]["content"] == [{"type": "tool_result", "tool_use_id": "t1"}]


def test_arguments_raw_are_sent_as_input() -> None:
    call = ToolCall(id="t", name="f", arguments={}, arguments_raw='{"a": 1}')
    _, turns = messages_to_wire([user("x"), assistant(tool_calls=[call])])
    assert turns[1]["content"] == [{"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}}]
    call = ToolCall(id="t", name="f", arguments={}, arguments_raw="not json")
    _, turns = messages_to_wire([user("x"), assistant(tool_calls=[call])])
    assert turns[1]["content"][0]["input"] == {}


# ---------------------------------------------------------------------- tool ids and cross-provider histories


def test_tool_id_sanitizing_is_stable_and_collision_free() -> None:
    assert tool_id("call_AbC123-x") == "call_AbC123-x"
    assert tool_id("toolu_01A") == "toolu_01A"
    odd = tool_id("functions.get_weather:0")
    assert odd == tool_id("functions.get_weather:0")
    assert odd.startswith("functions_get_weather_0_")
    assert tool_id("a.b") != tool_id("a:b")  # same cleaned text, different ids
    for raw in ("", None, "ü/ä", "é" * 300):
        out = tool_id(raw)
        assert out and all(c.isalnum() or c in "_-" for c in out) and out.isascii()
        assert len(out) <= 64


def test_openai_history_converts() -> None:
    history = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "reasoning": "I need two lookups.", "tool_calls": [
            {"id": "call_abc", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call.def/1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}},
        ], "vendor_blocks": [{"provider": "gemini", "type": "thought_signature", "data": {"sig": "x"}}]},
        {"role": "tool", "tool_call_id": "call_abc", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call.def/1", "content": "rainy"},
    ]
    body = build(history, tools=[WEATHER])
    assert body["system"] == "You are terse."
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    uses = body["messages"][1]["content"]
    assert [b["type"] for b in uses] == ["tool_use", "tool_use"]  # no reasoning (unsigned), no gemini block
    results = body["messages"][2]["content"]
    assert [r["tool_use_id"] for r in results] == [u["id"] for u in uses]
    assert uses[0]["id"] == "call_abc"
    assert uses[1]["id"] == tool_id("call.def/1") != "call.def/1"
    assert uses[1]["input"] == {"city": "Rome"}


def test_own_vendor_blocks_go_back_verbatim_thinking_first() -> None:
    server_use = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}}
    server_result = {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}
    msg = Message(role="assistant", content="answer", reasoning="Let me think.",
                  tool_calls=[ToolCall(id="toolu_9", name="get_time", arguments={"tz": "UTC"})],
                  vendor_blocks=[VendorBlock(provider="anthropic", type="server_tool_use", data=server_use),
                                 VendorBlock(provider="anthropic", type="web_search_tool_result", data=server_result),
                                 VendorBlock(provider="anthropic", type="thinking", data=SIGNED),
                                 VendorBlock(provider="anthropic", type="redacted_thinking", data=REDACTED),
                                 VendorBlock(provider="openai", type="reasoning", data={"id": "rs_1"})])
    _, turns = messages_to_wire([user("q"), msg])
    assert turns[1]["content"] == [SIGNED, REDACTED, server_use, server_result,
                                   {"type": "text", "text": "answer"},
                                   {"type": "tool_use", "id": "toolu_9", "name": "get_time", "input": {"tz": "UTC"}}]


def test_a_parsed_turn_round_trips() -> None:
    payload = {"id": "msg_1", "model": MODEL, "stop_reason": "tool_use", "usage": {"input_tokens": 3},
               "content": [SIGNED, {"type": "text", "text": "Checking."},
                           {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}]}
    response = parse_message(payload, model=MODEL)
    _, turns = messages_to_wire([user("q"), response.message])
    assert turns[1] == {"role": "assistant", "content": payload["content"]}


# ---------------------------------------------------------------------- options


def test_tools_and_tool_choice() -> None:
    cached = {**TIME, "strict": True, "cache_control": {"type": "ephemeral"}}
    body = build("hi", tools=[WEATHER, cached], tool_choice="get_weather")
    assert body["tools"] == [
        {"name": "get_weather", "input_schema": WEATHER["parameters"], "description": "Weather of a city"},
        {"name": "get_time", "input_schema": TIME["parameters"], "strict": True,
         "cache_control": {"type": "ephemeral"}},
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "get_weather"}
    assert build("hi", tools=[WEATHER], tool_choice="auto")["tool_choice"] == {"type": "auto"}
    assert build("hi", tools=[WEATHER], tool_choice="required")["tool_choice"] == {"type": "any"}
    assert build("hi", tools=[WEATHER], tool_choice="none")["tool_choice"] == {"type": "none"}
    assert "tool_choice" not in build("hi", tools=[WEATHER])


def test_parallel_tool_calls_false_disables_parallel_use() -> None:
    body = build("hi", tools=[WEATHER], parallel_tool_calls=False)
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    body = build("hi", tools=[WEATHER], tool_choice="required", parallel_tool_calls=False)
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert build("hi", tools=[WEATHER], tool_choice="none", parallel_tool_calls=False)["tool_choice"] == {
        "type": "none"}
    assert "tool_choice" not in build("hi", tools=[WEATHER], parallel_tool_calls=True)
    assert "tool_choice" not in build("hi", parallel_tool_calls=False)


def test_sampling_stop_user_and_extra() -> None:
    # Claude 3.x takes temperature and top_p together; Claude 4+ refuses the pair (see test_request_rules).
    body = build("hi", "claude-3-7-sonnet", temperature=0.3, top_p=0.9, top_k=40, stop="END", user="u-1",
                 extra={"metadata": {"tag": "x"}, "service_tier": "auto"})
    assert (body["temperature"], body["top_p"], body["top_k"]) == (0.3, 0.9, 40)
    assert body["stop_sequences"] == ["END"]
    assert body["metadata"] == {"user_id": "u-1", "tag": "x"}  # extra merges into objects it shares
    assert body["service_tier"] == "auto"
    with pytest.warns(UserWarning, match="seed"):
        assert "seed" not in build("hi", seed=3)
    with pytest.warns(UserWarning, match="0 to 1"):
        assert build("hi", temperature=1.5)["temperature"] == 1.0


def test_cache_prompt_marks_system_and_tools() -> None:
    body = build([system("rules"), user("hi")], tools=[WEATHER, TIME], cache_prompt=True)
    assert body["system"] == [{"type": "text", "text": "rules", "cache_control": {"type": "ephemeral"}}]
    assert "cache_control" not in body["tools"][0]
    assert body["tools"][1]["cache_control"] == {"type": "ephemeral"}
    # markers the caller set are kept as they are
    marked = Message(role="system", content=[TextPart(text="a"), TextPart(text="b", cache_control={
        "type": "ephemeral", "ttl": "1h"})])
    body = build([marked, user(["x", TextPart(text="y", cache_control={"type": "ephemeral"})])], cache_prompt=True)
    assert body["system"] == [{"type": "text", "text": "a"},
                              {"type": "text", "text": "b", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    assert body["messages"][0]["content"][1] == {"type": "text", "text": "y", "cache_control": {"type": "ephemeral"}}
    assert "tools" not in body
    assert "cache_control" not in json.dumps(build([system("rules"), user("hi")], tools=[WEATHER]))


# ---------------------------------------------------------------------- extended thinking


@pytest.mark.parametrize(("effort", "budget"), sorted(EFFORT_BUDGETS.items()))
def test_effort_maps_to_a_thinking_budget(effort: str, budget: int) -> None:
    body = build("hi", default_max=64000, reasoning_effort=effort)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": budget}


def test_thinking_budget_rules() -> None:
    assert build("hi", reasoning_budget=5000)["thinking"]["budget_tokens"] == 5000
    assert build("hi", reasoning_budget=100)["thinking"]["budget_tokens"] == 1024  # the API's minimum
    assert "thinking" not in build("hi", reasoning_budget=0)
    assert "thinking" not in build("hi", reasoning_effort="none")
    assert build("hi", reasoning_budget=3000, reasoning_effort="high")["thinking"]["budget_tokens"] == 3000
    # an effort's budget is capped under max_tokens, an explicit budget is an error
    assert build("hi", max_tokens=4000, reasoning_effort="high")["thinking"] == {
        "type": "enabled", "budget_tokens": 3999}
    with pytest.raises(InvalidRequestError, match="less than max_tokens"):
        build("hi", max_tokens=4000, reasoning_budget=4000)
    with pytest.raises(InvalidRequestError, match="default max_tokens"):
        build("hi", default_max=8000, reasoning_budget=9000)
    with pytest.raises(InvalidRequestError, match="no room"):
        build("hi", max_tokens=500, reasoning_effort="low")


def test_thinking_drops_sampling_and_rejects_forced_tools() -> None:
    with pytest.warns(UserWarning, match="temperature/top_k"):
        body = build("hi", reasoning_budget=2000, temperature=0.5, top_k=5)
    assert "temperature" not in body and "top_k" not in body
    for choice in ("required", "get_weather"):
        with pytest.raises(InvalidRequestError, match="extended thinking"):
            build("hi", reasoning_budget=2000, tools=[WEATHER], tool_choice=choice)
    assert build("hi", reasoning_budget=2000, tools=[WEATHER], tool_choice="auto")["tool_choice"] == {"type": "auto"}


def test_thinking_on_a_model_without_it_is_dropped() -> None:
    with pytest.warns(UserWarning, match="no extended thinking"):
        body = build("hi", "claude-3-5-haiku", reasoning_effort="high")
    assert "thinking" not in body
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "thinking" in build("hi", "claude-3-7-sonnet", reasoning_budget=2000)


# ---------------------------------------------------------------------- structured output


class Reading(BaseModel):
    """A sensor reading."""

    sensor: str = Field(min_length=2, pattern="^[a-z]+$")
    value: float = Field(ge=0, le=100)
    tags: list[str] = Field(default_factory=list, max_length=3)
    note: str | None = None


class Inventory(BaseModel):
    counts: dict[str, int]


def test_structured_native_json_schema() -> None:
    call = make_call("read", schema=Reading)
    assert call.structured_mode == "json_schema"
    body = build_messages_request(call, max_tokens=1000)
    assert "tools" not in body and "tool_choice" not in body
    fmt = body["output_config"]["format"]
    assert fmt["type"] == "json_schema"
    schema = fmt["schema"]
    assert schema["additionalProperties"] is False
    assert sorted(schema["required"]) == ["note", "sensor", "tags", "value"]
    value = schema["properties"]["value"]
    assert "minimum" not in value and "maximum" not in value
    assert "minimum: 0" in value["description"] and "maximum: 100" in value["description"]
    assert "minLength" not in schema["properties"]["sensor"] and "pattern" not in schema["properties"]["sensor"]
    tags = schema["properties"]["tags"]["anyOf"][0]  # optional: strict mode made it nullable
    assert "maxItems" not in tags and "maxItems: 3" in tags["description"]
    assert structured_tool_name(call) is None
    # extra output_config settings merge with the format
    body = build_messages_request(make_call("read", schema=Reading, extra={"output_config": {"effort": "low"}}))
    assert body["output_config"]["effort"] == "low" and body["output_config"]["format"]["type"] == "json_schema"


def test_output_schema_keeps_what_the_api_enforces() -> None:
    schema = {"type": "object", "description": "d", "properties": {
        "when": {"type": "string", "format": "date-time"}, "tag": {"type": "string", "format": "slug"},
        "xs": {"type": "array", "items": {"type": "integer", "multipleOf": 2}, "minItems": 1}},
        "required": ["when"], "additionalProperties": False, "$defs": {"A": {"type": "integer", "maximum": 3}}}
    out = output_schema(schema)
    assert out["properties"]["when"] == {"type": "string", "format": "date-time"}
    assert out["properties"]["tag"] == {"type": "string", "description": '{format: "slug"}'}
    assert out["properties"]["xs"]["minItems"] == 1
    assert out["properties"]["xs"]["items"] == {"type": "integer", "description": "{multipleOf: 2}"}
    assert out["$defs"]["A"] == {"type": "integer", "description": "{maximum: 3}"}
    assert out["description"] == "d"


def test_structured_forced_tool_where_native_output_is_missing() -> None:
    call = make_call("read", "claude-3-5-haiku", schema=Reading)
    assert call.structured_mode == "tool"
    body = build_messages_request(call, max_tokens=1000)
    assert body["tool_choice"] == {"type": "tool", "name": "Reading"}
    assert body["tools"] == [{"name": "Reading", "description": "A sensor reading.",
                              "input_schema": StructuredPlan.for_type(Reading).format.schema}]
    assert "output_config" not in body
    # a free-form dict cannot be strict, so even a model with native output uses the tool
    call = make_call("count", schema=Inventory, mode="tool")
    assert build_messages_request(call)["tools"][0]["input_schema"]["properties"]["counts"]["additionalProperties"]


def test_structured_tool_name_avoids_the_callers_tools() -> None:
    call = make_call("read", "claude-3-5-haiku", schema=Reading,
                     tools=[{"name": "Reading", "parameters": {"type": "object"}}])
    name = structured_tool_name(call)
    assert name == "Reading_output"
    body = build_messages_request(call)
    assert [t["name"] for t in body["tools"]] == ["Reading", "Reading_output"]
    assert body["tool_choice"] == {"type": "tool", "name": "Reading_output"}


def test_structured_tool_mode_drops_thinking() -> None:
    with pytest.warns(UserWarning, match="forced tool"):
        body = build_messages_request(make_call("read", "claude-3-7-sonnet", schema=Reading, reasoning_budget=2000))
    assert "thinking" not in body and body["tool_choice"]["type"] == "tool"
    body = build_messages_request(make_call("read", schema=Reading, reasoning_budget=2000))
    assert body["thinking"]["budget_tokens"] == 2000 and "output_config" in body


def test_structured_prompt_mode_adds_instructions() -> None:
    body = build_messages_request(make_call([system("rules"), user("x")], schema=Reading, mode="prompt"))
    assert body["system"][0] == {"type": "text", "text": "rules"}
    assert "JSON schema" in body["system"][1]["text"]


# ---------------------------------------------------------------------- responses


def test_parse_text_tools_thinking_and_usage() -> None:
    payload = {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
        "content": [SIGNED, REDACTED, {"type": "text", "text": "Checking "},
                    {"type": "text", "text": "both.", "citations": []},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {"tz": "CET"}}],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20,
                  "output_tokens": 50, "output_tokens_details": {"thinking_tokens": 30}},
    }
    r = parse_message(payload, model=MODEL)
    assert r.id == "msg_1" and r.model == "claude-sonnet-4-5-20250929" and r.provider == "anthropic"
    assert r.text == "Checking both."
    assert r.reasoning == "Let me think."
    assert [(c.id, c.name, c.arguments) for c in r.tool_calls] == [
        ("toolu_1", "get_weather", {"city": "Oslo"}), ("toolu_2", "get_time", {"tz": "CET"})]
    assert r.finish_reason is FinishReason.TOOL_CALLS and r.raw_finish_reason == "tool_use"
    u = r.usage
    assert (u.input_tokens, u.output_tokens, u.total_tokens) == (130, 50, 180)
    assert (u.cached_input_tokens, u.cache_write_input_tokens, u.reasoning_tokens) == (100, 20, 0)
    assert r.message.content == "Checking both."
    assert r.message.reasoning == "Let me think."
    assert [b.data for b in r.message.vendor_blocks] == [SIGNED, REDACTED]
    assert all(b.provider == "anthropic" for b in r.message.vendor_blocks)
    assert r.raw is payload


def test_server_tool_blocks_are_not_tool_calls() -> None:
    blocks = [
        {"type": "text", "text": "Let me search."},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "news"}},
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [{"type": "web_search_result"}]},
        {"type": "mcp_tool_use", "id": "mcptoolu_1", "name": "ask", "server_name": "wiki", "input": {}},
        {"type": "mcp_tool_result", "tool_use_id": "mcptoolu_1", "content": []},
        {"type": "text", "text": " Done."},
    ]
    r = parse_message({"id": "m", "content": blocks, "stop_reason": "pause_turn", "usage": {}}, model=MODEL)
    assert r.tool_calls == []
    assert r.text == "Let me search. Done."
    assert [b.type for b in r.message.vendor_blocks] == [
        "server_tool_use", "web_search_tool_result", "mcp_tool_use", "mcp_tool_result"]
    assert r.finish_reason is FinishReason.OTHER and r.raw_finish_reason == "pause_turn"
    assert r.reasoning is None
    # sent back, they keep their place in the turn as it was answered (before the text)
    _, turns = messages_to_wire([user("q"), r.message])
    assert [b["type"] for b in turns[1]["content"]] == [
        "server_tool_use", "web_search_tool_result", "mcp_tool_use", "mcp_tool_result", "text"]


@pytest.mark.parametrize(("raw", "tools", "expected"), [
    ("end_turn", False, FinishReason.STOP),
    ("stop_sequence", False, FinishReason.STOP),
    ("max_tokens", False, FinishReason.LENGTH),
    ("model_context_window_exceeded", False, FinishReason.LENGTH),
    ("tool_use", True, FinishReason.TOOL_CALLS),
    ("refusal", False, FinishReason.CONTENT_FILTER),
    ("pause_turn", False, FinishReason.OTHER),
    ("something_new", False, FinishReason.OTHER),
    ("end_turn", True, FinishReason.TOOL_CALLS),
    (None, False, None),
    (None, True, FinishReason.TOOL_CALLS),
])
def test_stop_reasons(raw: str | None, tools: bool, expected: FinishReason | None) -> None:
    assert finish_reason(raw, tools) is expected
    content: list[dict[str, Any]] = [{"type": "text", "text": "x"}]
    if tools:
        content.append({"type": "tool_use", "id": "t", "name": "f", "input": {}})
    r = parse_message({"content": content, "stop_reason": raw}, model=MODEL)
    assert r.finish_reason is expected and r.raw_finish_reason == raw
    assert r.model == MODEL  # the requested model when none is served


def test_structured_tool_input_becomes_the_text() -> None:
    content = [{"type": "text", "text": "Here you go:"},
               {"type": "tool_use", "id": "t", "name": "Reading", "input": {"sensor": "ab", "value": 1}}]
    r = parse_message({"content": content, "stop_reason": "tool_use"}, model=MODEL, structured_tool="Reading")
    assert json.loads(r.text) == {"sensor": "ab", "value": 1}
    assert r.tool_calls == [] and r.message.tool_calls == []
    assert r.finish_reason is FinishReason.STOP and r.raw_finish_reason == "tool_use"
    assert r.message.content == r.text


def test_malformed_and_error_bodies() -> None:
    with pytest.raises(MalformedResponseError):
        parse_message(["not", "an", "object"], model=MODEL)
    with pytest.raises(MalformedResponseError, match="content"):
        parse_message({"id": "x"}, model=MODEL)
    with pytest.raises(ServerError) as info:
        parse_message({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, model=MODEL)
    assert info.value.code == "overloaded_error"
    assert usage_from_wire(None).input_tokens == 0
    assert usage_from_wire({"input_tokens": 5, "output_tokens": 2}).total_tokens == 7


# ---------------------------------------------------------------------- streaming


def sse(*events: dict[str, Any]) -> list[dict[str, Any]]:
    return list(events)


def start(message_id: str = "msg_s", **usage: int) -> dict[str, Any]:
    return {"type": "message_start", "message": {"id": message_id, "type": "message", "role": "assistant",
                                                 "model": "claude-x", "content": [], "stop_reason": None,
                                                 "usage": {"input_tokens": 10, "output_tokens": 1, **usage}}}


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: int, **d: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": d}


def stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def message_delta(reason: str, **usage: int) -> dict[str, Any]:
    return {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None}, "usage": usage}


def feed_all(assembler: MessagesStreamAssembler, events: list[dict[str, Any]]) -> list[Any]:
    out: list[Any] = []
    for event in events:
        out.extend(assembler.feed(event))
    return out


STREAM = [
    start(cache_read_input_tokens=100, cache_creation_input_tokens=0),
    {"type": "ping"},
    block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
    delta(0, type="thinking_delta", thinking="Let me "),
    delta(0, type="thinking_delta", thinking="think."),
    delta(0, type="signature_delta", signature="c2lnbmF0dXJl"),
    stop(0),
    block_start(1, REDACTED),
    stop(1),
    block_start(2, {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}),
    delta(2, type="input_json_delta", partial_json='{"query": '),
    delta(2, type="input_json_delta", partial_json='"news"}'),
    stop(2),
    block_start(3, {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}),
    stop(3),
    block_start(4, {"type": "text", "text": ""}),
    delta(4, type="text_delta", text="Checking "),
    delta(4, type="citations_delta", citation={"type": "web_search_result_location", "url": "u"}),
    delta(4, type="text_delta", text="both."),
    stop(4),
    block_start(5, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}),
    delta(5, type="input_json_delta", partial_json=""),
    delta(5, type="input_json_delta", partial_json='{"city": "Os'),
    delta(5, type="input_json_delta", partial_json='lo"}'),
    stop(5),
    block_start(6, {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}}),
    stop(6),
    message_delta("tool_use", output_tokens=42, cache_read_input_tokens=100, input_tokens=10),
    {"type": "message_stop"},
]


def test_stream_events_and_final_response() -> None:
    assembler = MessagesStreamAssembler(model=MODEL)
    events = feed_all(assembler, STREAM)
    tail, response = assembler.finish()
    assert tail == []
    assert [e.delta for e in events if isinstance(e, ReasoningDeltaEvent)] == ["Let me ", "think."]
    assert [e.delta for e in events if isinstance(e, TextDeltaEvent)] == ["Checking ", "both."]
    deltas = [e for e in events if isinstance(e, ToolCallDeltaEvent)]
    assert [(d.index, d.id, d.name, d.arguments_delta) for d in deltas] == [
        (0, "toolu_1", "get_weather", ""), (0, None, None, '{"city": "Os'), (0, None, None, 'lo"}'),
        (1, "toolu_2", "get_time", "")]
    calls = [e for e in events if isinstance(e, ToolCallEvent)]
    assert [(c.index, c.tool_call.name, c.tool_call.arguments) for c in calls] == [
        (0, "get_weather", {"city": "Oslo"}), (1, "get_time", {})]
    usage_events = [e for e in events if isinstance(e, UsageEvent)]
    assert len(usage_events) == 1 and usage_events[0].usage.input_tokens == 110
    assert usage_events[0].usage.output_tokens == 42
    assert response.id == "msg_s" and response.model == "claude-x"
    assert response.text == "Checking both."
    assert response.reasoning == "Let me think."
    assert [c.id for c in response.tool_calls] == ["toolu_1", "toolu_2"]
    assert response.finish_reason is FinishReason.TOOL_CALLS
    assert (response.usage.input_tokens, response.usage.cached_input_tokens, response.usage.output_tokens) == (
        110, 100, 42)
    blocks = [b.data for b in response.message.vendor_blocks]
    assert blocks[0] == SIGNED
    assert blocks[1] == REDACTED
    assert blocks[2] == {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search",
                         "input": {"query": "news"}}
    assert blocks[3]["type"] == "web_search_tool_result"


def test_stream_matches_the_whole_response() -> None:
    assembler = MessagesStreamAssembler(model=MODEL)
    feed_all(assembler, STREAM)
    _, streamed = assembler.finish()
    whole = parse_message({
        "id": "msg_s", "model": "claude-x", "stop_reason": "tool_use",
        "usage": {"input_tokens": 10, "output_tokens": 42, "cache_read_input_tokens": 100},
        "content": [SIGNED, REDACTED,
                    {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "news"}},
                    {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
                    {"type": "text", "text": "Checking both.",
                     "citations": [{"type": "web_search_result_location", "url": "u"}]},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}}]}, model=MODEL)
    assert streamed.model_dump(exclude={"raw"}) == whole.model_dump(exclude={"raw"})


def test_message_delta_usage_replaces_only_the_fields_it_has() -> None:
    assembler = MessagesStreamAssembler(model=MODEL)
    events = feed_all(assembler, [start(cache_creation_input_tokens=7), block_start(0, {"type": "text", "text": "hi"}),
                                  stop(0), message_delta("end_turn", output_tokens=9), {"type": "message_stop"}])
    assert [e.delta for e in events if isinstance(e, TextDeltaEvent)] == ["hi"]  # text in the start block
    _, r = assembler.finish()
    assert (r.usage.input_tokens, r.usage.cache_write_input_tokens, r.usage.output_tokens) == (17, 7, 9)
    assert r.text == "hi" and r.finish_reason is FinishReason.STOP


def test_stream_unknown_delta_and_block_types_are_kept() -> None:
    assembler = MessagesStreamAssembler(model=MODEL)
    feed_all(assembler, [start(), block_start(0, {"type": "compaction", "content": ""}),
                         delta(0, type="compaction_delta", content="summary "), delta(0, type="compaction_delta",
                                                                                      content="text"),
                         stop(0), {"type": "future_event"}, message_delta("end_turn"), {"type": "message_stop"}])
    _, r = assembler.finish()
    assert [b.data for b in r.message.vendor_blocks] == [{"type": "compaction", "content": "summary text"}]


def test_stream_structured_tool_becomes_text() -> None:
    assembler = MessagesStreamAssembler(model=MODEL, structured_tool="Reading")
    events = feed_all(assembler, [start(), block_start(0, {"type": "tool_use", "id": "t", "name": "Reading",
                                                           "input": {}}),
                                  delta(0, type="input_json_delta", partial_json='{"sensor": "ab"}'), stop(0),
                                  message_delta("tool_use", output_tokens=3), {"type": "message_stop"}])
    assert not any(isinstance(e, (ToolCallEvent, ToolCallDeltaEvent)) for e in events)
    _, r = assembler.finish()
    assert json.loads(r.text) == {"sensor": "ab"} and r.tool_calls == []
    assert r.finish_reason is FinishReason.STOP


def test_stream_invalid_tool_json_is_kept_raw() -> None:
    assembler = MessagesStreamAssembler(model=MODEL)
    events = feed_all(assembler, [start(), block_start(0, {"type": "tool_use", "id": "t", "name": "f", "input": {}}),
                                  delta(0, type="input_json_delta", partial_json='{"a": '), stop(0),
                                  message_delta("tool_use"), {"type": "message_stop"}])
    call = next(e for e in events if isinstance(e, ToolCallEvent)).tool_call
    assert call.arguments == {} and call.arguments_raw == '{"a": '


@pytest.mark.parametrize(("error_type", "cls"), [
    ("overloaded_error", ServerError),
    ("api_error", ServerError),
    ("rate_limit_error", RateLimitError),
    ("invalid_request_error", InvalidRequestError),
    ("authentication_error", AuthenticationError),
    ("permission_error", PermissionDeniedError),
    ("not_found_error", NotFoundError),
])
def test_stream_error_event_is_typed(error_type: str, cls: type[ProviderError]) -> None:
    assembler = MessagesStreamAssembler(model=MODEL)
    feed_all(assembler, [start(), block_start(0, {"type": "text", "text": ""}), delta(0, type="text_delta", text="a")])
    with pytest.raises(cls) as info:
        assembler.feed({"type": "error", "error": {"type": error_type, "message": "went wrong"}})
    assert info.value.code == error_type
    assert "went wrong" in str(info.value)


def test_stream_that_ends_early_or_is_broken() -> None:
    assembler = MessagesStreamAssembler(model=MODEL)
    feed_all(assembler, [start(), block_start(0, {"type": "text", "text": ""}), delta(0, type="text_delta", text="a")])
    with pytest.raises(APIConnectionError, match="ended before"):
        assembler.finish()
    with pytest.raises(MalformedResponseError, match="never started"):
        MessagesStreamAssembler(model=MODEL).feed(delta(3, type="text_delta", text="x"))
    with pytest.raises(MalformedResponseError, match="index"):
        MessagesStreamAssembler(model=MODEL).feed({"type": "content_block_start", "content_block": {}})
    with pytest.raises(MalformedResponseError, match="not a JSON object"):
        MessagesStreamAssembler(model=MODEL).feed(["x"])
    with pytest.raises(MalformedResponseError, match="not JSON"):
        decode_event("{nope")
    assert decode_event("") is None
    assert decode_event('{"type": "ping"}') == {"type": "ping"}
    assert MessagesStreamAssembler(model=MODEL).feed(None) == ()


# ---------------------------------------------------------------------- models


def test_parse_model_list() -> None:
    payload = {"data": [
        {"type": "model", "id": "claude-sonnet-4-5-20250929", "display_name": "Claude Sonnet 4.5",
         "created_at": "2025-09-29T00:00:00Z", "max_input_tokens": 200000, "max_tokens": 64000},
        {"type": "model", "id": "claude-old", "display_name": "Old", "created_at": "not a date"},
        {"type": "model"},
    ], "has_more": False}
    models = parse_model_list(payload)
    assert [m.id for m in models] == ["claude-sonnet-4-5-20250929", "claude-old"]
    first = models[0]
    assert first.provider == "anthropic" and first.display_name == "Claude Sonnet 4.5"
    assert first.created == 1759104000
    assert (first.context_window, first.max_output_tokens) == (200000, 64000)
    assert models[1].created is None and models[1].context_window is None
    with pytest.raises(MalformedResponseError):
        parse_model_list([])
    with pytest.raises(AuthenticationError):
        parse_model_list({"type": "error", "error": {"type": "authentication_error", "message": "bad key"}})


def test_thinking_is_left_out_when_the_tool_loop_started_without_it() -> None:
    call = ToolCall(id="call_1", name="get_weather", arguments={"city": "Oslo"})
    loop = [user("weather?"), assistant(tool_calls=[call]), tool_result("call_1", "cold")]
    with pytest.warns(UserWarning, match="mid-turn"):
        assert "thinking" not in build(loop, tools=[WEATHER], reasoning_budget=2000)
    signed = Message(role="assistant", tool_calls=[call],
                     vendor_blocks=[VendorBlock(provider="anthropic", type="thinking", data=SIGNED)])
    assert "thinking" in build([user("weather?"), signed, tool_result("call_1", "cold")], tools=[WEATHER],
                               reasoning_budget=2000)
    # a finished loop followed by a new question is a new turn: thinking may start again
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        body = build([*loop, assistant("It is cold."), user("and tomorrow?")], tools=[WEATHER],
                     reasoning_budget=2000)
    assert body["thinking"]["budget_tokens"] == 2000
