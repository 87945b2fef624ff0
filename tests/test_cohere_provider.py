"""The Cohere provider end to end, through the real `cohere` SDK's HTTP client, against the loopback wire emulator
and against the real recorded Cohere responses of the shared wire samples."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cohere
import httpx
import pytest
from pydantic import BaseModel

from agentos_llm import (
    DocumentPart,
    DoneEvent,
    FinishReason,
    ReasoningDeltaEvent,
    TextDeltaEvent,
    TextPart,
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
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from agentos_llm.provider import Capability, IProvider
from agentos_llm.providers.cohere import CohereProvider
from agentos_llm.testing import Fault, Reply, WireEmulator
from agentos_llm.wire import cohere_endpoints
from tests.provider_calls import restored, run, sent

MODEL, REASONING = "command-a-03-2025", "command-a-reasoning-08-2025"
KEY = "co-emulator-key-0123456789abcdef"
MODES = ["generate", "generate_sync", "stream", "stream_sync"]
WEATHER = {"name": "get_weather", "description": "Weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


class City(BaseModel):
    """A city."""

    name: str
    population: int | None = None


@pytest.fixture(scope="module")
def server() -> Iterator[WireEmulator]:
    with WireEmulator(models=[MODEL, REASONING, "embed-v4.0", "rerank-v3.5"]) as emu:
        yield emu


@pytest.fixture
def emu(server: WireEmulator) -> Iterator[WireEmulator]:
    yield from restored(server)


def make_provider(emu: WireEmulator, **kwargs: Any) -> IProvider:
    kwargs.setdefault("max_retries", 0)
    p = create_provider("cohere", api_key=KEY, base_url=emu.cohere_base_url, **kwargs)
    p.retry_policy = replace(p.retry_policy, initial_backoff=0.01, max_backoff=0.02)
    return p


@pytest.fixture
async def provider(emu: WireEmulator) -> AsyncIterator[IProvider]:
    p = make_provider(emu)
    yield p
    await p.aclose()


# --------------------------------------------------------------------------------------------
# the provider row and the client
# --------------------------------------------------------------------------------------------


def test_the_row_binds_the_cohere_class(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COHERE_API_KEY", raising=False)
    monkeypatch.setenv("CO_API_KEY", "co-from-env")
    p = create_provider("cohere")
    assert type(p) is CohereProvider and p.api == "cohere-chat" and p.family == "cohere"
    assert p.base_url == "https://api.cohere.com" and p.api_key is not None
    assert p.api_key.get_secret_value() == "co-from-env"
    assert Capability.RERANK in p.capabilities and Capability.EMBEDDINGS in p.capabilities
    assert "co-from-env" not in repr(p)


def test_requests_carry_the_sdk_headers_ours_and_no_retries(emu: WireEmulator) -> None:
    p = make_provider(emu, default_headers={"X-Team": "search"})
    try:
        p.generate_sync(MODEL, "hi", extra_headers={"X-Trace": "t1"})
    finally:
        p.close()
    headers = emu.requests[-1].headers
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["x-fern-sdk-name"] == "cohere" and headers["x-client-name"] == "agentos-llm"
    assert headers["x-team"] == "search" and headers["x-trace"] == "t1"
    assert emu.requests[-1].path == "/v2/chat"


# --------------------------------------------------------------------------------------------
# chat
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_text(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Reply("Bonjour tout le monde", prompt_tokens=40, completion_tokens=4, cached_tokens=16))
    response, events = await run(provider, mode, MODEL, "Say hello in French")
    assert response.text == "Bonjour tout le monde" and response.provider == "cohere"
    assert response.finish_reason == FinishReason.STOP and response.raw_finish_reason == "COMPLETE"
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.cached_input_tokens) == (
        40, 4, 16)
    assert response.api == "cohere-chat" and response.model == MODEL
    assert response.usage.cost_usd == pytest.approx((40 * 2.5 + 4 * 10.0) / 1e6)
    body = sent(emu)
    assert body["messages"] == [{"role": "user", "content": "Say hello in French"}]
    assert body["stream"] is (mode.startswith("stream"))
    if events is not None:
        assert "".join(e.delta for e in events if isinstance(e, TextDeltaEvent)) == "Bonjour tout le monde"
        assert [e.usage.input_tokens for e in events if isinstance(e, UsageEvent)] == [40]


@pytest.mark.parametrize("mode", MODES)
async def test_tool_loop_keeps_ids_and_sends_the_tool_plan_back(emu: WireEmulator, provider: IProvider,
                                                                mode: str) -> None:
    emu.script(Reply(tool_calls=[("get_weather", {"city": "Oslo"})]), Reply("It is sunny in Oslo."))
    first, events = await run(provider, mode, MODEL, "Weather in Oslo?", tools=[WEATHER])
    assert first.text == "" and first.reasoning is None and first.finish_reason == FinishReason.TOOL_CALLS
    [call] = first.tool_calls
    assert call.name == "get_weather" and call.arguments == {"city": "Oslo"} and call.id.startswith("get_weather_")
    if events is not None:
        assert [e.tool_call for e in events if isinstance(e, ToolCallEvent)] == [call]
        starts = [e for e in events if isinstance(e, ToolCallDeltaEvent) and e.id]
        assert [(e.id, e.name) for e in starts] == [(call.id, "get_weather")]
    history = [user("Weather in Oslo?"), first.message, tool_result(call.id, {"sky": "clear"})]
    second, _ = await run(provider, mode, MODEL, history, tools=[WEATHER])
    assert second.text == "It is sunny in Oslo."
    assistant, tool = sent(emu)["messages"][1:]
    assert assistant == {"role": "assistant", "tool_plan": "I will call get_weather to answer.", "tool_calls": [
        {"id": call.id, "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]}
    assert tool == {"role": "tool", "tool_call_id": call.id, "content": '{"sky": "clear"}'}


@pytest.mark.parametrize("mode", MODES)
async def test_reasoning_streams_apart_and_goes_back_in_its_turn(emu: WireEmulator, provider: IProvider,
                                                                 mode: str) -> None:
    emu.script(Reply("Cross at the lights.", reasoning="Safety first, then the answer."), Reply("Use a bridge."))
    first, events = await run(provider, mode, REASONING, "How do I cross the street?", reasoning_budget=2000)
    assert first.text == "Cross at the lights." and first.reasoning == "Safety first, then the answer."
    assert sent(emu)["thinking"] == {"type": "enabled", "token_budget": 2000}
    if events is not None:
        assert "".join(e.delta for e in events if isinstance(e, ReasoningDeltaEvent)) == first.reasoning
    await run(provider, mode, REASONING, [user("How do I cross the street?"), first.message, user("And a river?")])
    assert sent(emu)["messages"][1] == {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "Safety first, then the answer."},
        {"type": "text", "text": "Cross at the lights."}]}


@pytest.mark.parametrize("mode", MODES)
async def test_documents_and_citations(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Reply("Tuesday is launch day."))
    response, _ = await run(provider, mode, MODEL, [user([TextPart(text="When is the launch?"),
                                                          DocumentPart(text="The launch is on Tuesday.",
                                                                       title="Plan")])])
    assert sent(emu)["documents"] == [{"id": "doc_0", "data": {"text": "The launch is on Tuesday.",
                                                               "title": "Plan"}}]
    [citation] = response.citations
    assert (citation.type, citation.cited_text, citation.start, citation.end) == ("document", "Tuesday", 0, 7)
    assert citation.document_index == 0 and citation.title == "Plan"


@pytest.mark.parametrize(("raw", "normalized"), [("MAX_TOKENS", FinishReason.LENGTH), ("length", FinishReason.LENGTH),
                                                 ("ERROR_TOXIC", FinishReason.CONTENT_FILTER),
                                                 ("TIMEOUT", FinishReason.ERROR)])
@pytest.mark.parametrize("mode", ["generate", "stream_sync"])
async def test_finish_reasons(emu: WireEmulator, provider: IProvider, raw: str, normalized: FinishReason,
                              mode: str) -> None:
    emu.script(Reply("cut", finish_reason=raw))
    response, _ = await run(provider, mode, MODEL, "hi")
    assert response.finish_reason == normalized
    assert response.raw_finish_reason == {"length": "MAX_TOKENS"}.get(raw, raw)


async def test_options_reach_the_request(emu: WireEmulator, provider: IProvider) -> None:
    await provider.generate(MODEL, "hi", temperature=0.4, top_p=0.8, top_k=20, seed=3, stop=["END"], max_tokens=64,
                            tools=[WEATHER], tool_choice="required", extra={"safety_mode": "STRICT"})
    body = sent(emu)
    assert {k: body[k] for k in ("temperature", "p", "k", "seed", "stop_sequences", "max_tokens", "tool_choice",
                                 "safety_mode")} == {"temperature": 0.4, "p": 0.8, "k": 20, "seed": 3,
                                                     "stop_sequences": ["END"], "max_tokens": 64,
                                                     "tool_choice": "REQUIRED", "safety_mode": "STRICT"}


# --------------------------------------------------------------------------------------------
# structured output
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_structured_through_response_format(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    emu.script(Reply('{"name": "Oslo", "population": 709000}'))
    if asynchronous:
        result = await provider.generate_structured(MODEL, "Largest city of Norway?", City)
    else:
        result = provider.generate_structured_sync(MODEL, "Largest city of Norway?", City)
    assert result.value == City(name="Oslo", population=709000)
    schema = sent(emu)["response_format"]["json_schema"]
    assert schema["required"] == ["name"] and schema["properties"]["population"] == {"type": "integer",
                                                                                    "title": "Population"}


async def test_structured_with_tools_goes_through_the_answer_tool(emu: WireEmulator, provider: IProvider) -> None:
    result = await provider.generate_structured(MODEL, "Largest city of Norway?", City, tools=[WEATHER])
    assert result.value.name == "example"  # the emulator's minimal valid answer
    body = sent(emu)
    assert [t["function"]["name"] for t in body["tools"]] == ["City"] and body["tool_choice"] == "REQUIRED"
    # Streamed, the answer tool's call gives no tool events: its arguments are the text.
    call = provider._structured_call(MODEL, "Largest city of Norway?", City, {"tools": [WEATHER]})
    events = [e async for e in provider._astream_call(replace(call, stream=True))]
    assert not any(isinstance(e, (ToolCallEvent, ToolCallDeltaEvent)) for e in events)
    assert City.model_validate_json(events[-1].response.text) == result.value


def test_structured_reasks_after_an_invalid_answer(emu: WireEmulator, provider: IProvider) -> None:
    emu.script(Reply('{"population": 3}'), Reply('{"name": "Bergen"}'))
    result = provider.generate_structured_sync(MODEL, "A city?", City)
    assert result.value == City(name="Bergen") and result.attempts == 2
    assert "did not match" in sent(emu)["messages"][-1]["content"]


# --------------------------------------------------------------------------------------------
# embeddings, rerank, token counting, models
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_embeddings_batch_at_96_in_order(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    texts = [f"text number {i}" for i in range(200)]
    if asynchronous:
        result = await provider.embed("embed-v4.0", texts, input_type="query", dimensions=256)
    else:
        result = provider.embed_sync("embed-v4.0", texts, input_type="query", dimensions=256)
    # Async batches are sent a few at a time, so they may arrive in any order.
    bodies = sorted((r.body for r in emu.requests), key=lambda b: texts.index(b["texts"][0]))
    assert [len(b["texts"]) for b in bodies] == [96, 96, 8]
    assert [t for b in bodies for t in b["texts"]] == texts
    assert {(b["input_type"], b["output_dimension"], tuple(b["embedding_types"])) for b in bodies} == {
        ("search_query", 256, ("float",))}
    assert len(result.vectors) == 200 and all(len(v) == 256 for v in result.vectors)
    single = provider.embed_sync("embed-v4.0", "text number 150", dimensions=256)
    assert single.vectors[0] == result.vectors[150]
    assert result.usage.input_tokens == 600 and result.provider == "cohere"
    assert sent(emu)["input_type"] == "search_document"  # the default: Cohere requires one


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_rerank(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    docs = ["bananas are yellow", "the launch is on tuesday", "launch day party"]
    if asynchronous:
        result = await provider.rerank(None, "launch tuesday", docs, top_n=2)
    else:
        result = provider.rerank_sync(None, "launch tuesday", docs, top_n=2)
    assert [(r.index, r.document) for r in result.results] == [(1, docs[1]), (2, docs[2])]
    assert result.results[0].relevance_score == 1.0 and result.search_units == 1
    assert result.model == "rerank-v3.5" and result.provider == "cohere"
    assert sent(emu) == {"model": "rerank-v3.5", "query": "launch tuesday", "documents": docs, "top_n": 2}


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_count_tokens(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "How are you today?"}]
    counted = (await provider.count_tokens(MODEL, messages) if asynchronous
               else provider.count_tokens_sync(MODEL, messages))
    assert sent(emu) == {"text": "system: Be brief.\nuser: How are you today?", "model": MODEL}
    assert counted.exact and counted.input_tokens == 8 and counted.provider == "cohere"


def test_long_texts_are_counted_in_pieces(emu: WireEmulator, provider: IProvider) -> None:
    lines = [" ".join(["word"] * 1000)] * 40  # ~200 000 characters, over the endpoint's 65 536
    counted = provider.count_tokens_sync(MODEL, "\n".join(lines))
    assert len(emu.requests) == 4 and all(len(r.body["text"]) <= 65536 for r in emu.requests)
    assert counted.input_tokens == 40_000 + 1  # every word, and the role label


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_list_models_pages(emu: WireEmulator, monkeypatch: pytest.MonkeyPatch, asynchronous: bool) -> None:
    monkeypatch.setattr(cohere_endpoints, "MODELS_PAGE_SIZE", 2)
    p = make_provider(emu)
    try:
        models = await p.list_models() if asynchronous else p.list_models_sync()
    finally:
        await p.aclose()
    assert [m.id for m in models] == [MODEL, REASONING, "embed-v4.0", "rerank-v3.5"]
    assert all(m.source == "live" for m in models)
    by_id = {m.id: m for m in models}
    assert "reasoning" in by_id[REASONING].capabilities and by_id["embed-v4.0"].capabilities == {"embeddings"}
    assert by_id[MODEL].max_output_tokens == 8000  # from the catalog
    assert [r.query for r in emu.requests] == ["page_size=2", "page_size=2&page_token=2"]


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_check_health(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    status = await provider.check_health() if asynchronous else provider.check_health_sync()
    assert status.ok and status.provider == "cohere" and emu.hits("/v1/models") == 1


def test_openai_keeps_its_models_route(emu: WireEmulator) -> None:
    assert httpx.get(emu.url + "/v1/models").json()["object"] == "list"
    cohere_shape = httpx.get(emu.url + "/v1/models", headers={"X-Fern-SDK-Name": "cohere",
                                                               "Authorization": "Bearer k"}).json()
    assert [m["name"] for m in cohere_shape["models"]] == emu.models


# --------------------------------------------------------------------------------------------
# the emulator's dialect, read by the SDK's own typed client
# --------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK reads pydantic `__fields__`
def test_the_sdk_reads_the_emulated_wire(emu: WireEmulator) -> None:
    client = cohere.ClientV2(api_key=KEY, base_url=emu.cohere_base_url)
    try:
        emu.script(Reply("hi there", reasoning="hmm"))
        chat = client.chat(model=REASONING, messages=[{"role": "user", "content": "x"}])
        assert [c.type for c in chat.message.content or ()] == ["thinking", "text"]
        assert chat.finish_reason == "COMPLETE" and chat.usage is not None and chat.usage.tokens is not None
        emu.script(Reply("streamed words", tool_calls=[("f", {"a": [1, 2]})]))
        kinds = [e.type for e in client.chat_stream(model=MODEL, messages=[{"role": "user", "content": "x"}])]
        assert kinds[0] == "message-start" and kinds[-1] == "message-end"
        assert {"content-delta", "tool-plan-delta", "tool-call-start", "tool-call-delta", "tool-call-end"} <= set(kinds)
        embedded = client.embed(model="embed-v4.0", texts=["a", "b"], input_type="search_document",
                                embedding_types=["float"])
        assert embedded.embeddings.float_ is not None and len(embedded.embeddings.float_) == 2
        ranked = client.rerank(model="rerank-v3.5", query="b", documents=["a", "b"])
        assert ranked.results[0].index == 1
        assert len(client.tokenize(text="three words here", model=MODEL, offline=False).tokens) == 3
        assert [m.name for m in client.models.list().models] == emu.models
    finally:
        client._client_wrapper.httpx_client.httpx_client.close()


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------


def typed(exc: BaseException) -> AgentOSLLMError:
    assert isinstance(exc, AgentOSLLMError), f"{type(exc).__name__} is not an agentos_llm error"
    assert not isinstance(exc, cohere.core.api_error.ApiError), "an SDK error escaped"
    assert not isinstance(exc, httpx.HTTPError), "a transport error escaped"
    return exc


@pytest.mark.parametrize(("status", "code", "cls", "retried"), [
    (400, None, InvalidRequestError, False),
    (401, None, AuthenticationError, False),
    (402, None, QuotaExceededError, False),
    (403, None, PermissionDeniedError, False),
    (404, None, NotFoundError, False),
    (429, None, RateLimitError, True),
    (429, "monthly", QuotaExceededError, False),
    (500, None, ServerError, True),
    (503, None, ServerError, True),
])
@pytest.mark.parametrize("mode", ["generate_sync", "stream"])
async def test_status_maps_to_error_and_retries(emu: WireEmulator, status: int, code: str | None,
                                                cls: type[ProviderError], retried: bool, mode: str) -> None:
    p = make_provider(emu, max_retries=1)
    try:
        emu.script(Fault(status, code=code), Fault(status, code=code))
        with pytest.raises(cls) as info:
            await run(p, mode, MODEL, "hi")
    finally:
        await p.aclose()
    err = typed(info.value)
    assert type(err) is cls and isinstance(err, ProviderError)
    assert err.status_code == status and err.provider == "cohere" and isinstance(err.body, dict)
    assert err.request_id is not None and err.request_id.startswith("req_emu_")
    assert emu.hits("/v2/chat") == (2 if retried else 1)  # the SDK's own retries are off


@pytest.mark.parametrize("mode", MODES)
async def test_retry_after_then_success(emu: WireEmulator, mode: str) -> None:
    p = make_provider(emu, max_retries=2)
    try:
        emu.script(Fault(429, retry_after="0.05"), Fault(503), Reply("made it"))
        response, _ = await run(p, mode, MODEL, "hi")
    finally:
        await p.aclose()
    assert response.text == "made it" and emu.hits("/v2/chat") == 3


@pytest.mark.parametrize("op", ["embed", "rerank", "count"])
def test_other_endpoints_map_errors_too(emu: WireEmulator, provider: IProvider, op: str) -> None:
    emu.script(Fault(401))
    with pytest.raises(AuthenticationError) as info:
        if op == "embed":
            provider.embed_sync("embed-v4.0", ["x"])
        elif op == "rerank":
            provider.rerank_sync("rerank-v3.5", "q", ["d"])
        else:
            provider.count_tokens_sync(MODEL, "hi")
    assert typed(info.value) and emu.requests[-1].path in ("/v2/embed", "/v2/rerank", "/v1/tokenize")


def test_a_refused_model_listing_falls_back_to_the_catalog(emu: WireEmulator) -> None:
    p = create_provider("cohere", api_key="", base_url=emu.cohere_base_url, max_retries=0)  # no key: 401
    try:
        status = p.check_health_sync()
        listed = p.list_models_sync()
    finally:
        p.close()
    assert not status.ok and "AuthenticationError" in (status.error or "")
    assert listed and all(m.source == "catalog" for m in listed) and emu.hits("/v1/models") == 2


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_error_at_the_end_of_a_stream(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    emu.script(Fault(stream_error={"message": "generation failed upstream"}))
    with pytest.raises(ProviderError, match="generation failed upstream") as info:
        await run(provider, "stream" if asynchronous else "stream_sync", MODEL, "hi")
    typed(info.value)


@pytest.mark.parametrize("mode", MODES)
async def test_malformed_responses(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Fault(malformed=True))
    with pytest.raises(MalformedResponseError) as info:
        await run(provider, mode, MODEL, "hi")
    typed(info.value)


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_connection_dropped_mid_stream(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    emu.script(Fault(drop_after_events=4))
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
    assert any(isinstance(e, TextDeltaEvent) for e in events) and not any(isinstance(e, DoneEvent) for e in events)


def _busy_connections(client: Any) -> int:
    """Connections of an SDK client's httpx pool that are neither idle nor closed (a response still open)."""
    pool = client._client_wrapper.httpx_client.httpx_client._transport._pool
    return sum(1 for c in pool.connections if not (c.is_idle() or c.is_closed()))


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_leaving_a_stream_early_closes_it(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    emu.script(Reply("one two three four five six seven eight"))
    assert isinstance(provider, CohereProvider)
    if asynchronous:
        async with provider.stream(MODEL, "hi") as stream:
            async for event in stream:
                assert isinstance(event, TextDeltaEvent)
                assert _busy_connections(provider.async_client) == 1
                break
        assert _busy_connections(provider.async_client) == 0
    else:
        with provider.stream_sync(MODEL, "hi") as sync_stream:
            assert isinstance(next(sync_stream), TextDeltaEvent)
            assert _busy_connections(provider.client) == 1
        assert _busy_connections(provider.client) == 0


def test_a_timeout_is_typed(emu: WireEmulator) -> None:
    p = make_provider(emu, timeout=0.2)
    emu.script(Reply("late", delay=1.0))
    try:
        with pytest.raises(APITimeoutError) as info:
            p.generate_sync(MODEL, "hi")
    finally:
        p.close()
    typed(info.value)


async def test_unreachable_server() -> None:
    stopped = WireEmulator().start()
    base_url = stopped.cohere_base_url
    stopped.stop()
    p = create_provider("cohere", api_key=KEY, base_url=base_url, max_retries=0, timeout=5)
    try:
        with pytest.raises(APIConnectionError) as info:
            await p.generate(MODEL, "hi")
        with pytest.raises(APIConnectionError):
            p.embed_sync("embed-v4.0", ["x"])
    finally:
        await p.aclose()
    typed(info.value)


async def test_keys_never_leak(emu: WireEmulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    p = make_provider(emu)
    emu.script(Fault(401, body={"message": f"invalid api token {KEY}"}))
    with pytest.raises(AuthenticationError) as info:
        await p.generate(MODEL, "hi")
    err = info.value
    for text in (repr(p), str(p.api_key), repr(err), str(err), json.dumps(err.body), caplog.text):
        assert KEY not in text
    await p.aclose()


# --------------------------------------------------------------------------------------------
# the real recorded Cohere responses
# --------------------------------------------------------------------------------------------

SAMPLES_FILE = Path(__file__).resolve().parent / "data" / "wire-samples" / "samples.jsonl"
FINISH = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls",
          "ERROR": "error", "TIMEOUT": "error", "ERROR_TOXIC": "content_filter"}


def _samples() -> list[dict[str, Any]]:
    if not SAMPLES_FILE.is_file():
        return []
    rows = [json.loads(line) for line in SAMPLES_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [s for s in rows if s["vendor"] == "cohere"]


SAMPLES = _samples()


class _Recorded(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sample: dict[str, Any] = {}
    seen: list[tuple[str, Any]] = []

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        type(self).seen.append((self.path, json.loads(raw) if raw else None))
        payload = (self.sample.get("body") or "").encode()
        self.send_response(int(self.sample["status"]))
        self.send_header("content-type", self.sample.get("content_type") or "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def recorded() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorded)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _check(sample: dict[str, Any], result: Any) -> None:
    exp, kind = sample["expected"], sample["kind"]
    path, body = _Recorded.seen[-1]
    assert len(_Recorded.seen) == 1 and body["model"] == (sample["request_json"] or {}).get("model", "m")
    if kind == "count-tokens":
        assert path == "/v1/tokenize" and result.input_tokens == exp["input_tokens"] and result.exact
        return
    if kind == "cohere-embed":
        assert path == "/v2/embed" and len(result.vectors) == exp["count"]
        assert all(len(v) == exp["dims"] for v in result.vectors)
        assert result.usage.input_tokens == exp["usage"]["input_tokens"]
        return
    assert path == "/v2/chat"
    assert result.text == exp["text"] and bool(result.reasoning) == exp["reasoning_text"]
    assert [(t.name, t.arguments, t.id) for t in result.tool_calls] == [
        (t["name"], t["arguments"], t["id"]) for t in exp["tool_calls"]]
    assert result.raw_finish_reason == exp["finish_reason"]
    normalized = FINISH[exp["finish_reason"]]
    assert str(result.finish_reason) == ("tool_calls" if exp["tool_calls"] and normalized == "stop" else normalized)
    usage = exp["usage"]
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.cached_input_tokens) == (
        usage["input_tokens"], usage["output_tokens"], usage["cached_input_tokens"])
    if "tool_plan" in (exp.get("note") or ""):
        assert [b.type for b in result.message.vendor_blocks] == ["tool_plan"]


def _model(sample: dict[str, Any]) -> str:
    return str((sample["request_json"] or {}).get("model") or "m")


@pytest.mark.skipif(not SAMPLES, reason=f"recorded wire samples not found at {SAMPLES_FILE}")
@pytest.mark.parametrize("asynchronous", [False, True])
@pytest.mark.parametrize("sample", SAMPLES, ids=[f"{s['id']}-{s['kind']}" for s in SAMPLES])
async def test_recorded_samples(recorded: str, sample: dict[str, Any], asynchronous: bool) -> None:
    _Recorded.sample, _Recorded.seen = sample, []
    p = create_provider("cohere", api_key="test-key", base_url=recorded, max_retries=0, timeout=20)
    model, messages = _model(sample), [{"role": "user", "content": "hi"}]
    try:
        if sample["kind"] == "count-tokens":
            result: Any = (await p.count_tokens(model, messages) if asynchronous
                           else p.count_tokens_sync(model, messages))
        elif sample["kind"] == "cohere-embed":
            texts = [f"text {i}" for i in range(sample["expected"]["count"])]
            result = await p.embed(model, texts) if asynchronous else p.embed_sync(model, texts)
        else:
            result = await p.generate(model, messages) if asynchronous else p.generate_sync(model, messages)
    finally:
        await p.aclose()
    _check(sample, result)
