"""A conversation moves between providers: tool calls and results made on one continue on another, and back.

Every provider runs through its real SDK (boto3 for Bedrock, the cohere SDK for Cohere) against the loopback wire
emulator; the checks read what each vendor was actually sent, so an id that does not line up, a tool result that
lost its function name or a vendor-only block that leaked to another vendor fails here. Bedrock and Cohere bodies
are also held to the vendors' own request schemas (botocore's service model, the cohere SDK's types).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from request_validity.cohere_sdk_schema import CHAT as COHERE_CHAT
from request_validity.cohere_sdk_schema import check_body as check_cohere_body

from agentos_llm import create_provider
from agentos_llm.model_traits import traits_for
from agentos_llm.provider import IProvider
from agentos_llm.testing import Reply, WireEmulator
from agentos_llm.testing.anthropic_wire import signature_for
from agentos_llm.types import (
    CompletionResponse,
    DoneEvent,
    Message,
    ToolCall,
    ToolDefinition,
    VendorBlock,
    system,
    tool_result,
    user,
)
from agentos_llm.wire.anthropic_messages import tool_id as anthropic_tool_id
from agentos_llm.wire.bedrock_converse import tool_use_id as bedrock_tool_use_id

KEY = "test-key-cross-provider"
# "responses" is the openai host over the Responses API; "bedrock" and "nova" are one Bedrock host with a Claude
# model (signed reasoning) and an Amazon model: the same wire format, model families that share no reasoning.
MODELS = {"openai": "gpt-4.1-mini", "anthropic": "claude-sonnet-4-5", "gemini": "gemini-2.5-flash",
          "responses": "gpt-5-mini", "bedrock": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
          "nova": "us.amazon.nova-2-lite-v1:0", "cohere": "command-a-03-2025"}
PAIRS = [(a, b) for a in MODELS for b in MODELS if a != b]
WEATHER = ToolDefinition(
    name="get_weather",
    description="Current weather for a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
CITIES = ("Paris", "Rome")
THINKING = "The user wants two cities; I will call the tool twice."
COHERE_PLAN = "I will call get_weather, get_weather to answer."  # the emulator's tool plan for the two calls
_BEDROCK = botocore.session.get_session().get_service_model("bedrock-runtime")
_TOOL_USE_ID = re.compile(_BEDROCK.shape_for("ToolUseId").metadata["pattern"])
_CLAUDE_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # Claude's tool_use id, on any host


@pytest.fixture(scope="module")
def emu() -> Iterator[WireEmulator]:
    with WireEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def made(emu: WireEmulator) -> Iterator[dict[str, IProvider]]:
    with pytest.MonkeyPatch.context() as mp:
        # Dummy AWS credentials from the environment only: no profile, no instance metadata, no config file.
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            mp.delenv(name)
        mp.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLECROSS")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-cross-provider")
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        base = {"openai": emu.openai_base_url, "anthropic": emu.anthropic_base_url, "gemini": emu.gemini_base_url,
                "cohere": emu.cohere_base_url}
        out = {pid: create_provider(pid, api_key=KEY, base_url=url, max_retries=0) for pid, url in base.items()}
        out["responses"] = create_provider("openai", api="responses", api_key=KEY, base_url=emu.openai_base_url,
                                           max_retries=0)
        out["bedrock"] = out["nova"] = create_provider("bedrock", base_url=emu.bedrock_base_url, region="us-east-1",
                                                       max_retries=0)
        yield out
        for provider in {id(p): p for p in out.values()}.values():
            provider.close()


@pytest.fixture
def providers(made: dict[str, IProvider], emu: WireEmulator) -> dict[str, IProvider]:
    emu.reset()
    return made


def _sent(emu: WireEmulator) -> dict[str, Any]:
    body = emu.requests[-1].body
    assert isinstance(body, dict)
    return body


def _ask(provider: IProvider, pid: str, history: list[Message], *, stream: bool) -> CompletionResponse:
    if not stream:
        return provider.generate_sync(MODELS[pid], history, tools=[WEATHER])
    events = list(provider.stream_sync(MODELS[pid], history, tools=[WEATHER]))
    done = events[-1]
    assert isinstance(done, DoneEvent)
    return done.response


def _first_turn(providers: dict[str, IProvider], emu: WireEmulator, pid: str, *, stream: bool = False,
                reasoning: str | None = None) -> tuple[list[Message], CompletionResponse]:
    """Asks `pid` a question that it answers with two parallel tool calls; returns the history with results."""
    emu.script(Reply(tool_calls=[("get_weather", {"city": c}) for c in CITIES], reasoning=reasoning))
    history: list[Message] = [system("Answer briefly."), user("Weather in Paris and Rome?")]
    first = _ask(providers[pid], pid, history, stream=stream)
    assert [c.arguments["city"] for c in first.tool_calls] == list(CITIES)
    ids = [c.id for c in first.tool_calls]
    assert all(ids) and len(set(ids)) == 2, ids
    history.append(first.message)
    history += [tool_result(c.id, {"city": c.arguments["city"], "celsius": 20 + i})
                for i, c in enumerate(first.tool_calls)]
    return history, first


# ---------------------------------------------------------------------- what each vendor must have been sent


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


def _check_converse(body: dict[str, Any], ids: list[str], model: str) -> None:
    assert body["system"] == [{"text": "Answer briefly."}]
    turns = body["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    uses = [b["toolUse"] for b in turns[1]["content"] if "toolUse" in b]
    assert [(u["name"], u["input"]) for u in uses] == [("get_weather", {"city": c}) for c in CITIES]
    traits = traits_for("bedrock", model)
    use_ids = [u["toolUseId"] for u in uses]
    assert use_ids == [bedrock_tool_use_id(i, traits) for i in ids]  # kept, or made valid, stably
    assert len(set(use_ids)) == 2
    pattern = _CLAUDE_ID if traits.request_dialect == "anthropic" else _TOOL_USE_ID
    assert all(pattern.fullmatch(i) and len(i) <= 64 for i in use_ids), use_ids
    results = [b["toolResult"] for b in turns[2]["content"] if "toolResult" in b]
    assert [r["toolUseId"] for r in results] == use_ids  # every result answers its own call
    assert json.loads(results[0]["content"][0]["text"]) == {"city": "Paris", "celsius": 20}
    # Bedrock refuses a history with tool blocks but no tool configuration.
    assert [t["toolSpec"]["name"] for t in body["toolConfig"]["tools"]] == ["get_weather"]
    report = ParamValidator().validate({"modelId": model, **body}, _BEDROCK.operation_model("Converse").input_shape)
    assert not report.has_errors(), report.generate_report()


def _check_bedrock(body: dict[str, Any], ids: list[str]) -> None:
    _check_converse(body, ids, MODELS["bedrock"])


def _check_nova(body: dict[str, Any], ids: list[str]) -> None:
    _check_converse(body, ids, MODELS["nova"])


def _check_cohere(body: dict[str, Any], ids: list[str]) -> None:
    assert body["model"] == MODELS["cohere"]
    msgs = body["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "tool", "tool"]
    assert msgs[0]["content"] == "Answer briefly."
    calls = msgs[2]["tool_calls"]
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == [
        ("get_weather", {"city": c}) for c in CITIES]
    assert [c["id"] for c in calls] == ids
    assert [m["tool_call_id"] for m in msgs[3:]] == ids  # every result answers its own call
    assert json.loads(msgs[3]["content"]) == {"city": "Paris", "celsius": 20}
    problems = check_cohere_body(body, COHERE_CHAT)
    assert not problems, problems


CHECK = {"openai": _check_openai, "anthropic": _check_anthropic, "gemini": _check_gemini,
         "responses": _check_responses, "bedrock": _check_bedrock, "nova": _check_nova, "cohere": _check_cohere}
TRAILING_TURNS = {"openai": "messages", "cohere": "messages", "anthropic": "messages", "bedrock": "messages",
                  "nova": "messages", "gemini": "contents", "responses": "input"}

# What a vendor's own kept blocks look like in a request; none may reach another model.
MARKERS = {
    "anthropic": ['"type": "thinking"', "redacted_thinking", '"signature"'],
    "gemini": ["thoughtSignature", "thought_signature"],
    "responses": ["encrypted_content", '"type": "reasoning"'],
    "bedrock": ["reasoningContent", "redactedContent", '"signature"'],
    "nova": ["reasoningContent", "redactedContent"],
    "cohere": ['"tool_plan"', '"type": "thinking"'],
    "openai": [],
}


def _tokens(first: CompletionResponse) -> list[str]:
    """The opaque values the source's answer carried beside the calls: signatures, encrypted items, a tool plan."""
    text = json.dumps([b.data for b in first.message.vendor_blocks])
    return re.findall(r'"(?:signature|encrypted_content|tool_plan|redactedContent)": "([^"]+)"', text)


