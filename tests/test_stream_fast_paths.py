"""The per-event shortcuts of a stream give exactly what the long ways give.

- `SSEDecoder.lines` (many lines, no call per line) against `SSEDecoder.line` line by line;
- `SSEDecoder.datas` (the data alone, no event objects) against the events `lines` gives, and the data batches
  of a response against its event batches, errors included;
- bytes to lines (`\r\n` endings replaced at once) against the line-by-line way they replace;
- `text_delta` against `TextDeltaEvent(delta=...)`, state for state;
- `ChunkDecoder.decode`'s scanner shortcut against `decode_chunk`, answers and errors;
- the chat, Anthropic and Gemini assemblers noting the service tier themselves against the `ObservedAssembler`
  wrapper, on every recorded stream of theirs and on events naming a tier.
"""

from __future__ import annotations

import copy
import json
import pickle
import random
from typing import Any

import httpx2
import pytest
from test_finish_fast_path import _decoder, _provider, _stream_items
from wire_sample_server import load_samples

from agentos_llm.errors import MalformedResponseError
from agentos_llm.providers.http_bodies import _Kept, _Lines, iter_data_batches, iter_event_batches
from agentos_llm.response_metadata import ObservedAssembler, observed
from agentos_llm.types import TextDeltaEvent
from agentos_llm.types_events import text_delta
from agentos_llm.wire.openai_chat_stream import STREAM_END, ChatStreamAssembler, ChunkDecoder, decode_chunk
from agentos_llm.wire.sse import SSEDecoder, iter_sse

_BODIES = [
    "data: one\n\ndata: two\n\n",
    "event: ping\ndata: {}\n\n: keep-alive\n\ndata: a\ndata: b\n\n",
    "event: named-only\n\ndata:\n\ndata:no-space\n\ndata:  two spaces\n\nid: 7\nretry: 10\ndata: x\n\n",
    "data: [DONE]\n\ndata: after\n",  # the last event has no blank line after it
    ":comment only\n\n\n\nevent: e\n",
    "unknown\ndata: y\nevent: late name\n\n",
]


def _line_by_line(lines: list[str]) -> list[Any]:
    decoder = SSEDecoder()
    events = [e for line in lines if (e := decoder.line(line)) is not None]
    last = decoder.flush()
    return events + ([last] if last is not None else [])


def _in_batches(lines: list[str], seed: int) -> list[Any]:
    decoder, rng, events, i = SSEDecoder(), random.Random(seed), [], 0
    while i < len(lines):
        n = rng.randint(0, 4)  # an empty batch too: a piece of body that ended no line
        events += decoder.lines(lines[i:i + n])
        i += n
    last = decoder.flush()
    return events + ([last] if last is not None else [])


def _recorded_bodies() -> list[str]:
    return [s["body"] for s in load_samples() if s["stream"] and s.get("body") and not s.get("body_b64")]


@pytest.mark.parametrize("body", _BODIES)
def test_lines_decodes_what_line_by_line_decodes(body: str) -> None:
    lines = body.split("\n")
    expected = _line_by_line(lines)
    assert expected == list(iter_sse(lines))
    for seed in range(20):
        assert _in_batches(lines, seed) == expected


def test_lines_decodes_every_recorded_stream_as_line_by_line_does() -> None:
    bodies = _recorded_bodies()
    assert len(bodies) >= 10
    for seed, body in enumerate(bodies):
        lines = body.splitlines()
        assert _in_batches(lines, seed) == _line_by_line(lines)


def _datas_in_batches(lines: list[str], seed: int) -> tuple[list[str], bool]:
    decoder, rng, datas, i = SSEDecoder(), random.Random(seed), [], 0
    while i < len(lines):
        n = rng.randint(0, 4)
        datas += decoder.datas(lines[i:i + n])
        i += n
    last = decoder.flush()
    if last is not None:
        if last.data:
            datas.append(last.data)
        else:
            decoder.dispatched_empty = True
    return datas, decoder.dispatched_empty


def _expected_datas(lines: list[str]) -> tuple[list[str], bool]:
    events = _line_by_line(lines)
    return [e.data for e in events if e.data], any(not e.data for e in events)


@pytest.mark.parametrize("body", _BODIES)
def test_datas_gives_the_data_of_the_events_lines_gives(body: str) -> None:
    lines = body.split("\n")
    for seed in range(20):
        assert _datas_in_batches(lines, seed) == _expected_datas(lines)


def test_datas_gives_the_data_of_every_recorded_stream() -> None:
    for seed, body in enumerate(_recorded_bodies()):
        lines = body.splitlines()
        assert _datas_in_batches(lines, seed) == _expected_datas(lines)


def _reference_lines(body: bytes) -> list[str]:
    """Lines as the HTTP readers had them before: split at `\n`, one trailing `\r` dropped from each."""
    lines = body.decode("utf-8").split("\n")
    if lines and not lines[-1]:
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


