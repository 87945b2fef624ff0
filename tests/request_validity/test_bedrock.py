"""Bedrock Converse, ConverseStream and CountTokens requests against botocore's bedrock-runtime service model.

The shared call matrix (`cases.py`) plus Bedrock's own cases runs through the provider's request builder for
several model families; each request is checked with botocore's validator and the service model's `max`,
`pattern` and `enum` constraints (`request_validity.bedrock_schema`). A case a model cannot take is refused
before sending (`UnsupportedCapabilityError` / `InvalidRequestError`): which ones is listed in REFUSED, so a
builder that refuses too much fails as surely as one that builds an invalid request.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from agentos_llm.errors import InvalidRequestError, UnsupportedCapabilityError
from agentos_llm.server_tools import CodeInterpreter, WebSearch
from agentos_llm.types import (
    DocumentPart,
    ImagePart,
    Message,
    TextPart,
    ToolCall,
    VendorBlock,
    tool_result,
)
from agentos_llm.wire.bedrock_converse import MADE_BY, json_body
from request_validity.bedrock_schema import check, service_model
from request_validity.cases import (
    AUDIO_MP3,
    AUDIO_WAV,
    DOC_FILE,
    DOC_PDF,
    DOC_TEXT,
    DOC_URL,
    IMAGE_DATA,
    MULTI_TURN,
    SIGNATURE,
    SYSTEM,
    TOOLS,
    USER,
    Case,
    common_cases,
    for_api,
    make_call,
    param,
    provider,
    quiet,
    reasoning_cases,
    server_tool_cases,
    with_parts,
)
from request_validity.specs import assert_valid

FAMILIES = {
    "claude": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",  # budget thinking, JSON schema, caching everywhere
    "claude_adaptive": "global.anthropic.claude-sonnet-4-6",  # adaptive thinking with an effort
    "nova": "us.amazon.nova-pro-v1:0",
    "nova_2": "us.amazon.nova-2-lite-v1:0",  # reasoningConfig, system tools
    "gpt_oss": "openai.gpt-oss-120b-1:0",  # text only, reasoning_effort
    "llama": "us.meta.llama4-maverick-17b-instruct-v1:0",  # no forced tool choice
    "mistral": "mistral.mistral-large-2407-v1:0",  # no images
}
ALL = frozenset(FAMILIES)
CACHED = {"type": "ephemeral", "ttl": "1h"}
S3_IMAGE = ImagePart(url="s3://my-bucket/cats/cat.png")
S3_DOC = DocumentPart(url="s3://my-bucket/reports/q3.pdf", media_type="application/pdf", title="Q3")
MARKDOWN = DocumentPart(data="IyBOb3RlcwoKLSBvbmU=", media_type="text/markdown", filename="notes.md")
SIGNED = {"reasoningContent": {"reasoningText": {"text": "The user wants weather.", "signature": SIGNATURE}}}
REDACTED = {"reasoningContent": {"redactedContent": "ZW5jcnlwdGVk"}}


def _own_loop(*blocks: dict[str, Any]) -> list[Message]:
    """A tool loop a Bedrock model made: its kept blocks on the assistant turn, as the parser keeps them."""
    kept = [VendorBlock(provider="bedrock", type=next(iter(b)), data=b) for b in blocks]
    return [Message(role="system", content=SYSTEM), Message(role="user", content=USER),
            Message(role="assistant", content="Let me check.", reasoning="The user wants weather.", vendor_blocks=kept,
                    tool_calls=[ToolCall(id="tooluse_Ab1", name="get_weather", arguments={"city": "Lisbon"})]),
            tool_result("tooluse_Ab1", {"temperature": 21})]


RAN_CODE = [  # Nova 2 ran its code interpreter (kept verbatim, sent back with its systemTool declared)
    Message(role="user", content="What is 6*7?"),
    Message(role="assistant", content="42", vendor_blocks=[
        VendorBlock(provider="bedrock", type="toolUse", data={"toolUse": {
            "toolUseId": "srv_1", "name": "nova_code_interpreter", "input": {"snippet": "6*7"},
            "type": "server_tool_use"}}),
        VendorBlock(provider="bedrock", type="toolResult", data={"toolResult": {
            "toolUseId": "srv_1", "content": [{"json": {"stdOut": "42"}}], "status": "success"}})]),
    Message(role="user", content="And 7*8?")]

BEDROCK_CASES = [
    Case("top_k", options={"top_k": 40, "temperature": 0.5}),
    Case("temperature_above_one", options={"temperature": 1.5}),
    Case("many_stop_sequences", options={"stop": [f"STOP{i}" for i in range(8)]}),
    Case("user_with_odd_characters", options={"user": "Alice <alice@example.com>; DROP"}),
    Case("cache_control_parts", [
        Message(role="system", content=[TextPart(text=SYSTEM, cache_control=CACHED)]),
        Message(role="user", content=[TextPart(text=USER, cache_control=CACHED),
                                      IMAGE_DATA.model_copy(update={"cache_control": CACHED})])],
         {"tools": TOOLS, "cache_prompt": True}),
    Case("many_cache_checkpoints", [
        Message(role="system", content=[TextPart(text=SYSTEM, cache_control=CACHED)]),
        *[Message(role=r, content=[TextPart(text=f"turn {i}", cache_control=CACHED)])
          for i, r in enumerate(["user", "assistant", "user", "assistant", "user"])]],
         {"tools": TOOLS, "cache_prompt": True}),
    Case("image_s3", with_parts(S3_IMAGE)),
    Case("document_pdf", with_parts(DOC_PDF)),
    Case("document_text", with_parts(DOC_TEXT)),
    Case("document_markdown", with_parts(MARKDOWN)),
    Case("document_s3", with_parts(S3_DOC)),
    Case("documents_same_name", with_parts(DOC_TEXT, DOC_TEXT.model_copy(update={"text": "Another note."}))),
    Case("document_url", with_parts(DOC_URL)),
    Case("document_file_id", with_parts(DOC_FILE)),
    Case("document_in_tool_result", [
        Message(role="user", content=USER),
        Message(role="assistant", tool_calls=[ToolCall(id="call_1", name="get_weather", arguments={}),
                                              ToolCall(id="call_2", name="get_weather", arguments={})]),
        Message(role="tool", tool_call_id="call_1", content=[TextPart(text="found:"), DOC_TEXT]),
        Message(role="tool", tool_call_id="call_2", content="")], {"tools": TOOLS}),
    Case("document_in_tool_loop", [*MULTI_TURN, Message(role="user", content=[DOC_PDF, TextPart(text="Sum it up")])],
         {"tools": TOOLS}),
    Case("audio_wav", with_parts(AUDIO_WAV)),
    Case("audio_mp3", with_parts(AUDIO_MP3)),
    Case("history_own_signed", _own_loop(SIGNED, REDACTED), {"tools": TOOLS, "reasoning_budget": 2048,
                                                            "max_tokens": 8192}, model="reasoning"),
    Case("history_own_unsigned", _own_loop({"reasoningContent": {"reasoningText": {"text": "[REDACTED]"}}}),
         {"tools": TOOLS, "reasoning_effort": "low"}, model="reasoning"),
    Case("history_tools_not_declared", _own_loop()),
    Case("history_server_tool", RAN_CODE),
    Case("server_tools_nova", options={"server_tools": [WebSearch(), CodeInterpreter()], "tools": TOOLS}),
    Case("extra_converse_fields", options={"extra": {
        "guardrailConfig": {"guardrailIdentifier": "gr1abc", "guardrailVersion": "DRAFT", "trace": "enabled"},
        "performanceConfig": {"latency": "optimized"}, "serviceTier": {"type": "flex"},
        "requestMetadata": {"team": "search"}, "additionalModelResponseFieldPaths": ["/stop_sequence"]}}),
    Case("stream_reasoning_tools", MULTI_TURN, {"tools": TOOLS, "reasoning_effort": "high"}, model="reasoning",
         stream=True),
]

CASES = for_api([*common_cases(), *reasoning_cases(efforts=("minimal", "low", "medium", "high", "xhigh")),
                 *server_tool_cases(), *BEDROCK_CASES], "bedrock")

_NO_IMAGES = frozenset({"gpt_oss", "mistral"})
_NO_FORCED_TOOL = frozenset({"llama"})
_NO_SYSTEM_TOOLS = ALL - {"nova_2"}
_NOT_CLAUDE = ALL - {"claude", "claude_adaptive"}
# What each family must refuse before sending, and why (the builder's own words are checked loosely).
REFUSED: dict[str, frozenset[str]] = {
    # Converse takes images and documents as bytes or s3:// locations only, never web URLs or file ids.
    "image_url": ALL,
    "document_url": ALL,
    "document_file_id": ALL,
    "image_base64": _NO_IMAGES,
    "image_data_url": _NO_IMAGES,
    "image_s3": _NO_IMAGES,
    "cache_control_parts": _NO_IMAGES,
    # Llama on Bedrock takes toolChoice auto only.
    "tool_without_description": _NO_FORCED_TOOL,
    "tool_choice_required": _NO_FORCED_TOOL,
    "tool_choice_named": _NO_FORCED_TOOL,
    # No model on Bedrock takes audio through Converse yet.
    "audio_wav": ALL,
    "audio_mp3": ALL,
    # Nova 2 runs web grounding and a code interpreter; nothing runs file search, image generation or MCP.
    "server_web_search": _NO_SYSTEM_TOOLS,
    "server_code_interpreter": _NO_SYSTEM_TOOLS,
    "server_code_interpreter_container": _NO_SYSTEM_TOOLS,
    "server_tools_nova": _NO_SYSTEM_TOOLS,
    "server_file_search": ALL,
    "server_image_generation": ALL,
    "server_mcp": ALL,
    "server_all_with_functions": ALL,
    # Claude refuses a thinking budget it counts inside max_tokens (8192 > 2048 here, so nothing is refused).
}
_UNKNOWN = set(REFUSED) - {c.id for c in CASES}
assert not _UNKNOWN, f"REFUSED names no case: {sorted(_UNKNOWN)}"

MATRIX = [pytest.param(replace(c, finding=None), family, id=f"{family}-{c.id}", marks=param(c).marks)
          for c in CASES for family in FAMILIES]


@pytest.fixture(scope="module")
def bedrock():  # type: ignore[no-untyped-def]
    return provider("bedrock", region="us-east-1")


def _build(p: Any, case: Case, family: str, count: bool = False) -> Any:
    call = make_call(p, FAMILIES[family], case)
    return quiet(p._build_count_request if count else p._build_request, call)


@pytest.mark.parametrize(("case", "family"), MATRIX)
def test_converse_request_is_valid_or_refused(case: Case, family: str, bedrock) -> None:  # type: ignore[no-untyped-def]
    if family in REFUSED.get(case.id, ()):
        with pytest.raises((UnsupportedCapabilityError, InvalidRequestError)):
            _build(bedrock, case, family)
        return
    request = _build(bedrock, case, family)
    assert request.model_id == FAMILIES[family]
    params = {"modelId": request.model_id, **request.params}
    assert_valid(check("ConverseStream" if case.stream else "Converse", params), json_body(params))
    body = json.dumps(json_body(request.params))  # the JSON body of POST /model/{id}/converse
    assert MADE_BY not in body


@pytest.mark.parametrize(("case", "family"), [m for m in MATRIX if not m.values[0].stream])
def test_count_tokens_request_is_valid_or_refused(case: Case, family: str, bedrock) -> None:  # type: ignore[no-untyped-def]
    if family in REFUSED.get(case.id, ()):
        with pytest.raises((UnsupportedCapabilityError, InvalidRequestError)):
            _build(bedrock, case, family, count=True)
        return
    request = _build(bedrock, case, family, count=True)
    params = {"modelId": request.model_id, **request.params}
    assert_valid(check("CountTokens", params), json_body(params))


# ---------------------------------------------------------------------- what the matrix relies on


def test_the_checker_finds_what_botocore_leaves_to_the_service() -> None:
    turn = {"role": "user", "content": [{"text": "hi"}]}
    bad_id = {"role": "assistant", "content": [{"toolUse": {"toolUseId": "call/1 x", "name": "f", "input": {}}}]}
    problems = check("Converse", {"modelId": "m.x", "messages": [turn, bad_id],
                                  "inferenceConfig": {"temperature": 1.5},
                                  "performanceConfig": {"latency": "fastest"}})
    assert any("ToolUseId" in p for p in problems), problems
    assert any("InferenceConfigurationTemperatureFloat" in p for p in problems), problems
    assert any("PerformanceConfigLatency" in p for p in problems), problems
    unknown = check("Converse", {"modelId": "m.x", "messages": [turn], "topK": 3})
    assert unknown and "Unknown parameter" in unknown[0]
    assert check("Converse", {"modelId": "m.x", "messages": [turn]}) == []


def test_the_service_model_is_botocores_bundled_one() -> None:
    model = service_model()
    assert model.service_name == "bedrock-runtime" and model.api_version == "2023-09-30"
    assert {"Converse", "ConverseStream", "CountTokens"} <= set(model.operation_names)


def test_claude_gets_its_own_signed_reasoning_back_in_the_matrix(bedrock) -> None:  # type: ignore[no-untyped-def]
    case = next(c for c in CASES if c.id == "history_own_signed")
    sent = _build(bedrock, case, "claude").params
    assert sent["messages"][1]["content"][:2] == [SIGNED, {"reasoningContent": {"redactedContent": b"encrypted"}}]
    assert sent["additionalModelRequestFields"]["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    nova = _build(bedrock, case, "nova_2").params
    assert "reasoningContent" not in json.dumps(json_body(nova))
