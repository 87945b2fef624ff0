"""The wire emulator driven by the real OpenAI SDK and by plain http.client."""

from __future__ import annotations

import base64
import http.client
import json
import math
import socket
import struct
import time
from collections.abc import AsyncIterator, Iterator
from enum import Enum
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionMessageFunctionToolCall, ChatCompletionMessageParam
from pydantic import BaseModel

from agentos_llm.testing.emulator import Fault, Reply, WireEmulator

USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello wide world"}]


@pytest.fixture(scope="module")
def server() -> Iterator[WireEmulator]:
    with WireEmulator() as emu:
        yield emu


@pytest.fixture
def emu(server: WireEmulator) -> Iterator[WireEmulator]:
    server.reset()
    server.delay = 0.0
    yield server
    server.reset()
    server.delay = 0.0


@pytest.fixture
def client(emu: WireEmulator) -> Iterator[openai.OpenAI]:
    c = openai.OpenAI(base_url=emu.openai_base_url, api_key="sk-test", max_retries=0)
    yield c
    c.close()


@pytest.fixture
async def aclient(emu: WireEmulator) -> AsyncIterator[openai.AsyncOpenAI]:
    c = openai.AsyncOpenAI(base_url=emu.openai_base_url, api_key="sk-test", max_retries=0)
    yield c
    await c.close()


def _conn(emu: WireEmulator) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", int(emu.url.rsplit(":", 1)[1]), timeout=5)


def _post(
    conn: http.client.HTTPConnection, path: str, body: dict[str, Any]
) -> tuple[http.client.HTTPResponse, bytes]:
    conn.request("POST", path, json.dumps(body), {"content-type": "application/json"})
    response = conn.getresponse()
    return response, response.read()


# --------------------------------------------------------------------------------------------
# chat completions, whole
# --------------------------------------------------------------------------------------------


def test_default_echo_whole(emu: WireEmulator, client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    choice = completion.choices[0]
    assert choice.message.content == "Echo: hello wide world"
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert completion.id.startswith("chatcmpl-emu-")
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o-mini"
    assert completion.system_fingerprint == "fp_emulator"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 3
    assert completion.usage.completion_tokens == 4
    assert completion.usage.total_tokens == 7


def test_echo_of_list_content(emu: WireEmulator, client: openai.OpenAI) -> None:
    messages: Any = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "one "}, {"type": "text", "text": "two"}]},
    ]
    completion = client.chat.completions.create(model="m", messages=messages)
    assert completion.choices[0].message.content == "Echo: one two"


