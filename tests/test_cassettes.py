"""The OpenAI provider, through the real openai SDK, replayed from cassettes in ``cassettes/test_cassettes/``.

Record (against the emulator)::

    pytest tests/test_cassettes.py --record-mode=once

Replay (CI)::

    AGENTOS_LLM_CASSETTE_NO_EMULATOR=1 pytest tests/test_cassettes.py --record-mode=none --block-network

Re-record against the real API: see ``docs/cassettes.md``. Every assertion holds for an emulated and
for a live recording: exact values are checked against the recorded response bodies, and the
content only loosely (a live model words its answers its own way).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cassette_support import (
    CASSETTE_DIR,
    CHAT_MODEL,
    EMBEDDING_MODEL,
    CassetteTarget,
    cassette_lines,
    find_key_like,
    open_target,
    scrub_text,
)
from cassette_support import vcr_config as cassette_vcr_config
from pydantic import BaseModel
from vcr import VCR
from vcr.request import Request as VcrRequest

from agentos_llm.testing.emulator import Reply
from agentos_llm.types import (
    FinishReason,
    StructuredResponse,
    TextDeltaEvent,
    ToolDefinition,
    Usage,
    UsageEvent,
    tool_result,
)

MODULE = Path(__file__).stem
# A credential header left in a cassette (they are filtered out before recording).
CREDENTIAL_HEADER = re.compile(
    r"^\s*['\"]?(authorization|api-key|x-api-key|x-goog-api-key|cookie|x-amz-security-token)['\"]?:", re.I)


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTE_DIR / MODULE)


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    return cassette_vcr_config(MODULE)


@pytest.fixture
def target(vcr: Any) -> Iterator[CassetteTarget]:
    yield from open_target(vcr)


def assert_usage(usage: Usage, wire: dict[str, Any]) -> None:
    """Our usage is the recorded wire usage, in our convention."""
    assert usage.input_tokens == wire["prompt_tokens"] > 0
    assert usage.output_tokens == wire["completion_tokens"] > 0
    assert usage.total_tokens == wire["total_tokens"] == usage.input_tokens + usage.output_tokens
    assert usage.cost_usd is not None and usage.cost_usd > 0  # gpt-4.1-nano is priced in the catalog


def streamed_text(chunks: list[Any]) -> str:
    return "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks if c.get("choices"))


def streamed_usage(chunks: list[Any]) -> Any:
    usage = [c["usage"] for c in chunks if c.get("usage")]
    assert len(usage) == 1, "stream_options.include_usage: exactly one usage chunk"
    return usage[0]


# ---------------------------------------------------------------------- generate


@pytest.mark.vcr
def test_generate_sync(target: CassetteTarget) -> None:
    target.script(Reply("pong"))
    provider = target.provider()
    response = provider.generate_sync(
        CHAT_MODEL, "Reply with exactly one lowercase word: pong", temperature=0, max_tokens=10
    )
    wire = target.response_json(0)
    assert response.text == wire["choices"][0]["message"]["content"]
    assert "pong" in response.text.lower()
    assert response.finish_reason is FinishReason.STOP
    assert response.model.startswith(CHAT_MODEL)
    assert response.id == wire["id"]
    assert response.provider == "openai"
    assert response.message.role == "assistant" and response.message.text == response.text
    assert_usage(response.usage, wire["usage"])


@pytest.mark.vcr
async def test_generate_async(target: CassetteTarget) -> None:
    target.script(Reply("Paris"))
    async with target.provider() as provider:
        response = await provider.generate(
            CHAT_MODEL,
            [
                {"role": "system", "content": "Answer with one word."},
                {"role": "user", "content": "What is the capital of France?"},
            ],
            temperature=0,
            max_tokens=10,
        )
    wire = target.response_json(0)
    assert response.text == wire["choices"][0]["message"]["content"]
    assert "paris" in response.text.lower()
    assert response.finish_reason is FinishReason.STOP
    assert response.model.startswith(CHAT_MODEL)
    assert_usage(response.usage, wire["usage"])


# ---------------------------------------------------------------------- stream


def _check_stream(events: list[Any], chunks: list[Any]) -> None:
    deltas = [e.delta for e in events if isinstance(e, TextDeltaEvent)]
    usage_events = [e for e in events if isinstance(e, UsageEvent)]
    done = events[-1]
    assert done.type == "done"
    assert sum(e.type == "done" for e in events) == 1
    response = done.response
    assert len(deltas) >= 2, "the answer arrived in pieces"
    assert "".join(deltas) == response.text == streamed_text(chunks)
    assert "three" in response.text.lower()
    assert response.finish_reason is FinishReason.STOP
    assert response.model.startswith(CHAT_MODEL)
    assert len(usage_events) == 1
    wire_usage = streamed_usage(chunks)
    assert usage_events[0].usage.input_tokens == wire_usage["prompt_tokens"]
    assert usage_events[0].usage.output_tokens == wire_usage["completion_tokens"]
    assert_usage(response.usage, wire_usage)


@pytest.mark.vcr
def test_stream_sync(target: CassetteTarget) -> None:
    target.script(Reply("one two three"))
    provider = target.provider()
    with provider.stream_sync(
        CHAT_MODEL, "Count from one to three in lowercase words, nothing else.", temperature=0
    ) as stream:
        events = list(stream)
    _check_stream(events, target.response_sse(0))


@pytest.mark.vcr
async def test_stream_async(target: CassetteTarget) -> None:
    target.script(Reply("one, two, three"))
    async with (
        target.provider() as provider,
        provider.stream(
            CHAT_MODEL, "Count from one to three in lowercase words, separated by commas.", temperature=0
        ) as stream,
    ):
        events = [event async for event in stream]
    _check_stream(events, target.response_sse(0))


# ---------------------------------------------------------------------- tools


def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city."""
    return {"city": city, "temperature_c": 21, "conditions": "sunny"}


