"""A conversation moves between providers: tool calls and results made on one continue on another, and back.

Every provider runs through its real SDK against the loopback wire emulator; the checks read what
each vendor was actually sent, so an id that does not line up, a tool result that lost its function
name or a vendor-only block that leaked to another vendor fails here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from agentos_llm import create_provider
from agentos_llm.provider import IProvider
from agentos_llm.testing import Reply, WireEmulator
from agentos_llm.types import CompletionResponse, DoneEvent, Message, ToolDefinition, system, tool_result, user
from agentos_llm.wire.anthropic_messages import tool_id as anthropic_tool_id

KEY = "test-key-cross-provider"
# "responses" is the openai host over the Responses API: a fourth wire format for the same history.
MODELS = {"openai": "gpt-4.1-mini", "anthropic": "claude-sonnet-4-5", "gemini": "gemini-2.5-flash",
          "responses": "gpt-5-mini"}
PAIRS = [(a, b) for a in MODELS for b in MODELS if a != b]
WEATHER = ToolDefinition(
    name="get_weather",
    description="Current weather for a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
CITIES = ("Paris", "Rome")
THINKING = "The user wants two cities; I will call the tool twice."


@pytest.fixture(scope="module")
def emu() -> Iterator[WireEmulator]:
    with WireEmulator() as emulator:
        yield emulator


@pytest.fixture
def providers(emu: WireEmulator) -> Iterator[dict[str, IProvider]]:
    emu.reset()
    base = {"openai": emu.openai_base_url, "anthropic": emu.anthropic_base_url, "gemini": emu.gemini_base_url}
    made = {pid: create_provider(pid, api_key=KEY, base_url=url, max_retries=0) for pid, url in base.items()}
    made["responses"] = create_provider("openai", api="responses", api_key=KEY, base_url=emu.openai_base_url,
                                        max_retries=0)
    yield made
    for provider in made.values():
        provider.close()


def _sent(emu: WireEmulator) -> dict[str, Any]:
    body = emu.requests[-1].body
    assert isinstance(body, dict)
    return body


def _first_turn(providers: dict[str, IProvider], emu: WireEmulator, pid: str, *, stream: bool = False,
                reasoning: str | None = None) -> tuple[list[Message], CompletionResponse]:
    """Asks `pid` a question that it answers with two parallel tool calls; returns the history with results."""
    emu.script(Reply(tool_calls=[("get_weather", {"city": c}) for c in CITIES], reasoning=reasoning))
    history: list[Message] = [system("Answer briefly."), user("Weather in Paris and Rome?")]
    provider = providers[pid]
    if stream:
        events = list(provider.stream_sync(MODELS[pid], history, tools=[WEATHER]))
        done = events[-1]
        assert isinstance(done, DoneEvent)
        first = done.response
    else:
        first = provider.generate_sync(MODELS[pid], history, tools=[WEATHER])
    assert [c.arguments["city"] for c in first.tool_calls] == list(CITIES)
    ids = [c.id for c in first.tool_calls]
    assert all(ids) and len(set(ids)) == 2, ids
    history.append(first.message)
    history += [tool_result(c.id, {"city": c.arguments["city"], "celsius": 20 + i})
                for i, c in enumerate(first.tool_calls)]
    return history, first


def _check_openai(body: dict[str, Any], ids: list[str]) -> None:
    msgs = body["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "tool", "tool"]
    assert msgs[0]["content"] == "Answer briefly."
    assert [c["id"] for c in msgs[2]["tool_calls"]] == ids
    assert [json.loads(c["function"]["arguments"]) for c in msgs[2]["tool_calls"]] == [{"city": c} for c in CITIES]
    assert [m["tool_call_id"] for m in msgs[3:]] == ids
    assert json.loads(msgs[3]["content"]) == {"city": "Paris", "celsius": 20}


def _check_anthropic(body: dict[str, Any], ids: list[str]) -> None:
    system_text = body["system"] if isinstance(body["system"], str) else "".join(b["text"] for b in body["system"])
    assert system_text == "Answer briefly."
    msgs = body["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    uses = [b for b in msgs[1]["content"] if b["type"] == "tool_use"]
    assert [(b["name"], b["input"]) for b in uses] == [("get_weather", {"city": c}) for c in CITIES]
    use_ids = [b["id"] for b in uses]
    assert use_ids == [anthropic_tool_id(i) for i in ids]  # kept, or made valid for Anthropic, stably
    assert len(set(use_ids)) == 2
    results = [b for b in msgs[2]["content"] if b["type"] == "tool_result"]
    assert [b["tool_use_id"] for b in results] == use_ids  # every result answers its own call
    first = results[0]["content"]
    first_text = first if isinstance(first, str) else "".join(b["text"] for b in first)
    assert json.loads(first_text) == {"city": "Paris", "celsius": 20}


def _check_gemini(body: dict[str, Any], ids: list[str]) -> None:
    instruction = body["systemInstruction"]
    assert "".join(p["text"] for p in instruction["parts"]) == "Answer briefly."
    contents = body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    calls = [p["functionCall"] for p in contents[1]["parts"] if "functionCall" in p]
    assert [(c["name"], c["args"]) for c in calls] == [("get_weather", {"city": c}) for c in CITIES]
    responses = [p["functionResponse"] for p in contents[2]["parts"] if "functionResponse" in p]
    # Gemini matches results by name and order: the name comes from the call the result answers.
    assert [r["name"] for r in responses] == ["get_weather", "get_weather"]
    assert json.dumps(responses[0]["response"]).count("Paris") == 1
    assert json.dumps(responses[1]["response"]).count("Rome") == 1
    if any("id" in c for c in calls):
        assert [c.get("id") for c in calls] == [r.get("id") for r in responses]


def _check_responses(body: dict[str, Any], ids: list[str]) -> None:
    assert body["instructions"] == "Answer briefly."
    items = [i for i in body["input"] if i.get("type") != "reasoning"]
    kinds = [i.get("type") or i.get("role") for i in items]
    assert kinds == ["user", "function_call", "function_call", "function_call_output", "function_call_output"]
    calls, outputs = items[1:3], items[3:]
    assert [(c["name"], json.loads(c["arguments"])) for c in calls] == [("get_weather", {"city": c}) for c in CITIES]
    assert [c["call_id"] for c in calls] == ids
    assert [o["call_id"] for o in outputs] == ids  # every output answers its own call
    assert json.loads(outputs[0]["output"]) == {"city": "Paris", "celsius": 20}


CHECK = {"openai": _check_openai, "anthropic": _check_anthropic, "gemini": _check_gemini,
         "responses": _check_responses}


def _no_foreign_blocks(body: dict[str, Any], target: str) -> None:
    text = json.dumps(body)
    if target != "anthropic":
        assert '"signature"' not in text and '"thinking"' not in text and "redacted_thinking" not in text
    if target != "gemini":
        assert "thoughtSignature" not in text and "thought_signature" not in text
    if target != "responses":
        assert "encrypted_content" not in text and '"reasoning"' not in text


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
def test_a_tool_loop_continues_on_another_provider_and_back(
        providers: dict[str, IProvider], emu: WireEmulator, source: str, target: str) -> None:
    history, first = _first_turn(providers, emu, source)
    ids = [c.id for c in first.tool_calls]

    emu.script(Reply(text="Paris 20, Rome 21."))
    final = providers[target].generate_sync(MODELS[target], history, tools=[WEATHER])
    body = _sent(emu)
    CHECK[target](body, ids)
    _no_foreign_blocks(body, target)
    assert final.text == "Paris 20, Rome 21."
    assert final.provider == providers[target].provider_id

    # ... and back on the provider that made the calls: its own ids come back unchanged.
    history += [final.message, user("And tomorrow?")]
    emu.script(Reply(text="Much the same."))
    again = providers[source].generate_sync(MODELS[source], history, tools=[WEATHER])
    back = _sent(emu)
    CHECK[source](_first_five(back, source), ids)
    assert again.text == "Much the same."


def _first_five(body: dict[str, Any], pid: str) -> dict[str, Any]:
    """The request without the two turns added after the tool loop, so the loop checks apply unchanged."""
    if pid == "openai":
        return {**body, "messages": body["messages"][:5]}
    if pid == "responses":
        items = body["input"]
        assert [i.get("role") for i in items[-2:]] == ["assistant", "user"]
        return {**body, "input": items[:-2]}
    if pid == "anthropic":
        msgs = body["messages"]
        # The final answer and the new question follow the tool results as assistant + user turns.
        assert [m["role"] for m in msgs[3:]] == ["assistant", "user"]
        return {**body, "messages": msgs[:3]}
    contents = body["contents"]
    assert [c["role"] for c in contents[3:]] == ["model", "user"]
    return {**body, "contents": contents[:3]}


@pytest.mark.parametrize("target", ["openai", "gemini"])
def test_anthropic_thinking_stays_with_anthropic(providers: dict[str, IProvider], emu: WireEmulator,
                                                 target: str) -> None:
    history, first = _first_turn(providers, emu, "anthropic", stream=True, reasoning=THINKING)
    assert first.reasoning == THINKING
    blocks = [b for b in first.message.vendor_blocks if b.provider == "anthropic" and b.type == "thinking"]
    assert len(blocks) == 1 and blocks[0].data.get("signature")

    emu.script(Reply(text="Paris 20, Rome 21."))
    providers[target].generate_sync(MODELS[target], history, tools=[WEATHER])
    body = _sent(emu)
    _no_foreign_blocks(body, target)
    assert THINKING not in json.dumps(body)  # unsigned reasoning text is not replayed to another vendor

    # Back on Anthropic the signed thinking block goes first in the assistant turn, verbatim.
    emu.script(Reply(text="ok"))
    providers["anthropic"].generate_sync(MODELS["anthropic"], history, tools=[WEATHER])
    assistant = _sent(emu)["messages"][1]["content"]
    assert assistant[0] == {"type": "thinking", "thinking": THINKING, "signature": blocks[0].data["signature"]}


@pytest.mark.parametrize("target", ["openai", "anthropic"])
def test_gemini_thought_signatures_stay_with_gemini(providers: dict[str, IProvider], emu: WireEmulator,
                                                    target: str) -> None:
    history, first = _first_turn(providers, emu, "gemini", stream=True, reasoning=THINKING)
    assert first.reasoning == THINKING
    signatures = [b for b in first.message.vendor_blocks if b.provider == "gemini"]
    assert signatures, "the emulator signs Gemini thoughts: the signature must be kept on the message"

    emu.script(Reply(text="Paris 20, Rome 21."))
    providers[target].generate_sync(MODELS[target], history, tools=[WEATHER])
    body = _sent(emu)
    _no_foreign_blocks(body, target)
    assert THINKING not in json.dumps(body)

    emu.script(Reply(text="ok"))
    providers["gemini"].generate_sync(MODELS["gemini"], history, tools=[WEATHER])
    sent = json.dumps(_sent(emu))
    assert "thoughtSignature" in sent
    signed = [b.data["signature"] for b in signatures if b.data.get("signature")]
    assert signed
    for signature in signed:
        assert json.dumps(signature) in sent


@pytest.mark.parametrize("source", ["anthropic", "gemini", "responses"])
def test_a_history_from_plain_dicts_in_openai_shape_runs_on_every_provider(
        providers: dict[str, IProvider], emu: WireEmulator, source: str) -> None:
    # Agent code often keeps OpenAI-shaped dicts; the ids in them are OpenAI's.
    ids = ["call_abc123", "call_def456"]
    history: list[Any] = [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": i, "type": "function", "function": {"name": "get_weather", "arguments": json.dumps({"city": c})}}
            for i, c in zip(ids, CITIES, strict=True)]},
        {"role": "tool", "tool_call_id": ids[0], "content": json.dumps({"city": "Paris", "celsius": 20})},
        {"role": "tool", "tool_call_id": ids[1], "content": json.dumps({"city": "Rome", "celsius": 21})},
    ]
    emu.script(Reply(text="done"))
    assert providers[source].generate_sync(MODELS[source], history, tools=[WEATHER]).text == "done"
    CHECK[source](_sent(emu), ids)


@pytest.mark.parametrize("target", ["openai", "anthropic", "gemini"])
def test_responses_reasoning_items_stay_with_responses(providers: dict[str, IProvider], emu: WireEmulator,
                                                       target: str) -> None:
    history, first = _first_turn(providers, emu, "responses", stream=True, reasoning=THINKING)
    assert first.reasoning == THINKING
    items = [b for b in first.message.vendor_blocks if b.type == "reasoning"]
    assert len(items) == 1 and items[0].data.get("encrypted_content")

    emu.script(Reply(text="Paris 20, Rome 21."))
    providers[target].generate_sync(MODELS[target], history, tools=[WEATHER])
    body = _sent(emu)
    _no_foreign_blocks(body, target)
    assert THINKING not in json.dumps(body)

    # Back on Responses the reasoning item goes first in the assistant turn, verbatim (stateless tool loop).
    emu.script(Reply(text="ok"))
    providers["responses"].generate_sync(MODELS["responses"], history, tools=[WEATHER])
    sent = _sent(emu)
    reasoning = [i for i in sent["input"] if i.get("type") == "reasoning"]
    assert reasoning == [items[0].data]
    kinds = [i.get("type") or i.get("role") for i in sent["input"]]
    assert kinds.index("reasoning") == kinds.index("function_call") - 1
    assert sent["include"] == ["reasoning.encrypted_content"] and sent["store"] is False
