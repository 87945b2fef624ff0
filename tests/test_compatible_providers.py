"""The OpenAI-compatible family: rows of the provider table with their quirks as data, end to end.

Every named host runs on the OpenAI provider's code against the loopback wire emulator: generate,
stream, embed (or `UnsupportedCapabilityError`), list models; then each host quirk the emulator can
script, OpenRouter's headers/cost/upstream/routing, and Ollama's native model listing.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from agentos_llm import (
    CompletionResponse,
    DoneEvent,
    FinishReason,
    ReasoningDeltaEvent,
    StreamEvent,
    TextDeltaEvent,
    create_provider,
)
from agentos_llm.defaults import AUTO_DETECT_ORDER, PROVIDERS, key_env_hint
from agentos_llm.errors import ConfigurationError, InvalidRequestError, UnsupportedCapabilityError
from agentos_llm.manager import AIModelProviderManager
from agentos_llm.provider import Capability, IProvider
from agentos_llm.providers.openai import OpenAIProvider
from agentos_llm.testing import Fault, Reply, WireEmulator
from agentos_llm.testing.openai_wire import OPENROUTER_PRICING, OPENROUTER_UPSTREAM, QUIRKS, openrouter_cost

NAMED = ("openrouter", "groq", "together", "mistral", "xai", "deepseek", "fireworks", "cerebras", "ollama",
         "vllm", "sglang", "lmstudio", "llamacpp", "litellm")
LOCAL = ("vllm", "sglang", "lmstudio", "llamacpp", "litellm")
WITH_EMBEDDINGS = ("together", "mistral", "fireworks", "ollama", *LOCAL, "openai-compatible")
WITHOUT_EMBEDDINGS = ("openrouter", "groq", "xai", "deepseek", "cerebras")
OFFLINE = "http://127.0.0.1:9/v1"  # never contacted
MODEL = "some-model"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No key, base URL or attribution variable of the machine running the tests leaks in."""
    for spec in PROVIDERS.values():
        for name in (*spec.key_env, *spec.detect_env, spec.base_url_env or ""):
            if name:
                monkeypatch.delenv(name, raising=False)
    for name in ("OPENROUTER_APP_URL", "OPENROUTER_APP_NAME", "AGENTOS_LLM_PROVIDER_ORDER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGENTOS_LLM_CONFIG", str(tmp_path / "absent.toml"))


@pytest.fixture(scope="module")
def server() -> Iterator[WireEmulator]:
    with WireEmulator() as emu:
        yield emu


@pytest.fixture
def emu(server: WireEmulator) -> Iterator[WireEmulator]:
    server.reset()
    models = list(server.models)
    yield server
    server.reset()
    server.models = models


def offline(provider_id: str, **kwargs: Any) -> OpenAIProvider:
    kwargs.setdefault("api_key", "sk-test")
    kwargs.setdefault("base_url", OFFLINE)
    p = create_provider(provider_id, **kwargs)
    assert isinstance(p, OpenAIProvider)
    return p


def body_of(provider: OpenAIProvider, model: str = MODEL, stream: bool = False, **options: Any) -> dict[str, Any]:
    return provider._build_request(provider._make_call(model, "hi", options, stream=stream))


async def final(events: AsyncIterator[StreamEvent]) -> CompletionResponse:
    """The response of a stream's `done` event (the stream read to its end)."""
    collected = [e async for e in events]
    done = collected[-1]
    assert isinstance(done, DoneEvent)
    return done.response


def last_body(emu: WireEmulator, suffix: str = "/chat/completions") -> dict[str, Any]:
    body = [r for r in emu.requests if r.path.endswith(suffix)][-1].body
    assert isinstance(body, dict)
    return body


@pytest.fixture
async def named(request: pytest.FixtureRequest, emu: WireEmulator) -> AsyncIterator[IProvider]:
    p = create_provider(request.param, api_key="sk-test", base_url=emu.openai_base_url, max_retries=0)
    yield p
    await p.aclose()


# ====================================================================== the table


