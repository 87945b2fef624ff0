"""The Cohere provider, through the real cohere SDK's httpx client, replayed from ``cassettes/test_cassettes_cohere/``.

Record (against the emulator's Cohere dialect)::

    pytest tests/test_cassettes_cohere.py --record-mode=once

Replay (CI)::

    AGENTOS_LLM_CASSETTE_NO_EMULATOR=1 pytest tests/test_cassettes_cohere.py --record-mode=none --block-network

Re-record against the real API: ``AGENTOS_LLM_RECORD_LIVE=1 COHERE_API_KEY=... pytest
tests/test_cassettes_cohere.py --record-mode=rewrite -k "not error"`` (see ``docs/cassettes.md``). The SDK sends through
``httpx``, whose transports vcrpy patches. Exact values are checked against the recorded bodies and the
content only loosely, so the assertions hold for an emulated and for a live recording alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cassette_support import (
    CASSETTE_DIR,
    COHERE,
    COHERE_TEST_API_KEY,
    CassetteTarget,
    cassette_lines,
    find_key_like,
    open_target,
    skip_live,
)
from cassette_support import vcr_config as cassette_vcr_config
from vcr import VCR

from agentos_llm.errors import AuthenticationError, RateLimitError
from agentos_llm.testing.emulator import Fault, Reply
from agentos_llm.types import (
    DocumentPart,
    FinishReason,
    TextDeltaEvent,
    TextPart,
    ToolDefinition,
    Usage,
    UsageEvent,
    tool_result,
)

MODULE = Path(__file__).stem
MODEL = "command-a-03-2025"
SMALL = "command-r7b-12-2024"
EMBED = "embed-v4.0"
RERANK = "rerank-v3.5"


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTE_DIR / MODULE)


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    return cassette_vcr_config(MODULE)


@pytest.fixture
def target(vcr: Any) -> Iterator[CassetteTarget]:
    yield from open_target(vcr, COHERE)


def assert_usage(usage: Usage, wire: dict[str, Any]) -> None:
    """Our usage is the recorded `usage.tokens` (cached tokens are part of the input)."""
    assert usage.input_tokens == wire["tokens"]["input_tokens"] > 0
    assert usage.output_tokens == wire["tokens"]["output_tokens"] > 0
    assert usage.cached_input_tokens == wire.get("cached_tokens", 0)
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.cost_usd is not None and usage.cost_usd > 0  # priced in the catalog


def text_of(wire: dict[str, Any]) -> str:
    return "".join(p["text"] for p in wire["message"].get("content") or () if p["type"] == "text")


def of_type(events: list[Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("type") == kind]


def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city."""
    return {"city": city, "temperature_c": 21, "conditions": "sunny"}


# ---------------------------------------------------------------------- chat


@pytest.mark.vcr
def test_chat_sync(target: CassetteTarget) -> None:
    target.script(Reply("pong"))
    response = target.provider().generate_sync(MODEL, "Reply with exactly one lowercase word: pong", temperature=0,
                                               max_tokens=10)
    sent, wire = target.request_json(0), target.response_json(0)
    assert target.request_path(0) == "/v2/chat"
    assert sent == {"model": MODEL, "messages": [{"role": "user", "content": "Reply with exactly one lowercase "
                                                                             "word: pong"}],
                    "stream": False, "temperature": 0, "max_tokens": 10}
    assert response.text == text_of(wire) and "pong" in response.text.lower()
    assert response.finish_reason is FinishReason.STOP and response.raw_finish_reason == wire["finish_reason"]
    assert (response.id, response.provider, response.model) == (wire["id"], "cohere", MODEL)
    assert_usage(response.usage, wire["usage"])
    if target.emulator is not None and target.emulator.requests:  # recording: the key was on the wire
        assert target.emulator.requests[0].headers["authorization"] == f"Bearer {COHERE_TEST_API_KEY}"


