"""OpenAI Chat Completions and embeddings bodies against OpenAI's OpenAPI spec (unknown fields rejected)."""

from __future__ import annotations

import pytest

from agentos_llm.errors import InvalidRequestError
from agentos_llm.options import EmbedOptions
from request_validity.cases import (
    AUDIO_MP3,
    AUDIO_WAV,
    DOC_FILE,
    DOC_PDF,
    DOC_TEXT,
    TOOLS,
    Case,
    common_cases,
    for_api,
    make_call,
    param,
    provider,
    quiet,
    reasoning_cases,
    with_parts,
)
from request_validity.specs import assert_valid, openai

MODELS = {"chat": "gpt-4.1", "reasoning": "o4-mini", "audio": "gpt-4o-audio-preview", "basic": "gpt-3.5-turbo"}

CASES = for_api([
    *common_cases(),
    *reasoning_cases(efforts=("minimal", "low", "high", "xhigh")),
    Case("reasoning_effort_none", options={"reasoning_effort": "none"}, model="reasoning"),
    Case("top_k_ignored", options={"top_k": 40}),
    Case("basic_model_structured", structured=dict[str, int], model="basic"),
    Case("basic_model_tools", options={"tools": TOOLS, "tool_choice": "required"}, model="basic"),
    Case("document_pdf", with_parts(DOC_PDF)),
    Case("document_file_id", with_parts(DOC_FILE)),
    Case("document_text", with_parts(DOC_TEXT)),
    Case("audio_wav", with_parts(AUDIO_WAV), model="audio"),
    Case("audio_mp3", with_parts(AUDIO_MP3), model="audio"),
], "openai")


@pytest.fixture(scope="module")
def chat():  # type: ignore[no-untyped-def]
    return provider("openai")


@pytest.mark.parametrize("case", [param(c) for c in CASES])
def test_chat_completions_body_is_valid(case: Case, chat) -> None:  # type: ignore[no-untyped-def]
    body = quiet(chat._build_request, make_call(chat, MODELS[case.model], case))
    assert_valid(openai().check(body, "CreateChatCompletionRequest"), body)


@pytest.mark.parametrize(("texts", "dimensions"), [(["one"], None), (["one", "two", "three"], 256)])
def test_embeddings_body_is_valid(texts: list[str], dimensions: int | None, chat) -> None:  # type: ignore[no-untyped-def]
    body = chat._build_embed_request("text-embedding-3-small", texts, EmbedOptions(dimensions=dimensions))
    assert_valid(openai().check(body, "CreateEmbeddingRequest"), body)


def test_more_stop_sequences_than_the_api_takes_are_refused_or_valid(chat) -> None:  # type: ignore[no-untyped-def]
    # StopConfiguration takes at most 4: five must be refused before sending, or sent in a form that is valid.
    case = Case("stop_five", options={"stop": ["a", "b", "c", "d", "e"]})
    try:
        body = quiet(chat._build_request, make_call(chat, MODELS["chat"], case))
    except InvalidRequestError:
        return
    assert_valid(openai().check(body, "CreateChatCompletionRequest"), body)
