"""`inspect_request`: what a call would send, built by the same steps and not sent, equals what the loopback
emulator receives when the call is made, for every wire API, sync and async, whole and streamed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from surface_helpers import CHAT_MODELS, KEY, fresh, make

from agentos_llm import AIModelProviderManager
from agentos_llm.errors import InvalidRequestError, UnsupportedCapabilityError
from agentos_llm.inspection import InspectedRequest, redact_headers
from agentos_llm.model_definitions import define_model, undefine_model
from agentos_llm.testing import FakeProvider, WireEmulator
from agentos_llm.testing.emulator import RecordedRequest


@pytest.fixture(scope="module")
def server() -> Iterator[WireEmulator]:
    with WireEmulator() as emulator:
        yield emulator


@pytest.fixture
def emu(server: WireEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[WireEmulator]:
    yield from fresh(server, monkeypatch, tmp_path)


# Headers the sending transport adds, or that are new on every request, so they cannot be known beforehand:
# urllib3 sets Host and Accept-Encoding when botocore's request goes out, botocore numbers each invocation,
# and aiohttp (google-genai's async transport when installed) adds its own transport headers as it sends.
PER_SEND = {"bedrock-converse": {"host", "accept-encoding", "amz-sdk-invocation-id"},
            "gemini-generate": {"host", "accept-encoding", "accept", "content-length", "user-agent"}}

OPTIONS: dict[str, Any] = {"max_tokens": 64, "temperature": 0.5, "extra_headers": {"x-trace": "inspect-1"},
                           "timeout": 30.0}


def assert_same(inspected: InspectedRequest, received: RecordedRequest, api: str, is_async: bool) -> None:
    url = urlsplit(inspected.url)
    assert (inspected.method, url.path, url.query) == (received.method, received.path, received.query)
    assert inspected.body == received.body
    assert inspected.body is not None
    expected = redact_headers(received.headers)
    loose = PER_SEND.get(api, set()) if (api == "bedrock-converse" or is_async) else set()
    assert {k: v for k, v in inspected.headers.items() if k not in loose} == {
        k: v for k, v in expected.items() if k not in loose}
    assert inspected.headers["x-trace"] == "inspect-1"
    assert KEY not in inspected.model_dump_json()


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("api", list(CHAT_MODELS))
def test_sync_inspection_equals_what_is_sent(emu: WireEmulator, api: str, stream: bool) -> None:
    provider = make(api, emu)
    model = CHAT_MODELS[api]
    inspected = provider.inspect_request_sync(model, "Hello there", stream=stream, **OPTIONS)
    assert emu.requests == []  # nothing was sent
    if stream:
        with provider.stream_sync(model, "Hello there", **OPTIONS) as events:
            list(events)
    else:
        provider.generate_sync(model, "Hello there", **OPTIONS)
    (received,) = emu.requests
    assert (inspected.provider, inspected.api, inspected.model, inspected.stream) == (
        provider.provider_id, api, model, stream)
    assert_same(inspected, received, api, False)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("api", list(CHAT_MODELS))
async def test_async_inspection_equals_what_is_sent(emu: WireEmulator, api: str, stream: bool) -> None:
    provider = make(api, emu)
    model = CHAT_MODELS[api]
    inspected = await provider.inspect_request(model, "Hello there", stream=stream, **OPTIONS)
    assert emu.requests == []
    if stream:
        async with provider.stream(model, "Hello there", **OPTIONS) as events:
            async for _ in events:
                pass
    else:
        await provider.generate(model, "Hello there", **OPTIONS)
    (received,) = emu.requests
    assert_same(inspected, received, api, True)
    await provider.aclose()


@pytest.mark.parametrize(("api", "model"), [("openai-chat", "text-embedding-3-small"),
                                            ("gemini-generate", "gemini-embedding-001"),
                                            ("cohere-chat", "embed-v4.0"),
                                            ("voyage-embed", "voyage-3.5"),
                                            ("bedrock-converse", "amazon.titan-embed-text-v2:0")])
def test_embedding_inspection_equals_what_is_sent(emu: WireEmulator, api: str, model: str) -> None:
    provider = make(api, emu)
    inspected = provider.inspect_embed_request_sync(model, ["one", "two"], input_type="query")
    assert emu.requests == [] and {i.operation for i in inspected} == {"embed"}
    provider.embed_sync(model, ["one", "two"], input_type="query")
    received = emu.requests
    assert len(inspected) == len(received) == (2 if api == "bedrock-converse" else 1)  # Titan: one text a request
    loose = PER_SEND.get(api, set())
    for one, got in zip(inspected, received, strict=True):
        url = urlsplit(one.url)
        assert (one.method, url.path) == (got.method, got.path)
        assert one.body == got.body
        assert {k: v for k, v in one.headers.items() if k not in loose} == {
            k: v for k, v in redact_headers(got.headers).items() if k not in loose}


def test_a_long_whole_answer_is_inspected_as_the_stream_it_travels_as(emu: WireEmulator) -> None:
    provider = make("anthropic-messages", emu)
    inspected = provider.inspect_request_sync("claude-sonnet-4-5", "Write a lot.", max_tokens=60_000)
    assert inspected.stream and inspected.body["stream"] is True


def test_an_invalid_call_fails_inspection_as_it_would_fail_the_call(emu: WireEmulator) -> None:
    provider = make("openai-chat", emu)
    with pytest.raises(InvalidRequestError, match="unknown option"):
        provider.inspect_request_sync("gpt-4o-mini", "hi", temprature=0.3)
    assert emu.requests == []


def test_credentials_are_redacted_but_the_rest_is_kept() -> None:
    headers = redact_headers({"Authorization": "Bearer sk-abcdefghijklmnop1234", "X-Goog-Api-Key": "AIzaSyA-123",
                              "x-amz-security-token": "FwoGZXIvYXdzEJr", "X-Title": "my app"})
    assert headers == {"authorization": "Bearer [REDACTED]", "x-goog-api-key": "[REDACTED]",
                       "x-amz-security-token": "[REDACTED]", "x-title": "my app"}


def test_a_provider_without_a_known_transport_says_so() -> None:
    with pytest.raises(UnsupportedCapabilityError, match="inspection"):
        FakeProvider().inspect_request_sync(None, "hi")


def test_the_manager_inspects_its_route_with_a_defined_models_options(emu: WireEmulator) -> None:
    manager = AIModelProviderManager([make("openai-chat", emu)])
    define_model("careful_mini", "openai", "gpt-4o-mini", provider_options={"temperature": 0.1, "seed": 7})
    try:
        inspected = manager.inspect_request_sync("careful_mini", "hi", temperature=0.9)
        assert inspected.body["model"] == "gpt-4o-mini"
        assert (inspected.body["temperature"], inspected.body["seed"]) == (0.9, 7)  # the call's own option wins
        manager.generate_sync("careful_mini", "hi", temperature=0.9)
        assert emu.requests[-1].body == inspected.body
    finally:
        undefine_model("careful_mini")
