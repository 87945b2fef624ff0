"""The Bedrock provider, through real boto3/botocore, replayed from cassettes in ``cassettes/test_cassettes_bedrock/``.

Record (against the emulator's Bedrock dialect, SigV4-signed with dummy AWS keys)::

    pytest tests/test_cassettes_bedrock.py --record-mode=once

Replay (CI)::

    AGENTOS_LLM_CASSETTE_NO_EMULATOR=1 pytest tests/test_cassettes_bedrock.py --record-mode=none --block-network

Re-record against AWS: ``AGENTOS_LLM_RECORD_LIVE=1 AWS_REGION=us-east-1 pytest tests/test_cassettes_bedrock.py
--record-mode=rewrite -k "not error"`` with AWS credentials in the environment (or a Bedrock API key in
``AWS_BEARER_TOKEN_BEDROCK``), see ``docs/cassettes.md``.

How vcrpy sees botocore: botocore sends through urllib3 with connection classes of its own
(``botocore.awsrequest.AWSHTTPConnection``); vcrpy's ``boto3`` patcher swaps them, on
``AWSHTTPConnectionPool.ConnectionCls``, for recording stubs. SigV4 signs every request (the signature, the
date and botocore's invocation id change on each run), so those headers are dropped before recording and
requests match on method, path, query and body only. ConverseStream's answer is AWS's binary event stream: it
is stored byte for byte (``!!binary`` in the YAML) and botocore checks its CRCs again on every replay.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.awsrequest import AWSHTTPConnectionPool, AWSHTTPSConnectionPool
from botocore.eventstream import EventStreamBuffer
from cassette_support import (
    AWS_TEST_CREDENTIALS,
    BEDROCK,
    BEDROCK_TEST_API_KEY,
    CASSETTE_DIR,
    LIVE_ENV,
    CassetteTarget,
    cassette_lines,
    find_key_like,
    open_target,
    skip_live,
)
from cassette_support import vcr_config as cassette_vcr_config
from vcr import VCR
from vcr.request import Request as VcrRequest

from agentos_llm.errors import RateLimitError
from agentos_llm.provider import IProvider
from agentos_llm.testing.aws_eventstream import event_message
from agentos_llm.testing.emulator import Fault, Reply
from agentos_llm.types import (
    FinishReason,
    ReasoningDeltaEvent,
    TextDeltaEvent,
    ToolDefinition,
    Usage,
    UsageEvent,
    tool_result,
)

MODULE = Path(__file__).stem
CLAUDE = "us.anthropic.claude-haiku-4-5-20251001-v1:0"  # reasoning with signatures, tools, token counting
CLAUDE_BASE = "anthropic.claude-haiku-4-5-20251001-v1:0"  # CountTokens takes the foundation model id
NOVA = "us.amazon.nova-micro-v1:0"
TITAN = "amazon.titan-embed-text-v2:0"
COHERE_EMBED = "cohere.embed-v4:0"
RERANK = "cohere.rerank-v3-5:0"
# Request headers SigV4 and botocore add; none may be in a cassette.
AWS_HEADERS = ("authorization", "x-amz-date", "x-amz-security-token", "amz-sdk-invocation-id", "amz-sdk-request")


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTE_DIR / MODULE)


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    return cassette_vcr_config(MODULE)


@pytest.fixture
def target(vcr: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[CassetteTarget]:
    if os.environ.get(LIVE_ENV) != "1":
        # Only the dummy keys sign: no profile, shared file, bearer token or instance role of this machine.
        for name in list(os.environ):
            if name.startswith("AWS_"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield from open_target(vcr, BEDROCK)


def provider(target: CassetteTarget, credentials: str = "keys") -> IProvider:
    """The Bedrock provider signing with dummy long-term keys (``keys``), temporary keys with a session token
    (``session``) or a Bedrock API key (``api_key``); live, whatever the environment gives."""
    if target.live:
        return target.provider()
    if credentials == "api_key":
        return target.provider(api_key=BEDROCK_TEST_API_KEY, aws_access_key_id=None, aws_secret_access_key=None)
    return target.provider(**AWS_TEST_CREDENTIALS[credentials])


def recorded_events(target: CassetteTarget, index: int) -> list[tuple[str, dict[str, Any]]]:
    """The recorded event stream of a ConverseStream answer, decoded by botocore (which checks every CRC)."""
    buffer = EventStreamBuffer()
    buffer.add_data(target.response_body(index))
    events = []
    for message in buffer:
        kind = message.headers.get(":event-type") or message.headers.get(":exception-type")
        events.append((str(kind), json.loads(message.payload)))
    return events


def assert_usage(usage: Usage, wire: dict[str, Any]) -> None:
    """Our usage is the recorded wire usage, cache reads and writes counted in the input."""
    read, written = wire.get("cacheReadInputTokens", 0), wire.get("cacheWriteInputTokens", 0)
    assert usage.input_tokens == wire["inputTokens"] + read + written > 0
    assert (usage.cached_input_tokens, usage.cache_write_input_tokens) == (read, written)
    assert usage.output_tokens == wire["outputTokens"] > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.cost_usd is not None and usage.cost_usd > 0  # priced in the catalog


def wire_text(wire: dict[str, Any]) -> str:
    return "".join(b["text"] for b in wire["output"]["message"]["content"] if "text" in b)


def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city."""
    return {"city": city, "temperature_c": 21, "conditions": "sunny"}