_LINE_BODIES = [
    b"data: a\r\n\r\ndata: b\r\n\r\n", b"data: a\n\ndata: b\n\n", b"mixed\r\nends\nhere\r\n\r\n",
    b"lone\rinside\r\n", b"double\r\r\n", b"last line without an end\r", b"last\r\r", b"\r\n\r\n\r\n",
    b"\r", b"", b"no end", "multibyte \u00e9\u2028\U0001f600\r\nx\r\n".encode(), b"a\n\r\nb\r\n\n",
]


@pytest.mark.parametrize("body", _LINE_BODIES)
def test_lines_from_bytes_split_anywhere_are_the_reference_lines(body: bytes) -> None:
    expected = _reference_lines(body)
    for seed in range(40):
        rng, got, i = random.Random(seed), [], 0
        lines = _Lines(_Kept(), "p")
        while i < len(body):
            n = rng.randint(1, 5)
            got += lines.feed(body[i:i + n])
            i += n
        got += lines.feed(b"", final=True)
        assert got == expected, (seed, got)


def _response(pieces: list[bytes]) -> httpx2.Response:
    return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=iter(pieces))


def _pieces(body: bytes, seed: int) -> list[bytes]:
    rng, out, i = random.Random(seed), [], 0
    while i < len(body):
        n = rng.randint(1, 64)
        out.append(body[i:i + n])
        i += n
    return out


def _outcome(batches: Any, data_only: bool) -> Any:
    try:
        got = [x for batch in batches for x in batch]
    except MalformedResponseError as exc:
        return type(exc), str(exc)
    return got if data_only else [e.data for e in got if e.data]


@pytest.mark.parametrize("body", [*_BODIES, "event: ping\n\n", "data:\n\n", ": only a comment\n\n", "",
                                  "<html>not a stream</html>", '{"whole": "json"}'])
def test_data_batches_of_a_response_are_its_event_batches_data(body: str) -> None:
    for seed in range(10):
        for data in (body.encode(), body.replace("\n", "\r\n").encode()):
            events = _outcome(iter_event_batches(_response(_pieces(data, seed)), "p"), False)
            datas = _outcome(iter_data_batches(_response(_pieces(data, seed)), "p"), True)
            assert datas == events


def test_data_batches_of_recorded_streams_and_bad_utf8() -> None:
    for seed, body in enumerate(_recorded_bodies()):
        data = body.encode()
        assert (_outcome(iter_data_batches(_response(_pieces(data, seed)), "p"), True)
                == _outcome(iter_event_batches(_response(_pieces(data, seed)), "p"), False))
    bad = [b"data: ok\n\n", b"data: \xff\n\n"]
    assert (_outcome(iter_data_batches(_response(bad), "p"), True)
            == _outcome(iter_event_batches(_response(bad), "p"), False)
            == (MalformedResponseError, "the stream is not UTF-8 (provider=p)"))


@pytest.mark.parametrize("text", ["", "word ", "é ✓ \n multi\nline", "x" * 10_000])
def test_text_delta_is_the_validated_event(text: str) -> None:
    made, validated = text_delta(text), TextDeltaEvent(delta=text)
    for state in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"):
        assert getattr(made, state) == getattr(validated, state)
    assert made == validated and repr(made) == repr(validated)
    assert made.model_dump() == validated.model_dump() and made.model_dump_json() == validated.model_dump_json()
    assert made.model_dump(exclude_unset=True) == validated.model_dump(exclude_unset=True) == {"delta": text}
    assert pickle.loads(pickle.dumps(made)) == validated and copy.deepcopy(made) == validated
    made.delta = "changed"  # its own dict: no other event shares it
    assert text_delta(text).delta == text


@pytest.mark.parametrize("data", [
    '{"id": "c1", "choices": []}', '{"a": "\\u00e9\\ud83d\\ude00", "n": [1, 2.5, null]}',
    '{"a": 1} ', '{"a": 1}\n', '{"a": 1}{"b": 2}', '{"a": 1} trailing', "{", '{"a": }', "{'a': 1}", "[1, 2]",
    "42", "[DONE]", "[DONE] trailing", " {\"a\": 1}", "not json",
])
def test_decode_gives_or_raises_what_decode_chunk_does(data: str) -> None:
    if data.startswith("[DONE]"):  # the end marker, which `decode_chunk` never sees
        decoder = ChunkDecoder("p")
        assert decoder.decode(data) is STREAM_END and decoder.done and decoder.decode('{"a": 1}') is None
        return
    try:
        expected: Any = decode_chunk(data, "p")
    except MalformedResponseError as exc:
        with pytest.raises(MalformedResponseError) as got:
            ChunkDecoder("p").decode(data)
        assert str(got.value) == str(exc)
        return
    assert json.dumps(ChunkDecoder("p").decode(data)) == json.dumps(expected)


