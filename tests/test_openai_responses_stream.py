"""The Responses stream assembler and SSE event decoder: events out, and the same response as a whole answer."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest

from agentos_llm.errors import (
    APIConnectionError,
    InvalidRequestError,
    MalformedResponseError,
    RateLimitError,
    ServerError,
)
from agentos_llm.types import (
    CompletionResponse,
    FinishReason,
    ReasoningDeltaEvent,
    StreamEvent,
    TextDeltaEvent,
    ToolCall,
    ToolCallDeltaEvent,
    ToolCallEvent,
    UsageEvent,
)
from agentos_llm.wire.openai_responses import parse_response
from agentos_llm.wire.openai_responses_stream import EventDecoder, ResponsesStreamAssembler
from agentos_llm.wire.sse import iter_sse

USAGE = {"input_tokens": 20, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 30,
         "output_tokens_details": {"reasoning_tokens": 12}, "total_tokens": 50}
REASONING = {"type": "reasoning", "id": "rs_1", "encrypted_content": "ZW5j",
             "summary": [{"type": "summary_text", "text": "Think A."}, {"type": "summary_text", "text": "Think B."}]}
MESSAGE = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
           "content": [{"type": "output_text", "text": "Hello world", "annotations": [
               {"type": "url_citation", "url": "https://e.example", "title": "E", "start_index": 0,
                "end_index": 5}]}]}
CALL = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
        "arguments": '{"city":"Paris"}', "status": "completed"}


def head(kind: str = "response.created") -> dict[str, Any]:
    return {"type": kind, "response": {"id": "resp_1", "model": "gpt-5", "status": "in_progress", "output": []}}


def terminal(output: list[Any], kind: str = "response.completed", status: str = "completed",
             **fields: Any) -> dict[str, Any]:
    return {"type": kind, "response": {"id": "resp_1", "model": "gpt-5", "status": status, "output": output,
                                       "usage": USAGE, **fields}}


def added(index: int, item: dict[str, Any]) -> dict[str, Any]:
    empty = {**item, "content": [], "summary": []} if item["type"] in ("message", "reasoning") else dict(item)
    if item["type"] == "function_call":
        empty["arguments"] = ""
    return {"type": "response.output_item.added", "output_index": index, "item": empty}


def done(index: int, item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "response.output_item.done", "output_index": index, "item": item}


def full_stream() -> list[dict[str, Any]]:
    """Reasoning in two summary parts, text split across events, arguments split mid-token, as OpenAI sends."""
    return [
        head(), head("response.in_progress"),
        added(0, REASONING),
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 0, "delta": "Think "},
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 0, "delta": "A."},
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 1, "delta": "Think B."},
        done(0, REASONING),
        added(1, MESSAGE),
        {"type": "response.content_part.added", "output_index": 1, "content_index": 0,
         "part": {"type": "output_text", "text": "", "annotations": []}},
        {"type": "response.output_text.delta", "output_index": 1, "content_index": 0, "delta": "Hel"},
        {"type": "response.output_text.delta", "output_index": 1, "content_index": 0, "delta": "lo world"},
        {"type": "response.output_text.done", "output_index": 1, "content_index": 0, "text": "Hello world"},
        done(1, MESSAGE),
        added(2, CALL),
        {"type": "response.function_call_arguments.delta", "output_index": 2, "delta": '{"ci'},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": 'ty":"Paris"}'},
        {"type": "response.function_call_arguments.done", "output_index": 2, "arguments": CALL["arguments"]},
        done(2, CALL),
        terminal([REASONING, MESSAGE, CALL]),
    ]


def run(chunks: Iterable[Any], provider: str = "openai") -> tuple[list[StreamEvent], CompletionResponse]:
    assembler = ResponsesStreamAssembler(provider=provider, model="requested")
    events: list[StreamEvent] = []
    for chunk in chunks:
        events.extend(assembler.feed(chunk))
    tail, resp = assembler.finish()
    events.extend(tail)
    return events, resp


def texts(events: list[StreamEvent]) -> str:
    return "".join(e.delta for e in events if isinstance(e, TextDeltaEvent))


def thoughts(events: list[StreamEvent]) -> str:
    return "".join(e.delta for e in events if isinstance(e, ReasoningDeltaEvent))


def same_as_whole(resp: CompletionResponse, whole: dict[str, Any]) -> None:
    expected = parse_response(whole, provider="openai", model="requested")
    for field in ("id", "model", "text", "reasoning", "tool_calls", "finish_reason", "raw_finish_reason", "usage",
                  "server_tool_calls", "citations"):
        assert getattr(resp, field) == getattr(expected, field), field
    assert resp.message == expected.message


def test_a_full_stream() -> None:
    chunks = full_stream()
    events, resp = run(chunks)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["ReasoningDeltaEvent"] * 3 + ["TextDeltaEvent"] * 2 + ["ToolCallDeltaEvent"] * 3 + [
        "ToolCallEvent", "UsageEvent"]
    assert [e.delta for e in events if isinstance(e, TextDeltaEvent)] == ["Hel", "lo world"]
    assert thoughts(events) == "Think A.\n\nThink B." == resp.reasoning
    deltas = [e for e in events if isinstance(e, ToolCallDeltaEvent)]
    assert (deltas[0].index, deltas[0].id, deltas[0].name) == (0, "call_1", "get_weather")
    assert "".join(d.arguments_delta for d in deltas) == CALL["arguments"]
    call = ToolCall(id="call_1", name="get_weather", arguments={"city": "Paris"})
    assert [e for e in events if isinstance(e, ToolCallEvent)] == [ToolCallEvent(index=0, tool_call=call)]
    usage = next(e for e in events if isinstance(e, UsageEvent)).usage
    assert (usage.input_tokens, usage.cached_input_tokens, usage.reasoning_tokens) == (20, 4, 12)
    assert resp.text == texts(events) == "Hello world"
    assert resp.finish_reason is FinishReason.TOOL_CALLS and resp.id == "resp_1" and resp.model == "gpt-5"
    assert [c.url for c in resp.citations] == ["https://e.example"]
    same_as_whole(resp, chunks[-1]["response"])


def test_a_host_without_done_items_is_assembled_from_deltas() -> None:
    chunks = [c for c in full_stream() if c["type"] != "response.output_item.done"]
    chunks[-1] = terminal([])  # nor a copy of the output at the end
    chunks.insert(-1, {"type": "response.output_text.annotation.added", "output_index": 1, "content_index": 0,
                       "annotation": MESSAGE["content"][0]["annotations"][0]})
    events, resp = run(chunks)
    assert resp.text == "Hello world" and resp.reasoning == "Think A.\n\nThink B."
    assert resp.tool_calls == [ToolCall(id="call_1", name="get_weather", arguments={"city": "Paris"})]
    assert [e.tool_call for e in events if isinstance(e, ToolCallEvent)] == resp.tool_calls
    assert [c.url for c in resp.citations] == ["https://e.example"]
    assert [b.type for b in resp.message.vendor_blocks] == ["reasoning", "message", "function_call"]
    assert resp.message.vendor_blocks[0].data["summary"] == REASONING["summary"]


def test_a_host_sending_only_the_terminal_event() -> None:
    events, resp = run([head(), terminal([REASONING, MESSAGE, CALL])])
    assert texts(events) == resp.text == "Hello world"
    assert thoughts(events) == resp.reasoning
    assert [e.tool_call for e in events if isinstance(e, ToolCallEvent)] == resp.tool_calls
    same_as_whole(resp, terminal([REASONING, MESSAGE, CALL])["response"])


def test_done_items_without_text_deltas_still_give_every_delta() -> None:
    chunks = [head(), added(0, MESSAGE), done(0, MESSAGE), terminal([MESSAGE])]
    events, resp = run(chunks)
    assert texts(events) == resp.text == "Hello world"


def test_reasoning_text_deltas_and_item_ids() -> None:
    readable = {"type": "reasoning", "id": "rs_9", "summary": [],
                "content": [{"type": "reasoning_text", "text": "Hmm, yes."}]}
    chunks = [head(), added(0, readable),
              {"type": "response.reasoning_text.delta", "item_id": "rs_9", "content_index": 0, "delta": "Hmm, "},
              {"type": "response.reasoning_text.delta", "item_id": "rs_9", "content_index": 0, "delta": "yes."},
              terminal([])]
    events, resp = run(chunks)
    assert thoughts(events) == resp.reasoning == "Hmm, yes."
    assert resp.message.vendor_blocks[0].data["content"] == readable["content"]


@pytest.mark.parametrize(("kind", "status", "extra", "finish", "raw"), [
    ("response.incomplete", "incomplete", {"incomplete_details": {"reason": "max_output_tokens"}},
     FinishReason.LENGTH, "max_output_tokens"),
    ("response.incomplete", "incomplete", {"incomplete_details": {"reason": "content_filter"}},
     FinishReason.CONTENT_FILTER, "content_filter"),
    ("response.failed", "failed", {"error": {"code": "server_error", "message": "boom"}}, FinishReason.ERROR,
     "failed"),
])
def test_incomplete_and_failed_streams_end_with_a_response(kind: str, status: str, extra: dict[str, Any],
                                                           finish: FinishReason, raw: str) -> None:
    partial = {**MESSAGE, "status": "incomplete"}
    chunks = [head(), added(0, MESSAGE),
              {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "Hello world"},
              done(0, partial), terminal([partial], kind=kind, status=status, **extra)]
    _, resp = run(chunks)
    assert (resp.finish_reason, resp.raw_finish_reason, resp.text) == (finish, raw, "Hello world")
    same_as_whole(resp, chunks[-1]["response"])


@pytest.mark.parametrize(("event", "error"), [
    ({"type": "error", "code": "rate_limit_exceeded", "message": "Slow down", "param": None}, RateLimitError),
    ({"type": "error", "error": {"type": "invalid_request_error", "code": "bad", "message": "No"}},
     InvalidRequestError),
    ({"type": "error", "code": "server_error", "message": "Try again"}, ServerError),
])
def test_an_error_event_raises_the_typed_error(event: dict[str, Any], error: type[Exception]) -> None:
    assembler = ResponsesStreamAssembler(provider="openai", model="m")
    assembler.feed(head())
    with pytest.raises(error) as info:
        assembler.feed(event)
    assert info.value.message in ("Slow down", "No", "Try again")  # type: ignore[attr-defined]


@pytest.mark.parametrize("chunk", [
    [1, 2],
    {"delta": "no type"},
    {"type": "response.output_text.delta", "output_index": 0, "delta": 5},
    {"type": "response.output_text.delta", "delta": "names no item"},
    {"type": "response.output_item.added", "output_index": 0},
    {"type": "response.completed"},
])
def test_malformed_chunks(chunk: Any) -> None:
    assembler = ResponsesStreamAssembler(provider="openai", model="m")
    with pytest.raises(MalformedResponseError):
        assembler.feed(chunk)


def test_a_stream_cut_short_is_a_connection_error() -> None:
    assembler = ResponsesStreamAssembler(provider="openai", model="m")
    assembler.feed(head())
    assembler.feed({"type": "response.output_text.delta", "output_index": 0, "delta": "Hel"})
    with pytest.raises(APIConnectionError):
        assembler.finish()


def test_calls_without_ids_get_one_id_everywhere() -> None:
    bare = {"type": "function_call", "name": "ping", "arguments": "{}"}
    events, resp = run([head(), added(0, bare), done(0, bare), terminal([bare])])
    announced = next(e for e in events if isinstance(e, ToolCallDeltaEvent)).id
    assert announced and [e.tool_call.id for e in events if isinstance(e, ToolCallEvent)] == [announced]
    assert [c.id for c in resp.tool_calls] == [announced]


def test_custom_tool_call_input_streams() -> None:
    custom = {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_c", "name": "shell", "input": ""}
    chunks = [head(), added(0, custom),
              {"type": "response.custom_tool_call_input.delta", "output_index": 0, "delta": "ls "},
              {"type": "response.custom_tool_call_input.delta", "output_index": 0, "delta": "-la"},
              terminal([])]
    events, resp = run(chunks)
    assert resp.tool_calls == [ToolCall(id="call_c", name="shell", arguments={}, arguments_raw="ls -la")]
    assert [e.tool_call for e in events if isinstance(e, ToolCallEvent)] == resp.tool_calls


def test_hosted_tool_progress_events_are_quiet() -> None:
    search = {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search",
                                                                                          "query": "q"}}
    chunks = [head(), added(0, {**search, "status": "in_progress"}),
              {"type": "response.web_search_call.searching", "output_index": 0, "item_id": "ws_1"},
              done(0, search), terminal([search])]
    events, resp = run(chunks)
    assert [type(e) for e in events] == [UsageEvent]
    assert [(c.type, c.status) for c in resp.server_tool_calls] == [("web_search_call", "completed")]


# ---------------------------------------------------------------------- SSE decoding


def decode_all(raw: str) -> list[Any]:
    decoder = EventDecoder("openrouter")
    out = [decoder.decode(e.event, e.data) for e in iter_sse(raw.splitlines())]
    return [c for c in out if c is not None]


def test_event_lines_name_the_type_when_the_json_does_not() -> None:
    raw = ('event: response.created\ndata: {"response": {"id": "r"}}\n\n'
           'data: {"type": "response.in_progress", "response": {}}\nevent: ignored.name\n\n'
           ": keep-alive\n\n"
           "data: [DONE]\n\n"
           'data: {"type": "after the end"}\n\n')
    assert decode_all(raw) == [{"response": {"id": "r"}, "type": "response.created"},
                               {"type": "response.in_progress", "response": {}}]


def test_an_event_that_is_not_json_is_malformed() -> None:
    with pytest.raises(MalformedResponseError):
        decode_all("data: {not json\n\n")


def test_a_recorded_style_stream_end_to_end() -> None:
    raw = "".join(f"event: {c['type']}\ndata: {json.dumps(c)}\n\n" for c in full_stream()) + "data: [DONE]\n\n"
    events, resp = run(decode_all(raw))
    assert resp.text == texts(events) == "Hello world" and resp.tool_calls[0].id == "call_1"