# ---------------------------------------------------------------------- converse


@pytest.mark.vcr
def test_converse_sync(target: CassetteTarget) -> None:
    target.script(Reply("pong"))
    response = provider(target).generate_sync(NOVA, "Reply with exactly one lowercase word: pong",
                                              temperature=0, max_tokens=10)
    assert target.request_path(0) == "/model/us.amazon.nova-micro-v1%3A0/converse"
    sent, wire = target.request_json(0), target.response_json(0)
    assert sent["messages"] == [{"role": "user", "content": [{"text": "Reply with exactly one lowercase word: pong"}]}]
    assert sent["inferenceConfig"] == {"maxTokens": 10, "temperature": 0}
    assert response.text == wire_text(wire) and "pong" in response.text.lower()
    assert response.finish_reason is FinishReason.STOP and response.raw_finish_reason == wire["stopReason"]
    assert (response.provider, response.model) == ("bedrock", NOVA)
    assert_usage(response.usage, wire["usage"])


@pytest.mark.vcr
async def test_converse_async_with_temporary_credentials(target: CassetteTarget) -> None:
    target.script(Reply("Paris"))
    async with provider(target, "session") as bedrock:
        response = await bedrock.generate(CLAUDE, [{"role": "system", "content": "Answer with one word."},
                                                   {"role": "user", "content": "What is the capital of France?"}],
                                          max_tokens=10)
    sent, wire = target.request_json(0), target.response_json(0)
    if target.emulator is not None and target.emulator.requests:  # recording: the secrets were on the wire
        [request] = target.emulator.requests
        session = AWS_TEST_CREDENTIALS["session"]
        assert request.headers["authorization"].startswith(
            f"AWS4-HMAC-SHA256 Credential={session['aws_access_key_id']}/")
        assert request.headers["x-amz-security-token"] == session["aws_session_token"]
    assert sent["system"] == [{"text": "Answer with one word."}]
    assert response.text == wire_text(wire) and "paris" in response.text.lower()
    assert response.finish_reason is FinishReason.STOP
    assert_usage(response.usage, wire["usage"])