@pytest.mark.parametrize("pid", [*NAMED, "openai-compatible"])
def test_every_named_host_is_a_row_on_the_openai_implementation(pid: str) -> None:
    spec = PROVIDERS[pid]
    assert spec.implementation is None and spec.default_api == "openai-chat"
    assert spec.implementation_for(spec.default_api) == "agentos_llm.providers.openai:OpenAIProvider"
    assert spec.base_url_env == f"{pid.upper().replace('-', '_')}_BASE_URL"
    assert spec.key_env and spec.docs_url.startswith("https://")
    assert spec.wire.get("max_tokens_field") == "max_tokens"
    if pid != "openai-compatible":
        assert spec.base_url and spec.base_url.startswith(("https://", "http://localhost:"))
    if pid in (*LOCAL, "ollama", "openai-compatible"):
        assert not spec.key_required and spec.detect_env == (spec.base_url_env,)
    else:
        assert spec.key_required and spec.detect_vars == spec.key_env
    if pid in (*LOCAL, "openai-compatible"):
        assert spec.default_model == ""
    else:
        assert spec.default_model


def test_auto_detect_order_and_key_env_hint() -> None:
    assert AUTO_DETECT_ORDER == (
        "openrouter", "openai", "anthropic", "gemini", "groq", "together", "mistral", "xai", "deepseek", "ollama",
        "fireworks", "cerebras", "vllm", "sglang", "lmstudio", "llamacpp", "litellm", "cohere", "voyage", "bedrock",
    )
    assert key_env_hint() == (
        "OPENROUTER_API_KEY, OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, GOOGLE_API_KEY, GROQ_API_KEY, "
        "TOGETHER_API_KEY, MISTRAL_API_KEY, XAI_API_KEY, DEEPSEEK_API_KEY, OLLAMA_BASE_URL, FIREWORKS_API_KEY, "
        "CEREBRAS_API_KEY, VLLM_BASE_URL, SGLANG_BASE_URL, LMSTUDIO_BASE_URL, LLAMACPP_BASE_URL, LITELLM_BASE_URL, "
        "COHERE_API_KEY, CO_API_KEY, VOYAGE_API_KEY, AWS_BEARER_TOKEN_BEDROCK, AWS_ACCESS_KEY_ID, AWS_PROFILE, "
        "AWS_WEB_IDENTITY_TOKEN_FILE, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, AWS_CONTAINER_CREDENTIALS_FULL_URI"
    )


def test_new_rows_are_auto_detected_after_the_documented_ones() -> None:
    env = {"AGENTOS_LLM_CONFIG": "/dev/null/absent.toml", "VLLM_BASE_URL": OFFLINE, "CEREBRAS_API_KEY": "csk-1",
           "FIREWORKS_API_KEY": "fw-1", "LITELLM_BASE_URL": OFFLINE, "DEEPSEEK_API_KEY": "ds-1"}
    m = AIModelProviderManager.from_env(env=env)
    assert list(m.providers) == ["deepseek", "fireworks", "cerebras", "vllm", "litellm"]
    assert m.get("vllm").base_url == OFFLINE
    assert m.get("vllm").credential_source is None


@pytest.mark.parametrize("pid", ["ollama", "vllm", "lmstudio"])
def test_base_url_env_override(pid: str) -> None:
    env = {"AGENTOS_LLM_CONFIG": "/dev/null/absent.toml", f"{pid.upper()}_BASE_URL": "http://gpu-box:9999/v1"}
    p = create_provider(pid, env=env)
    assert p.base_url == "http://gpu-box:9999/v1"
    assert create_provider(pid, env={"AGENTOS_LLM_CONFIG": "/dev/null/absent.toml"}).base_url == PROVIDERS[pid].base_url


@pytest.mark.parametrize("pid", [*LOCAL, "openai-compatible"])
def test_local_rows_without_a_default_model_ask_for_one(pid: str) -> None:
    p = offline(pid, api_key=None)
    assert p.default_model == "" and p.credential_source is None
    with pytest.raises(InvalidRequestError, match="no model given"):
        p.generate_sync(None, "hi")
    with pytest.raises(InvalidRequestError, match="no embedding model"):
        p.embed_sync(None, "hi")
    # Once a model is known (discovery fills it from the listing), the row works as any other.
    assert offline(pid, default_model="served")._make_call(None, "hi", {}).model == "served"


def test_openai_compatible_needs_a_base_url_and_takes_an_optional_key_and_headers() -> None:
    with pytest.raises(ConfigurationError, match="OPENAI_COMPATIBLE_BASE_URL"):
        create_provider("openai-compatible")
    p = offline("openai-compatible", api_key=None, default_headers={"X-Gateway": "team-a"})
    assert p.api_key is None
    assert p._client_kwargs()["default_headers"] == {"X-Gateway": "team-a"}


