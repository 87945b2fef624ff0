"""The OpenAI provider end to end, through the real `openai` SDK, against the loopback wire emulator."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import BaseModel

import agentos_llm.providers.openai as openai_module
from agentos_llm import (
    CompletionResponse,
    FinishReason,
    ImagePart,
    ReasoningDeltaEvent,
    TextDeltaEvent,
    ToolCallDeltaEvent,
    ToolCallEvent,
    UsageEvent,
    create_provider,
    user,
)
from agentos_llm.errors import InvalidRequestError, StructuredOutputError, UnsupportedCapabilityError
from agentos_llm.provider import IProvider
from agentos_llm.testing import Reply, WireEmulator
from agentos_llm.testing.openai_wire import embedding_vector
from tests.provider_calls import restored, run

# Prices of gpt-4o in the shipped catalog (USD per 1M tokens), spelled out so a wrong lookup shows.
GPT_4O_INPUT, GPT_4O_CACHED, GPT_4O_OUTPUT = 2.5, 1.25, 10.0
EMBED_SMALL_INPUT = 0.02

MODES = ["generate", "generate_sync", "stream", "stream_sync"]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
TIME_TOOL = {
    "name": "get_time",
    "description": "Local time of a zone",
    "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
}


@pytest.fixture(scope="module")
def server() -> Iterator[WireEmulator]:
    with WireEmulator() as emu:
        yield emu


@pytest.fixture
def emu(server: WireEmulator) -> Iterator[WireEmulator]:
    yield from restored(server)


@pytest.fixture
async def provider(emu: WireEmulator) -> AsyncIterator[IProvider]:
    p = create_provider("openai", api_key="sk-test", base_url=emu.openai_base_url, max_retries=0)
    yield p
    await p.aclose()


def normalized(response: CompletionResponse) -> dict[str, Any]:
    """A response's dump without its id, raw payload and tool call ids (which differ per request)."""
    data = response.model_dump(exclude={"id", "raw", "request_id", "rate_limits", "metadata"})  # per request
    for call in data["tool_calls"]:
        call.pop("id")
    for call in data["message"]["tool_calls"]:
        call.pop("id")
    return data


# --------------------------------------------------------------------------------------------
# generate / stream: text, tools, reasoning, usage
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_text(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Reply("Hello from the emulated model"))
    response, events = await run(provider, mode, "gpt-4o", "say hello")
    assert response.text == "Hello from the emulated model"
    assert response.provider == "openai"
    assert response.model == "gpt-4o"
    assert response.finish_reason is FinishReason.STOP
    assert response.raw_finish_reason == "stop"
    assert response.tool_calls == []
    assert response.reasoning is None
    assert response.message.role == "assistant"
    assert response.message.content == "Hello from the emulated model"
    assert response.id is not None and response.id.startswith("chatcmpl-emu-")
    if events is not None:
        deltas = [e.delta for e in events if isinstance(e, TextDeltaEvent)]
        assert len(deltas) > 1, "the text should arrive in several deltas"
        assert "".join(deltas) == response.text
    assert emu.hits() == 1
    body = emu.requests[-1].body
    assert body["model"] == "gpt-4o"
    assert body["messages"] == [{"role": "user", "content": "say hello"}]


