"""The Gemini provider, through the real google-genai SDK, replayed from cassettes in
``cassettes/test_cassettes_gemini/``.

Record (against the emulator)::

    pytest tests/test_cassettes_gemini.py --record-mode=once

Replay (CI)::

    AGENTOS_LLM_CASSETTE_NO_EMULATOR=1 pytest tests/test_cassettes_gemini.py --record-mode=none --block-network

Re-record against the real Gemini API: ``AGENTOS_LLM_RECORD_LIVE=1 GEMINI_API_KEY=... pytest
tests/test_cassettes_gemini.py --record-mode=all``. Exact values are checked against the recorded
response bodies, the content only loosely, so the assertions hold for either recording.

Transports: google-genai sends sync requests through httpx2 and async ones through aiohttp when it
is installed (it is not in this project's environment, so these cassettes were recorded on httpx2).
vcrpy patches both, and requests match on method (upper-cased: aiohttp keeps the SDK's "post"),
path, query and body only (the same bytes on either transport), so a cassette replays whichever
transport the SDK picks (checked both ways: recorded on aiohttp and replayed on httpx2, and the reverse).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cassette_support import (
    CASSETTE_DIR,
    LIVE_ENV,
    NO_EMULATOR_ENV,
    TEST_API_KEY,
    CassetteTarget,
    find_key_like,
    scrub_request,
)
from cassette_support import vcr_config as cassette_vcr_config
from pydantic import BaseModel

from agentos_llm.provider import IProvider
from agentos_llm.registry import create_provider
from agentos_llm.testing.emulator import Reply, WireEmulator
from agentos_llm.types import (
    FinishReason,
    ReasoningDeltaEvent,
    TextDeltaEvent,
    ToolCallEvent,
    ToolDefinition,
    Usage,
    UsageEvent,
    tool_result,
)

MODULE = Path(__file__).stem
CHAT_MODEL = "gemini-2.5-flash-lite"
EMBEDDING_MODEL = "gemini-embedding-001"
#: The discard port on loopback (nothing listens): the no-emulator mode's server root.
DEAD_ROOT = "http://127.0.0.1:9"


@dataclass
class GeminiTarget(CassetteTarget):
    """`CassetteTarget` for the Gemini provider (the base URL is the server root, or None live)."""

    def provider(self) -> IProvider:
        provider = create_provider("gemini", api_key=self.api_key, base_url=self.base_url or None, max_retries=0)
        self.providers.append(provider)
        return provider


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTE_DIR / MODULE)


def normalize_request(request: Any) -> Any:
    """`scrub_request`, and the method upper-cased: the SDK passes "post", which httpx2 upper-cases and
    aiohttp records as given."""
    request = scrub_request(request)
    request.method = request.method.upper()
    return request


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    return {**cassette_vcr_config(MODULE), "before_record_request": normalize_request}


@pytest.fixture
def target(vcr: Any) -> Iterator[GeminiTarget]:
    emulator: WireEmulator | None = None
    if os.environ.get(LIVE_ENV) == "1":
        key = os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY") or ""
        if not key:
            raise RuntimeError(f"{LIVE_ENV}=1 needs GEMINI_API_KEY")
        t = GeminiTarget(base_url=os.environ.get("GEMINI_BASE_URL", ""), api_key=key, live=True)
    elif os.environ.get(NO_EMULATOR_ENV) == "1":
        t = GeminiTarget(base_url=DEAD_ROOT, api_key=TEST_API_KEY)
    else:
        emulator = WireEmulator(models=[CHAT_MODEL, "gemini-2.5-flash", EMBEDDING_MODEL]).start()
        t = GeminiTarget(base_url=emulator.gemini_base_url, api_key=TEST_API_KEY, emulator=emulator)
    t.cassette = vcr
    if vcr is not None and vcr.record_mode == "all":
        t.offset = len(vcr)
    try:
        yield t
        if vcr is not None and vcr.write_protected:
            if emulator is not None:
                assert emulator.requests == [], "a replay reached the emulator: the cassette did not answer"
            assert vcr.all_played, f"{vcr.path}: not every recorded interaction was replayed"
    finally:
        for provider in t.providers:
            provider.close()
        if emulator is not None:
            emulator.stop()


def wire_usage(usage: Usage, meta: dict[str, Any]) -> None:
    """Our usage is the recorded `usageMetadata`, in our convention (thoughts counted as output)."""
    thoughts = meta.get("thoughtsTokenCount", 0)
    assert usage.input_tokens == meta["promptTokenCount"] > 0
    assert usage.output_tokens == meta.get("candidatesTokenCount", 0) + thoughts > 0
    assert usage.reasoning_tokens == thoughts
    assert usage.cost_usd is not None and usage.cost_usd > 0  # flash-lite is priced in the catalog


def candidate_text(payload: dict[str, Any], *, thought: bool = False) -> str:
    parts = payload["candidates"][0].get("content", {}).get("parts", [])
    return "".join(p.get("text", "") for p in parts if bool(p.get("thought")) == thought)


# ---------------------------------------------------------------------- generate


@pytest.mark.vcr
def test_generate_sync(target: GeminiTarget) -> None:
    target.script(Reply("pong"))
    response = target.provider().generate_sync(
        CHAT_MODEL, "Reply with exactly one lowercase word: pong", temperature=0, max_tokens=10)
    wire = target.response_json(0)
    assert response.text == candidate_text(wire) and "pong" in response.text.lower()
    assert response.finish_reason is FinishReason.STOP and response.raw_finish_reason == "STOP"
    assert response.id == wire["responseId"] and response.model.startswith(CHAT_MODEL)
    wire_usage(response.usage, wire["usageMetadata"])
    sent = target.request_json(0)
    assert sent["generationConfig"] == {"temperature": 0, "maxOutputTokens": 10}


@pytest.mark.vcr
async def test_generate_async(target: GeminiTarget) -> None:
    target.script(Reply("Paris"))
    async with target.provider() as provider:
        response = await provider.generate(CHAT_MODEL, [
            {"role": "system", "content": "Answer with one word."},
            {"role": "user", "content": "What is the capital of France?"}], temperature=0, max_tokens=10)
    wire = target.response_json(0)
    assert response.text == candidate_text(wire) and "paris" in response.text.lower()
    assert response.finish_reason is FinishReason.STOP
    assert target.request_json(0)["systemInstruction"] == {"parts": [{"text": "Answer with one word."}]}
    wire_usage(response.usage, wire["usageMetadata"])


# ---------------------------------------------------------------------- stream


def check_stream(events: list[Any], chunks: list[Any]) -> None:
    done = events[-1]
    assert done.type == "done" and sum(e.type == "done" for e in events) == 1
    response = done.response
    deltas = [e.delta for e in events if isinstance(e, TextDeltaEvent)]
    assert len(deltas) >= 2, "the answer arrived in pieces"
    assert "".join(deltas) == response.text == "".join(candidate_text(c) for c in chunks)
    assert "three" in response.text.lower()
    assert response.finish_reason is FinishReason.STOP
    usage_events = [e for e in events if isinstance(e, UsageEvent)]
    assert len(usage_events) == 1 and usage_events[0].usage == response.usage
    last_usage = [c["usageMetadata"] for c in chunks if c.get("usageMetadata")][-1]
    wire_usage(response.usage, last_usage)


@pytest.mark.vcr
def test_stream_sync(target: GeminiTarget) -> None:
    target.script(Reply("one two three"))
    with target.provider().stream_sync(
            CHAT_MODEL, "Count from one to three in lowercase words, nothing else.", temperature=0) as stream:
        events = list(stream)
    check_stream(events, target.response_sse(0))


@pytest.mark.vcr
async def test_stream_async(target: GeminiTarget) -> None:
    target.script(Reply("one, two, three"))
    async with target.provider() as provider, provider.stream(
            CHAT_MODEL, "Count from one to three in lowercase words, separated by commas.", temperature=0) as stream:
        events = [e async for e in stream]
    check_stream(events, target.response_sse(0))


# ---------------------------------------------------------------------- tools and thinking


def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city."""
    return {"city": city, "temperature_c": 21, "conditions": "sunny"}