@pytest.mark.parametrize("pid", WITHOUT_EMBEDDINGS)
def test_hosts_without_embeddings_refuse_embed(pid: str) -> None:
    p = offline(pid)
    assert Capability.EMBEDDINGS not in p.capabilities
    with pytest.raises(UnsupportedCapabilityError, match="embeddings"):
        p.embed_sync("any-embedding-model", "hi")


@pytest.mark.parametrize("pid", WITH_EMBEDDINGS)
def test_hosts_with_embeddings_keep_the_capability(pid: str) -> None:
    p = offline(pid)
    assert Capability.EMBEDDINGS in p.capabilities
    assert p.spec.embedding_model or pid in (*LOCAL, "openai-compatible")
    _, _, options = p._embed_plan("m", "a", None, None)
    # Float vectors unless the host is known to send base64 (every compatible server can send floats).
    assert ("encoding_format" in p._build_embed_request("m", ["a"], options)) is bool(p.wire.get("embeddings_base64"))


# ====================================================================== request quirks per host


@pytest.mark.parametrize(
    ("pid", "stream_options", "parallel"),
    [("groq", True, True), ("mistral", False, True), ("deepseek", True, False), ("cerebras", True, False),
     ("together", True, False), ("ollama", True, False), ("openrouter", True, True), ("vllm", True, True),
     ("openai", True, True)],
)
def test_stream_options_and_parallel_tool_calls_per_host(pid: str, stream_options: bool, parallel: bool) -> None:
    p = offline(pid)
    tool = {"name": "f", "parameters": {"type": "object", "properties": {}}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        body = body_of(p, stream=True, tools=[tool], parallel_tool_calls=False, max_tokens=9)
    assert ("stream_options" in body) is stream_options
    assert ("parallel_tool_calls" in body) is parallel
    assert any("parallel_tool_calls" in str(w.message) for w in caught) is not parallel
    assert body["max_completion_tokens" if pid == "openai" else "max_tokens"] == 9


class Answer(BaseModel):
    value: int


@pytest.mark.parametrize(
    ("pid", "wire", "mode"),
    [("mistral", None, "json_schema"), ("groq", None, "json_object"), ("deepseek", None, "json_object"),
     ("lmstudio", None, "json_schema"), ("openai-compatible", {"json_schema": False, "json_object": False}, "prompt")],
)
def test_structured_output_falls_back_per_host(pid: str, wire: dict[str, Any] | None, mode: str) -> None:
    p = offline(pid, **({"wire": wire} if wire else {}))
    call = p._structured_call(MODEL, "answer", Answer, {})
    assert call.structured_mode == mode
    body = p._build_request(call)
    if mode == "json_schema":
        assert body["response_format"]["type"] == "json_schema"
        assert body["messages"] == [{"role": "user", "content": "answer"}]
    else:
        assert body.get("response_format") == ({"type": "json_object"} if mode == "json_object" else None)
        assert '"value"' in body["messages"][0]["content"]  # the schema travels in the prompt


def test_mistral_spells_seed_its_way_and_refuses_user() -> None:
    p = offline("mistral")
    with pytest.warns(UserWarning, match="user"):
        body = body_of(p, seed=7, user="u-1")
    assert body["random_seed"] == 7
    assert "seed" not in body and "user" not in body
    _, _, options = p._embed_plan("mistral-embed", "a", 512, None)
    assert p._build_embed_request("mistral-embed", ["a"], options) == {
        "model": "mistral-embed", "input": ["a"], "output_dimension": 512}


def test_wire_override_for_a_gateway() -> None:
    p = offline("openai-compatible", wire={"stream_options": False, "max_tokens_field": "max_completion_tokens"})
    body = body_of(p, stream=True, max_tokens=5)
    assert "stream_options" not in body and body["max_completion_tokens"] == 5
    with pytest.raises(ConfigurationError, match="mapping"):
        offline("openai-compatible", wire="nope")


# ====================================================================== OpenRouter configuration


def test_openrouter_attribution_routing_and_usage_accounting() -> None:
    routing = {"order": ["anthropic", "together"], "allow_fallbacks": False}
    p = offline("openrouter", app_url="https://myapp.example", app_name="My App", provider_routing=routing)
    assert p.default_headers == {"HTTP-Referer": "https://myapp.example", "X-Title": "My App"}
    body = body_of(p)
    assert body["usage"] == {"include": True}
    assert body["provider"] == routing
    # A per-call extra still wins.
    assert body_of(p, extra={"provider": {"sort": "price"}})["provider"] == {"sort": "price"}


def test_openrouter_attribution_from_env_and_explicit_headers_win() -> None:
    env = {"AGENTOS_LLM_CONFIG": "/dev/null/absent.toml", "OPENROUTER_API_KEY": "or-1",
           "OPENROUTER_APP_URL": "https://env.example", "OPENROUTER_APP_NAME": "Env App"}
    p = create_provider("openrouter", env=env, default_headers={"x-title": "Explicit"})
    assert p.default_headers == {"x-title": "Explicit", "HTTP-Referer": "https://env.example"}
    plain = offline("openrouter")
    assert plain.default_headers == {}
    assert "provider" not in body_of(plain)


def test_row_config_keys_belong_to_their_row() -> None:
    with pytest.raises(ConfigurationError, match="app_name"):
        offline("groq", app_name="x")
    with pytest.raises(ConfigurationError, match="unknown configuration"):
        offline("openrouter", nonsense=1)


# ====================================================================== end to end, every named host


@pytest.mark.parametrize("named", NAMED, indirect=True)
async def test_named_host_generate_stream_embed_and_list(named: IProvider, emu: WireEmulator) -> None:
    pid = named.provider_id
    model = named.default_model or "served-model"
    emu.models = [model, "embed-model"]

    r = await named.generate(model, "hello there")
    assert (r.provider, r.text, r.finish_reason) == (pid, "Echo: hello there", FinishReason.STOP)
    assert r.usage.input_tokens == 2

    events = [e async for e in named.stream(model, "stream me")]
    assert isinstance(events[-1], DoneEvent)
    assert "".join(e.delta for e in events if isinstance(e, TextDeltaEvent)) == "Echo: stream me"
    assert events[-1].response.text == "Echo: stream me"

    if pid in WITHOUT_EMBEDDINGS:
        with pytest.raises(UnsupportedCapabilityError):
            await named.embed("embed-model", ["a"])
    else:
        e = await named.embed("embed-model", ["a", "b"])
        assert len(e.vectors) == 2 and e.provider == pid
        sent = last_body(emu, "/embeddings")
        assert isinstance(named, OpenAIProvider)
        assert sent.get("encoding_format") == ("base64" if named.wire.get("embeddings_base64") else None)

    listed = await named.list_models()
    assert {m.provider for m in listed} == {pid}
    ids = [m.id for m in listed]
    assert ids == ([f"{model}:latest", "embed-model:latest"] if pid == "ollama" else [model, "embed-model"])


@pytest.mark.parametrize("named", ["groq", "vllm"], indirect=True)
def test_named_host_sync_twins(named: IProvider, emu: WireEmulator) -> None:
    emu.models = ["m1"]
    assert named.generate_sync("m1", "sync").text == "Echo: sync"
    done = list(named.stream_sync("m1", "s"))[-1]
    assert isinstance(done, DoneEvent) and done.response.text == "Echo: s"
    assert [m.id for m in named.list_models_sync()] == ["m1"]


# ====================================================================== quirks served by the emulator


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("pid", "quirk"),
    [("deepseek", "reasoning_content"), ("groq", "reasoning"), ("openrouter", "reasoning_details"),
     ("mistral", "mistral_thinking_parts"), ("groq", "think_tags"), ("vllm", "think_tags"),
     ("openai-compatible", "think_tags")],
)
async def test_reasoning_quirks(emu: WireEmulator, pid: str, quirk: str, stream: bool) -> None:
    p = create_provider(pid, api_key="sk-test", base_url=emu.openai_base_url, max_retries=0)
    emu.script(Reply("The answer is 4.", reasoning="2 plus 2 <is> 4", quirk=quirk))
    if stream:
        events = [e async for e in p.stream(MODEL, "2+2?")]
        assert isinstance(events[-1], DoneEvent)
        r = events[-1].response
        assert "".join(e.delta for e in events if isinstance(e, ReasoningDeltaEvent)) == "2 plus 2 <is> 4"
        assert "".join(e.delta for e in events if isinstance(e, TextDeltaEvent)) == "The answer is 4."
    else:
        r = await p.generate(MODEL, "2+2?")
    assert (r.text, r.reasoning) == ("The answer is 4.", "2 plus 2 <is> 4")
    await p.aclose()