def _secrets(first: CompletionResponse) -> list[str]:
    """All the source keeps to itself: its reasoning text and its opaque values."""
    return ([first.reasoning] if first.reasoning else []) + _tokens(first)


def _no_foreign_blocks(body: dict[str, Any], source: str, first: CompletionResponse) -> None:
    text = json.dumps(body)
    for marker in MARKERS[source]:
        assert marker not in text, f"{source}'s {marker} reached another model"
    for secret in _secrets(first):
        assert secret not in text, f"{source}'s {secret[:40]!r} reached another model"


def _own_blocks_back(body: dict[str, Any], source: str, first: CompletionResponse) -> None:
    """Back on the model that made them, its signed blocks come back verbatim (where the vendor takes them)."""
    text = json.dumps(body)
    if source in ("anthropic", "bedrock", "gemini", "responses", "cohere"):
        for token in _tokens(first):
            assert token in text, f"{source}'s own {token[:40]!r} did not come back"
    if source == "bedrock" and first.reasoning:
        assistant = body["messages"][1]["content"]
        assert assistant[0] == {"reasoningContent": {"reasoningText": {"text": THINKING,
                                                                       "signature": signature_for(THINKING)}}}
    if source == "nova":  # Amazon's models take no reasoning back
        assert "reasoningContent" not in text


