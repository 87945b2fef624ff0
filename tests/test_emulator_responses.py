"""The wire emulator's Responses dialect and its token-counting endpoints, driven by the real vendor SDKs
(openai, anthropic, google-genai) and by plain HTTP."""

from __future__ import annotations

import http.client
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as genai_types
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseReasoningItem
from pydantic import BaseModel

from agentos_llm.testing.emulator import Fault, Reply, WireEmulator
from agentos_llm.testing.responses_wire import ENCRYPTED_INCLUDE, open_reasoning, seal_reasoning

KEY = "sk-test"
TOOL: dict[str, Any] = {"type": "function", "name": "get_weather", "description": "Weather of a city",
                        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                       "required": ["city"]}, "strict": True}
# Every stream of a reply with reasoning, text and one tool call, as the real API orders its events.
FULL_STREAM = [
    "response.created", "response.in_progress",
    "response.output_item.added", "response.reasoning_summary_part.added", "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.delta", "response.reasoning_summary_text.done",
    "response.reasoning_summary_part.done", "response.output_item.done",
    "response.output_item.added", "response.content_part.added", "response.output_text.delta",
    "response.output_text.delta", "response.output_text.done", "response.content_part.done",
    "response.output_item.done",
    "response.output_item.added", "response.function_call_arguments.delta",
    "response.function_call_arguments.delta", "response.function_call_arguments.delta",
    "response.function_call_arguments.done", "response.output_item.done",
    "response.completed",
]


@pytest.fixture(scope="module")
def server() -> Iterator[WireEmulator]:
    with WireEmulator() as emu:
        yield emu


@pytest.fixture
def emu(server: WireEmulator) -> Iterator[WireEmulator]:
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def client(emu: WireEmulator) -> Iterator[openai.OpenAI]:
    c = openai.OpenAI(base_url=emu.openai_base_url, api_key=KEY, max_retries=0)
    yield c
    c.close()


@pytest.fixture
async def aclient(emu: WireEmulator) -> AsyncIterator[openai.AsyncOpenAI]:
    c = openai.AsyncOpenAI(base_url=emu.openai_base_url, api_key=KEY, max_retries=0)
    yield c
    await c.close()


