"""Conformance over real recorded vendor responses (OpenAI chat/embeddings/Responses, Anthropic messages, Gemini
wire, and the token-counting endpoints of OpenAI, Anthropic and Gemini).

Each sample of `tests/data/wire-samples/samples.jsonl` (real answers recorded by pydantic-ai's test suite, MIT)
is served as recorded by the loopback server of `wire_sample_server.py`, a provider for the sample's vendor is
pointed at it, and what the provider returns is checked against the sample's `expected` facts. Both the async
and the sync paths are exercised.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from wire_sample_server import SampleSlot, load_samples, serve_samples

import agentos_llm
from agentos_llm import errors
from agentos_llm.provider import IProvider
from agentos_llm.types import CompletionResponse, DoneEvent, TextDeltaEvent, ToolCallEvent

KINDS = ("openai-chat", "openai-embeddings", "anthropic-messages", "gemini-generate", "gemini-embed",
         "openai-responses", "count-tokens")
EMBED_KINDS = ("openai-embeddings", "gemini-embed")
PROVIDER_FOR_KIND = {"anthropic-messages": "anthropic", "gemini-generate": "gemini", "gemini-embed": "gemini"}
# The counting endpoints checked here, by the end of their path (Bedrock and Cohere come with their providers).
COUNT_ENDPOINTS = {"/messages/count_tokens": "anthropic", ":countTokens": "gemini",
                   "/responses/input_tokens": "openai-responses"}
ROOT_BASE_URL = ("anthropic", "gemini")  # their SDKs take the server root; OpenAI-style hosts take .../v1
PROVIDER_FOR_VENDOR = {
    "openai": "openai",
    "groq": "groq",
    "openrouter": "openrouter",
    "mistral": "mistral",
    "deepseek": "deepseek",
    "ollama": "ollama",
    "cerebras": "cerebras",
    "together": "together",
    "xai": "xai",
}
FINISH = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    # Anthropic
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "other",
    # Gemini
    "STOP": "stop",
    "MAX_TOKENS": "length",
    **dict.fromkeys(("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "MODEL_ARMOR"),
                    "content_filter"),
    "MALFORMED_FUNCTION_CALL": "error",
    "UNEXPECTED_TOOL_CALL": "error",
}
# The Responses API's raw values (a response status, or the incomplete reason); anything else is "other".
RESPONSES_FINISH = {"completed": "stop", "max_output_tokens": "length", "content_filter": "content_filter",
                    "failed": "error", "cancelled": "other", "incomplete": "other"}
ERROR_FOR_STATUS: dict[int, tuple[type[errors.ProviderError], ...]] = {
    400: (errors.InvalidRequestError,),
    401: (errors.AuthenticationError,),
    402: (errors.QuotaExceededError,),
    403: (errors.PermissionDeniedError,),
    404: (errors.NotFoundError,),
    429: (errors.RateLimitError, errors.QuotaExceededError),
}
MESSAGES = [{"role": "user", "content": "hi"}]


def _load() -> list[dict[str, Any]]:
    rows = load_samples()
    # The single-text Gemini endpoint answers one vector: a provider batches, so it never calls it.
    return [s for s in rows if s["kind"] in KINDS and not s["path"].endswith(":embedContent")
            and (s["kind"] != "count-tokens" or _count_api(s) is not None)]


def _count_api(sample: dict[str, Any]) -> str | None:
    path = sample["path"].rstrip("/")
    return next((api for end, api in COUNT_ENDPOINTS.items() if path.endswith(end)), None)


SAMPLES = _load()


def _ids(samples: list[dict[str, Any]]) -> list[str]:
    return [f"{s['id']}-{s['vendor']}-{s['status']}" for s in samples]


# ---------------------------------------------------------------- the loopback server


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[int, SampleSlot]]:
    with serve_samples() as served:
        yield served


class _Providers:
    """One provider per provider id, pointed at the loopback server and reused across samples."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._made: dict[str, IProvider] = {}

    def get(self, sample: dict[str, Any]) -> IProvider:
        pid = _provider_id(sample)
        root = f"http://127.0.0.1:{self.port}"
        prefix = _responses_prefix(sample)
        api = None if prefix is None else "responses"
        base_url = root + prefix if prefix is not None else root if pid in ROOT_BASE_URL else root + "/v1"
        key = f"{pid} {api} {base_url}"
        if key not in self._made:
            self._made[key] = agentos_llm.create_provider(
                pid, api=api, api_key="sk-test", base_url=base_url, max_retries=0, timeout=20,
            )
        return self._made[key]

    def close(self) -> None:
        for provider in self._made.values():
            provider.close()

    async def aclose(self) -> None:
        for provider in self._made.values():
            await provider.aclose()