def _first_five(body: dict[str, Any], pid: str) -> dict[str, Any]:
    """The request without the two turns added after the tool loop, so the loop checks apply unchanged."""
    key = TRAILING_TURNS[pid]
    turns = body[key]
    if pid == "gemini":
        assert [c["role"] for c in turns[-2:]] == ["model", "user"]
    else:
        # The final answer and the new question follow the tool results as assistant + user turns.
        assert [t.get("role") for t in turns[-2:]] == ["assistant", "user"]
    return {**body, key: turns[:-2]}


# ---------------------------------------------------------------------- the matrix


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
def test_a_tool_loop_continues_on_another_provider_and_back(
        providers: dict[str, IProvider], emu: WireEmulator, source: str, target: str, stream: bool) -> None:
    # Streamed, the source also thinks first: its reasoning must stay with it.
    history, first = _first_turn(providers, emu, source, stream=stream, reasoning=THINKING if stream else None)
    ids = [c.id for c in first.tool_calls]

    emu.script(Reply(text="Paris 20, Rome 21."))
    final = _ask(providers[target], target, history, stream=stream)
    body = _sent(emu)
    CHECK[target](body, ids)
    _no_foreign_blocks(body, source, first)
    assert final.text == "Paris 20, Rome 21."
    assert final.provider == providers[target].provider_id

    # ... and back on the provider that made the calls: its own ids come back unchanged.
    history += [final.message, user("And tomorrow?")]
    emu.script(Reply(text="Much the same."))
    again = _ask(providers[source], source, history, stream=stream)
    back = _sent(emu)
    CHECK[source](_first_five(back, source), ids)
    _own_blocks_back(back, source, first)
    assert again.text == "Much the same."


