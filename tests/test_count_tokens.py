"""`count_tokens` / `count_tokens_sync` of each provider against the wire emulator's counting endpoints:
Anthropic's `/v1/messages/count_tokens`, Gemini's `:countTokens` (Gemini API and Vertex AI), OpenAI's
`/v1/responses/input_tokens` (the chat provider counts through its Responses sibling), and the local
estimate (`exact=False`) of a compatible host without an endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from agentos_llm import ImagePart, TokenCount, create_provider, user
from agentos_llm.errors import (
    AuthenticationError,
    InvalidRequestError,
    RateLimitError,
    ServerError,
    UnsupportedCapabilityError,
)
from agentos_llm.provider import IProvider
from agentos_llm.testing import Fault, Reply, WireEmulator, anthropic_wire, gemini_wire, responses_wire

KEY = "emulator-test-key"
HISTORY: list[Any] = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "count these four words"}]
WEATHER = {
    "name": "get_weather",
    "description": "Current weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
CLAUDE, GEMINI, GPT = "claude-haiku-4-5", "gemini-2.5-flash", "gpt-4.1-mini"


@pytest.fixture(scope="module")
def server() -> Iterator[WireEmulator]:
    with WireEmulator() as emu:
        yield emu


@pytest.fixture
def emu(server: WireEmulator) -> Iterator[WireEmulator]:
    server.reset()
    yield server
    server.reset()


def make(emu: WireEmulator, provider_id: str, **kwargs: Any) -> IProvider:
    kwargs.setdefault("max_retries", 0)
    base = {"anthropic": emu.anthropic_base_url, "gemini": emu.gemini_base_url}.get(provider_id, emu.openai_base_url)
    p = create_provider(provider_id, api_key=KEY, base_url=base, **kwargs)
    p.retry_policy = replace(p.retry_policy, initial_backoff=0.01, max_backoff=0.02)
    return p


async def count(p: IProvider, asynchronous: bool, model: str, messages: Any, **options: Any) -> TokenCount:
    if asynchronous:
        return await p.count_tokens(model, messages, **options)
    return p.count_tokens_sync(model, messages, **options)


def last_body(emu: WireEmulator) -> dict[str, Any]:
    body = emu.requests[-1].body
    assert isinstance(body, dict)
    return body


# --------------------------------------------------------------------------------------------
# Anthropic: POST /v1/messages/count_tokens
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_anthropic_counts_at_its_endpoint(emu: WireEmulator, asynchronous: bool) -> None:
    async with make(emu, "anthropic") as p:
        plain = await count(p, asynchronous, CLAUDE, HISTORY)
        with_tools = await count(p, asynchronous, CLAUDE, HISTORY, tools=[WEATHER], max_tokens=50, temperature=0.3)
        generated = await p.generate(CLAUDE, HISTORY) if asynchronous else p.generate_sync(CLAUDE, HISTORY)
    assert plain == TokenCount(input_tokens=6, exact=True, model=CLAUDE, provider="anthropic")
    assert generated.usage.input_tokens == plain.input_tokens  # the count is what generate then uses
    body = emu.requests[1].body
    assert [r.path for r in emu.requests] == ["/v1/messages/count_tokens"] * 2 + ["/v1/messages"]
    # shaped as generate: system and tools travel, what only shapes the answer does not
    assert body["system"] == "be brief" and body["tools"][0]["name"] == "get_weather"
    assert not {"max_tokens", "temperature", "stream"} & set(body)
    assert with_tools.input_tokens == anthropic_wire.count_input_tokens(body) > plain.input_tokens


async def test_anthropic_count_is_scripted_and_retried(emu: WireEmulator) -> None:
    async with make(emu, "anthropic", max_retries=1) as p:
        emu.script(Fault(529), Reply(prompt_tokens=4321))
        assert (await p.count_tokens(CLAUDE, "hi")).input_tokens == 4321
        assert emu.hits("/v1/messages/count_tokens") == 2
        emu.script(Fault(400), Fault(401))
        with pytest.raises(InvalidRequestError):
            p.count_tokens_sync(CLAUDE, "hi")
        with pytest.raises(AuthenticationError) as info:
            await p.count_tokens(CLAUDE, "hi")
    assert info.value.provider == "anthropic" and info.value.status_code == 401
    assert emu.hits("/v1/messages/count_tokens") == 4  # errors that are not transient are not retried
    assert emu.hits("/v1/messages") == 0


# --------------------------------------------------------------------------------------------
# Gemini: POST .../models/{model}:countTokens
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_gemini_api_counts_a_whole_generate_request(emu: WireEmulator, asynchronous: bool) -> None:
    async with make(emu, "gemini") as p:
        plain = await count(p, asynchronous, GEMINI, HISTORY)
        with_tools = await count(p, asynchronous, GEMINI, HISTORY, tools=[WEATHER])
        generated = await p.generate(GEMINI, HISTORY) if asynchronous else p.generate_sync(GEMINI, HISTORY)
    assert plain == TokenCount(input_tokens=6, exact=True, model=GEMINI, provider="gemini")
    assert generated.usage.input_tokens == plain.input_tokens
    request = emu.requests[1]
    assert request.path == f"/v1beta/models/{GEMINI}:countTokens"
    wrapped = request.body["generateContentRequest"]
    assert wrapped["model"] == f"models/{GEMINI}"
    assert wrapped["systemInstruction"] == {"parts": [{"text": "be brief"}]} and "tools" in wrapped
    assert with_tools.input_tokens == gemini_wire.count_input_tokens(wrapped) > plain.input_tokens


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_vertex_ai_counts_a_top_level_body(emu: WireEmulator, asynchronous: bool) -> None:
    from google.oauth2.credentials import Credentials

    creds = Credentials(token="ya29.test-access-token-for-the-emulator")  # type: ignore[no-untyped-call]
    p = create_provider("gemini", base_url=emu.gemini_base_url, vertexai=True, project="proj",
                        location="europe-west4", credentials=creds, max_retries=0)
    async with p:
        counted = await count(p, asynchronous, GEMINI, HISTORY, tools=[WEATHER])
    request = emu.requests[-1]
    prefix = "/v1beta1/projects/proj/locations/europe-west4/publishers/google/models"
    assert request.path == f"{prefix}/{GEMINI}:countTokens"
    assert "generateContentRequest" not in request.body
    assert request.body["contents"] == [{"role": "user", "parts": [{"text": "count these four words"}]}]
    assert counted.exact and counted.input_tokens == gemini_wire.count_input_tokens(request.body) > 6


async def test_gemini_count_errors_are_typed(emu: WireEmulator) -> None:
    async with make(emu, "gemini") as p:
        emu.script(Fault(429), Fault(503), Reply(prompt_tokens=99))
        with pytest.raises(RateLimitError):
            await p.count_tokens(GEMINI, "hi")
        with pytest.raises(ServerError):
            p.count_tokens_sync(GEMINI, "hi")
        assert p.count_tokens_sync(GEMINI, "hi").input_tokens == 99
    assert emu.hits(":countTokens") == 3 and emu.hits(":generateContent") == 0


# --------------------------------------------------------------------------------------------
# OpenAI: POST /v1/responses/input_tokens, from the Responses provider and from the chat provider
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["chat", "responses", "openai-responses"])
@pytest.mark.parametrize("asynchronous", [False, True])
async def test_openai_counts_at_the_responses_endpoint(emu: WireEmulator, how: str, asynchronous: bool) -> None:
    p = make(emu, "openai-responses") if how == "openai-responses" else make(
        emu, "openai", **({"api": "responses"} if how == "responses" else {}))
    async with p:
        plain = await count(p, asynchronous, GPT, HISTORY)
        with_tools = await count(p, asynchronous, GPT, HISTORY, tools=[WEATHER], max_tokens=10, temperature=0.5)
    assert plain.exact is True and plain.model == GPT and plain.input_tokens == 6
    assert plain.provider is not None and plain.provider.startswith("openai")
    assert emu.hits("/v1/responses/input_tokens") == 2
    assert emu.hits("/v1/responses") == 0 and emu.hits("/chat/completions") == 0
    body = last_body(emu)
    assert body["instructions"] == "be brief" and "messages" not in body
    assert body["input"] == [{"role": "user", "content": "count these four words"}]
    assert body["tools"][0]["name"] == "get_weather"
    assert not {"max_output_tokens", "temperature", "stream", "store", "include"} & set(body)
    assert with_tools.input_tokens == responses_wire.count_input_tokens(body) > plain.input_tokens


async def test_openai_count_is_scripted_and_retried(emu: WireEmulator) -> None:
    async with make(emu, "openai", max_retries=1) as p:
        emu.script(Fault(500), Reply(prompt_tokens=2048))
        assert p.count_tokens_sync(GPT, "hi").input_tokens == 2048
        emu.script(Fault(429, code="rate_limit_exceeded"), Fault(429, code="rate_limit_exceeded"))
        with pytest.raises(RateLimitError):
            await p.count_tokens(GPT, "hi")
    assert emu.hits("/v1/responses/input_tokens") == 4


# --------------------------------------------------------------------------------------------
# A compatible host without a counting endpoint: the documented local estimate
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_compatible_host_estimates_locally(emu: WireEmulator, asynchronous: bool) -> None:
    model = "llama-3.3-70b-versatile"
    async with make(emu, "groq") as p:
        plain = await count(p, asynchronous, model, HISTORY)
        with_tools = await count(p, asynchronous, model, HISTORY, tools=[WEATHER])
    # 3 to prime the reply, 3 a message, one token per 4 ASCII characters: 3 + (3 + 2) + (3 + 6)
    assert plain == TokenCount(input_tokens=17, exact=False, model=model, provider="groq")
    tool_json = json.dumps({"name": WEATHER["name"], "description": WEATHER["description"],
                            "parameters": WEATHER["parameters"]}, separators=(",", ":"))
    assert with_tools.input_tokens == 17 + -(-len(tool_json) // 4)
    assert emu.requests == []  # nothing was sent


def test_the_estimate_refuses_parts_it_cannot_judge(emu: WireEmulator) -> None:
    p = make(emu, "groq")
    with pytest.raises(UnsupportedCapabilityError, match="image"):
        p.count_tokens_sync("llama-3.3-70b-versatile",
                            [user(["what is this?", ImagePart(url="https://example.com/cat.png")])])
    assert emu.requests == []


def test_a_host_can_refuse_counting(emu: WireEmulator) -> None:
    p = make(emu, "groq", wire={"count_tokens": "none"})
    with pytest.raises(UnsupportedCapabilityError, match="token"):
        p.count_tokens_sync("llama-3.3-70b-versatile", "hi")
    assert emu.requests == []


async def test_a_compatible_host_with_responses_counts_exactly(emu: WireEmulator) -> None:
    async with make(emu, "openai-compatible", wire={"count_tokens": "responses"}) as p:
        counted = await p.count_tokens("local-model", HISTORY)
    assert counted.exact is True and counted.input_tokens == 6
    assert emu.hits("/v1/responses/input_tokens") == 1