@pytest.mark.parametrize("mode", MODES)
async def test_parallel_tool_calls(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Reply(tool_calls=[("get_weather", {"city": "Paris"}), ("get_time", {"tz": "Europe/Paris"})]))
    response, events = await run(
        provider, mode, "gpt-4o", "weather and time in Paris?", tools=[WEATHER_TOOL, TIME_TOOL]
    )
    assert response.finish_reason is FinishReason.TOOL_CALLS
    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"tz": "Europe/Paris"}),
    ]
    ids = [c.id for c in response.tool_calls]
    assert all(ids) and len(set(ids)) == 2
    assert response.message.tool_calls == response.tool_calls
    assert response.text == ""
    assert response.message.content is None
    if events is not None:
        done = [e for e in events if isinstance(e, ToolCallEvent)]
        assert [(e.index, e.tool_call) for e in done] == list(enumerate(response.tool_calls))
        for index, call in enumerate(response.tool_calls):
            deltas = [e for e in events if isinstance(e, ToolCallDeltaEvent) and e.index == index]
            assert deltas[0].id == call.id and deltas[0].name == call.name
            assert json.loads("".join(d.arguments_delta for d in deltas)) == call.arguments
        # Each complete call comes after all of its fragments.
        last_delta = max(i for i, e in enumerate(events) if isinstance(e, ToolCallDeltaEvent))
        first_call = min(i for i, e in enumerate(events) if isinstance(e, ToolCallEvent))
        assert first_call > last_delta


@pytest.mark.parametrize("mode", MODES)
async def test_reasoning_content(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Reply("The answer is 4.", reasoning="Two plus two makes four.", reasoning_tokens=6))
    response, events = await run(provider, mode, "gpt-4o", "2+2?")
    assert response.reasoning == "Two plus two makes four."
    assert response.message.reasoning == "Two plus two makes four."
    assert response.text == "The answer is 4."
    assert response.usage.reasoning_tokens == 6
    if events is not None:
        kinds = [type(e) for e in events]
        reasoning = [e.delta for e in events if isinstance(e, ReasoningDeltaEvent)]
        assert "".join(reasoning) == response.reasoning
        assert kinds.index(ReasoningDeltaEvent) < kinds.index(TextDeltaEvent)