@pytest.mark.parametrize("target", [t for t in MODELS if t != "anthropic"])
def test_anthropic_thinking_stays_with_anthropic(providers: dict[str, IProvider], emu: WireEmulator,
                                                 target: str) -> None:
    history, first = _first_turn(providers, emu, "anthropic", stream=True, reasoning=THINKING)
    assert first.reasoning == THINKING
    blocks = [b for b in first.message.vendor_blocks if b.provider == "anthropic" and b.type == "thinking"]
    assert len(blocks) == 1 and blocks[0].data.get("signature")

    emu.script(Reply(text="Paris 20, Rome 21."))
    providers[target].generate_sync(MODELS[target], history, tools=[WEATHER])
    body = _sent(emu)
    _no_foreign_blocks(body, "anthropic", first)
    assert THINKING not in json.dumps(body)  # unsigned reasoning text is not replayed to another vendor

    # Back on Anthropic the signed thinking block goes first in the assistant turn, verbatim.
    emu.script(Reply(text="ok"))
    providers["anthropic"].generate_sync(MODELS["anthropic"], history, tools=[WEATHER])
    assistant = _sent(emu)["messages"][1]["content"]
    assert assistant[0] == {"type": "thinking", "thinking": THINKING, "signature": blocks[0].data["signature"]}


@pytest.mark.parametrize("target", ["openai", "anthropic", "bedrock", "cohere"])
def test_gemini_thought_signatures_stay_with_gemini(providers: dict[str, IProvider], emu: WireEmulator,
                                                    target: str) -> None:
    history, first = _first_turn(providers, emu, "gemini", stream=True, reasoning=THINKING)
    assert first.reasoning == THINKING
    signatures = [b for b in first.message.vendor_blocks if b.provider == "gemini"]
    assert signatures, "the emulator signs Gemini thoughts: the signature must be kept on the message"

    emu.script(Reply(text="Paris 20, Rome 21."))
    providers[target].generate_sync(MODELS[target], history, tools=[WEATHER])
    body = _sent(emu)
    _no_foreign_blocks(body, "gemini", first)
    assert THINKING not in json.dumps(body)

    emu.script(Reply(text="ok"))
    providers["gemini"].generate_sync(MODELS["gemini"], history, tools=[WEATHER])
    sent = json.dumps(_sent(emu))
    assert "thoughtSignature" in sent
    signed = [b.data["signature"] for b in signatures if b.data.get("signature")]
    assert signed
    for signature in signed:
        assert json.dumps(signature) in sent


@pytest.mark.parametrize("source", [s for s in MODELS if s != "openai"])
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


# Ids other vendors make that Bedrock or Claude would refuse: Kimi-style dots and colons, a slash and spaces,
# more than 64 characters; and two ids that differ only in a character each host replaces.
ODD_IDS = [["functions.get_weather:0", "functions.get_weather:1"], ["call/odd id#1", "call/odd id#2"],
           ["x" * 80 + "1", "x" * 80 + "2"], ["call.a", "call:a"]]


@pytest.mark.parametrize("ids", ODD_IDS, ids=["dotted", "spaced", "long", "near-twins"])
@pytest.mark.parametrize("target", ["bedrock", "nova", "cohere", "anthropic"])
def test_ids_made_elsewhere_are_made_valid_and_still_pair_up(providers: dict[str, IProvider], emu: WireEmulator,
                                                             target: str, ids: list[str]) -> None:
    calls = [{"id": i, "type": "function", "function": {"name": "get_weather", "arguments": json.dumps({"city": c})}}
             for i, c in zip(ids, CITIES, strict=True)]
    history: list[Any] = [
        {"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        *[{"role": "tool", "tool_call_id": i, "content": json.dumps({"city": c, "celsius": 20 + n})}
          for n, (i, c) in enumerate(zip(ids, CITIES, strict=True))],
    ]
    emu.script(Reply(text="done"))
    assert providers[target].generate_sync(MODELS[target], history, tools=[WEATHER]).text == "done"
    CHECK[target](_sent(emu), ids)


@pytest.mark.parametrize("target", [t for t in MODELS if t != "responses"])
def test_responses_reasoning_items_stay_with_responses(providers: dict[str, IProvider], emu: WireEmulator,
                                                       target: str) -> None:
    history, first = _first_turn(providers, emu, "responses", stream=True, reasoning=THINKING)
    assert first.reasoning == THINKING
    items = [b for b in first.message.vendor_blocks if b.type == "reasoning"]
    assert len(items) == 1 and items[0].data.get("encrypted_content")

    emu.script(Reply(text="Paris 20, Rome 21."))
    providers[target].generate_sync(MODELS[target], history, tools=[WEATHER])
    body = _sent(emu)
    _no_foreign_blocks(body, "responses", first)
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


