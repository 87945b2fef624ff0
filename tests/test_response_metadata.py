"""What response headers say reaches the response: request ids, rate limits (also kept for `get_quota()`),
and a gateway's reported cost, for whole calls and streams, sync and async, through each converted I/O layer
(OpenAI chat and Responses, Anthropic, Gemini, Voyage) against the loopback emulator or loopback servers."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from local_servers import Imitation

from agentos_llm import create_provider
from agentos_llm.ledger import MemoryStore, UsageLedger
from agentos_llm.provider import Call, IProvider, Operation, Received
from agentos_llm.rate_limits import RATE_LIMITS
from agentos_llm.testing import FakeProvider, WireEmulator
from agentos_llm.testing.anthropic_wire import RATE_LIMITS as ANTHROPIC_LIMITS
from agentos_llm.testing.openai_wire import RATE_LIMIT_REQUESTS, RATE_LIMIT_TOKENS
from agentos_llm.types import CompletionResponse, DoneEvent

KEY = "sk-test-not-a-real-key"
MODES = ["generate_sync", "generate", "stream_sync", "stream"]


@pytest.fixture(scope="module")
def server() -> Iterator[WireEmulator]:
    with WireEmulator() as emu:
        yield emu


@pytest.fixture
def emu(server: WireEmulator) -> Iterator[WireEmulator]:
    server.reset()
    RATE_LIMITS.clear()
    yield server
    server.reset()
    RATE_LIMITS.clear()


async def call(provider: IProvider, mode: str, model: str, prompt: str = "Say hi.") -> CompletionResponse:
    if mode == "generate_sync":
        return provider.generate_sync(model, prompt)
    if mode == "generate":
        return await provider.generate(model, prompt)
    if mode == "stream_sync":
        with provider.stream_sync(model, prompt) as events:
            last = list(events)[-1]
    else:
        async with provider.stream(model, prompt) as aevents:
            last = [e async for e in aevents][-1]
    assert isinstance(last, DoneEvent)
    return last.response


def request_number(response: CompletionResponse) -> int:
    assert response.request_id is not None
    match = re.fullmatch(r"req_emu_(\d+)", response.request_id)
    assert match, response.request_id
    return int(match.group(1))


# ---------------------------------------------------------------------- the emulator, per wire API


@pytest.mark.parametrize("api", ["chat", "responses"])
@pytest.mark.parametrize("mode", MODES)
async def test_openai_responses_carry_request_id_and_rate_limits(emu: WireEmulator, mode: str, api: str) -> None:
    p = create_provider("openai", api_key=KEY, base_url=emu.openai_base_url, api=api, max_retries=0, env={})
    try:
        response = await call(p, mode, "gpt-4o-mini")
        number = request_number(response)
        limits = response.rate_limits
        assert limits is not None and limits.style == "openai"
        assert limits.requests is not None and limits.tokens is not None
        assert (limits.requests.limit, limits.requests.remaining) == (RATE_LIMIT_REQUESTS,
                                                                      RATE_LIMIT_REQUESTS - number)
        assert limits.tokens.limit == RATE_LIMIT_TOKENS and limits.tokens.remaining is not None
        assert 0 < RATE_LIMIT_TOKENS - limits.tokens.remaining < 100  # the prompt's few tokens
        assert limits.requests.resets_at is not None and limits.raw["x-ratelimit-reset-tokens"] == "1m0s"

        # get_quota() reports the remembered windows without asking anything more.
        seen = len(emu.requests)
        snap = p.get_quota_sync()
        assert len(emu.requests) == seen
        assert snap.status == "ok" and snap.source == "headers"
        windows = {w.name: w for w in snap.windows}
        assert set(windows) == {"requests", "tokens"} and all(w.source == "headers" for w in snap.windows)
        assert windows["requests"].used == number
        assert windows["requests"].used_percent == pytest.approx(100.0 * number / RATE_LIMIT_REQUESTS)
    finally:
        await p.aclose()


@pytest.mark.parametrize("mode", MODES)
async def test_anthropic_responses_carry_request_id_and_rate_limits(emu: WireEmulator, mode: str) -> None:
    p = create_provider("anthropic", api_key=KEY, base_url=emu.anthropic_base_url, max_retries=0, env={})
    try:
        response = await call(p, mode, "claude-haiku-4-5")
        number = request_number(response)
        limits = response.rate_limits
        assert limits is not None and limits.style == "anthropic"
        assert [name for name, _ in limits.buckets()] == ["requests", "tokens", "input_tokens", "output_tokens"]
        assert limits.requests is not None and limits.input_tokens is not None
        assert limits.requests.remaining == ANTHROPIC_LIMITS["requests"] - number
        assert limits.input_tokens.limit == ANTHROPIC_LIMITS["input-tokens"]
        assert limits.input_tokens.remaining == ANTHROPIC_LIMITS["input-tokens"] - response.usage.input_tokens
        reset = limits.requests.resets_at
        assert reset is not None and reset.utcoffset() is not None and reset.second == 0

        snap = await p.get_quota()
        assert snap.source == "headers" and {w.name for w in snap.windows} == {
            "requests", "tokens", "input_tokens", "output_tokens"}
    finally:
        await p.aclose()


@pytest.mark.parametrize("mode", MODES)
async def test_gemini_responses_carry_request_id(emu: WireEmulator, mode: str) -> None:
    p = create_provider("gemini", api_key=KEY, base_url=emu.gemini_base_url, max_retries=0, env={})
    try:
        response = await call(p, mode, "gemini-2.5-flash")
        assert request_number(response) > 0
        assert response.rate_limits is None  # the Gemini API states none
    finally:
        await p.aclose()


async def test_other_operations_keep_rate_limits_for_get_quota(emu: WireEmulator) -> None:
    p = create_provider("openai", api_key=KEY, base_url=emu.openai_base_url, max_retries=0, env={})
    try:
        assert RATE_LIMITS.get("openai", p._listing_key()) is None
        await p.embed("text-embedding-3-small", ["one", "two"])
        kept = RATE_LIMITS.get("openai", p._listing_key())
        assert kept is not None and kept.requests is not None and kept.requests.limit == RATE_LIMIT_REQUESTS
        assert (await p.get_quota()).source == "headers"
    finally:
        await p.aclose()


def test_the_ledger_records_the_request_id(emu: WireEmulator) -> None:
    store = MemoryStore()
    ledger = UsageLedger(store, flush_interval=0.01)
    p = create_provider("openai", api_key=KEY, base_url=emu.openai_base_url, max_retries=0, env={})
    p.usage_ledger = ledger
    try:
        response = p.generate_sync("gpt-4o-mini", "hello")
        with p.stream_sync("gpt-4o-mini", "hello") as events:
            done = list(events)[-1]
        assert isinstance(done, DoneEvent)
        assert ledger.flush(10)
        assert [r.request_id for r in store.rows()] == [response.request_id, done.response.request_id]
        assert response.request_id != done.response.request_id
    finally:
        ledger.close()
        p.close()


# ---------------------------------------------------------------------- loopback servers


def _litellm_routes(cost: str) -> dict[tuple[str, str], Any]:
    """A LiteLLM proxy's chat completions: OpenAI's shape, and LiteLLM's headers (the cost, the call id)."""

    def chat(h: BaseHTTPRequestHandler, body: Any) -> None:
        model = body["model"]
        headers = {"x-litellm-response-cost": cost, "x-litellm-call-id": "litellm-call-7",
                   "x-ratelimit-remaining-requests": "99", "x-ratelimit-limit-requests": "100"}
        usage = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
        if body.get("stream"):
            chunks = [
                {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model,
                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi there"},
                              "finish_reason": None}]},
                {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model,
                 "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage},
            ]
            data = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream")
            h.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
            return
        payload = {"id": "c1", "object": "chat.completion", "created": 1, "model": model,
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there"},
                                "finish_reason": "stop"}], "usage": usage}
        raw = json.dumps(payload).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(raw)))
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(raw)

    return {("POST", "/v1/chat/completions"): chat}