@pytest.mark.parametrize("mode", MODES)
async def test_usage(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Reply("ok then", prompt_tokens=11, completion_tokens=7, cached_tokens=3, reasoning_tokens=2))
    response, events = await run(provider, mode, "gpt-4o", "count my tokens")
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (11, 7, 18)
    assert usage.cached_input_tokens == 3
    assert usage.reasoning_tokens == 2
    if events is not None:
        reported = [e.usage for e in events if isinstance(e, UsageEvent)]
        assert len(reported) == 1
        assert (reported[0].input_tokens, reported[0].output_tokens) == (11, 7)
        assert reported[0].cached_input_tokens == 3


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_done_event_equals_generate(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    def reply() -> Reply:
        return Reply(
            "Checking both.",
            tool_calls=[("get_weather", {"city": "Oslo"}), ("get_time", {"tz": "CET"})],
            reasoning="Two tools are needed.",
            prompt_tokens=20,
            completion_tokens=9,
            cached_tokens=4,
        )

    emu.script(reply(), reply())
    options: dict[str, Any] = {"tools": [WEATHER_TOOL, TIME_TOOL]}
    whole, _ = await run(provider, "generate" if asynchronous else "generate_sync", "gpt-4o", "go", **options)
    streamed, events = await run(provider, "stream" if asynchronous else "stream_sync", "gpt-4o", "go", **options)
    assert events is not None
    assert normalized(streamed) == normalized(whole)
    assert whole.usage.cost_usd is not None and streamed.usage.cost_usd == whole.usage.cost_usd
    assert streamed.id is not None and streamed.id != whole.id


# --------------------------------------------------------------------------------------------
# request mapping
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_options_are_mapped_into_the_request(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    await run(
        provider,
        mode,
        "gpt-4o",
        [{"role": "system", "content": "be brief"}, user("hi")],
        max_tokens=50,
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice="get_weather",
        parallel_tool_calls=False,
        seed=7,
        stop="END",
        user="user-42",
        temperature=0.2,
        top_p=0.9,
        extra={"logit_bias": {"50256": -100}},
    )
    body = emu.requests[-1].body
    assert body["max_completion_tokens"] == 50
    assert "max_tokens" not in body
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": t["name"], "parameters": t["parameters"], "description": t["description"]},
        }
        for t in (WEATHER_TOOL, TIME_TOOL)
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["parallel_tool_calls"] is False
    assert body["seed"] == 7
    assert body["stop"] == ["END"]
    assert body["user"] == "user-42"
    assert body["temperature"] == 0.2
    assert body["top_p"] == 0.9
    assert body["logit_bias"] == {"50256": -100}
    assert body["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    if mode.startswith("stream"):
        assert body["stream"] is True
        assert body["stream_options"] == {"include_usage": True}
    else:
        assert "stream" not in body and "stream_options" not in body


async def test_tool_choice_keywords_and_defaults(emu: WireEmulator, provider: IProvider) -> None:
    await provider.generate("gpt-4o", "hi", tools=[WEATHER_TOOL], tool_choice="required")
    body = emu.requests[-1].body
    assert body["tool_choice"] == "required"
    assert "parallel_tool_calls" not in body
    await provider.generate("gpt-4o", "hi")
    body = emu.requests[-1].body
    for key in (
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "seed",
        "stop",
        "user",
        "max_completion_tokens",
        "temperature",
    ):
        assert key not in body


def test_reasoning_model_request(emu: WireEmulator, provider: IProvider) -> None:
    with pytest.warns(UserWarning, match="temperature"):
        provider.generate_sync(
            "o3-mini",
            [{"role": "system", "content": "rules"}, {"role": "user", "content": "q"}],
            reasoning_effort="low",
            temperature=0.5,
        )
    body = emu.requests[-1].body
    assert body["reasoning_effort"] == "low"
    assert "temperature" not in body
    assert body["messages"][0] == {"role": "developer", "content": "rules"}


@pytest.mark.parametrize("mode", ["generate_sync", "stream"])
async def test_images(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
    message = user(
        [
            "What is in these images?",
            ImagePart(url="https://example.com/cat.jpg", detail="low"),
            ImagePart(data=png, media_type="image/png"),
        ]
    )
    response, _ = await run(provider, mode, "gpt-4o", [message])
    assert response.text == "Echo: What is in these images?"
    content = emu.requests[-1].body["messages"][0]["content"]
    assert content == [
        {"type": "text", "text": "What is in these images?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
    ]


def test_images_in_openai_dict_shape(emu: WireEmulator, provider: IProvider) -> None:
    provider.generate_sync(
        "gpt-4o",
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "describe"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA", "detail": "high"}},
                ],
            }
        ],
    )
    assert emu.requests[-1].body["messages"][0]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/jpeg;base64,AAAA", "detail": "high"},
    }


def test_images_to_a_model_without_vision_fail_before_sending(emu: WireEmulator, provider: IProvider) -> None:
    with pytest.raises(UnsupportedCapabilityError):
        provider.generate_sync("gpt-3.5-turbo", [user(["look", ImagePart(url="https://example.com/a.png")])])
    assert emu.hits() == 0


# --------------------------------------------------------------------------------------------
# structured output
# --------------------------------------------------------------------------------------------


class City(BaseModel):
    """A city and its population."""

    name: str
    population: int
    country: str | None = None


