"""`CompletionResponse.metadata`: the HTTP status, selected headers, request id, the service tier that served
the call, the upstream an aggregator routed to, and the API and host, for whole answers and streams of every
wire API (against the loopback emulator, and a loopback OpenAI-compatible server for OpenAI's `service_tier`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from local_servers import Imitation
from surface_helpers import CHAT_MODELS, fresh, make

from agentos_llm import create_provider
from agentos_llm.provider import Operation, Received
from agentos_llm.testing import FakeProvider, WireEmulator
from agentos_llm.types import CompletionResponse, DoneEvent

TIERS = {"openai-responses": "default", "anthropic-messages": "standard"}
"""The tier the emulator's dialects name (the others name none)."""


@pytest.fixture(scope="module")
def server() -> Iterator[WireEmulator]:
    with WireEmulator() as emulator:
        yield emulator


@pytest.fixture
def emu(server: WireEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[WireEmulator]:
    yield from fresh(server, monkeypatch, tmp_path)


async def answer(provider: Any, model: str, mode: str) -> CompletionResponse:
    if mode == "whole":
        return await provider.generate(model, "Say hi.")
    if mode == "whole_sync":
        return provider.generate_sync(model, "Say hi.")  # type: ignore[no-any-return]
    if mode == "stream_sync":
        with provider.stream_sync(model, "Say hi.") as events:
            last = list(events)[-1]
    else:
        async with provider.stream(model, "Say hi.") as aevents:
            last = [e async for e in aevents][-1]
    assert isinstance(last, DoneEvent)
    return last.response


@pytest.mark.parametrize("mode", ["whole_sync", "whole", "stream_sync", "stream"])
@pytest.mark.parametrize("api", list(CHAT_MODELS))
async def test_every_api_says_how_the_call_was_served(emu: WireEmulator, api: str, mode: str) -> None:
    provider = make(api, emu)
    response = await answer(provider, CHAT_MODELS[api], mode)
    meta = response.metadata
    assert (meta.api, meta.host) == (api, provider.catalog_key)
    assert meta.base_url == provider.base_url
    assert meta.service_tier == TIERS.get(api)
    if api == "bedrock-converse" and mode.startswith("stream"):
        # botocore's ConverseStream reader keeps its HTTP status and headers to itself.
        assert meta.status_code is None and meta.headers == {}
    else:
        assert meta.status_code == 200
        assert meta.request_id == response.request_id == meta.headers["x-request-id"]
        assert meta.request_id is not None and meta.request_id.startswith("req_emu_")
        assert all(k == k.lower() for k in meta.headers)
        assert "content-type" not in meta.headers  # only the selected ones are kept
    if api in ("openai-chat", "openai-responses"):
        assert meta.headers["x-ratelimit-limit-requests"]
    await provider.aclose()


@pytest.mark.parametrize("mode", ["whole_sync", "stream_sync"])
async def test_an_aggregators_upstream(emu: WireEmulator, mode: str) -> None:
    openrouter = create_provider("openrouter", api_key="sk-or-test-000000000000", base_url=emu.url + "/api/v1",
                                 max_retries=0)
    meta = (await answer(openrouter, "openai/gpt-4.1-mini", mode)).metadata
    assert (meta.upstream, meta.host, meta.api, meta.status_code) == ("EmulatedUpstream", "openrouter",
                                                                      "openai-chat", 200)


def _tiered_routes() -> dict[tuple[str, str], Any]:
    def chat(h: BaseHTTPRequestHandler, body: Any) -> None:
        payload = {"id": "c1", "object": "chat.completion", "created": 1, "model": body["model"],
                   "service_tier": "flex", "choices": [{"index": 0, "finish_reason": "stop",
                                                        "message": {"role": "assistant", "content": "Hi"}}],
                   "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
        raw = json.dumps(payload).encode()
        h.send_response(201)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(raw)))
        h.send_header("openai-processing-ms", "42")
        h.send_header("x-unrelated", "dropped")
        h.end_headers()
        h.wfile.write(raw)

    return {("POST", "/v1/chat/completions"): chat}


def test_openais_service_tier_and_processing_time() -> None:
    server = Imitation(_tiered_routes())
    try:
        provider = create_provider("openai", api_key="sk-test-000000000000000", base_url=server.url + "/v1",
                                   max_retries=0)
        meta = provider.generate_sync("gpt-4o-mini", "hi").metadata
    finally:
        server.close()
    assert (meta.status_code, meta.service_tier) == (201, "flex")
    assert meta.headers["openai-processing-ms"] == "42" and "x-unrelated" not in meta.headers


class _Seam(FakeProvider):
    """The `Received` seam without HTTP: a payload with its headers and status, as an I/O hook returns them."""

    def _send(self, op: Operation, request: Any, timeout: float | None, headers: Any) -> Any:
        got = super()._send(op, request, timeout, headers)
        if op != "chat":
            return got
        return Received(got, {"X-Request-Id": "seam-1", "Server-Timing": "upstream;dur=12"}, 203)


def test_the_seam_carries_status_and_headers_and_a_bare_payload_still_works() -> None:
    meta = _Seam().generate_sync(None, "hi").metadata
    assert (meta.status_code, meta.request_id, meta.headers) == (
        203, "seam-1", {"x-request-id": "seam-1", "server-timing": "upstream;dur=12"})
    bare = FakeProvider().generate_sync(None, "hi").metadata
    assert (bare.status_code, bare.headers, bare.host) == (None, {}, "fake")


def test_metadata_is_part_of_the_dump_and_never_of_another_call(emu: WireEmulator) -> None:
    provider = make("anthropic-messages", emu)
    first = provider.generate_sync("claude-sonnet-4-5", "one")
    second = provider.generate_sync("claude-sonnet-4-5", "two")
    assert first.model_dump()["metadata"]["request_id"] != second.model_dump()["metadata"]["request_id"]
    assert first.metadata is not second.metadata