@pytest.mark.vcr
async def test_chat_async(target: CassetteTarget) -> None:
    target.script(Reply("Paris"))
    async with target.provider() as cohere:
        response = await cohere.generate(SMALL, [{"role": "system", "content": "Answer with one word."},
                                                 {"role": "user", "content": "What is the capital of France?"}],
                                         temperature=0, max_tokens=10)
    sent, wire = target.request_json(0), target.response_json(0)
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert response.text == text_of(wire) and "paris" in response.text.lower()
    assert_usage(response.usage, wire["usage"])


@pytest.mark.vcr
def test_tool_call_round_trip(target: CassetteTarget) -> None:
    target.script(Reply.tool_call("get_weather", {"city": "Paris"}),
                  Reply("It is 21 degrees Celsius and sunny in Paris."))
    cohere = target.provider()
    tools = [ToolDefinition.from_function(get_weather)]
    history: list[Any] = [{"role": "user", "content": "What is the weather in Paris right now?"}]
    first = cohere.generate_sync(MODEL, history, tools=tools, tool_choice="required", temperature=0)
    sent, wire = target.request_json(0), target.response_json(0)
    assert sent["tool_choice"] == "REQUIRED" and sent["tools"][0]["function"]["name"] == "get_weather"
    [wire_call] = wire["message"]["tool_calls"]
    assert first.finish_reason is FinishReason.TOOL_CALLS and first.raw_finish_reason == "TOOL_CALL"
    [call] = first.tool_calls
    assert (call.id, call.name) == (wire_call["id"], "get_weather") and call.arguments["city"].lower() == "paris"
    assert "tool_plan" in wire["message"] and first.text == ""  # the plan is kept apart from the answer

    history += [first.message, tool_result(call.id, get_weather(**call.arguments))]
    final = cohere.generate_sync(MODEL, history, tools=tools, temperature=0)
    wire_final = target.response_json(1)
    assert final.tool_calls == [] and final.finish_reason is FinishReason.STOP
    assert final.text == text_of(wire_final) and "21" in final.text
    assert_usage(final.usage, wire_final["usage"])
    messages = target.request_json(1)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[1]["tool_plan"] == wire["message"]["tool_plan"]  # the plan went back with its calls
    assert messages[1]["tool_calls"][0]["id"] == call.id and messages[2]["tool_call_id"] == call.id


@pytest.mark.vcr
def test_documents_with_citations(target: CassetteTarget) -> None:
    target.script(Reply("Tuesday is launch day."))
    response = target.provider().generate_sync(MODEL, [{"role": "user", "content": [
        TextPart(text="When is the launch? Answer in one short sentence."),
        DocumentPart(text="The launch is on Tuesday.", title="Plan")]}], temperature=0)
    assert target.request_json(0)["documents"] == [{"id": "doc_0", "data": {"text": "The launch is on Tuesday.",
                                                                            "title": "Plan"}}]
    wire = target.response_json(0)
    assert response.text == text_of(wire) and "tuesday" in response.text.lower()
    wire_citations = wire["message"]["citations"]
    assert [(c.cited_text, c.start, c.end) for c in response.citations] == [
        (w["text"], w["start"], w["end"]) for w in wire_citations]
    assert response.citations and all(c.type == "document" and c.document_index == 0 for c in response.citations)
    assert response.citations[0].title == "Plan"