def post(emu: WireEmulator, path: str, body: dict[str, Any],
         headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", int(emu.url.rsplit(":", 1)[1]), timeout=5)
    try:
        conn.request("POST", path, json.dumps(body), {"content-type": "application/json", **(headers or {})})
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def sse(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """The `(event name, data)` pairs of an SSE body, checking each event has both lines."""
    out = []
    for block in raw.decode().split("\n\n"):
        if not block:
            continue
        event, data = block.split("\n")
        assert event.startswith("event: ") and data.startswith("data: ")
        out.append((event.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return out


# --------------------------------------------------------------------------------------------
# whole responses
# --------------------------------------------------------------------------------------------


def test_default_echo(emu: WireEmulator, client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-4.1", input="hello wide world", instructions="be brief")
    assert response.output_text == "Echo: hello wide world"
    assert response.id.startswith("resp_emu_")
    assert (response.object, response.status, response.model) == ("response", "completed", "gpt-4.1")
    assert response.instructions == "be brief" and response.incomplete_details is None and response.error is None
    [message] = response.output
    assert isinstance(message, ResponseOutputMessage)
    assert message.id.startswith("msg_") and message.role == "assistant" and message.status == "completed"
    assert message.content[0].type == "output_text" and message.content[0].annotations == []
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (5, 4, 9)  # instructions count too
    assert emu.hits("/v1/responses") == 1 and emu.hits("/chat/completions") == 0
    assert emu.requests[-1].headers["authorization"] == f"Bearer {KEY}"


def test_echo_of_the_last_user_message_of_a_list(emu: WireEmulator, client: openai.OpenAI) -> None:
    response = client.responses.create(model="m", input=[
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "one"},
                                                        {"type": "input_text", "text": "two"}]},
    ])
    assert response.output_text == "Echo: one two"


def test_scripted_reply_maps_to_items_and_usage(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Reply("Let me check.", reasoning="Two tools.", tool_calls=[("get_weather", {"city": "Oslo"}),
                                                                          ("get_time", {"tz": "CET"})],
                     prompt_tokens=40, completion_tokens=12, cached_tokens=30, cache_write_tokens=5,
                     reasoning_tokens=6, model="gpt-5-2025-08-07"))
    response = client.responses.create(model="gpt-5", input="go", tools=[TOOL])
    assert response.model == "gpt-5-2025-08-07" and response.status == "completed"
    reasoning, message, first, second = response.output
    assert isinstance(reasoning, ResponseReasoningItem)
    assert reasoning.id.startswith("rs_") and reasoning.summary[0].text == "Two tools."
    assert reasoning.encrypted_content is None  # not asked for with `include`
    assert isinstance(message, ResponseOutputMessage) and response.output_text == "Let me check."
    assert isinstance(first, ResponseFunctionToolCall) and isinstance(second, ResponseFunctionToolCall)
    assert (first.name, json.loads(first.arguments), first.status) == ("get_weather", {"city": "Oslo"}, "completed")
    assert (second.name, json.loads(second.arguments)) == ("get_time", {"tz": "CET"})
    assert first.id is not None and first.id.startswith("fc_") and first.call_id.startswith("call_")
    assert len({first.id, second.id, first.call_id, second.call_id}) == 4
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (40, 12, 52)
    assert usage.input_tokens_details.cached_tokens == 30
    assert usage.input_tokens_details.cache_write_tokens == 5
    assert usage.output_tokens_details.reasoning_tokens == 6
    assert response.tools[0].type == "function"  # the request's tools are echoed


def test_tool_calls_only_have_no_message(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Reply.tool_call("get_weather", {"city": "Rome"}))
    response = client.responses.create(model="m", input="weather?", tools=[TOOL])
    assert [item.type for item in response.output] == ["function_call"]
    assert response.usage is not None and response.usage.output_tokens == 1  # '{"city":"Rome"}' is one word


def test_reasoning_tokens_count_inside_output_tokens(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Reply("four words of text", reasoning_tokens=10))
    usage = client.responses.create(model="o3", input="x").usage
    assert usage is not None
    assert (usage.output_tokens, usage.output_tokens_details.reasoning_tokens) == (14, 10)


def test_encrypted_reasoning_when_included(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Reply("ok", reasoning="a private chain of thought"), Reply("ok", reasoning="a private chain of thought"))
    first = client.responses.create(model="o3", input="x", include=[ENCRYPTED_INCLUDE], store=False)
    again = client.responses.create(model="o3", input="x", include=[ENCRYPTED_INCLUDE], store=False)
    reasoning = first.output[0]
    assert isinstance(reasoning, ResponseReasoningItem) and reasoning.encrypted_content is not None
    assert reasoning.encrypted_content == again.output[0].encrypted_content  # type: ignore[union-attr]
    assert "private" not in reasoning.encrypted_content  # opaque
    assert open_reasoning(reasoning.encrypted_content) == "a private chain of thought"
    assert first.store is False


def test_empty_reasoning_has_an_empty_summary(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Reply("answer", reasoning=""))
    response = client.responses.create(model="o3", input="x")
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert response.output[0].summary == []  # type: ignore[union-attr]


@pytest.mark.parametrize(("finish", "reason"), [("length", "max_output_tokens"),
                                                 ("max_output_tokens", "max_output_tokens"),
                                                 ("content_filter", "content_filter")])
def test_incomplete_responses(emu: WireEmulator, client: openai.OpenAI, finish: str, reason: str) -> None:
    emu.script(Reply("cut sh", finish_reason=finish))
    response = client.responses.create(model="m", input="x", max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == reason
    assert response.output[0].status == "incomplete"  # type: ignore[union-attr]
    assert response.max_output_tokens == 16 and response.output_text == "cut sh"


# --------------------------------------------------------------------------------------------
# streams
# --------------------------------------------------------------------------------------------


def test_stream_event_sequence(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Reply("two words", reasoning="think hard", tool_calls=[("get_weather", {"city": "Paris"})]))
    with client.responses.create(model="o3", input="x", stream=True, include=[ENCRYPTED_INCLUDE]) as stream:
        events = list(stream)
    assert [e.type for e in events] == FULL_STREAM
    assert [e.sequence_number for e in events] == list(range(len(events)))
    by_type: dict[str, list[Any]] = {}
    for e in events:
        by_type.setdefault(e.type, []).append(e)
    assert "".join(e.delta for e in by_type["response.output_text.delta"]) == "two words"
    assert "".join(e.delta for e in by_type["response.reasoning_summary_text.delta"]) == "think hard"
    arguments = "".join(e.delta for e in by_type["response.function_call_arguments.delta"])
    assert json.loads(arguments) == {"city": "Paris"}
    assert by_type["response.function_call_arguments.done"][0].arguments == arguments
    created = by_type["response.created"][0].response
    assert created.status == "in_progress" and created.output == [] and created.usage is None
    final = by_type["response.completed"][0].response
    assert final.status == "completed" and final.id == created.id and final.usage.total_tokens > 0
    added, done = by_type["response.output_item.added"][0].item, by_type["response.output_item.done"][0].item
    assert added.encrypted_content is None  # the whole encrypted content comes with the done item
    assert done.encrypted_content == final.output[0].encrypted_content
    assert open_reasoning(done.encrypted_content) == "think hard"
    # each item's events name it by id and index
    message_id = final.output[1].id
    assert {e.item_id for e in by_type["response.output_text.delta"]} == {message_id}
    assert {e.output_index for e in by_type["response.output_text.delta"]} == {1}


def test_stream_wire_format(emu: WireEmulator) -> None:
    response, raw = post(emu, "/v1/responses", {"model": "m", "input": "hello there", "stream": True})
    assert response.status == 200
    assert response.getheader("content-type", "").startswith("text/event-stream")
    assert response.getheader("transfer-encoding") == "chunked"
    events = sse(raw)
    assert all(name == data["type"] for name, data in events)  # `event:` line and JSON type agree
    assert b"[DONE]" not in raw
    assert events[-1][0] == "response.completed"
    assert events[-1][1]["response"]["output"][0]["content"][0]["text"] == "Echo: hello there"


def test_the_sdk_stream_helper_assembles_the_same_response(emu: WireEmulator, client: openai.OpenAI) -> None:
    def reply() -> Reply:
        return Reply("Paris it is", reasoning="easy", tool_calls=[("get_weather", {"city": "Paris"})],
                     prompt_tokens=9)

    emu.script(reply(), reply())
    whole = client.responses.create(model="o3", input="x", include=[ENCRYPTED_INCLUDE])
    with client.responses.stream(model="o3", input="x", include=[ENCRYPTED_INCLUDE]) as stream:
        streamed = stream.get_final_response()
    assert streamed.output_text == whole.output_text == "Paris it is"
    assert [i.type for i in streamed.output] == [i.type for i in whole.output]
    assert streamed.output[0].encrypted_content == whole.output[0].encrypted_content  # type: ignore[union-attr]
    assert streamed.usage == whole.usage


async def test_async_stream_of_an_incomplete_response(emu: WireEmulator, aclient: openai.AsyncOpenAI) -> None:
    emu.script(Reply("truncated answ", finish_reason="length"))
    stream = await aclient.responses.create(model="m", input="x", stream=True)
    types = [event.type async for event in stream]
    assert types[-1] == "response.incomplete" and "response.completed" not in types
    final = emu.requests[-1]
    assert final.body["stream"] is True


async def test_async_whole(emu: WireEmulator, aclient: openai.AsyncOpenAI) -> None:
    emu.script(Reply.tool_call("lookup", {"q": "x"}, text="checking"))
    response = await aclient.responses.create(model="m", input="x")
    assert [i.type for i in response.output] == ["message", "function_call"]


# --------------------------------------------------------------------------------------------
# structured output
# --------------------------------------------------------------------------------------------


class City(BaseModel):
    name: str
    population: int
    tags: list[str]


def _json_schema_format() -> Any:
    return {"format": {"type": "json_schema", "name": "City", "schema": City.model_json_schema(), "strict": True}}


def test_structured_default_answer(emu: WireEmulator, client: openai.OpenAI) -> None:
    response = client.responses.create(model="m", input="a city", text=_json_schema_format())
    assert City.model_validate_json(response.output_text) == City(name="example", population=1, tags=["example"])
    assert client.responses.create(model="m", input="x", text={"format": {"type": "json_object"}}).output_text == "{}"


def test_structured_empty_scripted_answer_is_filled(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Reply(reasoning="thinking about cities", prompt_tokens=7), Reply('{"name": "Oslo"}'))
    filled = client.responses.create(model="o3", input="a city", text=_json_schema_format())
    assert [i.type for i in filled.output] == ["reasoning", "message"]
    assert City.model_validate_json(filled.output_text).population == 1
    assert filled.usage is not None and filled.usage.input_tokens == 7  # the rest of the script stays
    kept = client.responses.create(model="m", input="a city", text=_json_schema_format())
    assert kept.output_text == '{"name": "Oslo"}'  # scripted text is never replaced


def test_structured_through_sdk_parse(emu: WireEmulator, client: openai.OpenAI) -> None:
    parsed = client.responses.parse(model="m", input="a city", text_format=City)
    assert isinstance(parsed.output_parsed, City)
    assert emu.requests[-1].body["text"]["format"]["type"] == "json_schema"


# --------------------------------------------------------------------------------------------
# input the API would refuse
# --------------------------------------------------------------------------------------------


def test_round_trip_of_output_items_is_accepted(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Reply(reasoning="look it up", tool_calls=[("get_weather", {"city": "Oslo"})]), Reply("3 degrees"))
    first = client.responses.create(model="o3", input="weather in Oslo?", tools=[TOOL], store=False,
                                    include=[ENCRYPTED_INCLUDE])
    call = first.output[1]
    assert isinstance(call, ResponseFunctionToolCall)
    history: list[Any] = [{"role": "user", "content": "weather in Oslo?"},
                          *(item.to_dict() for item in first.output),
                          {"type": "function_call_output", "call_id": call.call_id, "output": '{"temp_c": 3}'}]
    final = client.responses.create(model="o3", input=history, tools=[TOOL], store=False,
                                    include=[ENCRYPTED_INCLUDE])
    assert final.output_text == "3 degrees"
    sent = emu.requests[-1].body["input"]
    assert [item.get("type", "message") for item in sent] == ["message", "reasoning", "function_call",
                                                              "function_call_output"]
    # the tool output counts as input words: 3 of the question and 2 of the output
    assert final.usage is not None and final.usage.input_tokens == 5


def test_function_call_output_without_its_call_is_refused(emu: WireEmulator, client: openai.OpenAI) -> None:
    orphan: Any = [{"type": "function_call_output", "call_id": "call_nowhere", "output": "x"}]
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="m", input=orphan)
    assert "call_nowhere" in info.value.message and info.value.param == "input"
    # chained on a stored response, the call lives server-side
    chained = client.responses.create(model="m", input=orphan, previous_response_id="resp_emu_1")
    assert chained.status == "completed" and chained.previous_response_id == "resp_emu_1"


def test_reasoning_items_must_be_sealed_by_the_emulator(emu: WireEmulator, client: openai.OpenAI) -> None:
    forged: Any = [{"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAAAforged"},
                   {"role": "user", "content": "x"}]
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="o3", input=forged)
    assert info.value.code == "invalid_encrypted_content"
    tampered = seal_reasoning("genuine")[:-4] + "AAAA"
    forged[0]["encrypted_content"] = tampered
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="o3", input=forged)
    forged[0]["encrypted_content"] = seal_reasoning("genuine")
    assert client.responses.create(model="o3", input=forged).status == "completed"