@pytest.fixture(scope="module")
def sync_providers(server: tuple[int, SampleSlot]) -> Iterator[_Providers]:
    providers = _Providers(server[0])
    yield providers
    providers.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def async_providers(server: tuple[int, SampleSlot]) -> AsyncIterator[_Providers]:
    providers = _Providers(server[0])
    yield providers
    await providers.aclose()


@pytest.fixture
def slot(server: tuple[int, SampleSlot]) -> Iterator[SampleSlot]:
    yield server[1]
    server[1].serve(None)


# ---------------------------------------------------------------- what a sample expects


def _provider_id(sample: dict[str, Any]) -> str:
    if sample["kind"] == "count-tokens" and _count_api(sample) in ("anthropic", "gemini"):
        return str(_count_api(sample))
    return PROVIDER_FOR_KIND.get(sample["kind"]) or PROVIDER_FOR_VENDOR.get(sample["vendor"], "openai-compatible")


def _responses_prefix(sample: dict[str, Any]) -> str | None:
    """The base-URL path of a Responses sample (`/v1`, `/openai/v1`, "" for DeepSeek), else None."""
    path = sample["path"].rstrip("/")
    for end in ("/responses/input_tokens", "/responses"):
        if path.endswith(end) and (sample["kind"] == "openai-responses" or _count_api(sample) == "openai-responses"):
            return path[:-len(end)]
    return None


def _model(sample: dict[str, Any]) -> str:
    request = sample.get("request_json")
    model = request.get("model") if isinstance(request, dict) else None
    if not model and "/models/" in sample["path"]:
        model = sample["path"].split("/models/")[1].split(":")[0]
    return model or "test-model"


def _expected_usage(sample: dict[str, Any]) -> dict[str, int | None]:
    """The sample's usage facts under our inclusive convention (input counts cache, output counts thoughts)."""
    usage = sample["expected"].get("usage") or {}
    if not usage:
        return {}
    cached = usage.get("cached_input_tokens") or 0
    written = usage.get("cache_write_input_tokens") or 0
    reasoning = usage.get("reasoning_tokens") or 0
    inp, out = usage.get("input_tokens"), usage.get("output_tokens")
    if sample["kind"] == "anthropic-messages" and inp is not None:
        inp += cached + written  # Anthropic counts input without the cache
    if sample["kind"] == "gemini-generate" and out is not None:
        out += reasoning  # Gemini counts thoughts apart from candidates
    return {"input_tokens": inp, "output_tokens": out, "cached_input_tokens": cached,
            "cache_write_input_tokens": written, "reasoning_tokens": reasoning}


def _is_error(sample: dict[str, Any]) -> bool:
    return sample["status"] >= 400 or bool(sample["expected"].get("stream_error"))


def _check_error(sample: dict[str, Any], exc: BaseException) -> None:
    exp = sample["expected"]
    assert isinstance(exc, errors.ProviderError), f"not an agentos_llm error: {type(exc).__name__}: {exc}"
    if sample["status"] >= 400:
        status = sample["status"]
        message, code, etype = exp.get("message"), exp.get("error_code"), exp.get("error_type")
        assert exc.status_code in (status, exp.get("error_code"))
    else:
        stream_error = exp["stream_error"]
        status = stream_error.get("status_code")
        message, code, etype = stream_error.get("message"), stream_error.get("code"), stream_error.get("type")
    if isinstance(status, int):
        want = ERROR_FOR_STATUS.get(status, (errors.ServerError,) if status >= 500 else (errors.InvalidRequestError,))
        assert isinstance(exc, want), f"status {status}: got {type(exc).__name__}, want one of {want}"
    if message:
        assert exc.message == message
    if code or etype:
        assert exc.code in {str(code) if code is not None else None, etype}
    if sample.get("retry_after"):
        assert exc.retry_after is not None


