"""A finished response is the same whichever way it was finished.

With the default `get_response_metadata`, `IProvider._finish` computes the metadata's values and packs them
without building the metadata (`response_metadata.completed_values`); with an overridden hook it builds the
metadata, hands it to the hook and packs that. Here every recorded whole answer of every chat API (and an
emulator stream per API) goes both ways, with and without response headers, and the results must match field
for field: values, fields set, private state, what is stored packed, and the dump.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from typing import Any

import pytest
from wire_sample_server import load_samples

from agentos_llm import create_provider
from agentos_llm.provider import IProvider
from agentos_llm.response_pack import BUILDERS, construct, is_stored
from agentos_llm.types import CompletionResponse, Message, ResponseMetadata, Usage, VendorBlock
from agentos_llm.wire.sse import iter_sse

_URL = "http://127.0.0.1:9"
_PROVIDERS: dict[str, tuple[dict[str, Any], str]] = {
    "openai-chat": ({"provider_id": "openai", "api_key": "k", "base_url": _URL + "/v1"}, "gpt-4o"),
    "openai-responses": ({"provider_id": "openai", "api": "responses", "api_key": "k", "base_url": _URL + "/v1"},
                         "gpt-4o"),
    "anthropic-messages": ({"provider_id": "anthropic", "api_key": "k", "base_url": _URL}, "claude-sonnet-4-5"),
    "gemini-generate": ({"provider_id": "gemini", "api_key": "k", "base_url": _URL}, "gemini-2.5-flash"),
    "bedrock-converse": ({"provider_id": "bedrock", "region": "us-east-1", "base_url": _URL},
                         "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    "cohere-chat": ({"provider_id": "cohere", "api_key": "k", "base_url": _URL}, "command-a-03-2025"),
}
_HEADERS = {"content-type": "application/json", "x-request-id": "req_from_headers", "openai-processing-ms": "12",
            "x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "499",
            "x-ratelimit-reset-requests": "120ms", "retry-after": "1"}


def _provider(kind: str, monkeypatch: pytest.MonkeyPatch) -> tuple[IProvider, str]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-access-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
    kwargs, model = _PROVIDERS[kind]
    kwargs = dict(kwargs)
    return create_provider(kwargs.pop("provider_id"), **kwargs), model


def _long_way(p: IProvider) -> IProvider:
    """The same provider with a `get_response_metadata` override that changes nothing (so `_finish` builds the
    metadata and hands it to the hook)."""
    base = type(p)

    class LongWay(base):  # type: ignore[valid-type, misc]
        def get_response_metadata(self, response: CompletionResponse,
                                  headers: Mapping[str, str] | None) -> ResponseMetadata:
            return base.get_response_metadata(self, response, headers)

    twin = copy.copy(p)
    twin.__class__ = LongWay
    return twin


def _state(model: Any) -> tuple[Any, ...]:
    return (type(model), dict(model.__dict__), set(model.__pydantic_fields_set__), model.__pydantic_extra__,
            model.__pydantic_private__)


def _same(a: CompletionResponse, b: CompletionResponse) -> None:
    assert {n: type(v) for n, v in a.__dict__.items()} == {n: type(v) for n, v in b.__dict__.items()}
    assert [n for n, v in a.__dict__.items() if is_stored(v)] == [n for n, v in b.__dict__.items() if is_stored(v)]
    assert a == b
    assert a.model_dump() == b.model_dump()
    assert a.model_dump(exclude_unset=True) == b.model_dump(exclude_unset=True)
    assert a.model_fields_set == b.model_fields_set
    for name in BUILDERS:
        x, y = getattr(a, name), getattr(b, name)
        if hasattr(x, "__pydantic_fields_set__"):
            assert _state(x) == _state(y), name
        else:
            assert x == y, name


def _whole_samples(kind: str) -> list[dict[str, Any]]:
    return [s for s in load_samples() if s["kind"] == kind and not s["stream"] and s["status"] == 200
            and s.get("body")]


@pytest.mark.parametrize("kind", sorted(_PROVIDERS))
@pytest.mark.parametrize("with_headers", [True, False], ids=["headers", "no-headers"])
def test_every_recorded_answer_finishes_the_same_both_ways(kind: str, with_headers: bool,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    p, model = _provider(kind, monkeypatch)
    twin = _long_way(p)
    call = p._make_call(model, [{"role": "user", "content": "hi"}], {})
    samples = _whole_samples(kind)
    assert samples
    finished = 0
    for sample in samples:
        try:
            parsed = p._parse_response(json.loads(sample["body"]), call)
        except Exception:
            continue  # a recorded error body: nothing to finish
        heard = p._hear(_HEADERS, None, 200) if with_headers else None
        fast = p._finish(copy.deepcopy(parsed), heard)
        slow = twin._finish(copy.deepcopy(parsed), heard)
        _same(fast, slow)
        finished += 1
    assert finished >= len(samples) // 2


@pytest.mark.parametrize("kind", sorted(_PROVIDERS))
def test_a_response_whose_parts_cannot_be_packed_is_the_same_both_ways(kind: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Odd metadata (a header value with a line break) and usage a subclass carries: nothing is packed, and the
    metadata is built from the computed values."""
    p, model = _provider(kind, monkeypatch)
    twin = _long_way(p)
    call = p._make_call(model, [{"role": "user", "content": "hi"}], {})
    parsed = p._parse_response(json.loads(_whole_samples(kind)[0]["body"]), call)
    heard = p._hear({**_HEADERS, "x-request-id": "a\nb"}, None, 200)
    fast, slow = p._finish(copy.deepcopy(parsed), heard), twin._finish(copy.deepcopy(parsed), heard)
    _same(fast, slow)
    assert type(fast.__dict__["metadata"]) is ResponseMetadata