class Inventory(BaseModel):
    counts: dict[str, int]


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_structured_pydantic_model(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    emu.script(
        Reply('{"name": "Paris", "population": 2100000, "country": null}', prompt_tokens=30, completion_tokens=12)
    )
    if asynchronous:
        result = await provider.generate_structured("gpt-4o", "Biggest French city?", City)
    else:
        result = provider.generate_structured_sync("gpt-4o", "Biggest French city?", City)
    assert result.value == City(name="Paris", population=2100000)
    assert isinstance(result.value, City)
    assert result.attempts == 1
    assert result.usage.input_tokens == 30 and result.usage.output_tokens == 12
    fmt = emu.requests[-1].body["response_format"]
    assert fmt["type"] == "json_schema"
    spec = fmt["json_schema"]
    assert spec["name"] == "City"
    assert spec["strict"] is True
    assert spec["description"] == "A city and its population."
    schema = spec["schema"]
    assert schema["additionalProperties"] is False
    assert sorted(schema["required"]) == ["country", "name", "population"]
    assert {"type": "null"} in schema["properties"]["country"]["anyOf"]
    assert emu.hits() == 1


def test_structured_default_emulator_answer_validates(emu: WireEmulator, provider: IProvider) -> None:
    # Nothing scripted: the emulator answers a minimal instance of the schema the request carried.
    result = provider.generate_structured_sync("gpt-4o", "any city", City)
    assert result.value.name == "example" and result.value.population == 1


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_structured_reasks_after_invalid_answer(
    emu: WireEmulator, provider: IProvider, asynchronous: bool
) -> None:
    emu.script(
        Reply("not json", prompt_tokens=10, completion_tokens=2),
        Reply('{"name": "Rome", "population": 2800000, "country": "Italy"}', prompt_tokens=25, completion_tokens=9),
    )
    if asynchronous:
        result = await provider.generate_structured("gpt-4o", "Capital of Italy?", City)
    else:
        result = provider.generate_structured_sync("gpt-4o", "Capital of Italy?", City)
    assert result.attempts == 2
    assert result.value == City(name="Rome", population=2800000, country="Italy")
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.total_tokens) == (35, 11, 46)
    assert result.response.usage == result.usage
    expected = ((10 + 25) * GPT_4O_INPUT + (2 + 9) * GPT_4O_OUTPUT) / 1e6
    assert result.usage.cost_usd == pytest.approx(expected)
    assert emu.hits() == 2
    second = emu.requests[-1].body["messages"]
    assert second[0] == {"role": "user", "content": "Capital of Italy?"}
    assert second[1] == {"role": "assistant", "content": "not json"}
    assert second[2]["role"] == "user" and "not valid JSON" in second[2]["content"]
    assert emu.requests[-1].body["response_format"]["type"] == "json_schema"