def _check_response(sample: dict[str, Any], resp: CompletionResponse) -> None:
    exp = sample["expected"]
    assert resp.provider == _provider_id(sample)
    responses = sample["kind"] == "openai-responses"

    want_text = exp.get("text") or ""
    assert resp.text in {want_text, exp.get("text_outside_think", want_text)}

    if exp.get("tool_calls") is not None:
        assert [t.name for t in resp.tool_calls] == [t["name"] for t in exp["tool_calls"]]
        for call, spec in zip(resp.tool_calls, exp["tool_calls"], strict=True):
            if spec["arguments"] is not None:
                assert call.arguments == spec["arguments"], call.name
            elif spec.get("arguments_raw") is not None:
                assert call.arguments_raw == spec["arguments_raw"], call.name
            if spec.get("id"):
                assert call.id == spec["id"], call.name  # the id a tool result must quote back
        assert all(t.id for t in resp.tool_calls)
    assert resp.message.tool_calls == resp.tool_calls
    assert resp.message.text == resp.text

    raw = exp.get("finish_reason")
    if raw in (None, ""):
        assert resp.raw_finish_reason in (None, "")
        if not resp.tool_calls:
            assert resp.finish_reason is None
    else:
        normalized = RESPONSES_FINISH.get(raw, "other") if responses else FINISH.get(raw, "other")
        if exp.get("tool_calls") and normalized == "stop":
            normalized = "tool_calls"
        assert str(resp.finish_reason) == normalized
        assert resp.raw_finish_reason == raw

    for key, value in _expected_usage(sample).items():
        if value is not None:
            assert getattr(resp.usage, key) == value, key

    if responses:
        _check_responses_extras(sample, resp)


def _check_responses_extras(sample: dict[str, Any], resp: CompletionResponse) -> None:
    """Hosted tools, reasoning and the items that go back verbatim on the next turn."""
    exp = sample["expected"]
    assert resp.api == "openai-responses"
    want_server = [t["type"] for t in exp.get("server_tool_calls") or ()]
    assert [t.type for t in resp.server_tool_calls] == want_server
    for call, spec in zip(resp.server_tool_calls, exp.get("server_tool_calls") or (), strict=True):
        if spec.get("name"):
            assert call.name == spec["name"]
    assert bool(resp.reasoning) == bool(exp.get("reasoning_text"))
    blocks = resp.message.vendor_blocks
    assert all(b.provider == _provider_id(sample) for b in blocks)  # the host's id: they go back only there
    if exp.get("reasoning"):
        assert any(b.type == "reasoning" for b in blocks)
    assert [b.type for b in blocks if b.type in want_server] == want_server


def _check_embeddings(sample: dict[str, Any], vectors: list[list[float]], input_tokens: int) -> None:
    exp = sample["expected"]
    assert len(vectors) == exp["count"]
    if exp.get("dims"):
        assert all(len(v) == exp["dims"] for v in vectors)
    assert all(isinstance(x, float) for v in vectors for x in v)
    usage = exp.get("usage") or {}
    if usage.get("input_tokens") is not None:
        assert input_tokens == usage["input_tokens"]


def _check_request(sample: dict[str, Any], slot: SampleSlot) -> None:
    requests = slot.requests()
    assert len(requests) == 1, requests  # max_retries=0: exactly one request
    method, path, body = requests[0]
    assert method == "POST"
    assert isinstance(body, dict)
    kind = sample["kind"]
    if kind == "anthropic-messages":
        assert path == "/v1/messages"
        assert body["model"] == _model(sample)
        assert [m["role"] for m in body["messages"]] == ["user"]
        assert bool(body.get("stream")) == sample["stream"]
        return
    if kind == "gemini-generate":
        verb = ":streamGenerateContent" if sample["stream"] else ":generateContent"
        assert path.split("?")[0].endswith(f"/models/{_model(sample)}{verb}"), path
        assert [c.get("role") for c in body["contents"]] == ["user"]
        return
    if kind == "gemini-embed":
        assert path.split("?")[0].endswith(f"/models/{_model(sample)}:batchEmbedContents"), path
        assert len(body["requests"]) == _embed_count(sample)
        return
    if kind == "count-tokens":
        _check_count_request(sample, path, body)
        return
    if kind == "openai-responses":
        assert path == f"{_responses_prefix(sample)}/responses"
        assert body["model"] == _model(sample)
        assert body["input"] == [{"role": "user", "content": "hi"}]
        assert body["store"] is False
        assert bool(body.get("stream")) == sample["stream"]
        return
    assert body["model"] == _model(sample)
    if kind == "openai-embeddings":
        assert path == "/v1/embeddings"
        assert body["input"] == [f"text {i}" for i in range(_embed_count(sample))]
    else:
        assert path == "/v1/chat/completions"
        assert body["messages"] == MESSAGES
        assert bool(body.get("stream")) == sample["stream"]