@pytest.mark.vcr
def test_tool_call_round_trip(target: CassetteTarget) -> None:
    target.script(Reply.tool_call("get_weather", {"city": "Paris"}),
                  Reply("It is 21 degrees Celsius and sunny in Paris."))
    bedrock = provider(target)
    tools = [ToolDefinition.from_function(get_weather)]
    history: list[Any] = [{"role": "user", "content": "What is the weather in Paris right now?"}]
    first = bedrock.generate_sync(NOVA, history, tools=tools, tool_choice="required", temperature=0)
    sent, wire = target.request_json(0), target.response_json(0)
    assert sent["toolConfig"]["toolChoice"] == {"any": {}}
    assert sent["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"
    [use] = [b["toolUse"] for b in wire["output"]["message"]["content"] if "toolUse" in b]
    assert first.finish_reason is FinishReason.TOOL_CALLS and first.raw_finish_reason == "tool_use"
    [call] = first.tool_calls
    assert (call.id, call.name, call.arguments) == (use["toolUseId"], "get_weather", use["input"])
    assert call.arguments["city"].lower() == "paris"

    history += [first.message, tool_result(call.id, get_weather(**call.arguments))]
    final = bedrock.generate_sync(NOVA, history, tools=tools, temperature=0)
    wire_final = target.response_json(1)
    assert final.tool_calls == [] and final.finish_reason is FinishReason.STOP
    assert final.text == wire_text(wire_final) and "21" in final.text
    assert_usage(final.usage, wire_final["usage"])
    messages = target.request_json(1)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"][-1]["toolUse"]["toolUseId"] == call.id
    assert messages[2]["content"][0]["toolResult"]["toolUseId"] == call.id


@pytest.mark.vcr
def test_reasoning_signature_goes_back_verbatim(target: CassetteTarget) -> None:
    target.script(
        Reply(reasoning="The user wants the weather; I will call the tool.",
              tool_calls=[("get_weather", {"city": "Paris"})]),
        Reply("It is 21 degrees Celsius and sunny in Paris.", reasoning="The tool answered 21 C and sunny."),
    )
    bedrock = provider(target)
    tools = [ToolDefinition.from_function(get_weather)]
    history: list[Any] = [{"role": "user", "content": "What is the weather in Paris right now? Use the tool."}]
    first = bedrock.generate_sync(CLAUDE, history, tools=tools, reasoning_budget=1024, max_tokens=2000)
    sent, wire = target.request_json(0), target.response_json(0)
    assert sent["additionalModelRequestFields"]["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    reasoning = [b for b in wire["output"]["message"]["content"] if "reasoningContent" in b]
    assert reasoning and reasoning[0]["reasoningContent"]["reasoningText"]["signature"]
    assert first.reasoning == "".join(b["reasoningContent"]["reasoningText"]["text"] for b in reasoning)
    kept = [b.data["reasoningContent"] for b in first.message.vendor_blocks if b.type == "reasoningContent"]
    assert kept == [b["reasoningContent"] for b in reasoning]
    [call] = first.tool_calls

    history += [first.message, tool_result(call.id, get_weather(**call.arguments))]
    final = bedrock.generate_sync(CLAUDE, history, tools=tools, reasoning_budget=1024, max_tokens=2000)
    assert "21" in final.text and final.finish_reason is FinishReason.STOP
    assistant = target.request_json(1)["messages"][1]
    assert assistant["role"] == "assistant"
    # The signed reasoning went back first and byte for byte, as Claude requires in a tool loop.
    assert assistant["content"][: len(reasoning)] == reasoning
    assert assistant["content"][-1]["toolUse"]["toolUseId"] == call.id


# ---------------------------------------------------------------------- converse-stream (binary event stream)


@pytest.mark.vcr
def test_converse_stream_sync(target: CassetteTarget) -> None:
    target.script(Reply("one two three"))
    with provider(target).stream_sync(NOVA, "Count from one to three in lowercase words, nothing else.",
                                      temperature=0) as stream:
        events = list(stream)
    assert target.request_path(0) == "/model/us.amazon.nova-micro-v1%3A0/converse-stream"
    assert target.response_headers(0)["content-type"] == ["application/vnd.amazon.eventstream"]
    wire = recorded_events(target, 0)
    deltas = [e.delta for e in events if isinstance(e, TextDeltaEvent)]
    wire_deltas = [d["delta"]["text"] for kind, d in wire if kind == "contentBlockDelta" and "text" in d["delta"]]
    response = events[-1].response
    assert deltas == wire_deltas and len(deltas) >= 2
    assert "".join(deltas) == response.text and "three" in response.text.lower()
    [stop] = [d for kind, d in wire if kind == "messageStop"]
    assert response.finish_reason is FinishReason.STOP and response.raw_finish_reason == stop["stopReason"]
    [metadata] = [d for kind, d in wire if kind == "metadata"]
    [usage_event] = [e for e in events if isinstance(e, UsageEvent)]
    assert usage_event.usage == response.usage
    assert_usage(response.usage, metadata["usage"])


@pytest.mark.vcr
async def test_converse_stream_async_reasoning(target: CassetteTarget) -> None:
    target.script(Reply("Seventeen is prime.", reasoning="Check divisors up to four: 2 and 3 do not divide 17."))
    async with (
        provider(target, "session") as bedrock,
        bedrock.stream(CLAUDE, "Is 17 prime? Answer in one short sentence.", reasoning_budget=1024,
                       max_tokens=2000) as stream,
    ):
        events = [event async for event in stream]
    wire = recorded_events(target, 0)
    reasoning_deltas = [d["delta"]["reasoningContent"] for kind, d in wire
                        if kind == "contentBlockDelta" and "reasoningContent" in d["delta"]]
    response = events[-1].response
    reasoning = [e.delta for e in events if isinstance(e, ReasoningDeltaEvent)]
    assert reasoning == [d["text"] for d in reasoning_deltas if "text" in d]
    assert "".join(reasoning) == response.reasoning
    signatures = [d["signature"] for d in reasoning_deltas if "signature" in d]
    assert signatures and signatures[0]
    [block] = [b.data for b in response.message.vendor_blocks if b.type == "reasoningContent"]
    assert block["reasoningContent"]["reasoningText"] == {"text": response.reasoning, "signature": signatures[0]}
    assert "prime" in response.text.lower()
    [metadata] = [d for kind, d in wire if kind == "metadata"]
    assert_usage(response.usage, metadata["usage"])


def test_event_stream_bodies_are_stored_as_binary() -> None:
    """The event-stream cassettes hold the body as ``!!binary`` bytes that botocore parses, CRCs checked."""
    for name in ("test_converse_stream_sync", "test_converse_stream_async_reasoning"):
        path = CASSETTE_DIR / MODULE / f"{name}.yaml"
        text = path.read_text(encoding="utf-8")
        assert "string: !!binary" in text, name
        [interaction] = yaml.safe_load(text)["interactions"]
        body = interaction["response"]["body"]["string"]
        assert isinstance(body, bytes)
        buffer = EventStreamBuffer()
        buffer.add_data(body)
        kinds = [m.headers[":event-type"] for m in buffer]
        assert kinds[0] == "messageStart" and kinds[-1] == "metadata" and "contentBlockDelta" in kinds


# ---------------------------------------------------------------------- embeddings, rerank, counting, models


@pytest.mark.vcr
def test_titan_embeddings_sync(target: CassetteTarget) -> None:
    texts = ["the cat sat on the mat", "a dog barked at the mailman"]
    result = provider(target).embed_sync(TITAN, texts, dimensions=256)
    assert [target.request_path(i) for i in (0, 1)] == ["/model/amazon.titan-embed-text-v2%3A0/invoke"] * 2
    assert [target.request_json(i)["inputText"] for i in (0, 1)] == texts  # Titan embeds one text per call
    assert {target.request_json(i)["dimensions"] for i in (0, 1)} == {256}
    wire = [target.response_json(i) for i in (0, 1)]
    assert result.vectors == [w["embedding"] for w in wire]
    assert all(len(v) == 256 for v in result.vectors) and result.vectors[0] != result.vectors[1]
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, abs_tol=1e-3) for v in result.vectors)
    assert result.usage.input_tokens == sum(w["inputTextTokenCount"] for w in wire) > 0
    assert (result.model, result.provider) == (TITAN, "bedrock")