# ---------------------------------------------------------------------- Bedrock and Cohere specifics


@pytest.mark.parametrize("other", ["anthropic", "nova"])
def test_claude_on_bedrock_gets_back_only_its_own_signed_reasoning(providers: dict[str, IProvider],
                                                                   emu: WireEmulator, other: str) -> None:
    # Anthropic's and Bedrock's Claude sign their thinking alike, and the emulator signs Nova's reasoning too: a
    # signature is only ever replayed to the model that made it, so Claude on Bedrock thinks afresh instead.
    history, first = _first_turn(providers, emu, other, stream=True, reasoning=THINKING)
    assert first.message.vendor_blocks
    emu.script(Reply(text="ok"))
    with pytest.warns(UserWarning, match="extended thinking left out"):
        providers["bedrock"].generate_sync(MODELS["bedrock"], history, tools=[WEATHER], reasoning_budget=2048,
                                           max_tokens=8192)
    body = _sent(emu)
    assert "reasoningContent" not in json.dumps(body) and THINKING not in json.dumps(body)
    # The tool loop in progress began without signed reasoning: Claude cannot switch thinking on mid-turn.
    assert "thinking" not in body.get("additionalModelRequestFields", {})


def test_claude_on_bedrock_keeps_thinking_through_its_own_tool_loop(providers: dict[str, IProvider],
                                                                     emu: WireEmulator) -> None:
    history, _ = _first_turn(providers, emu, "bedrock", stream=True, reasoning=THINKING)
    emu.script(Reply(text="ok"))
    providers["bedrock"].generate_sync(MODELS["bedrock"], history, tools=[WEATHER], reasoning_budget=2048,
                                       max_tokens=8192)
    body = _sent(emu)
    assert body["additionalModelRequestFields"]["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["messages"][1]["content"][0] == {"reasoningContent": {"reasoningText": {
        "text": THINKING, "signature": signature_for(THINKING)}}}


def test_cohere_tool_plan_and_thinking_stay_with_cohere(providers: dict[str, IProvider], emu: WireEmulator) -> None:
    history, first = _first_turn(providers, emu, "cohere", stream=True, reasoning=THINKING)
    kept = {b.type: b.data for b in first.message.vendor_blocks}
    assert kept == {"thinking": {"type": "thinking", "thinking": THINKING}, "tool_plan": {"tool_plan": COHERE_PLAN}}
    assert first.text == ""  # the plan is not answer text

    emu.script(Reply(text="ok"))
    providers["cohere"].generate_sync(MODELS["cohere"], history, tools=[WEATHER])
    assistant = _sent(emu)["messages"][2]
    assert assistant["tool_plan"] == COHERE_PLAN
    assert assistant["content"] == [{"type": "thinking", "thinking": THINKING}]


def test_a_foreign_assistant_text_beside_calls_becomes_the_cohere_tool_plan(providers: dict[str, IProvider],
                                                                             emu: WireEmulator) -> None:
    signed = VendorBlock(provider="anthropic", type="thinking",
                         data={"type": "thinking", "thinking": THINKING, "signature": "c2lnbmVk"})
    history = [user("Weather in Paris?"),
               Message(role="assistant", content="Let me check.", reasoning=THINKING, vendor_blocks=[signed],
                       tool_calls=[ToolCall(id="toolu_01A", name="get_weather", arguments={"city": "Paris"})]),
               tool_result("toolu_01A", "sunny")]
    emu.script(Reply(text="ok"))
    providers["cohere"].generate_sync(MODELS["cohere"], history, tools=[WEATHER])
    body = _sent(emu)
    assert body["messages"][1]["tool_plan"] == "Let me check." and "content" not in body["messages"][1]
    assert "c2lnbmVk" not in json.dumps(body) and THINKING not in json.dumps(body)
    assert not check_cohere_body(body, COHERE_CHAT)