def test_unsealed_reasoning_without_store_is_not_found(emu: WireEmulator, client: openai.OpenAI) -> None:
    bare: Any = [{"type": "reasoning", "id": "rs_9", "summary": []}, {"role": "user", "content": "x"}]
    with pytest.raises(openai.NotFoundError) as info:
        client.responses.create(model="o3", input=bare, store=False)
    assert "rs_9" in info.value.message and "store" in info.value.message
    assert client.responses.create(model="o3", input=bare).status == "completed"  # stored: looked up by id


def test_a_request_without_model_is_refused(emu: WireEmulator) -> None:
    response, raw = post(emu, "/v1/responses", {"input": "x"})
    assert response.status == 400
    assert json.loads(raw)["error"]["param"] == "model"


# --------------------------------------------------------------------------------------------
# faults
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "exc"), [(400, openai.BadRequestError), (401, openai.AuthenticationError),
                                             (404, openai.NotFoundError), (429, openai.RateLimitError),
                                             (500, openai.InternalServerError)])
@pytest.mark.parametrize("stream", [False, True])
def test_status_faults(emu: WireEmulator, client: openai.OpenAI, status: int, exc: type[Exception],
                       stream: bool) -> None:
    emu.script(Fault(status))
    with pytest.raises(exc) as info:
        client.responses.create(model="m", input="x", stream=stream)
    assert isinstance(info.value, openai.APIStatusError) and info.value.status_code == status