@pytest.mark.parametrize("stream", [False, True])
async def test_groq_usage_under_x_groq(emu: WireEmulator, stream: bool) -> None:
    p = create_provider("groq", api_key="gsk-test", base_url=emu.openai_base_url, max_retries=0)
    emu.script(Reply("hi", prompt_tokens=11, completion_tokens=3, quirk="x_groq_usage"))
    r = (await p.generate(MODEL, "x")) if not stream else await final(p.stream(MODEL, "x"))
    assert (r.usage.input_tokens, r.usage.output_tokens) == (11, 3)
    await p.aclose()


@pytest.mark.parametrize("stream", [False, True])
async def test_no_finish_reason_and_no_tool_ids(emu: WireEmulator, stream: bool) -> None:
    p = create_provider("openai-compatible", base_url=emu.openai_base_url, max_retries=0)
    emu.script(Reply(tool_calls=[("a", {"x": 1}), ("b", {})], quirk=("no_tool_ids", "no_finish_reason")),
               Reply("plain", quirk="no_finish_reason"))
    tools = [{"name": n, "parameters": {"type": "object", "properties": {}}} for n in ("a", "b")]
    for expected in (FinishReason.TOOL_CALLS, None):
        if stream:
            r = await final(p.stream(MODEL, "x", tools=tools))
        else:
            r = await p.generate(MODEL, "x", tools=tools)
        assert r.finish_reason is expected and r.raw_finish_reason is None
    await p.aclose()