@pytest.fixture
def litellm() -> Iterator[Imitation]:
    RATE_LIMITS.clear()
    server = Imitation(_litellm_routes("0.0123"))
    yield server
    server.close()
    RATE_LIMITS.clear()


@pytest.mark.parametrize("mode", ["generate_sync", "generate"])
async def test_litellm_reported_cost_wins(litellm: Imitation, mode: str) -> None:
    p = create_provider("litellm", api_key=KEY, base_url=litellm.url + "/v1", max_retries=0, env={})
    try:
        response = await call(p, mode, "gpt-4o-mini")
        assert response.usage.cost_source == "provider" and response.usage.cost_usd == pytest.approx(0.0123)
        assert response.request_id == "litellm-call-7"
        assert response.rate_limits is not None and response.rate_limits.requests is not None
        assert response.rate_limits.requests.remaining == 99
    finally:
        await p.aclose()


@pytest.mark.parametrize("mode", ["stream_sync", "stream"])
async def test_a_streams_cost_header_is_not_taken(litellm: Imitation, mode: str) -> None:
    # A stream's headers leave before the answer is generated: a cost there cannot be the call's.
    p = create_provider("litellm", api_key=KEY, base_url=litellm.url + "/v1", max_retries=0, env={})
    try:
        response = await call(p, mode, "gpt-4o-mini")
        assert response.usage.cost_source != "provider"
        assert response.usage.cost_usd != pytest.approx(0.0123)
        assert response.request_id == "litellm-call-7" and response.rate_limits is not None
    finally:
        await p.aclose()