def test_fault_headers_and_codes(emu: WireEmulator) -> None:
    emu.script(Fault(429, code="insufficient_quota", retry_after="3"))
    response, raw = post(emu, "/v1/responses", {"model": "m", "input": "x"})
    assert response.status == 429 and response.getheader("retry-after") == "3"
    assert json.loads(raw)["error"]["code"] == "insufficient_quota"


def test_stream_error_event(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Fault(stream_error={"code": "server_error", "message": "overloaded mid-stream"}))
    with client.responses.create(model="m", input="x", stream=True) as stream:
        events = list(stream)
    assert [e.type for e in events] == ["response.created", "response.in_progress", "response.output_item.added",
                                        "response.content_part.added", "response.output_text.delta", "error"]
    error = events[-1]
    assert error.type == "error"
    assert (error.code, error.message, error.param) == ("server_error", "overloaded mid-stream", None)
    assert error.sequence_number == 5


def test_stream_error_falls_back_to_the_type_as_code(emu: WireEmulator) -> None:
    emu.script(Fault(stream_error={"type": "rate_limit_exceeded", "message": "slow down"}))
    _, raw = post(emu, "/v1/responses", {"model": "m", "input": "x", "stream": True})
    name, data = sse(raw)[-1]
    assert name == "error" and data["code"] == "rate_limit_exceeded" and data["message"] == "slow down"


