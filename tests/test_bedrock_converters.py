"""The pure converters of AWS Bedrock's Converse API: requests (checked against botocore's service model),
whole responses and ConverseStream events (checked against real recorded answers), errors, model traits."""

from __future__ import annotations

import base64
import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.eventstream import EventStream, EventStreamBuffer
from botocore.parsers import EventStreamJSONParser, create_parser
from botocore.validate import ParamValidator
from pydantic import BaseModel

from agentos_llm.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ContextLengthExceededError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    UnsupportedCapabilityError,
)
from agentos_llm.model_traits import ModelTraits, traits_for
from agentos_llm.options import parse_options
from agentos_llm.provider import Call
from agentos_llm.server_tools import CodeInterpreter, WebSearch
from agentos_llm.structured import StructuredPlan
from agentos_llm.types import (
    DocumentPart,
    FinishReason,
    ImagePart,
    ReasoningDeltaEvent,
    TextDeltaEvent,
    TextPart,
    ToolCall,
    ToolCallDeltaEvent,
    ToolCallEvent,
    UsageEvent,
    VendorBlock,
    assistant,
    coerce_messages,
    system,
    tool_result,
    user,
)
from agentos_llm.wire.bedrock_converse import (
    MADE_BY,
    ConverseStreamAssembler,
    build_converse_request,
    build_count_request,
    document_name,
    error_for,
    json_body,
    parse_converse,
    parse_token_count,
    structured_mode,
    structured_tool_name,
    tool_use_id,
)

CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
CLAUDE_ADAPTIVE = "global.anthropic.claude-sonnet-4-6"
NOVA = "us.amazon.nova-pro-v1:0"
NOVA_2 = "global.amazon.nova-2-lite-v1:0"
GPT_OSS = "openai.gpt-oss-120b-1:0"
LLAMA = "us.meta.llama4-maverick-17b-instruct-v1:0"
OPAQUE = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/mi1dadi0g15f"
MODELS = (CLAUDE, CLAUDE_ADAPTIVE, "anthropic.claude-3-7-sonnet-20250219-v1:0", "anthropic.claude-v2", NOVA, NOVA_2,
          "us.amazon.nova-micro-v1:0", GPT_OSS, LLAMA, "mistral.mistral-large-3-675b-instruct", "us.deepseek.r1-v1:0",
          "qwen.qwen3-32b-v1:0", OPAQUE)