async def test_tool_calls_without_ids_round_trip(emu: WireEmulator) -> None:
    p = create_provider("ollama", base_url=emu.openai_base_url, max_retries=0)
    emu.script(Reply(tool_calls=[("a", {"x": 1}), ("b", {})], quirk="no_tool_ids"))
    tools = [{"name": n, "parameters": {"type": "object", "properties": {}}} for n in ("a", "b")]
    r = await final(p.stream("llama3.2", "x", tools=tools))
    ids = [c.id for c in r.tool_calls]
    assert len(set(ids)) == 2 and [c.arguments for c in r.tool_calls] == [{"x": 1}, {}]
    # The synthesized ids go back with the results, so the next turn pairs them.
    history: list[Any] = [
        {"role": "user", "content": "x"},
        r.message,
        {"role": "tool", "tool_call_id": ids[0], "content": "1"},
        {"role": "tool", "tool_call_id": ids[1], "content": "2"},
    ]
    await p.generate("llama3.2", history, tools=tools)
    sent = last_body(emu)["messages"]
    assert [c["id"] for c in sent[1]["tool_calls"]] == ids
    assert [m["tool_call_id"] for m in sent[2:]] == ids
    await p.aclose()


async def test_keepalive_comments_and_stream_without_done(emu: WireEmulator) -> None:
    p = create_provider("groq", api_key="gsk-test", base_url=emu.openai_base_url, max_retries=0)
    emu.script(Reply("kept alive", quirk=("keepalive_comments", "no_done")))
    r = await final(p.stream(MODEL, "x"))
    assert (r.text, r.finish_reason) == ("kept alive", FinishReason.STOP)
    await p.aclose()


async def test_error_object_inside_a_200_stream(emu: WireEmulator) -> None:
    p = create_provider("groq", api_key="gsk-test", base_url=emu.openai_base_url, max_retries=0)
    emu.script(Fault(stream_error={"message": "Tool call validation failed", "type": "invalid_request_error",
                                   "code": "tool_use_failed", "status_code": 400}))
    with pytest.raises(InvalidRequestError, match="Tool call validation failed"):
        async for _ in p.stream(MODEL, "x"):
            pass
    await p.aclose()


def test_unknown_quirk_is_an_emulator_error(emu: WireEmulator) -> None:
    assert "think_tags" in QUIRKS
    p = create_provider("vllm", base_url=emu.openai_base_url, max_retries=0)
    emu.script(Reply("x", quirk="no_such_quirk"))
    with pytest.raises(Exception, match="no_such_quirk"):
        p.generate_sync(MODEL, "x")


# ====================================================================== OpenRouter end to end


@pytest.fixture
async def openrouter(emu: WireEmulator) -> AsyncIterator[IProvider]:
    p = create_provider("openrouter", api_key="or-test", base_url=emu.url + "/api/v1", max_retries=0,
                        app_url="https://myapp.example", app_name="My App", provider_routing={"order": ["x"]})
    yield p
    await p.aclose()


