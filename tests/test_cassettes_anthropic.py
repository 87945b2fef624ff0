"""The Anthropic provider, through the real anthropic SDK, replayed from ``cassettes/test_cassettes_anthropic/``.

Record (against the emulator)::

    pytest tests/test_cassettes_anthropic.py --record-mode=once

Replay (CI)::

    AGENTOS_LLM_CASSETTE_NO_EMULATOR=1 pytest tests/test_cassettes_anthropic.py --record-mode=none --block-network

Re-record against the real API: ``AGENTOS_LLM_RECORD_LIVE=1 ANTHROPIC_API_KEY=... pytest
tests/test_cassettes_anthropic.py --record-mode=all`` (see ``docs/cassettes.md``). Exact values are
checked against the recorded bodies and the content only loosely, so the assertions hold for an
emulated and for a live recording alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cassette_support import ANTHROPIC, CASSETTE_DIR, CassetteTarget, open_target
from cassette_support import vcr_config as cassette_vcr_config
from pydantic import BaseModel

from agentos_llm.testing.emulator import Reply
from agentos_llm.types import (
    FinishReason,
    ReasoningDeltaEvent,
    StructuredResponse,
    TextDeltaEvent,
    ToolCallEvent,
    ToolDefinition,
    Usage,
    UsageEvent,
    tool_result,
)

MODULE = Path(__file__).stem
MODEL = "claude-haiku-4-5"  # thinking and native JSON-schema output
TOOL_MODEL = "claude-sonnet-4-0"  # no native JSON-schema output: structured output through a forced tool


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTE_DIR / MODULE)


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    return cassette_vcr_config(MODULE)


@pytest.fixture
def target(vcr: Any) -> Iterator[CassetteTarget]:
    yield from open_target(vcr, ANTHROPIC)


def assert_usage(usage: Usage, wire: dict[str, Any]) -> None:
    """Our usage is the recorded wire usage in our inclusive convention."""
    read = wire.get("cache_read_input_tokens") or 0
    written = wire.get("cache_creation_input_tokens") or 0
    assert usage.input_tokens == wire["input_tokens"] + read + written > 0
    assert (usage.cached_input_tokens, usage.cache_write_input_tokens) == (read, written)
    assert usage.output_tokens == wire["output_tokens"] > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.cost_usd is not None and usage.cost_usd > 0  # priced in the catalog


def text_of(wire: dict[str, Any]) -> str:
    return "".join(b["text"] for b in wire["content"] if b["type"] == "text")


def streamed(events: list[Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("type") == kind]


def final_usage(events: list[Any]) -> dict[str, Any]:
    """The stream's usage as the wire gave it: `message_start`'s, with `message_delta`'s fields replacing."""
    usage = dict(streamed(events, "message_start")[0]["message"]["usage"])
    for delta in streamed(events, "message_delta"):
        usage.update({k: v for k, v in delta["usage"].items() if v is not None})
    return usage


# ---------------------------------------------------------------------- generate


@pytest.mark.vcr
def test_generate_sync(target: CassetteTarget) -> None:
    target.script(Reply("pong"))
    provider = target.provider()
    # No temperature: API version 2026-10-21 (anthropic SDK 2.x) refuses sampling parameters.
    response = provider.generate_sync(MODEL, "Reply with exactly one lowercase word: pong", max_tokens=10)
    sent, wire = target.request_json(0), target.response_json(0)
    assert sent == {"model": MODEL, "max_tokens": 10,
                    "messages": [{"role": "user", "content": "Reply with exactly one lowercase word: pong"}]}
    assert response.text == text_of(wire) and "pong" in response.text.lower()
    assert response.finish_reason is FinishReason.STOP and response.raw_finish_reason == wire["stop_reason"]
    assert response.id == wire["id"] and response.model == wire["model"]
    assert response.provider == "anthropic"
    assert_usage(response.usage, wire["usage"])


@pytest.mark.vcr
async def test_generate_async(target: CassetteTarget) -> None:
    target.script(Reply("Paris"))
    async with target.provider() as provider:
        response = await provider.generate(
            MODEL,
            [{"role": "system", "content": "Answer with one word."},
             {"role": "user", "content": "What is the capital of France?"}],
            max_tokens=10, cache_prompt=True,
        )
    sent, wire = target.request_json(0), target.response_json(0)
    assert sent["system"] == [{"type": "text", "text": "Answer with one word.", "cache_control": {"type": "ephemeral"}}]
    assert response.text == text_of(wire) and "paris" in response.text.lower()
    assert response.finish_reason is FinishReason.STOP
    assert_usage(response.usage, wire["usage"])


