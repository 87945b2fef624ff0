"""The pure Gemini converters: requests from calls, responses and stream chunks to our types, errors.

No HTTP here: every function under test takes and returns plain data.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from agentos_llm.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ContentFilterError,
    ContextLengthExceededError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from agentos_llm.model_traits import traits_for
from agentos_llm.options import EmbedOptions, parse_options
from agentos_llm.provider import Call
from agentos_llm.structured import StructuredPlan
from agentos_llm.types import (
    FinishReason,
    ImagePart,
    Message,
    ReasoningDeltaEvent,
    TextDeltaEvent,
    TextPart,
    ToolCall,
    ToolCallDeltaEvent,
    ToolCallEvent,
    ToolDefinition,
    UsageEvent,
    VendorBlock,
    coerce_messages,
)
from agentos_llm.wire import gemini_generate as g

FLASH = "gemini-2.5-flash"  # thinks with a budget
GEMINI_3 = "gemini-3-pro-preview"  # thinks with a level, validates signatures
OLD = "gemini-2.0-flash"  # does not think


def make_call(messages: Any, model: str = FLASH, *, stream: bool = False, **options: Any) -> Call:
    return Call(model=model, messages=coerce_messages(messages), options=parse_options(options),
                traits=traits_for("gemini", model), stream=stream)


def body_of(messages: Any, model: str = FLASH, **options: Any) -> dict[str, Any]:
    return g.build_generate_request(make_call(messages, model, **options)).body


def response(parts: list[dict[str, Any]], finish: str | None = "STOP", **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "modelVersion": "models/gemini-2.5-flash-001", "responseId": "resp-1",
            **extra}


WEATHER = {"name": "get_weather", "description": "Weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


# ---------------------------------------------------------------------- request: contents


def test_roles_system_instruction_and_generation_config() -> None:
    req = g.build_generate_request(make_call(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
         {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Bye"}],
        temperature=0.3, top_p=0.9, top_k=20, max_tokens=50, stop="END", seed=7))
    assert req.path == "models/gemini-2.5-flash:generateContent"
    assert req.body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert req.body["contents"] == [
        {"role": "user", "parts": [{"text": "Hi"}]},
        {"role": "model", "parts": [{"text": "Hello!"}]},
        {"role": "user", "parts": [{"text": "Bye"}]},
    ]
    assert req.body["generationConfig"] == {"temperature": 0.3, "topP": 0.9, "topK": 20, "maxOutputTokens": 50,
                                            "stopSequences": ["END"], "seed": 7}
    assert "tools" not in req.body and "toolConfig" not in req.body


def test_stream_path_and_model_paths() -> None:
    assert g.build_generate_request(make_call("x", stream=True)).path == (
        "models/gemini-2.5-flash:streamGenerateContent?alt=sse")
    assert g.model_path("gemini-2.5-flash") == "models/gemini-2.5-flash"
    assert g.model_path("models/gemini-2.5-flash") == "models/gemini-2.5-flash"
    assert g.model_path("tunedModels/mine") == "tunedModels/mine"
    assert g.model_path("gemini-2.5-flash", vertex=True) == "publishers/google/models/gemini-2.5-flash"
    assert g.model_path("meta/llama-4", vertex=True) == "publishers/meta/models/llama-4"
    assert g.model_path("projects/p/locations/l/endpoints/e", vertex=True) == "projects/p/locations/l/endpoints/e"
    assert g.bare_model_name("models/gemini-2.5-flash") == "gemini-2.5-flash"
    assert g.bare_model_name("publishers/google/models/gemini-2.5-pro") == "gemini-2.5-pro"
    assert g.bare_model_name("gemini-2.5-pro") == "gemini-2.5-pro"


def test_several_system_messages_are_all_kept_and_a_system_only_call_still_has_contents() -> None:
    body = body_of([{"role": "system", "content": "A"}, {"role": "user", "content": "q"},
                    {"role": "system", "content": "B"}])
    assert body["systemInstruction"]["parts"] == [{"text": "A"}, {"text": "B"}]
    only = body_of([{"role": "system", "content": "Say hi"}])
    assert only["contents"] == [{"role": "user", "parts": [{"text": "Say hi"}]}]
    assert "systemInstruction" not in only


def test_images_inline_data_urls_and_remote_urls() -> None:
    body = body_of([Message(role="user", content=[
        TextPart(text="What is this?"),
        ImagePart(data="aGVsbG8=", media_type="image/png"),
        ImagePart(url="data:image/webp;base64,d2VicA=="),
        ImagePart(url="https://example.com/cat.jpeg?size=large"),
        ImagePart(url="gs://bucket/dog.png"),
        ImagePart(url="https://example.com/picture", media_type="image/gif"),
        ImagePart(url="https://example.com/no-extension"),
    ])])
    assert body["contents"][0]["parts"] == [
        {"text": "What is this?"},
        {"inlineData": {"mimeType": "image/png", "data": "aGVsbG8="}},
        {"inlineData": {"mimeType": "image/webp", "data": "d2VicA=="}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpeg?size=large"}},
        {"fileData": {"mimeType": "image/png", "fileUri": "gs://bucket/dog.png"}},
        {"fileData": {"mimeType": "image/gif", "fileUri": "https://example.com/picture"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/no-extension"}},
    ]


def test_consecutive_turns_of_one_role_are_merged_and_empty_ones_dropped() -> None:
    body = body_of([{"role": "user", "content": "a"}, {"role": "user", "content": ""},
                    {"role": "user", "content": "b"}])
    assert body["contents"] == [{"role": "user", "parts": [{"text": "a"}, {"text": "b"}]}]


# ---------------------------------------------------------------------- request: tools


def test_tools_and_tool_choice_modes() -> None:
    body = body_of("weather?", tools=[WEATHER])
    assert body["tools"] == [{"functionDeclarations": [{
        "name": "get_weather", "description": "Weather of a city",
        "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}}]}]
    assert "toolConfig" not in body
    modes = {
        "auto": {"mode": "AUTO"},
        "none": {"mode": "NONE"},
        "required": {"mode": "ANY"},
        "get_weather": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
    }
    for choice, expected in modes.items():
        sent = body_of("weather?", tools=[WEATHER], tool_choice=choice)
        assert sent["toolConfig"] == {"functionCallingConfig": expected}, choice


def test_a_tool_without_parameters_sends_no_schema() -> None:
    body = body_of("time?", tools=[{"name": "now", "description": "The time"}])
    assert body["tools"][0]["functionDeclarations"] == [{"name": "now", "description": "The time"}]


class Address(BaseModel):
    street: str
    zip_code: str | None = None


class Person(BaseModel):
    """A person."""

    name: str
    kind: Literal["human"] = "human"
    level: Literal[1, 2, 3] = 1
    email: str = "x@example.com"
    address: Address
    tags: list[str] = []


def test_pydantic_schema_becomes_the_openapi_subset() -> None:
    schema = Person.model_json_schema()
    schema["properties"]["email"]["format"] = "email"
    schema["properties"]["when"] = {"type": "string", "format": "date-time", "title": "When"}
    schema["additionalProperties"] = False
    out = g.gemini_schema(schema)
    assert out is not None
    assert out["type"] == "OBJECT"
    assert out["description"] == "A person."
    assert out["required"] == ["name", "address"]
    assert out["propertyOrdering"] == ["name", "kind", "level", "email", "address", "tags", "when"]
    props = out["properties"]
    assert props["name"] == {"type": "STRING"}  # title dropped
    assert props["kind"] == {"type": "STRING", "enum": ["human"]}  # const -> enum, default dropped
    assert props["level"]["type"] == "INTEGER" and "enum" not in props["level"]
    assert "1, 2, 3" in props["level"]["description"]  # non-string enums are named, not sent as enum
    assert props["email"] == {"type": "STRING"}  # a format Gemini rejects is dropped
    assert props["when"] == {"type": "STRING", "format": "date-time"}
    assert props["tags"] == {"type": "ARRAY", "items": {"type": "STRING"}}
    address = props["address"]  # $ref inlined
    assert address["type"] == "OBJECT" and address["required"] == ["street"]
    assert address["properties"]["zip_code"] == {"type": "STRING", "nullable": True}  # anyOf null -> nullable
    text = json.dumps(out)
    for keyword in ("$ref", "$defs", "additionalProperties", "title", "default", "const", "anyOf"):
        assert keyword not in text, keyword


def test_schema_edge_cases() -> None:
    assert g.gemini_schema({"type": ["string", "null"]}) == {"type": "STRING", "nullable": True}
    assert g.gemini_schema({"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}) == {
        "anyOf": [{"type": "STRING"}, {"type": "INTEGER"}], "nullable": True}
    assert g.gemini_schema({"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}}]}) == {
        "type": "OBJECT", "properties": {"a": {"type": "STRING"}}}
    assert g.gemini_schema({"enum": ["a", "b"]}) == {"type": "STRING", "enum": ["a", "b"]}
    assert g.gemini_schema({"type": "array", "prefixItems": [{"type": "number"}]}) == {
        "type": "ARRAY", "items": {"type": "NUMBER"}}
    assert g.gemini_schema({"type": "integer", "minimum": 1, "maximum": 5, "exclusiveMaximum": 9}) == {
        "type": "INTEGER", "minimum": 1, "maximum": 5}


def test_schemas_the_subset_cannot_express_go_as_json_schema() -> None:
    recursive = {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
                 "$defs": {"Node": {"type": "object", "properties": {
                     "kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}}}
    free_form = {"type": "object",
                 "properties": {"meta": {"type": "object", "additionalProperties": {"type": "string"}}},
                 "$schema": "https://json-schema.org/draft/2020-12/schema"}
    assert g.gemini_schema(recursive) is None
    assert g.gemini_schema(free_form) is None
    body = body_of("x", tools=[{"name": "tree", "parameters": recursive}, {"name": "tag", "parameters": free_form}])
    decls = body["tools"][0]["functionDeclarations"]
    assert "parameters" not in decls[0] and decls[0]["parametersJsonSchema"]["$defs"]["Node"]
    assert decls[1]["parametersJsonSchema"]["properties"]["meta"]["additionalProperties"] == {"type": "string"}
    assert "$schema" not in decls[1]["parametersJsonSchema"]


# ---------------------------------------------------------------------- request: thinking


@pytest.mark.parametrize(("options", "expected"), [
    ({"reasoning_effort": "low"}, {"thinkingBudget": 2048, "includeThoughts": True}),
    ({"reasoning_effort": "high"}, {"thinkingBudget": 16384, "includeThoughts": True}),
    ({"reasoning_effort": "none"}, {"thinkingBudget": 0}),
    ({"reasoning_budget": 1000}, {"thinkingBudget": 1000, "includeThoughts": True}),
    ({"reasoning_budget": 0}, {"thinkingBudget": 0}),
])
def test_thinking_budget_models(options: dict[str, Any], expected: dict[str, Any]) -> None:
    assert body_of("x", FLASH, **options)["generationConfig"]["thinkingConfig"] == expected


# Gemini 3 Pro takes the levels low and high, Gemini 3 Flash minimal to high
# (https://ai.google.dev/gemini-api/docs/thinking); other efforts go to the nearest level (see test_request_rules).
@pytest.mark.parametrize(("model", "options", "expected"), [
    (GEMINI_3, {"reasoning_effort": "low"}, {"thinkingLevel": "LOW", "includeThoughts": True}),
    ("gemini-3-flash-preview", {"reasoning_effort": "medium"}, {"thinkingLevel": "MEDIUM", "includeThoughts": True}),
    (GEMINI_3, {"reasoning_effort": "xhigh"}, {"thinkingLevel": "HIGH", "includeThoughts": True}),
    ("gemini-3-flash-preview", {"reasoning_effort": "minimal"}, {"thinkingLevel": "MINIMAL", "includeThoughts": True}),
    (GEMINI_3, {"reasoning_budget": 4096}, {"thinkingBudget": 4096, "includeThoughts": True}),
])
def test_thinking_level_models(model: str, options: dict[str, Any], expected: dict[str, Any]) -> None:
    assert body_of("x", model, **options)["generationConfig"]["thinkingConfig"] == expected


def test_no_thinking_config_unless_asked_and_a_warning_for_models_that_do_not_think() -> None:
    assert "generationConfig" not in body_of("x", FLASH)
    with pytest.warns(UserWarning, match="gemini-2.0-flash"):
        body = body_of("x", OLD, reasoning_effort="high")
    assert "generationConfig" not in body


def test_extra_is_merged_deeply() -> None:
    safety = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    body = body_of("x", temperature=0.5, extra={"safetySettings": safety, "generationConfig": {"candidateCount": 1}})
    assert body["safetySettings"] == safety
    assert body["generationConfig"] == {"temperature": 0.5, "candidateCount": 1}


# ---------------------------------------------------------------------- request: structured output


class City(BaseModel):
    name: str
    country: str


def test_structured_json_schema_mode() -> None:
    call = replace(make_call("capital of France?"), structured=StructuredPlan.for_type(City),
                   structured_mode="json_schema")
    config = g.build_generate_request(call).body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"] == {"type": "OBJECT", "properties": {"name": {"type": "STRING"},
                                        "country": {"type": "STRING"}}, "required": ["name", "country"],
                                        "propertyOrdering": ["name", "country"]}


def test_structured_recursive_schema_uses_response_json_schema_and_prompt_mode_instructs() -> None:
    class Node(BaseModel):
        value: int
        children: list[Node] = []

    call = replace(make_call("tree"), structured=StructuredPlan.for_type(Node), structured_mode="json_schema")
    config = g.build_generate_request(call).body["generationConfig"]
    assert "responseSchema" not in config and "$defs" in json.dumps(config["responseJsonSchema"])
    prompt = replace(make_call("capital?", "gemma-3-27b-it"), structured=StructuredPlan.for_type(City),
                     structured_mode="prompt")
    body = g.build_generate_request(prompt).body
    assert "generationConfig" not in body
    # Gemma on the Gemini API takes no system instruction: the instructions open the user turn.
    assert "systemInstruction" not in body
    assert "JSON schema" in body["contents"][0]["parts"][0]["text"]
    assert body["contents"][0]["parts"][-1] == {"text": "capital?"}


# ---------------------------------------------------------------------- cross-provider histories


def test_openai_history_with_tool_calls_converts() -> None:
    history = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_abc", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_def", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}},
        ]},
        {"role": "tool", "tool_call_id": "call_abc", "content": '{"temp": 21}'},
        {"role": "tool", "tool_call_id": "call_def", "content": "sunny"},
        {"role": "user", "content": "Thanks!"},
    ]
    body = body_of(history, tools=[WEATHER])
    assert body["systemInstruction"] == {"parts": [{"text": "You are helpful."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                                    {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
            {"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}},
            {"text": "Thanks!"}]},
    ]
    assert "call_abc" not in json.dumps(body)  # ids Gemini never issued are not sent


def test_anthropic_history_drops_foreign_blocks_and_keeps_its_reasoning_out() -> None:
    thinking = VendorBlock(provider="anthropic", type="thinking", data={"thinking": "hmm", "signature": "sig-ant"})
    history = [
        Message(role="user", content="Add 2 and 3"),
        Message(role="assistant", content="Let me add.", reasoning="hmm", vendor_blocks=[thinking],
                tool_calls=[ToolCall(id="toolu_01", name="add", arguments={"a": 2, "b": 3})]),
        Message(role="tool", tool_call_id="toolu_01", content="[5]"),
    ]
    body = body_of(history)
    model_turn = body["contents"][1]
    assert model_turn == {"role": "model", "parts": [
        {"text": "Let me add."}, {"functionCall": {"name": "add", "args": {"a": 2, "b": 3}}}]}
    assert body["contents"][2]["parts"] == [{"functionResponse": {"name": "add", "response": {"result": [5]}}}]
    assert "sig-ant" not in json.dumps(body)


def test_gemini_3_gets_placeholder_signatures_on_unsigned_calls_only() -> None:
    history = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"id": "c2", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "1"},
        {"role": "tool", "tool_call_id": "c2", "content": "2"},
    ]
    parts = body_of(history, GEMINI_3)["contents"][1]["parts"]
    assert parts[0]["thoughtSignature"] == g.SKIP_SIGNATURE
    assert "thoughtSignature" not in parts[1]  # only the first call of a turn is validated
    assert "thoughtSignature" not in json.dumps(body_of(history, FLASH))


def test_a_tool_result_name_comes_from_the_call_or_the_message_else_an_error() -> None:
    named = body_of([{"role": "user", "content": "q"},
                     {"role": "tool", "tool_call_id": "lost", "name": "lookup", "content": "ok"}])
    assert named["contents"][0]["parts"][1] == {"functionResponse": {"name": "lookup", "response": {"result": "ok"}}}
    with pytest.raises(InvalidRequestError, match="lost"):
        body_of([{"role": "user", "content": "q"}, {"role": "tool", "tool_call_id": "lost", "content": "ok"}])


# ---------------------------------------------------------------------- response


def test_text_thoughts_calls_and_signatures() -> None:
    payload = response([
        {"text": "Thinking about it", "thought": True, "thoughtSignature": "sig-thought"},
        {"text": "Checking "},
        {"text": "the weather."},
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "sig-call"},
        {"functionCall": {"name": "get_time", "id": "fc-api-7"}},
        {"executableCode": {"language": "PYTHON", "code": "print(1)"}},
    ], usageMetadata={"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 7,
                      "cachedContentTokenCount": 4, "toolUsePromptTokenCount": 3, "totalTokenCount": 25})
    r = g.parse_generate_response(payload, model=FLASH)
    assert r.text == "Checking the weather."
    assert r.reasoning == "Thinking about it"
    assert [(c.name, c.arguments) for c in r.tool_calls] == [("get_weather", {"city": "Paris"}), ("get_time", {})]
    assert r.tool_calls[0].id.startswith("call_") and r.tool_calls[1].id == "fc-api-7"
    assert r.finish_reason is FinishReason.TOOL_CALLS and r.raw_finish_reason == "STOP"
    assert r.id == "resp-1" and r.model == "gemini-2.5-flash-001" and r.provider == "gemini"
    assert r.usage.input_tokens == 10 and r.usage.output_tokens == 12 and r.usage.reasoning_tokens == 7
    assert r.usage.cached_input_tokens == 4 and r.usage.total_tokens == 25
    assert r.message.tool_calls == r.tool_calls
    blocks = {(b.type, json.dumps(b.data, sort_keys=True)) for b in r.message.vendor_blocks}
    assert blocks == {
        ("thought_signature", json.dumps({"part": "thought", "signature": "sig-thought"}, sort_keys=True)),
        ("function_call", json.dumps({"signature": "sig-call", "tool_call_id": r.tool_calls[0].id}, sort_keys=True)),
        ("function_call", json.dumps({"api_id": True, "tool_call_id": "fc-api-7"}, sort_keys=True)),
    }
    assert all(b.provider == "gemini" for b in r.message.vendor_blocks)


def test_signatures_and_api_ids_go_back_where_they_came_from() -> None:
    payload = response([
        {"text": "pondering", "thought": True, "thoughtSignature": "sig-t"},
        {"text": "Let me look."},
        {"functionCall": {"name": "a", "args": {"x": 1}}, "thoughtSignature": "sig-a"},
        {"functionCall": {"name": "b", "args": {}, "id": "id-b"}},
    ])
    r = g.parse_generate_response(payload, model=GEMINI_3)
    history = [Message(role="user", content="go"), r.message,
               Message(role="tool", tool_call_id=r.tool_calls[0].id, content='{"ok": true}'),
               Message(role="tool", tool_call_id="id-b", content="done")]
    contents = body_of(history, GEMINI_3)["contents"]
    assert contents[1] == {"role": "model", "parts": [
        {"text": "pondering", "thought": True, "thoughtSignature": "sig-t"},
        {"text": "Let me look."},
        {"functionCall": {"name": "a", "args": {"x": 1}}, "thoughtSignature": "sig-a"},
        {"functionCall": {"name": "b", "args": {}, "id": "id-b"}},
    ]}
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "a", "response": {"ok": True}}},
        {"functionResponse": {"name": "b", "response": {"result": "done"}, "id": "id-b"}},
    ]


def test_a_text_signature_goes_back_on_the_text() -> None:
    r = g.parse_generate_response(response([{"text": "Paris.", "thoughtSignature": "sig-x"}]), model=FLASH)
    parts = body_of([Message(role="user", content="q"), r.message, Message(role="user", content="more")]
                    )["contents"][1]["parts"]
    assert parts == [{"text": "Paris.", "thoughtSignature": "sig-x"}]


@pytest.mark.parametrize(("raw", "expected"), [
    ("STOP", "stop"), ("MAX_TOKENS", "length"), ("SAFETY", "content_filter"), ("RECITATION", "content_filter"),
    ("BLOCKLIST", "content_filter"), ("PROHIBITED_CONTENT", "content_filter"), ("SPII", "content_filter"),
    ("MODEL_ARMOR", "content_filter"), ("IMAGE_SAFETY", "content_filter"), ("MALFORMED_FUNCTION_CALL", "error"),
    ("UNEXPECTED_TOOL_CALL", "error"), ("LANGUAGE", "other"), ("OTHER", "other"),
    ("FINISH_REASON_UNSPECIFIED", "other"),
])
def test_finish_reasons(raw: str, expected: str) -> None:
    r = g.parse_generate_response(response([{"text": "x"}], finish=raw), model=FLASH)
    assert r.finish_reason == FinishReason(expected)
    assert r.raw_finish_reason == raw


def test_a_blocked_prompt_raises_content_filter() -> None:
    payload = {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {"promptTokenCount": 5}}
    with pytest.raises(ContentFilterError, match="PROHIBITED_CONTENT") as info:
        g.parse_generate_response(payload, model=FLASH)
    assert info.value.code == "PROHIBITED_CONTENT"


def test_no_candidates_without_a_block_reason_is_an_empty_answer() -> None:
    r = g.parse_generate_response({"usageMetadata": {"promptTokenCount": 3}}, model=FLASH)
    assert r.text == "" and r.finish_reason is None and r.usage.input_tokens == 3 and r.model == FLASH
    r = g.parse_generate_response(response([], finish="MAX_TOKENS") | {"candidates": [
        {"finishReason": "MAX_TOKENS", "index": 0}]}, model=FLASH)
    assert r.finish_reason is FinishReason.LENGTH and r.message.content is None


def test_an_error_body_or_a_non_object_raises() -> None:
    with pytest.raises(ServerError):
        g.parse_generate_response({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}},
                                  model=FLASH)
    with pytest.raises(MalformedResponseError):
        g.parse_generate_response([1, 2], model=FLASH)


def test_synthesized_ids_are_unique() -> None:
    payload = response([{"functionCall": {"name": "f", "args": {}}}, {"functionCall": {"name": "f", "args": {}}}])
    r = g.parse_generate_response(payload, model=FLASH)
    assert len({c.id for c in r.tool_calls}) == 2


# ---------------------------------------------------------------------- stream


def chunk(parts: list[dict[str, Any]], finish: str | None = None, usage: dict[str, Any] | None = None
          ) -> dict[str, Any]:
    out = response(parts, finish=finish)
    if usage is not None:
        out["usageMetadata"] = usage
    return out


def test_stream_assembler_events_and_whole_response() -> None:
    a = g.GenerateStreamAssembler(model=FLASH)
    events: list[Any] = []
    events += a.feed(chunk([{"text": "Hmm", "thought": True}], usage={"promptTokenCount": 4}))
    events += a.feed(chunk([{"text": "Hello"}], usage={"promptTokenCount": 4}))
    events += a.feed(chunk([{"text": " world"}]))
    events += a.feed(chunk([{"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "s1"}]))
    events += a.feed(chunk([{"text": "", "thoughtSignature": "s2"}], finish="STOP", usage={
        "promptTokenCount": 4, "candidatesTokenCount": 6, "thoughtsTokenCount": 2, "totalTokenCount": 12}))
    tail, r = a.finish()
    assert [type(e) for e in events] == [ReasoningDeltaEvent, TextDeltaEvent, TextDeltaEvent, ToolCallDeltaEvent,
                                         ToolCallEvent]
    assert [type(e) for e in tail] == [UsageEvent]
    assert tail[0].usage == r.usage
    delta, done = events[3], events[4]
    assert delta.index == done.index == 0 and delta.name == "f" and json.loads(delta.arguments_delta) == {"a": 1}
    assert done.tool_call == r.tool_calls[0] and delta.id == r.tool_calls[0].id
    assert r.text == "Hello world" and r.reasoning == "Hmm"
    assert r.finish_reason is FinishReason.TOOL_CALLS and r.raw_finish_reason == "STOP"
    assert r.usage.output_tokens == 8 and r.usage.reasoning_tokens == 2 and r.usage.input_tokens == 4
    assert r.id == "resp-1" and r.model == "gemini-2.5-flash-001"
    sigs = {b.data.get("signature") for b in r.message.vendor_blocks}
    assert sigs == {"s1", "s2"}


def test_stream_equals_the_whole_response_for_the_same_parts() -> None:
    parts = [{"text": "a", "thought": True}, {"text": "b"}, {"text": "c", "thoughtSignature": "z"}]
    whole = g.parse_generate_response(response(parts), model=FLASH)
    a = g.GenerateStreamAssembler(model=FLASH)
    for p in parts:
        a.feed(chunk([p]))
    a.feed(chunk([], finish="STOP"))
    _, streamed = a.finish()
    assert (streamed.text, streamed.reasoning, streamed.message.vendor_blocks) == (
        whole.text, whole.reasoning, whole.message.vendor_blocks)
    assert streamed.finish_reason is whole.finish_reason is FinishReason.STOP


def test_stream_errors_and_blocks() -> None:
    a = g.GenerateStreamAssembler(model=FLASH)
    a.feed(chunk([{"text": "partial"}]))
    with pytest.raises(RateLimitError):
        a.feed({"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}})
    with pytest.raises(ContentFilterError):
        g.GenerateStreamAssembler(model=FLASH).feed({"promptFeedback": {"blockReason": "SAFETY"}})
    with pytest.raises(MalformedResponseError):
        g.GenerateStreamAssembler(model=FLASH).feed("nope")
    cut = g.GenerateStreamAssembler(model=FLASH)
    cut.feed(chunk([{"text": "partial"}]))
    with pytest.raises(APIConnectionError, match="end marker"):  # no finishReason: a truncated answer
        cut.finish()


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize(("status", "gstatus", "cls"), [
    (400, "INVALID_ARGUMENT", InvalidRequestError),
    (400, "FAILED_PRECONDITION", InvalidRequestError),
    (401, "UNAUTHENTICATED", AuthenticationError),
    (403, "PERMISSION_DENIED", PermissionDeniedError),
    (404, "NOT_FOUND", NotFoundError),
    (429, "RESOURCE_EXHAUSTED", RateLimitError),
    (500, "INTERNAL", ServerError),
    (503, "UNAVAILABLE", ServerError),
    (504, "DEADLINE_EXCEEDED", APITimeoutError),
])
def test_errors_by_status_and_by_google_status(status: int, gstatus: str, cls: type[ProviderError]) -> None:
    body = {"error": {"code": status, "message": "something", "status": gstatus}}
    by_both = g.error_from_google(status, body)
    assert type(by_both) is cls and by_both.status_code == status and by_both.code == gstatus
    # In-stream errors carry no HTTP status: the body's code and status string decide.
    assert type(g.error_from_google(None, body)) is cls
    assert type(g.error_from_google(None, {"error": {"message": "x", "status": gstatus}})) is cls
    # A body without Google's status string (a proxy's): the HTTP status decides.
    assert isinstance(g.error_from_google(status, "<html>bad gateway</html>"), cls if status != 504 else ServerError)


def quota_body(quota_id: str, message: str = "You exceeded your current quota", retry: str | None = None
               ) -> dict[str, Any]:
    details: list[dict[str, Any]] = [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
        {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
         "quotaId": quota_id}]}]
    if retry:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry})
    return {"error": {"code": 429, "message": message, "status": "RESOURCE_EXHAUSTED", "details": details}}


def test_resource_exhausted_is_a_rate_limit_or_a_quota_by_its_details() -> None:
    minute = g.error_from_google(429, quota_body("GenerateRequestsPerMinutePerProjectPerModel-FreeTier", retry="16s"))
    assert type(minute) is RateLimitError and minute.retry_after == 16.0
    daily = g.error_from_google(429, quota_body("GenerateRequestsPerDayPerProjectPerModel-FreeTier"))
    assert type(daily) is QuotaExceededError
    zero = g.error_from_google(429, quota_body("X", message="Quota exceeded for metric: m, limit: 0, model: pro"))
    assert type(zero) is QuotaExceededError
    # A Retry-After header wins over RetryInfo.
    header = g.error_from_google(429, quota_body("PerMinute", retry="16s"), headers={"Retry-After": "3"})
    assert header.retry_after == 3.0


def test_a_429_wrapped_in_a_500_is_a_429() -> None:
    inner = {"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                       "status": "RESOURCE_EXHAUSTED"}}
    body = {"error": {"code": 500, "message": json.dumps(inner, indent=2), "status": "INTERNAL"}}
    err = g.error_from_google(500, body)
    assert type(err) is RateLimitError and err.status_code == 429 and err.body == body
    plain = {"error": {"code": 500, "message": "Resource has been exhausted (e.g. check quota).", "status": "INTERNAL"}}
    assert type(g.error_from_google(500, plain)) is RateLimitError
    assert type(g.error_from_google(500, {"error": {"code": 500, "message": "{oops", "status": "INTERNAL"}})
                ) is ServerError


def test_invalid_key_context_length_and_fallback_messages() -> None:
    key = {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                     "status": "INVALID_ARGUMENT", "details": [
                         {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]}}
    assert type(g.error_from_google(400, key)) is AuthenticationError
    long = {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message":
                      "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."}}
    assert type(g.error_from_google(400, long)) is ContextLengthExceededError
    err = g.error_from_google(502, None, fallback_message="Bad Gateway", headers={"x-request-id": "r-1"})
    assert type(err) is ServerError and err.message == "Bad Gateway" and err.request_id == "r-1"


# ---------------------------------------------------------------------- embeddings and models


@pytest.mark.parametrize(("input_type", "task"), [
    ("query", "RETRIEVAL_QUERY"), ("document", "RETRIEVAL_DOCUMENT"), ("classification", "CLASSIFICATION"),
    ("clustering", "CLUSTERING"), ("similarity", "SEMANTIC_SIMILARITY"),
])
def test_embed_request_task_types(input_type: str, task: str) -> None:
    req = g.build_embed_request("gemini-embedding-001", ["a", "b"], EmbedOptions(input_type=input_type, dimensions=64))
    assert req.path == "models/gemini-embedding-001:batchEmbedContents"
    assert req.body == {"requests": [
        {"content": {"parts": [{"text": t}]}, "model": "models/gemini-embedding-001", "taskType": task,
         "outputDimensionality": 64} for t in ("a", "b")]}


def test_embed_request_plain_and_vertex_shapes() -> None:
    plain = g.build_embed_request("gemini-embedding-001", ["a"], EmbedOptions())
    assert plain.body == {"requests": [{"content": {"parts": [{"text": "a"}]}, "model": "models/gemini-embedding-001"}]}
    vertex = g.build_embed_request("gemini-embedding-001", ["a"], EmbedOptions(input_type="query", dimensions=8),
                                   vertex=True)
    assert vertex.path == "publishers/google/models/gemini-embedding-001:batchEmbedContents"
    assert vertex.body == {"requests": [{"content": {"parts": [{"text": "a"}]}, "embedContentConfig": {
        "taskType": "RETRIEVAL_QUERY", "outputDimensionality": 8}}]}
    predict = g.build_embed_request("text-embedding-005", ["a", "b"], EmbedOptions(input_type="document",
                                    dimensions=8), vertex=True, predict=True)
    assert predict.path == "publishers/google/models/text-embedding-005:predict"
    assert predict.body == {"instances": [{"content": "a", "task_type": "RETRIEVAL_DOCUMENT"},
                                          {"content": "b", "task_type": "RETRIEVAL_DOCUMENT"}],
                            "parameters": {"outputDimensionality": 8}}


def test_parse_embeddings_shapes() -> None:
    batch = g.parse_embeddings({"embeddings": [{"values": [1, 2]}, {"values": [3.5, 4]}],
                                "usageMetadata": {"promptTokenCount": 9}}, model="m", count=2)
    assert batch.vectors == [[1.0, 2.0], [3.5, 4.0]] and batch.usage.input_tokens == 9 and batch.model == "m"
    single = g.parse_embeddings({"embedding": {"values": [0.5]}}, model="m", count=1)
    assert single.vectors == [[0.5]] and single.usage.input_tokens == 0
    predicted = g.parse_embeddings({"predictions": [{"embeddings": {"values": [1], "statistics": {"token_count": 3}}},
                                                    {"embeddings": {"values": [2], "statistics": {"token_count": 4}}}]},
                                   model="m", count=2)
    assert predicted.vectors == [[1.0], [2.0]] and predicted.usage.input_tokens == 7
    with pytest.raises(MalformedResponseError, match="1 vectors for 2"):
        g.parse_embeddings({"embeddings": [{"values": [1]}]}, model="m", count=2)
    with pytest.raises(MalformedResponseError):
        g.parse_embeddings({"nothing": True}, model="m", count=1)
    with pytest.raises(NotFoundError):
        g.parse_embeddings({"error": {"code": 404, "message": "no", "status": "NOT_FOUND"}}, model="m", count=1)


def test_parse_model_list() -> None:
    models = g.parse_model_list({"models": [
        {"name": "models/gemini-2.5-flash", "displayName": "Gemini 2.5 Flash", "inputTokenLimit": 1048576,
         "outputTokenLimit": 65536, "supportedGenerationMethods": ["generateContent", "countTokens"], "thinking": True},
        {"name": "models/gemini-embedding-001", "inputTokenLimit": 2048,
         "supportedGenerationMethods": ["embedContent"]},
        {"displayName": "nameless"},
    ], "publisherModels": [{"name": "publishers/google/models/gemini-2.5-pro"}]})
    assert [m.id for m in models] == ["gemini-2.5-flash", "gemini-embedding-001", "gemini-2.5-pro"]
    flash = models[0]
    assert flash.context_window == 1048576 and flash.max_output_tokens == 65536
    assert flash.capabilities == {"generate", "stream", "reasoning"} and flash.display_name == "Gemini 2.5 Flash"
    assert models[1].capabilities == {"embeddings"} and models[1].max_output_tokens is None


def test_a_tool_declaration_is_converted_once_and_no_request_shares_it() -> None:
    tool = ToolDefinition(name="find", description="Find a place.", parameters={
        "type": "object", "properties": {"city": {"type": "string"}, "near": {"type": "string"}},
        "required": ["city"]})
    first = body_of("hi", tools=[tool])["tools"][0]["functionDeclarations"][0]
    first["parameters"]["properties"]["city"]["type"] = "CHANGED"  # a caller editing an inspected request
    del first["parameters"]["propertyOrdering"]
    second = body_of("hi", tools=[tool])["tools"][0]["functionDeclarations"][0]
    assert second["parameters"]["properties"]["city"]["type"] == "STRING"
    assert second["parameters"]["propertyOrdering"] == ["city", "near"]
    assert id(tool) in g._DECLARED
    # A new parameters object (or another tool) is converted again.
    tool.parameters = {"type": "object", "properties": {"day": {"type": "integer"}}}
    third = body_of("hi", tools=[tool])["tools"][0]["functionDeclarations"][0]
    assert list(third["parameters"]["properties"]) == ["day"]


def test_a_function_call_without_an_id_gets_a_fresh_random_one() -> None:
    payload = {"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "f", "args": {}}}, {"functionCall": {"name": "g", "args": {"a": 1}}}]}}]}
    ids = [c.id for _ in range(50) for c in g.parse_generate_response(payload, model="m").tool_calls]
    assert all(re.fullmatch(r"call_[0-9a-f]{24}", i) for i in ids) and len(set(ids)) == len(ids) == 100
