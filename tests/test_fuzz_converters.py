"""Hypothesis fuzzing of every wire API's converters, through the providers' public calls.

Random JSON bodies (shaped with each vendor's vocabulary, so that they reach past the first checks) as whole
answers, random lists of them as stream chunks, random bytes as server-sent-event bodies, and random message
and tool inputs: whatever comes in, only this library's errors come out, and nothing hangs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentos_llm.errors import AgentOSLLMError
from agentos_llm.provider import IProvider
from agentos_llm.providers.http_bodies import iter_events
from agentos_llm.received import Received
from tests.fault_matrix.wires import WIRES, make_all, offline_aws

# Field names and values of the six wires, so that random bodies look enough like answers to go deep.
KEYS = ["id", "object", "model", "choices", "index", "message", "delta", "content", "role", "text", "type",
        "finish_reason", "stop_reason", "usage", "prompt_tokens", "completion_tokens", "input_tokens",
        "output_tokens", "tool_calls", "function", "name", "arguments", "input", "tool_use", "thinking",
        "signature", "candidates", "parts", "functionCall", "args", "finishReason", "usageMetadata",
        "promptFeedback", "blockReason", "output", "status", "response", "item", "output_index", "item_id",
        "content_index", "sequence_number", "reasoning", "summary", "error", "code", "param", "contentBlockDelta",
        "contentBlockStart", "contentBlockStop", "contentBlockIndex", "messageStart", "messageStop", "metadata",
        "stopReason", "toolUse", "toolUseId", "reasoningContent", "inputTokens", "outputTokens", "tool_plan",
        "citations", "start", "end", "document", "modelVersion", "responseId", "cached_tokens", "details"]
TYPES = ["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta",
         "message_stop", "error", "ping", "text_delta", "input_json_delta", "thinking_delta", "tool_use", "text",
         "thinking", "response.created", "response.output_item.added", "response.output_text.delta",
         "response.function_call_arguments.delta", "response.output_item.done", "response.completed",
         "response.incomplete", "response.failed", "message", "function_call", "output_text", "message-start",
         "content-start", "content-delta", "content-end", "tool-call-start", "tool-call-delta", "tool-call-end",
         "tool-plan-delta", "citation-start", "message-end", "function", "assistant", "user", "stop", "length",
         "tool_calls", "end_turn", "STOP", "MAX_TOKENS", "SAFETY", "COMPLETE", "MAX_TOKENS", "TOOL_CALL"]

scalars = (st.none() | st.booleans() | st.integers(-(2 ** 40), 2 ** 40) | st.floats(allow_nan=False, width=32)
           | st.text(max_size=12) | st.sampled_from(TYPES))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5),
    max_leaves=25)
bodies = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6) | json_values
chunks = st.lists(bodies, max_size=8)
sse_bytes = st.lists(
    st.sampled_from([b"data: ", b"event: ", b": ping", b"\n", b"\r\n", b"[DONE]", b"{", b"}", b'"type"', b":",
                     b'"message_stop"', b"\xff", b"data: {}\n\n"]) | st.binary(max_size=16),
    max_size=30).map(b"".join)

FUZZ = settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.too_slow,
                                                                      HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def providers() -> Iterator[dict[str, IProvider]]:
    from agentos_llm.testing import WireEmulator

    with WireEmulator() as emu, offline_aws():  # never called: the I/O hooks are replaced below
        made = make_all(emu)
        yield made
        for provider in made.values():
            provider.close()


def _library_error_or_nothing(run: Any) -> None:
    with contextlib.suppress(AgentOSLLMError):
        run()


class _Feeding:
    """Replaces a provider's I/O hooks with canned payloads (restored after)."""

    def __init__(self, provider: IProvider, whole: Any = None, stream: list[Any] | None = None) -> None:
        self.provider = provider
        self.whole = whole
        self.stream = stream or []

    def __enter__(self) -> _Feeding:
        p = self.provider
        whole, stream = self.whole, self.stream

        def send(*_: Any) -> Any:
            return Received(whole, {"x-request-id": "fuzz"})

        async def asend(*_: Any) -> Any:
            return Received(whole, {"x-request-id": "fuzz"})

        def open_stream(*_: Any) -> Iterator[Any]:
            yield Received(None, {"x-request-id": "fuzz"})
            yield from stream

        async def aopen_stream(*_: Any) -> AsyncIterator[Any]:
            for item in stream:
                yield item

        p._send, p._asend = send, asend  # type: ignore[method-assign]
        p._open_stream, p._aopen_stream = open_stream, aopen_stream  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        for name in ("_send", "_asend", "_open_stream", "_aopen_stream"):
            self.provider.__dict__.pop(name, None)