@pytest.mark.vcr
def test_tool_call_round_trip(target: CassetteTarget) -> None:
    target.script(
        Reply.tool_call("get_weather", {"city": "Paris"}),
        Reply("It is 21 degrees Celsius and sunny in Paris."),
    )
    provider = target.provider()
    tools = [ToolDefinition.from_function(get_weather)]
    history: list[Any] = [{"role": "user", "content": "What is the weather in Paris right now?"}]

    first = provider.generate_sync(CHAT_MODEL, history, tools=tools, tool_choice="required", temperature=0)
    wire_first = target.response_json(0)
    wire_calls = wire_first["choices"][0]["message"]["tool_calls"]
    assert first.finish_reason is FinishReason.TOOL_CALLS
    assert [c.id for c in first.tool_calls] == [c["id"] for c in wire_calls]
    assert len(first.tool_calls) == 1
    call = first.tool_calls[0]
    assert call.name == "get_weather"
    assert call.arguments == json.loads(wire_calls[0]["function"]["arguments"])
    assert call.arguments["city"].lower() == "paris"
    assert first.message.tool_calls == first.tool_calls
    assert_usage(first.usage, wire_first["usage"])

    history += [first.message, tool_result(call.id, get_weather(**call.arguments))]
    final = provider.generate_sync(CHAT_MODEL, history, tools=tools, temperature=0)
    wire_final = target.response_json(1)
    assert final.tool_calls == []
    assert final.finish_reason is FinishReason.STOP
    assert final.text == wire_final["choices"][0]["message"]["content"]
    assert "21" in final.text
    assert_usage(final.usage, wire_final["usage"])
    # The second request carried the assistant's tool call and our result, as recorded.
    sent = target.request_json(1)
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "tool"]
    assert sent["messages"][1]["tool_calls"][0]["id"] == call.id
    assert sent["messages"][2]["tool_call_id"] == call.id


# ---------------------------------------------------------------------- structured output


class City(BaseModel):
    name: str
    country: str


@pytest.mark.vcr
async def test_structured_output(target: CassetteTarget) -> None:
    target.script(Reply(json.dumps({"name": "Paris", "country": "France"})))
    async with target.provider() as provider:
        result: StructuredResponse[City] = await provider.generate_structured(
            CHAT_MODEL, "Which city is the capital of France? Give its name and country.", City, temperature=0
        )
    sent = target.request_json(0)
    assert sent["response_format"]["type"] == "json_schema"
    wire = target.response_json(0)
    assert isinstance(result.value, City)
    assert result.value == City.model_validate_json(wire["choices"][0]["message"]["content"])
    assert result.value.name.lower() == "paris"
    assert result.value.country.lower() == "france"
    assert result.attempts == 1
    assert_usage(result.usage, wire["usage"])


# ---------------------------------------------------------------------- embeddings and models


@pytest.mark.vcr
def test_embeddings(target: CassetteTarget) -> None:
    provider = target.provider()
    texts = ["the cat sat on the mat", "a dog barked at the mailman"]
    result = provider.embed_sync(EMBEDDING_MODEL, texts)
    sent = target.request_json(0)
    assert sent["input"] == texts
    assert sent["encoding_format"] == "base64"
    wire = target.response_json(0)
    assert len(result.vectors) == 2
    dims = len(result.vectors[0])
    assert dims > 0 and len(result.vectors[1]) == dims
    for vector in result.vectors:
        assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, abs_tol=1e-3)  # unit length
    assert result.vectors[0] != result.vectors[1]
    assert result.model.startswith(EMBEDDING_MODEL)
    assert result.usage.input_tokens == wire["usage"]["prompt_tokens"] > 0
    assert result.usage.output_tokens == 0


