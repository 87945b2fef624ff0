"""Anthropic Messages and count_tokens bodies against the anthropic SDK's request types.

The SDK's TypedDicts (generated from Anthropic's OpenAPI spec) are the published schema here: a key
they do not declare, a literal they do not list or a value of the wrong type is a finding.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from anthropic.types.message_count_tokens_params import MessageCountTokensParams
from anthropic.types.message_create_params import MessageCreateParams
from schema_check import check_typed

from agentos_llm.types import DocumentPart, Message, TextPart
from request_validity.cases import (
    DOC_FILE,
    DOC_PDF,
    DOC_TEXT,
    DOC_URL,
    IMAGE_DATA,
    MULTI_TURN,
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
    with_findings,
    with_parts,
)
from request_validity.specs import assert_valid

MODELS = {"chat": "claude-sonnet-4-5", "reasoning": "claude-sonnet-4-5", "basic": "claude-3-5-haiku",
          "legacy": "claude-3-7-sonnet"}
CACHED = {"type": "ephemeral"}

# Found here and fixed: the body carried temperature, top_p and top_k, which MessageCreateParams (anthropic SDK
# 2.x, API version 2026-10-21) no longer declares and the API refuses; the provider now leaves them out.
FINDINGS: dict[str, str] = {}

CASES = with_findings(for_api([
    *common_cases(),
    *reasoning_cases(efforts=("minimal", "low", "medium", "high", "xhigh")),
    Case("top_k", options={"top_k": 40, "temperature": 0.5}),
    Case("temperature_above_one", options={"temperature": 1.5}),
    Case("reasoning_on_legacy_model", structured=list[int], options={"reasoning_budget": 2048}, model="legacy"),
    Case("basic_model_structured", structured=dict[str, int], model="basic"),
    Case("cache_control_parts", [
        Message(role="system", content=[TextPart(text=SYSTEM, cache_control=CACHED)]),
        Message(role="user", content=[TextPart(text=USER, cache_control=CACHED),
                                      IMAGE_DATA.model_copy(update={"cache_control": CACHED})])],
         {"tools": TOOLS, "cache_prompt": True}),
    Case("document_pdf", with_parts(DOC_PDF)),
    Case("document_url", with_parts(DOC_URL)),
    Case("document_text", with_parts(DOC_TEXT)),
    Case("document_file_id", with_parts(DOC_FILE)),
    Case("document_text_data", with_parts(DocumentPart(data="SGVsbG8gd29ybGQ=", media_type="text/plain",
                                                       citations=False, cache_control=CACHED))),
    Case("document_in_tool_loop", [*MULTI_TURN, Message(role="user", content=[DOC_PDF, TextPart(text="Sum it up")])],
         {"tools": TOOLS}),
], "anthropic"), FINDINGS)


@pytest.fixture(scope="module")
def claude():  # type: ignore[no-untyped-def]
    return provider("anthropic")


@pytest.mark.parametrize("case", [param(c) for c in CASES])
def test_messages_body_is_valid(case: Case, claude) -> None:  # type: ignore[no-untyped-def]
    body = quiet(claude._build_request, make_call(claude, MODELS[case.model], case))
    assert_valid(check_typed(body, MessageCreateParams), body)


# count_tokens takes no sampling fields, and the converter leaves them out: none of FINDINGS applies.
COUNT_CASES = [replace(c, finding=None) for c in CASES if not c.stream]


@pytest.mark.parametrize("case", [param(c) for c in COUNT_CASES])
def test_count_tokens_body_is_valid(case: Case, claude) -> None:  # type: ignore[no-untyped-def]
    call = make_call(claude, MODELS[case.model], case)
    body: Any = quiet(claude._build_count_request, call)
    assert_valid(check_typed(body, MessageCountTokensParams), body)