@pytest.mark.vcr
async def test_stream_async(target: CassetteTarget) -> None:
    target.script(Reply("one, two, three"))
    async with (
        target.provider() as cohere,
        cohere.stream(MODEL, "Count from one to three in lowercase words, separated by commas.",
                      temperature=0) as stream,
    ):
        events = [event async for event in stream]
    assert target.request_json(0)["stream"] is True
    wire = target.response_sse(0)
    deltas = [e.delta for e in events if isinstance(e, TextDeltaEvent)]
    wire_deltas = [e["delta"]["message"]["content"]["text"] for e in of_type(wire, "content-delta")]
    response = events[-1].response
    assert deltas == wire_deltas and len(deltas) >= 2
    assert "".join(deltas) == response.text and "three" in response.text.lower()
    [end] = of_type(wire, "message-end")
    assert response.id == of_type(wire, "message-start")[0]["id"]
    assert response.finish_reason is FinishReason.STOP and response.raw_finish_reason == end["delta"]["finish_reason"]
    [usage_event] = [e for e in events if isinstance(e, UsageEvent)]
    assert usage_event.usage == response.usage
    assert_usage(response.usage, end["delta"]["usage"])


@pytest.mark.vcr
def test_stream_sync_with_documents(target: CassetteTarget) -> None:
    target.script(Reply("Tuesday, by the plan."))
    with target.provider().stream_sync(MODEL, [{"role": "user", "content": [
            TextPart(text="When is the launch?"), DocumentPart(text="The launch is on Tuesday.", title="Plan")]}],
            temperature=0) as stream:
        events = list(stream)
    wire = target.response_sse(0)
    response = events[-1].response
    cited = [e["delta"]["message"]["citations"] for e in of_type(wire, "citation-start")]
    assert [(c.cited_text, c.start, c.end) for c in response.citations] == [(w["text"], w["start"], w["end"])
                                                                            for w in cited]
    assert response.citations and response.citations[0].title == "Plan"
    assert "tuesday" in response.text.lower()


# ---------------------------------------------------------------------- embed, rerank, tokenize, models


@pytest.mark.vcr
def test_embed_sync(target: CassetteTarget) -> None:
    texts = ["the cat sat on the mat", "a dog barked at the mailman"]
    result = target.provider().embed_sync(EMBED, texts, input_type="document", dimensions=256)
    sent, wire = target.request_json(0), target.response_json(0)
    assert (target.request_path(0), sent["texts"], sent["input_type"]) == ("/v2/embed", texts, "search_document")
    assert sent["output_dimension"] == 256 and sent["embedding_types"] == ["float"]
    assert result.vectors == wire["embeddings"]["float"]
    assert len(result.vectors) == 2 and all(len(v) == 256 for v in result.vectors)
    assert all(math.isfinite(x) for v in result.vectors for x in v) and result.vectors[0] != result.vectors[1]
    assert result.usage.input_tokens == wire["meta"]["billed_units"]["input_tokens"] > 0
    assert (result.model, result.provider) == (EMBED, "cohere")


@pytest.mark.vcr
async def test_embed_async(target: CassetteTarget) -> None:
    async with target.provider() as cohere:
        result = await cohere.embed(EMBED, ["hello", "world", "again"], input_type="query", dimensions=256)
    assert target.request_json(0)["input_type"] == "search_query"
    assert result.vectors == target.response_json(0)["embeddings"]["float"]


@pytest.mark.vcr
def test_rerank_sync(target: CassetteTarget) -> None:
    docs = ["bananas are yellow", "the launch is on tuesday", "launch day party"]
    result = target.provider().rerank_sync(RERANK, "launch tuesday", docs, top_n=2)
    assert target.request_json(0) == {"model": RERANK, "query": "launch tuesday", "documents": docs, "top_n": 2}
    wire = target.response_json(0)
    assert [(r.index, r.relevance_score) for r in result.results] == [(w["index"], w["relevance_score"])
                                                                      for w in wire["results"]]
    assert [r.document for r in result.results] == [docs[w["index"]] for w in wire["results"]]
    assert result.results[0].index == 1
    assert result.search_units == wire["meta"]["billed_units"]["search_units"] >= 1
    assert (result.model, result.provider) == (RERANK, "cohere")