def test_voyage_keeps_rate_limits_of_embeddings_and_reranks() -> None:
    RATE_LIMITS.clear()

    def embeddings(h: BaseHTTPRequestHandler, body: Any) -> None:
        payload = {"object": "list", "model": body["model"], "usage": {"total_tokens": 2},
                   "data": [{"object": "embedding", "index": i, "embedding": [0.1, 0.2]}
                            for i in range(len(body["input"]))]}
        raw = json.dumps(payload).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(raw)))
        h.send_header("x-ratelimit-limit-requests", "2000")
        h.send_header("x-ratelimit-remaining-requests", "1999")
        h.end_headers()
        h.wfile.write(raw)

    server = Imitation({("POST", "/v1/embeddings"): embeddings})
    p = create_provider("voyage", api_key=KEY, base_url=server.url + "/v1", max_retries=0, env={})
    try:
        assert len(p.embed_sync("voyage-3.5", ["a", "b"]).vectors) == 2
        snap = p.get_quota_sync()
        assert snap.source == "headers"
        (window,) = snap.windows
        assert (window.name, window.limit, window.remaining, window.used) == ("requests", 2000, 1999, 1)
    finally:
        p.close()
        server.close()
        RATE_LIMITS.clear()


# ---------------------------------------------------------------------- the seam itself


class _Heard(FakeProvider):
    """A fake whose I/O layer hands its answers over as `Received`, with headers."""

    headers: Mapping[str, str] = {"X-Request-Id": "req_fake", "X-RateLimit-Limit": "20",
                                  "X-RateLimit-Remaining": "19", "x-litellm-response-cost": "0.5"}

    def _send(self, op: Operation, request: Any, timeout: float | None, headers: Mapping[str, str] | None) -> Any:
        return Received(super()._send(op, request, timeout, headers), self.headers)

    def _open_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                     ) -> Iterator[Any]:
        yield Received(None, self.headers)
        yield from super()._open_stream(request, timeout, headers)

    async def _astream(self, call: Call) -> AsyncIterator[Any]:
        yield Received(None, self.headers)
        async for chunk in self._aopen_stream_gen(call):
            yield chunk

    def _aopen_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                      ) -> AsyncIterator[Any]:
        return self._astream(request)


@pytest.mark.parametrize("mode", MODES)
async def test_the_seam_any_header_case_and_plain_payloads(mode: str) -> None:
    RATE_LIMITS.clear()
    heard = _Heard(provider_id="openrouter")
    response = await call(heard, mode, "some-model")
    assert response.request_id == "req_fake"
    assert response.rate_limits is not None and response.rate_limits.style == "openrouter"
    assert (response.usage.cost_source == "provider") is mode.startswith("generate")
    assert RATE_LIMITS.get("openrouter", heard._listing_key()) is not None

    plain = FakeProvider()  # a provider not handing over headers keeps working, without them
    response = await call(plain, mode, "some-model")
    assert response.request_id is None and response.rate_limits is None
    RATE_LIMITS.clear()