@pytest.mark.vcr
async def test_cohere_embeddings_async(target: CassetteTarget) -> None:
    texts = ["hello", "world", "again"]
    async with provider(target, "session") as bedrock:
        result = await bedrock.embed(COHERE_EMBED, texts, input_type="query", dimensions=256)
    sent, wire = target.request_json(0), target.response_json(0)
    assert sent["texts"] == texts and sent["input_type"] == "search_query" and sent["output_dimension"] == 256
    embeddings = wire["embeddings"]
    assert result.vectors == (embeddings["float"] if isinstance(embeddings, dict) else embeddings)
    assert len(result.vectors) == 3 and all(len(v) == 256 for v in result.vectors)


@pytest.mark.vcr
def test_rerank_sync(target: CassetteTarget) -> None:
    docs = ["bananas are yellow", "the launch is on tuesday", "launch day party"]
    result = provider(target).rerank_sync(RERANK, "when is the launch", docs, top_n=2)
    assert target.request_path(0) == "/model/cohere.rerank-v3-5%3A0/invoke"
    assert target.request_json(0) == {"query": "when is the launch", "documents": docs, "top_n": 2,
                                      "api_version": 2}
    wire = target.response_json(0)["results"]
    assert [(r.index, r.relevance_score) for r in result.results] == [(w["index"], w["relevance_score"])
                                                                      for w in wire]
    assert len(result.results) == 2 and result.results[0].document == docs[1]
    assert (result.model, result.provider) == (RERANK, "bedrock")


@pytest.mark.vcr
async def test_rerank_async(target: CassetteTarget) -> None:
    docs = ["Paris is the capital of France", "Berlin is in Germany"]
    async with provider(target) as bedrock:
        result = await bedrock.rerank(RERANK, "capital of France", docs)
    wire = target.response_json(0)["results"]
    assert target.request_json(0)["top_n"] == 2
    assert [r.index for r in result.results] == [w["index"] for w in wire] and result.results[0].index == 0