def test_structured_reask_names_the_validation_error(emu: WireEmulator, provider: IProvider) -> None:
    emu.script(
        Reply('{"name": "Oslo", "population": "lots", "country": null}'),
        Reply('{"name": "Oslo", "population": 700000, "country": null}'),
    )
    result = provider.generate_structured_sync("gpt-4o", "Oslo?", City)
    assert result.attempts == 2 and result.value.population == 700000
    assert "population" in emu.requests[-1].body["messages"][-1]["content"]


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_structured_all_attempts_invalid(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    emu.script(*(Reply("still not json", prompt_tokens=5, completion_tokens=3) for _ in range(3)))
    with pytest.raises(StructuredOutputError) as info:
        if asynchronous:
            await provider.generate_structured("gpt-4o", "city?", City)
        else:
            provider.generate_structured_sync("gpt-4o", "city?", City)
    err = info.value
    assert err.raw_text == "still not json"
    assert err.attempts == 3
    assert err.validation_errors
    assert err.usage is not None and err.usage.input_tokens == 15 and err.usage.output_tokens == 9
    assert emu.hits() == 3


def test_structured_max_attempts(emu: WireEmulator, provider: IProvider) -> None:
    emu.script(Reply("no"), Reply("no"), Reply('{"name": "x", "population": 1, "country": null}'))
    with pytest.raises(StructuredOutputError) as info:
        provider.generate_structured_sync("gpt-4o", "city?", City, max_attempts=2)
    assert info.value.attempts == 2
    assert emu.hits() == 2


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_structured_list_is_wrapped_on_the_wire_and_unwrapped_in_the_value(
    emu: WireEmulator, provider: IProvider, asynchronous: bool
) -> None:
    emu.script(Reply('{"value": [3, 1, 2]}'))
    if asynchronous:
        result = await provider.generate_structured("gpt-4o", "three numbers", list[int])
    else:
        result = provider.generate_structured_sync("gpt-4o", "three numbers", list[int])
    assert result.value == [3, 1, 2]
    schema = emu.requests[-1].body["response_format"]["json_schema"]["schema"]
    assert schema["type"] == "object"
    assert schema["required"] == ["value"]
    assert schema["properties"]["value"]["type"] == "array"
    assert schema["properties"]["value"]["items"] == {"type": "integer"}


@pytest.mark.parametrize(("model", "role"), [("gpt-4o", "system"), ("o3-mini", "developer")])
def test_structured_free_form_dict_uses_json_object_with_instructions(
    emu: WireEmulator, provider: IProvider, model: str, role: str
) -> None:
    emu.script(Reply('{"counts": {"apples": 3, "pears": 0}}'))
    result = provider.generate_structured_sync(model, "count the fruit", Inventory)
    assert result.value == Inventory(counts={"apples": 3, "pears": 0})
    body = emu.requests[-1].body
    assert body["response_format"] == {"type": "json_object"}
    first = body["messages"][0]
    assert first["role"] == role
    assert "JSON" in first["content"]
    assert '"counts"' in first["content"] and '"additionalProperties"' in first["content"]
    assert body["messages"][-1] == {"role": "user", "content": "count the fruit"}


# --------------------------------------------------------------------------------------------
# embeddings
# --------------------------------------------------------------------------------------------

TEXTS = ["one", "two words", "three little words", "four words in all", "five words make a batch"]


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_embeddings_batches_keep_order(
    emu: WireEmulator, provider: IProvider, monkeypatch: pytest.MonkeyPatch, asynchronous: bool
) -> None:
    monkeypatch.setattr(openai_module, "_EMBED_MAX_INPUTS", 2)
    if asynchronous:
        result = await provider.embed("text-embedding-3-small", TEXTS)
    else:
        result = provider.embed_sync("text-embedding-3-small", TEXTS)
    assert emu.hits("/embeddings") == 3
    batches = [r.body["input"] for r in emu.requests]
    assert sorted(len(b) for b in batches) == [1, 2, 2]
    assert sorted(t for b in batches for t in b) == sorted(TEXTS)
    assert all(r.body["model"] == "text-embedding-3-small" for r in emu.requests)
    assert len(result.vectors) == 5
    singles = [provider.embed_sync("text-embedding-3-small", text).vectors[0] for text in TEXTS]
    assert result.vectors == singles
    for text, vector in zip(TEXTS, result.vectors, strict=True):
        assert vector == pytest.approx(embedding_vector(text, 8), abs=1e-6)
    assert result.usage.input_tokens == 1 + 2 + 3 + 4 + 5
    assert result.usage.cost_usd == pytest.approx(15 * EMBED_SMALL_INPUT / 1e6)
    assert result.model == "text-embedding-3-small"
    assert result.provider == "openai"


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_embeddings_dimensions(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    if asynchronous:
        result = await provider.embed(None, ["alpha", "beta"], dimensions=16)
    else:
        result = provider.embed_sync(None, ["alpha", "beta"], dimensions=16)
    body = emu.requests[-1].body
    assert body["dimensions"] == 16
    assert body["model"] == "text-embedding-3-small"  # the provider's default embedding model
    assert [len(v) for v in result.vectors] == [16, 16]
    assert math.isclose(sum(x * x for x in result.vectors[0]), 1.0, rel_tol=1e-5)
    assert result.vectors[0] != result.vectors[1]


def test_embedding_a_single_string(emu: WireEmulator, provider: IProvider) -> None:
    result = provider.embed_sync("text-embedding-3-small", "just one")
    assert len(result.vectors) == 1
    assert emu.requests[-1].body["input"] == ["just one"]


# --------------------------------------------------------------------------------------------
# models and health
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_list_models_merges_the_catalog(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    emu.models = ["gpt-4o", "my-local-model", "gpt-4o-mini"]
    models = await provider.list_models() if asynchronous else provider.list_models_sync()
    assert [m.id for m in models] == ["gpt-4o", "my-local-model", "gpt-4o-mini"]
    by_id = {m.id: m for m in models}
    assert all(m.provider == "openai" for m in models)
    assert by_id["gpt-4o"].context_window == 128000
    assert by_id["gpt-4o"].input_price == GPT_4O_INPUT
    assert "vision" in by_id["gpt-4o"].capabilities
    assert by_id["my-local-model"].context_window is None
    assert by_id["my-local-model"].input_price is None
    assert emu.hits("/models") == 1


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_check_health(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    status = await provider.check_health() if asynchronous else provider.check_health_sync()
    assert status.ok is True
    assert status.provider == "openai"
    assert status.error is None
    assert status.latency_ms is not None and status.latency_ms >= 0
    assert emu.hits("/models") == 1


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_check_health_of_a_stopped_server(asynchronous: bool) -> None:
    stopped = WireEmulator().start()
    base_url = stopped.openai_base_url
    stopped.stop()
    p = create_provider("openai", api_key="sk-test", base_url=base_url, max_retries=0, timeout=5)
    try:
        status = await p.check_health() if asynchronous else p.check_health_sync()
    finally:
        await p.aclose()
    assert status.ok is False
    assert status.error is not None and "APIConnectionError" in status.error


# --------------------------------------------------------------------------------------------
# validation before sending, and cost
# --------------------------------------------------------------------------------------------


async def test_unknown_option_fails_before_any_request(emu: WireEmulator, provider: IProvider) -> None:
    with pytest.raises(InvalidRequestError, match="bogus"):
        await provider.generate("gpt-4o", "hi", bogus=1)
    with pytest.raises(InvalidRequestError, match="bogus"):
        provider.generate_sync("gpt-4o", "hi", bogus=1)
    with pytest.raises(InvalidRequestError, match="bogus"):
        provider.stream("gpt-4o", "hi", bogus=1)
    with pytest.raises(InvalidRequestError, match="bogus"):
        provider.stream_sync("gpt-4o", "hi", bogus=1)
    with pytest.raises(InvalidRequestError, match="bogus"):
        await provider.generate_structured("gpt-4o", "hi", City, bogus=1)
    with pytest.raises(InvalidRequestError, match="bogus"):
        provider.generate_structured_sync("gpt-4o", "hi", City, bogus=1)
    with pytest.raises(InvalidRequestError):
        provider.generate_sync("gpt-4o", "hi", temperature=5)
    with pytest.raises(InvalidRequestError, match="tool_choice"):
        provider.generate_sync("gpt-4o", "hi", tools=[WEATHER_TOOL], tool_choice="no_such_tool")
    with pytest.raises(InvalidRequestError):
        provider.generate_sync("gpt-4o", [])
    assert emu.hits() == 0
    assert emu.requests == []


@pytest.mark.parametrize("mode", MODES)
async def test_cost_from_the_catalog(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Reply("priced", prompt_tokens=1000, completion_tokens=500, cached_tokens=200))
    response, _ = await run(provider, mode, "gpt-4o", "price me")
    expected = (800 * GPT_4O_INPUT + 200 * GPT_4O_CACHED + 500 * GPT_4O_OUTPUT) / 1e6
    assert response.usage.cost_usd == pytest.approx(expected)
    assert expected == pytest.approx(0.00725)


def test_cost_of_a_dated_snapshot_and_of_an_unknown_model(emu: WireEmulator, provider: IProvider) -> None:
    emu.script(
        Reply("a", prompt_tokens=100, completion_tokens=10, model="gpt-4o-2024-08-06"),
        Reply("b", prompt_tokens=100, completion_tokens=10, model="my-local-model"),
    )
    snapshot = provider.generate_sync("gpt-4o", "x")
    assert snapshot.model == "gpt-4o-2024-08-06"
    assert snapshot.usage.cost_usd == pytest.approx((100 * GPT_4O_INPUT + 10 * GPT_4O_OUTPUT) / 1e6)
    unknown = provider.generate_sync("my-local-model", "x")
    assert unknown.usage.cost_usd is None
