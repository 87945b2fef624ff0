"""The OpenAI Responses provider end to end, through the real `openai` SDK, against the wire emulator's
Responses dialect: text, tools, reasoning round trips, structured output, server tools, documents,
errors, retries, streams, and the chat provider's turn to the Responses API for response-only models."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import httpx2
import openai
import pytest
from pydantic import BaseModel

from agentos_llm import (
    AudioPart,
    CompletionResponse,
    DocumentPart,
    DoneEvent,
    FinishReason,
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
    APITimeoutError,
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
    UnsupportedCapabilityError,
)
from agentos_llm.provider import IProvider
from agentos_llm.server_tools import FileSearch, WebSearch
from agentos_llm.testing import Fault, Reply, WireEmulator
from agentos_llm.testing.responses_wire import ENCRYPTED_INCLUDE, seal_reasoning
from tests.provider_calls import run, sent

KEY = "sk-test-responses"
MODEL = "gpt-4.1-mini"  # not a reasoning model
REASONER = "o4-mini"
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
    server.reset()
    yield server
    server.reset()


def make_provider(emu: WireEmulator, provider_id: str = "openai", **kwargs: Any) -> IProvider:
    kwargs.setdefault("max_retries", 0)
    if provider_id == "openai":
        kwargs.setdefault("api", "responses")
    base = emu.anthropic_base_url if provider_id == "anthropic" else emu.openai_base_url
    p = create_provider(provider_id, api_key=KEY, base_url=base, **kwargs)
    p.retry_policy = replace(p.retry_policy, initial_backoff=0.01, max_backoff=0.02)
    return p


@pytest.fixture
async def provider(emu: WireEmulator) -> AsyncIterator[IProvider]:
    p = make_provider(emu)
    yield p
    await p.aclose()


def typed(exc: BaseException) -> AgentOSLLMError:
    assert isinstance(exc, AgentOSLLMError), f"{type(exc).__name__} is not an agentos_llm error"
    assert not isinstance(exc, openai.OpenAIError), "an SDK error escaped"
    assert not isinstance(exc, httpx2.HTTPError), "a transport error escaped"
    return exc


# --------------------------------------------------------------------------------------------
# text, usage, finish reasons
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_text(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Reply("Hello from the emulated model", prompt_tokens=12, completion_tokens=5, cached_tokens=4))
    response, events = await run(provider, mode, MODEL, [{"role": "system", "content": "be kind"}, user("hello")],
                                 max_tokens=100, temperature=0.2)
    assert response.text == "Hello from the emulated model"
    assert (response.provider, response.model, response.api) == ("openai", MODEL, "openai-responses")
    assert response.finish_reason is FinishReason.STOP and response.raw_finish_reason == "completed"
    assert response.id is not None and response.id.startswith("resp_emu_")
    assert response.tool_calls == [] and response.reasoning is None
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens, usage.cached_input_tokens) == (12, 5, 17, 4)
    assert usage.cost_usd is not None and usage.cost_usd > 0
    if events is not None:
        deltas = [e.delta for e in events if isinstance(e, TextDeltaEvent)]
        assert len(deltas) > 1 and "".join(deltas) == response.text
        [reported] = [e.usage for e in events if isinstance(e, UsageEvent)]
        assert (reported.input_tokens, reported.output_tokens) == (12, 5)
    assert emu.hits("/v1/responses") == 1 and emu.hits("/chat/completions") == 0
    assert emu.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    body = sent(emu)
    assert body["model"] == MODEL and body["instructions"] == "be kind"
    assert body["input"] == [{"role": "user", "content": "hello"}]
    assert (body["max_output_tokens"], body["temperature"]) == (100, 0.2)
    assert body["store"] is False and "include" not in body  # not a reasoning model: nothing to keep
    assert body.get("stream") is (True if mode.startswith("stream") else None)


@pytest.mark.parametrize("mode", ["generate_sync", "stream"])
async def test_incomplete_answers(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    for finish, expected, raw in [("length", FinishReason.LENGTH, "max_output_tokens"),
                                  ("content_filter", FinishReason.CONTENT_FILTER, "content_filter")]:
        emu.script(Reply("cut sh", finish_reason=finish))
        response, _ = await run(provider, mode, MODEL, "x")
        assert (response.finish_reason, response.raw_finish_reason, response.text) == (expected, raw, "cut sh")


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_done_event_equals_generate(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    def reply() -> Reply:
        return Reply("Checking both.", tool_calls=[("get_weather", {"city": "Oslo"}), ("get_time", {"tz": "CET"})],
                     reasoning="Two tools are needed.", prompt_tokens=20, completion_tokens=9, reasoning_tokens=3)

    emu.script(reply(), reply())
    options: dict[str, Any] = {"tools": [WEATHER_TOOL, TIME_TOOL]}
    whole, _ = await run(provider, "generate" if asynchronous else "generate_sync", REASONER, "go", **options)
    streamed, _ = await run(provider, "stream" if asynchronous else "stream_sync", REASONER, "go", **options)

    def normalized(r: CompletionResponse) -> dict[str, Any]:
        data = r.model_dump(exclude={"id", "raw", "request_id", "rate_limits", "metadata"})  # per request
        data["message"].pop("vendor_blocks")  # the items carry their own ids
        for calls in (data["tool_calls"], data["message"]["tool_calls"]):
            for c in calls:
                c.pop("id")
        return data

    assert normalized(streamed) == normalized(whole)
    assert whole.usage.reasoning_tokens == 3 and whole.usage.output_tokens == 9


# --------------------------------------------------------------------------------------------
# tools
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_tool_loop_with_two_parallel_calls(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Reply(tool_calls=[("get_weather", {"city": "Paris"}), ("get_time", {"tz": "Europe/Paris"})]),
               Reply("Sunny, and it is noon."))
    history: list[Any] = [user("weather and time in Paris?")]
    options: dict[str, Any] = {"tools": [WEATHER_TOOL, TIME_TOOL], "tool_choice": "required",
                               "parallel_tool_calls": True}
    first, events = await run(provider, mode, MODEL, history, **options)
    assert first.finish_reason is FinishReason.TOOL_CALLS
    assert [(c.name, c.arguments) for c in first.tool_calls] == [
        ("get_weather", {"city": "Paris"}), ("get_time", {"tz": "Europe/Paris"})]
    ids = [c.id for c in first.tool_calls]
    assert all(i.startswith("call_emu_") for i in ids) and len(set(ids)) == 2  # the call_id, not the item id
    if events is not None:
        done = [e for e in events if isinstance(e, ToolCallEvent)]
        assert [e.tool_call for e in done] == first.tool_calls
        for index, call in enumerate(first.tool_calls):
            deltas = [e for e in events if isinstance(e, ToolCallDeltaEvent) and e.index == index]
            assert deltas and deltas[0].id == call.id and deltas[0].name == call.name
            assert json.loads("".join(d.arguments_delta for d in deltas)) == call.arguments
    body = sent(emu)
    assert [(t["type"], t["name"]) for t in body["tools"]] == [("function", "get_weather"), ("function", "get_time")]
    assert body["tools"][0]["parameters"] == WEATHER_TOOL["parameters"]
    assert (body["tool_choice"], body["parallel_tool_calls"]) == ("required", True)

    history += [first.message, *(tool_result(c.id, {"ok": c.name}) for c in first.tool_calls)]
    final, _ = await run(provider, mode, MODEL, history, tools=[WEATHER_TOOL, TIME_TOOL])
    assert final.text == "Sunny, and it is noon." and final.finish_reason is FinishReason.STOP
    items = sent(emu)["input"]
    assert [i.get("type", "message") for i in items] == ["message", "function_call", "function_call",
                                                         "function_call_output", "function_call_output"]
    calls = [i for i in items if i.get("type") == "function_call"]
    outputs = [i for i in items if i.get("type") == "function_call_output"]
    assert [c["call_id"] for c in calls] == [o["call_id"] for o in outputs] == ids
    assert [json.loads(c["arguments"]) for c in calls] == [{"city": "Paris"}, {"tz": "Europe/Paris"}]
    assert [json.loads(o["output"]) for o in outputs] == [{"ok": "get_weather"}, {"ok": "get_time"}]


@pytest.mark.parametrize("mode", ["generate_sync", "stream"])
async def test_server_tools_travel_beside_function_tools(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    await run(provider, mode, MODEL, "search", tools=[WEATHER_TOOL],
              server_tools=[WebSearch(search_context_size="low"), FileSearch(vector_store_ids=["vs_1"])])
    tools = sent(emu)["tools"]
    assert [t["type"] for t in tools] == ["function", "web_search", "file_search"]
    assert tools[1]["search_context_size"] == "low" and tools[2]["vector_store_ids"] == ["vs_1"]


# --------------------------------------------------------------------------------------------
# reasoning: encrypted items go back verbatim to this API, and nowhere else
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_reasoning_goes_back_verbatim(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    emu.script(Reply(reasoning="I should look it up.", tool_calls=[("get_weather", {"city": "Oslo"})]),
               Reply("It is 3 degrees in Oslo.", reasoning="The tool says 3."))
    history: list[Any] = [user("Weather in Oslo?")]
    options: dict[str, Any] = {"tools": [WEATHER_TOOL], "reasoning_effort": "low"}
    first, events = await run(provider, "stream" if asynchronous else "stream_sync", REASONER, history, **options)
    assert first.reasoning == "I should look it up."
    assert events is not None
    assert "".join(e.delta for e in events if isinstance(e, ReasoningDeltaEvent)) == first.reasoning
    body = sent(emu)
    assert body["include"] == [ENCRYPTED_INCLUDE] and body["store"] is False
    assert body["reasoning"]["effort"] == "low"
    [reasoning] = [b for b in first.message.vendor_blocks if b.type == "reasoning"]
    assert reasoning.data["encrypted_content"] == seal_reasoning("I should look it up.")

    [call] = first.tool_calls
    history += [first.message, tool_result(call.id, {"temp_c": 3})]
    final, _ = await run(provider, "generate" if asynchronous else "generate_sync", REASONER, history, **options)
    assert final.text == "It is 3 degrees in Oslo." and final.reasoning == "The tool says 3."
    items = sent(emu)["input"]
    assert [i.get("type", "message") for i in items] == ["message", "reasoning", "function_call",
                                                         "function_call_output"]
    assert items[1] == reasoning.data  # the very item the API sent, encrypted content and all
    assert items[2]["call_id"] == items[3]["call_id"] == call.id


async def test_reasoning_items_are_dropped_for_the_chat_api_and_anthropic(emu: WireEmulator,
                                                                          provider: IProvider) -> None:
    emu.script(Reply(reasoning="Private thoughts.", tool_calls=[("get_weather", {"city": "Oslo"})]))
    first = await provider.generate(REASONER, "Weather in Oslo?", tools=[WEATHER_TOOL])
    [call] = first.tool_calls
    history: list[Any] = [user("Weather in Oslo?"), first.message, tool_result(call.id, {"temp_c": 3})]

    async with make_provider(emu, api="chat") as chat:
        assert chat.api == "openai-chat"
        await chat.generate(REASONER, history, tools=[WEATHER_TOOL])
    body = sent(emu)
    assert emu.requests[-1].path == "/v1/chat/completions"
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "tool"]
    assistant = body["messages"][1]
    assert [c["id"] for c in assistant["tool_calls"]] == [call.id]
    assert "Private thoughts." not in json.dumps(body) and "encrypted" not in json.dumps(body)

    async with make_provider(emu, "anthropic") as claude:
        await claude.generate("claude-haiku-4-5", history, tools=[WEATHER_TOOL])
    body = sent(emu)
    assert emu.requests[-1].path == "/v1/messages"
    turn = body["messages"][1]["content"]
    assert [block["type"] for block in turn] == ["tool_use"]  # no thinking block made up from OpenAI's items
    assert turn[0]["id"] == call.id and body["messages"][2]["content"][0]["tool_use_id"] == call.id
    assert "Private thoughts." not in json.dumps(body) and "encrypted" not in json.dumps(body)


# --------------------------------------------------------------------------------------------
# structured output, documents, refused input
# --------------------------------------------------------------------------------------------


class City(BaseModel):
    name: str
    population: int


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_structured_output(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    emu.script(Reply('{"name": "Paris", "population": 2100000}', prompt_tokens=30, completion_tokens=12))
    if asynchronous:
        result = await provider.generate_structured(MODEL, "Biggest French city?", City)
    else:
        result = provider.generate_structured_sync(MODEL, "Biggest French city?", City)
    assert result.value == City(name="Paris", population=2100000)
    assert result.attempts == 1 and result.usage.input_tokens == 30
    fmt = sent(emu)["text"]["format"]
    assert (fmt["type"], fmt["name"], fmt["strict"]) == ("json_schema", "City", True)
    assert fmt["schema"]["additionalProperties"] is False and sorted(fmt["schema"]["required"]) == ["name",
                                                                                                     "population"]
    # nothing scripted: the emulator answers a minimal instance of the requested schema
    assert provider.generate_structured_sync(MODEL, "any city", City).value == City(name="example", population=1)


@pytest.mark.parametrize("mode", ["generate_sync", "stream"])
async def test_documents_become_input_files(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    pdf = base64.b64encode(b"%PDF-1.4 emulated").decode()
    message = user(["Summarize these.", DocumentPart(data=pdf, media_type="application/pdf", filename="a.pdf"),
                    DocumentPart(url="https://example.com/b.pdf"), DocumentPart(file_id="file-abc")])
    response, _ = await run(provider, mode, MODEL, [message])
    assert response.text == "Echo: Summarize these."
    [item] = sent(emu)["input"]
    assert item["role"] == "user"
    assert item["content"] == [
        {"type": "input_text", "text": "Summarize these."},
        {"type": "input_file", "file_data": f"data:application/pdf;base64,{pdf}", "filename": "a.pdf"},
        {"type": "input_file", "file_url": "https://example.com/b.pdf"},
        {"type": "input_file", "file_id": "file-abc"},
    ]


@pytest.mark.parametrize("mode", MODES)
async def test_audio_and_stop_are_refused_before_sending(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    with pytest.raises(UnsupportedCapabilityError, match="audio"):
        await run(provider, mode, "gpt-4o-audio-preview", [user(["listen", AudioPart(data="UklGRg==")])])
    with pytest.raises(InvalidRequestError, match="stop"):
        await run(provider, mode, MODEL, "hi", stop=["END"])
    assert emu.requests == []


# --------------------------------------------------------------------------------------------
# errors and retries
# --------------------------------------------------------------------------------------------

STATUS_CASES = [
    (400, None, InvalidRequestError, False),
    (400, "context_length_exceeded", ContextLengthExceededError, False),
    (401, None, AuthenticationError, False),
    (403, None, PermissionDeniedError, False),
    (404, None, NotFoundError, False),
    (429, None, RateLimitError, True),
    (429, "insufficient_quota", QuotaExceededError, False),
    (500, None, ServerError, True),
    (503, None, ServerError, True),
]


@pytest.mark.parametrize(("status", "code", "cls", "retried"), STATUS_CASES)
@pytest.mark.parametrize("mode", ["generate_sync", "stream"])
async def test_status_maps_to_error_and_retries(
    emu: WireEmulator, status: int, code: str | None, cls: type[ProviderError], retried: bool, mode: str
) -> None:
    async with make_provider(emu, max_retries=1) as p:
        emu.script(Fault(status, code=code), Fault(status, code=code))
        with pytest.raises(cls) as info:
            await run(p, mode, MODEL, "hi")
    err = typed(info.value)
    assert type(err) is cls and isinstance(err, ProviderError)
    assert err.status_code == status and err.provider == "openai"
    assert err.request_id is not None and err.request_id.startswith("req_emu_")
    assert emu.hits("/v1/responses") == (2 if retried else 1)


@pytest.mark.parametrize("mode", MODES)
async def test_a_500_then_success_is_retried(emu: WireEmulator, mode: str) -> None:
    async with make_provider(emu, max_retries=2) as p:
        emu.script(Fault(500), Reply("made it"))
        response, _ = await run(p, mode, MODEL, "hi")
    assert response.text == "made it" and emu.hits("/v1/responses") == 2
    async with make_provider(emu, max_retries=0) as p:
        emu.script(Fault(500), Reply("never asked"))
        with pytest.raises(ServerError):
            await run(p, mode, MODEL, "hi")
    assert emu.hits("/v1/responses") == 3


@pytest.mark.parametrize(("code", "cls"), [
    ("server_error", ServerError), ("rate_limit_exceeded", RateLimitError),
    ("invalid_prompt", InvalidRequestError), ("vector_store_timeout", APITimeoutError),
])
@pytest.mark.parametrize("asynchronous", [False, True])
async def test_error_event_mid_stream(emu: WireEmulator, provider: IProvider, asynchronous: bool, code: str,
                                      cls: type[ProviderError]) -> None:
    emu.script(Fault(stream_error={"code": code, "message": "mid-stream trouble"}))
    events: list[Any] = []
    with pytest.raises(cls) as info:
        if asynchronous:
            async with provider.stream(MODEL, "hi") as stream:
                async for event in stream:
                    events.append(event)
        else:
            with provider.stream_sync(MODEL, "hi") as sync_stream:
                events.extend(sync_stream)
    err = typed(info.value)
    assert "mid-stream trouble" in str(err) and err.code == code  # type: ignore[attr-defined]
    assert [e.delta for e in events if isinstance(e, TextDeltaEvent)] == ["Partial"]
    assert not any(isinstance(e, DoneEvent) for e in events)


@pytest.mark.parametrize("mode", MODES)
async def test_malformed_responses(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Fault(malformed=True))
    with pytest.raises(MalformedResponseError) as info:
        await run(provider, mode, MODEL, "hi")
    typed(info.value)
    assert emu.hits("/v1/responses") == 1


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


# --------------------------------------------------------------------------------------------
# leaving a stream early closes its connection
# --------------------------------------------------------------------------------------------

LONG_TEXT = " ".join(f"w{i}" for i in range(20000))  # megabytes of SSE: far more than one read


def _responses_closed(seen: list[httpx2.Response]) -> list[httpx2.Response]:
    """The distinct `/responses` responses closed (closing twice is harmless)."""
    out: list[httpx2.Response] = []
    for r in seen:
        if r.request.url.path.endswith("/responses") and all(r is not o for o in out):
            out.append(r)
    return out


def test_leaving_a_sync_stream_early_closes_it(emu: WireEmulator, provider: IProvider,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[httpx2.Response] = []
    original = httpx2.Response.close

    def spy(self: httpx2.Response) -> None:
        closed.append(self)
        original(self)

    monkeypatch.setattr(httpx2.Response, "close", spy)
    emu.script(Reply(LONG_TEXT))
    with provider.stream_sync(MODEL, "talk a lot") as stream:
        assert next(stream) == TextDeltaEvent(delta="w0")
        assert _responses_closed(closed) == [], "nothing should close while the stream is in use"
    [response] = _responses_closed(closed)
    assert response.is_closed
    assert response.num_bytes_downloaded < 1_000_000, "the stream was drained instead of closed"
    assert provider.generate_sync(MODEL, "again").text == "Echo: again"


async def test_leaving_an_async_stream_early_closes_it(emu: WireEmulator, provider: IProvider,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[httpx2.Response] = []
    original = httpx2.Response.aclose

    async def spy(self: httpx2.Response) -> None:
        closed.append(self)
        await original(self)

    monkeypatch.setattr(httpx2.Response, "aclose", spy)
    emu.script(Reply(LONG_TEXT))
    async with provider.stream(MODEL, "talk a lot") as stream:
        async for event in stream:
            assert event == TextDeltaEvent(delta="w0")
            break
        assert _responses_closed(closed) == [], "nothing should close while the stream is in use"
    [response] = _responses_closed(closed)
    assert response.is_closed and response.num_bytes_downloaded < 1_000_000
    assert (await provider.generate(MODEL, "again")).text == "Echo: again"


# --------------------------------------------------------------------------------------------
# the chat provider turns to this API; counting
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_a_response_only_model_goes_to_the_responses_api(emu: WireEmulator, mode: str) -> None:
    emu.script(Reply("deep answer", reasoning="long thought"))
    async with make_provider(emu, api="chat") as chat:
        assert chat.api == "openai-chat"
        response, _ = await run(chat, mode, "o3-pro", "hard question")
    assert response.text == "deep answer" and response.api == "openai-responses"
    assert emu.hits("/v1/responses") == 1 and emu.hits("/chat/completions") == 0
    assert sent(emu)["model"] == "o3-pro"


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_count_tokens_uses_the_input_tokens_endpoint(emu: WireEmulator, provider: IProvider,
                                                           asynchronous: bool) -> None:
    history: list[Any] = [{"role": "system", "content": "be brief"}, user("count these four words")]
    counted = (await provider.count_tokens(MODEL, history) if asynchronous
               else provider.count_tokens_sync(MODEL, history))
    assert counted.exact is True and counted.input_tokens == 6
    assert emu.hits("/v1/responses/input_tokens") == 1 and emu.hits("/v1/responses") == 0
