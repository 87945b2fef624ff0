"""The Anthropic provider end to end, through the real `anthropic` SDK, against the loopback wire emulator."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import anthropic
import httpx2
import pytest
from pydantic import BaseModel

from agentos_llm import (
    CompletionResponse,
    DoneEvent,
    FinishReason,
    ImagePart,
    ReasoningDeltaEvent,
    TextDeltaEvent,
    ToolCallDeltaEvent,
    ToolCallEvent,
    UsageEvent,
    create_provider,
    tool_result,
    user,
)
from agentos_llm.errors import (
    AgentOSLLMError,
    APIConnectionError,
    AuthenticationError,
    ContextLengthExceededError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    StructuredOutputError,
    UnsupportedCapabilityError,
)
from agentos_llm.provider import IProvider
from agentos_llm.testing import Fault, Reply, WireEmulator
from agentos_llm.testing.anthropic_wire import signature_for
from tests.provider_calls import restored, run, sent

# Prices of claude-sonnet-4-5 in the shipped catalog (USD per 1M tokens), spelled out so a wrong lookup shows.
SONNET_INPUT, SONNET_OUTPUT, SONNET_CACHE_READ, SONNET_CACHE_WRITE = 3.0, 15.0, 0.3, 3.75
MODEL = "claude-sonnet-4-5"
KEY = "sk-ant-api03-emulator-key-0123456789"
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
    with WireEmulator(models=["claude-sonnet-4-5", "claude-haiku-4-5", "claude-experimental"]) as emu:
        yield emu


@pytest.fixture
def emu(server: WireEmulator) -> Iterator[WireEmulator]:
    yield from restored(server)


def make_provider(emu: WireEmulator, **kwargs: Any) -> IProvider:
    kwargs.setdefault("max_retries", 0)
    p = create_provider("anthropic", api_key=KEY, base_url=emu.anthropic_base_url, **kwargs)
    p.retry_policy = replace(p.retry_policy, initial_backoff=0.01, max_backoff=0.02)
    return p


@pytest.fixture
async def provider(emu: WireEmulator) -> AsyncIterator[IProvider]:
    p = make_provider(emu)
    yield p
    await p.aclose()


# --------------------------------------------------------------------------------------------
# text, tools, thinking, usage
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_text(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Reply("Hello from the emulated model"))
    response, events = await run(provider, mode, MODEL, [{"role": "system", "content": "be kind"}, user("hello")])
    assert response.text == "Hello from the emulated model"
    assert (response.provider, response.model) == ("anthropic", MODEL)
    assert response.finish_reason is FinishReason.STOP and response.raw_finish_reason == "end_turn"
    assert response.tool_calls == [] and response.reasoning is None
    assert response.message.content == response.text and response.message.vendor_blocks == []
    assert response.id is not None and response.id.startswith("msg_emu_")
    if events is not None:
        deltas = [e.delta for e in events if isinstance(e, TextDeltaEvent)]
        assert len(deltas) > 1 and "".join(deltas) == response.text
    assert emu.hits("/v1/messages") == 1
    request = emu.requests[-1]
    # the SDK authenticates (this SDK version sends the key as a bearer token; older ones as x-api-key)
    assert KEY in (request.headers.get("x-api-key"), request.headers.get("authorization", "").removeprefix("Bearer "))
    assert "anthropic-version" in request.headers
    body = sent(emu)
    assert body["system"] == "be kind"
    assert body["messages"] == [{"role": "user", "content": "hello"}]
    # Streams may use the model's whole output limit (the catalog's); a whole request defaults to what fits the
    # API's 10-minute non-streaming window (the SDK's own rule: 21,333 tokens at 128k tokens an hour).
    assert body["max_tokens"] == (64000 if mode.startswith("stream") else 21333)
    assert body.get("stream") is (True if mode.startswith("stream") else None)


@pytest.mark.parametrize("mode", ["generate", "generate_sync"])
async def test_a_long_whole_answer_travels_as_a_stream(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Reply("a very long essay"))
    response, _ = await run(provider, mode, MODEL, "write a book", max_tokens=40000)
    assert response.text == "a very long essay" and response.finish_reason is FinishReason.STOP
    body = sent(emu)
    assert body["stream"] is True and body["max_tokens"] == 40000
    assert emu.hits("/v1/messages") == 1


async def test_a_whole_answer_within_the_window_stays_whole(emu: WireEmulator, provider: IProvider) -> None:
    emu.script(Reply("short"))
    await provider.generate(MODEL, "hi", max_tokens=21333)
    assert "stream" not in sent(emu)


@pytest.mark.parametrize("mode", MODES)
async def test_parallel_tool_calls(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Reply(tool_calls=[("get_weather", {"city": "Paris"}), ("get_time", {"tz": "Europe/Paris"})]))
    response, events = await run(provider, mode, MODEL, "weather and time in Paris?", tools=[WEATHER_TOOL, TIME_TOOL])
    assert response.finish_reason is FinishReason.TOOL_CALLS and response.raw_finish_reason == "tool_use"
    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("get_weather", {"city": "Paris"}), ("get_time", {"tz": "Europe/Paris"})]
    ids = [c.id for c in response.tool_calls]
    assert all(i.startswith("toolu_emu_") for i in ids) and len(set(ids)) == 2
    assert response.message.tool_calls == response.tool_calls
    assert response.text == "" and response.message.content is None
    if events is not None:
        done = [e for e in events if isinstance(e, ToolCallEvent)]
        assert [(e.index, e.tool_call) for e in done] == list(enumerate(response.tool_calls))
        for index, call in enumerate(response.tool_calls):
            deltas = [e for e in events if isinstance(e, ToolCallDeltaEvent) and e.index == index]
            assert deltas[0].id == call.id and deltas[0].name == call.name
            assert json.loads("".join(d.arguments_delta for d in deltas)) == call.arguments
    body = sent(emu)
    assert [t["name"] for t in body["tools"]] == ["get_weather", "get_time"]
    assert body["tools"][0]["input_schema"] == WEATHER_TOOL["parameters"]


@pytest.mark.parametrize("mode", MODES)
async def test_thinking(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Reply("The answer is 4.", reasoning="Two plus two makes four."))
    with pytest.warns(UserWarning, match="temperature left out"):
        response, events = await run(provider, mode, MODEL, "2+2?", reasoning_effort="medium", temperature=0.2)
    assert response.reasoning == "Two plus two makes four."
    assert response.text == "The answer is 4."
    [block] = response.message.vendor_blocks
    assert (block.provider, block.type) == ("anthropic", "thinking")
    assert block.data == {"type": "thinking", "thinking": "Two plus two makes four.",
                          "signature": signature_for("Two plus two makes four.")}
    if events is not None:
        kinds = [type(e) for e in events]
        assert "".join(e.delta for e in events if isinstance(e, ReasoningDeltaEvent)) == response.reasoning
        assert kinds.index(ReasoningDeltaEvent) < kinds.index(TextDeltaEvent)
    body = sent(emu)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert "temperature" not in body  # not allowed with thinking: dropped (with a warning)


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_tool_loop_with_thinking_sends_the_signed_blocks_back(
    emu: WireEmulator, provider: IProvider, asynchronous: bool
) -> None:
    emu.script(
        Reply(reasoning="I should look it up.", tool_calls=[("get_weather", {"city": "Oslo"})]),
        Reply("It is 3 degrees in Oslo.", reasoning="The tool says 3."),
    )
    history: list[Any] = [user("Weather in Oslo?")]
    options: dict[str, Any] = {"tools": [WEATHER_TOOL], "reasoning_budget": 2048}
    first, _ = await run(provider, "stream" if asynchronous else "stream_sync", MODEL, history, **options)
    [call] = first.tool_calls
    history += [first.message, tool_result(call.id, {"temp_c": 3})]
    final, _ = await run(provider, "generate" if asynchronous else "generate_sync", MODEL, history, **options)
    assert final.text == "It is 3 degrees in Oslo." and final.reasoning == "The tool says 3."
    body = sent(emu)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "I should look it up.", "signature": signature_for("I should look it up.")},
        {"type": "tool_use", "id": call.id, "name": "get_weather", "input": {"city": "Oslo"}},
    ]
    assert body["messages"][2]["content"] == [{"type": "tool_result", "tool_use_id": call.id,
                                               "content": '{"temp_c": 3}'}]


@pytest.mark.parametrize("mode", MODES)
async def test_usage_with_cache_reads_and_writes(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Reply("ok then", prompt_tokens=1000, completion_tokens=7, cached_tokens=600, cache_write_tokens=300))
    response, events = await run(provider, mode, MODEL, "count my tokens")
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (1000, 7, 1007)
    assert (usage.cached_input_tokens, usage.cache_write_input_tokens) == (600, 300)
    expected = (100 * SONNET_INPUT + 600 * SONNET_CACHE_READ + 300 * SONNET_CACHE_WRITE + 7 * SONNET_OUTPUT) / 1e6
    assert usage.cost_usd == pytest.approx(expected)
    if events is not None:
        [reported] = [e.usage for e in events if isinstance(e, UsageEvent)]
        assert (reported.input_tokens, reported.output_tokens, reported.cached_input_tokens) == (1000, 7, 600)


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_done_event_equals_generate(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    def reply() -> Reply:
        return Reply("Checking both.", tool_calls=[("get_weather", {"city": "Oslo"}), ("get_time", {"tz": "CET"})],
                     reasoning="Two tools are needed.", prompt_tokens=20, completion_tokens=9, cached_tokens=4)

    emu.script(reply(), reply())
    options: dict[str, Any] = {"tools": [WEATHER_TOOL, TIME_TOOL]}
    whole, _ = await run(provider, "generate" if asynchronous else "generate_sync", MODEL, "go", **options)
    streamed, _ = await run(provider, "stream" if asynchronous else "stream_sync", MODEL, "go", **options)

    def normalized(r: CompletionResponse) -> dict[str, Any]:
        data = r.model_dump(exclude={"id", "raw", "request_id", "rate_limits", "metadata"})  # per request
        for calls in (data["tool_calls"], data["message"]["tool_calls"]):
            for c in calls:
                c.pop("id")
        return data

    assert normalized(streamed) == normalized(whole)
    assert whole.usage.cost_usd is not None and streamed.usage.cost_usd == whole.usage.cost_usd


@pytest.mark.parametrize("mode", ["generate_sync", "stream"])
async def test_stop_reasons_are_mapped(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    for raw, expected in [("max_tokens", FinishReason.LENGTH), ("stop_sequence", FinishReason.STOP),
                          ("refusal", FinishReason.CONTENT_FILTER), ("pause_turn", FinishReason.OTHER),
                          ("model_context_window_exceeded", FinishReason.LENGTH)]:
        emu.script(Reply("partial", finish_reason=raw))
        response, _ = await run(provider, mode, MODEL, "x")
        assert (response.finish_reason, response.raw_finish_reason) == (expected, raw)


# --------------------------------------------------------------------------------------------
# request mapping
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_options_are_mapped_into_the_request(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    # API version 2026-10-21, which the anthropic SDK 2.x speaks, refuses temperature, top_p and top_k outright.
    with pytest.warns(UserWarning, match="temperature/top_p/top_k left out of the request: Anthropic API version"):
        await run(
            provider, mode, MODEL, [{"role": "system", "content": "be brief"}, user("hi")],
            max_tokens=50, tools=[WEATHER_TOOL, TIME_TOOL], tool_choice="get_weather", parallel_tool_calls=False,
            stop="END", user="user-42", temperature=0.2, top_p=0.9, top_k=20, cache_prompt=True,
            extra={"service_tier": "standard_only"}, extra_headers={"anthropic-beta": "test-beta-1"},
        )
    body = sent(emu)
    assert body["max_tokens"] == 50
    assert body["tool_choice"] == {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}
    assert body["stop_sequences"] == ["END"]
    assert body["metadata"] == {"user_id": "user-42"}
    assert not {"temperature", "top_p", "top_k"} & set(body)
    assert body["service_tier"] == "standard_only"
    assert body["system"] == [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}]
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in body["tools"][0]
    assert emu.requests[-1].headers["anthropic-beta"] == "test-beta-1"


async def test_tool_choice_keywords(emu: WireEmulator, provider: IProvider) -> None:
    for choice, wire in [("required", {"type": "any"}), ("auto", {"type": "auto"}), ("none", {"type": "none"})]:
        await provider.generate(MODEL, "hi", tools=[WEATHER_TOOL], tool_choice=choice)
        assert sent(emu)["tool_choice"] == wire
    await provider.generate(MODEL, "hi")
    body = sent(emu)
    for key in ("tools", "tool_choice", "stop_sequences", "metadata", "temperature", "thinking", "system"):
        assert key not in body


@pytest.mark.parametrize("mode", ["generate_sync", "stream"])
async def test_images(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    message = user(["What is in these images?", ImagePart(url="https://example.com/cat.jpg"),
                    ImagePart(data="iVBORw0KGgo=", media_type="image/png")])
    response, _ = await run(provider, mode, MODEL, [message])
    assert response.text == "Echo: What is in these images?"
    assert sent(emu)["messages"][0]["content"] == [
        {"type": "text", "text": "What is in these images?"},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
    ]


def test_max_tokens_default_for_a_model_the_catalog_does_not_know(emu: WireEmulator, provider: IProvider) -> None:
    provider.generate_sync("claude-experimental", "hi")
    assert sent(emu)["max_tokens"] == 4096
    provider.generate_sync("claude-3-5-haiku-20241022", "hi")  # a dated snapshot of a catalog model
    assert sent(emu)["max_tokens"] == 8192


def test_invalid_thinking_options_fail_before_sending(emu: WireEmulator, provider: IProvider) -> None:
    with pytest.raises(InvalidRequestError, match="less than max_tokens"):
        provider.generate_sync(MODEL, "hi", max_tokens=2000, reasoning_budget=4000)
    with pytest.raises(InvalidRequestError, match="extended thinking"):
        provider.generate_sync(MODEL, "hi", tools=[WEATHER_TOOL], tool_choice="required", reasoning_budget=2000)
    assert emu.hits("/v1/messages") == 0


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
async def test_structured_native_output(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    emu.script(Reply('{"name": "Paris", "population": 2100000, "country": null}', prompt_tokens=30,
                     completion_tokens=12))
    if asynchronous:
        result = await provider.generate_structured(MODEL, "Biggest French city?", City)
    else:
        result = provider.generate_structured_sync(MODEL, "Biggest French city?", City)
    assert result.value == City(name="Paris", population=2100000)
    assert result.attempts == 1 and result.usage.input_tokens == 30
    body = sent(emu)
    fmt = body["output_config"]["format"]
    assert fmt["type"] == "json_schema"
    assert fmt["schema"]["additionalProperties"] is False
    assert sorted(fmt["schema"]["required"]) == ["country", "name", "population"]
    assert "tools" not in body


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_structured_through_a_forced_tool(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    emu.script(Reply(tool_calls=[("City", {"name": "Rome", "population": 2800000})]))
    if asynchronous:
        result = await provider.generate_structured("claude-3-5-haiku", "Capital of Italy?", City)
    else:
        result = provider.generate_structured_sync("claude-3-5-haiku", "Capital of Italy?", City)
    assert result.value == City(name="Rome", population=2800000)
    assert result.response.tool_calls == []
    assert json.loads(result.response.text) == {"name": "Rome", "population": 2800000}
    body = sent(emu)
    assert body["tool_choice"] == {"type": "tool", "name": "City"}
    assert body["tools"][0]["name"] == "City" and body["tools"][0]["description"] == "A city and its population."
    assert "output_config" not in body


def test_structured_default_emulator_answers_validate(emu: WireEmulator, provider: IProvider) -> None:
    # Nothing scripted: the emulator answers a minimal instance of the schema (or forced tool) the request carried.
    assert provider.generate_structured_sync(MODEL, "any city", City).value.population == 1
    assert provider.generate_structured_sync("claude-3-5-haiku", "any city", City).value.name == "example"
    assert provider.generate_structured_sync(MODEL, "count", Inventory).value == Inventory(counts={})
    assert sent(emu)["tool_choice"] == {"type": "tool", "name": "Inventory"}  # a free-form dict is not strict


@pytest.mark.parametrize("model", [MODEL, "claude-3-5-haiku"])
def test_structured_reasks_after_an_invalid_answer(emu: WireEmulator, provider: IProvider, model: str) -> None:
    bad = ('{"name": "Oslo", "population": "lots"}' if model == MODEL else None)
    first = Reply(bad) if bad else Reply(tool_calls=[("City", {"name": "Oslo", "population": "lots"})])
    emu.script(first, Reply('{"name": "Oslo", "population": 700000, "country": null}') if bad else
               Reply(tool_calls=[("City", {"name": "Oslo", "population": 700000})]))
    result = provider.generate_structured_sync(model, "Oslo?", City)
    assert result.attempts == 2 and result.value.population == 700000
    second = sent(emu)["messages"]
    assert second[0] == {"role": "user", "content": "Oslo?"}
    assert second[1]["role"] == "assistant" and "lots" in second[1]["content"]
    assert second[2]["role"] == "user" and "population" in second[2]["content"]


def test_structured_all_attempts_invalid(emu: WireEmulator, provider: IProvider) -> None:
    emu.script(*(Reply("still not json", prompt_tokens=5, completion_tokens=3) for _ in range(3)))
    with pytest.raises(StructuredOutputError) as info:
        provider.generate_structured_sync(MODEL, "city?", City)
    assert info.value.attempts == 3 and info.value.usage.input_tokens == 15
    assert emu.hits("/v1/messages") == 3


# --------------------------------------------------------------------------------------------
# embeddings, models, health
# --------------------------------------------------------------------------------------------


async def test_embeddings_are_unsupported(emu: WireEmulator, provider: IProvider) -> None:
    with pytest.raises(UnsupportedCapabilityError, match=r"no embeddings API.*Voyage"):
        provider.embed_sync(None, ["x"])
    with pytest.raises(UnsupportedCapabilityError, match="Voyage"):
        await provider.embed("voyage-3", "x")
    assert emu.requests == []


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_list_models_pages_and_merges_the_catalog(
    emu: WireEmulator, provider: IProvider, asynchronous: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agentos_llm.providers.anthropic as module

    monkeypatch.setattr(module, "_MODELS_PAGE", 2)
    emu.models = ["claude-sonnet-4-5", "claude-experimental", "claude-haiku-4-5", "claude-3-haiku-20240307", "c5"]
    models = await provider.list_models() if asynchronous else provider.list_models_sync()
    assert [m.id for m in models] == emu.models
    assert emu.hits("/v1/models") == 3
    assert [r.query for r in emu.requests] == ["limit=2", "limit=2&after_id=claude-experimental",
                                               "limit=2&after_id=claude-3-haiku-20240307"]
    by_id = {m.id: m for m in models}
    sonnet = by_id["claude-sonnet-4-5"]
    assert sonnet.provider == "anthropic" and sonnet.display_name == "Claude Sonnet 4 5"
    assert sonnet.created == 1_700_000_000
    assert sonnet.input_price == SONNET_INPUT and sonnet.context_window == 200000
    assert by_id["claude-3-haiku-20240307"].input_price == 0.25  # a snapshot priced like its family
    assert by_id["claude-experimental"].input_price is None


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_check_health(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    status = await provider.check_health() if asynchronous else provider.check_health_sync()
    assert status.ok is True and status.provider == "anthropic" and status.error is None
    assert emu.hits("/v1/models") == 1


def test_openai_models_route_is_not_taken(emu: WireEmulator) -> None:
    import httpx2 as http

    plain = http.get(emu.url + "/v1/models").json()
    assert plain["object"] == "list"  # the OpenAI dialect without the anthropic-version header
    anthropic_shape = http.get(emu.url + "/v1/models", headers={"anthropic-version": "2023-06-01"}).json()
    assert "has_more" in anthropic_shape and anthropic_shape["data"][0]["type"] == "model"


# --------------------------------------------------------------------------------------------
# the emulator's dialect, read by the SDK's own types
# --------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")
def test_the_sdk_reads_the_emulated_wire(emu: WireEmulator) -> None:
    client = anthropic.Anthropic(api_key=KEY, base_url=emu.anthropic_base_url, max_retries=0)
    try:
        emu.script(Reply("hi there", reasoning="hmm", tool_calls=[("get_weather", {"city": "Oslo"})]))
        message = client.messages.create(model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "x"}])
        assert [b.type for b in message.content] == ["thinking", "text", "tool_use"]
        assert message.stop_reason == "tool_use" and message.usage.output_tokens > 0
        emu.script(Reply("streamed words here", reasoning="deep thought", tool_calls=[("f", {"a": [1, 2]})]))
        with client.messages.stream(model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "x"}]) as s:
            final = s.get_final_message()
        assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
        assert final.content[0].signature == signature_for("deep thought")  # type: ignore[union-attr]
        assert final.content[1].text == "streamed words here"  # type: ignore[union-attr]
        assert final.content[2].input == {"a": [1, 2]}  # type: ignore[union-attr]
        page = client.models.list()
        assert [m.id for m in page.data] == emu.models
        assert client.models.retrieve("claude-haiku-4-5").display_name == "Claude Haiku 4 5"
        with pytest.raises(anthropic.NotFoundError):
            client.models.retrieve("nope")
    finally:
        client.close()


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------


def typed(exc: BaseException) -> AgentOSLLMError:
    assert isinstance(exc, AgentOSLLMError), f"{type(exc).__name__} is not an agentos_llm error"
    assert not isinstance(exc, anthropic.AnthropicError), "an SDK error escaped"
    assert not isinstance(exc, httpx2.HTTPError), "a transport error escaped"
    return exc


STATUS_CASES = [
    (400, None, InvalidRequestError, False),
    (401, None, AuthenticationError, False),
    (402, None, QuotaExceededError, False),
    (403, None, PermissionDeniedError, False),
    (404, None, NotFoundError, False),
    (413, None, InvalidRequestError, False),
    (429, None, RateLimitError, True),
    (500, None, ServerError, True),
    (529, None, ServerError, True),
]


@pytest.mark.parametrize(("status", "code", "cls", "retried"), STATUS_CASES)
@pytest.mark.parametrize("mode", ["generate_sync", "stream"])
async def test_status_maps_to_error_and_retries(
    emu: WireEmulator, status: int, code: str | None, cls: type[ProviderError], retried: bool, mode: str
) -> None:
    p = make_provider(emu, max_retries=1)
    try:
        emu.script(Fault(status, code=code), Fault(status, code=code))
        with pytest.raises(cls) as info:
            await run(p, mode, MODEL, "hi")
    finally:
        await p.aclose()
    err = typed(info.value)
    assert type(err) is cls
    assert isinstance(err, ProviderError)
    assert err.status_code == status and err.provider == "anthropic"
    assert err.request_id is not None and err.request_id.startswith("req_emu_")
    assert err.body["type"] == "error"
    assert emu.hits("/v1/messages") == (2 if retried else 1)


@pytest.mark.parametrize(("status", "error_type", "message", "cls"), [
    (400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum", ContextLengthExceededError),
    (400, "invalid_request_error", "Your credit balance is too low to access the Anthropic API.",
     QuotaExceededError),
    (400, "invalid_request_error", "messages: text content blocks must be non-empty", InvalidRequestError),
    (413, "request_too_large", "Request exceeds the maximum allowed number of bytes.", InvalidRequestError),
    (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", RateLimitError),
    (500, "api_error", "Internal server error", ServerError),
    (529, "overloaded_error", "Overloaded", ServerError),
])
def test_vendor_error_types(emu: WireEmulator, provider: IProvider, status: int, error_type: str, message: str,
                            cls: type[ProviderError]) -> None:
    emu.script(Fault(status, body={"type": "error", "error": {"type": error_type, "message": message},
                                   "request_id": "req_x"}))
    with pytest.raises(cls) as info:
        provider.generate_sync(MODEL, "hi")
    err = info.value
    assert type(err) is cls and err.code == error_type and message in str(err)


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_429_retry_after_is_honoured(emu: WireEmulator, asynchronous: bool) -> None:
    p = make_provider(emu, max_retries=2)
    try:
        emu.script(Fault(429, retry_after="0.2"), Reply("finally"))
        if asynchronous:
            response = await p.generate(MODEL, "hi")
        else:
            response = p.generate_sync(MODEL, "hi")
    finally:
        await p.aclose()
    assert response.text == "finally" and emu.hits("/v1/messages") == 2
    emu.script(Fault(429, retry_after="7"))
    with pytest.raises(RateLimitError) as info:
        make_provider(emu).generate_sync(MODEL, "hi")
    assert info.value.retry_after == 7.0


@pytest.mark.parametrize("mode", MODES)
async def test_529_then_success(emu: WireEmulator, mode: str) -> None:
    p = make_provider(emu, max_retries=2)
    try:
        emu.script(Fault(529), Fault(529), Reply("made it"))
        response, _ = await run(p, mode, MODEL, "hi")
    finally:
        await p.aclose()
    assert response.text == "made it" and emu.hits("/v1/messages") == 3


@pytest.mark.parametrize(("error_type", "cls"), [("overloaded_error", ServerError),
                                                 ("rate_limit_error", RateLimitError),
                                                 ("invalid_request_error", InvalidRequestError),
                                                 ("api_error", ServerError)])
@pytest.mark.parametrize("asynchronous", [False, True])
async def test_error_event_mid_stream(emu: WireEmulator, provider: IProvider, asynchronous: bool, error_type: str,
                                      cls: type[ProviderError]) -> None:
    emu.script(Fault(stream_error={"type": error_type, "message": "mid-stream trouble"}))
    with pytest.raises(cls) as info:
        await run(provider, "stream" if asynchronous else "stream_sync", MODEL, "hi")
    assert typed(info.value) and info.value.code == error_type  # type: ignore[attr-defined]
    assert "mid-stream trouble" in str(info.value)


@pytest.mark.parametrize("mode", MODES)
async def test_malformed_responses(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Fault(malformed=True))
    with pytest.raises(MalformedResponseError) as info:
        await run(provider, mode, MODEL, "hi")
    typed(info.value)
    assert emu.hits("/v1/messages") == 1


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_connection_dropped_mid_stream(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    emu.script(Fault(drop_after_events=6))
    events: list[Any] = []
    with pytest.raises(APIConnectionError) as info:
        if asynchronous:
            async with provider.stream(MODEL, "a few words to stream back") as stream:
                async for event in stream:
                    events.append(event)
        else:
            with provider.stream_sync(MODEL, "a few words to stream back") as sync_stream:
                events.extend(sync_stream)
    typed(info.value)
    assert any(isinstance(e, TextDeltaEvent) for e in events)
    assert not any(isinstance(e, DoneEvent) for e in events)


def test_whole_response_cut_short_is_a_connection_error(emu: WireEmulator, provider: IProvider) -> None:
    emu.script(Fault(drop_after_events=1))
    with pytest.raises(APIConnectionError):
        provider.generate_sync(MODEL, "hi")


async def test_unreachable_server(emu: WireEmulator) -> None:
    stopped = WireEmulator().start()
    base_url = stopped.anthropic_base_url
    stopped.stop()
    p = create_provider("anthropic", api_key=KEY, base_url=base_url, max_retries=0, timeout=5)
    try:
        with pytest.raises(APIConnectionError):
            await p.generate(MODEL, "hi")
        status = p.check_health_sync()
    finally:
        await p.aclose()
    assert status.ok is False and status.error is not None and "APIConnectionError" in status.error


async def test_keys_never_leak(emu: WireEmulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    p = make_provider(emu)
    emu.script(Fault(401, body={"type": "error", "error": {"type": "authentication_error",
                                                           "message": f"invalid x-api-key: {KEY}"}}))
    with pytest.raises(AuthenticationError) as info:
        await p.generate(MODEL, "hi")
    err = info.value
    texts = [repr(p), str(p.api_key), repr(err), str(err), json.dumps(err.body), caplog.text]
    assert err.__cause__ is None and err.__suppress_context__
    for text in texts:
        assert KEY not in text
    await p.aclose()
