"""A retained `CompletionResponse` is small (issue 15: at most pydantic-ai's ~1.35 KB) and reads as before.

The size is measured with tracemalloc as what dropping the responses frees (deterministic: a byte count, not a
timing), so the emulator's own bookkeeping and the provider's caches are not counted.
"""

from __future__ import annotations

import copy
import gc
import pickle
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentos_llm.rate_limits import RateLimits
from agentos_llm.response_pack import STORED
from agentos_llm.testing import WireEmulator
from agentos_llm.types import CompletionResponse, Message, ResponseMetadata, ToolCall, Usage
from tests.surface_helpers import fresh, make

APIS = ["openai-chat", "openai-responses", "anthropic-messages", "gemini-generate", "cohere-chat"]
MODELS = {"openai-chat": "gpt-4o-mini", "openai-responses": "gpt-4o-mini",
          "anthropic-messages": "claude-3-5-haiku-latest", "gemini-generate": "gemini-2.0-flash",
          "cohere-chat": "command-r"}
ASK = [{"role": "user", "content": "Say hello to the benchmark."}]
BOUND = int(1350 * 1.2)  # pydantic-ai's figure, with 20% headroom
LAZY = ("message", "usage", "metadata", "rate_limits", "tool_calls", "server_tool_calls", "citations", "hops")


@pytest.fixture(scope="module")
def server() -> Iterator[WireEmulator]:
    with WireEmulator() as emu:
        yield emu


@pytest.fixture()
def emu(server: WireEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[WireEmulator]:
    yield from fresh(server, monkeypatch, tmp_path)


def _call(api: str, emu: WireEmulator, n: int = 1) -> list[CompletionResponse]:
    provider = make(api, emu)
    try:
        return [provider.generate_sync(MODELS[api], ASK) for _ in range(n)]
    finally:
        provider.close()


def _freed_per_response(api: str, emu: WireEmulator, n: int = 40) -> float:
    provider = make(api, emu)
    try:
        for _ in range(5):  # warm-up: lazy imports, pools, caches
            provider.generate_sync(MODELS[api], ASK)
        gc.collect()
        tracemalloc.start()
        try:
            kept = [provider.generate_sync(MODELS[api], ASK) for _ in range(n)]
            gc.collect()
            with_them = tracemalloc.get_traced_memory()[0]
            assert all(r.text for r in kept)
            del kept
            gc.collect()
            without = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
    finally:
        provider.close()
    return (with_them - without) / n


@pytest.mark.parametrize("api", APIS)
def test_a_retained_response_is_at_most_pydantic_ais(api: str, emu: WireEmulator) -> None:
    size = _freed_per_response(api, emu)
    assert 200 < size <= BOUND, f"{api}: {size:.0f} B per retained response"


@pytest.mark.parametrize("api", APIS)
def test_a_packed_response_reads_dumps_and_compares_as_the_full_one(api: str, emu: WireEmulator) -> None:
    (response,) = _call(api, emu)
    stored = [name for name in LAZY if type(response.__dict__[name]) in STORED]
    assert {"message", "usage", "metadata"} <= set(stored)  # packed indeed
    dumped = response.model_dump()
    as_json = response.model_dump_json()
    rebuilt = CompletionResponse.model_validate(dumped)
    assert rebuilt == response and response == rebuilt
    assert pickle.loads(pickle.dumps(response)) == response
    assert copy.copy(response) == response and copy.deepcopy(response) == response
    assert "Echo: Say hello" in repr(response) and "usage=Usage(" in repr(response)
    assert dict(response)["usage"] == rebuilt.usage
    # reading builds the real objects, keeps them, and changes nothing a dump says
    assert isinstance(response.message, Message) and response.message is response.message
    assert response.message.text == response.text and response.message.role == "assistant"
    assert isinstance(response.usage, Usage) and response.usage.total_tokens > 0
    assert isinstance(response.metadata, ResponseMetadata) and response.metadata.status_code == 200
    assert response.metadata.headers and response.metadata.api == api
    assert response.tool_calls == [] and response.hops == [] and response.citations == []
    assert response.server_tool_calls == []
    if response.rate_limits is not None:
        assert isinstance(response.rate_limits, RateLimits)
        assert response.rate_limits == rebuilt.rate_limits
    assert response.model_dump() == dumped and response.model_dump_json() == as_json
    assert not [name for name in LAZY if type(response.__dict__[name]) in STORED]


def test_a_packed_response_takes_changes_like_any_model(emu: WireEmulator) -> None:
    first, second = _call("openai-chat", emu, 2)
    first.tool_calls.append(ToolCall(id="c1", name="f"))
    first.hops = []
    first.usage.cost_usd = 1.5
    assert second.tool_calls == [] and second.usage.cost_usd != 1.5  # nothing shared between responses
    assert "hops" in first.model_fields_set and first.model_dump()["usage"]["cost_usd"] == 1.5
    assert first.model_dump()["tool_calls"][0]["id"] == "c1"
    assert first.model_dump(exclude_unset=True).keys() <= first.model_fields_set
    copied = first.model_copy(update={"text": "other"})
    assert copied.text == "other" and first.text != "other" and "text" in copied.model_fields_set


def test_vendor_blocks_are_packed_and_read_back_whole(emu: WireEmulator) -> None:
    (response,) = _call("openai-responses", emu)
    full: Any = CompletionResponse.model_validate(response.model_dump())
    blocks = response.message.vendor_blocks
    assert blocks and blocks == full.message.vendor_blocks
    assert any(response.text in str(b.data) for b in blocks)  # the answer's text, kept once, is put back


def test_a_response_made_by_hand_is_not_packed() -> None:
    response = CompletionResponse(provider="p", model="m", text="hi", message=Message(role="assistant", content="hi"))
    assert not [name for name in LAZY if type(response.__dict__[name]) in STORED]
    assert response.model_fields_set >= {"provider", "model", "text", "message"}


@pytest.mark.parametrize("vendor", ["openai", "anthropic"], ids=["own-blocks", "foreign-block"])
def test_own_and_foreign_vendor_blocks_read_back_as_they_were(vendor: str) -> None:
    from agentos_llm.response_pack import PackedMessage, assistant_turn, pack
    from agentos_llm.types import VendorBlock

    blocks = [VendorBlock(provider="openai", type="reasoning", data={"id": "rs_1", "summary": []}),
              VendorBlock(provider=vendor, type="message", data={"id": "msg_1", "content": [{"text": "hi" * 20}]})]
    made = CompletionResponse(provider="openai", model="m", text="hi" * 20,
                              message=assistant_turn("hi" * 20, [], None, blocks))
    expected = made.model_dump()
    packed = pack(made)
    stored = packed.__dict__["message"]
    assert type(stored) is PackedMessage and stored[3] is (vendor == "openai")
    assert packed.message.vendor_blocks == blocks
    assert [b.model_fields_set for b in packed.message.vendor_blocks] == [b.model_fields_set for b in blocks]
    assert packed.model_dump() == expected
