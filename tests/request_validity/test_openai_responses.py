"""OpenAI Responses bodies (`/responses`, `/responses/input_tokens`) against OpenAI's OpenAPI spec."""

from __future__ import annotations

import pytest

from agentos_llm.types import Message
from request_validity.cases import (
    DOC_FILE,
    DOC_PDF,
    DOC_TEXT,
    DOC_URL,
    MULTI_TURN,
    TOOLS,
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
from request_validity.specs import assert_valid, openai

MODELS = {"chat": "gpt-4.1", "reasoning": "gpt-5", "responses_only": "o3-pro"}
# The Responses API has no stop sequences: the converter refuses `stop` before sending (by design).
NO_STOP = {"max_tokens_stop", "stop_string"}

CASES = for_api([
    *[c for c in common_cases() if c.id not in NO_STOP],
    Case("max_tokens", options={"max_tokens": 256}),
    *reasoning_cases(efforts=("minimal", "low", "high")),
    *[Case(f"reasoning_summary_{s}", options={"reasoning_effort": "medium", "reasoning_summary": s},
           model="reasoning") for s in ("auto", "concise", "detailed")],
    Case("responses_only_model", MULTI_TURN, {"reasoning_effort": "high"}, model="responses_only"),
    Case("store", options={"store": True}),
    Case("store_reasoning", options={"store": True, "reasoning_effort": "low"}, model="reasoning"),
    Case("previous_response_id", options={"previous_response_id": "resp_0123456789", "store": True}),
    Case("previous_response_id_with_tools", [Message(role="user", content="And tomorrow?")],
         {"previous_response_id": "resp_0123456789", "tools": TOOLS, "tool_choice": "get_weather"}),
    *server_tool_cases(),
    Case("document_pdf", with_parts(DOC_PDF)),
    Case("document_url", with_parts(DOC_URL)),
    Case("document_text", with_parts(DOC_TEXT)),
    Case("document_file_id", with_parts(DOC_FILE)),
], "openai")
COUNT_CASES = [c for c in CASES if not c.stream]


@pytest.fixture(scope="module")
def responses():  # type: ignore[no-untyped-def]
    return provider("openai", api="responses")


@pytest.mark.parametrize("case", [param(c) for c in CASES])
def test_responses_body_is_valid(case: Case, responses) -> None:  # type: ignore[no-untyped-def]
    body = quiet(responses._build_request, make_call(responses, MODELS[case.model], case))
    assert_valid(openai().check(body, "CreateResponse"), body)


@pytest.mark.parametrize("case", [param(c) for c in COUNT_CASES])
def test_input_tokens_body_is_valid(case: Case, responses) -> None:  # type: ignore[no-untyped-def]
    body = quiet(responses._build_count_request, make_call(responses, MODELS[case.model], case))
    assert body is not None
    assert_valid(openai().check(body, "TokenCountsBody"), body)