@pytest.mark.vcr
def test_count_tokens_sync(target: CassetteTarget) -> None:
    counted = provider(target).count_tokens_sync(CLAUDE_BASE, [{"role": "system", "content": "Be brief."},
                                                               {"role": "user", "content": "How are you today?"}],
                                                 tools=[ToolDefinition.from_function(get_weather)])
    assert target.request_path(0) == "/model/anthropic.claude-haiku-4-5-20251001-v1%3A0/count-tokens"
    converse = target.request_json(0)["input"]["converse"]
    assert converse["system"] == [{"text": "Be brief."}]
    assert converse["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"
    assert counted.exact and counted.input_tokens == target.response_json(0)["inputTokens"] > 0
    assert counted.provider == "bedrock"


@pytest.mark.vcr
async def test_count_tokens_async(target: CassetteTarget) -> None:
    async with provider(target, "session") as bedrock:
        counted = await bedrock.count_tokens(CLAUDE_BASE, "Count these five words please.")
    assert target.request_json(0)["input"]["converse"]["messages"][0]["content"] == [
        {"text": "Count these five words please."}]
    assert counted.input_tokens == target.response_json(0)["inputTokens"] > 0


@pytest.mark.vcr
def test_list_models_sync(target: CassetteTarget) -> None:
    models = provider(target).list_models_sync()
    # The control plane (the `bedrock` client): foundation models, then every page of inference profiles.
    assert [target.request_path(i) for i in (0, 1)] == ["/foundation-models", "/inference-profiles"]
    assert target._interaction(1)[0].query == [("maxResults", "1000")]
    listed = {m.id: m for m in models}
    foundation = [s["modelId"] for s in target.response_json(0)["modelSummaries"]]
    profiles = [s["inferenceProfileId"] for s in target.response_json(1)["inferenceProfileSummaries"]]
    assert set(foundation) | set(profiles) <= set(listed) and profiles
    assert all(m.provider == "bedrock" for m in models)
    nova = listed["amazon.nova-micro-v1:0"]
    assert nova.input_price is not None  # merged from the catalog


@pytest.mark.vcr
async def test_list_models_async_with_an_api_key(target: CassetteTarget) -> None:
    async with provider(target, "api_key") as bedrock:
        models = await bedrock.list_models()
    if target.emulator is not None and target.emulator.requests:  # recording: the key was on the wire
        assert target.emulator.requests[0].headers["authorization"] == f"Bearer {BEDROCK_TEST_API_KEY}"
    assert {s["modelId"] for s in target.response_json(0)["modelSummaries"]} <= {m.id for m in models}


# ---------------------------------------------------------------------- errors


@pytest.mark.vcr
def test_error_throttling_sync(target: CassetteTarget) -> None:
    skip_live(target)
    target.script(Fault(429, code="ThrottlingException"))
    with pytest.raises(RateLimitError) as caught:
        provider(target).generate_sync(NOVA, "hi", max_tokens=5)
    headers = target.response_headers(0)
    assert target._interaction(0)[1]["status"]["code"] == 429
    assert headers["x-amzn-errortype"][0].startswith("ThrottlingException")
    assert caught.value.status_code == 429
    assert caught.value.request_id == headers["x-amzn-requestid"][0]
    assert target.response_json(0)["message"] in str(caught.value)


@pytest.mark.vcr
async def test_error_throttling_inside_a_stream_async(target: CassetteTarget) -> None:
    skip_live(target)
    target.script(Fault(200, stream_error={"type": "throttlingException", "message": "Too many tokens, slow down."}))
    async with provider(target, "session") as bedrock:
        with pytest.raises(RateLimitError) as caught:
            async with bedrock.stream(NOVA, "hi", max_tokens=5) as stream:
                async for _ in stream:
                    pass
    kinds = [kind for kind, _ in recorded_events(target, 0)]
    assert kinds == ["messageStart", "throttlingException"]
    assert "Too many tokens" in str(caught.value)


# ---------------------------------------------------------------------- vcrpy and scrubbing


def test_vcrpy_patches_botocore_connections(tmp_path: Path) -> None:
    """botocore sends through urllib3 pools whose connection classes vcrpy's boto3 patcher replaces."""
    plain, secure = AWSHTTPConnectionPool.ConnectionCls, AWSHTTPSConnectionPool.ConnectionCls
    with VCR(record_mode="none").use_cassette(str(tmp_path / "unused.yaml")):
        assert AWSHTTPConnectionPool.ConnectionCls is not plain
        assert AWSHTTPSConnectionPool.ConnectionCls is not secure
        assert AWSHTTPConnectionPool.ConnectionCls.__module__.startswith("vcr.")
    assert (AWSHTTPConnectionPool.ConnectionCls, AWSHTTPSConnectionPool.ConnectionCls) == (plain, secure)


def test_scrubbing_removes_aws_credentials() -> None:
    """SigV4 and bearer headers (as botocore gives them, partly bytes) leave nothing behind; the rest is text."""
    config = VCR().get_merged_config(**cassette_vcr_config(MODULE))
    keys, session = AWS_TEST_CREDENTIALS["keys"], AWS_TEST_CREDENTIALS["session"]
    headers = {
        "Authorization": (f"AWS4-HMAC-SHA256 Credential={keys['aws_access_key_id']}/20260101/us-east-1/bedrock/"
                          "aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "ab" * 32).encode(),
        "X-Amz-Date": b"20260101T000000Z",
        "X-Amz-Security-Token": session["aws_session_token"].encode(),
        "amz-sdk-invocation-id": b"0b4e1f0e-0000-4000-8000-000000000000",
        "amz-sdk-request": b"attempt=1; max=1",
        "X-Echo": f"id {session['aws_access_key_id']} bearer {BEDROCK_TEST_API_KEY}".encode(),
        "Content-Type": b"application/json",
    }
    body = json.dumps({"messages": [{"role": "user", "content": [{"text": keys["aws_secret_access_key"]}]}]})
    request = VcrRequest("POST", "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse", body, headers)
    scrubbed = config["before_record_request"](request)
    assert {k.lower() for k in scrubbed.headers} == {"x-echo", "content-type"}
    assert scrubbed.headers["Content-Type"] == "application/json"  # bytes made text: readable and scanned
    dumped = json.dumps([dict(scrubbed.headers), scrubbed.body.decode()])
    assert find_key_like(dumped) == []
    for secret in [*keys.values(), *session.values(), BEDROCK_TEST_API_KEY]:
        assert secret not in dumped
    bearer = VcrRequest("GET", "https://bedrock.us-east-1.amazonaws.com/foundation-models", None,
                        {"Authorization": f"Bearer {BEDROCK_TEST_API_KEY}"})
    assert dict(config["before_record_request"](bearer).headers) == {}


def test_a_key_inside_an_event_stream_is_scrubbed_and_the_frames_stay_valid() -> None:
    config = VCR().get_merged_config(**cassette_vcr_config(MODULE))
    key_id = AWS_TEST_CREDENTIALS["session"]["aws_access_key_id"]
    clean = [event_message("messageStart", {"role": "assistant"}),
             event_message("messageStop", {"stopReason": "end_turn"})]
    leaky = event_message("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": f"my key is {key_id}"}})

    def record(messages: list[bytes]) -> bytes:
        response = {"status": {"code": 200, "message": "OK"},
                    "headers": {"Content-Type": ["application/vnd.amazon.eventstream"]},
                    "body": {"string": b"".join(messages)}}
        body: bytes = config["before_record_response"](response)["body"]["string"]
        return body

    assert record(clean) == b"".join(clean)  # nothing to take out: byte for byte
    scrubbed = record([clean[0], leaky, clean[1]])
    buffer = EventStreamBuffer()
    buffer.add_data(scrubbed)  # botocore checks both CRCs of every message
    payloads = [json.loads(m.payload) for m in buffer]
    assert payloads[1]["delta"]["text"] == "my key is <REDACTED>"
    assert payloads[0] == {"role": "assistant"} and payloads[2] == {"stopReason": "end_turn"}
    assert key_id.encode() not in scrubbed


def test_no_aws_credentials_in_these_cassettes() -> None:
    files = sorted((CASSETTE_DIR / MODULE).glob("*.yaml"))
    assert len(files) >= 16, "the Bedrock cassettes are missing"
    leaks = []
    for path in files:
        for where, line in cassette_lines(path):
            leaks += [f"{where}: {m[:12]}..." for m in find_key_like(line)]
            stripped = line.strip().rstrip(":").strip("'\"").lower()
            if stripped in AWS_HEADERS or "aws4-hmac-sha256" in line.lower():
                leaks.append(f"{where}: {stripped[:40]}")
    assert not leaks, "credentials in the Bedrock cassettes:\n" + "\n".join(leaks)