@pytest.mark.vcr
async def test_rerank_async(target: CassetteTarget) -> None:
    docs = ["Paris is the capital of France", "Berlin is in Germany"]
    async with target.provider() as cohere:
        result = await cohere.rerank(RERANK, "capital of France", docs)
    assert [r.index for r in result.results] == [w["index"] for w in target.response_json(0)["results"]]
    assert result.results[0].index == 0


@pytest.mark.vcr
def test_count_tokens_sync(target: CassetteTarget) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "How are you today?"}]
    counted = target.provider().count_tokens_sync(MODEL, messages)
    assert target.request_path(0) == "/v1/tokenize"
    assert target.request_json(0) == {"text": "system: Be brief.\nuser: How are you today?", "model": MODEL}
    assert counted.exact and counted.input_tokens == len(target.response_json(0)["tokens"]) > 0
    assert counted.provider == "cohere"


@pytest.mark.vcr
async def test_count_tokens_async(target: CassetteTarget) -> None:
    async with target.provider() as cohere:
        counted = await cohere.count_tokens(SMALL, "Count these five words please.")
    assert counted.input_tokens == len(target.response_json(0)["tokens"]) > 0


@pytest.mark.vcr
def test_list_models_sync(target: CassetteTarget) -> None:
    models = target.provider().list_models_sync()
    assert target.request_path(0) == "/v1/models"
    wire = target.response_json(0)
    assert [m.id for m in models][: len(wire["models"])] == [m["name"] for m in wire["models"]]
    command = {m.id: m for m in models}[MODEL]
    assert command.provider == "cohere" and command.input_price is not None  # merged from the catalog
    assert command.context_window is not None and command.context_window > 100_000


@pytest.mark.vcr
async def test_list_models_async(target: CassetteTarget) -> None:
    async with target.provider() as cohere:
        models = await cohere.list_models()
    assert {m["name"] for m in target.response_json(0)["models"]} <= {m.id for m in models}


# ---------------------------------------------------------------------- errors


@pytest.mark.vcr
def test_error_rate_limit_sync(target: CassetteTarget) -> None:
    skip_live(target)
    target.script(Fault(429))
    with pytest.raises(RateLimitError) as caught:
        target.provider().generate_sync(MODEL, "hi", max_tokens=5)
    assert target._interaction(0)[1]["status"]["code"] == 429
    assert caught.value.status_code == 429
    assert target.response_json(0)["message"] in str(caught.value)


@pytest.mark.vcr
async def test_error_invalid_key_async(target: CassetteTarget) -> None:
    skip_live(target)
    target.script(Fault(401))
    async with target.provider() as cohere:
        with pytest.raises(AuthenticationError) as caught:
            await cohere.embed(EMBED, ["hello"], input_type="query")
    assert caught.value.status_code == 401
    assert target.response_json(0)["message"] in str(caught.value)


# ---------------------------------------------------------------------- vcrpy and secrets


def test_vcrpy_patches_httpx_transports(tmp_path: Path) -> None:
    """The cohere SDK sends through httpx (not httpx2): vcrpy must patch httpx's transports."""
    sync, async_ = httpx.HTTPTransport.handle_request, httpx.AsyncHTTPTransport.handle_async_request
    with VCR(record_mode="none").use_cassette(str(tmp_path / "unused.yaml")):
        assert httpx.HTTPTransport.handle_request is not sync
        assert httpx.AsyncHTTPTransport.handle_async_request is not async_
    assert httpx.HTTPTransport.handle_request is sync


def test_no_keys_in_these_cassettes() -> None:
    files = sorted((CASSETTE_DIR / MODULE).glob("*.yaml"))
    assert len(files) >= 16, "the Cohere cassettes are missing"
    leaks = [f"{where}: {m[:12]}..." for path in files for where, line in cassette_lines(path)
             for m in find_key_like(line)]
    leaks += [path.name for path in files if "authorization" in path.read_text(encoding="utf-8").lower()]
    assert not leaks, "credentials in the Cohere cassettes:\n" + "\n".join(leaks)