def test_scripted_reply_fields(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(
        Reply(
            text="scripted",
            reasoning="because",
            prompt_tokens=11,
            completion_tokens=5,
            cached_tokens=3,
            reasoning_tokens=2,
            model="other-model",
            finish_reason="length",
        )
    )
    completion = client.chat.completions.create(model="m", messages=USER)
    message = completion.choices[0].message
    assert message.content == "scripted"
    assert (message.model_extra or {})["reasoning_content"] == "because"
    assert completion.choices[0].finish_reason == "length"
    assert completion.model == "other-model"
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (11, 5, 16)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 3
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 2
    # the queue is consumed: the next request gets the default reply
    again = client.chat.completions.create(model="m", messages=USER)
    assert again.choices[0].message.content == "Echo: hello wide world"


def test_whole_tool_calls(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Reply(tool_calls=[("get_weather", {"city": "Paris", "days": 2}), ("get_time", {"tz": "CET"})]))
    completion = client.chat.completions.create(model="m", messages=USER)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 2
    assert isinstance(calls[0], ChatCompletionMessageFunctionToolCall)
    assert isinstance(calls[1], ChatCompletionMessageFunctionToolCall)
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == {"city": "Paris", "days": 2}
    assert calls[1].function.name == "get_time"
    assert json.loads(calls[1].function.arguments) == {"tz": "CET"}
    assert calls[0].id.startswith("call_emu_") and calls[0].id != calls[1].id


def test_n_choices(emu: WireEmulator, client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="m", messages=USER, n=3)
    assert [c.index for c in completion.choices] == [0, 1, 2]
    assert {c.message.content for c in completion.choices} == {"Echo: hello wide world"}


# --------------------------------------------------------------------------------------------
# chat completions, streamed
# --------------------------------------------------------------------------------------------


def test_stream_text_with_usage(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Reply("The quick brown fox jumps"))
    with client.chat.completions.create(
        model="m",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
    ) as stream:
        chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 3
    assert "".join(pieces) == "The quick brown fox jumps"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert all(c.usage is None for c in chunks[:-1])
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.completion_tokens == 5
    assert last.usage.prompt_tokens == 3
    assert {c.id for c in chunks} == {chunks[0].id}
    assert all(c.object == "chat.completion.chunk" for c in chunks)


def test_stream_without_usage(emu: WireEmulator, client: openai.OpenAI) -> None:
    with client.chat.completions.create(model="m", messages=USER, stream=True) as stream:
        chunks = list(stream)
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == "Echo: hello wide world"


def test_stream_wire_format(emu: WireEmulator) -> None:
    conn = _conn(emu)
    body = {"model": "m", "messages": USER, "stream": True, "stream_options": {"include_usage": True}}
    response, raw = _post(conn, "/v1/chat/completions", body)
    conn.close()
    assert response.status == 200
    assert response.getheader("content-type", "").startswith("text/event-stream")
    assert response.getheader("transfer-encoding") == "chunked"
    events = raw.decode().split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    payloads = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert payloads[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert all("usage" in p for p in payloads)
    assert payloads[-1]["choices"] == [] and payloads[-1]["usage"]["total_tokens"] > 0


async def test_async_whole(emu: WireEmulator, aclient: openai.AsyncOpenAI) -> None:
    emu.script(Reply.tool_call("lookup", {"q": "x"}, text="let me check"))
    completion = await aclient.chat.completions.create(model="m", messages=USER)
    message = completion.choices[0].message
    assert message.content == "let me check"
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert call.function.name == "lookup"
    assert json.loads(call.function.arguments) == {"q": "x"}
    assert completion.choices[0].finish_reason == "tool_calls"


async def test_async_stream_tool_calls(emu: WireEmulator, aclient: openai.AsyncOpenAI) -> None:
    args_a = {"city": "Paris", "units": "metric", "days": [1, 2, 3]}
    args_b = {"query": "weather in paris tomorrow"}
    emu.script(
        Reply(text="", reasoning="I should call tools", tool_calls=[("weather", args_a), ("search", args_b)])
    )
    stream = await aclient.chat.completions.create(
        model="m",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
    )
    calls: dict[int, dict[str, str]] = {}
    reasoning = ""
    fragments = 0
    finish = None
    usage = None
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        reasoning += (delta.model_extra or {}).get("reasoning_content") or ""
        finish = chunk.choices[0].finish_reason or finish
        for tc in delta.tool_calls or []:
            entry = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
            if tc.id:
                entry["id"] = tc.id
            if tc.function and tc.function.name:
                entry["name"] = tc.function.name
            if tc.function and tc.function.arguments:
                entry["arguments"] += tc.function.arguments
                fragments += 1
    assert reasoning == "I should call tools"
    assert finish == "tool_calls"
    assert usage is not None
    assert sorted(calls) == [0, 1]
    assert calls[0]["name"] == "weather" and json.loads(calls[0]["arguments"]) == args_a
    assert calls[1]["name"] == "search" and json.loads(calls[1]["arguments"]) == args_b
    assert calls[0]["id"].startswith("call_emu_") and calls[0]["id"] != calls[1]["id"]
    assert fragments >= 4  # arguments arrive split across several chunks


# --------------------------------------------------------------------------------------------
# structured output
# --------------------------------------------------------------------------------------------


class Color(str, Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    number: int
    geo: list[float]


class Person(BaseModel):
    name: str
    age: int
    active: bool
    favorite: Color
    home: Address
    previous: list[Address]
    nickname: str | None


def test_default_structured_output(emu: WireEmulator, client: openai.OpenAI) -> None:
    schema = Person.model_json_schema()
    assert "$defs" in schema
    response_format: Any = {"type": "json_schema", "json_schema": {"name": "Person", "schema": schema}}
    completion = client.chat.completions.create(model="m", messages=USER, response_format=response_format)
    content = completion.choices[0].message.content
    assert content is not None
    person = Person.model_validate_json(content)
    assert person.favorite is Color.RED
    assert len(person.previous) == 1
    assert person.home.street == "example"


def test_structured_output_via_sdk_parse(emu: WireEmulator, client: openai.OpenAI) -> None:
    completion = client.chat.completions.parse(model="m", messages=USER, response_format=Person)
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Person)
    assert isinstance(parsed.home, Address)


class TreeNode(BaseModel):
    label: str
    children: list[TreeNode]
    parent: TreeNode | None


def test_structured_output_recursive_schema(emu: WireEmulator, client: openai.OpenAI) -> None:
    schema = TreeNode.model_json_schema()
    response_format: Any = {"type": "json_schema", "json_schema": {"name": "TreeNode", "schema": schema}}
    completion = client.chat.completions.create(model="m", messages=USER, response_format=response_format)
    content = completion.choices[0].message.content
    assert content is not None
    assert TreeNode.model_validate_json(content) == TreeNode(label="example", children=[], parent=None)


def test_json_object_default(emu: WireEmulator, client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="m",
        messages=USER,
        response_format={"type": "json_object"},
    )
    assert completion.choices[0].message.content == "{}"


# --------------------------------------------------------------------------------------------
# embeddings and models
# --------------------------------------------------------------------------------------------


def _unpack(b64: str) -> list[float]:
    raw = base64.b64decode(b64)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def test_embeddings_float_and_base64(emu: WireEmulator) -> None:
    conn = _conn(emu)
    body: dict[str, Any] = {"model": "e", "input": ["alpha", "beta gamma"], "encoding_format": "float"}
    response, raw = _post(conn, "/v1/embeddings", body)
    assert response.status == 200
    floats = json.loads(raw)
    assert floats["object"] == "list" and floats["model"] == "e"
    assert floats["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    vectors = [d["embedding"] for d in floats["data"]]
    assert [d["index"] for d in floats["data"]] == [0, 1]
    assert all(len(v) == 8 for v in vectors)
    assert all(-1.0 <= x <= 1.0 for v in vectors for x in v)
    assert vectors[0] != vectors[1]

    response, raw = _post(conn, "/v1/embeddings", {**body, "encoding_format": "base64"})
    encoded = json.loads(raw)["data"]
    decoded = [_unpack(d["embedding"]) for d in encoded]
    for vector, plain in zip(decoded, vectors, strict=True):
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-5)
        assert all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(vector, plain, strict=True))

    # deterministic, and `dimensions` is honoured
    _, raw = _post(conn, "/v1/embeddings", {"model": "e", "input": "alpha", "encoding_format": "base64"})
    assert _unpack(json.loads(raw)["data"][0]["embedding"]) == decoded[0]
    _, raw = _post(conn, "/v1/embeddings", {"model": "e", "input": "alpha", "dimensions": 32})
    assert len(json.loads(raw)["data"][0]["embedding"]) == 32
    conn.close()


async def test_embeddings_via_sdk(
    emu: WireEmulator, client: openai.OpenAI, aclient: openai.AsyncOpenAI
) -> None:
    default = client.embeddings.create(model="e", input=["a b", "c"])  # the SDK asks for base64
    assert emu.requests[-1].body["encoding_format"] == "base64"
    as_floats = await aclient.embeddings.create(model="e", input=["a b", "c"], encoding_format="float")
    assert len(default.data) == 2
    for d, f in zip(default.data, as_floats.data, strict=True):
        assert all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(d.embedding, f.embedding, strict=True))
    assert default.usage.prompt_tokens == 3