# ---------------------------------------------------------------------- stream


@pytest.mark.vcr
def test_stream_sync(target: CassetteTarget) -> None:
    target.script(Reply("one two three"))
    provider = target.provider()
    with provider.stream_sync(MODEL, "Count from one to three in lowercase words, nothing else.",
                              max_tokens=20) as stream:
        events = list(stream)
    wire = target.response_sse(0)
    assert target.request_json(0)["stream"] is True
    deltas = [e.delta for e in events if isinstance(e, TextDeltaEvent)]
    wire_deltas = [e["delta"]["text"] for e in streamed(wire, "content_block_delta")
                   if e["delta"]["type"] == "text_delta"]
    response = events[-1].response
    assert deltas == wire_deltas and len(deltas) >= 2
    assert "".join(deltas) == response.text and "three" in response.text.lower()
    assert response.id == streamed(wire, "message_start")[0]["message"]["id"]
    assert response.finish_reason is FinishReason.STOP
    [usage_event] = [e for e in events if isinstance(e, UsageEvent)]
    assert usage_event.usage.output_tokens == final_usage(wire)["output_tokens"]
    assert_usage(response.usage, final_usage(wire))


def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city."""
    return {"city": city, "temperature_c": 21, "conditions": "sunny"}


@pytest.mark.vcr
async def test_stream_async_tool_call(target: CassetteTarget) -> None:
    target.script(Reply.tool_call("get_weather", {"city": "Paris"}))
    tools = [ToolDefinition.from_function(get_weather)]
    async with (
        target.provider() as provider,
        provider.stream(MODEL, "What is the weather in Paris right now?", tools=tools, tool_choice="required",
                        max_tokens=200) as stream,
    ):
        events = [event async for event in stream]
    wire = target.response_sse(0)
    sent = target.request_json(0)
    assert sent["tool_choice"] == {"type": "any"} and sent["tools"][0]["name"] == "get_weather"
    response = events[-1].response
    [call_event] = [e for e in events if isinstance(e, ToolCallEvent)]
    [start] = [e["content_block"] for e in streamed(wire, "content_block_start")
               if e["content_block"]["type"] == "tool_use"]
    assert call_event.tool_call.id == start["id"] and call_event.tool_call.name == "get_weather"
    assert call_event.tool_call.arguments["city"].lower() == "paris"
    assert response.tool_calls == [call_event.tool_call]
    assert response.finish_reason is FinishReason.TOOL_CALLS and response.raw_finish_reason == "tool_use"
    assert_usage(response.usage, final_usage(wire))


# ---------------------------------------------------------------------- thinking


@pytest.mark.vcr
def test_tool_loop_with_thinking(target: CassetteTarget) -> None:
    target.script(
        Reply(reasoning="The user wants the weather; I will call the tool.",
              tool_calls=[("get_weather", {"city": "Paris"})]),
        Reply("It is 21 degrees Celsius and sunny in Paris.", reasoning="The tool answered 21 C and sunny."),
    )
    provider = target.provider()
    tools = [ToolDefinition.from_function(get_weather)]
    history: list[Any] = [{"role": "user", "content": "What is the weather in Paris right now? Use the tool."}]
    first = provider.generate_sync(MODEL, history, tools=tools, reasoning_budget=1024, max_tokens=2000)
    wire_first = target.response_json(0)
    assert target.request_json(0)["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    thinking = [b for b in wire_first["content"] if b["type"] in ("thinking", "redacted_thinking")]
    assert thinking, "the model thought first"
    assert [b.data for b in first.message.vendor_blocks] == thinking
    assert (first.reasoning or "") == "".join(b.get("thinking", "") for b in thinking)
    assert first.finish_reason is FinishReason.TOOL_CALLS
    [call] = first.tool_calls
    assert call.name == "get_weather" and call.arguments["city"].lower() == "paris"

    history += [first.message, tool_result(call.id, get_weather(**call.arguments))]
    final = provider.generate_sync(MODEL, history, tools=tools, reasoning_budget=1024, max_tokens=2000)
    wire_final = target.response_json(1)
    assert final.text == text_of(wire_final) and "21" in final.text
    assert final.finish_reason is FinishReason.STOP
    assert_usage(final.usage, wire_final["usage"])
    # The signed thinking went back verbatim, before the tool call, as the API requires.
    sent = target.request_json(1)
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["messages"][1]["content"][: len(thinking)] == thinking
    assert sent["messages"][1]["content"][-1]["id"] == call.id
    assert sent["messages"][2]["content"][0]["tool_use_id"] == call.id


@pytest.mark.vcr
async def test_stream_thinking_async(target: CassetteTarget) -> None:
    target.script(Reply("Seventeen is prime.", reasoning="Check divisors up to four: 2 and 3 do not divide 17."))
    async with (
        target.provider() as provider,
        provider.stream(MODEL, "Is 17 prime? Answer in one short sentence.", reasoning_budget=1024,
                        max_tokens=2000) as stream,
    ):
        events = [event async for event in stream]
    wire = target.response_sse(0)
    response = events[-1].response
    reasoning = [e.delta for e in events if isinstance(e, ReasoningDeltaEvent)]
    wire_reasoning = [e["delta"]["thinking"] for e in streamed(wire, "content_block_delta")
                      if e["delta"]["type"] == "thinking_delta"]
    assert reasoning == wire_reasoning and "".join(reasoning) == response.reasoning
    signatures = [e["delta"]["signature"] for e in streamed(wire, "content_block_delta")
                  if e["delta"]["type"] == "signature_delta"]
    assert [b.data["signature"] for b in response.message.vendor_blocks] == signatures and signatures[0]
    assert "prime" in response.text.lower()
    assert_usage(response.usage, final_usage(wire))


# ---------------------------------------------------------------------- structured output


class City(BaseModel):
    name: str
    country: str


@pytest.mark.vcr
async def test_structured_output_native(target: CassetteTarget) -> None:
    target.script(Reply(json.dumps({"name": "Paris", "country": "France"})))
    async with target.provider() as provider:
        result: StructuredResponse[City] = await provider.generate_structured(
            MODEL, "Which city is the capital of France? Give its name and country.", City, max_tokens=200)
    sent, wire = target.request_json(0), target.response_json(0)
    assert sent["output_config"]["format"]["type"] == "json_schema"
    assert result.value == City.model_validate_json(text_of(wire))
    assert (result.value.name.lower(), result.value.country.lower()) == ("paris", "france")
    assert result.attempts == 1
    assert_usage(result.usage, wire["usage"])


@pytest.mark.vcr
def test_structured_output_forced_tool(target: CassetteTarget) -> None:
    target.script(Reply.tool_call("City", {"name": "Rome", "country": "Italy"}))
    provider = target.provider()
    result = provider.generate_structured_sync(TOOL_MODEL, "Which city is the capital of Italy?", City,
                                               max_tokens=200)
    sent, wire = target.request_json(0), target.response_json(0)
    assert sent["tool_choice"] == {"type": "tool", "name": "City"} and "output_config" not in sent
    [use] = [b for b in wire["content"] if b["type"] == "tool_use"]
    assert result.value == City.model_validate(use["input"])
    assert (result.value.name.lower(), result.value.country.lower()) == ("rome", "italy")
    assert json.loads(result.response.text) == use["input"] and result.response.tool_calls == []
    assert_usage(result.usage, wire["usage"])


# ---------------------------------------------------------------------- models


@pytest.mark.vcr
def test_list_models(target: CassetteTarget) -> None:
    provider = target.provider()
    models = provider.list_models_sync()
    wire = target.response_json(0)
    assert [m.id for m in models] == [m["id"] for m in wire["data"]]
    by_id = {m.id: m for m in models}
    haiku = next(m for m in models if m.id.startswith(MODEL))
    assert haiku.display_name == next(m["display_name"] for m in wire["data"] if m["id"] == haiku.id)
    assert haiku.created is not None and haiku.created > 1_600_000_000
    assert haiku.input_price is not None and haiku.context_window is not None  # merged from the catalog
    assert all(m.provider == "anthropic" for m in by_id.values())
