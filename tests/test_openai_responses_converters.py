"""The pure converters of the OpenAI Responses wire: requests, whole responses, and histories sent back."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from agentos_llm import create_provider
from agentos_llm.errors import (
    InvalidRequestError,
    MalformedResponseError,
    RateLimitError,
    UnsupportedCapabilityError,
)
from agentos_llm.provider import IProvider
from agentos_llm.providers.openai_responses import OpenAIResponsesProvider
from agentos_llm.server_tools import CodeInterpreter, FileSearch, ImageGeneration, RemoteMCP, WebSearch
from agentos_llm.types import (
    AudioPart,
    DocumentPart,
    FinishReason,
    ImagePart,
    Message,
    TextPart,
    ToolCall,
    ToolDefinition,
    VendorBlock,
    assistant,
    system,
    tool_result,
    user,
)
from agentos_llm.wire.openai_responses import COUNT_FIELDS, finish_reason, input_items, parse_response

BASE_URL = "http://127.0.0.1:9/v1"  # never contacted: these tests only build and parse
CHAT_MODEL = "gpt-4.1-mini"
REASONING_MODEL = "gpt-5"
WEATHER = ToolDefinition(
    name="get_weather", description="Weather of a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.fixture(scope="module")
def provider() -> Iterator[IProvider]:
    p = create_provider("openai", api="responses", api_key="sk-test", base_url=BASE_URL)
    yield p
    p.close()


def body(provider: IProvider, messages: Any = "hi", model: str = CHAT_MODEL, *, stream: bool = False,
         **options: Any) -> dict[str, Any]:
    built = provider._build_request(provider._make_call(model, messages, options, stream=stream))
    json.dumps(built)  # whatever we build must be JSON
    assert isinstance(built, dict)
    return built


def parse(payload: dict[str, Any], provider_id: str = "openai") -> Any:
    return parse_response(payload, provider=provider_id, model="requested-model")


def response(*output: dict[str, Any], status: str = "completed", **fields: Any) -> dict[str, Any]:
    return {"id": "resp_1", "object": "response", "model": "gpt-5-2025-08-07", "status": status,
            "output": list(output), **fields}


def message_item(*texts: str, item_id: str = "msg_1", annotations: list[Any] | None = None) -> dict[str, Any]:
    parts = [{"type": "output_text", "text": t, "annotations": annotations or []} for t in texts]
    return {"type": "message", "id": item_id, "role": "assistant", "status": "completed", "content": parts}


def call_item(name: str, args: str, call_id: str = "call_a", item_id: str = "fc_a") -> dict[str, Any]:
    return {"type": "function_call", "id": item_id, "call_id": call_id, "name": name, "arguments": args,
            "status": "completed"}


REASONING_ITEM = {"type": "reasoning", "id": "rs_1", "encrypted_content": "ZW5jcnlwdGVk",
                  "summary": [{"type": "summary_text", "text": "First."}, {"type": "summary_text", "text": "Then."}]}


# ---------------------------------------------------------------------- requests


def test_plain_request_is_not_stored(provider: IProvider) -> None:
    built = body(provider, "hello")
    assert built == {"model": CHAT_MODEL, "input": [{"role": "user", "content": "hello"}], "store": False}


def test_system_messages_become_instructions(provider: IProvider) -> None:
    built = body(provider, [system("Be brief."), user("hi"), system("Answer in French.")])
    assert built["instructions"] == "Be brief.\n\nAnswer in French."
    assert built["input"] == [{"role": "user", "content": "hi"}]


def test_reasoning_models_ask_for_encrypted_reasoning_unless_stored(provider: IProvider) -> None:
    assert body(provider, model=REASONING_MODEL)["include"] == ["reasoning.encrypted_content"]
    stored = body(provider, model=REASONING_MODEL, store=True)
    assert stored["store"] is True and "include" not in stored
    assert "include" not in body(provider, model=CHAT_MODEL)


def test_user_parts_images_and_documents(provider: IProvider) -> None:
    parts = [
        TextPart(text="look"),
        ImagePart(url="https://example.com/a.png", detail="low"),
        ImagePart(data="aGVsbG8=", media_type="image/png"),
        DocumentPart(data="JVBERi0=", media_type="application/pdf", filename="report.pdf"),
        DocumentPart(data="aGk=", media_type="application/pdf"),
        DocumentPart(url="https://example.com/paper.pdf"),
        DocumentPart(file_id="file-123"),
        DocumentPart(text="The sky is blue.", title="Facts"),
    ]
    content = body(provider, [Message(role="user", content=parts)])["input"][0]["content"]
    assert content == [
        {"type": "input_text", "text": "look"},
        {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "low"},
        {"type": "input_image", "image_url": "data:image/png;base64,aGVsbG8=", "detail": "auto"},
        {"type": "input_file", "file_data": "data:application/pdf;base64,JVBERi0=", "filename": "report.pdf"},
        {"type": "input_file", "file_data": "data:application/pdf;base64,aGk=", "filename": "document.pdf"},
        {"type": "input_file", "file_url": "https://example.com/paper.pdf"},
        {"type": "input_file", "file_id": "file-123"},
        {"type": "input_text", "text": "Document: Facts\nThe sky is blue."},
    ]


def test_audio_is_refused_before_sending(provider: IProvider) -> None:
    audio = Message(role="user", content=[AudioPart(data="UklGRg==")])
    with pytest.raises(UnsupportedCapabilityError):
        body(provider, [audio], model="gpt-4o-audio-preview")  # a model that takes audio, but not this API
    with pytest.raises(UnsupportedCapabilityError):
        input_items([audio], "openai")
    assert isinstance(provider, OpenAIResponsesProvider)
    assert provider._accepts("documents") and not provider._accepts("audio")


def test_tool_loop_history(provider: IProvider) -> None:
    calls = [ToolCall(id="call_1", name="get_weather", arguments={"city": "Paris"}),
             ToolCall(id="call_2", name="get_weather", arguments_raw="not json")]
    history = [user("weather?"), assistant("Checking.", tool_calls=calls), tool_result("call_1", {"temp": 21}),
               tool_result("call_2", "sunny")]
    assert body(provider, history, tools=[WEATHER])["input"] == [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "Checking."},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        {"type": "function_call", "call_id": "call_2", "name": "get_weather", "arguments": "not json"},
        {"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 21}'},
        {"type": "function_call_output", "call_id": "call_2", "output": "sunny"},
    ]


def test_function_tools_are_not_strict_unless_asked(provider: IProvider) -> None:
    strict = WEATHER.model_copy(update={"name": "strict_weather", "strict": True})
    bare = ToolDefinition(name="ping")
    tools = body(provider, tools=[WEATHER, strict, bare])["tools"]
    assert tools[0] == {"type": "function", "name": "get_weather", "description": "Weather of a city",
                        "parameters": WEATHER.parameters, "strict": False}
    assert tools[1]["strict"] is True
    assert tools[2] == {"type": "function", "name": "ping", "parameters": bare.parameters, "strict": False}


def test_server_tools_go_beside_function_tools(provider: IProvider) -> None:
    server_tools = [
        WebSearch(search_context_size="high", allowed_domains=["example.com"], user_location={"country": "PT"}),
        FileSearch(vector_store_ids=["vs_1"], max_num_results=5, filters={"type": "eq", "key": "k", "value": 1}),
        CodeInterpreter(),
        CodeInterpreter(container="cntr_1"),
        ImageGeneration(size="1024x1024", quality="high", output_format="png", background="opaque"),
        RemoteMCP(server_label="docs", server_url="https://mcp.example.com", allowed_tools=["search"],
                  headers={"Authorization": "Bearer x"}, server_description="Docs"),
        RemoteMCP(server_label="cal", connector_id="connector_googlecalendar", require_approval="always"),
    ]
    tools = body(provider, tools=[WEATHER], server_tools=server_tools, parallel_tool_calls=False)
    assert tools["parallel_tool_calls"] is False
    assert [t["type"] for t in tools["tools"]] == ["function", "web_search", "file_search", "code_interpreter",
                                                   "code_interpreter", "image_generation", "mcp", "mcp"]
    assert tools["tools"][1:] == [
        {"type": "web_search", "search_context_size": "high", "filters": {"allowed_domains": ["example.com"]},
         "user_location": {"type": "approximate", "country": "PT"}},
        {"type": "file_search", "vector_store_ids": ["vs_1"], "max_num_results": 5,
         "filters": {"type": "eq", "key": "k", "value": 1}},
        {"type": "code_interpreter", "container": {"type": "auto"}},
        {"type": "code_interpreter", "container": "cntr_1"},
        {"type": "image_generation", "size": "1024x1024", "quality": "high", "output_format": "png",
         "background": "opaque"},
        {"type": "mcp", "server_label": "docs", "server_url": "https://mcp.example.com", "allowed_tools": ["search"],
         "require_approval": "never", "headers": {"Authorization": "Bearer x"}, "server_description": "Docs"},
        {"type": "mcp", "server_label": "cal", "connector_id": "connector_googlecalendar",
         "require_approval": "always"},
    ]
    only_server = body(provider, server_tools=[WebSearch()])
    assert only_server["tools"] == [{"type": "web_search"}]


def test_server_tool_problems(provider: IProvider) -> None:
    with pytest.warns(UserWarning, match="max_uses"):
        assert body(provider, server_tools=[WebSearch(max_uses=3)])["tools"] == [{"type": "web_search"}]
    with pytest.raises(InvalidRequestError, match="server_url or a connector_id"):
        body(provider, server_tools=[RemoteMCP(server_label="nowhere")])


@pytest.mark.parametrize(("choice", "wire"), [
    ("auto", "auto"), ("none", "none"), ("required", "required"),
    ("get_weather", {"type": "function", "name": "get_weather"}),
])
def test_tool_choice(provider: IProvider, choice: str, wire: Any) -> None:
    assert body(provider, tools=[WEATHER], tool_choice=choice)["tool_choice"] == wire


class City(BaseModel):
    """A city."""

    name: str
    population: int | None = None


def structured_body(provider: IProvider, model: str = CHAT_MODEL) -> tuple[str | None, dict[str, Any]]:
    call = provider._structured_call(model, [system("Be exact."), user("a city")], City, {})
    built = provider._build_request(call)
    return call.structured_mode, built


def test_structured_output_json_schema(provider: IProvider) -> None:
    mode, built = structured_body(provider)
    assert mode == "json_schema"
    fmt = built["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt["name"] == "City" and fmt["strict"] is True
    assert fmt["description"] == "A city."
    assert fmt["schema"]["required"] == ["name", "population"] and fmt["schema"]["additionalProperties"] is False
    assert built["instructions"] == "Be exact."


def test_structured_output_json_object_and_prompt_modes() -> None:
    for quirks, mode in (({"json_schema": False}, "json_object"), ({"json_schema": False, "json_object": False},
                                                                    "prompt")):
        p = create_provider("openai", api="responses", api_key="sk-test", base_url=BASE_URL, wire=quirks)
        try:
            got_mode, built = structured_body(p)
        finally:
            p.close()
        assert got_mode == mode
        assert built["instructions"].startswith("Be exact.\n\nRespond with a single JSON document")
        assert built.get("text") == ({"format": {"type": "json_object"}} if mode == "json_object" else None)


def test_reasoning_options(provider: IProvider) -> None:
    assert body(provider, model=REASONING_MODEL, reasoning_effort="minimal",
                reasoning_summary="auto")["reasoning"] == {"effort": "minimal", "summary": "auto"}
    assert body(provider, model=REASONING_MODEL, reasoning_budget=10_000)["reasoning"] == {"effort": "medium"}
    assert body(provider, model=REASONING_MODEL, reasoning_summary="detailed")["reasoning"] == {"summary": "detailed"}
    with pytest.warns(UserWarning, match="has no extended thinking or reasoning"):
        assert "reasoning" not in body(provider, model=CHAT_MODEL, reasoning_effort="high")
    # The profile's rules apply as on chat: o3 takes low/medium/high, so "minimal" goes to the nearest.
    with pytest.warns(UserWarning, match="o3"):
        assert body(provider, model="o3", reasoning_effort="minimal")["reasoning"] == {"effort": "low"}


def test_the_shared_request_rules_apply(provider: IProvider) -> None:
    from agentos_llm.types import ToolDefinition

    with pytest.raises(InvalidRequestError, match="refused by the Responses API"):
        body(provider, tools=[ToolDefinition(name="weather.get")])
    with pytest.raises(InvalidRequestError, match="given twice"):
        body(provider, tools=[ToolDefinition(name="a"), ToolDefinition(name="a")])
    with pytest.warns(UserWarning, match="no tools were given"):
        assert "tool_choice" not in body(provider, tool_choice="required")


def test_sampling_only_where_the_model_takes_it(provider: IProvider) -> None:
    built = body(provider, temperature=0.2, top_p=0.9)
    assert (built["temperature"], built["top_p"]) == (0.2, 0.9)
    with pytest.warns(UserWarning, match="does not accept sampling parameters"):
        built = body(provider, model=REASONING_MODEL, temperature=0.2)
    assert "temperature" not in built


def test_stop_is_refused_and_seed_top_k_are_dropped(provider: IProvider) -> None:
    with pytest.raises(InvalidRequestError, match="stop sequences"):
        body(provider, stop=["END"])
    with pytest.warns(UserWarning) as caught:
        built = body(provider, seed=7, top_k=5)
    assert {"seed", "top_k"} <= {str(w.message).split()[0] for w in caught}
    assert "seed" not in built and "top_k" not in built


def test_pass_through_options_and_extra(provider: IProvider) -> None:
    built = body(provider, stream=True, max_tokens=64, user="u-1", previous_response_id="resp_0",
                 extra={"truncation": "auto", "text": {"verbosity": "low"}})
    assert built["stream"] is True and built["max_output_tokens"] == 64 and built["user"] == "u-1"
    assert built["previous_response_id"] == "resp_0" and built["truncation"] == "auto"
    assert built["text"] == {"verbosity": "low"}
    mode_and_extra = provider._structured_call(CHAT_MODEL, "x", City, {"extra": {"text": {"verbosity": "low"}}})
    merged = provider._build_request(mode_and_extra)["text"]
    assert merged["verbosity"] == "low" and merged["format"]["type"] == "json_schema"  # extra merges into it


def test_count_request_keeps_only_what_the_endpoint_takes(provider: IProvider) -> None:
    call = provider._make_call(REASONING_MODEL, [system("sys"), user("hi")],
                               {"tools": [WEATHER], "max_tokens": 9, "user": "u", "reasoning_effort": "low",
                                "temperature": 0.5})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # dropped options are not warned about for a count
        counted = provider._build_count_request(call)
    assert counted is not None
    assert set(counted) == {"model", "input", "instructions", "tools", "reasoning"}
    assert set(counted) <= COUNT_FIELDS
    assert provider._count_provider() is provider


def test_hosts_without_the_count_endpoint_estimate() -> None:
    p = create_provider("deepseek", api="responses", api_key="sk-test", base_url=BASE_URL)
    try:
        assert p._build_count_request(p._make_call("deepseek-chat", "hi", {})) is None
        counted = p.count_tokens_sync("deepseek-chat", "hello there")
        assert counted.exact is False and counted.input_tokens > 0
    finally:
        p.close()


def test_row_config_body_fields_reach_the_request() -> None:
    p = create_provider("openrouter", api="responses", api_key="sk-test", base_url=BASE_URL,
                        provider_routing={"order": ["openai"]})
    try:
        built = body(p, model="openai/gpt-4.1-mini")
    finally:
        p.close()
    assert built["provider"] == {"order": ["openai"]}
    assert "usage" not in built  # the row's chat-completions field is not a Responses parameter


# ---------------------------------------------------------------------- responses


def test_text_citations_and_refusals() -> None:
    url = {"type": "url_citation", "url": "https://example.com", "title": "Example", "start_index": 2,
           "end_index": 9}
    file = {"type": "file_citation", "file_id": "file-1", "filename": "notes.txt", "index": 3}
    refusal = {"type": "message", "id": "msg_2", "role": "assistant",
               "content": [{"type": "refusal", "refusal": "I can't."}]}
    resp = parse(response(message_item("Hello ", annotations=[url]), message_item("world", annotations=[file]),
                          refusal))
    assert resp.text == "Hello world" and resp.message.text == "Hello world"
    assert resp.finish_reason is FinishReason.STOP and resp.raw_finish_reason == "completed"
    assert [(c.type, c.url, c.title, c.file_id, c.start, c.end) for c in resp.citations] == [
        ("url_citation", "https://example.com", "Example", None, 2, 9),
        ("file_citation", None, "notes.txt", "file-1", 9, None),  # indexes into the whole answer
    ]
    assert resp.id == "resp_1" and resp.model == "gpt-5-2025-08-07"


def test_function_and_custom_tool_calls() -> None:
    custom = {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_c", "name": "shell", "input": "ls -la"}
    resp = parse(response(call_item("get_weather", '{"city":"Paris"}'), custom,
                          call_item("broken", "{oops", call_id="call_b", item_id="fc_b")))
    assert resp.tool_calls == [
        ToolCall(id="call_a", name="get_weather", arguments={"city": "Paris"}),
        ToolCall(id="call_c", name="shell", arguments={}, arguments_raw="ls -la"),
        ToolCall(id="call_b", name="broken", arguments={}, arguments_raw="{oops"),
    ]
    assert resp.message.tool_calls == resp.tool_calls
    assert resp.finish_reason is FinishReason.TOOL_CALLS and resp.raw_finish_reason == "completed"


def test_reasoning_is_text_and_a_vendor_block() -> None:
    readable = {"type": "reasoning", "id": "rs_2", "summary": [],
                "content": [{"type": "reasoning_text", "text": "Raw thoughts."}]}
    resp = parse(response(REASONING_ITEM, readable, message_item("Paris.")))
    assert resp.reasoning == "First.\n\nThen.\n\nRaw thoughts." and resp.message.reasoning == resp.reasoning
    blocks = resp.message.vendor_blocks
    assert blocks[0] == VendorBlock(provider="openai", type="reasoning", data=REASONING_ITEM)
    assert [b.type for b in blocks] == ["reasoning", "reasoning", "message"]
    encrypted_only = parse(response({"type": "reasoning", "id": "rs_3", "summary": [], "encrypted_content": "x"}))
    assert encrypted_only.reasoning is None and encrypted_only.message.vendor_blocks[0].type == "reasoning"


def test_hosted_tools_are_server_tool_calls() -> None:
    items = [
        {"type": "web_search_call", "id": "ws_1", "status": "completed",
         "action": {"type": "search", "query": "news", "sources": [{"type": "url", "url": "https://a.example"}]}},
        {"type": "file_search_call", "id": "fs_1", "status": "completed", "queries": ["q"],
         "results": [{"file_id": "f", "text": "t"}]},
        {"type": "code_interpreter_call", "id": "ci_1", "status": "completed", "code": "1+1",
         "container_id": "cntr", "outputs": [{"type": "logs", "logs": "2"}]},
        {"type": "image_generation_call", "id": "ig_1", "status": "completed", "result": "aW1n"},
        {"type": "mcp_list_tools", "id": "mcpl_1", "server_label": "docs", "tools": [{"name": "search"}]},
        {"type": "mcp_call", "id": "mcp_1", "server_label": "docs", "name": "search", "arguments": '{"q":"x"}',
         "output": "found", "status": "completed"},
        {"type": "mcp_call", "id": "mcp_2", "server_label": "docs", "name": "search", "arguments": "{}",
         "output": None, "error": {"message": "boom"}, "status": "failed"},
        message_item("Done."),
    ]
    resp = parse(response(*items))
    got = [(c.type, c.id, c.name, c.status, c.arguments, c.result) for c in resp.server_tool_calls]
    assert got == [
        ("web_search_call", "ws_1", "web_search_call", "completed", {"type": "search", "query": "news"},
         [{"type": "url", "url": "https://a.example"}]),
        ("file_search_call", "fs_1", "file_search_call", "completed", {"queries": ["q"]},
         [{"file_id": "f", "text": "t"}]),
        ("code_interpreter_call", "ci_1", "code_interpreter_call", "completed",
         {"code": "1+1", "container_id": "cntr"}, [{"type": "logs", "logs": "2"}]),
        ("image_generation_call", "ig_1", "image_generation_call", "completed", {}, "aW1n"),
        ("mcp_list_tools", "mcpl_1", "docs", None, {"server_label": "docs"}, [{"name": "search"}]),
        ("mcp_call", "mcp_1", "search", "completed", {"q": "x", "server_label": "docs"}, "found"),
        ("mcp_call", "mcp_2", "search", "failed", {"server_label": "docs"}, {"error": {"message": "boom"}}),
    ]
    assert resp.tool_calls == [] and resp.finish_reason is FinishReason.STOP and resp.text == "Done."
    assert [b.type for b in resp.message.vendor_blocks] == [i["type"] for i in items]


@pytest.mark.parametrize(("status", "reason", "calls", "normalized", "raw"), [
    ("completed", None, False, FinishReason.STOP, "completed"),
    ("completed", None, True, FinishReason.TOOL_CALLS, "completed"),
    ("incomplete", "max_output_tokens", False, FinishReason.LENGTH, "max_output_tokens"),
    ("incomplete", "content_filter", False, FinishReason.CONTENT_FILTER, "content_filter"),
    ("incomplete", None, False, FinishReason.OTHER, "incomplete"),
    ("failed", None, False, FinishReason.ERROR, "failed"),
    ("cancelled", None, False, FinishReason.OTHER, "cancelled"),
    ("complete", None, False, FinishReason.OTHER, "complete"),  # seen from hand-written hosts
    (None, None, False, None, None),
    (None, None, True, FinishReason.TOOL_CALLS, None),
])
def test_finish_reasons(status: str | None, reason: str | None, calls: bool, normalized: FinishReason | None,
                        raw: str | None) -> None:
    assert finish_reason(status, reason, calls) == (normalized, raw)


def test_incomplete_and_failed_responses_are_returned() -> None:
    cut = parse(response(message_item("Partial"), status="incomplete",
                         incomplete_details={"reason": "max_output_tokens"}))
    assert (cut.text, cut.finish_reason, cut.raw_finish_reason) == ("Partial", FinishReason.LENGTH,
                                                                     "max_output_tokens")
    failed = parse(response(status="failed", error={"code": "server_error", "message": "oops"}))
    assert failed.finish_reason is FinishReason.ERROR and failed.text == ""
    no_output = parse({"id": "r", "status": "failed", "error": {"message": "x"}})
    assert no_output.finish_reason is FinishReason.ERROR


def test_bad_bodies() -> None:
    with pytest.raises(RateLimitError):
        parse({"error": {"message": "slow down", "type": "rate_limit_error", "code": "rate_limit_exceeded"}})
    with pytest.raises(MalformedResponseError):
        parse_response([1, 2], provider="openai", model="m")
    with pytest.raises(MalformedResponseError):
        parse({"id": "r", "output": "nope"})
    with pytest.raises(MalformedResponseError):
        parse({"id": "r"})


def test_usage_is_already_inclusive() -> None:
    resp = parse(response(message_item("x"), usage={
        "input_tokens": 100, "input_tokens_details": {"cached_tokens": 60}, "output_tokens": 50,
        "output_tokens_details": {"reasoning_tokens": 30}, "total_tokens": 150, "cost": 0.0025}))
    u = resp.usage
    assert (u.input_tokens, u.output_tokens, u.total_tokens, u.cached_input_tokens, u.reasoning_tokens,
            u.cost_usd) == (100, 50, 150, 60, 30, 0.0025)
    assert parse(response()).usage.total_tokens == 0


# ---------------------------------------------------------------------- histories sent back


def turn(*output: dict[str, Any], provider_id: str = "openai") -> Message:
    return parse(response(*output), provider_id).message


def test_a_stateless_tool_loop_sends_its_items_back_in_order(provider: IProvider) -> None:
    said = turn(REASONING_ITEM, message_item("Let me check."), call_item("get_weather", '{"city":"Oslo"}'))
    history = [user("weather?"), said, tool_result("call_a", "cold")]
    assert body(provider, history, model=REASONING_MODEL)["input"] == [
        {"role": "user", "content": "weather?"},
        REASONING_ITEM,
        message_item("Let me check."),
        {"type": "function_call", "call_id": "call_a", "name": "get_weather", "arguments": '{"city":"Oslo"}',
         "id": "fc_a"},
        {"type": "function_call_output", "call_id": "call_a", "output": "cold"},
    ]


def test_blocks_go_back_only_to_their_provider() -> None:
    said = turn(REASONING_ITEM, {"type": "web_search_call", "id": "ws_1", "status": "completed",
                                 "action": {"type": "search", "query": "q"}},
                message_item("Sunny."), call_item("get_weather", "{}"))
    _, items = input_items([said], "openrouter")
    assert items == [{"role": "assistant", "content": "Sunny."},
                     {"type": "function_call", "call_id": "call_a", "name": "get_weather", "arguments": "{}"}]
    _, ours = input_items([said], "openai")
    assert [i.get("type") for i in ours] == ["reasoning", "web_search_call", "message", "function_call"]


def test_an_edited_turn_drops_the_reasoning_it_can_no_longer_pair() -> None:
    said = turn(REASONING_ITEM, message_item("Original answer."))
    edited = said.model_copy(update={"content": "Edited answer."})
    _, items = input_items([edited], "openai")
    assert items == [{"role": "assistant", "content": "Edited answer."}]
    only_reasoning = turn(REASONING_ITEM)  # cut short while thinking: nothing followed it
    assert input_items([only_reasoning], "openai")[1] == []


def test_a_dropped_tool_call_takes_its_reasoning_with_it() -> None:
    said = turn(REASONING_ITEM, call_item("get_weather", "{}"))
    trimmed = said.model_copy(update={"tool_calls": []})
    assert input_items([trimmed], "openai")[1] == []


def test_custom_tool_calls_round_trip() -> None:
    said = turn({"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_c", "name": "shell", "input": "ls"})
    _, items = input_items([said, tool_result("call_c", "a.txt")], "openai")
    assert items == [{"type": "custom_tool_call", "call_id": "call_c", "name": "shell", "input": "ls", "id": "ctc_1"},
                     {"type": "custom_tool_call_output", "call_id": "call_c", "output": "a.txt"}]


def test_histories_from_other_vendors(provider: IProvider) -> None:
    from_anthropic = Message(
        role="assistant", content="I'll look.", reasoning="thinking...",
        tool_calls=[ToolCall(id="toolu_01", name="get_weather", arguments={"city": "Rome"})],
        vendor_blocks=[VendorBlock(provider="anthropic", type="thinking",
                                   data={"type": "thinking", "thinking": "thinking...", "signature": "c2ln"})])
    from_gemini = Message(
        role="assistant", content=[TextPart(text="Done: "), TextPart(text="warm.")],
        vendor_blocks=[VendorBlock(provider="gemini", type="thought_signature", data={"signature": "abc"})])
    history = [system("s"), user("weather in Rome?"), from_anthropic, tool_result("toolu_01", "warm"), from_gemini,
               user("thanks")]
    assert body(provider, history, model=REASONING_MODEL)["input"] == [
        {"role": "user", "content": "weather in Rome?"},
        {"role": "assistant", "content": "I'll look."},
        {"type": "function_call", "call_id": "toolu_01", "name": "get_weather", "arguments": '{"city":"Rome"}'},
        {"type": "function_call_output", "call_id": "toolu_01", "output": "warm"},
        {"role": "assistant", "content": "Done: warm."},
        {"role": "user", "content": "thanks"},
    ]


def test_alias_row_blocks_belong_to_the_host() -> None:
    p = OpenAIResponsesProvider(api_key="sk-test", base_url=BASE_URL)
    try:
        assert p.provider_id == "openai-responses" and p.api == "openai-responses"
        said = turn(REASONING_ITEM, message_item("Hi."))  # made by create_provider("openai", api="responses")
        sent = body(p, [user("q"), said, user("more")], model=REASONING_MODEL)["input"]
        assert sent[1] == REASONING_ITEM
    finally:
        p.close()