def test_models(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.models = ["alpha-1", "beta-2"]
    try:
        assert [m.id for m in client.models.list()] == ["alpha-1", "beta-2"]
        model = client.models.retrieve("beta-2")
        assert model.id == "beta-2" and model.owned_by == "emulator"
        with pytest.raises(openai.NotFoundError) as info:
            client.models.retrieve("missing")
        assert info.value.code == "model_not_found"
    finally:
        emu.models = ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small"]
    assert emu.hits("/models") == 1
    assert emu.hits("/chat/completions") == 0


def test_unknown_path(emu: WireEmulator) -> None:
    conn = _conn(emu)
    response, raw = _post(conn, "/v1/nope", {})
    conn.close()
    assert response.status == 404
    assert "error" in json.loads(raw)


# --------------------------------------------------------------------------------------------
# faults
# --------------------------------------------------------------------------------------------


def test_fault_status_and_retry_headers(emu: WireEmulator) -> None:
    emu.script(Fault(429, retry_after="2", retry_after_ms="1500"))
    conn = _conn(emu)
    response, raw = _post(conn, "/v1/chat/completions", {"model": "m", "messages": USER})
    conn.close()
    assert response.status == 429
    assert response.getheader("retry-after") == "2"
    assert response.getheader("retry-after-ms") == "1500"
    assert (response.getheader("x-request-id") or "").startswith("req_emu_")
    error = json.loads(raw)["error"]
    assert error["type"] == "rate_limit_exceeded" and error["code"] == "rate_limit_exceeded"
    assert "429" in error["message"] and error["param"] is None


@pytest.mark.parametrize(
    ("status", "kind", "code", "exc"),
    [
        (400, "invalid_request_error", None, openai.BadRequestError),
        (401, "authentication_error", "invalid_api_key", openai.AuthenticationError),
        (403, "permission_denied", None, openai.PermissionDeniedError),
        (404, "not_found_error", "model_not_found", openai.NotFoundError),
        (500, "server_error", None, openai.InternalServerError),
        (503, "server_error", None, openai.InternalServerError),
    ],
)
def test_fault_default_bodies(
    emu: WireEmulator, client: openai.OpenAI, status: int, kind: str, code: str | None, exc: type[Exception]
) -> None:
    emu.script(Fault(status))
    with pytest.raises(exc) as info:
        client.chat.completions.create(model="m", messages=USER)
    error = info.value
    assert isinstance(error, openai.APIStatusError)
    assert error.status_code == status
    assert error.type == kind
    assert error.code == code


def test_fault_code_and_custom_bodies(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(
        Fault(400, code="context_length_exceeded"),
        Fault(429, code="insufficient_quota"),
        Fault(502, body="<html>bad gateway</html>"),
        Fault(409, body={"error": {"message": "custom", "type": "conflict"}}),
    )
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="m", messages=USER)
    assert bad.value.code == "context_length_exceeded"
    assert "maximum context length" in bad.value.message
    with pytest.raises(openai.RateLimitError) as quota:
        client.chat.completions.create(model="m", messages=USER)
    assert quota.value.code == "insufficient_quota"
    with pytest.raises(openai.InternalServerError) as gateway:
        client.chat.completions.create(model="m", messages=USER)
    assert gateway.value.status_code == 502
    assert gateway.value.response.headers["content-type"].startswith("text/html")
    with pytest.raises(openai.ConflictError) as conflict:
        client.chat.completions.create(model="m", messages=USER)
    assert conflict.value.message.endswith("custom")
    assert conflict.value.type == "conflict"


def test_fault_malformed_whole(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Fault(malformed=True), Fault(malformed=True))
    conn = _conn(emu)
    response, raw = _post(conn, "/v1/chat/completions", {"model": "m", "messages": USER})
    conn.close()
    assert response.status == 200
    assert response.getheader("content-type") == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    with pytest.raises((ValueError, openai.APIError)):
        client.chat.completions.create(model="m", messages=USER)


def test_fault_malformed_stream(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Fault(malformed=True))
    received = []
    with (
        pytest.raises((ValueError, openai.APIError)),
        client.chat.completions.create(model="m", messages=USER, stream=True) as stream,
    ):
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 1


def test_fault_drop_mid_stream(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Fault(drop_after_events=2))
    received = []
    with (
        pytest.raises(openai.APIConnectionError),
        client.chat.completions.create(model="m", messages=USER, stream=True) as stream,
    ):
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 2
    # the emulator keeps serving afterwards
    assert client.chat.completions.create(model="m", messages=USER).choices


def test_fault_drop_whole_response(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Fault(drop_after_events=0), Fault(drop_after_events=0))
    conn = _conn(emu)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        _post(conn, "/v1/chat/completions", {"model": "m", "messages": USER})
    conn.close()
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="m", messages=USER)