def test_stream_error_on_a_whole_request_is_a_status_error(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Fault(503, stream_error={"message": "busy", "type": "server_error"}))
    with pytest.raises(openai.InternalServerError):
        client.responses.create(model="m", input="x")


def test_malformed(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Fault(malformed=True), Fault(malformed=True))
    with pytest.raises((ValueError, openai.APIError)):
        client.responses.create(model="m", input="x")
    received = []
    with pytest.raises((ValueError, openai.APIError)), client.responses.create(
            model="m", input="x", stream=True) as stream:
        for event in stream:
            received.append(event.type)
    assert received[0] == "response.created" and len(received) == 5


def test_drop_mid_stream(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Fault(drop_after_events=3))
    received = []
    with pytest.raises(openai.APIConnectionError), client.responses.create(
            model="m", input="x", stream=True) as stream:
        for event in stream:
            received.append(event.type)
    assert received == ["response.created", "response.in_progress", "response.output_item.added"]
    emu.script(Fault(drop_after_events=0))
    with pytest.raises(openai.APIConnectionError):
        client.responses.create(model="m", input="x")
    assert client.responses.create(model="m", input="x").status == "completed"  # still serving


# --------------------------------------------------------------------------------------------
# POST /v1/responses/input_tokens
# --------------------------------------------------------------------------------------------


def test_input_tokens_counts_instructions_input_and_tools(emu: WireEmulator, client: openai.OpenAI) -> None:
    plain = client.responses.input_tokens.count(model="gpt-4.1", input="one two three", instructions="be nice")
    assert (plain.object, plain.input_tokens) == ("response.input_tokens", 5)
    with_tools = client.responses.input_tokens.count(model="gpt-4.1", input="one two three", instructions="be nice",
                                                     tools=[TOOL])
    assert with_tools.input_tokens == 5 + len(json.dumps(TOOL, separators=(",", ":")).split())
    # without tools the count is what a response to the same request reports
    usage = client.responses.create(model="gpt-4.1", input="one two three", instructions="be nice").usage
    assert usage is not None and usage.input_tokens == plain.input_tokens
    assert emu.hits("/responses/input_tokens") == 2 and emu.hits("/responses") == 1


def test_input_tokens_is_scripted(emu: WireEmulator, client: openai.OpenAI) -> None:
    emu.script(Reply(prompt_tokens=1234), Fault(429, retry_after="1"), Reply("unused text"))
    assert client.responses.input_tokens.count(model="m", input="x").input_tokens == 1234
    with pytest.raises(openai.RateLimitError):
        client.responses.input_tokens.count(model="m", input="x")
    assert client.responses.input_tokens.count(model="m", input="x y").input_tokens == 2
    assert emu.pending == 0


# --------------------------------------------------------------------------------------------
# POST /v1/messages/count_tokens (Anthropic)
# --------------------------------------------------------------------------------------------


@pytest.fixture
def claude(emu: WireEmulator) -> Iterator[anthropic.Anthropic]:
    c = anthropic.Anthropic(api_key="sk-ant-test", base_url=emu.anthropic_base_url, max_retries=0)
    yield c
    c.close()


