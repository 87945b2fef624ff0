"""The Gemini provider end to end, through the real google-genai SDK, against the loopback wire emulator."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from agentos_llm import (
    FinishReason,
    ImagePart,
    ReasoningDeltaEvent,
    TextDeltaEvent,
    ToolCallEvent,
    UsageEvent,
    create_provider,
    user,
)
from agentos_llm.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    ContentFilterError,
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
)
from agentos_llm.provider import IProvider
from agentos_llm.testing import Fault, Reply, WireEmulator
from agentos_llm.testing.gemini_wire import signature
from agentos_llm.testing.openai_wire import embedding_vector
from agentos_llm.wire.gemini_generate import SKIP_SIGNATURE
from tests.provider_calls import run, sent

MODEL = "gemini-2.5-flash"
GEMINI_3 = "gemini-3-pro-preview"
EMBED = "gemini-embedding-001"
KEY = "AIzaSyTestKeyForTheEmulator0123456789abc"
# gemini-2.5-flash in the shipped catalog (USD per 1M tokens).
FLASH_INPUT, FLASH_CACHED, FLASH_OUTPUT = 0.3, 0.03, 2.5
MODES = ["generate", "generate_sync", "stream", "stream_sync"]
WEATHER = {"name": "get_weather", "description": "Weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.fixture(scope="module")
def server() -> Iterator[WireEmulator]:
    with WireEmulator(models=[MODEL, GEMINI_3, EMBED]) as emu:
        yield emu


@pytest.fixture
def emu(server: WireEmulator) -> Iterator[WireEmulator]:
    server.reset()
    models = list(server.models)
    yield server
    server.reset()
    server.delay = 0.0
    server.models = models


@pytest.fixture
async def provider(emu: WireEmulator) -> AsyncIterator[IProvider]:
    p = create_provider("gemini", api_key=KEY, base_url=emu.gemini_base_url, max_retries=0)
    yield p
    await p.aclose()


# ---------------------------------------------------------------------- generate and stream


@pytest.mark.parametrize("mode", MODES)
async def test_text(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Reply("Hello there, friend", prompt_tokens=12, completion_tokens=4, cached_tokens=2))
    r, events = await run(provider, mode, MODEL, [{"role": "system", "content": "Be nice."},
                                                  {"role": "user", "content": "Hi"}], temperature=0.2)
    assert r.text == "Hello there, friend" and r.provider == "gemini" and r.model == MODEL
    assert r.finish_reason is FinishReason.STOP and r.raw_finish_reason == "STOP"
    assert r.id is not None and r.id.startswith("emu-gemini-")
    assert r.usage.input_tokens == 12 and r.usage.output_tokens == 4 and r.usage.cached_input_tokens == 2
    expected_cost = (10 * FLASH_INPUT + 2 * FLASH_CACHED + 4 * FLASH_OUTPUT) / 1e6
    assert r.usage.cost_usd == pytest.approx(expected_cost)
    request = emu.requests[-1]
    stream = mode.startswith("stream")
    assert request.path == f"/v1beta/models/{MODEL}:{'streamGenerateContent' if stream else 'generateContent'}"
    assert request.query == ("alt=sse" if stream else "")
    assert request.headers["x-goog-api-key"] == KEY  # the key travels in the header, never in the URL
    assert sent(emu)["systemInstruction"] == {"parts": [{"text": "Be nice."}]}
    assert sent(emu)["generationConfig"] == {"temperature": 0.2}
    if events is not None:
        deltas = [e.delta for e in events if isinstance(e, TextDeltaEvent)]
        assert len(deltas) == 3 and "".join(deltas) == r.text
        usage = [e for e in events if isinstance(e, UsageEvent)]
        assert len(usage) == 1 and usage[0].usage.input_tokens == 12


@pytest.mark.parametrize("mode", MODES)
async def test_tool_call_round_trip_sends_names_and_signatures_back(
        emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Reply(tool_calls=[("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})]),
               Reply("Sunny in both."))
    history: list[Any] = [user("Weather in Paris and Rome?")]
    first, events = await run(provider, mode, MODEL, history, tools=[WEATHER], tool_choice="required")
    assert first.finish_reason is FinishReason.TOOL_CALLS and first.raw_finish_reason == "STOP"
    assert [(c.name, c.arguments) for c in first.tool_calls] == [("get_weather", {"city": "Paris"}),
                                                                 ("get_weather", {"city": "Rome"})]
    assert len({c.id for c in first.tool_calls}) == 2
    if events is not None:
        assert [e.tool_call for e in events if isinstance(e, ToolCallEvent)] == first.tool_calls
    assert sent(emu)["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    history += [first.message,
                {"role": "tool", "tool_call_id": first.tool_calls[1].id, "content": '{"sky": "clear"}'},
                {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": "sunny"}]
    final, _ = await run(provider, mode, MODEL, history, tools=[WEATHER])
    assert final.text == "Sunny in both." and final.finish_reason is FinishReason.STOP
    contents = sent(emu)["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    model_parts = contents[1]["parts"]
    assert [p["functionCall"]["args"]["city"] for p in model_parts] == ["Paris", "Rome"]
    # The emulator signed the first call; its signature went back on that same part.
    signed = [b for b in first.message.vendor_blocks if b.type == "function_call"]
    assert len(signed) == 1 and signed[0].data["tool_call_id"] == first.tool_calls[0].id
    assert model_parts[0]["thoughtSignature"] == signed[0].data["signature"]
    assert signed[0].data["signature"].startswith(signature(1)[:20])
    assert "thoughtSignature" not in model_parts[1]
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"sky": "clear"}}},
        {"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}},
    ]


@pytest.mark.parametrize("mode", MODES)
async def test_thinking(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Reply("Paris.", reasoning="The capital of France is Paris", reasoning_tokens=9, completion_tokens=2),
               Reply("Lyon."))
    r, events = await run(provider, mode, MODEL, "Capital of France?", reasoning_effort="medium")
    assert sent(emu)["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 8192, "includeThoughts": True}
    assert r.text == "Paris." and r.reasoning == "The capital of France is Paris"
    assert r.usage.reasoning_tokens == 9 and r.usage.output_tokens == 11
    blocks = [b for b in r.message.vendor_blocks if b.type == "thought_signature"]
    assert len(blocks) == 1 and blocks[0].provider == "gemini" and blocks[0].data["part"] == "text"
    if events is not None:
        thoughts = "".join(e.delta for e in events if isinstance(e, ReasoningDeltaEvent))
        assert thoughts == r.reasoning
    await run(provider, mode, MODEL, [user("Capital of France?"), r.message, user("And the second city?")])
    model_turn = sent(emu)["contents"][1]
    assert model_turn == {"role": "model", "parts": [{"text": "Paris.", "thoughtSignature": blocks[0].data[
        "signature"]}]}


async def test_gemini_3_thinking_level_and_placeholder_signatures(emu: WireEmulator, provider: IProvider) -> None:
    history = [{"role": "user", "content": "Weather?"},
               {"role": "assistant", "tool_calls": [{"id": "call_openai_1", "type": "function",
                                                     "function": {"name": "get_weather", "arguments": "{}"}}]},
               {"role": "tool", "tool_call_id": "call_openai_1", "content": "rain"}]
    await provider.generate(GEMINI_3, history, reasoning_effort="low")
    body = sent(emu)
    assert body["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "LOW", "includeThoughts": True}
    assert body["contents"][1]["parts"][0]["thoughtSignature"] == SKIP_SIGNATURE


@pytest.mark.parametrize("mode", MODES)
async def test_options_are_mapped(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    await run(provider, mode, MODEL, "x", temperature=0.5, top_p=0.8, top_k=30, max_tokens=64, stop=["END"], seed=3,
              tools=[WEATHER], tool_choice="get_weather",
              extra={"safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}]})
    body = sent(emu)
    assert body["generationConfig"] == {"temperature": 0.5, "topP": 0.8, "topK": 30, "maxOutputTokens": 64,
                                        "stopSequences": ["END"], "seed": 3}
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    assert body["safetySettings"][0]["threshold"] == "BLOCK_NONE"


async def test_extra_headers_and_per_call_timeout_reach_the_wire(emu: WireEmulator, provider: IProvider) -> None:
    await provider.generate(MODEL, "x", extra_headers={"x-trace": "t-1"}, timeout=30)
    headers = emu.requests[-1].headers
    assert headers["x-trace"] == "t-1"
    assert headers["x-server-timeout"] == "30"  # the SDK tells Google's servers the deadline
    provider.generate_sync(MODEL, "x")
    assert emu.requests[-1].headers["x-server-timeout"] == "600"


@pytest.mark.parametrize("mode", ["generate", "stream_sync"])
async def test_images(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    await run(provider, mode, MODEL, [user(["What is it?", ImagePart(data="aGk=", media_type="image/png"),
                                            ImagePart(url="https://example.com/a.webp")])])
    assert sent(emu)["contents"][0]["parts"] == [
        {"text": "What is it?"}, {"inlineData": {"mimeType": "image/png", "data": "aGk="}},
        {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/a.webp"}}]


@pytest.mark.parametrize("mode", MODES)
async def test_content_filter_finish_and_blocked_prompts(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Reply("", finish_reason="SAFETY"))
    r, _ = await run(provider, mode, MODEL, "x")
    assert r.finish_reason is FinishReason.CONTENT_FILTER and r.raw_finish_reason == "SAFETY" and r.text == ""
    emu.script(Fault(200, body={"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                                "usageMetadata": {"promptTokenCount": 3}}))
    with pytest.raises(ContentFilterError, match="PROHIBITED_CONTENT"):
        await run(provider, mode, MODEL, "x")


# ---------------------------------------------------------------------- structured output


class City(BaseModel):
    name: str
    country: str


@pytest.mark.parametrize("asynchronous", [True, False])
async def test_structured_output(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    emu.script(Reply(json.dumps({"name": "Paris", "country": "France"})))
    if asynchronous:
        result = await provider.generate_structured(MODEL, "Capital of France?", City)
    else:
        result = provider.generate_structured_sync(MODEL, "Capital of France?", City)
    assert result.value == City(name="Paris", country="France") and result.attempts == 1
    config = sent(emu)["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"]["propertyOrdering"] == ["name", "country"]


def test_structured_default_answer_validates_and_reasks(emu: WireEmulator, provider: IProvider) -> None:
    assert provider.generate_structured_sync(MODEL, "a city", City).value == City(name="example", country="example")
    emu.reset()
    emu.script(Reply('{"name": "Paris"}'), Reply('{"name": "Paris", "country": "France"}'))
    result = provider.generate_structured_sync(MODEL, "a city", City)
    assert result.attempts == 2 and result.value.country == "France"
    retry = sent(emu)["contents"]
    assert [c["role"] for c in retry] == ["user", "model", "user"]
    assert "country" in retry[2]["parts"][0]["text"]
    emu.script(*[Reply("not json")] * 2)
    with pytest.raises(StructuredOutputError):
        provider.generate_structured_sync(MODEL, "a city", City, max_attempts=2)


# ---------------------------------------------------------------------- embeddings and models


@pytest.mark.parametrize("asynchronous", [True, False])
async def test_embeddings_are_batched_under_the_limit_in_order(
        emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    texts = [f"text number {i}" for i in range(205)]
    if asynchronous:
        result = await provider.embed(EMBED, texts, dimensions=16, input_type="document")
    else:
        result = provider.embed_sync(EMBED, texts, dimensions=16, input_type="document")
    assert result.vectors == [pytest.approx(embedding_vector(t, 16)) for t in texts]
    # Async batches go out together, so they may arrive in any order.
    batches = sorted((r.body["requests"] for r in emu.requests), key=lambda b: int(
        b[0]["content"]["parts"][0]["text"].rsplit(" ", 1)[1]))
    assert [len(b) for b in batches] == [100, 100, 5]
    assert all(r.path == f"/v1beta/models/{EMBED}:batchEmbedContents" for r in emu.requests)
    assert batches[0][0] == {"content": {"parts": [{"text": "text number 0"}]}, "model": f"models/{EMBED}",
                             "taskType": "RETRIEVAL_DOCUMENT", "outputDimensionality": 16}
    assert result.usage.input_tokens == 3 * 205 and result.model == EMBED
    assert result.usage.cost_usd == pytest.approx(3 * 205 * 0.15 / 1e6)


def test_embedding_default_model_and_a_single_string(emu: WireEmulator, provider: IProvider) -> None:
    result = provider.embed_sync(None, "hello world")
    assert len(result.vectors) == 1 and len(result.vectors[0]) == 8
    assert emu.requests[-1].path.endswith(f"/models/{EMBED}:batchEmbedContents")


@pytest.mark.parametrize("asynchronous", [True, False])
async def test_list_models_follows_pages(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    emu.models = [MODEL, EMBED, *(f"gemini-custom-{i}" for i in range(70))]
    models = await provider.list_models() if asynchronous else provider.list_models_sync()
    assert [m.id for m in models] == emu.models
    assert len(emu.requests) == 2 and "pageToken=50" in emu.requests[1].query
    flash = models[0]
    assert flash.context_window == 1048576 and flash.max_output_tokens == 65536 and flash.input_price == 0.3
    assert models[1].capabilities == {"embeddings"}


async def test_check_health(emu: WireEmulator, provider: IProvider) -> None:
    assert (await provider.check_health()).ok
    assert provider.check_health_sync().ok
    emu.script()
    dead = create_provider("gemini", api_key=KEY, base_url="http://127.0.0.1:9", max_retries=0)
    status = dead.check_health_sync()
    assert not status.ok and "APIConnectionError" in (status.error or "")
    dead.close()


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize(("fault", "cls"), [
    (Fault(400), InvalidRequestError),
    (Fault(400, code="FAILED_PRECONDITION"), InvalidRequestError),
    (Fault(400, code="api_key_invalid"), AuthenticationError),
    (Fault(400, code="context_length_exceeded"), ContextLengthExceededError),
    (Fault(401), AuthenticationError),
    (Fault(403), PermissionDeniedError),
    (Fault(404), NotFoundError),
    (Fault(429), RateLimitError),
    (Fault(429, code="daily_quota"), QuotaExceededError),
    (Fault(429, code="free_tier_zero"), QuotaExceededError),
    (Fault(500), ServerError),
    (Fault(500, code="wrapped_429"), RateLimitError),
    (Fault(503), ServerError),
    (Fault(504), APITimeoutError),
    (Fault(502, body="<html>Bad Gateway</html>"), ServerError),
])
@pytest.mark.parametrize("mode", MODES)
async def test_errors_are_typed(emu: WireEmulator, provider: IProvider, mode: str, fault: Fault,
                                cls: type[ProviderError]) -> None:
    emu.script(fault)
    with pytest.raises(cls) as info:
        await run(provider, mode, MODEL, "x")
    err = info.value
    assert type(err) is cls and err.provider == "gemini"
    assert err.__cause__ is None and err.vendor_exception is not None  # the SDK's exception kept apart
    assert emu.hits(":generateContent") + emu.hits(":streamGenerateContent") == 1  # no SDK retry


@pytest.mark.parametrize("mode", MODES)
async def test_retry_after_then_success(emu: WireEmulator, mode: str) -> None:
    emu.script(Fault(429, retry_after="0"), Fault(503), Reply("finally"))
    p = create_provider("gemini", api_key=KEY, base_url=emu.gemini_base_url, max_retries=2)
    try:
        r, _ = await run(p, mode, MODEL, "x")
    finally:
        await p.aclose()
    assert r.text == "finally" and len(emu.requests) == 3


@pytest.mark.parametrize("mode", ["stream", "stream_sync"])
async def test_stream_faults(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Fault(stream_error={"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}))
    with pytest.raises(ServerError, match="overloaded"):
        await run(provider, mode, MODEL, "x")
    emu.script(Fault(malformed=True))
    with pytest.raises(MalformedResponseError):
        await run(provider, mode, MODEL, "x")
    emu.script(Reply("one two three four five"), Fault(drop_after_events=2))
    await run(provider, mode, MODEL, "x")
    with pytest.raises(APIConnectionError):
        await run(provider, mode, MODEL, "x")


@pytest.mark.parametrize("mode", ["generate", "generate_sync"])
async def test_whole_response_faults(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Fault(malformed=True))
    with pytest.raises(MalformedResponseError):
        await run(provider, mode, MODEL, "x")
    emu.script(Fault(drop_after_events=0))
    with pytest.raises(APIConnectionError):
        await run(provider, mode, MODEL, "x")


@pytest.mark.parametrize("mode", MODES)
async def test_timeouts(emu: WireEmulator, mode: str) -> None:
    emu.script(Reply("late", delay=1.0))
    p = create_provider("gemini", api_key=KEY, base_url=emu.gemini_base_url, max_retries=0, timeout=0.2)
    try:
        with pytest.raises(APITimeoutError):
            await run(p, mode, MODEL, "x")
    finally:
        await p.aclose()


def test_embed_and_models_errors(emu: WireEmulator, provider: IProvider) -> None:
    emu.script(Fault(404))
    with pytest.raises(NotFoundError):
        provider.embed_sync("nope", ["a"])
    emu.script()
    emu.models = []
    assert provider.list_models_sync() == []


def test_no_key_in_errors_or_reprs(emu: WireEmulator, provider: IProvider) -> None:
    emu.script(Fault(400, body={"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                          "message": f"bad request with key {KEY}"}}))
    with pytest.raises(InvalidRequestError) as info:
        provider.generate_sync(MODEL, "x")
    shown = " ".join([str(info.value), repr(info.value), json.dumps(info.value.body), repr(provider)])
    assert KEY not in shown and "REDACTED" in shown


# ---------------------------------------------------------------------- configuration


def test_keys_from_either_env_var_and_a_missing_key(emu: WireEmulator) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        p = create_provider("gemini", base_url=emu.gemini_base_url, env={name: KEY})  # type: ignore[arg-type]
        assert p.credential_source == f"env:{name}"
        assert p.generate_sync(MODEL, "hi").text == "Echo: hi"
        assert emu.requests[-1].headers["x-goog-api-key"] == KEY
        p.close()
    with pytest.raises(ConfigurationError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        create_provider("gemini", env={"AGENTOS_LLM_CONFIG": "/nonexistent"})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="vertexai=True"):
        create_provider("gemini", api_key=KEY, project="p")


def test_api_version(emu: WireEmulator) -> None:
    p = create_provider("gemini", api_key=KEY, base_url=emu.gemini_base_url, api_version="v1beta")
    assert p.generate_sync(MODEL, "hi").text == "Echo: hi"
    assert emu.requests[-1].path == f"/v1beta/models/{MODEL}:generateContent"
    p.close()


@pytest.mark.parametrize("asynchronous", [True, False])
async def test_vertex_ai_with_credentials_and_no_key(emu: WireEmulator, asynchronous: bool) -> None:
    from google.oauth2.credentials import Credentials

    creds = Credentials(token="ya29.test-access-token-for-the-emulator")  # type: ignore[no-untyped-call]
    p = create_provider("gemini", base_url=emu.gemini_base_url, vertexai=True, project="proj", location="europe-west4",
                        credentials=creds, env={"GOOGLE_API_KEY": KEY})  # type: ignore[arg-type]
    assert p.credential_source is None  # the env key is not used when a project is given
    try:
        emu.script(Reply.tool_call("get_weather", {"city": "Oslo"}))
        if asynchronous:
            r = await p.generate(MODEL, "weather?", tools=[WEATHER])
            vectors = await p.embed(EMBED, ["a", "b"], input_type="query")
            legacy = await p.embed("text-embedding-005", ["c"], dimensions=4)
        else:
            r = p.generate_sync(MODEL, "weather?", tools=[WEATHER])
            vectors = p.embed_sync(EMBED, ["a", "b"], input_type="query")
            legacy = p.embed_sync("text-embedding-005", ["c"], dimensions=4)
    finally:
        await p.aclose()
    assert r.tool_calls[0].arguments == {"city": "Oslo"}
    generate, batch, predict = emu.requests
    prefix = "/v1beta1/projects/proj/locations/europe-west4/publishers/google/models"
    assert generate.path == f"{prefix}/{MODEL}:generateContent"
    assert generate.headers["authorization"] == "Bearer ya29.test-access-token-for-the-emulator"
    assert "x-goog-api-key" not in generate.headers
    assert batch.path == f"{prefix}/{EMBED}:batchEmbedContents"
    assert batch.body["requests"][0]["embedContentConfig"] == {"taskType": "RETRIEVAL_QUERY"}
    assert len(vectors.vectors) == 2
    assert predict.path == f"{prefix}/text-embedding-005:predict" and len(legacy.vectors[0]) == 4


def test_importing_agentos_llm_does_not_import_the_sdk() -> None:
    code = "import sys, agentos_llm; print('google.genai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_the_provider_works_again_after_aclose(emu: WireEmulator, provider: IProvider) -> None:
    assert (await provider.generate(MODEL, "one")).text == "Echo: one"
    await provider.aclose()
    assert (await provider.generate(MODEL, "two")).text == "Echo: two"
    assert provider.generate_sync(MODEL, "three").text == "Echo: three"


@pytest.mark.parametrize("asynchronous", [True, False])
async def test_leaving_a_stream_early_closes_it(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    emu.script(Reply(" ".join(f"w{i}" for i in range(50))))
    if asynchronous:
        async with provider.stream(MODEL, "x") as events:
            first = await events.__anext__()
    else:
        with provider.stream_sync(MODEL, "x") as sync_events:
            first = next(sync_events)
    assert isinstance(first, TextDeltaEvent) and first.delta == "w0"
    again = await provider.generate(MODEL, "after") if asynchronous else provider.generate_sync(MODEL, "after")
    assert again.text == "Echo: after"


def test_the_gemini_api_defaults_to_v1beta_and_api_version_overrides(emu: WireEmulator) -> None:
    emu.script(Reply("a"), Reply("b"))
    p = create_provider("gemini", api_key=KEY, base_url=emu.gemini_base_url, max_retries=0)
    p.generate_sync(MODEL, "hi")
    assert emu.requests[-1].path == f"/v1beta/models/{MODEL}:generateContent"
    stable = create_provider("gemini", api_key=KEY, base_url=emu.gemini_base_url, max_retries=0, api_version="v1")
    stable.generate_sync(MODEL, "hi")
    assert emu.requests[-1].path == f"/v1/models/{MODEL}:generateContent"