def _check_count_request(sample: dict[str, Any], path: str, body: dict[str, Any]) -> None:
    api = _count_api(sample)
    if api == "anthropic":
        assert path == "/v1/messages/count_tokens"
        assert body["model"] == _model(sample)
        assert [m["role"] for m in body["messages"]] == ["user"]
    elif api == "gemini":
        assert path.split("?")[0].endswith(f"/models/{_model(sample)}:countTokens"), path
    else:
        assert path == f"{_responses_prefix(sample)}/responses/input_tokens"
        assert body == {"model": _model(sample), "input": [{"role": "user", "content": "hi"}]}


def _embed_count(sample: dict[str, Any]) -> int:
    return int(sample["expected"].get("count") or 1)


def _check_stream_events(events: list[Any]) -> CompletionResponse:
    assert events, "no events"
    done = events[-1]
    assert isinstance(done, DoneEvent), f"the last event is {getattr(done, 'type', None)}, not done"
    assert sum(isinstance(e, DoneEvent) for e in events) == 1
    resp = done.response
    assert "".join(e.delta for e in events if isinstance(e, TextDeltaEvent)) == resp.text
    assert [e.tool_call for e in events if isinstance(e, ToolCallEvent)] == resp.tool_calls
    return resp


# ---------------------------------------------------------------- async


async def _run_async(provider: IProvider, sample: dict[str, Any]) -> None:
    model = _model(sample)
    if sample["kind"] == "count-tokens":
        counted = await provider.count_tokens(model, MESSAGES)
        assert counted.exact and counted.input_tokens == sample["expected"]["input_tokens"]
    elif sample["kind"] in EMBED_KINDS:
        result = await provider.embed(model, [f"text {i}" for i in range(_embed_count(sample))])
        _check_embeddings(sample, result.vectors, result.usage.input_tokens)
    elif sample["stream"]:
        events: list[Any] = []
        try:
            async with provider.stream(model, MESSAGES) as stream:
                async for event in stream:
                    events.append(event)
        except errors.ProviderError:
            assert not any(isinstance(e, DoneEvent) for e in events)
            raise
        _check_response(sample, _check_stream_events(events))
    else:
        _check_response(sample, await provider.generate(model, MESSAGES))


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("sample", SAMPLES, ids=_ids(SAMPLES))
async def test_async(sample: dict[str, Any], slot: SampleSlot, async_providers: _Providers) -> None:
    slot.serve(sample)
    provider = async_providers.get(sample)
    if _is_error(sample):
        with pytest.raises(errors.ProviderError) as info:
            await _run_async(provider, sample)
        _check_error(sample, info.value)
    else:
        await _run_async(provider, sample)
    _check_request(sample, slot)


# ---------------------------------------------------------------- sync


def _run_sync(provider: IProvider, sample: dict[str, Any]) -> None:
    model = _model(sample)
    if sample["kind"] == "count-tokens":
        counted = provider.count_tokens_sync(model, MESSAGES)
        assert counted.exact and counted.input_tokens == sample["expected"]["input_tokens"]
    elif sample["kind"] in EMBED_KINDS:
        result = provider.embed_sync(model, [f"text {i}" for i in range(_embed_count(sample))])
        _check_embeddings(sample, result.vectors, result.usage.input_tokens)
    elif sample["stream"]:
        events: list[Any] = []
        try:
            with provider.stream_sync(model, MESSAGES) as stream:
                events.extend(stream)
        except errors.ProviderError:
            assert not any(isinstance(e, DoneEvent) for e in events)
            raise
        _check_response(sample, _check_stream_events(events))
    else:
        _check_response(sample, provider.generate_sync(model, MESSAGES))


@pytest.mark.parametrize("sample", SAMPLES, ids=_ids(SAMPLES))
def test_sync(sample: dict[str, Any], slot: SampleSlot, sync_providers: _Providers) -> None:
    slot.serve(sample)
    provider = sync_providers.get(sample)
    if _is_error(sample):
        with pytest.raises(errors.ProviderError) as info:
            _run_sync(provider, sample)
        _check_error(sample, info.value)
    else:
        _run_sync(provider, sample)
    _check_request(sample, slot)


def test_the_corpus_is_not_empty() -> None:
    assert len(SAMPLES) > 100
    assert any(s["stream"] for s in SAMPLES)
    assert any(_is_error(s) for s in SAMPLES)
    assert {s["kind"] for s in SAMPLES} == set(KINDS)
