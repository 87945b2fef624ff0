"""The pure converters of the OpenAI chat-completions wire, and the SSE decoder."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from agentos_llm import create_provider
from agentos_llm.errors import (
    APIConnectionError,
    ContextLengthExceededError,
    InvalidRequestError,
    MalformedResponseError,
    ProviderError,
    RateLimitError,
    ServerError,
    UnsupportedCapabilityError,
)
from agentos_llm.provider import Call
from agentos_llm.providers.openai import OpenAIProvider
from agentos_llm.types import (
    FinishReason,
    ImagePart,
    ReasoningDeltaEvent,
    TextDeltaEvent,
    ToolCall,
    ToolCallDeltaEvent,
    ToolCallEvent,
    ToolDefinition,
    UsageEvent,
    assistant,
    system,
    tool_result,
    user,
)
from agentos_llm.wire.openai_chat import (
    STREAM_END,
    ChatStreamAssembler,
    ThinkTagSplitter,
    build_chat_request,
    build_embeddings_request,
    finish_reason,
    parse_chat_completion,
    parse_embeddings,
    parse_model_list,
    parse_ollama_models,
    split_think_tags,
)
from agentos_llm.wire.sse import ServerSentEvent, SSEDecoder, aiter_sse, iter_sse

BASE_URL = "http://127.0.0.1:9/v1"  # never contacted: these tests only build and parse


@pytest.fixture(scope="module")
def provider() -> Iterator[OpenAIProvider]:
    p = OpenAIProvider(api_key="sk-test", base_url=BASE_URL)
    yield p
    p.close()


def _call(provider: OpenAIProvider, model: str, messages: Any, stream: bool = False, **options: Any) -> Call:
    return provider._make_call(model, messages, options, stream=stream)


def _body(
    provider: OpenAIProvider, model: str, messages: Any = "hi", stream: bool = False, **options: Any
) -> dict[str, Any]:
    body = provider._build_request(_call(provider, model, messages, stream, **options))
    json.dumps(body)  # whatever we build must be JSON
    return body


WEATHER = ToolDefinition(
    name="get_weather",
    description="Weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)

# ---------------------------------------------------------------- request


def test_minimal_request(provider: OpenAIProvider) -> None:
    body = _body(provider, "gpt-4.1", "hello")
    assert body == {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hello"}]}


def test_openai_row_uses_max_completion_tokens(provider: OpenAIProvider) -> None:
    body = _body(provider, "gpt-4.1", max_tokens=77)
    assert body["max_completion_tokens"] == 77
    assert "max_tokens" not in body


def test_compatible_rows_use_max_tokens() -> None:
    groq = create_provider("groq", api_key="sk-test", base_url=BASE_URL)
    try:
        body = groq._build_request(groq._make_call("llama-3.3-70b-versatile", "hi", {"max_tokens": 5}))
    finally:
        groq.close()
    assert body["max_tokens"] == 5
    assert "max_completion_tokens" not in body


def test_sampling_and_simple_options(provider: OpenAIProvider) -> None:
    body = _body(provider, "gpt-4.1", temperature=0.3, top_p=0.9, stop="END", seed=7, user="u-1")
    assert body["temperature"] == 0.3
    assert body["top_p"] == 0.9
    assert body["stop"] == ["END"]
    assert body["seed"] == 7
    assert body["user"] == "u-1"


@pytest.mark.parametrize("model", ["o3-mini", "gpt-5", "openai/gpt-5-mini"])
def test_reasoning_model_drops_sampling_and_uses_developer_role(provider: OpenAIProvider, model: str) -> None:
    with pytest.warns(UserWarning, match="temperature"):
        body = _body(provider, model, [system("be brief"), user("hi")], temperature=0.5, reasoning_effort="high")
    assert "temperature" not in body
    assert "top_p" not in body
    assert body["messages"][0] == {"role": "developer", "content": "be brief"}
    assert body["messages"][1] == {"role": "user", "content": "hi"}
    assert body["reasoning_effort"] == "high"


def test_chat_variant_of_gpt5_is_not_a_reasoning_model(provider: OpenAIProvider) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        body = _body(provider, "gpt-5-chat-latest", [system("s"), user("u")], temperature=0.5)
    assert body["temperature"] == 0.5
    assert body["messages"][0]["role"] == "system"


def test_reasoning_effort_on_a_plain_model_is_dropped_with_a_warning(provider: OpenAIProvider) -> None:
    with pytest.warns(UserWarning, match="reasoning_effort"):
        body = _body(provider, "gpt-4.1", reasoning_effort="low")
    assert "reasoning_effort" not in body


# o3 takes low, medium and high only (https://platform.openai.com/docs/guides/reasoning): a budget of 0 asks for
# no reasoning, which o3 cannot do, so it gets its least effort (with a warning).
@pytest.mark.parametrize(("budget", "effort"), [(0, "low"), (1000, "low"), (8000, "medium"), (50000, "high")])
def test_reasoning_budget_maps_to_an_effort(provider: OpenAIProvider, budget: int, effort: str) -> None:
    assert _body(provider, "o3", reasoning_budget=budget)["reasoning_effort"] == effort


def test_tools_and_named_tool_choice(provider: OpenAIProvider) -> None:
    body = _body(provider, "gpt-4.1", tools=[WEATHER], tool_choice="get_weather", parallel_tool_calls=False)
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": WEATHER.parameters,
            },
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["parallel_tool_calls"] is False


def test_tool_choice_keywords_and_strict_tools(provider: OpenAIProvider) -> None:
    strict_tool = WEATHER.model_copy(update={"strict": True})
    body = _body(provider, "gpt-4.1", tools=[strict_tool], tool_choice="required")
    assert body["tool_choice"] == "required"
    assert body["tools"][0]["function"]["strict"] is True
    assert "parallel_tool_calls" not in body


def test_parallel_tool_calls_needs_tools(provider: OpenAIProvider) -> None:
    assert "parallel_tool_calls" not in _body(provider, "gpt-4.1", parallel_tool_calls=True)


def test_tools_on_a_model_without_tools_are_refused(provider: OpenAIProvider) -> None:
    with pytest.raises(UnsupportedCapabilityError):
        _body(provider, "o1-mini", tools=[WEATHER])


def test_images_become_image_url_parts(provider: OpenAIProvider) -> None:
    message = user(
        [
            "what is this?",
            ImagePart(url="https://x/cat.png", detail="high"),
            ImagePart(data="iVBORw0KGgo=", media_type="image/png"),
        ]
    )
    body = _body(provider, "gpt-4.1", [message])
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "https://x/cat.png", "detail": "high"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            ],
        }
    ]


def test_images_to_a_model_without_vision_are_refused(provider: OpenAIProvider) -> None:
    with pytest.raises(UnsupportedCapabilityError):
        _body(provider, "gpt-3.5-turbo", [user(["x", ImagePart(url="https://x/y.png")])])


def test_tool_call_history_round_trips(provider: OpenAIProvider) -> None:
    history = [
        user("weather in Paris?"),
        assistant(
            tool_calls=[
                ToolCall(id="call_1", name="get_weather", arguments={"city": "Paris"}),
                ToolCall(id="call_2", name="broken", arguments_raw="{oops"),
            ]
        ),
        tool_result("call_1", {"temp": 21}),
        tool_result("call_2", "bad arguments"),  # every call is answered: OpenAI refuses a history without it
    ]
    messages = _body(provider, "gpt-4.1", history, tools=[WEATHER])["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "broken", "arguments": "{oops"}},
        ],
    }
    assert messages[2] == {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'}
    assert messages[3] == {"role": "tool", "tool_call_id": "call_2", "content": "bad arguments"}


def test_stream_asks_for_usage(provider: OpenAIProvider) -> None:
    body = _body(provider, "gpt-4.1", stream=True)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert "stream" not in _body(provider, "gpt-4.1")


def test_extra_is_merged_into_the_body(provider: OpenAIProvider) -> None:
    body = _body(provider, "gpt-4.1", max_tokens=5, extra={"logprobs": True, "service_tier": "flex"})
    assert body["logprobs"] is True
    assert body["service_tier"] == "flex"
    assert body["max_completion_tokens"] == 5


class City(BaseModel):
    """A city."""

    name: str
    population: int | None = None


class FreeForm(BaseModel):
    tags: dict[str, int]


def test_structured_json_schema_strict(provider: OpenAIProvider) -> None:
    call = provider._structured_call("gpt-4.1", "a city please", City, {})
    assert call.structured_mode == "json_schema"
    body = provider._build_request(call)
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    spec = fmt["json_schema"]
    assert spec["name"] == "City"
    assert spec["strict"] is True
    assert spec["description"] == "A city."
    assert spec["schema"]["additionalProperties"] is False
    assert spec["schema"]["required"] == ["name", "population"]
    assert body["messages"] == [{"role": "user", "content": "a city please"}]


@pytest.mark.parametrize(("model", "schema"), [("gpt-4.1", FreeForm), ("gpt-4-turbo", City)])
def test_structured_falls_back_to_json_object_with_instructions(
    provider: OpenAIProvider, model: str, schema: type[BaseModel]
) -> None:
    call = provider._structured_call(model, "answer", schema, {})
    assert call.structured_mode == "json_object"
    body = provider._build_request(call)
    assert body["response_format"] == {"type": "json_object"}
    instructions = body["messages"][0]
    assert instructions["role"] == "system"
    assert "JSON" in instructions["content"]
    assert json.loads(instructions["content"].split("\n", 1)[1]) == schema.model_json_schema()
    assert body["messages"][1] == {"role": "user", "content": "answer"}


def test_build_chat_request_reads_host_quirks_from_the_wire_row(provider: OpenAIProvider) -> None:
    call = _call(provider, "gpt-4.1", "hi", stream=True, max_tokens=3)
    body = build_chat_request(call, {"max_tokens_field": "max_output", "stream_options": False}, stream=True)
    assert body["max_output"] == 3
    assert "stream_options" not in body


# ---------------------------------------------------------------- whole responses

P: dict[str, Any] = {"provider": "openai", "model": "requested-model"}


def _completion(message: dict[str, Any], finish: str | None = "stop", **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "served-model",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
        **extra,
    }


def test_parse_text() -> None:
    r = parse_chat_completion(_completion({"content": "Hello!"}), **P)
    assert r.text == "Hello!"
    assert r.message.role == "assistant"
    assert r.message.text == "Hello!"
    assert r.tool_calls == []
    assert r.finish_reason is FinishReason.STOP
    assert r.raw_finish_reason == "stop"
    assert r.model == "served-model"
    assert r.id == "chatcmpl-1"
    assert r.provider == "openai"


def test_parse_uses_requested_model_when_none_is_served() -> None:
    body = _completion({"content": "x"})
    del body["model"]
    assert parse_chat_completion(body, **P).model == "requested-model"


def test_parse_picks_choice_zero() -> None:
    body = {
        "choices": [
            {"index": 1, "message": {"content": "second"}, "finish_reason": "stop"},
            {"index": 0, "message": {"content": "first"}, "finish_reason": "length"},
        ]
    }
    r = parse_chat_completion(body, **P)
    assert r.text == "first"
    assert r.finish_reason is FinishReason.LENGTH


def test_parse_tool_calls() -> None:
    body = _completion(
        {
            "content": None,
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                },
                {"id": "call_b", "type": "function", "function": {"name": "noop", "arguments": ""}},
                {"type": "function", "function": {"name": "bad", "arguments": "{not json"}},
            ],
        },
        finish="tool_calls",
    )
    r = parse_chat_completion(body, **P)
    assert r.text == ""
    assert [(c.id, c.name, c.arguments) for c in r.tool_calls[:2]] == [
        ("call_a", "get_weather", {"city": "Oslo"}),
        ("call_b", "noop", {}),
    ]
    bad = r.tool_calls[2]
    assert bad.name == "bad"
    assert bad.id  # synthesized when the host sends none
    assert bad.arguments == {}
    assert bad.arguments_raw == "{not json"
    assert r.finish_reason is FinishReason.TOOL_CALLS
    assert r.message.tool_calls == r.tool_calls
    assert r.message.content is None


def test_stop_with_tool_calls_is_tool_calls() -> None:
    body = _completion({"tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]}, finish="stop")
    r = parse_chat_completion(body, **P)
    assert r.finish_reason is FinishReason.TOOL_CALLS
    assert r.raw_finish_reason == "stop"


@pytest.mark.parametrize(
    ("raw", "has_tools", "want"),
    [
        ("stop", False, FinishReason.STOP),
        ("length", False, FinishReason.LENGTH),
        ("tool_calls", True, FinishReason.TOOL_CALLS),
        ("function_call", False, FinishReason.TOOL_CALLS),
        ("content_filter", False, FinishReason.CONTENT_FILTER),
        ("error", False, FinishReason.ERROR),
        ("eos", False, FinishReason.OTHER),
        ("length", True, FinishReason.LENGTH),
        (None, False, None),
        ("", False, None),
        (None, True, FinishReason.TOOL_CALLS),
    ],
)
def test_finish_reason_normalisation(raw: str | None, has_tools: bool, want: FinishReason | None) -> None:
    assert finish_reason(raw, has_tools) is want


def test_unknown_finish_reason_is_other() -> None:
    r = parse_chat_completion(_completion({"content": "x"}, finish="recitation"), **P)
    assert r.finish_reason is FinishReason.OTHER
    assert r.raw_finish_reason == "recitation"


def test_parse_usage_with_cached_and_reasoning_tokens() -> None:
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 40,
        "total_tokens": 140,
        "prompt_tokens_details": {"cached_tokens": 64},
        "completion_tokens_details": {"reasoning_tokens": 30},
    }
    r = parse_chat_completion(_completion({"content": "x"}, usage=usage), **P)
    u = r.usage
    assert (u.input_tokens, u.output_tokens, u.total_tokens) == (100, 40, 140)
    assert u.cached_input_tokens == 64
    assert u.reasoning_tokens == 30
    assert u.cache_write_input_tokens == 0


def test_parse_usage_with_null_details_and_host_cost() -> None:
    usage = {
        "prompt_tokens": 5,
        "completion_tokens": 2,
        "total_tokens": 7,
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
        "cost": 0.0012,
    }
    u = parse_chat_completion(_completion({"content": "x"}, usage=usage), **P).usage
    assert (u.input_tokens, u.output_tokens, u.cached_input_tokens, u.reasoning_tokens) == (5, 2, 0, 0)
    assert u.cost_usd == pytest.approx(0.0012)


def test_parse_groq_usage_under_x_groq() -> None:
    body = _completion({"content": "x"}, x_groq={"id": "req", "usage": {"prompt_tokens": 3, "completion_tokens": 4}})
    u = parse_chat_completion(body, **P).usage
    assert (u.input_tokens, u.output_tokens, u.total_tokens) == (3, 4, 7)


@pytest.mark.parametrize("key", ["reasoning_content", "reasoning"])
def test_parse_reasoning_text(key: str) -> None:
    r = parse_chat_completion(_completion({"content": "42", key: "let me think"}), **P)
    assert r.text == "42"
    assert r.reasoning == "let me think"
    assert r.message.reasoning == "let me think"


def test_parse_openrouter_reasoning_details_and_upstream() -> None:
    body = _completion(
        {
            "content": "ok",
            "reasoning_details": [
                {"type": "reasoning.text", "text": "a"},
                {"type": "reasoning.summary", "summary": "b"},
            ],
        },
        provider="Anthropic",
    )
    r = parse_chat_completion(body, **P)
    assert r.reasoning == "ab"
    assert r.upstream == "Anthropic"


def test_parse_mistral_list_content_with_thinking_parts() -> None:
    content = [
        {"type": "thinking", "thinking": [{"type": "text", "text": "Hmm, "}, {"type": "text", "text": "two."}]},
        {"type": "text", "text": "The answer "},
        {"type": "text", "text": "is 2."},
    ]
    r = parse_chat_completion(_completion({"content": content}), **P)
    assert r.text == "The answer is 2."
    assert r.reasoning == "Hmm, two."


def test_raw_payload_is_kept() -> None:
    body = _completion({"content": "x"})
    assert parse_chat_completion(body, **P).raw is body


@pytest.mark.parametrize(
    ("body", "cls"),
    [
        ({"error": {"message": "Rate limit exceeded", "code": 429}}, RateLimitError),
        ({"error": {"message": "upstream failed", "code": 502}}, ServerError),
        ({"error": {"message": "boom", "type": "server_error"}}, ServerError),
        ({"error": {"message": "too long", "code": "context_length_exceeded"}}, ContextLengthExceededError),
        ({"error": {"message": "no", "code": 400}, "choices": []}, InvalidRequestError),
    ],
)
def test_error_object_in_a_200_body_raises(body: dict[str, Any], cls: type[ProviderError]) -> None:
    with pytest.raises(cls) as info:
        parse_chat_completion(body, **P)
    assert type(info.value) is cls
    assert info.value.provider == "openai"
    assert info.value.message == body["error"]["message"]


@pytest.mark.parametrize("payload", [None, [1, 2], "text", 3])
def test_non_dict_payload_is_malformed(payload: Any) -> None:
    with pytest.raises(MalformedResponseError):
        parse_chat_completion(payload, **P)


# ---------------------------------------------------------------- streams


def _chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    chunk: dict[str, Any] = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "model": "served-model"}
    if delta is not None or finish is not None:
        chunk["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish}]
    else:
        chunk["choices"] = []
    chunk.update(extra)
    return chunk


def _feed_all(chunks: list[dict[str, Any]], provider: str = "openai") -> tuple[list[Any], Any]:
    assembler = ChatStreamAssembler(provider=provider, model="requested-model")
    events: list[Any] = []
    for c in chunks:
        events.extend(assembler.feed(c))
    tail, response = assembler.finish()
    return [*events, *tail], response


USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 8,
    "total_tokens": 20,
    "prompt_tokens_details": {"cached_tokens": 2},
    "completion_tokens_details": {"reasoning_tokens": 3},
}


def test_stream_text_deltas_and_usage_chunk() -> None:
    events, r = _feed_all(
        [
            _chunk({"role": "assistant", "content": ""}),
            _chunk({"content": "Hel"}),
            _chunk({"content": "lo"}),
            _chunk({}, finish="stop"),
            _chunk(usage=USAGE),
        ]
    )
    assert [e.delta for e in events if isinstance(e, TextDeltaEvent)] == ["Hel", "lo"]
    usage_events = [e for e in events if isinstance(e, UsageEvent)]
    assert len(usage_events) == 1
    assert usage_events[0].usage.input_tokens == 12
    assert r.text == "Hello"
    assert r.finish_reason is FinishReason.STOP
    assert r.raw_finish_reason == "stop"
    assert (r.usage.input_tokens, r.usage.output_tokens) == (12, 8)
    assert (r.usage.cached_input_tokens, r.usage.reasoning_tokens) == (2, 3)
    assert r.model == "served-model"
    assert r.id == "chatcmpl-s"


def test_stream_reasoning_deltas() -> None:
    events, r = _feed_all(
        [
            _chunk({"reasoning_content": "think "}),
            _chunk({"reasoning_content": "more"}),
            _chunk({"content": "done"}, finish="stop"),
        ]
    )
    assert [e.delta for e in events if isinstance(e, ReasoningDeltaEvent)] == ["think ", "more"]
    assert r.reasoning == "think more"
    assert r.text == "done"


def test_stream_tool_call_fragments_by_index() -> None:
    events, r = _feed_all(
        [
            _chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_a",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ]
                }
            ),
            _chunk(
                {
                    "tool_calls": [
                        {
                            "index": 1,
                            "id": "call_b",
                            "type": "function",
                            "function": {"name": "get_time", "arguments": '{"tz":'},
                        }
                    ]
                }
            ),
            _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
            _chunk({"tool_calls": [{"index": 1, "function": {"arguments": '"UTC"}'}}]}),
            _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]}),
            _chunk({}, finish="tool_calls"),
        ]
    )
    deltas = [e for e in events if isinstance(e, ToolCallDeltaEvent)]
    assert [d.index for d in deltas] == [0, 1, 0, 1, 0]
    assert deltas[0].name == "get_weather"
    assert deltas[0].id == "call_a"
    assert "".join(d.arguments_delta for d in deltas if d.index == 0) == '{"city": "Oslo"}'
    complete = [e for e in events if isinstance(e, ToolCallEvent)]
    assert [(e.index, e.tool_call.id, e.tool_call.name, e.tool_call.arguments) for e in complete] == [
        (0, "call_a", "get_weather", {"city": "Oslo"}),
        (1, "call_b", "get_time", {"tz": "UTC"}),
    ]
    assert [c.name for c in r.tool_calls] == ["get_weather", "get_time"]
    assert r.tool_calls == [e.tool_call for e in complete]
    assert r.finish_reason is FinishReason.TOOL_CALLS


def test_stream_tool_call_fragments_without_index() -> None:
    events, r = _feed_all(
        [
            _chunk({"tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": ""}}]}),
            _chunk({"tool_calls": [{"function": {"arguments": '{"x":'}}]}),  # continues the previous call
            _chunk({"tool_calls": [{"id": "b", "function": {"name": "g", "arguments": "{}"}}]}),  # a new call
            _chunk({"tool_calls": [{"id": "a", "function": {"arguments": " 1}"}}]}),  # back to "a" by its id
            _chunk({}, finish="tool_calls"),
        ]
    )
    assert [(c.id, c.name, c.arguments) for c in r.tool_calls] == [("a", "f", {"x": 1}), ("b", "g", {})]
    assert [e.index for e in events if isinstance(e, ToolCallDeltaEvent)] == [0, 0, 1, 0]


def test_stream_tool_calls_without_finish_reason_complete_at_the_end() -> None:
    assembler = ChatStreamAssembler(provider="openai", model="m")
    events = assembler.feed(_chunk({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": "{}"}}]}))
    assert not any(isinstance(e, ToolCallEvent) for e in events)
    assembler.feed(STREAM_END)  # [DONE]: the stream ended where it should, without a finish reason
    tail, r = assembler.finish()
    assert len(tail) == 1
    assert isinstance(tail[0], ToolCallEvent)
    assert tail[0].tool_call.id  # synthesized, and the same one in the response
    assert r.tool_calls[0].id == tail[0].tool_call.id
    assert r.finish_reason is FinishReason.TOOL_CALLS
    assert r.raw_finish_reason is None


def test_stream_groq_usage_fallback() -> None:
    _, r = _feed_all(
        [
            _chunk({"content": "x"}),
            _chunk({}, finish="stop", x_groq={"id": "req", "usage": {"prompt_tokens": 9, "completion_tokens": 1}}),
        ]
    )
    assert (r.usage.input_tokens, r.usage.output_tokens, r.usage.total_tokens) == (9, 1, 10)


@pytest.mark.parametrize(
    ("error", "cls"),
    [
        ({"message": "Rate limit exceeded", "code": 429}, RateLimitError),
        ({"message": "upstream died", "code": 502}, ServerError),
        # Groq: the status travels as `status_code` beside a string code
        (
            {
                "message": "Tool call validation failed",
                "type": "invalid_request_error",
                "code": "tool_use_failed",
                "status_code": 400,
            },
            InvalidRequestError,
        ),
    ],
)
def test_stream_error_object_raises_typed(error: dict[str, Any], cls: type[ProviderError]) -> None:
    assembler = ChatStreamAssembler(provider="groq", model="m")
    assembler.feed(_chunk({"content": "partial"}))
    with pytest.raises(ProviderError) as info:
        assembler.feed({"error": error})
    assert type(info.value) is cls
    assert info.value.message == error["message"]
    assert info.value.provider == "groq"


def test_stream_error_object_without_status_still_raises() -> None:
    assembler = ChatStreamAssembler(provider="groq", model="m")
    with pytest.raises(ProviderError, match="went wrong"):
        assembler.feed({"error": {"message": "went wrong", "type": "invalid_request_error"}})


def test_stream_non_object_chunk_is_malformed() -> None:
    with pytest.raises(MalformedResponseError):
        ChatStreamAssembler(provider="p", model="m").feed(["not", "a", "chunk"])


def test_stream_finish_matches_the_whole_body() -> None:
    chunks = [
        _chunk({"role": "assistant", "content": "Let me "}),
        _chunk({"content": "check."}),
        _chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"q": "pa'},
                    }
                ]
            }
        ),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ris"}'}}]}),
        _chunk(
            {
                "tool_calls": [
                    {"index": 1, "id": "call_2", "type": "function", "function": {"name": "clock", "arguments": "{}"}}
                ]
            }
        ),
        _chunk({}, finish="tool_calls"),
        _chunk(usage=USAGE),
    ]
    whole = _completion(
        {
            "content": "Let me check.",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "paris"}'}},
                {"id": "call_2", "type": "function", "function": {"name": "clock", "arguments": "{}"}},
            ],
        },
        finish="tool_calls",
        usage=USAGE,
    )
    _, streamed = _feed_all(chunks)
    parsed = parse_chat_completion(whole, **P)
    assert streamed.text == parsed.text == "Let me check."
    assert [(c.id, c.name, c.arguments) for c in streamed.tool_calls] == [
        (c.id, c.name, c.arguments) for c in parsed.tool_calls
    ]
    assert len(parsed.tool_calls) == 2
    assert streamed.finish_reason is parsed.finish_reason is FinishReason.TOOL_CALLS
    assert streamed.raw_finish_reason == parsed.raw_finish_reason
    assert streamed.usage == parsed.usage
    assert streamed.message == parsed.message
    assert streamed.model == parsed.model


# ---------------------------------------------------------------- SSE


def test_sse_multiline_data_comments_and_event_names() -> None:
    lines = [
        ": keep-alive",
        "event: message_start",
        "data: first line",
        "data:second line",
        "",
        'data: {"a": 1}',
        "id: 7",
        "retry: 100",
        "",
        "",
        ": another comment",
        "",
    ]
    assert list(iter_sse(lines)) == [
        ServerSentEvent("message_start", "first line\nsecond line"),
        ServerSentEvent(None, '{"a": 1}'),
    ]


def test_sse_only_one_leading_space_is_dropped() -> None:
    assert list(iter_sse(["data:  two spaces", ""])) == [ServerSentEvent(None, " two spaces")]


def test_sse_final_event_without_blank_line_is_flushed() -> None:
    assert list(iter_sse(["data: a", "", "data: [DONE]"])) == [
        ServerSentEvent(None, "a"),
        ServerSentEvent(None, "[DONE]"),
    ]


def test_sse_decoder_line_by_line() -> None:
    d = SSEDecoder()
    assert d.line("event: ping") is None
    assert d.line("data: x") is None
    assert d.line("") == ServerSentEvent("ping", "x")
    assert d.line("") is None  # nothing gathered since
    assert d.flush() is None


def test_aiter_sse() -> None:
    async def lines() -> AsyncIterator[str]:
        for line in ["data: one", "", ": c", "data: two", "data: three"]:
            yield line

    async def collect() -> list[ServerSentEvent]:
        return [e async for e in aiter_sse(lines())]

    assert asyncio.run(collect()) == [ServerSentEvent(None, "one"), ServerSentEvent(None, "two\nthree")]


# ---------------------------------------------------------------- embeddings and models


def _b64(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def test_embeddings_request() -> None:
    body = build_embeddings_request("text-embedding-3-small", ["a", "b"], 256, {})
    assert body == {
        "model": "text-embedding-3-small",
        "input": ["a", "b"],
        "encoding_format": "base64",
        "dimensions": 256,
    }
    plain = build_embeddings_request("m", ["a"], None, {"embeddings_base64": False})
    assert plain == {"model": "m", "input": ["a"]}
    with pytest.raises(InvalidRequestError):
        build_embeddings_request("m", ["a"], 0, {})


def test_embeddings_base64_float32_decoding() -> None:
    payload = {
        "data": [{"index": 0, "embedding": _b64([0.5, -1.25, 3.0])}],
        "model": "emb",
        "usage": {"prompt_tokens": 4, "total_tokens": 4},
    }
    r = parse_embeddings(payload, provider="openai", model="requested", count=1)
    assert r.vectors == [[0.5, -1.25, 3.0]]
    assert r.model == "emb"
    assert r.usage.input_tokens == 4


def test_embeddings_list_vectors_ordered_by_index() -> None:
    payload = {
        "data": [
            {"index": 2, "embedding": [3, 3]},
            {"index": 0, "embedding": _b64([1.0, 1.5])},
            {"index": 1, "embedding": [2.0, 2.5]},
        ]
    }
    r = parse_embeddings(payload, provider="openai", model="requested", count=3)
    assert r.vectors == [[1.0, 1.5], [2.0, 2.5], [3.0, 3.0]]
    assert all(isinstance(x, float) for v in r.vectors for x in v)
    assert r.model == "requested"
    assert r.usage.total_tokens == 0


def test_embeddings_total_tokens_only() -> None:
    payload = {"data": [{"index": 0, "embedding": [1.0]}], "usage": {"total_tokens": 6}}
    assert parse_embeddings(payload, provider="p", model="m", count=1).usage.input_tokens == 6


@pytest.mark.parametrize(
    ("payload", "count"),
    [
        ({"data": [{"index": 0, "embedding": [1.0]}]}, 2),
        ({"data": [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [2.0]}]}, 1),
        ({"object": "list"}, 1),
        ([], 1),
    ],
)
def test_embeddings_malformed(payload: Any, count: int) -> None:
    with pytest.raises(MalformedResponseError):
        parse_embeddings(payload, provider="p", model="m", count=count)


def test_embeddings_error_body_raises() -> None:
    with pytest.raises(RateLimitError):
        parse_embeddings({"error": {"message": "slow", "code": 429}}, provider="p", model="m", count=1)


def test_parse_model_list() -> None:
    payload = {
        "object": "list",
        "data": [
            {"id": "gpt-4.1", "object": "model", "owned_by": "openai"},
            {
                "id": "anthropic/claude-x",
                "name": "Claude X",
                "context_length": 200000,
                "pricing": {"prompt": "0.000003", "completion": "0.000015"},
            },
            {"id": "local", "max_model_len": 8192, "pricing": {"prompt": "n/a"}},
            {"object": "model"},
            "junk",
        ],
    }
    models = parse_model_list(payload, provider="openrouter")
    assert [m.id for m in models] == ["gpt-4.1", "anthropic/claude-x", "local"]
    assert all(m.provider == "openrouter" for m in models)
    plain, priced, local = models
    assert plain.context_window is None
    assert plain.input_price is None
    assert priced.display_name == "Claude X"
    assert priced.context_window == 200000
    assert priced.input_price == pytest.approx(3.0)
    assert priced.output_price == pytest.approx(15.0)
    assert local.context_window == 8192
    assert local.input_price is None
    with pytest.raises(MalformedResponseError):
        parse_model_list([], provider="p")
    assert parse_model_list({"data": None}, provider="p") == []


# ---------------------------------------------------------------- host quirks (compatible hosts)

THINK = {"think_tags": True}


def _stream(chunks: list[dict[str, Any]], wire: dict[str, Any] | None = None) -> tuple[list[Any], Any]:
    assembler = ChatStreamAssembler(provider="host", model="requested-model", wire=wire)
    events: list[Any] = []
    for c in chunks:
        events.extend(assembler.feed(c))
    tail, response = assembler.finish()
    return [*events, *tail], response


def _deltas(events: list[Any], kind: type[Any]) -> str:
    return "".join(e.delta for e in events if isinstance(e, kind))


@pytest.mark.parametrize(
    ("content", "text", "reasoning"),
    [
        ("<think>\nplan</think>\n\nAnswer", "\n\nAnswer", "\nplan"),
        ("no tags at all", "no tags at all", None),
        ("before<think>a</think>middle<think>b</think>after", "beforemiddleafter", "ab"),
        ("<think>cut off by max_tokens", "", "cut off by max_tokens"),
        ("<think></think>only text", "only text", None),
        ("a stray </think> stays text", "a stray </think> stays text", None),
        ("x < y and <thinking> is not a tag", "x < y and <thinking> is not a tag", None),
    ],
)
def test_split_think_tags_whole(content: str, text: str, reasoning: str | None) -> None:
    r = parse_chat_completion(_completion({"content": content}), **P, wire=THINK)
    assert (r.text, r.reasoning) == (text, reasoning)
    assert r.message.content == (text or None)


def test_think_tags_are_kept_where_the_host_has_no_such_quirk() -> None:
    r = parse_chat_completion(_completion({"content": "<think>x</think>y"}), **P)
    assert (r.text, r.reasoning) == ("<think>x</think>y", None)


def test_think_tags_add_to_reasoning_the_host_sent_apart() -> None:
    body = _completion({"content": "<think>inline</think>text", "reasoning_content": "apart "})
    r = parse_chat_completion(body, **P, wire=THINK)
    assert (r.text, r.reasoning) == ("text", "apart inline")


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 13, 100])
def test_split_think_tags_streamed_with_tags_cut_anywhere(size: int) -> None:
    content = "<think>\nOkay, 2 < 3.</think>\n\nIt is <b>4</b>.<think>again</think>!"
    pieces = [content[i:i + size] for i in range(0, len(content), size)]
    events, r = _stream([_chunk({"content": p}) for p in pieces] + [_chunk({}, "stop")], THINK)
    assert r.text == "\n\nIt is <b>4</b>.!"
    assert r.reasoning == "\nOkay, 2 < 3.again"
    # The deltas say the same as the response, and no tag ever leaks into them.
    assert _deltas(events, TextDeltaEvent) == r.text
    assert _deltas(events, ReasoningDeltaEvent) == r.reasoning
    assert not any("<think" in e.delta or "</th" in e.delta for e in events if hasattr(e, "delta"))


def test_splitter_holds_back_only_what_could_start_a_tag() -> None:
    splitter = ThinkTagSplitter()
    assert splitter.feed("a <") == ("a ", "")
    assert splitter.feed("b") == ("<b", "")
    assert splitter.feed("<thi") == ("", "")
    assert splitter.feed("nk>why</") == ("", "why")
    assert splitter.inside
    assert splitter.flush() == ("", "</")
    assert split_think_tags("plain") == ("plain", None)


def test_stream_unclosed_think_ends_as_reasoning() -> None:
    chunks = [_chunk({"content": "<think>"}), _chunk({"content": "still thinking <"}), _chunk({}, "length")]
    events, r = _stream(chunks, THINK)
    assert (r.text, r.reasoning) == ("", "still thinking <")
    assert r.finish_reason is FinishReason.LENGTH
    assert _deltas(events, ReasoningDeltaEvent) == "still thinking <"


def test_stream_think_tags_from_a_real_groq_shape() -> None:
    # Groq (reasoning_format=raw) and DeepSeek-R1 distills: the tags arrive as their own chunks.
    pieces = ["", "<think>", "\n", "Okay", ",", " done", "\n", "</think>", "\n\n", "4"]
    chunks = [_chunk({"content": p}) for p in pieces]
    chunks.append(_chunk({}, "stop", x_groq={"id": "req", "usage": {"prompt_tokens": 21, "completion_tokens": 9}}))
    events, r = _stream(chunks, THINK)
    assert (r.text, r.reasoning) == ("\n\n4", "\nOkay, done\n")
    assert (r.usage.input_tokens, r.usage.output_tokens) == (21, 9)
    assert [type(e) for e in events if isinstance(e, UsageEvent)] == [UsageEvent]


def test_stream_mistral_thinking_parts() -> None:
    chunks = [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "Okay"}]}]}),
        _chunk({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": ", the user"}]}]}),
        _chunk({"content": "Cross"}),
        _chunk({"content": [{"type": "text", "text": " safely."}]}),
        _chunk({"content": ""}, "stop", usage={"prompt_tokens": 10, "total_tokens": 242, "completion_tokens": 232}),
    ]
    events, r = _stream(chunks, THINK)
    assert (r.text, r.reasoning) == ("Cross safely.", "Okay, the user")
    assert _deltas(events, ReasoningDeltaEvent) == "Okay, the user"
    assert (r.usage.input_tokens, r.usage.output_tokens) == (10, 232)


def test_stream_openrouter_reasoning_and_details_are_not_doubled() -> None:
    # OpenRouter sends the same reasoning as `reasoning` and as `reasoning_details`; encrypted details carry none.
    chunks = [
        _chunk({"content": "", "reasoning": None, "reasoning_details": []}, provider="Google"),
        _chunk({"content": "", "reasoning": "This",
                "reasoning_details": [{"type": "reasoning.text", "text": "This", "index": 0}]}),
        _chunk({"content": "", "reasoning": None,
                "reasoning_details": [{"type": "reasoning.encrypted", "data": "gAAAA"}]}),
        _chunk({"content": "", "reasoning_details": [{"type": "reasoning.text", "text": " is it", "index": 0}]}),
        _chunk({"content": "Hi"}, "stop"),
        _chunk({"content": ""}, None, usage={"prompt_tokens": 43, "completion_tokens": 36, "cost": 0.000669}),
    ]
    _, r = _stream(chunks)
    assert (r.text, r.reasoning, r.upstream) == ("Hi", "This is it", "Google")
    assert r.finish_reason is FinishReason.STOP  # a later chunk's null finish_reason does not undo it
    assert r.usage.cost_usd == pytest.approx(0.000669)


def test_stream_tool_calls_without_ids_get_one_stable_id() -> None:
    chunks = [
        _chunk({"tool_calls": [{"index": 0, "type": "function", "function": {"name": "a", "arguments": ""}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"x":'}}]}),
        _chunk({"tool_calls": [{"index": 1, "type": "function", "function": {"name": "b", "arguments": "{}"}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
        _chunk({}, "tool_calls"),
    ]
    events, r = _stream(chunks)
    first_deltas = [e for e in events if isinstance(e, ToolCallDeltaEvent) and e.name]
    done = [e.tool_call for e in events if isinstance(e, ToolCallEvent)]
    ids = [c.id for c in r.tool_calls]
    assert len(set(ids)) == 2 and all(i.startswith("call_") for i in ids)
    assert [e.id for e in first_deltas] == ids == [c.id for c in done]
    assert [c.arguments for c in r.tool_calls] == [{"x": 1}, {}]
    assert r.message.tool_calls[0].id == ids[0]


def test_whole_tool_calls_without_ids_get_distinct_ids() -> None:
    calls = [{"type": "function", "function": {"name": n, "arguments": "{}"}} for n in ("a", "b")]
    r = parse_chat_completion(_completion({"content": None, "tool_calls": calls}, "tool_calls"), **P)
    assert len({c.id for c in r.tool_calls}) == 2
    assert [c.id for c in r.message.tool_calls] == [c.id for c in r.tool_calls]


def test_stream_without_any_finish_reason() -> None:
    _, r = _stream([_chunk({"content": "Hello"}), _chunk({"content": "!"}), STREAM_END])
    assert (r.text, r.finish_reason, r.raw_finish_reason) == ("Hello!", None, None)
    _, r = _stream([_chunk({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{}"}}]}),
                    STREAM_END])
    assert r.finish_reason is FinishReason.TOOL_CALLS


def test_a_stream_cut_before_its_end_marker_is_an_error() -> None:
    # Neither a finish reason nor [DONE]: a truncated answer must not pass for a whole one.
    with pytest.raises(APIConnectionError, match="end marker"):
        _stream([_chunk({"content": "Hello"})])


def test_keepalive_comments_between_chunks_are_skipped() -> None:
    body = (": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\n"
            'data: {"id":"g","provider":"xAI","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
            ": OPENROUTER PROCESSING\n\n"
            'data: {"id":"g","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
            "data: [DONE]\n\n")
    data = [e.data for e in iter_sse(body.splitlines())]
    assert len(data) == 3
    _, r = _stream([json.loads(d) for d in data[:2]])
    assert (r.text, r.upstream, r.finish_reason) == ("Hi", "xAI", FinishReason.STOP)


def test_chat_body_renames_and_unsupported_fields_come_from_the_row(provider: OpenAIProvider) -> None:
    wire = {"chat_body": {"usage": {"include": True}}, "renames": {"seed": "random_seed"}, "unsupported": ("user",)}
    call = _call(provider, "gpt-4.1", "hi", seed=3, user="u", extra={"usage": {"include": False}})
    with pytest.warns(UserWarning, match="user"):
        body = build_chat_request(call, wire, stream=False)
    assert body["random_seed"] == 3
    assert "seed" not in body and "user" not in body
    assert body["usage"] == {"include": False}  # a per-call extra wins over the row's body fields
    assert list(body)[:2] == ["model", "messages"]


def test_parallel_tool_calls_dropped_with_a_warning_where_the_host_refuses_it(provider: OpenAIProvider) -> None:
    call = _call(provider, "gpt-4.1", "hi", tools=[WEATHER], parallel_tool_calls=False)
    assert build_chat_request(call, {}, stream=False)["parallel_tool_calls"] is False
    with pytest.warns(UserWarning, match="parallel_tool_calls"):
        body = build_chat_request(call, {"parallel_tool_calls": False}, stream=False)
    assert "parallel_tool_calls" not in body


def test_embeddings_request_renames_and_float_vectors() -> None:
    wire = {"renames": {"dimensions": "output_dimension"}, "embeddings_base64": False}
    assert build_embeddings_request("m", ["a"], 256, wire) == {"model": "m", "input": ["a"], "output_dimension": 256}


def test_parse_openrouter_model_list() -> None:
    payload = {"data": [
        {
            "id": "anthropic/claude-sonnet-4.5", "name": "Anthropic: Claude Sonnet 4.5", "context_length": 1000000,
            "architecture": {"input_modalities": ["text", "image", "file"], "output_modalities": ["text"]},
            "pricing": {"prompt": "0.000003", "completion": "0.000015", "input_cache_read": "0.0000003",
                        "input_cache_write": "0.00000375", "request": "0"},
            "top_provider": {"context_length": 1000000, "max_completion_tokens": 64000, "is_moderated": False},
            "supported_parameters": ["max_tokens", "reasoning", "tools", "structured_outputs", "temperature"],
        },
        {"id": "openrouter/auto", "pricing": {"prompt": "-1", "completion": "-1"},
         "top_provider": {"context_length": 2000000}},
    ]}
    claude, auto = parse_model_list(payload, provider="openrouter")
    assert claude.display_name == "Anthropic: Claude Sonnet 4.5"
    assert (claude.context_window, claude.max_output_tokens) == (1000000, 64000)
    assert (claude.input_price, claude.output_price) == (3.0, 15.0)
    assert (claude.cached_input_price, claude.cache_write_price) == (0.3, 3.75)
    assert claude.capabilities == {"reasoning", "tools", "json_schema", "vision"}
    assert (auto.input_price, auto.output_price) == (None, None)  # "-1": priced per routed model
    assert auto.context_window == 2000000


def test_parse_ollama_models() -> None:
    tags = {"models": [
        {"name": "llama3.2:latest", "model": "llama3.2:latest", "details": {"family": "llama"}},
        {"name": "nomic-embed-text:latest", "model": "nomic-embed-text:latest"},
        {"name": "unshown:7b", "model": "unshown:7b"},
        {"details": {}},
        "junk",
    ]}
    show = {
        "llama3.2:latest": {"model_info": {"general.architecture": "llama", "llama.context_length": 131072},
                            "capabilities": ["completion", "tools", "vision", "thinking"]},
        "nomic-embed-text:latest": {"model_info": {"nomic-bert.context_length": 2048},
                                    "capabilities": ["embedding"]},
    }
    llama, embed, unshown = parse_ollama_models({"tags": tags, "show": show}, provider="ollama")
    assert (llama.id, llama.provider, llama.context_window) == ("llama3.2:latest", "ollama", 131072)
    assert llama.capabilities == {"tools", "vision", "reasoning"}
    assert embed.context_window == 2048
    assert embed.capabilities == {"embeddings"}
    assert (unshown.id, unshown.context_window, unshown.capabilities) == ("unshown:7b", None, frozenset())
    with pytest.raises(MalformedResponseError):
        parse_ollama_models({"data": []}, provider="ollama")
