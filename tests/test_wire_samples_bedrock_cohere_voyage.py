"""Conformance over the real recorded responses of AWS Bedrock (Converse, ConverseStream, InvokeModel embeddings,
CountTokens), Cohere (v2 chat and embed, v1 tokenize) and Voyage AI (embeddings).

As in `test_wire_samples.py`: each sample of `tests/data/wire-samples/samples.jsonl` is served as recorded
(the binary AWS event stream byte for byte) by the loopback server of `wire_sample_server.py`, the provider for
its vendor is pointed there, and what it returns is checked against the sample's `expected` facts; the request
that reached the server is checked too. Both the async and the sync paths run.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote, unquote

import pytest
import pytest_asyncio
from wire_sample_server import SampleSlot, load_samples, serve_samples

import agentos_llm
from agentos_llm import errors
from agentos_llm.provider import IProvider
from agentos_llm.types import CompletionResponse, DoneEvent, TextDeltaEvent, ToolCallEvent

KINDS = ("bedrock-converse", "bedrock-embed", "cohere-chat", "cohere-embed", "voyage-embed")
EMBED_KINDS = ("bedrock-embed", "cohere-embed", "voyage-embed")
COUNT_ENDPOINTS = {"/count-tokens": "bedrock", "/v1/tokenize": "cohere"}
FINISH = {
    "bedrock-converse": {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls",
                         "max_tokens": "length", "model_context_window_exceeded": "length",
                         "guardrail_intervened": "content_filter", "content_filtered": "content_filter",
                         "malformed_model_output": "error", "malformed_tool_use": "error"},
    "cohere-chat": {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls",
                    "ERROR": "error", "TIMEOUT": "error", "ERROR_TOXIC": "content_filter"},
}
ERROR_FOR_STATUS: dict[int, tuple[type[errors.ProviderError], ...]] = {
    400: (errors.InvalidRequestError,), 401: (errors.AuthenticationError,), 403: (errors.PermissionDeniedError,),
    404: (errors.NotFoundError,), 429: (errors.RateLimitError, errors.QuotaExceededError),
}
MESSAGES = [{"role": "user", "content": "hi"}]
DUMMY_AWS = {"AWS_ACCESS_KEY_ID": "AKIDSAMPLESDUMMY0000", "AWS_SECRET_ACCESS_KEY": "samples-dummy-secret",
             "AWS_EC2_METADATA_DISABLED": "true"}
AWS_UNSET = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK", "AWS_WEB_IDENTITY_TOKEN_FILE",
             "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")


def _count_api(sample: dict[str, Any]) -> str | None:
    path = sample["path"].rstrip("/")
    return next((api for end, api in COUNT_ENDPOINTS.items() if path.endswith(end)), None)


def _load() -> list[dict[str, Any]]:
    return [s for s in load_samples() if s["kind"] in KINDS or (s["kind"] == "count-tokens" and _count_api(s))]


SAMPLES = _load()
IDS = [f"{s['id']}-{s['kind']}-{s['status']}" for s in SAMPLES]


def _provider_id(sample: dict[str, Any]) -> str:
    kind = sample["kind"]
    if kind == "count-tokens":
        return str(_count_api(sample))
    return kind.split("-", 1)[0]


def _model(sample: dict[str, Any]) -> str:
    path = sample["path"]
    if "/model/" in path:
        return unquote(path.split("/model/", 1)[1].rsplit("/", 1)[0])
    request = sample.get("request_json")
    model = request.get("model") if isinstance(request, dict) else None
    return model or "test-model"


# ---------------------------------------------------------------- the loopback server


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[int, SampleSlot]]:
    with serve_samples() as served, pytest.MonkeyPatch.context() as mp:
        for name, value in DUMMY_AWS.items():
            mp.setenv(name, value)
        for name in AWS_UNSET:
            mp.delenv(name, raising=False)
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        yield served


class _Providers:
    def __init__(self, port: int) -> None:
        self.root = f"http://127.0.0.1:{port}"
        self.made: dict[str, IProvider] = {}

    def get(self, sample: dict[str, Any]) -> IProvider:
        pid = _provider_id(sample)
        if pid not in self.made:
            kw: dict[str, Any] = {"max_retries": 0, "timeout": 20}
            if pid == "bedrock":
                kw.update(base_url=self.root, region="us-east-1")
            else:
                kw.update(api_key="test-key", base_url=self.root + ("/v1" if pid == "voyage" else ""))
            self.made[pid] = agentos_llm.create_provider(pid, **kw)
        return self.made[pid]


@pytest.fixture(scope="module")
def sync_providers(server: tuple[int, SampleSlot]) -> Iterator[_Providers]:
    providers = _Providers(server[0])
    yield providers
    for p in providers.made.values():
        p.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def async_providers(server: tuple[int, SampleSlot]) -> AsyncIterator[_Providers]:
    providers = _Providers(server[0])
    yield providers
    for p in providers.made.values():
        await p.aclose()


@pytest.fixture
def slot(server: tuple[int, SampleSlot]) -> Iterator[SampleSlot]:
    yield server[1]
    server[1].serve(None)


# ---------------------------------------------------------------- what a sample expects


def _is_error(sample: dict[str, Any]) -> bool:
    return sample["status"] >= 400 or bool(sample["expected"].get("stream_error"))


def _check_error(sample: dict[str, Any], exc: BaseException) -> None:
    assert isinstance(exc, errors.ProviderError), f"not an agentos_llm error: {type(exc).__name__}: {exc}"
    status = sample["status"]
    if status >= 400:
        assert exc.status_code == status
        want = ERROR_FOR_STATUS.get(status, (errors.ServerError,) if status >= 500 else (errors.InvalidRequestError,))
        assert isinstance(exc, want), f"status {status}: got {type(exc).__name__}, want one of {want}"
        message = sample["expected"].get("message")
        if message:
            assert message in str(exc)


def _expected_usage(sample: dict[str, Any]) -> dict[str, int]:
    usage = sample["expected"].get("usage") or {}
    if not usage:
        return {}
    cached = usage.get("cached_input_tokens") or 0
    written = usage.get("cache_write_input_tokens") or 0
    inp = usage["input_tokens"]
    if sample["kind"] == "bedrock-converse":
        inp += cached + written  # Bedrock's inputTokens leaves the cache out
    return {"input_tokens": inp, "output_tokens": usage["output_tokens"], "cached_input_tokens": cached,
            "cache_write_input_tokens": written}


def _check_response(sample: dict[str, Any], resp: CompletionResponse) -> None:
    exp = sample["expected"]
    assert resp.provider == _provider_id(sample)
    assert resp.text == (exp.get("text") or "")
    want_calls = exp.get("tool_calls") or []
    assert [(t.name, t.arguments, t.id) for t in resp.tool_calls] == [
        (t["name"], t["arguments"], t["id"]) for t in want_calls]
    assert resp.message.tool_calls == resp.tool_calls
    want_server = [t["type"] for t in exp.get("server_tool_calls") or ()]
    assert [t.type for t in resp.server_tool_calls] == want_server
    assert bool(resp.reasoning) == bool(exp.get("reasoning_text"))
    if exp.get("reasoning"):  # readable or not, it goes back on the next turn
        assert resp.message.vendor_blocks or resp.reasoning
    raw = exp.get("finish_reason")
    normalized = FINISH[sample["kind"]].get(raw, "other")
    if want_calls and normalized == "stop":
        normalized = "tool_calls"
    assert str(resp.finish_reason) == normalized
    assert resp.raw_finish_reason == raw
    for key, value in _expected_usage(sample).items():
        assert getattr(resp.usage, key) == value, key


def _check_embeddings(sample: dict[str, Any], vectors: list[list[float]], input_tokens: int) -> None:
    exp = sample["expected"]
    assert len(vectors) == exp["count"]
    assert all(len(v) == exp["dims"] for v in vectors)
    assert all(isinstance(x, float) for v in vectors for x in v)
    usage = exp.get("usage") or {}
    if usage.get("input_tokens") is not None:
        assert input_tokens == usage["input_tokens"]


def _check_request(sample: dict[str, Any], slot: SampleSlot) -> None:
    requests = slot.requests()
    assert len(requests) == 1, requests  # max_retries=0: exactly one request
    method, path, body = requests[0]
    assert method == "POST" and isinstance(body, dict)
    kind, model = sample["kind"], _model(sample)
    if _provider_id(sample) == "bedrock":
        verb = {"bedrock-converse": "converse-stream" if sample["stream"] else "converse",
                "bedrock-embed": "invoke", "count-tokens": "count-tokens"}[kind]
        assert unquote(path) == f"/model/{model}/{verb}" or path == f"/model/{quote(model, safe='')}/{verb}", path
        if kind == "bedrock-converse":
            assert body["messages"] == [{"role": "user", "content": [{"text": "hi"}]}]
        elif kind == "count-tokens":
            assert body["input"]["converse"]["messages"] == [{"role": "user", "content": [{"text": "hi"}]}]
        return
    if kind == "count-tokens":
        assert path == "/v1/tokenize" and body["model"] == model and "hi" in body["text"]
    elif kind == "cohere-chat":
        assert path == "/v2/chat" and body["model"] == model
        assert [m["role"] for m in body["messages"]] == ["user"]
    elif kind == "cohere-embed":
        assert path == "/v2/embed" and body["model"] == model
        assert body["texts"] == [f"text {i}" for i in range(sample["expected"]["count"])]
    else:
        assert path == "/v1/embeddings" and body["model"] == model
        assert body["input"] == [f"text {i}" for i in range(sample["expected"]["count"])]


def _check_stream(events: list[Any]) -> CompletionResponse:
    assert events and isinstance(events[-1], DoneEvent)
    resp = events[-1].response
    assert "".join(e.delta for e in events if isinstance(e, TextDeltaEvent)) == resp.text
    assert [e.tool_call for e in events if isinstance(e, ToolCallEvent)] == resp.tool_calls
    return resp


def _texts(sample: dict[str, Any]) -> list[str]:
    return [f"text {i}" for i in range(int(sample["expected"].get("count") or 1))]


# ---------------------------------------------------------------- async and sync


async def _run_async(provider: IProvider, sample: dict[str, Any]) -> None:
    model = _model(sample)
    if sample["kind"] == "count-tokens":
        counted = await provider.count_tokens(model, MESSAGES)
        assert counted.exact and counted.input_tokens == sample["expected"]["input_tokens"]
    elif sample["kind"] in EMBED_KINDS:
        result = await provider.embed(model, _texts(sample))
        _check_embeddings(sample, result.vectors, result.usage.input_tokens)
    elif sample["stream"]:
        events: list[Any] = []
        async with provider.stream(model, MESSAGES) as stream:
            async for event in stream:
                events.append(event)
        _check_response(sample, _check_stream(events))
    else:
        _check_response(sample, await provider.generate(model, MESSAGES))


def _run_sync(provider: IProvider, sample: dict[str, Any]) -> None:
    model = _model(sample)
    if sample["kind"] == "count-tokens":
        counted = provider.count_tokens_sync(model, MESSAGES)
        assert counted.exact and counted.input_tokens == sample["expected"]["input_tokens"]
    elif sample["kind"] in EMBED_KINDS:
        result = provider.embed_sync(model, _texts(sample))
        _check_embeddings(sample, result.vectors, result.usage.input_tokens)
    elif sample["stream"]:
        with provider.stream_sync(model, MESSAGES) as stream:
            events = list(stream)
        _check_response(sample, _check_stream(events))
    else:
        _check_response(sample, provider.generate_sync(model, MESSAGES))


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("sample", SAMPLES, ids=IDS)
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


@pytest.mark.parametrize("sample", SAMPLES, ids=IDS)
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


def test_every_kind_and_mode_is_covered() -> None:
    assert {s["kind"] for s in SAMPLES} == {*KINDS, "count-tokens"}
    assert any(s["stream"] and s["kind"] == "bedrock-converse" for s in SAMPLES)
    assert any(_is_error(s) for s in SAMPLES)
    assert {_count_api(s) for s in SAMPLES if s["kind"] == "count-tokens"} == {"bedrock", "cohere"}