def test_anthropic_count_tokens(emu: WireEmulator, claude: anthropic.Anthropic) -> None:
    messages: Any = [{"role": "user", "content": "count these four words"}]
    plain = claude.messages.count_tokens(model="claude-sonnet-4-6", messages=messages, system="be brief")
    assert plain.input_tokens == 6
    tool: Any = {"name": "get_weather", "description": "Weather of a city",
                 "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
    with_tools = claude.messages.count_tokens(model="claude-sonnet-4-6", messages=messages, system="be brief",
                                              tools=[tool])
    assert with_tools.input_tokens == 6 + len(json.dumps(tool, separators=(",", ":")).split())
    message = claude.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=messages, system="be brief")
    assert message.usage.input_tokens == plain.input_tokens  # what generate reports, without tools
    assert emu.hits("/v1/messages/count_tokens") == 2 and emu.hits("/v1/messages") == 1


def test_anthropic_count_tokens_is_scripted(emu: WireEmulator, claude: anthropic.Anthropic) -> None:
    emu.script(Reply(prompt_tokens=77), Fault(529))
    messages: Any = [{"role": "user", "content": "x"}]
    assert claude.messages.count_tokens(model="claude-sonnet-4-6", messages=messages).input_tokens == 77
    with pytest.raises(anthropic.APIStatusError) as info:
        claude.messages.count_tokens(model="claude-sonnet-4-6", messages=messages)
    assert info.value.status_code == 529 and info.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    assert (info.value.response.headers.get("request-id") or "").startswith("req_emu_")


# --------------------------------------------------------------------------------------------
# POST .../models/{model}:countTokens (Gemini API and Vertex AI)
# --------------------------------------------------------------------------------------------


def test_gemini_count_tokens_through_the_sdk(emu: WireEmulator) -> None:
    client = genai.Client(api_key="gemini-test-key",
                          http_options=genai_types.HttpOptions(base_url=emu.gemini_base_url, api_version="v1beta"))
    assert client.models.count_tokens(model="gemini-2.5-flash", contents="one two three").total_tokens == 3
    emu.script(Reply(prompt_tokens=321))
    assert client.models.count_tokens(model="gemini-2.5-flash", contents="anything").total_tokens == 321
    assert emu.requests[-1].path == "/v1beta/models/gemini-2.5-flash:countTokens"


GEMINI_REQUEST: dict[str, Any] = {
    "contents": [{"role": "user", "parts": [{"text": "count these four words"}]}],
    "systemInstruction": {"parts": [{"text": "be brief"}]},
    "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "Weather of a city"}]}],
}
GEMINI_TOOL_WORDS = len(json.dumps(GEMINI_REQUEST["tools"][0], separators=(",", ":")).split())


@pytest.mark.parametrize(("path", "body", "vertex"), [
    ("/v1beta/models/gemini-2.5-flash:countTokens",
     {"generateContentRequest": {"model": "models/gemini-2.5-flash", **GEMINI_REQUEST}}, False),
    ("/v1beta1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:countTokens",
     GEMINI_REQUEST, True),
])
def test_gemini_count_tokens_wrapped_and_top_level(emu: WireEmulator, path: str, body: dict[str, Any],
                                                   vertex: bool) -> None:
    response, raw = post(emu, path, body, {"x-goog-api-key": "k"})
    assert response.status == 200
    counted = json.loads(raw)
    assert counted["totalTokens"] == 6 + GEMINI_TOOL_WORDS
    assert counted["promptTokensDetails"] == [{"modality": "TEXT", "tokenCount": counted["totalTokens"]}]
    assert ("totalBillableCharacters" in counted) is vertex
    # without tools, the count is what generateContent reports
    plain = {k: v for k, v in GEMINI_REQUEST.items() if k != "tools"}
    _, raw = post(emu, path, {"generateContentRequest": plain} if not vertex else plain, {"x-goog-api-key": "k"})
    _, generated = post(emu, path.replace(":countTokens", ":generateContent"), plain, {"x-goog-api-key": "k"})
    assert json.loads(raw)["totalTokens"] == json.loads(generated)["usageMetadata"]["promptTokenCount"] == 6


def test_gemini_count_tokens_faults_and_empty(emu: WireEmulator) -> None:
    path = "/v1beta/models/gemini-2.5-flash:countTokens"
    emu.script(Fault(429))
    response, raw = post(emu, path, {"contents": []}, {"x-goog-api-key": "k"})
    assert response.status == 429 and json.loads(raw)["error"]["status"] == "RESOURCE_EXHAUSTED"
    response, raw = post(emu, path, {"contents": []}, {"x-goog-api-key": "k"})
    assert response.status == 200 and json.loads(raw) == {}  # nothing to count: totalTokens left out
    response, _ = post(emu, path, {"contents": []})
    assert response.status == 403  # no credential