@pytest.mark.vcr
def test_list_models(target: CassetteTarget) -> None:
    provider = target.provider()
    models = provider.list_models_sync()
    wire = target.response_json(0)
    assert [m.id for m in models] == [m["id"] for m in wire["data"]]
    by_id = {m.id: m for m in models}
    assert CHAT_MODEL in by_id
    nano = by_id[CHAT_MODEL]
    assert nano.provider == "openai"
    assert nano.context_window is not None and nano.context_window > 100_000  # merged from the catalog
    assert nano.input_price is not None


# ---------------------------------------------------------------------- vcrpy itself


def test_vcrpy_patches_httpx2_transports(tmp_path: Path) -> None:
    """The openai SDK sends through httpx2; a vcrpy without an httpx2 patcher would record nothing."""
    import httpx2

    sync, async_ = httpx2.HTTPTransport.handle_request, httpx2.AsyncHTTPTransport.handle_async_request
    with VCR(record_mode="none").use_cassette(str(tmp_path / "unused.yaml")):
        assert httpx2.HTTPTransport.handle_request is not sync
        assert httpx2.AsyncHTTPTransport.handle_async_request is not async_
    assert httpx2.HTTPTransport.handle_request is sync


# ---------------------------------------------------------------------- no secrets

FAKE_KEYS = [
    "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx0123456789",
    "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx-0123456789",
    "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW",
    "gsk_AbCdEfGhIjKlMnOpQrStUvWx0123",
    "xai-AbCdEfGhIjKlMnOpQrStUvWx0123",
    "hf_AbCdEfGhIjKlMnOpQrStUvWx0123",
    "sk-test-cassette",
    "pa-AbCdEfGhIjKlMnOpQrStUvWx0123",
    "AKIAABCDEFGHIJKLMNOP",
    "ASIAABCDEFGHIJKLMNOP",
    "ABSKQmVkcm9ja0FQSUtleS1hYmNkZWZnaGlq",
]


def test_scrubbing_removes_keys_before_recording() -> None:
    """The configured hooks (filter_headers, then ours) leave no credential in a request or response."""
    config = VCR().get_merged_config(**cassette_vcr_config(MODULE))
    headers = {
        "Authorization": f"Bearer {FAKE_KEYS[0]}",
        "api-key": FAKE_KEYS[6],
        "x-api-key": FAKE_KEYS[1],
        "x-goog-api-key": FAKE_KEYS[2],
        "OpenAI-Organization": "org-secret",
        "OpenAI-Project": "proj_secret",
        "Cookie": "__cf_bm=secret",
        "x-custom": f"token {FAKE_KEYS[3]}",
        "content-type": "application/json",
    }
    body = json.dumps({"model": CHAT_MODEL, "messages": [{"role": "user", "content": " ".join(FAKE_KEYS)}]})
    request = VcrRequest("POST", f"https://api.example.com/v1/chat/completions?key={FAKE_KEYS[2]}", body, headers)
    scrubbed = config["before_record_request"](request)
    response = config["before_record_response"](
        {
            "status": {"code": 200, "message": "OK"},
            "headers": {
                "set-cookie": ["__cf_bm=secret"],
                "openai-organization": ["user-abc"],
                "openai-project": ["proj_abc"],
                "x-echo": [f"Bearer {FAKE_KEYS[4]}"],
                "content-type": ["application/json"],
            },
            "body": {"string": json.dumps({"echo": FAKE_KEYS}).encode()},
        }
    )
    kept = {k.lower() for k in scrubbed.headers}
    assert kept == {"x-custom", "content-type"}
    assert set(response["headers"]) == {"x-echo", "content-type"}
    dumped = json.dumps(
        [
            dict(scrubbed.headers),
            scrubbed.uri,
            scrubbed.body.decode(),
            response["headers"],
            response["body"]["string"].decode(),
        ]
    )
    assert find_key_like(dumped) == []
    for key in FAKE_KEYS:
        assert key not in dumped
    assert request.headers["Authorization"].endswith(FAKE_KEYS[0])  # vcrpy scrubbed a copy
    assert (
        scrub_text("no secrets here: risk-free desk-top task-list") == "no secrets here: risk-free desk-top task-list"
    )


def test_no_keys_in_cassettes() -> None:
    files = sorted(p for p in CASSETTE_DIR.rglob("*") if p.is_file())
    assert any(p.suffix == ".yaml" for p in files), f"no cassettes under {CASSETTE_DIR}"
    # `real` holds the real vendor responses (tests/test_cassettes_real.py): scanned like the emulator recordings.
    assert {p.parent.name for p in files} >= {"test_cassettes_bedrock", "test_cassettes_cohere",
                                              "test_cassettes_voyage", "real"}
    leaks = []
    for path in files:
        # The file's lines, then those of every !!binary value decoded (an event stream, bytes headers).
        for where, line in cassette_lines(path):
            for match in find_key_like(line):
                leaks.append(f"{path.parent.name}/{where}: {match[:12]}...")
            if CREDENTIAL_HEADER.match(line):
                leaks.append(f"{path.parent.name}/{where}: a credential header")
    assert not leaks, "key-like strings in cassettes:\n" + "\n".join(leaks)
