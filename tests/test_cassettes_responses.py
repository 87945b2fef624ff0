"""The OpenAI Responses provider (`create_provider("openai", api="responses")`, the real openai SDK
underneath), replayed from cassettes in ``cassettes/test_cassettes_responses/``.

These cassettes were recorded against the wire emulator's Responses dialect
(``agentos_llm.testing.responses_wire``), not against the live API: their responses carry
``server: agentos-emulator`` and ``resp_emu_`` ids (see the README beside them).

Record (against the emulator)::

    pytest tests/test_cassettes_responses.py --record-mode=once

Replay (CI)::

    AGENTOS_LLM_CASSETTE_NO_EMULATOR=1 pytest tests/test_cassettes_responses.py --record-mode=none --block-network

Re-record against the real API: ``AGENTOS_LLM_RECORD_LIVE=1 OPENAI_API_KEY=... pytest
tests/test_cassettes_responses.py --record-mode=rewrite`` (see ``docs/cassettes.md``). Exact values are
checked against the recorded bodies and the content only loosely, so the assertions hold for an
emulated and for a live recording alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cassette_support import CASSETTE_DIR, CHAT_MODEL, CassetteTarget, open_target
from cassette_support import vcr_config as cassette_vcr_config
from pydantic import BaseModel

from agentos_llm.provider import IProvider
from agentos_llm.registry import create_provider
from agentos_llm.testing.emulator import Reply
from agentos_llm.types import (
    FinishReason,
    ReasoningDeltaEvent,
    StructuredResponse,
    TextDeltaEvent,
    ToolDefinition,
    Usage,
    UsageEvent,
    tool_result,
)

MODULE = Path(__file__).stem
REASONER = "o4-mini"


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTE_DIR / MODULE)


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    return cassette_vcr_config(MODULE)


@pytest.fixture
def target(vcr: Any) -> Iterator[CassetteTarget]:
    yield from open_target(vcr)


def responses_provider(target: CassetteTarget) -> IProvider:
    """Our OpenAI provider bound to the Responses API, pointed at the target, no retries."""
    provider = create_provider("openai", api="responses", api_key=target.api_key, base_url=target.base_url,
                               max_retries=0)
    target.providers.append(provider)
    return provider


def assert_usage(usage: Usage, wire: dict[str, Any]) -> None:
    """Our usage is the recorded wire usage (already inclusive: cached input, reasoning output)."""
    assert usage.input_tokens == wire["input_tokens"] > 0
    assert usage.output_tokens == wire["output_tokens"] > 0
    assert usage.total_tokens == wire["total_tokens"] == usage.input_tokens + usage.output_tokens
    assert usage.cached_input_tokens == wire["input_tokens_details"]["cached_tokens"]
    assert usage.reasoning_tokens == wire["output_tokens_details"]["reasoning_tokens"]
    assert usage.cost_usd is not None and usage.cost_usd > 0  # priced in the catalog


def output_text(wire: dict[str, Any]) -> str:
    return "".join(part["text"] for item in wire["output"] if item["type"] == "message"
                   for part in item["content"] if part["type"] == "output_text")


def of_type(events: list[Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("type") == kind]


def final_response(events: list[Any]) -> dict[str, Any]:
    [done] = [e for e in events if e.get("type") in ("response.completed", "response.incomplete")]
    return dict(done["response"])


# ---------------------------------------------------------------------- generate


@pytest.mark.vcr
def test_generate_sync(target: CassetteTarget) -> None:
    target.script(Reply("pong"))
    provider = responses_provider(target)
    response = provider.generate_sync(CHAT_MODEL, "Reply with exactly one lowercase word: pong", temperature=0,
                                      max_tokens=16)
    sent, wire = target.request_json(0), target.response_json(0)
    assert sent == {"model": CHAT_MODEL, "input": [{"role": "user", "content": "Reply with exactly one lowercase "
                                                                               "word: pong"}],
                    "store": False, "temperature": 0.0, "max_output_tokens": 16}
    assert response.text == output_text(wire) and "pong" in response.text.lower()
    assert response.finish_reason is FinishReason.STOP and response.raw_finish_reason == wire["status"]
    assert response.id == wire["id"] and response.model == wire["model"]
    assert (response.provider, response.api) == ("openai", "openai-responses")
    assert_usage(response.usage, wire["usage"])


@pytest.mark.vcr
async def test_generate_async(target: CassetteTarget) -> None:
    target.script(Reply("Paris"))
    async with responses_provider(target) as provider:
        response = await provider.generate(
            CHAT_MODEL,
            [{"role": "system", "content": "Answer with one word."},
             {"role": "user", "content": "What is the capital of France?"}],
            temperature=0, max_tokens=16,
        )
    sent, wire = target.request_json(0), target.response_json(0)
    assert sent["instructions"] == "Answer with one word."
    assert sent["input"] == [{"role": "user", "content": "What is the capital of France?"}]
    assert response.text == output_text(wire) and "paris" in response.text.lower()
    assert response.finish_reason is FinishReason.STOP
    assert_usage(response.usage, wire["usage"])


# ---------------------------------------------------------------------- stream


def _check_stream(events: list[Any], wire: list[Any]) -> None:
    deltas = [e.delta for e in events if isinstance(e, TextDeltaEvent)]
    wire_deltas = [e["delta"] for e in of_type(wire, "response.output_text.delta")]
    response = events[-1].response
    assert events[-1].type == "done" and sum(e.type == "done" for e in events) == 1
    assert deltas == wire_deltas and len(deltas) >= 2
    assert "".join(deltas) == response.text and "three" in response.text.lower()
    assert [e["sequence_number"] for e in wire] == sorted(e["sequence_number"] for e in wire)
    final = final_response(wire)
    assert response.id == final["id"] == of_type(wire, "response.created")[0]["response"]["id"]
    assert response.finish_reason is FinishReason.STOP
    [usage_event] = [e for e in events if isinstance(e, UsageEvent)]
    assert usage_event.usage.output_tokens == final["usage"]["output_tokens"]
    assert_usage(response.usage, final["usage"])


@pytest.mark.vcr
def test_stream_sync(target: CassetteTarget) -> None:
    target.script(Reply("one two three"))
    provider = responses_provider(target)
    with provider.stream_sync(CHAT_MODEL, "Count from one to three in lowercase words, nothing else.",
                              temperature=0) as stream:
        events = list(stream)
    assert target.request_json(0)["stream"] is True
    _check_stream(events, target.response_sse(0))


@pytest.mark.vcr
async def test_stream_async(target: CassetteTarget) -> None:
    target.script(Reply("one, two, three"))
    async with (
        responses_provider(target) as provider,
        provider.stream(CHAT_MODEL, "Count from one to three in lowercase words, separated by commas.",
                        temperature=0) as stream,
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
    provider = responses_provider(target)
    tools = [ToolDefinition.from_function(get_weather)]
    history: list[Any] = [{"role": "user", "content": "What is the weather in Paris right now?"}]

    first = provider.generate_sync(CHAT_MODEL, history, tools=tools, tool_choice="required", temperature=0)
    wire_first = target.response_json(0)
    assert target.request_json(0)["tools"][0] == {
        "type": "function", "name": "get_weather", "description": "Current weather for a city.",
        "parameters": tools[0].parameters, "strict": False}
    wire_calls = [item for item in wire_first["output"] if item["type"] == "function_call"]
    assert first.finish_reason is FinishReason.TOOL_CALLS
    assert [c.id for c in first.tool_calls] == [c["call_id"] for c in wire_calls]
    [call] = first.tool_calls
    assert call.name == "get_weather" and call.arguments == json.loads(wire_calls[0]["arguments"])
    assert call.arguments["city"].lower() == "paris"
    assert_usage(first.usage, wire_first["usage"])

    history += [first.message, tool_result(call.id, get_weather(**call.arguments))]
    final = provider.generate_sync(CHAT_MODEL, history, tools=tools, temperature=0)
    wire_final = target.response_json(1)
    assert final.tool_calls == [] and final.finish_reason is FinishReason.STOP
    assert final.text == output_text(wire_final) and "21" in final.text
    assert_usage(final.usage, wire_final["usage"])
    # The second request carried the call item as the API sent it, then our result under its call_id.
    items = target.request_json(1)["input"]
    assert [i.get("type", "message") for i in items] == ["message", "function_call", "function_call_output"]
    assert items[1]["id"] == wire_calls[0]["id"] and items[1]["call_id"] == items[2]["call_id"] == call.id


# ---------------------------------------------------------------------- reasoning


@pytest.mark.vcr
def test_reasoning_goes_back_encrypted(target: CassetteTarget) -> None:
    target.script(
        Reply(reasoning="The user wants the weather; I will call the tool.",
              tool_calls=[("get_weather", {"city": "Paris"})]),
        Reply("It is 21 degrees Celsius and sunny in Paris.", reasoning="The tool answered 21 C and sunny."),
    )
    provider = responses_provider(target)
    tools = [ToolDefinition.from_function(get_weather)]
    history: list[Any] = [{"role": "user", "content": "What is the weather in Paris right now? Use the tool."}]
    options: dict[str, Any] = {"tools": tools, "reasoning_effort": "low", "reasoning_summary": "auto"}
    with provider.stream_sync(REASONER, history, **options) as stream:
        events = list(stream)
    first = events[-1].response
    sent = target.request_json(0)
    assert sent["include"] == ["reasoning.encrypted_content"] and sent["store"] is False
    assert sent["reasoning"] == {"effort": "low", "summary": "auto"}
    wire_items = final_response(target.response_sse(0))["output"]
    reasoning_items = [i for i in wire_items if i["type"] == "reasoning"]
    assert reasoning_items and all(i["encrypted_content"] for i in reasoning_items)
    summary = "".join(e.delta for e in events if isinstance(e, ReasoningDeltaEvent))
    assert summary == "".join(p["text"] for i in reasoning_items for p in i["summary"])
    [call] = first.tool_calls
    assert call.name == "get_weather" and first.finish_reason is FinishReason.TOOL_CALLS

    history += [first.message, tool_result(call.id, get_weather(**call.arguments))]
    final = provider.generate_sync(REASONER, history, **options)
    assert "21" in final.text and final.finish_reason is FinishReason.STOP
    assert_usage(final.usage, target.response_json(1)["usage"])
    items = target.request_json(1)["input"]
    assert [i for i in items if i.get("type") == "reasoning"] == reasoning_items  # verbatim, encrypted content too
    assert items[-1] == {"type": "function_call_output", "call_id": call.id,
                         "output": json.dumps(get_weather(**call.arguments))}


# ---------------------------------------------------------------------- structured output and counting


class City(BaseModel):
    name: str
    country: str


@pytest.mark.vcr
async def test_structured_output(target: CassetteTarget) -> None:
    target.script(Reply(json.dumps({"name": "Paris", "country": "France"})))
    async with responses_provider(target) as provider:
        result: StructuredResponse[City] = await provider.generate_structured(
            CHAT_MODEL, "Which city is the capital of France? Give its name and country.", City, temperature=0)
    fmt = target.request_json(0)["text"]["format"]
    assert (fmt["type"], fmt["name"], fmt["strict"]) == ("json_schema", "City", True)
    wire = target.response_json(0)
    assert result.value == City.model_validate_json(output_text(wire))
    assert result.value.name.lower() == "paris" and result.value.country.lower() == "france"
    assert result.attempts == 1
    assert_usage(result.usage, wire["usage"])


@pytest.mark.vcr
def test_count_tokens(target: CassetteTarget) -> None:
    provider = responses_provider(target)
    history: list[Any] = [{"role": "system", "content": "Answer with one word."},
                          {"role": "user", "content": "What is the capital of France?"}]
    counted = provider.count_tokens_sync(CHAT_MODEL, history, tools=[ToolDefinition.from_function(get_weather)])
    sent, wire = target.request_json(0), target.response_json(0)
    assert sent["instructions"] == "Answer with one word." and sent["tools"][0]["name"] == "get_weather"
    assert wire["object"] == "response.input_tokens"
    assert counted.exact is True and counted.input_tokens == wire["input_tokens"] > 0
    assert counted.model == CHAT_MODEL
