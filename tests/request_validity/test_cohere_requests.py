"""Cohere v2 chat, embed, rerank and v1 tokenize bodies against the cohere SDK's own request types.

The schema is the keyword parameters of the SDK's raw client methods and the pydantic models they take, read
closed (`request_validity.cohere_sdk_schema`). The shared call matrix (`cases.py`) runs whole; a case a model
cannot take must be refused before sending, never built into a body.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from agentos_llm.errors import InvalidRequestError, UnsupportedCapabilityError
from agentos_llm.options import EmbedOptions
from agentos_llm.types import DocumentPart, Message, TextPart, ToolCall, VendorBlock, tool_result
from request_validity.cases import (
    AUDIO_MP3,
    AUDIO_WAV,
    DOC_FILE,
    DOC_PDF,
    DOC_TEXT,
    DOC_URL,
    IMAGE_DATA,
    IMAGE_URL,
    MULTI_TURN,
    SYSTEM,
    TOOLS,
    USER,
    Case,
    Person,
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
from request_validity.cohere_sdk_schema import CHAT, EMBED, RERANK, TOKENIZE, check_body
from request_validity.specs import assert_valid

MODELS = {"chat": "command-a-03-2025", "reasoning": "command-a-reasoning-08-2025",
          "vision": "command-a-vision-07-2025", "small": "command-r7b-12-2024", "legacy": "command-r-plus-08-2024"}

# ---------------------------------------------------------------------- the checker itself


@pytest.mark.parametrize(("body", "problem"), [
    ({"model": "m"}, "'messages' is required"),
    ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "tool_choice": "required"},
     "is not one of ['REQUIRED', 'NONE']"),
    ({"model": "m", "messages": [{"role": "user", "content": "hi", "name": "x"}]}, "name: not a field"),
    ({"model": "m", "messages": [{"content": "hi"}]}, "discriminant 'role'"),
    ({"model": "m", "messages": [{"role": "assistant", "content": [{"type": "thinking", "text": "x"}]}]},
     "needs 'thinking'"),
    ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "top_p": 0.5}, "$.top_p: not a parameter"),
    ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "thinking": {"budget": 10}},
     "needs 'type'"),
])
def test_the_checker_finds_invalid_bodies(body: dict[str, Any], problem: str) -> None:
    problems = check_body(body, CHAT)
    assert any(problem in p for p in problems), problems


def test_the_checker_takes_a_recorded_request() -> None:
    recorded = {"messages": [{"content": "What's the weather in Paris?", "role": "user"},
                             {"role": "assistant", "tool_calls": [{"function": {"arguments": "{\"city\":\"Paris\"}",
                                                                                 "name": "get_weather"},
                                                                    "id": "get_weather_9gpb31r7h7mj",
                                                                    "type": "function"}]},
                             {"content": "Sunny, 22C in Paris", "role": "tool",
                              "tool_call_id": "get_weather_9gpb31r7h7mj"}],
                "model": "command-r7b-12-2024", "stream": False, "tool_choice": "REQUIRED",
                "tools": [{"function": {"description": "d", "name": "get_weather", "parameters": {"type": "object"}},
                           "type": "function"}]}
    assert check_body(recorded, CHAT) == []


# ---------------------------------------------------------------------- the matrix

OWN_TOOL_LOOP = [
    Message(role="system", content=SYSTEM),
    Message(role="user", content=USER),
    Message(role="assistant", reasoning="The user wants weather.", tool_calls=[
        ToolCall(id="get_weather_abc123", name="get_weather", arguments={"city": "Lisbon"})],
        vendor_blocks=[VendorBlock(provider="cohere", type="thinking",
                                   data={"type": "thinking", "thinking": "The user wants weather."}),
                       VendorBlock(provider="cohere", type="tool_plan", data={"tool_plan": "I will look it up."})]),
    tool_result("get_weather_abc123", {"temperature": 21}),
]
TEXT_DATA = DocumentPart(data="VGhlIGxhdW5jaCBpcyBvbiBUdWVzZGF5Lg==", media_type="text/plain", filename="notes.txt")


def _cases() -> list[Case]:
    cases = for_api([
        *common_cases(),
        *reasoning_cases(efforts=("minimal", "low", "medium", "high", "xhigh")),
        Case("reasoning_effort_none", options={"reasoning_effort": "none"}, model="reasoning"),
        Case("reasoning_own_tool_loop", OWN_TOOL_LOOP, {"tools": TOOLS, "reasoning_budget": 1024},
             model="reasoning"),
        Case("top_k_and_p_bounds", options={"top_k": 900, "top_p": 1.0, "temperature": 0.7}),
        Case("document_text", with_parts(DOC_TEXT)),
        Case("document_text_data", with_parts(TEXT_DATA, DOC_TEXT)),
        Case("document_in_tool_loop", [*MULTI_TURN, Message(role="user", content=[DOC_TEXT, TextPart(text="Sum up")])],
             {"tools": TOOLS}),
        Case("document_in_tool_result", [
            Message(role="user", content=USER),
            Message(role="assistant", tool_calls=[ToolCall(id="c1", name="get_weather", arguments={})]),
            Message(role="tool", tool_call_id="c1", content=[TextPart(text="found:"), DOC_TEXT])], {"tools": TOOLS}),
        Case("structured_with_documents", with_parts(DOC_TEXT), structured=Person),
        Case("structured_json_schema_with_tools", structured=Person, mode="json_schema", options={"tools": TOOLS}),
        Case("small_model_tools", options={"tools": TOOLS, "tool_choice": "required"}, model="small"),
        Case("legacy_model_tool_choice_none", options={"tools": TOOLS, "tool_choice": "none"}, model="legacy"),
        Case("legacy_model_structured", structured=dict[str, int], options={"tools": TOOLS}, model="legacy"),
        Case("vision_structured", with_parts(IMAGE_URL), structured=Person, model="vision"),
        Case("vision_stream", with_parts(IMAGE_DATA), stream=True, model="vision"),
    ], "cohere")
    # Cohere's vision models take images; the others refuse them before sending.
    return [replace(c, model="vision") if c.id.startswith("image_") else c for c in cases]


CASES = _cases()


@pytest.fixture(scope="module")
def cohere_provider():  # type: ignore[no-untyped-def]
    return provider("cohere")


@pytest.mark.parametrize("case", [param(c) for c in CASES])
def test_chat_body_is_valid(case: Case, cohere_provider) -> None:  # type: ignore[no-untyped-def]
    body = quiet(cohere_provider._build_request, make_call(cohere_provider, MODELS[case.model], case))
    assert_valid(check_body(body, CHAT), body)
    json.dumps(body)  # plain JSON, nothing the encoder would have to guess


@pytest.mark.parametrize("case", [param(c) for c in CASES if not c.stream])
def test_tokenize_body_is_valid(case: Case, cohere_provider) -> None:  # type: ignore[no-untyped-def]
    body = quiet(cohere_provider._build_count_request, make_call(cohere_provider, MODELS[case.model], case))
    assert_valid(check_body(body, TOKENIZE), body)
    assert body["text"].strip()


# ---------------------------------------------------------------------- every model, refused before sending

# The shared matrix and the cases no Cohere model takes, on every model: each body is valid, or the call is refused
# before sending (UnsupportedCapabilityError / InvalidRequestError) where Cohere's documentation says it cannot be
# taken: images only on the vision model (https://docs.cohere.com/docs/image-inputs), which takes no tools; no
# tool_choice on the 2024 models; no audio, no server-run tools, documents as text only, at most 5 stop sequences
# (https://docs.cohere.com/reference/chat). Written out here, not read from the model profiles.
UNTAKEABLE = ["audio_wav", "audio_mp3", "document_pdf", "document_url", "document_file_id", "many_stop_sequences"]
SHARED = for_api([
    *common_cases(), *reasoning_cases(), *server_tool_cases(),
    Case("audio_wav", with_parts(AUDIO_WAV)), Case("audio_mp3", with_parts(AUDIO_MP3)),
    Case("document_pdf", with_parts(DOC_PDF)), Case("document_url", with_parts(DOC_URL)),
    Case("document_file_id", with_parts(DOC_FILE)),
    Case("many_stop_sequences", options={"stop": [f"STOP{i}" for i in range(6)]}),
    Case("temperature_above_one", options={"temperature": 1.5}),
], "cohere")


def _refused(case: Case, role: str) -> bool:
    options = case.options
    messages = case.messages if isinstance(case.messages, list) else []
    uses_tools = bool(options.get("tools")) or any(m.tool_calls or m.role == "tool" for m in messages)
    has_images = case.id.startswith("image_")
    return (case.id in UNTAKEABLE or case.id.startswith("server_")
            or (has_images and role != "vision") or (uses_tools and role == "vision")
            or (options.get("tool_choice") not in (None, "auto", "none") and role == "legacy"))


SHARED_MATRIX = [pytest.param(c, role, id=f"{role}-{c.id}") for c in SHARED for role in MODELS]


@pytest.mark.parametrize(("case", "role"), SHARED_MATRIX)
def test_every_model_builds_a_valid_body_or_refuses(case: Case, role: str, cohere_provider) -> None:  # type: ignore[no-untyped-def]
    def build() -> Any:
        call = make_call(cohere_provider, MODELS[role], case)
        body = quiet(cohere_provider._build_request, call)
        return body, None if case.stream else quiet(cohere_provider._build_count_request, call)

    if _refused(case, role):
        with pytest.raises((UnsupportedCapabilityError, InvalidRequestError)):
            build()
        return
    body, count = build()
    assert_valid(check_body(body, CHAT), body)
    if count is not None:
        assert_valid(check_body(count, TOKENIZE), count)


@pytest.mark.parametrize(("texts", "options"), [
    (["one"], EmbedOptions()),
    (["one", "two"], EmbedOptions(input_type="query", dimensions=512)),
    (["a"], EmbedOptions(input_type="classification")),
    (["a"], EmbedOptions(input_type="clustering")),
    (["a"], EmbedOptions(input_type="similarity")),
    (["a"], EmbedOptions(input_type="document", dimensions=1536)),
])
def test_embed_body_is_valid(texts: list[str], options: EmbedOptions, cohere_provider) -> None:  # type: ignore[no-untyped-def]
    body = cohere_provider._build_embed_request("embed-v4.0", texts, options)
    assert_valid(check_body(body, EMBED), body)


@pytest.mark.parametrize("top_n", [None, 1, 3])
def test_rerank_body_is_valid(top_n: int | None, cohere_provider) -> None:  # type: ignore[no-untyped-def]
    body = cohere_provider._build_rerank_request("rerank-v3.5", "launch day", ["a", "b", "c"], top_n)
    assert_valid(check_body(body, RERANK), body)