@pytest.mark.parametrize("api", list(WIRES))
def test_random_whole_answers_give_library_errors_only(providers: dict[str, IProvider], api: str) -> None:
    provider, model = providers[api], WIRES[api].model

    @FUZZ
    @given(body=bodies)
    def check(body: Any) -> None:
        with _Feeding(provider, whole=body):
            _library_error_or_nothing(lambda: provider.generate_sync(model, "hi", max_retries=0))

    check()


@pytest.mark.parametrize("api", list(WIRES))
def test_random_stream_chunks_give_library_errors_only(providers: dict[str, IProvider], api: str) -> None:
    provider, model = providers[api], WIRES[api].model

    @FUZZ
    @given(events=chunks, asynchronous=st.booleans())
    def check(events: list[Any], asynchronous: bool) -> None:
        with _Feeding(provider, stream=events):
            if asynchronous:
                async def read() -> None:
                    async for _ in provider.stream(model, "hi", max_retries=0):
                        pass

                _library_error_or_nothing(lambda: asyncio.run(read()))
            else:
                _library_error_or_nothing(lambda: list(provider.stream_sync(model, "hi", max_retries=0)))

    check()


class _Body:
    """A response whose body is `data`, as the SSE reader takes it."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.headers = {"content-type": "text/event-stream"}
        self.status_code = 200

    def iter_bytes(self) -> Iterator[bytes]:
        for start in range(0, len(self.data), 7):  # pieces that split lines and characters
            yield self.data[start:start + 7]


@pytest.mark.parametrize("api", [w.api for w in WIRES.values() if w.sse])
def test_random_event_stream_bytes_give_library_errors_only(providers: dict[str, IProvider], api: str) -> None:
    from agentos_llm.wire import anthropic_messages, gemini_generate, openai_chat
    from agentos_llm.wire.cohere_stream import decode_event as cohere_event
    from agentos_llm.wire.openai_responses_stream import EventDecoder

    decoders = {
        "openai-chat": lambda e: openai_chat.ChunkDecoder("openai").decode(e.data),
        "openai-responses": lambda e: EventDecoder("openai").decode(e.event, e.data),
        "anthropic-messages": lambda e: anthropic_messages.decode_event(e.data),
        "gemini-generate": lambda e: gemini_generate.decode_stream_event(e.data) if e.data else None,
        "cohere-chat": lambda e: cohere_event(e.event, e.data),
    }
    decode = decoders[api]
    provider, model = providers[api], WIRES[api].model

    @FUZZ
    @given(data=sse_bytes)
    def check(data: bytes) -> None:
        def payloads() -> list[Any]:
            return [p for p in (decode(e) for e in iter_events(_Body(data), api)) if p is not None]

        try:
            events = payloads()
        except AgentOSLLMError:
            return
        with _Feeding(provider, stream=events):
            _library_error_or_nothing(lambda: list(provider.stream_sync(model, "hi", max_retries=0)))

    check()


message_inputs = st.one_of(
    st.text(max_size=20),
    json_values,
    st.lists(st.dictionaries(st.sampled_from(["role", "content", "tool_calls", "tool_call_id", "name", "type",
                                              "text", "image_url", "data"]),
                             json_values | st.sampled_from(["user", "assistant", "system", "tool"]), max_size=4),
             max_size=4),
)
tool_inputs = st.none() | json_values | st.lists(
    st.dictionaries(st.sampled_from(["name", "description", "parameters", "type", "function", "strict"]),
                    json_values | st.text(min_size=1, max_size=8), max_size=4), max_size=3)


def test_random_messages_and_tools_give_library_errors_only(providers: dict[str, IProvider]) -> None:
    @FUZZ
    @given(messages=message_inputs, tools=tool_inputs)
    def check(messages: Any, tools: Any) -> None:
        for api, provider in providers.items():
            def build(provider: IProvider = provider, api: str = api) -> None:
                options = {} if tools is None else {"tools": tools}
                call = provider._make_call(WIRES[api].model, messages, options)
                provider._build_request(call)

            _library_error_or_nothing(build)

    check()