WEATHER = {"name": "get_weather", "description": "Weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
PNG = base64.b64encode(b"\x89PNG fake image").decode()
PDF = base64.b64encode(b"%PDF-1.4 fake").decode()
SIGNED = {"reasoningContent": {"reasoningText": {"text": "Let me think.", "signature": "c2lnbmVk"}}}
REDACTED_BYTES = b"\x00secret reasoning\xff"

_MODEL = botocore.session.get_session().get_service_model("bedrock-runtime")
SAMPLES_FILE = Path(__file__).resolve().parent / "data" / "wire-samples" / "samples.jsonl"


class City(BaseModel):
    city: str
    population: int


def make_call(messages: Any, model: str = CLAUDE, *, schema: Any = None, mode: str | None = None,
              stream: bool = False, **options: Any) -> Call:
    call = Call(model=model, messages=coerce_messages(messages), options=parse_options(options),
                traits=traits_for("bedrock", model), stream=stream)
    if schema is not None:
        plan = StructuredPlan.for_type(schema)
        call = Call(model=model, messages=call.messages, options=call.options, traits=call.traits, structured=plan,
                    structured_mode=mode or structured_mode(call, plan))  # type: ignore[arg-type]
    return call


def build(messages: Any, model: str = CLAUDE, **options: Any) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_converse_request(make_call(messages, model, **options))


def assert_valid(operation: str, kwargs: dict[str, Any]) -> None:
    """botocore's own validation of the keyword arguments boto3 would send (the request shape Bedrock takes)."""
    report = ParamValidator().validate(kwargs, _MODEL.operation_model(operation).input_shape)
    assert not report.has_errors(), report.generate_report()


# ---------------------------------------------------------------------- requests: shape


HISTORY = [
    system("Be brief."),
    user([TextPart(text="Look at these"), ImagePart(data=PNG, media_type="image/png"),
          DocumentPart(data=PDF, media_type="application/pdf", filename="Q3 report.final.pdf")]),
    assistant("Checking.", tool_calls=[ToolCall(id="call_abc", name="get_weather", arguments={"city": "Lisbon"})]),
    tool_result("call_abc", {"temp": 21}),
    user("And tomorrow?"),
]
CALLS: dict[str, tuple[Any, dict[str, Any]]] = {
    "plain": ("Hi", {}),
    "history": (HISTORY, {"tools": [WEATHER], "tool_choice": "auto", "cache_prompt": True}),
    "sampling": ("Hi", {"temperature": 0.3, "top_p": 0.9, "max_tokens": 200, "stop": ["END"], "top_k": 5}),
    "reasoning": ("Think", {"reasoning_effort": "high", "max_tokens": 30000}),
    "reasoning_off": ("Think", {"reasoning_budget": 0}),
    "structured": ("Paris?", {"_schema": City}),
    "extra": ("Hi", {"user": "user-42", "extra": {"guardrailConfig": {"guardrailIdentifier": "gr1",
                                                                       "guardrailVersion": "1"},
                                                   "performanceConfig": {"latency": "optimized"}, "top_k": 3}}),
}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("kind", sorted(CALLS))
def test_every_request_validates_against_botocores_service_model(model: str, kind: str) -> None:
    messages, options = CALLS[kind]
    options = dict(options)
    schema = options.pop("_schema", None)
    traits = traits_for("bedrock", model)
    if kind == "history" and not (traits.tools and traits.vision and traits.documents):
        messages = [m for m in HISTORY if not isinstance(m.content, list)]
        options = {"cache_prompt": True} | ({"tools": [WEATHER]} if traits.tools else {})
        if not traits.tools:
            messages = [system("Be brief."), user("And tomorrow?")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        request = build_converse_request(make_call(messages, model, schema=schema, **options))
        count = build_count_request(make_call(messages, model, schema=schema, **options))
    assert "modelId" not in request
    assert_valid("Converse", {"modelId": model, **request})
    assert_valid("ConverseStream", {"modelId": model, **request})
    assert_valid("CountTokens", {"modelId": "anthropic.claude-sonnet-4-5-20250929-v1:0", **count})
    json.dumps(json_body(request))  # the JSON body form serializes


def test_history_alternates_roles_with_tool_results_first_and_blobs_as_bytes() -> None:
    request = build(HISTORY, tools=[WEATHER])
    turns = request["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert request["system"] == [{"text": "Be brief."}]
    image, document = turns[0]["content"][1:]
    assert image == {"image": {"format": "png", "source": {"bytes": base64.b64decode(PNG)}}}
    assert document["document"] == {"format": "pdf", "name": "Q3 report final",
                                    "source": {"bytes": base64.b64decode(PDF)}}
    assert turns[1]["content"] == [{"text": "Checking."}, {"toolUse": {"toolUseId": "call_abc", "name": "get_weather",
                                                                       "input": {"city": "Lisbon"}}}]
    assert turns[2]["content"] == [{"toolResult": {"toolUseId": "call_abc", "content": [{"text": '{"temp": 21}'}]}},
                                   {"text": "And tomorrow?"}]
    body = json_body(request)
    assert body["messages"][0]["content"][1]["image"]["source"]["bytes"] == PNG


def test_ids_names_and_document_rules() -> None:
    assert tool_use_id("call_abc") == "call_abc"
    odd = tool_use_id("fc/1 2")
    assert odd == tool_use_id("fc/1 2") and odd != tool_use_id("fc/1_2") and odd.startswith("fc_1_2_")
    assert document_name("report.v2 (final)  [draft]\n#1", "x") == "report v2 (final) [draft] 1"
    assert document_name("***", "Document") == "Document"
    request = build([user([DocumentPart(text="one", title="Notes"), DocumentPart(text="two", title="Notes")])])
    names = [b["document"]["name"] for b in request["messages"][0]["content"]]
    assert names == ["Notes", "Notes (2)"]
    assert request["messages"][0]["content"][0]["document"]["source"] == {"bytes": b"one"}
    with pytest.raises(UnsupportedCapabilityError):
        build([user([ImagePart(url="https://example.com/a.png")])])
    with pytest.raises(UnsupportedCapabilityError):
        build([user([DocumentPart(data=PDF, media_type="application/zip")])])
    s3 = build([user([ImagePart(url="s3://bucket/cat.jpg")])])["messages"][0]["content"][0]
    assert s3 == {"image": {"format": "jpeg", "source": {"s3Location": {"uri": "s3://bucket/cat.jpg"}}}}


def test_history_with_tool_blocks_keeps_a_tool_config() -> None:
    with pytest.warns(UserWarning, match="tool_choice 'none'"):
        kept = build_converse_request(make_call(HISTORY, tools=[WEATHER], tool_choice="none"))
    assert kept["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"
    assert "toolChoice" not in kept["toolConfig"]
    declared = build(HISTORY)  # no tools given: the ones the history called are declared again
    assert declared["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"
    assert "toolConfig" not in build("Hi", tools=[WEATHER], tool_choice="none")


def test_tool_choice_and_models_that_cannot_be_forced() -> None:
    assert build("Hi", tools=[WEATHER], tool_choice="required")["toolConfig"]["toolChoice"] == {"any": {}}
    named = build("Hi", NOVA, tools=[WEATHER], tool_choice="get_weather")["toolConfig"]["toolChoice"]
    assert named == {"tool": {"name": "get_weather"}}
    assert "toolChoice" not in build("Hi", LLAMA, tools=[WEATHER], tool_choice="auto")["toolConfig"]
    with pytest.raises(InvalidRequestError, match="cannot be made to call a tool"):
        build("Hi", LLAMA, tools=[WEATHER], tool_choice="required")
    with pytest.raises(InvalidRequestError):
        build("Hi", tools=[{"name": "bad.name", "parameters": {"type": "object"}}])


def test_prompt_caching_points_only_where_the_model_caches() -> None:
    request = build(HISTORY, tools=[WEATHER], cache_prompt=True)
    point = {"cachePoint": {"type": "default"}}
    assert request["system"][-1] == point and request["toolConfig"]["tools"][-1] == point
    assert request["messages"][-1]["content"][-1] == point
    nova = build([system("s"), user("u")], NOVA, tools=[WEATHER], cache_prompt=True)
    assert nova["system"][-1] == point and nova["messages"][-1]["content"][-1] == point
    assert point not in nova["toolConfig"]["tools"]  # Nova caches no tools
    assert "cachePoint" not in json.dumps(json_body(build([system("s"), user("u")], LLAMA, cache_prompt=True)))
    marked = build([user([TextPart(text="long", cache_control={"type": "ephemeral", "ttl": "1h"}),
                          TextPart(text="question")])])
    assert marked["messages"][0]["content"][1] == {"cachePoint": {"type": "default", "ttl": "1h"}}
    many = [user([TextPart(text=f"p{i}", cache_control={"type": "ephemeral"}) for i in range(5)])]
    with pytest.warns(UserWarning, match="checkpoint"):
        limited = build_converse_request(make_call([system("s"), *many], cache_prompt=True))
    assert json.dumps(json_body(limited)).count("cachePoint") == 4


# ---------------------------------------------------------------------- requests: reasoning, sampling, structure


def test_claude_thinking_budget_fits_under_max_tokens() -> None:
    request = build("Think", reasoning_effort="high")
    assert request["additionalModelRequestFields"]["thinking"] == {"type": "enabled", "budget_tokens": 16384}
    assert request["inferenceConfig"]["maxTokens"] > 16384
    capped = build("Think", reasoning_effort="high", max_tokens=4000)
    assert capped["additionalModelRequestFields"]["thinking"]["budget_tokens"] == 3999
    with pytest.raises(InvalidRequestError, match="reasoning_budget"):
        build("Think", reasoning_budget=5000, max_tokens=4000)
    thinking = build("Think", reasoning_effort="low", temperature=0.2, top_k=5)
    assert "temperature" not in thinking.get("inferenceConfig", {}) and "top_k" not in thinking[
        "additionalModelRequestFields"]


def test_adaptive_claude_asks_effort_in_output_config() -> None:
    request = build("Think", CLAUDE_ADAPTIVE, reasoning_effort="medium")
    assert request["additionalModelRequestFields"] == {"thinking": {"type": "adaptive"}}
    assert request["outputConfig"] == {"effort": "medium"}
    off = build("Think", CLAUDE_ADAPTIVE, reasoning_effort="none")
    assert off["additionalModelRequestFields"] == {"thinking": {"type": "disabled"}}


def test_nova_2_and_gpt_oss_reasoning_fields() -> None:
    nova = build("Think", NOVA_2, reasoning_effort="medium", max_tokens=500)
    assert nova["additionalModelRequestFields"] == {"reasoningConfig": {"type": "enabled",
                                                                        "maxReasoningEffort": "medium"}}
    assert nova["inferenceConfig"]["maxTokens"] == 500
    with pytest.warns(UserWarning, match="max_tokens left out"):
        high = build_converse_request(make_call("Think", NOVA_2, reasoning_effort="high", max_tokens=500))
    assert "inferenceConfig" not in high
    assert build("Think", GPT_OSS, reasoning_effort="low")["additionalModelRequestFields"] == {
        "reasoning_effort": "low"}
    with pytest.warns(UserWarning, match="no extended thinking"):
        plain = build_converse_request(make_call("Think", NOVA, reasoning_effort="high"))
    assert "additionalModelRequestFields" not in plain


def test_sampling_and_stop_go_to_inference_config() -> None:
    request = build("Hi", NOVA, temperature=0.4, top_p=0.8, max_tokens=100, stop=["END"], top_k=7)
    assert request["inferenceConfig"] == {"maxTokens": 100, "temperature": 0.4, "topP": 0.8, "stopSequences": ["END"]}
    assert request["additionalModelRequestFields"] == {"inferenceConfig": {"topK": 7}}
    with pytest.warns(UserWarning, match="temperature 1.5"):
        hot = build_converse_request(make_call("Hi", NOVA, temperature=1.5))
    assert hot["inferenceConfig"]["temperature"] == 1.0


def test_extra_passes_converse_fields_and_sends_the_rest_to_additional_fields() -> None:
    request = build("Hi", extra={"guardrailConfig": {"guardrailIdentifier": "gr1", "guardrailVersion": "DRAFT"},
                                 "inferenceConfig": {"maxTokens": 9}, "anthropic_beta": ["x"]}, temperature=0.5)
    assert request["guardrailConfig"] == {"guardrailIdentifier": "gr1", "guardrailVersion": "DRAFT"}
    assert request["inferenceConfig"] == {"temperature": 0.5, "maxTokens": 9}
    assert request["additionalModelRequestFields"] == {"anthropic_beta": ["x"]}
    with pytest.raises(InvalidRequestError, match="modelId"):
        build("Hi", extra={"modelId": "other"})


def test_structured_output_modes() -> None:
    schema_call = make_call("Paris?", schema=City)
    assert schema_call.structured_mode == "json_schema" and structured_tool_name(schema_call) is None
    fmt = build_converse_request(schema_call)["outputConfig"]["textFormat"]
    assert fmt["type"] == "json_schema" and fmt["structure"]["jsonSchema"]["name"] == "City"
    assert json.loads(fmt["structure"]["jsonSchema"]["schema"])["required"] == ["city", "population"]

    tool_call = make_call("Paris?", NOVA, schema=City)
    assert tool_call.structured_mode == "tool"
    request = build_converse_request(tool_call)
    assert request["toolConfig"]["toolChoice"] == {"tool": {"name": "City"}}
    answer = {"output": {"message": {"role": "assistant", "content": [
        {"toolUse": {"toolUseId": "t1", "name": "City", "input": {"city": "Paris", "population": 2}}}]}},
        "stopReason": "tool_use", "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}}
    parsed = parse_converse(answer, provider="bedrock", model=NOVA, structured_tool="City")
    assert json.loads(parsed.text) == {"city": "Paris", "population": 2} and not parsed.tool_calls
    assert parsed.finish_reason is FinishReason.STOP

    prompt_call = make_call("Paris?", LLAMA, schema=City)
    assert prompt_call.structured_mode == "prompt"
    assert "JSON schema" in build_converse_request(prompt_call)["system"][-1]["text"]


def test_signed_and_redacted_reasoning_go_back_verbatim_to_claude_only() -> None:
    answer = {"output": {"message": {"role": "assistant", "content": [
        SIGNED, {"reasoningContent": {"redactedContent": REDACTED_BYTES}},
        {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Oslo"}}}]}},
        "stopReason": "tool_use", "usage": {"inputTokens": 5, "outputTokens": 7, "totalTokens": 12}}
    response = parse_converse(answer, provider="bedrock", model=CLAUDE)
    assert response.reasoning == "Let me think." and response.text == ""
    json.dumps(response.message.model_dump())  # the kept blocks are JSON-safe (blobs as base64)
    history = [user("Weather?"), response.message, tool_result("tooluse_1", "sunny")]
    request = build(history, tools=[WEATHER], reasoning_effort="low")
    content = request["messages"][1]["content"]
    assert content[0] == SIGNED
    assert content[1] == {"reasoningContent": {"redactedContent": REDACTED_BYTES}}
    assert "thinking" in request["additionalModelRequestFields"]  # a signed loop keeps thinking on
    nova = build(history, NOVA, tools=[WEATHER])
    assert "reasoningContent" not in json.dumps(json_body(nova))


def _signed_loop(model: str, block: dict[str, Any]) -> list[Any]:
    made = assistant(None, tool_calls=[ToolCall(id="tooluse_1", name="get_weather", arguments={"city": "Oslo"})])
    made.vendor_blocks = [VendorBlock(provider="bedrock", type="reasoningContent", data=block)]
    return [user("Weather?"), made, tool_result("tooluse_1", "sunny")]


@pytest.mark.parametrize(("made_by", "sent_to", "kept"), [
    (CLAUDE, CLAUDE, True),
    ("anthropic.claude-sonnet-4-5-20250929-v1:0", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", True),
    (CLAUDE_ADAPTIVE, CLAUDE, False),  # another Claude model: its signature is not valid here
    (NOVA_2, CLAUDE, False),  # Amazon's reasoning, even signed, is not Claude's
    (CLAUDE, "anthropic.claude-3-7-sonnet-20250219-v1:0", False),
])
def test_signed_reasoning_goes_back_only_to_the_model_that_made_it(made_by: str, sent_to: str, kept: bool) -> None:
    history = _signed_loop(made_by, {**SIGNED, MADE_BY: made_by})
    request = build(history, sent_to, tools=[WEATHER], reasoning_budget=2048, max_tokens=8192)
    content = request["messages"][1]["content"]
    traits = traits_for("bedrock", sent_to)
    if kept and traits.request_dialect == "anthropic":
        assert content[0] == SIGNED  # verbatim, without our note of the model
        assert request["additionalModelRequestFields"]["thinking"]["type"] == "enabled"
    else:
        assert all("reasoningContent" not in b for b in content)
        assert "thinking" not in request.get("additionalModelRequestFields", {})  # Claude cannot think mid-loop
    assert MADE_BY not in json.dumps(json_body(request))
    assert_valid("Converse", {"modelId": sent_to, **request})


@pytest.mark.parametrize(("block", "kept"), [
    (SIGNED, True),
    ({"reasoningContent": {"redactedContent": "cmVkYWN0ZWQ="}}, True),
    ({"reasoningContent": {"reasoningText": {"text": "unsigned, as DeepSeek or gpt-oss write it"}}}, False),
    ({"reasoningContent": {"reasoningText": {"text": "[REDACTED]", "signature": ""}}}, False),
])
def test_reasoning_kept_without_a_model_goes_to_claude_only_when_signed(block: dict[str, Any], kept: bool) -> None:
    request = build(_signed_loop(CLAUDE, block), CLAUDE, tools=[WEATHER])
    assert any("reasoningContent" in b for b in request["messages"][1]["content"]) is kept


def test_system_tools_run_on_nova_2_only() -> None:
    request = build("Latest news?", NOVA_2, server_tools=[WebSearch(), CodeInterpreter()])
    assert request["toolConfig"]["tools"] == [{"systemTool": {"name": "nova_grounding"}},
                                              {"systemTool": {"name": "nova_code_interpreter"}}]
    for model in (NOVA, CLAUDE):  # Nova 1 and Claude run no system tools on Bedrock
        with pytest.raises(UnsupportedCapabilityError, match="web_search is not run"):
            build("Latest news?", model, server_tools=[WebSearch()])


def test_tool_use_ids_follow_the_service_model_and_claude_its_own_rule() -> None:
    claude, nova = traits_for("bedrock", CLAUDE), traits_for("bedrock", NOVA)
    assert tool_use_id("functions.get_weather:0", nova) == "functions.get_weather:0"  # valid for Converse
    for_claude = tool_use_id("functions.get_weather:0", claude)
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", for_claude) and for_claude.startswith("functions_get_weather_0_")
    assert tool_use_id("call.a", claude) != tool_use_id("call:a", claude)  # near twins stay apart
    assert tool_use_id("toolu_01A", claude) == "toolu_01A"
    long = tool_use_id("x" * 80, nova)
    assert len(long) <= 64 and long == tool_use_id("x" * 80, nova)
    assert tool_use_id(None, claude).startswith("tooluse_")
    calls = [ToolCall(id="functions.get_weather:0", name="get_weather", arguments={"city": "Oslo"})]
    request = build([user("Weather?"), assistant(None, tool_calls=calls),
                     tool_result("functions.get_weather:0", "sunny")], CLAUDE, tools=[WEATHER])
    use, result = request["messages"][1]["content"][0]["toolUse"], request["messages"][2]["content"][0]["toolResult"]
    assert use["toolUseId"] == result["toolUseId"] == for_claude


# ---------------------------------------------------------------------- responses


def test_parse_converse_usage_is_inclusive_and_stop_reasons_map() -> None:
    answer = {"output": {"message": {"role": "assistant", "content": [{"text": "Hi"}]}}, "stopReason": "end_turn",
              "usage": {"inputTokens": 3, "outputTokens": 5, "totalTokens": 1330, "cacheReadInputTokens": 1000,
                        "cacheWriteInputTokens": 322}, "metrics": {"latencyMs": 10},
              "ResponseMetadata": {"RequestId": "req-1"}}
    response = parse_converse(answer, provider="bedrock", model=CLAUDE)
    assert (response.usage.input_tokens, response.usage.cached_input_tokens,
            response.usage.cache_write_input_tokens, response.usage.output_tokens) == (1325, 1000, 322, 5)
    assert response.id == "req-1" and response.finish_reason is FinishReason.STOP
    for raw, want in (("max_tokens", "length"), ("model_context_window_exceeded", "length"),
                      ("guardrail_intervened", "content_filter"), ("content_filtered", "content_filter"),
                      ("malformed_tool_use", "error"), ("something_new", "other")):
        got = parse_converse({**answer, "stopReason": raw}, provider="bedrock", model=CLAUDE)
        assert (got.finish_reason, got.raw_finish_reason) == (want, raw)


def test_server_tool_use_is_not_a_tool_call() -> None:
    content = [
        {"toolUse": {"input": {"snippet": "6*7"}, "name": "nova_code_interpreter", "toolUseId": "s1",
                     "type": "server_tool_use"}},
        {"toolResult": {"content": [{"json": {"stdOut": "42"}}], "status": "success", "toolUseId": "s1",
                        "type": "nova_code_interpreter_result"}},
        {"text": "42"}]
    response = parse_converse({"output": {"message": {"role": "assistant", "content": content}},
                               "stopReason": "end_turn", "usage": {}}, provider="bedrock", model=NOVA_2)
    assert response.text == "42" and not response.tool_calls
    ran = response.server_tool_calls[0]
    assert (ran.id, ran.name, ran.arguments, ran.status) == ("s1", "nova_code_interpreter", {"snippet": "6*7"},
                                                             "success")
    assert ran.result == [{"json": {"stdOut": "42"}}]
    again = build([user("6*7?"), response.message, user("thanks")], NOVA_2)
    assert [next(iter(b)) for b in again["messages"][1]["content"]] == ["toolUse", "toolResult", "text"]
    assert again["toolConfig"] == {"tools": [{"systemTool": {"name": "nova_code_interpreter"}}]}


def test_error_bodies_and_token_counts() -> None:
    with pytest.raises(ProviderError, match="identifier is invalid"):
        parse_converse({"message": "The provided model identifier is invalid."}, provider="bedrock", model="x")
    with pytest.raises(InvalidRequestError):
        parse_converse({"__type": "ValidationException", "message": "bad"}, provider="bedrock", model="x")
    assert parse_token_count({"inputTokens": 12}) == 12
    with pytest.raises(Exception, match="inputTokens"):
        parse_token_count({"tokens": 3})


# ---------------------------------------------------------------------- streaming


def _feed(events: list[dict[str, Any]], model: str = CLAUDE, structured_tool: str | None = None) -> tuple[list[Any],
                                                                                                            Any]:
    assembler = ConverseStreamAssembler("bedrock", model, structured_tool)
    out = [e for event in events for e in assembler.feed(event)]
    tail, response = assembler.finish()
    return out + list(tail), response


def test_stream_assembles_reasoning_text_and_tool_calls_in_block_order() -> None:
    events = [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Hmm"}}}},
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "c2ln"}}}},
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {"contentBlockDelta": {"contentBlockIndex": 1, "delta": {"text": "Let me check"}}},
        {"contentBlockStop": {"contentBlockIndex": 1}},
        {"contentBlockStart": {"contentBlockIndex": 2,
                               "start": {"toolUse": {"toolUseId": "t9", "name": "get_weather"}}}},
        {"contentBlockDelta": {"contentBlockIndex": 2, "delta": {"toolUse": {"input": '{"city": '}}}},
        {"contentBlockDelta": {"contentBlockIndex": 2, "delta": {"toolUse": {"input": '"Oslo"}'}}}},
        {"contentBlockStop": {"contentBlockIndex": 2}},
        {"contentBlockStart": {"contentBlockIndex": 3, "start": {"toolUse": {"toolUseId": "t10", "name": "noop"}}}},
        {"messageStop": {"stopReason": "tool_use"}},
        {"metadata": {"usage": {"inputTokens": 4, "outputTokens": 9, "totalTokens": 20, "cacheReadInputTokens": 7},
                      "metrics": {"latencyMs": 3}}},
    ]
    out, response = _feed(events)
    assert [type(e) for e in out] == [ReasoningDeltaEvent, TextDeltaEvent, ToolCallDeltaEvent, ToolCallDeltaEvent,
                                      ToolCallDeltaEvent, ToolCallEvent, ToolCallDeltaEvent, UsageEvent,
                                      ToolCallEvent]
    assert out[2] == ToolCallDeltaEvent(index=0, id="t9", name="get_weather")
    assert [c.arguments for c in response.tool_calls] == [{"city": "Oslo"}, {}]  # no input pieces: {}
    assert [c.id for c in response.tool_calls] == ["t9", "t10"]
    assert response.text == "Let me check" and response.reasoning == "Hmm"
    assert response.finish_reason is FinishReason.TOOL_CALLS and response.usage.input_tokens == 11
    assert response.message.vendor_blocks[0].data == {
        "reasoningContent": {"reasoningText": {"text": "Hmm", "signature": "c2ln"}}, MADE_BY: CLAUDE}


def test_stream_redacted_reasoning_as_bytes_or_base64() -> None:
    for piece in (REDACTED_BYTES, base64.b64encode(REDACTED_BYTES).decode()):
        _, response = _feed([{"messageStart": {"role": "assistant"}},
                             {"contentBlockDelta": {"contentBlockIndex": 0,
                                                    "delta": {"reasoningContent": {"redactedContent": piece}}}},
                             {"messageStop": {"stopReason": "end_turn"}}])
        block = response.message.vendor_blocks[0].data
        assert base64.b64decode(block["reasoningContent"]["redactedContent"]) == REDACTED_BYTES


@pytest.mark.parametrize(("kind", "error"), [
    ("throttlingException", RateLimitError), ("internalServerException", ServerError),
    ("modelStreamErrorException", ServerError), ("serviceUnavailableException", ServerError),
    ("validationException", InvalidRequestError)])
def test_stream_exception_events_raise_typed_errors(kind: str, error: type[Exception]) -> None:
    assembler = ConverseStreamAssembler("bedrock", CLAUDE)
    assembler.feed({"messageStart": {"role": "assistant"}})
    with pytest.raises(error, match="went wrong"):
        assembler.feed({kind: {"message": "Something went wrong."}})


def test_a_stream_cut_before_message_stop_is_a_connection_error() -> None:
    assembler = ConverseStreamAssembler("bedrock", CLAUDE)
    assembler.feed({"messageStart": {"role": "assistant"}})
    assembler.feed({"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Hal"}}})
    with pytest.raises(APIConnectionError):
        assembler.finish()


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize(("code", "message", "status", "error"), [
    ("ThrottlingException", "Too many requests, please wait before trying again.", 429, RateLimitError),
    ("ServiceQuotaExceededException", "Too many tokens per day.", 400, QuotaExceededError),
    ("ValidationException", "Input is too long for requested model.", 400, ContextLengthExceededError),
    ("ValidationException", "The model returned the following errors: prompt is too long: 212000 tokens > 200000 "
                            "maximum", 400, ContextLengthExceededError),
    ("ValidationException", "Input Tokens Exceeded: Number of input tokens exceeds maximum length.", 400,
     ContextLengthExceededError),
    ("ValidationException", "The provided model identifier is invalid.", 400, InvalidRequestError),
    ("AccessDeniedException", "You don't have access to the model.", 403, PermissionDeniedError),
    ("UnrecognizedClientException", "The security token included in the request is invalid.", 403,
     AuthenticationError),
    ("ExpiredTokenException", "The security token included in the request is expired", 403, AuthenticationError),
    ("ResourceNotFoundException", "Model not found.", 404, NotFoundError),
    ("ModelNotReadyException", "Model is not ready.", 429, ServerError),
    ("ModelTimeoutException", "Model has timed out.", 408, APITimeoutError),
    ("ModelErrorException", "The model returned an error.", 424, ServerError),
    ("InternalServerException:http://internal.amazon.com/coral/com.amazon.bedrock/", "Oops", 500, ServerError),
    (None, "The provided model identifier is invalid.", 400, InvalidRequestError),
    ("SomethingNewException", "Who knows", 503, ServerError),
])
def test_error_for_maps_aws_error_types(code: str | None, message: str, status: int, error: type[Exception]) -> None:
    err = error_for(code, message, status, provider="bedrock", retry_after=2.0)
    assert type(err) is error
    assert err.provider == "bedrock" and err.status_code == status and err.retry_after == 2.0
    assert message.split(":")[0] in str(err)


def test_error_messages_never_carry_secrets() -> None:
    err = error_for("ValidationException", "bad header Bearer abcdefghijklmnopqrstuvwxyz0123", 400, provider="bedrock")
    assert "abcdefghijklmnop" not in str(err)


# ---------------------------------------------------------------------- model traits


def test_bedrock_traits_strip_geo_prefixes_and_reuse_claude_rules() -> None:
    assert traits_for("bedrock", CLAUDE) == traits_for("bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert traits_for("bedrock", "eu.amazon.nova-2-lite-v1:0") == traits_for("bedrock", NOVA_2)
    claude = traits_for("bedrock", CLAUDE)
    anthropic = traits_for("anthropic", "claude-sonnet-4-5-20250929")
    assert (claude.budget_range, claude.exclusive_sampling, claude.json_schema) == (
        anthropic.budget_range, anthropic.exclusive_sampling, anthropic.json_schema)
    assert claude.request_dialect == "anthropic" and claude.cache_fields == {"system", "messages", "tools"}
    assert traits_for("bedrock", CLAUDE_ADAPTIVE).reasoning_control == "adaptive"
    assert not traits_for("bedrock", "us.amazon.nova-micro-v1:0").vision
    opaque = traits_for("bedrock", OPAQUE)
    assert opaque.request_dialect is None and not opaque.json_schema and not opaque.cache_fields


def test_new_trait_fields_are_validated() -> None:
    with pytest.raises(ValueError, match="request_dialect"):
        ModelTraits(request_dialect="claude")
    with pytest.raises(ValueError, match="cache_fields"):
        ModelTraits(cache_fields=frozenset({"prompt"}))
    with pytest.raises(ValueError, match="unbounded_efforts"):
        ModelTraits(unbounded_efforts=("huge",))


# ---------------------------------------------------------------------- recorded answers


def _records(stream: bool) -> Iterator[dict[str, Any]]:
    if not SAMPLES_FILE.is_file():
        return
    with SAMPLES_FILE.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record["kind"] == "bedrock-converse" and record["status"] < 400 and record["stream"] is stream:
                yield record


def _model_of(record: dict[str, Any]) -> str:
    return record["path"].split("/model/", 1)[1].rsplit("/", 1)[0].replace("%3A", ":")


def _check(record: dict[str, Any], response: Any) -> None:
    expected = record["expected"]
    assert response.text == (expected["text"] or "")
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        (c["id"], c["name"], c["arguments"]) for c in expected["tool_calls"]]
    assert response.raw_finish_reason == expected["finish_reason"]
    usage = expected["usage"]
    cached, written = usage["cached_input_tokens"], usage.get("cache_write_input_tokens", 0)
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.cached_input_tokens,
            response.usage.cache_write_input_tokens, response.usage.reasoning_tokens) == (
        usage["input_tokens"] + cached + written, usage["output_tokens"], cached, written, 0)
    kept = any(b.type == "reasoningContent" for b in response.message.vendor_blocks)
    assert kept is bool(expected.get("reasoning")) and (response.reasoning is not None) is bool(
        expected.get("reasoning_text"))
    assert [(s.name, s.arguments) for s in response.server_tool_calls] == [
        (s["name"], s["arguments"]) for s in expected.get("server_tool_calls", ())]


class _Raw:
    """What botocore's EventStream reads: the recorded body, in one piece."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self) -> Iterator[bytes]:
        yield self.data

    def close(self) -> None:
        pass


needs_samples = pytest.mark.skipif(not SAMPLES_FILE.is_file(), reason=f"no recorded samples at {SAMPLES_FILE}")


@needs_samples
def test_recorded_whole_answers_parse_as_expected() -> None:
    output = _MODEL.operation_model("Converse").output_shape
    records = list(_records(stream=False))
    assert len(records) > 100
    for record in records:
        model = _model_of(record)
        _check(record, parse_converse(json.loads(record["body"]), provider="bedrock", model=model))
        # The same answer as boto3 hands it over (blobs decoded to bytes, ResponseMetadata added).
        parsed = create_parser("rest-json").parse({"status_code": 200, "headers": {"x-amzn-requestid": "r1"},
                                                   "body": record["body"].encode()}, output)
        response = parse_converse(parsed, provider="bedrock", model=model)
        _check(record, response)
        assert response.id == "r1"


@needs_samples
def test_recorded_streams_assemble_as_expected() -> None:
    shape = _MODEL.operation_model("ConverseStream").output_shape.members["stream"]
    records = [r for r in _records(stream=True) if r.get("body_b64")]
    assert records
    for record in records:
        data = base64.b64decode(record["body_b64"])
        buffer = EventStreamBuffer()
        buffer.add_data(data)
        decoded = [{m.headers[":event-type"]: json.loads(m.payload)} for m in buffer]
        assert len(decoded) == record["expected"]["stream_events"]
        events, response = _feed(decoded, _model_of(record))
        _check(record, response)
        assert "".join(e.delta for e in events if isinstance(e, TextDeltaEvent)) == response.text
        # And as boto3's `converse_stream(...)["stream"]` yields them.
        items = list(EventStream(_Raw(data), shape, EventStreamJSONParser(), "ConverseStream"))
        _check(record, _feed(items, _model_of(record))[1])
