"""Gemini generateContent, countTokens and batchEmbedContents bodies against Google's published definitions.

Gemini API: the generativelanguage v1beta protos, parsed as Google's REST front end parses JSON (an
unknown field is rejected, REQUIRED fields checked). Vertex AI: the aiplatform v1beta1 discovery
document, unknown fields rejected.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from agentos_llm.options import EmbedOptions
from agentos_llm.types import DocumentPart
from request_validity.cases import (
    AUDIO_MP3,
    AUDIO_WAV,
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
    with_findings,
    with_parts,
)
from request_validity.specs import GEMINI_PACKAGE, VERTEX_PREFIX, assert_valid, gemini, vertex

MODELS = {"chat": "gemini-2.5-flash", "reasoning": "gemini-2.5-flash", "level": "gemini-3-pro-preview",
          "basic": "gemma-3-27b-it", "audio": "gemini-2.5-flash"}
FILE_URI = "https://generativelanguage.googleapis.com/v1beta/files/abc123"

FINDINGS: dict[str, str] = {}
# Found here and fixed: a tool with an empty description was sent without `description`, which the Gemini
# API's v1beta proto marks REQUIRED ("tool_without_description" now passes).

CASES = with_findings(for_api([
    *common_cases(),
    *reasoning_cases(efforts=("none", "minimal", "low", "medium", "high", "xhigh")),
    *[Case(f"level_effort_{e}", options={"reasoning_effort": e}, model="level") for e in ("minimal", "low", "high")],
    Case("level_budget", options={"reasoning_budget": 4096}, model="level"),
    Case("level_history_foreign", None, {"tools": TOOLS, "reasoning_effort": "high"}, model="level"),
    Case("level_history_own", None, {"tools": TOOLS, "reasoning_effort": "high"}, model="level"),
    Case("top_k", options={"top_k": 40, "temperature": 0.5, "top_p": 0.95, "seed": 3}),
    Case("basic_model_structured", structured=dict[str, int], model="basic"),
    Case("document_pdf", with_parts(DOC_PDF)),
    Case("document_url", with_parts(DOC_URL)),
    Case("document_text", with_parts(DOC_TEXT)),
    Case("document_file_uri", with_parts(DocumentPart(file_id=FILE_URI, media_type="application/pdf"))),
    Case("document_gs_uri", with_parts(DocumentPart(file_id="gs://bucket/report.pdf"))),
    Case("audio_wav", with_parts(AUDIO_WAV), model="audio"),
    Case("audio_mp3", with_parts(AUDIO_MP3), model="audio"),
    Case("only_system", [MULTI_TURN[0]]),
], "gemini"), FINDINGS)
COUNT_CASES = [c for c in CASES if not c.stream]

GENERATE = f"{GEMINI_PACKAGE}.GenerateContentRequest"
COUNT = f"{GEMINI_PACKAGE}.CountTokensRequest"
BATCH_EMBED = f"{GEMINI_PACKAGE}.BatchEmbedContentsRequest"
URL_MODEL = frozenset({"model"})  # bound from the URL path (`models/x:generateContent`), not the body
URL_ENDPOINT = frozenset({"endpoint"})


@pytest.fixture(scope="module")
def api():  # type: ignore[no-untyped-def]
    return provider("gemini")


@pytest.fixture(scope="module")
def vertex_ai():  # type: ignore[no-untyped-def]
    return provider("gemini", vertexai=True)


@pytest.mark.parametrize("case", [param(c) for c in CASES])
def test_generate_content_body_is_valid(case: Case, api) -> None:  # type: ignore[no-untyped-def]
    request = quiet(api._build_request, make_call(api, MODELS[case.model], case))
    method = ":streamGenerateContent?alt=sse" if case.stream else ":generateContent"
    assert request.path == f"models/{MODELS[case.model]}{method}"
    assert_valid(gemini().check(request.body, GENERATE, path_fields=URL_MODEL), request.body)


@pytest.mark.parametrize("case", [param(c) for c in COUNT_CASES])
def test_count_tokens_body_is_valid(case: Case, api) -> None:  # type: ignore[no-untyped-def]
    request = quiet(api._build_count_request, make_call(api, MODELS[case.model], case))
    assert request.path.endswith(":countTokens")
    assert_valid(gemini().check(request.body, COUNT, path_fields=URL_MODEL), request.body)


EMBEDS = [(["one"], None, None), (["one", "two"], 256, "query"), (["a", "b", "c"], None, "document"),
          (["x"], 768, "classification"), (["x"], None, "clustering"), (["x"], None, "similarity")]


@pytest.mark.parametrize(("texts", "dimensions", "input_type"), EMBEDS)
def test_batch_embed_body_is_valid(texts: list[str], dimensions: int | None, input_type: str | None,
                                   api) -> None:  # type: ignore[no-untyped-def]
    options = EmbedOptions(dimensions=dimensions, input_type=input_type)  # type: ignore[arg-type]
    request = api._build_embed_request("gemini-embedding-001", texts, options)
    assert request.path == "models/gemini-embedding-001:batchEmbedContents"
    assert_valid(gemini().check(request.body, BATCH_EMBED, path_fields=URL_MODEL), request.body)


# ---------------------------------------------------------------------- Vertex AI


@pytest.mark.parametrize("case", [param(replace(c, finding=None)) for c in CASES])
def test_vertex_generate_content_body_is_valid(case: Case, vertex_ai) -> None:  # type: ignore[no-untyped-def]
    request = quiet(vertex_ai._build_request, make_call(vertex_ai, MODELS[case.model], case))
    assert request.path.startswith("publishers/google/models/")
    problems = vertex().check(request.body, f"{VERTEX_PREFIX}GenerateContentRequest", path_fields=URL_MODEL)
    assert_valid(problems, request.body)


@pytest.mark.parametrize("case", [param(replace(c, finding=None)) for c in COUNT_CASES])
def test_vertex_count_tokens_body_is_valid(case: Case, vertex_ai) -> None:  # type: ignore[no-untyped-def]
    request = quiet(vertex_ai._build_count_request, make_call(vertex_ai, MODELS[case.model], case))
    problems = vertex().check(request.body, f"{VERTEX_PREFIX}CountTokensRequest", path_fields=URL_ENDPOINT)
    assert_valid(problems, request.body)


@pytest.mark.parametrize(("model", "schema"), [("gemini-embedding-001", "BatchEmbedContentsRequest"),
                                               ("text-embedding-005", "PredictRequest")])
@pytest.mark.parametrize(("texts", "dimensions", "input_type"), EMBEDS[:3])
def test_vertex_embed_body_is_valid(model: str, schema: str, texts: list[str], dimensions: int | None,
                                    input_type: str | None, vertex_ai) -> None:  # type: ignore[no-untyped-def]
    options = EmbedOptions(dimensions=dimensions, input_type=input_type)  # type: ignore[arg-type]
    request = vertex_ai._build_embed_request(model, texts, options)
    # Each item's model is the URL's, as google-genai sends it too (models._EmbedContentParametersPrivate_to_vertex
    # puts only `requests[].content`): the "Required." of EmbedContentRequest.model is met by the path.
    path_fields = URL_ENDPOINT if schema == "PredictRequest" else URL_MODEL | {"requests.model"}
    assert_valid(vertex().check(request.body, f"{VERTEX_PREFIX}{schema}", path_fields=path_fields), request.body)