def _decoder(kind: str, provider_id: str) -> Any:
    if kind == "openai-chat":
        from agentos_llm.wire.openai_chat import ChunkDecoder

        chat = ChunkDecoder(provider_id)
        return lambda event, data: chat.decode(data)
    if kind == "openai-responses":
        from agentos_llm.wire.openai_responses_stream import EventDecoder

        return EventDecoder(provider_id).decode
    if kind == "anthropic-messages":
        from agentos_llm.wire.anthropic_messages import decode_event

        return lambda event, data: decode_event(data, provider_id)
    if kind == "gemini-generate":
        from agentos_llm.wire.gemini_generate import decode_stream_event

        return lambda event, data: decode_stream_event(data, provider_id)
    return lambda name, data: {name: json.loads(data)}


def _stream_items(sample: dict[str, Any]) -> list[tuple[str | None, str]]:
    if sample["kind"] == "bedrock-converse":
        from botocore.eventstream import EventStreamBuffer  # type: ignore[import-untyped]

        buffer = EventStreamBuffer()
        buffer.add_data(base64.b64decode(sample["body_b64"]) if sample.get("body_b64") else sample["body"].encode())
        return [(m.headers[":event-type"], m.payload.decode()) for m in buffer
                if m.headers.get(":message-type") == "event"]
    return [(e.event, e.data) for e in iter_sse(sample["body"].splitlines())]


@pytest.mark.parametrize("kind", sorted(k for k in _PROVIDERS if k != "cohere-chat"))  # Cohere: no recorded stream
def test_every_recorded_stream_finishes_the_same_both_ways(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from agentos_llm.response_metadata import observed

    p, model = _provider(kind, monkeypatch)
    twin = _long_way(p)
    call = p._make_call(model, [{"role": "user", "content": "hi"}], {}, stream=True)
    samples = [s for s in load_samples() if s["kind"] == kind and s["stream"] and s["status"] == 200]
    assert samples
    finished = 0
    for sample in samples:
        decode = _decoder(kind, p.provider_id)
        assembler = observed(p._stream_assembler(call))
        try:
            for name, data in _stream_items(sample):
                chunk = decode(name, data)
                if chunk is not None:
                    assembler.feed(chunk)
            _, parsed = assembler.finish()
        except Exception:
            continue  # a stream that ends in an error event: nothing to finish
        heard = p._hear(_HEADERS, None, 200)
        _same(p._finish(copy.deepcopy(parsed), heard), twin._finish(copy.deepcopy(parsed), heard))
        finished += 1
    assert finished >= 1


@pytest.mark.parametrize("cls, fields, values", [
    (Usage, {"input_tokens"}, {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}),
    (Message, {"role", "content"}, {"role": "assistant", "content": "hi"}),
    (ResponseMetadata, {"status_code"}, {"status_code": 200}),
    (VendorBlock, {"provider", "type"}, {"provider": "openai", "type": "reasoning", "data": {"id": "r1"}}),
    (VendorBlock, {"provider", "type"}, {"provider": "openai", "type": "reasoning"}),
])
def test_construct_makes_what_model_construct_makes(cls: Any, fields: set[str], values: dict[str, Any]) -> None:
    made = construct(cls, set(fields), dict(values))
    expected = cls.model_construct(set(fields), **values)
    assert _state(made) == _state(expected)
    again = construct(cls, set(fields), dict(values))
    for name, value in made.__dict__.items():  # default containers are each model's own
        if isinstance(value, (list, dict)) and name not in values:
            assert value is not again.__dict__[name]


@pytest.mark.parametrize("blocks", [None, [], [VendorBlock(provider="anthropic", type="thinking",
                                                           data={"signature": "s"})]])
def test_a_stated_turn_reads_as_the_message_a_converter_would_build(blocks: list[VendorBlock] | None) -> None:
    from agentos_llm.response_pack import assistant_turn
    from agentos_llm.types import ToolCall

    calls = [ToolCall(id="c1", name="f", arguments={"x": 1})]
    extra = {} if blocks is None else {"vendor_blocks": blocks}
    expected = Message(role="assistant", content="hi", tool_calls=calls, reasoning="why", **extra)
    response = CompletionResponse(provider="p", model="m", text="hi", tool_calls=calls, reasoning="why",
                                  message=assistant_turn("hi", calls, "why", blocks))
    assert _state(response.message) == _state(expected)
    assert response.model_dump()["message"] == expected.model_dump()
    assert response.model_fields_set >= {"message"}
