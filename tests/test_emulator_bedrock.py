"""The wire emulator's AWS Bedrock dialect, driven by the real boto3 `bedrock-runtime` and `bedrock` clients
(and by plain HTTP where the raw bytes matter); its event-stream framing checked against botocore's decoder
and against real recorded ConverseStream bodies."""

from __future__ import annotations

import base64
import http.client
import json
import math
import struct
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")

from botocore.config import Config  # noqa: E402
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer  # noqa: E402
from botocore.exceptions import ClientError, ConnectionClosedError, EventStreamError  # noqa: E402
from urllib3.exceptions import ProtocolError  # noqa: E402

from agentos_llm.testing.aws_eventstream import (  # noqa: E402
    CONTENT_TYPE,
    encode_message,
    event_message,
    exception_message,
)
from agentos_llm.testing.bedrock_invoke import rerank_score  # noqa: E402
from agentos_llm.testing.emulator import Fault, Reply, WireEmulator  # noqa: E402

SAMPLES_FILE = Path(__file__).resolve().parent / "data" / "wire-samples" / "samples.jsonl"
MODEL = "us.amazon.nova-micro-v1:0"
USER = [{"role": "user", "content": [{"text": "What is the weather in Paris?"}]}]
TOOLS = {"tools": [{"toolSpec": {"name": "get_weather", "description": "Weather of a city", "inputSchema": {
    "json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}}]}
FULL = Reply("It is sunny in Paris today", reasoning="The user wants the weather",
             tool_calls=[("get_weather", {"city": "Paris", "unit": "celsius"})], prompt_tokens=40,
             cached_tokens=25, cache_write_tokens=5)


@pytest.fixture(scope="module")
def server() -> Iterator[WireEmulator]:
    with WireEmulator() as emu:
        yield emu


@pytest.fixture
def emu(server: WireEmulator) -> Iterator[WireEmulator]:
    server.reset()
    yield server
    server.reset()


def _client(emu: WireEmulator, service: str) -> Any:
    config = Config(retries={"total_max_attempts": 1}, max_pool_connections=50, read_timeout=30)
    return boto3.client(service, endpoint_url=emu.bedrock_base_url, region_name="us-east-1",
                        aws_access_key_id="x", aws_secret_access_key="y", config=config)


@pytest.fixture
def runtime(emu: WireEmulator) -> Iterator[Any]:
    client = _client(emu, "bedrock-runtime")
    yield client
    client.close()


@pytest.fixture
def control(emu: WireEmulator) -> Iterator[Any]:
    client = _client(emu, "bedrock")
    yield client
    client.close()


def _decode(raw: bytes) -> list[tuple[dict[str, Any], Any]]:
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    return [(message.headers, json.loads(message.payload)) for message in buffer]


def _assemble(events: list[dict[str, Any]]) -> dict[str, Any]:
    """What a client builds from a ConverseStream: texts, tool inputs and reasoning per block."""
    blocks: dict[int, dict[str, Any]] = {}
    out: dict[str, Any] = {"order": [next(iter(e)) for e in events], "blocks": blocks}
    for event in events:
        name, data = next(iter(event.items()))
        if name == "contentBlockStart":
            blocks[data["contentBlockIndex"]] = {"tool": data["start"]["toolUse"], "input": ""}
        elif name == "contentBlockDelta":
            block = blocks.setdefault(data["contentBlockIndex"], {})
            delta = data["delta"]
            if "text" in delta:
                block["text"] = block.get("text", "") + delta["text"]
            elif "toolUse" in delta:
                block["input"] += delta["toolUse"]["input"]
            else:
                for key, value in delta["reasoningContent"].items():
                    block[key] = block.get(key, "") + value
        elif name == "messageStop":
            out["stop"] = data["stopReason"]
        elif name == "metadata":
            out["usage"] = data["usage"]
    return out


def _post(emu: WireEmulator, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(emu.host, int(emu.url.rsplit(":", 1)[1]), timeout=30)
    try:
        conn.request("POST", path, json.dumps(body), {"content-type": "application/json"})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# The event-stream encoder
# --------------------------------------------------------------------------------------------


def test_encoded_frames_have_the_aws_layout_and_decode_with_botocore() -> None:
    raw = event_message("messageStop", {"stopReason": "end_turn"})
    total, headers_length = struct.unpack(">II", raw[:8])
    assert total == len(raw)
    assert struct.unpack(">I", raw[8:12])[0] == zlib.crc32(raw[:8])
    assert struct.unpack(">I", raw[-4:])[0] == zlib.crc32(raw[:-4])
    assert raw[12:12 + headers_length].startswith(b"\x0b:event-type\x07\x00\x0bmessageStop")
    both = raw + exception_message("throttlingException", {"message": "slow"})
    assert _decode(both) == [
        ({":event-type": "messageStop", ":content-type": "application/json", ":message-type": "event"},
         {"stopReason": "end_turn"}),
        ({":exception-type": "throttlingException", ":content-type": "application/json",
          ":message-type": "exception"}, {"message": "slow"}),
    ]


def _recorded_streams() -> list[tuple[str, bytes]]:
    if not SAMPLES_FILE.is_file():
        return []
    out = []
    with SAMPLES_FILE.open() as fh:
        for line in fh:
            record = json.loads(line)
            if record["kind"] == "bedrock-converse" and record.get("body_b64"):
                out.append((record["id"], base64.b64decode(record["body_b64"])))
    return out


@pytest.mark.parametrize(("sample_id", "raw"), _recorded_streams() or [pytest.param("", b"", marks=pytest.mark.skip(
    reason="recorded wire samples not found"))])
def test_recorded_streams_are_reproduced_byte_for_byte(sample_id: str, raw: bytes) -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    messages = list(buffer)
    assert len(messages) > 3
    assert b"".join(encode_message(m.headers, m.payload) for m in messages) == raw


# --------------------------------------------------------------------------------------------
# Converse
# --------------------------------------------------------------------------------------------


def test_converse_echoes_by_default_and_the_request_is_recorded(emu: WireEmulator, runtime: Any) -> None:
    answer = runtime.converse(modelId=MODEL, messages=USER, system=[{"text": "Be brief."}],
                              inferenceConfig={"maxTokens": 50})
    assert answer["output"]["message"] == {"role": "assistant",
                                           "content": [{"text": "Echo: What is the weather in Paris?"}]}
    assert answer["stopReason"] == "end_turn"
    assert answer["usage"] == {"inputTokens": 8, "outputTokens": 7, "totalTokens": 15,
                               "cacheReadInputTokens": 0, "cacheWriteInputTokens": 0}
    assert answer["metrics"]["latencyMs"] > 0
    (request,) = emu.requests
    assert request.method == "POST"
    assert request.path == "/model/us.amazon.nova-micro-v1%3A0/converse"
    assert request.body["inferenceConfig"] == {"maxTokens": 50}
    assert request.body["system"] == [{"text": "Be brief."}]
    assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=x/")


def test_converse_renders_reasoning_text_tool_use_and_cache_usage(emu: WireEmulator, runtime: Any) -> None:
    emu.script(FULL)
    answer = runtime.converse(modelId=MODEL, messages=USER, toolConfig=TOOLS)
    reasoning, text, tool = answer["output"]["message"]["content"]
    assert reasoning["reasoningContent"]["reasoningText"]["text"] == "The user wants the weather"
    assert reasoning["reasoningContent"]["reasoningText"]["signature"]
    assert text == {"text": "It is sunny in Paris today"}
    assert tool["toolUse"]["name"] == "get_weather"
    assert tool["toolUse"]["input"] == {"city": "Paris", "unit": "celsius"}
    assert tool["toolUse"]["toolUseId"].startswith("tooluse_")
    assert answer["stopReason"] == "tool_use"
    # Bedrock's inputTokens leaves cache reads and writes out; totalTokens counts them.
    assert answer["usage"] == {"inputTokens": 10, "outputTokens": 12, "totalTokens": 52,
                               "cacheReadInputTokens": 25, "cacheWriteInputTokens": 5}


@pytest.mark.parametrize(("finish", "stop"), [("length", "max_tokens"), ("stop", "end_turn"),
                                              ("content_filter", "content_filtered"),
                                              ("guardrail_intervened", "guardrail_intervened")])
def test_converse_stop_reason_mapping(emu: WireEmulator, runtime: Any, finish: str, stop: str) -> None:
    emu.script(Reply("cut", finish_reason=finish))
    assert runtime.converse(modelId=MODEL, messages=USER)["stopReason"] == stop


def test_default_reply_calls_a_forced_tool_and_fills_a_json_schema(emu: WireEmulator, runtime: Any) -> None:
    forced = {**TOOLS, "toolChoice": {"tool": {"name": "get_weather"}}}
    answer = runtime.converse(modelId=MODEL, messages=USER, toolConfig=forced)
    (block,) = answer["output"]["message"]["content"]
    assert block["toolUse"]["name"] == "get_weather"
    assert block["toolUse"]["input"] == {"city": "example"}
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    answer = runtime.converse(modelId=MODEL, messages=USER, outputConfig={"textFormat": {
        "type": "json_schema", "structure": {"jsonSchema": {"schema": json.dumps(schema), "name": "out"}}}})
    assert json.loads(answer["output"]["message"]["content"][0]["text"]) == {"n": 1}


# --------------------------------------------------------------------------------------------
# ConverseStream
# --------------------------------------------------------------------------------------------


def test_converse_stream_orders_events_and_assembles_the_answer(emu: WireEmulator, runtime: Any) -> None:
    emu.script(FULL)
    events = list(runtime.converse_stream(modelId=MODEL, messages=USER, toolConfig=TOOLS)["stream"])
    got = _assemble(events)
    order = got["order"]
    assert order[0] == "messageStart" and order[-2:] == ["messageStop", "metadata"]
    # Reasoning (block 0) and text (block 1) have no contentBlockStart; the tool call (block 2) has one.
    assert order.count("contentBlockStart") == 1 and order.count("contentBlockStop") == 3
    assert order.index("contentBlockStart") > order.index("contentBlockStop")
    deltas = [e["contentBlockDelta"] for e in events if "contentBlockDelta" in e]
    assert sum("text" in d["delta"] for d in deltas) == 6
    assert sum("toolUse" in d["delta"] for d in deltas) == 3
    reasoning = [d["delta"]["reasoningContent"] for d in deltas if "reasoningContent" in d["delta"]]
    assert "signature" in reasoning[-1] and all("text" in r for r in reasoning[:-1])
    blocks = got["blocks"]
    assert blocks[0]["text"] == "The user wants the weather" and blocks[0]["signature"]
    assert blocks[1]["text"] == "It is sunny in Paris today"
    assert blocks[2]["tool"] == {"toolUseId": blocks[2]["tool"]["toolUseId"], "name": "get_weather"}
    assert json.loads(blocks[2]["input"]) == {"city": "Paris", "unit": "celsius"}
    assert got["stop"] == "tool_use"
    assert got["usage"]["totalTokens"] == 52 and got["usage"]["inputTokens"] == 10


def test_stream_and_whole_answers_carry_the_same_blocks(emu: WireEmulator, runtime: Any) -> None:
    emu.script(Reply("Same words", reasoning="why"), Reply("Same words", reasoning="why"))
    whole = runtime.converse(modelId=MODEL, messages=USER)["output"]["message"]["content"]
    streamed = _assemble(list(runtime.converse_stream(modelId=MODEL, messages=USER)["stream"]))["blocks"]
    assert streamed[0] == whole[0]["reasoningContent"]["reasoningText"]
    assert streamed[1] == whole[1]


def test_stream_wire_bytes_are_aws_event_stream_messages(emu: WireEmulator) -> None:
    emu.script(Reply("two words"))
    status, headers, raw = _post(emu, "/model/us.amazon.nova-micro-v1%3A0/converse-stream", {"messages": USER})
    assert status == 200 and headers["content-type"] == CONTENT_TYPE
    decoded = _decode(raw)
    assert [h[":event-type"] for h, _ in decoded] == [
        "messageStart", "contentBlockDelta", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"]
    assert all(h[":message-type"] == "event" and h[":content-type"] == "application/json" for h, _ in decoded)
    # Like Bedrock, every payload carries a junk "p" padding field a client must ignore.
    assert all(isinstance(p.get("p"), str) and p["p"] for _, p in decoded)


def test_empty_text_streams_one_empty_delta(emu: WireEmulator, runtime: Any) -> None:
    emu.script(Reply(""))
    got = _assemble(list(runtime.converse_stream(modelId=MODEL, messages=USER)["stream"]))
    assert got["blocks"] == {0: {"text": ""}}


def test_fifty_concurrent_streams(emu: WireEmulator, runtime: Any) -> None:
    def one(n: int) -> str:
        messages = [{"role": "user", "content": [{"text": f"question number {n}"}]}]
        got = _assemble(list(runtime.converse_stream(modelId=MODEL, messages=messages)["stream"]))
        assert got["order"][-1] == "metadata"
        return str(got["blocks"][0]["text"])

    with ThreadPoolExecutor(max_workers=50) as pool:
        texts = list(pool.map(one, range(50)))
    assert texts == [f"Echo: question number {n}" for n in range(50)]
    assert emu.hits("/converse-stream") == 50


# --------------------------------------------------------------------------------------------
# InvokeModel: embeddings and rerank
# --------------------------------------------------------------------------------------------


def _invoke(runtime: Any, model: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = runtime.invoke_model(modelId=model, body=json.dumps(body), contentType="application/json",
                                  accept="application/json")
    assert answer["contentType"] == "application/json"
    return json.loads(answer["body"].read())  # type: ignore[no-any-return]


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(v * v for v in vector))


def test_titan_embeddings(emu: WireEmulator, runtime: Any) -> None:
    v2 = _invoke(runtime, "amazon.titan-embed-text-v2:0", {"inputText": "Hello, world!", "normalize": True})
    assert len(v2["embedding"]) == 1024 and v2["embeddingsByType"]["float"] == v2["embedding"]
    assert v2["inputTextTokenCount"] == 2 and _norm(v2["embedding"]) == pytest.approx(1.0)
    small = _invoke(runtime, "amazon.titan-embed-text-v2:0", {"inputText": "Hello, world!", "dimensions": 256})
    assert len(small["embedding"]) == 256
    again = _invoke(runtime, "amazon.titan-embed-text-v2:0", {"inputText": "Hello, world!"})
    other = _invoke(runtime, "amazon.titan-embed-text-v2:0", {"inputText": "Goodbye"})
    assert again["embedding"] == v2["embedding"] != other["embedding"]
    v1 = _invoke(runtime, "amazon.titan-embed-text-v1", {"inputText": "Hello"})
    assert len(v1["embedding"]) == 1536 and "embeddingsByType" not in v1
    assert emu.requests[0].path == "/model/amazon.titan-embed-text-v2%3A0/invoke"
    assert emu.requests[0].body == {"inputText": "Hello, world!", "normalize": True}
    with pytest.raises(ClientError) as caught:
        _invoke(runtime, "amazon.titan-embed-text-v2:0", {"inputText": "x", "dimensions": 300})
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_cohere_embeddings_v4_by_type_and_v3_floats(runtime: Any) -> None:
    v4 = _invoke(runtime, "cohere.embed-v4:0", {"texts": ["Hello", "World"], "input_type": "search_document"})
    assert v4["response_type"] == "embeddings_by_type" and v4["texts"] == ["Hello", "World"] and v4["id"]
    assert [len(v) for v in v4["embeddings"]["float"]] == [1536, 1536]
    v3 = _invoke(runtime, "cohere.embed-english-v3", {"texts": ["Hello"], "input_type": "search_query"})
    assert v3["response_type"] == "embeddings_floats" and v3["texts"] == ["hello"]
    assert [len(v) for v in v3["embeddings"]] == [1024]
    typed = _invoke(runtime, "cohere.embed-v4:0", {"texts": ["Hi"], "input_type": "search_query",
                                                   "embedding_types": ["float", "int8"], "output_dimension": 512})
    assert set(typed["embeddings"]) == {"float", "int8"}
    assert len(typed["embeddings"]["float"][0]) == 512
    assert all(isinstance(i, int) and -128 <= i <= 127 for i in typed["embeddings"]["int8"][0])
    with pytest.raises(ClientError) as caught:
        _invoke(runtime, "cohere.embed-v4:0", {"texts": ["no input type"]})
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_nova_embeddings(runtime: Any) -> None:
    body: dict[str, Any] = {"taskType": "SINGLE_EMBEDDING", "singleEmbeddingParams": {
        "embeddingPurpose": "GENERIC_INDEX", "text": {"value": "hello", "truncationMode": "END"}}}
    answer = _invoke(runtime, "amazon.nova-2-multimodal-embeddings-v1:0", body)
    (item,) = answer["embeddings"]
    assert item["embeddingType"] == "TEXT" and len(item["embedding"]) == 3072
    body["singleEmbeddingParams"]["embeddingDimension"] = 1024
    assert len(_invoke(runtime, "amazon.nova-2-multimodal-embeddings-v1:0", body)["embeddings"][0]["embedding"]) == 1024


def test_rerank_orders_documents_by_word_overlap(runtime: Any) -> None:
    documents = ["The capital of France is Paris.", "Bananas are yellow.", "Paris is a city of lights.",
                 "France and the capital Paris: the capital of France is Paris"]
    answer = _invoke(runtime, "cohere.rerank-v3-5:0", {"query": "capital of France", "documents": documents,
                                                       "top_n": 3, "api_version": 2})
    results = answer["results"]
    assert [r["index"] for r in results] == [0, 3, 2]
    scores = [r["relevance_score"] for r in results]
    assert scores == sorted(scores, reverse=True) and scores[-1] < scores[0] <= 1.0
    assert rerank_score("capital of France", documents[1]) == 0.0
    everything = _invoke(runtime, "amazon.rerank-v1:0", {"query": "capital of France", "documents": documents})
    assert len(everything["results"]) == 4 and everything["results"][-1]["index"] == 1


def test_invoke_of_an_unknown_body_is_a_validation_error(runtime: Any) -> None:
    with pytest.raises(ClientError) as caught:
        _invoke(runtime, "meta.llama3-8b-instruct-v1:0", {"prompt": "hi"})
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# --------------------------------------------------------------------------------------------
# CountTokens and the control plane
# --------------------------------------------------------------------------------------------


def test_count_tokens(emu: WireEmulator, runtime: Any) -> None:
    converse = {"messages": USER, "system": [{"text": "Be brief."}]}
    assert runtime.count_tokens(modelId=MODEL, input={"converse": converse})["inputTokens"] == 8
    with_tools = runtime.count_tokens(modelId=MODEL, input={"converse": {**converse, "toolConfig": TOOLS}})
    assert with_tools["inputTokens"] > 8
    messages = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10,
                "messages": [{"role": "user", "content": "one two three"}]}
    invoked = runtime.count_tokens(modelId="anthropic.claude-sonnet-4-5-20250929-v1:0",
                                   input={"invokeModel": {"body": json.dumps(messages).encode()}})
    assert invoked["inputTokens"] == 3
    emu.script(Reply(prompt_tokens=77))
    assert runtime.count_tokens(modelId=MODEL, input={"converse": converse})["inputTokens"] == 77
    assert emu.requests[0].path == "/model/us.amazon.nova-micro-v1%3A0/count-tokens"
    assert emu.requests[0].body == {"input": {"converse": converse}}


def test_list_foundation_models(control: Any) -> None:
    summaries = control.list_foundation_models()["modelSummaries"]
    ids = [s["modelId"] for s in summaries]
    assert ids == ["anthropic.claude-sonnet-4-5-20250929-v1:0", "amazon.nova-micro-v1:0",
                   "amazon.titan-embed-text-v2:0", "cohere.embed-v4:0", "cohere.rerank-v3-5:0"]
    claude = summaries[0]
    assert claude["modelArn"] == "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert claude["providerName"] == "Anthropic" and claude["responseStreamingSupported"] is True
    assert claude["modelLifecycle"]["status"] == "ACTIVE"
    embedders = control.list_foundation_models(byOutputModality="EMBEDDING")["modelSummaries"]
    assert [s["modelId"] for s in embedders] == ["amazon.titan-embed-text-v2:0", "cohere.embed-v4:0"]
    assert len(control.list_foundation_models(byProvider="cohere")["modelSummaries"]) == 2


def test_list_inference_profiles(control: Any) -> None:
    profiles = control.list_inference_profiles()["inferenceProfileSummaries"]
    assert [p["inferenceProfileId"] for p in profiles] == ["us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                                                          "global.anthropic.claude-sonnet-4-5-20250929-v1:0"]
    us = profiles[0]
    assert us["status"] == "ACTIVE" and us["type"] == "SYSTEM_DEFINED"
    assert us["inferenceProfileArn"].endswith(":inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert len(us["models"]) == 3
    assert [m["modelArn"].split(":")[3] for m in us["models"]] == ["us-east-1", "us-east-2", "us-west-2"]
    first = control.list_inference_profiles(maxResults=1)
    assert len(first["inferenceProfileSummaries"]) == 1 and first["nextToken"]
    second = control.list_inference_profiles(maxResults=1, nextToken=first["nextToken"])
    assert second["inferenceProfileSummaries"][0]["inferenceProfileId"].startswith("global.")
    assert "nextToken" not in second
    assert control.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"] == []


# --------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fault", "code"), [
    (Fault(429), "ThrottlingException"), (Fault(400), "ValidationException"), (Fault(403), "AccessDeniedException"),
    (Fault(404), "ResourceNotFoundException"), (Fault(408), "ModelTimeoutException"),
    (Fault(500), "InternalServerException"), (Fault(503), "ServiceUnavailableException"),
    (Fault(429, code="ServiceQuotaExceededException"), "ServiceQuotaExceededException"),
    (Fault(424, code="ModelErrorException"), "ModelErrorException"),
])
def test_faults_map_to_botocore_error_codes(emu: WireEmulator, runtime: Any, fault: Fault, code: str) -> None:
    emu.script(fault)
    with pytest.raises(ClientError) as caught:
        runtime.converse(modelId=MODEL, messages=USER)
    response = caught.value.response
    assert response["Error"]["Code"] == code and response["Error"]["Message"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == fault.status
    assert type(caught.value).__name__ == code  # botocore's modeled exception class


def test_fault_headers_retry_after_and_custom_body(emu: WireEmulator, runtime: Any) -> None:
    emu.script(Fault(429, retry_after="7"), Fault(400, body={"message": "The provided model identifier is invalid."}))
    with pytest.raises(ClientError) as caught:
        runtime.converse(modelId=MODEL, messages=USER)
    headers = caught.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["retry-after"] == "7"
    assert headers["x-amzn-errortype"] == "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"
    with pytest.raises(ClientError) as caught:
        runtime.converse_stream(modelId=MODEL, messages=USER)
    assert caught.value.response["Error"] == {"Code": "ValidationException",
                                              "Message": "The provided model identifier is invalid."}


def test_faults_on_invoke_and_count_tokens(emu: WireEmulator, runtime: Any) -> None:
    emu.script(Fault(429), Fault(503))
    with pytest.raises(ClientError) as caught:
        _invoke(runtime, "amazon.titan-embed-text-v2:0", {"inputText": "x"})
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    with pytest.raises(ClientError) as caught:
        runtime.count_tokens(modelId=MODEL, input={"converse": {"messages": USER}})
    assert caught.value.response["Error"]["Code"] == "ServiceUnavailableException"


@pytest.mark.parametrize(("fault", "code", "message"), [
    (Fault(stream_error={"type": "modelStreamErrorException", "message": "boom", "originalStatusCode": 500}),
     "modelStreamErrorException", "boom"),
    (Fault(429, stream_error={"message": "slow down"}), "throttlingException", "slow down"),
    (Fault(400, stream_error={}), "validationException", None),
    (Fault(408, stream_error={}), "modelStreamErrorException", None),
])
def test_stream_exceptions_follow_message_start(emu: WireEmulator, runtime: Any, fault: Fault, code: str,
                                                message: str | None) -> None:
    emu.script(fault)
    stream = runtime.converse_stream(modelId=MODEL, messages=USER)["stream"]
    seen = []
    with pytest.raises(EventStreamError) as caught:
        for event in stream:
            seen.append(next(iter(event)))
    assert seen == ["messageStart"]
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["Error"]["Message"] == (message or caught.value.response["Error"]["Message"])
    assert caught.value.response["Error"]["Message"]


def test_malformed_stream_fails_the_checksum(emu: WireEmulator, runtime: Any) -> None:
    emu.script(Fault(malformed=True))
    seen = []
    with pytest.raises(ChecksumMismatch):
        for event in runtime.converse_stream(modelId=MODEL, messages=USER)["stream"]:
            seen.append(next(iter(event)))
    assert seen == ["messageStart"]


def test_stream_dropped_mid_way(emu: WireEmulator, runtime: Any) -> None:
    emu.script(Reply("one two three four five six"), Fault(drop_after_events=3))
    full = [next(iter(e)) for e in runtime.converse_stream(modelId=MODEL, messages=USER)["stream"]]
    seen = []
    with pytest.raises(ProtocolError, match="prematurely"):  # botocore lets urllib3's error through
        for event in runtime.converse_stream(modelId=MODEL, messages=USER)["stream"]:
            seen.append(next(iter(event)))
    assert seen == full[:3] == ["messageStart", "contentBlockDelta", "contentBlockDelta"]


def test_whole_answer_dropped_before_any_response(emu: WireEmulator, runtime: Any) -> None:
    emu.script(Fault(drop_after_events=0))
    with pytest.raises(ConnectionClosedError):
        runtime.converse(modelId=MODEL, messages=USER)


def test_malformed_whole_answer_is_truncated_json(emu: WireEmulator) -> None:
    emu.script(Fault(malformed=True))
    status, headers, raw = _post(emu, "/model/m/converse", {"messages": USER})
    assert status == 200 and headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        json.loads(raw)