@pytest.mark.vcr
def test_tool_call_round_trip(target: GeminiTarget) -> None:
    target.script(Reply.tool_call("get_weather", {"city": "Paris"}),
                  Reply("It is 21 degrees Celsius and sunny in Paris."))
    provider = target.provider()
    tools = [ToolDefinition.from_function(get_weather)]
    history: list[Any] = [{"role": "user", "content": "What is the weather in Paris right now?"}]
    first = provider.generate_sync(CHAT_MODEL, history, tools=tools, tool_choice="required", temperature=0)
    wire_calls = [p["functionCall"] for p in target.response_json(0)["candidates"][0]["content"]["parts"]
                  if "functionCall" in p]
    assert first.finish_reason is FinishReason.TOOL_CALLS
    assert [(c.name, c.arguments) for c in first.tool_calls] == [(c["name"], c.get("args", {})) for c in wire_calls]
    call = first.tool_calls[0]
    assert call.name == "get_weather" and call.arguments["city"].lower() == "paris"
    assert target.request_json(0)["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}

    history += [first.message, tool_result(call.id, get_weather(**call.arguments))]
    final = provider.generate_sync(CHAT_MODEL, history, tools=tools, temperature=0)
    assert final.tool_calls == [] and final.finish_reason is FinishReason.STOP and "21" in final.text
    sent = target.request_json(1)
    assert [c["role"] for c in sent["contents"]] == ["user", "model", "user"]
    assert sent["contents"][1]["parts"][-1]["functionCall"]["name"] == "get_weather"
    assert sent["contents"][2]["parts"] == [{"functionResponse": {"name": "get_weather",
                                                                  "response": get_weather("Paris")}}]
    signatures = [b.data["signature"] for b in first.message.vendor_blocks if "signature" in b.data]
    sent_signatures = [p["thoughtSignature"] for p in sent["contents"][1]["parts"] if "thoughtSignature" in p]
    assert sent_signatures == signatures  # whatever the model signed went back verbatim


@pytest.mark.vcr
async def test_thinking_with_signatures(target: GeminiTarget) -> None:
    target.script(Reply("Paris.", reasoning="The user asks for the capital of France, which is Paris.",
                        reasoning_tokens=14), Reply("Marseille."))
    async with target.provider() as provider:
        first = await provider.generate("gemini-2.5-flash", "What is the capital of France? One word.",
                                        reasoning_budget=512)
        second = await provider.generate("gemini-2.5-flash", [
            {"role": "user", "content": "What is the capital of France? One word."}, first.message,
            {"role": "user", "content": "And the second largest city? One word."}], reasoning_budget=512)
    wire = target.response_json(0)
    assert target.request_json(0)["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 512,
                                                                            "includeThoughts": True}
    assert first.reasoning and first.reasoning == candidate_text(wire, thought=True)
    assert first.text == candidate_text(wire) and "paris" in first.text.lower()
    assert first.usage.reasoning_tokens == wire["usageMetadata"]["thoughtsTokenCount"] > 0
    wire_usage(first.usage, wire["usageMetadata"])
    assert second.text
    model_turn = target.request_json(1)["contents"][1]
    assert model_turn["role"] == "model"
    recorded = [p["thoughtSignature"] for p in wire["candidates"][0]["content"]["parts"] if "thoughtSignature" in p]
    assert [p["thoughtSignature"] for p in model_turn["parts"] if "thoughtSignature" in p] == recorded


@pytest.mark.vcr
def test_stream_tool_call(target: GeminiTarget) -> None:
    target.script(Reply.tool_call("get_weather", {"city": "Rome"}))
    with target.provider().stream_sync(CHAT_MODEL, "Weather in Rome? Use the tool.",
                                       tools=[ToolDefinition.from_function(get_weather)], tool_choice="required"
                                       ) as stream:
        events = list(stream)
    calls = [e.tool_call for e in events if isinstance(e, ToolCallEvent)]
    response = events[-1].response
    assert calls == response.tool_calls and len(calls) >= 1
    assert calls[0].name == "get_weather" and calls[0].arguments["city"].lower() == "rome"
    assert response.finish_reason is FinishReason.TOOL_CALLS
    assert not [e for e in events if isinstance(e, ReasoningDeltaEvent)]  # no thoughts unless asked


# ---------------------------------------------------------------------- structured output


class City(BaseModel):
    name: str
    country: str


@pytest.mark.vcr
async def test_structured_output(target: GeminiTarget) -> None:
    target.script(Reply(json.dumps({"name": "Paris", "country": "France"})))
    async with target.provider() as provider:
        result = await provider.generate_structured(
            CHAT_MODEL, "Which city is the capital of France? Give its name and country.", City, temperature=0)
    config = target.request_json(0)["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"]["required"] == ["name", "country"]
    wire = target.response_json(0)
    assert result.value == City.model_validate_json(candidate_text(wire))
    assert result.value.name.lower() == "paris" and result.value.country.lower() == "france"
    assert result.attempts == 1
    wire_usage(result.usage, wire["usageMetadata"])


# ---------------------------------------------------------------------- embeddings and models


@pytest.mark.vcr
def test_embeddings(target: GeminiTarget) -> None:
    texts = ["the cat sat on the mat", "a dog barked at the mailman"]
    result = target.provider().embed_sync(EMBEDDING_MODEL, texts, dimensions=8, input_type="document")
    sent = target.request_json(0)
    assert [r["content"]["parts"][0]["text"] for r in sent["requests"]] == texts
    assert {r["taskType"] for r in sent["requests"]} == {"RETRIEVAL_DOCUMENT"}
    assert {r["outputDimensionality"] for r in sent["requests"]} == {8}
    wire = target.response_json(0)
    assert result.vectors == [[float(v) for v in e["values"]] for e in wire["embeddings"]]
    assert len(result.vectors) == 2 and all(len(v) == 8 for v in result.vectors)
    assert result.vectors[0] != result.vectors[1]
    assert all(math.isfinite(x) for v in result.vectors for x in v)
    assert result.model == EMBEDDING_MODEL


@pytest.mark.vcr
async def test_embeddings_async(target: GeminiTarget) -> None:
    async with target.provider() as provider:
        result = await provider.embed(EMBEDDING_MODEL, ["hello", "world", "again"], input_type="query",
                                      dimensions=8)
    wire = target.response_json(0)
    assert result.vectors == [[float(v) for v in e["values"]] for e in wire["embeddings"]]
    assert {r["taskType"] for r in target.request_json(0)["requests"]} == {"RETRIEVAL_QUERY"}


@pytest.mark.vcr
def test_list_models(target: GeminiTarget) -> None:
    models = target.provider().list_models_sync()
    wire = target.response_json(0)
    assert [m.id for m in models][:len(wire["models"])] == [m["name"].removeprefix("models/") for m in wire["models"]]
    lite = {m.id: m for m in models}[CHAT_MODEL]
    assert lite.provider == "gemini" and lite.context_window is not None and lite.context_window > 100_000
    assert lite.input_price is not None  # merged from the catalog


def test_no_keys_in_these_cassettes() -> None:
    files = sorted((CASSETTE_DIR / MODULE).glob("*.yaml"))
    assert len(files) >= 10, "the Gemini cassettes are missing"
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert find_key_like(text) == [], path.name
        assert "x-goog-api-key" not in text.lower() and "key=" not in text, path.name