def test_fault_stream_error(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Fault(stream_error={"message": "overloaded mid-stream", "type": "server_error"}))
    received = []
    with (
        pytest.raises(openai.APIError) as info,
        client.chat.completions.create(model="m", messages=USER, stream=True) as stream,
    ):
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 1
    assert info.value.message == "overloaded mid-stream"


def test_fault_applies_to_embeddings_and_queue_is_shared(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Fault(500), Reply("for chat"))
    with pytest.raises(openai.InternalServerError):
        client.embeddings.create(model="e", input="x")
    completion = client.chat.completions.create(model="m", messages=USER)
    assert completion.choices[0].message.content == "for chat"


def test_delays(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Fault(503, delay=0.1), Reply("slow", delay=0.1))
    start = time.perf_counter()
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="m", messages=USER)
    assert time.perf_counter() - start >= 0.1
    start = time.perf_counter()
    assert client.chat.completions.create(model="m", messages=USER).choices[0].message.content == "slow"
    assert time.perf_counter() - start >= 0.1
    emu.delay = 0.1
    start = time.perf_counter()
    client.models.list()
    assert time.perf_counter() - start >= 0.1
    emu.delay = 0.0
    start = time.perf_counter()
    client.models.list()
    assert time.perf_counter() - start < 0.1


