"""The pure Cohere converters (`agentos_llm.wire.cohere_*`): requests, responses, stream events and the other
endpoints, without HTTP."""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from pydantic import BaseModel

from agentos_llm import create_provider
from agentos_llm.errors import (
    APIConnectionError,
    AuthenticationError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    UnsupportedCapabilityError,
)
from agentos_llm.options import EmbedOptions
from agentos_llm.provider import Call, IProvider
from agentos_llm.types import (
    DocumentPart,
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
    tool_result,
)
from agentos_llm.wire import cohere_chat as wire
from agentos_llm.wire import cohere_endpoints as endpoints
from agentos_llm.wire.cohere_stream import ChatStreamAssembler, decode_event

CHAT, REASONING, VISION = "command-a-03-2025", "command-a-reasoning-08-2025", "command-a-vision-07-2025"
WEATHER = {"name": "get_weather", "description": "Weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
TIME = {"name": "get_time", "parameters": {"type": "object", "properties": {"tz": {"type": "string"}},
                                            "required": ["tz"]}}


class City(BaseModel):
    """A city and a one-line summary."""

    name: str
    population: int | None = None


@pytest.fixture(scope="module")
def cohere() -> Iterator[IProvider]:
    p = create_provider("cohere", api_key="test-key")
    yield p
    p.close()


def call(p: IProvider, messages: Any = "hi", model: str = CHAT, **options: Any) -> Call:
    return p._make_call(model, messages, options)


def body(p: IProvider, messages: Any = "hi", model: str = CHAT, **options: Any) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return wire.build_chat_request(call(p, messages, model, **options))


def structured(p: IProvider, schema: Any, mode: str | None = None, messages: Any = "hi", model: str = CHAT,
               **options: Any) -> Call:
    c = p._structured_call(model, messages, schema, options)
    return replace(c, structured_mode=mode) if mode is not None else c


# ---------------------------------------------------------------------- finish reasons and usage


@pytest.mark.parametrize(("raw", "calls", "expected"), [
    ("COMPLETE", False, FinishReason.STOP), ("STOP_SEQUENCE", False, FinishReason.STOP),
    ("MAX_TOKENS", False, FinishReason.LENGTH), ("TOOL_CALL", True, FinishReason.TOOL_CALLS),
    ("ERROR", False, FinishReason.ERROR), ("TIMEOUT", False, FinishReason.ERROR),
    ("ERROR_TOXIC", False, FinishReason.CONTENT_FILTER), ("ERROR_LIMIT", False, FinishReason.LENGTH),
    ("USER_CANCEL", False, FinishReason.OTHER), ("SOMETHING_NEW", False, FinishReason.OTHER),
    ("COMPLETE", True, FinishReason.TOOL_CALLS), (None, False, None),
])
def test_finish_reasons(raw: str | None, calls: bool, expected: FinishReason | None) -> None:
    assert wire.finish_reason(raw, calls) == expected


def test_usage_counts_tokens_with_the_cache_inside_and_falls_back_to_billed_units() -> None:
    usage = wire.usage_from_wire({"billed_units": {"input_tokens": 41, "output_tokens": 25}, "cached_tokens": 144.0,
                                  "tokens": {"input_tokens": 1441.0, "output_tokens": 54}})
    assert (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens) == (1441, 54, 144)
    assert usage.total_tokens == 1495 and usage.reasoning_tokens == 0
    billed = wire.usage_from_wire({"billed_units": {"input_tokens": 7, "output_tokens": 3}})
    assert (billed.input_tokens, billed.output_tokens) == (7, 3)
    assert wire.usage_from_wire(None).total_tokens == 0


# ---------------------------------------------------------------------- requests: messages


def test_system_messages_become_one_first_message_and_roles_map(cohere: IProvider) -> None:
    b = body(cohere, [Message(role="user", content="Hi"), Message(role="system", content="Be terse."),
                      Message(role="system", content="Answer in French."), Message(role="assistant", content="Salut"),
                      Message(role="user", content="Again")])
    assert b["messages"] == [
        {"role": "system", "content": "Be terse.\n\nAnswer in French."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": [{"type": "text", "text": "Salut"}]},
        {"role": "user", "content": "Again"},
    ]
    assert b["model"] == CHAT and b["stream"] is False


def test_images_go_as_image_url_content(cohere: IProvider) -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    b = body(cohere, [Message(role="user", content=[TextPart(text="What is it?"),
                                                    ImagePart(data=png, media_type="image/png", detail="low"),
                                                    ImagePart(url="https://example.com/a.png")])], model=VISION)
    assert b["messages"][0]["content"] == [
        {"type": "text", "text": "What is it?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
    ]
    with pytest.raises(UnsupportedCapabilityError):  # command-a takes no images
        call(cohere, [Message(role="user", content=[ImagePart(url="https://example.com/a.png")])])


def test_text_documents_become_request_documents(cohere: IProvider) -> None:
    notes = base64.b64encode(b"Ship on Tuesday.").decode()
    b = body(cohere, [Message(role="user", content=[
        TextPart(text="When do we ship?"), DocumentPart(text="The launch is on Monday.", title="Plan", context="Q3"),
        DocumentPart(data=notes, media_type="text/plain", filename="notes.txt")])])
    assert b["messages"] == [{"role": "user", "content": "When do we ship?"}]
    assert b["documents"] == [
        {"id": "doc_0", "data": {"text": "The launch is on Monday.", "title": "Plan", "context": "Q3"}},
        {"id": "doc_1", "data": {"text": "Ship on Tuesday.", "title": "notes.txt"}},
    ]


@pytest.mark.parametrize("part", [
    DocumentPart(data=base64.b64encode(b"%PDF-1.4").decode(), media_type="application/pdf"),
    DocumentPart(url="https://example.com/a.pdf"),
    DocumentPart(file_id="file-1"),
])
def test_documents_other_than_text_are_refused(cohere: IProvider, part: DocumentPart) -> None:
    with pytest.raises(UnsupportedCapabilityError, match="text documents only"):
        body(cohere, [Message(role="user", content=[TextPart(text="Read"), part])])


def test_own_assistant_turn_goes_back_with_thinking_tool_plan_and_call_ids(cohere: IProvider) -> None:
    response = wire.parse_chat_response({
        "id": "r1", "finish_reason": "TOOL_CALL",
        "message": {"role": "assistant", "content": [{"type": "thinking", "thinking": "Need the weather."}],
                    "tool_plan": "I will look up the weather.",
                    "tool_calls": [{"id": "get_weather_x1", "type": "function",
                                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        "usage": {"tokens": {"input_tokens": 10, "output_tokens": 5}}}, model=REASONING)
    history = [Message(role="user", content="Weather in Paris?"), response.message,
               tool_result("get_weather_x1", {"temp": 21})]
    b = body(cohere, history, REASONING, tools=[WEATHER])
    assert b["messages"][1] == {
        "role": "assistant",
        "tool_calls": [{"id": "get_weather_x1", "type": "function",
                        "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}],
        "tool_plan": "I will look up the weather.",
        "content": [{"type": "thinking", "thinking": "Need the weather."}],
    }
    assert b["messages"][2] == {"role": "tool", "tool_call_id": "get_weather_x1", "content": "{\"temp\": 21}"}


def test_a_foreign_history_converts(cohere: IProvider) -> None:
    history = [
        Message(role="user", content="Weather?"),
        Message(role="assistant", content="Let me check.", reasoning="Claude thought about it",
                tool_calls=[ToolCall(id="call_1", name="get_weather", arguments={"city": "Oslo"}),
                            ToolCall(id="toolu_2", name="get_time", arguments={}, arguments_raw="not json")],
                vendor_blocks=[VendorBlock(provider="anthropic", type="thinking", data={"thinking": "x"})]),
        tool_result("call_1", "sunny"), tool_result("toolu_2", "noon"),
    ]
    assistant = body(cohere, history, tools=[WEATHER, TIME])["messages"][1]
    assert assistant == {"role": "assistant", "tool_plan": "Let me check.", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}},
        {"id": "toolu_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]}


def test_tool_results_with_parts_and_documents(cohere: IProvider) -> None:
    b = body(cohere, [Message(role="user", content="x"),
                      Message(role="assistant", tool_calls=[ToolCall(id="c1", name="get_weather")]),
                      Message(role="tool", tool_call_id="c1", content=[
                          TextPart(text="found:"), DocumentPart(text="Sunny all week", title="Forecast")])],
             tools=[WEATHER])
    assert b["messages"][2]["content"] == [
        {"type": "text", "text": "found:"},
        {"type": "document", "document": {"data": {"text": "Sunny all week", "title": "Forecast"}}}]


# ---------------------------------------------------------------------- requests: options


def test_tools_and_tool_choice(cohere: IProvider) -> None:
    b = body(cohere, tools=[WEATHER, TIME])
    assert b["tools"][0] == {"type": "function", "function": {
        "name": "get_weather", "parameters": WEATHER["parameters"], "description": "Weather of a city"}}
    assert "tool_choice" not in b and "strict_tools" not in b
    assert "tool_choice" not in body(cohere, tools=[WEATHER], tool_choice="auto")
    assert body(cohere, tools=[WEATHER], tool_choice="none")["tool_choice"] == "NONE"
    assert body(cohere, tools=[WEATHER], tool_choice="required")["tool_choice"] == "REQUIRED"
    named = body(cohere, tools=[WEATHER, TIME], tool_choice="get_time")
    assert [t["function"]["name"] for t in named["tools"]] == ["get_time"] and named["tool_choice"] == "REQUIRED"
    strict = body(cohere, tools=[{**WEATHER, "strict": True}, {**TIME, "strict": True}])
    assert strict["strict_tools"] is True


def test_models_before_command_r7b_take_no_tool_choice(cohere: IProvider) -> None:
    older = "command-r-plus-08-2024"
    with pytest.raises(InvalidRequestError, match="takes no tool_choice"):
        body(cohere, model=older, tools=[WEATHER], tool_choice="required")
    with pytest.raises(InvalidRequestError, match="takes no tool_choice"):
        body(cohere, model=older, tools=[WEATHER], tool_choice="get_weather")
    plain = body(cohere, model=older, tools=[WEATHER], tool_choice="none")
    assert "tools" not in plain and "tool_choice" not in plain
    loop = [Message(role="user", content="x"), Message(role="assistant", tool_calls=[ToolCall(id="c", name="f")]),
            tool_result("c", "ok")]
    with pytest.warns(UserWarning, match="tools stay declared"):
        kept = wire.build_chat_request(call(cohere, loop, older, tools=[WEATHER], tool_choice="none"))
    assert kept["tools"] and "tool_choice" not in kept
    assert cohere._structured_call(older, "hi", dict[str, int], {}).structured_mode == "prompt"


def test_sampling_and_limits(cohere: IProvider) -> None:
    b = body(cohere, temperature=0.2, top_p=0.5, top_k=40, seed=7, stop=["END", "STOP"], max_tokens=300,
             extra={"frequency_penalty": 0.4, "presence_penalty": 0.1, "safety_mode": "STRICT"})
    assert {k: b[k] for k in ("temperature", "p", "k", "seed", "stop_sequences", "max_tokens", "frequency_penalty",
                              "presence_penalty", "safety_mode")} == {
        "temperature": 0.2, "p": 0.5, "k": 40, "seed": 7, "stop_sequences": ["END", "STOP"], "max_tokens": 300,
        "frequency_penalty": 0.4, "presence_penalty": 0.1, "safety_mode": "STRICT"}
    assert "top_p" not in b and "top_k" not in b


def test_out_of_range_values_are_adapted_with_warnings(cohere: IProvider) -> None:
    with pytest.warns(UserWarning) as caught:
        b = wire.build_chat_request(call(cohere, top_p=1.0, top_k=900, user="u-1", tools=[WEATHER],
                                         parallel_tool_calls=False))
    assert (b["p"], b["k"]) == (0.99, 500) and "user" not in b
    said = " ".join(str(w.message) for w in caught)
    assert "p=0.99" in said and "k=500" in said and "user" in said and "parallel_tool_calls" in said


def test_more_stop_sequences_than_cohere_takes_fail(cohere: IProvider) -> None:
    with pytest.raises(InvalidRequestError, match="at most 5"):
        body(cohere, stop=["a", "b", "c", "d", "e", "f"])


@pytest.mark.parametrize(("options", "thinking"), [
    ({"reasoning_budget": 3000}, {"type": "enabled", "token_budget": 3000}),
    ({"reasoning_budget": 0}, {"type": "disabled"}),
    ({"reasoning_effort": "none"}, {"type": "disabled"}),
    ({"reasoning_effort": "low"}, {"type": "enabled", "token_budget": 2048}),
    ({"reasoning_effort": "high"}, {"type": "enabled", "token_budget": 16384}),
    ({}, None),
])
def test_thinking(cohere: IProvider, options: dict[str, Any], thinking: dict[str, Any] | None) -> None:
    assert body(cohere, model=REASONING, **options).get("thinking") == thinking


def test_thinking_on_a_model_without_it_is_left_out(cohere: IProvider) -> None:
    with pytest.warns(UserWarning, match="no extended thinking"):
        b = wire.build_chat_request(call(cohere, reasoning_effort="high"))
    assert "thinking" not in b


# ---------------------------------------------------------------------- requests: structured output


def test_structured_modes(cohere: IProvider) -> None:
    assert cohere._structured_call(CHAT, "hi", City, {}).structured_mode == "json_schema"
    assert cohere._structured_call(CHAT, "hi", City, {"tools": [WEATHER]}).structured_mode == "tool"
    assert cohere._structured_call(CHAT, "hi", dict[str, int], {}).structured_mode == "tool"  # no required field
    assert cohere._structured_call(VISION, "hi", City, {}).structured_mode == "json_schema"
    assert cohere._structured_call(VISION, "hi", dict[str, int], {}).structured_mode == "prompt"  # no tools either
    docs = [Message(role="user", content=[TextPart(text="x"), DocumentPart(text="y")])]
    assert cohere._structured_call(CHAT, docs, City, {}).structured_mode == "tool"


def test_json_schema_output_takes_cohere_s_schema_subset(cohere: IProvider) -> None:
    b = wire.build_chat_request(structured(cohere, City))
    assert b["response_format"] == {"type": "json_object", "json_schema": {
        "description": "A city and a one-line summary.", "title": "City", "type": "object", "required": ["name"],
        "properties": {"name": {"title": "Name", "type": "string"},
                       "population": {"type": "integer", "title": "Population"}}}}


def test_response_schema_moves_constraints_and_refuses_what_it_cannot_say() -> None:
    schema = {"type": "object", "required": ["n", "tags"], "additionalProperties": False, "properties": {
        "n": {"type": "integer", "minimum": 1, "maximum": 9, "description": "A digit"},
        "tags": {"type": "array", "items": {"type": "string", "format": "email"}, "maxItems": 3},
        "when": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}], "default": None}}}
    assert wire.response_schema(schema) == {"type": "object", "required": ["n", "tags"], "properties": {
        "n": {"type": "integer", "description": "A digit\n\n{minimum: 1, maximum: 9}"},
        "tags": {"type": "array", "items": {"type": "string", "description": "{format: \"email\"}"},
                 "description": "{maxItems: 3}"},
        "when": {"type": "string", "format": "date"}}}
    assert wire.response_schema({"type": "object", "properties": {"a": {"type": "string"}}}) is None
    assert wire.response_schema({"type": "object", "required": ["a"], "properties": {
        "a": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}}) is None
    assert wire.response_schema({"type": "object", "required": ["a"], "properties": {
        "a": {"type": "object", "additionalProperties": {"type": "integer"}}}}) is None
    assert wire.response_schema({"type": "array", "items": {"type": "string"}}) is None


def test_json_object_and_prompt_modes_spell_the_schema_out(cohere: IProvider) -> None:
    c = structured(cohere, City, "json_object", [Message(role="system", content="Be brief."),
                                                 Message(role="user", content="Paris?")])
    b = wire.build_chat_request(c)
    assert b["response_format"] == {"type": "json_object"}
    assert b["messages"][0]["role"] == "system" and b["messages"][0]["content"].startswith("Be brief.\n\n")
    assert '"population"' in b["messages"][0]["content"]
    p = wire.build_chat_request(structured(cohere, City, "prompt"))
    assert "response_format" not in p and p["messages"][0]["role"] == "system" and "JSON" in p["messages"][0]["content"]
    with pytest.warns(UserWarning, match="together with tools"):
        forced = wire.build_chat_request(structured(cohere, City, "json_schema", tools=[WEATHER]))
    assert "response_format" not in forced and "JSON" in forced["messages"][0]["content"]


def test_tool_mode_offers_only_the_answer_tool_and_its_call_is_the_answer(cohere: IProvider) -> None:
    c = structured(cohere, City, "tool", tools=[WEATHER])
    b = wire.build_chat_request(c)
    assert [t["function"]["name"] for t in b["tools"]] == ["City"] and b["tool_choice"] == "REQUIRED"
    name = wire.structured_tool_name(c)
    response = wire.parse_chat_response({
        "id": "r", "finish_reason": "TOOL_CALL", "message": {"role": "assistant", "tool_plan": "I will answer.",
            "tool_calls": [{"id": "City_1", "type": "function",
                            "function": {"name": "City", "arguments": "{\"name\":\"Paris\"}"}}]}},
        model=CHAT, structured_tool=name)
    assert response.text == '{"name":"Paris"}' and response.tool_calls == []
    assert response.finish_reason == FinishReason.STOP and response.raw_finish_reason == "TOOL_CALL"


# ---------------------------------------------------------------------- responses


RESPONSE = {
    "id": "c0ffee", "finish_reason": "COMPLETE",
    "message": {"role": "assistant",
                "content": [{"type": "thinking", "thinking": "They ask about the launch."},
                            {"type": "text", "text": "It launches on Monday."}],
                "citations": [
                    {"start": 15, "end": 21, "text": "Monday", "type": "TEXT_CONTENT",
                     "sources": [{"type": "document", "id": "doc_1",
                                  "document": {"id": "doc_1", "text": "Launch: Monday", "title": "Plan"}},
                                 {"type": "tool", "id": "get_date_1:0", "tool_output": {"day": "Monday"}}]},
                    {"start": 0, "end": 4, "text": "They", "type": "THINKING_CONTENT", "sources": []}]},
    "usage": {"billed_units": {"input_tokens": 12, "output_tokens": 9},
              "tokens": {"input_tokens": 512, "output_tokens": 30}, "cached_tokens": 256}}


def test_a_whole_response() -> None:
    r = wire.parse_chat_response(RESPONSE, provider="cohere", model=REASONING)
    assert (r.id, r.model, r.text) == ("c0ffee", REASONING, "It launches on Monday.")
    assert r.reasoning == "They ask about the launch." and r.finish_reason == FinishReason.STOP
    assert r.message.vendor_blocks == [VendorBlock(provider="cohere", type="thinking", data={
        "type": "thinking", "thinking": "They ask about the launch."})]
    assert (r.usage.input_tokens, r.usage.output_tokens, r.usage.cached_input_tokens) == (512, 30, 256)
    assert [(c.type, c.cited_text, c.start, c.end, c.title, c.document_index) for c in r.citations] == [
        ("document", "Monday", 15, 21, "Plan", 1), ("tool", "Monday", 15, 21, None, None)]
    assert r.raw is RESPONSE


def test_tool_plan_is_neither_text_nor_reasoning() -> None:
    r = wire.parse_chat_response({
        "id": "x", "finish_reason": "TOOL_CALL",
        "message": {"role": "assistant", "tool_plan": "I will use get_weather.",
                    "tool_calls": [{"id": "get_weather_9", "type": "function",
                                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}},
        model=CHAT)
    assert r.text == "" and r.reasoning is None and r.finish_reason == FinishReason.TOOL_CALLS
    assert r.tool_calls == [ToolCall(id="get_weather_9", name="get_weather", arguments={"city": "Paris"})]
    assert r.message.vendor_blocks == [VendorBlock(provider="cohere", type="tool_plan",
                                                   data={"tool_plan": "I will use get_weather."})]


def test_unparsable_arguments_are_kept_raw() -> None:
    r = wire.parse_chat_response({"id": "x", "finish_reason": "TOOL_CALL", "message": {"tool_calls": [
        {"id": "f_1", "function": {"name": "f", "arguments": "{broken"}}]}}, model=CHAT)
    assert r.tool_calls[0].arguments == {} and r.tool_calls[0].arguments_raw == "{broken"


@pytest.mark.parametrize("payload", [[], {"id": "x"}, {"id": "x", "message": "text"}])
def test_malformed_responses(payload: Any) -> None:
    with pytest.raises(MalformedResponseError):
        wire.parse_chat_response(payload, model=CHAT)


def test_an_error_body_in_a_2xx_raises_the_typed_error() -> None:
    with pytest.raises(ProviderError, match="something broke"):
        wire.parse_chat_response({"message": "something broke"}, model=CHAT)


@pytest.mark.parametrize(("status", "message", "cls"), [
    (400, "invalid request: message must be at least 1 token long", InvalidRequestError),
    (401, "invalid api token", AuthenticationError),
    (498, "invalid api token", AuthenticationError),
    (402, "Please add a payment method", QuotaExceededError),
    (404, "model 'x' not found", NotFoundError),
    (429, "You are using a Trial key, which is limited to 20 API calls / minute.", RateLimitError),
    (429, "You are using a Trial key, which is limited to 1000 API calls / month.", QuotaExceededError),
    (500, "internal server error", ServerError),
    (503, "service unavailable", ServerError),
])
def test_error_bodies(status: int, message: str, cls: type[ProviderError]) -> None:
    err = wire.error_from_cohere(status, {"message": message}, headers={"retry-after": "3"})
    assert type(err) is cls and err.status_code == status and message in str(err) and err.provider == "cohere"
    assert err.retry_after == 3.0


# ---------------------------------------------------------------------- streams


def stream_events() -> list[tuple[str, dict[str, Any]]]:
    def ev(kind: str, **fields: Any) -> tuple[str, dict[str, Any]]:
        return kind, {"type": kind, **fields}

    return [
        ev("message-start", id="s1", delta={"message": {"role": "assistant", "content": [], "tool_plan": "",
                                                        "tool_calls": [], "citations": []}}),
        ev("content-start", index=0, delta={"message": {"content": {"type": "thinking", "thinking": ""}}}),
        ev("content-delta", index=0, delta={"message": {"content": {"thinking": "Plan "}}}),
        ev("content-delta", index=0, delta={"message": {"content": {"thinking": "it."}}}),
        ev("content-end", index=0),
        ev("content-start", index=1, delta={"message": {"content": {"type": "text", "text": ""}}}),
        ev("content-delta", index=1, delta={"message": {"content": {"text": "Sunny"}}}),
        ev("content-delta", index=1, delta={"message": {"content": {"text": " today."}}}),
        ev("content-end", index=1),
        ev("tool-plan-delta", delta={"message": {"tool_plan": "I will "}}),
        ev("tool-plan-delta", delta={"message": {"tool_plan": "check."}}),
        ev("tool-call-start", index=0, delta={"message": {"tool_calls": {
            "id": "get_weather_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}}}),
        ev("tool-call-delta", index=0, delta={"message": {"tool_calls": {"function": {"arguments": "{\"city\":"}}}}),
        ev("tool-call-delta", index=0, delta={"message": {"tool_calls": {"function": {"arguments": "\"Oslo\"}"}}}}),
        ev("tool-call-end", index=0),
        ev("citation-start", index=0, delta={"message": {"citations": {
            "start": 0, "end": 5, "text": "Sunny", "type": "TEXT_CONTENT",
            "sources": [{"type": "document", "id": "doc_0", "document": {"id": "doc_0", "text": "Sunny"}}]}}}),
        ev("citation-end", index=0),
        ev("debug", prompt="..."),
        ev("message-end", delta={"finish_reason": "TOOL_CALL", "usage": {
            "billed_units": {"input_tokens": 3, "output_tokens": 8}, "tokens": {"input_tokens": 300,
                                                                                 "output_tokens": 20}}}),
    ]


def sse_payloads(events: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    return [decode_event(name, json.dumps(data)) for name, data in events]


def test_a_stream_assembles_to_what_a_whole_answer_gives() -> None:
    assembler = ChatStreamAssembler(model=CHAT)
    out = [e for payload in sse_payloads(stream_events()) for e in assembler.feed(payload)]
    tail, response = assembler.finish()
    assert tail == []
    assert [e.delta for e in out if isinstance(e, ReasoningDeltaEvent)] == ["Plan ", "it."]
    assert [e.delta for e in out if isinstance(e, TextDeltaEvent)] == ["Sunny", " today."]
    deltas = [e for e in out if isinstance(e, ToolCallDeltaEvent)]
    assert (deltas[0].id, deltas[0].name) == ("get_weather_1", "get_weather")
    assert "".join(d.arguments_delta for d in deltas) == "{\"city\":\"Oslo\"}"
    calls = [e for e in out if isinstance(e, ToolCallEvent)]
    assert calls == [ToolCallEvent(index=0, tool_call=ToolCall(id="get_weather_1", name="get_weather",
                                                               arguments={"city": "Oslo"}))]
    assert [e.usage.input_tokens for e in out if isinstance(e, UsageEvent)] == [300]
    whole = wire.parse_chat_response({
        "id": "s1", "finish_reason": "TOOL_CALL",
        "message": {"role": "assistant", "content": [{"type": "thinking", "thinking": "Plan it."},
                                                     {"type": "text", "text": "Sunny today."}],
                    "tool_plan": "I will check.",
                    "tool_calls": [{"id": "get_weather_1", "type": "function",
                                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}],
                    "citations": [stream_events()[15][1]["delta"]["message"]["citations"]]},
        "usage": stream_events()[-1][1]["delta"]["usage"]}, model=CHAT)
    assert response.model_dump() == whole.model_dump()
    assert response.citations[0].document_index == 0


def test_the_answer_tool_streams_no_tool_events() -> None:
    assembler = ChatStreamAssembler(model=CHAT, structured_tool="City")
    events = [
        ("message-start", {"type": "message-start", "id": "s"}),
        ("tool-call-start", {"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": {
            "id": "City_1", "function": {"name": "City", "arguments": "{\"name\":"}}}}}),
        ("tool-call-delta", {"type": "tool-call-delta", "index": 0, "delta": {"message": {"tool_calls": {
            "function": {"arguments": "\"Oslo\"}"}}}}}),
        ("tool-call-end", {"type": "tool-call-end", "index": 0}),
        ("message-end", {"type": "message-end", "delta": {"finish_reason": "TOOL_CALL"}}),
    ]
    out = [e for payload in sse_payloads(events) for e in assembler.feed(payload)]
    _, response = assembler.finish()
    assert out == [] and response.text == "{\"name\":\"Oslo\"}" and response.finish_reason == FinishReason.STOP


def test_a_stream_cut_short_is_a_connection_error() -> None:
    assembler = ChatStreamAssembler(model=CHAT)
    for payload in sse_payloads(stream_events()[:7]):
        assembler.feed(payload)
    with pytest.raises(APIConnectionError):
        assembler.finish()


def test_an_error_at_the_end_of_a_stream_raises() -> None:
    assembler = ChatStreamAssembler(model=CHAT)
    assembler.feed({"type": "message-start", "id": "x"})
    with pytest.raises(ProviderError, match="generation failed"):
        assembler.feed({"type": "message-end", "delta": {"error": "generation failed", "finish_reason": "ERROR"}})


def test_event_decoding() -> None:
    assert decode_event("message-end", "[DONE]") is None and decode_event(None, "") is None
    assert decode_event("content-end", '{"index": 0}') == {"index": 0, "type": "content-end"}
    assert decode_event("content-end", '{"type": "x"}') == {"type": "x"}
    with pytest.raises(MalformedResponseError):
        decode_event("content-start", "{not json")
    with pytest.raises(MalformedResponseError):
        ChatStreamAssembler(model=CHAT).feed(["not", "an", "object"])


def test_the_stream_assembler_is_the_one_the_provider_uses(cohere: IProvider) -> None:
    assert isinstance(cohere._stream_assembler(call(cohere)), ChatStreamAssembler)


# ---------------------------------------------------------------------- embed, rerank, models, tokenize


@pytest.mark.parametrize(("input_type", "wire_type"), [
    (None, "search_document"), ("document", "search_document"), ("query", "search_query"),
    ("classification", "classification"), ("clustering", "clustering"), ("similarity", "clustering"),
])
def test_embed_requests(input_type: str | None, wire_type: str) -> None:
    b = endpoints.build_embed_request("embed-v4.0", ["a", "b"], EmbedOptions(input_type=input_type))  # type: ignore[arg-type]
    assert b == {"model": "embed-v4.0", "texts": ["a", "b"], "input_type": wire_type, "embedding_types": ["float"]}


def test_embed_dimensions() -> None:
    assert endpoints.build_embed_request("embed-v4.0", ["a"], EmbedOptions(dimensions=256))["output_dimension"] == 256
    with pytest.raises(InvalidRequestError, match="256, 512, 1024, 1536"):
        endpoints.build_embed_request("embed-v4.0", ["a"], EmbedOptions(dimensions=300))
    with pytest.raises(InvalidRequestError, match="fixed size"):
        endpoints.build_embed_request("embed-english-v3.0", ["a"], EmbedOptions(dimensions=256))
    unknown = endpoints.build_embed_request("embed-future", ["a"], EmbedOptions(dimensions=64))
    assert unknown["output_dimension"] == 64  # the server decides for a model we do not know


def test_embed_batches_of_96(cohere: IProvider) -> None:
    texts = [f"t{i}" for i in range(200)]
    batches = cohere._embed_batches(texts, "embed-v4.0")
    assert [len(b) for b in batches] == [96, 96, 8] and [t for b in batches for t in b] == texts


def test_embed_answers() -> None:
    r = endpoints.parse_embeddings({"id": "e", "embeddings": {"float": [[0.5, 1], [2, 3.5]]},
                                    "meta": {"billed_units": {"input_tokens": 4}}}, model="embed-v4.0", count=2)
    assert r.vectors == [[0.5, 1.0], [2.0, 3.5]] and r.usage.input_tokens == 4 and r.model == "embed-v4.0"
    legacy = endpoints.parse_embeddings({"id": "e", "embeddings": [[1, 2]]}, model="m", count=1)
    assert legacy.vectors == [[1.0, 2.0]] and legacy.usage.input_tokens == 0
    with pytest.raises(MalformedResponseError, match="expected 2"):
        endpoints.parse_embeddings({"embeddings": {"float": [[1.0]]}}, model="m", count=2)
    with pytest.raises(ProviderError, match="too many texts"):
        endpoints.parse_embeddings({"message": "too many texts"}, model="m", count=1)


def test_rerank() -> None:
    docs = ["alpha", "beta", "gamma"]
    assert endpoints.build_rerank_request("rerank-v3.5", "q", docs, None) == {
        "model": "rerank-v3.5", "query": "q", "documents": docs}
    assert endpoints.build_rerank_request("rerank-v3.5", "q", docs, 2)["top_n"] == 2
    r = endpoints.parse_rerank({"id": "r", "results": [{"index": 2, "relevance_score": 0.9},
                                                       {"index": 0, "relevance_score": 0.1}],
                                "meta": {"billed_units": {"search_units": 1}}}, model="rerank-v3.5", documents=docs)
    assert [(x.index, x.relevance_score, x.document) for x in r.results] == [(2, 0.9, "gamma"), (0, 0.1, "alpha")]
    assert r.search_units == 1 and r.model == "rerank-v3.5"
    with pytest.raises(MalformedResponseError):
        endpoints.parse_rerank({"results": [{"index": 5, "relevance_score": 0.2}]}, model="m", documents=docs)


def test_model_listing() -> None:
    pages = [{"models": [{"name": "command-a-03-2025", "endpoints": ["chat"], "context_length": 256000.0,
                          "features": ["tools", "strict_tools", "json_schema"]}], "next_page_token": "1"},
             {"models": [{"name": "embed-v4.0", "endpoints": ["embed"], "context_length": 128000},
                         {"name": "rerank-v3.5", "endpoints": ["rerank"]}, {"endpoints": ["chat"]}]}]
    models = endpoints.parse_model_list(endpoints.merge_model_pages(pages))
    assert [(m.id, m.context_window, sorted(m.capabilities)) for m in models] == [
        ("command-a-03-2025", 256000, ["generate", "json_schema", "stream", "tools"]),
        ("embed-v4.0", 128000, ["embeddings"]),
        ("rerank-v3.5", None, ["rerank"])]
    assert endpoints.merge_model_pages([pages[0], {"message": "bad page"}]) == {"message": "bad page"}


def test_count_text_is_the_chat_request_flattened(cohere: IProvider) -> None:
    c = call(cohere, [Message(role="system", content="Be brief."), Message(role="user", content="Weather?"),
                      Message(role="assistant", tool_calls=[ToolCall(id="c1", name="get_weather",
                                                                     arguments={"city": "Oslo"})]),
                      tool_result("c1", "sunny")], tools=[WEATHER], temperature=0.3)
    request = endpoints.build_count_request(c)
    assert request["model"] == CHAT
    lines = request["text"].split("\n")
    assert lines[:4] == ["system: Be brief.", "user: Weather?", 'assistant: get_weather({"city":"Oslo"})',
                         "tool: sunny"]
    assert json.loads(lines[4])["function"]["name"] == "get_weather" and len(lines) == 5
    assert endpoints.build_count_request(c) == request  # deterministic


def test_long_count_texts_are_split_at_line_ends() -> None:
    text = "\n".join(["x" * 30] * 10)
    pieces = endpoints.split_count_request({"text": text, "model": "m"}, limit=100)
    assert "".join(p["text"] for p in pieces) == text
    assert all(len(p["text"]) <= 100 and p["model"] == "m" for p in pieces) and len(pieces) == 4
    assert endpoints.split_count_request({"text": "y" * 250, "model": "m"}, limit=100)[0]["text"] == "y" * 100
    assert endpoints.split_count_request({"text": "short", "model": "m"}) == [{"text": "short", "model": "m"}]


def test_tokenize_answers() -> None:
    assert endpoints.parse_token_count({"tokens": [1, 2, 3], "token_strings": ["a", "b", "c"]}) == 3
    with pytest.raises(ProviderError, match="model not found"):
        endpoints.parse_token_count({"message": "model not found"})
    with pytest.raises(MalformedResponseError):
        endpoints.parse_token_count({"token_strings": []})