def _both_ways(chunks: list[Any], make: Any = None) -> tuple[Any, Any]:
    results = []
    for wrap in (observed, ObservedAssembler):
        assembler = wrap(make() if make else ChatStreamAssembler(provider="p", model="m"))
        try:
            events = [e for c in copy.deepcopy(chunks) for e in assembler.feed(c)]
            tail, response = assembler.finish()
            results.append((events, tail, response, response.metadata.service_tier))
        except Exception as exc:  # a stream ending in an error event: both ways raise the same
            results.append((type(exc), str(exc)))
    return results[0], results[1]


def test_the_chat_assembler_notes_the_tier_itself() -> None:
    assembler = ChatStreamAssembler(provider="p", model="m")
    assert observed(assembler) is assembler


@pytest.mark.parametrize("kind", ["openai-chat", "anthropic-messages", "gemini-generate"])
def test_every_recorded_stream_assembles_the_same_unwrapped(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # These assemblers note the service tier themselves (a call less per chunk): what the wrapper noted, they do.
    import agentos_llm.wire.gemini_response as gemini_response

    p, model = _provider(kind, monkeypatch)
    monkeypatch.setattr(gemini_response, "new_tool_call_id", lambda: "call_made_here")  # the same both ways
    call = p._make_call(model, [{"role": "user", "content": "hi"}], {}, stream=True)
    assert observed(p._stream_assembler(call)) is not None
    assert not isinstance(observed(p._stream_assembler(call)), ObservedAssembler)
    samples = [s for s in load_samples() if s["kind"] == kind and s["stream"] and s["status"] == 200]
    assert samples
    for sample in samples:
        decode = _decoder(kind, p.provider_id)
        chunks = [c for name, data in _stream_items(sample) if (c := decode(name, data)) is not None]
        itself, wrapped = _both_ways(chunks, lambda: p._stream_assembler(call))
        assert itself == wrapped


@pytest.mark.parametrize("tier", ["standard", "priority", "batch"])
def test_anthropic_streams_name_their_tier_as_through_the_wrapper(tier: str) -> None:
    from agentos_llm.wire.anthropic_stream import MessagesStreamAssembler

    events = [
        {"type": "message_start", "message": {"id": "m", "model": "c", "usage": {"input_tokens": 3,
                                                                                  "service_tier": "standard"}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
         "usage": {"output_tokens": 1, "service_tier": tier}},
        {"type": "message_stop"},
    ]
    itself, wrapped = _both_ways(events, lambda: MessagesStreamAssembler(model="c"))
    assert itself == wrapped and itself[3] == tier


@pytest.mark.parametrize("tiers", [
    [("top", "default"), ("top", "default")],
    [("top", "auto"), ("usage", "priority")],  # the usage chunk names the tier that served it: the last wins
    [("none", None), ("usage", "flex")],
    [("top", ""), ("none", None)],  # an empty tier is no tier
    [("top", 7), ("none", None)],  # nor is a tier that is not a string
])
def test_a_named_tier_reaches_the_metadata_as_through_the_wrapper(tiers: list[tuple[str, Any]]) -> None:
    chunks: list[Any] = []
    for where, tier in tiers:
        chunk: dict[str, Any] = {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "hi "}}]}
        if where == "top":
            chunk["service_tier"] = tier
        elif where == "usage":
            chunk["usage"] = {"prompt_tokens": 1, "completion_tokens": 2, "service_tier": tier}
        chunks.append(chunk)
    chunks.append({"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    itself, wrapped = _both_ways(chunks)
    assert itself == wrapped
    named = [t for _, t in tiers if isinstance(t, str) and t]
    assert itself[3] == (named[-1] if named else None)


@pytest.mark.parametrize("delta", [
    {"content": "plain"}, {"role": "assistant", "content": "with a role"}, {"content": ""}, {"content": None},
    {"content": "<think>why</think>answer"}, {"reasoning_content": "why", "content": "then"},
    {"content": [{"type": "text", "text": "parts"}]},
    {"content": "and a call", "tool_calls": [{"index": 0, "id": "t1", "function": {"name": "f", "arguments": "{}"}}]},
])
@pytest.mark.parametrize("think_tags", [False, True])
def test_the_plain_text_shortcut_gives_what_the_general_path_gives(delta: dict[str, Any], think_tags: bool) -> None:
    # The shortcut takes a delta of text alone; the same text with a role beside it takes the general path.
    def run(d: dict[str, Any]) -> Any:
        assembler = ChatStreamAssembler(provider="p", model="m", wire={"think_tags": think_tags})
        events = [e for c in ({"id": "c", "choices": [{"index": 0, "delta": d}]},
                              {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                  for e in assembler.feed(c)]
        tail, response = assembler.finish()
        return [e.model_dump() for e in [*events, *tail]], response.model_dump()

    general = {**delta, "role": "assistant"} if "role" not in delta else delta
    assert run(delta) == run(general)