# --------------------------------------------------------------------------------------------
# recording, connections, lifecycle
# --------------------------------------------------------------------------------------------


def test_recording_and_hits(emu: WireEmulator, client: openai.OpenAI) -> None:
    client.chat.completions.create(model="m1", messages=USER)
    client.chat.completions.create(model="m2", messages=USER, stream=True).close()
    client.embeddings.create(model="e", input="x")
    assert emu.hits() == 2
    assert emu.hits("/embeddings") == 1
    assert emu.hits("/models") == 0
    recorded = emu.requests
    assert [r.method for r in recorded] == ["POST", "POST", "POST"]
    assert recorded[0].path == "/v1/chat/completions"
    assert recorded[0].headers["authorization"] == "Bearer sk-test"
    assert recorded[0].headers["content-type"] == "application/json"
    assert recorded[0].body["model"] == "m1"
    assert recorded[0].body["messages"] == USER
    assert recorded[1].body["stream"] is True
    emu.script(Reply("left over"))
    emu.reset()
    assert emu.requests == [] and emu.hits() == 0
    assert client.chat.completions.create(model="m", messages=USER).choices[0].message.content != "left over"


def test_request_log_is_bounded(emu: WireEmulator) -> None:
    conn = _conn(emu)
    for _ in range(1010):
        conn.request("GET", "/v1/models")
        conn.getresponse().read()
    conn.close()
    assert len(emu.requests) == 1000
    assert emu.hits("/models") == 1010


def test_keep_alive_reuses_connection(emu: WireEmulator) -> None:
    conn = _conn(emu)
    response, _ = _post(conn, "/v1/chat/completions", {"model": "m", "messages": USER})
    assert response.status == 200
    sock = conn.sock
    assert sock is not None
    response, raw = _post(conn, "/v1/chat/completions", {"model": "m", "messages": USER, "stream": True})
    assert response.status == 200 and raw.endswith(b"data: [DONE]\n\n")
    assert conn.sock is sock
    conn.request("GET", "/v1/models")
    assert conn.getresponse().read()
    assert conn.sock is sock
    conn.close()


def test_client_disconnect_is_quiet(emu: WireEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    emu.script(Reply("a " * 2000, delay=0.05))
    sock = socket.create_connection(("127.0.0.1", int(emu.url.rsplit(":", 1)[1])))
    payload = json.dumps({"model": "m", "messages": USER, "stream": True}).encode()
    head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {len(payload)}\r\n\r\n"
    sock.sendall(head.encode() + payload)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST on close
    sock.close()
    time.sleep(0.2)
    assert capsys.readouterr().err == ""
    conn = _conn(emu)
    response, _ = _post(conn, "/v1/chat/completions", {"model": "m", "messages": USER})
    conn.close()
    assert response.status == 200


def test_lifecycle_and_prompt_stop_with_open_connection() -> None:
    emu = WireEmulator(port=0)
    with pytest.raises(RuntimeError):
        _ = emu.url
    assert emu.start() is emu
    assert emu.start() is emu  # idempotent
    assert emu.url.startswith("http://127.0.0.1:")
    assert emu.openai_base_url == emu.url + "/v1"
    conn = _conn(emu)
    response, _ = _post(conn, "/v1/chat/completions", {"model": "m", "messages": USER})
    assert response.status == 200  # the connection is now idle in keep-alive
    start = time.perf_counter()
    emu.stop()
    assert time.perf_counter() - start < 1.0
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        _post(conn, "/v1/chat/completions", {"model": "m", "messages": USER})
    conn.close()
    emu.stop()  # stopping twice is harmless