@pytest.mark.parametrize("stream", [False, True])
async def test_openrouter_cost_upstream_headers_and_routing(
        openrouter: IProvider, emu: WireEmulator, stream: bool) -> None:
    emu.script(Reply("routed", prompt_tokens=1000, completion_tokens=200))
    if stream:
        r = await final(openrouter.stream("anthropic/claude-sonnet-4.5", "x"))
    else:
        r = await openrouter.generate("anthropic/claude-sonnet-4.5", "x")
    assert r.text == "routed"
    assert r.upstream == OPENROUTER_UPSTREAM
    assert r.usage.cost_usd == pytest.approx(openrouter_cost(1000, 200)) == pytest.approx(0.0045)
    sent = emu.requests[-1]
    assert sent.path == "/api/v1/chat/completions"
    assert (sent.headers["http-referer"], sent.headers["x-title"]) == ("https://myapp.example", "My App")
    assert sent.body["usage"] == {"include": True}
    assert sent.body["provider"] == {"order": ["x"]}


async def test_openrouter_listing_with_prices_and_context(openrouter: IProvider, emu: WireEmulator) -> None:
    emu.models = ["anthropic/claude-sonnet-4.5", "openai/text-embedding-3-small"]
    chat, embed = await openrouter.list_models()
    per_million = float(OPENROUTER_PRICING["prompt"]) * 1e6
    assert (chat.id, chat.input_price, chat.output_price) == ("anthropic/claude-sonnet-4.5", per_million, 10.0)
    assert (chat.context_window, chat.max_output_tokens) == (128000, 16384)
    assert chat.capabilities == {"tools", "json_schema", "vision"}
    assert chat.display_name == "Emulated: anthropic/claude-sonnet-4.5"
    assert (embed.context_window, embed.capabilities) == (8192, frozenset())


# ====================================================================== Ollama end to end


@pytest.mark.parametrize("sync", [False, True])
async def test_ollama_lists_models_from_its_native_api(emu: WireEmulator, sync: bool) -> None:
    emu.models = ["llama3.2", "qwen3:8b", "llava-vision", "nomic-embed-text"]
    p = create_provider("ollama", base_url=emu.openai_base_url, max_retries=0)
    listed = p.list_models_sync() if sync else await p.list_models()
    by_id = {m.id: m for m in listed}
    assert list(by_id) == ["llama3.2:latest", "qwen3:8b", "llava-vision:latest", "nomic-embed-text:latest"]
    assert by_id["llama3.2:latest"].context_window == 131072
    assert by_id["llama3.2:latest"].capabilities == {"tools"}
    assert by_id["qwen3:8b"].capabilities == {"tools", "reasoning"}
    assert by_id["llava-vision:latest"].capabilities == {"tools", "vision"}
    assert by_id["nomic-embed-text:latest"].context_window == 2048
    assert by_id["nomic-embed-text:latest"].capabilities == {"embeddings"}
    paths = [(r.method, r.path) for r in emu.requests]
    assert paths[0] == ("GET", "/api/tags")  # the server root, not /v1
    assert sorted(r.body["model"] for r in emu.requests if r.path == "/api/show") == sorted(by_id)
    assert not any(r.path.startswith("/v1") for r in emu.requests)
    await p.aclose()


async def test_ollama_chat_and_embeddings_go_through_v1(emu: WireEmulator) -> None:
    p = create_provider("ollama", base_url=emu.openai_base_url + "/", max_retries=0)
    assert isinstance(p, OpenAIProvider) and p.server_root == emu.url
    assert (await p.generate(None, "hi")).text == "Echo: hi"
    assert last_body(emu)["model"] == "llama3.2"
    e = await p.embed(None, ["a"])
    assert e.model == "nomic-embed-text" and len(e.vectors) == 1
    assert [r.path for r in emu.requests] == ["/v1/chat/completions", "/v1/embeddings"]
    assert (await p.check_health()).ok
    await p.aclose()


def test_bedrock_is_detected_only_with_credentials_and_a_region() -> None:
    base = {"AGENTOS_LLM_CONFIG": "/dev/null/absent.toml", "AWS_ACCESS_KEY_ID": "AKIDTESTONLY0000",
            "AWS_SECRET_ACCESS_KEY": "test-secret", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE":
            "/dev/null"}
    assert "bedrock" not in AIModelProviderManager.from_env(env=base).providers
    with_region = AIModelProviderManager.from_env(env={**base, "AWS_REGION": "eu-west-1"})
    assert "bedrock" in with_region.providers
